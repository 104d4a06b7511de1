"""The catalog tables: their schema, rows decoded (and checked) into objects,
lookups, writes, and the generation token that moves with every change."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import apsw
import apsw.ext

from ..errors import CatalogError
from .objects import (
    PUBLIC,
    SQLITE_COLLATIONS,
    CheckConstraint,
    Column,
    Extension,
    ForeignTable,
    Server,
    UserMapping,
    Wrapper,
    damaged,
    display,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS sqlmed_extension(
    name TEXT PRIMARY KEY,
    version TEXT
);
CREATE TABLE IF NOT EXISTS sqlmed_fdw(
    name TEXT PRIMARY KEY,
    handler TEXT,
    validator TEXT,
    options TEXT NOT NULL DEFAULT '{}',
    extension TEXT,
    comment TEXT
);
CREATE TABLE IF NOT EXISTS sqlmed_server(
    name TEXT PRIMARY KEY,
    fdw TEXT NOT NULL,
    type TEXT,
    version TEXT,
    options TEXT NOT NULL DEFAULT '{}',
    comment TEXT
);
CREATE TABLE IF NOT EXISTS sqlmed_user_mapping(
    umuser TEXT NOT NULL,
    server TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (umuser, server)
);
CREATE TABLE IF NOT EXISTS sqlmed_ftable(
    name TEXT PRIMARY KEY COLLATE NOCASE,
    server TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    comment TEXT
);
CREATE TABLE IF NOT EXISTS sqlmed_fcolumn(
    ftable TEXT NOT NULL COLLATE NOCASE,
    attnum INTEGER NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    type TEXT NOT NULL,
    not_null INTEGER NOT NULL DEFAULT 0,
    default_sql TEXT,
    options TEXT NOT NULL DEFAULT '{}',
    comment TEXT,
    PRIMARY KEY (ftable, name)
);
CREATE TABLE IF NOT EXISTS sqlmed_fconstraint(
    ftable TEXT NOT NULL COLLATE NOCASE,
    connum INTEGER NOT NULL,
    name TEXT NOT NULL,
    check_sql TEXT NOT NULL,
    validated INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (ftable, name)
);
CREATE TABLE IF NOT EXISTS sqlmed_fcollation(
    ftable TEXT NOT NULL COLLATE NOCASE,
    name TEXT NOT NULL COLLATE NOCASE,
    collation TEXT NOT NULL,
    PRIMARY KEY (ftable, name)
);
CREATE TABLE IF NOT EXISTS sqlmed_generation(
    token INTEGER NOT NULL
);
"""

CATALOG_TABLES = (
    "sqlmed_extension",
    "sqlmed_fdw",
    "sqlmed_server",
    "sqlmed_user_mapping",
    "sqlmed_ftable",
    "sqlmed_fcolumn",
    "sqlmed_fconstraint",
    "sqlmed_fcollation",
    "sqlmed_generation",
)


def exists(conn: apsw.Connection) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM main.sqlite_master WHERE type='table' AND name='sqlmed_fcolumn'"
    ).fetchone()
    return bool(row and row[0])


def ensure(conn: apsw.Connection) -> None:
    # every statement of SCHEMA is CREATE ... IF NOT EXISTS: a file made by an
    # earlier version gets the tables added since
    conn.execute(SCHEMA)


def dump_options(options: dict[str, str]) -> str:
    return json.dumps(options, ensure_ascii=False)


def _text(value: object, label: str, what: str, table: str, *, null: bool = True) -> str | None:
    if value is None:
        if null:
            return None
        raise damaged(label, f"{what} is NULL", table)
    if not isinstance(value, str):
        raise damaged(label, f"{what} is not text", table)
    if "\x00" in value:
        raise damaged(label, f"{what} contains a NUL character", table)
    return value


def _name(value: object, label: str, table: str, what: str = "its name") -> str:
    text = _text(value, label, what, table, null=False)
    if not text:
        raise damaged(label, f"{what} is empty", table)
    return text


