"""A foreign scan's plan: what BestIndex decides and Filter and EXPLAIN read.

``best_index`` turns SQLite's constraints into quals, its ORDER BY into sort
keys and ``colUsed`` into the columns to fetch, and asks the wrapper which of
them it honours.  Only quals the wrapper enforces exactly are omitted from
SQLite's own check; ORDER BY is consumed only when the wrapper sorts by all of
it; LIMIT/OFFSET are handed over only when every constraint and the whole
ORDER BY are honoured.  The ``Plan`` travels to ``Filter`` as JSON in
``idxStr`` (``Plan.encode``/``Plan.decode``), which is also what EXPLAIN reads.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import apsw

from .wrapper import ForeignDataWrapper, Qual, SortKey

_OPS = {
    apsw.SQLITE_INDEX_CONSTRAINT_EQ: "=",
    apsw.SQLITE_INDEX_CONSTRAINT_GT: ">",
    apsw.SQLITE_INDEX_CONSTRAINT_LE: "<=",
    apsw.SQLITE_INDEX_CONSTRAINT_LT: "<",
    apsw.SQLITE_INDEX_CONSTRAINT_GE: ">=",
    apsw.SQLITE_INDEX_CONSTRAINT_NE: "!=",
    apsw.SQLITE_INDEX_CONSTRAINT_IS: "IS",
    apsw.SQLITE_INDEX_CONSTRAINT_ISNOT: "IS NOT",
    apsw.SQLITE_INDEX_CONSTRAINT_ISNULL: "IS NULL",
    apsw.SQLITE_INDEX_CONSTRAINT_ISNOTNULL: "IS NOT NULL",
    apsw.SQLITE_INDEX_CONSTRAINT_LIKE: "LIKE",
    apsw.SQLITE_INDEX_CONSTRAINT_GLOB: "GLOB",
}
_NO_VALUE = ("IS NULL", "IS NOT NULL")


def _jsonable(value: Any) -> Any:
    """A value SQLite knew at planning time, as JSON that ``_unjson`` reads back."""
    if value is None or isinstance(value, (int, float, str)):
        return value
    if isinstance(value, bytes):
        return {"blob": value.hex()}
    if isinstance(value, (set, frozenset, tuple, list)):
        return [_jsonable(v) for v in value]
    return {"repr": repr(value)}


def _unjson(value: Any) -> Any:
    if isinstance(value, dict):
        return bytes.fromhex(value["blob"]) if "blob" in value else value["repr"]
    if isinstance(value, list):
        return tuple(_unjson(v) for v in value)
    return value


@dataclass
class PlannedQual:
    column: int  # the column's number
    operator: str
    position: int | None  # where Filter finds its value in constraintargs (1-based)
    known: Any  # the value when SQLite knew it at planning time, else None
    exact: bool  # the wrapper honours it: SQLite does not check it again

    @property
    def fixed(self) -> bool:
        """Its value is the same in every Filter of a statement: it has none,
        or SQLite knew it at planning time (a constant)."""
        return self.position is None or self.known is not None


@dataclass
class Plan:
    """What BestIndex decided for one scan: the one thing that travels to
    Filter and to EXPLAIN, as JSON in ``idxStr`` (``encode``/``decode``)."""

    table: str
    quals: list[PlannedQual] = field(default_factory=list)
    columns: list[int] = field(default_factory=list)
    sort: list[tuple[int, bool]] = field(default_factory=list)  # consumed ORDER BY
    limit: int | None = None  # position of LIMIT's value in constraintargs
    offset: int | None = None  # position of OFFSET's value
    known: dict[str, Any] = field(default_factory=dict)  # LIMIT/OFFSET known at planning
    #: made while another connection's schema change kept the catalog out of
    #: reach: SQLite prepares the statement again before it runs
    stale: bool = False
    #: When SQLite filters this scan again within a statement, the module holds
    #: its rows in memory once and answers from them (vtables.materialize),
    #: indexed on these columns (those of the equality quals the wrapper does
    #: not honour); None: every Filter asks the wrapper (a qual it honours
    #: changes between Filters, or LIMIT/OFFSET are pushed).
    cache: list[int] | None = None

    def encode(self) -> str:
        return json.dumps(
            {
                "table": self.table,
                "quals": [
                    [q.column, q.operator, q.position, _jsonable(q.known), q.exact]
                    for q in self.quals
                ],
                "columns": self.columns,
                "sort": [list(s) for s in self.sort],
                "limit": self.limit,
                "offset": self.offset,
                "known": self.known,
                "stale": self.stale,
                "cache": self.cache,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, text: str) -> Plan:
        raw = json.loads(text)
        return cls(
            table=raw["table"],
            quals=[PlannedQual(c, op, pos, _unjson(k), ex) for c, op, pos, k, ex in raw["quals"]],
            columns=raw["columns"],
            sort=[(c, bool(d)) for c, d in raw["sort"]],
            limit=raw["limit"],
            offset=raw["offset"],
            known=raw["known"],
            stale=raw["stale"],
            cache=raw.get("cache"),
        )


@dataclass
class _Constraints:
    """SQLite's constraints as the wrapper sees them, with where Filter finds values."""

    quals: list[PlannedQual] = field(default_factory=list)
    asked: list[Qual] = field(default_factory=list)  # what the wrapper's estimate sees
    all_exact: bool = True  # every usable constraint is honoured
    argv: int = 0  # constraint arguments handed to Filter so far
    limits: list[tuple[int, int]] = field(default_factory=list)  # LIMIT/OFFSET constraints


