"""The names SQLite gives a result's columns, kept through the planner's rewriting.

SQLite names a result column without an alias by its text: a column holding
a subquery the planner replaced, or a held table's reference, would be named
by the rewritten text.  Such columns get their old name as an alias; a
statement where that cannot be done (a ``*`` among its items) is run as
written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import apsw

from .. import sqltext

_ENDS = {"FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "WINDOW", "UNION"}
_ENDS |= {"INTERSECT", "EXCEPT", "RETURNING"}

Describe = Callable[[Any, str], "list[tuple[str, str]]"]


def _tail(text: str) -> int:
    """Where the query of a CREATE TABLE ... AS begins (0 for a query)."""
    toks = sqltext.tokens(text)
    code = [t for t in toks if t.kind not in ("ws", "lc", "bc")]
    if not code or code[0].text.upper() != "CREATE":
        return 0
    depth = 0
    for tok in code:
        depth += (tok.text == "(") - (tok.text == ")")
        if depth == 0 and tok.kind == "word" and tok.text.upper() in ("SELECT", "WITH", "VALUES"):
            return tok.start
    return 0


def items(text: str) -> list[tuple[int, int]] | None:
    """The (start, end) of each item of the first depth-0 select list, or None."""
    toks = [t for t in sqltext.tokens(text) if t.kind not in ("ws", "lc", "bc")]
    depth = 0
    start = None
    for i, tok in enumerate(toks):
        depth += (tok.text == "(") - (tok.text == ")")
        if depth == 0 and tok.kind == "word" and tok.text.upper() == "SELECT":
            start = i + 1
            break
    if start is None:
        return None
    if start < len(toks) and toks[start].text.upper() in ("DISTINCT", "ALL"):
        start += 1
    found: list[tuple[int, int]] = []
    first = last = None
    depth = 0
    for tok in toks[start:]:
        if depth == 0 and (tok.text in (",", ";") or tok.text.upper() in _ENDS):
            if first is None or last is None:
                return None
            found.append((first.start, last.start + len(last.text)))
            first = last = None
            if tok.text != ",":
                break
            continue
        depth += (tok.text == "(") - (tok.text == ")")
        first = first or tok
        last = tok
    else:
        if first is not None and last is not None:
            found.append((first.start, last.start + len(last.text)))
    return found


def kept(db: Any, sql: str, text: str, describe: Describe) -> str | None:
    """``text`` (rewritten from ``sql``) with the columns SQLite names by their
    text aliased to the names they had; None when that cannot be done."""
    at_sql, at_text = _tail(sql), _tail(text)
    try:
        before = [name for name, _decl in describe(db, sql[at_sql:])]
    except apsw.SQLError:  # names only the planner resolves (sqlmed_query)
        return text
    after = [name for name, _decl in describe(db, text[at_text:])]
    if before == after:
        return text
    spans = items(text[at_text:])
    if spans is None or len(spans) != len(after) or len(before) != len(after):
        return None
    out = text
    for (_start, end), old, new in reversed(list(zip(spans, before, after, strict=True))):
        if old != new:
            cut = at_text + end
            out = f"{out[:cut]} AS {sqltext.quote_name(old)}{out[cut:]}"
    if [name for name, _decl in describe(db, out[at_text:])] != before:
        return None
    return out
