"""Foreign tables: CREATE and ALTER FOREIGN TABLE, IMPORT FOREIGN SCHEMA."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .. import catalog, grammar, types
from ..catalog import Column, ForeignTable
from ..errors import (
    DuplicateObjectError,
    FeatureNotSupportedError,
    SQLMedError,
    UndefinedObjectError,
    WrapperError,
)
from .base import (
    LOCAL_SCHEMAS,
    apply_options,
    name_of,
    qi,
    relation_exists,
    server_named,
    server_wrapper,
    skip_or_raise,
    validate,
)
from .checks import add_checks, check_table_name, constraint_columns, rename_in_checks

if TYPE_CHECKING:
    from ..session import Session

logger = logging.getLogger(__name__)


# ----------------------------------------------------------- foreign tables


def _type_sql(dtype: grammar.MedType) -> str:
    return dtype.args["text"]


def _collation(col: grammar.MedColumn) -> str | None:
    ident = col.args.get("collate")
    if ident is None:
        return None
    name = name_of(ident)
    found = catalog.COLLATIONS.get(name.lower())
    if found is None:
        raise UndefinedObjectError(
            f'collation "{name}" for encoding "UTF8" does not exist',
            hint='Foreign columns take "C" (or "POSIX"), BINARY, NOCASE or RTRIM.',
        )
    return found


def _column(session: Session, col: grammar.MedColumn, table: str) -> Column:
    default = col.args.get("default")
    return Column(
        name=name_of(col.this),
        type=_type_sql(col.args["kind"]),
        not_null=bool(col.args.get("not_null")),
        default=grammar.to_sql(default) if default is not None else None,
        options=apply_options(
            {}, col.args.get("options"), f'column "{name_of(col.this)}" of "{table}"'
        ),
        collation=_collation(col),
    )


def create_table_from(session: Session, table: ForeignTable, if_not_exists: bool = False) -> bool:
    """Validate and create a foreign table and its virtual table; False if skipped."""
    db = session.db
    check_table_name(table.name)
    if catalog.get_table(db, table.name) or relation_exists(session, table.name):
        skip_or_raise(
            session, DuplicateObjectError, f'relation "{table.name}" already exists', if_not_exists
        )
        return False
    server = server_named(session, table.server)
    table.server = server.name
    if not table.columns:
        raise FeatureNotSupportedError(
            f'foreign table "{table.name}" must have at least one column',
            detail="SQLite tables cannot have zero columns.",
        )
    seen: set[str] = set()
    for c in table.columns:
        if c.name.lower() in seen:
            raise DuplicateObjectError(f'column "{c.name}" specified more than once')
        seen.add(c.name.lower())
    fdw = server_wrapper(session, server)
    validate(fdw, "table", table.options, table.name)
    for c in table.columns:
        validate(fdw, "column", c.options, f"{table.name}.{c.name}")
    catalog.put_table(db, table)
    db.execute(f"CREATE VIRTUAL TABLE main.{qi(table.name)} USING sqlmed")
    return True


def create_table(session: Session, e: grammar.CreateForeignTable) -> None:
    name = name_of(e.this)
    table = ForeignTable(
        name=name,
        server=name_of(e.args["server"]),
        options=apply_options({}, e.args.get("options"), f'foreign table "{name}"'),
        comment=None,
        columns=[_column(session, c, name) for c in e.args.get("columns") or ()],
    )
    checks = [k for c in e.args.get("columns") or () for k in c.args.get("constraints") or ()]
    checks += e.args.get("constraints") or []
    if checks and not (catalog.get_table(session.db, name) or relation_exists(session, name)):
        add_checks(session, table, checks)
    create_table_from(session, table, bool(e.args.get("exists")))


def rebuild_virtual_table(session: Session, name: str) -> None:
    """Make SQLite re-read a foreign table's columns from the catalog."""
    db = session.db
    session.rebuilding.add(name.lower())
    try:
        db.execute(f"DROP TABLE main.{qi(name)}")
    finally:
        session.rebuilding.discard(name.lower())
    db.execute(f"CREATE VIRTUAL TABLE main.{qi(name)} USING sqlmed")


