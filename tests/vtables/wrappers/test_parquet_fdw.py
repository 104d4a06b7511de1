"""parquet_fdw: Parquet and Arrow IPC files and datasets, against native copies."""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import math
import os

import apsw
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vtables
from tests.vtables.differential import queries
from vtables import catalog, semantics, speedups
from vtables.errors import SQLMedError
from vtables.wrappers.parquet_fdw import aggregates, filters

SETUP = """
CREATE EXTENSION parquet_fdw;
CREATE SERVER lake FOREIGN DATA WRAPPER parquet_fdw;
"""


def connect(tmp_path, *statements: str) -> vtables.Connection:
    db = vtables.connect(str(tmp_path / "x.db"))
    db.execute(SETUP)
    for sql in statements:
        db.execute(sql)
    return db


# ------------------------------------------------------------------ reading


def test_types_read_as_declared(tmp_path):
    when = dt.datetime(2024, 3, 1, 8, 30, 5, 123456)
    table = pa.table(
        {
            "i8": pa.array([1, None, -128], pa.int8()),
            "u32": pa.array([0, 7, 2**32 - 1], pa.uint32()),
            "i64": pa.array([2**63 - 1, None, -(2**63)], pa.int64()),
            "f32": pa.array([1.5, float("nan"), None], pa.float32()),
            "f64": pa.array([math.inf, -0.0, 1e-300]),
            "ok": pa.array([True, False, None]),
            "s": pa.array(["dé", "😀 astral", None]),
            "b": pa.array([b"\x00\xff", None, b""]),
            "day": pa.array([dt.date(2024, 2, 29), None, dt.date(1, 1, 1)]),
            "ts": pa.array([when, None, dt.datetime(1999, 12, 31)], pa.timestamp("ms")),
            "tz": pa.array([when, None, when], pa.timestamp("us", tz="Europe/Paris")),
            "dec": pa.array(
                [decimal.Decimal("1.25"), decimal.Decimal("3"), None], pa.decimal128(10, 2)
            ),
            "tags": pa.array([["a", "b"], None, []]),
            "cat": pa.array(["x", "y", "x"]).dictionary_encode(),
        }
    )
    pq.write_table(table, tmp_path / "every.parquet")
    db = connect(tmp_path, "IMPORT FOREIGN SCHEMA public FROM SERVER lake INTO main")
    declared = {r[1]: r[2].lower() for r in db.execute("PRAGMA table_info(every)")}
    assert declared == {
        "i8": "smallint",
        "u32": "bigint",
        "i64": "bigint",
        "f32": "real",
        "f64": "double precision",
        "ok": "boolean",
        "s": "text",
        "b": "bytea",
        "day": "date",
        "ts": "timestamp",
        "tz": "timestamptz",
        "dec": "numeric(10,2)",
        "tags": "jsonb",
        "cat": "text",
    }
    rows = db.execute("SELECT * FROM every").fetchall()
    assert rows == [
        (
            1, 0, 2**63 - 1, 1.5, math.inf, 1, "dé", b"\x00\xff", "2024-02-29",
            "2024-03-01 08:30:05.123000", "2024-03-01 08:30:05.123456+00:00", 1.25, '["a", "b"]',
            "x",
        ),
        (None, 7, None, None, -0.0, 0, "😀 astral", None, None, None, None, 3, None, "y"),
        (
            -128, 2**32 - 1, -(2**63), None, 1e-300, None, None, b"", "0001-01-01",
            "1999-12-31 00:00:00.000000", "2024-03-01 08:30:05.123456+00:00", None, "[]", "x",
        ),
    ]  # fmt: skip
    # what a native table of the same declared types holds, value for value
    db.execute("CREATE TABLE copy AS SELECT * FROM every WHERE 0")
    db.execute("INSERT INTO copy SELECT * FROM every")
    assert db.execute("SELECT * FROM copy").fetchall() == rows


