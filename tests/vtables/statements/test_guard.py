"""Guarded pushed queries: a block the remote may stop with an overflow where
SQLite goes on (``Pushed.guarded``) gives SQLite's answer through the
fallback, and the remote's error leaves its transaction usable: the same
transaction goes on reading and writing the server's foreign tables.  Against
the fixtures' real PostgreSQL (postgres_fdw, and sqlalchemy_fdw with psycopg)
and DuckDB through sqlalchemy_fdw; sums past 64 bits on a SQLite remote."""

from __future__ import annotations

import itertools

import apsw
import duckdb
import psycopg
import pytest
from sqlglot import exp

import vtables
from tests.pgserver import registering, remote
from tests.vtables.statements import test_escape as escape
from tests.vtables.statements.test_review import _env, same
from vtables.statements import cursor
from vtables.statements.blocks import Output, Pushed, column_decoder
from vtables.statements.query import QueryModule
from vtables.statements.translate import Param
from vtables.wrappers import postgres_fdw
from vtables.wrappers.postgres_fdw import PostgresFdw
from vtables.wrappers.sqlalchemy_fdw import SqlalchemyFdw

PASSWORD = escape.PASSWORD
INT64_MAX = 2**63 - 1
ROWS = [(1, 1), (2, -5)]
#: what SQLite computes over ROWS: x + INT64_MAX, in floating point past 64 bits
FALLBACK = "SELECT x + 9223372036854775807 FROM t"
#: the remote query, as each remote spells the parameter
TEXTS = {
    "postgres_fdw": 'SELECT "x" + %(p0)s FROM "t"',
    "sqlalchemy_pg": 'SELECT "x" + %(p0)s FROM "t"',
    "duckdb": 'SELECT "x" + $p0 FROM "t"',
}
_names = itertools.count()

_pg_registered = registering(PostgresFdw)
_sa_registered = registering(SqlalchemyFdw)


# PostgreSQL: the server of sqlmed_query's tests (database esc), a server of this module's
pg = escape.pg


def _server(kind: str, pg, tmp_path) -> str:
    """The statements that make server ``s`` with a fresh table t holding ROWS."""
    if kind == "duckdb":
        path = tmp_path / "remote.duckdb"
        db = duckdb.connect(str(path))
        db.execute("CREATE TABLE t (id bigint PRIMARY KEY, x bigint)")
        db.executemany("INSERT INTO t VALUES (?, ?)", ROWS)
        db.close()
        return (
            f"CREATE SERVER s FOREIGN DATA WRAPPER sqlalchemy_fdw OPTIONS (url 'duckdb:///{path}');"
        )
    remote(pg, "DROP TABLE IF EXISTS t; CREATE TABLE t (id int8 PRIMARY KEY, x int8)")
    with psycopg.connect(pg.dsn, autocommit=True) as c:
        c.cursor().executemany("INSERT INTO t VALUES (%s, %s)", ROWS)
    mapping = f"OPTIONS (user 'fdw', password '{PASSWORD}')"
    if kind == "postgres_fdw":
        options = f"host '{pg.host}', port '{pg.port}', dbname 'esc'"
        server = f"CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS ({options});"
    else:
        url = f"postgresql+psycopg://{pg.host}:{pg.port}/esc"
        server = f"CREATE SERVER s FOREIGN DATA WRAPPER sqlalchemy_fdw OPTIONS (url '{url}');"
    return server + f"CREATE USER MAPPING FOR CURRENT_USER SERVER s {mapping};"


@pytest.fixture(params=["postgres_fdw", "sqlalchemy_pg", "duckdb"])
def env(request, tmp_path, pg):
    kind = request.param
    conn = vtables.connect(str(tmp_path / "local.db"))
    wrapper = "postgres_fdw" if kind == "postgres_fdw" else "sqlalchemy_fdw"
    conn.execute(f"""
        CREATE EXTENSION {wrapper};
        {_server(kind, pg, tmp_path)}
        CREATE FOREIGN TABLE t (id integer, x integer) SERVER s;
    """)
    yield kind, conn
    postgres_fdw.disconnect_all(conn)
    conn.close()


