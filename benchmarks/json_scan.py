"""json_fdw on a generated NDJSON file against DuckDB's read_json and a native table.

Generates a ROWS-row NDJSON file (default 1,000,000 rows) of 6-key objects:
``id`` (integer), ``name`` (text, some non-ASCII), ``amount`` (a number with
two decimals), ``day`` (a date string), ``flag`` (true/false) and ``meta`` (a
nested object, not read by the queries), with a missing ``name`` or a null
``amount`` now and then.

Times ``count(*)``, ``sum(amount)``, a point query ``WHERE id = k`` and
``SELECT *`` fetched into Python: through sqlmed's json_fdw; through DuckDB's
``read_json`` with one thread (``SET threads=1``; skipped when duckdb is not
installed); and over a native SQLite table loaded from the file (load time
printed apart).  Ratios are sqlmed / anchor, every anchor measured in the
same run; rounds interleave the systems and the best round of each counts.

Then the peak traced Python memory (tracemalloc) of a full scan at two file
sizes, which should not grow with the file.  Not part of the test suite.
``SQLMED_SPEEDUPS=0`` measures the pure Python path; ``--format array``
writes the rows as one JSON array instead.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import tracemalloc
from typing import Any

QUERIES = {
    "count": "SELECT count(*) FROM {t}",
    "sum": "SELECT sum(amount) FROM {t}",
    "point": "SELECT * FROM {t} WHERE id = {k}",
    "select *": "SELECT * FROM {t}",
}
COLUMNS = "id integer, name text, amount numeric(12,2), day date, flag boolean"
NAMES = ("id", "name", "amount", "day", "flag")

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import vtables  # noqa: E402


def record(i: int, rnd: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": i,
        "name": f"name {rnd.randrange(10_000)}" + (" é" if i % 7 == 0 else ""),
        "amount": round(rnd.uniform(0, 10_000), 2),
        "day": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
        "flag": i % 3 == 0,
        "meta": {"source": "gen", "tags": ["a", "b"][: i % 3]},
    }
    if i % 50 == 0:
        del out["name"]
    if i % 40 == 0:
        out["amount"] = None
    return out


def generate(path: str, rows: int, form: str) -> None:
    rnd = random.Random(7)
    with open(path, "w", encoding="utf-8") as f:
        if form == "array":
            f.write("[\n")
        for i in range(rows):
            end = "\n" if form == "ndjson" else (",\n" if i < rows - 1 else "\n]\n")
            f.write(json.dumps(record(i, rnd), ensure_ascii=False) + end)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sqlmed_conn(path: str) -> vtables.Connection:
    conn = vtables.connect(":memory:")
    conn.execute(f"""
        CREATE EXTENSION json_fdw;
        CREATE SERVER js FOREIGN DATA WRAPPER json_fdw;
        CREATE FOREIGN TABLE big ({COLUMNS}) SERVER js OPTIONS (filename '{path}');
    """)
    return conn


def native_conn(path: str, form: str) -> tuple[vtables.Connection, float]:
    """A native table loaded from the file, and the load's time."""
    native = vtables.connect(":memory:")
    native.execute("CREATE TABLE big (id integer, name text, amount numeric, day date, flag int)")
    start = time.perf_counter()
    native.execute("BEGIN")
    with open(path, encoding="utf-8") as f:
        if form == "array":
            records = json.load(f)
        else:
            records = (json.loads(line) for line in f)
        native.executemany(
            "INSERT INTO big VALUES (?, ?, ?, ?, ?)",
            (tuple(r.get(k) for k in NAMES) for r in records),
        )
    native.execute("COMMIT")
    return native, time.perf_counter() - start


def duckdb_runner(path: str, form: str):
    """A function running a query through DuckDB's read_json, or None."""
    try:
        import duckdb
    except ImportError as err:
        print(f"DuckDB anchor not measured: {err}")
        return None
    con = duckdb.connect()
    con.execute("SET threads=1")
    columns = "{'id': 'BIGINT', 'name': 'VARCHAR', 'amount': 'DECIMAL(12,2)', "
    columns += "'day': 'DATE', 'flag': 'BOOLEAN'}"
    fmt = "array" if form == "array" else "newline_delimited"
    source = f"read_json('{path}', format='{fmt}', columns={columns})"
    return lambda q: con.execute(q).fetchall() if q else source


def measure(path: str, form: str, k: int, rounds: int) -> None:
    conn = sqlmed_conn(path)
    native, load = native_conn(path, form)
    duck = duckdb_runner(path, form)
    results: dict[str, dict[str, float]] = {"sqlmed": {}, "duckdb": {}, "native": {}}

    def keep(system: str, name: str, took: float) -> None:
        results[system][name] = min(results[system].get(name, 1e9), took)

    for _ in range(rounds):
        for name, q in QUERIES.items():
            sql = q.format(t="big", k=k)
            keep("sqlmed", name, timed(lambda sql=sql: conn.execute(sql).fetchall()))
            keep("native", name, timed(lambda sql=sql: native.execute(sql).fetchall()))
            if duck is not None:
                sql = q.format(t=duck(None), k=k)
                keep("duckdb", name, timed(lambda sql=sql: duck(sql)))
    print(f"\n{form}: {path} ({os.path.getsize(path) / 1e6:.1f} MB)")
    print(f"{'query':<9} {'sqlmed':>9} {'duckdb(1)':>10} {'ratio':>6} {'native':>9} {'ratio':>6}")
    ours = results["sqlmed"]
    for name in QUERIES:
        d = results["duckdb"].get(name)
        duck_cols = f"{d:>9.3f}s {ours[name] / d:>6.2f}" if d else f"{'-':>10} {'-':>6}"
        n = results["native"][name]
        print(f"{name:<9} {ours[name]:>8.3f}s {duck_cols} {n:>8.3f}s {ours[name] / n:>6.2f}")
    print(f"(native table load from the file: {load:.2f}s)")


def peak_memory(path: str) -> int:
    conn = sqlmed_conn(path)
    tracemalloc.start()
    conn.execute("SELECT sum(amount), max(name), count(day) FROM big").fetchall()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def speedups_on() -> bool:
    from vtables import speedups

    return speedups.enabled()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for flag, default in (("--rows", 1_000_000), ("--rounds", 3)):
        parser.add_argument(flag, type=int, default=default)
    parser.add_argument("--format", choices=("ndjson", "array"), default="ndjson")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sqlmed-bench-") as workdir:
        path = os.path.join(workdir, f"big.{args.format}")
        generate(path, args.rows, args.format)
        print(f"{args.rows} rows; C speedups {'on' if speedups_on() else 'off'}")
        measure(path, args.format, args.rows // 2, args.rounds)

        small_rows = max(args.rows // 10, 1000)
        small = os.path.join(workdir, f"small.{args.format}")
        generate(small, small_rows, args.format)
        print(
            f"\npeak traced memory of a full scan: {peak_memory(small) / 1e6:.2f} MB at "
            f"{small_rows} rows, {peak_memory(path) / 1e6:.2f} MB at {args.rows}"
        )


if __name__ == "__main__":
    main()
