"""Issue 13: PostgreSQL parity for definitions, options and imports."""

from __future__ import annotations

import apsw
import pytest

import vtables
from vtables import DuplicateObjectError, UndefinedObjectError, catalog


def test_an_options_list_is_applied_in_order(conn):
    # item 8: PostgreSQL's transformGenericOptions applies each item in turn
    conn.execute(
        "CREATE EXTENSION memory_fdw;"
        " CREATE SERVER s FOREIGN DATA WRAPPER memory_fdw OPTIONS (host 'h')"
    )
    conn.execute("ALTER SERVER s OPTIONS (ADD port '1', DROP port)")
    assert catalog.get_server(conn, "s").options == {"host": "h"}
    conn.execute("ALTER SERVER s OPTIONS (DROP host, ADD host 'k', SET host 'm')")
    assert catalog.get_server(conn, "s").options == {"host": "m"}
    with pytest.raises(DuplicateObjectError, match='option "host" provided more than once'):
        conn.execute("ALTER SERVER s OPTIONS (ADD port '2', ADD host 'x')")
    with pytest.raises(UndefinedObjectError, match='option "port" not found'):
        conn.execute("ALTER SERVER s OPTIONS (ADD port '2', DROP port, SET port '3')")
    assert catalog.get_server(conn, "s").options == {"host": "m"}
    with pytest.raises(DuplicateObjectError, match='option "host" provided more than once'):
        conn.execute("CREATE SERVER t FOREIGN DATA WRAPPER memory_fdw OPTIONS (host 'a', host 'b')")


def sqlite_server(tmp_path, remote_sql: str, local_sql: str = "", server: str = "arch"):
    """A local database whose sqlite_fdw server ``server`` reads a new remote
    file ``remote.db`` made by ``remote_sql``; ``local_sql`` runs after."""
    db = apsw.Connection(str(tmp_path / "remote.db"))
    db.execute(remote_sql)
    db.close()
    c = vtables.connect(str(tmp_path / "local.db"))
    c.execute(
        f"CREATE EXTENSION sqlite_fdw; CREATE SERVER {server} FOREIGN DATA WRAPPER sqlite_fdw"
        f" OPTIONS (database '{tmp_path / 'remote.db'}');" + local_sql
    )
    return c


@pytest.fixture
def remote(tmp_path):
    return sqlite_server(tmp_path, "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT)")


def test_sqlite_fdw_import_refuses_an_unknown_schema(remote):
    # item 10: the named schema was ignored and main's tables imported
    with pytest.raises(UndefinedObjectError, match='schema "nope" is not present'):
        remote.execute("IMPORT FOREIGN SCHEMA nope FROM SERVER arch INTO main")
    assert catalog.list_tables(remote) == []
    remote.execute("IMPORT FOREIGN SCHEMA public FROM SERVER arch INTO main")
    assert [t.name for t in catalog.list_tables(remote)] == ["items"]


# --------------------------------------------------------- batch inserts


class Batching(vtables.ForeignDataWrapper):
    """Records each insert_many call; rows live in a class-level list."""

    name = "batching_fdw"
    rowid_column = "id"
    rows: list = []
    calls: list = []
    fail_on: object = None

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        for row in type(self).rows:
            yield {c: row.get(c) for c in columns}

    def insert_many(self, rows):
        type(self).calls.append(len(rows))
        for row in rows:
            if row["id"] == type(self).fail_on:
                raise ValueError(f"duplicate key {row['id']}")
        type(self).rows.extend(dict(r) for r in rows)

    def insert(self, values):
        self.insert_many([values])

    def delete(self, identity):
        type(self).rows[:] = [r for r in type(self).rows if r["id"] != identity["id"]]


@pytest.fixture
def batching(conn):
    Batching.rows, Batching.calls, Batching.fail_on = [], [], None
    vtables.register_wrapper(Batching)
    conn.execute(
        "CREATE EXTENSION batching_fdw; CREATE SERVER b FOREIGN DATA WRAPPER batching_fdw;"
        " CREATE FOREIGN TABLE t (id integer, v text) SERVER b"
    )
    yield conn
    vtables.unregister_wrapper("batching_fdw")


