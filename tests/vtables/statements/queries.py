"""Random statements over two tables of one server, for the differential tests
of statement pushdown: ``a(id, k, grp, n, name)`` and ``b(id, k, tag, m)``
with NULLs, duplicate keys, mixed-case and non-ASCII text and integers near
the 64-bit limits."""

from __future__ import annotations

import random

from hypothesis import strategies as st

BIG = 2**62

SCHEMA_A = "id integer, k integer, grp text, n integer, name text"
SCHEMA_B = "id integer, k integer, tag text, m integer"

TEXTS = ["a", "A", "b", "é", "É", "Zed", "zed", "", "ß", "a b"]


def rows(seed: int) -> tuple[list[tuple], list[tuple]]:
    rnd = random.Random(seed)

    def maybe(value):
        return None if rnd.random() < 0.15 else value

    a = [
        (
            i,
            maybe(rnd.randint(0, 6)),
            maybe(rnd.choice(TEXTS)),
            maybe(rnd.choice([rnd.randint(-50, 50), BIG + rnd.randint(0, 9), -BIG])),
            maybe(rnd.choice(TEXTS) + str(rnd.randint(0, 3))),
        )
        for i in range(40)
    ]
    b = [
        (i, maybe(rnd.randint(0, 6)), maybe(rnd.choice(TEXTS)), maybe(rnd.randint(-5, 5)))
        for i in range(25)
    ]
    return a, b


_INT_VALUES = st.one_of(st.integers(-60, 60), st.just(BIG), st.none())
_TEXT_VALUES = st.one_of(st.sampled_from(TEXTS), st.none())


@st.composite
def _condition(draw, columns: dict[str, str]) -> tuple[str, list]:
    column = draw(st.sampled_from(sorted(columns)))
    family = columns[column]
    values = _INT_VALUES if family == "integer" else _TEXT_VALUES
    kind = draw(st.sampled_from(["cmp", "in", "null", "between"]))
    if kind == "cmp":
        op = draw(st.sampled_from(["=", "<", "<=", ">", ">=", "!=", "<>"]))
        return f"{column} {op} ?", [draw(values)]
    if kind == "in":
        vals = draw(st.lists(values, min_size=1, max_size=3))
        neg = "NOT " if draw(st.booleans()) else ""
        return f"{column} {neg}IN ({', '.join('?' * len(vals))})", vals
    if kind == "null":
        return f"{column} IS {draw(st.sampled_from(['', 'NOT ']))}NULL", []
    low, high = draw(values), draw(values)
    return f"{column} BETWEEN ? AND ?", [low, high]


def _where(draw, columns: dict[str, str]) -> tuple[str, list]:
    conds = draw(st.lists(_condition(columns), max_size=3))
    if not conds:
        return "", []
    joiner = draw(st.sampled_from([" AND ", " OR "]))
    text = joiner.join(f"({c})" for c, _ in conds)
    return " WHERE " + text, [p for _, ps in conds for p in ps]


A = {"a.id": "integer", "a.k": "integer", "a.grp": "text", "a.n": "integer", "a.name": "text"}
B = {"b.id": "integer", "b.k": "integer", "b.tag": "text", "b.m": "integer"}


@st.composite
def statements(draw) -> tuple[str, list, bool]:
    """(sql, params, ordered): ``ordered`` when ORDER BY fixes the whole order."""
    shape = draw(st.sampled_from(["agg", "group", "join", "join_group", "distinct", "plain"]))
    join = shape.startswith("join")
    columns = {**A, **B} if join else dict(A)
    source = "a"
    if join:
        side = draw(st.sampled_from(["JOIN", "LEFT JOIN"]))
        on = draw(st.sampled_from(["a.k = b.k", "a.id = b.id", "a.grp = b.tag"]))
        source = f"a {side} b ON {on}"
    where, params = _where(draw, columns)
    ints = [c for c, f in columns.items() if f == "integer"]
    if shape in ("agg", "group", "join_group"):
        aggs = draw(
            st.lists(
                st.sampled_from(
                    ["count(*)"]
                    + [f"{f}({c})" for f in ("count", "min", "max") for c in columns]
                    + [f"{f}({c})" for f in ("sum", "avg") for c in ints if c != "a.n"]
                    + [f"count(DISTINCT {c})" for c in columns]
                ),
                min_size=1,
                max_size=3,
                unique=True,
            )
        )
        if shape == "agg":
            return f"SELECT {', '.join(aggs)} FROM {source}{where}", params, True
        key = draw(st.sampled_from(sorted(columns)))
        sql = f"SELECT {key}, {', '.join(aggs)} FROM {source}{where} GROUP BY {key}"
        if draw(st.booleans()):
            sql += f" HAVING count(*) > {draw(st.integers(0, 3))}"
        return sql + " ORDER BY 1", params, True
    picked = draw(st.lists(st.sampled_from(sorted(columns)), min_size=1, max_size=3, unique=True))
    distinct = "DISTINCT " if shape == "distinct" else ""
    sql = f"SELECT {distinct}{', '.join(picked)} FROM {source}{where}"
    order = [f"{c}{draw(st.sampled_from(['', ' DESC']))}" for c in picked]
    ordered = draw(st.booleans())
    if ordered:
        sql += " ORDER BY " + ", ".join(order)
        if draw(st.booleans()):
            sql += f" LIMIT {draw(st.integers(0, 8))}"
    # without a key in the ORDER BY, ties leave the order open: compare as multisets
    return sql, params, False


def key(rows: list[tuple]) -> list[str]:
    return sorted(repr(r) for r in rows)
