"""The part of a block one server can answer: its foreign tables joined there.

A block that joins local tables (or tables of other servers) to two or more
foreign tables of one server, or whose select list or clauses are not all on
the allow-list, cannot be sent whole.  Its inner joins can still be split:
the server's tables, joined under every condition that reads only them and
is on the allow-list, become one remote query (a derived table of the
columns the rest of the block reads); the local tables, the other conditions
and every clause above the join stay in SQLite, which joins them with the
remote result.  This is SQLite's own answer: for inner joins, ON and WHERE
are one conjunction, and the order of the FROM items is free.

The block is rewritten as a tree (sqlglot) and rendered back as SQLite SQL,
so the rendering is checked first: the block as written and its rendering
without any change (joins as commas, ON conditions in WHERE) must compile to
the same SQLite program (EXPLAIN), else the block is left as written.

Whether to split is decided by estimates: SQLite may instead probe the
server's tables by key for each row of the local side, which is cheaper when
the local side is small and the joined result big.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import apsw
from sqlglot import exp
from sqlglot.dialects.sqlite import SQLite

from .. import catalog, sqltext
from .blocks import Lookup, Output, Pushed, _remote_table, column_decoder
from .expressions import Expressions
from .translate import DIALECTS, NotPushable, Source, Translator, check

if TYPE_CHECKING:
    from ..session import Session

#: a remote round trip counted in rows read: a key probe costs about this many
PROBE_ROWS = 20.0
_JOIN_ARGS = frozenset({"this", "on", "kind"})
_ALLOWED = {"expressions", "from", "from_", "joins", "where", "group", "having", "order"}
_ALLOWED |= {"limit", "offset", "distinct"}
_ROWID = {"rowid", "oid", "_rowid_"}


class _SQLite(SQLite):
    """SQLite as written by hand: ``x IS NOT NULL`` and ``x NOT IN (...)``,
    which SQLite's planner reads as constraints on x (``NOT x IS NULL`` it
    does not), and ``substr``."""

    class Generator(SQLite.Generator):  # type: ignore[valid-type,misc]
        def not_sql(self, expression: exp.Not) -> str:
            inner = expression.this
            if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
                return f"{self.sql(inner, 'this')} IS NOT NULL"
            if isinstance(inner, exp.In) and not any(
                inner.args.get(k) for k in ("query", "unnest", "field")
            ):
                return f"{self.sql(inner, 'this')} NOT IN ({self.expressions(inner, flat=True)})"
            return super().not_sql(expression)

        def substring_sql(self, expression: exp.Substring) -> str:
            args = (expression.args.get(k) for k in ("start", "length"))
            return self.func("substr", expression.this, *args)


@dataclass
class Split:
    """A block with its server's tables read from one remote query."""

    pushed: Pushed
    #: the block as SQLite runs it: ``placeholder`` stands for the remote
    #: query's derived table, to be replaced by its call
    text: str
    placeholder: str
    #: the block's text as written, rendered the same way (checked against it)
    normal: str
    #: the remote query as SQLite runs it over the foreign tables (its fallback)
    fallback: str
    #: the local tables, each with how much the block's own conditions on it
    #: alone keep of its rows (a guess, as the wrappers' estimates guess)
    local: dict[str, float] = field(default_factory=dict)
    #: the statement's parameters (serial names) the remote query reads
    args: list[str] = field(default_factory=list)


@dataclass
class _Item:
    node: exp.Table
    alias: str
    columns: set[str]
    foreign: tuple[catalog.ForeignTable, Any] | None


