"""Scalar expressions on the allow-list, each only where the remote computes
exactly what SQLite computes for the operands' families.

- Integer arithmetic ``+ - * / %``, unary minus and ``abs``.  SQLite's ``/``
  of integers truncates toward zero and ``x / 0``, ``x % 0`` are NULL: sent
  as ``a / NULLIF(b, 0)`` (DuckDB: ``//``, which truncates too; both give
  ``%`` the sign of the dividend, as SQLite; PostgreSQL's is spelled
  ``mod()``, as psycopg reads ``%`` in a query's text).  Operands are made 64-bit
  (``CAST(x AS BIGINT)``: PostgreSQL's int4 arithmetic stops at 32 bits).
  SQLite goes on in floating point where 64 bits overflow (and for
  ``INT64_MIN / -1``); PostgreSQL and DuckDB raise instead: such a query is
  ``guarded`` (``blocks.Pushed``), and the query runner runs the block in
  SQLite on that error.  A SQLite remote computes as SQLite: the expression
  is sent as written, REAL operands included.
- ``||`` of text (NULL with a NULL on all three), ``length`` of text
  (characters; DuckDB's strings may hold NUL, where SQLite's length stops),
  ``coalesce``/``ifnull``/``nullif`` and ``CASE`` over one family, the scalar
  ``max``/``min`` (NULL if any argument is: PostgreSQL's GREATEST/LEAST skip
  NULLs, so a CASE says so), ``CAST`` of integers to TEXT, INTEGER and (on
  SQLite remotes) REAL, ``date()`` of a date or timestamp.
- ``lower``/``upper`` stay local: SQLite folds ASCII only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace

from sqlglot import exp

from .translate import (
    COMPARABLE,
    NotPushable,
    Translator,
    Typed,
    _grouped,
    aggregates_in,
    check,
)

_BIGINT = exp.DataType.build("BIGINT")
#: CAST type names whose SQLite affinity sqlglot's parse keeps: INT, INTEGER,
#: INT4, INT32 (affinity INTEGER), REAL, DOUBLE, FLOAT... (REAL), the CHARs
#: (TEXT); TEXT is also what STR and STRING parse to (affinity NUMERIC)
_CASTS = {
    exp.DataType.Type.INT: "integer",
    exp.DataType.Type.DOUBLE: "real",
    exp.DataType.Type.VARCHAR: "text",
    exp.DataType.Type.CHAR: "text",
    exp.DataType.Type.NCHAR: "text",
    exp.DataType.Type.NVARCHAR: "text",
    exp.DataType.Type.TEXT: "text",
}
#: type names that parse as TEXT but have SQLite's NUMERIC affinity
_NUMERIC_TEXT = re.compile(r"\bSTR(?:ING)?\b", re.IGNORECASE)
#: what a family is called in a CAST the translator sends: to SQLite, and to
#: the others (their 64-bit integer)
_TYPE_NAMES = {"integer": "INTEGER", "real": "REAL", "text": "TEXT"}
_SENT_TYPES = {"integer": "BIGINT", "text": "TEXT", "date": "DATE", "timestamp": "TIMESTAMP"}


class Expressions(Translator):
    """The translator with scalar expressions."""

    def expression(self, node: exp.Expression) -> Typed:
        handler = _HANDLERS.get(type(node))
        if handler is None:
            raise NotPushable(f"the expression {node.sql(dialect='sqlite')}")
        return handler(self, node)

    # -------------------------------------------------------- arithmetic

    def _numeric(self, operands: Iterable[Typed]) -> str:
        families = {t.family for t in operands} - {"param"}
        allowed = {"integer", "real"} if self.dialect.same else {"integer"}
        if not families or not families <= allowed:
            raise NotPushable(f"arithmetic of {', '.join(sorted(families)) or 'parameters'}")
        return "real" if "real" in families else "integer"

    def _number(self, typed: Typed, family: str) -> exp.Expression:
        expr = self._bind(typed, family)
        if self.dialect.same:
            return _grouped(expr)
        return exp.Cast(this=expr, to=_BIGINT.copy())

    def arithmetic(self, node: exp.Expression) -> Typed:
        left, right = self._operand(node.this), self._operand(node.expression)
        family = self._numeric((left, right))
        lhs, rhs = self._number(left, family), self._number(right, family)
        return _typed(self._operator(type(node), lhs, rhs), family, (left, right))

    def _operator(
        self, kind: type[exp.Expression], lhs: exp.Expression, rhs: exp.Expression
    ) -> exp.Expression:
        if kind is exp.Div and self.dialect.same:
            return exp.Div(this=lhs, expression=rhs, typed=True)  # SQLite's own /
        if self.dialect.same:
            return kind(this=lhs, expression=rhs)
        if kind is not exp.Mod:  # INT64_MIN % -1 is 0 everywhere
            self.guarded = True
        if kind in (exp.Div, exp.Mod):
            rhs = exp.Nullif(this=rhs, expression=exp.Literal.number(0))
        if kind is exp.Mod and self.dialect.name == "postgres":  # psycopg reads % itself
            return exp.Anonymous(this="mod", expressions=[lhs, rhs])
        if kind is exp.Div and self.dialect.name == "duckdb":  # its / is float division
            return exp.IntDiv(this=lhs, expression=rhs)
        if kind is exp.Div:
            return exp.Div(this=lhs, expression=rhs, typed=True)
        return kind(this=lhs, expression=rhs)

    def negative(self, node: exp.Expression) -> Typed:
        inner = self._operand(node.this)
        family = self._numeric((inner,))
        if not self.dialect.same:
            self.guarded = True  # -INT64_MIN
        return _typed(exp.Neg(this=_grouped(self._number(inner, family))), family, (inner,))

    def absolute(self, node: exp.Expression) -> Typed:
        inner = self._operand(node.this)
        family = self._numeric((inner,))
        if not self.dialect.same:
            self.guarded = True  # abs(INT64_MIN): SQLite raises too, in SQLite
        return _typed(exp.Abs(this=self._number(inner, family)), family, (inner,))

    # -------------------------------------------------------------- text

    def _text(self, typed: Typed) -> exp.Expression:
        if typed.family not in ("text", "param"):
            raise NotPushable(f"a text function of a {typed.family} value")
        return _grouped(self._placed(typed, "text"))

    def concat(self, node: exp.Expression) -> Typed:
        left, right = self._operand(node.this), self._operand(node.expression)
        if "text" not in (left.family, right.family):
            raise NotPushable("|| without a text value")
        out = exp.DPipe(this=self._text(left), expression=self._text(right), safe=True)
        return _typed(out, "text", (left, right))

    def length(self, node: exp.Expression) -> Typed:
        inner = self._operand(node.this)
        if inner.family != "text":
            raise NotPushable("length of a value that is not text")
        arg = self._text(inner)
        if self.dialect.name == "duckdb":  # SQLite's length stops at a NUL
            nul = exp.Anonymous(this="chr", expressions=[exp.Literal.number(0)])
            arg = exp.Anonymous(this="split_part", expressions=[arg, nul, exp.Literal.number(1)])
        return _typed(exp.Length(this=arg), "integer", (inner,))

    # ---------------------------------------------------- choices of one family

    def _family(self, operands: list[Typed]) -> str:
        families = {t.family for t in operands} - {"param", "null"}
        if self.dialect.same and families == {"integer", "real"}:
            return "real"
        if len(families) != 1 or not families <= COMPARABLE:
            raise NotPushable("values of different types")
        return families.pop()

    def _placed(self, typed: Typed, family: str) -> exp.Expression:
        """An operand as sent: a bound value typed on a server that would
        otherwise guess its type from the driver's (or leave it unknown)."""
        expr = self._bind(typed, family)
        if isinstance(expr, exp.Placeholder) and not self.dialect.same:
            return exp.Cast(this=expr, to=exp.DataType.build(_SENT_TYPES[family]))
        return expr

    def _bound_as(self, operands: list[Typed], family: str) -> list[exp.Expression]:
        return [self._placed(t, family) for t in operands]

    def coalesce(self, node: exp.Expression) -> Typed:
        operands = [self._operand(n) for n in [node.this, *node.expressions]]
        family = self._family(operands)
        first, *rest = self._bound_as(operands, family)
        return _typed(exp.Coalesce(this=first, expressions=rest), family, operands)

    def nullif(self, node: exp.Expression) -> Typed:
        operands = [self._operand(node.this), self._operand(node.expression)]
        if operands[0].family in ("param", "null"):
            raise NotPushable("nullif of a parameter")
        family = self._family(operands)
        first, second = self._bound_as(operands, family)
        return _typed(exp.Nullif(this=first, expression=second), family, operands)

    def extreme(self, node: exp.Expression) -> Typed:
        """The scalar max(a, b, ...) or min(a, b, ...): NULL if any is NULL."""
        operands = [self._operand(n) for n in [node.this, *node.expressions]]
        family = self._family(operands)
        args = self._bound_as(operands, family)
        if self.dialect.same:
            same = exp.Max if isinstance(node, exp.Greatest) else exp.Min
            return _typed(same(this=args[0], expressions=args[1:]), family, operands)
        if family == "text" and self.dialect.text_collation:
            args = [self._collate(a) for a in args]
        nulls = [exp.Is(this=_grouped(a.copy()), expression=exp.Null()) for a in args]
        test: exp.Expression = nulls[0]
        for more in nulls[1:]:
            test = exp.Or(this=test, expression=more)
        kind = exp.Greatest if isinstance(node, exp.Greatest) else exp.Least
        pick = kind(this=args[0], expressions=args[1:], ignore_nulls=True)
        out = exp.Case(ifs=[exp.If(this=test, true=exp.Null())], default=pick)
        return _typed(out, family, operands)

    def case(self, node: exp.Expression) -> Typed:
        subject = node.this
        conditions, results = [], []
        for branch in node.args.get("ifs") or []:
            check(branch)
            when = branch.this
            if subject is not None:
                conditions.append(self._compare(exp.EQ, subject, when))
            else:
                conditions.append(self.predicate(when))
            results.append(self._operand(branch.args["true"]))
        default = node.args.get("default")
        operands = results + ([self._operand(default)] if default is not None else [])
        family = self._family(operands)
        values = self._bound_as(operands, family)
        ifs = [exp.If(this=c, true=v) for c, v in zip(conditions, values, strict=False)]
        out = exp.Case(ifs=ifs, default=values[len(ifs)] if default is not None else None)
        aggregate = aggregates_in(node)  # in a condition too, not in a subquery
        return Typed(out, family, aggregate=aggregate, columns=self.bare(node))

    # ------------------------------------------------------------ casts

    def cast(self, node: exp.Expression) -> Typed:
        to = node.args["to"]
        check(to)
        target = _CASTS.get(to.this)
        if target is None or (to.this == exp.DataType.Type.TEXT and not self._text_spelled()):
            raise NotPushable(f"CAST AS {to.sql(dialect='sqlite')}")
        inner = self._operand(node.this)
        if inner.family not in ("integer", "text", "real") or (
            inner.family == "real" and not self.dialect.same
        ):
            raise NotPushable(f"CAST of a {inner.family} value")
        if target == "real" and not self.dialect.same:
            raise NotPushable("CAST AS REAL (no REAL family on this server)")
        if inner.family == "text" and target != "text":
            raise NotPushable("CAST of text to a number")
        if self.dialect.same:
            name = exp.DataType.build(_TYPE_NAMES[target], dialect="sqlite")
            return _typed(exp.Cast(this=_grouped(inner.expr), to=name), target, (inner,))
        if target == inner.family:  # an integer as INTEGER, text as TEXT
            return replace(inner, column=None, constant=None)
        return _typed(exp.Cast(this=inner.expr, to=exp.DataType.build("TEXT")), target, (inner,))

    def _text_spelled(self) -> bool:
        """The statement says TEXT (or CLOB), never STR or STRING."""
        return self.text is not None and not _NUMERIC_TEXT.search(self.text)

    def date(self, node: exp.Expression) -> Typed:
        inner = self._operand(node.this)
        if inner.family not in ("date", "timestamp"):
            raise NotPushable("date() of a value that is not a date or timestamp")
        if self.dialect.same:
            out: exp.Expression = exp.Anonymous(this="date", expressions=[inner.expr])
        else:
            out = exp.Cast(this=inner.expr, to=exp.DataType.build("DATE"))
        return _typed(out, "date", (inner,))


def _typed(expr: exp.Expression, family: str, parts: Iterable[Typed]) -> Typed:
    """An expression of ``parts``: an aggregate if one of them is, reading their columns."""
    parts = list(parts)
    columns: frozenset[tuple[str, str]] = frozenset()
    for part in parts:
        columns |= part.columns
    return Typed(expr, family, aggregate=any(p.aggregate for p in parts), columns=columns)


_HANDLERS: dict[type, Callable[[Expressions, exp.Expression], Typed]] = {
    exp.Add: Expressions.arithmetic,
    exp.Sub: Expressions.arithmetic,
    exp.Mul: Expressions.arithmetic,
    exp.Div: Expressions.arithmetic,
    exp.Mod: Expressions.arithmetic,
    exp.Neg: Expressions.negative,
    exp.Abs: Expressions.absolute,
    exp.DPipe: Expressions.concat,
    exp.Length: Expressions.length,
    exp.Coalesce: Expressions.coalesce,
    exp.Nullif: Expressions.nullif,
    exp.Greatest: Expressions.extreme,
    exp.Least: Expressions.extreme,
    exp.Case: Expressions.case,
    exp.Cast: Expressions.cast,
    exp.Date: Expressions.date,
}
