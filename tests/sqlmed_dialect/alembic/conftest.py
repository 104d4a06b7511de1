"""Helpers for the Alembic tests: a remote SQLite file and a CSV file to point
foreign tables at, catalog snapshots, and autogenerate run in process."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import produce_migrations, render_python_code
from alembic.migration import MigrationContext
from alembic.operations import Operations

import sqlmed_dialect.alembic as sqlmed_alembic
import vtables

CATALOG_VIEWS = (
    "sqlmed_extensions",
    "sqlmed_foreign_data_wrappers",
    "sqlmed_foreign_data_wrapper_options",
    "sqlmed_foreign_servers",
    "sqlmed_foreign_server_options",
    "sqlmed_user_mappings",
    "sqlmed_user_mapping_options",
    "sqlmed_foreign_tables",
    "sqlmed_foreign_table_options",
    "sqlmed_foreign_table_columns",
    "sqlmed_column_options",
)


@pytest.fixture
def remote(tmp_path) -> str:
    """Another SQLite file with a table for sqlite_fdw foreign tables."""
    path = str(tmp_path / "remote.db")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, year INT)")
        db.executemany(
            "INSERT INTO books VALUES (?, ?, ?)",
            [(1, "Dune", 1965), (2, "Emma", 1815), (3, "Persuasion", 1817)],
        )
        db.execute("CREATE TABLE shelves (id INTEGER PRIMARY KEY, label TEXT)")
        db.execute("INSERT INTO shelves VALUES (1, 'A')")
    sqlite3.connect(path).close()
    return path


def remote_rows(path: str, table: str = "books") -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
    finally:
        db.close()


@pytest.fixture
def csv_file(tmp_path) -> str:
    path = tmp_path / "people.csv"
    path.write_text("id,name,city\n1,Ann,Oslo\n2,Bob,Lima\n")
    return str(path)


@pytest.fixture
def engine(tmp_path):
    eng = sa.create_engine(f"sqlmed:///{tmp_path / 'app.db'}")
    yield eng
    eng.dispose()


def catalog(path: str | Path) -> dict[str, list[tuple]]:
    """Every SQL/MED catalog view and the schema of the file, sorted."""
    conn = vtables.connect(str(path))
    try:
        out = {
            view: sorted(conn.execute(f"SELECT * FROM {view}").fetchall()) for view in CATALOG_VIEWS
        }
        out["schema"] = sorted(
            conn.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE tbl_name NOT LIKE 'sqlmed_%'"
            ).fetchall()
        )
        return out
    finally:
        conn.close()


def raw_user_mapping_options(path: str | Path) -> dict:
    """The stored (unmasked) options of every user mapping."""
    conn = vtables.connect(str(path))
    try:
        return {(m.user, m.server): m.options for m in vtables.catalog.list_user_mappings(conn)}
    finally:
        conn.close()


def autogenerate(engine, metadata, plugins: list[str] | None = None) -> tuple[str, str]:
    """(upgrade, downgrade) Python code that autogenerate writes for ``metadata``
    (with Alembic's ``autogenerate_plugins`` setting, if given)."""
    opts: dict = {"target_metadata": metadata}
    if plugins is not None:
        opts["autogenerate_plugins"] = plugins
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=opts)
        script = produce_migrations(context, metadata)
        up = render_python_code(script.upgrade_ops, migration_context=context)
        down = render_python_code(script.downgrade_ops, migration_context=context)
    return textwrap.dedent("    " + up), textwrap.dedent("    " + down)


def run(engine, code: str, **names) -> list[str]:
    """Execute migration code (as rendered or hand-written) with ``op`` and ``sa``;
    returns the statements it sent."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        with engine.begin() as conn:
            context = MigrationContext.configure(conn)
            namespace = {
                "op": Operations(context),
                "sa": sa,
                "secret_from_env": sqlmed_alembic.secret_from_env,
                **names,
            }
            exec(compile(code, "<migration>", "exec"), namespace)  # noqa: S102
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return seen


def empty(code: str) -> bool:
    body = [
        line.strip()
        for line in code.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    return body == ["pass"]