def test_projection_limit_offset_and_explain(tmp_path):
    pq.write_table(
        pa.table({"id": list(range(100)), "v": [f"v{i}" for i in range(100)]}),
        tmp_path / "t.parquet",
        row_group_size=10,
    )
    db = connect(
        tmp_path,
        "CREATE FOREIGN TABLE t (id bigint, v text) SERVER lake OPTIONS (path 't.parquet')",
    )
    assert db.execute("SELECT v FROM t WHERE id >= 42 LIMIT 3 OFFSET 2").fetchall() == [
        ("v44",),
        ("v45",),
        ("v46",),
    ]
    plan = db.explain("SELECT v FROM t WHERE id BETWEEN 42 AND 47")
    assert "row groups: 1 of 10" in plan
    scans = vtables.foreign_scans(db, "SELECT v FROM t WHERE id BETWEEN 1 AND 2")
    assert scans[0].exact == [True, True]


def test_hive_partitions_are_columns_and_pruned(tmp_path):
    root = tmp_path / "sales"
    table = pa.table(
        {
            "year": [2023, 2023, 2024, 2024, 2024],
            "region": ["n", "s", "n", "s", "é"],
            "amount": [1, 2, 3, 4, 5],
        }
    )
    ds.write_dataset(
        table, root, format="parquet", partitioning=["year", "region"], partitioning_flavor="hive"
    )
    db = connect(tmp_path, "IMPORT FOREIGN SCHEMA public FROM SERVER lake INTO main")
    assert db.execute(
        "SELECT year, region, amount FROM sales WHERE year = 2024 ORDER BY amount"
    ).fetchall() == [(2024, "n", 3), (2024, "s", 4), (2024, "é", 5)]
    assert db.execute("SELECT sum(amount) FROM sales WHERE region = 'é'").fetchall() == [(5,)]
    plan = db.explain("SELECT amount FROM sales WHERE year = 2023")
    assert "row groups: 2 of 5" in plan


def test_arrow_ipc_and_feather(tmp_path):
    table = pa.table({"id": [1, 2, 3], "name": ["a", None, "c"]})
    feather.write_feather(table, tmp_path / "f.feather")
    with pa.OSFile(str(tmp_path / "g.arrow"), "wb") as sink:
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
    db = connect(tmp_path, "IMPORT FOREIGN SCHEMA public FROM SERVER lake INTO main")
    for name in ("f", "g"):
        assert db.execute(f"SELECT * FROM {name} WHERE id > 1").fetchall() == [
            (2, None),
            (3, "c"),
        ]
        assert db.execute(f"SELECT count(*), max(name) FROM {name}").fetchall() == [(3, "c")]


def test_import_limit_to_and_options(tmp_path):
    sub = tmp_path / "data"
    sub.mkdir()
    pq.write_table(pa.table({"a": [1]}), sub / "one.parquet")
    pq.write_table(pa.table({"b": ["x"]}), sub / "two.parquet")
    (sub / "notes.txt").write_text("not data")
    db = connect(tmp_path, "IMPORT FOREIGN SCHEMA data LIMIT TO (two) FROM SERVER lake INTO main")
    assert db.execute("SELECT * FROM two").fetchall() == [("x",)]
    options = catalog.get_table(db, "two").options
    assert options["path"] == os.path.join("data", "two.parquet")
    with pytest.raises(apsw.SQLError):
        db.execute("SELECT * FROM one")


# ------------------------------------------------------------------ errors


def test_errors_name_the_table_and_file(tmp_path):
    pq.write_table(pa.table({"a": [1]}), tmp_path / "t.parquet")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    db = connect(
        tmp_path,
        "CREATE FOREIGN TABLE gone (a int) SERVER lake OPTIONS (path 'missing.parquet')",
        "CREATE FOREIGN TABLE wrong (zz int) SERVER lake OPTIONS (path 't.parquet')",
        "CREATE FOREIGN TABLE broken (a int) SERVER lake OPTIONS (path 'bad.parquet')",
    )
    with pytest.raises(
        SQLMedError, match=r'foreign table "gone": ".*missing.parquet" does not exist'
    ):
        db.execute("SELECT * FROM gone").fetchall()
    with pytest.raises(SQLMedError, match=r'foreign table "wrong": column "zz" is not in'):
        db.execute("SELECT * FROM wrong").fetchall()
    with pytest.raises(SQLMedError, match=r'foreign table "broken": ".*bad.parquet" could not'):
        db.execute("SELECT * FROM broken").fetchall()


