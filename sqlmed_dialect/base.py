"""The ``sqlmed://`` SQLAlchemy dialect: SQLite's dialect over vtables connections.

Foreign tables are ordinary :class:`~sqlalchemy.schema.Table` objects with a
``sqlmed_server`` (and optionally ``sqlmed_options``; columns take
``sqlmed_options`` too); the DDL compiler turns them into CREATE/DROP FOREIGN
TABLE.  Reflection lists foreign tables with the local ones and gives their
server and options back as table keywords, so a reflected foreign table
re-creates as a foreign table.
"""

from __future__ import annotations

import datetime
import os
import re
import sys
import uuid
from typing import Any

from sqlalchemy import exc, pool
from sqlalchemy import schema as sa_schema
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects.sqlite.base import DATETIME as _SQLITE_DATETIME
from sqlalchemy.dialects.sqlite.base import TIME as _SQLITE_TIME
from sqlalchemy.dialects.sqlite.base import (
    SQLiteDDLCompiler,
    SQLiteExecutionContext,
    ischema_names,
)
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.dialects.sqlite.pysqlite import _SQLite_pysqliteTimeStamp as _SQLITE_TIMESTAMP
from sqlalchemy.engine import reflection
from sqlalchemy.engine import url as sa_url
from sqlalchemy.engine.reflection import Inspector
from sqlalchemy.ext.compiler import compiles

import vtables
from vtables import catalog
from vtables.secrets import mask_sql
from vtables.wrapper import DEFAULT_SECRETS, find_wrapper, parse_bool

from . import printer

MASK = catalog.MASK


# ------------------------------------------------------------------ options


def is_secret_option(key: str, wrapper: str | None = None, kind: str = "table") -> bool:
    """Whether an option is a secret: the wrapper's option specs say so when the
    wrapper is installed and known, else the usual names (password, token...)."""
    if wrapper:
        try:
            cls = find_wrapper(wrapper)
        except Exception:  # noqa: BLE001 - an uninstallable wrapper: fall back on names
            cls = None
        if cls is not None:
            spec = cls.specs_for(kind).get(key)
            if spec is not None:
                return spec.secret
    return key.lower() in DEFAULT_SECRETS


def catalog_rows(connection, sql: str, parameters: tuple = ()) -> list[tuple]:
    """The rows of a query on the SQL/MED catalog, read on the DB-API connection
    under ``connection`` (a SQLAlchemy Connection).

    A lookup the dialect makes for its own purposes (is this a foreign table?
    which wrapper serves this server?) must not begin a transaction the user did
    not start: SQLAlchemy's Connection autobegins on any execute, the DB-API
    begins none for a read.
    """
    dbapi_connection = connection.connection.dbapi_connection
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql, parameters)
        return cursor.fetchall()
    except connection.dialect.loaded_dbapi.Error as err:
        raise exc.DBAPIError.instance(
            sql, parameters, err, connection.dialect.loaded_dbapi.Error, dialect=connection.dialect
        ) from err
    finally:
        cursor.close()


def check_constraints(table: sa_schema.Table) -> list[sa_schema.CheckConstraint]:
    """A table's CHECK constraints, its columns' own ones included, in a stable order."""
    found = [c for c in table.constraints if isinstance(c, sa_schema.CheckConstraint)]
    for column in table.columns:
        found += [
            c
            for c in column.constraints
            if isinstance(c, sa_schema.CheckConstraint) and c not in found
        ]
    return sorted(found, key=lambda c: c._creation_order)


def foreign_server(table: sa_schema.Table) -> str | None:
    """The server of a Table declared (or reflected) as a foreign table."""
    return table.dialect_options["sqlmed"]["server"]


