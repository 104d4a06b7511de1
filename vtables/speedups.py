"""The optional C speedups and the switch for them.

The extension ``vtables._speedups`` (C sources in ``vtables/_speedups_c/``)
is optional. When it was built, foreign tables are served by its SQLite module:
the same Python objects plan, filter, write and run transactions, but rows
reach SQLite from C in batches, without a Python call per row and value.  So
are the statement planner's pushed query results (``register`` with
``M_QUERY``: vtables/statements/cursor.py).
file_fdw also uses its parser for chunks of plain lines.  And the statement
router's hot path runs in C (``router``, ``execute_method``): a connection's
cursors run texts already known to be plain SQL, and INSERTs already known,
without a Python call, and call the Python router (vtables/connection.py)
for the rest, step for step as its ``Cursor.execute`` does.

``SQLMED_SPEEDUPS=0`` in the environment (read when a connection opens) turns
them off; the pure-Python path (APSW's module, the Python router) gives the
same results.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import apsw

logger = logging.getLogger(__name__)

try:
    from . import _speedups  # type: ignore[attr-defined]  # a C extension, no stub
except ImportError:  # built without a C compiler or SQLite's headers
    _speedups = None

_OFF = {"0", "false", "off", "no"}
_lock = threading.Lock()
_error_codes: dict[type, int] = {}


def built() -> bool:
    """Whether the C extension is installed."""
    return _speedups is not None


_failed: list[str] = []  # why the C module could not be used in this process


def enabled() -> bool:
    """Whether foreign tables are served by the C module in this process."""
    return (
        _speedups is not None
        and not _failed
        and os.environ.get("SQLMED_SPEEDUPS", "1").lower() not in _OFF
    )


def module() -> Any:
    """The C extension module, or None when it is not in use."""
    return _speedups if enabled() else None


def _load_api() -> None:
    """Hand SQLite's API table to the extension: load it once as a SQLite
    extension into a private connection (the library is shared by all)."""
    with _lock:
        if _speedups.api_loaded():
            return
        db = apsw.Connection(":memory:")
        try:
            db.enable_load_extension(True)
            db.load_extension(_speedups.__file__, "sqlite3_sqlmedspeedups_init")
        finally:
            db.close()


def _codes_by_class() -> dict[type, int]:
    """APSW's exception class of each primary SQLite result code."""
    by_class: dict[type, int] = {}
    for code in range(1, 29):
        try:
            by_class.setdefault(type(apsw.exception_for(code)), code)
        except Exception:
            continue
    by_class.pop(apsw.Error, None)
    return by_class


_BY_CLASS = _codes_by_class()


def error_code(exc: BaseException) -> int:
    """The SQLite result code an exception stands for (as APSW maps them)."""
    cls = type(exc)
    code = _error_codes.get(cls)
    if code is None:
        code = next((_BY_CLASS[b] for b in cls.__mro__ if b in _BY_CLASS), apsw.SQLITE_ERROR)
        _error_codes[cls] = code
    return code


def register(conn: apsw.Connection, name: str, module_object: Any, flags: int = 0) -> bool:
    """Register ``module_object`` (Create/Connect) as the C module ``name``;
    False (and the speedups off for the process) when SQLite refuses them,
    e.g. an APSW built on a SQLite older than 3.38.  ``flags``: the
    extension's ``M_QUERY`` for a pushed query's table (eponymous-only,
    read-only, SQLITE_VTAB_DIRECTONLY; ``Connect`` is given None for the
    connection)."""
    try:
        _load_api()
        _speedups.register(conn.sqlite3pointer(), name, module_object, error_code, flags)
    except (apsw.Error, RuntimeError, AttributeError) as err:  # AttributeError: no load_extension
        _failed.append(str(err))
        logger.warning("sqlmed's C speedups are off: %s", err)
        return False
    return True


def router(
    conn: apsw.Connection,
    module_: Any,
    session: Any,
    plain: set[str],
    inserts: dict[str, Any],
    entries: tuple[Any, Any, Any],
) -> Any | None:
    """The C statement router of ``conn`` (``_speedups.Router``: its routing
    state, and the cursor factory of its C cursors), or None when the speedups
    are off or were built without it.  ``entries``: the Python router's
    functions the C cursor calls for what it does not do itself (route a text,
    run it again after a schema change, executemany)."""
    c = module()
    if c is None or not hasattr(c, "Router"):
        return None
    # the C cursor sets session.insert_target in the session's __dict__
    if hasattr(type(session), "insert_target"):
        return None
    route, again, many = entries
    return c.Router(conn, module_, vars(session), plain, inserts, route, again, many)


def execute_method(cls: type) -> Any | None:
    """An ``execute`` for ``cls`` (a subclass of apsw.Connection) that does
    what APSW's does, ``self.cursor().execute(...)``, and makes the C router's
    cursor without looking up either method; None when the speedups are off."""
    c = module()
    if c is None or not hasattr(c, "execute_method"):
        return None
    return c.execute_method(cls)