def test_bad_options_change_nothing(tmp_path):
    db = connect(tmp_path)
    before = db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    for ddl in (
        "CREATE FOREIGN TABLE t (a int) SERVER lake",
        "CREATE FOREIGN TABLE t (a int) SERVER lake OPTIONS (path 'x', format 'csv')",
        "CREATE FOREIGN TABLE t (a int) SERVER lake OPTIONS (path 'x', partitioning 'odd')",
        "CREATE FOREIGN TABLE t (a int) SERVER lake OPTIONS (path 'x', bogus 'y')",
    ):
        with pytest.raises(SQLMedError, match='"t"|path|format|partitioning|bogus'):
            db.execute(ddl)
    assert db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == before


def test_a_fifo_is_refused_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "pipe.parquet")
    db = connect(
        tmp_path, "CREATE FOREIGN TABLE p (a int) SERVER lake OPTIONS (path 'pipe.parquet')"
    )
    with pytest.raises(SQLMedError, match="not a regular file"):
        db.execute("SELECT * FROM p").fetchall()


def test_a_fifo_inside_a_dataset_is_left_out(tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    pq.write_table(pa.table({"a": [1]}), root / "a.parquet")
    os.mkfifo(root / "b.parquet")  # would make a reader wait for a writer
    db = connect(tmp_path, "CREATE FOREIGN TABLE d (a int) SERVER lake OPTIONS (path 'd')")
    assert db.execute("SELECT * FROM d").fetchall() == [(1,)]


# ------------------------------------------------------------------ filters


INT_VALUES = [None, -(2**63), -5, 0, 3, 7, 2**53 + 1, 2**63 - 1]
FLOAT_VALUES = [None, -math.inf, -2.5, -0.0, 0.0, 1.0, 2.5, 2.0**53, float("nan"), math.inf]
TEXT_VALUES = [None, "", "A", "a", "ab", "é", "😀", "10", "9"]
PROBES = [
    None, -(2**63), -6, -5, 0, 3, 2**53, 2**53 + 1, 2**63 - 1, -2.5, 2.5, 3.0, 1e30, -1e30,
    math.inf, -math.inf, float(2**53), "3", " 3", "3.0", "abc", "", "é", "10", b"\x00", True,
]  # fmt: skip
OPS = ["=", "!=", "<", "<=", ">", ">=", "IS", "IS NOT"]


@pytest.mark.parametrize(
    "arrow_type,declared,values",
    [
        (pa.int64(), "bigint", INT_VALUES),
        (pa.int8(), "smallint", [None, -128, 0, 127]),
        (pa.float64(), "double precision", FLOAT_VALUES),
        (pa.float32(), "real", [None, -2.5, 0.0, 1.0, float("nan")]),
        (pa.string(), "text", TEXT_VALUES),
    ],
)
def test_every_filter_gives_sqlites_answer(arrow_type, declared, values):
    """Each qual's dataset filter keeps exactly the rows SQLite's own check
    keeps (the rules of vtables.semantics, the value taking the column's
    affinity first), for values of every storage class."""
    table = pa.table({"c": pa.array(values, arrow_type)})
    dataset = ds.dataset(table)
    kind = filters.exact_kind(declared, arrow_type)
    assert kind is not None
    column = filters.Column("c", kind, declared)
    affinity = semantics.affinity(declared)
    stored = [None if isinstance(v, float) and v != v else v for v in values]
    for op in OPS + ["IS NULL", "IS NOT NULL"]:
        for probe in PROBES if "NULL" not in op else [None]:
            qual = vtables.Qual("c", op, probe)
            got = sorted(dataset.to_table(filter=column.qual(qual))["c"].to_pylist(), key=repr)
            right = semantics.apply_affinity(affinity, probe)
            want = sorted(
                (v for v, s in zip(values, stored, strict=True) if semantics.holds(op, s, right)),
                key=repr,
            )
            assert [repr(v) for v in got] == [repr(v) for v in want], (op, probe)
    probes = tuple(PROBES)
    got = dataset.to_table(filter=column.qual(vtables.Qual("c", "IN", probes)))["c"].to_pylist()
    in_values = [semantics.apply_affinity(affinity, p) for p in probes]
    want = [v for v, s in zip(values, stored, strict=True) if semantics.holds("IN", s, in_values)]
    assert sorted(map(repr, got)) == sorted(map(repr, want))


# ------------------------------------------------------------------ aggregates


@pytest.fixture
def agg_db(tmp_path):
    rows = [
        (i % 7 if i % 11 else None, i * 3 - 50, f"n{i % 5}" if i % 4 else None) for i in range(200)
    ]
    table = pa.table(
        {
            "k": pa.array([r[0] for r in rows], pa.int32()),
            "x": pa.array([r[1] for r in rows], pa.int64()),
            "s": pa.array([r[2] for r in rows]),
        }
    )
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=16)
    db = connect(
        tmp_path,
        "CREATE FOREIGN TABLE a (k integer, x bigint, s text)"
        " SERVER lake OPTIONS (path 'a.parquet')",
        "CREATE TABLE n (k integer, x bigint, s text)",
    )
    db.executemany("INSERT INTO n VALUES (?, ?, ?)", rows)
    return db


