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
from . import fromlist

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


def calls(toks: list[sqltext.Token]) -> list[Call]:
    """The calls in FROM lists: ``sqlmed_query ( 'server' , 'query' )``."""
    found = []
    for i in fromlist.item_starts(toks):
        if toks[i].kind != "word" or toks[i].text.lower() != NAME:
            continue
        at = [fromlist.code(toks, i + 1)]
        for _ in range(4):
            at.append(fromlist.code(toks, at[-1] + 1))
        if at[-1] >= len(toks) or [toks[j].text for j in at[::2]] != ["(", ",", ")"]:
            continue
        server, query = _literal(toks[at[1]]), _literal(toks[at[3]])
        if server is not None and query is not None:
            alias = fromlist.alias_follows(toks, at[4] + 1)
            found.append(Call(i, at[4] + 1, server, query, alias))
    return found
