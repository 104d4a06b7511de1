"""sqlite_fdw against real SQLite files: pushdown, writes, transactions, import."""

from __future__ import annotations

import apsw
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vtables
from tests.helpers import refuses
from tests.vtables.differential import queries
from vtables import catalog

NAMES = ["ann", "Bob", "bob", "cy", None, "dé", "Ann"]
ROWS = [
    (
        i,
        ["a", "b", "c", None][i % 4],
        None if i % 7 == 0 else round(i * 0.75, 2),
        NAMES[i % 7],
        i % 2,
    )
    for i in range(1, 61)
]
REMOTE_SCHEMA = """
CREATE TABLE items(id INTEGER PRIMARY KEY, grp TEXT, val REAL, name TEXT COLLATE NOCASE,
                   flag INTEGER NOT NULL DEFAULT 0);
CREATE VIEW even_items AS SELECT id, name FROM items WHERE id % 2 = 0;
CREATE TABLE "Odd Name"(k TEXT PRIMARY KEY, v BLOB, d NUMERIC(10,2), t);
"""


def write_remote(tmp_path) -> str:
    """A new remote database file, ``remote.db`` in ``tmp_path``: REMOTE_SCHEMA
    with ROWS in ``items`` and one row in ``"Odd Name"``."""
    path = str(tmp_path / "remote.db")
    db = apsw.Connection(path)
    db.execute(REMOTE_SCHEMA)
    db.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?)", ROWS)
    db.execute("INSERT INTO \"Odd Name\" VALUES ('k1', x'00ff', 12.5, 'x')")
    db.close()
    return path


@pytest.fixture
def remote_path(tmp_path):
    return write_remote(tmp_path)


def write_csv(path):
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "grp", "val", "name", "flag"])
        for row in ROWS:
            w.writerow(["" if v is None else v for v in row])


@pytest.fixture
def lite(tmp_path, remote_path):
    write_csv(tmp_path / "items.csv")
    conn = vtables.connect(str(tmp_path / "local.db"), user="alice")
    conn.execute("""
        CREATE EXTENSION sqlite_fdw;
        CREATE SERVER arch FOREIGN DATA WRAPPER sqlite_fdw OPTIONS (database 'remote.db');
        CREATE FOREIGN TABLE items (id integer NOT NULL, grp text, val real, name text,
                                    flag integer NOT NULL) SERVER arch;
        CREATE TABLE local_items (id integer NOT NULL, grp text, val real, name text,
                                  flag integer NOT NULL);
        CREATE TABLE tags (id integer PRIMARY KEY, tag text);
        CREATE EXTENSION file_fdw;
        CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
        CREATE FOREIGN TABLE file_items (id integer NOT NULL, grp text, val real, name text,
                                         flag integer NOT NULL)
            SERVER files OPTIONS (filename 'items.csv', format 'csv', header 'true');
    """)
    conn.executemany("INSERT INTO local_items VALUES (?, ?, ?, ?, ?)", ROWS)
    conn.executemany("INSERT INTO tags VALUES (?, ?)", [(i, f"t{i % 3}") for i in range(0, 70, 4)])
    yield conn
    conn.close()