AGGREGATE_QUERIES = [
    "SELECT count(*) FROM {t}",
    "SELECT count(*) FROM {t} WHERE x > 100",
    "SELECT count(x), sum(x), min(x), max(x), min(s), max(s) FROM {t}",
    "SELECT count(DISTINCT s), count(DISTINCT k) FROM {t} WHERE x < 300",
    "SELECT k, count(*), sum(x), max(s) FROM {t} GROUP BY k ORDER BY k",
    "SELECT s, k, count(s), min(x) FROM {t} WHERE k IN (1, 2, '3') GROUP BY s, k ORDER BY s, k",
    "SELECT sum(x), count(*) FROM {t} WHERE x > 10000",
    "SELECT k, sum(x) FROM {t} WHERE x > 10000 GROUP BY k",
    "SELECT count(*) FROM {t} WHERE s >= 'n2' AND k IS NOT NULL",
]


@pytest.mark.parametrize("sql", AGGREGATE_QUERIES)
def test_aggregates_answered_by_arrow_as_sqlite(agg_db, sql):
    assert "Remote Query" in agg_db.explain(sql.format(t="a"))
    assert (
        agg_db.execute(sql.format(t="a")).fetchall() == agg_db.execute(sql.format(t="n")).fetchall()
    )


def test_a_sum_past_64_bits_fails_as_in_sqlite(tmp_path):
    big = 2**62
    table = pa.table(
        {"g": [1, 1, 2, 2, 2, 3, 3], "x": pa.array([big, big, big, big, -big, big, big - 1])}
    )
    pq.write_table(table, tmp_path / "s.parquet")
    db = connect(
        tmp_path,
        "CREATE FOREIGN TABLE s (g int, x bigint) SERVER lake OPTIONS (path 's.parquet')",
        "CREATE TABLE n (g int, x bigint)",
    )
    db.executemany("INSERT INTO n VALUES (?, ?)", [tuple(r.values()) for r in table.to_pylist()])
    for t in ("s", "n"):
        with pytest.raises((apsw.SQLError, SQLMedError), match="integer overflow"):
            db.execute(f"SELECT sum(x) FROM {t}").fetchall()
        with pytest.raises((apsw.SQLError, SQLMedError), match="integer overflow"):
            db.execute(f"SELECT g, sum(x) FROM {t} GROUP BY g").fetchall()
    # near the edge but never past it: the exact total, from the one-by-one sum
    query = "SELECT sum(x) FROM {} WHERE g = 3"
    assert db.execute(query.format("s")).fetchall() == db.execute(query.format("n")).fetchall()
    assert db.execute(query.format("s")).fetchall() == [(2**63 - 1,)]
    assert "Remote Query" in db.explain(query.format("s"))


