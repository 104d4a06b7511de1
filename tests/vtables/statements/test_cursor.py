"""The table a pushed query's result is read through (statements/cursor.py):
served by the C module with the speedups on, by APSW's without them
(SQLMED_SPEEDUPS=0), with the same rows, hidden argument columns, rescans
held, errors and restrictions on both.  The module is built here over a
remote whose rows the test decides."""

from __future__ import annotations

import decimal
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import apsw
import pytest
from sqlglot import exp

import vtables
from vtables import WrapperError, speedups
from vtables.remotesql import RemoteSQL
from vtables.statements import cursor
from vtables.statements.blocks import Output, Pushed
from vtables.statements.query import QueryModule
from vtables.statements.translate import Param

SWITCHED_OFF = os.environ.get("SQLMED_SPEEDUPS", "1").lower() in {"0", "false", "off", "no"}


class Remote(RemoteSQL):
    """Rows from ``make(params)``; counts the queries run."""

    def __init__(self, make: Callable[[Mapping[str, Any]], Iterator[tuple]]):
        self.make = make
        self.queries = 0

    def run(self, text: str, params: Mapping[str, Any]) -> Iterator[tuple]:
        self.queries += 1
        return self.make(params)

    def where(self) -> str:
        return "test"


def table(
    conn: vtables.Connection,
    make: Callable[[Mapping[str, Any]], Iterator[tuple]],
    width: int,
    nargs: int = 0,
    name: str = "q",
    fallback: str = "",
    family: str = "any",
) -> QueryModule:
    """A query table ``name`` of ``width`` columns; its arguments are the
    remote query's parameters p0, p1..."""
    outputs = [Output(f"c{i}", "", (i,), lambda v: v) for i in range(width)]
    params = [Param(arg=i, family=family) for i in range(nargs)]
    pushed = Pushed(Remote(make), exp.Select(), params, outputs, [], text="SELECT")
    module = QueryModule(conn.session, pushed, nargs, fallback)
    cursor.register(conn, name, module)
    return module


def numbers(n: int) -> Callable[[Mapping[str, Any]], Iterator[tuple]]:
    return lambda params: iter([(i, f"row {i}") for i in range(n)])


def test_the_c_module_serves_the_table_when_the_speedups_are_on(conn, monkeypatch):
    calls = {"Batch": 0, "Next": 0}
    batch, step = cursor.BatchQueryCursor.Batch, cursor.QueryCursor.Next

    def counted_batch(self):
        calls["Batch"] += 1
        return batch(self)

    def counted_next(self):
        calls["Next"] += 1
        step(self)

    monkeypatch.setattr(cursor.BatchQueryCursor, "Batch", counted_batch)
    monkeypatch.setattr(cursor.QueryCursor, "Next", counted_next)
    table(conn, numbers(1000), 2)
    assert len(conn.execute("SELECT * FROM q()").fetchall()) == 1000
    if SWITCHED_OFF:
        assert calls == {"Batch": 0, "Next": 1001}
    else:
        assert speedups.enabled()
        # batches of 1, 2, 4... 256, the other 489 rows, then the end
        assert calls == {"Batch": 11, "Next": 0}


VALUES = [
    (0, -1, 2**63 - 1, -(2**63), 1.5, -0.0, float("inf")),
    ("", "ascii", "Ünïcode ✓", "a\x00b", b"", b"\x00\xff", None),
    (True, False, None, 3, "x", b"y", 2.25),
]


def test_values_keep_their_storage_classes(conn):
    table(conn, lambda params: iter(VALUES), 7)
    cols = ", ".join(f"c{i}, typeof(c{i})" for i in range(7))
    got = conn.execute(f"SELECT {cols} FROM q()").fetchall()
    native = apsw.Connection(":memory:")
    native.execute("CREATE TABLE t(c0, c1, c2, c3, c4, c5, c6)")
    native.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)", VALUES)
    want = native.execute(f"SELECT {cols} FROM t ORDER BY rowid").fetchall()
    assert got == want
    assert got[2][:4] == (1, "integer", 0, "integer")