def _options(value: object, label: str, table: str) -> dict[str, str]:
    if value is None:
        raise damaged(label, "options are NULL", table)
    if not isinstance(value, str):
        raise damaged(label, "options are not text", table)
    try:
        options = json.loads(value)
    except (ValueError, RecursionError):
        raise damaged(label, "options are not valid JSON", table) from None
    if not isinstance(options, dict):
        raise damaged(label, "options are not a JSON object", table)
    for key, item in options.items():
        if not key or "\x00" in key:
            raise damaged(label, f"option name {display(key)} is not a name", table)
        if not isinstance(item, str):
            raise damaged(label, f"the value of option {display(key)} is not a string", table)
        if "\x00" in item:
            raise damaged(
                label, f"the value of option {display(key)} contains a NUL character", table
            )
    return options


def _rule(validator: object, handler: object) -> tuple[str | None, str | None]:
    return (
        validator if isinstance(validator, str) else None,
        handler if isinstance(handler, str) else None,
    )


_EXTENSION_SQL = "SELECT name, version FROM main.sqlmed_extension"
_WRAPPER_SQL = (
    "SELECT name, handler, validator, options, extension, comment FROM main.sqlmed_fdw AS w"
)
_SERVER_SQL = (
    "SELECT s.name, s.fdw, s.type, s.version, s.options, s.comment,"
    " w.name IS NOT NULL, w.validator, w.handler"
    " FROM main.sqlmed_server AS s LEFT JOIN main.sqlmed_fdw AS w ON w.name = s.fdw"
)
_MAPPING_SQL = (
    "SELECT m.umuser, m.server, m.options, s.name IS NOT NULL, w.validator, w.handler"
    " FROM main.sqlmed_user_mapping AS m"
    " LEFT JOIN main.sqlmed_server AS s ON s.name = m.server"
    " LEFT JOIN main.sqlmed_fdw AS w ON w.name = s.fdw"
)
_TABLE_SQL = (
    "SELECT t.name, t.server, t.options, t.comment, s.name IS NOT NULL, w.validator, w.handler"
    " FROM main.sqlmed_ftable AS t"
    " LEFT JOIN main.sqlmed_server AS s ON s.name = t.server"
    " LEFT JOIN main.sqlmed_fdw AS w ON w.name = s.fdw"
)
_CONSTRAINT_SQL = (
    "SELECT name, check_sql, validated FROM main.sqlmed_fconstraint WHERE ftable=? ORDER BY connum"
)
_COLLATION_SQL = "SELECT name, collation FROM main.sqlmed_fcollation WHERE ftable=?"
_COLUMN_SQL = (
    "SELECT name, type, not_null, default_sql, options, comment FROM main.sqlmed_fcolumn"
    " WHERE ftable=? ORDER BY attnum"
)


def _extension(conn: apsw.Connection, row: tuple) -> Extension:
    label = "an extension" if row[0] is None else f"extension {display(row[0])}"
    name = _name(row[0], label, "sqlmed_extension")
    return Extension(name, _text(row[1], label, "its version", "sqlmed_extension"))


def _wrapper(conn: apsw.Connection, row: tuple) -> Wrapper:
    label, t = f"foreign-data wrapper {display(row[0])}", "sqlmed_fdw"
    return Wrapper(
        _name(row[0], label, t),
        _text(row[1], label, "handler", t),
        _text(row[2], label, "validator", t),
        _options(row[3], label, t),
        _text(row[4], label, "extension", t),
        _text(row[5], label, "comment", t),
    )


def _owner(value: object, found: object, label: str, table: str, kind: str) -> str:
    """The name of the object a row belongs to, which must exist (``found``)."""
    name = _name(value, label, table, f"its {kind}")
    if not found:
        raise damaged(label, f"its {kind} {display(name)} does not exist", table)
    return name


def _server(conn: apsw.Connection, row: tuple) -> Server:
    label, t = f"server {display(row[0])}", "sqlmed_server"
    name = _name(row[0], label, t)
    fdw = _owner(row[1], row[6], label, t, "foreign-data wrapper")
    return Server(
        name,
        fdw,
        _text(row[2], label, "type", t),
        _text(row[3], label, "version", t),
        _options(row[4], label, t),
        _text(row[5], label, "comment", t),
        _rule(row[7], row[8]),
    )


