"""sqlalchemy_fdw against another SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import os

import apsw
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings

import vtables
from tests.pgserver import PostgresServer, registering
from tests.vtables.wrappers.test_sqlite_fdw import ROWS, query, write_remote
from vtables.wrappers.sqlalchemy_fdw import SqlalchemyFdw

COLUMNS_SQL = "id integer NOT NULL, grp text, val real, name text, flag integer NOT NULL"
PG_SCHEMA = """
CREATE TABLE items(id integer PRIMARY KEY, grp text, val double precision, name text,
                   flag integer NOT NULL DEFAULT 0);
CREATE VIEW even_items AS SELECT id, name FROM items WHERE id % 2 = 0;
CREATE TABLE other(k text PRIMARY KEY, at timestamptz, amount numeric(10,2) DEFAULT 1.5);
"""


ODD_SCHEMA = "CREATE TABLE odd(id integer PRIMARY KEY, n integer, c char(4), ci citext, t text)"
ODD_ROWS = [
    (1, 2, "a", "Ann", "1"),
    (2, 1, "zz", "ann", "1.0"),
    (3, None, None, None, None),
    (4, -7, "b", "bob", "x"),
]
ODD_COLUMNS = "id integer NOT NULL, n integer, c text, ci text, t text"
TRICKY = [
    "SELECT id FROM {t} WHERE n IN (1.5, 7) ORDER BY id",
    "SELECT id FROM {t} WHERE n = 3000000000 OR n < 3000000000 ORDER BY id",
    "SELECT id FROM {t} WHERE n > 1.5 ORDER BY id",
    "SELECT id FROM {t} WHERE n IS '2.0' ORDER BY id",
    "SELECT id FROM {t} WHERE n IS NOT 'x' ORDER BY id",
    "SELECT id FROM {t} WHERE t IS 1.0 ORDER BY id",
    "SELECT id FROM {t} WHERE t IN (1, 1.0, 'x') ORDER BY id",
    "SELECT id FROM {t} WHERE n = '1_000' OR n < 'nan' ORDER BY id",
    "SELECT id FROM {t} WHERE n = '99999999999999999999' ORDER BY id",
    "SELECT id FROM {t} WHERE c = 'a' ORDER BY id",
    "SELECT id FROM {t} WHERE c IN ('a', 'zz') ORDER BY id",
    "SELECT id FROM {t} WHERE ci = 'ann' ORDER BY id",
    "SELECT id FROM {t} WHERE ci < 'B' ORDER BY id",
    "SELECT id FROM {t} ORDER BY id LIMIT 2 OFFSET -1",
]


_installed = registering(SqlalchemyFdw)


@pytest.fixture(scope="module")
def pg():
    server = PostgresServer()
    try:
        server.psql("CREATE ROLE app LOGIN PASSWORD 'pw-s3cret'")
        server.psql("CREATE DATABASE shop OWNER app")
        # the application role must give its password (everyone else is trusted)
        hba = os.path.join(server.data, "pg_hba.conf")
        with open(hba) as f:
            rules = f.read()
        with open(hba, "w") as f:
            f.write("host all app 127.0.0.1/32 scram-sha-256\n" + rules)
        server.psql("SELECT pg_reload_conf()")
        server.psql("CREATE EXTENSION citext", dbname="shop")
        with psycopg.connect(dsn(server, "app", "pw-s3cret")) as c:
            c.execute(PG_SCHEMA)
            c.execute(ODD_SCHEMA)
            with c.cursor() as cur:
                cur.executemany("INSERT INTO odd VALUES (%s, %s, %s, %s, %s)", ODD_ROWS)
            with c.cursor() as cur:
                cur.executemany("INSERT INTO items VALUES (%s, %s, %s, %s, %s)", ROWS)
        yield server
    finally:
        server.stop()


def dsn(server: PostgresServer, user: str, password: str) -> str:
    return f"host=127.0.0.1 port={server.port} dbname=shop user={user} password={password}"


def pg_rows(server, sql="SELECT * FROM items ORDER BY id") -> list[tuple]:
    with psycopg.connect(dsn(server, "app", "pw-s3cret")) as c:
        return [tuple(r) for r in c.execute(sql).fetchall()]


@pytest.fixture
def remote_path(tmp_path):
    return write_remote(tmp_path)


def local(tmp_path, name: str = "local.db") -> vtables.Connection:
    conn = vtables.connect(str(tmp_path / name), user="alice")
    conn.execute(f"""
        CREATE EXTENSION sqlalchemy_fdw;
        CREATE TABLE local_items ({COLUMNS_SQL});
        CREATE TABLE tags (id integer PRIMARY KEY, tag text);
    """)
    conn.executemany("INSERT INTO local_items VALUES (?, ?, ?, ?, ?)", ROWS)
    conn.executemany("INSERT INTO tags VALUES (?, ?)", [(i, f"t{i % 3}") for i in range(0, 70, 4)])
    return conn


@pytest.fixture
def lite(tmp_path, remote_path):
    conn = local(tmp_path)
    conn.execute(f"""
        CREATE SERVER other FOREIGN DATA WRAPPER sqlalchemy_fdw OPTIONS (url 'sqlite:///remote.db');
        CREATE FOREIGN TABLE items ({COLUMNS_SQL}) SERVER other;
    """)
    yield conn
    conn.close()


@pytest.fixture
def pgconn(tmp_path, pg):
    conn = local(tmp_path, "local-pg.db")
    url = f"postgresql+psycopg://127.0.0.1:{pg.port}/shop"
    conn.execute(f"""
        CREATE SERVER shop FOREIGN DATA WRAPPER sqlalchemy_fdw OPTIONS (url '{url}');
        CREATE USER MAPPING FOR alice SERVER shop OPTIONS (user 'app', password 'pw-s3cret');
        CREATE FOREIGN TABLE items ({COLUMNS_SQL}) SERVER shop OPTIONS (schema 'public');
    """)
    yield conn
    conn.close()
    with psycopg.connect(dsn(pg, "app", "pw-s3cret")) as c:  # undo what a test wrote
        c.execute("DELETE FROM items")
        with c.cursor() as cur:
            cur.executemany("INSERT INTO items VALUES (%s, %s, %s, %s, %s)", ROWS)


def sqlite_rows(path) -> list[tuple]:
    db = apsw.Connection(path)
    try:
        return db.execute("SELECT * FROM items ORDER BY id").fetchall()
    finally:
        db.close()


# -------------------------------------------------------------------- reads


def test_pushdown_is_core_sql_compiled_for_the_remote(lite, pgconn):
    q = "SELECT id, val FROM items WHERE id IN (3, 5, 70) AND val > 1 ORDER BY id LIMIT 2"
    want = [(3, 2.25), (5, 3.75)]
    assert lite.execute(q).fetchall() == want
    assert pgconn.execute(q).fetchall() == want
    from vtables import foreign_scans

    [scan] = foreign_scans(pgconn, q)
    assert "WHERE public.items.id IN (" in scan.request
    assert "public.items.val > " in scan.request
    assert "ORDER BY public.items.id ASC NULLS FIRST LIMIT " in scan.request
    assert "postgresql+psycopg://127.0.0.1" in scan.request and "pw-s3cret" not in scan.request


def test_text_order_and_equality_follow_sqlite(lite, pgconn):
    for conn in (lite, pgconn):
        got = conn.execute("SELECT name FROM items WHERE name IS NOT NULL ORDER BY name, id")
        want = conn.execute("SELECT name FROM local_items WHERE name IS NOT NULL ORDER BY name, id")
        assert got.fetchall() == want.fetchall()
        assert conn.execute("SELECT count(*) FROM items WHERE name = 'ann'").fetchall() == [(8,)]
        assert conn.execute("SELECT count(*) FROM items WHERE name > 'a'").fetchall() == (
            conn.execute("SELECT count(*) FROM local_items WHERE name > 'a'").fetchall()
        )
    # mixed-type comparisons keep SQLite's answers on PostgreSQL's typed columns
    for sql in (
        "SELECT count(*) FROM {t} WHERE id < 'abc'",
        "SELECT count(*) FROM {t} WHERE id = '7'",
        "SELECT count(*) FROM {t} WHERE name > 5",
        "SELECT id FROM {t} WHERE val IN (0.0, 1.5) ORDER BY id",  # 0.0 arrives as 0
        "SELECT id FROM {t} WHERE id IN ('3', 4.0, 'x', x'05') ORDER BY id",
    ):
        assert (
            pgconn.execute(sql.format(t="items")).fetchall()
            == pgconn.execute(sql.format(t="local_items")).fetchall()
        ), sql


@pytest.mark.parametrize("backend", ["lite", "pgconn"])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=query())
def test_differential_against_a_native_copy(request, backend, q):
    conn = request.getfixturevalue(backend)
    sql, params = q
    got = conn.execute(sql.format(table="items"), params).fetchall()
    want = conn.execute(sql.format(table="local_items"), params).fetchall()
    assert got == want, sql


# ------------------------------------------------------------------- writes


@pytest.mark.parametrize("backend", ["lite", "pgconn"])
def test_writes_rollback_and_savepoints(request, backend, pg, remote_path):
    conn = request.getfixturevalue(backend)
    postgres = backend == "pgconn"

    def rows():
        return pg_rows(pg) if postgres else sqlite_rows(remote_path)

    conn.execute("INSERT INTO items VALUES (100, 'z', 1.5, 'new', 1)")
    conn.execute("UPDATE items SET val = 9.25 WHERE id = 3")
    conn.execute("DELETE FROM items WHERE grp = 'b'")
    found = rows()
    assert (100, "z", 1.5, "new", 1) in found and (3, None, 9.25, "cy", 1) in found
    assert not any(r[1] == "b" for r in found)
    conn.execute("BEGIN; INSERT INTO items VALUES (200, 'q', NULL, NULL, 0); SAVEPOINT sp;")
    conn.execute("INSERT INTO items VALUES (201, 'q', NULL, NULL, 0)")
    conn.execute("ROLLBACK TO sp; RELEASE sp; COMMIT")
    ids = {r[0] for r in rows()}
    assert 200 in ids and 201 not in ids
    before = rows()
    if not postgres:
        conn.execute(
            "BEGIN; DELETE FROM items WHERE id < 10;"
            " INSERT INTO items VALUES (300, 'q', NULL, NULL, 0)"
        )
        conn.execute("ROLLBACK")
        assert rows() == before
        return
    conn.execute("BEGIN; DELETE FROM items WHERE id < 10; UPDATE items SET grp = 'w'")
    assert rows() == before  # not visible outside the open remote transaction
    conn.execute("ROLLBACK")
    assert rows() == before
    with pytest.raises(vtables.WrapperError, match='foreign table "items".*duplicate key'):
        conn.execute("INSERT INTO items VALUES (2, 'dup', NULL, NULL, 0)")
    assert rows() == before


def test_updatable_false(lite, remote_path):
    lite.execute("ALTER FOREIGN TABLE items OPTIONS (ADD updatable 'false')")
    with pytest.raises(vtables.FeatureNotSupportedError, match="does not allow deletes"):
        lite.execute("DELETE FROM items")
    assert len(sqlite_rows(remote_path)) == len(ROWS)


# ------------------------------------------------------------- import, errors


def test_import_foreign_schema(tmp_path, pg):
    conn = local(tmp_path)
    url = f"postgresql+psycopg://127.0.0.1:{pg.port}/shop"
    conn.execute(f"""
        CREATE SERVER shop FOREIGN DATA WRAPPER sqlalchemy_fdw OPTIONS (url '{url}');
        CREATE USER MAPPING FOR CURRENT_USER SERVER shop
            OPTIONS (user 'app', password 'pw-s3cret');
        IMPORT FOREIGN SCHEMA public EXCEPT (items, odd) FROM SERVER shop INTO main
            OPTIONS (import_default 'true');
    """)
    cols = conn.execute(
        "SELECT table_name, column_name, data_type, is_nullable, column_default "
        "FROM sqlmed_foreign_table_columns ORDER BY table_name, ordinal_position"
    ).fetchall()
    assert cols == [
        ("even_items", "id", "integer", "YES", None),
        ("even_items", "name", "text", "YES", None),
        ("other", "k", "text", "NO", None),
        ("other", "at", "timestamptz", "YES", None),
        ("other", "amount", "numeric(10, 2)", "YES", "1.5"),
    ]
    assert conn.execute("SELECT count(*) FROM even_items").fetchall() == [(30,)]


def test_sqlite_import_and_errors(tmp_path, remote_path):
    conn = local(tmp_path)
    conn.execute("""
        CREATE SERVER other FOREIGN DATA WRAPPER sqlalchemy_fdw OPTIONS (url 'sqlite:///remote.db');
        IMPORT FOREIGN SCHEMA main LIMIT TO (items, "Odd Name") FROM SERVER other INTO main;
    """)
    names = conn.execute("SELECT foreign_table_name FROM sqlmed_foreign_tables ORDER BY 1")
    assert names.fetchall() == [("Odd Name",), ("items",)]
    assert conn.execute("SELECT count(*), sum(id) FROM items").fetchall() == [(60, 1830)]
    with pytest.raises(vtables.InvalidOptionError, match="must not hold a password"):
        conn.execute(
            "CREATE SERVER bad FOREIGN DATA WRAPPER sqlalchemy_fdw "
            "OPTIONS (url 'postgresql://u:hunter2@h/db')"
        )
    conn.execute(f"CREATE FOREIGN TABLE nowhere ({COLUMNS_SQL}) SERVER other")
    with pytest.raises(vtables.UndefinedObjectError, match='remote table "nowhere".*does not'):
        conn.execute("SELECT * FROM nowhere")


def test_bad_credentials_and_dead_server_name_the_server(tmp_path, pg):
    conn = local(tmp_path)
    url = f"postgresql+psycopg://127.0.0.1:{pg.port}/shop"
    conn.execute(f"""
        CREATE SERVER shop FOREIGN DATA WRAPPER sqlalchemy_fdw OPTIONS (url '{url}');
        CREATE USER MAPPING FOR alice SERVER shop OPTIONS (user 'app', password 'wrong-pw-42');
        CREATE FOREIGN TABLE items ({COLUMNS_SQL}) SERVER shop;
        CREATE SERVER gone FOREIGN DATA WRAPPER sqlalchemy_fdw
            OPTIONS (url 'postgresql+psycopg://127.0.0.1:1/shop');
        CREATE USER MAPPING FOR alice SERVER gone OPTIONS (user 'app', password 'pw-s3cret');
        CREATE FOREIGN TABLE gone_items ({COLUMNS_SQL}) SERVER gone OPTIONS (table 'items');
    """)
    with pytest.raises(vtables.WrapperError, match='server "shop": cannot connect') as failure:
        conn.execute("SELECT * FROM items")
    assert "wrong-pw-42" not in str(failure.value)
    with pytest.raises(vtables.WrapperError, match='server "gone": cannot connect') as failure:
        conn.execute("SELECT * FROM gone_items")
    assert "pw-s3cret" not in str(failure.value)
    assert conn.execute("SELECT count(*) FROM local_items").fetchall() == [(60,)]


def test_tricky_values_get_sqlite_answers_on_postgresql(pgconn, pg):
    pgconn.execute(f"""
        CREATE FOREIGN TABLE odd ({ODD_COLUMNS}) SERVER shop;
        CREATE TABLE odd_local ({ODD_COLUMNS});
    """)
    # the same data as the foreign table shows it (char(4) values come blank-padded)
    copy = pgconn.execute("SELECT * FROM odd").fetchall()
    assert ("a   ", "Ann") in [(r[2], r[3]) for r in copy]
    pgconn.executemany("INSERT INTO odd_local VALUES (?, ?, ?, ?, ?)", copy)
    for sql in TRICKY:
        got = pgconn.execute(sql.format(t="odd")).fetchall()
        assert got == pgconn.execute(sql.format(t="odd_local")).fetchall(), sql


def test_tricky_values_get_sqlite_answers_on_sqlite(lite, remote_path):
    db = apsw.Connection(remote_path)
    db.execute(ODD_SCHEMA.replace("citext", "text"))
    db.executemany("INSERT INTO odd VALUES (?, ?, ?, ?, ?)", ODD_ROWS)
    db.close()
    lite.execute(f"""
        CREATE FOREIGN TABLE odd ({ODD_COLUMNS}) SERVER other;
        CREATE TABLE odd_local ({ODD_COLUMNS});
    """)
    lite.executemany("INSERT INTO odd_local VALUES (?, ?, ?, ?, ?)", ODD_ROWS)
    for sql in TRICKY:
        got = lite.execute(sql.format(t="odd")).fetchall()
        assert got == lite.execute(sql.format(t="odd_local")).fetchall(), sql


@pytest.mark.parametrize("backend", ["lite", "pgconn"])
def test_or_ignore_and_or_replace_in_the_remotes_dialect(request, backend, pg, remote_path):
    # issue 13 item 2: OR IGNORE / ON CONFLICT DO NOTHING and OR REPLACE reach the
    # remote as its own dialect says them (SQLite OR IGNORE / OR REPLACE,
    # PostgreSQL ON CONFLICT DO NOTHING / DO UPDATE on the primary key)
    conn = request.getfixturevalue(backend)

    def rows():
        if backend == "lite":
            return {r[0]: r for r in sqlite_rows(remote_path)}
        return {r[0]: r for r in pg_rows(pg)}

    before = rows()
    conn.execute(
        "INSERT OR IGNORE INTO items VALUES (2, 'dup', NULL, 'x', 0), (500, 'n', NULL, 'y', 0)"
    )
    conn.execute("INSERT INTO items VALUES (2, 'dup', NULL, 'x', 0) ON CONFLICT DO NOTHING")
    after = rows()
    assert after[2] == before[2] and after[500] == (500, "n", None, "y", 0)
    conn.execute("INSERT OR REPLACE INTO items VALUES (2, 'rep', 2.5, 'r', 1)")
    assert rows()[2] == (2, "rep", 2.5, "r", 1)
    with pytest.raises(vtables.WrapperError):
        conn.execute("INSERT INTO items VALUES (2, 'dup', NULL, NULL, 0)")
