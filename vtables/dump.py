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
from sqlglot import exp

from . import catalog, grammar
from .errors import CatalogError

# Besides what grammar.quote_ident quotes (PostgreSQL's reserved words), the
# words the SQL/MED grammar reads specially where a name may stand are quoted:
# a dump must not depend on how the parser breaks such a tie.
_KEYWORDS = frozenset(
    """CURRENT_USER CURRENT_ROLE SESSION_USER USER PUBLIC IF EXISTS NO NOT NULL DEFAULT
    OPTIONS CASCADE RESTRICT HANDLER VALIDATOR""".split()
)


def identifier(name: str) -> exp.Identifier:
    """A name as an identifier expression, quoted unless it is a plain word."""
    quoted = grammar.quote_ident(name) != name or name.upper() in _KEYWORDS
    return exp.Identifier(this=name, quoted=quoted)


def _name(name: str) -> str:
    return grammar.to_sql(identifier(name))


def _options(obj: catalog.CatalogObject, secrets: set[str]) -> list[grammar.MedOption] | None:
    items = [
        grammar.MedOption(this=identifier(k), value=v)
        for k, v in obj.options.items()
        if k not in secrets
    ]
    return items or None


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
        yield grammar.to_sql(grammar.CreateExtension(this=identifier(ext.name)))
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
    if w.extension:
        options = [
            grammar.MedOption(this=identifier(k), value=v, action="ADD")
            for k, v in w.options.items()
            if k not in secrets
        ]
        if options:
            yield grammar.to_sql(grammar.AlterFdw(this=identifier(w.name), options=options))
    else:
        functions = [
            grammar.FdwFunction(this=identifier(fn), kind=kind)
            for fn, kind in ((w.handler, "HANDLER"), (w.validator, "VALIDATOR"))
            if fn
        ]
        yield grammar.to_sql(
            grammar.CreateFdw(
                this=identifier(w.name), functions=functions or None, options=_options(w, secrets)
            )
        )
    yield from _omitted(label, secrets)
    if w.comment:
        yield _comment("FOREIGN DATA WRAPPER", w.name, w.comment)


def _server(s: catalog.Server, label: str) -> Iterator[str]:
    secrets = _secrets(s)
    yield grammar.to_sql(
        grammar.CreateServer(
            this=identifier(s.name),
            type=s.type,
            version=s.version,
            wrapper=identifier(s.fdw),
            options=_options(s, secrets),
        )
    )
    yield from _omitted(label, secrets)
    if s.comment:
        yield _comment("SERVER", s.name, s.comment)


def _mapping_label(um: catalog.UserMapping) -> str:
    user = "PUBLIC" if um.user == catalog.PUBLIC else _name(um.user)
    return f"user mapping for {user} on server {_name(um.server)}"


def _mapping(um: catalog.UserMapping) -> Iterator[str]:
    secrets = _secrets(um)
    user = (
        grammar.MedUser(keyword="PUBLIC")
        if um.user == catalog.PUBLIC
        else grammar.MedUser(this=identifier(um.user))
    )
    yield grammar.to_sql(
        grammar.CreateUserMapping(
            this=user, server=identifier(um.server), options=_options(um, secrets)
        )
    )
    yield from _omitted(_mapping_label(um), secrets)


def _table(t: catalog.ForeignTable) -> Iterator[str]:
    columns = []
    for c in t.columns:
        columns.append(
            grammar.MedColumn(
                this=identifier(c.name),
                kind=catalog.column_type(t, c),
                options=_options(c, _secrets(c)),
                collate=identifier(c.collation) if c.collation else None,
                not_null=c.not_null or None,
                default=catalog.column_default(t, c),
            )
        )
    # CHECK constraints as table constraints, NOT VALID kept (as PostgreSQL keeps
    # it for a foreign table, so the script gives back the same catalog)
    constraints = [
        grammar.MedCheck(
            this=identifier(k.name),
            expression=catalog.check_expression(t, k),
            not_valid=(not k.validated) or None,
        )
        for k in t.constraints
    ]
    secrets = _secrets(t)
    yield grammar.to_sql(
        grammar.CreateForeignTable(
            this=identifier(t.name),
            columns=columns,
            server=identifier(t.server),
            options=_options(t, secrets),
            constraints=constraints or None,
        )
    )
    yield from _omitted(f"foreign table {_name(t.name)}", secrets)
    for c in t.columns:
        yield from _omitted(f"column {_name(t.name)}.{_name(c.name)}", _secrets(c))
    if t.comment:
        yield _comment("FOREIGN TABLE", t.name, t.comment)
    for c in t.columns:
        if c.comment:
            yield grammar.to_sql(
                grammar.MedComment(
                    this=identifier(t.name),
                    kind="COLUMN",
                    column=identifier(c.name),
                    comment=c.comment,
                )
            )


def _comment(kind: str, name: str, text: str) -> str:
    return grammar.to_sql(grammar.MedComment(this=identifier(name), kind=kind, comment=text))


def dump(conn: apsw.Connection) -> str:
    """The whole catalog as a script of SQL/MED statements."""
    out = []
    for stmt in statements(conn):
        out.append(stmt if stmt.startswith("--") else stmt + ";")
    return "\n".join(out) + ("\n" if out else "")
