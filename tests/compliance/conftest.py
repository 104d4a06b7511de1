"""SQLAlchemy's own pytest plugin, for its dialect compliance suite.

This folder runs as a pytest invocation of its own (``pytest tests/compliance``):
the plugin rewrites collection and fixtures for every test it sees, so the main
run leaves this folder out.  The database URL and the requirements class come
from the ``[db]`` and ``[sqla_testing]`` sections of setup.cfg; ``--db NAME``
(a ``[db]`` entry) or ``--dburi URL`` runs the same suite elsewhere, e.g.
``--db sqlite`` for SQLAlchemy's pysqlite dialect.
"""

import pytest
from sqlalchemy.dialects import registry

registry.register("sqlmed", "sqlmed_dialect.base", "SQLMedDialect")
registry.register("sqlmed.apsw", "sqlmed_dialect.base", "SQLMedDialect")

pytest.register_assert_rewrite("sqlalchemy.testing.assertions")

from sqlalchemy.testing.plugin.pytestplugin import *  # noqa: E402,F401,F403
