"""Pushdown to PostgreSQL: sqlmed's remote wrappers against PostgreSQL's postgres_fdw.

Starts a PostgreSQL 15 server (tests/pgserver.py), fills a ROWS-row table
``big(id, grp, val, name)`` (default 1,000,000) and a 100-key table, then
times each query below three ways:

- through sqlmed (``--wrapper postgres_fdw`` by default, or ``sqlalchemy_fdw``)
  with a foreign table over ``big`` and a local table of keys;
- through PostgreSQL's own postgres_fdw, from a second database of the same
  server (server-side time from psql's \\timing);
- through sqlmed with pushdown switched off (the wrapper is asked for every
  row and SQLite filters, sorts, limits, joins and aggregates);
- through sqlmed with the pushed queries' results read through APSW's
  Python module (a call per row and value, as with ``SQLMED_SPEEDUPS=0``)
  rather than the C module: the "apsw path" column, for the queries that
  are pushed (the C path's gain on the same run's anchors);
- and the same SQL sent once to the remote database by psycopg.

Prints seconds, ratios (sqlmed / postgres_fdw, sqlmed / psycopg) and the rows
each transferred from the remote table.  Rounds interleave the systems and the
best counts.  Not part of the test suite.  ``--rows 100000 --rounds 2`` for a
quick look while iterating.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import psycopg  # noqa: E402

import vtables  # noqa: E402
from tests.pgserver import PostgresServer  # noqa: E402

QUERIES = {
    "point": "SELECT * FROM big WHERE id = 500000",
    "range of 100": "SELECT * FROM big WHERE id BETWEEN 1000 AND 1099",
    "IN of 4": "SELECT * FROM big WHERE id IN (5, 50, 500, 5000)",
    "LIMIT 10": "SELECT * FROM big LIMIT 10",
    "ORDER BY LIMIT 10": "SELECT * FROM big ORDER BY val DESC, id LIMIT 10",
    "join 100 keys": "SELECT big.* FROM keys JOIN big ON big.id = keys.k",
    "join 2 foreign": "SELECT big.id, big.name FROM small JOIN big ON big.id = small.k",
    # one remote query whose result is 100,000 rows: the pushed result's own cost
    "self-join 100k": "SELECT a.id, b.name FROM big a JOIN big b ON b.id = a.id"
    " WHERE a.id <= 100000",
    "count(*)": "SELECT count(*) FROM big",
    "sum(id)": "SELECT sum(id) FROM big",
    "GROUP BY grp": "SELECT grp, count(*), max(id) FROM big GROUP BY grp",
    "SELECT *": "SELECT * FROM big",
}
SELECTIVE = [name for name in QUERIES if name != "SELECT *"]
COLUMNS = "id integer NOT NULL, grp integer, val double precision, name text"


def counting(cls):
    """A subclass of a wrapper that counts the rows its scans hand out."""

    class Counting(cls):
        transferred = 0

        def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
            for row in super().scan(quals, columns, sortkeys, limit, offset):
                type(self).transferred += 1
                yield row

        def remote_sql(self):
            remote = super().remote_sql()
            owner = type(self)

            def counted(run):
                def call(text, params, **kwargs):
                    for row in run(text, params, **kwargs):
                        owner.transferred += 1
                        yield row

                return call

            remote.run, remote.run_small = counted(remote.run), counted(remote.run_small)
            return remote

    Counting.name = cls.name
    return Counting


def no_pushdown(cls):
    """The same wrapper, asked for every row: SQLite does all the work."""

    class NoPushdown(cls):
        transferred = 0

        def honours(self, qual):
            return False

        def can_sort(self, sortkeys):
            return False

        def estimate(self, quals, columns):
            return 1_000_000.0, 1_000_000.0

        def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
            for row in super().scan([], columns, None, None, None):
                type(self).transferred += 1
                yield row

    NoPushdown.name = cls.name + "_nopush"
    return NoPushdown


def wrapper_class(name: str):
    if name == "postgres_fdw":
        from vtables.wrappers.postgres_fdw import PostgresFdw

        return PostgresFdw
    from vtables.wrappers.sqlalchemy_fdw import SqlalchemyFdw

    return SqlalchemyFdw


def server_options(wrapper: str, port: int) -> str:
    if wrapper == "postgres_fdw":
        return f"host '127.0.0.1', port '{port}', dbname 'remote'"
    return f"url 'postgresql+psycopg://127.0.0.1:{port}/remote'"


def sqlmed(base: str, cls, port: int, keys: list[int]) -> vtables.Connection:
    vtables.register_wrapper(cls)
    conn = vtables.connect(":memory:", user="bench")
    conn.execute(f"""
        CREATE EXTENSION {cls.name};
        CREATE SERVER pg FOREIGN DATA WRAPPER {cls.name} OPTIONS ({server_options(base, port)});
        CREATE USER MAPPING FOR CURRENT_USER SERVER pg OPTIONS (user 'postgres');
        CREATE FOREIGN TABLE big ({COLUMNS}) SERVER pg OPTIONS ({table_options(base)});
        CREATE FOREIGN TABLE small (k integer) SERVER pg
            OPTIONS ({table_options(base).replace("'big'", "'small'")});
        CREATE TABLE keys (k integer PRIMARY KEY);
    """)
    conn.executemany("INSERT INTO keys VALUES (?)", [(k,) for k in keys])
    conn.execute("ANALYZE keys")  # as on the PostgreSQL side: the planner knows it is small
    conn.execute("SELECT * FROM big WHERE id = 1").fetchall()  # connect, read metadata
    return conn


def table_options(base: str) -> str:
    if base == "postgres_fdw":
        return "schema_name 'public', table_name 'big'"
    return "schema 'public', table 'big'"


def pg_transferred(server: PostgresServer, sql: str) -> int:
    """Rows PostgreSQL's postgres_fdw fetched from the remote, from EXPLAIN ANALYZE."""
    out = server.psql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", dbname="local")
    plan = json.loads(out)[0]["Plan"]

    def walk(node):
        if node.get("Node Type") == "Foreign Scan":
            return node.get("Actual Rows", 0) * node.get("Actual Loops", 1)
        return sum(walk(child) for child in node.get("Plans", ()))

    return int(walk(plan))


