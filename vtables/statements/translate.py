"""SQLite expressions as a remote dialect's, when the remote computes exactly
what SQLite would: the allow-list.

Every node the translator accepts is listed here with its translation;
anything else raises ``NotPushable`` and the block it is in stays in SQLite.
Types are tracked by family (``integer``, ``real``, ``text``; comparisons are
``predicate``): a comparison is sent only between operands of one family,
text compares byte by byte (``COLLATE "C"`` on PostgreSQL), NULLs sort as
SQLite sorts them, and values travel as bound parameters whose storage class
is checked before the query runs (``Param``).  Scalar expressions (integer
arithmetic, ``||``, ``length``, ``coalesce``, ``CASE``, the scalar
``max``/``min``, some CASTs, ``date``) are in ``statements.expressions``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlglot import exp

from .. import catalog, types
from ..remotesql import RemoteSQL

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class NotPushable(Exception):
    """The block stays in SQLite (the message says why, for EXPLAIN and logs)."""


_BINARY = frozenset({"this", "expression"})
#: The nodes the translator reads, each with every argument it understands:
#: a node of another class, or with any other argument set (``NOT LIKE`` is
#: ``Like(negate=True)``), is not translated.
ARGUMENTS: dict[type, frozenset[str]] = {
    exp.Column: frozenset({"this", "table"}),
    exp.Literal: frozenset({"this", "is_string"}),
    exp.Placeholder: frozenset({"this"}),
    exp.Null: frozenset(),
    exp.Star: frozenset(),
    exp.Neg: frozenset({"this"}),
    exp.Paren: frozenset({"this"}),
    exp.Not: frozenset({"this"}),
    exp.And: _BINARY,
    exp.Or: _BINARY,
    exp.EQ: _BINARY,
    exp.NEQ: _BINARY,
    exp.GT: _BINARY,
    exp.GTE: _BINARY,
    exp.LT: _BINARY,
    exp.LTE: _BINARY,
    exp.Is: _BINARY,
    exp.Between: frozenset({"this", "low", "high"}),
    exp.In: frozenset({"this", "expressions", "query"}),
    exp.Subquery: frozenset({"this"}),
    exp.Exists: frozenset({"this"}),
    exp.Like: frozenset({"this", "expression", "negate"}),
    exp.Count: frozenset({"this", "big_int"}),
    exp.Min: frozenset({"this"}),
    exp.Max: frozenset({"this"}),
    exp.Sum: frozenset({"this"}),
    exp.Avg: frozenset({"this"}),
    exp.Distinct: frozenset({"expressions"}),
    exp.Anonymous: frozenset({"this", "expressions"}),  # total(x)
    # scalar expressions
    exp.Add: _BINARY,
    exp.Sub: _BINARY,
    exp.Mul: _BINARY,
    exp.Div: frozenset({"this", "expression", "typed", "safe"}),  # SQLite's: x/0 is NULL
    exp.Mod: frozenset({"this", "expression", "safe"}),
    exp.Abs: frozenset({"this"}),
    exp.DPipe: frozenset({"this", "expression", "safe"}),  # || (NULL with a NULL)
    exp.Length: frozenset({"this"}),
    exp.Coalesce: frozenset({"this", "expressions"}),  # coalesce and ifnull
    exp.Nullif: _BINARY,
    exp.Case: frozenset({"this", "ifs", "default"}),
    exp.If: frozenset({"this", "true"}),  # a WHEN of a CASE
    exp.Greatest: frozenset({"this", "expressions"}),  # the scalar max(a, b, ...)
    exp.Least: frozenset({"this", "expressions"}),  # the scalar min(a, b, ...)
    exp.Cast: frozenset({"this", "to"}),
    exp.DataType: frozenset({"this", "expressions"}),
    exp.Date: frozenset({"this"}),  # date(x), one argument
}


def check(node: exp.Expression, allowed: frozenset[str] | None = None) -> None:
    """Raise NotPushable unless ``node`` is on the list with only known arguments."""
    allowed = ARGUMENTS.get(type(node)) if allowed is None else allowed
    if allowed is None:
        raise NotPushable(f"the expression {node.sql(dialect='sqlite')}")
    for key, value in node.args.items():
        if key not in allowed and value not in (None, False, [], ""):
            raise NotPushable(f"{key} in {node.sql(dialect='sqlite')}")


@dataclass(frozen=True)
class Dialect:
    """What the planner knows of a remote dialect's semantics."""

    name: str
    #: the collation under which text compares and sorts byte by byte
    text_collation: str | None
    #: how SQLite's LIKE (ASCII case-insensitive, no escape) is spelled: "ilike"
    #: (ILIKE under text_collation, ESCAPE ''), "like" (as is: the remote is
    #: SQLite), "ascii" (LIKE with ASCII letters folded on both sides by
    #: translate()), or None (never sent)
    like: str | None
    #: the remote is SQLite: an expression is sent as SQLite wrote it (its
    #: integer overflow goes on in floating point there too); other remotes
    #: raise on overflow, so their arithmetic is 64-bit and the query guarded
    same: bool = False


