"""dataframe_fdw: pandas DataFrames and Arrow tables of the running program as foreign tables.

Purpose
    Query the DataFrames (and ``pyarrow.Table`` objects) a program holds with
    SQL, join them with the database's tables, and append rows to them with
    INSERT (``DataFrame.to_sql(..., if_exists="append")`` included).  A frame
    is found by name among those the program registered::

        import vtables
        vtables.register_frame("measurements", frame)

    A database file can only name registered frames: it never names code to
    import or an object to look up otherwise.  A table's name that is not a
    registered name finds the one registered name equal to it ignoring case
    (two such names are an error: name one with the ``frame`` option).
    ``unregister_frame(name)``
    removes one, ``get_frame(name)`` gives the current frame (after appends,
    a new object), ``registered_frames()`` a snapshot ``{name: frame}``.

    Columns are the frame's columns; the index is not one (``frame.reset_index()``
    before registering makes it one).  Missing values (``None``, ``NaN``,
    ``pd.NA``, ``NaT``) read as NULL, as ``to_sql`` writes them, and values
    are converted to the declared column types.

Options
    table ``frame``
        The registered name of the frame (default: the foreign table's name).
    column ``column_name``
        The frame's column (default: the column's name).

Reads
    Only the columns a query reads are converted, a batch of rows at a time.
    Comparisons (``=``, ``<``, ``IN``, ``IS [NOT] NULL``, ...) are checked by
    the wrapper with SQLite's rules (``vtables.semantics``): vectorised where
    the frame's values and the value compare alike (integers with an integer,
    floats with a number, strings with a string), row by row otherwise.
    LIKE, GLOB and other collations are left to SQLite.

    An integer beyond 64 bits (a ``uint64`` column's upper half, a Python int
    in an ``object`` column) reads as SQLite reads such a literal: a REAL.
    Text holding a lone surrogate (U+D800 to U+DFFF), which UTF-8 cannot
    hold, is an error naming the table, column and row.

Writes
    INSERT appends rows, at COMMIT, as a new frame registered under the same
    name.  Every value reads back exactly as the declared type stored it, as
    from a native table: it is kept as the frame's kind of column holds it
    (``'2024-03-01'`` as a ``date`` in a column of dates, ``1`` as ``True`` in
    a boolean one) only where the declared type reads it back unchanged, else
    as written (``'05'`` stays text in an integer column declared ``text``).

    pandas (``pd.concat``): each column keeps its dtype where it holds the new
    values exactly, else takes the first lossless widening that does
    (``float32`` to ``float64``, ``datetime64[s]`` or ``[ms]`` to ``[us]``, a
    narrow integer to ``int64``, with a NULL an integer or boolean to its
    nullable kind of the same width, ``int32`` to ``Int32``), else ``object``,
    as ``pd.concat`` does with values of another kind.  The index continues a
    default ``RangeIndex``, else counts on from the frame's length.  Arrow
    (``pa.concat_tables``): the table keeps its schema, and an INSERT of a
    value it cannot hold exactly (``0.1`` in a ``float32`` column) is refused
    with an error naming the table, column and value.

    The inserting connection sees its own rows before COMMIT; ROLLBACK drops
    them.  COMMIT appends to the frame registered then, which another
    connection's appends may have replaced; when the program replaced it by
    a frame that lacks one of the appended columns, COMMIT fails and changes
    no frame, as when it was unregistered.  UPDATE and DELETE are refused.

IMPORT FOREIGN SCHEMA
    One foreign table per registered frame (the schema's name is not used),
    column types from the dtypes: integers ``integer`` or ``bigint``
    (``uint64``: ``numeric``, its values beyond a ``bigint`` read as REAL),
    floats ``double precision``, booleans ``boolean``, datetimes ``timestamp`` (with
    a time zone ``timestamptz``), dates ``date``, decimals ``numeric``,
    bytes ``bytea``, strings and anything else ``text``.

Example
    ::

        CREATE EXTENSION dataframe_fdw;
        CREATE SERVER frames FOREIGN DATA WRAPPER dataframe_fdw;
        IMPORT FOREIGN SCHEMA frames LIMIT TO (measurements) FROM SERVER frames INTO main;
        INSERT INTO measurements (station, value) VALUES ('Oslo', 3.5);
        SELECT station, avg(value) FROM measurements GROUP BY station;
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from vtables import frames, semantics, types
from vtables import wrapper as api
from vtables.errors import FeatureNotSupportedError as NotSupported
from vtables.errors import InvalidOptionError, UndefinedObjectError, WrapperError
from vtables.remote import TransactionAware
from vtables.wrapper import ColumnDefinition, OptionSpec, Qual

from .appends import Appends, appended, held_value, value_kind
from .columns import (
    Column,
    beyond_int64,
    column_data,
    column_keys,
    definition,
    is_arrow,
    is_beyond_int64,
    length,
    lone_surrogate,
)

_definition = definition  # the name the tests know

# ------------------------------------------------------------------ wrapper

_HONOURED = frozenset(
    {"=", "!=", "<", "<=", ">", ">=", "IS", "IS NOT", "IN", "IS NULL", "IS NOT NULL"}
)
_FIRST_BATCH = 64
_BATCH = 4096
_SHARED_KEY = "dataframe_fdw:appends"
_SURROGATE = "text with a lone surrogate (U+D800 to U+DFFF), which UTF-8 cannot hold"


class DataFrameFdw(TransactionAware):
    """Foreign tables over DataFrames and Arrow tables the program registered."""

    name = "dataframe_fdw"
    version = "1.0"
    coerces_values = True
    option_specs = (
        OptionSpec("frame", {"table"}, doc="Registered name of the frame."),
        OptionSpec("column_name", {"column"}, doc="The frame's column."),
    )

    def __init__(self, options: dict[str, str], columns: dict[str, ColumnDefinition]):
        super().__init__(options, columns)
        self.families = {name: types.family(col.type) for name, col in columns.items()}

    @classmethod
    def validate(cls, kind: str, options: Mapping[str, str], *, object_name: str) -> None:
        super().validate(kind, options, object_name=object_name)
        for key in ("frame", "column_name"):
            if key in options and not options[key].strip():
                what = api.KIND_NAMES[kind]
                raise InvalidOptionError(
                    f'invalid value for option "{key}" of {what} "{object_name}": empty name'
                )

    # ------------------------------------------------------------ the frame

    @property
    def frame_name(self) -> str:
        return self.settings["frame"] or self.table_name

    def _registered(self) -> tuple[str, Any]:
        found = frames.find_all(self.frame_name)
        if len(found) == 1:
            return found[0]
        table, frame = self.table_name, self.frame_name
        if found:
            names = ", ".join(f'"{name}"' for name, _frame in found)
            raise UndefinedObjectError(
                f'foreign table "{table}": frame name "{frame}" is ambiguous: the frames'
                f" {names} all match it ignoring case",
                hint=f"Name one exactly: ALTER FOREIGN TABLE {table} OPTIONS (ADD frame"
                f" '{found[0][0]}').",
            )
        raise UndefinedObjectError(
            f'foreign table "{table}": no frame is registered as "{frame}"',
            hint=f"The program registers it: vtables.register_frame({frame!r}, frame).",
        )

    def transaction(self, start: bool = False) -> Appends | None:
        if start:
            return self.context.shared_state(_SHARED_KEY, Appends)
        return self.context.shared.get(_SHARED_KEY)

    def _frame(self) -> tuple[str, Any]:
        """The frame as this connection sees it: its own appends included."""
        name, frame = self._registered()
        pending = self.transaction()
        if pending is not None:
            frame = pending.view(name, frame, lambda base, rows: self._call(appended, base, rows))
        return name, frame

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``, its ValueError as an error naming the table and frame."""
        try:
            return fn(*args)
        except ValueError as err:
            raise WrapperError(
                f'foreign table "{self.table_name}" (frame "{self.frame_name}"): {err}'
            ) from None

    def _labels(self, frame: Any, names: list[str]) -> dict[str, Any]:
        """The frame's column label for each of the foreign columns ``names``."""
        keys = column_keys(frame)
        out = {}
        for name in names:
            remote = self.remote_names[name]
            if remote not in keys:
                raise UndefinedObjectError(
                    f'foreign table "{self.table_name}": frame "{self.frame_name}" has no'
                    f' column "{remote}"',
                    hint=("Its columns: " + ", ".join(keys)) if keys else "It has no columns.",
                )
            out[name] = keys[remote]
        return out

    def _columns(self, frame: Any, names: list[str]) -> dict[str, Column]:
        return {
            name: Column(self._call(column_data, frame, label), self.families[name])
            for name, label in self._labels(frame, names).items()
        }

    # -------------------------------------------------------------- planning

    def honours(self, qual: Qual) -> bool:
        return qual.operator in _HONOURED and qual.column in self.columns

    def estimate(self, quals: list[Qual], columns: list[str]) -> tuple[float, float]:
        found = frames.find(self.frame_name)
        # the base class's guess for a million rows, scaled to the frame's length
        scale = (length(found[1]) if found is not None else 1000) / 1_000_000
        rows = max(super().estimate(quals, columns)[0] * scale, 1.0)
        return rows, 10.0 + rows * (1 + len(columns)) / 10

    def explain(self, quals, columns, sortkeys, limit, offset) -> str:
        found = frames.find(self.frame_name)
        if found is None:
            return f'frame "{self.frame_name}" (not registered)'
        kind = "Arrow table" if is_arrow(found[1]) else "DataFrame"
        return f'{kind} "{found[0]}" ({length(found[1])} rows)'

    # ----------------------------------------------------------------- reads

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        for batch in self.scan_batches(quals, columns, sortkeys, limit, offset):
            yield from batch

    def scan_batches(self, quals, columns, sortkeys=None, limit=None, offset=None):
        _name, frame = self._frame()
        checked = [q for q in quals if self.honours(q)]
        wanted = list(dict.fromkeys([*columns, *(q.column for q in checked)]))
        cols = self._columns(frame, wanted)
        keep = np.ones(length(frame), dtype=bool)
        rest = []
        for qual in checked:
            mask = self._mask(cols[qual.column], qual)
            if mask is None:
                values = self._rhs(qual)
                rest.append((qual, values if qual.operator == "IN" else values[0]))
            else:
                keep &= mask
        positions = np.flatnonzero(keep)
        size, start = _FIRST_BATCH, 0
        while start < len(positions):
            chunk = positions[start : start + size]
            start += size
            size = _BATCH
            batch = self._batch(frame, cols, chunk, columns, rest)
            if batch:
                yield batch

    def _mask(self, col: Column, qual: Qual) -> np.ndarray | None:
        op = qual.operator
        if op == "IS NULL" or (op == "IS" and qual.value is None):
            return col.nulls.copy()
        if op == "IS NOT NULL" or (op == "IS NOT" and qual.value is None):
            return ~col.nulls
        values = self._rhs(qual)
        if op == "IN":
            return col.mask("IN", [v for v in values if v is not None])
        if values[0] is None:  # = NULL, < NULL...: never true
            return np.zeros(len(col.nulls), dtype=bool)
        if op in ("IS", "IS NOT"):
            same = col.mask("=", values)
            return None if same is None else (same if op == "IS" else ~same)
        return col.mask(op, values)

    def _rhs(self, qual: Qual) -> list[Any]:
        """The qual's value(s) with the column's affinity applied, as SQLite
        compares them."""
        kind = semantics.affinity(self.columns[qual.column].type)
        values = list(qual.value or ()) if qual.operator == "IN" else [qual.value]
        return [semantics.apply_affinity(kind, v) for v in values]

    def _batch(
        self,
        frame: Any,
        cols: dict[str, Column],
        chunk: np.ndarray,
        columns: list[str],
        rest: list[tuple[Qual, Any]],
    ) -> list[tuple]:
        converted: dict[str, list[Any]] = {}
        for name in dict.fromkeys([*(q.column for q, _ in rest), *columns]):
            col = cols[name]
            values = col.values(chunk)
            # a column of the declared type's own values needs no conversion
            if not col.plain:
                values = self._convert(frame, name, values, chunk)
            if col.may_hold_surrogates:
                bad = lone_surrogate(values)
                if bad is not None:
                    raise self._bad_value(frame, name, int(chunk[bad]), values[bad], _SURROGATE)
            converted[name] = values
        if rest:
            keep = [
                all(semantics.holds(q.operator, converted[q.column][i], v) for q, v in rest)
                for i in range(len(chunk))
            ]
            converted = {
                n: [v for v, k in zip(vals, keep, strict=True) if k]
                for n, vals in converted.items()
            }
            count = sum(keep)
        else:
            count = len(chunk)
        if not columns:
            return [()] * count
        return list(zip(*(converted[c] for c in columns), strict=True))

    def _convert(self, frame: Any, name: str, values: list[Any], chunk: np.ndarray) -> list[Any]:
        declared = self.columns[name].type
        natives = types.native_types(declared)
        convert = types.converter(declared)
        # an integer beyond 64 bits reads as SQLite reads such a literal: a REAL
        widen = types.family(declared) in ("integer", "numeric", "real", "any")
        out = []
        for i, v in enumerate(values):
            if v is None or (type(v) in natives and not is_beyond_int64(v)):
                out.append(v)
                continue
            if widen and is_beyond_int64(v):
                out.append(beyond_int64(v))
                continue
            try:
                out.append(convert(v))
            except (ValueError, TypeError, OverflowError) as err:
                reason = f"cannot convert {v!r} to {declared}: {err}"
                raise self._bad_value(frame, name, int(chunk[i]), v, reason) from None
        return out

    def _bad_value(self, frame: Any, name: str, row: int, value: Any, reason: str) -> WrapperError:
        """The error for ``value`` of column ``name`` at position ``row`` of the frame."""
        label = "" if is_arrow(frame) else f" (index {frame.index[row]!r})"
        return WrapperError(
            f'foreign table "{self.table_name}": frame "{self.frame_name}",'
            f' column "{self.remote_names[name]}", row {row}{label}: {reason}'
        )

    # ---------------------------------------------------------------- writes

    def insert(self, values: dict[str, Any]) -> None:
        self.insert_many([values])

    def insert_many(self, rows: list[dict[str, Any]], on_conflict: str | None = None) -> None:
        if on_conflict is not None:
            raise NotSupported(f"INSERT OR {on_conflict} is not supported")
        name, frame = self._registered()
        added = self._held_rows(frame, rows)
        pending = self.transaction(start=True)
        assert pending is not None
        if not pending.local:  # used outside a transaction: appended at once
            with frames.lock():
                held = frames.registered_frames(locked=True)
                frames.replace(name, self._call(appended, held.get(name, frame), added))
            return
        empty = frame.slice(0, 0) if is_arrow(frame) else frame.iloc[:0]
        self._call(appended, empty, added)  # refused now rather than at COMMIT
        pending.rows.setdefault(name, []).extend(added)

    def _held_rows(self, frame: Any, rows: list[dict[str, Any]]) -> list[dict[Any, Any]]:
        """The rows (foreign column -> SQL value) as the frame will hold them
        (frame column label -> value): see ``appends.held_value``."""
        labels = self._labels(frame, list(self.columns))
        plans = {}
        for column, label in labels.items():
            kind = value_kind(self._call(column_data, frame, label))
            plans[column] = (label, types.converter(self.columns[column].type), kind)
        added = []
        for values in rows:
            row = {}
            for column, value in values.items():
                label, convert, kind = plans[column]
                try:
                    stored = None if value is None else convert(value)
                except (ValueError, TypeError) as err:
                    raise WrapperError(
                        f'foreign table "{self.table_name}": column "{column}": cannot convert'
                        f" {value!r} to {self.columns[column].type}: {err}"
                    ) from None
                row[label] = held_value(stored, kind, convert)
            added.append(row)
        return added

    # ---------------------------------------------------------------- import

    @classmethod
    def import_tables(cls, request: api.ImportRequest) -> list[api.TableDefinition]:
        found = frames.registered_frames()
        return [definition(name, found[name]) for name in sorted(found) if request.wanted(name)]
