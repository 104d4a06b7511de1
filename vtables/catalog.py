"""The catalog: ordinary tables of the database file, plus read-only views.

The tables (prefix ``sqlmed_``) are created on the first SQL/MED statement.
The views are eponymous virtual tables registered on each connection, so
they add nothing to the file that a plain SQLite tool could trip over.

What is read from the tables is checked as it is decoded: a damaged row
raises CatalogError naming its object (the views and the dump leave such an
object out and say so).  A file whose own objects squat the catalog's names
(a table named like a view shadows it) is not trusted: ``check`` lists the
problems, and the views refuse to show anything while they remain.
Which options are secret is decided in one place, ``is_secret``.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, NamedTuple

import apsw
import apsw.ext
from sqlglot import exp

from . import grammar
from . import wrapper as wrapper_api
from .errors import CatalogError, SQLMedError
from .secrets import MASK

PUBLIC = "public"

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
    return bool(row[0])


def ensure(conn: apsw.Connection) -> None:
    # every statement of SCHEMA is CREATE ... IF NOT EXISTS: a file made by an
    # earlier version gets the tables added since
    conn.execute(SCHEMA)


def dump_options(options: dict[str, str]) -> str:
    return json.dumps(options, ensure_ascii=False)


# ------------------------------------------------------------------ objects
#
# Every catalog object knows which wrapper's option specs decide which of its
# options are secret (``secret_rule``: that wrapper's validator and handler
# names, filled in when the object is loaded); ``is_secret`` applies the one
# rule, and the reprs mask by it.


class _Masked:
    kind: ClassVar[str]

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):  # type: ignore[arg-type]
            if not f.repr:
                continue
            value = shown_options(self) if f.name == "options" else getattr(self, f.name)
            parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class Extension(NamedTuple):
    name: str
    version: str | None


@dataclass(repr=False)
class Wrapper(_Masked):
    kind: ClassVar[str] = "wrapper"
    name: str
    handler: str | None
    validator: str | None
    options: dict[str, str]
    extension: str | None
    comment: str | None


@dataclass(repr=False)
class Server(_Masked):
    kind: ClassVar[str] = "server"
    name: str
    fdw: str
    type: str | None
    version: str | None
    options: dict[str, str]
    comment: str | None
    secret_rule: tuple[str | None, str | None] = field(
        default=(None, None), repr=False, compare=False
    )


@dataclass(repr=False)
class UserMapping(_Masked):
    kind: ClassVar[str] = "user_mapping"
    user: str
    server: str
    options: dict[str, str]
    secret_rule: tuple[str | None, str | None] = field(
        default=(None, None), repr=False, compare=False
    )


@dataclass(repr=False)
class Column(_Masked):
    kind: ClassVar[str] = "column"
    name: str
    type: str
    not_null: bool = False
    default: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    comment: str | None = None
    secret_rule: tuple[str | None, str | None] = field(
        default=(None, None), repr=False, compare=False
    )
    #: the column's collation: "C" (bytes, as BINARY), BINARY, NOCASE or RTRIM
    collation: str | None = None


@dataclass
class CheckConstraint:
    """A CHECK constraint of a foreign table: declared, never enforced (as in
    PostgreSQL, an assumption about the remote data); ``check_sql`` is the
    expression as the grammar prints it; ``validated`` is False for NOT VALID."""

    name: str
    check_sql: str
    validated: bool = True


@dataclass(repr=False)
class ForeignTable(_Masked):
    kind: ClassVar[str] = "table"
    name: str
    server: str
    options: dict[str, str]
    comment: str | None
    columns: list[Column]
    secret_rule: tuple[str | None, str | None] = field(
        default=(None, None), repr=False, compare=False
    )
    constraints: list[CheckConstraint] = field(default_factory=list)

    def column(self, name: str) -> Column | None:
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)


CatalogObject = Wrapper | Server | UserMapping | ForeignTable | Column


def is_secret(obj: CatalogObject, key: str) -> bool:
    """Whether option ``key`` of a catalog object must never be shown: the one
    rule for views, dump, the ``sqlmed`` command and reprs.  The object's
    wrapper's option spec decides (its validator's, else its handler's); with
    no wrapper known, the usual secret names are."""
    if isinstance(obj, Wrapper):
        validator, handler = obj.validator, obj.handler
    else:
        validator, handler = obj.secret_rule
    return wrapper_api.is_secret(validator, obj.kind, key, handler)


def shown_options(obj: CatalogObject) -> dict[str, str]:
    """An object's options as they may be shown: secret values masked."""
    return {k: MASK if is_secret(obj, k) else v for k, v in obj.options.items()}


