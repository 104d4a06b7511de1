"""A PEP 249 (DB-API 2.0) module over :mod:`vtables` connections.

APSW is deliberately not a DB-API module: it has no implicit transactions, no
``rowcount``, and its ``description`` raises once a statement has produced all
of its rows.  This module adds what PEP 249 (and SQLAlchemy, pandas, ...)
expect, in the manner of CPython's :mod:`sqlite3`:

* ``paramstyle = "qmark"`` and the PEP 249 exception hierarchy, mapped from
  APSW's exceptions and from :mod:`vtables.errors` (the mapped exception is
  raised ``from`` the original, keeps it as ``.orig`` and its ``sqlstate``);
* an implicit ``BEGIN <isolation_level>`` before INSERT, UPDATE, DELETE and
  REPLACE (and a ``WITH`` that writes), unless the connection is in autocommit
  mode: as in :mod:`sqlite3`'s legacy transaction control, DDL (SQL/MED DDL
  included) and reads never begin a transaction;
* ``rowcount`` for INSERT/UPDATE/DELETE/REPLACE (summed over ``executemany``),
  ``-1`` for everything else; ``lastrowid`` after INSERT/REPLACE;
* ``description``: the columns of the statement that ran, read after its
  first step (SQLite prepares a cached statement again after a schema
  change, and the column names can change with it), also for a SELECT that
  returns no rows;
* binding of :class:`datetime.date`, :class:`datetime.datetime`,
  :class:`datetime.time` (ISO text, as SQLAlchemy's SQLite types store them),
  :class:`decimal.Decimal` (text, keeping its precision) and ``bool``;
* the same-thread check of :mod:`sqlite3`, or with ``check_same_thread=False``
  a lock that serialises calls (APSW raises ``ThreadingViolationError`` when
  two threads use one connection at the same time).

SQL/MED statements (``CREATE SERVER ...``) go through the :mod:`vtables`
statement router like any other statement.  What PostgreSQL would send as a
NOTICE (``server "x" does not exist, skipping``, a wrapper's notices) is
logged on the ``sqlmed_dialect`` logger at INFO as ``NOTICE:  ...``, after the
call that raised it, as SQLAlchemy's PostgreSQL dialects leave notices to the
driver's logging.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import apsw

import vtables
from vtables import errors as med_errors
from vtables import secrets as med_secrets

try:  # the module's own error classes (NotNullViolation is also an apsw.ConstraintError)
    from vtables.module import NotNullViolation as _NotNullViolation
except ImportError:  # pragma: no cover - defensive
    _NotNullViolation = None

__all__ = [
    "BINARY",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "Binary",
    "Connection",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "apilevel",
    "connect",
    "paramstyle",
    "sqlite_version",
    "sqlite_version_info",
    "threadsafety",
]

# ------------------------------------------------------------------ globals

apilevel = "2.0"
threadsafety = 1
paramstyle = "qmark"

#: Where notices go (``NOTICE:  ...`` at INFO).
notice_logger = logging.getLogger("sqlmed_dialect")

sqlite_version: str = apsw.sqlite_lib_version()
sqlite_version_info: tuple[int, ...] = tuple(
    int(p) for p in sqlite_version.split(".") if p.isdigit()
)
version = vtables.__version__

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


# --------------------------------------------------------------- exceptions


class Warning(Exception):  # noqa: A001 - PEP 249 name
    """Important warnings such as data truncation."""


class Error(Exception):
    """Base class of every error of this module.

    ``orig`` is the exception of APSW or :mod:`vtables` it was mapped from (also
    ``__cause__``); ``sqlstate`` is PostgreSQL's SQLSTATE when the original has
    one, else None.
    """

    orig: BaseException | None = None
    sqlstate: str | None = None


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


_APSW_MAP: tuple[tuple[type[BaseException], type[Error]], ...] = (
    (apsw.ConstraintError, IntegrityError),
    (apsw.BindingsError, ProgrammingError),
    (apsw.CursorClosedError, ProgrammingError),
    (apsw.ConnectionClosedError, ProgrammingError),
    (apsw.ThreadingViolationError, ProgrammingError),
    (apsw.IncompleteExecutionError, ProgrammingError),
    (apsw.ExecutionCompleteError, ProgrammingError),
    (apsw.ForkingViolationError, ProgrammingError),
    (apsw.ConnectionNotClosedError, ProgrammingError),
    (apsw.MisuseError, InterfaceError),
    (apsw.MismatchError, DataError),
    (apsw.TooBigError, DataError),
    (apsw.RangeError, DataError),
    (apsw.InternalError, InternalError),
    (apsw.NotFoundError, InternalError),
    (apsw.SQLError, OperationalError),
    (apsw.BusyError, OperationalError),
    (apsw.LockedError, OperationalError),
    (apsw.IOError, OperationalError),
    (apsw.FullError, OperationalError),
    (apsw.CantOpenError, OperationalError),
    (apsw.AbortError, OperationalError),
    (apsw.PermissionsError, OperationalError),
    (apsw.ReadOnlyError, OperationalError),
    (apsw.InterruptError, OperationalError),
    (apsw.ProtocolError, OperationalError),
    (apsw.EmptyError, OperationalError),
    (apsw.SchemaChangeError, OperationalError),
    (apsw.ExtensionLoadingError, OperationalError),
    (apsw.AuthError, OperationalError),
    (apsw.NoMemError, OperationalError),
)

_MED_MAP: tuple[tuple[type[BaseException], type[Error]], ...] = (
    *(((_NotNullViolation, IntegrityError),) if _NotNullViolation is not None else ()),
    (med_errors.SQLMedSyntaxError, ProgrammingError),
    (med_errors.DuplicateObjectError, ProgrammingError),
    (med_errors.UndefinedObjectError, ProgrammingError),
    (med_errors.DependentObjectsError, ProgrammingError),
    (med_errors.InvalidOptionError, ProgrammingError),
    (med_errors.FeatureNotSupportedError, NotSupportedError),
    (med_errors.WrapperError, OperationalError),
    (med_errors.SQLMedError, OperationalError),
)


def map_exception(exc: BaseException) -> Error | None:
    """The PEP 249 exception for an exception of APSW or vtables (None: not ours)."""
    if isinstance(exc, Error):
        return exc
    cls: type[Error] | None = None
    if isinstance(exc, med_errors.SQLMedError):
        cls = next((c for k, c in _MED_MAP if isinstance(exc, k)), OperationalError)
        state = getattr(exc, "sqlstate", "") or ""
        if state.startswith("23"):  # a source's integrity constraint, as PostgreSQL classes it
            cls = IntegrityError
        elif state.startswith("22"):
            cls = DataError
    elif isinstance(exc, apsw.Error):
        cls = next((c for k, c in _APSW_MAP if isinstance(exc, k)), DatabaseError)
    if cls is None:
        return None
    mapped = cls(str(exc))
    mapped.orig = exc
    mapped.sqlstate = getattr(exc, "sqlstate", None)
    for attr in ("result", "extendedresult", "error_offset"):
        if hasattr(exc, attr):
            setattr(mapped, attr, getattr(exc, attr))
    return mapped


@contextlib.contextmanager
def _translated(sql: str | None = None) -> Iterator[None]:
    """Map APSW's and vtables' exceptions; secret option values of ``sql`` that
    a message quotes are masked, in the mapped exception and in its cause."""
    try:
        yield
    except Error:
        raise
    except (apsw.Error, med_errors.SQLMedError) as exc:
        if sql is not None and exc.args and isinstance(exc.args[0], str):
            message = med_secrets.mask_text(exc.args[0], sql)
            if message != exc.args[0]:
                exc.args = (message, *exc.args[1:])
        mapped = map_exception(exc)
        raise mapped from exc


# ------------------------------------------------------------------ binding


def _convert_binding(cursor: apsw.Cursor, num: int, value: Any) -> Any:
    """APSW's hook for values it cannot bind itself."""
    if isinstance(value, datetime.datetime):
        text = (
            f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
            f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
        )
        offset = value.utcoffset()
        if offset is not None:
            text += _offset_text(offset)
        return text
    if isinstance(value, datetime.date):
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if isinstance(value, datetime.time):
        text = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
        offset = value.utcoffset()
        if offset is not None:
            text += _offset_text(offset)
        return text
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise ProgrammingError(
        f"Error binding parameter {num}: type {type(value).__name__!r} is not supported"
    )


