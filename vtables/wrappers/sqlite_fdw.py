"""sqlite_fdw: foreign tables over tables and views of another SQLite database file.

Purpose
    Query, join and write tables that live in a second SQLite file as if they
    were local, with filters, sorting and limits run by that file's SQLite.

Options
    server ``database``
        Path of the database file (required).  A relative path is resolved
        against the directory of the database that holds the catalog.
    server or table ``updatable``
        ``false`` refuses INSERT, UPDATE and DELETE (default ``true``).
    table ``table``
        Name of the remote table or view (default: the foreign table's name).
    column ``column_name``
        Name of the remote column (default: the column's name).
    column ``key``
        ``true`` marks the columns that identify a row for UPDATE and DELETE;
        without any, the remote table's primary key is used.

Pushdown
    Every qual SQLite offers is sent as SQL with bound parameters; it is
    trusted to be exact (omitted from the local check) when the remote column
    compares the same way: BINARY collation and the same type affinity as the
    declared local type.  ORDER BY on such columns, LIMIT and OFFSET are sent
    too.  Writes run in a remote transaction that follows the local one,
    savepoints included.

Writes
    Rows are inserted in batches (one ``executemany`` per batch).
    ``INSERT OR IGNORE`` (and ``ON CONFLICT DO NOTHING``) and ``INSERT OR
    REPLACE`` run as the same statements in the remote file.

IMPORT FOREIGN SCHEMA
    The primary key of each remote table is marked ``key 'true'``.
    The remote schema is ``main`` (``public`` is read as ``main``); any other
    name is refused as not present in the file.  Options:
    ``import_default`` (default ``false``) and ``import_not_null`` (default
    ``true``), as postgres_fdw's.

Example
    ::

        CREATE EXTENSION sqlite_fdw;
        CREATE SERVER archive FOREIGN DATA WRAPPER sqlite_fdw
            OPTIONS (database 'archive.db');
        IMPORT FOREIGN SCHEMA main LIMIT TO (orders) FROM SERVER archive INTO main;
        SELECT count(*) FROM orders WHERE placed >= '2024-01-01';
"""

from __future__ import annotations

import os
from typing import Any

import apsw

from .. import semantics, types
from .. import wrapper as api
from ..errors import UndefinedObjectError, WrapperError
from ..remote import RemoteTransaction, TransactionAware
from ..remotesql import STATEMENT_PUSHDOWN, RemoteColumn, RemoteSQL, causes, sqlite_columns
from ..wrapper import OptionSpec, Qual, SortKey
from ..wrapper import quote_identifier as _quote

# Declared-type family -> the affinity a remote column must have for
# comparisons to give the same answer on both sides.
_SAME_AFFINITY = {
    "integer": "integer",
    "real": "real",
    "numeric": "numeric",
    "text": "text",
    "any": "any",
}


class _Remote(RemoteTransaction):
    """One connection to the remote file, shared by the tables of a server."""

    def __init__(self, path: str):
        super().__init__()
        if not path.startswith("file:") and not os.path.exists(path):
            raise FileNotFoundError(path)
        self.path = path
        self.db = apsw.Connection(path, flags=apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_URI)

    def start(self) -> None:
        self.db.execute("BEGIN")

    def finish(self, commit: bool) -> None:
        self.db.execute("COMMIT" if commit else "ROLLBACK")

    def mark(self, level: int) -> None:
        self.db.execute(f"SAVEPOINT sqlmed_{level}")

    def unmark(self, level: int) -> None:
        self.db.execute(f"RELEASE sqlmed_{level}")

    def undo_to(self, level: int) -> None:
        self.db.execute(f"ROLLBACK TO sqlmed_{level}")

    def close(self) -> None:
        self.db.close()


