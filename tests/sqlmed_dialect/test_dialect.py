"""The sqlmed:// dialect: URLs, foreign tables in MetaData, schema objects,
reflection, secrets, ORM, pandas and threads."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy import exc, orm
from sqlalchemy.schema import CreateIndex, CreateTable, DropTable

import vtables
from sqlmed_dialect import (
    CreateServer,
    CreateUserMapping,
    Extension,
    ForeignDataWrapper,
    ForeignServer,
    UserMapping,
)
from sqlmed_dialect import dbapi as sqlmed_dbapi
from sqlmed_dialect.base import SQLMedDialect


@pytest.fixture
def remote(tmp_path):
    """Another SQLite file with a table the foreign tables point at."""
    path = str(tmp_path / "remote.db")
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, author_id INT)"
        )
        db.executemany(
            "INSERT INTO books VALUES (?, ?, ?)",
            [(1, "Dune", 1), (2, "Emma", 2), (3, "Persuasion", 2)],
        )
    return path


def remote_rows(path: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT * FROM books ORDER BY id").fetchall()


@pytest.fixture
def engine(tmp_path):
    eng = sa.create_engine(f"sqlmed:///{tmp_path / 'app.db'}?user=alice")
    yield eng
    eng.dispose()


def library(metadata: sa.MetaData, remote: str) -> tuple[sa.Table, sa.Table]:
    Extension("sqlite_fdw", metadata)
    ForeignServer("lib", "sqlite_fdw", metadata, options={"database": remote})
    books = sa.Table(
        "books",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(80), nullable=False),
        sa.Column(
            "author_id", sa.ForeignKey("authors.id"), sqlmed_options={"column_name": "author_id"}
        ),
        sqlmed_server="lib",
        sqlmed_options={"table": "books", "updatable": "true"},
    )
    authors = sa.Table(
        "authors",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(40), unique=True),
    )
    return books, authors


def statements(engine) -> list[str]:
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    return seen


# --------------------------------------------------------------------- URLs


def test_entry_point_and_urls(tmp_path, monkeypatch):
    from sqlalchemy.dialects import registry

    assert registry.load("sqlmed") is SQLMedDialect
    assert registry.load("sqlmed.apsw") is SQLMedDialect
    for url in ("sqlmed://", "sqlmed:///:memory:"):
        eng = sa.create_engine(url)
        assert eng.dialect.name == "sqlmed" and eng.dialect.driver == "apsw"
        assert isinstance(eng.pool, sa.pool.SingletonThreadPool)
        with eng.connect() as c:
            assert c.exec_driver_sql("SELECT 1").scalar() == 1
            raw = c.connection.dbapi_connection
            assert isinstance(raw, sqlmed_dbapi.Connection)
            assert raw.vtables.filename == ""
    monkeypatch.chdir(tmp_path)
    rel = sa.create_engine("sqlmed:///rel.db?user=bob&timeout=2.5")
    assert isinstance(rel.pool, sa.pool.QueuePool)
    with rel.connect() as c:
        raw = c.connection.dbapi_connection
        assert raw.vtables.filename == str(tmp_path / "rel.db")
        assert raw.vtables.user == "bob"
        assert c.exec_driver_sql("SELECT current_user").scalar() == "bob"
    absolute = sa.create_engine(f"sqlmed:///{tmp_path / 'abs.db'}")
    with absolute.connect() as c:
        assert c.connection.dbapi_connection.vtables.filename == str(tmp_path / "abs.db")
    with pytest.raises(exc.ArgumentError, match="unknown sqlmed URL parameter"):
        sa.create_engine("sqlmed:///x.db?colour=blue").connect()
    with pytest.raises(exc.ArgumentError, match="Invalid sqlmed URL"):
        sa.create_engine("sqlmed://host/x.db").connect()


# ------------------------------------------------------ DDL and create_all


def test_the_dialect_on_sqlalchemys_seams():
    """As SQLAlchemy's sqlite dialects: the backend in base, the driver apart."""
    from sqlalchemy.dialects.sqlite.base import SQLiteDialect
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    from sqlmed_dialect.driver import SQLMedDialect_apsw

    assert SQLMedDialect.__bases__ == (SQLiteDialect,)
    assert not issubclass(SQLMedDialect_apsw, SQLiteDialect_pysqlite)
    engine = sa.create_engine("sqlmed://")
    assert type(engine.dialect) is SQLMedDialect_apsw
    assert (engine.dialect.name, engine.dialect.driver) == ("sqlmed", "apsw")
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.floor(2.5))) == 2
        assert conn.scalar(sa.select(sa.literal("abc").regexp_match("^a.c$"))) == 1
        conn.rollback()
        conn.execution_options(isolation_level="AUTOCOMMIT")
        assert conn.connection.dbapi_connection.autocommit
    engine.dispose()