def _native(extra=()) -> list:
    native = apsw.Connection(":memory:")
    native.execute("CREATE TABLE t (id integer, x integer)")
    native.executemany("INSERT INTO t VALUES (?, ?)", [*ROWS, *extra])
    return sorted(native.execute(FALLBACK).fetchall())


def _block(kind: str, conn, value: int = INT64_MAX, guarded: bool = True):
    """A pushed block ``x + value`` over t, as the planner builds one: the
    table-valued function's name, and its module."""
    remote_sql = conn.session.wrapper_for("t")[0].remote_sql()
    pushed = Pushed(
        remote_sql,
        exp.Select(),
        [Param(value=value, family="integer")],
        [Output("c", "INTEGER", (0,), column_decoder("INTEGER"))],
        ["t"],
        TEXTS[kind],
        guarded=guarded,
    )
    fallback = FALLBACK if value == INT64_MAX else f"SELECT x + {int(value)} FROM t"
    module = QueryModule(conn.session, pushed, 0, fallback)
    name = f"sqlmed_test_guard{next(_names)}"
    cursor.register(conn.session.db, name, module)
    return name, module


def _read(conn, name: str) -> list:
    return sorted(conn.execute(f"SELECT * FROM {name}()").fetchall())


def test_an_overflow_gives_sqlites_answer(env):
    kind, conn = env
    name, module = _block(kind, conn)
    assert _read(conn, name) == _native()
    assert (module.runs, module.fallbacks) == (1, 1)
    assert isinstance(_read(conn, name)[1][0], float)  # SQLite went on in floating point


def test_a_guarded_query_that_does_not_overflow_runs_remotely(env):
    kind, conn = env
    name, module = _block(kind, conn, value=10)
    assert _read(conn, name) == [(5,), (11,)]
    assert (module.runs, module.fallbacks) == (1, 0)


@pytest.mark.parametrize("write_first", [True, False], ids=["after-a-write", "before-writes"])
def test_the_transaction_goes_on_after_an_overflow(env, pg, write_first):
    kind, conn = env
    name, module = _block(kind, conn)
    conn.execute("BEGIN")
    if write_first:  # the remote transaction is open when the query fails
        conn.execute("INSERT INTO t VALUES (3, 7)")
    expected = _native([(3, 7)] if write_first else [])
    assert _read(conn, name) == expected
    assert module.fallbacks == 1
    conn.execute("INSERT INTO t VALUES (4, 8)")
    assert conn.execute("SELECT count(*) FROM t WHERE id >= 3").fetchall() == [(1 + write_first,)]
    conn.execute("COMMIT")
    ids = [1, 2, 3, 4] if write_first else [1, 2, 4]
    assert [r[0] for r in conn.execute("SELECT id FROM t ORDER BY id")] == ids
    if kind != "duckdb":
        assert [r[0] for r in remote(pg, "SELECT id FROM t ORDER BY id")] == ids


def test_an_overflow_in_a_query_not_guarded_names_the_server(env):
    kind, conn = env
    name, module = _block(kind, conn, guarded=False)
    with pytest.raises(vtables.WrapperError, match=r'server "s".*(out of range|Overflow)'):
        _read(conn, name)
    assert module.fallbacks == 0


# ------------------------------------------------ sums on a SQLite remote


@pytest.fixture
def lite(tmp_path):
    """Rows 'q' add MAX, -1, 1: SQLite's running sum stays in 64 bits, the
    remote's sum of the positive values (the overflow check) does not, and
    fails while the second group is read, after the first was returned."""
    rows = f"INSERT INTO a VALUES (1, 5, 'p'), (2, {INT64_MAX}, 'q'), (3, -1, 'q'), (4, 1, 'q');"
    conn, native = _env(tmp_path, rows)
    yield conn, native
    conn.close()


def test_a_sum_overflowing_in_a_later_group_runs_in_sqlite(lite):
    conn, native = lite
    sql = "SELECT t, sum(x) FROM a GROUP BY t ORDER BY t"
    assert "SUM(" in conn.explain(sql)  # pushed
    assert native.execute(sql).fetchall() == [("p", 5), ("q", INT64_MAX)]
    same(lite, sql)