# ------------------------------------------------------------- row decoding


def display(name: object) -> str:
    """A name as messages and dump comments show it: a quoted identifier on one
    line (control characters escaped), so that no name can end a comment."""
    if name is None:
        return "NULL"
    if not isinstance(name, str):
        return "(a value that is not text)"
    return one_line('"' + name.replace('"', '""') + '"')


def one_line(text: str) -> str:
    """``text`` with every character that is not printable (line breaks
    included, whatever the convention) escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _damaged(label: str, problem: str, table: str) -> CatalogError:
    return CatalogError(
        f"catalog row for {label} is damaged: {problem}",
        hint=f"Repair or delete the row of {table} with SQL, or recreate the object from a dump.",
    )


def _text(value: object, label: str, what: str, table: str, *, null: bool = True) -> str | None:
    if value is None:
        if null:
            return None
        raise _damaged(label, f"{what} is NULL", table)
    if not isinstance(value, str):
        raise _damaged(label, f"{what} is not text", table)
    if "\x00" in value:
        raise _damaged(label, f"{what} contains a NUL character", table)
    return value


def _name(value: object, label: str, table: str, what: str = "its name") -> str:
    text = _text(value, label, what, table, null=False)
    if not text:
        raise _damaged(label, f"{what} is empty", table)
    return text  # type: ignore[return-value]


def _options(value: object, label: str, table: str) -> dict[str, str]:
    if value is None:
        raise _damaged(label, "options are NULL", table)
    if not isinstance(value, str):
        raise _damaged(label, "options are not text", table)
    try:
        options = json.loads(value)
    except (ValueError, RecursionError):
        raise _damaged(label, "options are not valid JSON", table) from None
    if not isinstance(options, dict):
        raise _damaged(label, "options are not a JSON object", table)
    for key, item in options.items():
        if not key or "\x00" in key:
            raise _damaged(label, f"option name {display(key)} is not a name", table)
        if not isinstance(item, str):
            raise _damaged(label, f"the value of option {display(key)} is not a string", table)
        if "\x00" in item:
            raise _damaged(
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


def _server(conn: apsw.Connection, row: tuple) -> Server:
    label, t = f"server {display(row[0])}", "sqlmed_server"
    name = _name(row[0], label, t)
    fdw = _name(row[1], label, t, "its foreign-data wrapper")
    if not row[6]:
        raise _damaged(label, f"its foreign-data wrapper {display(fdw)} does not exist", t)
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
    server = _name(row[1], label, t, "its server")
    if not row[3]:
        raise _damaged(label, f"its server {display(server)} does not exist", t)
    return UserMapping(user, server, _options(row[2], label, t), _rule(row[4], row[5]))


def _table(conn: apsw.Connection, row: tuple) -> ForeignTable:
    label, t = f"foreign table {display(row[0])}", "sqlmed_ftable"
    name = _name(row[0], label, t)
    server = _name(row[1], label, t, "its server")
    if not row[4]:
        raise _damaged(label, f"its server {display(server)} does not exist", t)
    rule = _rule(row[5], row[6])
    columns = []
    for c in conn.execute(_COLUMN_SQL, (name,)):
        clabel, ct = f"column {display(c[0])} of foreign table {display(name)}", "sqlmed_fcolumn"
        if c[2] not in (0, 1):
            raise _damaged(clabel, "not_null is neither 0 nor 1", ct)
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
                    raise _damaged(
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
                raise _damaged(klabel, "validated is neither 0 nor 1", kt)
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
COLLATIONS = {"c": "C", "posix": "C", "binary": "BINARY", "nocase": "NOCASE", "rtrim": "RTRIM"}
SQLITE_COLLATIONS = {"C": "BINARY", "BINARY": "BINARY", "NOCASE": "NOCASE", "RTRIM": "RTRIM"}


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


_KINDS: dict[str, tuple[str, Callable[[apsw.Connection, tuple], Any], str, str]] = {
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
    sql, decode, order, key = _KINDS[kind]
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
    sql, decode, _order, _key = _KINDS[kind]
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


def column_type(table: ForeignTable, column: Column) -> exp.Expression:
    """A column's type as an expression for the printer; CatalogError when the
    catalog's text is not exactly one data type."""
    kind = _parse_type(column.type)
    if kind is None:
        raise _column_damaged(table, column, "type is not a data type")
    return kind.copy()


