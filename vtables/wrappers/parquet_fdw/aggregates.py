"""count, min, max and sum over a Parquet or Arrow dataset, by Arrow.

The statement planner hands ``SELECT keys, aggregates FROM t WHERE quals
GROUP BY keys`` to ``DatasetAggregates`` when every column involved reaches
SQLite exactly as Arrow holds it (``filters.exact_kind``) and the aggregate
gives SQLite's answer whatever the order of the rows:

- ``count(*)``, ``count(x)``: a NaN is NULL to SQLite, not counted;
- ``count(DISTINCT x)`` of integers or text, without GROUP BY;
- ``min`` / ``max`` of integers or text (text compares byte by byte, as
  SQLite's BINARY collation; floats stay in SQLite: -0.0 and 0.0, NaN);
- ``sum`` of integers, exact: SQLite stops with "integer overflow" when a
  running total leaves 64 bits, so where the absolute values could add up
  that far the rows are summed again one by one, in the scan's order;
- ``sum`` of a REAL column without GROUP BY, with the C speedups: SQLite
  sums doubles with a compensated (Kahan-Babuska-Neumaier) step whose result
  depends on the order, so the C loop (``_speedups.sum_reals``) takes the
  same steps over the values in the scan's order (grouped, or without the C
  speedups, SQLite sums the rows itself).

Groups come in the order of their keys, as SQLite's GROUP BY gives them.
``count(*)`` without GROUP BY is the dataset's row count, from the Parquet
footers when no qual needs the rows.  Everything is read a chunk at a time:
memory holds one chunk and the groups' partial results, never the table.
When the files changed since the statement was planned (a column's type is
no longer the one the plan counted on), the aggregates are computed again
from the rows the scan gives, one by one, by SQLite's rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import apsw

from vtables import semantics
from vtables.remotesql import Aggregate, AggregateQuery, Aggregator
from vtables.wrapper import Qual

#: past this the absolute values might make SQLite's running total overflow
_SAFE = float(2**62)
_COMBINE = {"count": "sum", "count_all": "sum", "sum": "sum", "min": "min", "max": "max"}
_PARTIALS = 1 << 20  # rows of partial results kept before they are combined
_CHUNK = 1 << 20  # rows aggregated at a time
_OUT = 65536  # result rows made into tuples at a time


def _label(spec: tuple[Any, str]) -> str:
    """The name Arrow gives a grouped aggregate's column."""
    column, function = spec
    return function if not column else f"{column}_{function}"


@dataclass
class Source:
    """What the aggregates read, from the wrapper."""

    #: the table's columns: their exact kind (filters.exact_kind) or None, as planned
    kinds: dict[str, str | None]
    #: the same, as the files are now
    kinds_now: Callable[[], dict[str, str | None]]
    #: record batches of these columns under these quals (and the text columns
    #: to read dictionary-encoded)
    batches: Callable[..., Iterator[Any]]
    #: the rows (values as SQLite sees them) of these columns under these quals
    rows: Callable[[list[Qual], list[str]], Iterator[tuple]]
    #: how many rows these quals leave
    count: Callable[[list[Qual]], int]
    described: str
    #: SQLite's sum() of doubles carried over a buffer (``_speedups.sum_reals``),
    #: None without the C speedups: a REAL column's sum then stays SQLite's
    sum_reals: Callable[..., tuple[float, float, int]] | None = None


class DatasetAggregates(Aggregator):
    """The aggregates of one foreign table over its dataset."""

    def __init__(self, source: Source):
        self.source = source
        self.kinds = source.kinds

    def accepts(self, query: AggregateQuery) -> bool:
        from .filters import OPERATORS

        kinds = self.kinds
        if any(q.operator not in OPERATORS or kinds.get(q.column) is None for q in query.quals):
            return False
        if any(kinds.get(k) not in ("int", "string") for k in query.group_by):
            return False
        return all(self._takes(a, bool(query.group_by)) for a in query.aggregates)

    def _takes(self, agg: Aggregate, grouped: bool) -> bool:
        if agg.column is None:
            return agg.function == "count"
        kind = self.kinds.get(agg.column)
        if agg.function == "count":
            return kind is not None and (not agg.distinct or (kind != "float" and not grouped))
        if agg.function in ("min", "max"):
            return kind in ("int", "string")
        if agg.function == "sum" and kind == "float":  # SQLite's own summation, in order
            return self.source.sum_reals is not None and not grouped
        return agg.function == "sum" and kind == "int"

    def describe(self) -> str:
        return self.source.described

    def run(self, query: AggregateQuery) -> Iterable[tuple]:
        if self.source.kinds_now() != self.kinds:  # the files changed since planning
            return one_by_one(self.source, query)
        if not query.group_by and all(
            a.function == "count" and a.column is None for a in query.aggregates
        ):
            total = self.source.count(list(query.quals))
            return [tuple(total for _ in query.aggregates)]
        return _Run(self.source, query).rows()


