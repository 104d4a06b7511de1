"""CHECK constraints of foreign tables through SQLAlchemy and Alembic: DDL from
MetaData, inspector reflection, autogenerate's render and its round trip."""

from __future__ import annotations

import sqlalchemy as sa

import vtables
from sqlmed_dialect.schema import Extension, ForeignServer
from tests.sqlmed_dialect.alembic.conftest import autogenerate, run
from vtables import catalog


def _server(engine, remote: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE EXTENSION sqlite_fdw")
        conn.exec_driver_sql(
            f"CREATE SERVER lib FOREIGN DATA WRAPPER sqlite_fdw OPTIONS (database '{remote}')"
        )


def _books(metadata: sa.MetaData, remote: str | None = None) -> sa.Table:
    if remote is not None:  # the server too, as autogenerate compares servers
        Extension("sqlite_fdw", metadata)
        ForeignServer("lib", "sqlite_fdw", metadata, options={"database": remote})
    return sa.Table(
        "books",
        metadata,
        sa.Column("id", sa.Integer, sqlmed_options={"key": "true"}),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("year", sa.Integer, sa.CheckConstraint("year > 0")),
        sa.CheckConstraint(sa.column("year") < 3000, name="Recent"),
        sqlmed_server="lib",
        sqlmed_options={"table": "books"},
    )


def _stored(engine) -> list[tuple[str, str, bool]]:
    conn = vtables.connect(engine.url.database)
    try:
        return [
            (c.name, c.check_sql, c.validated) for c in catalog.get_table(conn, "books").constraints
        ]
    finally:
        conn.close()


def test_create_all_reflect_and_not_enforced(engine, remote):
    _server(engine, remote)
    md = sa.MetaData()
    books = _books(md)
    ddl = str(sa.schema.CreateTable(books).compile(engine))
    assert ddl == (
        "CREATE FOREIGN TABLE books (id INTEGER OPTIONS (key 'true'), title TEXT NOT NULL,"
        ' year INTEGER, CHECK (year > 0), CONSTRAINT "Recent" CHECK (year < 3000))'
        " SERVER lib OPTIONS (\"table\" 'books')"
    )
    md.create_all(engine)
    assert _stored(engine) == [
        ("books_year_check", "year > 0", True),
        ("Recent", "year < 3000", True),
    ]
    inspector = sa.inspect(engine)
    assert inspector.get_check_constraints("books") == [
        {"name": "books_year_check", "sqltext": "year > 0"},
        {"name": "Recent", "sqltext": "year < 3000"},
    ]
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER FOREIGN TABLE books ADD CONSTRAINT nv CHECK (id > 0) NOT VALID")
    assert sa.inspect(engine).get_check_constraints("books")[-1] == {
        "name": "nv",
        "sqltext": "id > 0",
        "sqlmed_not_valid": True,
    }
    reflected = sa.Table("books", sa.MetaData(), autoload_with=engine)
    found = {
        c.name: c.dialect_options["sqlmed"]["not_valid"]
        for c in reflected.constraints
        if isinstance(c, sa.CheckConstraint)
    }
    assert found == {"Recent": False, "books_year_check": False, "nv": True}
    # the reflected table's DDL gives the same constraints back, NOT VALID included
    assert str(sa.schema.CreateTable(reflected).compile(engine)).endswith(
        'CONSTRAINT books_year_check CHECK (year > 0), CONSTRAINT "Recent" CHECK (year < 3000),'
        " CONSTRAINT nv CHECK (id > 0) NOT VALID) SERVER lib OPTIONS (\"table\" 'books')"
    )
    # declared, not enforced: the row reaches the source
    with engine.begin() as conn:
        conn.execute(books.insert().values(id=9, title="Future", year=-1))
        assert conn.execute(sa.select(books.c.year).where(books.c.id == 9)).scalar_one() == -1


def test_autogenerate_renders_and_runs(engine, remote):
    _server(engine, remote)
    md = sa.MetaData()
    _books(md, remote)
    up, down = autogenerate(engine, md)
    assert "sa.CheckConstraint('year > 0')" in up
    assert "sa.CheckConstraint(" in up and "name='Recent'" in up
    run(engine, up)
    assert _stored(engine) == [
        ("books_year_check", "year > 0", True),
        ("Recent", "year < 3000", True),
    ]
    run(
        engine, "op.execute('ALTER FOREIGN TABLE books ADD CONSTRAINT nv CHECK (id > 0) NOT VALID')"
    )
    before = _stored(engine)
    # without the table in the MetaData: its drop, and a downgrade that re-creates it
    # from the reflected table, its constraints (NOT VALID too) included
    md2 = sa.MetaData()
    Extension("sqlite_fdw", md2)
    ForeignServer("lib", "sqlite_fdw", md2, options={"database": remote})
    up2, down2 = autogenerate(engine, md2)
    assert "op.drop_foreign_table('books')" in up2
    assert "sa.CheckConstraint('id > 0', name='nv', sqlmed_not_valid=True)" in down2
    run(engine, up2)
    assert "books" not in sa.inspect(engine).get_table_names()
    run(engine, down2)
    assert _stored(engine) == before
    run(engine, down)
    assert "books" not in sa.inspect(engine).get_table_names()


def test_create_foreign_table_op_with_check(engine, remote):
    _server(engine, remote)
    seen = run(
        engine,
        "op.create_foreign_table('books', sa.Column('id', sa.Integer),"
        " sa.Column('year', sa.Integer), sa.CheckConstraint('year > 0', name='pos'),"
        " sa.CheckConstraint('id <> year'), server='lib', options={'table': 'books'})",
    )
    assert seen[-1] == (
        "CREATE FOREIGN TABLE books (id INTEGER, year INTEGER, CONSTRAINT pos CHECK (year > 0),"
        " CHECK (id <> year)) SERVER lib OPTIONS (\"table\" 'books')"
    )
    assert _stored(engine) == [("pos", "year > 0", True), ("books_check", "id <> year", True)]
