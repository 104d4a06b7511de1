"""Random queries for the differential tests: the same SQL over a foreign table
and over a native SQLite copy of its rows must give the same result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st


def _between_values(draw: Any, column: str, values: dict) -> tuple[str, list]:
    low, high = sorted([draw(values[column]), draw(values[column])])
    return f"T.{column} BETWEEN ? AND ?", [low, high]


def queries(
    columns: list[str],
    values: dict[str, st.SearchStrategy],
    *,
    patterns: list[str],
    aggregates: str,
    between: Callable[[Any, str, dict], tuple[str, list]] = _between_values,
) -> st.SearchStrategy:
    """(sql, params): filters (comparisons, IN, NULL tests, LIKE/GLOB on ``name``,
    BETWEEN) joined by AND or OR, over a plain select with ORDER BY and maybe
    LIMIT/OFFSET, a join with the local ``tags`` table, or a GROUP BY ``grp``
    computing ``aggregates``.  ``{table}`` stands for the table queried."""

    @st.composite
    def condition(draw):
        col = draw(st.sampled_from(columns))
        kind = draw(st.sampled_from(["cmp", "in", "null", "like", "between"]))
        if kind == "cmp":
            op = draw(st.sampled_from(["=", "<", "<=", ">", ">=", "!=", "IS", "IS NOT"]))
            return f"T.{col} {op} ?", [draw(values[col])]
        if kind == "in":
            vals = draw(st.lists(values[col], min_size=1, max_size=4))
            neg = draw(st.booleans())
            return f"T.{col} {'NOT ' if neg else ''}IN ({', '.join('?' * len(vals))})", vals
        if kind == "null":
            return f"T.{col} IS {draw(st.sampled_from(['', 'NOT ']))}NULL", []
        if kind == "like":
            pattern = draw(st.sampled_from(patterns))
            return f"T.name {draw(st.sampled_from(['LIKE', 'GLOB']))} ?", [pattern]
        return between(draw, col, values)

    @st.composite
    def query(draw):
        conds = draw(st.lists(condition(), max_size=3))
        joiner = draw(st.sampled_from([" AND ", " OR "]))
        where = joiner.join(c for c, _ in conds)
        params = [p for _, ps in conds for p in ps]
        shape = draw(st.sampled_from(["plain", "join", "agg"]))
        if shape == "agg":
            sql = f"SELECT grp, {aggregates} FROM {{table}} AS T"
            if where:
                sql += f" WHERE {where}"
            return sql + " GROUP BY grp ORDER BY grp", params
        cols = draw(st.lists(st.sampled_from(columns), min_size=1, max_size=4, unique=True))
        if shape == "join":
            sql = (
                f"SELECT tag, {', '.join('T.' + c for c in cols)} FROM tags"
                " JOIN {table} AS T ON T.id = tags.id"
            )
        else:
            sql = f"SELECT {', '.join('T.' + c for c in cols)} FROM {{table}} AS T"
        if where:
            sql += f" WHERE {where}"
        order = draw(st.lists(st.sampled_from(columns), max_size=2, unique=True))
        keys = [f"T.{c}{draw(st.sampled_from(['', ' DESC']))}" for c in order]
        keys.append("T.id")  # a total order, so LIMIT picks the same rows
        sql += " ORDER BY " + ", ".join(keys)
        if draw(st.booleans()):
            sql += f" LIMIT {draw(st.integers(0, 10))}"
            if draw(st.booleans()):
                sql += f" OFFSET {draw(st.integers(0, 5))}"
        return sql, params

    return query()
