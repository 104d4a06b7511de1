"""Ordinary SQL through ``vtables.connect`` against a raw ``apsw.Connection``.

Prints, for a 100k-row insert loop (one ``execute`` per row), a point-query
loop and a 100k-row ``executemany``, the time of each and the ratio
vtables/raw (target: at most 1.05).  The router's fast path is one Python
call per ``execute``; ``many`` shows that cost paid once per batch. Both run in this process,
interleaved over several rounds, and the best round of each counts, so a
noisy shared machine disturbs both alike. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import time

import apsw

import vtables

CREATE = "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, value REAL)"
INSERT = "INSERT INTO t(id, name, value) VALUES (?, ?, ?)"
SELECT = "SELECT name, value FROM t WHERE id = ?"


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
    start = time.perf_counter()
    for i in range(n):
        conn.execute(SELECT, (i * 7919 % n,)).fetchone()
    return time.perf_counter() - start


JOBS = (("insert", insert_loop), ("query", query_loop), ("many", insert_many))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    raw = apsw.Connection(":memory:")
    med = vtables.connect(":memory:")
    best: dict[tuple[str, str], float] = {}
    for _ in range(args.rounds):
        for label, conn in (("raw", raw), ("vtables", med)):
            for job, fn in JOBS:
                elapsed = fn(conn, args.rows)
                key = (job, label)
                best[key] = min(best.get(key, elapsed), elapsed)
    print(f"{'loop':<8} {'raw apsw':>10} {'vtables':>10} {'ratio':>7}   ({args.rows} ops)")
    for job, _fn in JOBS:
        r, v = best[(job, "raw")], best[(job, "vtables")]
        print(f"{job:<8} {r:>9.3f}s {v:>9.3f}s {v / r:>7.3f}")


if __name__ == "__main__":
    main()
