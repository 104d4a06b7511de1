"""dataframe_fdw's appends: an inserted value as the frame holds it, the
dtype that holds every appended value exactly, and a connection's appends
until COMMIT.

An inserted row goes through two steps, both exact:

- ``held_value`` (at INSERT, with the declared type): the stored SQL value as
  the frame's kind of column holds it (``'2024-01-02'`` as a ``date`` in a
  column of dates, ``1`` as ``True`` in a boolean column), kept only when the
  declared type reads it back as the same SQL value; else the value as stored.
- ``appended`` (at COMMIT): each column keeps its dtype when that dtype holds
  the new values exactly, else takes the first lossless widening that does
  (float32 -> float64, datetime64[s] -> [us], int32 with a NULL -> Int32, ...),
  else ``object``.  An Arrow table keeps its schema: a value it cannot hold
  exactly is refused.
"""

from __future__ import annotations

import datetime as dt
import decimal
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from vtables import frames, types
from vtables.errors import WrapperError
from vtables.remote import RemoteTransaction

from .columns import arrow, is_arrow, is_object, pd

# ------------------------------------------------------------- held values

#: the kind of Python value a pandas ``infer_dtype`` answer stands for
_INFERRED_KINDS = {
    "boolean": "bool",
    "integer": "int",
    "floating": "float",
    "mixed-integer-float": "float",
    "datetime": "datetime",
    "datetime64": "datetime",
    "date": "date",
    "time": "time",
    "decimal": "decimal",
}
_SAMPLE = 1000  # an object column's kind is guessed from its first values


def value_kind(data: Any) -> str:
    """The kind of values a frame's column (a Series or an Arrow array) holds:
    bool, int, float, datetime, date, time, decimal, or "" (none in particular)."""
    if not isinstance(data, pd.Series):
        return _arrow_kind(data.type)
    dtype = data.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return value_kind(pd.Series(dtype.categories))
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if is_object(dtype):
        inferred = pd.api.types.infer_dtype(data.iloc[:_SAMPLE], skipna=True)
        return _INFERRED_KINDS.get(inferred, "")
    return ""


def _arrow_kind(t: Any) -> str:
    pa, _pc = arrow()
    if pa.types.is_dictionary(t):
        return _arrow_kind(t.value_type)
    tests = (
        ("is_boolean", "bool"),
        ("is_integer", "int"),
        ("is_floating", "float"),
        ("is_timestamp", "datetime"),
        ("is_date", "date"),
        ("is_time", "time"),
        ("is_decimal", "decimal"),
    )
    return next((kind for test, kind in tests if getattr(pa.types, test)(t)), "")


def _as_bool(v: Any) -> bool:
    if type(v) is int and v in (0, 1):
        return bool(v)
    if type(v) is str:
        return bool(types.converter("boolean")(v))
    raise ValueError("not a boolean")


def _as_int(v: Any) -> int:
    if type(v) is float and not v.is_integer():
        raise ValueError("not an integer")
    return int(v)


def _as_decimal(v: Any) -> decimal.Decimal:
    return decimal.Decimal(repr(v) if type(v) is float else v)


