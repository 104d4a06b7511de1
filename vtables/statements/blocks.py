"""One query block (a SELECT) over one server's tables, as one remote query.

``push`` takes a parsed SELECT and either raises ``NotPushable`` or returns
the ``Pushed`` query: the remote SELECT (a sqlglot tree in the remote's
dialect), its parameters, and the columns SQLite gets back with how each is
decoded into what SQLite would have computed (``avg`` from a remote sum and
count, ``sum`` and ``total`` checked against SQLite's integer overflow, an
expression's value as SQLite's storage class for its family).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlglot import exp

from .. import catalog, types
from ..remotesql import RemoteSQL
from .expressions import Expressions
from .translate import (
    DIALECTS,
    FAMILIES,
    INT64_MAX,
    INT64_MIN,
    Nested,
    NotPushable,
    Param,
    Source,
    Translator,
    Typed,
    aggregates_in,
    check,
    spelled,
)

#: what finds a foreign table's RemoteSQL: None when the name is no foreign
#: table of a SQL source (a local table, a CTE, another wrapper's table)
Lookup = Callable[[str], "tuple[catalog.ForeignTable, RemoteSQL] | None"]


@dataclass
class Output:
    """One column of the pushed query's result as SQLite gets it."""

    name: str
    decltype: str
    #: positions in the remote row it is computed from
    at: tuple[int, ...]
    decode: Callable[..., Any]


@dataclass
class Pushed:
    """A block sent as one remote query."""

    remote: RemoteSQL
    query: exp.Select
    params: list[Param]
    outputs: list[Output]
    tables: list[str]
    #: the remote query's text, in the remote's dialect
    text: str = ""
    #: it has sums, which may depend on the order SQLite reads rows in
    sums: bool = False
    #: it returns few rows: an aggregate without GROUP BY, or a LIMIT
    small: bool = False
    #: a query the user wrote (sqlmed_query): run read-only, as it is
    readonly: bool = False
    #: the rows the source expects it to return, when it could tell
    rows: float | None = None
    #: the remote may stop it with an overflow where SQLite goes on in floating
    #: point (integer arithmetic): read whole before any row is handed over,
    #: run so that the remote's error leaves its transaction usable, and on
    #: that error run the block in SQLite (``RemoteSQL.overflowed``)
    guarded: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    #: ORDER BY / LIMIT / OFFSET that SQLite applies to the rows (a wrapper's aggregates)
    tail: str = ""


_TABLE_ARGS = frozenset({"this", "db", "alias"})
_ALLOWED_ARGS = {
    "expressions",
    "from",
    "from_",
    "joins",
    "where",
    "group",
    "having",
    "order",
    "limit",
    "offset",
    "distinct",
    "kind",
}


def _as_is(convert: Callable[[Any], Any], natives: tuple[type, ...]) -> Callable[[Any], Any]:
    def decode(value: Any) -> Any:
        if value is None or type(value) in natives:
            return value
        return convert(value)

    return decode


def _count(value: Any) -> int:
    return int(value)


class OrderDependent(Exception):
    """SQLite's running sum may leave 64 bits, depending on the order it reads
    rows in: only SQLite itself can say what it returns (the block runs there)."""


def _running(positive: Any, negative: Any) -> None:
    if int(positive or 0) > INT64_MAX or int(negative or 0) < INT64_MIN:
        raise OrderDependent


def _exact(*sums: Any) -> None:
    """A SQLite remote's sum of an expression that left 64 bits (a REAL):
    SQLite's own sum of those values depends on the order it reads them."""
    if any(type(v) is float for v in sums):
        raise OrderDependent


def _sum(value: Any, positive: Any, negative: Any) -> Any:
    _exact(value, positive, negative)
    if value is None:
        return None
    _running(positive, negative)
    return int(value)


def _avg(total: Any, count: Any, positive: Any, negative: Any) -> Any:
    _exact(total, positive, negative)
    if total is None or not count:
        return None
    _running(positive, negative)
    return float(int(total)) / float(int(count))


def _total(value: Any, positive: Any, negative: Any) -> Any:
    """SQLite's total() of integers: the float of their exact sum while its
    running sum stays in 64 bits (0.0 over no values)."""
    _exact(value, positive, negative)
    if value is None:
        return 0.0
    _running(positive, negative)
    return float(int(value))


