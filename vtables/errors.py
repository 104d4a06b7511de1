"""The exception hierarchy; each class carries PostgreSQL's SQLSTATE for its kind."""

from __future__ import annotations

import apsw


class SQLMedError(Exception):
    """Root of every error this project raises on purpose."""

    sqlstate = "HV000"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        detail: str | None = None,
        sqlstate: str | None = None,
    ):
        if sqlstate is not None:  # a remote's own SQLSTATE (23505: unique violation...)
            self.sqlstate = sqlstate
        self.message = message
        self.hint = hint
        self.detail = detail
        text = message
        if detail:
            text += f"\nDETAIL: {detail}"
        if hint:
            text += f"\nHINT: {hint}"
        super().__init__(text)


class SQLMedSyntaxError(SQLMedError):
    """SQL/MED text that does not parse; knows the line and column."""

    sqlstate = "42601"

    @staticmethod
    def redact(message: str, sql: str | None) -> tuple[str, str | None]:
        """Mask secret option values in the message and the text; ``vtables.secrets``
        installs the real rules when the package loads.  Until then nothing
        is shown of the text."""
        return message, None

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        sql: str | None = None,
    ):
        message, sql = self.redact(message, sql)
        self.line = line
        self.column = column
        #: the statement's text, secret option values masked
        self.sql = sql
        self.description = message
        where = f" at line {line}, column {column}" if line is not None else ""
        super().__init__(f"syntax error{where}: {message}")


class DuplicateObjectError(SQLMedError):
    sqlstate = "42710"


class UndefinedObjectError(SQLMedError):
    sqlstate = "42704"


class UndefinedFunctionError(SQLMedError):
    sqlstate = "42883"


class DependentObjectsError(SQLMedError):
    sqlstate = "2BP01"


class InvalidOptionError(SQLMedError):
    """An option name or value the wrapper's validator refused."""

    sqlstate = "HV00D"


class PrerequisiteError(SQLMedError):
    """An object the statement needs is not in the state it must be."""

    sqlstate = "55000"


class NotNullViolation(SQLMedError, apsw.ConstraintError):
    """A NULL for a NOT NULL column of a foreign table (also SQLite's ConstraintError)."""

    sqlstate = "23502"


class ObjectInUseError(SQLMedError):
    sqlstate = "55006"


class FeatureNotSupportedError(SQLMedError):
    sqlstate = "0A000"


class WrapperError(SQLMedError):
    """A failure inside a wrapper, reported with the table it served."""

    sqlstate = "HV000"


class CatalogError(SQLMedError):
    """A catalog row that cannot be read (bad JSON, a missing server or
    wrapper row, a value of the wrong kind): names the damaged object."""

    sqlstate = "XX001"
