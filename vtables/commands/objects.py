"""Wrappers, servers, user mappings and extensions: CREATE, ALTER, DROP, COMMENT."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .. import catalog, grammar
from .. import wrapper as wrapper_api
from ..errors import (
    DependentObjectsError,
    DuplicateObjectError,
    SQLMedError,
    UndefinedObjectError,
)
from .base import (
    apply_options,
    function_class,
    name_of,
    qi,
    relation_exists,
    resolve_user,
    server_named,
    server_wrapper,
    skip_or_raise,
    validate,
    wrapper_named,
)

if TYPE_CHECKING:
    from ..session import Session

logger = logging.getLogger(__name__)


# -------------------------------------------------------------- wrappers


def create_fdw(session: Session, e: grammar.CreateFdw) -> None:
    db = session.db
    name = name_of(e.this)
    if catalog.get_wrapper(db, name):
        raise DuplicateObjectError(f'foreign-data wrapper "{name}" already exists')
    handler, validator = _functions(e.args.get("functions"), None, None)
    fdw = catalog.Wrapper(name, handler, validator, {}, None, None)
    fdw.options = apply_options({}, e.args.get("options"), f'foreign-data wrapper "{name}"')
    validate(fdw, "wrapper", fdw.options, name)
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
            function_class(value, kind.lower())
        if kind == "HANDLER":
            handler = value
        else:
            validator = value
    return handler, validator


def alter_fdw(session: Session, e: grammar.AlterFdw) -> None:
    db = session.db
    fdw = wrapper_named(session, name_of(e.this))
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
        validate(fdw, "wrapper", fdw.options, fdw.name)
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
    if relation_exists(session, name):
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
            if found is None and relation_exists(session, name):
                raise SQLMedError(
                    f'"{name}" is not a foreign table',
                    hint="Use DROP TABLE or DROP VIEW to remove it.",
                )
        else:
            found = catalog.get_extension(db, name)
        if not found:
            skip_or_raise(
                session,
                UndefinedObjectError,
                f'{"relation" if kind == "FOREIGN TABLE" else label} "{name}" does not exist',
                e.args.get("exists"),
            )
            continue
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
        skip_or_raise(
            session, DuplicateObjectError, f'server "{name}" already exists', e.args.get("exists")
        )
        return
    fdw = wrapper_named(session, name_of(e.args["wrapper"]))
    options = apply_options({}, e.args.get("options"), f'server "{name}"')
    validate(fdw, "server", options, name)
    db.execute(
        "INSERT INTO sqlmed_server(name, fdw, type, version, options) VALUES (?,?,?,?,?)",
        (name, fdw.name, e.args.get("type"), e.args.get("version"), catalog.dump_options(options)),
    )


def alter_server(session: Session, e: grammar.AlterServer) -> None:
    db = session.db
    server = server_named(session, name_of(e.this))
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
        validate(server_wrapper(session, server), "server", server.options, server.name)
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
    server = server_named(session, name_of(e.args["server"]))
    if catalog.get_user_mapping(db, user, server.name):
        skip_or_raise(
            session,
            DuplicateObjectError,
            f'user mapping for "{user}" already exists for server "{server.name}"',
            e.args.get("exists"),
        )
        return
    options = apply_options({}, e.args.get("options"), _mapping_label(user, server.name))
    validate(server_wrapper(session, server), "user_mapping", options, "")
    db.execute(
        "INSERT INTO sqlmed_user_mapping(umuser, server, options) VALUES (?,?,?)",
        (user, server.name, catalog.dump_options(options)),
    )


def alter_user_mapping(session: Session, e: grammar.AlterUserMapping) -> None:
    db = session.db
    user = resolve_user(session, e.this)
    server = server_named(session, name_of(e.args["server"]))
    um = catalog.get_user_mapping(db, user, server.name)
    if um is None:
        raise UndefinedObjectError(
            f'user mapping for "{user}" does not exist for server "{server.name}"'
        )
    options = apply_options(um.options, e.args["options"], _mapping_label(user, server.name))
    validate(server_wrapper(session, server), "user_mapping", options, "")
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
        skip_or_raise(
            session,
            UndefinedObjectError,
            f'user mapping for "{user}" does not exist for server "{server_name}"',
            e.args.get("exists"),
        )
        return
    db.execute("DELETE FROM sqlmed_user_mapping WHERE umuser=? AND server=?", (user, server_name))
    session.close_server(server_name)


# ----------------------------------------------------------------- comment


def comment(session: Session, e: grammar.MedComment) -> None:
    db = session.db
    kind = e.args["kind"]
    name = name_of(e.this)
    text = e.args.get("comment") or None  # PostgreSQL: an empty comment removes it
    if kind == "FOREIGN DATA WRAPPER":
        wrapper_named(session, name)
        db.execute("UPDATE sqlmed_fdw SET comment=? WHERE name=?", (text, name))
    elif kind == "SERVER":
        server_named(session, name)
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
        skip_or_raise(
            session,
            DuplicateObjectError,
            f'extension "{name}" already exists',
            e.args.get("exists"),
        )
        return
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