def test_foreign_table_ddl():
    metadata = sa.MetaData()
    t = sa.Table(
        "people",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(20), sqlmed_options={"column_name": "full name"}),
        sa.Column("born", sa.Date, server_default=sa.text("'2000-01-01'")),
        sqlmed_server="files",
        sqlmed_options={"filename": "people.csv", "format": "csv"},
    )
    ddl = " ".join(str(CreateTable(t).compile(dialect=SQLMedDialect())).split())
    assert ddl == (
        "CREATE FOREIGN TABLE people (id INTEGER NOT NULL, "
        "name VARCHAR(20) OPTIONS (column_name 'full name'), born DATE DEFAULT '2000-01-01') "
        "SERVER files OPTIONS (filename 'people.csv', format 'csv')"
    )
    assert str(DropTable(t).compile(dialect=SQLMedDialect())).strip() == "DROP FOREIGN TABLE people"
    local = sa.Table("local", metadata, sa.Column("id", sa.Integer, primary_key=True))
    assert (
        str(CreateTable(local).compile(dialect=SQLMedDialect()))
        .strip()
        .startswith("CREATE TABLE local")
    )


def test_create_all_order_and_checkfirst(engine, remote):
    metadata = sa.MetaData()
    books, authors = library(metadata, remote)
    UserMapping("lib", "PUBLIC", metadata)
    seen = statements(engine)
    metadata.create_all(engine)
    ddl = [s for s in seen if s.startswith(("CREATE", "DROP"))]
    assert [s.split(" (")[0] for s in ddl] == [
        "CREATE EXTENSION sqlite_fdw",
        "CREATE SERVER lib FOREIGN DATA WRAPPER sqlite_fdw OPTIONS",
        "CREATE USER MAPPING FOR PUBLIC SERVER lib",
        "CREATE TABLE authors",
        "CREATE FOREIGN TABLE books",
    ]
    # the local table's reference to a foreign table stays out of its DDL
    assert "REFERENCES" not in ddl[3]
    seen.clear()
    metadata.create_all(engine)  # checkfirst: nothing exists twice, nothing fails
    assert not [s for s in seen if s.startswith("CREATE")]
    with engine.connect() as c:
        assert c.execute(sa.select(books.c.title).order_by(books.c.id)).scalars().all() == [
            "Dune",
            "Emma",
            "Persuasion",
        ]
    seen.clear()
    metadata.drop_all(engine)
    ddl = [s for s in seen if s.startswith("DROP")]
    assert [s.split(" (")[0] for s in ddl] == [
        "DROP FOREIGN TABLE books",
        "DROP TABLE authors",
        "DROP USER MAPPING FOR PUBLIC SERVER lib",
        "DROP SERVER lib",
        "DROP EXTENSION sqlite_fdw",
    ]
    metadata.drop_all(engine)  # checkfirst again
    insp = sa.inspect(engine)
    assert insp.get_table_names() == [] and insp.get_servers() == []
    assert insp.get_extensions() == []


def test_schema_objects_execute_directly(engine):
    fdw = ForeignDataWrapper("mem", handler="memory_fdw_handler", options={"debug": "true"})
    server = ForeignServer("m1", fdw, options={"host": "h", "api_token": "tok-123"})
    mapping = UserMapping(server, "CURRENT_USER", options={"user": "u", "password": "pw-456"})
    with engine.begin() as c:
        fdw.create(c)
        c.execute(CreateServer(server))
        c.execute(CreateUserMapping(mapping))
        assert mapping.exists(c) and server.exists(c) and fdw.exists(c)
    insp = sa.inspect(engine)
    assert insp.get_foreign_data_wrappers() == [
        {
            "name": "mem",
            "handler": "memory_fdw_handler",
            "validator": None,
            "extension": None,
            "options": {"debug": "true"},
            "comment": None,
        }
    ]
    assert insp.get_servers()[0]["options"] == {"host": "h", "api_token": "********"}
    assert insp.get_user_mappings() == [
        {"user": "alice", "server": "m1", "options": {"user": "u", "password": "********"}}
    ]
    # the secrets reached the catalog intact
    with engine.connect() as c:
        stored = c.exec_driver_sql("SELECT options FROM sqlmed_user_mapping").scalar()
        assert "pw-456" in stored
    mapping.drop(engine)
    server.drop(engine)
    fdw.drop(engine)
    mapping.drop(engine, checkfirst=True)  # nothing left: no error
    assert sa.inspect(engine).get_foreign_data_wrappers() == []


