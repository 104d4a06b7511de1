"""vtables.semantics answers as SQLite does: checked against SQLite itself."""

from __future__ import annotations

import itertools
import threading

import apsw
import pytest

from vtables import semantics

VALUES = [
    None,
    0,
    1,
    -1,
    1.5,
    2**53 + 1,
    "1",
    " 2 ",
    "1.0",
    "1e3",
    "abc",
    "ABC",
    "é",
    b"\x00",
    b"a",
]
DECLARED = ["INTEGER", "TEXT", "BLOB", "REAL", "NUMERIC", ""]
OPERATORS = ["=", "!=", "<", "<=", ">", ">=", "IS", "IS NOT"]


@pytest.fixture(scope="module")
def sqlite():
    db = apsw.Connection(":memory:")
    yield db
    db.close()


@pytest.mark.parametrize("declared", DECLARED)
def test_comparisons_with_a_column_answer_as_sqlite(sqlite, declared):
    sqlite.execute(f"DROP TABLE IF EXISTS t; CREATE TABLE t(c {declared})")
    kind = semantics.affinity(declared)
    for left in VALUES:
        sqlite.execute("DELETE FROM t; INSERT INTO t VALUES (?)", (left,))
        (stored,) = sqlite.execute("SELECT c FROM t").fetchone()
        for op, right in itertools.product(OPERATORS, VALUES):
            (want,) = sqlite.execute(f"SELECT count(*) FROM t WHERE c {op} ?", (right,)).fetchone()
            got = semantics.holds(op, stored, semantics.apply_affinity(kind, right))
            assert got == bool(want), (declared, stored, op, right)


def test_like_glob_and_in(sqlite):
    for text, pattern in [("Abc", "a%"), ("abc", "A_C"), ("ÀBC", "à%"), ("a.c", "a_c")]:
        (want,) = sqlite.execute("SELECT ? LIKE ?", (text, pattern)).fetchone()
        assert semantics.holds("LIKE", text, pattern) == bool(want)
    assert semantics.holds("GLOB", "abc", "a[a-c]?")
    assert not semantics.holds("GLOB", "Abc", "a*")
    assert semantics.holds("IN", 2, [None, 2.0]) and not semantics.holds("IN", None, [None])
    assert semantics.as_text(1.5) == "1.5" and semantics.as_text(True) == "1"


def test_each_thread_has_its_own_private_connection():
    mine = semantics._sqlite()
    assert semantics._sqlite() is mine
    other = []
    worker = threading.Thread(target=lambda: other.append(semantics._sqlite()))
    worker.start()
    worker.join()
    assert other[0] is not mine