DIALECTS = {
    "postgres": Dialect("postgres", "C", "ilike"),
    "sqlite": Dialect("sqlite", None, "like", same=True),
    # DuckDB compares and sorts text byte by byte unless told otherwise; its
    # NULLs sort last by default, which the explicit NULLS FIRST/LAST covers.
    # Its ILIKE and lower() fold Unicode case: LIKE is sent over translate()
    "duckdb": Dialect("duckdb", None, "ascii"),
}

#: the families a pushed expression may have: a column's values are of one
#: family, held exactly as SQLite sees them (dates and timestamps as text of
#: one form, booleans as 0 and 1)
FAMILIES = ("integer", "real", "text", "date", "timestamp", "boolean")
#: families that compare and sort the same way on both sides (booleans sort
#: alike but have no min/max and compare with integers in SQLite only)
COMPARABLE = frozenset({"integer", "real", "text", "date", "timestamp"})
#: the one text form SQLite holds a family's values in, when it is text
_FORMS = {
    "date": re.compile(r"\d{4}-\d\d-\d\d\Z"),
    "timestamp": re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\Z"),
}


@dataclass
class Param:
    """A value the remote query is given: a constant of the statement's text
    (``value``), or the SQLite argument ``arg`` of the query's table, whose
    storage class must fit ``family`` for the query to be exact."""

    value: Any = None
    arg: int | None = None
    family: str = ""

    def fits(self, value: Any) -> bool:
        if self.family == "any":  # a wrapper's qual: it applies SQLite's rules itself
            return True
        if value is None:
            return self.family != "limit"
        kind = type(value)
        if self.family == "integer":
            return kind is int
        if self.family == "text":
            return kind is str
        if self.family == "real":  # a REAL family exists on SQLite remotes only
            return kind in (int, float)
        if self.family == "limit":
            return kind is int and value >= 0
        form = _FORMS.get(self.family)
        return form is not None and kind is str and form.match(value) is not None


@dataclass
class Source:
    """A foreign table of the block: its alias in the remote query."""

    alias: str
    table: catalog.ForeignTable
    remote: RemoteSQL
    columns: dict[str, catalog.Column] = field(default_factory=dict)


@dataclass
class Typed:
    """A translated expression."""

    expr: exp.Expression
    family: str  # a FAMILIES member, "null", "param" or "predicate"
    aggregate: bool = False
    #: (source alias, column) for a plain column reference
    column: tuple[str, str] | None = None
    #: the constant a literal was made into (its family may be narrowed)
    constant: Param | None = None
    #: the columns it reads outside aggregates (a grouped block's must be keys)
    columns: frozenset[tuple[str, str]] = frozenset()
    #: "sum", "avg" or "total": sent with the sums that check SQLite's running
    #: sum (``inner`` is the translated argument)
    summed: str | None = None
    inner: exp.Expression | None = None


@dataclass
class Nested:
    """A subquery of a block, translated for the same server."""

    query: exp.Select
    items: list[Typed]
    #: an aggregate without GROUP BY: exactly one row
    one_row: bool
    #: the columns of the enclosing block it reads (a correlated subquery)
    outer: frozenset[tuple[str, str]]


