"""Issue 12, the DB-API and dialect side: column names after a schema change,
DDL outside transactions, secrets in SQLAlchemy's logs and errors, JSONB
reflection, and names that need quoting in the SQL/MED text the dialect prints.
All on real files."""

from __future__ import annotations

import logging
import sqlite3
import time

import apsw
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import exc
from sqlalchemy.dialects import sqlite as sa_sqlite
from sqlalchemy.schema import CreateTable, DropTable

import vtables
from sqlmed_dialect import (
    CreateForeignDataWrapper,
    CreateServer,
    CreateUserMapping,
    DropServer,
    DropUserMapping,
    ForeignDataWrapper,
    ForeignServer,
    UserMapping,
    dbapi,
)
from sqlmed_dialect.base import SQLMedDialect
from vtables import grammar
from vtables.secrets import secret_names


@pytest.fixture
def engine(tmp_path):
    eng = sa.create_engine(f"sqlmed:///{tmp_path / 'app.db'}?user=alice")
    yield eng
    eng.dispose()


def names(description) -> list[str]:
    return [d[0] for d in description]


# ------------------------------------------- 5: description after a schema change


def test_description_follows_a_schema_change_on_the_same_connection(tmp_path):
    c = dbapi.connect(str(tmp_path / "app.db"))
    c.execute("CREATE TABLE t (a, b)")
    c.execute("INSERT INTO t VALUES (1, 2)")
    cur = c.cursor()
    assert names(cur.execute("SELECT * FROM t").description) == ["a", "b"]
    assert cur.fetchall() == [(1, 2)]
    c.execute("DROP TABLE t")
    c.execute("CREATE TABLE t (A, B, col1, extra)")
    c.execute("INSERT INTO t VALUES (1, 2, 3, 4)")
    assert names(cur.execute("SELECT * FROM t").description) == ["A", "B", "col1", "extra"]
    assert cur.fetchall() == [(1, 2, 3, 4)]
    # and with no rows at all (the statement completes on its first step)
    c.execute("DROP TABLE t")
    c.execute("CREATE TABLE t (p, q, r)")
    assert names(cur.execute("SELECT * FROM t").description) == ["p", "q", "r"]
    assert cur.fetchall() == []
    assert names(cur.description) == ["p", "q", "r"]
    # bound parameters, no rows, after a change
    cur.execute("SELECT * FROM t WHERE p = ?", (1,))
    c.execute("ALTER TABLE t ADD COLUMN s")
    assert names(cur.execute("SELECT * FROM t WHERE p = ?", (1,)).description) == [
        "p",
        "q",
        "r",
        "s",
    ]
    c.close()


def test_description_follows_a_schema_change_made_by_another_connection(tmp_path):
    path = str(tmp_path / "app.db")
    a = dbapi.connect(path)
    b = dbapi.connect(path, autocommit=True)
    b.execute("CREATE TABLE t (a, b)")
    b.execute("INSERT INTO t VALUES (1, 2)")
    cur = a.execute("SELECT * FROM t")
    assert names(cur.description) == ["a", "b"]
    assert cur.fetchall() == [(1, 2)]
    b.execute("DROP TABLE t")
    b.execute("CREATE TABLE t (x, y, z)")
    cur = a.execute("SELECT * FROM t")
    assert names(cur.description) == ["x", "y", "z"]
    assert cur.fetchall() == []
    b.execute("INSERT INTO t VALUES (1, 2, 3)")
    b.execute("ALTER TABLE t RENAME COLUMN x TO w")
    cur = a.execute("SELECT * FROM t")
    assert names(cur.description) == ["w", "y", "z"]
    assert cur.fetchall() == [(1, 2, 3)]
    a.close()
    b.close()


