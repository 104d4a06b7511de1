"""dataframe_fdw: pandas DataFrames and Arrow tables of the running program as foreign tables.

Purpose
    Query the DataFrames (and ``pyarrow.Table`` objects) a program holds with
    SQL, join them with the database's tables, and append rows to them with
    INSERT (``DataFrame.to_sql(..., if_exists="append")`` included).  A frame
    is found by name among those the program registered::

        import vtables
        vtables.register_frame("measurements", frame)

    A database file can only name registered frames: it never names code to
    import or an object to look up otherwise.  ``unregister_frame(name)``
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

Writes
    INSERT appends rows, at COMMIT, as a new frame registered under the same
    name (pandas: ``pd.concat``, each column keeping its dtype where the new
    values fit it, else an integer or boolean column becomes its nullable
    kind and any other ``object``; the index continues a default
    ``RangeIndex``, else counts on from the frame's length.  Arrow:
    ``pa.concat_tables``, values cast to the table's schema).  The inserting
    connection sees its own rows before COMMIT; ROLLBACK drops them.
    UPDATE and DELETE are refused.

IMPORT FOREIGN SCHEMA
    One foreign table per registered frame (the schema's name is not used),
    column types from the dtypes: integers ``integer`` or ``bigint``, floats
    ``double precision``, booleans ``boolean``, datetimes ``timestamp`` (with
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

import datetime as dt
import decimal
import functools
import importlib
import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .. import frames, semantics, types
from .. import wrapper as api
from ..errors import FeatureNotSupportedError as NotSupported
from ..errors import InvalidOptionError, UndefinedObjectError, WrapperError
from ..remote import RemoteTransaction, TransactionAware
from ..wrapper import ColumnDefinition, OptionSpec, Qual

# pandas and pyarrow ship no type information: imported as Any.
pd: Any = importlib.import_module("pandas")


def _arrow() -> tuple[Any, Any]:
    """pyarrow and pyarrow.compute (an extra), imported when an Arrow table is used."""
    return importlib.import_module("pyarrow"), importlib.import_module("pyarrow.compute")


# ------------------------------------------------------------------ registry
# The registry is the engine's (vtables.frames): the program registers frames
# with vtables.register_frame, and this wrapper only looks them up.

_is_arrow = frames.is_arrow
_find = frames.find


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


def _column_keys(frame: Any) -> dict[str, Any]:
    """The frame's columns by name (``str`` of each label)."""
    labels = list(frame.column_names if _is_arrow(frame) else frame.columns)
    keys: dict[str, Any] = {}
    for label in labels:
        keys.setdefault(str(label), label)
    return keys


def _is_object(dtype: Any) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind == "O"


def _length(frame: Any) -> int:
    return int(frame.num_rows if _is_arrow(frame) else len(frame))


class _Column:
    """One column of a frame: its NULLs, its values as Python objects, and a
    vectorised comparison where it gives SQLite's answer."""

    def __init__(self, data: Any, family: str):
        self.data = data
        self.family = family
        self.arrow = not isinstance(data, pd.Series)
        if self.arrow:
            pa, pc = _arrow()
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
            pa, pc = _arrow()
            out = data.take(pa.array(positions, pa.int64())).to_pylist()
        elif isinstance(data.dtype, np.dtype) and data.dtype.kind in "iufb":
            out = data.to_numpy()[positions].tolist()
        else:
            out = data.take(positions).tolist()
            if _is_object(data.dtype):
                out = [v.item() if isinstance(v, np.generic) else v for v in out]
        if self.has_nulls:
            nulls = self.nulls[positions]
            out = [None if null else v for v, null in zip(out, nulls.tolist(), strict=True)]
        return out

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
            pa, pc = _arrow()
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
            or (_is_object(dtype) and pd.api.types.infer_dtype(data, skipna=True) == "string")
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
                pa, pc = _arrow()
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
        pa, pc = _arrow()
        scalar = pa.scalar(float(value) if kind == "float" else value, array.type)
        result = getattr(pc, _OPERATORS[op][1])(array, scalar).fill_null(False)
        return np.asarray(result.to_numpy(zero_copy_only=False), dtype=bool)


def _column_data(frame: Any, key: Any) -> Any:
    if _is_arrow(frame):
        if frame.column_names.count(key) != 1:
            raise ValueError(f"column {key!r}: its name is not unique in the frame")
        return frame.column(key)
    data = frame[key]
    if isinstance(data, pd.DataFrame):
        raise ValueError(f"column {key!r}: its name is not unique in the frame")
    return data


# ------------------------------------------------------------------ import

_NARROW_INTEGERS = {"int8", "int16", "int32", "uint8", "uint16"}


