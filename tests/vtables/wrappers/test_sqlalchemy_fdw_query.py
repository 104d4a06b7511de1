"""sqlmed_query(server, query) through sqlalchemy_fdw: the query runs as
written where it cannot write (PostgreSQL: a read-only savepoint; SQLite:
PRAGMA query_only; DuckDB: a database opened read-only, else refused), its
columns typed as IMPORT FOREIGN SCHEMA would type them.  Against a SQLite
file, the fixtures' real PostgreSQL (never skipped) and DuckDB files."""

from __future__ import annotations

import apsw
import duckdb
import psycopg
import pytest

import vtables
from tests.pgserver import registering, remote
from tests.vtables.statements import test_escape as escape
from vtables.wrappers.sqlalchemy_fdw import SqlalchemyFdw

PASSWORD = escape.PASSWORD
ROWS = [(1, "a", 10), (2, "b", 20), (3, "c", 30)]
REMOTES = ["sqlite", "postgres", "duckdb"]
#: the types the result's columns are declared with (IMPORT's for a column)
DECLARED = {
    "sqlite": ("integer", "text", ""),
    "postgres": ("integer", "text", "bigint"),
    "duckdb": ("integer", "varchar", "bigint"),
}

_registered = registering(SqlalchemyFdw)


# PostgreSQL: the server of sqlmed_query's tests (database esc), a server of this module's
pg = escape.pg


def _duckdb_file(path) -> str:
    db = duckdb.connect(str(path))
    db.execute("CREATE TABLE m (id integer PRIMARY KEY, name varchar, v bigint)")
    db.executemany("INSERT INTO m VALUES (?, ?, ?)", ROWS)
    db.close()
    return str(path)


def _server(kind: str, pg, tmp_path) -> str:
    """Server ``s`` over a fresh table m holding ROWS; on DuckDB, opened read-only."""
    mapping = ""
    if kind == "sqlite":
        db = apsw.Connection(str(tmp_path / "remote.db"))
        db.execute("CREATE TABLE m (id integer PRIMARY KEY, name text, v)")
        db.executemany("INSERT INTO m VALUES (?, ?, ?)", ROWS)
        db.close()
        url = f"sqlite:///{tmp_path / 'remote.db'}"
    elif kind == "duckdb":
        url = f"duckdb:///{_duckdb_file(tmp_path / 'ro.duckdb')}?access_mode=read_only"
    else:
        remote(
            pg,
            "DROP TABLE IF EXISTS m; DROP SEQUENCE IF EXISTS sq; CREATE SEQUENCE sq;"
            "CREATE TABLE m (id integer PRIMARY KEY, name text, v bigint)",
        )
        with psycopg.connect(pg.dsn, autocommit=True) as c:
            c.cursor().executemany("INSERT INTO m VALUES (%s, %s, %s)", ROWS)
        url = f"postgresql+psycopg://{pg.host}:{pg.port}/esc"
        mapping = (
            "CREATE USER MAPPING FOR CURRENT_USER SERVER s"
            f" OPTIONS (user 'fdw', password '{PASSWORD}');"
        )
    return f"CREATE SERVER s FOREIGN DATA WRAPPER sqlalchemy_fdw OPTIONS (url '{url}');{mapping}"


@pytest.fixture(params=REMOTES)
def conn(request, tmp_path, pg):
    conn = vtables.connect(str(tmp_path / "local.db"))
    conn.execute(f"""
        CREATE EXTENSION sqlalchemy_fdw;
        {_server(request.param, pg, tmp_path)}
        CREATE FOREIGN TABLE m (id integer, name text, v integer) SERVER s;
    """)
    conn.kind = request.param  # type: ignore[attr-defined]
    yield conn
    conn.close()


def _query(conn, text: str) -> list:
    quoted = text.replace("'", "''")
    return conn.execute(f"SELECT * FROM sqlmed_query('s', '{quoted}')").fetchall()


def _count(conn) -> list:
    return _query(conn, "SELECT count(*), sum(v) FROM m")


