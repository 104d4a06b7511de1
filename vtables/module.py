"""The one APSW virtual-table module that serves every foreign table.

A foreign table's columns come from the catalog each time SQLite connects
the table, so the ``CREATE VIRTUAL TABLE`` text in ``sqlite_master`` names
nothing but the module: no options, no secrets.

Planning (``BestIndexObject``) turns SQLite's constraints into quals, its
ORDER BY into sort keys and ``colUsed`` into the columns to fetch, and asks
the wrapper which of them it honours.  Only quals the wrapper enforces
exactly are omitted from SQLite's own check; ORDER BY is consumed only when
the wrapper sorts by all of it; LIMIT/OFFSET are handed over only when every
constraint and the whole ORDER BY are honoured.  The plan travels to
``Filter`` as JSON in ``idxStr``, which is also what EXPLAIN shows.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import apsw

from . import catalog, materialize, sqltext, types
from .errors import (  # noqa: F401 - PrerequisiteError and NotNullViolation: their old home
    FeatureNotSupportedError,
    NotNullViolation,
    PrerequisiteError,
    SQLMedError,
    UndefinedObjectError,
    WrapperError,
)
from .plan import Plan, best_index, stale
from .wrapper import ForeignDataWrapper, Qual, SortKey

if TYPE_CHECKING:
    from .session import Session

logger = logging.getLogger(__name__)

MODULE_NAME = "sqlmed"
# The conflict modes a wrapper carries out itself; ABORT, FAIL and ROLLBACK are
# SQLite's to apply when the wrapper raises.
_CONFLICT_MODES = {apsw.SQLITE_IGNORE: "IGNORE", apsw.SQLITE_REPLACE: "REPLACE"}

#: inserted rows a table holds for its wrapper's insert_many before it sends them
PENDING_ROWS = 10_000

_SIMPLE_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?\Z")


_quote = sqltext.quote_name


def declaration(table: catalog.ForeignTable) -> str:
    """The CREATE TABLE text SQLite is given for a foreign table's columns."""
    parts = []
    for col in table.columns:
        ctype = col.type if _SIMPLE_TYPE.match(col.type) else _quote(col.type)
        part = f"{_quote(col.name)} {ctype}"
        if col.collation:  # the column's collation in SQLite: comparisons, ORDER BY
            part += " COLLATE " + catalog.SQLITE_COLLATIONS[col.collation]
        if col.not_null:
            part += " NOT NULL"
        parts.append(part)
    return f"CREATE TABLE x({', '.join(parts)})"


class Module:
    def __init__(self, session: Session, batched: bool = False):
        self.session = session
        #: cursors hand rows over in batches (the C module) rather than one by one
        self.batched = batched
        #: the definition each table was last connected with
        self.known: dict[str, catalog.ForeignTable] = {}
        # The C router (vtables/_speedups_c/router.c) holds these two: they
        # are changed in place, never rebound.
        #: tables holding inserted rows not yet handed to their wrapper
        self.pending: dict[int, Table] = {}
        #: savepoints tables were told of and not yet told the end of
        self.opened: list[tuple[Table, int]] = []
        #: moves when what the router keeps of INSERT texts may no longer hold:
        #: SQL/MED statements, rollbacks, a foreign table dropped or renamed
        self.epoch = 0
        #: scans whose rows were held in memory for SQLite's rescans
        #: (vtables.materialize), since the connection opened
        self.materialized = 0

    def statement_failed(self, since: int) -> None:
        """End the savepoints a failed call opened that SQLite ended without
        telling the tables: APSW's module does not call RollbackTo or Release
        while the exception of a callback is pending (the C module does)."""
        while len(self.opened) > since:
            table, level = self.opened[-1]
            try:
                table.RollbackTo(level)
                table.Release(level)
            except Exception:  # the statement's own error is the one to report
                logger.warning(
                    "foreign table %r: rollback of a failed statement failed",
                    table.name,
                    exc_info=True,
                )
            finally:
                if self.opened and self.opened[-1] == (table, level):
                    self.opened.pop()

    def flush(self) -> None:
        """Hand every table's pending rows to its wrapper (``insert_many``)."""
        while self.pending:
            _key, table = next(iter(self.pending.items()))
            table.flush()

    def Create(self, db: Any, modulename: str, dbname: str, tablename: str, *args: str):
        db = self.session.db
        if dbname != "main":
            raise SQLMedError(
                f'foreign table "{tablename}" must live in the main database, not "{dbname}"'
            )
        key = tablename.lower()
        try:
            table = catalog.get_table(db, tablename) if catalog.exists(db) else None
        except apsw.SchemaChangeError:
            # Another connection changed the schema since SQLite read it for the
            # statement it is preparing: that statement is prepared again before
            # it runs, so the definition it is prepared with now does not matter.
            table = self.known.get(key)
            if table is None:
                raise
        else:
            if table is not None:
                if key not in self.known:
                    # another connection may have made it since this one
                    # learned its plain texts: they are looked at again
                    self.session.plain_texts.clear()
                self.known[key] = table
        if table is None:
            raise UndefinedObjectError(
                f'foreign table "{tablename}" is not in the sqlmed catalog',
                hint="Create foreign tables with CREATE FOREIGN TABLE.",
            )
        return declaration(table), Table(self.session, table, self.batched, self)

    Connect = Create