def test_pandas_to_sql_replace_then_read_sql(engine):
    """pandas' own test_api_to_sql_index_label_multiindex, on sqlmed://."""
    frame = pd.DataFrame(
        {"col1": [1.1, 1.2], "col2": [2.1, 2.2]},
        index=pd.MultiIndex.from_tuples([("x", 1), ("y", 2)], names=["A", "B"]),
    )
    frame.to_sql("test_index_label", engine, if_exists="replace")
    read = pd.read_sql("SELECT * FROM test_index_label", engine)
    assert list(read.columns) == ["A", "B", "col1", "col2"]
    with engine.connect() as conn:
        frame.to_sql("test_index_label", conn, if_exists="replace", index_label=["C", "D"])
        read = pd.read_sql("SELECT * FROM test_index_label", conn)
        assert list(read.columns) == ["C", "D", "col1", "col2"]
        frame.reset_index().assign(extra=0).to_sql(
            "test_index_label", conn, if_exists="replace", index=False
        )
        read = pd.read_sql("SELECT * FROM test_index_label", conn)
        assert list(read.columns) == ["A", "B", "col1", "col2", "extra"]
        assert read["extra"].tolist() == [0, 0]
        pd.DataFrame({"E": [], "col1": []}).to_sql(
            "test_index_label", conn, if_exists="replace", index=False
        )
        read = pd.read_sql("SELECT * FROM test_index_label", conn)
        assert list(read.columns) == ["E", "col1"] and len(read) == 0


# ------------------------------------------------- 6: DDL begins no transaction


def test_ddl_then_detach_as_with_sqlite3(tmp_path):
    other = str(tmp_path / "other.db")
    for connect in (sqlite3.connect, dbapi.connect):
        c = connect(str(tmp_path / f"{connect.__module__}.db"))
        c.execute("ATTACH DATABASE ? AS other", (other,))
        c.execute("CREATE TABLE IF NOT EXISTS other.t (a)")
        c.execute("DROP TABLE other.t")
        c.execute("DETACH DATABASE other")  # no "database other is locked"
        assert not c.in_transaction
        c.close()


def test_ddl_is_visible_to_another_connection_without_commit(two_connections):
    a, b = two_connections(timeout=0.1)
    assert not a.in_transaction
    assert b.execute("SELECT name FROM sqlite_master WHERE name = 't'").fetchall() == [("t",)]
    a.execute("CREATE FOREIGN DATA WRAPPER w")
    a.execute("CREATE SERVER s FOREIGN DATA WRAPPER w OPTIONS (host 'h')")
    a.execute("ALTER SERVER s OPTIONS (SET host 'h2')")
    assert not a.in_transaction
    assert b.execute("SELECT * FROM sqlmed_foreign_server_options").fetchall() == [
        ("s", "host", "h2")
    ]
    b.execute("DROP SERVER s")  # b can write: a holds no lock
    assert not b.in_transaction
    assert a.execute("SELECT count(*) FROM sqlmed_foreign_servers").fetchone() == (0,)
    # DML still begins a transaction, as in sqlite3
    a.execute("INSERT INTO t VALUES (1)")
    assert a.in_transaction
    a.execute("CREATE TABLE u (a)")  # inside the open transaction: undone with it
    a.rollback()
    assert a.execute("SELECT name FROM sqlite_master WHERE name IN ('t', 'u')").fetchall() == [
        ("t",)
    ]


def test_sqlalchemy_ddl_autocommits_at_the_driver_as_on_sqlite(tmp_path):
    for url in (f"sqlite:///{tmp_path / 'a.db'}", f"sqlmed:///{tmp_path / 'b.db'}"):
        eng = sa.create_engine(url)
        with eng.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (a)")
            raw = conn.connection.dbapi_connection
            assert not raw.in_transaction, url
            conn.rollback()
        with eng.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
        eng.dispose()


def test_url_timeout_is_the_busy_timeout_from_the_start(tmp_path):
    path = str(tmp_path / "app.db")
    holder = vtables.connect(path)
    holder.execute("CREATE EXTENSION file_fdw; CREATE TABLE t (a)")
    holder.execute("BEGIN EXCLUSIVE; INSERT INTO t VALUES (0)")
    engine = sa.create_engine(f"sqlmed:///{path}?timeout=0.3")
    start = time.perf_counter()
    with pytest.raises(exc.OperationalError, match="locked"), engine.connect() as conn:
        conn.exec_driver_sql("SELECT * FROM t").all()
    assert time.perf_counter() - start < 3  # not vtables' default 5 s, once per lookup
    holder.execute("ROLLBACK")
    holder.close()
    engine.dispose()


