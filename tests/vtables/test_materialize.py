"""Rescans answered from memory (vtables.materialize): a foreign table SQLite
filters once per outer row is read once per statement, with the same results
as the same SQL over native copies of the data."""

from __future__ import annotations

import itertools
import os
import re
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vtables
from vtables import WrapperError, materialize
from vtables.materialize import KeyColumn, Materialized
from vtables.plan import Plan, PlannedQual


@pytest.fixture(params=["c", "python"])
def which(request, monkeypatch):
    """Each test on both paths: the C module's batch cursor and APSW's."""
    if request.param == "c":
        if not vtables.speedups.built():
            pytest.fail("the C speedups are not built")
        monkeypatch.setenv("SQLMED_SPEEDUPS", "1")
    else:
        monkeypatch.setenv("SQLMED_SPEEDUPS", "0")
    return request.param


@pytest.fixture(params=["module", "planner"])
def db(which, request):
    """The module's own answer to rescans (the statement planner off: what a
    view or a statement the planner leaves alone gets), and the planner's
    (tests/vtables/statements/test_hold.py: joined files read into CTEs)."""
    conn = vtables.connect(":memory:")
    conn.statement_pushdown = request.param == "planner"
    conn.execute("CREATE EXTENSION file_fdw; CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;")
    yield conn
    conn.close()


def csv_text(rows) -> str:
    """Rows as CSV: None an unquoted empty field (NULL), text always quoted."""

    def field(v):
        if v is None:
            return ""
        if isinstance(v, str):
            return '"' + v.replace('"', '""') + '"'
        return str(v)

    return "".join(",".join(field(v) for v in row) + "\n" for row in rows)


def table(conn, directory, name: str, columns: str, rows) -> None:
    """A CSV foreign table ``name`` and a native copy ``local_name``."""
    path = os.path.join(directory, f"{name}.csv")
    with open(path, "w", newline="") as f:
        f.write(csv_text(rows))
    conn.execute(
        f"CREATE FOREIGN TABLE {name} ({columns}) SERVER files"
        f" OPTIONS (filename '{path}', format 'csv');"
        f"CREATE TABLE local_{name} ({columns});"
        f"INSERT INTO local_{name} SELECT * FROM {name};"
    )


def native(sql: str, names=("a", "b", "c")) -> str:
    """``sql`` with the tables ``names`` read from their native copies."""

    def local(match: re.Match) -> str:
        keyword, name, alias = match.groups()
        return f"{keyword} local_{name}{alias or ' ' + name}"

    pattern = r"\b(FROM|JOIN) ({})\b(?!\.)( AS \w+)?".format("|".join(names))
    return re.sub(pattern, local, sql)


def same(conn, sql: str, foreign=("a", "b", "c")) -> list:
    """The rows of ``sql`` over the foreign tables, checked against the same
    SQL with the tables in ``foreign`` replaced by their native copies."""
    got = conn.execute(sql).fetchall()
    want = conn.execute(native(sql, foreign)).fetchall()
    if "ORDER BY" not in sql:
        got, want = sorted(got, key=repr), sorted(want, key=repr)
    assert got == want, sql
    return got


A_ROWS = [
    (1, 5, "Ann", "5", 1.5),
    (2, 5, "ann", "05", 2.0),
    (3, None, "ANN", None, 3.0),
    (4, 7, "bob", "x", None),
    (5, 7, "Bob", "7", 5.5),
    (6, 9, "zed", "7.0", 0.5),
    (7, 3, "", " 3", 9.0),
]
B_ROWS = [
    (5, "Ann", "five", 1.0),
    (5, "ann", "five again", 3.0),
    (7, "bob", "seven", 2.0),
    (None, "ANN", "null key", 4.0),
    (8, "x", "eight", 0.0),
    (3, "", "three", 8.0),
    (3, "Zed", "three again", 10.0),
]
COLUMNS_A = "id integer, k integer, name text, t text, x real"
COLUMNS_B = "k integer, name text, v text, y real"