def _pandas_replacing() -> bool:
    """Whether this DROP comes from pandas' ``to_sql(if_exists="replace")``."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "drop_table" and frame.f_globals.get("__name__") == "pandas.io.sql":
            return True
        frame = frame.f_back
    return False


# -------------------------------------------------------------- DDL compiler


def _foreign_table_name(table: sa_schema.Table) -> str:
    if table.schema and table.schema != "main":
        raise exc.CompileError(
            f'foreign table "{table.name}": foreign tables live in the main schema, '
            f'not "{table.schema}"'
        )
    return table.name


class SQLMedDDLCompiler(SQLiteDDLCompiler):
    """SQLite's DDL, plus CREATE/DROP FOREIGN TABLE for tables with a server.

    SQL/MED statements are printed by :mod:`.printer`, secrets in the clear;
    ``string`` (what SQLAlchemy shows: ``str(compiled)``, logs, errors) has them
    masked, and ``sqlmed_statement`` is the text to execute when they were.
    """

    #: The real text when ``string`` had secret option values masked, else None.
    sqlmed_statement: str | None = None

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        masked = mask_sql(self.string)
        if masked != self.string:
            self.sqlmed_statement, self.string = self.string, masked

    def medcolumn(self, column: sa_schema.Column, default_sql: str | None = None):
        """A column of a foreign table (``default_sql``: its DEFAULT, as printed)."""
        return printer.column(
            column.name,
            self.dialect.type_compiler_instance.process(column.type, type_expression=column),
            options_=column.dialect_options["sqlmed"]["options"],
            not_null=not column.nullable,
            default_sql=default_sql,
        )

    def visit_create_table(self, create, **kw):
        table = create.element
        server = foreign_server(table)
        if server is None:
            return super().visit_create_table(create, **kw)
        columns = [
            self.medcolumn(c.element, self.get_column_default_string(c.element))
            for c in create.columns
        ]
        tree = printer.create_foreign_table(
            _foreign_table_name(table),
            columns,
            server,
            table.dialect_options["sqlmed"]["options"],
            if_not_exists=bool(getattr(create, "if_not_exists", False)),
            constraints=[self.medcheck(c) for c in check_constraints(table)],
        )
        return printer.to_sql(tree)

    def medcheck(self, constraint: sa_schema.CheckConstraint):
        """A CHECK constraint of a foreign table (declared, not enforced, as in
        PostgreSQL); its name after the MetaData's naming convention."""
        name = None
        if constraint.name is not None:  # _NONE_NAME: the naming convention's, if any
            name = self.preparer.format_constraint(constraint, _alembic_quote=False)
        text = self.sql_compiler.process(
            constraint.sqltext, include_table=False, literal_binds=True
        )
        not_valid = bool(constraint.dialect_options["sqlmed"]["not_valid"])
        return printer.check(text, name=name, not_valid=not_valid)

    def visit_drop_table(self, drop, **kw):
        table = drop.element
        if foreign_server(table) is None:
            return super().visit_drop_table(drop, **kw)
        if _pandas_replacing():
            raise exc.CompileError(
                f'"{table.name}" is a foreign table: DataFrame.to_sql(if_exists="replace") '
                "would drop it and make a local table in its place. Use "
                'if_exists="append", or drop the foreign table yourself first.'
            )
        tree = printer.drop(
            "FOREIGN TABLE",
            [_foreign_table_name(table)],
            if_exists=bool(getattr(drop, "if_exists", False)),
        )
        return printer.to_sql(tree)

    def visit_create_index(self, create, **kw):
        index = create.element
        table = index.table
        if table is not None and foreign_server(table) is not None:
            raise exc.CompileError(
                f'cannot create index "{index.name}" on foreign table "{table.name}": '
                "foreign tables have no indexes (the source's own indexes serve pushed-down "
                "quals)"
            )
        return super().visit_create_index(create, **kw)

    def visit_drop_index(self, drop, **kw):
        index = drop.element
        if index.table is not None and foreign_server(index.table) is not None:
            raise exc.CompileError(
                f'foreign table "{index.table.name}" has no index "{index.name}" to drop'
            )
        return super().visit_drop_index(drop, **kw)

    def visit_foreign_key_constraint(self, constraint, **kw):
        # SQLite cannot enforce a reference to a virtual table; the ForeignKey
        # stays in the MetaData for the ORM's joins.
        remote = constraint.elements[0].column.table if constraint.elements else None
        if remote is not None and foreign_server(remote) is not None:
            return None
        return super().visit_foreign_key_constraint(constraint, **kw)


