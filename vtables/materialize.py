"""Rescans answered from memory: a foreign scan SQLite filters again in one statement.

SQLite builds no automatic index on a virtual table.  When a foreign table is
the inner side of a nested loop and its wrapper does not honour the join's
equality (a CSV file; tables of different servers), SQLite calls the cursor's
Filter once per outer row, and the wrapper would read its whole source each
time.  The plan names the columns of such equality quals (``Plan.cache``); the
cursor serves its first Filter as usual, and on the second Filter of the same
plan it scans the source once more, for the last time in the statement: with
the plan's columns and only the quals whose values are the same in every
Filter (``PlannedQual.fixed``).  The rows are held in memory (``Materialized``)
and indexed on the equality columns by the values SQLite reads (after the
column's declared-type conversion); every later Filter answers from the index.

SQLite still checks every qual the wrapper does not honour, so an answer may
hold rows that do not match, never miss one that does.  A value of one storage
class can equal a value of another under SQLite's affinity rules (the text
'5' an integer column's 5, depending on both operands' affinities, which a
virtual table cannot see): when the probe's class is not the only class the
column holds, the answer is every row.  Integers and reals compare by value in
SQLite as in Python (5 = 5.0, and both hash alike), so they share a class.

Nothing is held when the table is being written in the statement
(``Table.writing``), when a qual the wrapper honours changes between Filters
(a key probe at the source stays a key probe), or beyond ``MAX_VALUES``
values (rows times columns): the scan then goes back to a pass over the source
per Filter.  What is held belongs to the cursor, which SQLite closes at the
statement's end: no statement sees another's rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from .plan import Plan

logger = logging.getLogger(__name__)

#: The most values (rows times columns read) a scan holds in memory: about
#: 4 million values, a few hundred megabytes at most for short texts.  A
#: larger scan is read from the source at every Filter, as without the cache.
MAX_VALUES = 4_000_000

#: storage classes as SQLite compares them: integers and reals by value
_CLASS: dict[type, str] = {int: "n", bool: "n", float: "n", str: "t", bytes: "b"}
_MIXED = "*"
_EMPTY: list[Any] = []
_UNKNOWN = object()


class Declined(Exception):
    """The rows cannot be held (too many, a value SQLite would not read as
    it is): the scan is read from the source at every Filter."""


@dataclass
class KeyColumn:
    """How the index reads one equality column from a wrapper's row."""

    column: int  # the table's column number
    slot: int  # its place in a row of the scan's columns
    name: str  # its name, for rows that are mappings
    convert: Callable[[Any], Any] | None  # the declared type's converter; None: trusted
    natives: tuple[type, ...]  # types the converter leaves alone


