"""dataframe_fdw's reads: a frame's columns, their values as SQLite stores
them, vectorised comparisons, and the SQL types IMPORT FOREIGN SCHEMA gives them."""

from __future__ import annotations

import functools
import importlib
import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from vtables import frames
from vtables import wrapper as api

# pandas and pyarrow ship no type information: imported as Any.
pd: Any = importlib.import_module("pandas")


def arrow() -> tuple[Any, Any]:
    """pyarrow and pyarrow.compute (an extra), imported when an Arrow table is used."""
    return importlib.import_module("pyarrow"), importlib.import_module("pyarrow.compute")


is_arrow = frames.is_arrow


# ------------------------------------------------------------ frame columns

_MAX_EXACT_FLOAT_INT = 2**53
#: each operator as numpy computes it, and as pyarrow.compute names it
_OPERATORS: dict[str, tuple[Callable[[Any, Any], Any], str]] = {
    "=": (operator.eq, "equal"),
    "!=": (operator.ne, "not_equal"),
    "<": (operator.lt, "less"),
    "<=": (operator.le, "less_equal"),
    ">": (operator.gt, "greater"),
    ">=": (operator.ge, "greater_equal"),
}


def column_keys(frame: Any) -> dict[str, Any]:
    """The frame's columns by name (``str`` of each label)."""
    labels = list(frame.column_names if is_arrow(frame) else frame.columns)
    keys: dict[str, Any] = {}
    for label in labels:
        keys.setdefault(str(label), label)
    return keys


def is_object(dtype: Any) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind == "O"


def length(frame: Any) -> int:
    return int(frame.num_rows if is_arrow(frame) else len(frame))


class Column:
    """One column of a frame: its NULLs, its values as Python objects, and a
    vectorised comparison where it gives SQLite's answer."""

    def __init__(self, data: Any, family: str):
        self.data = data
        self.family = family
        self.arrow = not isinstance(data, pd.Series)
        if self.arrow:
            pa, pc = arrow()
            self.nulls = np.asarray(
                pc.is_null(data, nan_is_null=True).to_numpy(zero_copy_only=False), dtype=bool
            )
        else:
            self.nulls = np.asarray(data.isna().to_numpy(), dtype=bool)
        self.has_nulls = bool(self.nulls.any())
        self._numeric: Any = None

    def values(self, positions: np.ndarray) -> list[Any]:
        """The values at ``positions``, None for a missing one."""
        data = self.data
        if self.arrow:
            pa, pc = arrow()
            out = data.take(pa.array(positions, pa.int64())).to_pylist()
        elif isinstance(data.dtype, np.dtype) and data.dtype.kind in "iufb":
            out = data.to_numpy()[positions].tolist()
        else:
            out = data.take(positions).tolist()
            if is_object(data.dtype):
                out = [v.item() if isinstance(v, np.generic) else v for v in out]
        if self.has_nulls:
            nulls = self.nulls[positions]
            out = [None if null else v for v, null in zip(out, nulls.tolist(), strict=True)]
        return out

    @functools.cached_property
    def may_hold_surrogates(self) -> bool:
        """Whether its values may be Python text UTF-8 cannot hold (Arrow's
        strings are UTF-8 already; numbers, booleans and datetimes are not text)."""
        if self.arrow:
            return False
        dtype = self.data.dtype
        if isinstance(dtype, pd.StringDtype):
            return getattr(dtype, "storage", "") != "pyarrow"  # Arrow holds UTF-8 only
        return not (isinstance(dtype, np.dtype) and dtype.kind in "iufbmM")

    @functools.cached_property
    def plain(self) -> bool:
        """Whether every value is already what SQLite stores for the declared
        type (an integer column of 64-bit ints, say)."""
        dtype = self.data.type if self.arrow else self.data.dtype
        return bool(self.kind) and str(dtype).lower() != "uint64"

    # -- vectorised comparisons
    @functools.cached_property
    def kind(self) -> str:
        """int, float, str or "" (no vectorised comparison) for this column."""
        data = self.data
        if self.arrow:
            pa, pc = arrow()
            t = data.type
            if pa.types.is_integer(t) and self.family in ("integer", "numeric"):
                return "int"
            if pa.types.is_floating(t) and self.family == "real":
                return "float"
            if (pa.types.is_string(t) or pa.types.is_large_string(t)) and self.family == "text":
                return "str"
            return ""
        dtype = data.dtype
        if self.family in ("integer", "numeric") and (
            (isinstance(dtype, np.dtype) and dtype.kind in "iu")
            or isinstance(dtype, pd.core.arrays.integer.IntegerDtype)
        ):
            return "int"
        if self.family == "real" and isinstance(dtype, np.dtype) and dtype.kind == "f":
            return "float"
        if self.family == "text" and (
            isinstance(dtype, pd.StringDtype)
            or (is_object(dtype) and pd.api.types.infer_dtype(data, skipna=True) == "string")
        ):
            return "str"
        return ""

    def _fits(self, kind: str, value: Any) -> bool:
        if kind == "int":
            if type(value) is not int:
                return False
            dtype = self.data.type.to_pandas_dtype() if self.arrow else self.data.dtype
            info = np.iinfo(getattr(dtype, "numpy_dtype", dtype))
            return info.min <= value <= info.max
        if kind == "float":
            return type(value) is float or (
                type(value) is int and abs(value) <= _MAX_EXACT_FLOAT_INT
            )
        return kind == "str" and type(value) is str

    def _array(self, kind: str) -> Any:
        """The column as the vectorised comparison takes it (made once)."""
        if self._numeric is None:
            data = self.data
            if self.arrow:
                pa, pc = arrow()
                self._numeric = data.cast(pa.float64()) if kind == "float" else data
            elif kind == "int":
                dtype = getattr(data.dtype, "numpy_dtype", data.dtype)
                self._numeric = data.to_numpy(dtype=dtype, na_value=0)
            elif kind == "float":
                self._numeric = data.to_numpy(dtype=np.float64, na_value=0.0)
            else:
                self._numeric = data.to_numpy(dtype=object, na_value="")
        return self._numeric

    def mask(self, op: str, values: list[Any]) -> np.ndarray | None:
        """Rows where ``column op value`` holds (for IN, any of ``values``),
        NULLs excluded; None when a vectorised answer is not certainly SQLite's."""
        kind = self.kind
        if not kind or not all(self._fits(kind, v) for v in values):
            return None
        if op == "IN":
            out = np.zeros(len(self.nulls), dtype=bool)
            for v in values:
                out |= self._compare("=", kind, v)
            return out & ~self.nulls
        return self._compare(op, kind, values[0]) & ~self.nulls

    def _compare(self, op: str, kind: str, value: Any) -> np.ndarray:
        array = self._array(kind)
        if not self.arrow:
            return np.asarray(_OPERATORS[op][0](array, value), dtype=bool)
        pa, pc = arrow()
        scalar = pa.scalar(float(value) if kind == "float" else value, array.type)
        result = getattr(pc, _OPERATORS[op][1])(array, scalar).fill_null(False)
        return np.asarray(result.to_numpy(zero_copy_only=False), dtype=bool)


