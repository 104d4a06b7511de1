"""Autogenerate, operations, renderers and batch mode on a live sqlmed:// database,
in process: what is rendered, what it does, and that downgrades undo it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.util import CommandError

import vtables
from sqlmed_dialect import Extension, ForeignServer, UserMapping
from sqlmed_dialect.alembic import SQLMedImpl

from .conftest import autogenerate, catalog, empty, raw_user_mapping_options, remote_rows, run


def library(remote: str, csv: str, **changes) -> sa.MetaData:
    """A MetaData with two wrappers, two servers, a user mapping, two foreign
    tables and a local table; ``changes`` vary it."""
    md = sa.MetaData()
    Extension("file_fdw", md)
    Extension("sqlite_fdw", md)
    Extension("memory_fdw", md)
    ForeignServer("files", "file_fdw", md)
    if not changes.get("drop_lib"):
        ForeignServer(
            changes.get("lib_name", "lib"),
            "sqlite_fdw",
            md,
            options=changes.get("lib_options", {"database": remote, "updatable": "true"}),
        )
    mem = ForeignServer(
        "mem",
        "memory_fdw",
        md,
        version=changes.get("mem_version", "1"),
        options=changes.get("mem_options", {"host": "h1"}),
    )
    UserMapping(
        mem, "PUBLIC", md, options=changes.get("mapping", {"user": "u1", "password": "s3cret"})
    )
    sa.Table(
        "people",
        md,
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column(
            "name",
            sa.String(40),
            sqlmed_options=changes.get("name_options", {"column_name": "name"}),
        ),
        *changes.get("people_extra", []),
        sqlmed_server="files",
        sqlmed_options=changes.get(
            "people_options", {"filename": csv, "format": "csv", "header": "true"}
        ),
    )
    if not changes.get("drop_lib"):
        sa.Table(
            "books",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("title", sa.Text, nullable=False),
            sqlmed_server=changes.get("lib_name", "lib"),
            sqlmed_options={"table": "books"},
        )
    sa.Table(
        "notes",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("text", sa.Text),
    )
    return md


@pytest.fixture
def built(engine, remote, csv_file, monkeypatch):
    """The database built by autogenerate from ``library``, with a local row."""
    monkeypatch.setenv("SQLMED_MEM_PUBLIC_PASSWORD", "s3cret")
    md = library(remote, csv_file)
    up, _ = autogenerate(engine, md)
    run(engine, up)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO notes VALUES (1, 'keep me')")
    up, down = autogenerate(engine, md)
    assert empty(up) and empty(down), up + down
    return md


def ddl(engine, code: str) -> list[str]:
    """The statements a migration sent, less the catalog lookups."""
    return [s for s in run(engine, code) if not s.startswith("SELECT")]


def raw_server_options(engine, name: str) -> dict:
    conn = vtables.connect(engine.url.database)
    try:
        return vtables.catalog.get_server(conn, name).options
    finally:
        conn.close()


def db_path(engine) -> str:
    return engine.url.database


def notes(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT * FROM notes").fetchall()


def test_impl_registered_and_renames_compile(engine, built):
    with engine.connect() as conn:
        impl = MigrationContext.configure(conn).impl
        assert type(impl) is SQLMedImpl
    seen = run(
        engine,
        "op.rename_table('notes', 'memos')\n"
        "op.alter_column('memos', 'text', new_column_name='body')\n"
        "op.rename_table('people', 'folks')\n"
        "op.alter_column('folks', 'name', new_column_name='full_name')\n",
    )
    assert "ALTER TABLE notes RENAME TO memos" in seen
    assert "ALTER TABLE memos RENAME COLUMN text TO body" in seen
    assert "ALTER FOREIGN TABLE folks RENAME COLUMN name TO full_name" in seen
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT body FROM memos").fetchall() == [("keep me",)]
    cat = catalog(db_path(engine))
    assert [t[:2] for t in cat["sqlmed_foreign_tables"]] == [("books", "lib"), ("folks", "files")]
    assert [c[:2] for c in cat["sqlmed_foreign_table_columns"] if c[0] == "folks"] == [
        ("folks", "full_name"),
        ("folks", "id"),
    ]


def test_option_changes_add_set_drop(engine, built, remote, csv_file, tmp_path):
    before = catalog(db_path(engine))
    other = str(tmp_path / "other.db")
    md = library(
        remote,
        csv_file,
        lib_options={"database": other},
        mem_version="2",
        mem_options={"host": "h1", "api_token": "t0k"},
        mapping={"user": "u2", "password": "s3cret"},
        people_options={"filename": csv_file, "format": "csv", "delimiter": ","},
        name_options={"column_name": "name", "force_not_null": "true"},
    )
    up, down = autogenerate(engine, md)
    assert (
        f"op.alter_server('lib', set_options={{'database': {other!r}}}, "
        f"drop_options=['updatable'], existing_options={{'database': {remote!r}, "
        "'updatable': 'true'})" in up
    )
    assert (
        "# secret option values are not written here: they are read from the environment "
        "when this migration runs (SQLMED_MEM_API_TOKEN)\n"
        "op.alter_server('mem', version='2', existing_version='1', add_options={'api_token': "
        "secret_from_env('SQLMED_MEM_API_TOKEN')})" in up
    )
    assert (
        "op.alter_user_mapping('mem', 'PUBLIC', set_options={'user': 'u2'}, "
        "existing_options={'user': 'u1'})" in up
    )
    assert "t0k" not in up and "s3cret" not in up and "s3cret" not in down
    assert (
        "op.alter_foreign_table('people', add_options={'delimiter': ','}, "
        "drop_options=['header'], existing_options={'header': 'true'})" in up
    )
    assert "op.alter_foreign_column('people', 'name', add_options={'force_not_null': 'true'})" in up
    assert (
        "op.alter_server('lib', add_options={'updatable': 'true'}, "
        f"set_options={{'database': {remote!r}}}, existing_options={{'database': {other!r}}})"
        in down
    )
    assert "op.alter_user_mapping('mem', 'PUBLIC', set_options={'user': 'u1'}" in down
    assert (
        "op.alter_server('mem', version='1', existing_version='2', drop_options=['api_token'])"
        in down
    )

    # DDL begins no transaction (as with sqlite3): a migration that must change
    # all or nothing begins one itself
    with pytest.raises(CommandError, match="SQLMED_MEM_API_TOKEN"):
        run(engine, "op.execute('BEGIN')\n" + up)
    assert catalog(db_path(engine)) == before  # the failed migration changed nothing
    seen = run(engine, up, secret_from_env={"SQLMED_MEM_API_TOKEN": "t0k"}.__getitem__)
    assert "ALTER SERVER mem VERSION '2' OPTIONS (ADD api_token '********')" in seen
    assert "ALTER USER MAPPING FOR PUBLIC SERVER mem OPTIONS (SET \"user\" 'u2')" in seen
    assert not any("t0k" in s for s in seen)  # logged masked, executed in the clear
    assert raw_server_options(engine, "mem") == {"host": "h1", "api_token": "t0k"}
    assert raw_user_mapping_options(db_path(engine))[("public", "mem")] == {
        "user": "u2",
        "password": "s3cret",
    }
    after = catalog(db_path(engine))
    assert ("lib", "database", other) in after["sqlmed_foreign_server_options"]
    assert ("people", "delimiter", ",") in after["sqlmed_foreign_table_options"]
    assert ("people", "name", "force_not_null", "true") in after["sqlmed_column_options"]
    up2, down2 = autogenerate(engine, md)
    assert empty(up2) and empty(down2), up2 + down2

    run(engine, down)
    assert catalog(db_path(engine)) == before
    assert raw_server_options(engine, "mem") == {"host": "h1"}
    assert notes(engine) == [(1, "keep me")]


def test_column_added_to_foreign_table(engine, built, remote, csv_file):
    md = library(remote, csv_file, people_extra=[sa.Column("city", sa.String(20))])
    up, down = autogenerate(engine, md)
    assert "op.add_foreign_column('people', sa.Column('city', sa.String(length=20)" in up
    assert "op.drop_foreign_column('people', 'city')" in down
    assert "add_column" not in up.replace("add_foreign_column", "")
    seen = run(engine, up)
    assert "ALTER FOREIGN TABLE people ADD COLUMN city VARCHAR(20)" in seen
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT city FROM people ORDER BY id").scalars().all() == [
            "Oslo",
            "Lima",
        ]
    assert empty(autogenerate(engine, md)[0])
    run(engine, down)
    assert empty(autogenerate(engine, library(remote, csv_file))[0])


def test_type_and_nullability_of_a_foreign_column(engine, built, remote, csv_file):
    md = library(remote, csv_file)
    md.tables["people"].c.id.type = sa.BigInteger()
    md.tables["people"].c.id.nullable = True
    up, down = autogenerate(engine, md)
    assert (
        "op.alter_foreign_column('people', 'id', type_=sa.BigInteger(), "
        "existing_type=sa.INTEGER(), nullable=True, existing_nullable=False)" in up
    )
    seen = run(engine, up)
    assert (
        "ALTER FOREIGN TABLE people ALTER COLUMN id TYPE BIGINT, ALTER COLUMN id DROP NOT NULL"
        in (seen)
    )
    assert empty(autogenerate(engine, md)[0])
    run(engine, down)
    assert empty(autogenerate(engine, library(remote, csv_file))[0])


def test_server_renamed(engine, built, remote, csv_file):
    seen = run(engine, "op.rename_server('lib', 'library')")
    assert seen[-1] == "ALTER SERVER lib RENAME TO library"
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM books").scalar() == 3
    # the MetaData renamed too: nothing left to do
    renamed = library(remote, csv_file, lib_name="library")
    assert empty(autogenerate(engine, renamed)[0])
    # the MetaData not renamed: the server and its table are put back under the old name
    up, down = autogenerate(engine, library(remote, csv_file))
    assert up.index("op.drop_foreign_table('books')") < up.index("op.drop_server('library')")
    assert up.index("op.drop_server('library')") < up.index("op.create_server('lib'")
    assert up.index("op.create_server('lib'") < up.index("op.create_foreign_table(\n    'books'")
    run(engine, up)
    assert empty(autogenerate(engine, library(remote, csv_file))[0])
    run(engine, down)
    assert empty(autogenerate(engine, renamed)[0])
    assert notes(engine) == [(1, "keep me")]


def test_server_dropped_with_its_tables(engine, built, remote, csv_file):
    before = catalog(db_path(engine))
    up, down = autogenerate(engine, library(remote, csv_file, drop_lib=True))
    assert up.index("op.drop_foreign_table('books')") < up.index("op.drop_server('lib')")
    assert "create_table" not in down
    assert down.index("op.create_server('lib'") < down.index("op.create_foreign_table(")
    run(engine, up)
    after = catalog(db_path(engine))
    assert [s[0] for s in after["sqlmed_foreign_servers"]] == ["files", "mem"]
    assert [t[0] for t in after["sqlmed_foreign_tables"]] == ["people"]
    assert "books" not in {n for _, n, _ in after["schema"]}
    assert remote_rows(remote)[0] == (1, "Dune", 1965)  # the source is untouched
    run(engine, down)
    assert catalog(db_path(engine)) == before
    # by hand: DROP SERVER ... CASCADE takes the mapping-free server's tables along
    seen = run(engine, "op.drop_server('lib', cascade=True)")
    assert seen[-1] == "DROP SERVER lib CASCADE"
    assert [t[0] for t in catalog(db_path(engine))["sqlmed_foreign_tables"]] == ["people"]
    assert notes(engine) == [(1, "keep me")]


def test_secrets_rendered_as_environment_references(engine, remote, csv_file):
    up, down = autogenerate(engine, library(remote, csv_file))
    assert "s3cret" not in up + down
    assert (
        "# secret option values are not written here: they are read from the environment "
        "when this migration runs (SQLMED_MEM_PUBLIC_PASSWORD)\n"
        "op.create_user_mapping('mem', 'PUBLIC', options={'user': 'u1', 'password': "
        "secret_from_env('SQLMED_MEM_PUBLIC_PASSWORD')})" in up
    )
    with pytest.raises(CommandError, match="SQLMED_MEM_PUBLIC_PASSWORD is not set"):
        run(engine, up)


def test_foreign_tables_never_plain_create_table(engine, remote, csv_file):
    md = library(remote, csv_file)
    sa.Table(
        "loans",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("book_id", sa.ForeignKey("books.id")),
    )
    up, down = autogenerate(engine, md)
    assert "op.create_table('notes'" in up and "op.create_table('loans'" in up
    assert "create_table('people'" not in up and "create_table('books'" not in up
    assert "op.drop_table('people')" not in down and "op.drop_foreign_table('people')" in down
    run(engine, up, secret_from_env=lambda name: "pw")
    # the reference to a foreign table is not proposed as a constraint to add
    up2, _ = autogenerate(engine, md)
    assert empty(up2), up2


def test_import_foreign_schema(engine, built, remote):
    code = "op.import_foreign_schema('main', 'lib', limit_to=['shelves'])"
    seen = run(engine, code)
    assert seen[-1] == "IMPORT FOREIGN SCHEMA main LIMIT TO (shelves) FROM SERVER lib INTO main"
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT label FROM shelves").scalars().all() == ["A"]
    from sqlmed_dialect.alembic import ImportForeignSchemaOp

    reverse = ImportForeignSchemaOp("main", "lib", limit_to=["shelves"]).reverse()
    assert reverse.table_names == ["shelves"]
    seen = run(engine, "op.drop_foreign_tables(['shelves'])")
    assert seen[-1] == "DROP FOREIGN TABLE shelves"
    with pytest.raises(ValueError, match="without limit_to"):
        ImportForeignSchemaOp("main", "lib").reverse()


def test_generic_operations_on_a_foreign_table(engine, built, remote):
    seen = ddl(
        engine,
        "op.add_column('books', sa.Column('year', sa.Integer(), "
        "sqlmed_options={'column_name': 'year'}))\n"
        "op.alter_column('books', 'title', nullable=True)\n",
    )
    assert seen[-2:] == [
        "ALTER FOREIGN TABLE books ADD COLUMN year INTEGER OPTIONS (column_name 'year')",
        "ALTER FOREIGN TABLE books ALTER COLUMN title DROP NOT NULL",
    ]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT year FROM books WHERE id = 1").scalar() == 1965
    seen = ddl(engine, "op.drop_column('books', 'year')\nop.drop_table('books')")
    assert seen[-2:] == ["ALTER FOREIGN TABLE books DROP COLUMN year", "DROP FOREIGN TABLE books"]
    assert [t[0] for t in catalog(db_path(engine))["sqlmed_foreign_tables"]] == ["people"]
    seen = run(
        engine,
        "op.create_table('books', sa.Column('id', sa.Integer()), sqlmed_server='lib', "
        "sqlmed_options={'table': 'books'})",
    )
    assert seen[-1].startswith("CREATE FOREIGN TABLE books (id INTEGER) SERVER lib")
    assert remote_rows(remote) == [(1, "Dune", 1965), (2, "Emma", 1815), (3, "Persuasion", 1817)]


# ----------------------------------------------------------------- batch mode


def test_batch_alters_a_foreign_table_in_place(engine, built, remote):
    seen = run(
        engine,
        "with op.batch_alter_table('books') as batch:\n"
        "    batch.add_column(sa.Column('year', sa.Integer()))\n"
        "    batch.alter_column('title', new_column_name='name', nullable=True)\n",
    )
    assert not any("_alembic_tmp" in s or s.startswith("INSERT") for s in seen), seen
    assert "ALTER FOREIGN TABLE books ADD COLUMN year INTEGER" in seen
    assert "ALTER FOREIGN TABLE books RENAME COLUMN title TO name" in seen
    cat = catalog(db_path(engine))
    assert [t[0] for t in cat["sqlmed_foreign_tables"]] == ["books", "people"]
    assert ("books", "name", 2, "TEXT", "YES", None, None) in cat["sqlmed_foreign_table_columns"]
    assert remote_rows(remote)[0] == (1, "Dune", 1965)


def test_batch_recreate_always_recreates_from_definition(engine, built, remote):
    seen = run(
        engine,
        "with op.batch_alter_table('books', recreate='always') as batch:\n"
        "    batch.add_column(sa.Column('year', sa.Integer()))\n",
    )
    assert not any(s.startswith("INSERT") or "_alembic_tmp" in s for s in seen), seen
    assert "DROP FOREIGN TABLE books" in seen
    created = [s for s in seen if s.startswith("CREATE FOREIGN TABLE")]
    assert created == [
        "CREATE FOREIGN TABLE books (id INTEGER NOT NULL, title TEXT NOT NULL, year INTEGER) "
        "SERVER lib OPTIONS (\"table\" 'books')"
    ]
    cat = catalog(db_path(engine))
    assert [t[:2] for t in cat["sqlmed_foreign_tables"]] == [("books", "lib"), ("people", "files")]
    assert remote_rows(remote) == [(1, "Dune", 1965), (2, "Emma", 1815), (3, "Persuasion", 1817)]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT year FROM books WHERE id = 2").scalar() == 1815


def test_batch_on_a_local_table_beside_foreign_tables(engine, built, remote):
    before = catalog(db_path(engine))
    seen = run(
        engine,
        "with op.batch_alter_table('notes') as batch:\n"
        "    batch.alter_column('text', new_column_name='body', nullable=False,\n"
        "                       existing_type=sa.Text())\n",
    )
    assert any("_alembic_tmp_notes" in s for s in seen)  # local tables still move and copy
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT id, body FROM notes").fetchall() == [(1, "keep me")]
        assert conn.exec_driver_sql("SELECT count(*) FROM books").scalar() == 3
    after = catalog(db_path(engine))
    for view in before:
        if view != "schema":
            assert after[view] == before[view]