def test_secrets_stay_out_of_logs_reprs_and_errors(engine, caplog):
    server = ForeignServer("m1", "mem", options={"api_token": "tok-123"})
    mapping = UserMapping("m1", "alice", options={"password": "pw-456"})
    assert "tok-123" not in repr(server) and "pw-456" not in repr(mapping)
    assert "pw-456" not in str(CreateUserMapping(mapping).compile(dialect=SQLMedDialect()))
    engine.echo = True
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
        with engine.begin() as c:
            ForeignDataWrapper("mem", handler="memory_fdw_handler").create(c)
            server.create(c)
            mapping.create(c)
        with pytest.raises(exc.DBAPIError) as failure:  # a duplicate mapping
            mapping.create(engine)
    assert "CREATE USER MAPPING FOR alice SERVER m1 OPTIONS (password '********')" in caplog.text
    for secret in ("tok-123", "pw-456"):
        assert secret not in caplog.text
        assert secret not in str(failure.value)
    assert "already exists" in str(failure.value)


def test_index_on_foreign_table_is_refused(engine, remote):
    metadata = sa.MetaData()
    books, _ = library(metadata, remote)
    metadata.create_all(engine)
    index = sa.Index("by_title", books.c.title)
    with pytest.raises(exc.CompileError, match='index "by_title" on foreign table "books"'):
        index.create(engine)
    with engine.connect() as c:
        indexes = c.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='index'")
        assert "by_title" not in indexes.scalars().all()
    with pytest.raises(exc.CompileError, match="foreign table"):
        CreateIndex(index).compile(dialect=SQLMedDialect())


# -------------------------------------------------------------- reflection


def test_reflection_round_trip(engine, remote):
    metadata = sa.MetaData()
    books, authors = library(metadata, remote)
    metadata.create_all(engine)
    insp = sa.inspect(engine)
    assert insp.get_table_names() == ["authors", "books"]  # no catalog tables
    assert insp.get_foreign_table_names() == ["books"]
    assert insp.get_table_options("books") == {
        "sqlmed_server": "lib",
        "sqlmed_options": {"table": "books", "updatable": "true"},
    }
    columns = insp.get_columns("books")
    assert [(c["name"], str(c["type"]), c["nullable"]) for c in columns] == [
        ("id", "INTEGER", False),
        ("title", "VARCHAR(80)", False),
        ("author_id", "INTEGER", True),
    ]
    assert columns[2]["dialect_options"] == {"sqlmed_options": {"column_name": "author_id"}}

    reflected = sa.MetaData()
    reflected.reflect(engine)
    table = reflected.tables["books"]
    assert table.dialect_options["sqlmed"]["server"] == "lib"

    def described(columns):
        return [{**c, "type": repr(c["type"])} for c in columns]

    before = described(sa.inspect(engine).get_columns("books"))
    with engine.begin() as c:
        c.execute(DropTable(books))
        assert sa.inspect(c).get_foreign_table_names() == []
        c.execute(CreateTable(table))
    again = sa.inspect(engine)
    assert again.get_foreign_table_names() == ["books"]
    assert described(again.get_columns("books")) == before
    assert again.get_table_options("books") == insp.get_table_options("books")
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 3


