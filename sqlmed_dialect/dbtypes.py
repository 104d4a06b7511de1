"""PEP 249's type objects and constructors for :mod:`sqlmed_dialect.dbapi`, and
the binding of the Python values APSW does not bind itself.

Dates, times and timestamps are bound as ISO text (as SQLAlchemy's SQLite
types store them), a :class:`decimal.Decimal` as text (keeping its
precision); ``Cursor.description`` carries SQLite's declared types, which
compare equal to the type object of their affinity.
"""

from __future__ import annotations

import datetime
import decimal
import time
from collections.abc import Callable
from typing import Any

import apsw

from .errors import ProgrammingError

Binary = bytes
Date = datetime.date
Time = datetime.time
Timestamp = datetime.datetime


def DateFromTicks(ticks: float) -> datetime.date:  # noqa: N802 - PEP 249 name
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> datetime.time:  # noqa: N802 - PEP 249 name
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> datetime.datetime:  # noqa: N802 - PEP 249 name
    return Timestamp(*time.localtime(ticks)[:6])


class _DBAPITypeObject:
    """A PEP 249 type object: equal to every declared type of its kind.

    ``Cursor.description`` carries SQLite's declared type (``"INTEGER"``,
    ``"VARCHAR(20)"``, ...) as ``type_code``; it compares equal to the type
    object of its SQLite affinity.
    """

    def __init__(self, name: str, match: Callable[[str], bool]):
        self.name = name
        self._match = match

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _DBAPITypeObject):
            return other is self
        if isinstance(other, str):
            return self._match(other.upper())
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"<DBAPITypeObject {self.name}>"


def _is_datetime(t: str) -> bool:
    return "DATE" in t or "TIME" in t


def _is_string(t: str) -> bool:
    return ("CHAR" in t or "CLOB" in t or "TEXT" in t) and not _is_datetime(t)


def _is_binary(t: str) -> bool:
    return "BLOB" in t or "BINARY" in t or "BYTEA" in t


def _is_number(t: str) -> bool:
    if _is_string(t) or _is_binary(t) or _is_datetime(t):
        return False
    return any(k in t for k in ("INT", "REAL", "FLOA", "DOUB", "NUM", "DEC", "BOOL"))


STRING = _DBAPITypeObject("STRING", _is_string)
BINARY = _DBAPITypeObject("BINARY", _is_binary)
NUMBER = _DBAPITypeObject("NUMBER", _is_number)
DATETIME = _DBAPITypeObject("DATETIME", _is_datetime)
ROWID = _DBAPITypeObject("ROWID", lambda t: t in ("ROWID", "_ROWID_", "OID"))


# ------------------------------------------------------------------ binding


def _offset_text(offset: datetime.timedelta | None) -> str:
    if offset is None:
        return ""
    sign = "-" if offset < datetime.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _clock_text(value: datetime.time | datetime.datetime) -> str:
    return (
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
        + _offset_text(value.utcoffset())
    )


def convert_binding(cursor: apsw.Cursor, num: int, value: Any) -> Any:
    """APSW's hook for values it cannot bind itself."""
    if isinstance(value, datetime.datetime):
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d} " + _clock_text(value)
    if isinstance(value, datetime.date):
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if isinstance(value, datetime.time):
        return _clock_text(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise ProgrammingError(
        f"Error binding parameter {num}: type {type(value).__name__!r} is not supported"
    )
