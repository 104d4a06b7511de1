"""Views over foreign tables: where a statement reads a view whose whole body
one server can answer, the view is read from that one remote query.

SQLite would run the view's body itself: flattened into the statement, its
joins and aggregates over foreign tables then move every row.  The planner
pushes the body as it pushes a block of the statement (``blocks.Block``),
and the reference to the view becomes the call of the query table, aliased
with the name the statement used, so the rest of the statement is
unchanged.  The view's text comes from the database file and is untrusted:
only what the allow-list accepted reaches the remote query, and nothing of
the text is put into the statement SQLite runs (its fallback reads the view
itself, under SQLite's own rules for views).

Flattening also lets SQLite hand the statement's conditions to the scans
inside the view (a key probe): a view the statement filters or joins is
pushed only when it aggregates, is limited, or its server expects few rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import apsw
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from .translate import aggregates_in

#: a word or quoted identifier of a statement's text
WORD = re.compile(
    r'"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]|[A-Za-z_\x80-\U0010ffff][\w$\x80-\U0010ffff]*'
)


@dataclass
class View:
    """A view of the main schema that names a foreign table."""

    name: str
    body: exp.Select


def _words(sql: str) -> set[str]:
    found = set()
    for word in WORD.findall(sql):
        if word[0] in '"`[':
            word = word[1:-1].replace('""', '"')
        found.add(word.lower())
    return found


def over(db: apsw.Connection, tables: set[str]) -> dict[str, str]:
    """The views of the main schema whose text names one of ``tables``
    (lower-case names): lower-case view name -> its CREATE VIEW text."""
    if not tables:
        return {}
    found = {}
    rows = apsw.Cursor(db).execute("SELECT name, sql FROM main.sqlite_master WHERE type = 'view'")
    for name, sql in rows:
        if isinstance(name, str) and isinstance(sql, str) and _words(sql) & tables:
            found[name.lower()] = sql
    return found


def parse(name: str, sql: str) -> View | None:
    """The view's SELECT, None when it is not one plain SELECT (a compound,
    a column list, text sqlglot does not read)."""
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except (SqlglotError, RecursionError, ValueError):
        return None
    if not isinstance(tree, exp.Create) or not isinstance(tree.expression, exp.Select):
        return None
    if isinstance(tree.this, exp.Schema) or tree.expression.args.get("with"):
        return None  # column names of its own, or CTEs: left to SQLite
    return View(name, tree.expression)


def constrained(tree: exp.Expression, name: str) -> bool:
    """Whether a block that reads the view ``name`` filters or joins it (its
    conditions could reach the view's scans as key probes)."""
    for table in tree.find_all(exp.Table):
        if table.name.lower() != name:
            continue
        select = table.find_ancestor(exp.Select)
        if select is None or select.args.get("where") is not None or select.args.get("joins"):
            return True
    return False


def aggregates(body: exp.Select) -> bool:
    """It groups, aggregates, is DISTINCT or is limited: few rows, or rows
    SQLite could not get by probing the view's tables."""
    return bool(
        body.args.get("group")
        or body.args.get("distinct")
        or body.args.get("limit")
        or any(aggregates_in(node) for node in body.expressions)
    )
