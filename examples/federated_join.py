"""One query over a CSV file, a second SQLite database and a local table.

Run from anywhere: ``python examples/federated_join.py [DIRECTORY]``.  It
writes ``customers.csv`` and ``orders.db`` into DIRECTORY (default: a new
temporary directory), declares them as foreign tables in ``app.db`` there,
and joins them with a local table of regions.
"""

from __future__ import annotations

import os
import sys
import tempfile

import apsw

import vtables

CUSTOMERS = """id,name,region
1,Ada,eu
2,Grace,us
3,Linus,eu
4,Margaret,us
"""


def prepare(directory: str) -> None:
    with open(os.path.join(directory, "customers.csv"), "w") as f:
        f.write(CUSTOMERS)
    orders = apsw.Connection(os.path.join(directory, "orders.db"))
    orders.execute("""
        CREATE TABLE IF NOT EXISTS orders(id INTEGER PRIMARY KEY, customer INTEGER, total REAL);
        DELETE FROM orders;
        INSERT INTO orders(customer, total) VALUES (1, 120.0), (1, 80.5), (2, 42.0), (3, 7.25),
                                                   (4, 300.0), (4, 15.0);
    """)
    orders.close()


def main(directory: str) -> list[tuple]:
    prepare(directory)
    conn = vtables.connect(os.path.join(directory, "app.db"))
    conn.execute("""
        CREATE EXTENSION IF NOT EXISTS file_fdw;
        CREATE EXTENSION IF NOT EXISTS sqlite_fdw;
        CREATE SERVER IF NOT EXISTS files FOREIGN DATA WRAPPER file_fdw;
        CREATE SERVER IF NOT EXISTS shop FOREIGN DATA WRAPPER sqlite_fdw
            OPTIONS (database 'orders.db');
        CREATE FOREIGN TABLE IF NOT EXISTS customers (id integer, name text, region text)
            SERVER files OPTIONS (filename 'customers.csv', format 'csv', header 'true');
        CREATE FOREIGN TABLE IF NOT EXISTS orders (id integer, customer integer, total real)
            SERVER shop;
        CREATE TABLE IF NOT EXISTS regions (code TEXT PRIMARY KEY, label TEXT);
        INSERT OR REPLACE INTO regions VALUES ('eu', 'Europe'), ('us', 'United States');
    """)
    query = """
        SELECT r.label, c.name, count(o.id) AS orders, sum(o.total) AS spent
        FROM customers AS c
        JOIN orders AS o ON o.customer = c.id
        JOIN regions AS r ON r.code = c.region
        GROUP BY r.label, c.name
        ORDER BY spent DESC
    """
    rows = conn.execute(query).fetchall()
    for label, name, count, spent in rows:
        print(f"{label:<14} {name:<9} {count:>2} orders {spent:>8.2f}")
    print()
    print(conn.explain(query))
    conn.close()
    return rows


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="sqlmed-example-"))
