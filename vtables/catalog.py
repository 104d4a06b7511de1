"""The catalog: ordinary tables of the database file, plus read-only views.

The tables (prefix ``sqlmed_``) are created on the first SQL/MED statement.
The views are eponymous virtual tables registered on each connection, so
they add nothing to the file that a plain SQLite tool could trip over.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import apsw
import apsw.ext

from . import wrapper as wrapper_api

if TYPE_CHECKING:
    from .connection import Connection

PUBLIC = "public"
MASK = "********"

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
    "sqlmed_generation",
)


def exists(conn: apsw.Connection) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM main.sqlite_master WHERE type='table' AND name='sqlmed_fcolumn'"
    ).fetchone()
    return bool(row[0])


def ensure(conn: apsw.Connection) -> None:
    # every statement of SCHEMA is CREATE ... IF NOT EXISTS: a file made by an
    # earlier version gets the tables added since
    conn.execute(SCHEMA)


def _load(text: str | None) -> dict[str, str]:
    return json.loads(text) if text else {}


def dump_options(options: dict[str, str]) -> str:
    return json.dumps(options, ensure_ascii=False)


@dataclass
class Wrapper:
    name: str
    handler: str | None
    validator: str | None
    options: dict[str, str]
    extension: str | None
    comment: str | None


@dataclass
class Server:
    name: str
    fdw: str
    type: str | None
    version: str | None
    options: dict[str, str]
    comment: str | None


@dataclass
class UserMapping:
    user: str
    server: str
    options: dict[str, str]


@dataclass
class Column:
    name: str
    type: str
    not_null: bool = False
    default: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    comment: str | None = None


@dataclass
class ForeignTable:
    name: str
    server: str
    options: dict[str, str]
    comment: str | None
    columns: list[Column]

    def column(self, name: str) -> Column | None:
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)


# ------------------------------------------------------------------- lookups


def get_extension(conn: apsw.Connection, name: str) -> str | None:
    row = conn.execute("SELECT name FROM sqlmed_extension WHERE name=?", (name,)).fetchone()
    return row[0] if row else None


def list_extensions(conn: apsw.Connection) -> list[tuple[str, str | None]]:
    return conn.execute("SELECT name, version FROM sqlmed_extension ORDER BY name").fetchall()


def get_wrapper(conn: apsw.Connection, name: str) -> Wrapper | None:
    row = conn.execute(
        "SELECT name, handler, validator, options, extension, comment FROM sqlmed_fdw WHERE name=?",
        (name,),
    ).fetchone()
    return None if row is None else Wrapper(row[0], row[1], row[2], _load(row[3]), row[4], row[5])


def list_wrappers(conn: apsw.Connection) -> list[Wrapper]:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlmed_fdw ORDER BY name")]
    return [get_wrapper(conn, n) for n in names]  # type: ignore[misc]


def get_server(conn: apsw.Connection, name: str) -> Server | None:
    row = conn.execute(
        "SELECT name, fdw, type, version, options, comment FROM sqlmed_server WHERE name=?",
        (name,),
    ).fetchone()
    return None if row is None else Server(row[0], row[1], row[2], row[3], _load(row[4]), row[5])


def list_servers(conn: apsw.Connection, fdw: str | None = None) -> list[Server]:
    if fdw is None:
        names = conn.execute("SELECT name FROM sqlmed_server ORDER BY name").fetchall()
    else:
        names = conn.execute(
            "SELECT name FROM sqlmed_server WHERE fdw=? ORDER BY name", (fdw,)
        ).fetchall()
    return [get_server(conn, r[0]) for r in names]  # type: ignore[misc]


def get_user_mapping(conn: apsw.Connection, user: str, server: str) -> UserMapping | None:
    row = conn.execute(
        "SELECT umuser, server, options FROM sqlmed_user_mapping WHERE umuser=? AND server=?",
        (user, server),
    ).fetchone()
    return None if row is None else UserMapping(row[0], row[1], _load(row[2]))


def find_user_mapping(conn: apsw.Connection, user: str, server: str) -> UserMapping | None:
    """The mapping that applies to ``user``: their own, else PUBLIC's."""
    return get_user_mapping(conn, user, server) or get_user_mapping(conn, PUBLIC, server)


def list_user_mappings(conn: apsw.Connection, server: str | None = None) -> list[UserMapping]:
    sql = "SELECT umuser, server, options FROM sqlmed_user_mapping"
    args: tuple = ()
    if server is not None:
        sql += " WHERE server=?"
        args = (server,)
    rows = conn.execute(sql + " ORDER BY server, umuser", args).fetchall()
    return [UserMapping(r[0], r[1], _load(r[2])) for r in rows]


def get_table(conn: apsw.Connection, name: str) -> ForeignTable | None:
    row = conn.execute(
        "SELECT name, server, options, comment FROM sqlmed_ftable WHERE name=?", (name,)
    ).fetchone()
    if row is None:
        return None
    cols = conn.execute(
        "SELECT name, type, not_null, default_sql, options, comment FROM sqlmed_fcolumn"
        " WHERE ftable=? ORDER BY attnum",
        (row[0],),
    ).fetchall()
    columns = [Column(c[0], c[1], bool(c[2]), c[3], _load(c[4]), c[5]) for c in cols]
    return ForeignTable(row[0], row[1], _load(row[2]), row[3], columns)


