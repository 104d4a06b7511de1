"""``sqlmed_query(server, query)``: a query the user wrote, run on a server.

As DuckDB's ``postgres_query``: when a SQL server can do more than the
planner knows how to send, a statement names it in a FROM list,

    SELECT * FROM sqlmed_query('shop', 'SELECT region, percentile_cont(0.5) ...')

and the query runs there as written, in a read-only remote transaction, its
columns typed as IMPORT FOREIGN SCHEMA would type them.  Both arguments are
string literals.  The call exists only in statements a program runs: the
planner replaces it before SQLite sees the text, so a view or trigger stored
in a database file that names it fails with "no such table".
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import sqltext

NAME = "sqlmed_query"


@dataclass
class Call:
    start: int  # token numbers of the call, end excluded
    end: int
    server: str
    query: str
    alias: bool  # an alias follows


def _literal(tok: sqltext.Token) -> str | None:
    if tok.kind != "str" or not tok.text.startswith("'"):
        return None
    return tok.text[1:-1].replace("''", "'")


def _code(toks: list[sqltext.Token], i: int) -> int:
    while i < len(toks) and toks[i].kind in ("ws", "lc", "bc"):
        i += 1
    return i


def calls(toks: list[sqltext.Token]) -> list[Call]:
    """The calls in FROM lists: ``sqlmed_query ( 'server' , 'query' )``."""
    found = []
    previous = ""
    for i, tok in enumerate(toks):
        if tok.kind in ("ws", "lc", "bc"):
            continue
        word = tok.kind == "word" and tok.text.lower() == NAME
        if word and previous in ("FROM", "JOIN", ","):
            at = [_code(toks, i + 1)]
            for _ in range(4):
                at.append(_code(toks, at[-1] + 1))
            if at[-1] < len(toks) and [toks[j].text for j in (at[0], at[2], at[4])] == [
                "(",
                ",",
                ")",
            ]:
                server, query = _literal(toks[at[1]]), _literal(toks[at[3]])
                if server is not None and query is not None:
                    after = _code(toks, at[4] + 1)
                    alias = after < len(toks) and (
                        toks[after].text.upper() == "AS"
                        or (
                            toks[after].kind in ("word", "qid")
                            and toks[after].text.upper() not in _NOT_ALIAS
                        )
                    )
                    found.append(Call(i, at[4] + 1, server, query, alias))
        previous = tok.text.upper()
    return found


_NOT_ALIAS = {
    "WHERE",
    "GROUP",
    "HAVING",
    "ORDER",
    "LIMIT",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "CROSS",
    "NATURAL",
    "ON",
    "USING",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "WINDOW",
}
