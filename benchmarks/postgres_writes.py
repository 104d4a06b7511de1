"""Bulk INSERT into PostgreSQL: sqlmed's postgres_fdw against psycopg and PostgreSQL's own.

Starts a PostgreSQL 15 server (tests/pgserver.py) with a table
``dest(id, name, val, flag, d)`` in database ``remote``, then inserts the
same ROWS rows (default 100,000; NULLs in name and val) into it, emptied
before each run, in these ways:

- ``psycopg executemany`` (the anchor): ``Cursor.executemany`` of a one-row
  INSERT on a connection to ``remote``, one transaction (psycopg pipelines it);
- ``sqlmed executemany``: ``Connection.executemany`` of a one-row INSERT into a
  postgres_fdw foreign table, between BEGIN and COMMIT, for each batch_size;
- ``sqlmed insert_many``: the wrapper's ``insert_many`` called directly with
  every row, for each batch_size (what the module's batching hands it);
- ``postgres_fdw``: PostgreSQL's own, from a second database of the same server
  (foreign table with ``batch_size 100``), ``INSERT INTO dest SELECT * FROM src``
  (server-side time from psql's \\timing).

Prints seconds and the ratio of each to the anchor and to postgres_fdw.
Rounds interleave every way and the best round of each counts.  Not part of
the test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import psycopg  # noqa: E402

import vtables  # noqa: E402
from tests.pgserver import PostgresServer  # noqa: E402
from vtables.wrappers import postgres_fdw  # noqa: E402
from vtables.wrappers.postgres_fdw import PostgresFdw  # noqa: E402

REMOTE_DDL = (
    "CREATE TABLE dest (id integer PRIMARY KEY, name text, val double precision,"
    " flag boolean NOT NULL, d date)"
)
COLUMNS = "id integer NOT NULL, name text, val double precision, flag boolean NOT NULL, d date"
NAMES = ("id", "name", "val", "flag", "d")


def make_rows(n: int) -> list[tuple]:
    """Rows as SQLite holds them: booleans as 0/1, dates as ISO text."""
    start = dt.date(2024, 1, 1)
    return [
        (
            i,
            None if i % 11 == 0 else f"name {i}",
            None if i % 7 == 0 else i * 0.25,
            i % 2,
            (start + dt.timedelta(days=i % 1000)).isoformat(),
        )
        for i in range(n)
    ]


def sqlmed(port: int, batch_size: int) -> vtables.Connection:
    conn = vtables.connect(":memory:", user="bench")
    conn.execute(f"""
        CREATE EXTENSION postgres_fdw;
        CREATE SERVER pg FOREIGN DATA WRAPPER postgres_fdw
            OPTIONS (host '127.0.0.1', port '{port}', dbname 'remote');
        CREATE USER MAPPING FOR CURRENT_USER SERVER pg OPTIONS (user 'postgres');
        CREATE FOREIGN TABLE dest ({COLUMNS}) SERVER pg OPTIONS (batch_size '{batch_size}');
    """)
    conn.execute("SELECT * FROM dest WHERE id = -1").fetchall()  # connect, read metadata
    return conn


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-sizes", default="1,100")
    args = parser.parse_args()
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    rows = make_rows(args.rows)
    as_psycopg = [(i, n, v, bool(f), d) for i, n, v, f, d in rows]
    as_dicts = [dict(zip(NAMES, r, strict=True)) for r in rows]
    vtables.register_wrapper(PostgresFdw)
    with PostgresServer() as server:
        server.psql("CREATE DATABASE remote")
        server.psql("CREATE DATABASE local")
        server.psql(REMOTE_DDL, dbname="remote")
        dsn = f"host=127.0.0.1 port={server.port} user=postgres dbname=remote"
        server.psql(
            "CREATE EXTENSION postgres_fdw; "
            "CREATE SERVER pg FOREIGN DATA WRAPPER postgres_fdw "
            f"OPTIONS (host '127.0.0.1', port '{server.port}', dbname 'remote',"
            " batch_size '100'); "
            "CREATE USER MAPPING FOR CURRENT_USER SERVER pg OPTIONS (user 'postgres'); "
            f"CREATE FOREIGN TABLE dest ({COLUMNS}) SERVER pg; "
            f"CREATE TABLE src ({COLUMNS})",
            dbname="local",
        )
        local = dsn.replace("dbname=remote", "dbname=local")
        with psycopg.connect(local) as c, c.cursor().copy("COPY src FROM STDIN") as copy:
            for row in as_psycopg:
                copy.write_row(row)
        conns = {size: sqlmed(server.port, size) for size in sizes}
        empty = psycopg.connect(dsn, autocommit=True)

        def truncate() -> None:
            empty.execute("TRUNCATE dest")

        def check() -> None:
            got = empty.execute("SELECT count(*), count(name), count(val) FROM dest").fetchone()
            want = (len(rows), sum(r[1] is not None for r in rows))
            assert got[:2] == want, got

        def anchor() -> None:
            with psycopg.connect(dsn) as c:
                c.cursor().executemany(
                    "INSERT INTO dest (id, name, val, flag, d) VALUES (%s, %s, %s, %s, %s)",
                    as_psycopg,
                )

        def through_sql(size: int):
            def run() -> None:
                conn = conns[size]
                conn.execute("BEGIN")
                conn.executemany("INSERT INTO dest VALUES (?, ?, ?, ?, ?)", rows)
                conn.execute("COMMIT")

            return run

        def direct(size: int):
            def run() -> None:
                conns[size].wrapper_for("dest")[0].insert_many(as_dicts)

            return run

        jobs = {"psycopg executemany": anchor}
        for size in sizes:
            jobs[f"sqlmed executemany, batch_size {size}"] = through_sql(size)
            jobs[f"sqlmed insert_many, batch_size {size}"] = direct(size)
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, job in jobs.items():
                truncate()
                start = time.perf_counter()
                job()
                best[name] = min(best.get(name, 1e9), time.perf_counter() - start)
                check()
            truncate()
            seconds = server.timed("INSERT INTO dest SELECT * FROM src", dbname="local")
            best["postgres_fdw, batch_size 100"] = min(
                best.get("postgres_fdw, batch_size 100", 1e9), seconds
            )
            check()
        print(f"{args.rows} rows into a 5-column PostgreSQL table; best of {args.rounds} rounds\n")
        anchor_s = best["psycopg executemany"]
        theirs = best["postgres_fdw, batch_size 100"]
        print(f"{'way':<38} {'seconds':>8} {'/ psycopg':>10} {'/ postgres_fdw':>15}")
        for name, seconds in best.items():
            print(
                f"{name:<38} {seconds:>8.3f} {seconds / anchor_s:>10.2f} {seconds / theirs:>15.2f}"
            )
        for conn in conns.values():
            postgres_fdw.disconnect_all(conn)
            conn.close()
        empty.close()


if __name__ == "__main__":
    main()