# ------------------------------------------------- 14: secrets in logs and errors

SERVER_DDL = (
    "CREATE FOREIGN DATA WRAPPER mem HANDLER memory_fdw_handler; "
    "CREATE SERVER m1 FOREIGN DATA WRAPPER mem OPTIONS (host 'h', api_token 'tok-0123')"
)
MAPPING = "CREATE USER MAPPING FOR alice SERVER m1 OPTIONS (\"user\" 'u', password 'pw-4567')"
MASKED = "CREATE USER MAPPING FOR alice SERVER m1 OPTIONS (\"user\" 'u', password '********')"


def stored_mapping(engine) -> dict:
    conn = vtables.connect(engine.url.database)
    try:
        return {(m.user, m.server): m.options for m in vtables.catalog.list_user_mappings(conn)}
    finally:
        conn.close()


@pytest.mark.parametrize("how", ["text", "exec_driver_sql"])
def test_secrets_in_text_are_masked_in_logs_and_errors(engine, caplog, how):
    def execute(conn, sql):
        if how == "text":
            return conn.execute(sa.text(sql))
        return conn.exec_driver_sql(sql)

    engine.echo = True
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
        with engine.begin() as conn:
            execute(conn, SERVER_DDL)
            execute(conn, MAPPING)
        with pytest.raises(exc.DBAPIError) as failure, engine.begin() as conn:
            execute(conn, MAPPING)  # a duplicate
    assert MASKED in caplog.text
    assert "api_token '********'" in caplog.text
    for secret in ("tok-0123", "pw-4567"):
        assert secret not in caplog.text
        assert secret not in str(failure.value)
        assert secret not in failure.value.statement
    assert failure.value.statement == MASKED
    assert "already exists" in str(failure.value)
    # executed in the clear
    assert stored_mapping(engine)[("alice", "m1")] == {"user": "u", "password": "pw-4567"}


def test_secrets_masked_in_a_syntax_error_and_in_the_driver_error(engine, caplog):
    with engine.begin() as conn:
        conn.exec_driver_sql(SERVER_DDL)
    bad = "CREATE USER MAPPING FOR alice SERVER m1 OPTIONS (password 'pw-4567' oops)"
    engine.echo = True
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
        with pytest.raises(exc.DBAPIError) as failure, engine.connect() as conn:
            conn.execute(sa.text(bad))
    assert "pw-4567" not in caplog.text
    assert "pw-4567" not in str(failure.value)
    assert "pw-4567" not in str(failure.value.orig)
    # straight through the DB-API as well
    c = dbapi.connect(engine.url.database)
    with pytest.raises(dbapi.DatabaseError) as info:
        c.execute("CREATE USER MAPPING FOR nobody SERVER nope OPTIONS (password 'pw-4567')")
    assert "pw-4567" not in str(info.value)
    c.close()


def test_secret_ddl_objects_still_masked_and_executed_in_the_clear(engine, caplog):
    fdw = ForeignDataWrapper("mem", handler="memory_fdw_handler")
    server = ForeignServer("m1", fdw, options={"api_token": "tok-0123"})
    mapping = UserMapping(server, "alice", options={"password": "pw-4567", "user": "********"})
    for element in (CreateServer(server), CreateUserMapping(mapping)):
        for dialect in (SQLMedDialect(), None):
            text = str(element.compile(dialect=dialect))
            assert "tok-0123" not in text and "pw-4567" not in text
    engine.echo = True
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
        with engine.begin() as conn:
            conn.execute(CreateForeignDataWrapper(fdw))
            conn.execute(CreateServer(server))
            conn.execute(CreateUserMapping(mapping))
    assert "tok-0123" not in caplog.text and "pw-4567" not in caplog.text
    assert stored_mapping(engine)[("alice", "m1")] == {"password": "pw-4567", "user": "********"}


# ------------------------------------------------------------------ 24: JSONB