def fetch(conn: vtables.Connection, sql: str) -> list[tuple]:
    return conn.execute(sql).fetchall()


def through_apsw(conn: vtables.Connection, sql: str) -> list[tuple]:
    """``sql``'s rows, its pushed results read through APSW's module: the
    speedups' switch is read when the planner registers a query table (the
    connection's foreign tables stay on the C module, as they were when
    only foreign tables had it)."""
    before = os.environ.get("SQLMED_SPEEDUPS")
    os.environ["SQLMED_SPEEDUPS"] = "0"
    try:
        return conn.execute(sql).fetchall()
    finally:
        if before is None:
            del os.environ["SQLMED_SPEEDUPS"]
        else:
            os.environ["SQLMED_SPEEDUPS"] = before


def fill(server: PostgresServer, rows: int, keys: list[int]) -> None:
    """The remote tables, and PostgreSQL's postgres_fdw over them in ``local``."""
    server.psql("CREATE DATABASE remote")
    server.psql("CREATE DATABASE local")
    server.psql(
        "CREATE TABLE big (id integer PRIMARY KEY, grp integer, val double precision, "
        "name text); "
        f"INSERT INTO big SELECT g, g % 97, (g::bigint * 7919 % 100003) / 7.0, 'name ' || g "
        f"FROM generate_series(1, {rows}) g; "
        "CREATE TABLE small AS SELECT g * 997 AS k FROM generate_series(1, 1000) g; "
        "ANALYZE",
        dbname="remote",
    )
    server.psql(
        "CREATE EXTENSION postgres_fdw; "
        "CREATE SERVER pg FOREIGN DATA WRAPPER postgres_fdw "
        f"OPTIONS (host '127.0.0.1', port '{server.port}', dbname 'remote'); "
        "CREATE USER MAPPING FOR CURRENT_USER SERVER pg OPTIONS (user 'postgres'); "
        f"CREATE FOREIGN TABLE big ({COLUMNS}) SERVER pg "
        "OPTIONS (schema_name 'public', table_name 'big'); "
        "CREATE FOREIGN TABLE small (k integer) SERVER pg "
        "OPTIONS (schema_name 'public', table_name 'small'); "
        "CREATE TABLE keys (k integer PRIMARY KEY); "
        f"INSERT INTO keys VALUES {', '.join(f'({k})' for k in keys)}; ANALYZE keys",
        dbname="local",
    )