def test_rows_and_rowids_in_order_across_batches(conn):
    table(conn, numbers(5000), 2)
    got = conn.execute("SELECT rowid, c0, c1 FROM q()").fetchall()
    assert got == [(i + 1, i, f"row {i}") for i in range(5000)]


def test_the_hidden_columns_read_the_arguments(conn):
    module = table(conn, lambda params: iter([(params["p0"], 1), (params["p1"], 2)]), 2, nargs=2)
    assert module.declaration().endswith('"a0" HIDDEN, "a1" HIDDEN)')
    got = conn.execute("SELECT a1, c0, a0, c1 FROM q(?, ?)", (5, "x")).fetchall()
    assert got == [("x", 5, 5, 1), ("x", "x", 5, 2)]
    assert conn.execute("SELECT * FROM q(NULL, x'00')").fetchall() == [(None, 1), (b"\x00", 2)]
    assert conn.execute("SELECT typeof(a0) FROM q(1.5, 2)").fetchall() == [("real",)] * 2


def test_a_hidden_column_not_given_reads_null(conn):
    module = table(conn, lambda params: iter([(len(params), 1)]), 2, nargs=1)
    # no usable constraint: the plan SQLite takes anyway is given no argument,
    # which the remote query needs (the same error on both paths)...
    with pytest.raises(IndexError):
        conn.execute("SELECT a0, c1 FROM q WHERE a0 IS NULL").fetchall()
    module.pushed.params = []  # ...and a query that needs none reads NULL there
    got = conn.execute("SELECT a0, c0, c1 FROM q WHERE a0 IS NULL").fetchall()
    assert got == [(None, 0, 1)]


def test_the_inner_side_of_a_join_runs_the_query_once_per_arguments(conn):
    module = table(conn, lambda params: iter([(params["p0"] * 10,), (-1,)]), 1, nargs=1)
    conn.execute("CREATE TABLE t(x)")
    conn.executemany("INSERT INTO t VALUES (?)", [(1,), (2,), (1,), (2,), (3,)])
    got = conn.execute("SELECT t.x, q.c0 FROM t CROSS JOIN q(t.x) ORDER BY t.rowid").fetchall()
    assert got == [(x, v) for x in (1, 2, 1, 2, 3) for v in (x * 10, -1)]
    assert module.runs == 3 and module.pushed.remote.queries == 3  # type: ignore[attr-defined]


