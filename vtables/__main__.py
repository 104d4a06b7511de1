"""``python -m vtables [PATH]``: the same first federated query as ``sqlmed demo [PATH]``.

CSV files bundled with the package, a second SQLite file and a local table,
joined in one query on an embedded database (default ``sqlmed-demo.db``).
"""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