class Materialized:
    """A scan's rows in memory, in the order the wrapper gave them, with a
    dict per equality column from each value (as SQLite reads it) to its rows.

    With ``spread``, the dict holds partitions of about ``spread`` rows instead
    (by the value's hash): an answer then holds the rows of a few other values
    too, which SQLite's own check drops, and a cursor that makes an object per
    answer (the C module's Batch) makes a few times fewer of them."""

    def __init__(self, rows: list[Any], keys: list[KeyColumn], ordered: bool, spread: int = 0):
        self.rows = rows
        #: the wrapper sorted the rows for SQLite (a consumed ORDER BY)
        self.ordered = ordered
        #: the number of partitions; 0: a list per value
        self.parts = len(rows) // spread if spread > 1 and len(rows) >= 2 * spread else 0
        self.index: dict[int, dict[Any, list[Any]]] = {}
        #: column -> the one class of its non-null values ("" none, "*" several)
        self.only: dict[int, str] = {}
        for key in keys:
            if key.column not in self.index:
                self._index(key)

    def _index(self, key: KeyColumn) -> None:
        values = _key_values(self.rows, key)
        classes = {_CLASS.get(t, _MIXED) for t in set(map(type, values)) if t is not type(None)}
        if _MIXED in classes:
            raise Declined(f"column {key.name} holds values SQLite converts on reading")
        if "n" in classes:  # SQLite has no NaN: it reads one as NULL
            values = [None if v != v else v for v in values]
        parts = self.parts
        if parts:
            values = [hash(v) % parts for v in values]
        index: dict[Any, list[Any]] = {}
        for value, row in zip(values, self.rows, strict=True):
            bucket = index.get(value)
            if bucket is None:
                index[value] = [row]
            else:
                bucket.append(row)
        self.index[key.column] = index
        self.only[key.column] = (
            classes.pop() if len(classes) == 1 else ("" if not classes else _MIXED)
        )

    def select(self, probes: list[tuple[int, str, int]], args: tuple) -> list[Any]:
        """The rows a Filter with these arguments answers with: a superset of
        those SQLite will keep, in the wrapper's order."""
        best: list[Any] | None = None
        for column, operator, at in probes:
            value = args[at]
            if operator == "IN":
                rows = self._any_of(column, value)
            else:
                rows = self._bucket(column, operator, value)
            if rows is not None and (best is None or len(rows) < len(best)):
                best = rows
                if not rows:
                    break
        return self.rows if best is None else best

    def _bucket(self, column: int, operator: str, value: Any) -> list[Any] | None:
        """The rows whose value equals ``value``; None: any row might."""
        if value is None:  # = NULL matches nothing; IS NULL the NULLs
            if operator != "IS":
                return _EMPTY
        else:
            only = self.only[column]
            if only and only != _CLASS.get(type(value)):
                return None  # another class: SQLite's affinities may make them equal
        if self.parts:
            value = hash(value) % self.parts
        return self.index[column].get(value, _EMPTY)

    def _any_of(self, column: int, values: Any) -> list[Any] | None:
        buckets: dict[int, list[Any]] = {}
        for value in values:
            if value is None:
                continue
            rows = self._bucket(column, "=", value)
            if rows is None:
                return None
            if rows:
                buckets[id(rows)] = rows
        if len(buckets) > 1 and self.ordered:
            return None  # in the wrapper's order: every row
        if len(buckets) == 1:
            return next(iter(buckets.values()))
        out = _Union()
        for rows in buckets.values():
            out.extend(rows)
        return out

    @staticmethod
    def holds(rows: list[Any]) -> bool:
        """Whether an answer is a list held for the statement (not made for
        one Filter), so that what is made of it may be kept by its id."""
        return type(rows) is not _Union


class _Union(list):
    """The rows of several values of an IN list, made for one Filter."""


def _key_values(rows: list[Any], key: KeyColumn) -> list[Any]:
    """The column's value in each row, as SQLite reads it."""
    slot = key.slot
    try:
        if all(type(row) is tuple for row in rows):
            values = [row[slot] for row in rows]
        else:
            values = [row.get(key.name) if isinstance(row, dict) else row[slot] for row in rows]
    except (IndexError, TypeError, KeyError) as err:
        raise Declined(f"a row without column {key.name}") from err
    convert, natives = key.convert, key.natives
    if convert is None:
        return values
    try:
        return [v if v is None or type(v) in natives else convert(v) for v in values]
    except (ValueError, TypeError, ArithmeticError) as err:
        # reported by the scan itself, where SQLite reads the value
        raise Declined(f"column {key.name}: {err}") from err


def hold(
    batches: Iterable[Iterable[Any]],
    width: int,
    keys: list[KeyColumn],
    ordered: bool,
    normal: Callable[[Any], tuple] | None = None,
    spread: int = 0,
) -> Materialized:
    """Read the rows of ``batches`` (of ``width`` columns) into memory and
    index them; raises Declined past ``MAX_VALUES`` values or for values the
    index cannot key.  ``normal`` makes each row a tuple of ``width`` values
    (the C module's rows); None keeps rows as the wrapper gave them.
    ``spread``: see Materialized."""
    most = MAX_VALUES // max(width, 1)
    held: list[Any] = []
    for batch in batches:
        if normal is None:
            held.extend(islice(iter(batch), most + 1 - len(held)))
        elif getattr(batch, "width", None) is not None:  # the C module's Batch
            if batch.width != width:  # type: ignore[attr-defined]
                raise Declined("a batch of another width")
            held.extend(batch)
        else:
            held.extend(
                row if type(row) is tuple and len(row) == width else normal(row) for row in batch
            )
        if len(held) > most:
            raise Declined(f"more than {most} rows")
    return Materialized(held, keys, ordered, spread)


