"""The statement router's two implementations behave the same.

With the C speedups on, a connection's cursors are ``vtables._speedups.Cursor``,
whose execute runs known plain texts and known INSERTs in C and calls the
Python router for the rest; without them, ``vtables.Cursor.execute`` does it
all in Python.  Each test here runs on both ("c" is skipped when the
extension is not built) and checks what the router keeps up to date: the
savepoints a failed call leaves open, the retry after a schema change, the
rows flushed at the end of the user's call, the calls of callbacks inside
it, and the cache of plain texts.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import apsw
import pytest

import vtables
from vtables import connection as router_module
from vtables import speedups
from vtables.module import Module, NotNullViolation


class LedgerFdw(vtables.ForeignDataWrapper):
    """Rows in memory, transactional, written in batches (insert_many)."""

    name = "ledger_fdw"
    data: list[dict[str, Any]] = []
    log: list[tuple[Any, ...]] = []

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        for row in type(self).data:
            yield {c: row.get(c) for c in columns}

    def insert(self, values):
        self.insert_many([values])

    def insert_many(self, rows, on_conflict=None):
        type(self).log.append(("insert_many", [r["id"] for r in rows]))
        for row in rows:
            if row["id"] < 0:
                raise ValueError("negative ids are refused")
            type(self).data.append(dict(row))

    def begin(self):
        self._saved: dict[int, list[dict[str, Any]]] = {}
        self._start = [dict(r) for r in type(self).data]

    def rollback(self):
        type(self).data[:] = self._start

    def savepoint(self, level):
        type(self).log.append(("savepoint", level))
        self._saved[level] = [dict(r) for r in type(self).data]

    def rollback_to(self, level):
        type(self).log.append(("rollback_to", level))
        type(self).data[:] = [dict(r) for r in self._saved[level]]


@pytest.fixture(params=["c", "python"])
def which(request, monkeypatch):
    if request.param == "c":
        # both of tox's test envs build the extension: its absence is a failure
        assert speedups.built(), "the C speedups are not built"
        assert hasattr(speedups._speedups, "Router"), "the C speedups have no router"
        monkeypatch.setenv("SQLMED_SPEEDUPS", "1")
        assert speedups.enabled(), "the C speedups failed to load in this process"
    else:
        monkeypatch.setenv("SQLMED_SPEEDUPS", "0")
    LedgerFdw.data = []
    LedgerFdw.log = []
    vtables.register_wrapper(LedgerFdw)
    yield request.param
    vtables.unregister_wrapper("ledger_fdw")


def connect(which: str, path: str = ":memory:") -> vtables.Connection:
    conn = vtables.connect(path, user="alice")
    cursor = conn.cursor()
    assert isinstance(cursor, vtables.Cursor)
    assert (type(cursor) is speedups._speedups.Cursor) == (which == "c")
    return conn


@pytest.fixture
def conn(which):
    c = connect(which)
    c.execute("""
        CREATE EXTENSION ledger_fdw;
        CREATE SERVER s FOREIGN DATA WRAPPER ledger_fdw;
        CREATE FOREIGN TABLE ft (id integer NOT NULL, note text) SERVER s;
    """)
    yield c
    c.close()


def test_the_router_in_use(conn, which):
    assert isinstance(conn.execute("SELECT 1"), vtables.Cursor)
    assert conn._router.depth == 0
    assert (type(conn._router) is getattr(speedups._speedups, "Router", None)) == (which == "c")
    # cursors made without the factory route too
    assert vtables.Cursor(conn).execute("SELECT count(*) FROM ft").fetchall() == [(0,)]
    if which == "c":
        made = speedups._speedups.Cursor(conn)
        assert made.execute("SELECT count(*) FROM ft").fetchall() == [(0,)]
        with pytest.raises(TypeError, match="not routed in C"):
            speedups._speedups.Cursor(apsw.Connection(":memory:")).execute("SELECT 1")


def test_a_failed_statement_inside_a_savepoint_ends_the_tables_savepoints(conn, monkeypatch):
    since: list[int] = []
    original = Module.statement_failed

    def statement_failed(self: Module, n: int) -> None:
        since.append(n)
        original(self, n)

    monkeypatch.setattr(Module, "statement_failed", statement_failed)
    conn.execute("BEGIN")
    conn.execute("INSERT INTO ft VALUES (1, 'kept')")
    conn.execute("SAVEPOINT sp")
    before = list(conn._module.opened)
    del LedgerFdw.log[:]
    with pytest.raises(NotNullViolation):  # raised inside the statement: row 2 is pending
        conn.execute("INSERT INTO ft VALUES (2, 'undone'), (NULL, 'refused')")
    # statement_failed ended the savepoint the call opened, rolling it back
    # (the C module ends it itself, APSW's leaves it to statement_failed)
    assert since == [len(before)]
    assert conn._module.opened == before
    assert [entry[0] for entry in LedgerFdw.log] == ["savepoint", "rollback_to"]
    assert [r["id"] for r in LedgerFdw.data] == [1]
    conn.execute("INSERT INTO ft VALUES (3, 'after')")
    conn.execute("RELEASE sp")
    conn.execute("COMMIT")
    assert [r["id"] for r in LedgerFdw.data] == [1, 3]
    assert conn.execute("SELECT id FROM ft ORDER BY id").fetchall() == [(1,), (3,)]


def test_an_error_ending_the_savepoints_comes_with_the_statements(conn, monkeypatch):
    def statement_failed(self: Module, n: int) -> None:
        raise RuntimeError("cannot end them")

    monkeypatch.setattr(Module, "statement_failed", statement_failed)
    with pytest.raises(RuntimeError) as info:
        conn.execute("INSERT INTO ft VALUES (NULL, 'refused')")
    assert isinstance(info.value.__context__, NotNullViolation)
    assert conn._router.depth == 0


def test_rows_inserted_are_flushed_at_the_end_of_the_call(conn):
    for first in (10, 20):  # the second time, the INSERT's text is known
        conn.execute("INSERT INTO ft VALUES (?, 'a'), (? + 1, 'b')", (first, first))
        assert conn._module.pending == {}
        assert LedgerFdw.log[-1] == ("insert_many", [first, first + 1])
    assert [r["id"] for r in LedgerFdw.data] == [10, 11, 20, 21]


def test_a_callbacks_calls_run_inside_the_users_call(conn):
    seen: list[tuple[int, int]] = []

    def add(i: int) -> int:
        conn.execute("INSERT INTO ft VALUES (?, 'from a callback')", (i,))
        seen.append((conn._router.depth, len(conn._module.pending)))
        return i

    conn.create_scalar_function("add_row", add)
    conn.execute("INSERT INTO ft SELECT add_row(5) + 10, 'outer'")
    # the callback's call left its row pending; the user's call flushed both at its end
    assert seen == [(1, 1)]
    assert conn._router.depth == 0 and conn._module.pending == {}
    assert LedgerFdw.log[-1] == ("insert_many", [5, 15])


def test_a_schema_change_meanwhile_runs_the_statement_again(conn):
    calls: list[int] = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise apsw.SchemaChangeError("another connection changed the schema")
        return len(calls)

    conn.create_scalar_function("flaky", flaky)
    assert conn.execute("SELECT flaky()").fetchall() == [(2,)]
    # a script is not run again: its earlier statements may have run
    calls.clear()
    with pytest.raises(apsw.SchemaChangeError):
        conn.execute("SELECT 1; SELECT flaky()").fetchall()
    assert calls == [1]
    assert conn._router.depth == 0


def test_a_plain_text_is_looked_at_once(conn, monkeypatch):
    searched: list[str] = []
    hint = router_module.sqltext.HINT

    class Counting:
        pattern = hint.pattern

        def search(self, text: str) -> re.Match[str] | None:
            searched.append(text)
            return hint.search(text)

    monkeypatch.setattr(router_module.sqltext, "HINT", Counting())
    text = f"SELECT count(*) FROM ft WHERE note = '{uuid.uuid4().hex}'"  # never seen
    assert text not in conn._plain
    assert conn.execute(text).fetchall() == [(0,)]
    assert searched.count(text) == 1 and text in conn._plain
    conn.execute("INSERT INTO ft VALUES (1, 'x')")
    searched.clear()
    assert conn.execute(text).fetchall() == [(0,)]
    assert conn.cursor().execute(text).fetchall() == [(0,)]
    assert text not in searched


def test_a_known_insert_is_looked_at_again_after_another_connections_commit(which, tmp_path):
    path = str(tmp_path / "db.sqlite")
    a = connect(which, path)
    b = connect(which, path)
    insert = "INSERT INTO t(id) VALUES (?)"
    a.execute("CREATE TABLE t(id integer, note text)")
    a.execute(insert, (1,))
    a.execute(insert, (2,))  # known: a local table
    b.execute("""
        DROP TABLE t;
        CREATE EXTENSION ledger_fdw;
        CREATE SERVER s FOREIGN DATA WRAPPER ledger_fdw;
        CREATE FOREIGN TABLE t (id integer NOT NULL, note text DEFAULT 'filled') SERVER s;
    """)
    a.execute(insert, (3,))
    assert LedgerFdw.data == [{"id": 3, "note": "filled"}]
    a.close()
    b.close()


def test_executemany_and_keyword_arguments(conn):
    conn.executemany("INSERT INTO ft VALUES (?, ?)", [(1, "a"), (2, "b")])
    assert conn._module.pending == {}
    cursor = conn.cursor()
    rows = cursor.execute(statements="SELECT id FROM ft WHERE note = ?", bindings=("b",))
    assert rows.fetchall() == [(2,)]
    assert cursor.execute("SELECT ?", bindings=(7,), can_cache=False).fetchall() == [(7,)]
    with pytest.raises(vtables.FeatureNotSupportedError):
        conn.executemany("CREATE SERVER x FOREIGN DATA WRAPPER ledger_fdw", [()])


def test_errors_are_apsws(conn):
    with pytest.raises(apsw.SQLError):
        conn.execute("SELECT * FROM no_such_table")
    with pytest.raises(TypeError):
        conn.cursor().execute(42)
    assert conn._router.depth == 0
    conn.close()
    with pytest.raises(apsw.ConnectionClosedError):
        conn.execute("SELECT 1")
