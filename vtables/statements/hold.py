"""Foreign tables read once per statement, where SQLite would rescan them.

SQLite builds no automatic index on a virtual table: joined on a key its
wrapper cannot look up (a CSV file; a table of another server that honours
no equality), a foreign table is filtered again for every outer row.  The
module already answers such rescans from memory (``vtables.materialize``);
for a SELECT whose blocks join such tables, the planner does better: each
reference becomes a ``MATERIALIZED`` common table expression over the foreign
table (``SELECT *``: the same columns, declared types, affinities and
collations), which SQLite reads once and indexes itself, as it indexes a
native join.  Key probes a wrapper answers (postgres_fdw, sqlite_fdw) are
never replaced: they are cheap where they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from .. import sqltext
from . import fromlist

#: a table past this many estimated rows is left to the module's own cache
HOLD_MAX_ROWS = 5_000_000

_ROWID = {"rowid", "oid", "_rowid_"}


@dataclass
class Held:
    """A foreign table read once into a materialized CTE."""

    table: str
    cte: str


def candidates(tree: exp.Expression, holdable: Callable[[str], bool]) -> set[str]:
    """The (lower-case) names of the foreign tables the statement joins that
    should be held: each in a block with two sources or more."""
    found: set[str] = set()
    for select in tree.find_all(exp.Select):
        from_ = select.args.get("from_") or select.args.get("from")
        joins = select.args.get("joins") or []
        if from_ is None or not joins:
            continue
        for node in [from_.this] + [j.this for j in joins]:
            if isinstance(node, exp.Table) and not node.args.get("catalog"):
                if node.args.get("db") and node.db.lower() != "main":
                    continue
                if holdable(node.name):
                    found.add(node.name.lower())
    return found


def references(toks: list[sqltext.Token], names: set[str]) -> list[tuple[int, int, str, bool]]:
    """Where the FROM lists name one of ``names``: (first token, end, name,
    whether an alias follows), a ``main.`` qualifier included."""
    found = []
    for start in fromlist.item_starts(toks):
        at = start
        if fromlist.name_of(toks[start]) == "main":
            dot = fromlist.code(toks, start + 1)
            if dot < len(toks) and toks[dot].text == ".":
                at = fromlist.code(toks, dot + 1)
        if at >= len(toks):
            continue
        name = fromlist.name_of(toks[at])
        after = fromlist.code(toks, at + 1)
        if name in names and (after >= len(toks) or toks[after].text not in ("(", ".")):
            found.append((start, at + 1, name, fromlist.alias_follows(toks, at + 1)))
    return found


def rewrite(
    sql: str, toks: list[sqltext.Token], tree: exp.Expression, held: dict[str, Held]
) -> str | None:
    """``sql`` with each FROM-list reference to a held table read from its
    CTE, the CTEs first; None when the references cannot all be found."""
    if any(c.name.lower() in _ROWID for c in tree.find_all(exp.Column)):
        return None  # a CTE has no rowid
    if any(c.args.get("db") for c in tree.find_all(exp.Column)):
        return None  # main.t.c would no longer name the table
    expected: dict[str, int] = {}
    for table in tree.find_all(exp.Table):
        key = table.name.lower()
        if key in held:
            expected[key] = expected.get(key, 0) + 1
    refs = references(toks, set(held))
    seen: dict[str, int] = {}
    for _start, _end, name, _alias in refs:
        seen[name] = seen.get(name, 0) + 1
    if seen != expected:
        return None
    replaced = {start: (end, name, alias) for start, end, name, alias in refs}
    out = []
    i = 0
    while i < len(toks):
        if i in replaced:
            end, name, alias = replaced[i]
            written = toks[end - 1].text
            cte = sqltext.quote_name(held[name].cte)
            out.append(cte if alias else f"{cte} AS {written}")
            i = end
            continue
        out.append(toks[i].text)
        i += 1
    body = "".join(out)
    quote = sqltext.quote_name
    ctes = ", ".join(
        f"{quote(h.cte)} AS MATERIALIZED (SELECT * FROM main.{quote(h.table)})"
        for h in held.values()
    )
    first = fromlist.code(toks, 0)
    if first < len(toks) and toks[first].text.upper() == "WITH":
        # after WITH [RECURSIVE]: the same positions in the rewritten text
        head = "".join(t.text for t in toks[: first + 1])
        after = fromlist.code(toks, first + 1)
        if after < len(toks) and toks[after].text.upper() == "RECURSIVE":
            head = "".join(t.text for t in toks[: after + 1])
        return f"{head} {ctes},{body[len(head) :]}"
    return f"WITH {ctes} {body}"
