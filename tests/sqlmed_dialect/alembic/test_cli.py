"""The real ``alembic`` command line on a sqlmed:// database: init, autogenerate,
upgrade, downgrade and upgrade again, with servers, a user mapping, a CSV
foreign table, a sqlite_fdw foreign table and local tables whose rows must
survive every step."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import vtables

from .conftest import catalog, raw_user_mapping_options, remote_rows

ENV_PY = """
from alembic import context
from sqlalchemy import create_engine

import sqlmed_dialect.alembic  # noqa: F401  (SQLMedImpl, op.create_server, comparators)
from models import metadata

config = context.config
target_metadata = metadata


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
"""

MODELS = '''
import sqlalchemy as sa
import vtables
from sqlmed_dialect import Extension, ForeignServer, UserMapping


class WarehouseFdw(vtables.ForeignDataWrapper):
    """This project's own wrapper (registered by the program, as any wrapper is)."""

    name = "warehouse_fdw"
    version = "2.1"
    option_specs = (
        vtables.OptionSpec("host", {{"server"}}),
        vtables.OptionSpec("user", {{"user_mapping"}}),
        vtables.OptionSpec("password", {{"user_mapping"}}, secret=True),
        vtables.OptionSpec("sslmode", {{"user_mapping"}}),
    )


vtables.register_wrapper(WarehouseFdw)

REMOTE = {remote!r}
CSV = {csv!r}
VERSION = {version!r}

metadata = sa.MetaData()
Extension("file_fdw", metadata)
Extension("sqlite_fdw", metadata)
Extension("warehouse_fdw", metadata)
ForeignServer("files", "file_fdw", metadata)
ForeignServer("lib", "sqlite_fdw", metadata,
              options={{"database": REMOTE, **({{"updatable": "false"}} if VERSION > 1 else {{}})}})
warehouse = ForeignServer("warehouse", "warehouse_fdw", metadata, version="1.0",
                          options={{"host": "db.example"}})
UserMapping(warehouse, "PUBLIC", metadata,
            options={{"user": "reader", "password": "s3cret-pw",
                     **({{"sslmode": "off"}} if VERSION > 1 else {{}})}})