def test_a_multi_row_insert_reaches_insert_many_once(batching):
    # item 3: insert_many was dead API, the module called insert once a row
    batching.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    assert Batching.calls == [3]
    batching.execute(
        "BEGIN; WITH RECURSIVE n(i) AS (SELECT 10 UNION ALL SELECT i + 1 FROM n WHERE i < 14)"
        " INSERT INTO t SELECT i, 'x' FROM n"
    )
    assert Batching.calls == [3, 5]
    batching.execute("COMMIT")
    assert len(Batching.rows) == 8


def test_executemany_reaches_insert_many_in_batches(batching):
    batching.execute("BEGIN")
    batching.executemany("INSERT INTO t VALUES (?, ?)", [(i, str(i)) for i in range(25_000)])
    assert Batching.calls == [10_000, 10_000, 5_000]
    batching.execute("COMMIT")
    assert batching.execute("SELECT count(*), sum(id) FROM t").fetchone() == (
        25_000,
        sum(range(25_000)),
    )


def test_pending_rows_are_seen_by_reads_and_undone_by_rollback(batching):
    batching.execute("BEGIN; INSERT INTO t VALUES (1, 'a')")
    assert batching.execute("SELECT id FROM t").fetchall() == [(1,)]  # sent before the scan
    batching.execute("SAVEPOINT s")
    cur = batching.cursor()
    cur.execute("INSERT INTO t VALUES (2, 'b') RETURNING id")
    assert cur.fetchall() == [(2,)]
    batching.execute("ROLLBACK TO s; RELEASE s; COMMIT")
    assert [r["id"] for r in Batching.rows] == [1, 2]  # rows sent are the wrapper's to undo


def test_a_failing_batch_fails_its_own_statement(batching):
    Batching.fail_on = 2
    batching.execute("BEGIN")
    with pytest.raises(vtables.WrapperError, match="duplicate key 2"):
        batching.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    with pytest.raises(vtables.WrapperError, match="duplicate key 2"):
        batching.executemany("INSERT INTO t VALUES (?, ?)", [(3, "c"), (2, "b")])
    batching.execute("INSERT INTO t VALUES (5, 'e')")
    batching.execute("COMMIT")
    assert Batching.calls[-1] == 1 and Batching.rows[-1]["id"] == 5


def test_a_statement_that_fails_sends_none_of_its_rows(batching):
    batching.execute("ALTER FOREIGN TABLE t ALTER id SET NOT NULL")
    with pytest.raises(apsw.ConstraintError, match="not-null"):
        batching.execute("INSERT INTO t VALUES (1, 'a'), (NULL, 'b')")
    batching.execute("BEGIN")
    with pytest.raises(apsw.ConstraintError, match="not-null"):
        batching.execute("INSERT INTO t VALUES (2, 'a'), (3, 'b'), (NULL, 'c')")
    batching.execute("INSERT INTO t VALUES (4, 'd'), (5, 'e'); COMMIT")
    assert Batching.calls == [2]
    assert [r["id"] for r in Batching.rows] == [4, 5]


# ------------------------------------------------ defaults and conflicts


@pytest.fixture
def lite(tmp_path):
    c = sqlite_server(
        tmp_path,
        "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, c7 TEXT, n INTEGER, ts TEXT)",
        " CREATE FOREIGN TABLE items (id integer NOT NULL OPTIONS (key 'true'), name text,"
        "   c7 char(10) DEFAULT 'ft2', n int DEFAULT 1 + 2, ts timestamp DEFAULT now())"
        "   SERVER arch",
    )
    c.remote = lambda: (
        apsw.Connection(str(tmp_path / "remote.db"))
        .execute("SELECT id, name, c7, n, ts IS NOT NULL FROM items ORDER BY id")
        .fetchall()
    )
    return c