def test_local_jsonb_column_reflects_as_sqlite_jsonb(engine):
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, j JSONB)")
        conn.exec_driver_sql("""INSERT INTO t VALUES (1, jsonb('{"a":1}'))""")
    t = sa.Table("t", sa.MetaData(), autoload_with=engine)
    assert isinstance(t.c.j.type, sa_sqlite.JSONB)
    with engine.begin() as conn:
        assert conn.execute(sa.select(t.c.j)).scalar_one() == {"a": 1}
        conn.execute(t.insert(), {"id": 2, "j": {"b": [1, 2]}})
        assert conn.execute(sa.select(t.c.j).where(t.c.id == 2)).scalar_one() == {"b": [1, 2]}
        stored = conn.exec_driver_sql("SELECT typeof(j) FROM t ORDER BY id").scalars().all()
    assert stored == ["blob", "blob"]  # still SQLite's binary JSONB
    frame = pd.read_sql_table("t", engine)
    assert frame["j"].tolist() == [{"a": 1}, {"b": [1, 2]}]


def test_foreign_jsonb_column_reads_and_writes_text_json(engine, tmp_path):
    remote = str(tmp_path / "remote.db")
    db = apsw.Connection(remote)
    db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, j JSONB)")
    db.execute("""INSERT INTO docs VALUES (1, '{"a":1}')""")
    db.close()
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE EXTENSION sqlite_fdw; CREATE SERVER lib FOREIGN DATA WRAPPER sqlite_fdw "
            f"OPTIONS (database '{remote}', updatable 'true'); "
            "CREATE FOREIGN TABLE docs (id integer, j jsonb) SERVER lib"
        )
    docs = sa.Table("docs", sa.MetaData(), autoload_with=engine)
    assert isinstance(docs.c.j.type, sa.JSON)
    with engine.begin() as conn:
        assert conn.execute(sa.select(docs.c.j)).scalar_one() == {"a": 1}
        conn.execute(docs.insert(), {"id": 2, "j": {"b": 2}})
        got = conn.execute(sa.select(docs.c.j).order_by(docs.c.id)).scalars().all()
    assert got == [{"a": 1}, {"b": 2}]
    db = apsw.Connection(remote)
    assert db.execute("SELECT typeof(j) FROM docs ORDER BY id").fetchall() == [("text",)] * 2
    db.close()


# ----------------------------------------------- 8: names that need quoting


def nasty(tag: str) -> str:
    return f"{tag}\n DROP TABLE x; --'\"*/\\ end"


def build_nasty(metadata: sa.MetaData) -> sa.Table:
    fdw = ForeignDataWrapper(nasty("w"), metadata, options={nasty("wo"): nasty("wv")})
    server = ForeignServer(
        nasty("s"),
        fdw,
        metadata,
        type=nasty("type"),
        version=nasty("v"),
        options={nasty("so"): nasty("sv"), "password": nasty("pw")},
    )
    UserMapping(server, nasty("u"), metadata, options={nasty("uo"): nasty("uv")})
    return sa.Table(
        nasty("t"),
        metadata,
        sa.Column(nasty("c"), sa.Text, sqlmed_options={nasty("co"): nasty("cv")}),
        sa.Column("plain", sa.Integer, nullable=False, server_default=nasty("d")),
        sqlmed_server=nasty("s"),
        sqlmed_options={nasty("to"): nasty("tv")},
    )


def raw_catalog(path: str) -> dict:
    conn = vtables.connect(path)
    try:
        return {
            "wrappers": [(w.name, w.options) for w in vtables.catalog.list_wrappers(conn)],
            "servers": [
                (s.name, s.fdw, s.type, s.version, s.options)
                for s in vtables.catalog.list_servers(conn)
            ],
            "mappings": [
                (m.user, m.server, m.options) for m in vtables.catalog.list_user_mappings(conn)
            ],
            "tables": [
                (
                    t.name,
                    t.server,
                    t.options,
                    [(c.name, c.type, c.not_null, c.default, c.options) for c in t.columns],
                )
                for t in vtables.catalog.list_tables(conn)
            ],
            "schema": sorted(
                conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlmed%'"
                ).fetchall()
            ),
        }
    finally:
        conn.close()


