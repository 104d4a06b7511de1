"""Statement pushdown through sqlalchemy_fdw: random statements give the same
rows with pushdown on, with it off, and over a native SQLite copy, for three
remotes reached by URL: a SQLite file, a real PostgreSQL server (started by
the fixture; never skipped) and a DuckDB file.  Then what is pushed, that it
is one remote query, the switch, and the dialects that are never pushed."""

from __future__ import annotations

import sqlite3
import types

import duckdb
import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

import vtables
from tests.pgserver import registering
from tests.vtables.statements import queries
from tests.vtables.statements import test_differential as differential
from tests.vtables.statements.test_differential import PASSWORD, check
from vtables.wrappers.sqlalchemy_fdw import SqlalchemyFdw
from vtables.wrappers.sqlalchemy_fdw.statements import sqlglot_dialect

SEED = 15
REMOTES = ["sqlite", "postgres", "duckdb"]

_registered = registering(SqlalchemyFdw)

# the remotes and data of the planner's differential test: PostgreSQL's
# server with tables a and b, the SQLite file, and their native copy
pg = differential.pg
lite_remote = differential.lite_remote
native = differential.native


@pytest.fixture(scope="module")
def duck_remote(tmp_path_factory):
    """The rows of the SQLite and PostgreSQL remotes in a DuckDB file, with
    PostgreSQL's integer widths."""
    path = str(tmp_path_factory.mktemp("duck") / "remote.duckdb")
    db = duckdb.connect(path)
    a, b = queries.rows(SEED)
    db.execute(
        "CREATE TABLE a (id bigint, k integer, grp text, n bigint, name varchar(20));"
        "CREATE TABLE b (id bigint, k bigint, tag text, m smallint)"
    )
    db.executemany("INSERT INTO a VALUES (?, ?, ?, ?, ?)", a)
    db.executemany("INSERT INTO b VALUES (?, ?, ?, ?)", b)
    db.close()
    return path


def _server_sql(kind: str, fixture) -> str:
    """The statements that make server ``s`` for a remote of that kind
    (``fixture(name)`` gives the remote's fixture)."""
    if kind == "sqlite":
        url = f"sqlite:///{fixture('lite_remote')}"
    elif kind == "duckdb":
        url = f"duckdb:///{fixture('duck_remote')}"
    else:
        pg = fixture("pg")
        url = f"postgresql+psycopg://{pg.host}:{pg.port}/diff"
    sql = f"CREATE SERVER s FOREIGN DATA WRAPPER sqlalchemy_fdw OPTIONS (url '{url}');"
    if kind == "postgres":
        sql += (
            "CREATE USER MAPPING FOR CURRENT_USER SERVER s"
            f" OPTIONS (user 'fdw', password '{PASSWORD}');"
        )
    return sql


def _connect(path, server_sql: str) -> vtables.Connection:
    conn = vtables.connect(str(path))
    conn.execute(f"""
        CREATE EXTENSION sqlalchemy_fdw;
        {server_sql}
        CREATE FOREIGN TABLE a ({queries.SCHEMA_A}) SERVER s;
        CREATE FOREIGN TABLE b ({queries.SCHEMA_B}) SERVER s;
    """)
    return conn


@pytest.fixture(params=REMOTES)
def conn(request, tmp_path):
    conn = _connect(tmp_path / "local.db", _server_sql(request.param, request.getfixturevalue))
    conn.kind = request.param  # type: ignore[attr-defined]
    yield conn
    conn.close()


class Statements:
    """The SQL texts every SQLAlchemy engine sends to its database."""

    def __init__(self):
        self.texts: list[str] = []

    def __enter__(self):
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc):
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        self.texts.append(statement)

    def selects(self) -> list[str]:
        return [t for t in self.texts if t.lstrip().upper().startswith("SELECT")]


# --------------------------------------------------------------- differential


# random statements: pushdown on == off == the native copy, on each remote
test_random_statements = differential.test_random_statements


# ------------------------------------------------------------- what is pushed

PLACEHOLDERS = {"sqlite": ":p0", "postgres": "%(p0)s", "duckdb": "$p0"}


# the generator's statements are mostly on the allow-list on each remote
test_most_statements_are_pushed = differential.test_most_statements_are_pushed


