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
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import apsw

import vtables
from vtables import Connection as RawConnection

from .dbtypes import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    Date,
    DateFromTicks,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
    convert_binding,
)
from .errors import (
    NATIVE,
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,  # noqa: A004 - PEP 249 name
    map_exception,
    translate,
)

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
    "map_exception",
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

_T = TypeVar("_T")
# What a learned text is: (changes rows, has columns, is an INSERT or REPLACE).
_Single = tuple[bool, bool, bool]


def _exhaust(rows: Iterable[Any]) -> None:
    for _ in rows:
        pass


_cursor_execute = apsw.Cursor.execute  # SQLite's own execute: no SQL/MED routing

# ------------------------------------------------- what a text is, remembered
# Both depend on the text (or the columns) alone; SQLAlchemy sends the same
# few texts again and again, so a dict lookup replaces the work.  Bounded: a
# program that builds texts without end empties them now and then.

_CACHE_SIZE = 2048
_SPARE_CURSORS = 4
_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?(?:\*/|$))*", re.S)
_WORD = re.compile(r"[A-Za-z_]+")
# The statements an implicit BEGIN comes before (sqlite3's legacy rule).
_DML = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})
_INSERTS = frozenset({"INSERT", "REPLACE"})
# What Cursor.execute may run without the tracer, once seen to be one statement.
_UNTRACED = _DML | {"SELECT"}
_SCHEMA = frozenset({"CREATE", "DROP", "ALTER", "IMPORT", "ATTACH", "DETACH"})
_kinds: dict[str, str] = {}
_descriptions: dict[tuple[tuple[str, str], ...], tuple[tuple[Any, ...], ...] | None] = {}


def _first_keyword(sql: str) -> str:
    leading = _LEADING.match(sql)
    match = _WORD.match(sql, leading.end() if leading else 0)
    return match.group(0).upper() if match else ""


def _kind(sql: str) -> str:
    """The first keyword of ``sql``, upper case ("" for none)."""
    kind = _kinds.get(sql)
    if kind is None:
        if len(_kinds) >= _CACHE_SIZE:
            _kinds.clear()
        kind = _kinds[sql] = _first_keyword(sql)
    return kind


