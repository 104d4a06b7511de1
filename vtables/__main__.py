"""``python -m vtables [PATH]``: a first federated query on an embedded database.

Registers a small wrapper at run time (a series of numbers with their
squares), declares it with SQL/MED statements, joins its foreign table with
a local table and prints the rows and the catalog as DDL.
"""

from __future__ import annotations

import argparse
import os

import vtables
from vtables import ForeignDataWrapper, OptionSpec


class SeriesFdw(ForeignDataWrapper):
    """Rows ``(n, square)`` for n from ``start`` to ``stop`` (table options)."""

    name = "series_fdw"
    option_specs = (
        OptionSpec("start", {"table"}, int, required=True),
        OptionSpec("stop", {"table"}, int, required=True),
    )

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        for n in range(int(self.options["start"]), int(self.options["stop"]) + 1):
            yield {"n": n, "square": n * n}


DDL = """
CREATE EXTENSION IF NOT EXISTS series_fdw;
CREATE SERVER IF NOT EXISTS numbers FOREIGN DATA WRAPPER series_fdw;
CREATE FOREIGN TABLE IF NOT EXISTS squares (n integer NOT NULL, square bigint)
    SERVER numbers OPTIONS (start '1', stop '10');
COMMENT ON FOREIGN TABLE squares IS 'n and n*n, computed by series_fdw';
CREATE TABLE IF NOT EXISTS names(n INTEGER PRIMARY KEY, name TEXT);
INSERT OR IGNORE INTO names VALUES (1, 'one'), (2, 'two'), (3, 'three'), (5, 'five');
"""

QUERY = "SELECT s.n, names.name, s.square FROM squares AS s JOIN names USING (n) ORDER BY s.n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vtables", description=__doc__)
    parser.add_argument("path", nargs="?", default="sqlmed-demo.db", help="database file")
    args = parser.parse_args(argv)
    vtables.register_wrapper(SeriesFdw)
    conn = vtables.connect(args.path)
    conn.execute(DDL)
    rows = conn.execute(QUERY).fetchall()
    print(f"database: {os.path.abspath(args.path)}")
    print(f"query:    {QUERY}\n")
    print(f"{'n':>3}  {'name':<6} {'square':>6}")
    for n, name, square in rows:
        print(f"{n:>3}  {name:<6} {square:>6}")
    print("\ncatalog (SQL/MED DDL):")
    print(vtables.dump(conn), end="")
    conn.close()


if __name__ == "__main__":
    main()
