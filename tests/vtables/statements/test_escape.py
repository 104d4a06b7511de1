"""sqlmed_query(server, query): a query the user wrote, run on a server as it
is, read-only, and only from statements a program runs."""

from __future__ import annotations

import apsw
import psycopg
import pytest

import vtables
from tests.pgserver import foreign_server, owned_database, registering, remote, serving
from vtables.wrappers import postgres_fdw
from vtables.wrappers.postgres_fdw import PostgresFdw

PASSWORD = "escape-Pw1"

_registered = registering(PostgresFdw)


@pytest.fixture
def lite(tmp_path):
    db = apsw.Connection(str(tmp_path / "remote.db"))
    db.execute(
        "CREATE TABLE t(id integer, name text); INSERT INTO t VALUES (1,'a'),(2,'b'),(3,'c')"
    )
    db.close()
    conn = vtables.connect(str(tmp_path / "local.db"))
    conn.execute("""
        CREATE EXTENSION sqlite_fdw;
        CREATE SERVER s FOREIGN DATA WRAPPER sqlite_fdw OPTIONS (database 'remote.db');
        CREATE EXTENSION file_fdw;
        CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
    """)
    yield conn
    conn.close()


def test_a_query_runs_as_written(lite):
    sql = (
        "SELECT q.n, x FROM sqlmed_query('s', 'SELECT count(*) AS n,"
        " group_concat(name, ''-'') AS x FROM t') q"
    )
    assert lite.execute(sql).fetchall() == [(3, "a-b-c")]
    text = lite.explain(sql)
    assert text.startswith('Remote Query on server "s"') and "(sqlmed_query)" in text
    assert "group_concat(name, '-')" in text
    rows = lite.execute(
        "SELECT * FROM sqlmed_query('s', 'SELECT id, name FROM t WHERE id > 1') WHERE id < ?",
        (3,),
    ).fetchall()
    assert rows == [(2, "b")]


def test_columns_keep_their_declared_types(lite):
    cursor = lite.execute("SELECT * FROM sqlmed_query('s', 'SELECT id, name FROM t')")
    assert cursor.get_description() == (("id", "INTEGER"), ("name", "TEXT"))


def test_the_query_cannot_write(lite, tmp_path):
    with pytest.raises(vtables.WrapperError, match="readonly"):
        lite.execute("SELECT * FROM sqlmed_query('s', 'DELETE FROM t RETURNING id')").fetchall()
    assert apsw.Connection(str(tmp_path / "remote.db")).execute(
        "SELECT count(*) FROM t"
    ).fetchall() == [(3,)]


def test_errors_name_the_server(lite):
    with pytest.raises(vtables.UndefinedObjectError, match='server "nope" does not exist'):
        lite.execute("SELECT * FROM sqlmed_query('nope', 'SELECT 1')").fetchall()
    with pytest.raises(vtables.FeatureNotSupportedError, match='server "files"'):
        lite.execute("SELECT * FROM sqlmed_query('files', 'SELECT 1')").fetchall()


def test_a_view_in_the_file_cannot_call_it(lite):
    lite.execute("CREATE VIEW v AS SELECT * FROM sqlmed_query('s', 'SELECT 1')")
    with pytest.raises(apsw.SQLError, match="no such table"):
        lite.execute("SELECT * FROM v").fetchall()


def _prepare(server) -> None:
    with psycopg.connect(owned_database(server, "esc", PASSWORD), autocommit=True) as c:
        c.execute(
            "CREATE TABLE m (id int PRIMARY KEY, v numeric, d date);"
            "INSERT INTO m SELECT g, g * 1.5, date '2024-01-01' + g FROM generate_series(1, 9) g"
        )


@pytest.fixture(scope="module")
def pg():
    yield from serving(_prepare)


@pytest.fixture
def conn(tmp_path, pg):
    conn = vtables.connect(str(tmp_path / "pg.db"))
    conn.execute(foreign_server(pg, "esc", PASSWORD, "shop"))
    conn.execute("CREATE FOREIGN TABLE m (id integer, v numeric, d date) SERVER shop")
    yield conn
    postgres_fdw.disconnect_all(conn)
    conn.close()


def test_postgresql_functions_sqlmed_cannot_translate(conn):
    sql = (
        "SELECT * FROM sqlmed_query('shop', 'SELECT percentile_cont(0.5) WITHIN GROUP"
        " (ORDER BY id) AS median, max(d) AS last, sum(v) AS total FROM m')"
    )
    cursor = conn.execute(sql)
    assert [d[1] for d in cursor.get_description()] == ["double precision", "date", "numeric"]
    assert cursor.fetchall() == [(5.0, "2024-01-10", 67.5)]


def test_postgresql_runs_it_read_only_inside_and_outside_a_transaction(conn, pg):
    write = "SELECT * FROM sqlmed_query('shop', 'DELETE FROM m WHERE id = 1 RETURNING id')"
    with pytest.raises(vtables.WrapperError, match="read-only transaction"):
        conn.execute(write).fetchall()
    conn.execute("BEGIN")
    conn.execute("UPDATE m SET v = 0 WHERE id = 2")  # the remote transaction is open
    with pytest.raises(vtables.WrapperError, match="read-only transaction"):
        conn.execute(write).fetchall()
    # the transaction goes on, and sees its own write
    got = conn.execute("SELECT * FROM sqlmed_query('shop', 'SELECT v FROM m WHERE id = 2')")
    assert got.fetchall() == [(0,)]
    conn.execute("COMMIT")
    assert remote(pg, "SELECT count(*), sum(v) FROM m") == [(9, 64.5)]


def test_it_works_with_statement_pushdown_off(lite):
    lite.statement_pushdown = False
    assert lite.execute("SELECT * FROM sqlmed_query('s', 'SELECT max(id) FROM t')").fetchall() == [
        (3,)
    ]


def test_only_a_from_list_item_is_a_call(lite):
    with pytest.raises(apsw.SQLError, match="no such function"):
        lite.execute("SELECT 1, sqlmed_query('s', 'SELECT 1')").fetchall()
    rows = lite.execute(
        "SELECT x.n FROM (SELECT 1 AS one), sqlmed_query('s', 'SELECT count(*) AS n FROM t') x"
    ).fetchall()
    assert rows == [(3,)]


def test_a_second_statement_cannot_write(conn, pg, lite, tmp_path):
    texts = ("SELECT 1; DELETE FROM {t}", "SELECT 1; COMMIT; DELETE FROM {t}")
    for db, server, table in ((conn, "shop", "m"), (lite, "s", "t")):
        for text in texts:
            with pytest.raises(vtables.WrapperError):
                db.execute(f"SELECT * FROM sqlmed_query('{server}', '{text.format(t=table)}')")
    assert remote(pg, "SELECT count(*) FROM m") == [(9,)]
    assert apsw.Connection(str(tmp_path / "remote.db")).execute(
        "SELECT count(*) FROM t"
    ).fetchall() == [(3,)]