def outer(conn: vtables.Connection, n: int) -> None:
    """A local table t(x) of n rows, to join a query table to."""
    conn.execute("CREATE TABLE t(x)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(n)])


def test_a_constant_inner_side_is_read_once(conn):
    module = table(conn, numbers(700), 2)
    outer(conn, 4)
    got = conn.execute("SELECT count(*), sum(c0) FROM t CROSS JOIN q()").fetchall()
    assert got == [(2800, 4 * sum(range(700)))]
    assert module.runs == 1


def test_a_result_past_hold_rows_runs_again(conn, monkeypatch):
    monkeypatch.setattr(cursor, "HOLD_ROWS", 150)
    module = table(conn, numbers(200), 2)
    outer(conn, 3)
    got = conn.execute("SELECT count(*), sum(c0) FROM t CROSS JOIN q()").fetchall()
    assert got == [(600, 3 * sum(range(200)))]
    assert module.runs == 3


def test_a_result_read_in_part_is_not_held(conn):
    module = table(conn, numbers(300), 2)
    outer(conn, 3)
    # EXISTS stops each inner scan at its first row
    got = conn.execute("SELECT count(*) FROM t WHERE EXISTS (SELECT 1 FROM q())").fetchall()
    assert got == [(3,)]
    sql = "SELECT t.x, (SELECT c0 FROM q() WHERE c0 >= t.x LIMIT 1) FROM t CROSS JOIN q()"
    assert len(conn.execute(sql).fetchall()) == 900
    assert module.runs >= 2


def failing(after: int, error: Exception) -> Callable[[Mapping[str, Any]], Iterator[tuple]]:
    def make(params: Mapping[str, Any]) -> Iterator[tuple]:
        for i in range(after):
            yield (i,)
        raise error

    return make


@pytest.mark.parametrize("after", [0, 1, 31, 32, 100])
def test_an_error_mid_result_comes_after_the_rows_before_it(conn, after):
    error = WrapperError("the remote went away")
    table(conn, failing(after, error), 1)
    seen = []
    with pytest.raises(WrapperError) as raised:
        for row in conn.execute("SELECT c0 FROM q()"):
            seen.append(row)
    assert raised.value is error
    assert seen == [(i,) for i in range(after)]


def test_a_failed_result_is_not_held(conn):
    module = table(conn, failing(5, WrapperError("boom")), 1)
    for _ in range(2):
        with pytest.raises(WrapperError, match="boom"):
            conn.execute("SELECT c0 FROM q()").fetchall()
    assert module.runs == 2


@pytest.mark.parametrize(
    ("value", "error"), [(2**64, OverflowError), (decimal.Decimal("1.5"), TypeError)]
)
def test_a_value_sqlite_cannot_store_raises_when_read(conn, value, error):
    table(conn, lambda params: iter([(1, value), (2, value)]), 2)
    assert conn.execute("SELECT c0 FROM q()").fetchall() == [(1,), (2,)]
    with pytest.raises(error):
        conn.execute("SELECT c1 FROM q()").fetchall()


def test_an_argument_that_does_not_fit_takes_the_fallback(conn):
    module = table(conn, numbers(3), 2, nargs=1, fallback="SELECT ?1 || '!', 7", family="integer")
    assert conn.execute("SELECT c0, c1, a0 FROM q('x')").fetchall() == [("x!", 7, "x")]
    assert module.fallbacks == 1 and module.runs == 0
    assert conn.execute("SELECT count(*) FROM q(2)").fetchall() == [(3,)]
    assert module.runs == 1


def test_the_table_is_eponymous_only_and_read_only(conn):
    table(conn, numbers(2), 2)
    with pytest.raises(apsw.SQLError, match="no such module"):
        conn.execute("CREATE VIRTUAL TABLE main.other USING q()")
    with pytest.raises(apsw.SQLError, match="may not be modified"):
        conn.execute("INSERT INTO q VALUES (1, 'x')")
    with pytest.raises(apsw.SQLError, match="may not be modified"):
        conn.execute("DELETE FROM q")
    assert conn.execute("SELECT count(*) FROM q").fetchall() == [(2,)]


def test_no_view_or_trigger_in_a_file_may_call_it(tmp_path):
    conn = vtables.connect(str(tmp_path / "file.db"))
    try:
        table(conn, numbers(2), 2)
        conn.execute("CREATE VIEW v AS SELECT * FROM q()")
        with pytest.raises(apsw.SQLError, match="unsafe use"):
            conn.execute("SELECT * FROM v").fetchall()
        conn.execute("""
            CREATE TABLE log(x);
            CREATE TABLE t(x);
            CREATE TRIGGER tr AFTER INSERT ON t BEGIN
                INSERT INTO log SELECT c0 FROM q();
            END;
        """)
        with pytest.raises(apsw.SQLError, match="unsafe use"):
            conn.execute("INSERT INTO t VALUES (1)")
        assert conn.execute("SELECT count(*) FROM log").fetchall() == [(0,)]
    finally:
        conn.close()


def test_several_cursors_and_tables_at_once(conn):
    table(conn, numbers(100), 2, name="q1")
    table(conn, lambda params: iter([(i, i * i) for i in range(50)]), 2, name="q2")
    sql = "SELECT q1.c1, q2.c1 FROM q1() JOIN q2() ON q2.c0 = q1.c0 ORDER BY q1.c0"
    assert conn.execute(sql).fetchall() == [(f"row {i}", i * i) for i in range(50)]
    outer = conn.execute("SELECT c0 FROM q1()")
    inner = [conn.execute("SELECT count(*) FROM q1()").fetchall() for _ in range(2)]
    assert len(list(outer)) == 100 and inner == [[(100,)]] * 2
