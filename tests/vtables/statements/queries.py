"""Random statements over two tables of one server, for the differential tests
of statement pushdown: ``a(id, k, grp, n, name)`` and ``b(id, k, tag, m)``
with NULLs, duplicate keys, mixed-case and non-ASCII text and integers near
the 64-bit limits; scalar expressions (arithmetic with negative operands and
division by zero, ``||``, ``length``, ``coalesce``, ``CASE``, the scalar
``max``/``min``, CASTs) as select items, conditions, GROUP BY and ORDER BY
keys and inside aggregates.  Arithmetic that leaves 64 bits (SQLite goes on
in floating point) is drawn only for remotes that compute as SQLite does
(``overflow``)."""

from __future__ import annotations

import random
import re

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


_SMALL = st.integers(-9, 9)
_COLUMN = re.compile(r"\b[ab]\.[a-z]+")
#: integers near the 64-bit limits, for arithmetic that SQLite takes to REAL
_HUGE = st.sampled_from([2**63 - 1, -(2**63), 2**62, -3])


@st.composite
def int_expr(draw, columns: dict[str, str], overflow: bool = False, depth: int = 2) -> str:
    """An integer expression over ``columns``: a.n (near the limits) takes
    part in arithmetic only when ``overflow``."""
    ints = sorted(c for c, f in columns.items() if f == "integer" and (overflow or c != "a.n"))
    texts = sorted(c for c, f in columns.items() if f == "text")
    leaf = st.one_of(st.sampled_from(ints), _SMALL.map(str))
    if depth == 0:
        return draw(leaf)
    inner = int_expr(columns, overflow, depth - 1)
    kind = draw(st.sampled_from(["leaf", "op", "op", "neg", "abs", "fn", "case", "len", "huge"]))
    if kind == "op":
        op = draw(st.sampled_from(["+", "-", "*", "/", "%"]))
        return f"({draw(inner)} {op} {draw(inner)})"
    if kind == "neg":  # "--" would start a comment
        return f"-({draw(inner)})"
    if kind == "abs":  # abs(INT64_MIN) is an error in SQLite: never of a.n
        return f"abs({draw(int_expr(columns, False, depth - 1))})"
    if kind == "fn":
        fn = draw(st.sampled_from(["coalesce", "ifnull", "max", "min", "nullif", "cast"]))
        if fn == "cast":
            return f"CAST({draw(inner)} AS INTEGER)"
        return f"{fn}({draw(inner)}, {draw(inner)})"
    if kind == "case":
        cond, _ = draw(_condition(columns, params=False))
        if draw(st.booleans()):
            return (
                f"CASE {draw(inner)} WHEN {draw(_SMALL)} THEN {draw(inner)} ELSE {draw(inner)} END"
            )
        return f"CASE WHEN {cond} THEN {draw(inner)} END"
    if kind == "len" and texts:
        return f"length({draw(text_expr(columns, overflow, depth - 1))})"
    if kind == "huge" and overflow:
        column = "a.n" if "a.n" in columns else ints[0]
        op = draw(st.sampled_from(["+", "-", "*", "/"]))
        return f"({column} {op} {draw(_HUGE)})"
    return draw(leaf)


@st.composite
def text_expr(draw, columns: dict[str, str], overflow: bool = False, depth: int = 1) -> str:
    texts = sorted(c for c, f in columns.items() if f == "text")
    leaf = st.one_of(st.sampled_from(texts), st.sampled_from(TEXTS).map(lambda t: f"'{t}'"))
    if depth == 0:
        return draw(leaf)
    inner = text_expr(columns, overflow, depth - 1)
    kind = draw(st.sampled_from(["leaf", "concat", "concat", "fn", "cast", "case"]))
    if kind == "concat":
        return f"{draw(inner)} || {draw(inner)}"
    if kind == "fn":
        fn = draw(st.sampled_from(["coalesce", "ifnull", "max", "min", "nullif"]))
        return f"{fn}({draw(inner)}, {draw(inner)})"
    if kind == "cast":
        spelling = draw(st.sampled_from(["TEXT", "VARCHAR(10)"]))
        return f"CAST({draw(int_expr(columns, overflow, 0))} AS {spelling})"
    if kind == "case":
        return f"CASE WHEN {draw(inner)} < 'b' THEN {draw(inner)} ELSE {draw(inner)} END"
    return draw(leaf)