def _sql_type(dtype: Any, sample: Any = None) -> str:
    """The SQL type of a pandas column (``sample``: the column, for object dtypes)."""
    if isinstance(dtype, pd.CategoricalDtype):
        return _sql_type(dtype.categories.dtype, pd.Series(dtype.categories))
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        name = str(getattr(dtype, "numpy_dtype", dtype))
        return "integer" if name in _NARROW_INTEGERS else "bigint"
    if pd.api.types.is_float_dtype(dtype):
        return "double precision"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "timestamptz"
    if pd.api.types.is_datetime64_dtype(dtype):
        return "timestamp"
    if _is_object(dtype) and sample is not None:
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
    pa, pc = _arrow()
    if pa.types.is_dictionary(t):
        return _arrow_sql_type(t.value_type)
    if pa.types.is_integer(t):
        return "integer" if str(t) in _NARROW_INTEGERS else "bigint"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz is not None else "timestamp"
    return next((sql for test, sql in _ARROW_TYPES if getattr(pa.types, test)(t)), "text")


def _definition(name: str, frame: Any) -> api.TableDefinition:
    columns = []
    for label in frame.column_names if _is_arrow(frame) else frame.columns:
        if _is_arrow(frame):
            sql = _arrow_sql_type(frame.schema.field(label).type)
        else:
            data = _column_data(frame, label)
            sql = _sql_type(data.dtype, data)
        columns.append(api.ColumnDefinition(str(label), sql))
    return api.TableDefinition(name, columns, {"frame": name})


# ------------------------------------------------------------------ appends


def _frame_value(value: Any, sample: Any) -> Any:
    """A stored SQL value as the frame's column holds it (``sample``: the
    column's dtype or Arrow type), e.g. timestamp text as a datetime."""
    if value is None:
        return value
    text = str(sample)
    try:
        if text.startswith("bool") and type(value) is int:
            return bool(value)
        if text.startswith("decimal") and isinstance(value, int | float | str):
            return decimal.Decimal(repr(value) if isinstance(value, float) else value)
        if not isinstance(value, str):
            return value
        if text.startswith(("datetime64", "timestamp")):
            return dt.datetime.fromisoformat(value)
        if text.startswith("date"):
            return dt.date.fromisoformat(value[:10])
    except (ValueError, decimal.InvalidOperation):
        return value
    return value


def _series(old: pd.Series, values: list[Any]) -> tuple[pd.Series, pd.Series]:
    """(old column, new rows' column) sharing a dtype that holds both exactly."""
    dtype = old.dtype
    wanted = [v is not None for v in values]
    if isinstance(dtype, pd.CategoricalDtype):
        extra = [v for v in dict.fromkeys(values) if v is not None and v not in dtype.categories]
        if extra:
            old = old.cat.add_categories(extra)
        return old, pd.Series(values, dtype=old.dtype)
    if _is_object(dtype):
        # an object column of dates (or decimals) takes dates (or decimals)
        kind = {"date": "date", "decimal": "decimal"}.get(pd.api.types.infer_dtype(old), "")
        return old, pd.Series([_frame_value(v, kind) for v in values], dtype=object)
    values = [_frame_value(v, dtype) for v in values]
    candidates: list[Any] = [dtype]
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        candidates.append(pd.Int64Dtype() if dtype.kind == "i" else pd.UInt64Dtype())
    elif isinstance(dtype, np.dtype) and dtype.kind == "b":
        candidates.append(pd.BooleanDtype())
    for candidate in candidates:
        try:
            new = pd.Series(values, dtype=candidate)
        except (TypeError, ValueError, OverflowError):
            continue
        if new.notna().tolist() == wanted:
            return (old if candidate is dtype else old.astype(candidate)), new
    return old.astype(object), pd.Series(values, dtype=object)


def _appended(frame: Any, rows: list[dict[str, Any]]) -> Any:
    """A new frame: ``frame`` with ``rows`` (frame column label -> value) after it."""
    if not rows:
        return frame
    labels = list(frame.column_names if _is_arrow(frame) else frame.columns)
    if len(set(labels)) != len(labels):
        raise ValueError("cannot append to a frame whose column names are not unique")
    if _is_arrow(frame):
        pa, pc = _arrow()
        arrays = []
        for label in labels:
            field = frame.schema.field(label)
            values = [_frame_value(row.get(label), field.type) for row in rows]
            try:
                arrays.append(pa.array(values, type=field.type))
            except (pa.ArrowException, TypeError, ValueError) as err:
                raise ValueError(f'column "{label}" ({field.type}): {err}') from None
        new = pa.Table.from_arrays(arrays, schema=frame.schema)
        return pa.concat_tables([frame, new])
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


