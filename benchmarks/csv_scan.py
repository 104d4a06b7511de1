"""file_fdw on generated CSV files against PostgreSQL 15's file_fdw and a native table.

Generates three ROWS-row, 5-column CSV files (default 1,000,000 rows each):

- ``plain``: no quotes (the csv module's minimal quoting of plain values);
- ``quoted``: every text field quoted, numbers bare (QUOTE_NONNUMERIC), no
  field holding a delimiter, quote or newline;
- ``quoted+``: the same, with some names holding the delimiter (1 in 10), a
  doubled quote (1 in 25), a newline (1 in 100) or nothing (``""``, 1 in 50:
  an empty string, not NULL);
- ``escaped``: ``quoted+`` with a backslash escaping the quotes (the table
  option ``escape '\\'``).

For each file it times ``count(*)``, ``sum(amount)``, a point query ``WHERE
id = k`` and ``SELECT *`` fetched into Python: through sqlmed's file_fdw; the
first three through PostgreSQL 15's file_fdw (server-side time from psql's
\\timing) when the server binaries are on this machine; all four over a
native SQLite table loaded from the file (load time printed apart).  Ratios
are sqlmed / anchor, every anchor measured in the same run.

Then the peak traced Python memory of a full scan at two file sizes, which
should not grow with the file.  Best of ROUNDS interleaved runs each; not part
of the test suite.  ``SQLMED_SPEEDUPS=0`` measures the pure Python path.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
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
KINDS = ("plain", "quoted", "quoted+", "escaped")
#: the table options of a kind beyond the format's
EXTRA = {"escaped": ", escape '\\'"}

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import vtables  # noqa: E402


def name_of(kind: str, i: int, rnd: random.Random) -> str:
    name = f"name {rnd.randrange(10_000)}"
    if kind not in ("quoted+", "escaped"):
        return name
    if i % 100 == 0:
        return name + "\nsecond line"
    if i % 50 == 0:
        return ""
    if i % 25 == 0:
        return f'the "{name}"'
    if i % 10 == 0:
        return name + ", jr"
    return name


def escaping(kind: str) -> dict:
    """The csv module's dialect options of a kind: a backslash escaping quotes."""
    return {"doublequote": False, "escapechar": "\\"} if kind == "escaped" else {}