def _mapping(conn: apsw.Connection, row: tuple) -> UserMapping:
    label = f"user mapping for {display(row[0])} on server {display(row[1])}"
    t = "sqlmed_user_mapping"
    user = _name(row[0], label, t, "its user")
    server = _owner(row[1], row[3], label, t, "server")
    return UserMapping(user, server, _options(row[2], label, t), _rule(row[4], row[5]))


def _table(conn: apsw.Connection, row: tuple) -> ForeignTable:
    label, t = f"foreign table {display(row[0])}", "sqlmed_ftable"
    name = _name(row[0], label, t)
    server = _owner(row[1], row[4], label, t, "server")
    rule = _rule(row[5], row[6])
    columns = []
    for c in conn.execute(_COLUMN_SQL, (name,)):
        clabel, ct = f"column {display(c[0])} of foreign table {display(name)}", "sqlmed_fcolumn"
        if c[2] not in (0, 1):
            raise damaged(clabel, "not_null is neither 0 nor 1", ct)
        columns.append(
            Column(
                _name(c[0], clabel, ct),
                _name(c[1], clabel, ct, "type"),
                bool(c[2]),
                _text(c[3], clabel, "default", ct),
                _options(c[4], clabel, ct),
                _text(c[5], clabel, "comment", ct),
                rule,
            )
        )
    if has_collation_table(conn):  # a file made before COLLATE has none
        collations = {str(n).lower(): c for n, c in conn.execute(_COLLATION_SQL, (name,))}
        for column in columns:
            found = collations.get(column.name.lower())
            if found is not None:
                if found not in SQLITE_COLLATIONS:
                    raise damaged(
                        f"column {display(column.name)} of foreign table {display(name)}",
                        f"unknown collation {display(found)}",
                        "sqlmed_fcollation",
                    )
                column.collation = found
    constraints = []
    if has_constraint_table(conn):  # a file made before CHECK constraints has none
        for c in conn.execute(_CONSTRAINT_SQL, (name,)):
            klabel = f"constraint {display(c[0])} of foreign table {display(name)}"
            kt = "sqlmed_fconstraint"
            if c[2] not in (0, 1):
                raise damaged(klabel, "validated is neither 0 nor 1", kt)
            constraints.append(
                CheckConstraint(
                    _name(c[0], klabel, kt), _name(c[1], klabel, kt, "check_sql"), bool(c[2])
                )
            )
    return ForeignTable(
        name,
        server,
        _options(row[2], label, t),
        _text(row[3], label, "comment", t),
        columns,
        rule,
        constraints,
    )


#: The collations a foreign column may have, by name (case-insensitive), and
#: the SQLite collation each is: PostgreSQL's "C" and "POSIX" compare bytes.
def has_collation_table(conn: apsw.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM main.sqlite_master WHERE type='table' AND name='sqlmed_fcollation'"
    ).fetchone()
    return row is not None


def has_constraint_table(conn: apsw.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM main.sqlite_master WHERE type='table' AND name='sqlmed_fconstraint'"
    ).fetchone()
    return row is not None


KINDS: dict[str, tuple[str, Callable[[apsw.Connection, tuple], Any], str, str]] = {
    # kind: (query, decoder, order, column the optional filter applies to)
    "extension": (_EXTENSION_SQL, _extension, "name", "name"),
    "wrapper": (_WRAPPER_SQL, _wrapper, "w.name", "w.name"),
    "server": (_SERVER_SQL, _server, "s.name", "s.fdw"),
    "user_mapping": (_MAPPING_SQL, _mapping, "m.server, m.umuser", "m.server"),
    "table": (_TABLE_SQL, _table, "t.name", "t.server"),
}


def scan(conn: apsw.Connection, kind: str, of: str | None = None) -> list[Any]:
    """Every catalog object of ``kind`` (extension, wrapper, server,
    user_mapping, table), in order, with a CatalogError standing in for each
    one whose rows are damaged; ``of`` keeps the servers of one wrapper, the
    mappings and tables of one server."""
    sql, decode, order, key = KINDS[kind]
    args: tuple = ()
    if of is not None:
        sql += f" WHERE {key}=?"
        args = (of,)
    out: list[Any] = []
    for row in conn.execute(f"{sql} ORDER BY {order}", args).fetchall():
        try:
            out.append(decode(conn, row))
        except CatalogError as err:
            out.append(err)
    return out