class Translator:
    """Translates one block's expressions against its sources."""

    def __init__(self, dialect: Dialect, sources: dict[str, Source], args: Callable[[str], int]):
        self.dialect = dialect
        self.sources = sources
        #: the number of the query table's argument for a parameter's serial name
        self.arg_of = args
        self.params: list[Param] = []
        #: sums may be sent (not in HAVING or ORDER BY: the check that SQLite's
        #: running sum stays in 64 bits reads the select list only)
        self.sums = True
        #: integer arithmetic was sent to a remote that raises on overflow
        self.guarded = False
        #: GROUP BY keys by their SQLite text: a value that is one is grouped
        self.keys: dict[str, Typed] = {}
        #: the statement's text, when known: the spelling of CAST's types
        self.text: str | None = None
        #: translates a subquery of the block (``blocks.Block.nested``): its
        #: remote SELECT, its items, whether it returns exactly one row, and
        #: the columns of this block it reads; None: subqueries stay local
        self.nested: Callable[[exp.Select, Translator, bool], Nested] | None = None
        #: in a subquery: the names of the enclosing blocks' tables it sees,
        #: and the columns of theirs it reads (a correlated subquery)
        self.outer_aliases: frozenset[str] = frozenset()
        self.outer_reads: set[tuple[str, str]] = set()

    # ------------------------------------------------------------ values

    def param(self, param: Param) -> exp.Placeholder:
        self.params.append(param)
        return exp.Placeholder(this=f"p{len(self.params) - 1}")

    def _operand(self, node: exp.Expression) -> Typed:
        check(node)
        while isinstance(node, exp.Paren):  # (5), -(5)
            node = node.this
            check(node)
        if isinstance(node, exp.Placeholder):
            return Typed(node, "param")
        if isinstance(node, exp.Null):
            return Typed(exp.Null(), "null")
        if isinstance(node, exp.Literal):
            return self._literal(node)
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
            inner = self._literal(node.this, negative=True)
            return inner
        return self.value(node)

    def _literal(self, node: exp.Literal, negative: bool = False) -> Typed:
        if node.is_string:
            if negative:
                raise NotPushable("a negated string")
            constant = Param(value=node.this, family="text")
            return Typed(self.param(constant), "text", constant=constant)
        text = node.this
        if not text.isdigit():
            raise NotPushable(f"the number {text} (only integers are sent)")
        value = -int(text) if negative else int(text)
        if not INT64_MIN <= value <= INT64_MAX:
            raise NotPushable(f"the number {text} is beyond 64 bits")
        return Typed(self.param(Param(value=value, family="integer")), "integer")

    def _bind(self, typed: Typed, family: str) -> exp.Expression:
        """An operand compared with a value of ``family``, as sent."""
        if typed.family == "param":
            name = typed.expr.name
            return self.param(Param(arg=self.arg_of(name), family=family))
        return typed.expr

    # ----------------------------------------------------------- columns

    def column(self, node: exp.Column) -> Typed:
        check(node)
        if isinstance(node.this, exp.Star):
            raise NotPushable("a star")
        name = node.name.lower()
        qualifier = node.table.lower() if node.table else None
        found = []
        for alias, source in self.sources.items():
            if qualifier is not None and qualifier != alias:
                continue
            if name in source.columns:
                found.append((alias, source))
        if len(found) != 1:
            raise NotPushable(f'column "{node.sql()}" is not one column of the block')
        alias, source = found[0]
        col = source.columns[name]
        if alias in self.outer_aliases:
            self.outer_reads.add((alias, col.name))
        if col.collation and catalog.SQLITE_COLLATIONS[col.collation] != "BINARY":
            raise NotPushable(f'column "{col.name}" has collation {col.collation}')
        remote = source.remote.column(col.name)
        family = types.family(col.type)
        if remote is None or remote.family is None or remote.family != family:
            raise NotPushable(f'column "{col.name}" does not hold exactly what SQLite sees')
        if family not in FAMILIES:
            raise NotPushable(f'column "{col.name}" is of type {col.type}')
        expr = exp.Column(
            this=exp.to_identifier(remote.name, quoted=True),
            table=exp.to_identifier(source.alias, quoted=True),
        )
        return Typed(expr, family, column=(alias, col.name), columns=frozenset({(alias, col.name)}))

    # ------------------------------------------------------- expressions

    def scalar(self, node: exp.Expression) -> Typed:
        """A select item's value: an expression, or an aggregate (sum, avg and
        total only here: their check reads the select list)."""
        check(node)
        if isinstance(node, exp.Paren):
            return self.scalar(node.this)
        if isinstance(node, (exp.Sum, exp.Avg)) or _is_total(node):
            return self.summed(node)
        return self.value(node)

    def value(self, node: exp.Expression) -> Typed:
        """A value anywhere: a column, an aggregate, or an expression of them."""
        check(node)
        key = self.keys.get(spelled(node))
        if key is not None:  # a GROUP BY key: the same remote expression
            return replace(key, expr=key.expr.copy())
        if isinstance(node, exp.Paren):
            return self.value(node.this)
        if isinstance(node, exp.Column):
            return self.column(node)
        if isinstance(node, exp.AggFunc):
            return self.aggregate(node)
        if isinstance(node, exp.Subquery):
            return self._scalar_subquery(node)
        return self.expression(node)

    def _subquery(self, node: exp.Expression, exists: bool = False) -> Nested:
        select = node.this if isinstance(node, (exp.Subquery, exp.Exists)) else node
        if self.nested is None or not isinstance(select, exp.Select):
            raise NotPushable(f"the subquery {node.sql(dialect='sqlite')}")
        return self.nested(select, self, exists)

    def _scalar_subquery(self, node: exp.Subquery) -> Typed:
        """``(SELECT agg(...) ...)``: one row on both sides (SQLite takes the
        first of several rows where the others raise, so only aggregates)."""
        nested = self._subquery(node)
        if not nested.one_row or len(nested.items) != 1:
            raise NotPushable("a subquery that may return several rows or columns")
        (item,) = nested.items
        if item.family not in FAMILIES:
            raise NotPushable("a subquery of a value of no known type")
        return Typed(exp.Subquery(this=nested.query), item.family, columns=nested.outer)

    def expression(self, node: exp.Expression) -> Typed:
        """A scalar expression (``expressions.Expressions`` knows them)."""
        raise NotPushable(f"the expression {node.sql(dialect='sqlite')}")

    def aggregate(self, node: exp.Expression) -> Typed:
        check(node)
        if isinstance(node, exp.Count):
            arg = node.this
            check(arg)
            if isinstance(arg, exp.Star):
                return Typed(exp.Count(this=exp.Star()), "integer", aggregate=True)
            distinct = isinstance(arg, exp.Distinct)
            if distinct:
                if len(arg.expressions) != 1:
                    raise NotPushable("count(DISTINCT) of several values")
                arg = arg.expressions[0]
            inner = self._aggregated(arg)
            value = exp.Distinct(expressions=[inner.expr]) if distinct else inner.expr
            return Typed(exp.Count(this=value), "integer", aggregate=True)
        if isinstance(node, (exp.Min, exp.Max)):
            if node.expressions:
                raise NotPushable("the scalar min/max")
            inner = self._aggregated(node.this)
            if inner.family not in COMPARABLE:
                raise NotPushable(f"min/max of a {inner.family} value")
            arg = self.collated(inner)
            return Typed(type(node)(this=arg), inner.family, aggregate=True, column=inner.column)
        raise NotPushable(f"the aggregate {node.sql(dialect='sqlite')} here")

    def summed(self, node: exp.Expression) -> Typed:
        """sum, avg or total of integers: the remote's exact sum, checked
        against SQLite's running sum when decoded (``blocks``)."""
        check(node)
        if not self.sums:
            raise NotPushable("sum, avg or total in HAVING or ORDER BY")
        arg = node.expressions[0] if isinstance(node, exp.Anonymous) else node.this
        inner = self._aggregated(arg)
        if inner.family != "integer":
            raise NotPushable("a sum of values that are not integers")
        kind = "total" if isinstance(node, exp.Anonymous) else node.key
        family = "integer" if kind == "sum" else "real"
        expr = exp.Avg(this=inner.expr) if kind == "avg" else exp.Sum(this=inner.expr)
        return Typed(expr, family, aggregate=True, summed=kind, inner=inner.expr)

    def _aggregated(self, node: exp.Expression) -> Typed:
        """An aggregate's argument: a value of a known family, no aggregate.
        In a subquery, an aggregate of the enclosing block's columns belongs
        to that block (SQL's rule, which SQLite bends): it stays local."""
        inner = self.value(node)
        if inner.aggregate or inner.family not in FAMILIES:
            raise NotPushable(f"an aggregate of {node.sql(dialect='sqlite')}")
        if any(alias in self.outer_aliases for alias, _name in inner.columns):
            raise NotPushable("an aggregate of the enclosing block's columns in a subquery")
        return inner

    def column_of(self, node: exp.Expression) -> Typed:
        while isinstance(node, exp.Paren):
            node = node.this
        if not isinstance(node, exp.Column):
            raise NotPushable("an aggregate of an expression")
        return self.column(node)

    def collated(self, typed: Typed) -> exp.Expression:
        if typed.family == "text" and self.dialect.text_collation:
            return self._collate(typed.expr)
        return typed.expr

    def _collate(self, expr: exp.Expression) -> exp.Expression:
        name = exp.to_identifier(self.dialect.text_collation, True)
        return exp.Collate(this=_grouped(expr), expression=name)

    def bare(self, node: exp.Expression) -> frozenset[tuple[str, str]]:
        """The columns a condition reads outside aggregates and GROUP BY keys."""
        if isinstance(node, exp.AggFunc) or spelled(node) in self.keys:
            return frozenset()
        if isinstance(node, exp.Column):
            return frozenset() if isinstance(node.this, exp.Star) else self.column(node).columns
        found: frozenset[tuple[str, str]] = frozenset()
        for child in node.iter_expressions():
            found |= self.bare(child)
        return found

    # -------------------------------------------------------- predicates

    _COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)

    def predicate(self, node: exp.Expression) -> exp.Expression:
        """A condition, or NotPushable with no parameter of it left behind (a
        caller may go on with the next condition: ``statements.partial``)."""
        mark = len(self.params)
        try:
            return self._predicate(node)
        except NotPushable:
            del self.params[mark:]
            raise

    def _predicate(self, node: exp.Expression) -> exp.Expression:
        check(node)
        if isinstance(node, exp.Paren):
            return exp.Paren(this=self.predicate(node.this))
        if isinstance(node, (exp.And, exp.Or)):
            return type(node)(
                this=self.predicate(node.this), expression=self.predicate(node.expression)
            )
        if isinstance(node, exp.Not):
            return exp.Not(this=self.predicate(node.this))
        if isinstance(node, self._COMPARISONS):
            return self._compare(type(node), node.this, node.expression)
        if isinstance(node, exp.Is):
            if not isinstance(node.expression, exp.Null):
                raise NotPushable("IS with a value")
            return exp.Is(this=self.value(node.this).expr, expression=exp.Null())
        if isinstance(node, exp.Between):
            low = self._compare(exp.GTE, node.this, node.args["low"])
            high = self._compare(exp.LTE, node.this, node.args["high"])
            return exp.Paren(this=exp.And(this=low, expression=high))
        if isinstance(node, exp.In):
            return self._in(node)
        if isinstance(node, exp.Exists):
            return exp.Exists(this=self._subquery(node, exists=True).query)
        if isinstance(node, exp.Like):
            like = self._like(node)
            return exp.Not(this=like) if node.args.get("negate") else like
        raise NotPushable(f"the condition {node.sql(dialect='sqlite')}")

    def _compare(self, kind: type, left_node: exp.Expression, right_node: exp.Expression):
        left, right = self._operand(left_node), self._operand(right_node)
        left = self._narrowed(left, right.family)
        right = self._narrowed(right, left.family)
        families = {left.family, right.family} - {"param", "null"}
        if len(families) != 1 or not families <= COMPARABLE:
            raise NotPushable("a comparison of values of different types")
        (family,) = families
        lhs, rhs = self._bind(left, family), self._bind(right, family)
        if family == "text" and kind not in (exp.EQ, exp.NEQ) and self.dialect.text_collation:
            lhs = self._collate(lhs)
        return kind(this=_grouped(lhs), expression=_grouped(rhs))

    def _narrowed(self, typed: Typed, family: str) -> Typed:
        """A text literal compared with a date or timestamp: the same
        comparison on both sides when it is written in that family's form."""
        constant = typed.constant
        if constant is None or family not in _FORMS or constant.family != "text":
            return typed
        if not _FORMS[family].match(constant.value):
            raise NotPushable(f"{constant.value!r} is not a {family} as SQLite holds one")
        constant.family = family
        return Typed(typed.expr, family, constant=constant)

    def _in(self, node: exp.In) -> exp.Expression:
        if node.args.get("unnest") or node.args.get("field"):
            raise NotPushable("IN of this kind")
        if node.args.get("query") is not None:
            return self._in_subquery(node)
        items = node.expressions
        if not items:
            raise NotPushable("an empty IN list")
        left = self.value(node.this)
        if left.family not in COMPARABLE:
            raise NotPushable(f"IN of a {left.family} value")
        values = []
        for item in items:
            typed = self._narrowed(self._operand(item), left.family)
            if typed.family not in ("param", "null", left.family):
                raise NotPushable("IN with values of another type")
            values.append(self._bind(typed, left.family))
        return exp.In(this=left.expr, expressions=values)

    def _in_subquery(self, node: exp.In) -> exp.Expression:
        """``x IN (SELECT y ...)`` with x and y of one family: the same
        three-valued answer on both sides."""
        left = self.value(node.this)
        nested = self._subquery(node.args["query"])
        if len(nested.items) != 1:
            raise NotPushable("IN with a subquery of several columns")
        if left.family not in COMPARABLE or nested.items[0].family != left.family:
            raise NotPushable("IN with a subquery of another type")
        return exp.In(this=left.expr, query=exp.Subquery(this=nested.query))

    def _like(self, node: exp.Like) -> exp.Expression:
        if self.dialect.like is None:
            raise NotPushable("LIKE (its case folding is SQLite's)")
        left = self.value(node.this)
        pattern = self._operand(node.expression)
        if left.family != "text" or pattern.family not in ("text", "param"):
            raise NotPushable("LIKE of a non-text value")
        rhs = self._bind(pattern, "text")
        if self.dialect.like == "ilike":
            return exp.Escape(
                this=exp.ILike(this=self._collate(left.expr), expression=rhs),
                expression=exp.Literal.string(""),
            )
        if self.dialect.like == "ascii":  # ASCII letters folded, the rest compared as is
            return exp.Like(this=self._ascii_lower(left.expr), expression=self._ascii_lower(rhs))
        return exp.Like(this=_grouped(left.expr), expression=_grouped(rhs))

    def _ascii_lower(self, expr: exp.Expression) -> exp.Expression:
        upper, lower = (Param(value=v, family="text") for v in (_UPPER, _UPPER.lower()))
        return exp.Anonymous(
            this="translate", expressions=[expr, self.param(upper), self.param(lower)]
        )

    # ------------------------------------------------------------ orders

    def ordered(self, typed: Typed, desc: bool, nulls_first: bool) -> exp.Ordered:
        return exp.Ordered(this=self.collated(typed), desc=desc, nulls_first=nulls_first)


_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def aggregates_in(node: exp.Expression) -> bool:
    """Whether an expression aggregates, not counting its subqueries' own."""
    if isinstance(node, exp.AggFunc):
        return True
    if isinstance(node, (exp.Select, exp.Subquery, exp.Exists)):
        return False
    return any(aggregates_in(child) for child in node.iter_expressions())


def spelled(node: exp.Expression) -> str:
    """An expression's SQLite text, outer parentheses dropped: the same value
    for the same text (GROUP BY keys, ORDER BY items)."""
    while isinstance(node, exp.Paren):
        node = node.this
    return node.sql(dialect="sqlite")


def _is_total(node: exp.Expression) -> bool:
    return (
        isinstance(node, exp.Anonymous)
        and node.name.lower() == "total"
        and len(node.expressions) == 1
    )


def _grouped(expr: exp.Expression) -> exp.Expression:
    """An operand in parentheses unless it is one term (sqlglot prints a tree
    as it is: an Add under a Mul needs them)."""
    if isinstance(expr, (exp.Binary, exp.Unary, exp.Collate, exp.Escape)) and not isinstance(
        expr, exp.Paren
    ):
        return exp.Paren(this=expr)
    return expr
