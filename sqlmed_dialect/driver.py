"""The APSW driver of the ``sqlmed`` dialect, through :mod:`sqlmed_dialect.dbapi`.

As SQLAlchemy's ``sqlite/pysqlite.py`` beside ``sqlite/base.py``: what is
about the driver and not the backend lives here: the DB-API module, the URL's
connect arguments, the pool, autocommit, the SQL functions installed on each
new connection, and the ``do_execute`` family (which sends a statement's real
text when SQLAlchemy shows it with secrets masked).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import exc, pool, util
from sqlalchemy.engine import url as sa_url

import vtables

from .base import SQLMedDialect, executed

#: URL query parameters the driver takes, with their types.
CONNECT_ARGUMENTS: tuple[tuple[str, type[Any]], ...] = (
    ("user", str),
    ("timeout", float),
    ("isolation_level", str),
    ("check_same_thread", bool),
    ("statement_cache_size", int),
    ("vfs", str),
    ("uri", bool),
)


def _regexp(pattern: str, value: str | None) -> bool | None:
    """SQLite's ``REGEXP`` operator, which SQLAlchemy's ``regexp_match`` compiles to."""
    if value is None:
        return None
    return re.search(pattern, value) is not None


def _connect_options(query: dict[str, Any]) -> dict[str, Any]:
    """The driver's arguments, taken out of a URL's ``query``."""
    opts: dict[str, Any] = {}
    for key, type_ in CONNECT_ARGUMENTS:
        if key in query:
            value = query.pop(key)
            if type_ is bool:
                opts[key] = str(value).lower() in ("1", "true", "yes", "on")
            else:
                opts[key] = type_(value)
    return opts


class SQLMedDialect_apsw(SQLMedDialect):  # noqa: N801 - SQLAlchemy's naming of drivers
    """The ``sqlmed`` dialect on APSW, through :mod:`sqlmed_dialect.dbapi`."""

    driver = "apsw"
    supports_statement_cache = True
    returns_native_bytes = True

    @classmethod
    def import_dbapi(cls) -> Any:
        from . import dbapi

        return dbapi

    @classmethod
    def _is_url_file_db(cls, url: sa_url.URL) -> bool:
        """Whether the URL names a file (a pool of connections) rather than memory."""
        memory = url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"
        return not memory

    @classmethod
    def get_pool_class(cls, url: sa_url.URL) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.QueuePool
        return pool.SingletonThreadPool

    def _get_server_version_info(self, connection: Any) -> tuple[int, ...]:
        return self.loaded_dbapi.sqlite_version_info

    def retrieve_dbapi_version(self, dbapi: Any) -> util.VersionInfo:
        return util.VersionInfo(tuple(int(p) for p in vtables.__version__.split(".")[:3]))

    def create_connect_args(self, url: sa_url.URL) -> Any:
        if url.username or url.password or url.host or url.port:
            raise exc.ArgumentError(
                f"Invalid sqlmed URL: {url}\n"
                "Valid forms: sqlmed:// or sqlmed:///:memory: (memory), "
                "sqlmed:///relative/path.db, sqlmed:////absolute/path.db, "
                "with query parameters such as ?user=alice&timeout=10"
            )
        query = dict(url.query)
        opts = _connect_options(query)
        filename = url.database or ":memory:"
        if opts.pop("uri", False):
            if query:
                filename += "?" + "&".join(f"{k}={query[k]}" for k in sorted(query))
        elif query:
            raise exc.ArgumentError(
                f"unknown sqlmed URL parameter(s) {', '.join(sorted(query))}; "
                f"known: {', '.join(k for k, _ in CONNECT_ARGUMENTS)} (SQLite URI parameters "
                "need uri=true)"
            )
        elif filename != ":memory:":
            filename = os.path.abspath(filename)
        opts.setdefault("check_same_thread", not self._is_url_file_db(url))
        return [filename], opts

    def on_connect(self) -> Callable[[Any], None]:
        """SQLite's REGEXP operator and ``floor()`` on each new connection, as
        SQLAlchemy's pysqlite dialect installs them."""

        def install(dbapi_connection: Any) -> None:
            raw = dbapi_connection.vtables
            raw.create_scalar_function("regexp", _regexp, 2, deterministic=True)
            raw.create_scalar_function("floor", math.floor, 1, deterministic=True)

        return install

    # -- autocommit: the DB-API connection's own attribute

    _isolation_lookup = SQLMedDialect._isolation_lookup.union({"AUTOCOMMIT": None})

    def set_isolation_level(self, dbapi_connection: Any, level: Any) -> None:
        if level == "AUTOCOMMIT":
            dbapi_connection.autocommit = True
        else:
            dbapi_connection.autocommit = False
            super().set_isolation_level(dbapi_connection, level)

    def detect_autocommit_setting(self, dbapi_conn: Any) -> bool:
        return bool(dbapi_conn.autocommit)

    def is_disconnect(self, e: Any, connection: Any, cursor: Any) -> bool:
        return isinstance(
            e, self.loaded_dbapi.ProgrammingError
        ) and "Cannot operate on a closed database." in str(e)

    # -- execution: secrets shown masked (SQLMedExecutionContext), sent in the clear

    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        # executed() written out: this runs for every statement
        real = getattr(context, "sqlmed_statement", None)
        if real is not None and statement == context.statement:
            statement = real
        cursor.execute(statement, parameters)

    def do_execute_no_params(self, cursor: Any, statement: str, context: Any = None) -> None:
        cursor.execute(executed(statement, context))

    def do_executemany(
        self, cursor: Any, statement: str, parameters: Any, context: Any = None
    ) -> None:
        cursor.executemany(executed(statement, context), parameters)


dialect = SQLMedDialect_apsw