def test_the_remote_query_is_spelled_in_the_remote_dialect(conn):
    sql = "SELECT b.tag, max(a.n) FROM b LEFT JOIN a ON a.k = b.k WHERE b.m < ? GROUP BY b.tag"
    [block] = conn._planner.planned(sql).blocks
    assert PLACEHOLDERS[conn.kind] in block.remote_sql and "LEFT JOIN" in block.remote_sql
    sql = "SELECT DISTINCT a.name FROM a JOIN b ON b.id = a.id ORDER BY a.name DESC"
    [block] = conn._planner.planned(sql).blocks
    assert ('COLLATE "C"' in block.remote_sql) == (conn.kind == "postgres"), block.remote_sql


def test_a_join_with_aggregates_is_one_remote_query(conn, native):
    sql = (
        "SELECT a.grp, count(*), sum(b.m) FROM a JOIN b ON a.k = b.k"
        " WHERE b.m > ? GROUP BY a.grp ORDER BY 1"
    )
    want = native.execute(sql, (0,)).fetchall()
    assert conn.execute(sql, (0,)).fetchall() == want  # reflects, counts, plans
    [block] = conn._planner.planned(sql).blocks
    assert "JOIN" in block.remote_sql and "GROUP BY" in block.remote_sql
    with Statements() as seen:
        assert conn.execute(sql, (0,)).fetchall() == want
    assert seen.selects() == [block.remote_sql], seen.texts
    assert block.module.runs == 2 and block.module.fallbacks == 0
    plan = conn.explain(sql, (0,))
    assert plan.startswith('Remote Query on server "s"') and "GROUP BY" in plan
    assert PASSWORD not in plan and "fdw@" not in plan


def test_text_is_compared_and_sorted_byte_by_byte(conn, native):
    sql = (
        "SELECT a.name, b.tag FROM a JOIN b ON a.grp = b.tag"
        " WHERE a.name > ? ORDER BY a.name DESC, b.tag, a.id LIMIT 12"
    )
    assert conn._planner.planned(sql) is not None
    check(conn, native, sql, ["Zed"], True)
    check(conn, native, "SELECT max(name), min(grp) FROM a JOIN b ON a.k = b.k", [], True)


def test_statement_pushdown_option_turns_it_off(conn, native):
    sql = "SELECT a.grp, count(*) FROM a JOIN b ON a.id = b.id GROUP BY a.grp ORDER BY 1"
    assert conn._planner.planned(sql) is not None
    conn.execute("ALTER FOREIGN TABLE b OPTIONS (ADD statement_pushdown 'false')")
    assert conn._planner.planned(sql) is None
    assert "Foreign Scan on b" in conn.explain(sql)
    assert conn.execute(sql).fetchall() == native.execute(sql).fetchall()
    conn.execute("ALTER FOREIGN TABLE b OPTIONS (DROP statement_pushdown)")
    assert conn._planner.planned(sql) is not None
    conn.execute("ALTER SERVER s OPTIONS (ADD statement_pushdown 'false')")
    assert conn._planner.planned(sql) is None
    assert conn.execute(sql).fetchall() == native.execute(sql).fetchall()


# ---------------------------------------------------------- what is never pushed


class OtherDialect(SQLiteDialect_pysqlite):
    """pysqlite under another dialect name: SQLite semantics the planner cannot know."""

    name = "othersql"
    supports_statement_cache = True


class OtherDriver(SQLiteDialect_pysqlite):
    driver = "otherdriver"
    supports_statement_cache = True


class FormatStyle(SQLiteDialect_pysqlite):
    """pysqlite's name and driver, with a DBAPI that declares another paramstyle
    (SQLAlchemy's own statements keep qmark)."""

    supports_statement_cache = True

    def __init__(self, **kw):
        super().__init__(paramstyle="qmark", **kw)

    @classmethod
    def import_dbapi(cls):
        module = types.ModuleType("format_sqlite3")
        module.__dict__.update(vars(sqlite3))
        module.paramstyle = "format"  # type: ignore[attr-defined]
        return module


sa.dialects.registry.register("othersql", __name__, "OtherDialect")
sa.dialects.registry.register("sqlite.otherdriver", __name__, "OtherDriver")
sa.dialects.registry.register("sqlite.formatstyle", __name__, "FormatStyle")


def test_the_dialects_the_planner_knows():
    assert sqlglot_dialect("sqlite:///x.db") == "sqlite"
    assert sqlglot_dialect("postgresql+psycopg://h/db") == "postgres"
    assert sqlglot_dialect("duckdb:///x.duckdb") == "duckdb"
    assert sqlglot_dialect("mysql+pymysql://h/db") is None
    assert sqlglot_dialect("nosuchdialect://h/db") is None
    assert sqlglot_dialect("postgresql+asyncpg://h/db") is None  # $1, not %(p0)s


