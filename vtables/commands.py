"""Executes parsed SQL/MED statements against the catalog, with PostgreSQL's rules.

Each statement runs inside its own SAVEPOINT: when it fails, the catalog and
the schema are exactly what they were before it started.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import apsw
from sqlglot import exp

from . import catalog, grammar
from . import wrapper as wrapper_api
from .catalog import PUBLIC, CheckConstraint, Column, ForeignTable
from .errors import (
    DependentObjectsError,
    DuplicateObjectError,
    FeatureNotSupportedError,
    SQLMedError,
    UndefinedObjectError,
)
from .grammar import MedOption

if TYPE_CHECKING:
    from .session import Session

logger = logging.getLogger(__name__)

LOCAL_SCHEMAS = ("main", "public")


def name_of(ident: exp.Identifier) -> str:
    """PostgreSQL folds unquoted names to lower case."""
    return ident.this if ident.args.get("quoted") else ident.this.lower()


def qi(name: str) -> str:
    """Quote an identifier for SQLite."""
    return '"' + name.replace('"', '""') + '"'


def execute(session: Session, tree: exp.Expr) -> None:
    """Run one statement atomically, leaving the connection as it found it.

    Outside a transaction the statement is a transaction of its own that
    takes the write lock first (BEGIN IMMEDIATE), so concurrent DDL waits
    for the busy timeout instead of failing when a read upgrades to a write;
    inside one it is a savepoint.  On any failure, the commit's included,
    the statement is undone and no transaction is left open that the
    connection was not already in.
    """
    db = session.db
    handler = _HANDLERS.get(type(tree))
    if handler is None:
        raise FeatureNotSupportedError(f"not an SQL/MED statement: {type(tree).__name__}")
    own = not db.in_transaction
    try:
        db.execute("BEGIN IMMEDIATE" if own else "SAVEPOINT sqlmed_ddl")
    except apsw.Error as err:
        raise SQLMedError(f"{type(err).__name__}: {err}") from err
    try:
        catalog.ensure(db)
        handler(session, tree)
        catalog.bump_generation(db)
        db.execute("COMMIT" if own else "RELEASE sqlmed_ddl")
    except BaseException as err:
        _undo(session, own)
        if isinstance(err, apsw.Error):
            raise SQLMedError(f"{type(err).__name__}: {err}") from err
        raise


def _undo(session: Session, own: bool) -> None:
    db = session.db
    try:
        if own:
            if db.in_transaction:
                db.execute("ROLLBACK")
        else:
            db.execute("ROLLBACK TO sqlmed_ddl; RELEASE sqlmed_ddl")
    except apsw.Error:  # SQLite already rolled back (an I/O error, a full disk)
        if own and db.in_transaction:
            db.execute("ROLLBACK")


# ------------------------------------------------------------------ options


def apply_options(
    current: dict[str, str], items: list[MedOption] | None, what: str
) -> dict[str, str]:
    """New option list after ADD/SET/DROP items (a bare item means ADD),
    applied in order as PostgreSQL does: ``ADD x '1', DROP x`` is fine."""
    new = dict(current)
    for item in items or ():
        key = name_of(item.this)
        action = item.args.get("action") or "ADD"
        if action == "ADD":
            if key in new:
                raise DuplicateObjectError(
                    f'option "{key}" provided more than once for {what}',
                    hint="Use SET to change the value of an existing option.",
                )
            new[key] = item.args.get("value") or ""
        elif key not in new:
            raise UndefinedObjectError(f'option "{key}" not found for {what}')
        elif action == "SET":
            new[key] = item.args.get("value") or ""
        else:
            del new[key]
    return new


def _validator(fdw: catalog.Wrapper) -> type[wrapper_api.ForeignDataWrapper] | None:
    if not fdw.validator:
        return None
    cls = wrapper_api.validator_class(fdw.validator)
    if cls is None:
        raise UndefinedObjectError(
            f'validator function {fdw.validator}() of foreign-data wrapper "{fdw.name}"'
            " is not installed in this program",
            hint="Install the package that provides the wrapper, or register it with "
            "vtables.register_wrapper().",
        )
    return cls


def validate(
    session: Session, fdw: catalog.Wrapper, kind: str, options: dict[str, str], name: str
) -> None:
    cls = _validator(fdw)
    if cls is not None:
        cls.validate(kind, options, object_name=name)


def _function_class(function: str, suffix: str) -> None:
    cls = (
        wrapper_api.handler_class(function)
        if suffix == "handler"
        else wrapper_api.validator_class(function)
    )
    if cls is None:
        raise UndefinedObjectError(
            f"function {function}() does not exist",
            hint=f"{suffix.capitalize()} names are <wrapper>_{suffix} for an installed wrapper; "
            f"installed: {', '.join(wrapper_api.available_wrappers()) or 'none'}.",
        )


# ---------------------------------------------------------------- lookups


def _wrapper(session: Session, name: str) -> catalog.Wrapper:
    fdw = catalog.get_wrapper(session.db, name)
    if fdw is None:
        raise UndefinedObjectError(f'foreign-data wrapper "{name}" does not exist')
    return fdw


def _server(session: Session, name: str) -> catalog.Server:
    server = catalog.get_server(session.db, name)
    if server is None:
        raise UndefinedObjectError(f'server "{name}" does not exist')
    return server


def _server_wrapper(session: Session, server: catalog.Server) -> catalog.Wrapper:
    return _wrapper(session, server.fdw)


def resolve_user(session: Session, user: grammar.MedUser) -> str:
    keyword = user.args.get("keyword")
    if keyword == "PUBLIC":
        return PUBLIC
    if keyword:
        return session.user
    name = name_of(user.this)
    return PUBLIC if name == PUBLIC else name


def _relation_exists(session: Session, name: str) -> bool:
    row = session.db.execute(
        "SELECT 1 FROM main.sqlite_master WHERE name=? COLLATE NOCASE"
        " AND type IN ('table', 'view', 'index')",
        (name,),
    ).fetchone()
    return row is not None


# -------------------------------------------------------------- wrappers


def create_fdw(session: Session, e: grammar.CreateFdw) -> None:
    db = session.db
    name = name_of(e.this)
    if catalog.get_wrapper(db, name):
        raise DuplicateObjectError(f'foreign-data wrapper "{name}" already exists')
    handler, validator = _functions(e.args.get("functions"), None, None)
    fdw = catalog.Wrapper(name, handler, validator, {}, None, None)
    fdw.options = apply_options({}, e.args.get("options"), f'foreign-data wrapper "{name}"')
    validate(db, fdw, "wrapper", fdw.options, name)
    db.execute(
        "INSERT INTO sqlmed_fdw(name, handler, validator, options) VALUES (?,?,?,?)",
        (name, handler, validator, catalog.dump_options(fdw.options)),
    )


def _functions(
    functions: list[grammar.FdwFunction] | None, handler: str | None, validator: str | None
) -> tuple[str | None, str | None]:
    seen = set()
    for fn in functions or ():
        kind = fn.args["kind"]
        if kind in seen:
            raise SQLMedError("conflicting or redundant options", detail=f"{kind} given twice")
        seen.add(kind)
        value = name_of(fn.this) if fn.this else None
        if value:
            _function_class(value, kind.lower())
        if kind == "HANDLER":
            handler = value
        else:
            validator = value
    return handler, validator


def alter_fdw(session: Session, e: grammar.AlterFdw) -> None:
    db = session.db
    fdw = _wrapper(session, name_of(e.this))
    if e.args.get("rename"):
        new = name_of(e.args["rename"])
        if catalog.get_wrapper(db, new):
            raise DuplicateObjectError(f'foreign-data wrapper "{new}" already exists')
        db.execute("UPDATE sqlmed_fdw SET name=? WHERE name=?", (new, fdw.name))
        db.execute("UPDATE sqlmed_server SET fdw=? WHERE fdw=?", (new, fdw.name))
        return
    fdw.handler, fdw.validator = _functions(e.args.get("functions"), fdw.handler, fdw.validator)
    if e.args.get("options") is not None:
        fdw.options = apply_options(
            fdw.options, e.args["options"], f'foreign-data wrapper "{fdw.name}"'
        )
        validate(db, fdw, "wrapper", fdw.options, fdw.name)
    db.execute(
        "UPDATE sqlmed_fdw SET handler=?, validator=?, options=? WHERE name=?",
        (fdw.handler, fdw.validator, catalog.dump_options(fdw.options), fdw.name),
    )


# --------------------------------------------------------- dependencies


class _Drop:
    """Collects what a DROP removes, in the order it must go."""

    def __init__(self, session: Session):
        self.session = session
        self.tables: list[str] = []
        self.mappings: list[tuple[str, str]] = []
        self.servers: list[str] = []
        self.wrappers: list[str] = []
        self.extensions: list[str] = []
        self.dependents: list[str] = []

    def server(self, name: str, cascade_from: str | None) -> None:
        if name in self.servers:
            return
        if cascade_from:
            self.dependents.append(f"server {name} depends on {cascade_from}")
        self.servers.append(name)
        for user in catalog.names(self.session.db, "user_mapping", name):
            self.mappings.append((user, name))
            self.dependents.append(
                f"user mapping for {user} on server {name} depends on server {name}"
            )
        for table in catalog.names(self.session.db, "table", name):
            if table not in self.tables:
                self.tables.append(table)
                self.dependents.append(f"foreign table {table} depends on server {name}")

    def wrapper(self, name: str, cascade_from: str | None) -> None:
        if name in self.wrappers:
            return
        if cascade_from:
            self.dependents.append(f"foreign-data wrapper {name} depends on {cascade_from}")
        self.wrappers.append(name)
        for server in catalog.names(self.session.db, "server", name):
            self.server(server, f"foreign-data wrapper {name}")

    def check(self, what: str, cascade: str | None) -> None:
        if self.dependents and cascade != "CASCADE":
            raise DependentObjectsError(
                f"cannot drop {what} because other objects depend on it",
                detail="\n".join(self.dependents),
                hint="Use DROP ... CASCADE to drop the dependent objects too.",
            )
        if self.dependents:
            n = len(self.dependents)
            self.session.notice(f"drop cascades to {n} other object{'s' if n > 1 else ''}")

    def run(self) -> None:
        session, conn = self.session, self.session.db
        for name in self.tables:
            drop_foreign_table(session, name)
        for user, server in self.mappings:
            conn.execute(
                "DELETE FROM sqlmed_user_mapping WHERE umuser=? AND server=?", (user, server)
            )
        for name in self.servers:
            conn.execute("DELETE FROM sqlmed_user_mapping WHERE server=?", (name,))
            conn.execute("DELETE FROM sqlmed_server WHERE name=?", (name,))
            session.close_server(name)
        for name in self.wrappers:
            conn.execute("DELETE FROM sqlmed_fdw WHERE name=?", (name,))
        for name in self.extensions:
            conn.execute("DELETE FROM sqlmed_extension WHERE name=?", (name,))


def drop_foreign_table(session: Session, name: str) -> None:
    # DROP TABLE reaches the module's Destroy, which removes the catalog rows;
    # the delete below covers a catalog entry whose virtual table is gone.
    db = session.db
    if _relation_exists(session, name):
        db.execute(f"DROP TABLE main.{qi(name)}")
    catalog.delete_table(db, name)


def drop(session: Session, e: grammar.MedDrop) -> None:
    db = session.db
    kind = e.args["kind"]
    names = [name_of(n) for n in e.expressions]
    cascade = e.args.get("cascade")
    plan = _Drop(session)
    label = {"FOREIGN DATA WRAPPER": "foreign-data wrapper", "SERVER": "server"}.get(
        kind, kind.lower()
    )
    present = []
    for name in names:
        # by name only: an object whose catalog rows are damaged can be dropped
        found: Any
        if kind == "FOREIGN DATA WRAPPER":
            found = name if name in catalog.names(db, "wrapper") else None
            extension = (
                next((e for e in catalog.names(db, "wrapper_extension", name) if e), None)
                if found
                else None
            )
            if extension:
                raise DependentObjectsError(
                    f"cannot drop foreign-data wrapper {name} because extension "
                    f"{extension} requires it",
                    hint=f"You can drop extension {extension} instead.",
                )
        elif kind == "SERVER":
            found = name if name in catalog.names(db, "server") else None
        elif kind == "FOREIGN TABLE":
            found = catalog.table_name(db, name)
            if found is None and _relation_exists(session, name):
                raise SQLMedError(
                    f'"{name}" is not a foreign table',
                    hint="Use DROP TABLE or DROP VIEW to remove it.",
                )
        else:
            found = catalog.get_extension(db, name)
        if not found:
            message = f'{"relation" if kind == "FOREIGN TABLE" else label} "{name}" does not exist'
            if e.args.get("exists"):
                session.notice(message + ", skipping")
                continue
            raise UndefinedObjectError(message)
        present.append(found)
    for name in present:
        if kind == "FOREIGN DATA WRAPPER":
            plan.wrapper(name, None)
        elif kind == "SERVER":
            plan.server(name, None)
        elif kind == "FOREIGN TABLE":
            plan.tables.append(name)
        else:
            plan.extensions.append(name)
            for wrapper in catalog.names(db, "wrapper", name):
                plan.wrappers.append(wrapper)
                for server in catalog.names(db, "server", wrapper):
                    plan.server(server, f"foreign-data wrapper {wrapper}")
    if present:
        what = f"{label} {present[0]}" if len(present) == 1 else f"{label}s"
        plan.check(what, cascade)
        plan.run()


# ----------------------------------------------------------------- servers


def create_server(session: Session, e: grammar.CreateServer) -> None:
    db = session.db
    name = name_of(e.this)
    if catalog.get_server(db, name):
        message = f'server "{name}" already exists'
        if e.args.get("exists"):
            session.notice(message + ", skipping")
            return
        raise DuplicateObjectError(message)
    fdw = _wrapper(session, name_of(e.args["wrapper"]))
    options = apply_options({}, e.args.get("options"), f'server "{name}"')
    validate(db, fdw, "server", options, name)
    db.execute(
        "INSERT INTO sqlmed_server(name, fdw, type, version, options) VALUES (?,?,?,?,?)",
        (name, fdw.name, e.args.get("type"), e.args.get("version"), catalog.dump_options(options)),
    )


def alter_server(session: Session, e: grammar.AlterServer) -> None:
    db = session.db
    server = _server(session, name_of(e.this))
    if e.args.get("rename"):
        new = name_of(e.args["rename"])
        if catalog.get_server(db, new):
            raise DuplicateObjectError(f'server "{new}" already exists')
        db.execute("UPDATE sqlmed_server SET name=? WHERE name=?", (new, server.name))
        db.execute("UPDATE sqlmed_user_mapping SET server=? WHERE server=?", (new, server.name))
        db.execute("UPDATE sqlmed_ftable SET server=? WHERE server=?", (new, server.name))
        session.close_server(server.name)
        return
    if e.args.get("version") is not None:
        server.version = e.args["version"]
    if e.args.get("options") is not None:
        server.options = apply_options(server.options, e.args["options"], f'server "{server.name}"')
        validate(db, _server_wrapper(session, server), "server", server.options, server.name)
    db.execute(
        "UPDATE sqlmed_server SET version=?, options=? WHERE name=?",
        (server.version, catalog.dump_options(server.options), server.name),
    )
    session.close_server(server.name)


# ----------------------------------------------------------- user mappings


def _mapping_label(user: str, server: str) -> str:
    return f'user mapping for "{user}" on server "{server}"'


def create_user_mapping(session: Session, e: grammar.CreateUserMapping) -> None:
    db = session.db
    user = resolve_user(session, e.this)
    server = _server(session, name_of(e.args["server"]))
    if catalog.get_user_mapping(db, user, server.name):
        message = f'user mapping for "{user}" already exists for server "{server.name}"'
        if e.args.get("exists"):
            session.notice(message + ", skipping")
            return
        raise DuplicateObjectError(message)
    options = apply_options({}, e.args.get("options"), _mapping_label(user, server.name))
    validate(db, _server_wrapper(session, server), "user_mapping", options, "")
    db.execute(
        "INSERT INTO sqlmed_user_mapping(umuser, server, options) VALUES (?,?,?)",
        (user, server.name, catalog.dump_options(options)),
    )


def alter_user_mapping(session: Session, e: grammar.AlterUserMapping) -> None:
    db = session.db
    user = resolve_user(session, e.this)
    server = _server(session, name_of(e.args["server"]))
    um = catalog.get_user_mapping(db, user, server.name)
    if um is None:
        raise UndefinedObjectError(
            f'user mapping for "{user}" does not exist for server "{server.name}"'
        )
    options = apply_options(um.options, e.args["options"], _mapping_label(user, server.name))
    validate(db, _server_wrapper(session, server), "user_mapping", options, "")
    db.execute(
        "UPDATE sqlmed_user_mapping SET options=? WHERE umuser=? AND server=?",
        (catalog.dump_options(options), user, server.name),
    )
    session.close_server(server.name)


def drop_user_mapping(session: Session, e: grammar.DropUserMapping) -> None:
    db = session.db
    user = resolve_user(session, e.this)
    server_name = name_of(e.args["server"])
    if server_name not in catalog.names(db, "server"):  # by name: damaged rows drop too
        if e.args.get("exists"):
            session.notice(f'server "{server_name}" does not exist, skipping')
            return
        raise UndefinedObjectError(f'server "{server_name}" does not exist')
    if user not in catalog.names(db, "user_mapping", server_name):
        message = f'user mapping for "{user}" does not exist for server "{server_name}"'
        if e.args.get("exists"):
            session.notice(message + ", skipping")
            return
        raise UndefinedObjectError(message)
    db.execute("DELETE FROM sqlmed_user_mapping WHERE umuser=? AND server=?", (user, server_name))
    session.close_server(server_name)


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


# ------------------------------------------------------- check constraints
#
# As in PostgreSQL, a foreign table's CHECK constraints are declared, never
# enforced: they are assumptions about the remote data (the planner's to use),
# so rows that break them are neither refused on write nor filtered on read.

_NAMEDATALEN = 64


def _object_name(name1: str, name2: str | None, label: str) -> str:
    """PostgreSQL's makeObjectName: ``name1_name2_label``, the names shortened
    (the longer first) to fit NAMEDATALEN - 1 bytes."""
    overhead = len(label.encode()) + 1 + (1 if name2 else 0)
    avail = _NAMEDATALEN - 1 - overhead
    n1 = len(name1.encode())
    n2 = len(name2.encode()) if name2 else 0
    while n1 + n2 > avail:
        if n1 > n2:
            n1 -= 1
        else:
            n2 -= 1
    parts = [name1.encode()[:n1].decode(errors="ignore")]
    if name2:
        parts.append(name2.encode()[:n2].decode(errors="ignore"))
    return "_".join(parts + [label])


def _referenced(table: ForeignTable, expression: exp.Expression) -> list[str]:
    """The table's columns an expression names, each once, in order of
    appearance; an unknown column is refused as PostgreSQL refuses it."""
    found: list[str] = []
    for node in expression.find_all(exp.Column):
        name = name_of(node.this) if isinstance(node.this, exp.Identifier) else str(node.name)
        column = table.column(name)
        if column is None:
            raise UndefinedObjectError(f'column "{name}" does not exist', sqlstate="42703")
        if column.name not in found:
            found.append(column.name)
    return found


def _check_allowed(expression: exp.Expression) -> None:
    if expression.find(exp.Select, exp.Subquery, exp.Exists):
        raise FeatureNotSupportedError("cannot use subquery in check constraint")
    if expression.find(exp.AggFunc):
        raise SQLMedError(
            "aggregate functions are not allowed in check constraints", sqlstate="42803"
        )
    if expression.find(exp.Window):
        raise SQLMedError("window functions are not allowed in check constraints", sqlstate="42P20")


def _namespace_constraints(session: Session, table: str) -> set[str]:
    """Constraint names of the other foreign tables: PostgreSQL picks a generated
    name that no constraint of the schema has."""
    db = session.db
    if not catalog.has_constraint_table(db):
        return set()
    rows = db.execute(
        "SELECT name FROM main.sqlmed_fconstraint WHERE ftable <> ?", (table,)
    ).fetchall()
    return {r[0] for r in rows}


def add_checks(session: Session, table: ForeignTable, checks: list[grammar.MedCheck]) -> None:
    """Add CHECK constraints to ``table`` (not yet written), with PostgreSQL's
    names (``<table>_<column>_check`` when the expression names one column,
    else ``<table>_check``, numbered on collision) and duplicate-name errors."""
    taken = _namespace_constraints(session, table.name)
    new_names: list[str] = []
    for check in checks:
        expression = check.args["expression"]
        _check_allowed(expression)
        columns = _referenced(table, expression)
        if check.this is not None:
            name = name_of(check.this)
            if name in new_names:
                raise DuplicateObjectError(f'check constraint "{name}" already exists')
            if any(c.name == name for c in table.constraints):
                raise DuplicateObjectError(
                    f'constraint "{name}" for relation "{table.name}" already exists'
                )
        else:
            used = taken | {c.name for c in table.constraints}
            column = columns[0] if len(columns) == 1 else None
            label, n = "check", 0
            while (name := _object_name(table.name, column, label)) in used:
                n += 1
                label = f"check{n}"
        new_names.append(name)
        # NOT VALID is kept even in CREATE FOREIGN TABLE, as PostgreSQL keeps it
        validated = not check.args.get("not_valid")
        table.constraints.append(CheckConstraint(name, grammar.to_sql(expression), validated))


def _constraint_columns(check: CheckConstraint) -> set[str]:
    tree = catalog.parse_check(check.check_sql)
    if tree is None:
        return set()
    return {
        name_of(n.this).lower()
        for n in tree.find_all(exp.Column)
        if isinstance(n.this, exp.Identifier)
    }


def _rename_in_checks(table: ForeignTable, old: str, new: str) -> None:
    """RENAME COLUMN: the constraints name the column by its new name."""
    for check in table.constraints:
        tree = catalog.parse_check(check.check_sql)
        if tree is None:
            continue
        tree = tree.copy()
        for node in tree.find_all(exp.Column):
            if isinstance(node.this, exp.Identifier) and name_of(node.this).lower() == old.lower():
                node.set("this", exp.Identifier(this=new, quoted=grammar.quote_ident(new) != new))
        check.check_sql = grammar.to_sql(tree)


def _check_table_name(name: str) -> None:
    low = name.lower()
    if low.startswith("sqlmed_") or low.startswith("sqlite_"):
        raise SQLMedError(
            f'foreign table name "{name}" is reserved',
            hint="Names beginning with sqlmed_ or sqlite_ belong to the system.",
        )


def create_table_from(session: Session, table: ForeignTable, if_not_exists: bool = False) -> bool:
    """Validate and create a foreign table and its virtual table; False if skipped."""
    db = session.db
    _check_table_name(table.name)
    if catalog.get_table(db, table.name) or _relation_exists(session, table.name):
        message = f'relation "{table.name}" already exists'
        if if_not_exists:
            session.notice(message + ", skipping")
            return False
        raise DuplicateObjectError(message)
    server = _server(session, table.server)
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
    fdw = _server_wrapper(session, server)
    validate(db, fdw, "table", table.options, table.name)
    for c in table.columns:
        validate(db, fdw, "column", c.options, f"{table.name}.{c.name}")
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
    if checks and not (catalog.get_table(session.db, name) or _relation_exists(session, name)):
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
        if _relation_exists(session, name):
            raise SQLMedError(f'"{name}" is not a foreign table')
        raise UndefinedObjectError(message)
    if e.args.get("rename"):
        new = name_of(e.args["rename"])
        _check_table_name(new)
        if _relation_exists(session, new) or catalog.get_table(db, new):
            raise DuplicateObjectError(f'relation "{new}" already exists')
        # ALTER TABLE reaches the module's Rename, which renames the catalog rows.
        db.execute(f"ALTER TABLE main.{qi(table.name)} RENAME TO {qi(new)}")
        return
    fdw = _server_wrapper(session, _server(session, table.server))
    rel = f'relation "{table.name}"'
    for action in e.args.get("actions") or ():
        kind = action.args["kind"]
        if kind == "OPTIONS":
            table.options = apply_options(
                table.options, action.args.get("options"), f'foreign table "{table.name}"'
            )
            validate(db, fdw, "table", table.options, table.name)
            continue
        if kind == "ADD":
            col = _column(session, action.this, table.name)
            if table.column(col.name):
                message = f'column "{col.name}" of {rel} already exists'
                if action.args.get("exists"):
                    session.notice(message + ", skipping")
                    continue
                raise DuplicateObjectError(message)
            validate(db, fdw, "column", col.options, f"{table.name}.{col.name}")
            table.columns.append(col)
            add_checks(session, table, action.this.args.get("constraints") or [])
            continue
        if kind == "ADD_CONSTRAINT":
            add_checks(session, table, [action.this])
            continue
        if kind in ("DROP_CONSTRAINT", "VALIDATE_CONSTRAINT"):
            con_name = name_of(action.args["constraint"])
            found = next((c for c in table.constraints if c.name == con_name), None)
            if found is None:
                message = f'constraint "{con_name}" of {rel} does not exist'
                if kind == "DROP_CONSTRAINT" and action.args.get("exists"):
                    session.notice(message + ", skipping")
                    continue
                raise UndefinedObjectError(message)
            if kind == "DROP_CONSTRAINT":
                table.constraints.remove(found)
            else:
                found.validated = True  # nothing to scan: it is an assumption, as in PostgreSQL
            continue
        col_name = name_of(action.args["column"])
        column = table.column(col_name)
        if column is None:
            message = f'column "{col_name}" of {rel} does not exist'
            if kind == "DROP" and action.args.get("exists"):
                session.notice(message + ", skipping")
                continue
            raise UndefinedObjectError(message)
        if kind == "DROP":
            table.columns.remove(column)
            # as in PostgreSQL, the table's constraints on the column go with it
            table.constraints = [
                c for c in table.constraints if column.name.lower() not in _constraint_columns(c)
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
            _rename_in_checks(table, column.name, new)
            column.name = new
        elif kind == "TYPE":
            column.type = _type_sql(action.args["dtype"])
        elif kind == "SET_NOT_NULL":
            column.not_null = True
        elif kind == "DROP_NOT_NULL":
            column.not_null = False
        elif kind == "SET_DEFAULT":
            column.default = grammar.to_sql(action.args["default"])
        elif kind == "DROP_DEFAULT":
            column.default = None
        elif kind == "COLUMN_OPTIONS":
            column.options = apply_options(
                column.options,
                action.args.get("options"),
                f'column "{column.name}" of "{table.name}"',
            )
            validate(db, fdw, "column", column.options, f"{table.name}.{column.name}")
    catalog.put_table(db, table)
    rebuild_virtual_table(session, table.name)


# ------------------------------------------------------------------ import


def import_schema(session: Session, e: grammar.ImportForeignSchema) -> None:
    db = session.db
    server = _server(session, name_of(e.args["server"]))
    into = name_of(e.args["into"])
    if into.lower() not in LOCAL_SCHEMAS:
        raise UndefinedObjectError(
            f'schema "{into}" does not exist',
            hint="Foreign tables are imported into the main database (INTO main or INTO public).",
        )
    fdw = _server_wrapper(session, server)
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
        from . import types

        return _FAMILY_TYPES.get(types.family(declared), "BLOB")


def wrapper_api_error(fdw: str, server: str, err: Exception) -> SQLMedError:
    from .errors import WrapperError

    return WrapperError(f'foreign-data wrapper "{fdw}" failed for server "{server}": {err}')


# ----------------------------------------------------------------- comment


def comment(session: Session, e: grammar.MedComment) -> None:
    db = session.db
    kind = e.args["kind"]
    name = name_of(e.this)
    text = e.args.get("comment") or None  # PostgreSQL: an empty comment removes it
    if kind == "FOREIGN DATA WRAPPER":
        _wrapper(session, name)
        db.execute("UPDATE sqlmed_fdw SET comment=? WHERE name=?", (text, name))
    elif kind == "SERVER":
        _server(session, name)
        db.execute("UPDATE sqlmed_server SET comment=? WHERE name=?", (text, name))
    else:
        table = catalog.get_table(db, name)
        if table is None:
            raise UndefinedObjectError(f'foreign table "{name}" does not exist')
        if kind == "FOREIGN TABLE":
            db.execute("UPDATE sqlmed_ftable SET comment=? WHERE name=?", (text, table.name))
        else:
            col_name = name_of(e.args["column"])
            column = table.column(col_name)
            if column is None:
                raise UndefinedObjectError(
                    f'column "{col_name}" of relation "{table.name}" does not exist'
                )
            db.execute(
                "UPDATE sqlmed_fcolumn SET comment=? WHERE ftable=? AND name=?",
                (text, table.name, column.name),
            )


# -------------------------------------------------------------- extensions


def create_extension(session: Session, e: grammar.CreateExtension) -> None:
    db = session.db
    name = name_of(e.this)
    if catalog.get_extension(db, name):
        message = f'extension "{name}" already exists'
        if e.args.get("exists"):
            session.notice(message + ", skipping")
            return
        raise DuplicateObjectError(message)
    cls = wrapper_api.find_wrapper(name)
    if cls is None:
        available = ", ".join(wrapper_api.available_wrappers()) or "none"
        raise UndefinedObjectError(
            f'extension "{name}" is not available',
            hint=f"Extensions installed in this program: {available}.",
        )
    if catalog.get_wrapper(db, name):
        raise DuplicateObjectError(f'foreign-data wrapper "{name}" already exists')
    db.execute(
        "INSERT INTO sqlmed_extension(name, version) VALUES (?, ?)",
        (name, getattr(cls, "version", None)),
    )
    db.execute(
        "INSERT INTO sqlmed_fdw(name, handler, validator, extension) VALUES (?,?,?,?)",
        (name, f"{name}_handler", f"{name}_validator", name),
    )
    session.install_functions(name)


_HANDLERS = {
    grammar.CreateFdw: create_fdw,
    grammar.AlterFdw: alter_fdw,
    grammar.MedDrop: drop,
    grammar.CreateServer: create_server,
    grammar.AlterServer: alter_server,
    grammar.CreateUserMapping: create_user_mapping,
    grammar.AlterUserMapping: alter_user_mapping,
    grammar.DropUserMapping: drop_user_mapping,
    grammar.CreateForeignTable: create_table,
    grammar.AlterForeignTable: alter_table,
    grammar.ImportForeignSchema: import_schema,
    grammar.MedComment: comment,
    grammar.CreateExtension: create_extension,
}
