"""Joined foreign tables SQLite would rescan, read once per statement into
materialized CTEs (vtables.statements.hold): the same rows, names and types
as the statement over native copies, and the wrapper's key probes kept."""

from __future__ import annotations

import apsw
import pytest

import vtables

A = [(i, None if i % 9 == 0 else i % 5, f"Name{i % 4}") for i in range(1, 40)]
B = [(i, f"tag{i}", "É" if i % 3 else "e") for i in range(0, 7)]


def _csv(path, rows) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(",".join("" if v is None else str(v) for v in row) + "\n")


@pytest.fixture
def env(tmp_path):
    _csv(tmp_path / "a.csv", A)
    _csv(tmp_path / "b.csv", B)
    conn = vtables.connect(str(tmp_path / "local.db"))
    conn.execute(f"""
        CREATE EXTENSION file_fdw;
        CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
        CREATE FOREIGN TABLE a (id integer, k integer, name text) SERVER files
            OPTIONS (filename '{tmp_path / "a.csv"}', format 'csv');
        CREATE FOREIGN TABLE "B b" (k integer, tag text, note text) SERVER files
            OPTIONS (filename '{tmp_path / "b.csv"}', format 'csv');
    """)
    native = apsw.Connection(":memory:")
    native.execute("CREATE TABLE a (id integer, k integer, name text)")
    native.execute('CREATE TABLE "B b" (k integer, tag text, note text)')
    native.executemany("INSERT INTO a VALUES (?, ?, ?)", A)
    native.executemany('INSERT INTO "B b" VALUES (?, ?, ?)', B)
    yield conn, native
    conn.close()


def same(env, sql, params=None):
    conn, native = env
    planned = conn._planner.planned(sql)
    cursor = conn.execute(sql, params)
    expected_cursor = native.execute(sql, params)
    assert cursor.get_description() == expected_cursor.get_description()
    got, expected = cursor.fetchall(), expected_cursor.fetchall()
    assert got and sorted(map(repr, got)) == sorted(map(repr, expected)), sql
    return planned


JOINS = [
    'SELECT a.id, b.tag FROM a JOIN "B b" b ON b.k = a.k',
    'SELECT a.id, "B b".tag FROM a JOIN "B b" ON "B b".k = a.k WHERE a.id > ?',
    'SELECT x.name, y.note FROM a AS x LEFT JOIN "B b" AS y ON y.k = x.k',
    'SELECT a.id, b.note FROM main.a, "B b" b WHERE b.k = a.k AND b.note = ?',
    'SELECT count(*), max(b.tag) FROM a JOIN "B b" b ON b.k = a.k GROUP BY a.name',
    'WITH t AS (SELECT k FROM "B b") SELECT a.id FROM a JOIN t ON t.k = a.k',
    'SELECT * FROM (SELECT a.id, b.tag FROM a JOIN "B b" b ON b.k = a.k) ORDER BY 1, 2',
    'SELECT a.id FROM a JOIN "B b" b ON b.k = a.k UNION SELECT k FROM "B b"',
    'SELECT a.id FROM a WHERE a.k IN (SELECT b.k FROM "B b" b JOIN a a2 ON a2.id = b.k)',
]


@pytest.mark.parametrize("sql", JOINS)
def test_joins_read_each_file_once_and_answer_as_sqlite(env, sql):
    params = [3] if "?" in sql and "note" not in sql else (["É"] if "?" in sql else None)
    conn, _ = env
    before = conn._module.materialized
    planned = same(env, sql, params)
    assert planned is not None and planned.held, sql
    assert "MATERIALIZED" in planned.text
    assert conn._module.materialized == before  # nothing left to rescan


def test_one_table_and_rowids_are_left_alone(env):
    assert same(env, "SELECT * FROM a WHERE k = 2") is None
    conn, _ = env
    planned = conn._planner.planned('SELECT a.rowid FROM a JOIN "B b" b ON b.k = a.k')
    assert planned is None


def test_a_table_whose_wrapper_probes_keys_is_not_held(env, tmp_path):
    conn, native = env
    remote = apsw.Connection(str(tmp_path / "remote.db"))
    remote.execute("CREATE TABLE r (k integer PRIMARY KEY, v text)")
    remote.executemany("INSERT INTO r VALUES (?, ?)", [(i, f"v{i}") for i in range(5)])
    remote.close()
    conn.execute("""
        CREATE EXTENSION sqlite_fdw;
        CREATE SERVER s FOREIGN DATA WRAPPER sqlite_fdw OPTIONS (database 'remote.db');
        IMPORT FOREIGN SCHEMA main FROM SERVER s INTO main;
    """)
    native.execute("CREATE TABLE r (k integer PRIMARY KEY, v text)")
    native.executemany("INSERT INTO r VALUES (?, ?)", [(i, f"v{i}") for i in range(5)])
    planned = same(env, "SELECT a.id, r.v FROM a JOIN r ON r.k = a.k")
    assert planned is not None and planned.held == ["a"]


def test_explain_names_the_held_tables(env):
    conn, _ = env
    text = conn.explain('SELECT a.id, b.tag FROM a JOIN "B b" b ON b.k = a.k')
    assert text.splitlines()[0] == 'Read once per statement: "B b", a'
    assert text.count("Foreign Scan on") == 2  # each read once, whole