QUERIES = [
    "SELECT a.id, b.v FROM a JOIN b ON b.k = a.k",
    "SELECT a.id, b.v FROM a LEFT JOIN b ON b.k = a.k",
    "SELECT a.id, b.v FROM b LEFT JOIN a ON a.k = b.k",
    "SELECT a.id, b.v FROM a JOIN b ON b.k IS a.k",
    "SELECT a.id, b.v FROM a JOIN b ON b.k = a.t",  # text against integer
    "SELECT a.id, b.v FROM a JOIN b ON a.t = b.k",
    "SELECT a.id, b.v FROM a JOIN b ON b.name = a.name",  # mixed case, exact
    "SELECT a.id, b.v FROM a JOIN b ON b.name = a.name COLLATE NOCASE",
    "SELECT a.id, b.v FROM a JOIN b ON b.name = a.t",
    "SELECT a.id, b.v FROM a JOIN b ON b.k = a.k AND b.y > a.x",
    "SELECT a.id, b.v FROM a JOIN b ON b.k = a.k AND b.name = a.name",
    "SELECT a.id, b.v FROM a JOIN b ON b.k = a.k WHERE b.y < 9 AND a.x > 1",
    "SELECT a.id, b.v FROM a JOIN b ON b.k IN (a.k, a.id)",
    "SELECT a.id, b.v FROM a JOIN b ON b.k IN (a.k, 3, NULL)",
    "SELECT a.id, b.v FROM a JOIN b ON b.k = a.k OR b.name = a.name",
    "SELECT a.id FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.k = a.k AND b.y > 1)",
    "SELECT a.id, (SELECT count(*) FROM b WHERE b.k = a.k) FROM a",
    "SELECT a.id, b.v, c.v FROM a JOIN b ON b.k = a.k JOIN b AS c ON c.name = b.name",
    "SELECT a.id, b.v FROM a JOIN b ON b.k = a.x",  # a real against integers
    "SELECT a.id, b.v FROM a JOIN b ON b.k = a.k ORDER BY b.v DESC, a.id",
]


@pytest.fixture
def ab(db, tmp_path):
    table(db, str(tmp_path), "a", COLUMNS_A, A_ROWS)
    table(db, str(tmp_path), "b", COLUMNS_B, B_ROWS)
    return db


@pytest.mark.parametrize("sql", QUERIES)
def test_a_join_of_two_csv_tables_is_the_native_join(ab, sql):
    same(ab, sql)


@pytest.mark.parametrize("sql", QUERIES)
@pytest.mark.parametrize("local", ["a", "b"])
def test_a_csv_table_joined_with_a_local_table_on_either_side(ab, sql, local):
    foreign = tuple(name for name in ("a", "b") if name != local)
    # the local side is the native copy in both runs
    same(ab, native(sql, (local,)), foreign)


def test_the_inner_scan_is_held_once_per_statement(ab):
    ab.statement_pushdown = False  # the module's own cache, not the planner's CTEs
    module = ab._module
    before = module.materialized
    assert len(same(ab, "SELECT a.id, b.v FROM a JOIN b ON b.k = a.k")) == 8
    assert module.materialized == before + 1
    same(ab, "SELECT a.id, b.v FROM a JOIN b ON b.k = a.k")
    assert module.materialized == before + 2  # the next statement holds its own


def test_explain_says_which_scan_is_held(ab):
    ab.statement_pushdown = False  # the module's own cache, not the planner's CTEs
    text = ab.explain("SELECT a.id, b.v FROM a JOIN b ON b.k = a.k")
    held = [line for line in text.splitlines() if "indexed on" in line]
    assert held == ["  Rescans: from memory, the source read once per statement, indexed on k"]


def test_a_second_statement_sees_the_new_file(ab, tmp_path):
    sql = "SELECT a.id, b.v FROM a JOIN b ON b.k = a.k ORDER BY 1, 2"
    first = ab.execute(sql).fetchall()
    assert (1, "five") in first
    with open(tmp_path / "b.csv", "w") as f:
        f.write(csv_text([(5, "n", "renamed", 1.0), (9, "n", "nine", 1.0)]))
    assert ab.execute(sql).fetchall() == [(1, "renamed"), (2, "renamed"), (6, "nine")]
    cursor = ab.cursor()
    for _ in range(2):  # the same cursor and statement again: read again
        assert cursor.execute(sql).fetchall() == [(1, "renamed"), (2, "renamed"), (6, "nine")]


def test_past_the_cap_each_filter_reads_the_source(ab, monkeypatch):
    monkeypatch.setattr(materialize, "MAX_VALUES", 4)
    before = ab._module.materialized
    for sql in QUERIES:
        same(ab, sql)
    assert ab._module.materialized == before