def alter_table(session: Session, e: grammar.AlterForeignTable) -> None:
    db = session.db
    name = name_of(e.this)
    table = catalog.get_table(db, name)
    if table is None:
        message = f'relation "{name}" does not exist'
        if e.args.get("exists"):
            session.notice(message + ", skipping")
            return
        if relation_exists(session, name):
            raise SQLMedError(f'"{name}" is not a foreign table')
        raise UndefinedObjectError(message)
    if e.args.get("rename"):
        new = name_of(e.args["rename"])
        check_table_name(new)
        if relation_exists(session, new) or catalog.get_table(db, new):
            raise DuplicateObjectError(f'relation "{new}" already exists')
        # ALTER TABLE reaches the module's Rename, which renames the catalog rows.
        db.execute(f"ALTER TABLE main.{qi(table.name)} RENAME TO {qi(new)}")
        return
    fdw = server_wrapper(session, server_named(session, table.server))
    for action in e.args.get("actions") or ():
        kind = action.args["kind"]
        if kind in _TABLE_ACTIONS:
            _TABLE_ACTIONS[kind](session, table, fdw, action)
        else:
            _alter_column(session, table, fdw, action)
    catalog.put_table(session.db, table)
    rebuild_virtual_table(session, table.name)


def _set_table_options(
    session: Session, table: ForeignTable, fdw: catalog.Wrapper, action: grammar.FtAction
) -> None:
    what = f'foreign table "{table.name}"'
    table.options = apply_options(table.options, action.args.get("options"), what)
    validate(fdw, "table", table.options, table.name)


def _add_column(
    session: Session, table: ForeignTable, fdw: catalog.Wrapper, action: grammar.FtAction
) -> None:
    col = _column(session, action.this, table.name)
    if table.column(col.name):
        skip_or_raise(
            session,
            DuplicateObjectError,
            f'column "{col.name}" of relation "{table.name}" already exists',
            action.args.get("exists"),
        )
        return
    validate(fdw, "column", col.options, f"{table.name}.{col.name}")
    table.columns.append(col)
    add_checks(session, table, action.this.args.get("constraints") or [])


def _add_constraint(
    session: Session, table: ForeignTable, fdw: catalog.Wrapper, action: grammar.FtAction
) -> None:
    add_checks(session, table, [action.this])


def _end_constraint(
    session: Session, table: ForeignTable, fdw: catalog.Wrapper, action: grammar.FtAction
) -> None:
    """DROP CONSTRAINT or VALIDATE CONSTRAINT."""
    kind = action.args["kind"]
    con_name = name_of(action.args["constraint"])
    found = next((c for c in table.constraints if c.name == con_name), None)
    if found is None:
        dropping = kind == "DROP_CONSTRAINT" and action.args.get("exists")
        return _absent(session, f'constraint "{con_name}"', table, dropping)
    if kind == "DROP_CONSTRAINT":
        table.constraints.remove(found)
    else:
        found.validated = True  # nothing to scan: it is an assumption, as in PostgreSQL


def _absent(session: Session, what: str, table: ForeignTable, skip: object) -> None:
    """A column or constraint the action names is not there (``skip``: IF EXISTS)."""
    message = f'{what} of relation "{table.name}" does not exist'
    skip_or_raise(session, UndefinedObjectError, message, skip)


_TABLE_ACTIONS = {
    "OPTIONS": _set_table_options,
    "ADD": _add_column,
    "ADD_CONSTRAINT": _add_constraint,
    "DROP_CONSTRAINT": _end_constraint,
    "VALIDATE_CONSTRAINT": _end_constraint,
}


