"""The table SQLite reads a pushed query's result from.

Each pushed block becomes an eponymous-only virtual table of its own module
(a name no database file can know), called as a table-valued function whose
arguments are the statement's parameters the remote query needs.  Its
columns carry the declared types the block's columns had, so names, types
and affinities are what SQLite would have given.  It is SQLITE_VTAB_DIRECTONLY:
a view or trigger stored in a file cannot call it.

Before the query runs, each argument's storage class is checked against what
the translation assumed (an integer for an integer column...); when one does
not fit, the block runs in SQLite over the foreign tables as written (the
fallback), so the answer stays SQLite's.  So it does when the remote stops
where SQLite goes on: a block with sums, or one the translator marked
``guarded`` (integer arithmetic that PostgreSQL or DuckDB may stop with an
overflow), is read whole before its first row is handed over, a guarded one
so that the remote's error leaves its transaction usable, and an error the
remote says is an overflow (``RemoteSQL.overflowed``) runs the block in SQLite.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import apsw

from .. import sqltext
from ..errors import SQLMedError, WrapperError
from ..remotesql import Unguarded
from .blocks import OrderDependent
from .cursor import QueryTable

if TYPE_CHECKING:
    from ..session import Session
    from .blocks import Pushed

logger = logging.getLogger(__name__)


class QueryModule:
    """The module of one pushed query."""

    def __init__(self, session: Session, pushed: Pushed, nargs: int, fallback: str):
        self.session = session
        self.pushed = pushed
        self.nargs = nargs
        self.fallback = fallback
        #: remote queries run and fallbacks taken (tests and EXPLAIN read them)
        self.runs = 0
        self.fallbacks = 0

    def declaration(self) -> str:
        parts = []
        for i, out in enumerate(self.pushed.outputs):
            parts.append(f'"c{i}" {sqltext.quote_name(out.decltype) if out.decltype else ""}')
        parts.extend(f'"a{i}" HIDDEN' for i in range(self.nargs))
        return f"CREATE TABLE x({', '.join(parts)})"

    def Connect(
        self, db: apsw.Connection, modulename: str, dbname: str, tablename: str, *args: str
    ):
        db.vtab_config(apsw.SQLITE_VTAB_DIRECTONLY)
        return self.declaration(), QueryTable(self)

    def rows(self, args: tuple) -> Iterator[tuple]:
        pushed = self.pushed
        if not all(p.fits(args[p.arg]) for p in pushed.params if p.arg is not None):
            return self._in_sqlite(args)
        params = {
            f"p{i}": (p.value if p.arg is None else args[p.arg])
            for i, p in enumerate(pushed.params)
        }
        self.runs += 1
        if not (pushed.sums or pushed.guarded):
            return self._decoded(self._run(params))
        try:  # read whole before the first row is handed over
            return iter(list(self._decoded(self._whole(params))))
        except (OrderDependent, Unguarded):
            return self._in_sqlite(args)
        except SQLMedError as err:
            # the remote stopped where SQLite goes on (an integer overflow;
            # SQLite's own running sum, in its order of rows, may not overflow)
            if not pushed.remote.overflowed(err):
                raise
            return self._in_sqlite(args)

    def _run(self, params: dict[str, Any]) -> Iterable[tuple]:
        pushed = self.pushed
        try:
            if pushed.readonly:
                return pushed.remote.run_readonly(pushed.text)
            if pushed.guarded:
                return pushed.remote.run_guarded(pushed.text, params)
            run = pushed.remote.run_small if pushed.small else pushed.remote.run
            return run(pushed.text, params)
        except (SQLMedError, Unguarded):
            raise
        except Exception as err:
            raise self._failed(err) from err

    def _whole(self, params: dict[str, Any]) -> list[tuple]:
        """The remote rows, all read: an error while reading is the remote's
        too (a sum that overflows in a later group)."""
        rows = self._run(params)
        try:
            return list(rows)
        except SQLMedError:
            raise
        except Exception as err:
            raise self._failed(err) from err

    def _failed(self, err: Exception) -> WrapperError:
        return WrapperError(f"pushed query on {self.pushed.remote.where()}: {err}")

    def _decoded(self, rows: Iterable[tuple]) -> Iterator[tuple]:
        outputs = self.pushed.outputs
        return (tuple(o.decode(*[row[i] for i in o.at]) for o in outputs) for row in rows)

    def _in_sqlite(self, args: tuple) -> Iterator[tuple]:
        """The block run by SQLite over the foreign tables, as written."""
        self.fallbacks += 1
        return iter(apsw.Cursor(self.session.db).execute(self.fallback, args).fetchall())
