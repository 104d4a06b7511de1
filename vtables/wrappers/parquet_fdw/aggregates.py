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
  that far the rows are summed again one by one, in the scan's order.

``count(*)`` without GROUP BY is the dataset's row count, from the Parquet
footers when no qual needs the rows.  Everything is read batch by batch:
memory holds one batch and the groups' partial results, never the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apsw

from vtables import semantics
from vtables.remotesql import Aggregate, AggregateQuery, Aggregator

#: past this the absolute values might make SQLite's running total overflow
_SAFE = float(2**62)
_COMBINE = {"count": "sum", "count_all": "sum", "sum": "sum", "min": "min", "max": "max"}


def _label(spec: tuple[Any, str]) -> str:
    """The name Arrow gives a grouped aggregate's column."""
    column, function = spec
    return function if not column else f"{column}_{function}"


_PARTIALS = 1 << 20  # rows of partial results kept before they are combined
_CHUNK = 1 << 20  # rows aggregated at a time


class DatasetAggregates(Aggregator):
    """The aggregates of one foreign table over its dataset."""

    def __init__(
        self,
        kinds: dict[str, str | None],
        batches: Callable[..., Iterator[Any]],
        count: Callable[[list[Any]], int],
        described: str,
    ):
        #: the table's columns: their exact kind (filters.exact_kind) or None
        self.kinds = kinds
        #: the record batches of these columns under these quals (and the
        #: text columns to read dictionary-encoded)
        self.batches = batches
        #: the rows under these quals
        self.count = count
        self.described = described

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
        return agg.function == "sum" and kind == "int"

    def describe(self) -> str:
        return self.described

    def run(self, query: AggregateQuery) -> Iterable[tuple]:
        quals = list(query.quals)
        if not query.group_by and all(
            a.function == "count" and a.column is None for a in query.aggregates
        ):
            total = self.count(quals)
            return [tuple(total for _ in query.aggregates)]
        return _Run(self, query).rows()


