"""Quals as Arrow dataset filters that give SQLite's answer exactly.

A qual is pushed into the dataset scan (where Parquet's row-group statistics
and hive partitions prune what is read) only on a column whose values reach
SQLite unchanged: an Arrow integer column declared with an integer type, a
floating-point one declared real, a string one declared text.  For those,
every value SQLite can hand over is translated exactly, by SQLite's rules
(``vtables.semantics``):

- the value first takes the column's affinity, as SQLite's own check would
  (``n = '4'`` is ``n = 4``);
- values of another storage class compare by class, NULL < numbers < text <
  blobs: ``n < 'abc'`` holds for every non-NULL number, ``n = 'abc'`` never;
- an integer column against a REAL compares the numbers exactly (``n < 2.5``
  is ``n <= 2``), a REAL column against an integer a double cannot hold
  exactly too (its two neighbouring doubles bound it);
- a NaN stored as REAL is NULL to SQLite: ``IS NULL`` finds it and no
  comparison does;
- a comparison with NULL holds nowhere; ``IS`` / ``IS NOT`` are the
  NULL-safe ones.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from typing import Any

from vtables import semantics, types
from vtables.wrapper import Qual

#: the operators every exact column honours
OPERATORS = frozenset(
    {"=", "<", "<=", ">", ">=", "!=", "IS", "IS NOT", "IS NULL", "IS NOT NULL", "IN"}
)

_INT64 = (-(2**63), 2**63 - 1)
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
_RANK_NUMBER, _RANK_TEXT, _RANK_BLOB = 1, 2, 3


def arrow_kind(arrow_type: Any) -> str | None:
    """``int``, ``float`` or ``string`` for the Arrow types SQLite sees as they
    are (uint64 is not one: past 2**63 it is no SQLite integer), else None."""
    import pyarrow.types as pt

    if pt.is_integer(arrow_type) and not pt.is_uint64(arrow_type):
        return "int"
    if pt.is_floating(arrow_type):
        return "float"
    if pt.is_string(arrow_type) or pt.is_large_string(arrow_type):
        return "string"
    return None


_FAMILY_OF = {"int": "integer", "float": "real", "string": "text"}
#: the declared families whose quals a scan enforces (in the filter, or itself)
FAMILIES = frozenset(_FAMILY_OF.values())


def exact_kind(declared: str, arrow_type: Any) -> str | None:
    """The column's kind when its values reach SQLite exactly as Arrow holds
    them (see the module's docstring), else None."""
    kind = arrow_kind(arrow_type)
    if kind is None or types.family(declared) != _FAMILY_OF[kind]:
        return None
    return kind


def _rank(value: Any) -> int:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _RANK_BLOB
    if isinstance(value, str):
        return _RANK_TEXT
    return _RANK_NUMBER


class Column:
    """One exact column of the dataset, as filters name it; ``declared`` its
    declared type, whose affinity SQLite applies to the values it is compared
    with (it hands them over without)."""

    def __init__(self, name: str, kind: str, declared: str):
        import pyarrow.dataset as ds

        self.kind = kind
        self.affinity = semantics.affinity(declared)
        self.field = ds.field(name)

    # -- the pieces a filter is made of
    def none(self) -> Any:
        import pyarrow.compute as pc

        return pc.scalar(False)

    def present(self) -> Any:
        """Not NULL, as SQLite sees it (a NaN is NULL)."""
        return ~self.field.is_null(nan_is_null=self.kind == "float")

    def absent(self) -> Any:
        return self.field.is_null(nan_is_null=self.kind == "float")

    def compare(self, op: str, value: Any) -> Any:
        """``column op value`` for one comparison operator and a non-NULL value."""
        rank = _RANK_TEXT if self.kind == "string" else _RANK_NUMBER
        if _rank(value) != rank:  # every value of the column sorts before or after it
            below = rank < _rank(value)
            holds = op == "!=" or (op in ("<", "<=") if below else op in (">", ">="))
            return self.present() if holds else self.none()
        if self.kind == "string":
            return _apply(self.field, op, value)
        lo, hi = self._neighbours(value)
        if lo is None or hi is None:  # beyond every value the column can hold
            holds = op == "!=" or (op in ("<", "<=") if lo is not None else op in (">", ">="))
            return self.present() if holds else self.none()
        if lo == hi:
            found = _apply(self.field, op, lo)
            return found & ~self.field.is_nan() if op == "!=" and self.kind == "float" else found
        # strictly between two values the column can hold
        if op == "=":
            return self.none()
        if op == "!=":
            return self.present()
        return self.field <= lo if op in ("<", "<=") else self.field >= hi

    def _neighbours(self, value: Any) -> tuple[Any, Any]:
        """The column's representable values next to ``value`` (a number):
        both the value itself when it is one; None past the column's range."""
        if self.kind == "int":
            if isinstance(value, float):
                if math.isinf(value):
                    return (_INT64[1], None) if value > 0 else (None, _INT64[0])
                lo, hi = math.floor(value), math.ceil(value)
            else:
                lo = hi = int(value)
            if lo > _INT64[1]:
                return _INT64[1], None
            if hi < _INT64[0]:
                return None, _INT64[0]
            return lo, hi
        if isinstance(value, float):
            return value, value
        as_float = float(value)
        if as_float == value or math.isinf(as_float):
            return as_float, as_float
        if int(as_float) < value:
            return as_float, math.nextafter(as_float, math.inf)
        return math.nextafter(as_float, -math.inf), as_float

    # -- a qual
    def qual(self, qual: Qual) -> Any:
        op, value = qual.operator, qual.value
        if op == "IN":
            value = [semantics.apply_affinity(self.affinity, v) for v in value or ()]
        else:
            value = semantics.apply_affinity(self.affinity, value)
        if op == "IS NULL" or (op == "IS" and value is None):
            return self.absent()
        if op == "IS NOT NULL" or (op == "IS NOT" and value is None):
            return self.present()
        if op == "IS":
            return self.compare("=", value)
        if op == "IS NOT":
            return self.compare("!=", value) | self.absent()
        if op == "IN":
            return self.within(value or ())
        if value is None:
            return self.none()
        return self.compare(op, value)

    def within(self, values: Iterable[Any]) -> Any:
        same: list[Any] = []
        for value in values:
            if value is None:
                continue
            if self.kind == "string":
                if isinstance(value, str):
                    same.append(value)
                continue
            if _rank(value) != _RANK_NUMBER:
                continue
            lo, hi = self._neighbours(value)
            if lo is not None and lo == hi:
                same.append(lo)
        if not same:
            return self.none()
        if self.kind == "float":  # isin hashes: -0.0 would not find 0.0
            return conjunction([self.field == v for v in same], disjoin=True)
        return self.field.isin(same)


_COMPARE = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _apply(field: Any, op: str, value: Any) -> Any:
    return _COMPARE[op](field, value)


def conjunction(parts: list[Any], *, disjoin: bool = False) -> Any:
    """The parts ANDed, or ORed when ``disjoin`` (None for none)."""
    out = None
    for part in parts:
        out = part if out is None else (out | part if disjoin else out & part)
    return out