def best_index(
    info: apsw.IndexInfo,
    wrapper: ForeignDataWrapper,
    table: str,
    names: list[str],
    collated: set[int],
    in_lists: bool = True,
) -> Plan:
    """Plan a scan of ``table`` (columns ``names``; ``collated``: the numbers of
    columns with a collation other than BINARY) and fill in ``info``'s usage,
    cost and order answers.  ``honours`` sees each qual's value when SQLite
    knows it at planning time, else None.  ``in_lists``: an IN list may be
    handed to Filter whole (one scan), else SQLite gives its values one by one."""
    found = _constraints(info, wrapper, names, in_lists)
    sortkeys, sorted_ok = _order(info, wrapper, names, collated)
    known: dict[str, Any] = {}
    limit_at = offset_at = None
    whole_order = sorted_ok or info.nOrderBy == 0
    if found.limits and found.all_exact and whole_order and wrapper.can_limit():
        for i, op in found.limits:
            found.argv += 1
            info.set_aConstraintUsage_argvIndex(i, found.argv)
            info.set_aConstraintUsage_omit(i, True)
            key = "limit" if op == apsw.SQLITE_INDEX_CONSTRAINT_LIMIT else "offset"
            known[key] = info.get_aConstraint_rhs(i)
            if key == "limit":
                limit_at = found.argv
            else:
                offset_at = found.argv
    used = _columns_used(info, len(names))
    columns = [names[c] for c in used]
    rows, cost = wrapper.estimate(found.asked, columns)
    cache = None if limit_at or offset_at else cache_keys(found.quals)
    if cache:
        # A rescan answers from the module's index (vtables.materialize): the
        # scan costs a lookup and its rows, as a native table's automatic
        # index would, not the wrapper's pass over its whole source.
        fixed = [a for a, q in zip(found.asked, found.quals, strict=True) if q.fixed]
        whole, _cost = wrapper.estimate(fixed, columns)
        rows = min(float(rows), PROBE_ROWS)
        cost = min(float(cost), rows + math.log2(max(float(whole), 1.0) + 1.0))
    info.estimatedRows = max(int(rows), 1)
    info.estimatedCost = float(cost)
    return Plan(
        table=table,
        quals=found.quals,
        columns=used,
        sort=[(names.index(k.column), k.descending) for k in sortkeys] if sorted_ok else [],
        limit=limit_at,
        offset=offset_at,
        known=known,
        cache=cache,
    )