class Rescan:
    """One plan's Filters on one cursor: the decoded plan, and its rows once
    held, with each answer made for the cursor (``make``: the C module's
    Batch, or the rows themselves) kept for the next Filter with the same
    value."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.filters = 0
        self.held: Materialized | None = None
        self.declined = False
        #: (column, operator, argument index) of the equality quals to probe by
        self.probes = probes(plan)
        #: the argument index of the one probe, when there is one and not an IN
        self.single = (
            self.probes[0][2] if len(self.probes) == 1 and self.probes[0][1] != "IN" else None
        )
        #: the cursor's state for this plan's rows (columns, slots, ...)
        self.shape: tuple = ()
        self.make: Callable[[list[Any]], Any] = _same
        self.answers: dict[Any, Any] = {}  # the single probe's value -> its answer

    def hold(
        self,
        batches: Iterable[Iterable[Any]],
        width: int,
        keys: list[KeyColumn],
        normal: Callable[[Any], tuple] | None,
        spread: int,
        table: str,
    ) -> bool:
        """Hold the rows of ``batches`` for this plan's Filters (see ``hold``);
        False, and never again for this plan, when they cannot be held."""
        try:
            self.held = hold(batches, width, keys, bool(self.plan.sort), normal, spread)
        except Declined as why:
            self.declined = True
            logger.debug("foreign table %r: rescans not held (%s)", table, why)
            return False
        logger.debug(
            "foreign table %r: %d rows held for rescans, indexed on %s",
            table,
            len(self.held.rows),
            [key.name for key in keys] or "nothing",
        )
        return True

    def wanted(self, writing: bool) -> bool:
        """Whether this Filter should hold the rows: the second one, on a plan
        that allows it, of a table not being written."""
        self.filters += 1
        return (
            self.filters > 1
            and self.plan.cache is not None
            and self.held is None
            and not self.declined
            and not writing
        )

    def answer(self, args: tuple) -> Any:
        """What a Filter with these arguments is answered with."""
        held = self.held
        at = self.single
        if at is None:
            return self.make(held.select(self.probes, args))  # type: ignore[union-attr]
        value = args[at]
        out = self.answers.get(value, _UNKNOWN)
        if out is _UNKNOWN:
            out = self.answers[value] = self.make(held.select(self.probes, args))  # type: ignore[union-attr]
        return out


def _same(rows: list[Any]) -> list[Any]:
    return rows


def kept(make: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
    """``make`` (rows to what a cursor hands SQLite), None for no rows, and
    kept for the lists the scan holds (the same answer for several values)."""
    made: dict[int, Any] = {}  # id of a list the scan holds -> what was made of it

    def making(rows: list[Any]) -> Any:
        if not rows:
            return None
        out = made.get(id(rows))
        if out is None:
            out = make(rows)
            if Materialized.holds(rows):
                made[id(rows)] = out
        return out

    return making


def key_columns(
    columns: list[int], used: list[int], table: Any, converters: list[Any] | None
) -> list[KeyColumn]:
    """How to read ``columns`` (numbers) from rows of the ``used`` columns
    of ``table`` (a module Table: names, natives); ``converters``: the
    columns' converters, None when the wrapper's values are trusted."""
    return [
        KeyColumn(
            column=c,
            slot=used.index(c),
            name=table.names[c],
            convert=None if converters is None else converters[c],
            natives=table.natives[c],
        )
        for c in columns
    ]


def probes(plan: Plan) -> list[tuple[int, str, int]]:
    """The plan's equality quals whose values change between Filters."""
    return [
        (q.column, q.operator, q.position - 1)
        for q in plan.quals
        if not q.fixed
        and q.position is not None
        and q.column in (plan.cache or ())
        and q.operator in ("=", "IS", "IN")
    ]