class _Run:
    """One aggregate query: partial results chunk by chunk, then combined.

    A partial result is a table of the group keys (``k0``...) and one column
    per partial aggregate (``p0``...), whatever names Arrow gives them."""

    def __init__(self, source: Source, query: AggregateQuery):
        self.source = source
        self.query = query
        self.keys = list(query.group_by)
        aggs = query.aggregates
        self.columns = list(dict.fromkeys([*self.keys, *(a.column for a in aggs if a.column)]))
        #: the partial aggregates, (input column or [] for count(*), function)
        self.partial: list[tuple[Any, str]] = []
        #: per aggregate: the index of its partial, or None for a DISTINCT
        self.slots: list[int | None] = []
        #: the sums of REAL columns (no GROUP BY): aggregate -> its column
        self.reals = {
            i: a.column
            for i, a in enumerate(aggs)
            if a.function == "sum" and a.column and source.kinds.get(a.column) == "float"
        }
        for i, agg in enumerate(aggs):
            if agg.distinct or i in self.reals:
                self.slots.append(None)
                continue
            spec: tuple[Any, str] = ([], "count_all")
            if agg.column is not None:
                spec = (self._col(agg.column), agg.function)
            self.slots.append(self._slot(spec))
        self.sums = sorted(
            {a.column for i, a in enumerate(aggs) if a.function == "sum" and a.column}
            - set(self.reals.values())
        )
        #: per summed column, a bound on the absolute values' total: its count
        #: times the chunk's largest absolute value, to know the sums are exact
        self.counts = {c: self._slot((self._col(c), "count")) for c in self.sums}
        self.checks = [self._slot((f"bound{self._col(c)}", "sum")) for c in self.sums]

    def _slot(self, spec: tuple[Any, str]) -> int:
        if spec not in self.partial:
            self.partial.append(spec)
        return self.partial.index(spec)

    def _col(self, column: str) -> str:
        return f"c{self.columns.index(column)}"

    def rows(self) -> Iterable[tuple]:
        import pyarrow as pa
        import pyarrow.compute as pc

        partials: list[Any] = []
        held = 0
        aggs = self.query.aggregates
        distinct: dict[int, Any] = {
            i: None for i, slot in enumerate(self.slots) if slot is None and i not in self.reals
        }
        reals = {i: _Total() for i in self.reals}
        grouped = [s for s in self.partial if not s[0] or not s[0].startswith("bound")]
        for table, tops in self._chunks():
            for i, found in distinct.items():  # the distinct values so far
                values = pc.unique(table[self._col(aggs[i].column or "")].combine_chunks())
                both = values if found is None else pa.concat_arrays([found, values])
                distinct[i] = pc.unique(both) if found is not None else values
            for i, total in reals.items():  # in the scan's order, as SQLite adds them
                for values in table[self._col(self.reals[i])].chunks:
                    doubles = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
                    total.add_reals(self.source.sum_reals, doubles)  # (NULL as NaN: skipped)
            if self.partial:
                part = table.group_by([self._col(k) for k in self.keys]).aggregate(grouped)
                partials.append(self._canon(part, tops))
                held += part.num_rows
                if held > _PARTIALS:
                    partials = [self._combine(partials)]
                    held = partials[0].num_rows
        combined = self._combine(partials) if partials else None
        if combined is not None and any(
            (pc.max(combined[f"p{c}"]).as_py() or 0) >= _SAFE for c in self.checks
        ):
            return one_by_one(self.source, self.query)
        totals = {i: 0 if v is None else pc.count(v).as_py() for i, v in distinct.items()}
        totals.update({i: total.finish() for i, total in reals.items()})
        return self._output(combined, totals)

    def _canon(self, table: Any, tops: dict[str, float]) -> Any:
        """A chunk's partial results under the canonical names; a summed
        column's bound is its count in the group times the chunk's largest
        absolute value."""
        import pyarrow as pa
        import pyarrow.compute as pc

        keys = [self._col(k) for k in self.keys]
        columns = {  # dictionaries differ chunk to chunk: plain text
            f"k{j}": table[name]
            if not pa.types.is_dictionary(table[name].type)
            else pc.cast(table[name], pa.string())
            for j, name in enumerate(keys)
        }
        for i, spec in enumerate(self.partial):
            if spec[0] and spec[0].startswith("bound"):
                column = self.columns[int(spec[0][len("boundc") :])]
                counts = table[_label(self.partial[self.counts[column]])]
                columns[f"p{i}"] = pc.multiply(counts.cast(pa.float64()), tops[column])
            else:
                columns[f"p{i}"] = table[_label(spec)]
        return pa.table(columns)

    def _chunks(self) -> Iterator[tuple[Any, dict[str, float]]]:
        """The rows as tables of about _CHUNK rows (Arrow groups a table much
        faster than as many record batches), a NaN as NULL, with each summed
        column's largest absolute value."""
        # group keys no aggregate reads come dictionary-encoded: grouped faster
        inputs = {a.column for a in self.query.aggregates}
        texts = [k for k in self.keys if self.source.kinds.get(k) == "string" and k not in inputs]
        held: list[Any] = []
        rows = 0
        for batch in self.source.batches(self.columns, list(self.query.quals), texts):
            held.append(batch)
            rows += batch.num_rows
            if rows >= _CHUNK:
                yield self._table(held)
                held, rows = [], 0
        if held:
            yield self._table(held)

    def _table(self, batches: list[Any]) -> tuple[Any, dict[str, float]]:
        import pyarrow as pa
        import pyarrow.compute as pc

        table = pa.Table.from_batches(batches).unify_dictionaries()
        # a NaN is NULL to SQLite: never counted (a sum of reals skips it itself)
        counted = {a.column for i, a in enumerate(self.query.aggregates) if i not in self.reals}
        arrays = [
            pc.if_else(pc.is_nan(a), pa.scalar(None, a.type), a)
            if self.source.kinds.get(name) == "float" and name in counted
            else a
            for name, a in zip(self.columns, table.columns, strict=True)
        ]
        tops = {}
        for column in self.sums:
            extremes = pc.min_max(table.column(self.columns.index(column))).as_py()
            tops[column] = float(max(abs(extremes["min"] or 0), abs(extremes["max"] or 0)))
        names = [f"c{i}" for i in range(len(arrays))]
        return pa.Table.from_arrays(arrays, names=names), tops

    def _combine(self, partials: list[Any]) -> Any:
        import pyarrow as pa

        table = pa.concat_tables(partials)
        keys = [f"k{j}" for j in range(len(self.keys))]
        specs = [(f"p{i}", _COMBINE[fn]) for i, (_col, fn) in enumerate(self.partial)]
        out = table.group_by(keys).aggregate(specs)
        labels = [f"p{i}_{_COMBINE[fn]}" for i, (_col, fn) in enumerate(self.partial)]
        columns = {k: out[k] for k in keys}
        columns.update({f"p{i}": out[label] for i, label in enumerate(labels)})
        return pa.table(columns)

    def _output(self, combined: Any, distinct: dict[int, int]) -> Iterable[tuple]:
        if combined is None:  # no batch at all: one row without GROUP BY, none with
            if self.keys:
                return []
            return [
                tuple(
                    distinct[i] if slot is None else (0 if a.function == "count" else None)
                    for i, (a, slot) in enumerate(
                        zip(self.query.aggregates, self.slots, strict=True)
                    )
                )
            ]
        keys = [f"k{j}" for j in range(len(self.keys))]
        if keys:  # SQLite's order: NULL first, numbers by value, text byte by byte
            combined = _sorted(combined, keys)
        names = [*keys, *(f"p{slot}" for slot in self.slots if slot is not None)]
        return _tuples(combined.select(names), self.slots, distinct, len(keys))


