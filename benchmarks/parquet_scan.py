"""parquet_fdw on a generated Parquet file against DuckDB and pyarrow.

Writes ROWS rows (default 10,000,000) with pyarrow in row groups of
GROUP_ROWS (default 1,000,000): ``id`` (sorted int64), ``grp`` (10 values),
``amount`` (int64), ``price`` (float64) and ``name`` (text).  Then, best of
ROUNDS interleaved runs each:

- ``count``: ``SELECT count(*)``;
- ``sum``: ``SELECT sum(amount)`` (an integer column: Arrow sums it);
- ``sum real``: ``SELECT sum(price)`` (a double: SQLite sums the rows, as
  its sum of doubles depends on their order);
- ``filter``: ``SELECT * WHERE id BETWEEN k AND k + 999`` on the sorted
  column (it says how many row groups the filter leaves to read);
- ``group``: ``SELECT grp, count(*), sum(amount) GROUP BY grp``;
- ``scan``: ``SELECT id, name`` fetched into Python;

through sqlmed's parquet_fdw, DuckDB's ``read_parquet`` with one thread, and
pyarrow's own dataset scan (the same computation with ``pyarrow.compute``).
Ratios are sqlmed / anchor, measured in the same run.

Then the peak memory (resident set, in a child process, less what the
imports took) of a full scan of a file of about MEMORY_MB megabytes (default
1000), through parquet_fdw.  Not part of the test suite.  ``SQLMED_SPEEDUPS=0``
measures the pure Python path.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import vtables  # noqa: E402
from benchmarks.csv_scan import best  # noqa: E402

QUERIES = {
    "count": "SELECT count(*) FROM {t}",
    "sum": "SELECT sum(amount) FROM {t}",
    "sum real": "SELECT sum(price) FROM {t}",
    "filter": "SELECT * FROM {t} WHERE id BETWEEN {k} AND {k_end}",
    "group": "SELECT grp, count(*), sum(amount) FROM {t} GROUP BY grp ORDER BY grp",
    "scan": "SELECT id, name FROM {t}",
}


def generate(path: str, rows: int, group_rows: int) -> None:
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("grp", pa.string()),
            ("amount", pa.int64()),
            ("price", pa.float64()),
            ("name", pa.string()),
        ]
    )
    groups = np.array([f"g{i}" for i in range(10)], dtype=object)
    rnd = np.random.default_rng(7)
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, group_rows):
            n = min(group_rows, rows - start)
            ids = np.arange(start, start + n, dtype=np.int64)
            noise = rnd.integers(0, 2**62, n)
            batch = pa.record_batch(
                [
                    pa.array(ids),
                    pa.array(groups[ids % 10], pa.string()),
                    pa.array(ids * 3 - 50),
                    pa.array(ids / 7.0),
                    pa.array([f"name {x:x}" for x in noise.tolist()], pa.string()),
                ],
                schema=schema,
            )
            writer.write_batch(batch, row_group_size=group_rows)


def sqlmed(path: str) -> vtables.Connection:
    db = vtables.connect(":memory:")
    db.execute(
        "CREATE EXTENSION parquet_fdw;"
        " CREATE SERVER lake FOREIGN DATA WRAPPER parquet_fdw;"
        " CREATE FOREIGN TABLE t (id bigint, grp text, amount bigint,"
        f" price double precision, name text) SERVER lake OPTIONS (path '{path}')"
    )
    return db


def arrow_way(path: str, name: str, k: int):
    dataset = ds.dataset(path)

    def run():
        if name == "count":
            return dataset.count_rows()
        if name in ("sum", "sum real"):
            column = "amount" if name == "sum" else "price"
            return sum(
                pc.sum(b.column(0)).as_py() or 0 for b in dataset.to_batches(columns=[column])
            )
        if name == "filter":
            expr = (ds.field("id") >= k) & (ds.field("id") <= k + 999)
            return dataset.to_table(filter=expr).to_pylist()
        if name == "group":
            table = dataset.to_table(columns=["grp", "amount"])
            return table.group_by("grp").aggregate([([], "count_all"), ("amount", "sum")])
        return [
            r
            for b in dataset.to_batches(columns=["id", "name"])
            for r in zip(*b.to_pydict().values(), strict=True)
        ]

    return run


def peak_memory(path: str) -> tuple[float, float]:
    """MB of resident memory at its peak during a full scan, and before it
    (after the imports and the table's first query), in a child process
    (Linux)."""
    # VmHWM, the process's own peak (ru_maxrss would count the parent's
    # memory at fork), reset through clear_refs before the scan
    code = (
        "import sys\n"
        "def hwm():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        "            return int(line.split()[1]) / 1024\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from benchmarks.parquet_scan import sqlmed\n"
        "db = sqlmed(sys.argv[1])\n"
        "db.execute('SELECT count(*) FROM t WHERE id < 0').fetchall()\n"
        "base = hwm()\n"
        "with open('/proc/self/clear_refs', 'w') as f:\n"
        "    f.write('5')\n"
        "for row in db.execute('SELECT id, grp, amount, price, name FROM t'):\n"
        "    pass\n"
        "print(hwm(), base)\n"
    )
    root = os.path.join(os.path.dirname(__file__), "..")
    out = subprocess.run(
        [sys.executable, "-c", code, path, root], capture_output=True, text=True, check=True
    )
    peak, base = map(float, out.stdout.split())
    return peak, base


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for flag, default in (
        ("--rows", 10_000_000),
        ("--group-rows", 1_000_000),
        ("--rounds", 3),
        ("--memory-mb", 1000),
    ):
        parser.add_argument(flag, type=int, default=default)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="sqlmed-parquet-")
    path = os.path.join(work, "t.parquet")
    generate(path, args.rows, args.group_rows)
    size = os.path.getsize(path) / 1e6
    print(f"{args.rows} rows, row groups of {args.group_rows}, {size:.0f} MB")
    db = sqlmed(path)
    duck = duckdb.connect()
    duck.execute("SET threads = 1")
    k = args.rows // 2
    print(f"{'query':10} {'sqlmed':>9} {'duckdb':>9} {'ratio':>6} {'pyarrow':>9} {'ratio':>6}")
    for name, sql in QUERIES.items():
        ours = sql.format(t="t", k=k, k_end=k + 999)
        theirs = sql.format(t=f"read_parquet('{path}')", k=k, k_end=k + 999)
        t_ours = best(lambda q=ours: db.execute(q).fetchall(), args.rounds)
        t_duck = best(lambda q=theirs: duck.execute(q).fetchall(), args.rounds)
        t_arrow = best(arrow_way(path, name, k), args.rounds)
        print(
            f"{name:10} {t_ours:8.3f}s {t_duck:8.3f}s {t_ours / t_duck:6.2f}"
            f" {t_arrow:8.3f}s {t_ours / t_arrow:6.2f}"
        )
        if name == "filter":
            plan = db.explain(ours)
            print("           " + plan.splitlines()[-1].split("; ")[-1].strip())
    if args.memory_mb:
        rows = int(args.rows * args.memory_mb / max(size, 1))
        big = os.path.join(work, "big.parquet")
        generate(big, rows, args.group_rows)
        peak, base = peak_memory(big)
        print(
            f"full scan of {os.path.getsize(big) / 1e6:.0f} MB ({rows} rows): resident"
            f" {base:.0f} MB before it, {peak:.0f} MB at its peak (+{peak - base:.0f} MB)"
        )


if __name__ == "__main__":
    main()