def _description(columns: tuple[tuple[str, str], ...]) -> tuple[tuple[Any, ...], ...] | None:
    """PEP 249's seven items per column from APSW's (name, declared type)."""
    return (
        tuple((name, decltype, None, None, None, None, None) for name, decltype in columns) or None
    )


def _offset_text(offset: datetime.timedelta) -> str:
    sign = "-" if offset < datetime.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


_cursor_execute = apsw.Cursor.execute  # SQLite's own execute: no SQL/MED routing

# ------------------------------------------------------- statement kinds

_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?(?:\*/|$))*", re.S)
_WORD = re.compile(r"[A-Za-z_]+")
# The statements an implicit BEGIN comes before (sqlite3's legacy rule).
_DML = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})


def _first_keyword(sql: str) -> str:
    match = _WORD.match(sql, _LEADING.match(sql).end())
    return match.group(0).upper() if match else ""


_ISOLATION_LEVELS = ("", "DEFERRED", "IMMEDIATE", "EXCLUSIVE")


def _check_isolation_level(level: str | None) -> str | None:
    if level is None:
        return None
    if not isinstance(level, str) or level.upper() not in _ISOLATION_LEVELS:
        raise ValueError(
            "isolation_level must be None or one of "
            + ", ".join(repr(x) for x in _ISOLATION_LEVELS)
            + f", not {level!r}"
        )
    return level.upper()