class _Appends(RemoteTransaction):
    """A connection's appends not yet committed: frame name -> rows."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.marks: dict[int, dict[str, int]] = {}

    def start(self) -> None:
        self.rows.clear()

    def finish(self, commit: bool) -> None:
        rows, self.rows = self.rows, {}
        self.marks.clear()
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
                    made[name] = _appended(held[name], added)
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


# ------------------------------------------------------------------ wrapper

_HONOURED = frozenset(
    {"=", "!=", "<", "<=", ">", ">=", "IS", "IS NOT", "IN", "IS NULL", "IS NOT NULL"}
)
_FIRST_BATCH = 64
_BATCH = 4096
_SHARED_KEY = "dataframe_fdw:appends"


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
        found = _find(self.frame_name)
        if found is None:
            raise UndefinedObjectError(
                f'foreign table "{self.table_name}": no frame is registered as "{self.frame_name}"',
                hint="The program registers it: vtables.wrappers.dataframe_fdw."
                f"register_frame({self.frame_name!r}, frame).",
            )
        return found

    def transaction(self, start: bool = False) -> _Appends | None:
        if start:
            return self.context.shared_state(_SHARED_KEY, _Appends)
        return self.context.shared.get(_SHARED_KEY)

    def _frame(self) -> tuple[str, Any]:
        """The frame as this connection sees it: its own appends included."""
        name, frame = self._registered()
        pending = self.transaction()
        rows = pending.rows.get(name) if pending is not None else None
        if rows:
            frame = self._call(_appended, frame, rows)
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
        keys = _column_keys(frame)
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

    def _columns(self, frame: Any, names: list[str]) -> dict[str, _Column]:
        return {
            name: _Column(self._call(_column_data, frame, label), self.families[name])
            for name, label in self._labels(frame, names).items()
        }

    # -------------------------------------------------------------- planning

    def honours(self, qual: Qual) -> bool:
        return qual.operator in _HONOURED and qual.column in self.columns

    def estimate(self, quals: list[Qual], columns: list[str]) -> tuple[float, float]:
        found = _find(self.frame_name)
        # the base class's guess for a million rows, scaled to the frame's length
        scale = (_length(found[1]) if found is not None else 1000) / 1_000_000
        rows = max(super().estimate(quals, columns)[0] * scale, 1.0)
        return rows, 10.0 + rows * (1 + len(columns)) / 10

    def explain(self, quals, columns, sortkeys, limit, offset) -> str:
        found = _find(self.frame_name)
        if found is None:
            return f'frame "{self.frame_name}" (not registered)'
        kind = "Arrow table" if _is_arrow(found[1]) else "DataFrame"
        return f'{kind} "{found[0]}" ({_length(found[1])} rows)'

    # ----------------------------------------------------------------- reads

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        for batch in self.scan_batches(quals, columns, sortkeys, limit, offset):
            yield from batch

    def scan_batches(self, quals, columns, sortkeys=None, limit=None, offset=None):
        _name, frame = self._frame()
        checked = [q for q in quals if self.honours(q)]
        wanted = list(dict.fromkeys([*columns, *(q.column for q in checked)]))
        cols = self._columns(frame, wanted)
        keep = np.ones(_length(frame), dtype=bool)
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

    def _mask(self, col: _Column, qual: Qual) -> np.ndarray | None:
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
        cols: dict[str, _Column],
        chunk: np.ndarray,
        columns: list[str],
        rest: list[tuple[Qual, Any]],
    ) -> list[tuple]:
        converted: dict[str, list[Any]] = {}
        for name in dict.fromkeys([*(q.column for q, _ in rest), *columns]):
            col = cols[name]
            values = col.values(chunk)
            # a column of the declared type's own values needs no conversion
            converted[name] = values if col.plain else self._convert(frame, name, values, chunk)
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
        out = []
        for i, v in enumerate(values):
            if v is None or type(v) in natives:
                out.append(v)
                continue
            try:
                out.append(convert(v))
            except (ValueError, TypeError, OverflowError) as err:
                row = int(chunk[i])
                label = "" if _is_arrow(frame) else f" (index {frame.index[row]!r})"
                raise WrapperError(
                    f'foreign table "{self.table_name}": frame "{self.frame_name}",'
                    f' column "{self.remote_names[name]}", row {row}{label}:'
                    f" cannot convert {v!r} to {declared}: {err}"
                ) from None
        return out

    # ---------------------------------------------------------------- writes

    def insert(self, values: dict[str, Any]) -> None:
        self.insert_many([values])

    def insert_many(self, rows: list[dict[str, Any]], on_conflict: str | None = None) -> None:
        if on_conflict is not None:
            raise NotSupported(f"INSERT OR {on_conflict} is not supported")
        name, frame = self._registered()
        labels = self._labels(frame, list(self.columns))
        converters = {n: types.converter(c.type) for n, c in self.columns.items()}
        added = []
        for values in rows:
            row = {}
            for column, value in values.items():
                try:
                    stored = None if value is None else converters[column](value)
                except (ValueError, TypeError) as err:
                    raise WrapperError(
                        f'foreign table "{self.table_name}": column "{column}": cannot convert'
                        f" {value!r} to {self.columns[column].type}: {err}"
                    ) from None
                row[labels[column]] = stored
            added.append(row)
        pending = self.transaction(start=True)
        assert pending is not None
        if not pending.local:  # used outside a transaction: appended at once
            with frames.lock():
                held = frames.registered_frames(locked=True)
                frames.replace(name, self._call(_appended, held.get(name, frame), added))
            return
        empty = frame.slice(0, 0) if _is_arrow(frame) else frame.iloc[:0]
        self._call(_appended, empty, added)  # refused now rather than at COMMIT
        pending.rows.setdefault(name, []).extend(added)

    # ---------------------------------------------------------------- import

    @classmethod
    def import_tables(cls, request: api.ImportRequest) -> list[api.TableDefinition]:
        found = frames.registered_frames()
        return [_definition(name, found[name]) for name in sorted(found) if request.wanted(name)]