def test_nan_is_not_counted(tmp_path):
    pq.write_table(pa.table({"f": [1.0, float("nan"), None, 2.0]}), tmp_path / "f.parquet")
    db = connect(
        tmp_path,
        "CREATE FOREIGN TABLE f (f double precision) SERVER lake OPTIONS (path 'f.parquet')",
    )
    assert db.execute("SELECT count(f), count(*) FROM f").fetchall() == [(2, 4)]
    assert db.execute("SELECT count(*) FROM f WHERE f IS NULL").fetchall() == [(2,)]


# ------------------------------------------------------------------ differential

COLUMNS = ["id", "grp", "val", "name", "flag"]
NAMES = ["ann", "Ann", "bob", "BOB", "cy", "dé", "x", "😀", ""]
ROW = st.tuples(  # ids unique and not NULL: ORDER BY id is a total order
    st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-3, 60)),
    st.sampled_from(["a", "b", "c", "A"]),
    st.one_of(st.none(), st.floats(allow_nan=True), st.floats(-5, 50).map(lambda v: round(v, 1))),
    st.one_of(st.none(), st.sampled_from(NAMES), st.text(max_size=4)),
    st.one_of(st.none(), st.booleans()),
)
VALUES = {
    "id": st.one_of(st.integers(-3, 60), st.floats(-3, 60), st.sampled_from(["5", "x", 2**63 - 1])),
    "grp": st.sampled_from(["a", "b", "c", "d", "A", 3]),
    "val": st.one_of(st.floats(-5, 50, allow_nan=False), st.integers(-5, 50), st.just("1.5")),
    "name": st.one_of(st.sampled_from(NAMES), st.integers(0, 3)),
    "flag": st.sampled_from([0, 1, True, 2, "1"]),
}


def _between(draw, column: str, values: dict) -> tuple[str, list]:
    pair = [draw(values[column]), draw(values[column])]
    low, high = sorted(pair, key=functools.cmp_to_key(semantics.compare))
    return f"T.{column} BETWEEN ? AND ?", [low, high]


def _same(rows: list) -> str:
    """The rows' text, a -0.0 as 0.0 (a native REAL column stores it as 0)."""
    return repr([tuple(0.0 if v == 0 and isinstance(v, float) else v for v in r) for r in rows])


def _query():
    return queries(
        COLUMNS,
        VALUES,
        patterns=["a%", "A%", "%b%", "_y", "d%", "%"],
        aggregates="count(*), count(val), sum(id), min(name), max(id), count(DISTINCT name)",
        between=_between,
    )


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(ROW, max_size=40, unique_by=lambda r: r[0]), q=_query(), group=st.integers(1, 8)
)
def test_differential_against_a_native_copy(tmp_path_factory, rows, q, group):
    tmp = tmp_path_factory.mktemp("pq")
    ids = [r[0] for r in rows]
    table = pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "grp": pa.array([r[1] for r in rows], pa.string()),
            "val": pa.array([r[2] for r in rows], pa.float64()),
            "name": pa.array([r[3] for r in rows], pa.string()),
            "flag": pa.array([r[4] for r in rows], pa.bool_()),
        }
    )
    pq.write_table(table, tmp / "t.parquet", row_group_size=group)
    db = connect(
        tmp,
        "CREATE FOREIGN TABLE t (id bigint, grp text, val double precision, name text,"
        " flag boolean) SERVER lake OPTIONS (path 't.parquet')",
        "CREATE TABLE n (id bigint, grp text, val double precision, name text, flag boolean)",
        "CREATE TABLE tags (id integer, tag text)",
    )
    db.executemany("INSERT INTO n VALUES (?, ?, ?, ?, ?)", rows)
    db.executemany("INSERT INTO tags VALUES (?, ?)", [(i, f"t{i}") for i in range(-3, 10)])
    sql, params = q
    try:
        want = db.execute(sql.format(table="n"), params).fetchall()
    except apsw.SQLError as err:  # an integer overflow of sum(): the same error
        with pytest.raises((apsw.SQLError, SQLMedError), match=str(err).split(":")[-1].strip()):
            db.execute(sql.format(table="t"), params).fetchall()
        return
    got = db.execute(sql.format(table="t"), params).fetchall()
    assert _same(got) == _same(want), sql


