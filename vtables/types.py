"""Declared column types, and the coercion of values that wrappers return.

Virtual tables get no type affinity from SQLite, so the module converts each
value to what the declared type means, in the storage format SQLAlchemy's
SQLite types read back: ISO text for dates and times, 1/0 for booleans,
REAL or INTEGER for numerics, UTF-8 text for JSON.

Nothing is lost silently: a ``timestamptz`` is stored as UTC text with its
offset (``2024-03-01 08:00:00.000000+00:00``), a ``time`` that has an offset
keeps it, and a ``Decimal`` that no double holds exactly (more than 15
significant digits that a REAL would round) is kept as its exact TEXT.
The table of every mapping is in docs/wrappers/types.md.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Callable
from typing import Any

Converter = Callable[[Any], Any]

_INT_RANGE = (-(2**63), 2**63 - 1)


def family(declared: str) -> str:
    """The kind of a declared type: integer, real, numeric, text, boolean, date,
    time, timestamp, timestamptz, blob, json or any."""
    t = declared.strip().lower()
    t = re.sub(r"\(.*?\)", "", t).strip()
    if t.endswith("[]"):
        return "json"
    if t.startswith("interval") or t.endswith("range") or t == "point":
        return "text"  # not integers, though their names hold "int"
    if t in ("timestamptz", "timestamp with time zone", "datetimetz"):
        return "timestamptz"
    if t.startswith("timestamp") or t == "datetime":
        return "timestamp"
    if t.startswith("time"):
        return "time"
    if t == "date":
        return "date"
    if t in ("bool", "boolean"):
        return "boolean"
    if t in ("json", "jsonb"):
        return "json"
    if "int" in t or t in ("serial", "bigserial", "smallserial"):
        return "integer"
    if t in ("real", "float", "float4", "float8", "double", "double precision") or t.startswith(
        "float"
    ):
        return "real"
    if t.startswith(("numeric", "decimal", "number")) or t == "money":
        return "numeric"
    if any(k in t for k in ("char", "text", "clob", "string", "uuid", "citext", "name")):
        return "text"
    if t in ("bytea", "binary", "varbinary"):
        return "blob"
    return "any"  # SQLite's BLOB (no affinity) and anything unknown keep their values


def _digits_only(text: str) -> None:
    if "_" in text or not text.isascii():  # Python reads 1_000 and ١ as numbers; SQL does not
        raise ValueError("invalid input syntax")


def _integer_text(text: str) -> int:
    _digits_only(text)
    out = int(text)  # int() strips spaces itself
    if not _INT_RANGE[0] <= out <= _INT_RANGE[1]:
        raise ValueError("out of range for a 64-bit integer")
    return out


def _real_text(text: str) -> float:
    _digits_only(text)
    return float(text)  # float() strips spaces itself


def _integer(v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        out = v
    elif isinstance(v, float):
        if not v.is_integer():
            raise ValueError("not an integer")
        out = int(v)
    elif isinstance(v, decimal.Decimal):
        if v != v.to_integral_value():
            raise ValueError("not an integer")
        out = int(v)
    elif isinstance(v, (str, bytes)):
        return _integer_text(v.decode() if isinstance(v, bytes) else v)
    else:
        raise ValueError("not an integer")
    if not _INT_RANGE[0] <= out <= _INT_RANGE[1]:
        raise ValueError("out of range for a 64-bit integer")
    return out


def _real(v: Any) -> float:
    if isinstance(v, (bytes, bytearray)):
        v = v.decode()
    if isinstance(v, str):
        return _real_text(v)
    if isinstance(v, (int, float, decimal.Decimal)):
        return float(v)
    raise ValueError("not a number")


def _numeric(v: Any) -> int | float | str:
    # SQLite's NUMERIC affinity: an integer when the value is integral, else REAL.
    if type(v) is float:
        return int(v) if v.is_integer() and abs(v) < 2**63 else v
    if type(v) is str:
        f = _real_text(v)
        if not f.is_integer():
            return f  # non-integral, NaN or infinite: stored as REAL
        try:
            out = int(v)
        except ValueError:  # "1e3", "2.0": integral values written as reals
            v = f
        else:
            return out if -(2**63) <= out < 2**63 else f
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):  # past 64 bits a REAL, as SQLite reads such a literal
        return v if _INT_RANGE[0] <= v <= _INT_RANGE[1] else float(v)
    if isinstance(v, (bytes, bytearray)):
        return _numeric(bytes(v).decode())
    if isinstance(v, float):
        return int(v) if v.is_integer() and abs(v) < 2**63 else v
    if isinstance(v, decimal.Decimal):
        return _decimal(v)
    raise ValueError("not a number")


def _decimal(v: decimal.Decimal) -> int | float | str:
    """A Decimal without loss: INTEGER when integral and in range, REAL when
    the double reads back as the same number, else the exact value as TEXT."""
    if not v.is_finite():
        return "NaN" if v.is_nan() else float(v)  # SQLite would store a NaN REAL as NULL
    if v == v.to_integral_value() and abs(v) < 2**63:
        return int(v)
    f = float(v)
    if len(v.as_tuple().digits) <= 15 or decimal.Decimal(repr(f)) == v:
        return f  # 15 significant digits always survive a double
    return format(v, "f")


def _text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8")
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dt.date, dt.time)):
        return _timestamp(v) if isinstance(v, dt.datetime) else v.isoformat()
    return str(v)


_TRUE = {"t", "true", "y", "yes", "on", "1"}
_FALSE = {"f", "false", "n", "no", "off", "0"}


def _boolean(v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)) and v in (0, 1):
        return int(v)
    if isinstance(v, (str, bytes)):
        text = (v.decode() if isinstance(v, bytes) else v).strip().lower()
        if text in _TRUE:
            return 1
        if text in _FALSE:
            return 0
    raise ValueError("not a boolean")


def _date(v: Any) -> str:
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str):
        return dt.date.fromisoformat(v.strip()[:10]).isoformat()
    raise ValueError("not a date")


def _time(v: Any) -> str:
    if isinstance(v, dt.datetime):
        v = v.time()
    if isinstance(v, str):
        v = dt.time.fromisoformat(v.strip())
    if isinstance(v, dt.time):
        text = f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}"
        offset = v.utcoffset()
        return text if offset is None else text + _offset(offset)
    raise ValueError("not a time")


def _offset(delta: dt.timedelta) -> str:
    sign = "-" if delta < dt.timedelta(0) else "+"
    minutes = abs(int(delta.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _parse_datetime(v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    if isinstance(v, str):
        return dt.datetime.fromisoformat(v.strip())
    raise ValueError("not a timestamp")


def _timestamp(v: Any) -> str:
    d = _parse_datetime(v)
    return d.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _timestamptz(v: Any) -> str:
    # UTC, with its offset written: text order is time order, SQLite's date
    # functions read it, and SQLAlchemy reads it back as an aware datetime.
    # A value without an offset is taken as UTC (the remote session's zone).
    d = _parse_datetime(v)
    if d.tzinfo is not None:
        d = d.astimezone(dt.UTC)
    return d.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") + "+00:00"


def _blob(v: Any) -> bytes:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, str):
        if v.startswith("\\x"):  # PostgreSQL's bytea hex output
            return bytes.fromhex(v[2:])
        return v.encode("utf-8")
    raise ValueError("not binary data")


def _json(v: Any) -> str:
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v).decode("utf-8")
    if isinstance(v, str):
        json.loads(v)  # must already be JSON text
        return v
    return json.dumps(v, default=_json_default)


def _json_default(v: Any) -> Any:
    """JSON for what json cannot write: numbers stay numbers where a double
    holds them exactly (else their exact text), dates and times ISO text."""
    if isinstance(v, decimal.Decimal):
        out = _decimal(v)
        return out if isinstance(out, (int, float)) else str(v)
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(v).hex()
    return str(v)


def _any(v: Any) -> Any:
    if isinstance(v, int) and not isinstance(v, bool):
        return v if _INT_RANGE[0] <= v <= _INT_RANGE[1] else float(v)
    if v is None or isinstance(v, (int, float, str, bytes)):
        return v
    if isinstance(v, decimal.Decimal):
        return _numeric(v)
    if isinstance(v, (dt.date, dt.time)):
        return _text(v)
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    return str(v)


_CONVERTERS: dict[str, Converter] = {
    "integer": _integer,
    "real": _real,
    "numeric": _numeric,
    "text": _text,
    "boolean": _boolean,
    "date": _date,
    "time": _time,
    "timestamp": _timestamp,
    "timestamptz": _timestamptz,
    "blob": _blob,
    "json": _json,
    "any": _any,
}

# Values that already have the storage class a family stores need no call.
_NATIVE: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "real": (float,),
    "numeric": (int,),
    "text": (str,),
    "blob": (bytes,),
    "any": (int, float, str, bytes),
}


def converter(declared: str) -> Converter:
    """A function turning a wrapper's value into the declared type's storage."""
    return _CONVERTERS[family(declared)]


def native_types(declared: str) -> tuple[type, ...]:
    """Python types that pass through unchanged for this declared type."""
    return _NATIVE.get(family(declared), ())


def text_converter(declared: str) -> Converter:
    """The coercion of a field read as text (a file's) to the declared type: the
    converter's rules, with the type tests for other values skipped."""
    kind = family(declared)
    if kind == "integer":
        return _integer_text
    if kind == "real":
        return _real_text
    return _CONVERTERS[kind]


# The usual spellings of booleans, for a lookup per value.
_BOOLEAN_TEXT = {
    spelling: value
    for words, value in ((_TRUE, 1), (_FALSE, 0))
    for word in words
    for spelling in (word, word.upper(), word.capitalize())
}


def convert_texts(kind: str, values: list, convert: Converter) -> list:
    """A column of field texts (or None) of family ``kind`` converted by
    ``convert`` (``text_converter``'s), the loop inside C where it can be;
    raises what the converter raises."""
    if None in values:
        return [None if v is None else convert(v) for v in values]
    if kind in ("integer", "real", "numeric"):
        joined = "".join(values)
        if "_" in joined or not joined.isascii():  # converted one by one, to fail
            return list(map(convert, values))
    if kind == "integer":
        out = list(map(int, values))
        if out and (min(out) < _INT_RANGE[0] or max(out) > _INT_RANGE[1]):
            raise ValueError("out of range for a 64-bit integer")
        return out
    if kind == "real":
        return list(map(float, values))
    if kind == "numeric":
        # NUMERIC affinity: REAL unless integral; integral texts take the exact path.
        reals = list(map(float, values))
        if not any(map(float.is_integer, reals)):
            return reals
    elif kind == "boolean":
        try:
            return list(map(_BOOLEAN_TEXT.__getitem__, values))
        except KeyError:
            pass  # spaces, other spellings: the converter's rules
    elif kind == "date" and set(map(len, values)) == {10}:
        return list(map(dt.date.isoformat, map(dt.date.fromisoformat, values)))
    return list(map(convert, values))