def _alter_column(
    session: Session, table: ForeignTable, fdw: catalog.Wrapper, action: grammar.FtAction
) -> None:
    kind = action.args["kind"]
    rel = f'relation "{table.name}"'
    col_name = name_of(action.args["column"])
    column = table.column(col_name)
    if column is None:
        dropping = kind == "DROP" and action.args.get("exists")
        return _absent(session, f'column "{col_name}"', table, dropping)
    if kind == "DROP":
        table.columns.remove(column)
        # as in PostgreSQL, the table's constraints on the column go with it
        table.constraints = [
            c for c in table.constraints if column.name.lower() not in constraint_columns(c)
        ]
        if not table.columns:
            raise FeatureNotSupportedError(
                f'cannot drop column "{column.name}": it is the only column of {rel}',
                detail="SQLite tables cannot have zero columns.",
            )
    elif kind == "RENAME_COLUMN":
        new = name_of(action.args["to"])
        if table.column(new) is not None and new.lower() != column.name.lower():
            raise DuplicateObjectError(f'column "{new}" of {rel} already exists')
        rename_in_checks(table, column.name, new)
        column.name = new
    elif kind == "TYPE":
        column.type = _type_sql(action.args["dtype"])
    elif kind in ("SET_NOT_NULL", "DROP_NOT_NULL"):
        column.not_null = kind == "SET_NOT_NULL"
    elif kind == "SET_DEFAULT":
        column.default = grammar.to_sql(action.args["default"])
    elif kind == "DROP_DEFAULT":
        column.default = None
    elif kind == "COLUMN_OPTIONS":
        what = f'column "{column.name}" of "{table.name}"'
        column.options = apply_options(column.options, action.args.get("options"), what)
        validate(fdw, "column", column.options, f"{table.name}.{column.name}")


# ------------------------------------------------------------------ import


def import_schema(session: Session, e: grammar.ImportForeignSchema) -> None:
    db = session.db
    server = server_named(session, name_of(e.args["server"]))
    into = name_of(e.args["into"])
    if into.lower() not in LOCAL_SCHEMAS:
        raise UndefinedObjectError(
            f'schema "{into}" does not exist',
            hint="Foreign tables are imported into the main database (INTO main or INTO public).",
        )
    fdw = server_wrapper(session, server)
    cls = session.handler_class(fdw)
    remote = name_of(e.this)
    restriction = e.args.get("restriction")
    restricts = [name_of(t) for t in e.args.get("tables") or ()]
    options = apply_options({}, e.args.get("options"), "IMPORT FOREIGN SCHEMA")
    um = catalog.find_user_mapping(db, session.user, server.name)
    try:
        tables = cls.import_schema(
            remote,
            dict(server.options),
            dict(um.options) if um else {},
            options,
            restriction,
            restricts,
            database_path=db.filename or "",
        )
    except NotImplementedError:
        raise FeatureNotSupportedError(
            f'foreign-data wrapper "{fdw.name}" does not support IMPORT FOREIGN SCHEMA'
        ) from None
    except SQLMedError:
        raise
    except Exception as err:  # a wrapper failure, reported with where it happened
        raise wrapper_api_error(fdw.name, server.name, err) from err
    wanted = set(restricts)
    for table in tables or ():
        if restriction == "LIMIT TO" and table.name not in wanted:
            continue
        if restriction == "EXCEPT" and table.name in wanted:
            continue
        ft = ForeignTable(
            name=table.name,
            server=server.name,
            options=dict(table.options),
            comment=None,
            columns=[
                Column(c.name, _imported_type(c.type), c.not_null, c.default, dict(c.options))
                for c in table.columns
            ],
        )
        create_table_from(session, ft)


_FAMILY_TYPES = {
    "integer": "BIGINT",
    "real": "DOUBLE PRECISION",
    "numeric": "NUMERIC",
    "text": "TEXT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "time": "TIME",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMPTZ",
    "blob": "BYTEA",
    "json": "JSONB",
}


def _imported_type(declared: str) -> str:
    """A remote type in the grammar's own spelling, so the catalog always dumps."""
    try:
        tree = grammar.parse_one(f"CREATE FOREIGN TABLE t (c {declared}) SERVER s")
        return _type_sql(tree.args["columns"][0].args["kind"])
    except SQLMedError:
        return _FAMILY_TYPES.get(types.family(declared), "BLOB")


def wrapper_api_error(fdw: str, server: str, err: Exception) -> SQLMedError:
    return WrapperError(f'foreign-data wrapper "{fdw}" failed for server "{server}": {err}')