def remote_rows(path, sql="SELECT * FROM items ORDER BY id"):
    db = apsw.Connection(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_reads_and_relative_path(lite):
    assert (
        lite.execute("SELECT count(*), sum(val) FROM items").fetchone()
        == lite.execute("SELECT count(*), sum(val) FROM local_items").fetchone()
    )


def test_pushdown_is_remote_sql_with_parameters(lite):
    text = lite.explain(
        "SELECT name FROM items WHERE id = 5 AND grp IN ('a', 'b') ORDER BY id LIMIT 3"
    )
    assert "Request: SELECT" in text
    assert '"id" = ?' in text and '"grp" IN (...)' in text
    assert "id = 5 (exact)" in text
    plan = vtables.foreign_scans(
        lite, "SELECT id FROM items WHERE grp = 'a' ORDER BY id DESC LIMIT 4 OFFSET 1"
    )[0]
    assert plan.sortkeys == [vtables.SortKey("id", True)]
    assert plan.limit_pushed and (plan.limit, plan.offset) == (4, 1)
    assert plan.request.startswith(
        'SELECT "id", "grp" FROM "items" WHERE "grp" = ? ORDER BY "id" DESC LIMIT ? OFFSET ?'
    )
    got = lite.execute(
        "SELECT id FROM items WHERE grp = 'a' ORDER BY id DESC LIMIT 4 OFFSET 1"
    ).fetchall()
    assert got == [(56,), (52,), (48,), (44,)]


def test_nocase_remote_column_is_rechecked_locally(lite):
    plan = vtables.foreign_scans(lite, "SELECT id FROM items WHERE name = 'bob'")[0]
    assert plan.exact == [False]  # the remote column compares case-insensitively
    assert lite.execute("SELECT count(*) FROM items WHERE name = 'bob'").fetchone() == (
        lite.execute("SELECT count(*) FROM local_items WHERE name = 'bob'").fetchone()
    )
    # and a LIMIT must then stay local
    plan = vtables.foreign_scans(lite, "SELECT id FROM items WHERE name = 'bob' LIMIT 1")[0]
    assert not plan.limit_pushed


def test_count_star_selects_no_column(lite):
    plan = vtables.foreign_scans(lite, "SELECT count(*) FROM items")[0]
    assert plan.request.startswith('SELECT NULL FROM "items"')


def test_join_probes_remote_by_key(lite):
    # CROSS JOIN fixes SQLite's join order: the remote table is the inner loop
    sql = "SELECT tag, name FROM tags CROSS JOIN items ON items.id = tags.id"
    plan = vtables.foreign_scans(lite, sql)
    assert [s.table for s in plan] == ["items"]
    assert plan[0].quals == [vtables.Qual("id", "=", None)] and plan[0].exact == [True]
    assert '"id" = ?' in plan[0].request
    assert (
        lite.execute("SELECT tag, name FROM tags JOIN items USING (id) ORDER BY id").fetchall()
        == lite.execute(
            "SELECT tag, name FROM tags JOIN local_items USING (id) ORDER BY id"
        ).fetchall()
    )


# ------------------------------------------------------------- differential

COLUMNS = ["id", "grp", "val", "name", "flag"]
VALUES = {
    "id": st.integers(-2, 65),
    "grp": st.sampled_from(["a", "b", "c", "d", "A"]),
    "val": st.floats(0, 50, allow_nan=False).map(lambda v: round(v, 2)),
    "name": st.sampled_from(["ann", "Ann", "bob", "BOB", "cy", "dé", "x"]),
    "flag": st.integers(0, 1),
}


def query():
    return queries(
        COLUMNS,
        VALUES,
        patterns=["a%", "A%", "%b%", "_y", "d%", "%"],
        aggregates="count(*), sum(val), min(name), max(id)",
    )


@pytest.mark.parametrize("table", ["items", "file_items"])
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=query())
def test_differential_against_a_native_copy(lite, table, q):
    """The same random query over sqlite_fdw, file_fdw and a native copy."""
    sql, params = q
    got = lite.execute(sql.format(table=table), params).fetchall()
    want = lite.execute(sql.format(table="local_items"), params).fetchall()
    assert got == want, sql


# ------------------------------------------------------------------- writes


def test_rollback_to_the_savepoint_that_opened_the_transaction(lite, remote_path):
    # SQLite tells the table xRollbackTo(-1): everything since the start goes,
    # rows still pending in the module and rows the remote file has
    before = remote_rows(remote_path)
    for sql in (
        "SAVEPOINT a",
        "INSERT INTO items VALUES (400, 'q', NULL, NULL, 0)",
        "DELETE FROM items WHERE id = 3",
        "SAVEPOINT b",
        "INSERT INTO items VALUES (401, 'q', NULL, NULL, 0)",
        "ROLLBACK TO a",
        "INSERT INTO items VALUES (402, 'q', NULL, NULL, 0)",
        "RELEASE a",
    ):
        lite.execute(sql)
    assert remote_rows(remote_path) == sorted([*before, (402, "q", None, None, 0)])


def test_writes_and_rollback(lite, remote_path):
    lite.execute("INSERT INTO items VALUES (100, 'z', 1.5, 'new', 1)")
    lite.execute("UPDATE items SET val = 9.25, name = 'changed' WHERE id = 3")
    lite.execute("DELETE FROM items WHERE grp = 'b'")
    rows = remote_rows(remote_path)
    assert (100, "z", 1.5, "new", 1) in rows
    assert (3, None, 9.25, "changed", 1) in rows
    assert not any(r[1] == "b" for r in rows)
    before = remote_rows(remote_path)
    lite.execute("BEGIN")
    lite.execute("INSERT INTO items VALUES (200, 'q', NULL, NULL, 0)")
    lite.execute("DELETE FROM items WHERE id < 10")
    lite.execute("ROLLBACK")
    assert remote_rows(remote_path) == before


def test_savepoints_follow_local_ones(lite, remote_path):
    lite.execute("BEGIN; INSERT INTO items VALUES (300, 'x', NULL, NULL, 0); SAVEPOINT sp;")
    lite.execute("INSERT INTO items VALUES (301, 'y', NULL, NULL, 0)")
    lite.execute("ROLLBACK TO sp; RELEASE sp; COMMIT")
    ids = {r[0] for r in remote_rows(remote_path)}
    assert 300 in ids and 301 not in ids


def test_not_null_and_remote_constraint_errors(lite, remote_path):
    with pytest.raises(vtables.module.NotNullViolation):
        lite.execute("INSERT INTO items (id, flag) VALUES (400, NULL)")
    with pytest.raises(vtables.WrapperError, match='foreign table "items": insert failed'):
        lite.execute("INSERT INTO items VALUES (1, 'dup', NULL, NULL, 0)")
    assert remote_rows(remote_path) == sorted(ROWS)


