"""The catalog printed back as SQL/MED DDL that recreates it.

Secret options (passwords and the like) are left out; a comment in the
output says which were, so they can be added again by hand.
"""

from __future__ import annotations

from collections.abc import Iterator

import apsw
from sqlglot import exp

from . import catalog, grammar
from . import wrapper as wrapper_api


def _ident(name: str) -> exp.Identifier:
    quoted = grammar.quote_ident(name) != name
    return exp.Identifier(this=name, quoted=quoted)


def _options(
    options: dict[str, str], skip: set[str] = frozenset()
) -> list[grammar.MedOption] | None:
    items = [
        grammar.MedOption(this=_ident(k), value=v) for k, v in options.items() if k not in skip
    ]
    return items or None


def _dtype(text: str) -> exp.Expr:
    tree = grammar.parse_one(f"CREATE FOREIGN TABLE t (c {text}) SERVER s")
    return tree.args["columns"][0].args["kind"]


def statements(conn: apsw.Connection) -> Iterator[str]:
    """Each DDL statement of the catalog, in an order that recreates it."""
    if not catalog.exists(conn):
        return
    for name, _version in catalog.list_extensions(conn):
        yield grammar.to_sql(grammar.CreateExtension(this=_ident(name)))
    wrappers = {w.name: w for w in catalog.list_wrappers(conn)}
    for w in wrappers.values():
        secrets = {
            k for k in w.options if wrapper_api.is_secret(w.validator, "wrapper", k, w.handler)
        }
        if w.extension:
            if w.options:
                options = [
                    grammar.MedOption(this=_ident(k), value=v, action="ADD")
                    for k, v in w.options.items()
                    if k not in secrets
                ]
                if options:
                    yield grammar.to_sql(grammar.AlterFdw(this=_ident(w.name), options=options))
        else:
            functions = [
                grammar.FdwFunction(this=_ident(fn), kind=kind) if fn else None
                for fn, kind in ((w.handler, "HANDLER"), (w.validator, "VALIDATOR"))
            ]
            yield grammar.to_sql(
                grammar.CreateFdw(
                    this=_ident(w.name),
                    functions=[f for f in functions if f] or None,
                    options=_options(w.options, secrets),
                )
            )
        yield from _omitted(f"foreign-data wrapper {w.name}", secrets)
        if w.comment:
            yield _comment("FOREIGN DATA WRAPPER", w.name, w.comment)
    for s in catalog.list_servers(conn):
        fdw = wrappers.get(s.fdw)
        validator, handler = (fdw.validator, fdw.handler) if fdw else (None, None)
        secrets = {k for k in s.options if wrapper_api.is_secret(validator, "server", k, handler)}
        yield grammar.to_sql(
            grammar.CreateServer(
                this=_ident(s.name),
                type=s.type,
                version=s.version,
                wrapper=_ident(s.fdw),
                options=_options(s.options, secrets),
            )
        )
        yield from _omitted(f"server {s.name}", secrets)
        if s.comment:
            yield _comment("SERVER", s.name, s.comment)
        for um in catalog.list_user_mappings(conn, s.name):
            secrets = {
                k
                for k in um.options
                if wrapper_api.is_secret(validator, "user_mapping", k, handler)
            }
            user = (
                grammar.MedUser(keyword="PUBLIC")
                if um.user == catalog.PUBLIC
                else grammar.MedUser(this=_ident(um.user))
            )
            yield grammar.to_sql(
                grammar.CreateUserMapping(
                    this=user, server=_ident(s.name), options=_options(um.options, secrets)
                )
            )
            yield from _omitted(f"user mapping for {um.user} on server {s.name}", secrets)
    for t in catalog.list_tables(conn):
        columns = []
        for c in t.columns:
            columns.append(
                grammar.MedColumn(
                    this=_ident(c.name),
                    kind=_dtype(c.type),
                    options=_options(c.options),
                    not_null=c.not_null or None,
                    default=_default(c.default) if c.default is not None else None,
                )
            )
        yield grammar.to_sql(
            grammar.CreateForeignTable(
                this=_ident(t.name),
                columns=columns,
                server=_ident(t.server),
                options=_options(t.options),
            )
        )
        if t.comment:
            yield _comment("FOREIGN TABLE", t.name, t.comment)
        for c in t.columns:
            if c.comment:
                yield grammar.to_sql(
                    grammar.MedComment(
                        this=_ident(t.name), kind="COLUMN", column=_ident(c.name), comment=c.comment
                    )
                )


def _default(text: str) -> exp.Expr:
    tree = grammar.parse_one(f"ALTER FOREIGN TABLE t ALTER c SET DEFAULT {text}")
    return tree.args["actions"][0].args["default"]


def _comment(kind: str, name: str, text: str) -> str:
    return grammar.to_sql(grammar.MedComment(this=_ident(name), kind=kind, comment=text))


def _omitted(what: str, secrets: set[str]) -> Iterator[str]:
    if secrets:
        yield f"-- secret options of {what} not dumped: {', '.join(sorted(secrets))}"


def dump(conn: apsw.Connection) -> str:
    """The whole catalog as a script of SQL/MED statements."""
    out = []
    for stmt in statements(conn):
        out.append(stmt if stmt.startswith("--") else stmt + ";")
    return "\n".join(out) + ("\n" if out else "")
