"""The catalog printed back as SQL/MED DDL that recreates it.

Every statement is built as a sqlglot expression and printed by
``grammar.to_sql``; names are identifier expressions, quoted whenever they
are not plain lower-case words, and values are string literals.  Comments
are one line each (``catalog.one_line``), so nothing a name holds can end one
and start a statement.

Secret options (passwords and the like, by ``catalog.is_secret``) are left
out; a comment says which were, so they can be added again by hand.  An
object whose catalog rows are damaged is left out, with its dependants, and
a comment says why.  A file whose objects squat the catalog's names is not
dumped at all (``catalog.verify``).
"""

from __future__ import annotations

from collections.abc import Iterator

import apsw

from . import catalog, grammar, syntax
from .errors import CatalogError
from .syntax import identifier

__all__ = ["dump", "statements", "identifier"]


def _name(name: str) -> str:
    return grammar.to_sql(identifier(name))


def _kept(obj: catalog.CatalogObject, secrets: set[str]) -> dict[str, str]:
    """The options of ``obj`` that are dumped: all but the secret ones."""
    return {k: v for k, v in obj.options.items() if k not in secrets}


def _secrets(obj: catalog.CatalogObject) -> set[str]:
    return {k for k in obj.options if catalog.is_secret(obj, k)}


def _note(text: str) -> str:
    """A comment line; nothing in ``text`` can end it."""
    return "-- " + catalog.one_line(text)


def _omitted(what: str, secrets: set[str]) -> Iterator[str]:
    if secrets:
        keys = ", ".join(_name(k) for k in sorted(secrets))
        yield _note(f"secret options of {what} not dumped: {keys}")


def _skipped(error: CatalogError) -> str:
    return _note(f"not dumped: {error.message}")


def _not_dumped(what: str, because: str) -> str:
    return _note(f"{what} not dumped: {because} was not dumped")


def statements(conn: apsw.Connection) -> Iterator[str]:
    """Each DDL statement of the catalog, in an order that recreates it, and
    the comments that say what was left out."""
    catalog.verify(conn)
    if not catalog.exists(conn):
        return
    extensions = set()
    for ext in catalog.scan(conn, "extension"):
        if isinstance(ext, CatalogError):
            yield _skipped(ext)
            continue
        extensions.add(ext.name)
        yield grammar.to_sql(syntax.create_extension(ext.name))
    wrappers = set()
    for w in catalog.scan(conn, "wrapper"):
        if isinstance(w, CatalogError):
            yield _skipped(w)
            continue
        label = f"foreign-data wrapper {_name(w.name)}"
        if w.extension and w.extension not in extensions:
            yield _not_dumped(label, f"its extension {_name(w.extension)}")
            continue
        wrappers.add(w.name)
        yield from _wrapper(w, label)
    servers = set()
    mappings: dict[str, list] = {}
    for um in catalog.scan(conn, "user_mapping"):
        server = um.server if isinstance(um, catalog.UserMapping) else None
        mappings.setdefault(server, []).append(um)  # type: ignore[arg-type]
    for error in mappings.pop(None, []):  # type: ignore[call-overload]
        yield _skipped(error)
    for s in catalog.scan(conn, "server"):
        if isinstance(s, CatalogError):
            yield _skipped(s)
            continue
        label = f"server {_name(s.name)}"
        if s.fdw not in wrappers:
            yield _not_dumped(label, f"its foreign-data wrapper {_name(s.fdw)}")
            continue
        servers.add(s.name)
        yield from _server(s, label)
        for um in mappings.pop(s.name, []):
            if isinstance(um, CatalogError):
                yield _skipped(um)
            else:
                yield from _mapping(um)
    for rest in mappings.values():
        for um in rest:
            if isinstance(um, CatalogError):
                yield _skipped(um)
            else:
                yield _not_dumped(_mapping_label(um), f"its server {_name(um.server)}")
    for t in catalog.scan(conn, "table"):
        if isinstance(t, CatalogError):
            yield _skipped(t)
            continue
        if t.server not in servers:
            label = f"foreign table {_name(t.name)}"
            yield _not_dumped(label, f"its server {_name(t.server)}")
            continue
        try:
            printed = list(_table(t))
        except CatalogError as err:
            yield _skipped(err)
            continue
        yield from printed


def _wrapper(w: catalog.Wrapper, label: str) -> Iterator[str]:
    secrets = _secrets(w)
    if w.extension:  # the extension creates it: only the options added since
        options = syntax.options(_kept(w, secrets), action="ADD")
        if options:
            yield grammar.to_sql(grammar.AlterFdw(this=identifier(w.name), options=options))
    else:
        tree = syntax.create_fdw(
            w.name,
            handler=w.handler or None,
            validator=w.validator or None,
            options_=_kept(w, secrets),
        )
        yield grammar.to_sql(tree)
    yield from _omitted(label, secrets)
    if w.comment:
        yield _comment("FOREIGN DATA WRAPPER", w.name, w.comment)


def _server(s: catalog.Server, label: str) -> Iterator[str]:
    secrets = _secrets(s)
    tree = syntax.create_server(
        s.name, s.fdw, type_=s.type, version=s.version, options_=_kept(s, secrets)
    )
    yield grammar.to_sql(tree)
    yield from _omitted(label, secrets)
    if s.comment:
        yield _comment("SERVER", s.name, s.comment)


def _mapping_label(um: catalog.UserMapping) -> str:
    user = "PUBLIC" if um.user == catalog.PUBLIC else _name(um.user)
    return f"user mapping for {user} on server {_name(um.server)}"


def _mapping(um: catalog.UserMapping) -> Iterator[str]:
    secrets = _secrets(um)
    public = um.user == catalog.PUBLIC
    role = syntax.user("PUBLIC" if public else um.user, keyword=public)
    yield grammar.to_sql(syntax.create_user_mapping(role, um.server, _kept(um, secrets)))
    yield from _omitted(_mapping_label(um), secrets)


def _table(t: catalog.ForeignTable) -> Iterator[str]:
    columns = [
        syntax.column(
            c.name,
            catalog.column_type(t, c),
            options_=_kept(c, _secrets(c)),
            collate=c.collation or None,
            not_null=bool(c.not_null),
            default=catalog.column_default(t, c),
        )
        for c in t.columns
    ]
    # CHECK constraints as table constraints, NOT VALID kept (as PostgreSQL keeps
    # it for a foreign table, so the script gives back the same catalog)
    constraints = [
        syntax.check(catalog.check_expression(t, k), name=k.name, not_valid=not k.validated)
        for k in t.constraints
    ]
    secrets = _secrets(t)
    tree = syntax.create_foreign_table(
        t.name, columns, t.server, _kept(t, secrets), constraints=constraints
    )
    yield grammar.to_sql(tree)
    yield from _omitted(f"foreign table {_name(t.name)}", secrets)
    for c in t.columns:
        yield from _omitted(f"column {_name(t.name)}.{_name(c.name)}", _secrets(c))
    if t.comment:
        yield _comment("FOREIGN TABLE", t.name, t.comment)
    for c in t.columns:
        if c.comment:
            yield grammar.to_sql(syntax.comment("COLUMN", t.name, c.comment, column=c.name))


def _comment(kind: str, name: str, text: str) -> str:
    return grammar.to_sql(syntax.comment(kind, name, text))


def dump(conn: apsw.Connection) -> str:
    """The whole catalog as a script of SQL/MED statements."""
    out = []
    for stmt in statements(conn):
        out.append(stmt if stmt.startswith("--") else stmt + ";")
    return "\n".join(out) + ("\n" if out else "")