class Table:
    def __init__(
        self,
        session: Session,
        table: catalog.ForeignTable,
        batched: bool = False,
        module: Module | None = None,
    ):
        self.session = session
        self.module = module
        # Inserted rows wait here for the wrapper's insert_many, for a wrapper
        # that has one: until the statement (or executemany) ends, a savepoint
        # or commit comes, or anything reads or changes a foreign table.
        self.pending: list[dict[str, Any]] = []
        self.pending_wrapper: Any = None
        self.pending_mode: str | None = None
        self.marks: dict[int, int] = {}  # savepoint level -> pending rows when it began
        self.batched = batched
        self.name = table.name
        self.columns = table.columns
        self.names = [c.name for c in table.columns]
        self.index = {c.name: i for i, c in enumerate(table.columns)}
        self.converters = [types.converter(c.type) for c in table.columns]
        self.natives = [types.native_types(c.type) for c in table.columns]
        self.not_null = [c.name for c in table.columns if c.not_null]
        self.has_defaults = any(c.default is not None for c in table.columns)
        #: columns whose collation is not BINARY (NOCASE, RTRIM)
        self.collated = {
            i
            for i, c in enumerate(table.columns)
            if c.collation and catalog.SQLITE_COLLATIONS[c.collation] != "BINARY"
        }
        self.identities: dict[int, dict[str, Any]] = {}
        self.next_rowid = 0
        # SQLite calls Begin before a statement that writes this table scans it:
        # only then do scans also fetch the identity columns.
        self.writing = False
        self.active: Any = None

    def wrapper(self):
        return self.session.wrapper_for(self.name)[0]

    # ---------------------------------------------------------- planning

    def BestIndexObject(self, info: apsw.IndexInfo) -> bool:
        try:
            wrapper = self.wrapper()  # fails early, at planning, when no wrapper can serve
        except apsw.SchemaChangeError:
            # Another connection changed the schema while SQLite prepares a
            # statement with the schema it had: the catalog cannot be read
            # now, and the statement will be prepared again before it runs.
            return self._stale_plan(info)
        try:
            return self._best_index(wrapper, info)
        except SQLMedError:
            raise
        except Exception as err:
            raise WrapperError(f'foreign table "{self.name}": planning failed: {err}') from err

    def _best_index(self, wrapper: Any, info: apsw.IndexInfo) -> bool:
        # APSW (3.54) fails a statement whose IN list, handed over whole, is
        # empty (an IN subquery with no rows): on its path, a statement with
        # an IN subquery gets the values one at a time; the C module reads
        # the list itself
        whole = self.batched or self.session.whole_in
        plan = best_index(info, wrapper, self.name, self.names, self.collated, in_lists=whole)
        info.idxStr = plan.encode()
        return True

    def _stale_plan(self, info: apsw.IndexInfo) -> bool:
        info.estimatedCost = 1e300
        info.idxStr = stale(self.name).encode()
        return True

    def Open(self) -> Cursor:
        return BatchCursor(self) if self.batched else Cursor(self)

    def Disconnect(self) -> None:
        pass

    def Destroy(self) -> None:
        session = self.session
        if self.name.lower() not in session.rebuilding:
            catalog.delete_table(session.db, self.name)
            session.forget_table(self.name)
        if self.module is not None:
            self.module.epoch += 1

    def Rename(self, newname: str) -> None:
        catalog.rename_table(self.session.db, self.name, newname)
        self.session.forget_table(self.name)
        if self.module is not None:
            self.module.epoch += 1
        self.name = newname

    # ------------------------------------------------------------ writes

    def _writer(self, verb: str):
        wrapper = self.active or self.wrapper()
        if not type(wrapper).writable():
            raise FeatureNotSupportedError(
                f'cannot {verb} foreign table "{self.name}"',
                detail=f"Its wrapper ({type(wrapper).name or type(wrapper).__name__})"
                " is read-only.",
            )
        return wrapper

    def _values(self, fields: tuple) -> dict[str, Any]:
        values = dict(zip(self.names, fields, strict=True))
        for name in self.not_null:
            if values[name] is None:
                raise NotNullViolation(
                    f'null value in column "{name}" of relation "{self.name}" violates'
                    " not-null constraint"
                )
        return values

    def _call(self, what: str, fn, *args):
        try:
            return fn(*args)
        except SQLMedError:
            raise
        except NotImplementedError:
            raise FeatureNotSupportedError(f'cannot {what} foreign table "{self.name}"') from None
        except Exception as err:
            raise WrapperError(f'foreign table "{self.name}": {what} failed: {err}') from err

    def UpdateInsertRow(self, rowid: int | None, fields: tuple) -> int:
        if self.has_defaults:
            target = self.session.insert_target
            if target is not None and not target[1] and target[0] == self.name.lower():
                # the router saw no foreign table here (another connection made
                # it since): the statement runs again, its defaults applied
                if self.module is not None:
                    self.module.epoch += 1
                raise apsw.SchemaChangeError(
                    f'foreign table "{self.name}" was created or changed meanwhile'
                )
        wrapper = self._writer("insert into")
        mode = _CONFLICT_MODES.get(self._on_conflict())
        if mode is not None and mode not in wrapper.conflict_modes:
            raise FeatureNotSupportedError(
                f'INSERT OR {mode} is not supported on foreign table "{self.name}"',
                detail=f"Its wrapper ({type(wrapper).name or type(wrapper).__name__}) cannot"
                f" {'skip conflicting rows' if mode == 'IGNORE' else 'replace rows'} at the"
                " source.",
            )
        try:
            values = self._values(fields)
        except NotNullViolation:
            if mode == "IGNORE":  # as SQLite skips such a row under OR IGNORE
                self.next_rowid += 1
                return self.next_rowid
            raise
        if mode is None and (
            self.module is None or type(wrapper).insert_many is ForeignDataWrapper.insert_many
        ):
            self._call("insert into", wrapper.insert, values)
        else:
            if self.pending and (self.pending_wrapper is not wrapper or self.pending_mode != mode):
                self.flush()
            self.pending.append(values)
            self.pending_wrapper = wrapper
            self.pending_mode = mode
            self.module.pending[id(self)] = self  # type: ignore[union-attr]  # set when batching
            if len(self.pending) >= PENDING_ROWS:
                self.flush()
        self.next_rowid += 1
        return self.next_rowid

    def _on_conflict(self) -> int:
        if self.batched:
            from .speedups import _speedups

            return _speedups.on_conflict()
        return self.session.db.vtab_on_conflict()

    def flush(self) -> None:
        rows, wrapper, mode = self.pending, self.pending_wrapper, self.pending_mode
        self.pending = []
        self._discard()
        if rows and mode is None:
            self._call("insert into", wrapper.insert_many, rows)
        elif rows:
            self._call("insert into", wrapper.insert_many, rows, mode)

    def _discard(self, keep: int = 0) -> None:
        """Forget pending rows past the first ``keep``."""
        del self.pending[keep:]
        self.marks = {level: min(n, keep) for level, n in self.marks.items()}
        if not self.pending:
            self.pending_wrapper = None
            if self.module is not None:
                self.module.pending.pop(id(self), None)

    def _flush_all(self) -> None:
        if self.module is not None:
            self.module.flush()

    def UpdateDeleteRow(self, rowid: int) -> None:
        self._flush_all()
        wrapper = self._writer("delete from")
        self._call("delete from", wrapper.delete, self._identity(wrapper, rowid, "delete from"))

    def UpdateChangeRow(self, rowid: int, newrowid: int, fields: tuple) -> None:
        self._flush_all()
        wrapper = self._writer("update")
        identity = self._identity(wrapper, rowid, "update")
        self._call("update", wrapper.update, identity, self._values(fields))

    def _identity(self, wrapper: Any, rowid: int, verb: str) -> dict[str, Any]:
        if not wrapper.identity_columns():
            raise FeatureNotSupportedError(
                f'cannot {verb} foreign table "{self.name}"',
                detail="Its wrapper names no rowid_column to identify rows by.",
            )
        identity = self.identities.pop(rowid, None)
        if identity is None:
            raise WrapperError(f'foreign table "{self.name}": row {rowid} is no longer known')
        return identity

    # ------------------------------------------------------ transactions

    # The wrapper instance that began a transaction sees it through to the end,
    # even if the catalog row it came from is rolled back meanwhile.

    def _tx(self, method: str, *args: Any) -> None:
        if self.active is not None:
            self._call(method.replace("_", " "), getattr(self.active, method), *args)

    def Begin(self) -> None:
        self.writing = True
        # level -1 is the transaction's start: SQLite rolls back to it
        # (xRollbackTo(-1)) for ROLLBACK TO the SAVEPOINT that opened it
        self.marks = {-1: 0}
        self.active = self.wrapper()
        self._tx("begin")

    def Sync(self) -> None:
        self._flush_all()
        self._tx("pre_commit")

    def Commit(self) -> None:
        self._end("commit")

    def Rollback(self) -> None:
        self._discard()
        self._end("rollback")

    def _end(self, verb: str) -> None:
        """The end of the transaction: the wrapper commits or rolls back."""
        self.writing = False
        self.identities.clear()
        self.marks.clear()
        self._forget_savepoints(lambda n: True)
        try:
            self._tx(verb)
        finally:
            self.active = None

    # Pending rows follow savepoints as local rows do (a flush hands them to
    # the wrapper, whose own savepoints then answer for them).

    def Savepoint(self, level: int) -> None:
        self._flush_all()  # rows inserted before it belong outside it, at the source too
        self.marks[level] = len(self.pending)
        if self.module is not None:
            self.module.opened.append((self, level))
        self._tx("savepoint", level)

    def Release(self, level: int) -> None:
        self.marks = {n: m for n, m in self.marks.items() if n < level}
        self._forget_savepoints(lambda n: n >= level)
        self._tx("release", level)

    def RollbackTo(self, level: int) -> None:
        self._discard(self.marks.get(level, len(self.pending)))
        self.marks = {n: m for n, m in self.marks.items() if n <= level}
        self._forget_savepoints(lambda n: n > level)
        self._tx("rollback_to", level)

    def _forget_savepoints(self, ended) -> None:
        if self.module is not None and self.module.opened:
            self.module.opened[:] = [
                (t, n) for t, n in self.module.opened if t is not self or not ended(n)
            ]