def test_defaults_fill_left_out_columns_and_explicit_null_stays_null(lite):
    # item 1: SQLite hands a virtual table NULL for a left-out column
    lite.execute("INSERT INTO items (id, name) VALUES (1, 'a')")
    lite.execute("INSERT INTO items (id, c7, n, ts) VALUES (2, NULL, NULL, NULL)")
    lite.execute("INSERT INTO main.items AS i (name, id) VALUES ('c', 3), ('d', 4) RETURNING id")
    lite.executemany("INSERT INTO items (id) VALUES (?)", [(5,), (6,)])
    lite.execute("INSERT INTO items VALUES (7, 'g', 'x', 9, '2026-01-01 00:00:00')")
    assert lite.remote() == [
        (1, "a", "ft2", 3, 1),
        (2, None, None, None, 0),
        (3, "c", "ft2", 3, 1),
        (4, "d", "ft2", 3, 1),
        (5, None, "ft2", 3, 1),
        (6, None, "ft2", 3, 1),
        (7, "g", "x", 9, 1),
    ]


def test_a_default_sqlite_cannot_evaluate_is_a_clear_error(lite):
    lite.execute("ALTER FOREIGN TABLE items ALTER n SET DEFAULT nextval('seq')")
    with pytest.raises(vtables.SQLMedError, match='default of column "n"'):
        lite.execute("INSERT INTO items (id) VALUES (1)")
    lite.execute("INSERT INTO items (id, n) VALUES (1, 5)")  # not needed: not evaluated
    assert lite.remote()[0][3] == 5


def test_insert_or_ignore_and_on_conflict_do_nothing_skip_duplicates(lite):
    # item 2: conflict clauses were ignored
    lite.execute("INSERT INTO items (id, name) VALUES (1, 'a')")
    lite.execute("INSERT OR IGNORE INTO items (id, name) VALUES (1, 'b'), (2, 'b')")
    lite.execute("INSERT INTO items (id, name) VALUES (1, 'c'), (3, 'c') ON CONFLICT DO NOTHING")
    assert [r[:2] for r in lite.remote()] == [(1, "a"), (2, "b"), (3, "c")]
    with pytest.raises(vtables.FeatureNotSupportedError, match="DO NOTHING"):
        lite.execute("INSERT INTO items (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET name = 'z'")
    lite.execute("INSERT OR REPLACE INTO items (id, name) VALUES (1, 'r')")
    assert lite.remote()[0][:2] == (1, "r")
    with pytest.raises(vtables.WrapperError, match="UNIQUE") as info:
        lite.execute("INSERT INTO items (id, name) VALUES (1, 'again')")
    assert info.value.sqlstate.startswith("23")


def test_a_wrapper_that_cannot_ignore_refuses_or_ignore(batching):
    with pytest.raises(vtables.FeatureNotSupportedError, match="INSERT OR IGNORE"):
        batching.execute("INSERT OR IGNORE INTO t VALUES (1, 'a')")
    with pytest.raises(vtables.FeatureNotSupportedError, match="INSERT OR IGNORE"):
        batching.execute("INSERT INTO t VALUES (1, 'a') ON CONFLICT DO NOTHING")
    assert Batching.rows == []


def test_a_foreign_table_made_by_another_connection_gets_its_defaults(lite, tmp_path):
    other = vtables.connect(str(tmp_path / "local.db"))
    insert = "INSERT INTO later (id) VALUES (?)"
    lite.execute("CREATE TABLE later (id, c7)")  # first a local table: nothing to fill in
    lite.execute(insert, (1,))
    assert lite.execute("SELECT * FROM later").fetchall() == [(1, None)]
    # another connection's commit can show in data_version only at the next read
    lite.data_version = lambda schema=None: 0
    lite.execute(insert, (0,))
    lite.execute("DELETE FROM later WHERE id = 0")
    other.execute(
        "DROP TABLE later; CREATE FOREIGN TABLE later (id integer NOT NULL OPTIONS (key 'true'),"
        " name text, c7 char(10) DEFAULT 'ft2', n int, ts timestamp)"
        " SERVER arch OPTIONS (table 'items')"
    )
    lite.execute(insert, (2,))  # the text lite knew: run again knowing the defaults
    assert lite.remote()[0][:3] == (2, None, "ft2")


