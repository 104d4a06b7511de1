"""The ``sqlmed://`` SQLAlchemy dialect: SQLite's dialect with SQL/MED objects.

As SQLAlchemy's own ``sqlite/base.py``, this module holds what the backend
does, whatever the driver: the DDL compiler, the execution context, the
inspector and reflection.  The driver (APSW through :mod:`.dbapi`: connect
arguments, isolation, functions on connect) is :mod:`.driver`'s
``SQLMedDialect_apsw``, the class an engine gets for a ``sqlmed://`` URL.

Foreign tables are ordinary :class:`~sqlalchemy.schema.Table` objects with a
``sqlmed_server`` (and optionally ``sqlmed_options``; columns take
``sqlmed_options`` too); the DDL compiler turns them into CREATE/DROP FOREIGN
TABLE.  Reflection lists foreign tables with the local ones and gives their
server and options back as table keywords, so a reflected foreign table
re-creates as a foreign table.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from sqlalchemy import exc
from sqlalchemy import schema as sa_schema
from sqlalchemy.dialects.sqlite.base import (
    SQLiteDDLCompiler,
    SQLiteDialect,
    SQLiteExecutionContext,
    ischema_names,
)
from sqlalchemy.engine import reflection
from sqlalchemy.engine import url as sa_url
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.engine.reflection import Inspector
from sqlglot import exp

from vtables import catalog, grammar
from vtables.secrets import mask_sql
from vtables.wrapper import parse_bool

from . import printer
from .options import (
    CONSTRUCT_ARGUMENTS,
    MASK,
    column_options,
    foreign_server,
    is_secret_option,
    table_options,
)
from .types import EXTRA_TYPES, foreign_type

__all__ = [
    "MASK",
    "SQLMedDDLCompiler",
    "SQLMedDialect",
    "SQLMedExecutionContext",
    "SQLMedInspector",
    "catalog_rows",
    "check_constraints",
    "foreign_server",
    "is_secret_option",
]


def catalog_rows(connection: Any, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
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


def _pandas_replacing() -> bool:
    """Whether this DROP comes from pandas' ``to_sql(if_exists="replace")``."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "drop_table" and frame.f_globals.get("__name__") == "pandas.io.sql":
            return True
        frame = frame.f_back  # type: ignore[assignment]
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

    A SQL/MED statement is a grammar tree printed twice by the one printer
    (:meth:`med_statement`): ``string`` (what SQLAlchemy shows: ``str(compiled)``,
    logs, errors) with secret option values masked by the printer's secrecy hook,
    and ``sqlmed_statement``, the text to execute, in the clear.  DDL text written
    by hand has its secrets found by :func:`vtables.secrets.mask_sql`.
    """

    #: The real text when ``string`` had secret option values masked, else None.
    sqlmed_statement: str | None = None

    def __init__(self, *args: Any, **kw: Any):
        self._printed: tuple[str, str] | None = None
        super().__init__(*args, **kw)
        printed = self._printed
        if printed is not None and self.string == printed[0]:  # a SQL/MED tree, printed twice
            shown, real = printed
        else:  # DDL text given by hand: its secrets found by their tokens
            shown, real = mask_sql(self.string), self.string
        if shown != real:
            self.sqlmed_statement, self.string = real, shown

    def med_statement(self, tree: exp.Expression) -> str:
        """A SQL/MED statement: shown with secret values masked, the real text
        kept to execute (:attr:`sqlmed_statement`)."""
        shown = printer.masked(tree)
        self._printed = (shown, printer.to_sql(tree))
        return shown

    def medcolumn(self, column: sa_schema.Column, default_sql: str | None = None):
        """A column of a foreign table (``default_sql``: its DEFAULT, as printed)."""
        type_sql = self.dialect.type_compiler_instance.process(column.type, type_expression=column)
        return grammar.column(
            column.name,
            printer.sql_type(type_sql),
            options_=column_options(column),
            not_null=not column.nullable,
            default=printer.verbatim(default_sql) if default_sql is not None else None,
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
        tree = grammar.create_foreign_table(
            _foreign_table_name(table),
            columns,
            server,
            table_options(table),
            if_not_exists=bool(getattr(create, "if_not_exists", False)),
            constraints=[self.medcheck(c) for c in check_constraints(table)],
        )
        return self.med_statement(tree)

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
        return grammar.check(printer.verbatim(text), name=name, not_valid=not_valid)

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
        return self.med_statement(tree)

    def visit_create_index(self, create, include_schema=False, include_table_schema=True, **kw):
        index = create.element
        table = index.table
        if table is not None and foreign_server(table) is not None:
            raise exc.CompileError(
                f'cannot create index "{index.name}" on foreign table "{table.name}": '
                "foreign tables have no indexes (the source's own indexes serve pushed-down "
                "quals)"
            )
        return super().visit_create_index(
            create, include_schema=include_schema, include_table_schema=include_table_schema, **kw
        )

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

    def _ask(self, method: str) -> Any:
        with self._operation_context() as conn:
            return getattr(self.dialect, method)(conn, info_cache=self.info_cache)

    def get_foreign_table_names(self) -> list[str]:
        return self._ask("get_foreign_table_names")

    def get_foreign_data_wrappers(self) -> list[dict[str, Any]]:
        """Wrappers: name, handler, validator, extension, options, comment."""
        return self._ask("get_foreign_data_wrappers")

    def get_servers(self) -> list[dict[str, Any]]:
        """Servers: name, wrapper, type, version, options, comment."""
        return self._ask("get_servers")

    def get_user_mappings(self) -> list[dict[str, Any]]:
        """User mappings: user, server, options (secrets masked)."""
        return self._ask("get_user_mappings")

    def get_extensions(self) -> list[dict[str, Any]]:
        return self._ask("get_extensions")


# ---------------------------------------------------------------- execution


class SQLMedExecutionContext(SQLiteExecutionContext):
    """Secret option values in a statement are masked in what SQLAlchemy shows of
    it (``statement``: echo, the ``sqlalchemy.engine`` logger, DBAPIError's
    message and ``.statement``); the dialect executes ``sqlmed_statement``."""

    sqlmed_statement: str | None = None

    def pre_exec(self) -> None:
        # (DefaultExecutionContext.pre_exec, SQLite's, does nothing: not called,
        # as this runs for every statement)
        statement = self.statement
        compiled = self.compiled
        real = getattr(compiled, "sqlmed_statement", None) if self.isddl else None
        if real is not None and compiled is not None:  # the DDL compiler masked it already
            if statement != compiled.string:  # a schema_translate_map applied
                translate = compiled.preparer._render_schema_translates
                real = translate(real, self.execution_options.get("schema_translate_map", {}))
            self.sqlmed_statement = real
            return
        if statement and "options" in statement.lower():  # cheaper than mask_sql's regex
            masked = mask_sql(statement)
            if masked != statement:
                self.sqlmed_statement, self.statement = statement, masked


def executed(statement: str, context: Any) -> str:
    """What to send: the real text of a statement shown masked (unless an event
    handler has rewritten the statement since, then what it wrote)."""
    real = getattr(context, "sqlmed_statement", None)
    if real is not None and statement == context.statement:
        return real
    return statement


def _options_of(rows: Iterable[Any]) -> dict[Any, dict[str, str]]:
    """Options rows (owner columns..., name, value) as {owner: {name: value}}; an
    owner of one column is that value, of several a tuple."""
    out: dict[Any, dict[str, str]] = {}
    for *owner, key, value in rows:
        out.setdefault(owner[0] if len(owner) == 1 else tuple(owner), {})[key] = value
    return out


_LOCAL = (None, "main")  # the schema names of foreign tables

# What reflection asks the catalog about foreign tables.
_FOREIGN_SQL = "SELECT foreign_table_name, foreign_server_name FROM sqlmed_foreign_tables"
_COLUMNS_SQL = (
    "SELECT column_name, data_type, is_nullable, column_default, comment "
    "FROM sqlmed_foreign_table_columns WHERE table_name = ? COLLATE NOCASE "
    "ORDER BY ordinal_position"
)
_COLUMN_OPTIONS_SQL = (
    "SELECT column_name, option_name, option_value FROM sqlmed_column_options "
    "WHERE table_name = ? COLLATE NOCASE"
)
_KEY_SQL = (
    "SELECT o.column_name, o.option_value FROM sqlmed_column_options o "
    "JOIN sqlmed_foreign_table_columns c ON c.table_name = o.table_name "
    "AND c.column_name = o.column_name "
    "WHERE o.table_name = ? COLLATE NOCASE AND o.option_name = 'key' "
    "ORDER BY c.ordinal_position"
)
_HAS_CHECKS_SQL = (
    "SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = 'sqlmed_fconstraint'"
)
_CHECKS_SQL = (
    "SELECT name, check_sql, validated FROM main.sqlmed_fconstraint "
    "WHERE ftable = ? COLLATE NOCASE ORDER BY connum"
)
_TABLE_OPTIONS_SQL = (
    "SELECT option_name, option_value FROM sqlmed_foreign_table_options "
    "WHERE foreign_table_name = ? COLLATE NOCASE"
)
_TABLE_COMMENT_SQL = (
    "SELECT comment FROM sqlmed_foreign_tables WHERE foreign_table_name = ? COLLATE NOCASE"
)

_Reflect = Callable[..., Any]


def _foreign_table(method: _Reflect) -> _Reflect:
    """A reflection method about foreign tables: a local table (or one of
    another schema) gets SQLite's own answer."""
    name = method.__name__

    @functools.wraps(method)
    def reflect(self, connection, table_name, schema=None, **kw):
        if not self._is_foreign(connection, table_name, schema):
            local = getattr(super(SQLMedDialect, self), name)
            return local(connection, table_name, schema=schema, **kw)
        return method(self, connection, table_name, **kw)

    return reflect


