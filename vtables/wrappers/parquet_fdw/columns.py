"""Arrow types and values as SQLite sees them.

``declared_type`` names the PostgreSQL type IMPORT FOREIGN SCHEMA declares for
an Arrow type.  ``Reader`` turns a record batch's columns into the storage
format of the declared types (``vtables.types``): where Arrow can do it column
at a time (numbers, strings, booleans, dates and timestamps as ISO text) the
result stays Arrow and goes to the C batch whole (``arrow_batch``); anything
else (decimals, nested values, a declared type that is not the file's) is
converted value by value by ``vtables.types``' converters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vtables import types


def declared_type(arrow_type: Any) -> str:
    """The column type IMPORT FOREIGN SCHEMA declares for an Arrow type."""
    import pyarrow.types as pt

    if pt.is_dictionary(arrow_type):
        return declared_type(arrow_type.value_type)
    checks: list[tuple[Callable[[Any], bool], str]] = [
        (pt.is_boolean, "boolean"),
        (lambda t: pt.is_int8(t) or pt.is_int16(t) or pt.is_uint8(t), "smallint"),
        (lambda t: pt.is_int32(t) or pt.is_uint16(t), "integer"),
        (lambda t: pt.is_int64(t) or pt.is_uint32(t), "bigint"),
        (pt.is_uint64, "numeric"),
        (lambda t: pt.is_float16(t) or pt.is_float32(t), "real"),
        (pt.is_float64, "double precision"),
        (lambda t: pt.is_string(t) or pt.is_large_string(t) or pt.is_string_view(t), "text"),
        (
            lambda t: pt.is_binary(t) or pt.is_large_binary(t) or pt.is_fixed_size_binary(t),
            "bytea",
        ),
        (pt.is_date, "date"),
        (pt.is_time, "time"),
        (lambda t: pt.is_timestamp(t) and t.tz is not None, "timestamptz"),
        (pt.is_timestamp, "timestamp"),
        (lambda t: pt.is_list(t) or pt.is_large_list(t) or pt.is_struct(t), "jsonb"),
        (pt.is_map, "jsonb"),
    ]
    for check, name in checks:
        if check(arrow_type):
            return name
    if pt.is_decimal(arrow_type):
        return f"numeric({arrow_type.precision},{arrow_type.scale})"
    return "text"


def _utc_text(array: Any) -> Any:
    """A tz-aware timestamp column as timestamptz text (UTC, ``+00:00``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    utc = array.cast(pa.timestamp("us", tz="UTC"), safe=False)
    return pc.replace_substring_regex(utc.cast(pa.string()), "Z$", "+00:00")


def _column_way(family: str, arrow_type: Any) -> Callable[[Any], Any] | None:
    """How a column of this Arrow type becomes the declared family's storage
    as an Arrow array the C batch reads (None: value by value)."""
    import pyarrow as pa
    import pyarrow.types as pt

    if pt.is_dictionary(arrow_type):
        inner = _column_way(family, arrow_type.value_type)
        if inner is None:
            return None
        return lambda a: inner(a.dictionary_decode())
    if family == "integer" and pt.is_integer(arrow_type) and not pt.is_uint64(arrow_type):
        return _same
    if family == "real" and (pt.is_floating(arrow_type) or pt.is_integer(arrow_type)):
        return lambda a: a.cast(pa.float64(), safe=False)
    if family == "text" and (pt.is_string(arrow_type) or pt.is_large_string(arrow_type)):
        return _same
    if family == "text" and pt.is_string_view(arrow_type):
        return lambda a: a.cast(pa.string())
    if family == "boolean" and pt.is_boolean(arrow_type):
        return lambda a: a.cast(pa.int8())
    if family == "blob" and (pt.is_binary(arrow_type) or pt.is_large_binary(arrow_type)):
        return _same
    if family == "date" and pt.is_date(arrow_type):
        return lambda a: a.cast(pa.string())
    if family == "timestamp" and pt.is_timestamp(arrow_type) and arrow_type.tz is None:
        return lambda a: a.cast(pa.timestamp("us"), safe=False).cast(pa.string())
    if family == "timestamptz" and pt.is_timestamp(arrow_type):
        if arrow_type.tz is None:  # taken as UTC, as types' converter takes it
            return lambda a: _utc_text(a.cast(pa.timestamp("us", tz="UTC"), safe=False))
        return _utc_text
    if family == "any" and (pt.is_integer(arrow_type) and not pt.is_uint64(arrow_type)):
        return _same
    if family == "any" and (pt.is_float64(arrow_type) or pt.is_string(arrow_type)):
        return _same
    return None


def _same(array: Any) -> Any:
    return array


class BadValue(ValueError):
    """A value of the ``column``-th column that does not convert to its type."""

    def __init__(self, column: int, error: Exception):
        super().__init__(str(error))
        self.column = column


class Reader:
    """A scan's conversion of record batches (their columns in the scan's
    order) into rows of the declared types."""

    def __init__(self, declared: list[str], schema: Any, arrow_batch: Any | None):
        self.families = [types.family(d) for d in declared]
        self.ways = [_column_way(f, schema.field(i).type) for i, f in enumerate(self.families)]
        self.converters = [types.converter(d) for d in declared]
        self.arrow_batch = arrow_batch

    def rows(self, batch: Any) -> Any:
        """The batch's rows: a C batch, or a zip of converted columns."""
        import pyarrow as pa

        if not self.families:  # no column read: the rows counted
            return [()] * batch.num_rows
        columns = batch.columns
        if self.arrow_batch is not None and all(w is not None for w in self.ways):
            ready = [w(c) for w, c in zip(self.ways, columns, strict=True)]  # type: ignore[misc]
            names = [str(i) for i in range(len(ready))]
            found = self.arrow_batch(pa.RecordBatch.from_arrays(ready, names=names))
            if found is not None:
                return found
        return zip(*(self._values(i, c) for i, c in enumerate(columns)), strict=True)

    def _values(self, i: int, column: Any) -> list[Any]:
        try:
            return self._converted(i, column)
        except (ValueError, TypeError, ArithmeticError) as err:
            raise BadValue(i, err) from None

    def _converted(self, i: int, column: Any) -> list[Any]:
        way = self.ways[i]
        if way is not None:
            values = way(column).to_pylist()
            if self.families[i] == "real":
                return [None if v is None or v != v else v for v in values]
            return values
        convert = self.converters[i]
        return [None if v is None else convert(_plain(v)) for v in column.to_pylist()]


def _plain(value: Any) -> Any:
    """A value pyarrow gives as a dict or list of pairs (struct, map): as JSON would hold it."""
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        return {str(k): _plain(v) for k, v in value}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