def test_rollback_to_forgets_what_an_insert_became(lite):
    insert = "INSERT INTO fresh (id) VALUES (?)"
    lite.execute(
        "BEGIN; SAVEPOINT a; CREATE FOREIGN TABLE fresh (id integer, c7 text DEFAULT 'ft2')"
        " SERVER arch OPTIONS (table 'items')"
    )
    lite.execute(insert, (1,))
    lite.execute("ROLLBACK TO a; CREATE TABLE fresh (id, c7 DEFAULT 'local')")
    lite.execute(insert, (2,))
    lite.execute("COMMIT")
    assert lite.execute("SELECT * FROM fresh").fetchall() == [(2, "local")]


@pytest.mark.parametrize(
    "where",
    [
        "v = 'ann' COLLATE NOCASE",
        "v > 'B' COLLATE NOCASE",
        "v COLLATE NOCASE IN ('ann', 'BOB')",
        "v = 'ann  ' COLLATE RTRIM",
        "v COLLATE NOCASE = 'ANN' AND id > 1",
    ],
)
def test_quals_with_another_collation_are_left_to_sqlite(tmp_path, where):
    # item 6 (pushdown respects collation): a COLLATE NOCASE comparison was
    # pushed as a plain, exact = and the rows SQLite would keep were lost
    c = sqlite_server(
        tmp_path,
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
        " INSERT INTO t VALUES (1, 'ann'), (2, 'ANN'), (3, 'bob'), (4, 'Bob'), (5, 'ann  ')",
        " IMPORT FOREIGN SCHEMA main FROM SERVER s INTO main; CREATE TABLE lt AS SELECT * FROM t",
        server="s",
    )
    query = "SELECT id FROM {} WHERE " + where + " ORDER BY id LIMIT 5"
    want = c.execute(query.format("lt")).fetchall()
    assert want  # the query finds something
    assert c.execute(query.format("t")).fetchall() == want
    plan = c.explain(query.format("t"))
    assert not any(f"v {op}" in plan for op in ("=", ">", "IN")), plan  # not the wrapper's


def test_a_foreign_column_declared_with_a_collation(tmp_path):
    # item 6: COLLATE in a foreign column definition was a syntax error
    c = sqlite_server(
        tmp_path,
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w TEXT); INSERT INTO t VALUES"
        " (1, 'ann', 'x '), (2, 'ANN', 'x'), (3, 'bob', 'y'), (4, 'Bob', 'y ')",
        ' CREATE FOREIGN TABLE ft (id integer COLLATE "C", v text COLLATE nocase,'
        "   w text COLLATE RTRIM NOT NULL) SERVER s OPTIONS (table 't');"
        " CREATE TABLE lt (id integer, v text COLLATE NOCASE, w text COLLATE RTRIM NOT NULL);"
        " INSERT INTO lt SELECT * FROM ft",
        server="s",
    )
    for query in (
        "SELECT id FROM {} WHERE v = 'ann' ORDER BY id",
        "SELECT id FROM {} WHERE v > 'AZ' ORDER BY id",
        "SELECT id FROM {} WHERE w = 'x' ORDER BY id",
        "SELECT id FROM {} ORDER BY v, id LIMIT 3",
        "SELECT v, count(*) FROM {} GROUP BY v ORDER BY 1",
    ):
        want = c.execute(query.format("lt")).fetchall()
        assert c.execute(query.format("ft")).fetchall() == want, query
    assert [c.collation for c in catalog.get_table(c, "ft").columns] == ["C", "NOCASE", "RTRIM"]
    dumped = vtables.dump(c)
    assert 'id integer COLLATE "C"' in dumped and 'v text COLLATE "NOCASE"' in dumped
    fresh = vtables.connect(str(tmp_path / "fresh.db"))
    fresh.execute(dumped)
    assert vtables.dump(fresh) == dumped
    with pytest.raises(UndefinedObjectError, match='collation "de_DE" for encoding'):
        c.execute('CREATE FOREIGN TABLE bad (v text COLLATE "de_DE") SERVER s')
    assert catalog.get_table(c, "bad") is None