_INT64 = (-(2**63), 2**63 - 1)


def beyond_int64(value: Any) -> float:
    """An integer beyond 64 bits as SQLite reads such a literal: a REAL."""
    try:
        return float(value)
    except OverflowError:  # beyond a double too: SQLite reads an infinity
        return math.inf if value > 0 else -math.inf


def is_beyond_int64(value: Any) -> bool:
    return type(value) is int and not _INT64[0] <= value <= _INT64[1]


def lone_surrogate(values: list[Any]) -> int | None:
    """The position of the first text value holding a lone surrogate (which
    UTF-8, and so SQLite, cannot hold), or None."""
    try:
        joined = "".join(values)
    except TypeError:  # NULLs, numbers...
        joined = "".join([v for v in values if isinstance(v, str)])
    if joined.isascii():
        return None
    try:
        joined.encode("utf-8")
        return None
    except UnicodeEncodeError:
        pass
    for i, v in enumerate(values):
        if isinstance(v, str) and not v.isascii():
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return i
    return None  # pragma: no cover (the joined text held one)


def column_data(frame: Any, key: Any) -> Any:
    if is_arrow(frame):
        if frame.column_names.count(key) != 1:
            raise ValueError(f"column {key!r}: its name is not unique in the frame")
        return frame.column(key)
    data = frame[key]
    if isinstance(data, pd.DataFrame):
        raise ValueError(f"column {key!r}: its name is not unique in the frame")
    return data


# ------------------------------------------------------------------ import

_NARROW_INTEGERS = {"int8", "int16", "int32", "uint8", "uint16"}


def _integer_type(name: str) -> str:
    """``integer`` for the narrow ones, ``numeric`` for uint64 (its values
    beyond a 64-bit signed integer read as REAL, as SQLite reads such a
    literal), else ``bigint``."""
    if name in _NARROW_INTEGERS:
        return "integer"
    return "numeric" if name == "uint64" else "bigint"


def _sql_type(dtype: Any, sample: Any = None) -> str:
    """The SQL type of a pandas column (``sample``: the column, for object dtypes)."""
    if isinstance(dtype, pd.CategoricalDtype):
        return _sql_type(dtype.categories.dtype, pd.Series(dtype.categories))
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return _integer_type(str(getattr(dtype, "numpy_dtype", dtype)))
    if pd.api.types.is_float_dtype(dtype):
        return "double precision"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "timestamptz"
    if pd.api.types.is_datetime64_dtype(dtype):
        return "timestamp"
    if is_object(dtype) and sample is not None:
        return _object_type(sample)
    return "text"


_INFERRED = {
    "integer": "bigint",
    "floating": "double precision",
    "mixed-integer-float": "double precision",
    "decimal": "numeric",
    "boolean": "boolean",
    "date": "date",
    "time": "time",
    "bytes": "bytea",
}


def _object_type(sample: pd.Series) -> str:
    inferred = pd.api.types.infer_dtype(sample, skipna=True)
    if inferred in ("datetime", "datetime64"):
        first = sample.dropna().iloc[0]
        return "timestamptz" if getattr(first, "tzinfo", None) is not None else "timestamp"
    return _INFERRED.get(inferred, "text")


_ARROW_TYPES = (
    ("is_boolean", "boolean"),
    ("is_floating", "double precision"),
    ("is_date", "date"),
    ("is_time", "time"),
    ("is_decimal", "numeric"),
    ("is_binary", "bytea"),
    ("is_large_binary", "bytea"),
)


def _arrow_sql_type(t: Any) -> str:
    pa, pc = arrow()
    if pa.types.is_dictionary(t):
        return _arrow_sql_type(t.value_type)
    if pa.types.is_integer(t):
        return _integer_type(str(t))
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz is not None else "timestamp"
    return next((sql for test, sql in _ARROW_TYPES if getattr(pa.types, test)(t)), "text")


def definition(name: str, frame: Any) -> api.TableDefinition:
    columns = []
    for label in frame.column_names if is_arrow(frame) else frame.columns:
        if is_arrow(frame):
            sql = _arrow_sql_type(frame.schema.field(label).type)
        else:
            data = column_data(frame, label)
            sql = _sql_type(data.dtype, data)
        columns.append(api.ColumnDefinition(str(label), sql))
    return api.TableDefinition(name, columns, {"frame": name})