def test_nasty_names_create_exactly_those_objects(engine):
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE x (a)")
    metadata = sa.MetaData()
    build_nasty(metadata)
    metadata.create_all(engine)
    got = raw_catalog(engine.url.database)
    assert got["wrappers"] == [(nasty("w"), {nasty("wo"): nasty("wv")})]
    assert got["servers"] == [
        (
            nasty("s"),
            nasty("w"),
            nasty("type"),
            nasty("v"),
            {nasty("so"): nasty("sv"), "password": nasty("pw")},
        )
    ]
    assert got["mappings"] == [(nasty("u"), nasty("s"), {nasty("uo"): nasty("uv")})]
    [(name, server, options, columns)] = got["tables"]
    assert (name, server, options) == (nasty("t"), nasty("s"), {nasty("to"): nasty("tv")})
    assert [(c[0], c[4]) for c in columns] == [
        (nasty("c"), {nasty("co"): nasty("cv")}),
        ("plain", {}),
    ]
    assert grammar.parse_one(f"SELECT {columns[1][3]}").sql() != ""  # one expression
    assert got["schema"] == sorted([("x",), (nasty("t"),)])
    metadata.drop_all(engine)
    got = raw_catalog(engine.url.database)
    assert got["schema"] == [("x",)]
    assert got["wrappers"] == got["servers"] == got["mappings"] == got["tables"] == []


# any text but NUL (which no SQL text can hold)
TEXT = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
USER_KEYWORDS = ("PUBLIC", "CURRENT_USER", "CURRENT_ROLE", "USER", "SESSION_USER")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(TEXT, min_size=1), key=st.text(TEXT, min_size=1), value=st.text(TEXT))
def test_compiled_sql_med_statements_parse_back_to_the_same_names(name, key, value):
    """Whatever the names and values, the text the dialect prints is read back by
    the SQL/MED grammar as exactly those names and values, one statement each."""
    assume(key.lower() not in secret_names())  # those print masked
    dialect = SQLMedDialect()
    fdw = ForeignDataWrapper(name, handler=name, validator=name, options={key: value})
    server = ForeignServer(name, name, type=value, version=value, options={key: value})
    mapping = UserMapping(server, name, options={key: value})
    table = sa.Table(
        name,
        sa.MetaData(),
        sa.Column(name, sa.Text, sqlmed_options={key: value}),
        sqlmed_server=name,
        sqlmed_options={key: value},
    )

    def parsed(element):
        [tree] = grammar.parse(str(element.compile(dialect=dialect)))
        return tree

    tree = parsed(CreateForeignDataWrapper(fdw))
    assert tree.this.this == name
    assert [f.this.this for f in tree.args["functions"]] == [name, name]
    tree = parsed(CreateServer(server))
    assert (tree.this.this, tree.args["wrapper"].this) == (name, name)
    assert (tree.args["type"], tree.args["version"]) == (value, value)
    assert [(o.this.this, o.args["value"]) for o in tree.args["options"]] == [(key, value)]
    tree = parsed(CreateUserMapping(mapping))
    if name.upper() not in USER_KEYWORDS:
        assert tree.this.this.this == name
    assert tree.args["server"].this == name
    tree = parsed(CreateTable(table))
    assert (tree.this.this, tree.args["server"].this) == (name, name)
    [column] = tree.args["columns"]
    assert column.this.this == name
    assert [(o.this.this, o.args["value"]) for o in column.args["options"]] == [(key, value)]
    assert [(o.this.this, o.args["value"]) for o in tree.args["options"]] == [(key, value)]
    assert [n.this for n in parsed(DropServer(server)).expressions] == [name]
    assert parsed(DropUserMapping(mapping)).args["server"].this == name
    assert [n.this for n in parsed(DropTable(table)).expressions] == [name]


def test_foreign_table_in_the_main_schema_by_name(engine, tmp_path):
    """``schema="main"`` is where foreign tables live: the name printed is the
    table's own, never ``main.name`` (which the SQL/MED grammar does not read)."""
    metadata = sa.MetaData()
    ForeignDataWrapper("w", metadata)
    ForeignServer("s", "w", metadata)
    sa.Table("t", metadata, sa.Column("a", sa.Integer), schema="main", sqlmed_server="s")
    metadata.create_all(engine)
    assert [t[0] for t in raw_catalog(engine.url.database)["tables"]] == ["t"]
    metadata.drop_all(engine)
    assert raw_catalog(engine.url.database)["tables"] == []
