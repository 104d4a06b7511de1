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


@pytest.fixture
def remote(tmp_path):
    path = str(tmp_path / "remote.db")
    db = apsw.Connection(path)
    db.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT)")
    db.close()
    c = vtables.connect(str(tmp_path / "local.db"))
    c.execute(
        f"CREATE EXTENSION sqlite_fdw;"
        f" CREATE SERVER arch FOREIGN DATA WRAPPER sqlite_fdw OPTIONS (database '{path}')"
    )
    return c


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
