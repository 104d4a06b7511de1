"""A hostile review of the statement planner: statements whose answer (rows,
order, column names, errors) differs with statement pushdown on from what
SQLite gives with it off and over native copies of the same rows."""

from __future__ import annotations

import apsw
import pytest

import vtables
from tests.vtables.statements.test_planner import sqlite_pair

INT64_MAX = 2**63 - 1
SCHEMA = """
    CREATE TABLE a (id integer PRIMARY KEY, x integer, t text);
    CREATE TABLE b (id integer PRIMARY KEY, y integer, t text);
"""
ROWS = """
    INSERT INTO a VALUES (1, 10, 'p'), (2, 20, 'q'), (3, 30, 'r'), (4, NULL, NULL);
    INSERT INTO b VALUES (1, 3, 'p'), (2, 2, 'q'), (3, 1, 'r'), (4, NULL, 'p');
"""


def _env(tmp_path, rows: str):
    return sqlite_pair(tmp_path, lambda db: db.execute(SCHEMA + rows))


@pytest.fixture
def env(tmp_path):
    conn, native = _env(tmp_path, ROWS)
    yield conn, native
    conn.close()


@pytest.fixture
def big(tmp_path):
    """Integers whose running sum stays in 64 bits, in the order SQLite reads
    them, while the sum of the positive ones does not."""
    rows = f"INSERT INTO a VALUES (1, {INT64_MAX}, 'p'), (2, -1, 'q'), (3, 1, 'r');"
    conn, native = _env(tmp_path, rows)
    yield conn, native
    conn.close()


def _answer(db, sql, params):
    cursor = db.execute(sql, params)
    description = cursor.get_description()
    return cursor.fetchall(), description


def same(env, sql, params=None):
    """Rows and description with pushdown on == off == native."""
    conn, native = env
    pushed = _answer(conn, sql, params)
    conn.statement_pushdown = False
    try:
        local = _answer(conn, sql, params)
    finally:
        conn.statement_pushdown = True
    expected = _answer(native, sql, params)
    assert local == expected  # the reference itself is sound
    assert pushed == expected


# ------------------------------------------------ sums past 64 bits (errors)


def test_avg_whose_positive_values_sum_past_64_bits(big):
    # SQLite: avg() never overflows (3.0744573456182584e+18); pushed: the
    # remote SUM(CASE WHEN x > 0 ...) of the overflow check raises
    same(big, "SELECT avg(x) FROM a")


def test_sum_whose_running_total_stays_in_64_bits(big):
    # SQLite adds MAX, -1, 1 in rowid order: MAX; pushed: the remote positive
    # sum MAX + 1 raises "integer overflow" instead of falling back
    same(big, "SELECT sum(x) FROM a")


# ------------------------------------------------ ORDER BY a repeated alias


def test_order_by_an_alias_given_twice_sorts_by_the_first(env):
    # SQLite resolves ORDER BY k to the first column named k (a.id)
    same(env, "SELECT a.id AS k, b.y AS k FROM a JOIN b ON a.id = b.id ORDER BY k")


# ------------------------------------------------ column names of the outer text


def test_name_of_a_column_holding_a_pushed_subquery(env):
    # the column is named by its text, which the splice replaced
    same(env, "SELECT (SELECT count(*) FROM a JOIN b ON a.id = b.id)")


def test_name_of_a_column_holding_an_anonymous_parameter(env):
    # '?' outside the pushed block is respelled '?1': the column's name changes
    same(env, "SELECT ? + 1, c FROM (SELECT count(*) AS c FROM a JOIN b ON a.id = b.id)", (10,))


# ------------------------------------------------ cached plans and the temp schema


def test_temp_table_created_after_the_plan_shadows_the_foreign_table(env):
    conn, native = env
    sql = "SELECT count(*) FROM a JOIN b ON a.id = b.id"
    conn.execute(sql).fetchall()  # planned and cached: a is the foreign table
    for db in (conn, native):
        db.execute("CREATE TEMP TABLE a (id integer, x integer, t text)")
        db.execute("INSERT INTO temp.a VALUES (1, 1, 'x')")
    same(env, sql)  # the temp table a is what SQLite reads now


def test_name_of_a_column_holding_a_subquery_over_held_tables(tmp_path):
    # hold.py rewrites "FROM a, b" inside the column's text to its CTEs
    (tmp_path / "a.csv").write_text("1,1\n2,2\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("1,x\n2,y\n", encoding="utf-8")
    conn = vtables.connect(str(tmp_path / "local.db"))
    conn.execute(f"""
        CREATE EXTENSION file_fdw;
        CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
        CREATE FOREIGN TABLE a (id integer, k integer) SERVER files
            OPTIONS (filename '{tmp_path / "a.csv"}', format 'csv');
        CREATE FOREIGN TABLE b (k integer, tag text) SERVER files
            OPTIONS (filename '{tmp_path / "b.csv"}', format 'csv');
    """)
    native = apsw.Connection(":memory:")
    native.execute("""
        CREATE TABLE a (id integer, k integer); INSERT INTO a VALUES (1, 1), (2, 2);
        CREATE TABLE b (k integer, tag text); INSERT INTO b VALUES (1, 'x'), (2, 'y');
    """)
    try:
        same((conn, native), "SELECT (SELECT count(*) FROM a, b WHERE a.k = b.k)")
    finally:
        conn.close()