#: the rows SQLite is told an indexed equality probe returns (its own guess
#: for an equality on an index without statistics)
PROBE_ROWS = 10.0
_EQUALITY = ("=", "IS", "IN")


def cache_keys(quals: list[PlannedQual]) -> list[int] | None:
    """The columns a rescan's rows are indexed on: those of the equality
    quals the wrapper does not honour whose values change between Filters.
    None when a qual the wrapper honours changes between Filters: the
    wrapper then probes the source (a key lookup), which stays as it is."""
    keys: list[int] = []
    for q in quals:
        if q.fixed:
            continue
        if q.exact:
            return None
        if q.operator in _EQUALITY and q.column not in keys:
            keys.append(q.column)
    return keys


def _constraints(
    info: apsw.IndexInfo, wrapper: ForeignDataWrapper, names: list[str], in_lists: bool = True
) -> _Constraints:
    found = _Constraints()
    ncols = len(names)
    for i in range(info.nConstraint):
        op = info.get_aConstraint_op(i)
        usable = info.get_aConstraint_usable(i)
        if op in (apsw.SQLITE_INDEX_CONSTRAINT_LIMIT, apsw.SQLITE_INDEX_CONSTRAINT_OFFSET):
            if usable:
                found.limits.append((i, op))
            continue
        column = info.get_aConstraint_iColumn(i)
        operator = _OPS.get(op)
        if operator is None or not 0 <= column < ncols:
            found.all_exact = found.all_exact and not usable
            continue
        if not usable:
            found.all_exact = False
            continue
        if operator not in _NO_VALUE and info.get_aConstraint_collation(i).upper() != "BINARY":
            # compared with another collation (COLLATE NOCASE...): wrappers
            # compare as BINARY, so SQLite alone checks it, and nothing below
            # may be handed to the wrapper that would stand for it
            found.all_exact = False
            continue
        if operator == "=" and in_lists and info.get_aConstraintUsage_in(i):
            info.set_aConstraintUsage_in(i, True)
            operator = "IN"
        known = None if operator in _NO_VALUE else info.get_aConstraint_rhs(i)
        qual = Qual(names[column], operator, known)
        position = None
        if operator not in _NO_VALUE:
            found.argv += 1
            position = found.argv
            info.set_aConstraintUsage_argvIndex(i, found.argv)
        exact = bool(wrapper.honours(qual))
        if exact:
            info.set_aConstraintUsage_omit(i, True)
        else:
            found.all_exact = False
        found.quals.append(PlannedQual(column, operator, position, known, exact))
        found.asked.append(qual)
    return found


def _order(
    info: apsw.IndexInfo, wrapper: ForeignDataWrapper, names: list[str], collated: set[int]
) -> tuple[list[SortKey], bool]:
    """The ORDER BY as sort keys, and whether the wrapper sorts by all of it."""
    sortkeys = []
    for j in range(info.nOrderBy):
        column = info.get_aOrderBy_iColumn(j)
        if column < 0 or column >= len(names) or column in collated:
            return [], False  # wrappers sort as BINARY: a NOCASE column is SQLite's
        sortkeys.append(SortKey(names[column], bool(info.get_aOrderBy_desc(j))))
    if not sortkeys:
        return [], False
    sorted_ok = bool(wrapper.can_sort(sortkeys))
    info.orderByConsumed = sorted_ok
    return sortkeys, sorted_ok


def _columns_used(info: apsw.IndexInfo, ncols: int) -> list[int]:
    """The numbers of the columns the statement reads (bit 63 of colUsed
    stands for every column from the 64th on)."""
    used = sorted(info.colUsed)
    if used and used[-1] >= 63:
        used = [c for c in used if c < 63] + list(range(63, ncols))
    return [c for c in used if c < ncols]


def stale(table: str) -> Plan:
    """The plan of a scan prepared while the catalog could not be read."""
    return Plan(table=table, stale=True)