def _sorted(table: Any, keys: list[str]) -> Any:
    """The table by its keys, NULL first."""
    try:  # pyarrow 25 and later: the NULLs' place per key
        return table.sort_by([(k, "ascending", "at_start") for k in keys])
    except (TypeError, ValueError):
        return table.sort_by([(k, "ascending") for k in keys], null_placement="at_start")


def _tuples(table: Any, slots: list[int | None], distinct: dict[int, int], keys: int):
    """The result's rows, made a slice at a time (many groups stay Arrow's)."""
    for start in range(0, table.num_rows, _OUT):
        part = table.slice(start, _OUT)
        columns = [c.to_pylist() for c in part.columns]
        values = columns[:keys]
        rest = iter(columns[keys:])
        for i, slot in enumerate(slots):
            values.append([distinct[i]] * part.num_rows if slot is None else next(rest))
        yield from zip(*values, strict=True)


def one_by_one(source: Source, query: AggregateQuery) -> list[tuple]:
    """Every aggregate from the rows the scan gives (values as SQLite sees
    them), in its order: the exact answer where Arrow's could differ (a sum
    whose running total may overflow, files changed since planning)."""
    keys = list(query.group_by)
    aggs = query.aggregates
    columns = list(dict.fromkeys([*keys, *(a.column for a in aggs if a.column)]))
    at = {name: i for i, name in enumerate(columns)}
    groups: dict[tuple, list[Any]] = {}
    for row in source.rows(list(query.quals), columns):
        key = tuple(_Key(row[at[k]]) for k in keys)
        state = groups.get(key)
        if state is None:
            state = groups[key] = [_start(a) for a in aggs]
        for i, agg in enumerate(aggs):
            state[i] = _step(agg, state[i], row[at[agg.column]] if agg.column else 1)
    if not groups and not keys:
        groups[()] = [_start(a) for a in aggs]
    return [
        (*(k.value for k in key), *(_finish(a, s) for a, s in zip(aggs, state, strict=True)))
        for key, state in sorted(groups.items(), key=lambda item: item[0])
    ]