def column_default(table: ForeignTable, column: Column) -> exp.Expression | None:
    """A column's default as an expression for the printer (None if it has
    none); CatalogError when the catalog's text is not one expression."""
    if column.default is None:
        return None
    default = _parse_default(column.default)
    if default is None:
        raise _column_damaged(table, column, "default is not an expression")
    return default.copy()


@functools.lru_cache(maxsize=1024)
def _parse_type(text: str) -> exp.Expression | None:
    try:
        tree = grammar.parse_one(f"CREATE FOREIGN TABLE t (c {text}) SERVER s")
    except SQLMedError:
        return None
    columns = tree.args.get("columns") if isinstance(tree, grammar.CreateForeignTable) else None
    if not columns or len(columns) != 1:
        return None
    if {k for k, v in columns[0].args.items() if v} != {"this", "kind"}:
        return None  # the text went on into options, a default, NOT NULL...
    kind = columns[0].args["kind"]
    return kind if kind.args.get("text") == text else None


@functools.lru_cache(maxsize=1024)
def _parse_default(text: str) -> exp.Expression | None:
    try:
        tree = grammar.parse_one(f"ALTER FOREIGN TABLE t ALTER c SET DEFAULT {text}")
    except SQLMedError:
        return None
    actions = tree.args.get("actions") if isinstance(tree, grammar.AlterForeignTable) else None
    if not actions or len(actions) != 1 or actions[0].args.get("kind") != "SET_DEFAULT":
        return None
    return actions[0].args["default"]


def check_expression(table: ForeignTable, check: CheckConstraint) -> exp.Expression:
    """A CHECK constraint's expression for the printer; CatalogError when the
    catalog's text is not one expression."""
    tree = parse_check(check.check_sql)
    if tree is None:
        label = f"constraint {display(check.name)} of foreign table {display(table.name)}"
        raise _damaged(label, "check_sql is not an expression", "sqlmed_fconstraint")
    return tree.copy()


@functools.lru_cache(maxsize=1024)
def parse_check(text: str) -> exp.Expression | None:
    """The expression of ``CHECK (text)``, or None if the text is not exactly one."""
    try:
        tree = grammar.parse_one(f"ALTER FOREIGN TABLE t ADD CHECK ({text})")
    except SQLMedError:
        return None
    actions = tree.args.get("actions") if isinstance(tree, grammar.AlterForeignTable) else None
    if not actions or len(actions) != 1 or actions[0].args.get("kind") != "ADD_CONSTRAINT":
        return None
    check = actions[0].this
    if check.args.get("not_valid") or check.this is not None:
        return None
    return check.args["expression"]


def _column_damaged(table: ForeignTable, column: Column, problem: str) -> CatalogError:
    label = f"column {display(column.name)} of foreign table {display(table.name)}"
    return _damaged(label, problem, "sqlmed_fcolumn")


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


# ------------------------------------------------------------------ trust
#
# Names beginning with sqlmed_ belong to the catalog.  A file that defines
# anything else under them (a table or view named like one of the views below
# shadows it, since SQLite prefers a file's own tables to eponymous virtual
# tables), replaces a catalog table by something of another shape, or hangs a
# trigger on one, cannot be trusted to show its own catalog.


@functools.lru_cache(maxsize=4)
def _expected(schema: str) -> dict[str, tuple[str, str, list[tuple]]]:
    """name -> (type, sql, columns) of each object SCHEMA creates."""
    mem = apsw.Connection(":memory:")
    try:
        mem.execute(schema)
        found = {}
        for type_, name, sql in mem.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
        ).fetchall():
            shape = _shape(mem, "main", name) if type_ == "table" else []
            found[name.lower()] = (type_, _normal(sql), shape)
        return found
    finally:
        mem.close()


def _normal(sql: str | None) -> str:
    return " ".join((sql or "").split())


