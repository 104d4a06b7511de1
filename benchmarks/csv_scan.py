"""file_fdw on a generated CSV against PostgreSQL 15's file_fdw and a native table.

Generates a ROWS-row, 5-column CSV (default 1,000,000), then times on the
same file:

- ``count(*)``, ``sum(amount)``, a point query ``WHERE id = k`` and
  ``SELECT *`` fetched into Python, through sqlmed's file_fdw;
- the same first three through PostgreSQL 15's file_fdw (server-side time
  from psql's \\timing) when the server binaries are on this machine;
- the same four over a native SQLite table loaded from the file (load time
  printed apart).

Prints times and ratios (sqlmed / anchor), then the peak traced Python
memory of a full scan at two file sizes, which should not grow with the
file.  Best of ROUNDS interleaved runs each; not part of the test suite.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
import tracemalloc

QUERIES = {
    "count": "SELECT count(*) FROM {t}",
    "sum": "SELECT sum(amount) FROM {t}",
    "point": "SELECT * FROM {t} WHERE id = {k}",
    "select *": "SELECT * FROM {t}",
}
COLUMNS = "id integer, name text, amount numeric(12,2), day date, flag boolean"

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import vtables  # noqa: E402


def generate(path: str, rows: int) -> None:
    rnd = random.Random(7)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "amount", "day", "flag"])
        for i in range(1, rows + 1):
            w.writerow(
                [
                    i,
                    f"name {rnd.randrange(10_000)}",
                    f"{rnd.uniform(0, 1e4):.2f}",
                    f"2024-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}",
                    "t" if i % 2 else "f",
                ]
            )


def best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def sqlmed_conn(path: str) -> vtables.Connection:
    conn = vtables.connect(":memory:")
    conn.execute(f"""
        CREATE EXTENSION file_fdw;
        CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
        CREATE FOREIGN TABLE big ({COLUMNS}) SERVER files
            OPTIONS (filename '{path}', format 'csv', header 'true');
    """)
    return conn


def peak_memory(path: str) -> int:
    conn = sqlmed_conn(path)
    tracemalloc.start()
    conn.execute("SELECT sum(amount), max(name) FROM big").fetchall()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for flag, default in (("--rows", 1_000_000), ("--rounds", 3)):
        parser.add_argument(flag, type=int, default=default)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="sqlmed-bench-")
    os.chmod(workdir, 0o755)
    path = os.path.join(workdir, "big.csv")
    generate(path, args.rows)
    os.chmod(path, 0o644)
    k = args.rows // 2
    print(f"file: {path} ({os.path.getsize(path) / 1e6:.1f} MB, {args.rows} rows)")

    conn = sqlmed_conn(path)
    native = vtables.connect(":memory:")
    native.execute("CREATE TABLE big (id integer, name text, amount numeric, day date, flag int)")
    start = time.perf_counter()
    native.execute("BEGIN")
    with open(path, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        native.executemany("INSERT INTO big VALUES (?, ?, ?, ?, ?)", reader)
    native.execute("COMMIT")
    load = time.perf_counter() - start

    def run(c, q):
        return lambda: c.execute(q.format(t="big", k=k)).fetchall()

    # Rounds interleave the systems, so a noisy moment on a shared machine
    # does not favour one of them; the best round of each counts.
    ours: dict[str, float] = {}
    theirs: dict[str, float] = {}
    pg: dict[str, float] = {}
    server = None
    try:
        from tests.pgserver import PostgresServer

        server = PostgresServer()
        server.__enter__()
        server.psql(
            "CREATE EXTENSION file_fdw; CREATE SERVER files FOREIGN DATA WRAPPER "
            f"file_fdw; CREATE FOREIGN TABLE big ({COLUMNS}) SERVER files OPTIONS "
            f"(filename '{path}', format 'csv', header 'true')"
        )
    except RuntimeError as err:
        print(f"PostgreSQL anchor not measured: {err}")
        server = None
    try:
        for _ in range(args.rounds):
            for name, q in QUERIES.items():
                ours[name] = min(ours.get(name, 1e9), best(run(conn, q), 1))
                theirs[name] = min(theirs.get(name, 1e9), best(run(native, q), 1))
                if server is not None and name != "select *":
                    took = server.timed(q.format(t="big", k=k))
                    pg[name] = min(pg.get(name, 1e9), took)
    finally:
        if server is not None:
            server.__exit__(None, None, None)

    print(
        f"\n{'query':<9} {'sqlmed':>9} {'pg file_fdw':>12} {'ratio':>6} {'native':>9} {'ratio':>6}"
    )
    for name in QUERIES:
        p = pg.get(name)
        pg_cols = f"{p:>11.3f}s {ours[name] / p:>6.2f}" if p else f"{'-':>12} {'-':>6}"
        print(
            f"{name:<9} {ours[name]:>8.3f}s {pg_cols} {theirs[name]:>8.3f}s "
            f"{ours[name] / theirs[name]:>6.2f}"
        )
    print(f"(native table load from the CSV: {load:.2f}s)")

    small = os.path.join(workdir, "small.csv")
    generate(small, max(args.rows // 10, 1000))
    print(
        f"\npeak traced memory of a full scan: {peak_memory(small) / 1e6:.2f} MB at "
        f"{max(args.rows // 10, 1000)} rows, {peak_memory(path) / 1e6:.2f} MB at {args.rows}"
    )


if __name__ == "__main__":
    main()