# ---------------------------------------------------------------- inspector


class SQLMedInspector(Inspector):
    """SQLAlchemy's Inspector plus the SQL/MED catalog."""

    def get_foreign_table_names(self) -> list[str]:
        with self._operation_context() as conn:
            return self.dialect.get_foreign_table_names(conn, info_cache=self.info_cache)

    def get_foreign_data_wrappers(self) -> list[dict[str, Any]]:
        """Wrappers: name, handler, validator, extension, options, comment."""
        with self._operation_context() as conn:
            return self.dialect.get_foreign_data_wrappers(conn, info_cache=self.info_cache)

    def get_servers(self) -> list[dict[str, Any]]:
        """Servers: name, wrapper, type, version, options, comment."""
        with self._operation_context() as conn:
            return self.dialect.get_servers(conn, info_cache=self.info_cache)

    def get_user_mappings(self) -> list[dict[str, Any]]:
        """User mappings: user, server, options (secrets masked)."""
        with self._operation_context() as conn:
            return self.dialect.get_user_mappings(conn, info_cache=self.info_cache)

    def get_extensions(self) -> list[dict[str, Any]]:
        with self._operation_context() as conn:
            return self.dialect.get_extensions(conn, info_cache=self.info_cache)


# ---------------------------------------------------------------- execution


class SQLMedExecutionContext(SQLiteExecutionContext):
    """Secret option values in a statement are masked in what SQLAlchemy shows of
    it (``statement``: echo, the ``sqlalchemy.engine`` logger, DBAPIError's
    message and ``.statement``); the dialect executes ``sqlmed_statement``."""

    sqlmed_statement: str | None = None

    def pre_exec(self) -> None:
        super().pre_exec()
        statement = self.statement
        real = getattr(self.compiled, "sqlmed_statement", None) if self.isddl else None
        if real is not None:  # the DDL compiler masked it already
            if statement != self.compiled.string:  # a schema_translate_map applied
                translate = self.compiled.preparer._render_schema_translates
                real = translate(real, self.execution_options.get("schema_translate_map", {}))
            self.sqlmed_statement = real
            return
        if statement and "options" in statement.lower():  # cheaper than mask_sql's regex
            masked = mask_sql(statement)
            if masked != statement:
                self.sqlmed_statement, self.statement = statement, masked


def _executed(statement: str, context: Any) -> str:
    """What to send: the real text of a statement shown masked (unless an event
    handler has rewritten the statement since, then what it wrote)."""
    real = getattr(context, "sqlmed_statement", None)
    if real is not None and statement == context.statement:
        return real
    return statement


# ------------------------------------------------------------------ dialect

try:  # SQLAlchemy 2.1: SQLite's binary JSONB, read back through json()
    from sqlalchemy.dialects.sqlite import JSONB as _SQLITE_JSONB
except ImportError:  # pragma: no cover - SQLAlchemy 2.0
    _SQLITE_JSONB = None

_EXTRA_TYPES = {
    "BOOL": sqltypes.BOOLEAN,
    "BYTEA": sqltypes.LargeBinary,
    **({"JSONB": sqltypes.JSON} if _SQLITE_JSONB is None else {}),
    "DOUBLE PRECISION": sqltypes.DOUBLE_PRECISION,
    "FLOAT8": sqltypes.DOUBLE_PRECISION,
    "FLOAT4": sqltypes.REAL,
    "INT2": sqltypes.SMALLINT,
    "INT4": sqltypes.INTEGER,
    "INT8": sqltypes.BIGINT,
    "SERIAL": sqltypes.INTEGER,
    "BIGSERIAL": sqltypes.BIGINT,
    "TIMESTAMPTZ": sqltypes.TIMESTAMP,
    "TIMESTAMP WITH TIME ZONE": sqltypes.TIMESTAMP,
    "TIMESTAMP WITHOUT TIME ZONE": sqltypes.TIMESTAMP,
    "TIME WITHOUT TIME ZONE": sqltypes.TIME,
    "CHARACTER VARYING": sqltypes.VARCHAR,
    "UUID": sqltypes.Uuid,
}


