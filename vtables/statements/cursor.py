"""The virtual table and cursor SQLite reads a pushed query's result through
(``statements.query`` runs the query and its fallback).

``register`` makes a pushed query's module known to the connection under a
name no database file can know: eponymous-only and read-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import apsw

if TYPE_CHECKING:
    from .query import QueryModule


def register(db: apsw.Connection, name: str, module: QueryModule) -> None:
    """Make ``module`` callable as the table-valued function ``name``."""
    db.create_module(
        name,
        module,  # type: ignore[arg-type]  # APSW's stub names every method of VTModule
        use_bestindex_object=True,
        eponymous_only=True,
        read_only=True,
    )


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