# --------------------------------------------------------------- connection


def connect(
    database: str = ":memory:",
    *,
    user: str | None = None,
    isolation_level: str | None = "DEFERRED",
    autocommit: bool = False,
    check_same_thread: bool = True,
    timeout: float = 5.0,
    **kwargs: Any,
) -> Connection:
    """Open ``database`` (a path, ``":memory:"`` or a ``file:`` URI) through vtables.

    ``timeout`` is how long (seconds) to wait for a lock held by another
    connection; further keyword arguments go to :func:`vtables.connect`.
    ``isolation_level=None`` means autocommit, as in :mod:`sqlite3`.
    """
    level = _check_isolation_level(isolation_level)
    with _translated():
        raw = vtables.connect(database, user=user, timeout=timeout, **kwargs)
    return Connection(
        raw,
        isolation_level=level,
        autocommit=autocommit or level is None,
        check_same_thread=check_same_thread,
    )


class Connection:
    """A PEP 249 connection around a :class:`vtables.Connection`."""

    Warning = Warning
    Error = Error
    InterfaceError = InterfaceError
    DatabaseError = DatabaseError
    DataError = DataError
    OperationalError = OperationalError
    IntegrityError = IntegrityError
    InternalError = InternalError
    ProgrammingError = ProgrammingError
    NotSupportedError = NotSupportedError

    def __init__(
        self,
        raw: vtables.Connection,
        *,
        isolation_level: str | None = "DEFERRED",
        autocommit: bool = False,
        check_same_thread: bool = True,
    ):
        self._raw: vtables.Connection | None = raw
        self._notices_seen = len(raw.notices)  # those of raw.notices already logged
        self._isolation_level = _check_isolation_level(isolation_level)
        self._autocommit = bool(autocommit)
        self.check_same_thread = check_same_thread
        self._thread = threading.get_ident()
        self._lock: contextlib.AbstractContextManager[Any] = (
            contextlib.nullcontext() if check_same_thread else threading.RLock()
        )

    # ----------------------------------------------------------- plumbing

    @property
    def vtables(self) -> vtables.Connection:
        """The underlying :class:`vtables.Connection` (an ``apsw.Connection``)."""
        return self._live()

    def _check_thread(self) -> None:
        if self.check_same_thread and threading.get_ident() != self._thread:
            raise ProgrammingError(
                "SQLite objects created in a thread can only be used in that same thread. "
                f"The object was created in thread id {self._thread} and this is thread id "
                f"{threading.get_ident()}."
            )

    def _live(self) -> vtables.Connection:
        self._check_thread()
        if self._raw is None:
            raise ProgrammingError("Cannot operate on a closed database.")
        return self._raw

    @contextlib.contextmanager
    def _guard(self, sql: str | None = None) -> Iterator[vtables.Connection]:
        """Thread check, lock, closed check and exception mapping for one call;
        the notices the call raised are logged at its end, failed or not."""
        self._check_thread()
        with self._lock, _translated(sql):
            raw = self._live()
            try:
                yield raw
            finally:
                self._log_notices(raw)

    def _log_notices(self, raw: vtables.Connection) -> None:
        notices = raw.notices
        for message in notices[self._notices_seen :]:
            notice_logger.info("NOTICE:  %s", message)
        self._notices_seen = len(notices)

    def _begin_if_needed(self, raw: vtables.Connection, kind: str, prepared: apsw.Cursor) -> None:
        """The implicit BEGIN before a statement that changes rows (``kind`` is its
        first keyword; ``prepared``, the statement, tells whether a WITH writes).

        Called from ``Cursor._trace`` as each statement is about to run, so that
        each statement of a script is decided on its own.
        """
        if self._autocommit or raw.in_transaction:
            return
        if kind in _DML or (kind == "WITH" and not prepared.is_readonly):
            raw.execute(f"BEGIN {self._isolation_level or ''}".rstrip())

    # ------------------------------------------------------------- PEP 249

    def cursor(self) -> Cursor:
        with self._guard():
            return Cursor(self)

    def commit(self) -> None:
        with self._guard() as raw:
            if raw.in_transaction:
                raw.execute("COMMIT")

    def rollback(self) -> None:
        with self._guard() as raw:
            if raw.in_transaction:
                raw.execute("ROLLBACK")

    def close(self) -> None:
        self._check_thread()
        with self._lock:
            raw, self._raw = self._raw, None
            if raw is not None:
                with _translated():
                    raw.close()

    @property
    def closed(self) -> bool:
        return self._raw is None

    # --------------------------------------------------------- transactions

    @property
    def autocommit(self) -> bool:
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        value = bool(value)
        if value and not self._autocommit:
            self.commit()
        self._autocommit = value

    @property
    def isolation_level(self) -> str | None:
        """``None`` in autocommit mode, else what follows the implicit BEGIN."""
        return None if self._autocommit else self._isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        level = _check_isolation_level(value)
        if level is None:
            self.autocommit = True
        else:
            self._isolation_level = level
            self._autocommit = False

    @property
    def in_transaction(self) -> bool:
        with self._guard() as raw:
            return raw.in_transaction

    @property
    def total_changes(self) -> int:
        with self._guard() as raw:
            return raw.total_changes()

    # ------------------------------------------------------------ shortcuts

    def execute(self, sql: str, parameters: Any = ()) -> Cursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> Cursor:
        return self.cursor().executemany(sql, seq_of_parameters)

    def executescript(self, script: str) -> Cursor:
        """Commit any open transaction, then run ``script`` as it is."""
        self.commit()
        cur = self.cursor()
        cur._script = True  # no implicit BEGIN inside a script
        with self._guard(script):
            for _ in cur._apsw.execute(script):
                pass
        return cur

    def create_function(
        self, name: str, narg: int, func: Callable[..., Any], *, deterministic: bool = False
    ) -> None:
        """Register a scalar SQL function (as :meth:`sqlite3.Connection.create_function`)."""
        with self._guard() as raw:
            if func is None:
                raw.create_scalar_function(name, None, narg)
            else:
                raw.create_scalar_function(name, func, narg, deterministic=deterministic)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            with contextlib.suppress(Error):
                self.rollback()

    def __repr__(self) -> str:
        state = "closed" if self._raw is None else repr(self._raw.filename)
        return f"<sqlmed_dialect.dbapi.Connection {state}>"


