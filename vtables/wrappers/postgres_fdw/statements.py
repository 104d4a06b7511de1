"""postgres_fdw's side of statement pushdown: the planner's queries run on
the server, through the connection and the remote transaction the scans use.

Columns take part when their values compare and sort on the server as they
do in SQLite: integers (int2, int4, int8 declared integer), text (text or
varchar with a deterministic collation, compared and sorted under
``COLLATE "C"``, which is byte order as SQLite's BINARY), dates and
timestamps (SQLite holds them as ISO text of one form, which sorts as they
do; values compared with them must be written in that form) and booleans
(grouped, counted and sorted: false before true, as 0 before 1).  Floating-point
columns stay out: PostgreSQL orders and groups NaN where SQLite has NULL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from psycopg import postgres, sql

from ...remotesql import OVERFLOW_SQLSTATES, RemoteColumn, RemoteSQL, causes
from .catalog import local_type

#: the remote kinds (ScannedTable._kind) that take part, by family: dates and
#: timestamps (without time zone) compare and sort as SQLite's text of them,
#: booleans group and sort as its 0 and 1
_FAMILIES = {
    "int": "integer",
    "text": "text",
    "date": "date",
    "timestamp": "timestamp",
    "bool": "boolean",
}


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

    def rows(self, text: str, params: Any) -> float | None:
        return self.fdw.remote_rows(text, dict(params))

    def run(self, text: str, params: Any) -> Iterator[tuple]:
        return self.fdw.run_statement(sql.SQL(text), dict(params), small=False)

    def run_small(self, text: str, params: Any) -> Iterator[tuple]:
        return self.fdw.run_statement(sql.SQL(text), dict(params), small=True)

    def run_guarded(self, text: str, params: Any) -> list[tuple]:
        return self.fdw.run_guarded(sql.SQL(text), dict(params))

    def overflowed(self, err: BaseException) -> bool:
        """PostgreSQL's "out of range" (22003: bigint out of range, integer
        out of range) and division by zero (22012), where SQLite goes on in
        floating point or gives NULL."""
        return any(getattr(e, "sqlstate", None) in OVERFLOW_SQLSTATES for e in causes(err))

    def describe(self, text: str) -> list[tuple[str, str]]:
        return [(name, _local_type(oid)) for name, oid in self.fdw.describe_query(text)]

    def run_readonly(self, text: str) -> Iterator[tuple]:
        return iter(self.fdw.user_query(text)[1])

    def where(self) -> str:
        options = self.fdw.options
        host = options.get("host", "localhost") + ":" + options.get("port", "5432")
        return f'server "{self.fdw.server_name}" ({host}/{options.get("dbname", "")})'


def _local_type(oid: int) -> str:
    """The type IMPORT FOREIGN SCHEMA would declare for a result column."""
    info = postgres.types.get(oid)
    return local_type(info.regtype) if info is not None else "text"