def _shape(conn: apsw.Connection, schema: str, name: str) -> list[tuple]:
    rows = conn.execute(f"PRAGMA {schema}.table_xinfo({grammar.quote_literal(name)})").fetchall()
    return [(r[1].lower(), (r[2] or "").upper(), r[3], r[4], r[5], r[6]) for r in rows]


#: The read-only views each connection registers (vtables.views), whose names
#: a file's own objects may not take.
VIEW_NAMES = tuple(
    "sqlmed_" + name
    for name in (
        "extensions",
        "foreign_data_wrappers",
        "foreign_data_wrapper_options",
        "foreign_servers",
        "foreign_server_options",
        "foreign_tables",
        "foreign_table_options",
        "foreign_table_columns",
        "foreign_table_constraints",
        "column_options",
        "user_mappings",
        "user_mapping_options",
    )
)


def _view_names() -> dict[str, str]:
    return {name.lower(): name for name in VIEW_NAMES}


def structure_problems(conn: apsw.Connection) -> list[str]:
    """What in the file squats the catalog's names or tampers with its tables."""
    expected = _expected(SCHEMA)
    views = _view_names()
    problems = []
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM main.sqlite_master"
        " WHERE name LIKE 'sqlmed~_%' ESCAPE '~' OR tbl_name LIKE 'sqlmed~_%' ESCAPE '~'"
        " ORDER BY name"
    ).fetchall()
    for type_, name, tbl_name, sql in rows:
        low = name.lower()
        what = f"{type_} {display(name)}"
        if type_ == "index" and sql is None:
            continue  # the automatic index of a table, reported with it if need be
        if low in expected:
            want_type, want_sql, want_shape = expected[low]
            if type_ != want_type:
                problems.append(f"{what} stands where the SQL/MED catalog has a {want_type}")
            elif _normal(sql) != want_sql and not _same_shape(conn, name, sql, want_shape):
                problems.append(f"catalog {what} does not have the catalog's columns")
        elif low in views:
            problems.append(
                f"the file defines {what}, which would shadow the catalog view {views[low]}"
            )
        elif low.startswith("sqlmed_"):
            problems.append(
                f"the file defines {what}: names beginning with sqlmed_ belong to the"
                " SQL/MED catalog"
            )
        elif type_ == "trigger":
            problems.append(
                f"the file defines {what} on catalog table {display(tbl_name)}: it could"
                " rewrite catalog rows behind SQL/MED's back"
            )
    return problems


def _same_shape(conn: apsw.Connection, name: str, sql: str | None, want: list[tuple]) -> bool:
    if (sql or "").lstrip().upper().startswith("CREATE VIRTUAL"):
        return False
    try:
        have = {col[0]: col for col in _shape(conn, "main", name)}
    except apsw.Error:
        return False
    return all(have.get(col[0]) == col for col in want)


def verify(conn: apsw.Connection) -> None:
    """Raise CatalogError, naming each object, if the file squats the
    catalog's names: what would be shown of its catalog cannot be trusted."""
    problems = structure_problems(conn)
    if problems:
        raise _untrusted(problems)


def _untrusted(problems: list[str]) -> CatalogError:
    return CatalogError(
        "the SQL/MED catalog of this database file cannot be trusted: " + "; ".join(problems),
        hint="Look at what these objects are, then remove them with SQL that names"
        ' the schema (DROP TABLE main."name", DROP VIEW, DROP TRIGGER or DROP INDEX'
        " likewise); the catalog views show the catalog again once they are gone.",
    )


def check(conn: apsw.Connection) -> list[str]:
    """Every problem of the catalog, one message each: objects of the file that
    squat its names, then damaged rows (which the views and the dump leave
    out).  An empty list: the catalog can be shown as it is."""
    problems = structure_problems(conn)
    if not exists(conn):
        return problems
    try:
        for kind in _KINDS:
            for item in scan(conn, kind):
                if isinstance(item, CatalogError):
                    problems.append(item.message)
                elif isinstance(item, ForeignTable):
                    for column in item.columns:
                        for probe in (column_type, column_default):
                            try:
                                probe(item, column)
                            except CatalogError as err:
                                problems.append(err.message)
                    for constraint in item.constraints:
                        try:
                            check_expression(item, constraint)
                        except CatalogError as err:
                            problems.append(err.message)
    except apsw.Error:  # a catalog table of the wrong shape, reported above
        if not problems:
            raise
    return problems


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