class SQLMedDialect(SQLiteDialect):
    """SQLite's dialect with SQL/MED objects: DDL, execution and reflection.

    The entry point names this class; an engine gets the driver's subclass
    (:class:`.driver.SQLMedDialect_apsw`) through :meth:`get_dialect_cls`, as
    psycopg's dialect hands an async engine its async variant.
    """

    name = "sqlmed"
    supports_statement_cache = True
    ddl_compiler = SQLMedDDLCompiler
    execution_ctx_cls = SQLMedExecutionContext
    inspector = SQLMedInspector
    ischema_names = {**ischema_names, **EXTRA_TYPES}
    construct_arguments = CONSTRUCT_ARGUMENTS

    @classmethod
    def get_dialect_cls(cls, url: sa_url.URL) -> type[Dialect]:
        if cls is SQLMedDialect:
            from .driver import SQLMedDialect_apsw

            return SQLMedDialect_apsw
        return cls

    # -- reflection (the catalog is read without beginning a transaction)

    def _foreign_names(self, connection: Any) -> dict[str, str]:
        return {name.lower(): server for name, server in catalog_rows(connection, _FOREIGN_SQL)}

    def _is_foreign(self, connection: Any, table_name: str, schema: str | None) -> bool:
        return schema in _LOCAL and table_name.lower() in self._foreign_names(connection)

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
        if schema not in _LOCAL:
            return []
        return sorted(r[0] for r in catalog_rows(connection, _FOREIGN_SQL))

    @reflection.cache
    @_foreign_table
    def get_columns(self, connection, table_name, **kw):
        options = _options_of(catalog_rows(connection, _COLUMN_OPTIONS_SQL, (table_name,)))
        columns = []
        for name, declared, nullable, default, comment in catalog_rows(
            connection, _COLUMNS_SQL, (table_name,)
        ):
            column = {
                "name": name,
                "type": foreign_type(declared, self._resolve_type_affinity),
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
    @_foreign_table
    def get_pk_constraint(self, connection, table_name, **kw):
        """A foreign table's key is the columns marked ``key 'true'`` (what IMPORT
        FOREIGN SCHEMA sets from the remote primary key and what its wrapper
        writes by), in column order; it has no constraint name."""
        rows = catalog_rows(connection, _KEY_SQL, (table_name,))
        return {"constrained_columns": [n for n, v in rows if _marked(v)], "name": None}

    @reflection.cache
    @_foreign_table
    def get_check_constraints(self, connection, table_name, **kw):
        """A foreign table's CHECK constraints: their names and expressions (as
        PostgreSQL, they are declared, not enforced); a NOT VALID one has
        ``sqlmed_not_valid=True`` (so that it re-creates NOT VALID)."""
        if not catalog_rows(connection, _HAS_CHECKS_SQL):
            return []
        out = []
        for name, text, validated in catalog_rows(connection, _CHECKS_SQL, (table_name,)):
            item: dict[str, Any] = {"name": name, "sqltext": text}
            if not validated:
                item["sqlmed_not_valid"] = True
            out.append(item)
        return out

    @reflection.cache
    @_foreign_table
    def get_table_options(self, connection, table_name, **kw):
        out: dict[str, Any] = {"sqlmed_server": self._foreign_names(connection)[table_name.lower()]}
        options = dict(catalog_rows(connection, _TABLE_OPTIONS_SQL, (table_name,)))
        if options:
            out["sqlmed_options"] = options
        return out

    @reflection.cache
    @_foreign_table
    def get_table_comment(self, connection, table_name, **kw):
        rows = catalog_rows(connection, _TABLE_COMMENT_SQL, (table_name,))
        return {"text": rows[0][0] if rows else None}

    # -- the SQL/MED objects (SQLMedInspector's additions)

    @reflection.cache
    def get_foreign_data_wrappers(self, connection, **kw) -> list[dict[str, Any]]:
        return _WRAPPERS.read(connection)

    @reflection.cache
    def get_servers(self, connection, **kw) -> list[dict[str, Any]]:
        return _SERVERS.read(connection)

    @reflection.cache
    def get_user_mappings(self, connection, **kw) -> list[dict[str, Any]]:
        mappings = _USER_MAPPINGS.read(connection)
        for mapping in mappings:
            if mapping["user"] == catalog.PUBLIC:
                mapping["user"] = "PUBLIC"
        return mappings

    @reflection.cache
    def get_extensions(self, connection, **kw) -> list[dict[str, Any]]:
        rows = catalog_rows(
            connection, "SELECT extension_name, extension_version FROM sqlmed_extensions ORDER BY 1"
        )
        return [{"name": name, "version": version} for name, version in rows]


def _marked(value: str) -> bool:
    """Whether a ``key`` option marks its column (an invalid value marks nothing)."""
    try:
        return bool(parse_bool(value))
    except Exception:  # noqa: BLE001
        return False


class _Listing(NamedTuple):
    """A listing of catalog objects: ``view``'s columns (the values of ``fields``)
    under the keys of ``fields``, ordered by ``order``, each with its
    ``options`` from ``options_view``, whose rows are the object's first
    ``owner`` columns, then an option's name and value."""

    view: str
    fields: dict[str, str]
    options_view: str
    order: str = "1"
    owner: int = 1

    def read(self, connection: Any) -> list[dict[str, Any]]:
        options = _options_of(catalog_rows(connection, f"SELECT * FROM {self.options_view}"))
        sql = f"SELECT {', '.join(self.fields.values())} FROM {self.view} ORDER BY {self.order}"
        out = []
        for row in catalog_rows(connection, sql):
            key = row[0] if self.owner == 1 else tuple(row[: self.owner])
            item = dict(zip(self.fields, row, strict=True))
            out.append({**item, "options": options.get(key, {})})
        return out


_WRAPPERS = _Listing(
    "sqlmed_foreign_data_wrappers",
    {
        "name": "foreign_data_wrapper_name",
        "handler": "handler",
        "validator": "validator",
        "extension": "extension",
        "comment": "comment",
    },
    "sqlmed_foreign_data_wrapper_options",
)
_SERVERS = _Listing(
    "sqlmed_foreign_servers",
    {
        "name": "foreign_server_name",
        "wrapper": "foreign_data_wrapper_name",
        "type": "foreign_server_type",
        "version": "foreign_server_version",
        "comment": "comment",
    },
    "sqlmed_foreign_server_options",
)
_USER_MAPPINGS = _Listing(
    "sqlmed_user_mappings",
    {"user": "authorization_identifier", "server": "foreign_server_name"},
    "sqlmed_user_mapping_options",
    order="2, 1",
    owner=2,
)