def _as(parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    def convert(v: Any) -> Any:
        if type(v) is not str:
            raise ValueError("not text")
        return parse(v)

    return convert


_PROPOSED: dict[str, Callable[[Any], Any]] = {
    "bool": _as_bool,
    "int": _as_int,
    "float": float,
    "datetime": _as(dt.datetime.fromisoformat),
    "date": _as(dt.date.fromisoformat),
    "time": _as(dt.time.fromisoformat),
    "decimal": _as_decimal,
}


def held_value(stored: Any, kind: str, convert: Callable[[Any], Any]) -> Any:
    """``stored`` (a SQL value of the declared type, converted by ``convert``)
    as a column of ``kind`` holds it, when ``convert`` reads that back as
    ``stored`` exactly; else ``stored`` itself (such a column then becomes
    ``object``, or an Arrow table refuses it)."""
    propose = _PROPOSED.get(kind)
    if stored is None or propose is None:
        return stored
    try:
        candidate = propose(stored)
        back = convert(candidate)
    except (ValueError, TypeError, ArithmeticError):
        return stored
    return candidate if type(back) is type(stored) and back == stored else stored


# ----------------------------------------------------------------- dtypes

_SCALARS = (bool, int, float, str, bytes)


def _same(got: Any, value: Any) -> bool:
    """Whether a frame gives back ``value`` as ``got``: the same type for
    Python's scalars (``True`` is not ``1``, nor ``2.0`` ``2``), else equal
    (a Timestamp and a datetime of the same instant, two Decimals)."""
    if type(got) in _SCALARS or type(value) in _SCALARS:
        return type(got) is type(value) and got == value
    try:
        return bool(got == value)
    except (TypeError, ValueError):
        return False


def _first_lost(got: list[Any], nulls: list[bool], values: list[Any]) -> int | None:
    """The position of the first value not given back exactly, or None."""
    for i, (g, null, v) in enumerate(zip(got, nulls, values, strict=True)):
        if (v is None) != null or (v is not None and not _same(g, v)):
            return i
    return None


def _widenings(dtype: Any) -> list[Any]:
    """``dtype`` and the dtypes it widens to without loss, narrowest first."""
    out = [dtype]
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        bits = dtype.itemsize * 8
        nullable = f"{'Int' if dtype.kind == 'i' else 'UInt'}{bits}"
        # int64 as pd.concat widens (a narrow unsigned one too: exact), then
        # with a NULL the nullable kind of the same width, then of 64 bits
        wide = "uint64" if dtype.kind == "u" and bits == 64 else "int64"
        out += [np.dtype(wide), pd.api.types.pandas_dtype(nullable)]
        out.append(pd.UInt64Dtype() if wide == "uint64" else pd.Int64Dtype())
    elif isinstance(dtype, np.dtype) and dtype.kind == "f":
        out.append(np.dtype("float64"))
    elif isinstance(dtype, np.dtype) and dtype.kind == "b":
        out.append(pd.BooleanDtype())
    elif isinstance(dtype, pd.core.arrays.integer.IntegerDtype):
        out.append(pd.Int64Dtype() if dtype.numpy_dtype.kind == "i" else pd.UInt64Dtype())
    elif isinstance(dtype, pd.core.arrays.floating.FloatingDtype):
        out.append(pd.Float64Dtype())
    elif pd.api.types.is_datetime64_any_dtype(dtype) and _unit(dtype) in ("s", "ms"):
        tz = getattr(dtype, "tz", None)
        out.append(pd.DatetimeTZDtype("us", tz) if tz is not None else np.dtype("M8[us]"))
    return list(dict.fromkeys(out))


def _unit(dtype: Any) -> str:
    return str(np.datetime_data(dtype)[0] if isinstance(dtype, np.dtype) else dtype.unit)


def _holding(dtype: Any, values: list[Any]) -> Any:
    """A Series of ``values`` of ``dtype``, or None when it does not hold them exactly."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            new = pd.Series(values, dtype=dtype)
    except (TypeError, ValueError, ArithmeticError):
        return None
    return new if _first_lost(new.tolist(), new.isna().tolist(), values) is None else None


def _series(old: Any, values: list[Any]) -> tuple[Any, Any]:
    """(old column, new rows' column) sharing a dtype that holds both exactly."""
    dtype = old.dtype
    if is_object(dtype):
        return old, pd.Series(values, dtype=object)
    if isinstance(dtype, pd.CategoricalDtype):
        extra = [v for v in dict.fromkeys(values) if v is not None and v not in dtype.categories]
        try:
            wider = old.cat.add_categories(extra) if extra else old
        except (TypeError, ValueError):
            wider = None
        new = None if wider is None else _holding(wider.dtype, values)
        if new is not None:
            return wider, new
    else:
        for candidate in _widenings(dtype):
            new = _holding(candidate, values)
            if new is not None:
                return (old if candidate is dtype else old.astype(candidate)), new
    return old.astype(object), pd.Series(values, dtype=object)


def _arrow_array(field: Any, values: list[Any]) -> Any:
    """The Arrow array of ``values`` of ``field``'s type, all held exactly."""
    pa, _pc = arrow()
    try:
        array = pa.array(values, type=field.type)
    except (pa.ArrowException, TypeError, ValueError, ArithmeticError) as err:
        raise ValueError(f'column "{field.name}" ({field.type}): {err}') from None
    got = array.to_pylist()
    lost = _first_lost(got, [g is None for g in got], values)
    if lost is not None:
        raise ValueError(
            f'column "{field.name}" ({field.type}) cannot hold {values[lost]!r} exactly'
            f" (it would read back as {got[lost]!r}); an Arrow table keeps its schema"
        )
    return array


def appended(frame: Any, rows: list[dict[str, Any]]) -> Any:
    """A new frame: ``frame`` with ``rows`` (frame column label -> value) after it."""
    if not rows:
        return frame
    labels = list(frame.column_names if is_arrow(frame) else frame.columns)
    if len(set(labels)) != len(labels):
        raise ValueError("cannot append to a frame whose column names are not unique")
    have = set(labels)
    missing = [
        label for label in dict.fromkeys(k for row in rows for k in row) if label not in have
    ]
    if missing:
        raise ValueError(
            f'it has no column "{missing[0]}" any more (the program replaced it after the INSERT)'
        )
    if is_arrow(frame):
        pa, _pc = arrow()
        fields = [frame.schema.field(label) for label in labels]
        arrays = [_arrow_array(f, [row.get(f.name) for row in rows]) for f in fields]
        return pa.concat_tables([frame, pa.Table.from_arrays(arrays, schema=frame.schema)])
    olds, news = {}, {}
    for label in labels:
        olds[label], news[label] = _series(frame[label], [row.get(label) for row in rows])
    index = frame.index
    start = len(frame)
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        start = index.stop
    old_frame = frame.copy()
    for label, old in olds.items():
        if old.dtype != frame[label].dtype:
            old_frame[label] = old.array
    new_frame = pd.DataFrame(news, columns=frame.columns).set_axis(
        pd.RangeIndex(start, start + len(rows))
    )
    return pd.concat([old_frame, new_frame])


# ---------------------------------------------------------- transactions


class Appends(RemoteTransaction):
    """A connection's appends not yet committed: frame name -> rows, and the
    frames as this connection sees them (made again only for new rows)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.marks: dict[int, dict[str, int]] = {}
        #: frame name -> (the registered frame, rows included, that frame with them)
        self.views: dict[str, tuple[Any, int, Any]] = {}

    def start(self) -> None:
        self.rows.clear()
        self.views.clear()

    def view(self, name: str, frame: Any, build: Callable[..., Any]) -> Any:
        """``frame`` (registered as ``name``) with this connection's rows, made
        by ``build(frame, rows)``: from the last view when only rows were added."""
        rows = self.rows.get(name)
        if not rows:
            return frame
        held = self.views.get(name)
        if held is not None and held[0] is frame and held[1] <= len(rows):
            made = held[2] if held[1] == len(rows) else build(held[2], rows[held[1] :])
        else:
            made = build(frame, rows)
        self.views[name] = (frame, len(rows), made)
        return made

    def finish(self, commit: bool) -> None:
        rows, self.rows = self.rows, {}
        self.marks.clear()
        self.views.clear()
        if not commit:
            return
        current = frames.registered_frames
        with frames.lock():  # appends of several connections to one frame all land
            made = {}
            held = current(locked=True)
            for name, added in rows.items():
                if name not in held:
                    raise WrapperError(
                        f'frame "{name}" was unregistered before the appends to it committed'
                    )
                try:
                    made[name] = appended(held[name], added)
                except ValueError as err:
                    raise WrapperError(f'frame "{name}": {err}') from None
            for name, frame in made.items():  # every frame's appends, or none
                frames.replace(name, frame)

    def mark(self, level: int) -> None:
        self.marks[level] = {name: len(rows) for name, rows in self.rows.items()}

    def unmark(self, level: int) -> None:
        self.marks = {n: m for n, m in self.marks.items() if n < level}

    def undo_to(self, level: int) -> None:
        lengths = self.marks.get(level, {})
        for name, rows in self.rows.items():
            del rows[lengths.get(name, 0) :]
        self.marks = {n: m for n, m in self.marks.items() if n <= level}
        self.views.clear()