# ------------------------------------------------------ foreign column types
# Types reflected for foreign table columns only (local tables keep SQLite's
# own reflection): they read and write the text docs/wrappers/types.md gives.


def _utc_offset(offset: datetime.timedelta | None) -> str:
    seconds = int(offset.total_seconds()) if offset is not None else 0
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


class DashedUUID(sqltypes.TypeDecorator):
    """``uuid``: stored as the canonical dashed text, read as :class:`uuid.UUID`."""

    impl = sqltypes.String(36)
    cache_ok = True

    @property
    def python_type(self):
        return uuid.UUID

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))

    def process_literal_param(self, value, dialect):
        return self.process_bind_param(value, dialect)

    def process_result_value(self, value, dialect):
        if value is None or isinstance(value, uuid.UUID):
            return value
        return uuid.UUID(str(value))


class TimestampTZ(_SQLITE_TIMESTAMP, sqltypes.TIMESTAMP):
    """``timestamp with time zone``: text ``YYYY-MM-DD HH:MM:SS.ffffff+00:00``.

    Writes the UTC instant with its offset (a naive value is taken as UTC, the
    session zone of the remote); reads an aware :class:`datetime.datetime`.
    """

    __visit_name__ = "TIMESTAMP"

    def __init__(self, *args: Any, **kw: Any):
        kw["timezone"] = True
        super().__init__(*args, **kw)

    def bind_processor(self, dialect):
        def process(value):
            if value is None:
                return None
            if not isinstance(value, datetime.datetime):
                if not isinstance(value, datetime.date):
                    raise TypeError("TimestampTZ accepts datetime and date objects")
                value = datetime.datetime.combine(value, datetime.time())
            if value.tzinfo is not None:
                value = value.astimezone(datetime.UTC)
            return value.strftime("%Y-%m-%d %H:%M:%S.%f") + "+00:00"

        return process

    def result_processor(self, dialect, coltype):
        # SQLite's DATETIME parsing (the pysqlite type skips it for native_datetime)
        parse = _SQLITE_DATETIME.result_processor(self, dialect, coltype)

        def process(value):
            value = parse(value) if parse is not None else value
            if isinstance(value, datetime.datetime) and value.tzinfo is None:
                value = value.replace(tzinfo=datetime.UTC)
            return value

        return process


class TimeTZ(_SQLITE_TIME, sqltypes.TIME):
    """``time with time zone``: text ``HH:MM:SS.ffffff+HH:MM``, the offset kept.

    Reads a :class:`datetime.time` with a fixed-offset ``tzinfo`` (UTC when the
    text has none); a naive value is written as UTC.
    """

    __visit_name__ = "TIME"

    def __init__(self, *args: Any, **kw: Any):
        kw["timezone"] = True
        super().__init__(*args, **kw)

    def bind_processor(self, dialect):
        def process(value):
            if value is None:
                return None
            if not isinstance(value, datetime.time):
                raise TypeError("TimeTZ accepts time objects")
            return value.strftime("%H:%M:%S.%f") + _utc_offset(value.utcoffset())

        return process

    def result_processor(self, dialect, coltype):
        parse = super().result_processor(dialect, coltype)

        def process(value):
            value = parse(value) if parse is not None else value
            if isinstance(value, datetime.time) and value.tzinfo is None:
                value = value.replace(tzinfo=datetime.UTC)
            return value

        return process


@compiles(TimestampTZ, "sqlmed")
def _compile_timestamptz(type_, compiler, **kw):
    return "TIMESTAMP WITH TIME ZONE"


@compiles(TimeTZ, "sqlmed")
def _compile_timetz(type_, compiler, **kw):
    return "TIME WITH TIME ZONE"


@compiles(DashedUUID, "sqlmed")
def _compile_uuid(type_, compiler, **kw):
    return "UUID"