def _strict(items: list[Any]) -> list[Any]:
    for item in items:
        if isinstance(item, CatalogError):
            raise item
    return items


def _one(conn: apsw.Connection, kind: str, where: str, args: tuple) -> Any:
    sql, decode, _order, _key = KINDS[kind]
    row = conn.execute(f"{sql} WHERE {where}", args).fetchone()
    return None if row is None else decode(conn, row)


# ------------------------------------------------------------------- lookups
#
# A lookup raises CatalogError, naming the object, when its rows are damaged.


def get_extension(conn: apsw.Connection, name: str) -> str | None:
    row = conn.execute("SELECT name FROM main.sqlmed_extension WHERE name=?", (name,)).fetchone()
    return row[0] if row else None


def list_extensions(conn: apsw.Connection) -> list[Extension]:
    """The extensions of the catalog; a row with no usable name names none and
    is left out (``check`` and the dump report it)."""
    return [e for e in scan(conn, "extension") if isinstance(e, Extension)]


def get_wrapper(conn: apsw.Connection, name: str) -> Wrapper | None:
    return _one(conn, "wrapper", "w.name=?", (name,))


def list_wrappers(conn: apsw.Connection) -> list[Wrapper]:
    return _strict(scan(conn, "wrapper"))


def get_server(conn: apsw.Connection, name: str) -> Server | None:
    return _one(conn, "server", "s.name=?", (name,))


def list_servers(conn: apsw.Connection, fdw: str | None = None) -> list[Server]:
    return _strict(scan(conn, "server", fdw))


def get_user_mapping(conn: apsw.Connection, user: str, server: str) -> UserMapping | None:
    return _one(conn, "user_mapping", "m.umuser=? AND m.server=?", (user, server))


def find_user_mapping(conn: apsw.Connection, user: str, server: str) -> UserMapping | None:
    """The mapping that applies to ``user``: their own, else PUBLIC's."""
    return get_user_mapping(conn, user, server) or get_user_mapping(conn, PUBLIC, server)


def list_user_mappings(conn: apsw.Connection, server: str | None = None) -> list[UserMapping]:
    return _strict(scan(conn, "user_mapping", server))


def get_table(conn: apsw.Connection, name: str) -> ForeignTable | None:
    return _one(conn, "table", "t.name=?", (name,))


def list_tables(conn: apsw.Connection, server: str | None = None) -> list[ForeignTable]:
    return _strict(scan(conn, "table", server))


_NAMES = {
    "wrapper": ("SELECT name FROM main.sqlmed_fdw", "extension"),
    "server": ("SELECT name FROM main.sqlmed_server", "fdw"),
    "user_mapping": ("SELECT umuser FROM main.sqlmed_user_mapping", "server"),
    "table": ("SELECT name FROM main.sqlmed_ftable", "server"),
    "wrapper_extension": ("SELECT extension FROM main.sqlmed_fdw", "name"),
}


def names(conn: apsw.Connection, kind: str, of: str | None = None) -> list[Any]:
    """The names of the objects of ``kind`` (``of``: a wrapper's servers, an
    extension's wrappers, a server's mappings or tables), read without
    decoding their rows: what DROP needs, so damaged objects can be dropped."""
    sql, key = _NAMES[kind]
    if of is None:
        return [r[0] for r in conn.execute(sql)]
    return [r[0] for r in conn.execute(f"{sql} WHERE {key}=?", (of,))]


def table_name(conn: apsw.Connection, name: str) -> str | None:
    """A foreign table's name as the catalog spells it (names fold case), or None."""
    row = conn.execute("SELECT name FROM main.sqlmed_ftable WHERE name=?", (name,)).fetchone()
    return row[0] if row else None


def table_names(conn: apsw.Connection) -> list[str]:
    """The names of the foreign tables, without loading them."""
    if not exists(conn):
        return []
    rows = conn.execute("SELECT name FROM main.sqlmed_ftable ORDER BY name").fetchall()
    return [name for (name,) in rows if isinstance(name, str)]


# ------------------------------------------------------------------- writes