class SqliteFdw(TransactionAware):
    name = "sqlite_fdw"
    version = "1.0"
    conflict_modes = frozenset({"IGNORE", "REPLACE"})
    #: the remote COMMIT runs after the local one
    commit_on_sync = False
    option_specs = (
        OptionSpec("database", {"server"}, required=True, doc="Path of the database file."),
        api.UPDATABLE,
        OptionSpec("table", {"table"}, doc="Remote table or view name."),
        api.COLUMN_NAME,
        api.KEY,
        STATEMENT_PUSHDOWN,
    )

    _meta: dict[str, tuple[str, str, bool]] | None = None
    _rows: float | None = None

    # ------------------------------------------------------------ plumbing

    @property
    def remote_table(self) -> str:
        return self.settings["table"] or self.table_name

    @property
    def path(self) -> str:
        return api.resolve_path(self.settings["database"], self.database_path)

    def remote(self) -> _Remote:
        return self.context.shared_state(f"sqlite_fdw:{self.path}", self._open)

    def _open(self) -> _Remote:
        try:
            return _Remote(self.path)
        except (FileNotFoundError, apsw.CantOpenError):
            raise UndefinedObjectError(
                f'server "{self.server_name}": cannot open database file "{self.path}"'
            ) from None

    def transaction(self, start: bool = False) -> _Remote | None:
        return self.remote() if start else self.context.shared.get(f"sqlite_fdw:{self.path}")

    def _run(self, sql: str, params: Any = ()) -> apsw.Cursor:
        try:
            return self.remote().db.execute(sql, params)
        except apsw.Error as err:
            raise WrapperError(
                f'foreign table "{self.table_name}" (remote table "{self.remote_table}" on server'
                f' "{self.server_name}"): {err}',
                sqlstate="23000" if isinstance(err, apsw.ConstraintError) else None,
            ) from err

    def metadata(self) -> dict[str, tuple[str, str, bool]]:
        """Remote column -> (affinity, collation, primary key), read once."""
        if self._meta is None:
            db = self.remote().db
            meta = {}
            rows = self._run(f"PRAGMA table_xinfo({_quote(self.remote_table)})").fetchall()
            if not rows:
                raise UndefinedObjectError(
                    f'foreign table "{self.table_name}": remote table "{self.remote_table}"'
                    f' does not exist in server "{self.server_name}"'
                )
            for _cid, name, declared, _notnull, _default, pk, *_ in rows:
                name = str(name)
                try:
                    collation = db.column_metadata("main", self.remote_table, name)[1]
                except apsw.Error:  # views report no metadata
                    collation = "BINARY"
                kind = semantics.affinity(str(declared or ""))
                meta[name] = (kind, (collation or "BINARY").upper(), bool(pk))
            missing = [r for r in self.remote_names.values() if r not in meta]
            if missing:
                raise UndefinedObjectError(
                    f'foreign table "{self.table_name}": column "{missing[0]}" does not exist'
                    f' in remote table "{self.remote_table}"'
                )
            self._meta = meta
        return self._meta

    def _exact_column(self, column: str) -> bool:
        meta = self.metadata().get(self.remote_names[column])
        if meta is None:
            return False
        affinity, collation, _pk = meta
        family = types.family(self.columns[column].type)
        return collation == "BINARY" and _SAME_AFFINITY.get(family) == affinity

    def remote_sql(self) -> _SqliteSQL:
        return _SqliteSQL(self)

    # ---------------------------------------------------------- planning

    def honours(self, qual: Qual) -> bool:
        if qual.operator in ("IS NULL", "IS NOT NULL"):
            return qual.column in self.remote_names
        if qual.operator == "LIKE":
            return False  # LIKE's case folding follows each connection's pragma
        return self._exact_column(qual.column)

    def can_sort(self, sortkeys: list[SortKey]) -> bool:
        return all(self._exact_column(k.column) for k in sortkeys)

    def can_limit(self) -> bool:
        return True

    def estimate(self, quals: list[Qual], columns: list[str]) -> tuple[float, float]:
        if self._rows is None:
            self.metadata()  # a missing table or column fails here, by name
            (count,) = self._run(f"SELECT count(*) FROM {_quote(self.remote_table)}")
            self._rows = float(max(count[0], 1))
        rows = self._rows
        keys = {c for c, (_a, _c, pk) in self.metadata().items() if pk}
        for q in quals:
            remote = self.remote_names.get(q.column)
            if q.operator in ("=", "IS") and remote in keys and len(keys) == 1:
                rows = 1.0
            elif q.operator in ("=", "IS"):
                rows /= 10
            elif q.operator == "IN":
                rows = min(rows, len(q.value or ()) or 10) if remote in keys else rows / 5
            else:
                rows /= 3
        rows = max(rows, 1.0)
        return rows, 20.0 + rows

    # -------------------------------------------------------------- reads

    def _query(self, quals, columns, sortkeys, limit, offset) -> tuple[str, list[Any]]:
        """The remote SELECT for a scan, and its parameters."""
        select = ", ".join(_quote(self.remote_names[c]) for c in columns) or "NULL"
        sql = f"SELECT {select} FROM {_quote(self.remote_table)}"
        where, params = [], []
        # A qual the remote would judge differently (collation, affinity) could
        # drop rows SQLite's own check keeps: only exact ones are sent.
        for q in (q for q in quals if self.honours(q)):
            col = _quote(self.remote_names[q.column])
            if q.operator in ("IS NULL", "IS NOT NULL"):
                where.append(f"{col} {q.operator}")
            elif q.operator == "IN" and q.value is None:  # EXPLAIN: the list is not known yet
                where.append(f"{col} IN (...)")
            elif q.operator == "IN":
                values = list(q.value)
                if not values:
                    where.append("0")
                else:
                    where.append(f"{col} IN ({', '.join('?' * len(values))})")
                    params.extend(values)
            else:
                where.append(f"{col} {q.operator} ?")
                params.append(q.value)
        if where:
            sql += " WHERE " + " AND ".join(where)
        if sortkeys:
            keys = ", ".join(
                _quote(self.remote_names[k.column]) + (" DESC" if k.descending else "")
                for k in sortkeys
            )
            sql += f" ORDER BY {keys}"
        if limit is not None or offset:
            sql += " LIMIT ?"
            params.append(-1 if limit is None else limit)
        if offset:
            sql += " OFFSET ?"
            params.append(offset)
        return sql, params

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        sql, params = self._query(quals, columns, sortkeys, limit, offset)
        rows = self._run(sql, params)
        return (() for _ in rows) if not columns else rows

    def explain(self, quals, columns, sortkeys, limit, offset) -> str:
        sql, _params = self._query(quals, columns, sortkeys, limit, offset)
        return f"{sql}  -- on {self.path}"

    # ------------------------------------------------------------- writes

    def identity_columns(self) -> tuple[str, ...]:
        """Columns marked ``key 'true'``, else the remote primary key."""
        marked = super().identity_columns()
        if marked:
            return marked
        keys = {c for c, (_a, _c, pk) in self.metadata().items() if pk}
        return tuple(name for name, remote in self.remote_names.items() if remote in keys)

    def insert(self, values: dict[str, Any]) -> None:
        self.insert_many([values])

    def insert_many(self, rows: list[dict[str, Any]], on_conflict: str | None = None) -> None:
        self.check_updatable("insert")
        if not rows:
            return
        names = list(rows[0])
        cols = ", ".join(_quote(self.remote_names[n]) for n in names)
        verb = f"INSERT OR {on_conflict}" if on_conflict in self.conflict_modes else "INSERT"
        sql = (
            f"{verb} INTO {_quote(self.remote_table)} ({cols})"
            f" VALUES ({', '.join('?' * len(names))})"
        )
        try:
            self.remote().db.executemany(sql, [tuple(r[n] for n in names) for r in rows])
        except apsw.Error as err:
            raise WrapperError(
                f'foreign table "{self.table_name}": insert failed: {err}',
                sqlstate="23000" if isinstance(err, apsw.ConstraintError) else None,
            ) from err

    def _key_clause(self, identity: dict[str, Any]) -> tuple[str, list[Any]]:
        parts = [f"{_quote(self.remote_names[k])} IS ?" for k in identity]
        return " AND ".join(parts), list(identity.values())

    def update(self, identity: dict[str, Any], values: dict[str, Any]) -> None:
        self.check_updatable("update")
        sets = ", ".join(f"{_quote(self.remote_names[n])} = ?" for n in values)
        where, params = self._key_clause(identity)
        self._run(
            f"UPDATE {_quote(self.remote_table)} SET {sets} WHERE {where}",
            list(values.values()) + params,
        )

    def delete(self, identity: dict[str, Any]) -> None:
        self.check_updatable("delete")
        where, params = self._key_clause(identity)
        self._run(f"DELETE FROM {_quote(self.remote_table)} WHERE {where}", params)

    # ------------------------------------------------------------- import

    @classmethod
    def import_tables(cls, request: api.ImportRequest) -> list[api.TableDefinition]:
        path = api.resolve_path(request.server_options["database"], request.database_path)
        if not path.startswith("file:") and not os.path.exists(path):
            raise UndefinedObjectError(f'cannot open database file "{path}"')
        db = apsw.Connection(path, flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
        try:
            import_default = request.flag("import_default", False)
            import_not_null = request.flag("import_not_null", True)
            schema = _quote(_remote_schema(db, request.schema, path))
            names = db.execute(
                f"SELECT name FROM {schema}.sqlite_schema"
                " WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite%' ORDER BY name"
            ).fetchall()
            out = []
            for name in (str(row[0]) for row in names):
                if not request.wanted(name):
                    continue
                columns = []
                for _cid, col, declared, notnull, default, pk, hidden in db.execute(
                    f"PRAGMA {schema}.table_xinfo({_quote(name)})"
                ):
                    if hidden:
                        continue
                    columns.append(
                        api.ColumnDefinition(
                            str(col),
                            str(declared or "BLOB"),
                            {"key": "true"} if pk else {},
                            not_null=bool(notnull) and import_not_null,
                            default=str(default)
                            if import_default and default is not None
                            else None,
                        )
                    )
                out.append(api.TableDefinition(name, columns, {"table": name}))
            return out
        finally:
            db.close()


def _remote_schema(db: apsw.Connection, schema: str, path: str) -> str:
    """The schema of the remote file that IMPORT FOREIGN SCHEMA names: ``main``
    (``public`` is taken for it, as PostgreSQL users write), or another schema
    the remote connection has."""
    wanted = "main" if schema.lower() == "public" else schema
    for _seq, name, _file in db.execute("PRAGMA database_list"):
        if str(name).lower() == wanted.lower():
            return str(name)
    raise UndefinedObjectError(
        f'schema "{schema}" is not present in database file "{path}"',
        hint="A SQLite file's tables are in the schema main (public is taken for it).",
    )


class _SqliteSQL(RemoteSQL):
    """Statement pushdown into the remote file: SQLite there computes what
    SQLite here would, over the columns that hold the same values."""

    dialect = "sqlite"

    def __init__(self, fdw: SqliteFdw):
        self.fdw = fdw

    def key(self) -> tuple[str, str]:
        return ("sqlite_fdw", self.fdw.path)

    def enabled(self) -> bool:
        return bool(self.fdw.settings["statement_pushdown"])

    def table(self) -> tuple[str, ...]:
        return (self.fdw.remote_table,)

    def column(self, name: str) -> RemoteColumn | None:
        remote = self.fdw.remote_names.get(name)
        if remote is None:
            return None
        exact = self.fdw._exact_column(name)
        return RemoteColumn(remote, types.family(self.fdw.columns[name].type) if exact else None)

    def run(self, text: str, params: Any) -> Any:
        return self.fdw._run(text, params)

    def run_guarded(self, text: str, params: Any) -> list[tuple]:
        # SQLite undoes a failing statement alone (its statement journal):
        # the transaction stays usable with no savepoint around the query
        try:
            return self.fdw._run(text, params).fetchall()
        except apsw.Error as err:
            raise WrapperError(f"pushed query on {self.where()}: {err}") from err

    def overflowed(self, err: BaseException) -> bool:
        """SQLite's own "integer overflow" (a sum past 64 bits)."""
        return any(isinstance(e, apsw.Error) and "integer overflow" in str(e) for e in causes(err))

    def _readonly(self) -> apsw.Connection:
        path = self.fdw.path
        return self.fdw.context.shared_state(
            f"sqlite_fdw:readonly:{path}",
            lambda: apsw.Connection(path, flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI),
        )

    def describe(self, text: str) -> list[tuple[str, str]]:
        try:
            return sqlite_columns(self._readonly(), text)
        except apsw.Error as err:
            raise WrapperError(f"sqlmed_query on {self.where()}: {err}") from None

    def run_readonly(self, text: str) -> Any:
        """On a read-only connection of its own: the file as last committed."""
        try:
            return self._readonly().execute(text).fetchall()
        except apsw.Error as err:
            raise WrapperError(f"sqlmed_query on {self.where()}: {err}") from None

    def where(self) -> str:
        return f'server "{self.fdw.server_name}" (sqlite_fdw, {self.fdw.path})'