class Cursor:
    """Streams a wrapper's rows; nothing is read ahead beyond the current row."""

    spread = 0  # rows held for rescans: a list per value (vtables.materialize)

    def __init__(self, table: Table):
        self.table = table
        self.rows: Any = iter(())
        self.row: Any = None
        self.rowid = 0
        self.count = 0
        self.positions: dict[int, Any] = {}
        self.current_rowid: int | None = None
        self.identity_columns: tuple[str, ...] = ()
        self.trusted = False  # the wrapper's tuples hold storage-format values
        self.seen: dict[Any, int] = {}  # occurrences of each row in this scan
        self.rowids: dict[tuple, int] = {}  # (row, occurrence) -> rowid, for this cursor
        #: each plan this cursor was filtered with, and the rows held for it
        self.scans: dict[str | None, materialize.Rescan] = {}
        self.serving: materialize.Rescan | None = None  # the plan whose held rows it serves
        self.wrapper: Any = None

    def Filter(self, indexnum: int, indexname: str | None, constraintargs: tuple) -> None:
        table = self.table
        if table.module is not None and table.module.pending:
            table.module.flush()  # a scan sees every row inserted before it
        scan = self.scans.get(indexname)
        if scan is None:  # each plan decoded once per cursor
            plan = Plan.decode(indexname or "")
            scan = self.scans[indexname] = materialize.Rescan(plan)
        if scan.held is not None:
            self._serve(scan, constraintargs)
            return
        plan = scan.plan
        if plan.stale:  # SQLite prepares again before running: never reached
            raise apsw.SchemaChangeError(f'foreign table "{table.name}": the schema has changed')
        names = table.names
        quals = []
        for q in plan.quals:
            value = None
            if q.position is not None:
                value = constraintargs[q.position - 1]
                if q.operator == "IN":
                    value = tuple(value)
            quals.append(Qual(names[q.column], q.operator, value))
        wrapper = self.wrapper
        if wrapper is None:  # one instance for the cursor's Filters (one statement)
            wrapper = self.wrapper = table.wrapper()
        # rows are named for UPDATE and DELETE only in a statement that writes
        self.identity_columns = wrapper.identity_columns() if table.writing else ()
        self.trusted = wrapper.coerces_values
        used = plan.columns
        if table.writing:
            extra = [table.index[n] for n in self.identity_columns if n in table.index]
            used = used + [c for c in extra if c not in used]
        columns = [names[c] for c in used]
        sortkeys = [SortKey(names[c], desc) for c, desc in plan.sort] or None
        limit = constraintargs[plan.limit - 1] if plan.limit else None
        offset = constraintargs[plan.offset - 1] if plan.offset else None
        self.positions = {c: (i, names[c]) for i, c in enumerate(used)}
        self.slot: list[int] = [0] * len(names)  # column number -> index in a tuple row
        for i, c in enumerate(used):
            self.slot[c] = i
        self.count = 0
        self.seen = {}
        self.used = used
        self.serving = None
        if scan.wanted(table.writing):
            fixed = [qual for qual, q in zip(quals, plan.quals, strict=True) if q.fixed]
            if self._hold(scan, wrapper, fixed, columns, sortkeys):
                self._serve(scan, constraintargs)
                return
        self._start(wrapper, quals, columns, sortkeys, limit, offset)

    def _start(self, wrapper, quals, columns, sortkeys, limit, offset) -> None:
        self.rows = self._guard(lambda: iter(wrapper.scan(quals, columns, sortkeys, limit, offset)))
        self.Next()

    # ------------------------------------------- rescans served from memory

    def _hold(self, scan: materialize.Rescan, wrapper, quals, columns, sortkeys) -> bool:
        """Read the scan's rows into memory, indexed for the plan's probes
        (vtables.materialize); False when they cannot be held."""
        table = self.table
        keys = materialize.key_columns(
            scan.plan.cache or [], self.used, table, None if self.trusted else table.converters
        )
        batches, normal = self._guard(lambda: self._source(wrapper, quals, columns, sortkeys))
        width, spread = len(self.used), self.spread
        if not self._guard(lambda: scan.hold(batches, width, keys, normal, spread, table.name)):
            return False
        scan.shape = self._shape()
        self._held(scan)
        if table.module is not None:
            table.module.materialized += 1
        return True

    def _source(self, wrapper, quals, columns, sortkeys) -> tuple[Any, Any]:
        """The scan's rows in batches, and how a row is made a tuple (None: kept)."""
        return (iter(wrapper.scan(quals, columns, sortkeys, None, None)),), None

    def _shape(self) -> tuple:
        return (self.used, self.positions, self.slot, self.identity_columns, self.trusted)

    def _held(self, scan: materialize.Rescan) -> None:
        """Set how the scan's answers are made for this cursor (rows as they are)."""

    def _serve(self, scan: materialize.Rescan, args: tuple) -> None:
        """A Filter answered from the rows held for the plan."""
        if self.serving is not scan:
            self._restore(scan.shape)
            self.serving = scan
        self.count = 0
        if self.seen:
            self.seen = {}
        self._answer(scan.answer(args))

    def _answer(self, rows: Any) -> None:
        self.rows = iter(rows)
        self.Next()

    def _restore(self, shape: tuple) -> None:
        self.used, self.positions, self.slot, self.identity_columns, self.trusted = shape

    def _guard(self, step):
        try:
            return step()
        except SQLMedError:
            raise
        except Exception as err:
            raise WrapperError(f'foreign table "{self.table.name}": {err}') from err

    def Eof(self) -> bool:
        return self.row is None

    def Rowid(self) -> int:
        # Rowids must be stable across the several Filter calls of one cursor:
        # SQLite's OR optimisation unions scans by rowid.  Rows with the same
        # fetched values are interchangeable, so (values, occurrence) names one.
        if self.current_rowid is not None:
            return self.current_rowid
        table = self.table
        row = self.row
        key = (
            tuple(row.get(n) for _i, n in self.positions.values())
            if isinstance(row, dict)
            else tuple(row)
        )
        try:
            hash(key)
        except TypeError:
            key = repr(key)  # type: ignore[assignment]  # an unhashable row, by its text
        occurrence = self.seen.get(key, 0)
        self.seen[key] = occurrence + 1
        rowid = self.rowids.get((key, occurrence))
        if rowid is None:
            table.next_rowid += 1
            rowid = self.rowids[(key, occurrence)] = table.next_rowid
        identity_columns = self.identity_columns  # looked up once per Filter, not per row
        if identity_columns:
            table.identities[rowid] = {
                name: self._raw(table.index[name]) for name in identity_columns
            }
        self.current_rowid = rowid
        return rowid

    def _raw(self, number: int) -> Any:
        where = self.positions.get(number)
        if where is None:
            return None
        row = self.row
        if isinstance(row, dict):
            return row.get(where[1])
        try:
            return row[where[0]]
        except IndexError:
            raise self._short(len(row)) from None

    def _short(self, width: int) -> WrapperError:
        return WrapperError(
            f'foreign table "{self.table.name}": a row of {width} values came back'
            f" for {len(self.positions)} columns"
        )

    def Column(self, number: int) -> Any:
        row = self.row
        if type(row) is tuple:
            try:
                value = row[self.slot[number]]
            except IndexError:
                raise self._short(len(row)) from None
            if self.trusted:
                return value
        else:
            value = self._raw(number)
        if value is None or type(value) in self.table.natives[number]:
            return value
        try:
            return self.table.converters[number](value)
        except (ValueError, TypeError, ArithmeticError) as err:
            table = self.table
            declared = table.columns[number].type
            raise WrapperError(
                f'foreign table "{table.name}", column "{table.names[number]}", row {self.count}:'
                f" cannot convert {value!r} to {declared}: {err}"
            ) from None

    def Next(self) -> None:
        self.current_rowid = None
        self.count += 1
        try:
            self.row = next(self.rows, None)
        except SQLMedError:
            raise
        except Exception as err:
            raise WrapperError(f'foreign table "{self.table.name}": {err}') from err

    def Close(self) -> None:
        self.rows = iter(())
        self.row = None
        self.seen = {}
        self.rowids = {}
        self.scans = {}  # rows held for rescans end with the statement
        self.wrapper = None


