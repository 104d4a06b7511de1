"""Whether a database file's catalog can be trusted: its tables have the shapes
they must, and no object of the file squats a catalog or view name."""

from __future__ import annotations

import functools
from typing import Any

import apsw
import apsw.ext

from .. import grammar
from ..errors import CatalogError
from .objects import ForeignTable, check_expression, column_default, column_type, display
from .store import KINDS, SCHEMA, exists, scan

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
        rows: list[Any] = mem.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
        ).fetchall()
        for type_, name, sql in rows:
            shape = _shape(mem, "main", name) if type_ == "table" else []
            found[name.lower()] = (type_, _normal(sql), shape)
        return found
    finally:
        mem.close()


def _normal(sql: str | None) -> str:
    return " ".join((sql or "").split())


def _shape(conn: apsw.Connection, schema: str, name: str) -> list[tuple]:
    rows = conn.execute(f"PRAGMA {schema}.table_xinfo({grammar.quote_literal(name)})").fetchall()
    return [(str(r[1]).lower(), str(r[2] or "").upper(), r[3], r[4], r[5], r[6]) for r in rows]


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
    rows: list[Any] = conn.execute(
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
        for kind in KINDS:
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


__all__ = [
    "VIEW_NAMES",
    "check",
    "structure_problems",
    "verify",
]