class _Key:
    """A value ordered and compared as SQLite orders it (NULL, numbers, text, blobs)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __lt__(self, other: _Key) -> bool:
        return semantics.compare(self.value, other.value) < 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and semantics.compare(self.value, other.value) == 0

    def __hash__(self) -> int:
        value = self.value
        if isinstance(value, float) and value.is_integer():
            return hash(int(value))  # 2.0 and 2 are one group
        return hash(value)


class _Total:
    """SQLite's sum(): an exact 64-bit integer total while every value is an
    integer (an overflow noted), then a Kahan-Babuska-Neumaier sum of doubles,
    step for step as SQLite takes them (its SumCtx)."""

    def __init__(self) -> None:
        self.count = 0
        self.integer = 0
        self.approx = False
        self.overflow = False
        self.sum = 0.0
        self.error = 0.0

    def add(self, value: Any) -> None:
        self.count += 1
        if not self.approx:
            if isinstance(value, float):
                self._start(self.integer)
                self._step(value)
                return
            total = self.integer + value
            if -(2**63) <= total < 2**63:
                self.integer = total
                return
            self.overflow = True
            self._start(self.integer)
            self._step_integer(value)
        elif isinstance(value, float):
            self.overflow = False
            self._step(value)
        else:
            self._step_integer(value)

    def add_reals(self, sum_reals: Any, values: Any) -> None:
        """Doubles (NaN for NULL) added in order, by the C loop."""
        if not self.approx:
            self._start(self.integer)
        before = self.count
        self.sum, self.error, self.count = sum_reals(values, self.sum, self.error, self.count)
        if self.count > before:  # a REAL value clears an integer overflow, as in SQLite
            self.overflow = False

    def _start(self, value: int) -> None:
        self.approx = True
        self.sum, self.error = _split(value)

    def _step(self, value: float) -> None:
        s = self.sum
        t = s + value
        self.error += (s - t) + value if abs(s) > abs(value) else (value - t) + s
        self.sum = t

    def _step_integer(self, value: int) -> None:
        big, small = _split(value)
        self._step(big)
        if small or abs(value) >= 2**52:
            self._step(small)

    def finish(self) -> Any:
        if not self.count:
            return None
        if not self.approx:
            return self.integer
        if self.overflow:
            raise apsw.SQLError("integer overflow")
        error = self.error
        total = self.sum if math.isinf(error) or math.isnan(error) else self.sum + error
        return None if math.isnan(total) else total  # SQLite stores a NaN as NULL


def _split(value: int) -> tuple[float, float]:
    """An integer as two doubles that hold it exactly, as SQLite splits one
    past 2**52 (the remainder of C's division by 16384, toward zero)."""
    if -(2**52) < value < 2**52:
        return float(value), 0.0
    small = abs(value) % 16384 * (1 if value >= 0 else -1)
    return float(value - small), float(small)


def _start(agg: Aggregate) -> Any:
    if agg.distinct:
        return set()
    if agg.function == "sum":
        return _Total()
    return 0 if agg.function == "count" else None


def _step(agg: Aggregate, state: Any, value: Any) -> Any:
    if value is None or value != value:  # NULL, or a NaN (NULL to SQLite)
        return state
    if agg.distinct:
        state.add(_Key(value))
        return state
    if agg.function == "count":
        return state + 1
    if agg.function == "sum":
        state.add(value)
        return state
    if state is None:
        return value
    order = semantics.compare(value, state)
    return value if (order < 0 if agg.function == "min" else order > 0) else state


def _finish(agg: Aggregate, state: Any) -> Any:
    if agg.distinct:
        return len(state)
    return state.finish() if isinstance(state, _Total) else state
