"""What importing the dialect costs: Alembic only for programs that use it."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_importing_the_dialect_does_not_import_alembic():
    code = (
        "import sys, sqlmed_dialect, sqlalchemy as sa;"
        "sa.create_engine('sqlmed://').connect().close();"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    assert _run(code) == "[]"


def test_alembic_support_comes_with_alembic():
    # a migration run: Alembic is loaded first, then env.py imports the models
    code = "import alembic.ddl.impl as impl, sqlmed_dialect;print(impl._impls['sqlmed'].__name__)"
    assert _run(code) == "SQLMedImpl"
    code = (
        "import sqlmed_dialect.alembic, alembic.ddl.impl as i; print(i._impls['sqlmed'].__name__)"
    )
    assert _run(code) == "SQLMedImpl"
