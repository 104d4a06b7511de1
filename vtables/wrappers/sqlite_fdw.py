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

from .. import types
from ..errors import UndefinedObjectError, WrapperError
from ..wrapper import (
    ColumnDefinition,
    ForeignDataWrapper,
    OptionSpec,
    Qual,
    SortKey,
    TableDefinition,
    imported,
    parse_bool,
)

# Declared-type family -> the affinity a remote column must have for
# comparisons to give the same answer on both sides.
_SAME_AFFINITY = {
    "integer": "integer",
    "real": "real",
    "numeric": "numeric",
    "text": "text",
    "any": "any",
}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _affinity(declared: str | None) -> str:
    """SQLite's affinity rules (section 3.1 of its datatype document)."""
    t = (declared or "").upper()
    if "INT" in t:
        return "integer"
    if any(k in t for k in ("CHAR", "CLOB", "TEXT")):
        return "text"
    if "BLOB" in t or not t:
        return "any"
    if any(k in t for k in ("REAL", "FLOA", "DOUB")):
        return "real"
    return "numeric"


def _resolve(path: str, database_path: str) -> str:
    path = os.path.expanduser(path)
    if os.path.isabs(path) or path.startswith("file:"):
        return path
    base = os.path.dirname(os.path.abspath(database_path)) if database_path else os.getcwd()
    return os.path.join(base, path)


class _Remote:
    """One connection to the remote file, shared by the tables of a server."""

    def __init__(self, path: str):
        if not path.startswith("file:") and not os.path.exists(path):
            raise FileNotFoundError(path)
        self.path = path
        self.db = apsw.Connection(path, flags=apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_URI)
        self.in_transaction = False
        self.savepoints: list[int] = []

    def close(self) -> None:
        self.db.close()