def test_a_query_runs_as_written(conn):
    text = "SELECT id, name, v * 2 AS w FROM m WHERE name LIKE '%b%' OR id = 3 ORDER BY id"
    assert _query(conn, text) == [(2, "b", 40), (3, "c", 60)]
    sql = "SELECT * FROM sqlmed_query('s', 'SELECT id, name, v FROM m')"
    described = [
        (name, (decltype or "").lower()) for name, decltype in conn.execute(sql).get_description()
    ]
    assert described == list(zip(("id", "name", "v"), DECLARED[conn.kind], strict=True))
    assert 'Remote Query on server "s"' in conn.explain(sql)
    # a trailing semicolon is no second statement
    assert _query(conn, "SELECT count(*) AS n FROM m;  ") == [(3,)]


WRITES = {
    "sqlite": ["DELETE FROM m RETURNING id", "UPDATE m SET v = 0 RETURNING id"],
    "postgres": ["DELETE FROM m RETURNING id", "SELECT nextval('sq')"],
    "duckdb": ["DELETE FROM m RETURNING id", "UPDATE m SET v = 0 RETURNING id"],
}


def test_a_writing_query_is_refused_and_changes_nothing(conn):
    for text in WRITES[conn.kind]:
        with pytest.raises(vtables.WrapperError, match='sqlmed_query on server "s"'):
            _query(conn, text)
    assert _count(conn) == [(3, 60)]
    if conn.kind == "postgres":  # the sequence did not move
        assert _query(conn, "SELECT last_value, is_called FROM sq") == [(1, False)]


def test_a_second_statement_is_refused(conn):
    texts = (
        "SELECT 1; DELETE FROM m",
        # closes the subquery that describes it, ends the read-only transaction
        "SELECT 1) AS q; COMMIT; DELETE FROM m; SELECT * FROM (SELECT 1",
    )
    for text in texts:
        with pytest.raises(vtables.WrapperError, match="one statement"):
            _query(conn, text)
    assert _count(conn) == [(3, 60)]


@pytest.mark.parametrize("conn", ["sqlite", "postgres"], indirect=True)
def test_inside_a_transaction_it_reads_the_transactions_writes(conn, pg, tmp_path):
    conn.execute("BEGIN")
    conn.execute("UPDATE m SET v = 0 WHERE id = 2")  # the remote transaction is open
    with pytest.raises(vtables.WrapperError, match='sqlmed_query on server "s"'):
        _query(conn, "DELETE FROM m RETURNING id")
    assert _query(conn, "SELECT v FROM m WHERE id = 2") == [(0,)]
    conn.execute("UPDATE m SET v = 5 WHERE id = 3")  # the transaction goes on
    conn.execute("COMMIT")
    if conn.kind == "postgres":
        assert remote(pg, "SELECT id, v FROM m ORDER BY id") == [(1, 10), (2, 0), (3, 5)]
    else:
        db = apsw.Connection(str(tmp_path / "remote.db"))
        assert db.execute("SELECT id, v FROM m ORDER BY id").fetchall() == [
            (1, 10),
            (2, 0),
            (3, 5),
        ]


def test_duckdb_opened_for_writing_refuses_it(tmp_path):
    path = _duckdb_file(tmp_path / "rw.duckdb")
    conn = vtables.connect(str(tmp_path / "local.db"))
    conn.execute(f"""
        CREATE EXTENSION sqlalchemy_fdw;
        CREATE SERVER s FOREIGN DATA WRAPPER sqlalchemy_fdw OPTIONS (url 'duckdb:///{path}');
        CREATE FOREIGN TABLE m (id integer, name text, v integer) SERVER s;
    """)
    try:
        for text in ("SELECT count(*) FROM m", "DELETE FROM m RETURNING id"):
            with pytest.raises(vtables.FeatureNotSupportedError, match='server "s".*read-only'):
                _query(conn, text)
        # the foreign table still reads and writes
        conn.execute("DELETE FROM m WHERE id = 1")
        assert conn.execute("SELECT count(*) FROM m").fetchall() == [(2,)]
    finally:
        conn.close()
