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
fallback), so the answer stays SQLite's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import apsw

from .. import sqltext
from ..errors import SQLMedError, WrapperError
from .blocks import OrderDependent

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
        if not pushed.sums:
            return self._decoded(self._run(params))
        try:  # aggregates: few rows, all decoded before the first is handed over
            return iter(list(self._decoded(self._run(params))))
        except OrderDependent:
            return self._in_sqlite(args)
        except SQLMedError as err:
            # a SQL server that sums as SQLite does stops at 64 bits where
            # SQLite's own running sum (in its order of rows) may not
            if "integer overflow" not in str(err):
                raise
            return self._in_sqlite(args)

    def _run(self, params: dict[str, Any]) -> Iterable[tuple]:
        pushed = self.pushed
        try:
            if pushed.readonly:
                return pushed.remote.run_readonly(pushed.text)
            run = pushed.remote.run_small if pushed.small else pushed.remote.run
            return run(pushed.text, params)
        except SQLMedError:
            raise
        except Exception as err:
            raise WrapperError(f"pushed query on {pushed.remote.where()}: {err}") from err

    def _decoded(self, rows: Iterable[tuple]) -> Iterator[tuple]:
        outputs = self.pushed.outputs
        return (tuple(o.decode(*[row[i] for i in o.at]) for o in outputs) for row in rows)

    def _in_sqlite(self, args: tuple) -> Iterator[tuple]:
        """The block run by SQLite over the foreign tables, as written."""
        self.fallbacks += 1
        return iter(apsw.Cursor(self.session.db).execute(self.fallback, args).fetchall())


class QueryTable:
    def __init__(self, module: QueryModule):
        self.module = module

    def BestIndexObject(self, info: apsw.IndexInfo) -> bool:
        width = len(self.module.pushed.outputs)
        seen = set()
        for i in range(info.nConstraint):
            column = info.get_aConstraint_iColumn(i)
            if column < width:
                continue
            if not info.get_aConstraint_usable(i) or (
                info.get_aConstraint_op(i) != apsw.SQLITE_INDEX_CONSTRAINT_EQ
            ):
                continue
            if column - width in seen:
                continue
            seen.add(column - width)
            info.set_aConstraintUsage_argvIndex(i, column - width + 1)
            info.set_aConstraintUsage_omit(i, True)
        if len(seen) != self.module.nargs:
            info.estimatedCost = 1e300  # the arguments are not known yet
            return True
        pushed = self.module.pushed
        rows = pushed.rows if pushed.rows is not None else (1.0 if pushed.small else 1000.0)
        info.estimatedRows = max(int(rows), 1)
        info.estimatedCost = 10.0 + rows
        return True

    def Open(self) -> QueryCursor:
        return QueryCursor(self.module)

    def Disconnect(self) -> None:
        pass

    Destroy = Disconnect


#: rows a cursor keeps of a result it may be asked for again in the statement
HOLD_ROWS = 100_000


class QueryCursor:
    """Reads a pushed query's result.  SQLite may filter the same cursor
    again in one statement (the inner side of a join): the remote query runs
    once per statement and arguments, its rows kept (up to ``HOLD_ROWS``;
    past that, each Filter runs it again)."""

    def __init__(self, module: QueryModule):
        self.module = module
        self.rows: Iterator[tuple] = iter(())
        self.row: tuple | None = None
        self.args: tuple = ()
        self.rowid = 0
        #: each Filter's arguments -> its rows, once read whole; None: too many
        self.held: dict[tuple, list[tuple] | None] = {}

    def Filter(self, indexnum: int, indexname: str | None, constraintargs: tuple) -> None:
        self.args = tuple(constraintargs)
        held = self.held.get(self.args)
        if held is not None:
            self.rows = iter(held)
        elif self.args in self.held:  # too many to keep
            self.rows = self.module.rows(self.args)
        else:
            self.rows = self._keeping(self.args, self.module.rows(self.args))
        self.rowid = 0
        self.Next()

    def _keeping(self, args: tuple, rows: Iterator[tuple]) -> Iterator[tuple]:
        """The rows, kept for the next Filter with these arguments once read to the end."""
        kept: list[tuple] | None = []
        for row in rows:
            if kept is not None:
                kept.append(row)
                if len(kept) > HOLD_ROWS:
                    kept = None
            yield row
        self.held[args] = kept

    def Eof(self) -> bool:
        return self.row is None

    def Next(self) -> None:
        self.rowid += 1
        self.row = next(self.rows, None)

    def Rowid(self) -> int:
        return self.rowid

    def Column(self, number: int) -> Any:
        assert self.row is not None
        width = len(self.row)
        if number < width:
            return self.row[number]
        return self.args[number - width] if number - width < len(self.args) else None

    def Close(self) -> None:
        self.rows = iter(())
        self.row = None
        self.held = {}
