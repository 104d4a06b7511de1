"""The exception hierarchy; each class carries PostgreSQL's SQLSTATE for its kind."""

from __future__ import annotations


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

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        sql: str | None = None,
    ):
        from .secrets import mask_sql, mask_text  # secrets imports the catalog, which imports this

        message = mask_text(message, sql)
        self.line = line
        self.column = column
        #: the statement's text, secret option values masked
        self.sql = mask_sql(sql) if sql is not None else None
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