def list_tables(conn: apsw.Connection, server: str | None = None) -> list[ForeignTable]:
    if server is None:
        names = conn.execute("SELECT name FROM sqlmed_ftable ORDER BY name").fetchall()
    else:
        names = conn.execute(
            "SELECT name FROM sqlmed_ftable WHERE server=? ORDER BY name", (server,)
        ).fetchall()
    return [get_table(conn, r[0]) for r in names]  # type: ignore[misc]


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


def delete_table(conn: apsw.Connection, name: str) -> None:
    conn.execute("DELETE FROM sqlmed_fcolumn WHERE ftable=?", (name,))
    conn.execute("DELETE FROM sqlmed_ftable WHERE name=?", (name,))


def rename_table(conn: apsw.Connection, old: str, new: str) -> None:
    conn.execute("UPDATE sqlmed_fcolumn SET ftable=? WHERE ftable=?", (new, old))
    conn.execute("UPDATE sqlmed_ftable SET name=? WHERE name=?", (new, old))


# -------------------------------------------------------------------- views


def _secret(conn: Connection, server: Server | None, kind: str, key: str) -> bool:
    validator = handler = None
    if server is not None:
        fdw = get_wrapper(conn, server.fdw)
        if fdw is not None:
            validator, handler = fdw.validator, fdw.handler
    return wrapper_api.is_secret(validator, kind, key, handler)


def _shown(conn: Connection, server: Server | None, kind: str, key: str, value: str) -> str:
    return MASK if _secret(conn, server, kind, key) else value


def _view(columns: tuple[str, ...]):
    def decorate(fn):
        def rows(conn: Connection):
            if not exists(conn):
                return []
            return list(fn(conn))

        rows.columns = columns
        rows.column_access = apsw.ext.VTColumnAccess.By_Index
        rows.view_name = "sqlmed_" + fn.__name__
        return rows

    return decorate


@_view(("extension_name", "extension_version"))
def extensions(conn):
    return list_extensions(conn)


@_view(("foreign_data_wrapper_name", "handler", "validator", "extension", "comment"))
def foreign_data_wrappers(conn):
    for w in list_wrappers(conn):
        yield (w.name, w.handler, w.validator, w.extension, w.comment)


@_view(("foreign_data_wrapper_name", "option_name", "option_value"))
def foreign_data_wrapper_options(conn):
    for w in list_wrappers(conn):
        for key, value in w.options.items():
            secret = wrapper_api.is_secret(w.validator, "wrapper", key, w.handler)
            shown = MASK if secret else value
            yield (w.name, key, shown)


@_view(
    (
        "foreign_server_name",
        "foreign_data_wrapper_name",
        "foreign_server_type",
        "foreign_server_version",
        "comment",
    )
)
def foreign_servers(conn):
    for s in list_servers(conn):
        yield (s.name, s.fdw, s.type, s.version, s.comment)


@_view(("foreign_server_name", "option_name", "option_value"))
def foreign_server_options(conn):
    for s in list_servers(conn):
        for key, value in s.options.items():
            yield (s.name, key, _shown(conn, s, "server", key, value))


@_view(("foreign_table_name", "foreign_server_name", "comment"))
def foreign_tables(conn):
    for t in list_tables(conn):
        yield (t.name, t.server, t.comment)


@_view(("foreign_table_name", "option_name", "option_value"))
def foreign_table_options(conn):
    for t in list_tables(conn):
        server = get_server(conn, t.server)
        for key, value in t.options.items():
            yield (t.name, key, _shown(conn, server, "table", key, value))


@_view(
    (
        "table_name",
        "column_name",
        "ordinal_position",
        "data_type",
        "is_nullable",
        "column_default",
        "comment",
    )
)
def foreign_table_columns(conn):
    for t in list_tables(conn):
        for i, c in enumerate(t.columns, 1):
            yield (t.name, c.name, i, c.type, "NO" if c.not_null else "YES", c.default, c.comment)


@_view(("table_name", "column_name", "option_name", "option_value"))
def column_options(conn):
    for t in list_tables(conn):
        server = get_server(conn, t.server)
        for c in t.columns:
            for key, value in c.options.items():
                yield (t.name, c.name, key, _shown(conn, server, "column", key, value))


@_view(("authorization_identifier", "foreign_server_name"))
def user_mappings(conn):
    for um in list_user_mappings(conn):
        yield (um.user, um.server)


@_view(("authorization_identifier", "foreign_server_name", "option_name", "option_value"))
def user_mapping_options(conn):
    # As in PostgreSQL, a mapping's option values are shown only to the user
    # it maps (everyone is mapped by PUBLIC); secrets are masked for all.
    for um in list_user_mappings(conn):
        server = get_server(conn, um.server)
        visible = um.user in (conn.user, PUBLIC)
        for key, value in um.options.items():
            shown = _shown(conn, server, "user_mapping", key, value) if visible else None
            yield (um.user, um.server, key, shown)


VIEWS = (
    extensions,
    foreign_data_wrappers,
    foreign_data_wrapper_options,
    foreign_servers,
    foreign_server_options,
    foreign_tables,
    foreign_table_options,
    foreign_table_columns,
    column_options,
    user_mappings,
    user_mapping_options,
)


def register_views(conn: Connection) -> None:
    for view in VIEWS:

        def call(view=view):
            return view(conn)

        call.columns = view.columns
        call.column_access = view.column_access
        apsw.ext.make_virtual_module(conn, view.view_name, call, eponymous_only=True)


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