# ------------------------------------------------------------------- cursor


class Cursor:
    """A PEP 249 cursor around a :class:`vtables.Cursor`."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self.arraysize = 1
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._description: tuple[tuple[Any, ...], ...] | None = None
        self._apsw: apsw.Cursor | None = connection._live().cursor()
        self._apsw.exec_trace = self._trace
        self._apsw.convert_binding = _convert_binding
        self._rows: apsw.Cursor | None = None
        self._peeked: tuple[Any, ...] | None = None  # the next row, already stepped to
        self._pending_dml = False  # the statement last traced changes rows
        self._traced: str | None = None  # the text last traced in this execute call
        self._traced_bindings: Any = None
        self._traced_dml = False
        self._probing = False  # _describe_again is preparing the statement again
        self._script = False  # executescript: statements run as they are
        self._changes = 0
        self._any_dml = False

    # ----------------------------------------------------------- plumbing

    def _trace(self, cursor: apsw.Cursor, sql: str, bindings: Any) -> bool:
        """Called by APSW as each statement (and binding set) is about to run."""
        if self._probing:  # _describe_again: learn the columns, run nothing
            self._description = _description(cursor.get_description())
            return False
        if self._pending_dml:  # the previous statement has completed: count its changes
            self._changes += self.connection._raw.changes()
        if sql == self._traced:  # executemany's next binding set: nothing new to learn
            self._pending_dml = self._traced_dml
            return True
        self._traced = sql
        self._traced_bindings = bindings
        kind = _first_keyword(sql)
        if (kind in _DML or kind == "WITH") and not self._script:
            self.connection._begin_if_needed(self.connection._raw, kind, cursor)
        self._pending_dml = kind in _DML or (kind == "WITH" and not cursor.is_readonly)
        self._any_dml = self._any_dml or self._pending_dml
        self._traced_dml = self._pending_dml
        # What SQLite says before the first step; a cached statement that the
        # step prepares again (the schema changed) may say otherwise: see _after.
        self._description = _description(cursor.get_description())
        return True

    def _describe_again(self, cur: apsw.Cursor) -> None:
        """The columns of the statement that has just completed without a row.

        Its first step prepared it again if the schema had changed since it was
        cached, and the description read before that step can be stale; APSW
        gives none once a statement has completed.  Executing the same text
        again finds the statement SQLite prepared again, and the tracer reads its
        columns and stops it before it runs.
        """
        self._probing = True
        try:
            _cursor_execute(cur, self._traced, self._traced_bindings)
        except apsw.ExecTraceAbort:
            pass
        except apsw.Error:  # cannot be prepared alone: keep what the trace saw
            pass
        finally:
            self._probing = False

    def _settle(self) -> None:
        """Count the rows changed by the statement that has just completed."""
        if self._pending_dml:
            self._changes += self.connection._raw.changes()
            self._pending_dml = False

    def _check(self) -> apsw.Cursor:
        self.connection._check_thread()
        if self._apsw is None:
            raise ProgrammingError("Cannot operate on a closed cursor.")
        return self._apsw

    def _reset(self) -> None:
        self._traced = None
        self._traced_bindings = None
        self._rows = None
        self._peeked = None
        self._description = None
        self._pending_dml = False
        self._any_dml = False
        self._changes = 0
        self.rowcount = -1

    def _after(
        self, raw: vtables.Connection, cur: apsw.Cursor, sql: str, describe: bool = True
    ) -> None:
        try:
            description = cur.description  # the live one, after the first step
        except apsw.ExecutionCompleteError:  # the statement has completed
            self._finish()
            if describe and self._description is not None and self._traced is not None:
                self._describe_again(cur)
        else:
            self._description = description or None
            self._rows = cur
        if _first_keyword(sql) in ("INSERT", "REPLACE"):
            self.lastrowid = raw.last_insert_rowid()

    def _finish(self) -> None:
        self._rows = None
        self._settle()
        self.rowcount = self._changes if self._any_dml else -1

    # ------------------------------------------------------------- PEP 249

    @property
    def description(self) -> tuple[tuple[Any, ...], ...] | None:
        return self._description

    def execute(self, sql: str, parameters: Any = ()) -> Cursor:
        cur = self._check()
        with self.connection._guard(sql) as raw:
            self._reset()
            cur.execute(sql, parameters if parameters else None)
            self._after(raw, cur, sql)
        return self

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> Cursor:
        cur = self._check()
        with self.connection._guard(sql) as raw:
            self._reset()
            params = seq_of_parameters
            if not isinstance(params, Sequence):
                params = list(params)
            if not params:
                return self
            cur.executemany(sql, params)
            self._after(raw, cur, sql, describe=False)
            # executemany is for statements that return no rows, as in sqlite3
            if self._rows is not None:
                for _ in self._rows:
                    pass
                self._finish()
        return self

    def fetchone(self) -> tuple[Any, ...] | None:
        self._check()
        if self._rows is None:
            return None
        with self.connection._guard():
            row = self._peeked
            self._peeked = None
            if row is None:
                try:
                    row = next(self._rows)
                except StopIteration:
                    self._finish()
                    return None
            # Step ahead, as sqlite3 does: once the last row is fetched the
            # statement is complete and releases its read lock.
            try:
                self._peeked = next(self._rows)
            except StopIteration:
                self._finish()
            return row

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        if size is None:
            size = self.arraysize
        rows = []
        for _ in range(size):
            row = self.fetchone()
            if row is None:
                break
            rows.append(row)
        return rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        self._check()
        if self._rows is None:
            return []
        with self.connection._guard():
            rows = [] if self._peeked is None else [self._peeked]
            self._peeked = None
            rows.extend(self._rows)
            self._finish()
            return rows

    def __iter__(self) -> Cursor:
        return self

    def __next__(self) -> tuple[Any, ...]:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def close(self) -> None:
        self.connection._check_thread()
        cur, self._apsw = self._apsw, None
        self._rows = self._peeked = None
        if cur is not None and self.connection._raw is not None:
            with self.connection._lock, _translated():
                cur.close()

    def setinputsizes(self, sizes: Any) -> None:
        pass

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        pass

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