people = sa.Table(
    "people", metadata,
    sa.Column("id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(40), sqlmed_options={{"column_name": "name"}}),
    *([sa.Column("city", sa.Text)] if VERSION > 1 else []),
    sqlmed_server="files",
    sqlmed_options={{"filename": CSV, "format": "csv", "header": "true"}},
)
books = sa.Table(
    "books", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sqlmed_server="lib",
    sqlmed_options={{"table": "books"}},
)
authors = sa.Table(
    "authors", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(40), nullable=False),
)
loans = sa.Table(
    "loans", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("book_id", sa.ForeignKey("books.id")),
    sa.Column("author_id", sa.ForeignKey("authors.id")),
)
'''


class Project:
    def __init__(self, root: Path, remote: str, csv: str):
        self.root = root
        self.remote = remote
        self.csv = csv
        self.db = root / "app.db"
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(root), *sys.path]),
            "SQLMED_WAREHOUSE_PUBLIC_PASSWORD": "pw-from-env",
        }

    def alembic(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "alembic", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    def models(self, version: int) -> None:
        text = MODELS.format(remote=self.remote, csv=self.csv, version=version)
        (self.root / "models.py").write_text(textwrap.dedent(text))
        for cache in self.root.glob("__pycache__"):
            for f in cache.iterdir():
                f.unlink()

    def revision(self, message: str) -> Path:
        before = set((self.root / "migrations" / "versions").glob("*.py"))
        self.alembic("revision", "--autogenerate", "-m", message)
        (new,) = set((self.root / "migrations" / "versions").glob("*.py")) - before
        return new

    def local_rows(self) -> list[tuple]:
        db = sqlite3.connect(self.db)
        try:
            return (
                db.execute("SELECT * FROM authors ORDER BY id").fetchall()
                + db.execute("SELECT * FROM loans ORDER BY id").fetchall()
            )
        finally:
            db.close()


def body(script: Path, function: str) -> str:
    text = script.read_text()
    start = text.index(f"def {function}()")
    end = text.find("\ndef ", start + 1)
    return text[start : end if end > 0 else None]


@pytest.fixture
def project(tmp_path, remote, csv_file) -> Project:
    root = tmp_path / "proj"
    root.mkdir()
    p = Project(root, remote, csv_file)
    p.alembic("init", "migrations")
    ini = root / "alembic.ini"
    ini.write_text(
        re.sub(r"(?m)^sqlalchemy\.url = .*$", "sqlalchemy.url = sqlmed:///app.db", ini.read_text())
    )
    (root / "migrations" / "env.py").write_text(ENV_PY)
    return p


def test_cli_round_trip(project: Project):
    # 1. everything from nothing
    project.models(1)
    first = project.revision("first")
    up = body(first, "upgrade")
    assert "s3cret-pw" not in first.read_text()
    assert "secret_from_env('SQLMED_WAREHOUSE_PUBLIC_PASSWORD')" in up
    assert "# secret option values are not written here" in up
    assert "from sqlmed_dialect.alembic import secret_from_env" in first.read_text()
    # foreign tables are never plain create_table; local ones are
    assert "op.create_foreign_table(\n        'people'" in up
    assert "op.create_foreign_table(\n        'books'" in up
    assert "op.create_table('authors'" in up and "op.create_table('loans'" in up
    assert "create_table('books'" not in up and "create_table('people'" not in up
    order = [
        up.index(s)
        for s in (
            "op.create_extension('file_fdw')",
            "op.create_server('lib'",
            "op.create_user_mapping('warehouse'",
            "op.create_table('authors'",
            "op.create_foreign_table(\n        'books'",
        )
    ]
    assert order == sorted(order)
    down = body(first, "downgrade")
    order = [
        down.index(s)
        for s in (
            "op.drop_foreign_table('books')",
            "op.drop_table('authors')",
            "op.drop_user_mapping('warehouse', 'PUBLIC')",
            "op.drop_server('lib')",
            "op.drop_extension('file_fdw')",
        )
    ]
    assert order == sorted(order)

    # offline (--sql): the script shows secrets masked and touches nothing
    sql = project.alembic("upgrade", "head", "--sql")
    assert "CREATE FOREIGN TABLE books" in sql
    assert "CREATE USER MAPPING FOR PUBLIC SERVER warehouse OPTIONS" in sql
    assert "password '********'" in sql
    assert "pw-from-env" not in sql and "s3cret-pw" not in sql
    assert not project.db.exists() or catalog(project.db)["sqlmed_foreign_servers"] == []

    project.alembic("upgrade", "head")
    state1 = catalog(project.db)
    assert [e[0] for e in state1["sqlmed_extensions"]] == [
        "file_fdw",
        "sqlite_fdw",
        "warehouse_fdw",
    ]
    assert [s[:4] for s in state1["sqlmed_foreign_servers"]] == [
        ("files", "file_fdw", None, None),
        ("lib", "sqlite_fdw", None, None),
        ("warehouse", "warehouse_fdw", None, "1.0"),
    ]
    assert state1["sqlmed_foreign_server_options"] == [
        ("lib", "database", project.remote),
        ("warehouse", "host", "db.example"),
    ]
    assert state1["sqlmed_user_mapping_options"] == [
        ("public", "warehouse", "password", "********"),
        ("public", "warehouse", "user", "reader"),
    ]
    # the secret came from the environment at upgrade time
    assert raw_user_mapping_options(project.db)[("public", "warehouse")] == {
        "user": "reader",
        "password": "pw-from-env",
    }
    assert state1["sqlmed_foreign_tables"] == [("books", "lib", None), ("people", "files", None)]
    assert [c[:5] for c in state1["sqlmed_foreign_table_columns"]] == [
        ("books", "id", 1, "INTEGER", "NO"),
        ("books", "title", 2, "TEXT", "NO"),
        ("people", "id", 1, "INTEGER", "NO"),
        ("people", "name", 2, "VARCHAR(40)", "YES"),
    ]
    assert state1["sqlmed_column_options"] == [("people", "name", "column_name", "name")]
    names = {(t, n) for t, n, _ in state1["schema"]}
    assert names == {
        ("table", "alembic_version"),
        ("index", "sqlite_autoindex_alembic_version_1"),
        ("table", "authors"),
        ("table", "loans"),
        ("table", "books"),
        ("table", "people"),
    }

    # local rows, joined with foreign ones
    db = sqlite3.connect(project.db)
    db.execute("INSERT INTO authors VALUES (1, 'Herbert'), (2, 'Austen')")
    db.execute("INSERT INTO loans VALUES (10, 1, 1), (11, 2, 2)")
    db.commit()
    db.close()
    rows = project.local_rows()
    assert len(rows) == 4

    # 2. a second revision: option ADD/DROP, a new column; second autogenerate empty
    project.models(2)
    second = project.revision("second")
    up = body(second, "upgrade")
    assert "op.alter_server('lib', add_options={'updatable': 'false'})" in up
    assert "op.alter_user_mapping('warehouse', 'PUBLIC', add_options={'sslmode': 'off'})" in up
    assert "op.add_foreign_column('people', sa.Column('city', sa.Text()" in up
    assert "create_table" not in up and "drop_table" not in up
    project.alembic("upgrade", "head")
    state2 = catalog(project.db)
    assert ("lib", "updatable", "false") in state2["sqlmed_foreign_server_options"]
    assert ("public", "warehouse", "sslmode", "off") in state2["sqlmed_user_mapping_options"]
    assert ("people", "city", 3, "TEXT", "YES", None, None) in state2[
        "sqlmed_foreign_table_columns"
    ]
    assert project.local_rows() == rows

    third = project.revision("nothing")
    assert "pass" in body(third, "upgrade") and "op." not in body(third, "upgrade")
    assert "op." not in body(third, "downgrade")
    third.unlink()

    # 3. down one step and up again: catalog exactly as before, rows kept
    project.alembic("downgrade", "-1")
    assert catalog(project.db) == state1
    assert project.local_rows() == rows
    project.alembic("upgrade", "head")
    assert catalog(project.db) == state2
    assert project.local_rows() == rows

    # 4. down to nothing and up again
    project.alembic("downgrade", "base")
    empty = catalog(project.db)
    assert all(not rows for view, rows in empty.items() if view != "schema")
    assert {n for _, n, _ in empty["schema"]} == {
        "alembic_version",
        "sqlite_autoindex_alembic_version_1",
    }
    project.alembic("upgrade", "head")
    assert catalog(project.db) == state2
    assert raw_user_mapping_options(project.db)[("public", "warehouse")]["password"] == (
        "pw-from-env"
    )
    # foreign tables read their sources after all of this
    app = vtables.connect(str(project.db))
    try:
        assert app.execute("SELECT name, city FROM people ORDER BY id").fetchall() == [
            ("Ann", "Oslo"),
            ("Bob", "Lima"),
        ]
        assert [r[1] for r in app.execute("SELECT * FROM books ORDER BY id")] == [
            "Dune",
            "Emma",
            "Persuasion",
        ]
    finally:
        app.close()
    assert remote_rows(project.remote)[0] == (1, "Dune", 1965)
