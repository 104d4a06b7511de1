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
    kinds = ["cmp", "in", "null", "between"] + (["like"] if family == "text" else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "like":  # SQLite's LIKE folds ASCII case only
        pattern = draw(st.sampled_from(["a%", "A%", "%é%", "%É%", "_e%", "z_d", "%", "ß%"]))
        return f"{column} {draw(st.sampled_from(['', 'NOT ']))}LIKE ?", [pattern]
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


# -- dates, timestamps and booleans: table c(id, d, ts, f, k)

SCHEMA_C = "id integer, d date, ts timestamp, f boolean, k integer"


def dated_rows(seed: int) -> list[tuple]:
    """c's rows as SQLite holds them: ISO dates, timestamps to the microsecond, 0/1."""
    rnd = random.Random(seed)

    def maybe(value):
        return None if rnd.random() < 0.15 else value

    return [
        (
            i,
            maybe(f"2024-{rnd.randint(1, 3):02d}-{rnd.randint(1, 28):02d}"),
            maybe(
                f"2024-01-{rnd.randint(1, 9):02d} {rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}"
                f":00.{rnd.choice([0, 500000, 123456]):06d}"
            ),
            maybe(rnd.randint(0, 1)),
            maybe(rnd.randint(0, 6)),
        )
        for i in range(40)
    ]


_DATES = st.sampled_from(
    ["2024-02-01", "2024-01-15", "2024-03-28", "2024-1-5", "2024-02-01 00:00:00", "x", None]
)
_STAMPS = st.sampled_from(
    [
        "2024-01-05 12:00:00.000000",
        "2024-01-03 00:00:00.500000",
        "2024-01-05",
        "2024-01-05 12:00:00",
        None,
    ]
)


@st.composite
def _dated_condition(draw) -> tuple[str, list]:
    kind = draw(st.sampled_from(["d", "ts", "literal", "f", "null"]))
    op = draw(st.sampled_from(["=", "<", "<=", ">", ">=", "<>"]))
    if kind == "d":
        return f"c.d {op} ?", [draw(_DATES)]
    if kind == "ts":
        return f"c.ts {op} ?", [draw(_STAMPS)]
    if kind == "literal":
        return "c.d BETWEEN '2024-01-10' AND '2024-02-20'", []
    if kind == "f":
        return f"c.f {op} ?", [draw(st.sampled_from([0, 1, None]))]
    return f"c.{draw(st.sampled_from(['d', 'ts', 'f']))} IS NULL", []


@st.composite
def dated_statements(draw) -> tuple[str, list]:
    """(sql, params), every one ordered by unique keys."""
    conds = draw(st.lists(_dated_condition(), max_size=2))
    where = " WHERE " + " AND ".join(c for c, _ in conds) if conds else ""
    params = [p for _, ps in conds for p in ps]
    key = draw(st.sampled_from(["c.d", "c.ts", "c.f"]))
    shape = draw(st.sampled_from(["group", "distinct", "join"]))
    if shape == "group":
        aggs = "count(*), min(c.d), max(c.ts), count(DISTINCT c.f), max(c.k)"
        return f"SELECT {key}, {aggs} FROM c{where} GROUP BY {key} ORDER BY 1", params
    if shape == "distinct":
        return f"SELECT DISTINCT {key} FROM c{where} ORDER BY 1", params
    sql = f"SELECT c.d, count(*) FROM c JOIN a ON a.k = c.k{where} GROUP BY c.d ORDER BY 1"
    return sql, params