class _Columns:
    """What the block's column references name: (alias, column) or None."""

    def __init__(self, items: list[_Item], select: exp.Select):
        self.items = {i.alias: i for i in items}
        self.names = {
            (e.alias or "").lower() for e in select.expressions if isinstance(e, exp.Alias)
        }

    def of(self, node: exp.Column) -> tuple[str, str] | None:
        if isinstance(node.this, exp.Star) or node.args.get("db") or node.args.get("catalog"):
            raise NotPushable(f"the reference {node.sql()}")
        name = node.name.lower()
        if node.table:
            item = self.items.get(node.table.lower())
            if item is None or (name not in item.columns and name not in _ROWID):
                raise NotPushable(f'"{node.sql()}" names no column of the block')
            return item.alias, name
        found = [i.alias for i in self.items.values() if name in i.columns]
        if len(found) == 1:
            return found[0], name
        if not found and name in self.names:
            return None  # a result column's name (ORDER BY, GROUP BY, HAVING)
        raise NotPushable(f'the column "{node.name}" is not one column of the block')


def _conjuncts(node: exp.Expression | None) -> list[exp.Expression]:
    if node is None:
        return []
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    if isinstance(node, exp.Paren) and isinstance(node.this, exp.And):
        return _conjuncts(node.this)
    return [node]


def _and(nodes: list[exp.Expression]) -> exp.Expression | None:
    if not nodes:
        return None
    out = exp.Paren(this=nodes[0].copy())
    for node in nodes[1:]:
        out = exp.And(this=out, expression=exp.Paren(this=node.copy()))  # type: ignore[assignment]
    return out


def _items(
    select: exp.Select, lookup: Lookup, columns_of: Callable[[str], set[str] | None]
) -> list[_Item]:
    extra = {k for k, v in select.args.items() if v not in (None, [], False)} - _ALLOWED
    if extra:
        raise NotPushable(f"the clause {sorted(extra)[0]}")
    if any(n is not select for n in select.find_all(exp.Select, exp.Subquery)):
        raise NotPushable("a subquery in a split block")
    if any(
        isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
        for e in select.expressions
    ):
        raise NotPushable("a star in a split block")
    from_ = select.args.get("from_") or select.args.get("from")
    if from_ is None:
        raise NotPushable("no FROM")
    nodes = [from_.this]
    for join in select.args.get("joins") or []:
        check(join, _JOIN_ARGS)
        if (join.args.get("kind") or "").upper() not in ("", "INNER", "CROSS"):  # a comma is CROSS
            raise NotPushable(f"the join {join.sql(dialect='sqlite')}")
        nodes.append(join.this)
    items: list[_Item] = []
    for node in nodes:
        if not isinstance(node, exp.Table):
            raise NotPushable("a source that is not a table")
        check(node, frozenset({"this", "db", "alias"}))
        alias_node = node.args.get("alias")
        if alias_node is not None:
            check(alias_node, frozenset({"this"}))
        if node.args.get("db") and node.db.lower() != "main":
            raise NotPushable("a table of another schema")
        found = lookup(node.name)
        if found is not None:
            cols = {c.name.lower() for c in found[0].columns}
        else:
            local = columns_of(node.name)
            if local is None:
                raise NotPushable(f'"{node.name}" has no columns SQLite can list')
            cols = local
        alias = (node.alias or node.name).lower()
        if any(i.alias == alias for i in items):
            raise NotPushable(f'the name "{alias}" twice')
        items.append(_Item(node, alias, cols, found))
    return items


def _group(items: list[_Item]) -> list[_Item]:
    """The largest set of two or more foreign tables of one server."""
    groups: dict[tuple[str, str], list[_Item]] = {}
    for item in items:
        if item.foreign is not None:
            remote = item.foreign[1]
            if remote.dialect in DIALECTS:
                groups.setdefault((remote.dialect, remote.key()), []).append(item)
    best = max(groups.values(), key=len, default=[])
    if len(best) < 2:
        raise NotPushable("no two tables of one server")
    return best


