"""The catalog: ordinary tables of the database file, plus read-only views.

The tables (prefix ``sqlmed_``) are created on the first SQL/MED statement.
The views are eponymous virtual tables registered on each connection, so
they add nothing to the file that a plain SQLite tool could trip over.

What is read from the tables is checked as it is decoded: a damaged row
raises CatalogError naming its object (the views and the dump leave such an
object out and say so).  A file whose own objects squat the catalog's names
(a table named like a view shadows it) is not trusted: ``check`` lists the
problems, and the views refuse to show anything while they remain.
Which options are secret is decided in one place, ``is_secret``.
"""

from __future__ import annotations

from ..secrets import MASK
from .objects import (
    COLLATIONS,
    PUBLIC,
    SQLITE_COLLATIONS,
    CatalogObject,
    CheckConstraint,
    Column,
    Extension,
    ForeignTable,
    Server,
    UserMapping,
    Wrapper,
    check_expression,
    column_default,
    column_type,
    display,
    is_secret,
    one_line,
    parse_check,
    shown_options,
)
from .store import (
    CATALOG_TABLES,
    SCHEMA,
    bump_generation,
    delete_table,
    dump_options,
    ensure,
    exists,
    find_user_mapping,
    generation,
    get_extension,
    get_server,
    get_table,
    get_user_mapping,
    get_wrapper,
    has_collation_table,
    has_constraint_table,
    list_extensions,
    list_servers,
    list_tables,
    list_user_mappings,
    list_wrappers,
    names,
    put_table,
    rename_table,
    scan,
    table_name,
    table_names,
)
from .trust import (
    VIEW_NAMES,
    check,
    structure_problems,
    verify,
)

__all__ = [
    "MASK",
    "PUBLIC",
    "Extension",
    "Wrapper",
    "Server",
    "UserMapping",
    "Column",
    "CheckConstraint",
    "ForeignTable",
    "CatalogObject",
    "is_secret",
    "shown_options",
    "display",
    "one_line",
    "COLLATIONS",
    "SQLITE_COLLATIONS",
    "column_type",
    "column_default",
    "check_expression",
    "parse_check",
    "SCHEMA",
    "CATALOG_TABLES",
    "exists",
    "ensure",
    "dump_options",
    "has_collation_table",
    "has_constraint_table",
    "scan",
    "get_extension",
    "list_extensions",
    "get_wrapper",
    "list_wrappers",
    "get_server",
    "list_servers",
    "get_user_mapping",
    "find_user_mapping",
    "list_user_mappings",
    "get_table",
    "list_tables",
    "names",
    "table_name",
    "table_names",
    "put_table",
    "delete_table",
    "rename_table",
    "generation",
    "bump_generation",
    "VIEW_NAMES",
    "structure_problems",
    "verify",
    "check",
]