def test_files_of_a_dataset_may_differ(tmp_path):
    """A column one file lacks reads as NULL, a narrower type as the dataset's."""
    root = tmp_path / "parts"
    root.mkdir()
    pq.write_table(
        pa.table({"id": pa.array([1, 2], pa.int64()), "note": ["a", "b"]}), root / "p1.parquet"
    )
    pq.write_table(pa.table({"id": pa.array([3], pa.int32())}), root / "p2.parquet")
    db = connect(
        tmp_path,
        "CREATE FOREIGN TABLE parts (id bigint, note text) SERVER lake OPTIONS (path 'parts')",
    )
    assert db.execute("SELECT id, note FROM parts ORDER BY id").fetchall() == [
        (1, "a"),
        (2, "b"),
        (3, None),
    ]
    assert db.execute("SELECT note FROM parts WHERE id >= 2 ORDER BY id").fetchall() == [
        ("b",),
        (None,),
    ]


# ------------------------------------------------------------------ review


@pytest.fixture
def small(tmp_path):
    pq.write_table(
        pa.table({"n": pa.array([1, 2, None], pa.int64()), "s": ["b", None, "a"]}),
        tmp_path / "t.parquet",
        row_group_size=2,
    )
    return connect(
        tmp_path,
        "CREATE FOREIGN TABLE t (n bigint, s text) SERVER lake OPTIONS (path 't.parquet')",
        "CREATE TABLE n (n bigint, s text)",
        "INSERT INTO n VALUES (1, 'b'), (2, NULL), (NULL, 'a')",
        "CREATE TABLE o (x int)",
        "INSERT INTO o VALUES (1), (2)",
    )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1 FROM {t}",
        "SELECT count(1), count(NULL) FROM {t}",
        "SELECT EXISTS (SELECT 1 FROM {t})",
        "SELECT count(*) FROM o, {t}",
        "SELECT count(*) OVER () FROM {t}",
        "SELECT s, max(s), min(s) FROM {t} GROUP BY s",
        "SELECT n, s, max(s) FROM {t} GROUP BY n, s",
    ],
)
def test_scans_of_no_column_and_keys_in_aggregates(small, sql):
    """Rows counted when a scan reads no column; a grouped text key in an aggregate."""
    assert (
        small.execute(sql.format(t="t")).fetchall() == small.execute(sql.format(t="n")).fetchall()
    )


def test_a_rewritten_file_is_read_as_it_is_now(tmp_path):
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"n": pa.array([10, 9], pa.int64())}), path)
    db = connect(
        tmp_path, "CREATE FOREIGN TABLE t (n bigint) SERVER lake OPTIONS (path 'f.parquet')"
    )
    queries = ["SELECT max(n) FROM t", "SELECT n FROM t WHERE n = 9", "SELECT count(*) FROM t"]
    assert [db.execute(q).fetchall() for q in queries] == [[(10,)], [(9,)], [(2,)]]
    pq.write_table(pa.table({"n": ["10", "9", "100"]}), path)  # text now
    assert [db.execute(q).fetchall() for q in queries] == [[(100,)], [(9,)], [(3,)]]
    assert db.execute("SELECT n FROM t WHERE n > 9 ORDER BY n").fetchall() == [(10,), (100,)]


