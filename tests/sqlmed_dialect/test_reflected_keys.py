"""Foreign tables reflect the primary key their columns mark with ``key 'true'``,
which IMPORT FOREIGN SCHEMA sets from the remote primary key, so automap and
the ORM can map an imported foreign table and write through it."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.ext.automap import automap_base

from tests.pgserver import PostgresServer
from tests.pgserver import remote as remote_pg


@pytest.fixture
def engine(tmp_path):
    eng = sa.create_engine(f"sqlmed:///{tmp_path / 'app.db'}")
    yield eng
    eng.dispose()


@pytest.fixture
def remote(tmp_path):
    """A SQLite file with a rowid primary key, a composite key and no key."""
    path = str(tmp_path / "remote.db")
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL);
            INSERT INTO books VALUES (1, 'Dune'), (2, 'Emma');
            CREATE TABLE lines (
                qty INT, order_id INT NOT NULL, line INT NOT NULL,
                PRIMARY KEY (order_id, line));
            INSERT INTO lines VALUES (5, 1, 1), (7, 1, 2);
            CREATE TABLE notes (body TEXT);
        """)
    return path


def rows(path: str, table: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


def run(engine, script: str) -> None:
    with engine.begin() as conn:
        for statement in script.split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)


def pk(engine, table: str) -> dict:
    return sa.inspect(engine).get_pk_constraint(table)


def import_remote(engine, wrapper: str, server_options: str) -> None:
    """IMPORT FOREIGN SCHEMA of ``remote`` through ``wrapper``; the keys reflected."""
    run(
        engine,
        f"CREATE EXTENSION {wrapper};"
        f"CREATE SERVER lib FOREIGN DATA WRAPPER {wrapper} OPTIONS ({server_options});"
        "IMPORT FOREIGN SCHEMA main FROM SERVER lib INTO main",
    )
    assert pk(engine, "books") == {"constrained_columns": ["id"], "name": None}
    assert pk(engine, "lines") == {"constrained_columns": ["order_id", "line"], "name": None}
    assert pk(engine, "notes") == {"constrained_columns": [], "name": None}


def test_sqlite_fdw_import_reflects_keys_and_automap_writes(engine, remote):
    import_remote(engine, "sqlite_fdw", f"database '{remote}'")
    table = sa.Table("lines", sa.MetaData(), autoload_with=engine)
    assert [c.name for c in table.primary_key] == ["order_id", "line"]

    base = automap_base()
    base.prepare(autoload_with=engine)
    assert sorted(base.classes.keys()) == ["books", "lines"]
    Book, Line = base.classes.books, base.classes.lines
    with orm.Session(engine) as session:
        assert [(b.id, b.title) for b in session.scalars(sa.select(Book).order_by(Book.id))] == [
            (1, "Dune"),
            (2, "Emma"),
        ]
        assert session.get(Line, (1, 2)).qty == 7
        session.add(Book(id=3, title="Persuasion"))
        session.get(Book, 1).title = "Dune Messiah"
        session.delete(session.get(Book, 2))
        session.add(Line(order_id=2, line=1, qty=9))
        session.get(Line, (1, 1)).qty = 6
        session.delete(session.get(Line, (1, 2)))
        session.commit()
    assert rows(remote, "books") == [(1, "Dune Messiah"), (3, "Persuasion")]
    assert rows(remote, "lines") == [(6, 1, 1), (9, 2, 1)]


def test_hand_written_foreign_table_reflects_marked_keys_only(engine, remote):
    run(
        engine,
        f"CREATE EXTENSION sqlite_fdw;"
        f"CREATE SERVER lib FOREIGN DATA WRAPPER sqlite_fdw OPTIONS (database '{remote}');"
        "CREATE FOREIGN TABLE keyed (order_id int OPTIONS (key 'true'),"
        " line int OPTIONS (key 'on'), qty int OPTIONS (key 'false'))"
        " SERVER lib OPTIONS (table 'lines');"
        "CREATE FOREIGN TABLE unkeyed (id int, title text) SERVER lib OPTIONS (table 'books')",
    )
    assert pk(engine, "keyed") == {"constrained_columns": ["order_id", "line"], "name": None}
    assert pk(engine, "unkeyed") == {"constrained_columns": [], "name": None}
    base = automap_base()
    base.prepare(autoload_with=engine)
    assert sorted(base.classes.keys()) == ["keyed"]