def put_table(conn: apsw.Connection, table: ForeignTable) -> None:
    """Insert or replace a foreign table's rows (the table and all its columns)."""
    conn.execute("DELETE FROM sqlmed_fcolumn WHERE ftable=?", (table.name,))
    conn.execute(
        "INSERT OR REPLACE INTO sqlmed_ftable(name, server, options, comment) VALUES (?,?,?,?)",
        (table.name, table.server, dump_options(table.options), table.comment),
    )
    conn.executemany(
        "INSERT INTO sqlmed_fcolumn(ftable, attnum, name, type, not_null, default_sql, options,"
        " comment) VALUES (?,?,?,?,?,?,?,?)",
        [
            (
                table.name,
                i,
                c.name,
                c.type,
                int(c.not_null),
                c.default,
                dump_options(c.options),
                c.comment,
            )
            for i, c in enumerate(table.columns, 1)
        ],
    )
    conn.execute("DELETE FROM sqlmed_fcollation WHERE ftable=?", (table.name,))
    conn.executemany(
        "INSERT INTO sqlmed_fcollation(ftable, name, collation) VALUES (?,?,?)",
        [(table.name, c.name, c.collation) for c in table.columns if c.collation],
    )
    conn.execute("DELETE FROM sqlmed_fconstraint WHERE ftable=?", (table.name,))
    conn.executemany(
        "INSERT INTO sqlmed_fconstraint(ftable, connum, name, check_sql, validated)"
        " VALUES (?,?,?,?,?)",
        [
            (table.name, i, c.name, c.check_sql, int(c.validated))
            for i, c in enumerate(table.constraints, 1)
        ],
    )


def delete_table(conn: apsw.Connection, name: str) -> None:
    if has_collation_table(conn):
        conn.execute("DELETE FROM sqlmed_fcollation WHERE ftable=?", (name,))
    if has_constraint_table(conn):
        conn.execute("DELETE FROM sqlmed_fconstraint WHERE ftable=?", (name,))
    conn.execute("DELETE FROM sqlmed_fcolumn WHERE ftable=?", (name,))
    conn.execute("DELETE FROM sqlmed_ftable WHERE name=?", (name,))


def rename_table(conn: apsw.Connection, old: str, new: str) -> None:
    if has_collation_table(conn):
        conn.execute("UPDATE sqlmed_fcollation SET ftable=? WHERE ftable=?", (new, old))
    if has_constraint_table(conn):
        conn.execute("UPDATE sqlmed_fconstraint SET ftable=? WHERE ftable=?", (new, old))
    conn.execute("UPDATE sqlmed_fcolumn SET ftable=? WHERE ftable=?", (new, old))
    conn.execute("UPDATE sqlmed_ftable SET name=? WHERE name=?", (new, old))


# --------------------------------------------------------------- generation


def generation(conn: apsw.Connection) -> int | None:
    """A token that changes with every SQL/MED statement, and goes back with
    a rollback of one: what a connection's cached wrappers were built from."""
    try:
        row = conn.execute("SELECT token FROM main.sqlmed_generation").fetchone()
    except apsw.SQLError:  # no catalog yet
        return None
    return row[0] if row else None


def bump_generation(conn: apsw.Connection) -> None:
    """A new token, inside the transaction of the statement that changed the catalog."""
    token = int.from_bytes(os.urandom(8), "big") >> 1
    conn.execute("UPDATE main.sqlmed_generation SET token=?", (token,))
    if not conn.changes():
        conn.execute("INSERT INTO main.sqlmed_generation(token) VALUES (?)", (token,))


__all__ = [
    "CATALOG_TABLES",
    "SCHEMA",
    "bump_generation",
    "delete_table",
    "dump_options",
    "ensure",
    "exists",
    "find_user_mapping",
    "generation",
    "get_extension",
    "get_server",
    "get_table",
    "get_user_mapping",
    "get_wrapper",
    "has_collation_table",
    "has_constraint_table",
    "list_extensions",
    "list_servers",
    "list_tables",
    "list_user_mappings",
    "list_wrappers",
    "names",
    "put_table",
    "rename_table",
    "scan",
    "table_name",
    "table_names",
]