@pytest.mark.parametrize("scheme", ["othersql", "sqlite+otherdriver", "sqlite+formatstyle"])
def test_unknown_dialects_and_drivers_are_never_pushed(scheme, tmp_path, native, lite_remote):
    remote = lite_remote
    server = (
        f"CREATE SERVER s FOREIGN DATA WRAPPER sqlalchemy_fdw OPTIONS (url '{scheme}:///{remote}');"
    )
    conn = _connect(tmp_path / "local.db", server)
    try:
        sql = "SELECT a.grp, count(*) FROM a JOIN b ON a.k = b.k GROUP BY a.grp ORDER BY 1"
        assert conn._planner.planned(sql) is None
        assert conn.execute(sql).fetchall() == native.execute(sql).fetchall()
        assert "Foreign Scan on a" in conn.explain(sql)
    finally:
        conn.close()


def test_a_failing_pushed_query_names_the_server(tmp_path, pg):
    conn = _connect(tmp_path / "local.db", _server_sql("postgres", lambda _name: pg))
    try:
        sql = "SELECT count(*) FROM a JOIN b ON a.k = b.k"
        assert conn._planner.planned(sql) is not None
        conn.execute("SELECT count(*) FROM a").fetchall()  # reflected: the plan holds
        with psycopg.connect(pg.dsn, autocommit=True) as c:
            c.execute("ALTER TABLE b RENAME TO b_gone")
        try:
            with pytest.raises(vtables.SQLMedError) as err:
                conn.execute(sql).fetchall()
        finally:
            with psycopg.connect(pg.dsn, autocommit=True) as c:
                c.execute("ALTER TABLE b_gone RENAME TO b")
        text = str(err.value)
        assert 'server "s": pushed query failed' in text and "b" in text
        assert PASSWORD not in text
    finally:
        conn.close()


def test_a_join_scanned_table_by_table_reads_both_results(conn, native):
    """Without statement pushdown each table is scanned alone on one shared
    connection: the inner scans must neither end the transaction whose
    server-side cursor the outer scan reads (PostgreSQL) nor replace the
    outer scan's pending result (DuckDB)."""
    conn.statement_pushdown = False
    sql = "SELECT a.id, b.id FROM a JOIN b ON a.k = b.k ORDER BY a.id, b.id"
    assert conn.execute(sql).fetchall() == native.execute(sql).fetchall()
    sql = "SELECT count(*) FROM a WHERE a.k IN (SELECT b.k FROM b WHERE b.m > a.k)"
    assert conn.execute(sql).fetchall() == native.execute(sql).fetchall()


def test_postgres_enums_are_compared_and_sorted_by_sqlite(tmp_path, pg):
    """An enum sorts in its declared order and compares with no text: its
    quals and sorts stay in SQLite, and it is never in a pushed query."""
    with psycopg.connect(pg.dsn, autocommit=True) as c:
        c.execute(
            "DROP TABLE IF EXISTS moods; DROP TYPE IF EXISTS mood;"
            "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');"
            "CREATE TABLE moods (id int8, m mood);"
            "INSERT INTO moods VALUES (1, 'sad'), (2, 'ok'), (3, 'happy'), (4, NULL)"
        )
    conn = _connect(tmp_path / "local.db", _server_sql("postgres", lambda _name: pg))
    conn.execute("CREATE FOREIGN TABLE moods (id integer, m text) SERVER s")
    conn.execute("CREATE TABLE local_moods (id integer, m text)")
    conn.executemany(
        "INSERT INTO local_moods VALUES (?, ?)", [(1, "sad"), (2, "ok"), (3, "happy"), (4, None)]
    )
    try:
        for sql in (
            "SELECT id FROM {t} WHERE m = 'ok'",
            "SELECT id FROM {t} WHERE m < 'p' ORDER BY id",
            "SELECT m, id FROM {t} ORDER BY m",
            "SELECT m, count(*) FROM {t} WHERE id IN (SELECT id FROM a) GROUP BY m ORDER BY m",
        ):
            want = conn.execute(sql.format(t="local_moods")).fetchall()
            assert conn.execute(sql.format(t="moods")).fetchall() == want, sql
        sql = "SELECT moods.m, count(*) FROM moods JOIN a ON a.id = moods.id GROUP BY moods.m"
        assert conn._planner.planned(sql) is None
        assert conn._planner.planned(sql.replace("moods.m", "a.grp")) is not None
    finally:
        conn.close()