def test_reflected_types_as_declared(engine):
    with engine.begin() as c:
        c.exec_driver_sql("CREATE EXTENSION file_fdw")
        c.exec_driver_sql("CREATE SERVER f FOREIGN DATA WRAPPER file_fdw")
        c.exec_driver_sql(
            "CREATE FOREIGN TABLE t (a int8, b timestamptz, c numeric(10,2), d bool, e jsonb, "
            "f bytea, g double precision, h varchar(5)) SERVER f OPTIONS (filename 'x.csv')"
        )
    types = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("t")}
    assert isinstance(types["a"], sa.BIGINT)
    assert isinstance(types["b"], sa.TIMESTAMP)
    assert isinstance(types["c"], sa.NUMERIC) and (types["c"].precision, types["c"].scale) == (
        10,
        2,
    )
    assert isinstance(types["d"], sa.BOOLEAN)
    assert isinstance(types["e"], sa.JSON)
    assert isinstance(types["f"], sa.LargeBinary)
    assert isinstance(types["g"], sa.DOUBLE_PRECISION)
    assert isinstance(types["h"], sa.VARCHAR) and types["h"].length == 5


# --------------------------------------------------------------------- ORM


class Base(orm.DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(40), unique=True)
    books: orm.Mapped[list[Book]] = orm.relationship(back_populates="author", order_by="Book.id")


class Book(Base):
    __tablename__ = "books"
    __table_args__ = {"sqlmed_server": "lib", "sqlmed_options": {"updatable": "true"}}
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True, autoincrement=False)
    title: orm.Mapped[str] = orm.mapped_column(sa.String(80))
    author_id: orm.Mapped[int | None] = orm.mapped_column(sa.ForeignKey("authors.id"))
    author: orm.Mapped[Author | None] = orm.relationship(back_populates="books")


def orm_setup(engine, remote) -> None:
    Extension("sqlite_fdw", Base.metadata)
    ForeignServer("lib", "sqlite_fdw", Base.metadata, options={"database": remote})
    try:
        Base.metadata.create_all(engine)
    finally:
        Base.metadata.info.clear()  # keep the module-level MetaData reusable
        sa.event.remove(Base.metadata, "before_create", _listener("before_create"))
        sa.event.remove(Base.metadata, "after_drop", _listener("after_drop"))


def _listener(name):
    from sqlmed_dialect import schema

    return schema._create_all if name == "before_create" else schema._drop_all


def test_orm_crud_and_relationships_across_local_and_foreign(engine, remote):
    orm_setup(engine, remote)
    with orm.Session(engine) as session:
        session.add_all([Author(id=1, name="Herbert"), Author(id=2, name="Austen")])
        session.commit()
        austen = session.scalars(sa.select(Author).where(Author.name == "Austen")).one()
        assert [b.title for b in austen.books] == ["Emma", "Persuasion"]
        dune = session.get(Book, 1)
        assert dune.author.name == "Herbert"
        session.add(Book(id=4, title="Sanditon", author=austen))
        dune.title = "Dune Messiah"
        session.delete(session.get(Book, 2))
        session.commit()
    assert remote_rows(remote) == [(1, "Dune Messiah", 1), (3, "Persuasion", 2), (4, "Sanditon", 2)]
    with orm.Session(engine) as session:
        rows = session.execute(
            sa.select(Author.name, sa.func.count(Book.id))
            .join(Author.books)
            .group_by(Author.name)
            .order_by(Author.name)
        ).all()
        assert rows == [("Austen", 2), ("Herbert", 1)]
        session.add(Book(id=5, title="Lady Susan", author_id=2))
        session.get(Book, 3).title = "changed"
        session.flush()
        session.rollback()
    assert remote_rows(remote) == [(1, "Dune Messiah", 1), (3, "Persuasion", 2), (4, "Sanditon", 2)]


# ------------------------------------------------------------------ pandas


