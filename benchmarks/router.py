"""Ordinary SQL through ``vtables.connect`` against a raw ``apsw.Connection``.

Prints, for each loop, the time of raw APSW and of vtables and the ratio
vtables/raw (target: at most 1.05 for the point SELECTs, issue 14):

- ``query``: point SELECTs, ``conn.execute(...).fetchone()`` (a cursor per call);
- ``cursor``: the same SELECTs on one cursor (as the SQLAlchemy dialect runs them);
- ``insert``: an INSERT per ``execute``, in one transaction;
- ``many``: the same rows in one ``executemany`` (the router's cost paid once).

Both connections run in this process, interleaved over several rounds, and
the best round of each counts, so a noisy shared machine disturbs both alike.
``SQLMED_SPEEDUPS=0`` measures the pure-Python router. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import apsw

import vtables

CREATE = "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, value REAL)"
INSERT = "INSERT INTO t(id, name, value) VALUES (?, ?, ?)"
SELECT = "SELECT name, value FROM t WHERE id = ?"


def _fill(conn: apsw.Connection, n: int) -> None:
    conn.execute("DROP TABLE IF EXISTS t")
    conn.execute(CREATE)
    conn.execute("BEGIN")
    conn.executemany(INSERT, [(i, f"name {i}", i * 0.5) for i in range(n)])
    conn.execute("COMMIT")


def insert_loop(conn: apsw.Connection, n: int) -> float:
    conn.execute("DROP TABLE IF EXISTS t")
    conn.execute(CREATE)
    start = time.perf_counter()
    conn.execute("BEGIN")
    for i in range(n):
        conn.execute(INSERT, (i, f"name {i}", i * 0.5))
    conn.execute("COMMIT")
    return time.perf_counter() - start


def insert_many(conn: apsw.Connection, n: int) -> float:
    conn.execute("DROP TABLE IF EXISTS t")
    conn.execute(CREATE)
    rows = [(i, f"name {i}", i * 0.5) for i in range(n)]
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(INSERT, rows)
    conn.execute("COMMIT")
    return time.perf_counter() - start


def query_loop(conn: apsw.Connection, n: int) -> float:
    _fill(conn, n)
    start = time.perf_counter()
    for i in range(n):
        conn.execute(SELECT, (i * 7919 % n,)).fetchone()
    return time.perf_counter() - start


def cursor_loop(conn: apsw.Connection, n: int) -> float:
    _fill(conn, n)
    cursor = conn.cursor()
    start = time.perf_counter()
    for i in range(n):
        cursor.execute(SELECT, (i * 7919 % n,)).fetchone()
    return time.perf_counter() - start


JOBS: tuple[tuple[str, Callable[[apsw.Connection, int], float]], ...] = (
    ("query", query_loop),
    ("cursor", cursor_loop),
    ("insert", insert_loop),
    ("many", insert_many),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=50_000, help="operations per loop")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    raw = apsw.Connection(":memory:")
    med = vtables.connect(":memory:")
    best: dict[tuple[str, str], float] = {}
    for round_ in range(args.rounds):
        # which connection goes first alternates, so neither always runs warm
        pair = (("raw", raw), ("vtables", med))
        for job, fn in JOBS:
            for label, conn in pair if round_ % 2 else pair[::-1]:
                elapsed = fn(conn, args.rows)
                key = (job, label)
                best[key] = min(best.get(key, elapsed), elapsed)
    print(f"{'loop':<8} {'raw apsw':>10} {'vtables':>10} {'ratio':>7}   ({args.rows} ops)")
    for job, _fn in JOBS:
        r, v = best[(job, "raw")], best[(job, "vtables")]
        print(f"{job:<8} {r:>9.3f}s {v:>9.3f}s {v / r:>7.3f}")


if __name__ == "__main__":
    main()
