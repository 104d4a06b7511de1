"""Aggregates a wrapper that is not SQL answers itself (``remotesql.Aggregator``).

A block over one foreign table whose wrapper has an aggregator, of the shape
``SELECT keys..., aggregates... FROM t [WHERE quals] [GROUP BY keys]``, is
asked of the wrapper as an ``AggregateQuery``: quals are comparisons of a
column with a value (a literal or a parameter), IS [NOT] NULL and IN lists,
ANDed; aggregates are count(*), count(x), count(DISTINCT x), min, max and
sum of columns.  Anything else, or a query the aggregator does not accept,
stays in SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlglot import exp

from .. import catalog
from ..remotesql import Aggregate, AggregateQuery, Aggregator, RemoteSQL
from ..wrapper import Qual
from .blocks import Output, Pushed, column_decoder
from .translate import NotPushable, Param, check

#: what finds a foreign table's aggregator
Lookup = Callable[[str], "tuple[catalog.ForeignTable, Aggregator] | None"]

_OPERATORS: dict[type, str] = {
    exp.EQ: "=",
    exp.NEQ: "!=",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
}
_FUNCTIONS: dict[type, str] = {exp.Count: "count", exp.Min: "min", exp.Max: "max", exp.Sum: "sum"}
_ARGS = frozenset({"expressions", "from", "from_", "where", "group", "order", "limit", "offset"})


class _Source(RemoteSQL):
    """An aggregator behind the RemoteSQL the query table calls."""

    def __init__(
        self,
        aggregator: Aggregator,
        table: str,
        query: AggregateQuery,
        values: list[list[int]],
    ):
        self.aggregator = aggregator
        self.table_name = table
        self.query = query
        #: for each qual, the numbers of the run's parameters holding its values
        self.values = values

    def run(self, text: str, params: Mapping[str, Any]) -> Iterable[tuple]:
        quals = []
        for qual, numbers in zip(self.query.quals, self.values, strict=True):
            given = [params[f"p{k}"] for k in numbers]
            value = tuple(given) if qual.operator == "IN" else (given[0] if given else None)
            quals.append(Qual(qual.column, qual.operator, value))
        query = AggregateQuery(self.query.group_by, self.query.aggregates, tuple(quals))
        return self.aggregator.run(query)

    def where(self) -> str:
        described = self.aggregator.describe()
        return f'foreign table "{self.table_name}"' + (f" ({described})" if described else "")


def _column(node: exp.Expression, table: catalog.ForeignTable, alias: str) -> catalog.Column:
    while isinstance(node, exp.Paren):
        node = node.this
    if not isinstance(node, exp.Column):
        raise NotPushable("not a column")
    check(node)
    if node.table and node.table.lower() != alias:
        raise NotPushable(f"column {node.sql()} of another table")
    for col in table.columns:
        if col.name.lower() == node.name.lower():
            if col.collation and catalog.SQLITE_COLLATIONS[col.collation] != "BINARY":
                # compared, grouped and sorted otherwise than byte by byte
                raise NotPushable(f"column {col.name} has collation {col.collation}")
            return col
    raise NotPushable(f"no column {node.name}")


class _Query:
    """One SELECT read as an aggregate query."""

    def __init__(self, select: exp.Select, table: catalog.ForeignTable, alias: str, arg_of: Any):
        self.select = select
        self.table = table
        self.alias = alias
        self.arg_of = arg_of
        self.params: list[Param] = []
        self.quals: list[Qual] = []
        self.values: list[list[int]] = []

    def value(self, node: exp.Expression) -> int:
        """A qual's value as a parameter of the run: its number."""
        check(node)
        if isinstance(node, exp.Placeholder):
            param = Param(arg=self.arg_of(node.name), family="any")
        elif isinstance(node, exp.Literal):
            param = Param(value=node.this if node.is_string else _number(node.this), family="any")
        elif isinstance(node, exp.Null):
            param = Param(value=None, family="any")
        else:
            raise NotPushable(f"the value {node.sql(dialect='sqlite')}")
        self.params.append(param)
        return len(self.params) - 1

    def where(self, node: exp.Expression) -> None:
        check(node)
        if isinstance(node, exp.And):
            self.where(node.this)
            self.where(node.expression)
            return
        if isinstance(node, exp.Paren):
            self.where(node.this)
            return
        if type(node) in _OPERATORS:
            col = _column(node.this, self.table, self.alias)
            self.values.append([self.value(node.expression)])
            self.quals.append(Qual(col.name, _OPERATORS[type(node)]))
        elif isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
            self.values.append([])
            self.quals.append(Qual(_column(node.this, self.table, self.alias).name, "IS NULL"))
        elif isinstance(node, exp.Not) and isinstance(node.this, exp.Is):
            check(node.this)
            col = _column(node.this.this, self.table, self.alias)
            if not isinstance(node.this.expression, exp.Null):
                raise NotPushable("IS NOT with a value")
            self.values.append([])
            self.quals.append(Qual(col.name, "IS NOT NULL"))
        elif isinstance(node, exp.In) and node.expressions:
            col = _column(node.this, self.table, self.alias)
            self.values.append([self.value(item) for item in node.expressions])
            self.quals.append(Qual(col.name, "IN"))
        else:
            raise NotPushable(f"the condition {node.sql(dialect='sqlite')}")

    def aggregate(self, node: exp.Expression) -> tuple[Aggregate, Callable[[Any], Any]]:
        check(node)
        function = _FUNCTIONS.get(type(node))
        if function is None:
            raise NotPushable(f"the expression {node.sql(dialect='sqlite')}")
        arg = node.this
        if isinstance(node, (exp.Min, exp.Max)) and node.expressions:
            raise NotPushable("the scalar min/max")
        if function == "count" and isinstance(arg, exp.Star):
            return Aggregate("count"), int
        distinct = isinstance(arg, exp.Distinct)
        if distinct:
            check(arg)
            if function != "count" or len(arg.expressions) != 1:
                raise NotPushable("DISTINCT of this aggregate")
            arg = arg.expressions[0]
        col = _column(arg, self.table, self.alias)
        decode = int if function == "count" else column_decoder(col.type)
        if function == "sum":
            decode = _as_is
        return Aggregate(function, col.name, distinct), decode