def split(
    select: exp.Select, lookup: Lookup, columns_of: Callable[[str], set[str] | None]
) -> Split:
    """The block with its largest group of one server's tables pushed, or
    NotPushable.  ``Split.args`` names the statement's parameters the remote
    query reads, in the order of the query table's arguments."""
    used: list[str] = []

    def args(serial: str) -> int:
        if serial not in used:
            used.append(serial)
        return used.index(serial)

    items = _items(select, lookup, columns_of)
    group = _group(items)
    names = {i.alias for i in group}
    cols = _Columns(items, select)
    if cols.names & {c for i in items for c in i.columns}:
        # ORDER BY x means the result column x first, elsewhere the table's
        raise NotPushable("a result column named as a column of the block")
    sources = {
        i.alias: Source(
            f"t{n}", i.foreign[0], i.foreign[1], {c.name.lower(): c for c in i.foreign[0].columns}
        )
        for n, i in enumerate(group)
        if i.foreign is not None
    }
    remote = group[0].foreign[1]  # type: ignore[index]
    tr = Expressions(DIALECTS[remote.dialect], sources, args)
    where = select.args.get("where")
    terms = _conjuncts(where.this if where is not None else None)
    for join in select.args.get("joins") or []:
        terms += _conjuncts(join.args.get("on"))
    pushed_terms, remote_terms, local_terms = [], [], []
    for term in terms:
        refs = {cols.of(c) for c in term.find_all(exp.Column)}
        if refs and None not in refs and {r[0] for r in refs if r} <= names:
            values, serials = len(tr.params), len(used)
            try:
                remote_terms.append(tr.predicate(term))
                pushed_terms.append(term)
                continue
            except NotPushable:  # what it bound before it failed is not sent
                del tr.params[values:], used[serials:]
        local_terms.append(term)
    kept = {i.node.name: 1.0 for i in items if i.alias not in names}
    by_alias = {i.alias: i.node.name for i in items}
    for term in local_terms:
        aliases = {r[0] for r in (cols.of(c) for c in term.find_all(exp.Column)) if r}
        if len(aliases) == 1 and not aliases & names:
            keyed = isinstance(term, (exp.EQ, exp.In, exp.Is))
            kept[by_alias[aliases.pop()]] *= 0.1 if keyed else 1 / 3
    pushed_ids = {id(n) for t in pushed_terms for n in t.find_all(exp.Column)}
    wanted: list[tuple[str, str]] = []
    for node in select.find_all(exp.Column):
        ref = cols.of(node)
        if ref is not None and ref[0] in names and id(node) not in pushed_ids:
            if ref[1] in _ROWID:
                raise NotPushable("the rowid of a joined foreign table")
            if ref not in wanted:
                wanted.append(ref)
    found = _build(
        select, items, group, sources, tr, wanted, remote_terms, pushed_terms, local_terms, cols
    )
    found.local, found.args = kept, used
    return found


def _build(
    select: exp.Select,
    items: list[_Item],
    group: list[_Item],
    sources: dict[str, Source],
    tr: Translator,
    wanted: list[tuple[str, str]],
    remote_terms: list[exp.Expression],
    pushed_terms: list[exp.Expression],
    local_terms: list[exp.Expression],
    cols: _Columns,
) -> Split:
    names = {i.alias for i in group}
    query = exp.Select()
    exprs, outputs = [], []
    for n, (alias, name) in enumerate(wanted):
        typed = tr.column(exp.column(name, table=alias))
        col = sources[alias].columns[name]
        exprs.append(typed.expr)
        outputs.append(Output(f"c{n}", col.type, (n,), column_decoder(col.type)))
    if not exprs:  # only the number of rows matters
        exprs.append(exp.Literal.number(1))
        outputs.append(Output("c0", "", (0,), column_decoder("")))
    query.set("expressions", exprs)
    tables = [_remote_table(sources[i.alias]) for i in group]
    query.set("from_", exp.From(this=tables[0]))
    query.set("joins", [exp.Join(this=t) for t in tables[1:]])
    if remote_terms:
        query.set("where", exp.Where(this=_and(remote_terms)))
    first = group[0].foreign
    assert first is not None
    tables_read = [s.table.name for s in sources.values()]
    pushed = Pushed(first[1], query, tr.params, outputs, tables_read, guarded=tr.guarded)
    placeholder, galias = "sqlmed_split", "sqlmed_split_g"
    if any(i.alias in (placeholder, galias) or i.node.name.lower() == galias for i in items):
        raise NotPushable(f'a table named "{galias}"')
    ref = {(a, c): n for n, (a, c) in enumerate(wanted)}

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            found = cols.of(node)
            if found is not None and found[0] in names:
                return exp.column(f"c{ref[found]}", table=galias, quoted=True)
        return node

    kept = [i.node.copy() for i in items if i.alias not in names]
    derived = exp.Table(
        this=exp.to_identifier(placeholder, quoted=True),
        alias=exp.TableAlias(this=exp.to_identifier(galias, quoted=True)),
    )
    text = _render(select, kept + [derived], local_terms, swap)
    normal = _render(select, [i.node.copy() for i in items], pushed_terms + local_terms, None)
    fallback = exp.Select(
        expressions=[exp.column(c, table=a) for a, c in wanted] or [exp.Literal.number(1)]
    )
    fallback.set("from_", exp.From(this=group[0].node.copy()))
    fallback.set("joins", [exp.Join(this=i.node.copy()) for i in group[1:]])
    if pushed_terms:
        fallback.set("where", exp.Where(this=_and(pushed_terms)))
    return Split(pushed, text, placeholder, normal, fallback.sql(dialect=_SQLite))


