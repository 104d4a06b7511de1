"""Alembic for ``sqlmed://``: foreign tables, servers, user mappings and wrappers
as first-class migration objects.

Importing this package (``env.py`` does it: ``import sqlmed_dialect.alembic``;
``import sqlmed_dialect`` does it too when Alembic is already loaded) registers,
through Alembic's own extension points:

- :class:`SQLMedImpl` (:mod:`.impl`), the migration implementation for the
  ``sqlmed`` dialect name (SQLite's, plus routing of ``op.add_column``/
  ``op.alter_column``/``op.drop_column``/``op.drop_table`` on a foreign table
  to ALTER/DROP FOREIGN TABLE, and a batch mode that never copies a foreign
  table);
- operations with reverses (:mod:`.ops`), what they send (:mod:`.toimpl`) and
  how autogenerate writes them (:mod:`.render`): ``op.create_extension``,
  ``op.create_foreign_data_wrapper``, ``op.create_server``,
  ``op.alter_server``, ``op.rename_server``, ``op.create_user_mapping``,
  ``op.create_foreign_table``, ``op.add_foreign_column``,
  ``op.alter_foreign_column``, ``op.alter_foreign_table``,
  ``op.import_foreign_schema`` and their drop/alter counterparts;
- an autogenerate comparator (:mod:`.compare`) for the ``sqlmed`` dialect that
  compares the MetaData's SQL/MED objects and foreign tables with the database.

Secret option values (passwords, tokens: whatever the wrapper marks secret)
are never written into a migration file: autogenerate renders
``secret_from_env("SQLMED_...")``, read when the migration runs.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import comparators
from alembic.util import DispatchPriority

from . import ops, render, toimpl  # noqa: F401  (renderers and implementations register)
from .compare import compare_sqlmed
from .impl import MedStatement, SQLMedImpl
from .ops import *  # noqa: F403  (the operations, OptionChanges, secret_from_env)

__all__ = [*ops.__all__, "MedStatement", "SQLMedImpl", "compare_sqlmed", "setup"]


def setup(plugin: Any) -> None:
    """Alembic's plugin hook, for an ``env.py`` that lists its plugins
    (``Plugin.setup_plugin_from_module(sqlmed_dialect.alembic, "sqlmed")``).

    Not published as an ``alembic.plugins`` entry point: Alembic loads those
    while ``alembic`` itself is still importing, when this package cannot yet
    import ``alembic.autogenerate``, and a failing plugin breaks every
    ``import alembic``."""
    plugin.add_autogenerate_comparator(
        compare_sqlmed, "schema", "sqlmed", qualifier="sqlmed", priority=DispatchPriority.LAST
    )


# Also on Alembic's global registry, so that a plain env.py needs no
# ``autogenerate_plugins`` setting: a foreign table must never be proposed as a
# local create_table just because a plugin was left out.
comparators.dispatch_for(
    "schema", qualifier="sqlmed", priority=DispatchPriority.LAST, subgroup="sqlmed"
)(compare_sqlmed)