class Timings:
    """Each system's best time per query, and the rows each moved."""

    def __init__(self) -> None:
        self.best: dict[str, dict[str, float]] = {}
        self.moved: dict[str, tuple[int, int, int]] = {}

    def timed(self, system: str, name: str, run: Callable[..., Any], *args: Any) -> Any:
        start = time.perf_counter()
        out = run(*args)
        self.record(system, name, time.perf_counter() - start)
        return out

    def record(self, system: str, name: str, seconds: float) -> None:
        best = self.best.setdefault(system, {})
        best[name] = min(best.get(name, 1e9), seconds)

    def report(self) -> None:
        ours, theirs, alone = self.best["sqlmed"], self.best["postgres_fdw"], self.best["psycopg"]
        naive, apsw_path = self.best["no pushdown"], self.best.get("apsw path", {})
        print(
            f"{'query':<18} {'sqlmed':>9} {'postgres_fdw':>13} {'ratio':>6} {'psycopg':>9}"
            f" {'ratio':>6} {'apsw path':>10} {'ratio':>6} {'no pushdown':>12}"
            "   rows moved: sqlmed / postgres_fdw / no pushdown"
        )
        for name in QUERIES:
            a, b, c = self.moved[name]
            slow = apsw_path.get(name)
            slow_cols = (
                f"{slow:>9.4f}s {slow / alone[name]:>6.2f}"
                if slow is not None
                else f"{'-':>10} {'':>6}"
            )
            print(
                f"{name:<18} {ours[name]:>8.4f}s {theirs[name]:>12.4f}s "
                f"{ours[name] / theirs[name]:>6.2f} {alone[name]:>8.4f}s"
                f" {ours[name] / alone[name]:>6.2f} {slow_cols}"
                f" {naive[name]:>11.4f}s   {a} / {b} / {c}"
            )
        print(
            "\npsycopg: the same SQL sent to the remote database (the 100 keys: 100 point queries)"
            "\napsw path: sqlmed with the pushed results read through APSW's module (only for"
            " the queries that are pushed), its ratio to psycopg"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wrapper", choices=("postgres_fdw", "sqlalchemy_fdw"))
    args = parser.parse_args()
    wrapper = args.wrapper or "postgres_fdw"
    keys = list(range(7, args.rows, max(args.rows // 100, 1)))[:100]
    with PostgresServer() as server:
        fill(server, args.rows, keys)
        base = wrapper_class(wrapper)
        pushed_cls, plain_cls = counting(base), no_pushdown(base)
        pushed = sqlmed(wrapper, pushed_cls, server.port, keys)
        plain = sqlmed(wrapper, plain_cls, server.port, keys)
        plain.statement_pushdown = False
        slow = sqlmed(wrapper, pushed_cls, server.port, keys)
        is_pushed = {
            name: pushed._planner.planned(sql) is not None for name, sql in QUERIES.items()
        }
        direct = psycopg.connect(
            f"host=127.0.0.1 port={server.port} user=postgres dbname=remote", autocommit=True
        )

        def send(name: str, sql: str) -> None:
            if name == "join 100 keys":  # the same 100 point queries, one by one
                for k in keys:
                    direct.execute("SELECT * FROM big WHERE id = %s", (k,)).fetchall()
            else:
                direct.execute(sql).fetchall()

        t = Timings()
        for round_ in range(args.rounds):
            for name, sql in QUERIES.items():
                send(name, sql)  # the remote's caches warm for this query, whoever runs first
                plain_cls.transferred = 0
                ours = [("sqlmed", pushed, fetch)]
                if is_pushed[name]:  # in turns first and second
                    ours.insert(round_ % 2, ("apsw path", slow, through_apsw))
                got = []
                for system, conn, run in ours:  # the two share the wrapper class's count
                    pushed_cls.transferred = 0
                    got.append(t.timed(system, name, run, conn, sql))
                    if system == "sqlmed":
                        ours_moved = pushed_cls.transferred
                want = t.timed("no pushdown", name, fetch, plain, sql)
                assert all(rows == got[0] for rows in got), name
                if name != "ORDER BY LIMIT 10" and "LIMIT" in sql and "ORDER" not in sql:
                    assert len(got[0]) == len(want)
                else:
                    assert sorted(got[0]) == sorted(want), name
                t.record("postgres_fdw", name, server.timed(sql, dbname="local"))
                t.timed("psycopg", name, send, name, sql)
                t.moved[name] = (ours_moved, pg_transferred(server, sql), plain_cls.transferred)
        print(f"wrapper: {wrapper}; remote table: {args.rows} rows\n")
        t.report()
        direct.close()
        pushed.close()
        plain.close()
        slow.close()


if __name__ == "__main__":
    main()
