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

``sqlmed_query(server, query)`` runs the user's query where it cannot write:
on PostgreSQL in a savepoint made read-only (``transaction_read_only``), on
SQLite with ``PRAGMA query_only``, each rolled back after; DuckDB has no
read-only transaction, so only a database opened read-only
(``access_mode=read_only`` in the URL) takes it.  The query must be one
statement with no ``;`` in it (psycopg2, and psycopg without parameters,
send a text whole, and a server runs every statement in it).  Its columns
come from ``SELECT * FROM (query) LIMIT 0`` run the same way (on SQLite,
from the statement prepared on a read-only connection to the file, which
gives declared types).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import apsw

from ... import types
from ...errors import FeatureNotSupportedError, SQLMedError, WrapperError
from ...remotesql import (
    OVERFLOW_SQLSTATES,
    RemoteColumn,
    RemoteSQL,
    Unguarded,
    causes,
    sqlite_columns,
)
from .catalog import _duckdb_type
from .connection import _Remote, _sa, _url
from .values import _declared, _remote_family

if TYPE_CHECKING:
    from . import SqlalchemyFdw

T = TypeVar("T")

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

    def run_guarded(self, text: str, params: Mapping[str, Any]) -> list[tuple]:
        fdw = self.fdw
        remote = fdw.remote()

        def read() -> list[tuple]:
            return [tuple(row) for row in remote.conn.exec_driver_sql(text, dict(params))]

        try:
            with self._reported(f'server "{fdw.server_name}": pushed query failed: '):
                return remote.guarded(read)
        finally:
            fdw._finish_read(remote)

    @contextlib.contextmanager
    def _reported(self, prefix: str) -> Iterator[None]:
        """A driver's error inside as a WrapperError (``prefix`` and its first
        line), raised from it: ``overflowed`` reads the driver's."""
        try:
            yield
        except (SQLMedError, Unguarded):
            raise
        except Exception as err:  # noqa: BLE001 - driver errors vary by dialect
            raise WrapperError(prefix + self.fdw._clean(err)) from err

    def overflowed(self, err: BaseException) -> bool:
        """The driver's out-of-range error: SQLSTATE 22003 or 22012 from
        psycopg (``sqlstate``) or psycopg2 (``pgcode``), DuckDB's
        OutOfRangeException, SQLite's "integer overflow"."""
        for one in causes(err):
            if self.dialect == "postgres":
                code = getattr(one, "sqlstate", None) or getattr(one, "pgcode", None)
                if code in OVERFLOW_SQLSTATES:
                    return True
            elif self.dialect == "duckdb":
                if any(c.__name__ == "OutOfRangeException" for c in type(one).__mro__):
                    return True
            elif isinstance(one, sqlite3.Error) and "integer overflow" in str(one):
                return True
        return False

    # -- sqlmed_query(server, query)

    def describe(self, text: str) -> list[tuple[str, str]]:
        query = self._one_statement(text)
        remote = self.fdw.remote()
        path = _sqlite_file(remote)
        if path is not None:
            lite = apsw.Connection(path, flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
            try:
                return sqlite_columns(lite, query)
            except apsw.Error as err:
                raise WrapperError(f"sqlmed_query on {self.where()}: {err}") from None
            finally:
                lite.close()

        def columns(conn: Any) -> list[tuple[str, str]]:
            result = _as_written(conn, f"SELECT * FROM (\n{query}\n) AS sqlmed_query LIMIT 0")
            try:
                described = [(str(d[0]), d[1]) for d in result.cursor.description]
            finally:
                result.close()
            return [(name, self._column_type(remote, code)) for name, code in described]

        return self._readonly(remote, columns)

    def _column_type(self, remote: _Remote, code: Any) -> str:
        """The type IMPORT FOREIGN SCHEMA would declare for a result column
        the driver describes with ``code``."""
        dialect = remote.engine.dialect
        if remote.dialect == "duckdb":
            return _declared(_duckdb_type(dialect, str(code)), dialect)
        if remote.dialect != "postgresql" or not isinstance(code, int):
            return ""
        found = remote.conn.exec_driver_sql(
            "SELECT format_type(%(oid)s, NULL)", {"oid": code}
        ).scalar()
        name = str(found or "")
        if name == "timestamp with time zone":
            return "timestamptz"  # as IMPORT declares it
        type_ = dialect.ischema_names.get(name)
        return _declared(type_(), dialect) if type_ is not None else name

    def run_readonly(self, text: str) -> Iterable[tuple]:
        query = self._one_statement(text)
        return self._readonly(
            self.fdw.remote(), lambda conn: [tuple(r) for r in _as_written(conn, query)]
        )

    def _one_statement(self, text: str) -> str:
        """The query without its trailing semicolons; one with another ``;``
        is refused: a driver may send the text whole, and the server would
        run each statement in it (a COMMIT would end the read-only one)."""
        query = text.strip()
        while query.endswith(";"):
            query = query[:-1].rstrip()
        if ";" in query:
            raise WrapperError(
                f"sqlmed_query on {self.where()}: the query must be one statement with no ';'",
                hint="Write a semicolon inside a literal as chr(59).",
            )
        return query

    def _readonly(self, remote: _Remote, read: Callable[[Any], T]) -> T:
        """``read(connection)`` where the remote cannot write, undone after."""
        conn = remote.conn
        if remote.dialect == "duckdb":
            return self._duckdb_readonly(remote, read)
        if remote.dialect not in ("postgresql", "sqlite"):
            raise FeatureNotSupportedError(
                f"sqlmed_query on {self.where()}: no read-only mode is known for {remote.dialect}"
            )
        nested = conn.begin_nested()
        try:
            with self._reported(f"sqlmed_query on {self.where()}: "):
                if remote.dialect == "postgresql":
                    conn.exec_driver_sql("SET LOCAL transaction_read_only = on")
                    return read(conn)
                (was,) = conn.exec_driver_sql("PRAGMA query_only").one()
                conn.exec_driver_sql("PRAGMA query_only = ON")
                try:
                    return read(conn)
                finally:
                    conn.exec_driver_sql(f"PRAGMA query_only = {int(was)}")
        finally:
            if nested.is_active:
                nested.rollback()
            self.fdw._finish_read(remote)

    def _duckdb_readonly(self, remote: _Remote, read: Callable[[Any], T]) -> T:
        """DuckDB has no read-only transaction: only a database opened
        read-only runs a query the user wrote."""
        conn = remote.conn
        try:
            with self._reported(f"sqlmed_query on {self.where()}: "):
                (mode,) = conn.exec_driver_sql("SELECT current_setting('access_mode')").one()
                if str(mode).lower() != "read_only":
                    raise FeatureNotSupportedError(
                        f"sqlmed_query on {self.where()}: DuckDB cannot run a query read-only"
                        " on a database opened for writing",
                        hint="Make a server whose url opens the database read-only"
                        " (?access_mode=read_only).",
                    )
                return read(conn)
        finally:
            if not remote.in_transaction and conn.in_transaction():
                conn.rollback()

    def where(self) -> str:
        sa = _sa()
        shown = sa.engine.make_url(self._shown()).set(username=None)
        return f'server "{self.fdw.server_name}" ({shown.render_as_string()})'


def _sqlite_file(remote: _Remote) -> str | None:
    """The database file of a SQLite remote, None for another dialect or a
    database in memory."""
    database = remote.engine.url.database
    if remote.dialect != "sqlite" or not database or database == ":memory:":
        return None
    return database if os.path.exists(database) else None


def _as_written(conn: Any, text: str) -> Any:
    """``text`` run with no parameters: a ``%`` in it is no placeholder."""
    return conn.exec_driver_sql(text, execution_options={"no_parameters": True})
