"""postgres_fdw's side of statement pushdown: the planner's queries run on
the server, through the connection and the remote transaction the scans use.

Columns take part when their values compare and sort on the server as they
do in SQLite: integers (int2, int4, int8 declared integer) and text (text or
varchar with a deterministic collation, compared and sorted under
``COLLATE "C"``, which is byte order as SQLite's BINARY).  Floating-point
columns stay out: PostgreSQL orders and groups NaN where SQLite has NULL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from psycopg import sql

from ...remotesql import RemoteColumn, RemoteSQL

#: the remote kinds (ScannedTable._kind) that take part, by family
_FAMILIES = {"int": "integer", "text": "text"}


class PostgresSQL(RemoteSQL):
    dialect = "postgres"

    def __init__(self, fdw: Any):
        self.fdw = fdw

    def key(self) -> str:
        return str(self.fdw._session_key())

    def enabled(self) -> bool:
        names = (self.fdw.schema, self.fdw.remote_table)
        # psycopg reads % in a query's text as the start of a parameter
        return bool(self.fdw.settings["statement_pushdown"]) and not any("%" in n for n in names)

    def table(self) -> tuple[str, ...]:
        return (self.fdw.schema, self.fdw.remote_table)

    def column(self, name: str) -> RemoteColumn | None:
        remote = self.fdw.remote_names.get(name)
        if remote is None:
            return None
        family = _FAMILIES.get(self.fdw._kind(name))
        return RemoteColumn(remote, None if "%" in remote else family)

    def estimate(self) -> float:
        self.fdw.metadata()
        return float(self.fdw._reltuples or 1000.0)

    def run(self, text: str, params: Any) -> Iterator[tuple]:
        return self.fdw.run_statement(sql.SQL(text), dict(params), small=False)

    def run_small(self, text: str, params: Any) -> Iterator[tuple]:
        return self.fdw.run_statement(sql.SQL(text), dict(params), small=True)

    def where(self) -> str:
        options = self.fdw.options
        host = options.get("host", "localhost") + ":" + options.get("port", "5432")
        return f'server "{self.fdw.server_name}" ({host}/{options.get("dbname", "")})'
