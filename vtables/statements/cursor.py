"""The virtual table and cursor SQLite reads a pushed query's result through
(``statements.query`` runs the query and its fallback).

``register`` makes a pushed query's module known to the connection under a
name no database file can know: eponymous-only, read-only and
SQLITE_VTAB_DIRECTONLY.  With the C speedups on, the table is served by the
extension's module (vtables/_speedups_c/): the cursor hands SQLite the
decoded rows a ``Batch`` at a time and SQLite walks them in C; without them,
APSW's module asks the cursor for each row and value.  Both cursors hold a
result for SQLite's rescans the same way and give the same rows and errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

import apsw

from .. import speedups
from ..wrapper import ForeignDataWrapper

if TYPE_CHECKING:
    from .query import QueryModule


def register(db: apsw.Connection, name: str, module: QueryModule) -> None:
    """Make ``module`` callable as the table-valued function ``name``."""
    c = speedups.module()
    if c is not None and speedups.register(db, name, _Batched(module), c.M_QUERY):
        return
    db.create_module(
        name,
        module,  # type: ignore[arg-type]  # APSW's stub names every method of VTModule
        use_bestindex_object=True,
        eponymous_only=True,
        read_only=True,
    )


class _Batched:
    """What the C module calls to connect a pushed query's table (the
    DIRECTONLY flag is set in C: it is given no APSW connection)."""

    def __init__(self, module: QueryModule):
        self.module = module

    def Connect(self, _db: None, *_args: str) -> tuple[str, QueryTable]:
        return self.module.declaration(), BatchQueryTable(self.module)


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

    def Open(self) -> Any:
        return QueryCursor(self.module)

    def Disconnect(self) -> None:
        pass

    Destroy = Disconnect


class BatchQueryTable(QueryTable):
    """The table as the C module serves it."""

    def Open(self) -> BatchQueryCursor:
        return BatchQueryCursor(self.module)


#: rows a cursor keeps of a result it may be asked for again in the statement
HOLD_ROWS = 100_000


class _Holding:
    """A pushed query's result, read once per statement and arguments.
    SQLite may filter the same cursor again in one statement (the inner side
    of a join): the remote query runs once per arguments, its result kept
    (up to ``HOLD_ROWS`` rows; past that, each Filter runs it again).  The
    items kept are rows or batches of rows (``_size`` counts their rows)."""

    _size: Callable[[Any], int]

    def __init__(self, module: QueryModule):
        self.module = module
        self.args: tuple = ()
        #: each Filter's arguments -> its items, once read whole; None: too many rows
        self.held: dict[tuple, list[Any] | None] = {}

    def _items(self, args: tuple) -> Iterator[Any]:
        """The result for ``args``: held, or read (and kept when read whole)."""
        self.args = args
        held = self.held.get(args)
        if held is not None:
            return iter(held)
        if args in self.held:  # too many to keep
            return self._read(args)
        return self._keeping(args, self._read(args))

    def _read(self, args: tuple) -> Iterator[Any]:
        raise NotImplementedError

    def _keeping(self, args: tuple, items: Iterator[Any]) -> Iterator[Any]:
        """The items, kept for the next Filter with these arguments once read to the end."""
        kept: list[Any] | None = []
        size = self._size
        rows = 0
        for item in items:
            if kept is not None:
                kept.append(item)
                rows += size(item)
                if rows > HOLD_ROWS:
                    kept = None
            yield item
        self.held[args] = kept

    def Close(self) -> None:
        self.held = {}


class QueryCursor(_Holding):
    """APSW's cursor: a row, and a value, per call."""

    @staticmethod
    def _size(_row: tuple) -> int:
        return 1

    def __init__(self, module: QueryModule):
        super().__init__(module)
        self.rows: Iterator[tuple] = iter(())
        self.row: tuple | None = None
        self.rowid = 0

    def Filter(self, indexnum: int, indexname: str | None, constraintargs: tuple) -> None:
        self.rows = self._items(tuple(constraintargs))
        self.rowid = 0
        self.Next()

    def _read(self, args: tuple) -> Iterator[tuple]:
        return self.module.rows(args)

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
        super().Close()


class _Rows:
    """Rows already made, as ``ForeignDataWrapper.scan_batches`` reads a scan."""

    def __init__(self, rows: Iterator[tuple]):
        self.rows = rows

    def scan(self, *_args: Any) -> Iterator[tuple]:
        return self.rows


class BatchQueryCursor(_Holding):
    """The C module's cursor: the rows a ``Batch`` at a time, which SQLite
    walks in C (vtables/_speedups_c/cursor.c).  Its ``slot`` maps the
    table's columns to the batch's; the hidden argument columns read the
    one-row batch ``consts`` (slots -2, -3...)."""

    @staticmethod
    def _size(batch: Any) -> int:
        return len(batch)

    def __init__(self, module: QueryModule):
        super().__init__(module)
        c = self._c = speedups._speedups
        width = len(module.pushed.outputs)
        self.masks = (c.N_ALL,) * width
        self.slot = list(range(width)) + [-2 - i for i in range(module.nargs)]
        self.consts: Any = None
        self.batches: Iterator[Any] = iter(())
        #: rows handed over before the current batch, and up to its end
        self.base = self.after = 0

    def Filter(self, indexnum: int, indexname: str | None, constraintargs: tuple) -> None:
        args = tuple(constraintargs)
        nargs = self.module.nargs
        if nargs:  # what the hidden columns read: the arguments given, NULL for the others
            values = (args + (None,) * nargs)[:nargs]
            self.consts = self._c.rows_batch([values], (self._c.N_ALL,) * nargs)
        self.batches = self._items(args)
        self.base = self.after = 0

    def _read(self, args: tuple) -> Iterator[Any]:
        """The rows as batches, cut as a wrapper's ``scan_batches`` cuts a
        scan's: growing, and the rows before an error handed over before it
        (SQLite sees what it would see one row at a time)."""
        source = cast(ForeignDataWrapper, _Rows(self.module.rows(args)))
        make, masks = self._c.rows_batch, self.masks
        for rows in ForeignDataWrapper.scan_batches(source, [], []):
            yield make(rows, masks)

    def Batch(self) -> Any:
        """The next batch of rows, None at the end."""
        batch = next(self.batches, None)
        if batch is not None:
            self.base = self.after
            self.after += len(batch)
        return batch

    def Resolve(self, number: int, value: Any, row: int) -> Any:
        """A value not of SQLite's storage classes: as APSW's module would
        be given it (SQLite's side raises the same error for it)."""
        return value

    def Rowid(self, index: int = 0) -> int:
        return self.base + index + 1

    def Close(self) -> None:
        self.batches = iter(())
        self.consts = None
        super().Close()
