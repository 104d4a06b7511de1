"""Where a statement's FROM lists begin their items, read from its tokens:
what ``hold`` and ``escape`` replace in the text SQLite is given."""

from __future__ import annotations

from .. import sqltext

#: the keywords that begin a clause: a comma in FROM, JOIN, ON or USING
#: begins a new FROM item, elsewhere it does not
_CLAUSES = {"SELECT", "FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "WINDOW"}
_CLAUSES |= {"JOIN", "ON", "USING", "VALUES", "UNION", "INTERSECT", "EXCEPT", "RETURNING", "SET"}
_FROM_LIST = {"FROM", "JOIN", "ON", "USING"}
#: words that may follow a FROM item and are not its alias
_NOT_ALIAS = _CLAUSES | {"INNER", "LEFT", "RIGHT", "FULL", "CROSS", "NATURAL", "OUTER"}
_NOT_ALIAS |= {"INDEXED", "NOT"}

_SPACE = ("ws", "lc", "bc")


def code(toks: list[sqltext.Token], i: int) -> int:
    """The number of the first token at or after ``i`` that is code."""
    while i < len(toks) and toks[i].kind in _SPACE:
        i += 1
    return i


def name_of(tok: sqltext.Token) -> str | None:
    """The (lower-case) name a word or quoted identifier spells, else None."""
    if tok.kind == "word":
        return tok.text.lower()
    if tok.kind in ("qid", "bq"):
        return tok.text[1:-1].replace(tok.text[0] * 2, tok.text[0]).lower()
    if tok.kind == "br":
        return tok.text[1:-1].lower()
    return None


def item_starts(toks: list[sqltext.Token]) -> list[int]:
    """The numbers of the tokens that begin a FROM item."""
    starts = []
    clause = [""]  # the clause keyword at each parenthesis depth
    previous = ""
    for i, tok in enumerate(toks):
        if tok.kind in _SPACE:
            continue
        if previous in ("FROM", "JOIN") or (previous == "," and clause[-1] in _FROM_LIST):
            starts.append(i)
        text = tok.text.upper()
        if tok.text == "(":
            clause.append("")
        elif tok.text == ")" and len(clause) > 1:
            clause.pop()
        elif tok.kind == "word" and text in _CLAUSES:
            clause[-1] = text
        previous = text
    return starts


def alias_follows(toks: list[sqltext.Token], end: int) -> bool:
    """Whether an alias follows a FROM item that ends before token ``end``."""
    at = code(toks, end)
    if at >= len(toks):
        return False
    tok = toks[at]
    return tok.text.upper() == "AS" or (
        name_of(tok) is not None and tok.text.upper() not in _NOT_ALIAS
    )
