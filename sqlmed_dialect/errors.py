"""The PEP 249 exceptions of :mod:`sqlmed_dialect.dbapi`, mapped from APSW's and vtables'.

The mapping follows CPython's :mod:`sqlite3`, which maps SQLite's result codes
(a constraint violation is an IntegrityError, a busy database an
OperationalError); a :mod:`vtables` error maps by its class, or by its
PostgreSQL SQLSTATE when it carries one of class 23 (integrity) or 22 (data).
The mapped exception is raised ``from`` the original and keeps it as ``orig``.
"""

from __future__ import annotations

import apsw

from vtables import errors as med_errors
from vtables import secrets as med_secrets

#: What the DB-API module maps: the exceptions of APSW and of vtables.
NATIVE: tuple[type[BaseException], ...] = (apsw.Error, med_errors.SQLMedError)


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
    """A misuse of the interface rather than of the database."""


class DatabaseError(Error):
    """An error of the database."""


class DataError(DatabaseError):
    """A value out of range, too big, or of the wrong type for its column."""


class OperationalError(DatabaseError):
    """A failure of the database's operation: locked, busy, full, an SQL error."""


class IntegrityError(DatabaseError):
    """A constraint violated: a key, NOT NULL, CHECK, or a source's own constraint."""


class InternalError(DatabaseError):
    """The database is in an inconsistent state."""


class ProgrammingError(DatabaseError):
    """A mistake of the program: a closed object, wrong bindings, an unknown object."""


class NotSupportedError(DatabaseError):
    """Something the database or the wrapper does not support."""


# Each PEP 249 class with the exceptions it stands for; the first that matches wins.
_APSW_MAP: tuple[tuple[type[Error], tuple[type[BaseException], ...]], ...] = (
    (IntegrityError, (apsw.ConstraintError,)),
    (
        ProgrammingError,
        (
            apsw.BindingsError,
            apsw.CursorClosedError,
            apsw.ConnectionClosedError,
            apsw.ThreadingViolationError,
            apsw.IncompleteExecutionError,
            apsw.ExecutionCompleteError,
            apsw.ForkingViolationError,
            apsw.ConnectionNotClosedError,
        ),
    ),
    (InterfaceError, (apsw.MisuseError,)),
    (DataError, (apsw.MismatchError, apsw.TooBigError, apsw.RangeError)),
    (InternalError, (apsw.InternalError, apsw.NotFoundError)),
    (
        OperationalError,
        (
            apsw.SQLError,
            apsw.BusyError,
            apsw.LockedError,
            apsw.IOError,
            apsw.FullError,
            apsw.CantOpenError,
            apsw.AbortError,
            apsw.PermissionsError,
            apsw.ReadOnlyError,
            apsw.InterruptError,
            apsw.ProtocolError,
            apsw.EmptyError,
            apsw.SchemaChangeError,
            apsw.ExtensionLoadingError,
            apsw.AuthError,
            apsw.NoMemError,
        ),
    ),
)

# A vtables error maps by its SQLSTATE when of class 23 (integrity: a NOT NULL
# violation of a foreign table is 23502, a remote's unique violation 23505) or
# 22 (data), else by its class here, else it is an OperationalError.
_MED_MAP: tuple[tuple[type[Error], tuple[type[BaseException], ...]], ...] = (
    (
        ProgrammingError,
        (
            med_errors.SQLMedSyntaxError,
            med_errors.DuplicateObjectError,
            med_errors.UndefinedObjectError,
            med_errors.DependentObjectsError,
            med_errors.InvalidOptionError,
        ),
    ),
    (NotSupportedError, (med_errors.FeatureNotSupportedError,)),
)


def _class_of(exc: BaseException) -> type[Error] | None:
    if isinstance(exc, med_errors.SQLMedError):
        state = getattr(exc, "sqlstate", "") or ""
        if state.startswith("23"):
            return IntegrityError
        if state.startswith("22"):
            return DataError
        return next((c for c, kinds in _MED_MAP if isinstance(exc, kinds)), OperationalError)
    if isinstance(exc, apsw.Error):
        return next((c for c, kinds in _APSW_MAP if isinstance(exc, kinds)), DatabaseError)
    return None


def map_exception(exc: BaseException) -> Error | None:
    """The PEP 249 exception for an exception of APSW or vtables (None: not ours)."""
    if isinstance(exc, Error):
        return exc
    cls = _class_of(exc)
    if cls is None:
        return None
    mapped = cls(str(exc))
    mapped.orig = exc
    mapped.sqlstate = getattr(exc, "sqlstate", None)
    for attr in ("result", "extendedresult", "error_offset"):
        if hasattr(exc, attr):
            setattr(mapped, attr, getattr(exc, attr))
    return mapped


def translate(exc: BaseException, sql: str | None = None) -> Error:
    """The exception to raise for ``exc`` (one of :data:`NATIVE`) met running
    ``sql``: secret option values of ``sql`` that its message quotes are masked,
    in the mapped exception and in ``exc`` itself (its cause)."""
    if sql is not None and exc.args and isinstance(exc.args[0], str):
        message = med_secrets.mask_text(exc.args[0], sql)
        if message != exc.args[0]:
            exc.args = (message, *exc.args[1:])
    mapped = map_exception(exc)
    assert mapped is not None  # exc is one of NATIVE
    return mapped
