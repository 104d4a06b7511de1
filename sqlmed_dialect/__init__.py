"""SQLAlchemy dialect ``sqlmed://``: SQLite with SQL/MED, over vtables connections.

``create_engine("sqlmed:///app.db")`` gives an engine whose connections
understand CREATE SERVER, CREATE FOREIGN TABLE and the rest; foreign tables
are declared as ``Table(..., sqlmed_server="files", sqlmed_options={...})``
and wrappers, servers and user mappings as the schema objects below.
"""

import sys as _sys

from sqlalchemy.dialects import registry as _registry

from . import base as _base
from . import driver as _driver
from .base import SQLMedDialect
from .schema import (
    CreateExtension,
    CreateForeignDataWrapper,
    CreateServer,
    CreateUserMapping,
    DropExtension,
    DropForeignDataWrapper,
    DropServer,
    DropUserMapping,
    Extension,
    ForeignDataWrapper,
    ForeignServer,
    UserMapping,
)

# As SQLAlchemy's sqlite package: the backend module's ``dialect`` is the
# default driver's.  The entry point names SQLMedDialect, whose
# get_dialect_cls gives an engine SQLMedDialect_apsw; registering here too
# lets a checkout be used without installing it.
_base.dialect = dialect = _driver.dialect  # type: ignore[attr-defined]
_registry.register("sqlmed", "sqlmed_dialect.base", "SQLMedDialect")
_registry.register("sqlmed.apsw", "sqlmed_dialect.base", "SQLMedDialect")

# Alembic finds SQLMedImpl and the SQL/MED operations only once they are
# imported: env.py imports sqlmed_dialect.alembic.  When Alembic is already
# loaded (a migration run importing the application's models) they are loaded
# here too; a program that never uses Alembic does not pay for importing it.
if "alembic" in _sys.modules:
    from . import alembic as _sqlmed_alembic  # noqa: F401

__all__ = [
    "CreateExtension",
    "CreateForeignDataWrapper",
    "CreateServer",
    "CreateUserMapping",
    "DropExtension",
    "DropForeignDataWrapper",
    "DropServer",
    "DropUserMapping",
    "Extension",
    "ForeignDataWrapper",
    "ForeignServer",
    "SQLMedDialect",
    "UserMapping",
]