def test_sqlalchemy_fdw_import_marks_the_remote_key(engine, remote):
    import_remote(engine, "sqlalchemy_fdw", f"url 'sqlite:///{remote}'")
    base = automap_base()
    base.prepare(autoload_with=engine)
    Line = base.classes.lines
    with orm.Session(engine) as session:
        session.get(Line, (1, 1)).qty = 8
        session.delete(session.get(Line, (1, 2)))
        session.commit()
    assert rows(remote, "lines") == [(8, 1, 1)]


def test_sqlalchemy_fdw_writes_by_marked_key_when_the_remote_has_none(engine, remote):
    run(
        engine,
        f"CREATE EXTENSION sqlalchemy_fdw;"
        f"CREATE SERVER lib FOREIGN DATA WRAPPER sqlalchemy_fdw OPTIONS (url 'sqlite:///{remote}');"
        "CREATE FOREIGN TABLE notes (body text OPTIONS (key 'true')) SERVER lib;"
        "INSERT INTO notes VALUES ('a'), ('b');"
        "UPDATE notes SET body = 'c' WHERE body = 'b';"
        "DELETE FROM notes WHERE body = 'a'",
    )
    assert rows(remote, "notes") == [("c",)]


@pytest.fixture(scope="module")
def pg():
    with PostgresServer() as server:
        server.dsn = f"host={server.host} port={server.port} user=postgres dbname=postgres"
        remote_pg(
            server,
            """
            CREATE SCHEMA shop;
            CREATE TABLE shop.items (name text, id integer PRIMARY KEY, qty int);
            INSERT INTO shop.items VALUES ('ann', 1, 10), ('bob', 2, 20);
            CREATE TABLE shop.pairs (a int, b int, c int, PRIMARY KEY (b, a));
            CREATE TABLE shop.loose (v int);
            CREATE VIEW shop.item_names AS SELECT name FROM shop.items;
            """,
        )
        yield server


def test_postgres_fdw_import_reflects_keys_and_automap_writes(engine, pg):
    run(
        engine,
        f"CREATE EXTENSION postgres_fdw;"
        f"CREATE SERVER shop FOREIGN DATA WRAPPER postgres_fdw"
        f" OPTIONS (host '{pg.host}', port '{pg.port}', dbname 'postgres');"
        f"CREATE USER MAPPING FOR CURRENT_USER SERVER shop OPTIONS (user 'postgres');"
        f"IMPORT FOREIGN SCHEMA shop FROM SERVER shop INTO main",
    )
    assert pk(engine, "items") == {"constrained_columns": ["id"], "name": None}
    assert pk(engine, "pairs") == {"constrained_columns": ["a", "b"], "name": None}
    assert pk(engine, "loose") == {"constrained_columns": [], "name": None}
    assert pk(engine, "item_names") == {"constrained_columns": [], "name": None}

    base = automap_base()
    base.prepare(autoload_with=engine)
    assert sorted(base.classes.keys()) == ["items", "pairs"]
    Item = base.classes["items"]
    with orm.Session(engine) as session:
        assert [
            (i.id, i.name, i.qty) for i in session.scalars(sa.select(Item).order_by(Item.id))
        ] == [
            (1, "ann", 10),
            (2, "bob", 20),
        ]
        session.add(Item(id=3, name="cy", qty=30))
        session.get(Item, 1).qty = 11
        session.delete(session.get(Item, 2))
        session.commit()
    with psycopg.connect(pg.dsn) as c:
        assert c.execute("SELECT id, name, qty FROM shop.items ORDER BY id").fetchall() == [
            (1, "ann", 11),
            (3, "cy", 30),
        ]