def test_a_bad_key_value_is_reported_as_without_the_cache(db, tmp_path):
    table(db, str(tmp_path), "a", COLUMNS_A, A_ROWS)
    with open(tmp_path / "bad.csv", "w") as f:
        f.write("5,a\n7,b\nseven,c\n")
    path = tmp_path / "bad.csv"
    db.execute(
        f"CREATE FOREIGN TABLE bad (k integer, v text) SERVER files"
        f" OPTIONS (filename '{path}', format 'csv')"
    )
    with pytest.raises(WrapperError, match="seven"):
        db.execute("SELECT a.id, bad.v FROM a JOIN bad ON bad.k = a.k").fetchall()


# ------------------------------------------------ a wrapper that counts scans


class CountingFdw(vtables.ForeignDataWrapper):
    """Rows in memory (option ``dataset``), every scan recorded; honours
    ``=`` on ``k`` when the table option ``exact`` is 'true'; writable."""

    name = "counting_fdw"
    rowid_column = "id"
    option_specs = (
        vtables.OptionSpec("dataset", {"table"}),
        vtables.OptionSpec("exact", {"table"}),
    )
    data: dict[str, list[dict]] = {}
    scans: list[tuple[str, list]] = []

    def rows(self) -> list[dict]:
        return type(self).data.setdefault(self.options["dataset"], [])

    def honours(self, qual):
        return self.options.get("exact") == "true" and qual.column == "k" and qual.operator == "="

    def estimate(self, quals, columns):
        if any(self.honours(q) for q in quals):
            return 1.0, 10.0
        return 1000.0, 1000.0

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        type(self).scans.append((self.options["dataset"], list(quals)))
        for row in list(self.rows()):
            if all(row[q.column] == q.value for q in quals if self.honours(q)):
                yield {c: row[c] for c in columns}

    def insert(self, values):
        self.rows().append(dict(values))

    def update(self, identity, values):
        for row in self.rows():
            if row["id"] == identity["id"]:
                row.update(values)

    def delete(self, identity):
        rows = self.rows()
        rows[:] = [r for r in rows if r["id"] != identity["id"]]


@pytest.fixture
def counting(ab):
    vtables.register_wrapper(CountingFdw)
    CountingFdw.data = {
        "m": [{"id": i, "k": k, "v": f"m{i}"} for i, k in enumerate([5, 7, 7, None, 3, 11] * 5)],
        "n": [{"id": i, "k": i % 9, "v": f"n{i}"} for i in range(40)],
    }
    CountingFdw.scans = []
    ab.execute("""
        CREATE EXTENSION counting_fdw;
        CREATE SERVER mem FOREIGN DATA WRAPPER counting_fdw;
        CREATE FOREIGN TABLE m (id integer, k integer, v text) SERVER mem OPTIONS (dataset 'm');
        CREATE FOREIGN TABLE n (id integer, k integer, v text) SERVER mem OPTIONS (dataset 'n');
        CREATE FOREIGN TABLE p (id integer, k integer, v text) SERVER mem
            OPTIONS (dataset 'n', exact 'true');
        CREATE TABLE local_m (id integer, k integer, v text);
        CREATE TABLE local_n (id integer, k integer, v text);
        INSERT INTO local_m SELECT * FROM m;
        INSERT INTO local_n SELECT * FROM n;
    """)
    CountingFdw.scans = []
    yield ab
    vtables.unregister_wrapper("counting_fdw")


def scans_of(dataset: str) -> int:
    return sum(1 for name, _quals in CountingFdw.scans if name == dataset)


def test_the_wrapper_is_not_scanned_once_per_outer_row(counting):
    counting.statement_pushdown = False  # the module's own cache, not the planner's CTEs
    sql = "SELECT m.id, n.v FROM m CROSS JOIN n WHERE n.k = m.k"
    got = same(counting, sql, ("m", "n"))
    assert len(got) == 85  # 30 outer rows: keys 5, 7 and 3 held 4, 4 and 5 times
    # the first Filter as always, then one scan held for every later Filter
    assert scans_of("n") == 2
    assert scans_of("m") == 1
    CountingFdw.scans = []
    same(counting, "SELECT m.id, b.v FROM b CROSS JOIN m WHERE m.k IS b.k", ("m", "b"))
    same(counting, "SELECT a.id, m.id FROM a LEFT JOIN m ON m.k = a.k", ("m", "a"))
    assert scans_of("m") == 4


