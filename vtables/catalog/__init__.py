"""The catalog: ordinary tables of the database file, plus read-only views.

The tables (prefix ``sqlmed_``) are created on the first SQL/MED statement.
The views are eponymous virtual tables registered on each connection, so
they add nothing to the file that a plain SQLite tool could trip over.

What is read from the tables is checked as it is decoded: a damaged row
raises CatalogError naming its object (the views and the dump leave such an
object out and say so).  A file whose own objects squat the catalog's names
(a table named like a view shadows it) is not trusted: ``check`` lists the
problems, and the views refuse to show anything while they remain.
Which options are secret is decided in one place, ``is_secret``.
"""

from __future__ import annotations

from ..secrets import MASK
from . import objects, store, trust
from .objects import *  # noqa: F403 - the package's names, as __all__ of each module says
from .store import *  # noqa: F403
from .trust import *  # noqa: F403

__all__ = ["MASK", *objects.__all__, *store.__all__, *trust.__all__]
