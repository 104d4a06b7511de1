"""The one APSW virtual-table module that serves every foreign table.

A foreign table's columns come from the catalog each time SQLite connects
the table, so the ``CREATE VIRTUAL TABLE`` text in ``sqlite_master`` names
nothing but the module: no options, no secrets.
"""

from __future__ import annotations

import re
import weakref
from typing import TYPE_CHECKING, Any

import apsw

from . import catalog
from .errors import SQLMedError, UndefinedObjectError, WrapperError
from .wrapper import ColumnDefinition

if TYPE_CHECKING:
    from .connection import Connection

MODULE_NAME = "sqlmed"

_SIMPLE_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?\Z")


class PrerequisiteError(SQLMedError):
    sqlstate = "55000"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def declaration(table: catalog.ForeignTable) -> str:
    """The CREATE TABLE text SQLite is given for a foreign table's columns."""
    parts = []
    for col in table.columns:
        ctype = col.type if _SIMPLE_TYPE.match(col.type) else _quote(col.type)
        part = f"{_quote(col.name)} {ctype}"
        if col.not_null:
            part += " NOT NULL"
        parts.append(part)
    return f"CREATE TABLE x({', '.join(parts)})"


class Module:
    def __init__(self, conn: Connection):
        self._conn = weakref.ref(conn)

    def Create(self, db: Any, modulename: str, dbname: str, tablename: str, *args: str):
        conn = self._conn()
        if dbname != "main":
            raise SQLMedError(
                f'foreign table "{tablename}" must live in the main database, not "{dbname}"'
            )
        table = catalog.get_table(conn, tablename) if catalog.exists(conn) else None
        if table is None:
            raise UndefinedObjectError(
                f'foreign table "{tablename}" is not in the sqlmed catalog',
                hint="Create foreign tables with CREATE FOREIGN TABLE.",
            )
        return declaration(table), Table(conn, table.name)

    Connect = Create


class Table:
    def __init__(self, conn: Connection, name: str):
        self._conn = weakref.ref(conn)
        self.name = name

    def _wrapper(self):
        conn = self._conn()
        return conn.wrapper_for(self.name)

    def BestIndexObject(self, index_info: apsw.IndexInfo) -> bool:
        self._wrapper()  # fails early, at planning, when the wrapper cannot serve
        index_info.estimatedCost = 1e6
        index_info.estimatedRows = 1000
        return True

    def Open(self) -> Cursor:
        return Cursor(self)

    def Disconnect(self) -> None:
        pass

    def Destroy(self) -> None:
        conn = self._conn()
        if conn is not None and self.name.lower() not in conn.rebuilding:
            catalog.delete_table(conn, self.name)
            conn.forget_table(self.name)

    def Rename(self, newname: str) -> None:
        conn = self._conn()
        catalog.rename_table(conn, self.name, newname)
        conn.forget_table(self.name)
        self.name = newname


class Cursor:
    """Streams a wrapper's rows; nothing is read ahead beyond the current row."""

    def __init__(self, table: Table):
        self.table = table
        self.rows: Any = iter(())
        self.row: tuple | None = None
        self.rowid = 0
        self.names: list[str] = []

    def Filter(self, indexnum: int, indexname: str | None, constraintargs: tuple) -> None:
        instance, columns = self.table._wrapper()
        self.names = [c.name for c in columns]
        self.rowid = 0
        self.rows = self._guard(lambda: iter(instance.scan([], self.names, None, None, None)))
        self.Next()

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
        return self.rowid

    def Column(self, number: int) -> Any:
        if number == -1:
            return self.rowid
        return self.row[number]

    def Next(self) -> None:
        row = self._guard(lambda: next(self.rows, None))
        if row is not None and isinstance(row, dict):
            row = tuple(row.get(n) for n in self.names)
        elif row is not None:
            row = tuple(row)
        self.row = row
        self.rowid += 1

    def Close(self) -> None:
        self.rows = iter(())
        self.row = None


def column_definitions(table: catalog.ForeignTable) -> dict[str, ColumnDefinition]:
    return {
        c.name: ColumnDefinition(c.name, c.type, dict(c.options), c.not_null, c.default)
        for c in table.columns
    }


def register(conn: Connection) -> None:
    conn.create_module(MODULE_NAME, Module(conn), use_bestindex_object=True)