@st.composite
def _condition(draw, columns: dict[str, str], params: bool = True, overflow: bool = False):
    column = draw(st.sampled_from(sorted(columns)))
    family = columns[column]
    if draw(st.integers(0, 4)) == 0:  # an expression compared, or matched
        if family == "integer":
            column = draw(int_expr(columns, overflow, 1))
        else:
            column = f"({draw(text_expr(columns, overflow, 1))})"
    if not params:
        op = draw(st.sampled_from(["=", "<", ">=", "<>"]))
        other = draw(_SMALL) if family == "integer" else f"'{draw(st.sampled_from(TEXTS))}'"
        return f"{column} {op} {other}", []
    values = _INT_VALUES if family == "integer" else _TEXT_VALUES
    kinds = ["cmp", "in", "null", "between", "sub"] + (["like"] if family == "text" else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "sub":
        return draw(_subquery(columns, column, family))
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


@st.composite
def _subquery(draw, columns: dict[str, str], column: str, family: str) -> tuple[str, list]:
    """A condition with a subquery over b (as "bb"), maybe correlated with the block."""
    ints = sorted(c for c, f in columns.items() if f == "integer")
    outer = draw(st.sampled_from(ints))
    inner_where = draw(
        st.sampled_from(["", " WHERE bb.m > ?", f" WHERE bb.k = {outer}", " WHERE bb.tag < ?"])
    )
    params = [draw(_TEXT_VALUES if "tag" in inner_where else _INT_VALUES)] * ("?" in inner_where)
    kind = draw(st.sampled_from(["in", "exists", "scalar"]))
    if kind == "exists":
        neg = draw(st.sampled_from(["", "NOT "]))
        return f"{neg}EXISTS (SELECT 1 FROM b bb{inner_where})", params
    if kind == "in":
        inner = "bb.tag" if family == "text" else draw(st.sampled_from(["bb.k", "bb.m", "bb.id"]))
        neg = draw(st.sampled_from(["", "NOT "]))
        return f"{column} {neg}IN (SELECT {inner} FROM b bb{inner_where})", params
    agg = draw(st.sampled_from(["max", "min", "count"]))
    inner = "bb.tag" if family == "text" and agg != "count" else "bb.m"
    if agg == "count" and family == "text":
        column = outer
    op = draw(st.sampled_from(["=", "<", ">="]))
    return f"{column} {op} (SELECT {agg}({inner}) FROM b bb{inner_where})", params


def _where(draw, columns: dict[str, str], overflow: bool = False) -> tuple[str, list]:
    conds = draw(st.lists(_condition(columns, overflow=overflow), max_size=3))
    if not conds:
        return "", []
    joiner = draw(st.sampled_from([" AND ", " OR "]))
    text = joiner.join(f"({c})" for c, _ in conds)
    return " WHERE " + text, [p for _, ps in conds for p in ps]


A = {"a.id": "integer", "a.k": "integer", "a.grp": "text", "a.n": "integer", "a.name": "text"}
B = {"b.id": "integer", "b.k": "integer", "b.tag": "text", "b.m": "integer"}


def _aggregates(draw, columns: dict[str, str], overflow: bool) -> list[str]:
    ints = [c for c, f in columns.items() if f == "integer"]
    summed = st.one_of(st.sampled_from([c for c in ints if c != "a.n"]), int_expr(columns))
    any_value = st.one_of(st.sampled_from(sorted(columns)), int_expr(columns, overflow, 1))
    aggregate = st.one_of(
        st.just("count(*)"),
        st.tuples(st.sampled_from(["count", "min", "max", "count(DISTINCT"]), any_value).map(
            lambda fa: f"{fa[0]} {fa[1]})" if "DISTINCT" in fa[0] else f"{fa[0]}({fa[1]})"
        ),
        st.tuples(st.sampled_from(["sum", "avg", "total"]), summed).map(
            lambda fa: f"{fa[0]}({fa[1]})"
        ),
        st.tuples(st.sampled_from(["min", "max"]), text_expr(columns)).map(
            lambda fa: f"{fa[0]}({fa[1]})"
        ),
    )
    return draw(st.lists(aggregate, min_size=1, max_size=3, unique=True))


def _item(draw, columns: dict[str, str], overflow: bool) -> str:
    """A select item: a column, or now and then an expression."""
    kind = draw(st.sampled_from(["column", "column", "column", "int", "text"]))
    item = ""
    if kind == "int":
        item = draw(int_expr(columns, overflow))
    elif kind == "text":
        item = draw(text_expr(columns, overflow))
    # a number in GROUP BY or ORDER BY is a position: never a constant item
    if not _COLUMN.search(item):
        item = draw(st.sampled_from(sorted(columns)))
    return item


@st.composite
def statements(draw, overflow: bool = False) -> tuple[str, list, bool]:
    """(sql, params, ordered): ``ordered`` when ORDER BY fixes the whole order;
    arithmetic may leave 64 bits only when ``overflow``."""
    shape = draw(st.sampled_from(["agg", "group", "join", "join_group", "distinct", "plain"]))
    join = shape.startswith("join")
    columns = {**A, **B} if join else dict(A)
    source = "a"
    if join:
        side = draw(st.sampled_from(["JOIN", "LEFT JOIN"]))
        on = draw(st.sampled_from(["a.k = b.k", "a.id = b.id", "a.grp = b.tag", "a.k = b.m % 3"]))
        source = f"a {side} b ON {on}"
    where, params = _where(draw, columns, overflow)
    if shape in ("agg", "group", "join_group"):
        aggs = _aggregates(draw, columns, overflow)
        if shape == "agg":
            return f"SELECT {', '.join(aggs)} FROM {source}{where}", params, True
        key = _item(draw, columns, overflow)
        sql = f"SELECT {key}, {', '.join(aggs)} FROM {source}{where} GROUP BY {key}"
        if draw(st.booleans()):
            sql += f" HAVING count(*) > {draw(st.integers(0, 3))}"
        return sql + " ORDER BY 1", params, True
    picked = [_item(draw, columns, overflow) for _ in range(draw(st.integers(1, 3)))]
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
    kind = draw(st.sampled_from(["d", "ts", "literal", "f", "null", "date"]))
    op = draw(st.sampled_from(["=", "<", "<=", ">", ">=", "<>"]))
    if kind == "d":
        return f"c.d {op} ?", [draw(_DATES)]
    if kind == "ts":
        return f"c.ts {op} ?", [draw(_STAMPS)]
    if kind == "literal":
        return "c.d BETWEEN '2024-01-10' AND '2024-02-20'", []
    if kind == "date":  # date() of a timestamp: its day, as text SQLite compares
        if draw(st.booleans()):
            return f"date(c.ts) {op} c.d", []
        return f"date(c.ts) {op} ?", [draw(_DATES)]
    if kind == "f":
        return f"c.f {op} ?", [draw(st.sampled_from([0, 1, None]))]
    return f"c.{draw(st.sampled_from(['d', 'ts', 'f']))} IS NULL", []


@st.composite
def dated_statements(draw) -> tuple[str, list]:
    """(sql, params), every one ordered by unique keys."""
    conds = draw(st.lists(_dated_condition(), max_size=2))
    where = " WHERE " + " AND ".join(c for c, _ in conds) if conds else ""
    params = [p for _, ps in conds for p in ps]
    key = draw(st.sampled_from(["c.d", "c.ts", "c.f", "date(c.ts)", "date(c.d)"]))
    shape = draw(st.sampled_from(["group", "distinct", "join"]))
    if shape == "group":
        aggs = "count(*), min(c.d), max(c.ts), count(DISTINCT c.f), max(c.k), min(date(c.ts))"
        return f"SELECT {key}, {aggs} FROM c{where} GROUP BY {key} ORDER BY 1", params
    if shape == "distinct":
        return f"SELECT DISTINCT {key} FROM c{where} ORDER BY 1", params
    sql = f"SELECT c.d, count(*) FROM c JOIN a ON a.k = c.k{where} GROUP BY c.d ORDER BY 1"
    return sql, params