def generate(path: str, rows: int, kind: str = "plain") -> None:
    rnd = random.Random(7)
    quoting = csv.QUOTE_MINIMAL if kind == "plain" else csv.QUOTE_NONNUMERIC
    with open(path, "w", newline="") as f:
        w = csv.writer(f, quoting=quoting, **escaping(kind))
        w.writerow(["id", "name", "amount", "day", "flag"])
        for i in range(1, rows + 1):
            name = name_of(kind, i, rnd)
            amount = f"{rnd.uniform(0, 1e4):.2f}"
            w.writerow(
                [
                    i,
                    name,
                    amount if kind == "plain" else float(amount),
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


def sqlmed_conn(path: str, kind: str) -> vtables.Connection:
    conn = vtables.connect(":memory:")
    conn.execute(f"""
        CREATE EXTENSION file_fdw;
        CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
        CREATE FOREIGN TABLE big ({COLUMNS}) SERVER files
            OPTIONS (filename '{path}', format 'csv', header 'true'{EXTRA.get(kind, "")});
    """)
    return conn


def native_conn(path: str, kind: str) -> tuple[vtables.Connection, float]:
    """A native table loaded from the file, and the load's time."""
    native = vtables.connect(":memory:")
    native.execute("CREATE TABLE big (id integer, name text, amount numeric, day date, flag int)")
    start = time.perf_counter()
    native.execute("BEGIN")
    with open(path, newline="") as f:
        reader = csv.reader(f, **escaping(kind))
        next(reader)
        native.executemany("INSERT INTO big VALUES (?, ?, ?, ?, ?)", reader)
    native.execute("COMMIT")
    return native, time.perf_counter() - start


def postgres(paths: dict[str, str]):
    """A PostgreSQL server with a file_fdw table per file, or None."""
    try:
        from tests.pgserver import PostgresServer

        server = PostgresServer()
        server.__enter__()
    except (ImportError, RuntimeError) as err:
        print(f"PostgreSQL anchor not measured: {err}")
        return None
    server.psql("CREATE EXTENSION file_fdw; CREATE SERVER files FOREIGN DATA WRAPPER file_fdw")
    for kind, path in paths.items():
        server.psql(
            f'CREATE FOREIGN TABLE "{kind}" ({COLUMNS}) SERVER files OPTIONS '
            f"(filename '{path}', format 'csv', header 'true'{EXTRA.get(kind, '')})"
        )
    return server


def measure(kind: str, path: str, k: int, rounds: int, server) -> None:
    conn = sqlmed_conn(path, kind)
    native, load = native_conn(path, kind)

    def run(c, q):
        return lambda: c.execute(q.format(t="big", k=k)).fetchall()

    # Rounds interleave the systems, so a noisy moment on a shared machine
    # does not favour one of them; the best round of each counts.
    ours: dict[str, float] = {}
    theirs: dict[str, float] = {}
    pg: dict[str, float] = {}
    for _ in range(rounds):
        for name, q in QUERIES.items():
            ours[name] = min(ours.get(name, 1e9), best(run(conn, q), 1))
            theirs[name] = min(theirs.get(name, 1e9), best(run(native, q), 1))
            if server is not None and name != "select *":
                took = server.timed(q.format(t=f'"{kind}"', k=k))
                pg[name] = min(pg.get(name, 1e9), took)
    print(f"\n{kind}: {path} ({os.path.getsize(path) / 1e6:.1f} MB)")
    print(f"{'query':<9} {'sqlmed':>9} {'pg file_fdw':>12} {'ratio':>6} {'native':>9} {'ratio':>6}")
    for name in QUERIES:
        p = pg.get(name)
        pg_cols = f"{p:>11.3f}s {ours[name] / p:>6.2f}" if p else f"{'-':>12} {'-':>6}"
        print(
            f"{name:<9} {ours[name]:>8.3f}s {pg_cols} {theirs[name]:>8.3f}s "
            f"{ours[name] / theirs[name]:>6.2f}"
        )
    print(f"(native table load from the CSV: {load:.2f}s)")


def peak_memory(path: str, kind: str) -> int:
    conn = sqlmed_conn(path, kind)
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
    parser.add_argument("--files", default=",".join(KINDS), help="which files, comma-separated")
    args = parser.parse_args()
    kinds = [kind for kind in args.files.split(",") if kind]
    if not set(kinds) <= set(KINDS):
        parser.error(f"--files: choose among {', '.join(KINDS)}")
    workdir = tempfile.mkdtemp(prefix="sqlmed-bench-")
    try:
        run(args.rows, args.rounds, kinds, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(rows: int, rounds: int, kinds: list[str], workdir: str) -> None:
    os.chmod(workdir, 0o755)
    paths = {}
    for kind in kinds:
        paths[kind] = os.path.join(workdir, f"{kind.replace('+', '_plus')}.csv")
        generate(paths[kind], rows, kind)
        os.chmod(paths[kind], 0o644)
    print(f"{rows} rows a file; C speedups {'on' if speedups_on() else 'off'}")
    server = postgres(paths)
    try:
        for kind, path in paths.items():
            measure(kind, path, rows // 2, rounds, server)
    finally:
        if server is not None:
            server.__exit__(None, None, None)

    small_rows = max(rows // 10, 1000)
    print(f"\npeak traced memory of a full scan, at {small_rows} and {rows} rows:")
    for kind, path in paths.items():
        small = os.path.join(workdir, "small.csv")
        generate(small, small_rows, kind)
        print(
            f"{kind:<9} {peak_memory(small, kind) / 1e6:.2f} MB, "
            f"{peak_memory(path, kind) / 1e6:.2f} MB"
        )


def speedups_on() -> bool:
    from vtables import speedups

    return speedups.enabled()


if __name__ == "__main__":
    main()