def test_integers_past_64_bits_read_as_reals(tmp_path):
    table = pa.table({"u": pa.array([0, 2**64 - 1, None], pa.uint64()), "i": [1, 2, 3]})
    pq.write_table(table, tmp_path / "u.parquet")
    db = connect(tmp_path, "IMPORT FOREIGN SCHEMA public FROM SERVER lake INTO main")
    assert db.execute("SELECT u FROM u").fetchall() == [(0,), (float(2**64 - 1),), (None,)]
    assert db.execute("SELECT i FROM u WHERE u > 5").fetchall() == [(2,)]


def test_a_string_view_column_with_a_pushed_filter(tmp_path):
    table = pa.table({"sv": pa.array(["a", None, "é"], pa.string_view()), "i": [1, 2, 3]})
    pq.write_table(table, tmp_path / "v.parquet")
    db = connect(tmp_path, "IMPORT FOREIGN SCHEMA public FROM SERVER lake INTO main")
    assert db.execute("SELECT sv FROM v WHERE i = 1").fetchall() == [("a",)]
    assert db.execute("SELECT i FROM v WHERE sv = 'é'").fetchall() == [(3,)]


def test_other_files_in_a_dataset_are_left_out(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    pq.write_table(pa.table({"n": [1]}), root / "a.parquet")
    (root / "README.md").write_text("about the data")
    (root / "_SUCCESS").write_text("")
    db = connect(tmp_path, "IMPORT FOREIGN SCHEMA public FROM SERVER lake INTO main")
    assert db.execute("SELECT n FROM ds").fetchall() == [(1,)]


def test_import_refuses_names_no_table_can_take(tmp_path):
    pq.write_table(pa.table({"": [1]}), tmp_path / "blank.parquet")
    pq.write_table(pa.table({"A": [1], "a": [2]}), tmp_path / "cased.parquet")
    db = connect(tmp_path)
    with pytest.raises(SQLMedError, match=r'blank.parquet": column 1 has no name'):
        db.execute("IMPORT FOREIGN SCHEMA public LIMIT TO (blank) FROM SERVER lake INTO main")
    with pytest.raises(SQLMedError, match=r'cased.parquet": columns "A" and "a" differ only'):
        db.execute("IMPORT FOREIGN SCHEMA public LIMIT TO (cased) FROM SERVER lake INTO main")


def test_a_value_that_does_not_convert_names_its_column(tmp_path):
    pq.write_table(pa.table({"n": ["1", "x"]}), tmp_path / "bad.parquet")
    db = connect(
        tmp_path, "CREATE FOREIGN TABLE bad (n integer) SERVER lake OPTIONS (path 'bad.parquet')"
    )
    with pytest.raises(SQLMedError, match=r'bad.parquet", column "n": a value does not convert'):
        db.execute("SELECT n FROM bad").fetchall()


def test_many_groups(tmp_path):
    rows = [(i % 70001, f"s{i % 3}") for i in range(140_000)]
    pq.write_table(
        pa.table({"g": [r[0] for r in rows], "s": [r[1] for r in rows]}), tmp_path / "g.parquet"
    )
    db = connect(
        tmp_path,
        "CREATE FOREIGN TABLE g (g bigint, s text) SERVER lake OPTIONS (path 'g.parquet')",
        "CREATE TABLE n (g bigint, s text)",
    )
    with db:  # one transaction, not one a row
        db.executemany("INSERT INTO n VALUES (?, ?)", rows)
    sql = "SELECT g, count(*), max(s) FROM {} GROUP BY g"
    assert "Remote Query" in db.explain(sql.format("g"))
    assert db.execute(sql.format("g")).fetchall() == db.execute(sql.format("n")).fetchall()


def test_counting_rows_needs_only_one_column_of_the_file(tmp_path):
    pq.write_table(pa.table({"s": ["x", "y"]}), tmp_path / "c.parquet")
    db = connect(
        tmp_path,
        "CREATE FOREIGN TABLE c (gone int, s text) SERVER lake OPTIONS (path 'c.parquet')",
    )
    assert db.execute("SELECT 1 FROM c").fetchall() == [(1,), (1,)]
    with pytest.raises(SQLMedError, match='column "gone" is not in'):
        db.execute("SELECT gone FROM c").fetchall()


REALS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.1, 1 / 3, 1e308, -1e308, 2.0**53, -0.0, 1e16, -1e16, 5e-324]),
    st.none(),
)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(REALS, max_size=60), group=st.integers(1, 7))
def test_a_real_sum_is_sqlites_to_the_last_bit(tmp_path_factory, values, group):
    """sum() over a REAL column, computed by the C loop over the row groups in
    order, step for step as SQLite's own (Kahan-Babuska-Neumaier) sum."""
    tmp = tmp_path_factory.mktemp("reals")
    pq.write_table(
        pa.table({"x": pa.array(values, pa.float64())}), tmp / "r.parquet", row_group_size=group
    )
    db = connect(
        tmp,
        "CREATE FOREIGN TABLE r (x double precision) SERVER lake OPTIONS (path 'r.parquet')",
        "CREATE TABLE n (x double precision)",
    )
    db.executemany("INSERT INTO n VALUES (?)", [(v,) for v in values])
    sql = "SELECT sum(x), count(x), count(*) FROM {}"
    assert repr(db.execute(sql.format("r")).fetchall()) == repr(
        db.execute(sql.format("n")).fetchall()
    )
    assert ("Remote Query" in db.explain(sql.format("r"))) == speedups.enabled()