_PRECISION = r"(?:\s*\(\s*\d+\s*\))?"
_FOREIGN_TYPES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r".*(?:\[\s*\d*\s*\]|\bARRAY)$"), sqltypes.JSON),
    (re.compile(r"UUID"), DashedUUID),
    (
        re.compile(rf"(?:TIMESTAMPTZ{_PRECISION}|TIMESTAMP{_PRECISION}\s+WITH\s+TIME\s+ZONE)"),
        TimestampTZ,
    ),
    (re.compile(rf"(?:TIMETZ{_PRECISION}|TIME{_PRECISION}\s+WITH\s+TIME\s+ZONE)"), TimeTZ),
    (re.compile(r"INTERVAL\b.*"), sqltypes.TEXT),
]


def _options_of(rows) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for owner, key, value in rows:
        out.setdefault(owner, {})[key] = value
    return out


class SQLMedDialect(SQLiteDialect_pysqlite):
    """SQLite's dialect on vtables connections (APSW), with SQL/MED objects."""

    name = "sqlmed"
    driver = "apsw"
    supports_statement_cache = True
    ddl_compiler = SQLMedDDLCompiler
    execution_ctx_cls = SQLMedExecutionContext
    inspector = SQLMedInspector
    ischema_names = {**ischema_names, **_EXTRA_TYPES}

    construct_arguments = [
        (sa_schema.Table, {"server": None, "options": None}),
        (sa_schema.Column, {"options": None}),
        (sa_schema.CheckConstraint, {"not_valid": False}),
    ]

    @classmethod
    def import_dbapi(cls):
        from . import dbapi

        return dbapi

    @classmethod
    def get_pool_class(cls, url: sa_url.URL) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.QueuePool
        return pool.SingletonThreadPool

    def retrieve_dbapi_version(self, dbapi) -> Any:
        from sqlalchemy import util

        return util.VersionInfo(tuple(int(p) for p in vtables.__version__.split(".")[:3]))

    def create_connect_args(self, url: sa_url.URL):
        if url.username or url.password or url.host or url.port:
            raise exc.ArgumentError(
                f"Invalid sqlmed URL: {url}\n"
                "Valid forms: sqlmed:// or sqlmed:///:memory: (memory), "
                "sqlmed:///relative/path.db, sqlmed:////absolute/path.db, "
                "with query parameters such as ?user=alice&timeout=10"
            )
        accepted = [
            ("user", str),
            ("timeout", float),
            ("isolation_level", str),
            ("check_same_thread", bool),
            ("statement_cache_size", int),
            ("vfs", str),
            ("uri", bool),
        ]
        opts: dict[str, Any] = {}
        query = dict(url.query)
        for key, type_ in accepted:
            if key in query:
                value = query.pop(key)
                if type_ is bool:
                    opts[key] = str(value).lower() in ("1", "true", "yes", "on")
                else:
                    opts[key] = type_(value)
        uri = opts.pop("uri", False)
        filename = url.database or ":memory:"
        if uri:
            if query:
                filename += "?" + "&".join(f"{k}={query[k]}" for k in sorted(query))
        else:
            if query:
                raise exc.ArgumentError(
                    f"unknown sqlmed URL parameter(s) {', '.join(sorted(query))}; "
                    f"known: {', '.join(k for k, _ in accepted)} (SQLite URI parameters "
                    "need uri=true)"
                )
            if filename != ":memory:":
                filename = os.path.abspath(filename)
        opts.setdefault("check_same_thread", not self._is_url_file_db(url))
        return [filename], opts

    # -- execution: secrets shown masked (SQLMedExecutionContext), sent in the clear

    def do_execute(self, cursor, statement, parameters, context=None):
        cursor.execute(_executed(statement, context), parameters)

    def do_execute_no_params(self, cursor, statement, context=None):
        cursor.execute(_executed(statement, context))

    def do_executemany(self, cursor, statement, parameters, context=None):
        cursor.executemany(_executed(statement, context), parameters)

    # -- reflection (the catalog is read without beginning a transaction)

    def _foreign_names(self, connection) -> dict[str, str]:
        rows = catalog_rows(
            connection,
            "SELECT foreign_table_name, foreign_server_name FROM sqlmed_foreign_tables",
        )
        return {name.lower(): server for name, server in rows}

    def _is_foreign(self, connection, table_name: str, schema: str | None) -> bool:
        if schema not in (None, "main"):
            return False
        return table_name.lower() in self._foreign_names(connection)

    @reflection.cache
    def get_table_names(self, connection, schema=None, sqlite_include_internal=False, **kw):
        names = super().get_table_names(
            connection, schema=schema, sqlite_include_internal=sqlite_include_internal, **kw
        )
        if sqlite_include_internal:
            return names
        hidden = set(catalog.CATALOG_TABLES)
        return [n for n in names if n not in hidden]

    @reflection.cache
    def get_foreign_table_names(self, connection, schema=None, **kw) -> list[str]:
        if schema not in (None, "main"):
            return []
        rows = catalog_rows(
            connection, "SELECT foreign_table_name FROM sqlmed_foreign_tables ORDER BY 1"
        )
        return [r[0] for r in rows]

    def _foreign_type(self, declared: str) -> sqltypes.TypeEngine:
        name = " ".join(declared.split()).upper()
        for pattern, foreign_type in _FOREIGN_TYPES:
            if pattern.fullmatch(name):
                return foreign_type()
        type_ = self._resolve_type_affinity(name)
        if isinstance(type_, sqltypes.JSON):
            # A foreign table gives (and takes) JSON as text, whatever the source
            # stores: SQLite's binary JSONB type would send jsonb() blobs to it.
            return sqltypes.JSON()
        return type_

    @reflection.cache
    def get_columns(self, connection, table_name, schema=None, **kw):
        if not self._is_foreign(connection, table_name, schema):
            return super().get_columns(connection, table_name, schema=schema, **kw)
        rows = catalog_rows(
            connection,
            "SELECT column_name, data_type, is_nullable, column_default, comment "
            "FROM sqlmed_foreign_table_columns WHERE table_name = ? COLLATE NOCASE "
            "ORDER BY ordinal_position",
            (table_name,),
        )
        options = _options_of(
            catalog_rows(
                connection,
                "SELECT column_name, option_name, option_value FROM sqlmed_column_options "
                "WHERE table_name = ? COLLATE NOCASE",
                (table_name,),
            )
        )
        columns = []
        for name, declared, nullable, default, comment in rows:
            column = {
                "name": name,
                "type": self._foreign_type(declared),
                "nullable": nullable == "YES",
                "default": default,
                "autoincrement": False,
                "primary_key": 0,
            }
            if comment is not None:
                column["comment"] = comment
            if name in options:
                column["dialect_options"] = {"sqlmed_options": options[name]}
            columns.append(column)
        return columns

    @reflection.cache
    def get_pk_constraint(self, connection, table_name, schema=None, **kw):
        """A foreign table's key is the columns marked ``key 'true'`` (what IMPORT
        FOREIGN SCHEMA sets from the remote primary key and what its wrapper
        writes by), in column order; it has no constraint name."""
        if not self._is_foreign(connection, table_name, schema):
            return super().get_pk_constraint(connection, table_name, schema=schema, **kw)
        rows = catalog_rows(
            connection,
            "SELECT o.column_name, o.option_value FROM sqlmed_column_options o "
            "JOIN sqlmed_foreign_table_columns c ON c.table_name = o.table_name "
            "AND c.column_name = o.column_name "
            "WHERE o.table_name = ? COLLATE NOCASE AND o.option_name = 'key' "
            "ORDER BY c.ordinal_position",
            (table_name,),
        )
        keys = []
        for name, value in rows:
            try:
                marked = parse_bool(value)
            except Exception:  # noqa: BLE001 - an invalid value marks nothing
                marked = False
            if marked:
                keys.append(name)
        return {"constrained_columns": keys, "name": None}

    @reflection.cache
    def get_check_constraints(self, connection, table_name, schema=None, **kw):
        """A foreign table's CHECK constraints: their names and expressions (as
        PostgreSQL, they are declared, not enforced); a NOT VALID one has
        ``sqlmed_not_valid=True`` (so that it re-creates NOT VALID)."""
        if not self._is_foreign(connection, table_name, schema):
            return super().get_check_constraints(connection, table_name, schema=schema, **kw)
        present = catalog_rows(
            connection,
            "SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = 'sqlmed_fconstraint'",
        )
        if not present:
            return []
        rows = catalog_rows(
            connection,
            "SELECT name, check_sql, validated FROM main.sqlmed_fconstraint "
            "WHERE ftable = ? COLLATE NOCASE ORDER BY connum",
            (table_name,),
        )
        out = []
        for name, text, validated in rows:
            item: dict[str, Any] = {"name": name, "sqltext": text}
            if not validated:
                item["sqlmed_not_valid"] = True
            out.append(item)
        return out

    @reflection.cache
    def get_table_options(self, connection, table_name, schema=None, **kw):
        if not self._is_foreign(connection, table_name, schema):
            return super().get_table_options(connection, table_name, schema=schema, **kw)
        server = self._foreign_names(connection)[table_name.lower()]
        options = dict(
            catalog_rows(
                connection,
                "SELECT option_name, option_value FROM sqlmed_foreign_table_options "
                "WHERE foreign_table_name = ? COLLATE NOCASE",
                (table_name,),
            )
        )
        out: dict[str, Any] = {"sqlmed_server": server}
        if options:
            out["sqlmed_options"] = options
        return out

    @reflection.cache
    def get_table_comment(self, connection, table_name, schema=None, **kw):
        if not self._is_foreign(connection, table_name, schema):
            return super().get_table_comment(connection, table_name, schema=schema, **kw)
        rows = catalog_rows(
            connection,
            "SELECT comment FROM sqlmed_foreign_tables WHERE foreign_table_name = ? COLLATE NOCASE",
            (table_name,),
        )
        return {"text": rows[0][0] if rows else None}

    @reflection.cache
    def get_foreign_data_wrappers(self, connection, **kw) -> list[dict[str, Any]]:
        options = _options_of(
            catalog_rows(connection, "SELECT * FROM sqlmed_foreign_data_wrapper_options")
        )
        rows = catalog_rows(
            connection,
            "SELECT foreign_data_wrapper_name, handler, validator, extension, comment "
            "FROM sqlmed_foreign_data_wrappers ORDER BY 1",
        )
        return [
            {
                "name": name,
                "handler": handler,
                "validator": validator,
                "extension": extension,
                "options": options.get(name, {}),
                "comment": comment,
            }
            for name, handler, validator, extension, comment in rows
        ]

    @reflection.cache
    def get_servers(self, connection, **kw) -> list[dict[str, Any]]:
        options = _options_of(
            catalog_rows(connection, "SELECT * FROM sqlmed_foreign_server_options")
        )
        rows = catalog_rows(
            connection,
            "SELECT foreign_server_name, foreign_data_wrapper_name, foreign_server_type, "
            "foreign_server_version, comment FROM sqlmed_foreign_servers ORDER BY 1",
        )
        return [
            {
                "name": name,
                "wrapper": fdw,
                "type": type_,
                "version": version,
                "options": options.get(name, {}),
                "comment": comment,
            }
            for name, fdw, type_, version, comment in rows
        ]

    @reflection.cache
    def get_user_mappings(self, connection, **kw) -> list[dict[str, Any]]:
        options: dict[tuple[str, str], dict[str, str]] = {}
        for user, server, key, value in catalog_rows(
            connection, "SELECT * FROM sqlmed_user_mapping_options"
        ):
            options.setdefault((user, server), {})[key] = value
        rows = catalog_rows(
            connection,
            "SELECT authorization_identifier, foreign_server_name FROM sqlmed_user_mappings "
            "ORDER BY 2, 1",
        )
        return [
            {
                "user": "PUBLIC" if user == catalog.PUBLIC else user,
                "server": server,
                "options": options.get((user, server), {}),
            }
            for user, server in rows
        ]

    @reflection.cache
    def get_extensions(self, connection, **kw) -> list[dict[str, Any]]:
        rows = catalog_rows(
            connection, "SELECT extension_name, extension_version FROM sqlmed_extensions ORDER BY 1"
        )
        return [{"name": name, "version": version} for name, version in rows]


dialect = SQLMedDialect
