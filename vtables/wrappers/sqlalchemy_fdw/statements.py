"""sqlalchemy_fdw's side of statement pushdown: the planner's queries run on
the remote through the connection and the remote transaction the scans use.

The planner knows the semantics of three dialects, and each driver must take
the parameters as sqlglot spells them for that dialect, with a mapping:
SQLite through pysqlite (``:p0``), PostgreSQL through psycopg or psycopg2
(``%(p0)s``) and DuckDB through duckdb_engine (``$p0``).  Any other dialect
or driver keeps its statements in SQLite (``remote_sql`` is None).

Columns take part when the remote holds exactly the values SQLite sees, and
compares and sorts them as SQLite does: 64-bit integers; text compared byte
by byte (PostgreSQL's text and varchar under ``COLLATE "C"``, SQLite and
DuckDB tables that name no collation); and on SQLite remotes, REAL columns.
PostgreSQL and DuckDB floating-point columns stay out: they order and group
NaN where SQLite has NULL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ... import types
from ...errors import WrapperError
from ...remotesql import RemoteColumn, RemoteSQL
from .connection import _sa, _url
from .values import _remote_family

if TYPE_CHECKING:
    from . import SqlalchemyFdw

#: (SQLAlchemy dialect, driver) -> (sqlglot dialect, the paramstyle its DBAPI
#: declares).  Each driver also takes the named spelling sqlglot renders with
#: a mapping: sqlite3 ``:name``, DuckDB ``$name``, psycopg ``%(name)s``.
DRIVERS = {
    ("sqlite", "pysqlite"): ("sqlite", "qmark"),
    ("postgresql", "psycopg"): ("postgres", "pyformat"),
    ("postgresql", "psycopg2"): ("postgres", "pyformat"),
    ("duckdb", "duckdb_engine"): ("duckdb", "numeric_dollar"),
}

#: DuckDB's integer types whose values all fit SQLite's 64 bits
_DUCKDB_INT64 = {
    "TinyInteger",
    "SmallInteger",
    "SMALLINT",
    "Integer",
    "INTEGER",
    "BigInteger",
    "BIGINT",
    "UTinyInteger",
    "USmallInteger",
    "UInteger",
    "UInt8",
    "UInt16",
    "UInt32",
}


def sqlglot_dialect(url_text: str) -> str | None:
    """The sqlglot dialect of a server URL whose driver takes the planner's
    parameters, else None (nothing is connected to find out)."""
    sa = _sa()
    try:
        url = sa.engine.make_url(url_text)
        dialect = url.get_dialect()
        found = DRIVERS.get((dialect.name, dialect.driver))
        if found is None:
            return None
        paramstyle = getattr(dialect.import_dbapi(), "paramstyle", None)
    except Exception:  # noqa: BLE001 - an unknown or uninstalled dialect: not pushed
        return None
    name, expected = found
    return name if paramstyle == expected else None


class AlchemySQL(RemoteSQL):
    """Statement pushdown into a remote reached by a SQLAlchemy URL."""

    def __init__(self, fdw: SqlalchemyFdw, dialect: str):
        self.fdw = fdw
        self.dialect = dialect

    def _shown(self) -> str:
        fdw = self.fdw
        return _url(fdw.options, fdw.database_path, server=fdw.server_name)[1]

    def key(self) -> str:
        return self.fdw._shared_key(self._shown())

    def enabled(self) -> bool:
        fdw = self.fdw
        names = (fdw.settings["schema"] or "", fdw.remote_table)
        # psycopg reads % in a query's text as the start of a parameter
        percent = self.dialect == "postgres" and any("%" in n for n in names)
        return bool(fdw.settings["statement_pushdown"]) and not percent

    def table(self) -> tuple[str, ...]:
        schema = self.fdw.settings["schema"]
        return (schema, self.fdw.remote_table) if schema else (self.fdw.remote_table,)

    def column(self, name: str) -> RemoteColumn | None:
        remote = self.fdw.remote_names.get(name)
        if remote is None:
            return None
        if self.dialect == "postgres" and "%" in remote:
            return RemoteColumn(remote, None)
        return RemoteColumn(remote, self._family(name))

    def _family(self, name: str) -> str | None:
        """The column's local family when the remote holds exactly its values."""
        fdw = self.fdw
        family = types.family(fdw.columns[name].type)
        type_ = fdw._column(name).type
        remote = _remote_family(type_)
        if family == "integer" and remote == "integer" and self._int64(type_):
            return family
        if family == "text" and remote == "text":
            return family if fdw._text_exact(name) is not None else None
        if family == "real" and remote == "real" and self.dialect == "sqlite":
            return family
        return None

    def _int64(self, type_: Any) -> bool:
        if self.dialect == "duckdb":
            return type(type_).__name__ in _DUCKDB_INT64
        return True  # PostgreSQL's int2, int4, int8; SQLite's INTEGER affinity

    def estimate(self) -> float:
        return self.fdw.estimate([], [])[0]

    def run(self, text: str, params: Mapping[str, Any]) -> Iterator[tuple]:
        fdw = self.fdw
        remote = fdw.remote()
        where = f'server "{fdw.server_name}"'
        try:
            result = remote.conn.exec_driver_sql(
                text, dict(params), execution_options={"stream_results": True, "yield_per": 1000}
            )
        except Exception as err:  # noqa: BLE001 - driver errors vary by dialect
            fdw._finish_read(remote)
            raise WrapperError(f"{where}: pushed query failed: {fdw._clean(err)}") from None
        return fdw._stream(result, True, remote, where)

    def where(self) -> str:
        sa = _sa()
        shown = sa.engine.make_url(self._shown()).set(username=None)
        return f'server "{self.fdw.server_name}" ({shown.render_as_string()})'
