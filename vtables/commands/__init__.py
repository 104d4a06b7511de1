"""Executes parsed SQL/MED statements against the catalog, with PostgreSQL's rules.

Each statement runs atomically: when it fails, the catalog and the schema are
exactly what they were before it started.  ``execute`` is the entry; the
statements' handlers live in ``objects`` (wrappers, servers, user mappings,
extensions, DROP, COMMENT) and ``tables`` (foreign tables, IMPORT FOREIGN
SCHEMA, with their CHECK constraints in ``checks``); ``base`` holds what they
share.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import apsw
from sqlglot import exp

from .. import catalog, grammar
from ..errors import FeatureNotSupportedError, SQLMedError
from .base import name_of
from .objects import (
    alter_fdw,
    alter_server,
    alter_user_mapping,
    comment,
    create_extension,
    create_fdw,
    create_server,
    create_user_mapping,
    drop,
    drop_user_mapping,
)
from .tables import alter_table, create_table, import_schema

if TYPE_CHECKING:
    from ..session import Session

__all__ = ["execute", "name_of"]


def execute(session: Session, tree: exp.Expr) -> None:
    """Run one statement atomically, leaving the connection as it found it.

    Outside a transaction the statement is a transaction of its own that
    takes the write lock first (BEGIN IMMEDIATE), so concurrent DDL waits
    for the busy timeout instead of failing when a read upgrades to a write;
    inside one it is a savepoint.  On any failure, the commit's included,
    the statement is undone and no transaction is left open that the
    connection was not already in.
    """
    db = session.db
    handler: Callable[[Session, Any], None] | None = _HANDLERS.get(type(tree))  # type: ignore[arg-type, assignment]
    if handler is None:
        raise FeatureNotSupportedError(f"not an SQL/MED statement: {type(tree).__name__}")
    own = not db.in_transaction
    # what the statement deletes or overwrites in the catalog (an option's old
    # value: a password changed or dropped) is zeroed in the file, not left in
    # its free space
    erase = db.execute("PRAGMA secure_delete").fetchall()[0][0]
    db.execute("PRAGMA secure_delete = 1")
    try:
        try:
            db.execute("BEGIN IMMEDIATE" if own else "SAVEPOINT sqlmed_ddl")
        except apsw.Error as err:
            raise SQLMedError(f"{type(err).__name__}: {err}") from err
        try:
            catalog.ensure(db)
            handler(session, tree)
            catalog.bump_generation(db)
            db.execute("COMMIT" if own else "RELEASE sqlmed_ddl")
        except BaseException as err:
            _undo(session, own)
            if isinstance(err, apsw.Error):
                raise SQLMedError(f"{type(err).__name__}: {err}") from err
            raise
    finally:
        db.execute(f"PRAGMA secure_delete = {erase if erase in (0, 1, 2) else 0}")


def _undo(session: Session, own: bool) -> None:
    db = session.db
    try:
        if own:
            if db.in_transaction:
                db.execute("ROLLBACK")
        else:
            db.execute("ROLLBACK TO sqlmed_ddl; RELEASE sqlmed_ddl")
    except apsw.Error:  # SQLite already rolled back (an I/O error, a full disk)
        if own and db.in_transaction:
            db.execute("ROLLBACK")


_HANDLERS = {
    grammar.CreateFdw: create_fdw,
    grammar.AlterFdw: alter_fdw,
    grammar.MedDrop: drop,
    grammar.CreateServer: create_server,
    grammar.AlterServer: alter_server,
    grammar.CreateUserMapping: create_user_mapping,
    grammar.AlterUserMapping: alter_user_mapping,
    grammar.DropUserMapping: drop_user_mapping,
    grammar.CreateForeignTable: create_table,
    grammar.AlterForeignTable: alter_table,
    grammar.ImportForeignSchema: import_schema,
    grammar.MedComment: comment,
    grammar.CreateExtension: create_extension,
}