def _description(columns: tuple[tuple[str, str], ...]) -> tuple[tuple[Any, ...], ...] | None:
    """PEP 249's seven items per column from APSW's (name, declared type)."""
    try:
        return _descriptions[columns]
    except KeyError:
        if len(_descriptions) >= _CACHE_SIZE:
            _descriptions.clear()
        described = tuple((name, decl, None, None, None, None, None) for name, decl in columns)
        _descriptions[columns] = described or None
        return described or None


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
    try:
        raw = vtables.connect(database, user=user, timeout=timeout, **kwargs)
    except NATIVE as exc:
        raise translate(exc) from exc
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
        raw: RawConnection,
        *,
        isolation_level: str | None = "DEFERRED",
        autocommit: bool = False,
        check_same_thread: bool = True,
    ):
        self._raw: RawConnection | None = raw
        self._notices = raw.notices  # the connection's list, which notices are added to
        self._notices_seen = len(self._notices)  # those already logged
        self._isolation_level = _check_isolation_level(isolation_level)
        self._autocommit = bool(autocommit)
        self.check_same_thread = check_same_thread
        self._thread = threading.get_ident()
        # Calls from several threads are serialised (with check_same_thread,
        # one thread makes them all: the lock, in C, costs next to nothing).
        self._lock = threading.RLock()
        self._spare: list[apsw.Cursor] = []  # see Cursor.close
        self._single: dict[str, _Single] = {}  # see _learn

    # ----------------------------------------------------------- plumbing

    @property
    def vtables(self) -> RawConnection:
        """The underlying :class:`vtables.Connection` (an ``apsw.Connection``)."""
        self._check_thread()
        return self._open()

    def _check_thread(self) -> None:
        if self.check_same_thread and threading.get_ident() != self._thread:
            raise ProgrammingError(
                "SQLite objects created in a thread can only be used in that same thread. "
                f"The object was created in thread id {self._thread} and this is thread id "
                f"{threading.get_ident()}."
            )

    def _open(self) -> RawConnection:
        if self._raw is None:
            raise ProgrammingError("Cannot operate on a closed database.")
        return self._raw

    def _checked_raw(self) -> RawConnection:
        """The vtables connection for a call from this thread (the lock held)."""
        if self.check_same_thread and threading.get_ident() != self._thread:
            self._check_thread()
        raw = self._raw
        if raw is None:
            raise ProgrammingError("Cannot operate on a closed database.")
        return raw

    def _log_notices(self) -> None:
        """Log the notices that the call which has just ended raised."""
        notices = self._notices
        for message in notices[self._notices_seen :]:
            notice_logger.info("NOTICE:  %s", message)
        self._notices_seen = len(notices)

    def _call(self, fn: Callable[..., _T], *args: Any, sql: str | None = None) -> _T:
        """``fn(*args)`` as one call of this connection's: on the thread that may
        make it, serialised with the other threads', the connection open, APSW's
        and vtables' exceptions translated (``sql``: the text that ran), the
        notices it raised logged at its end.  Cursor.execute and fetchall, the
        hot calls, write this out."""
        with self._lock:
            self._checked_raw()
            try:
                return fn(*args)
            except NATIVE as exc:
                raise translate(exc, sql) from exc
            finally:
                if len(self._notices) != self._notices_seen:
                    self._log_notices()

    def _learn(self, sql: str, kind: str, columns: bool) -> None:
        """Remember that ``sql`` is one SELECT or DML statement (``columns``: with
        columns), which Cursor.execute runs without the tracer from now on."""
        if len(self._single) >= _CACHE_SIZE:
            self._single.clear()
        self._single[sql] = (kind in _DML, columns, kind in _INSERTS)

    def _new_cursor(self) -> apsw.Cursor:
        cursor = self._open().cursor()
        cursor.convert_binding = convert_binding
        return cursor

    def _begin_if_needed(self, raw: RawConnection) -> None:
        """The implicit BEGIN before a statement that changes rows; called from
        ``Cursor._trace`` as each statement is about to run, so that each
        statement of a text is decided on its own."""
        if not self._autocommit and not raw.in_transaction:
            raw.execute(f"BEGIN {self._isolation_level or ''}".rstrip())

    # ------------------------------------------------------------- PEP 249

    def cursor(self) -> Cursor:
        if self.check_same_thread and threading.get_ident() != self._thread:
            self._check_thread()
        with self._lock:
            return Cursor(self)

    def _end(self, statement: str) -> None:
        raw = self._open()
        if raw.in_transaction:
            raw.execute(statement)

    def commit(self) -> None:
        self._call(self._end, "COMMIT")

    def rollback(self) -> None:
        self._call(self._end, "ROLLBACK")

    def close(self) -> None:
        self._check_thread()
        with self._lock:
            raw, self._raw = self._raw, None
            self._spare.clear()
            if raw is not None:
                try:
                    raw.close()
                except NATIVE as exc:
                    raise translate(exc) from exc

    @property
    def closed(self) -> bool:
        return self._raw is None

    # --------------------------------------------------------- transactions

    @property
    def autocommit(self) -> bool:
        """Whether each statement commits on its own (no implicit BEGIN);
        turning it on commits the open transaction."""
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

    @property
    def in_transaction(self) -> bool:
        return self._call(lambda: self._open().in_transaction)

    @property
    def total_changes(self) -> int:
        return self._call(lambda: self._open().total_changes())

    # ------------------------------------------------------------ shortcuts

    def execute(self, sql: str, parameters: Any = ()) -> Cursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> Cursor:
        return self.cursor().executemany(sql, seq_of_parameters)

    def executescript(self, script: str) -> Cursor:
        """Commit any open transaction, then run ``script`` as it is."""
        self.commit()
        cur = self.cursor()
        self._single.clear()  # a script may change the schema
        apsw_cursor = cur._checked()
        cur._trace_on(apsw_cursor)
        cur._script = True  # no implicit BEGIN inside the script, and only there
        try:
            self._call(lambda: _exhaust(apsw_cursor.execute(script)), sql=script)
        finally:
            cur._script = False
        return cur

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

    arraysize = 1
    # The state of the call under way, reset by each execute (see _reset).
    _rows: apsw.Cursor | None = None
    _peeked: tuple[Any, ...] | None = None  # the next row, already stepped to
    _pending_dml = False  # the statement last traced changes rows
    _traced: str | None = None  # the text last traced in this execute call
    _traced_bindings: Any = None
    _traced_dml = False
    _changes = 0
    _any_dml = False
    _statements = 0  # the statements traced in this execute call
    _probing = False  # _describe_again is preparing the statement again
    _script = False  # executescript: statements run as they are
    _tracing = False  # the APSW cursor's exec_trace is _trace

    def __init__(self, connection: Connection):
        self.connection = connection
        self.rowcount = -1
        self.lastrowid: int | None = None
        #: PEP 249's seven items per column of the statement that ran (None: no rows).
        self.description: tuple[tuple[Any, ...], ...] | None = None
        # SQLAlchemy opens a cursor per statement, and making an APSW cursor
        # costs as much as a short statement: one a closed cursor left serves.
        spare = connection._spare
        self._apsw: apsw.Cursor | None = spare.pop() if spare else connection._new_cursor()

    # ----------------------------------------------------------- plumbing

    def _trace(self, cursor: apsw.Cursor, sql: str, bindings: Any) -> bool:
        """Called by APSW as each statement (and binding set) is about to run."""
        if self._probing:  # _describe_again: learn the columns, run nothing
            self.description = _description(cursor.get_description())
            return False
        raw = self.connection._raw
        assert raw is not None  # a statement runs: the connection is open
        if self._pending_dml:  # the previous statement has completed: count its changes
            self._changes += raw.changes()
        if sql == self._traced:  # executemany's next binding set: nothing new to learn
            self._pending_dml = self._traced_dml
            return True
        self._traced = sql
        self._traced_bindings = bindings
        self._statements += 1
        kind = _kind(sql)
        dml = kind in _DML or (kind == "WITH" and not cursor.is_readonly)
        if dml:
            self._any_dml = True
            if not self._script:
                self.connection._begin_if_needed(raw)
        self._pending_dml = self._traced_dml = dml
        # What SQLite says before the first step; a cached statement that the
        # step prepares again (the schema changed) may say otherwise: see _after.
        self.description = _description(cursor.get_description())
        return True

    def _describe_again(self, cur: apsw.Cursor, sql: str) -> None:
        """The columns of the statement that has just completed without a row.

        Its first step prepared it again if the schema had changed since it was
        cached, and the description read before that step can be stale; APSW
        gives none once a statement has completed.  Executing the same text
        again finds the statement SQLite prepared again, and the tracer reads its
        columns and stops it before it runs.
        """
        self._probing = True
        tracer, cur.exec_trace = cur.exec_trace, self._trace
        try:
            _cursor_execute(cur, sql, self._traced_bindings)
        except apsw.ExecTraceAbort:
            pass
        except apsw.Error:  # cannot be prepared alone: keep what the trace saw
            pass
        finally:
            self._probing = False
            cur.exec_trace = tracer

    def _checked(self) -> apsw.Cursor:
        if self._apsw is None:
            raise ProgrammingError("Cannot operate on a closed cursor.")
        return self._apsw

    def _reset(self) -> None:
        self._traced = None
        self._traced_bindings = None
        self._rows = None
        self._peeked = None
        self.description = None
        self._pending_dml = False
        self._any_dml = False
        self._changes = 0
        self._statements = 0
        self.rowcount = -1

    def _trace_on(self, cur: apsw.Cursor) -> None:
        if not self._tracing:
            cur.exec_trace = self._trace
            self._tracing = True

    def _after(self, raw: RawConnection, cur: apsw.Cursor, sql: str, columns: bool) -> None:
        """After the first step of ``sql``: its rows, or (it has completed) its
        changes; ``columns``: whether it has columns, for a description that
        the first step may have made stale."""
        try:
            description = cur.description  # the live one, after the first step
        except apsw.ExecutionCompleteError:  # the statement has completed
            self._finish()
            if columns and self._traced is not None:
                self._describe_again(cur, self._traced)
        else:
            self.description = description or None
            self._rows = cur
        if _kind(sql) in _INSERTS:
            self.lastrowid = raw.last_insert_rowid()

    def _run(self, raw: RawConnection, cur: apsw.Cursor, sql: str, parameters: Any) -> None:
        """Execute ``sql`` with the tracer, which decides the implicit BEGIN, the
        description and the changes of each statement as it comes; a text found
        to be one SELECT or DML statement runs without it the next time."""
        self._reset()
        self._trace_on(cur)
        cur.execute(sql, parameters or None)
        self._after(raw, cur, sql, self.description is not None)
        kind = _kind(sql)
        if kind in _SCHEMA:  # DDL, SQL/MED's included: what was learned may no longer hold
            self.connection._single.clear()
        elif kind in _UNTRACED and self._statements == 1 and self._traced == sql:
            self.connection._learn(sql, kind, self.description is not None)

    def _run_single(
        self, raw: RawConnection, cur: apsw.Cursor, sql: str, parameters: Any, single: _Single
    ) -> bool:
        """Execute ``sql``, a text learned to be one statement, without the
        tracer: what it would decide is known.  False (and nothing done) when it
        must come first: the implicit BEGIN of a DML statement comes after
        SQLite has prepared it."""
        dml, columns, insert = single
        if dml and not (self.connection._autocommit or raw.in_transaction):
            return False
        self._reset()
        if self._tracing:
            cur.exec_trace = None
            self._tracing = False
        self._any_dml = self._pending_dml = dml
        self._traced, self._traced_bindings = sql, parameters or None
        cur.execute(sql, self._traced_bindings)
        if not columns:  # no columns, no rows: it has completed
            self._finish()
        else:
            try:
                self.description = cur.description or None
                self._rows = cur
            except apsw.ExecutionCompleteError:
                self._finish()
                self._describe_again(cur, sql)
        if insert:
            self.lastrowid = raw.last_insert_rowid()
        return True

    def _finish(self) -> None:
        """The statement has completed: count the rows it changed."""
        self._rows = None
        if self._pending_dml:
            raw = self.connection._raw
            assert raw is not None  # a statement has run: the connection is open
            self._changes += raw.changes()
            self._pending_dml = False
        self.rowcount = self._changes if self._any_dml else -1

    def _run_many(self, cur: apsw.Cursor, sql: str, parameters: Any) -> None:
        self._reset()
        self._trace_on(cur)
        cur.executemany(sql, parameters)
        self._after(self.connection._open(), cur, sql, False)

    # ------------------------------------------------------------- PEP 249

    def execute(self, sql: str, parameters: Any = ()) -> Cursor:
        # The hot path of every statement: Connection._call written out.
        cur = self._apsw
        if cur is None:
            raise ProgrammingError("Cannot operate on a closed cursor.")
        connection = self.connection
        with connection._lock:
            raw = connection._checked_raw()
            try:
                single = connection._single.get(sql)
                if single is None or not self._run_single(raw, cur, sql, parameters, single):
                    self._run(raw, cur, sql, parameters)
            except NATIVE as exc:
                raise translate(exc, sql) from exc
            finally:
                if len(connection._notices) != connection._notices_seen:
                    connection._log_notices()
        return self

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> Cursor:
        cur = self._checked()
        params = seq_of_parameters
        if not isinstance(params, Sequence):
            params = list(params)
        if not params:
            self.connection._call(self._reset)
            return self
        self.connection._call(self._run_many, cur, sql, params, sql=sql)
        # executemany is for statements that return no rows, as in sqlite3
        if self._rows is not None:
            self.connection._call(self._rest, self._rows, sql=sql)
        return self

    def _next(self, rows: apsw.Cursor) -> tuple[Any, ...] | None:
        row = self._peeked
        self._peeked = None
        if row is None:
            row = next(rows, None)
        # Step ahead, as sqlite3 does: once the last row is fetched the
        # statement is complete and releases its read lock.
        if row is not None:
            self._peeked = next(rows, None)
        if self._peeked is None:
            self._finish()
        return row

    def fetchone(self) -> tuple[Any, ...] | None:
        self._checked()
        if self._rows is None:
            return None
        return self.connection._call(self._next, self._rows)

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

    def _rest(self, rows: apsw.Cursor) -> list[tuple[Any, ...]]:
        out = [] if self._peeked is None else [self._peeked]
        self._peeked = None
        out.extend(rows)
        self._finish()
        return out

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self._rows
        if rows is None:  # none left, or the cursor is closed
            self._checked()
            return []
        connection = self.connection
        with connection._lock:
            connection._checked_raw()
            try:
                out = [] if self._peeked is None else [self._peeked]
                self._peeked = None
                out.extend(rows)
                self._finish()
            except NATIVE as exc:
                raise translate(exc) from exc
            finally:
                if len(connection._notices) != connection._notices_seen:
                    connection._log_notices()
        return out

    def __iter__(self) -> Cursor:
        return self

    def __next__(self) -> tuple[Any, ...]:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def close(self) -> None:
        connection = self.connection
        if connection.check_same_thread and threading.get_ident() != connection._thread:
            connection._check_thread()
        cur, self._apsw = self._apsw, None
        complete = self._rows is None
        self._rows = self._peeked = None
        if cur is None or connection._raw is None:
            return
        if complete and len(connection._spare) < _SPARE_CURSORS:
            if self._tracing:
                cur.exec_trace = None
                self._tracing = False
            connection._spare.append(cur)  # for the next cursor: see __init__
        else:
            connection._call(cur.close)

    def setinputsizes(self, sizes: Any) -> None:
        pass

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        pass

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
