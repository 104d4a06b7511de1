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
    clause = [""]  # the clause keyword at each parenthesis depth
    for i, tok in enumerate(toks):
        if tok.kind in ("ws", "lc", "bc"):
            continue
        if tok.text == "(":
            clause.append("")
        elif tok.text == ")" and len(clause) > 1:
            clause.pop()
        elif tok.kind == "word" and tok.text.upper() in _CLAUSES:
            clause[-1] = tok.text.upper()
        word = tok.kind == "word" and tok.text.lower() == NAME
        opens = previous in ("FROM", "JOIN") or (
            previous == "," and clause[-1] in ("FROM", "JOIN", "ON", "USING")
        )
        if word and opens:
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


#: the keywords that begin a clause (a comma in FROM, JOIN, ON or USING
#: begins a new FROM item)
_CLAUSES = {"SELECT", "FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "JOIN", "ON", "USING"}
_CLAUSES |= {"WINDOW", "VALUES", "UNION", "INTERSECT", "EXCEPT", "RETURNING", "SET"}

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
