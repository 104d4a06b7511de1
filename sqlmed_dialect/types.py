"""Types of the ``sqlmed`` dialect: the names SQLite's reflection does not know,
and the types of foreign table columns.

Local tables keep SQLite's own reflection, with a few more type names
(PostgreSQL's ``INT8``, ``BYTEA``, ``TIMESTAMPTZ``...) that SQL/MED users
write.  A foreign table's columns read and write the text
``docs/wrappers/types.md`` gives: ``uuid`` as dashed text, ``timestamp with
time zone`` and ``time with time zone`` with their offsets, arrays as JSON.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import types as sqltypes
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.dialects.sqlite.base import DATETIME as _SQLITE_DATETIME
from sqlalchemy.dialects.sqlite.base import TIME as _SQLITE_TIME
from sqlalchemy.ext.compiler import compiles

# SQLAlchemy 2.1 has SQLite's binary JSONB (read back through json()); 2.0 does not.
_SQLITE_JSONB = hasattr(sqlite_dialect, "JSONB")

#: Type names beyond SQLite's, for reflection.
EXTRA_TYPES = {
    "BOOL": sqltypes.BOOLEAN,
    "BYTEA": sqltypes.LargeBinary,
    **({} if _SQLITE_JSONB else {"JSONB": sqltypes.JSON}),
    "DOUBLE PRECISION": sqltypes.DOUBLE_PRECISION,
    "FLOAT8": sqltypes.DOUBLE_PRECISION,
    "FLOAT4": sqltypes.REAL,
    "INT2": sqltypes.SMALLINT,
    "INT4": sqltypes.INTEGER,
    "INT8": sqltypes.BIGINT,
    "SERIAL": sqltypes.INTEGER,
    "BIGSERIAL": sqltypes.BIGINT,
    "TIMESTAMPTZ": sqltypes.TIMESTAMP,
    "TIMESTAMP WITH TIME ZONE": sqltypes.TIMESTAMP,
    "TIMESTAMP WITHOUT TIME ZONE": sqltypes.TIMESTAMP,
    "TIME WITHOUT TIME ZONE": sqltypes.TIME,
    "CHARACTER VARYING": sqltypes.VARCHAR,
    "UUID": sqltypes.Uuid,
}


# ------------------------------------------------------ foreign column types
# Types reflected for foreign table columns only (local tables keep SQLite's
# own reflection): they read and write the text docs/wrappers/types.md gives.


def _utc_offset(offset: datetime.timedelta | None) -> str:
    seconds = int(offset.total_seconds()) if offset is not None else 0
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


class DashedUUID(sqltypes.TypeDecorator):
    """``uuid``: stored as the canonical dashed text, read as :class:`uuid.UUID`."""

    impl = sqltypes.String(36)
    cache_ok = True

    @property
    def python_type(self):
        return uuid.UUID

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))

    def process_literal_param(self, value, dialect):
        return self.process_bind_param(value, dialect)

    def process_result_value(self, value, dialect):
        if value is None or isinstance(value, uuid.UUID):
            return value
        return uuid.UUID(str(value))


class _Zoned(sqltypes.TypeEngine[Any]):
    """A type whose values carry their UTC offset: a value read without one is UTC."""

    zoned: type[datetime.datetime] | type[datetime.time]

    def __init__(self, *args: Any, **kw: Any):
        kw["timezone"] = True
        super().__init__(*args, **kw)

    @staticmethod
    def text(value: Any) -> str:
        """The text stored for a (non-NULL) value."""
        raise NotImplementedError

    def bind_processor(self, dialect):
        text = self.text

        def process(value):
            return None if value is None else text(value)

        return process

    def result_processor(self, dialect, coltype):
        parse = super().result_processor(dialect, coltype)
        zoned = self.zoned

        def process(value):
            value = parse(value) if parse is not None else value
            if isinstance(value, zoned) and value.tzinfo is None:
                value = value.replace(tzinfo=datetime.UTC)
            return value

        return process


class TimestampTZ(_Zoned, _SQLITE_DATETIME, sqltypes.TIMESTAMP):
    """``timestamp with time zone``: text ``YYYY-MM-DD HH:MM:SS.ffffff+00:00``.

    Writes the UTC instant with its offset (a naive value is taken as UTC, the
    session zone of the remote); reads an aware :class:`datetime.datetime`.
    """

    __visit_name__ = "TIMESTAMP"
    zoned = datetime.datetime

    @staticmethod
    def text(value: Any) -> str:
        if not isinstance(value, datetime.datetime):
            if not isinstance(value, datetime.date):
                raise TypeError("TimestampTZ accepts datetime and date objects")
            value = datetime.datetime.combine(value, datetime.time())
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") + "+00:00"


class TimeTZ(_Zoned, _SQLITE_TIME, sqltypes.TIME):
    """``time with time zone``: text ``HH:MM:SS.ffffff+HH:MM``, the offset kept.

    Reads a :class:`datetime.time` with a fixed-offset ``tzinfo`` (UTC when the
    text has none); a naive value is written as UTC.
    """

    __visit_name__ = "TIME"
    zoned = datetime.time

    @staticmethod
    def text(value: Any) -> str:
        if not isinstance(value, datetime.time):
            raise TypeError("TimeTZ accepts time objects")
        return value.strftime("%H:%M:%S.%f") + _utc_offset(value.utcoffset())


@compiles(TimestampTZ, "sqlmed")
def _compile_timestamptz(type_, compiler, **kw):
    return "TIMESTAMP WITH TIME ZONE"


@compiles(TimeTZ, "sqlmed")
def _compile_timetz(type_, compiler, **kw):
    return "TIME WITH TIME ZONE"


@compiles(DashedUUID, "sqlmed")
def _compile_uuid(type_, compiler, **kw):
    return "UUID"


_PRECISION = r"(?:\s*\(\s*\d+\s*\))?"
FOREIGN_TYPES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r".*(?:\[\s*\d*\s*\]|\bARRAY)$"), sqltypes.JSON),
    (re.compile(r"UUID"), DashedUUID),
    (
        re.compile(rf"(?:TIMESTAMPTZ{_PRECISION}|TIMESTAMP{_PRECISION}\s+WITH\s+TIME\s+ZONE)"),
        TimestampTZ,
    ),
    (re.compile(rf"(?:TIMETZ{_PRECISION}|TIME{_PRECISION}\s+WITH\s+TIME\s+ZONE)"), TimeTZ),
    (re.compile(r"INTERVAL\b.*"), sqltypes.TEXT),
]


def foreign_type(
    declared: str, resolve: Callable[[str], sqltypes.TypeEngine[Any]]
) -> sqltypes.TypeEngine[Any]:
    """The type of a foreign table column declared ``declared``; ``resolve`` is
    the dialect's SQLite affinity rule, for the names this module leaves to it."""
    name = " ".join(declared.split()).upper()
    for pattern, foreign in FOREIGN_TYPES:
        if pattern.fullmatch(name):
            return foreign()
    type_ = resolve(name)
    if isinstance(type_, sqltypes.JSON):
        # A foreign table gives (and takes) JSON as text, whatever the source
        # stores: SQLite's binary JSONB type would send jsonb() blobs to it.
        return sqltypes.JSON()
    return type_