def _signed_sums(column: exp.Expression) -> list[exp.Expression]:
    """The sums of a column's positive and of its negative values: when both
    stay within 64 bits, no running sum leaves them, in any order."""
    zero = exp.Literal.number(0)
    if not isinstance(column, (exp.Column, exp.Paren)):
        column = exp.Paren(this=column)
    return [
        exp.Sum(
            this=exp.Case(
                ifs=[exp.If(this=test(this=column.copy(), expression=zero), true=column.copy())]
            )
        )
        for test in (exp.GT, exp.LT)
    ]


def column_decoder(decltype: str) -> Callable[[Any], Any]:
    return _as_is(types.converter(decltype), types.native_types(decltype))


#: an expression's value by its family: SQLite's integer arithmetic may give a
#: REAL (on SQLite remotes: the others raise), a REAL expression an integer
#: (the scalar max of a REAL and an integer)
_EXPRESSION_DECODERS: dict[str, Callable[[Any], Any]] = {
    "integer": _as_is(int, (int, float)),
    "real": _as_is(float, (float, int)),
    "text": _as_is(str, (str,)),
    "date": column_decoder("date"),
    "timestamp": column_decoder("timestamp"),
    "boolean": column_decoder("boolean"),
}


class Block:
    """The analysis of one SELECT."""

    def __init__(
        self,
        select: exp.Select,
        lookup: Lookup,
        args: Callable[[str], int],
        text: str | None = None,
        outer: Translator | None = None,
    ):
        self.select = select
        self.lookup = lookup
        self.args = args
        #: the block's SQLite text, when the caller has it (CAST's type names)
        self.text = text
        #: the translator of the block this one is a subquery of
        self.outer = outer
        #: how the remote query names its tables ("t0", "t1"; a subquery's differ)
        self.prefix = "t"
        #: the subqueries translated so far (their remote aliases differ)
        self.subqueries = 0
        #: the subquery of an EXISTS: its select list is not read
        self.exists = False

    def sources(self) -> tuple[dict[str, Source], list[exp.Join]]:
        select = self.select
        extra = {k for k, v in select.args.items() if v not in (None, [], False)} - _ALLOWED_ARGS
        if extra:
            raise NotPushable(f"the clause {sorted(extra)[0]}")
        if select.args.get("kind"):
            raise NotPushable("SELECT AS")
        distinct = select.args.get("distinct")
        if distinct is not None:
            check(distinct, frozenset())  # no DISTINCT ON
        from_ = select.args.get("from_") or select.args.get("from")
        if from_ is None:
            raise NotPushable("no FROM")
        check(from_, frozenset({"this"}))
        for clause in ("where", "having"):
            if select.args.get(clause) is not None:
                check(select.args[clause], frozenset({"this"}))
        joins = list(select.args.get("joins") or [])
        nodes = [from_.this] + [j.this for j in joins]
        sources: dict[str, Source] = {}
        key = None
        for i, node in enumerate(nodes):
            if not isinstance(node, exp.Table):
                raise NotPushable("a source that is not a table")
            check(node, _TABLE_ARGS)
            alias_node = node.args.get("alias")
            if alias_node is not None:
                check(alias_node, frozenset({"this"}))  # no column aliases
            if node.args.get("db") and node.db.lower() != "main" or node.args.get("catalog"):
                raise NotPushable("a table of another schema")
            if any(node.args.get(k) for k in ("laterals", "pivots", "hints", "version", "sample")):
                raise NotPushable("a table with hints")
            found = self.lookup(node.name)
            if found is None:
                raise NotPushable(f'"{node.name}" is not a foreign table of a SQL server')
            table, remote = found
            if remote.dialect not in DIALECTS:
                raise NotPushable(f"the dialect {remote.dialect} is not known")
            if key is None:
                key = (remote.dialect, remote.key())
            elif key != (remote.dialect, remote.key()):
                raise NotPushable("tables of several servers")
            alias = (node.alias or node.name).lower()
            if alias in sources:
                raise NotPushable(f'the name "{alias}" twice')
            columns = {c.name.lower(): c for c in table.columns}
            sources[alias] = Source(f"{self.prefix}{i}", table, remote, columns)
        if self.outer is not None:
            mine = next(iter(self.outer.sources.values())).remote
            if key != (mine.dialect, mine.key()):
                raise NotPushable("a subquery on another server")
        return sources, joins

    def _translator(self, sources: dict[str, Source]) -> Translator:
        first = next(iter(sources.values()))
        outer = self.outer
        if outer is None:
            tr = Expressions(DIALECTS[first.remote.dialect], sources, self.args)
        else:  # the enclosing block's names are seen where this one's are not
            tr = Expressions(outer.dialect, {**outer.sources, **sources}, self.args)
            tr.params, tr.sums = outer.params, False
            tr.outer_aliases = frozenset(outer.sources) - frozenset(sources)
        tr.text = self.text
        tr.nested = self.nested
        self.tr = tr
        return tr

    def nested(self, select: exp.Select, outer: Translator, exists: bool) -> Nested:
        """A subquery of this block, for the same server (``Translator.nested``)."""
        for clause in ("order", "limit", "offset"):
            if select.args.get(clause) is not None:
                raise NotPushable(f"{clause.upper()} in a subquery")
        if exists and (
            select.args.get("group") is not None
            or select.args.get("having") is not None
            or any(aggregates_in(item) for item in select.expressions)
        ):  # an aggregate without GROUP BY is one row, always
            raise NotPushable("EXISTS of an aggregate")
        self.subqueries += 1
        inner = Block(select, self.lookup, self.args, self.text, outer=outer)
        inner.prefix = f"{self.prefix}q{self.subqueries}_"
        inner.exists = exists  # what it selects does not matter
        pushed = inner.push()
        if exists:
            pushed.query.set("expressions", [exp.Literal.number(1)])
        outer.guarded = outer.guarded or pushed.guarded
        reads = frozenset(inner.tr.outer_reads)
        outer.outer_reads |= {r for r in reads if r[0] in outer.outer_aliases}
        one_row = inner.grouped and select.args.get("group") is None
        return Nested(pushed.query, inner.by_position, one_row, reads)

    def push(self) -> Pushed:
        sources, joins = self.sources()
        first = next(iter(sources.values()))
        tr = self._translator(sources)
        select = self.select
        query = exp.Select()
        tables = list(sources.values())
        query.set("from_", exp.From(this=_remote_table(tables[0])))
        remote_joins = []
        for join, source in zip(joins, tables[1:], strict=True):
            remote_joins.append(self._join(tr, join, source))
        if remote_joins:
            query.set("joins", remote_joins)
        where = select.args.get("where")
        if where is not None:
            query.set("where", exp.Where(this=tr.predicate(where.this)))
        outputs, grouped = self._outputs(tr, query, sources)
        self.grouped = grouped
        alone = self.outer is None and not self.subqueries
        if alone and len(sources) == 1 and not grouped and select.args.get("distinct") is None:
            # quals, sorts and limits of one table: its scan pushes them down alone
            raise NotPushable("one table's scan")
        tr.sums = False
        having = select.args.get("having")
        if having is not None:
            if not grouped:
                raise NotPushable("HAVING without aggregates")
            if not tr.bare(having.this) <= self.keys:
                raise NotPushable("HAVING reads a column that is not grouped")
            query.set("having", exp.Having(this=tr.predicate(having.this)))
        if select.args.get("distinct") is not None:
            if grouped:
                raise NotPushable("DISTINCT with aggregates")
            query.set("distinct", exp.Distinct())
            # ORDER BY must name what is selected: text as it is ordered (collated)
            query.set("expressions", [tr.collated(t) for t in self.by_position])
        self._order(tr, query, grouped)
        self._limits(tr, query)
        return Pushed(
            remote=first.remote,
            query=query,
            params=tr.params,
            outputs=outputs,
            tables=[s.table.name for s in tables],
            sums=any(o.decode in (_sum, _avg, _total) for o in outputs),
            small=(grouped and select.args.get("group") is None)
            or query.args.get("limit") is not None,
            guarded=tr.guarded,
        )

    def _join(self, tr: Translator, join: exp.Join, source: Source) -> exp.Join:
        check(join, frozenset({"this", "on", "kind", "side"}))
        kind = (join.args.get("kind") or "").upper()
        side = (join.args.get("side") or "").upper()
        if join.args.get("using") or join.args.get("method") or kind not in ("", "INNER", "CROSS"):
            raise NotPushable(f"the join {join.sql(dialect='sqlite')}")
        if side not in ("", "LEFT"):
            raise NotPushable(f"a {side} JOIN")
        on = join.args.get("on")
        remote = exp.Join(this=_remote_table(source))
        if side:
            remote.set("side", side)
        if on is not None:
            remote.set("on", tr.predicate(on))
        elif side:
            raise NotPushable("a LEFT JOIN without ON")
        elif kind != "CROSS":
            remote.set("kind", "CROSS")
        if kind == "CROSS":
            remote.set("kind", "CROSS")
        return remote

    def _items(self, sources: dict[str, Source]) -> list[tuple[str | None, exp.Expression]]:
        items: list[tuple[str | None, exp.Expression]] = []
        for node in self.select.expressions:
            if isinstance(node, exp.Star) or (
                isinstance(node, exp.Column) and isinstance(node.this, exp.Star)
            ):
                wanted = node.table.lower() if isinstance(node, exp.Column) and node.table else None
                if wanted is not None and wanted not in sources:
                    raise NotPushable(f"{node.sql()} names no table of the block")
                for alias, source in sources.items():
                    if wanted is None or wanted == alias:
                        for col in source.table.columns:
                            ref = exp.column(col.name, table=alias, quoted=True)
                            items.append((col.name, ref))
                continue
            if isinstance(node, exp.Alias):
                check(node, frozenset({"this", "alias"}))
                items.append((node.alias, node.this))
            else:
                items.append((None, node))
        return items

    def _outputs(
        self, tr: Translator, query: exp.Select, sources: dict[str, Source]
    ) -> tuple[list[Output], bool]:
        group = self.select.args.get("group")
        #: the columns a grouped block may read outside aggregates
        self.keys: set[tuple[str, str]] = set()
        if group is not None:
            check(group, frozenset({"expressions"}))  # no GROUPING SETS, CUBE, ROLLUP
            query.set("group", exp.Group(expressions=[self._key(tr, n) for n in group.expressions]))
        items = [] if self.exists else self._items(sources)
        typed_items = [(name, node, tr.scalar(node)) for name, node in items]
        grouped = group is not None or any(t.aggregate for _n, _x, t in typed_items)
        outputs: list[Output] = []
        remote_exprs: list[exp.Expression] = []
        self.named: dict[str, Typed] = {}
        self.by_position: list[Typed] = []
        #: the select items by their SQLite text (ORDER BY the same expression)
        self.by_text: dict[str, Typed] = {}
        for name, node, typed in typed_items:
            if typed.column is not None and typed.column[0] not in sources:
                raise NotPushable("a subquery's item of the enclosing block's column")
            if grouped and not typed.columns <= self.keys:
                raise NotPushable("a column neither grouped nor aggregated")
            label = name or _default_name(node, typed, sources)
            if name:  # ORDER BY a name given twice means the first (as SQLite resolves it)
                self.named.setdefault(name.lower(), typed)
            self.by_text.setdefault(spelled(node), typed)
            self.by_position.append(typed)
            outputs.append(self._output(node, typed, label, remote_exprs, sources))
        query.set("expressions", remote_exprs)
        return outputs, grouped

    def _key(self, tr: Translator, node: exp.Expression) -> exp.Expression:
        """A GROUP BY key, as sent; the select list, HAVING and ORDER BY then
        send the same remote expression for the same text."""
        if isinstance(node, exp.Literal):
            raise NotPushable("GROUP BY a constant or a position")
        typed = tr.value(node)
        if typed.aggregate or typed.family not in FAMILIES:
            raise NotPushable(f"GROUP BY {node.sql(dialect='sqlite')}")
        if typed.column is not None:
            self.keys.add(typed.column)
        tr.keys.setdefault(spelled(node), replace(typed, columns=frozenset()))
        return typed.expr

    def _output(
        self,
        node: exp.Expression,
        typed: Typed,
        label: str,
        remote_exprs: list[exp.Expression],
        sources: dict[str, Source],
    ) -> Output:
        at = len(remote_exprs)
        while isinstance(node, exp.Paren):
            node = node.this
        if typed.family not in FAMILIES:
            raise NotPushable("a value of no known type")
        if typed.summed is not None:
            assert typed.inner is not None
            inner = typed.inner
            signed = _signed_sums(inner)
            if typed.summed == "avg":
                remote_exprs.extend([exp.Sum(this=inner.copy()), exp.Count(this=inner.copy())])
                remote_exprs.extend(signed)
                return Output(label, "", (at, at + 1, at + 2, at + 3), _avg)
            remote_exprs.extend([exp.Sum(this=inner.copy()), *signed])
            return Output(
                label, "", (at, at + 1, at + 2), _sum if typed.summed == "sum" else _total
            )
        remote_exprs.append(typed.expr)
        if typed.aggregate and isinstance(node, exp.Count):
            return Output(label, "", (at,), _count)
        if typed.column is None:  # an expression: no declared type in SQLite
            return Output(label, "", (at,), _EXPRESSION_DECODERS[typed.family])
        col = sources[typed.column[0]].columns[typed.column[1].lower()]
        decltype = "" if typed.aggregate else col.type
        return Output(label, decltype, (at,), column_decoder(col.type))

    def _order(self, tr: Translator, query: exp.Select, grouped: bool) -> None:
        order = self.select.args.get("order")
        if order is None:
            return
        keys = []
        for item in order.expressions:
            if not isinstance(item, exp.Ordered):
                raise NotPushable("an ORDER BY item")
            check(item, frozenset({"this", "desc", "nulls_first"}))
            typed = self._order_key(tr, item.this)
            if typed.summed in ("avg", "total"):
                # SQLite orders their floats: ties where the remote's exact values differ
                raise NotPushable(f"ORDER BY {typed.summed}")
            if grouped and not typed.columns <= self.keys:
                raise NotPushable("ORDER BY a column neither grouped nor aggregated")
            if typed.aggregate and not grouped:
                raise NotPushable("ORDER BY an aggregate of a block that is not grouped")
            if self.select.args.get("distinct") is not None and typed not in self.by_position:
                raise NotPushable("ORDER BY a value not selected with DISTINCT")
            desc = bool(item.args.get("desc"))
            nulls_first = item.args.get("nulls_first")
            if nulls_first is None:
                nulls_first = not desc
            keys.append(tr.ordered(typed, desc, bool(nulls_first)))
        query.set("order", exp.Order(expressions=keys))

    def _order_key(self, tr: Translator, node: exp.Expression) -> Typed:
        if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
            n = int(node.this)
            if not 1 <= n <= len(self.by_position):
                raise NotPushable("an ORDER BY position out of range")
            return self.by_position[n - 1]
        if isinstance(node, exp.Column) and not node.table and node.name.lower() in self.named:
            return self.named[node.name.lower()]
        known = self.by_text.get(spelled(node))
        if known is not None:
            return known
        if isinstance(node, exp.Avg):
            raise NotPushable("ORDER BY avg")
        typed = tr.scalar(node)
        for known in self.by_position:
            if known.expr == typed.expr:
                return known
        return typed

    def _limits(self, tr: Translator, query: exp.Select) -> None:
        for key in ("limit", "offset"):
            clause = self.select.args.get(key)
            if clause is None:
                continue
            check(clause, frozenset({"expression"}))
            node = clause.args.get("expression")
            if node is None:
                raise NotPushable(f"this {key.upper()}")
            if isinstance(node, exp.Placeholder):
                value: exp.Expression = tr.param(Param(arg=tr.arg_of(node.name), family="limit"))
            elif isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
                value = tr.param(Param(value=int(node.this), family="limit"))
            else:
                raise NotPushable(f"a {key.upper()} that is not a number or a parameter")
            query.set(
                key, exp.Limit(expression=value) if key == "limit" else exp.Offset(expression=value)
            )


def _remote_table(source: Source) -> exp.Table:
    parts = source.remote.table()
    table = exp.Table(this=exp.to_identifier(parts[-1], quoted=True))
    if len(parts) > 1:
        table.set("db", exp.to_identifier(parts[-2], quoted=True))
    table.set("alias", exp.TableAlias(this=exp.to_identifier(source.alias, quoted=True)))
    return table


def _default_name(node: exp.Expression, typed: Typed, sources: dict[str, Source]) -> str:
    """What SQLite names an item without an alias when it is a column, else ""
    (the name is then the item's text, which the planner reads from SQLite)."""
    if typed.column is not None and not typed.aggregate:
        return sources[typed.column[0]].columns[typed.column[1].lower()].name
    return ""
