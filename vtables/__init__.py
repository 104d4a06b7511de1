"""sqlmed's engine: PostgreSQL's SQL/MED on SQLite, through APSW virtual tables.

``vtables.connect(path)`` opens a database whose connection accepts
``CREATE FOREIGN DATA WRAPPER``, ``CREATE SERVER``, ``CREATE USER MAPPING``,
``CREATE FOREIGN TABLE``, ``IMPORT FOREIGN SCHEMA`` and friends as SQL text.
This package never imports SQLAlchemy.
"""

from .connection import Connection, Cursor, connect, default_user, foreign_scans
from .connection import explain_plan as explain
from .dump import dump
from .errors import (
    CatalogError,
    DependentObjectsError,
    DuplicateObjectError,
    FeatureNotSupportedError,
    InvalidOptionError,
    ObjectInUseError,
    SQLMedError,
    SQLMedSyntaxError,
    UndefinedFunctionError,
    UndefinedObjectError,
    WrapperError,
)
from .explain import ForeignScan
from .frames import get_frame, register_frame, registered_frames, unregister_frame
from .grammar import parse, parse_one, to_sql
from .wrapper import (
    ColumnDefinition,
    ForeignDataWrapper,
    ImportRequest,
    OptionSpec,
    Qual,
    SortKey,
    TableContext,
    TableDefinition,
    available_wrappers,
    find_wrapper,
    register_wrapper,
    unregister_wrapper,
)

__version__ = "0.1.0"

__all__ = [
    "ColumnDefinition",
    "ImportRequest",
    "TableContext",
    "Connection",
    "Cursor",
    "CatalogError",
    "DependentObjectsError",
    "DuplicateObjectError",
    "FeatureNotSupportedError",
    "ForeignDataWrapper",
    "ForeignScan",
    "Qual",
    "SortKey",
    "explain",
    "foreign_scans",
    "InvalidOptionError",
    "ObjectInUseError",
    "OptionSpec",
    "SQLMedError",
    "SQLMedSyntaxError",
    "TableDefinition",
    "UndefinedFunctionError",
    "UndefinedObjectError",
    "WrapperError",
    "available_wrappers",
    "connect",
    "default_user",
    "dump",
    "find_wrapper",
    "parse",
    "parse_one",
    "register_wrapper",
    "to_sql",
    "unregister_wrapper",
    "register_frame",
    "unregister_frame",
    "get_frame",
    "registered_frames",
]
