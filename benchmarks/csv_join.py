"""A join of two CSV foreign tables against the same join over native SQLite tables.

Generates two ROWS-row CSV files (default 100,000 rows each): ``orders``
(id, customer, amount) and ``customers`` (id, name, city), every order's
customer one of the customers.  file_fdw honours no qual, so SQLite filters
the inner table once per outer row; the module holds the inner scan's rows
in memory once per statement, indexed on the join key (vtables.materialize).

Times, best of ROUNDS interleaved rounds:

- ``join``: ``SELECT count(*), sum(o.amount), count(c.name) FROM orders o
  JOIN customers c ON c.id = o.customer``;
- ``left join``: the same as a LEFT JOIN with a filter on the outer side;

over the two foreign tables and over native tables holding the same rows
with an index on the key (what SQLite's automatic index gives a native join;
loading them is not timed).  Ratios are foreign / native, both measured in
the same run.  The issue's target is at most 3x.  ``SQLMED_SPEEDUPS=0``
measures the pure Python path; not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import vtables  # noqa: E402

QUERIES = {
    "join": "SELECT count(*), sum(o.amount), count(c.name)"
    " FROM {o} o JOIN {c} c ON c.id = o.customer",
    "left join": "SELECT count(*), count(c.city)"
    " FROM {o} o LEFT JOIN {c} c ON c.id = o.customer WHERE o.amount > 500",
}


def generate(directory: str, rows: int) -> tuple[str, str]:
    rnd = random.Random(11)
    orders = os.path.join(directory, "orders.csv")
    customers = os.path.join(directory, "customers.csv")
    with open(orders, "w") as f:
        for i in range(1, rows + 1):
            f.write(f"{i},{rnd.randrange(1, rows + 1)},{rnd.uniform(0, 1000):.2f}\n")
    with open(customers, "w") as f:
        for i in range(1, rows + 1):
            f.write(f"{i},customer {i},city {rnd.randrange(100)}\n")
    return orders, customers


def setup(orders: str, customers: str) -> vtables.Connection:
    conn = vtables.connect(":memory:")
    conn.execute(f"""
        CREATE EXTENSION file_fdw;
        CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
        CREATE FOREIGN TABLE orders (id integer, customer integer, amount real)
            SERVER files OPTIONS (filename '{orders}', format 'csv');
        CREATE FOREIGN TABLE customers (id integer, name text, city text)
            SERVER files OPTIONS (filename '{customers}', format 'csv');
        CREATE TABLE local_orders (id integer, customer integer, amount real);
        CREATE TABLE local_customers (id integer, name text, city text);
        INSERT INTO local_orders SELECT * FROM orders;
        INSERT INTO local_customers SELECT * FROM customers;
        CREATE INDEX local_customers_id ON local_customers (id);
        CREATE INDEX local_orders_customer ON local_orders (customer);
    """)
    return conn


def timed(conn: vtables.Connection, sql: str) -> tuple[float, list]:
    start = time.perf_counter()
    rows = conn.execute(sql).fetchall()
    return time.perf_counter() - start, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        conn = setup(*generate(directory, args.rows))
        print(f"{args.rows:,} x {args.rows:,} rows, best of {args.rounds} rounds")
        print(f"{'query':<10} {'foreign':>10} {'native':>10} {'ratio':>7}")
        for name, text in QUERIES.items():
            foreign = text.format(o="orders", c="customers")
            native = text.format(o="local_orders", c="local_customers")
            best_f = best_n = float("inf")
            for _ in range(args.rounds):
                t_f, rows_f = timed(conn, foreign)
                t_n, rows_n = timed(conn, native)
                assert rows_f == rows_n, (rows_f, rows_n)
                best_f, best_n = min(best_f, t_f), min(best_n, t_n)
            print(
                f"{name:<10} {best_f * 1000:>8.1f}ms {best_n * 1000:>8.1f}ms"
                f" {best_f / best_n:>6.2f}x"
            )
        print(f"scans held in memory: {conn._module.materialized}")
        conn.close()


if __name__ == "__main__":
    main()