def _render(
    select: exp.Select,
    froms: Sequence[exp.Expression],
    terms: list[exp.Expression],
    swap: Callable[[exp.Expression], exp.Expression] | None,
) -> str:
    """The block with these FROM items (joined by commas) and conditions."""
    out = select.copy()
    out.set("from_", exp.From(this=froms[0]))
    out.set("joins", [exp.Join(this=f) for f in froms[1:]] or None)
    where = _and(terms)
    out.set("where", exp.Where(this=where) if where is not None else None)
    if swap is not None:
        for key in ("expressions", "where", "group", "having", "order", "limit", "offset"):
            value = out.args.get(key)
            if isinstance(value, list):
                out.set(key, [v.transform(swap) for v in value])
            elif value is not None:
                out.set(key, value.transform(swap))
    return out.sql(dialect=_SQLite)


def same_program(db: apsw.Connection, written: str, rendered: str) -> bool:
    """Whether SQLite compiles both texts to the same program (EXPLAIN: each
    is prepared and listed, never run)."""

    def program(text: str) -> list[tuple]:
        rows = apsw.Cursor(db).execute("EXPLAIN " + text, apsw._null_bindings)  # type: ignore[attr-defined]
        out = []
        for _addr, opcode, p1, p2, p3, p4, p5, *_comment in rows:
            if opcode == "Init" or (isinstance(p4, str) and p4.startswith("vtab:")):
                p4 = None  # the text itself; the address of a table's object
            out.append((opcode, p1, p2, p3, p4, p5))
        return out

    try:
        return program(written) == program(rendered)
    except apsw.Error:
        return False


def local_columns(db: apsw.Connection, name: str) -> set[str] | None:
    """The columns of a table or view of the main schema, None if there is none."""
    rows = apsw.Cursor(db).execute("SELECT name FROM main.pragma_table_xinfo(?)", (name,))
    found = {str(r[0]).lower() for r in rows}
    return found or None


def local_rows(session: Session, name: str) -> float | None:
    """How many rows a table holds: a local one its count, a foreign one its
    wrapper's estimate; None for a view."""
    db = session.db
    table = catalog.get_table(db, name)
    if table is not None:
        wrapper, _columns = session.wrapper_for(table.name)
        return wrapper.estimate([], [c.name for c in table.columns])[0]
    kind = db.execute(
        "SELECT type FROM main.sqlite_master WHERE name = ? COLLATE NOCASE", (name,)
    ).fetchone()
    if kind is None or kind[0] != "table":
        return None
    row = db.execute(f"SELECT count(*) FROM main.{sqltext.quote_name(name)}").fetchone()
    return float(row[0]) if row else None