def test_the_held_scan_asks_only_for_values_fixed_in_the_statement(counting):
    counting.statement_pushdown = False  # the module's own cache, not the planner's CTEs
    sql = "SELECT m.id, n.v FROM m CROSS JOIN n WHERE n.k = m.k AND n.v > 'n1'"
    same(counting, sql, ("m", "n"))
    held = [quals for name, quals in CountingFdw.scans if name == "n"][-1]
    assert [(q.column, q.operator, q.value) for q in held] == [("v", ">", "n1")]


def test_a_key_the_wrapper_honours_is_probed_at_the_source(counting):
    before = counting._module.materialized
    sql = "SELECT m.id, p.v FROM m CROSS JOIN p WHERE p.k = m.k ORDER BY 1, 2"
    got = counting.execute(sql).fetchall()
    assert counting._module.materialized == before
    probes = [quals for name, quals in CountingFdw.scans if name == "n"]
    assert len(probes) == 30  # one selective probe per outer row
    assert all(q[0].column == "k" and q[0].operator == "=" for q in probes)
    local = "SELECT m.id, n.v FROM local_m m JOIN local_n n ON n.k = m.k ORDER BY 1, 2"
    assert got == counting.execute(local).fetchall()


WRITES = [
    "UPDATE {m} SET v = (SELECT b.v FROM {b} WHERE b.k = m.k AND b.name = 'Ann')",
    "DELETE FROM {m} WHERE k IN (SELECT b.k FROM {b} WHERE b.y > 1)",
    "DELETE FROM {m} WHERE EXISTS (SELECT 1 FROM {n} WHERE n.k = m.k AND n.id > 30)",
    "UPDATE {m} SET v = v || '!' WHERE id IN (SELECT m2.id FROM {n} JOIN {m2} ON m2.k = n.k)",
    "INSERT INTO {mt} SELECT n.id + 100, n.k, m2.v FROM {n} JOIN {m2} ON m2.k = n.k",
]


@pytest.mark.parametrize("sql", WRITES)
def test_writes_through_joins(counting, sql):
    counting.execute(sql.format(m="m", b="b", n="n", m2="m AS m2", mt="m"))
    counting.execute(
        sql.format(
            m="local_m AS m",
            b="local_b AS b",
            n="local_n AS n",
            m2="local_m AS m2",
            mt="local_m",
        )
    )
    got = counting.execute("SELECT * FROM m ORDER BY id, k, v").fetchall()
    want = counting.execute("SELECT * FROM local_m ORDER BY id, k, v").fetchall()
    assert got == want
    assert got != [tuple(r.values()) for r in CountingFdw.data["n"]]


# ---------------------------------------------------------- SQLite's plans


def plan_of(conn, sql: str) -> list[str]:
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]


def test_sqlite_probes_the_held_inner_side(ab):
    ab.execute("CREATE TABLE few (k integer); INSERT INTO few VALUES (5), (7), (3)")
    for sql in (
        "SELECT few.k, b.v FROM few JOIN b ON b.k = few.k",
        "SELECT few.k, b.v FROM b JOIN few ON b.k = few.k",
    ):
        steps = plan_of(ab, sql)
        assert steps[0].startswith("SCAN few"), steps
        assert steps[1].startswith("SCAN b VIRTUAL TABLE"), steps
        inner = Plan.decode(steps[1].split(":", 1)[1])
        assert [(q.column, q.operator) for q in inner.quals] == [(0, "=")]
        assert inner.cache == [0]
    steps = plan_of(ab, "SELECT a.id, b.v FROM a JOIN b ON b.k = a.k")
    inner = Plan.decode(steps[1].split(":", 1)[1])
    assert inner.cache == [0] and inner.quals[0].operator == "="


def test_a_key_probe_at_the_source_keeps_its_plan(counting):
    steps = plan_of(counting, "SELECT m.id, p.v FROM m CROSS JOIN p WHERE p.k = m.k")
    inner = Plan.decode(steps[1].split(":", 1)[1])
    assert inner.table == "p" and inner.cache is None and inner.quals[0].exact


# ------------------------------------------------------------- the index


def key(column: int = 0, slot: int = 0) -> KeyColumn:
    return KeyColumn(column=column, slot=slot, name="k", convert=None, natives=())