def test_updatable_false_refuses_writes(lite, remote_path):
    lite.execute("ALTER SERVER arch OPTIONS (ADD updatable 'false')")
    with pytest.raises(vtables.FeatureNotSupportedError, match="does not allow inserts"):
        lite.execute("INSERT INTO items VALUES (500, 'z', NULL, NULL, 0)")
    with pytest.raises(vtables.FeatureNotSupportedError, match="does not allow deletes"):
        lite.execute("DELETE FROM items WHERE id = 1")
    assert remote_rows(remote_path) == sorted(ROWS)


# ------------------------------------------------------------------- errors


def test_missing_file_and_missing_table(lite, tmp_path):
    lite.execute("""
        CREATE SERVER gone FOREIGN DATA WRAPPER sqlite_fdw OPTIONS (database 'nowhere.db');
        CREATE FOREIGN TABLE lost (x int) SERVER gone;
        CREATE FOREIGN TABLE ghost (x int) SERVER arch OPTIONS (table 'no_such_table');
        CREATE FOREIGN TABLE wrongcol (nope int) SERVER arch OPTIONS (table 'items');
    """)
    refuses(
        lite,
        ("SELECT * FROM lost", vtables.UndefinedObjectError, 'server "gone": cannot open database'),
        ("SELECT * FROM ghost", vtables.UndefinedObjectError, 'remote table "no_such_table"'),
        ("SELECT * FROM wrongcol", vtables.UndefinedObjectError, 'column "nope" does not exist'),
    )


def test_bad_options_are_refused(lite):
    bad = vtables.InvalidOptionError
    table = "CREATE FOREIGN TABLE t2 (a int) SERVER arch OPTIONS ({})".format
    refuses(
        lite,
        ("CREATE SERVER s2 FOREIGN DATA WRAPPER sqlite_fdw", bad, 'option "database" is required'),
        ("ALTER SERVER arch OPTIONS (ADD updatable 'perhaps')", bad, "expected a boolean"),
        (table("tabel 'x'"), bad, "Valid options in this context are:"),
    )


# ------------------------------------------------------------------- import


def test_import_foreign_schema(lite, tmp_path):
    lite.execute("DROP FOREIGN TABLE items")
    lite.execute("IMPORT FOREIGN SCHEMA main FROM SERVER arch INTO main")
    names = {t.name for t in catalog.list_tables(lite, "arch")}
    assert names == {"items", "even_items", "Odd Name"}
    items = catalog.get_table(lite, "items")
    assert [(c.name, c.type) for c in items.columns] == [
        ("id", "INTEGER"),
        ("grp", "TEXT"),
        ("val", "REAL"),
        ("name", "TEXT"),
        ("flag", "INTEGER"),
    ]
    assert [c.name for c in items.columns if c.not_null] == ["flag"]
    assert [(c.name, c.type) for c in catalog.get_table(lite, "Odd Name").columns] == [
        ("k", "TEXT"),
        ("v", "BLOB"),
        ("d", "NUMERIC(10,2)"),
        ("t", "BLOB"),
    ]
    assert lite.execute('SELECT * FROM "Odd Name"').fetchall() == [("k1", b"\x00\xff", 12.5, "x")]
    assert lite.execute("SELECT count(*) FROM even_items").fetchone() == (30,)
    assert lite.execute("SELECT count(*) FROM items").fetchone() == (60,)


def test_import_limit_to_except_and_defaults(lite):
    lite.execute("DROP FOREIGN TABLE items")
    lite.execute(
        "IMPORT FOREIGN SCHEMA main LIMIT TO (items) FROM SERVER arch INTO main "
        "OPTIONS (import_default 'true')"
    )
    assert [t.name for t in catalog.list_tables(lite, "arch")] == ["items"]
    assert catalog.get_table(lite, "items").column("flag").default == "0"
    lite.execute('IMPORT FOREIGN SCHEMA main EXCEPT (items, "Odd Name") FROM SERVER arch INTO main')
    assert {t.name for t in catalog.list_tables(lite, "arch")} == {"items", "even_items"}
    text = vtables.dump(lite)
    fresh = vtables.connect(str(lite.filename))  # the same file, read back
    assert vtables.dump(fresh) == text


def test_altering_the_server_mid_transaction_keeps_remote_writes(lite, remote_path):
    lite.execute("BEGIN")
    lite.execute("INSERT INTO items VALUES (600, 'm', NULL, NULL, 0)")
    lite.execute("ALTER SERVER arch OPTIONS (ADD updatable 'true')")
    lite.execute("INSERT INTO items VALUES (601, 'm', NULL, NULL, 0)")
    lite.execute("COMMIT")
    ids = {r[0] for r in remote_rows(remote_path)}
    assert {600, 601} <= ids