class _Run:
    """One aggregate query: partial results batch by batch, then combined.

    A partial result is a table of the group keys (``k0``...) and one column
    per partial aggregate (``p0``...), whatever names Arrow gives them."""

    def __init__(self, owner: DatasetAggregates, query: AggregateQuery):
        self.owner = owner
        self.query = query
        self.keys = list(query.group_by)
        aggs = query.aggregates
        self.columns = list(dict.fromkeys([*self.keys, *(a.column for a in aggs if a.column)]))
        #: the partial aggregates, (input column or [] for count(*), function)
        self.partial: list[tuple[Any, str]] = []
        #: per aggregate: the index of its partial, or None for a DISTINCT
        self.slots: list[int | None] = []
        for agg in aggs:
            if agg.distinct:
                self.slots.append(None)
                continue
            spec: tuple[Any, str] = ([], "count_all")
            if agg.column is not None:
                spec = (self._col(agg.column), agg.function)
            self.slots.append(self._slot(spec))
        self.sums = sorted({a.column for a in aggs if a.function == "sum" and a.column})
        #: per summed column, a bound on the absolute values' total: rows times
        #: the largest absolute value, chunk by chunk, to know the sums are exact
        self.counts = {c: self._slot((self._col(c), "count")) for c in self.sums}
        self.checks = [self._slot((f"bound{self._col(c)}", "sum")) for c in self.sums]

    def _slot(self, spec: tuple[Any, str]) -> int:
        if spec not in self.partial:
            self.partial.append(spec)
        return self.partial.index(spec)

    def _col(self, column: str) -> str:
        return f"c{self.columns.index(column)}"

    def rows(self) -> list[tuple]:
        import pyarrow as pa
        import pyarrow.compute as pc

        partials: list[Any] = []
        held = 0
        distinct: dict[int, list[Any]] = {
            i: [] for i, slot in enumerate(self.slots) if slot is None
        }
        aggs = self.query.aggregates
        for table, tops in self._chunks():
            for i, found in distinct.items():
                found.append(pc.unique(table[self._col(aggs[i].column or "")]))
            if self.partial:
                keys = [self._col(k) for k in self.keys]
                part = table.group_by(keys).aggregate(
                    [s for s in self.partial if not s[0] or not s[0].startswith("bound")]
                )
                partials.append(self._canon(part, tops))
                held += part.num_rows
                if held > _PARTIALS:
                    partials = [self._combine(partials)]
                    held = partials[0].num_rows
        combined = self._combine(partials) if partials else None
        if combined is not None and any(
            t is not None and t >= _SAFE for c in self.checks for t in combined[f"p{c}"].to_pylist()
        ):
            return self._sequential()
        totals = {
            i: pc.count_distinct(pc.unique(pa.concat_arrays(v))).as_py() if v else 0
            for i, v in distinct.items()
        }
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
        held: list[Any] = []
        rows = 0
        texts = [k for k in self.keys if self.owner.kinds.get(k) == "string"]
        for batch in self.owner.batches(self.columns, list(self.query.quals), texts):
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
        arrays = [  # a NaN is NULL to SQLite: never counted
            pc.if_else(pc.is_nan(a), pa.scalar(None, a.type), a)
            if self.owner.kinds.get(name) == "float"
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

    def _output(self, combined: Any, distinct: dict[int, int]) -> list[tuple]:
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
        columns = [combined[f"k{j}"].to_pylist() for j in range(len(self.keys))]
        for i, slot in enumerate(self.slots):
            if slot is None:
                columns.append([distinct[i]] * combined.num_rows)
            else:
                columns.append(combined[f"p{slot}"].to_pylist())
        return _in_key_order(list(zip(*columns, strict=True)), len(self.keys))

    def _sequential(self) -> list[tuple]:
        """Every aggregate again, row by row in the scan's order (a sum that may
        overflow: SQLite's running total decides)."""
        groups: dict[tuple, list[Any]] = {}
        aggs = self.query.aggregates
        for batch in self.owner.batches(self.columns, list(self.query.quals)):
            cols = [c.to_pylist() for c in batch.columns]
            for row in zip(*cols, strict=True):
                key = tuple(row[self.columns.index(k)] for k in self.keys)
                state = groups.get(key)
                if state is None:
                    state = groups[key] = [_start(a) for a in aggs]
                for i, agg in enumerate(aggs):
                    value = row[self.columns.index(agg.column)] if agg.column else 1
                    state[i] = _step(agg, state[i], value)
        if not groups and not self.keys:
            groups[()] = [_start(a) for a in aggs]
        rows = [
            (*key, *(_finish(a, s) for a, s in zip(aggs, state, strict=True)))
            for key, state in groups.items()
        ]
        return _in_key_order(rows, len(self.keys))


def _in_key_order(rows: list[tuple], keys: int) -> list[tuple]:
    """The groups in the order of their keys, as SQLite's GROUP BY returns them."""
    if keys:
        rows.sort(key=lambda row: [_Key(v) for v in row[:keys]])
    return rows


class _Key:
    """A value ordered as SQLite orders it (NULL, numbers, text, blobs)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __lt__(self, other: _Key) -> bool:
        return semantics.compare(self.value, other.value) < 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and semantics.compare(self.value, other.value) == 0

    __hash__ = None  # type: ignore[assignment]


def _start(agg: Aggregate) -> Any:
    if agg.distinct:
        return set()
    return 0 if agg.function == "count" else None


def _step(agg: Aggregate, state: Any, value: Any) -> Any:
    if value is None or value != value:  # NULL, or a NaN (NULL to SQLite)
        return state
    if agg.distinct:
        state.add(value)
        return state
    if agg.function == "count":
        return state + 1
    if agg.function == "sum":
        total = value if state is None else state + value
        if not -(2**63) <= total < 2**63:
            raise apsw.SQLError("integer overflow")
        return total
    if state is None:
        return value
    return min(state, value) if agg.function == "min" else max(state, value)


def _finish(agg: Aggregate, state: Any) -> Any:
    return len(state) if agg.distinct else state