class BatchCursor(Cursor):
    """The cursor of the C module: hands SQLite's side batches of rows
    (``Batch``), which it walks without calling back; values that are not
    yet in their storage class come back through ``Resolve`` when read."""

    #: rows held for rescans are answered by partitions of about this many
    #: rows: a Batch made per partition rather than per value, and SQLite
    #: drops the other values' rows in C (vtables.materialize)
    spread = 8

    def _start(self, wrapper, quals, columns, sortkeys, limit, offset) -> None:
        self._layout()
        self.batches = self._guard(
            lambda: iter(wrapper.scan_batches(quals, columns, sortkeys, limit, offset))
        )

    def _layout(self) -> None:
        """The cursor's state for the columns a Filter fetches."""
        from .speedups import _speedups

        self._c = _speedups
        table = self.table
        self.current: Any = ()
        self.current_rowid = None
        # Which Python types each fetched column stores as they are.
        masks = []
        for c in self.used:
            if self.trusted:
                masks.append(_speedups.N_ALL)
                continue
            mask = 0
            for t in table.natives[c]:
                mask |= _MASKS.get(t, 0)
            masks.append(mask)
        self.masks = tuple(masks)
        self.slot = [-1] * len(table.names)
        for i, c in enumerate(self.used):
            self.slot[c] = i

    def _source(self, wrapper, quals, columns, sortkeys) -> tuple[Any, Any]:
        return iter(wrapper.scan_batches(quals, columns, sortkeys, None, None)), self._tuple

    def _shape(self) -> tuple:
        self._layout()
        return (*super()._shape(), self.masks)

    def _held(self, scan: materialize.Rescan) -> None:
        masks, rows_batch = self.masks, self._c.rows_batch
        scan.make = materialize.kept(lambda rows: self._guard(lambda: rows_batch(rows, masks)))

    def _answer(self, batch: Any) -> None:
        self.current = ()
        self.current_rowid = None
        self.batches = iter(()) if batch is None else iter((batch,))

    def _restore(self, shape: tuple) -> None:
        super()._restore(shape[:5])
        self.masks = shape[5]

    def Batch(self) -> Any:
        """The next batch of rows, None at the end."""
        try:
            item = next(self.batches, None)
            if item is None:
                self.current = ()
                return None
            if type(item) is not self._c.Batch:
                rows = item if type(item) is list else list(item)
                try:
                    item = self._c.rows_batch(rows, self.masks)
                except TypeError:  # dicts, lists, rows of another width
                    rows = [self._tuple(row) for row in rows]
                    item = self._c.rows_batch(rows, self.masks)
                self.current = rows
            else:
                if item.width < len(self.used):
                    raise self._short(item.width)
                self.current = item
            return item
        except SQLMedError:
            raise
        except Exception as err:
            raise WrapperError(f'foreign table "{self.table.name}": {err}') from err

    def _tuple(self, row: Any) -> tuple:
        width = len(self.used)
        if isinstance(row, dict):
            names = self.table.names
            return tuple(row.get(names[c]) for c in self.used)
        out = tuple(row)
        if len(out) < width:
            raise self._short(len(out))
        return out[:width]

    def Resolve(self, number: int, value: Any, row: int) -> Any:
        """A value read by SQLite that is not in its column's storage class yet."""
        if self.trusted or value is None:
            return value
        table = self.table
        if type(value) in table.natives[number]:
            return value
        try:
            return table.converters[number](value)
        except (ValueError, TypeError, ArithmeticError) as err:
            declared = table.columns[number].type
            raise WrapperError(
                f'foreign table "{table.name}", column "{table.names[number]}", row {row}:'
                f" cannot convert {value!r} to {declared}: {err}"
            ) from None

    def Rowid(self, index: int = 0) -> int:
        self.row = self.current[index]
        self.current_rowid = None
        return super().Rowid()

    def Close(self) -> None:
        super().Close()
        self.batches = iter(())
        self.current = ()


_MASKS = {int: 1, float: 2, str: 4, bytes: 8}  # _speedups.N_INT, N_FLOAT, N_STR, N_BYTES


def register(session: Session) -> Module:
    """Install the module on the session's connection: the C one when the
    speedups are on and load, else APSW's."""
    conn = session.db
    from . import speedups

    if speedups.enabled():
        module = Module(session, batched=True)
        if speedups.register(conn, MODULE_NAME, module):
            return module
    module = Module(session)
    # APSW's stub types the module as its VTModule protocol, which names every method
    conn.create_module(MODULE_NAME, module, use_bestindex_object=True, iVersion=2)  # type: ignore[arg-type]
    return module