def _as_is(value: Any) -> Any:
    return value


def _number(text: str) -> int | float:
    return int(text) if text.isdigit() else float(text)


def push(select: exp.Select, lookup: Lookup, arg_of: Callable[[str], int]) -> Pushed:
    """The block as a query its table's aggregator answers, or NotPushable."""
    check(select, _ARGS)
    from_ = select.args.get("from_") or select.args.get("from")
    if from_ is None or not isinstance(from_.this, exp.Table):
        raise NotPushable("not one table")
    node = from_.this
    check(node, frozenset({"this", "alias"}))
    found = lookup(node.name)
    if found is None:
        raise NotPushable(f'"{node.name}" has no aggregator')
    table, aggregator = found
    query = _Query(select, table, (node.alias or node.name).lower(), arg_of)
    where = select.args.get("where")
    if where is not None:
        query.where(where.this)
    group = select.args.get("group")
    keys: list[str] = []
    if group is not None:
        check(group, frozenset({"expressions"}))
        keys = [_column(k, table, query.alias).name for k in group.expressions]
    aggregates: list[Aggregate] = []
    outputs: list[Output] = []
    for item in select.expressions:
        inner = item.this if isinstance(item, exp.Alias) else item
        if isinstance(inner, exp.Column) and not isinstance(inner.this, exp.Star):
            col = _column(inner, table, query.alias)
            if col.name not in keys:
                raise NotPushable(f"column {col.name} is not grouped")
            outputs.append(Output("", col.type, (keys.index(col.name),), column_decoder(col.type)))
            continue
        aggregate, decode = query.aggregate(inner)
        aggregates.append(aggregate)
        outputs.append(Output("", "", (len(keys) + len(aggregates) - 1,), decode))
    if not aggregates:
        raise NotPushable("no aggregate")
    asked = AggregateQuery(tuple(keys), tuple(aggregates), tuple(query.quals))
    if not aggregator.accepts(asked):  # the quals' values are not known yet: None
        raise NotPushable("the aggregator declines")
    source = _Source(aggregator, table.name, asked, query.values)
    pushed = Pushed(
        source, exp.Select(), query.params, outputs, [table.name], _text(asked), small=True
    )
    pushed.tail = _tail(select)
    return pushed


def _tail(select: exp.Select) -> str:
    """The block's ORDER BY, LIMIT and OFFSET, for SQLite to apply to the
    aggregator's rows: sort keys as the positions of the items they name."""
    tail = ""
    order = select.args.get("order")
    if order is not None:
        check(order, frozenset({"expressions"}))
        terms = []
        for term in order.expressions:
            check(term, frozenset({"this", "desc", "nulls_first"}))
            positioned = term.copy()
            positioned.set("this", exp.Literal.number(_position(term.this, select.expressions)))
            terms.append(positioned.sql(dialect="sqlite"))
        tail += " ORDER BY " + ", ".join(terms)
    for arg in ("limit", "offset"):
        node = select.args.get(arg)
        if node is None:
            continue
        check(node, frozenset({"expression"}))
        value = node.expression
        if not (isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit()):
            raise NotPushable(f"{arg.upper()} of an expression")
        tail += f" {arg.upper()} {int(value.this)}"
    return tail


def _position(node: exp.Expression, items: list[exp.Expression]) -> int:
    """The 1-based position of the select item a sort key names: its alias
    (SQLite looks there first), the same expression, or its number."""
    check(node)
    if isinstance(node, exp.Column) and not node.table:
        for i, item in enumerate(items):
            if isinstance(item, exp.Alias) and item.alias.lower() == node.name.lower():
                return i + 1
    if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
        if 1 <= int(node.this) <= len(items):
            return int(node.this)
        raise NotPushable("ORDER BY a position out of range")
    for i, item in enumerate(items):
        if (item.this if isinstance(item, exp.Alias) else item) == node:
            return i + 1
    raise NotPushable(f"ORDER BY {node.sql(dialect='sqlite')}, not a result column")


def _text(query: AggregateQuery) -> str:
    """The query as EXPLAIN shows it."""
    parts = []
    for a in query.aggregates:
        arg = "*" if a.column is None else ("DISTINCT " if a.distinct else "") + a.column
        parts.append(f"{a.function}({arg})")
    text = "aggregate " + ", ".join(parts)
    if query.group_by:
        text += " by " + ", ".join(query.group_by)
    if query.quals:
        text += " where " + " and ".join(f"{q.column} {q.operator}" for q in query.quals)
    return text