def test_pandas_read_append_and_replace_refusal(engine, remote):
    metadata = sa.MetaData()
    books, authors = library(metadata, remote)
    metadata.create_all(engine)
    pd.DataFrame({"id": [1, 2], "name": ["Herbert", "Austen"]}).to_sql(
        "authors", engine, if_exists="append", index=False
    )
    frame = pd.read_sql("SELECT * FROM books ORDER BY id", engine)
    assert frame["title"].tolist() == ["Dune", "Emma", "Persuasion"]
    assert pd.read_sql_table("books", engine)["id"].tolist() == [1, 2, 3]
    assert pd.read_sql_table("authors", engine)["name"].tolist() == ["Herbert", "Austen"]
    joined = pd.read_sql_query(
        sa.select(authors.c.name, books.c.title).join_from(books, authors).order_by(books.c.id),
        engine,
    )
    assert joined.values.tolist() == [
        ["Herbert", "Dune"],
        ["Austen", "Emma"],
        ["Austen", "Persuasion"],
    ]

    new = pd.DataFrame(
        {"id": [10, 11], "title": ["Ulysses", "Dubliners"], "author_id": [None, None]}
    )
    assert new.to_sql("books", engine, if_exists="append", index=False) == 2
    assert [r[1] for r in remote_rows(remote)][-2:] == ["Ulysses", "Dubliners"]

    with pytest.raises(exc.CompileError, match='"books" is a foreign table.*if_exists="replace"'):
        new.to_sql("books", engine, if_exists="replace", index=False)
    insp = sa.inspect(engine)
    assert insp.get_foreign_table_names() == ["books"]  # still foreign, still there
    assert len(remote_rows(remote)) == 5
    # replacing a local table still works
    pd.DataFrame({"id": [3], "name": ["Joyce"]}).to_sql(
        "authors", engine, if_exists="replace", index=False
    )
    assert pd.read_sql_table("authors", engine)["name"].tolist() == ["Joyce"]


# ------------------------------------------------------- DB-API behaviour


def test_integrity_error_and_empty_description(engine, remote):
    metadata = sa.MetaData()
    _books, authors = library(metadata, remote)
    metadata.create_all(engine)
    with engine.begin() as c:
        c.execute(authors.insert(), {"id": 1, "name": "Herbert"})
    with pytest.raises(exc.IntegrityError, match="UNIQUE"):
        with engine.begin() as c:
            c.execute(authors.insert(), {"id": 2, "name": "Herbert"})
    # a constraint of the remote source is an IntegrityError too
    with pytest.raises(exc.IntegrityError, match='foreign table "books".*UNIQUE') as failure:
        with engine.begin() as c:
            c.execute(_books.insert(), {"id": 1, "title": "again", "author_id": None})
    assert failure.value.orig.sqlstate == "23000"
    assert len(remote_rows(remote)) == 3
    with engine.connect() as c:
        result = c.execute(sa.select(authors).where(authors.c.id == 99))
        assert list(result.keys()) == ["id", "name"] and result.all() == []
        foreign = c.execute(sa.text("SELECT id, title FROM books WHERE id > 100"))
        assert list(foreign.keys()) == ["id", "title"] and foreign.all() == []


def test_threads_share_a_file_database(engine, remote):
    metadata = sa.MetaData()
    books, authors = library(metadata, remote)
    metadata.create_all(engine)
    with engine.begin() as c:
        c.execute(authors.insert(), [{"id": i, "name": f"a{i}"} for i in range(1, 9)])
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(40):
                with engine.begin() as c:
                    assert c.execute(sa.select(sa.func.count()).select_from(books)).scalar() >= 3
                    c.execute(authors.update().where(authors.c.id == n).values(name=f"a{n}-{i}"))
                    got = c.execute(sa.select(authors.c.name).where(authors.c.id == n)).scalar()
                    assert got == f"a{n}-{i}"
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.connect() as c:
        names = c.execute(sa.select(authors.c.name).order_by(authors.c.id)).scalars().all()
    assert names == [f"a{n}-39" for n in range(1, 9)]


def test_vtables_only_path_needs_no_sqlalchemy():
    # the engine layer stays importable and usable without the dialect
    import subprocess
    import sys

    code = (
        "import sys, vtables; c = vtables.connect(':memory:'); "
        "c.execute('CREATE EXTENSION file_fdw'); "
        "assert 'sqlalchemy' not in sys.modules, 'vtables imported sqlalchemy'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})
    assert vtables.connect  # the module under test is the same one


def test_a_value_that_looks_masked_is_not_mistaken_for_a_secret(engine):
    fdw = ForeignDataWrapper("mem", handler="memory_fdw_handler")
    server = ForeignServer("m1", fdw)
    mapping = UserMapping(server, "alice", options={"user": "x'********", "password": "S3CRET"})
    for obj in (fdw, server, mapping):
        obj.create(engine)
    with engine.connect() as c:
        stored = c.exec_driver_sql("SELECT options FROM sqlmed_user_mapping").scalar()
    assert json.loads(stored) == {"user": "x'********", "password": "S3CRET"}
