"""CHECK constraints of foreign tables: declared, named and kept, never enforced
(as in PostgreSQL)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlglot import exp

from .. import catalog, grammar
from ..catalog import CheckConstraint, ForeignTable
from ..errors import (
    DuplicateObjectError,
    FeatureNotSupportedError,
    SQLMedError,
    UndefinedObjectError,
)
from .base import name_of

if TYPE_CHECKING:
    from ..session import Session

logger = logging.getLogger(__name__)


# ------------------------------------------------------- check constraints
#
# As in PostgreSQL, a foreign table's CHECK constraints are declared, never
# enforced: they are assumptions about the remote data (the planner's to use),
# so rows that break them are neither refused on write nor filtered on read.

_NAMEDATALEN = 64


def _object_name(name1: str, name2: str | None, label: str) -> str:
    """PostgreSQL's makeObjectName: ``name1_name2_label``, the names shortened
    (the longer first) to fit NAMEDATALEN - 1 bytes."""
    overhead = len(label.encode()) + 1 + (1 if name2 else 0)
    avail = _NAMEDATALEN - 1 - overhead
    n1 = len(name1.encode())
    n2 = len(name2.encode()) if name2 else 0
    while n1 + n2 > avail:
        if n1 > n2:
            n1 -= 1
        else:
            n2 -= 1
    parts = [name1.encode()[:n1].decode(errors="ignore")]
    if name2:
        parts.append(name2.encode()[:n2].decode(errors="ignore"))
    return "_".join(parts + [label])


def _referenced(table: ForeignTable, expression: exp.Expression) -> list[str]:
    """The table's columns an expression names, each once, in order of
    appearance; an unknown column is refused as PostgreSQL refuses it."""
    found: list[str] = []
    for node in expression.find_all(exp.Column):
        name = name_of(node.this) if isinstance(node.this, exp.Identifier) else str(node.name)
        column = table.column(name)
        if column is None:
            raise UndefinedObjectError(f'column "{name}" does not exist', sqlstate="42703")
        if column.name not in found:
            found.append(column.name)
    return found


def _check_allowed(expression: exp.Expression) -> None:
    if expression.find(exp.Select, exp.Subquery, exp.Exists):
        raise FeatureNotSupportedError("cannot use subquery in check constraint")
    if expression.find(exp.AggFunc):
        raise SQLMedError(
            "aggregate functions are not allowed in check constraints", sqlstate="42803"
        )
    if expression.find(exp.Window):
        raise SQLMedError("window functions are not allowed in check constraints", sqlstate="42P20")


def _namespace_constraints(session: Session, table: str) -> set[str]:
    """Constraint names of the other foreign tables: PostgreSQL picks a generated
    name that no constraint of the schema has."""
    db = session.db
    if not catalog.has_constraint_table(db):
        return set()
    rows = db.execute(
        "SELECT name FROM main.sqlmed_fconstraint WHERE ftable <> ?", (table,)
    ).fetchall()
    return {str(r[0]) for r in rows}


def add_checks(session: Session, table: ForeignTable, checks: list[grammar.MedCheck]) -> None:
    """Add CHECK constraints to ``table`` (not yet written), with PostgreSQL's
    names (``<table>_<column>_check`` when the expression names one column,
    else ``<table>_check``, numbered on collision) and duplicate-name errors."""
    taken = _namespace_constraints(session, table.name)
    new_names: list[str] = []
    for check in checks:
        expression = check.args["expression"]
        _check_allowed(expression)
        columns = _referenced(table, expression)
        if check.this is not None:
            name = name_of(check.this)
            if name in new_names:
                raise DuplicateObjectError(f'check constraint "{name}" already exists')
            if any(c.name == name for c in table.constraints):
                raise DuplicateObjectError(
                    f'constraint "{name}" for relation "{table.name}" already exists'
                )
        else:
            used = taken | {c.name for c in table.constraints}
            column = columns[0] if len(columns) == 1 else None
            label, n = "check", 0
            while (name := _object_name(table.name, column, label)) in used:
                n += 1
                label = f"check{n}"
        new_names.append(name)
        # NOT VALID is kept even in CREATE FOREIGN TABLE, as PostgreSQL keeps it
        validated = not check.args.get("not_valid")
        table.constraints.append(CheckConstraint(name, grammar.to_sql(expression), validated))


def constraint_columns(check: CheckConstraint) -> set[str]:
    tree = catalog.parse_check(check.check_sql)
    if tree is None:
        return set()
    return {
        name_of(n.this).lower()
        for n in tree.find_all(exp.Column)
        if isinstance(n.this, exp.Identifier)
    }


def rename_in_checks(table: ForeignTable, old: str, new: str) -> None:
    """RENAME COLUMN: the constraints name the column by its new name."""
    for check in table.constraints:
        tree = catalog.parse_check(check.check_sql)
        if tree is None:
            continue
        tree = tree.copy()
        for node in tree.find_all(exp.Column):
            if isinstance(node.this, exp.Identifier) and name_of(node.this).lower() == old.lower():
                node.set("this", exp.Identifier(this=new, quoted=grammar.quote_ident(new) != new))
        check.check_sql = grammar.to_sql(tree)


def check_table_name(name: str) -> None:
    low = name.lower()
    if low.startswith("sqlmed_") or low.startswith("sqlite_"):
        raise SQLMedError(
            f'foreign table name "{name}" is reserved',
            hint="Names beginning with sqlmed_ or sqlite_ belong to the system.",
        )