class SqliteFdw(ForeignDataWrapper):
    name = "sqlite_fdw"
    version = "1.0"
    conflict_modes = frozenset({"IGNORE", "REPLACE"})
    option_specs = (
        OptionSpec("database", {"server"}, required=True, doc="Path of the database file."),
        OptionSpec(
            "updatable",
            {"server", "table"},
            bool,
            default=True,
            doc="false refuses INSERT, UPDATE and DELETE.",
        ),
        OptionSpec("table", {"table"}, doc="Remote table or view name."),
        OptionSpec("column_name", {"column"}, doc="Remote column name."),
        OptionSpec("key", {"column"}, bool, doc="Column identifies a row for writes."),
    )

    def __init__(self, options: dict[str, str], columns: dict[str, ColumnDefinition]):
        super().__init__(options, columns)
        self.remote_names = {
            name: col.options.get("column_name", name) for name, col in columns.items()
        }
        self._meta: dict[str, tuple[str, str, bool]] | None = None
        self._rows: float | None = None

    # ------------------------------------------------------------ plumbing

    @property
    def remote_table(self) -> str:
        return self.options.get("table") or self.table_name

    def remote(self) -> _Remote:
        path = _resolve(self.options["database"], self.database_path)
        key = f"sqlite_fdw:{path}"
        remote = self.session.get(key)
        if remote is None:
            try:
                remote = _Remote(path)
            except (FileNotFoundError, apsw.CantOpenError):
                raise UndefinedObjectError(
                    f'server "{self.server_name}": cannot open database file "{path}"'
                ) from None
            self.session[key] = remote
        return remote

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
                try:
                    collation = db.column_metadata("main", self.remote_table, name)[1]
                except apsw.Error:  # views report no metadata
                    collation = "BINARY"
                meta[name] = (_affinity(declared), (collation or "BINARY").upper(), bool(pk))
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
            row = self._run(f"SELECT count(*) FROM {_quote(self.remote_table)}").fetchone()
            self._rows = float(max(row[0], 1))
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

    def _query(
        self,
        quals: list[Qual],
        columns: list[str],
        sortkeys: list[SortKey] | None,
        limit: int | None,
        offset: int | None,
    ) -> tuple[str, list[Any]]:
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
        path = _resolve(self.options["database"], self.database_path)
        return f"{sql}  -- on {path}"

    # ------------------------------------------------------------- writes

    def identity_columns(self) -> tuple[str, ...]:
        marked = tuple(
            name for name, col in self.columns.items() if parse_bool(col.options.get("key", "f"))
        )
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

    # ------------------------------------------------------- transactions

    def begin(self) -> None:
        remote = self.remote()
        if not remote.in_transaction:
            remote.db.execute("BEGIN")
            remote.in_transaction = True

    def commit(self) -> None:
        remote = self.remote()
        if remote.in_transaction:
            remote.in_transaction = False
            remote.savepoints.clear()
            remote.db.execute("COMMIT")

    def rollback(self) -> None:
        remote = self.remote()
        if remote.in_transaction:
            remote.in_transaction = False
            remote.savepoints.clear()
            remote.db.execute("ROLLBACK")

    def savepoint(self, level: int) -> None:
        remote = self.remote()
        if remote.in_transaction and level not in remote.savepoints:
            remote.db.execute(f"SAVEPOINT sqlmed_{level}")
            remote.savepoints.append(level)

    def release(self, level: int) -> None:
        remote = self.remote()
        if level in remote.savepoints:
            remote.db.execute(f"RELEASE sqlmed_{level}")
            del remote.savepoints[remote.savepoints.index(level) :]

    def rollback_to(self, level: int) -> None:
        remote = self.remote()
        if level in remote.savepoints:
            remote.db.execute(f"ROLLBACK TO sqlmed_{level}")
            del remote.savepoints[remote.savepoints.index(level) + 1 :]

    # ------------------------------------------------------------- import

    @classmethod
    def import_schema(
        cls,
        schema,
        server_options,
        user_options,
        options,
        restriction_type,
        restricts,
        *,
        database_path: str = "",
    ) -> list[TableDefinition]:
        path = _resolve(server_options["database"], database_path)
        if not path.startswith("file:") and not os.path.exists(path):
            raise UndefinedObjectError(f'cannot open database file "{path}"')
        db = apsw.Connection(path, flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
        try:
            import_default = parse_bool(options.get("import_default", "false"))
            import_not_null = parse_bool(options.get("import_not_null", "true"))
            remote_schema = _remote_schema(db, schema, path)
            names = db.execute(
                f"SELECT name FROM {_quote(remote_schema)}.sqlite_schema"
                " WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite%' ORDER BY name"
            ).fetchall()
            out = []
            for (name,) in names:
                if not imported(name, restriction_type, restricts):
                    continue
                columns = []
                for _cid, col, declared, notnull, default, pk, hidden in db.execute(
                    f"PRAGMA {_quote(remote_schema)}.table_xinfo({_quote(name)})"
                ):
                    if hidden:
                        continue
                    columns.append(
                        ColumnDefinition(
                            col,
                            declared or "BLOB",
                            {"key": "true"} if pk else {},
                            not_null=bool(notnull) and import_not_null,
                            default=default if import_default else None,
                        )
                    )
                out.append(TableDefinition(name, columns, {"table": name}))
            return out
        finally:
            db.close()


def _remote_schema(db: apsw.Connection, schema: str, path: str) -> str:
    """The schema of the remote file that IMPORT FOREIGN SCHEMA names: ``main``
    (``public`` is taken for it, as PostgreSQL users write), or another schema
    the remote connection has."""
    wanted = "main" if schema.lower() == "public" else schema
    for _seq, name, _file in db.execute("PRAGMA database_list"):
        if name.lower() == wanted.lower():
            return name
    raise UndefinedObjectError(
        f'schema "{schema}" is not present in database file "{path}"',
        hint="A SQLite file's tables are in the schema main (public is taken for it).",
    )
