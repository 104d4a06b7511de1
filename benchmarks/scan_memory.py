"""Peak memory of a full scan of a large file of each format.

Makes a file of about SIZE_MB megabytes (default 1000) of each format, from
a smaller one repeated (the CSV files of csv_scan.py, plain and ``quoted+``;
JSON lines of json_scan.py; Parquet of parquet_scan.py), and reads every
column of every row through sqlmed in a child process.  Prints the child's
resident memory before the scan (after the imports and a first query) and
at the scan's peak (Linux's VmHWM, reset before the scan): what the scan
adds should not grow with the file.  Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from benchmarks import csv_scan, json_scan  # noqa: E402

_CHILD = """
import sys
def hwm():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
import vtables
db = vtables.connect(':memory:')
db.execute(sys.argv[1])
db.execute('SELECT count(*) FROM t WHERE 0').fetchall()
base = hwm()
with open('/proc/self/clear_refs', 'w') as f:
    f.write('5')
rows = 0
for row in db.execute('SELECT * FROM t'):
    rows += 1
print(hwm(), base, rows)
"""


def peak_memory(ddl: str) -> tuple[float, float, int]:
    """MB resident at the scan's peak and before it, and the rows read, in a child."""
    root = os.path.join(os.path.dirname(__file__), "..")
    env = {**os.environ, "PYTHONPATH": root}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, ddl], capture_output=True, text=True, check=True, env=env
    )
    peak, base, rows = out.stdout.split()
    return float(peak), float(base), int(rows)


def repeated(seed: str, path: str, size_mb: int, header: bool) -> None:
    """``path``: ``seed`` repeated to about ``size_mb`` MB (its first line once
    when it is a header)."""
    with open(seed, "rb") as f:
        first = f.readline() if header else b""
        body = f.read()
    times = max(1, size_mb * 1_000_000 // max(len(body), 1))
    with open(path, "wb") as out:
        out.write(first)
        for _ in range(times):
            out.write(body)


def files(work: str, size_mb: int, seed_rows: int) -> dict[str, tuple[str, str]]:
    """name -> (path, the DDL of its foreign table ``t``)."""
    out = {}
    for kind in ("plain", "quoted+"):
        seed = os.path.join(work, f"seed-{kind}.csv")
        csv_scan.generate(seed, seed_rows, kind)
        path = os.path.join(work, f"big-{kind}.csv".replace("+", "_plus"))
        repeated(seed, path, size_mb, header=True)
        out[f"csv {kind}"] = (
            path,
            "CREATE EXTENSION file_fdw; CREATE SERVER s FOREIGN DATA WRAPPER file_fdw;"
            f" CREATE FOREIGN TABLE t ({csv_scan.COLUMNS}) SERVER s"
            f" OPTIONS (filename '{path}', format 'csv', header 'true')",
        )
    seed = os.path.join(work, "seed.ndjson")
    json_scan.generate(seed, seed_rows, "ndjson")
    path = os.path.join(work, "big.ndjson")
    repeated(seed, path, size_mb, header=False)
    out["json lines"] = (
        path,
        "CREATE EXTENSION json_fdw; CREATE SERVER s FOREIGN DATA WRAPPER json_fdw;"
        f" CREATE FOREIGN TABLE t ({json_scan.COLUMNS}) SERVER s OPTIONS (filename '{path}')",
    )
    from benchmarks import parquet_scan

    path = os.path.join(work, "big.parquet")
    parquet_scan.generate(path, size_mb * 30_000, 1_000_000)  # about 33 bytes a row
    out["parquet"] = (
        path,
        "CREATE EXTENSION parquet_fdw; CREATE SERVER s FOREIGN DATA WRAPPER parquet_fdw;"
        " CREATE FOREIGN TABLE t (id bigint, grp text, amount bigint, price double precision,"
        f" name text) SERVER s OPTIONS (path '{path}')",
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=1000)
    parser.add_argument("--seed-rows", type=int, default=200_000)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="sqlmed-memory-")
    try:
        print(f"{'file':12} {'MB':>6} {'rows':>10} {'before':>8} {'peak':>8} {'added':>7}")
        for name, (path, ddl) in files(work, args.size_mb, args.seed_rows).items():
            peak, base, rows = peak_memory(ddl)
            size = os.path.getsize(path) / 1e6
            print(f"{name:12} {size:6.0f} {rows:10d} {base:7.0f}M {peak:7.0f}M {peak - base:6.0f}M")
            os.remove(path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