def test_a_probe_of_another_class_gets_every_row():
    rows = [(5, "a"), (7, "b"), (None, "c"), (5.0, "d")]
    held = Materialized(rows, [key()], ordered=False)
    probe = [(0, "=", 0)]
    assert held.select(probe, (5,)) == [(5, "a"), (5.0, "d")]
    assert held.select(probe, (5.0,)) == [(5, "a"), (5.0, "d")]
    assert held.select(probe, ("5",)) == rows  # affinity may make '5' equal 5
    assert held.select(probe, (None,)) == []
    assert held.select([(0, "IS", 0)], (None,)) == [(None, "c")]
    texts = Materialized([("5", 1), ("05", 2)], [key()], ordered=False)
    assert texts.select(probe, (5,)) == [("5", 1), ("05", 2)]
    assert texts.select(probe, ("05",)) == [("05", 2)]


def test_an_in_list_gets_each_values_rows_and_keeps_a_sorted_order():
    rows = [(1, "a"), (2, "b"), (1, "c"), (3, "d")]
    probe = [(0, "IN", 0)]
    unsorted = Materialized(rows, [key()], ordered=False)
    assert sorted(unsorted.select(probe, ((3, 1, 1.0, None),))) == sorted(
        [(1, "a"), (1, "c"), (3, "d")]
    )
    ordered = Materialized(rows, [key()], ordered=True)
    assert ordered.select(probe, ((3, 1),)) == rows
    assert ordered.select(probe, ((1,),)) == [(1, "a"), (1, "c")]


def test_nan_is_read_as_null_and_odd_values_decline(monkeypatch):
    held = Materialized([(float("nan"), 1), (1.0, 2)], [key()], ordered=False)
    assert [row[1] for row in held.select([(0, "IS", 0)], (None,))] == [1]
    with pytest.raises(materialize.Declined):
        Materialized([(object(), 1)], [key()], ordered=False)
    monkeypatch.setattr(materialize, "MAX_VALUES", 4)
    assert len(materialize.hold([[(1, 2)] * 2], 2, [key()], False).rows) == 2
    with pytest.raises(materialize.Declined):
        materialize.hold([[(1, 2)] * 3], 2, [key()], False)


def test_only_changing_equality_quals_are_probed():
    plan = Plan(
        table="t",
        quals=[
            PlannedQual(0, "=", 1, None, False),
            PlannedQual(1, "=", 2, 4, False),  # a constant
            PlannedQual(2, ">", 3, None, False),
            PlannedQual(3, "IS NULL", None, None, True),
        ],
        cache=[0],
    )
    assert materialize.probes(plan) == [(0, "=", 0)]
    assert materialize.Rescan(plan).single == 0


# --------------------------------------------------- random tables and joins

NUMBERS = st.one_of(st.none(), st.integers(-3, 3))
TEXTS = st.one_of(st.none(), st.sampled_from(["1", "01", "a", "A", "b", " 2", "2.0", ""]))
ROW = st.tuples(st.integers(0, 5), NUMBERS, TEXTS)
SHAPES = [
    "SELECT a.id, a.k, b.id FROM a JOIN b ON b.k = a.k",
    "SELECT a.id, b.id FROM a LEFT JOIN b ON b.k = a.t",
    "SELECT a.id, b.id FROM a JOIN b ON b.t = a.k AND b.id <= a.id",
    "SELECT a.id, b.id FROM a JOIN b ON b.k IS a.k",
    "SELECT a.id, b.id FROM a JOIN b ON b.t IN (a.t, a.k)",
    "SELECT a.id, (SELECT count(*) FROM b WHERE b.t = a.t) FROM a",
    "SELECT a.id, b.id, c.id FROM a JOIN b ON b.k = a.k JOIN c ON c.t = b.t",
]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    a=st.lists(ROW, max_size=8),
    b=st.lists(ROW, max_size=8),
    c=st.lists(ROW, max_size=5),
)
def test_random_joins_are_the_native_joins(which, a, b, c):
    conn = vtables.connect(":memory:")
    try:
        conn.execute(
            "CREATE EXTENSION file_fdw; CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;"
        )
        with tempfile.TemporaryDirectory() as directory:
            for name, rows in (("a", a), ("b", b), ("c", c)):
                table(conn, directory, name, "id integer, k integer, t text", rows)
            for sql in SHAPES:
                same(conn, sql)
    finally:
        conn.close()


def test_the_keys_of_the_random_tables_read_back_as_written(db, tmp_path):
    rows = list(itertools.product([0], [None, "", "1", "01", "a"], ["A", " 2"]))
    table(db, str(tmp_path), "a", "id integer, k text, t text", rows)
    assert db.execute("SELECT id, k, t FROM a").fetchall() == rows