def test_sqlites_sum_one_by_one():
    """The one-by-one sum (files changed since planning, a total near 64
    bits) is SQLite's, integers and reals mixed, overflow and all."""
    cases = [
        [1, 2, 3],
        [2**63 - 1, 1],  # overflow: an error
        [2**63 - 1, 1, 0.5],  # a REAL after the overflow: SQLite's double
        [0.1, 0.2, 2**60, -(2**60)],
        [2**53 + 1, 0.5, -(2**62), 3],
        [],
        [1e308, 1e308, -1e308],
    ]
    db = apsw.Connection(":memory:")
    db.execute("CREATE TABLE t (x)")
    for values in cases:
        db.execute("DELETE FROM t")
        db.executemany("INSERT INTO t VALUES (?)", [(v,) for v in values])
        total = aggregates._Total()
        for v in values:
            total.add(v)
        try:
            want = db.execute("SELECT sum(x) FROM t").fetchall()[0][0]
        except apsw.SQLError as err:
            with pytest.raises(apsw.SQLError, match=str(err)):
                total.finish()
            continue
        assert repr(total.finish()) == repr(want), values


def test_a_range_reads_a_row_group_as_far_as_its_last_match(tmp_path):
    """Under a filter on fewer columns than the scan reads, a row group is
    decoded only up to its last row that passes: the rows before, inside and
    after the range of a sorted column come out as the whole group gives them."""
    n = 200_000  # one row group of several batches
    ids = list(range(n))
    pq.write_table(
        pa.table({"id": ids, "name": [f"n{i}" for i in ids]}),
        tmp_path / "s.parquet",
        row_group_size=n,
    )
    db = connect(
        tmp_path,
        "CREATE FOREIGN TABLE s (id bigint, name text) SERVER lake OPTIONS (path 's.parquet')",
    )
    for low, high in ((5, 9), (70_000, 70_003), (131_070, 131_074), (n - 2, n + 5), (n, n + 9)):
        got = db.execute("SELECT name FROM s WHERE id BETWEEN ? AND ?", (low, high)).fetchall()
        assert got == [(f"n{i}",) for i in range(low, min(high, n - 1) + 1)], (low, high)
    assert db.execute("SELECT count(name) FROM s WHERE id % 2 = 0 AND id > 199990").fetchall() == [
        (4,)
    ]
