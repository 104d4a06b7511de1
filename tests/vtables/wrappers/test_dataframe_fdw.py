"""dataframe_fdw: pandas DataFrames and Arrow tables of the program as foreign tables."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import threading
from functools import cmp_to_key

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vtables
from tests.test_docs import docstring_examples
from tests.vtables.differential import queries
from vtables import catalog, get_frame, register_frame, registered_frames, unregister_frame
from vtables.errors import (
    FeatureNotSupportedError,
    InvalidOptionError,
    UndefinedObjectError,
    WrapperError,
)
from vtables.semantics import compare
from vtables.wrapper import TableContext
from vtables.wrappers import dataframe_fdw
from vtables.wrappers.dataframe_fdw import DataFrameFdw


@pytest.fixture(autouse=True)
def frames():
    """The registry, emptied for each test and restored after it."""
    saved = registered_frames()
    for name in saved:
        unregister_frame(name)
    yield
    for name in registered_frames():
        unregister_frame(name)
    for name, frame in saved.items():
        register_frame(name, frame)


def connect(path) -> vtables.Connection:
    conn = vtables.connect(str(path))
    conn.execute("""
        CREATE EXTENSION IF NOT EXISTS dataframe_fdw;
        CREATE SERVER IF NOT EXISTS frames FOREIGN DATA WRAPPER dataframe_fdw;
    """)
    return conn


@pytest.fixture
def conn(tmp_path):
    c = connect(tmp_path / "app.db")
    yield c
    c.close()


def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "name": ["Ada", "Grace", None, "Linus", "Émile"],
            "score": [9.5, np.nan, 7.25, 8.0, math.inf],
            "visits": pd.array([3, None, 1, 0, 12], dtype="Int64"),
        }
    )


def as_arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


KINDS = {"pandas": lambda f: f, "arrow": as_arrow}

PEOPLE = """CREATE FOREIGN TABLE people (id bigint, name text, score double precision,
                                         visits integer) SERVER frames"""


# ------------------------------------------------------------------ reads


@pytest.mark.parametrize("kind", KINDS)
def test_reads_with_projection_and_quals(conn, kind):
    register_frame("people", KINDS[kind](people()))
    conn.execute(PEOPLE)
    assert conn.execute("SELECT * FROM people ORDER BY id").fetchall() == [
        (1, "Ada", 9.5, 3),
        (2, "Grace", None, None),
        (3, None, 7.25, 1),
        (4, "Linus", 8.0, 0),
        (5, "Émile", math.inf, 12),
    ]
    assert conn.execute("SELECT name FROM people WHERE id >= 4").fetchall() == [
        ("Linus",),
        ("Émile",),
    ]
    assert conn.execute("SELECT id FROM people WHERE name > 'Grace'").fetchall() == [
        (4,),
        (5,),
    ]  # BINARY: 'É' sorts after every ASCII letter
    assert conn.execute("SELECT id FROM people WHERE score > 8").fetchall() == [(1,), (5,)]
    assert conn.execute("SELECT id FROM people WHERE visits IN (0, 3, 99)").fetchall() == [
        (1,),
        (4,),
    ]
    assert conn.execute("SELECT id FROM people WHERE visits IS NULL").fetchall() == [(2,)]
    assert conn.execute("SELECT id FROM people WHERE name IS NOT 'Ada'").fetchall() == [
        (2,),
        (3,),
        (4,),
        (5,),
    ]
    # values SQLite converts with the column's affinity, and other storage classes
    assert conn.execute("SELECT id FROM people WHERE id = '2'").fetchall() == [(2,)]
    assert conn.execute("SELECT id FROM people WHERE id < 2.5").fetchall() == [(1,), (2,)]
    assert conn.execute("SELECT id FROM people WHERE id > 'x'").fetchall() == []
    assert conn.execute("SELECT id FROM people WHERE name > 5").fetchall() == [
        (1,),
        (2,),
        (4,),
        (5,),
    ]
    assert conn.execute("SELECT count(*) FROM people WHERE name LIKE 'g%'").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM people").fetchone() == (5,)


def test_only_the_columns_read_are_converted(conn):
    frame = pd.DataFrame({"id": [1, 2], "bad": pd.Series(["x", "oops"], dtype=object)})
    register_frame("mixed", frame.set_axis(["a", "b"]))
    conn.execute("CREATE FOREIGN TABLE mixed (id integer, bad integer) SERVER frames")
    assert conn.execute("SELECT id FROM mixed").fetchall() == [(1,), (2,)]
    with pytest.raises(WrapperError) as err:
        conn.execute("SELECT bad FROM mixed").fetchall()
    text = str(err.value)
    assert 'foreign table "mixed"' in text and 'frame "mixed"' in text
    assert "column \"bad\", row 0 (index 'a')" in text and "'x'" in text


def test_missing_values_of_every_kind_read_as_null(conn):
    frame = pd.DataFrame(
        {
            "o": pd.Series([None, float("nan"), pd.NA, "x"], dtype=object),
            "f": [np.nan, 1.0, np.nan, 2.0],
            "i": pd.array([None, 1, None, 2], dtype="Int64"),
            "t": pd.to_datetime([None, "2024-01-01", None, "2024-01-02"]),
            "s": pd.Series([None, "a", None, "b"], dtype="string"),
            "b": pd.array([None, True, None, False], dtype="boolean"),
        }
    )
    register_frame("holes", frame)
    conn.execute(
        "CREATE FOREIGN TABLE holes (o text, f real, i integer, t timestamp, s text, b boolean)"
        " SERVER frames"
    )
    rows = conn.execute("SELECT * FROM holes").fetchall()
    assert rows[0] == (None,) * 6
    assert rows[1][0] is None and rows[2] == (None,) * 6
    assert rows[3] == ("x", 2.0, 2, "2024-01-02 00:00:00.000000", "b", 0)
    for column in ("f", "i", "t", "s", "b"):
        assert conn.execute(f"SELECT count(*) FROM holes WHERE {column} IS NULL").fetchone() == (2,)
        assert conn.execute(
            f"SELECT count(*) FROM holes WHERE {column} IS NOT NULL"
        ).fetchone() == (2,)


def typed_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i8": np.array([-128, 127], dtype="int8"),
            "i64": [-(2**63), 2**63 - 1],
            "n": pd.array([None, 7], dtype="Int64"),
            "f": [math.nan, -math.inf],
            "b": [True, False],
            "ts": pd.to_datetime(["2024-02-29 12:30:45.123456", "1999-12-31"], format="ISO8601"),
            "tz": pd.to_datetime(["2024-06-01 10:00", "2024-01-01 00:00"]).tz_localize(
                "Europe/Oslo"
            ),
            "d": [dt.date(2024, 2, 29), dt.date(1, 1, 1)],
            "s": ["naïve ☃", "日本語"],
            "c": pd.Categorical(["red", "blue"]),
            "dec": [decimal.Decimal("1.25"), decimal.Decimal("12345678901234567890.25")],
        }
    )


TYPED_COLUMNS = [
    ("i8", "integer", [-128, 127]),
    ("i64", "bigint", [-(2**63), 2**63 - 1]),
    ("n", "bigint", [None, 7]),
    ("f", "double precision", [None, -math.inf]),
    ("b", "boolean", [1, 0]),
    ("ts", "timestamp", ["2024-02-29 12:30:45.123456", "1999-12-31 00:00:00.000000"]),
    ("tz", "timestamptz", ["2024-06-01 08:00:00.000000+00:00", "2023-12-31 23:00:00.000000+00:00"]),
    ("d", "date", ["2024-02-29", "0001-01-01"]),
    ("s", "text", ["naïve ☃", "日本語"]),
    ("c", "text", ["red", "blue"]),
    ("dec", "numeric", [1.25, "12345678901234567890.25"]),
]


@pytest.mark.parametrize("kind", KINDS)
def test_types_are_imported_and_converted(conn, kind):
    register_frame("typed", KINDS[kind](typed_frame()))
    conn.execute("IMPORT FOREIGN SCHEMA anything FROM SERVER frames INTO main")
    table = catalog.get_table(conn, "typed")
    assert [(c.name, c.type) for c in table.columns] == [(n, t) for n, t, _ in TYPED_COLUMNS]
    assert table.options == {"frame": "typed"}
    for name, _type, values in TYPED_COLUMNS:
        got = [r[0] for r in conn.execute(f"SELECT {name} FROM typed")]
        assert got == values, name
    assert conn.execute("SELECT s FROM typed WHERE c = 'blue'").fetchall() == [("日本語",)]
    assert conn.execute("SELECT c FROM typed WHERE tz > '2024-01-01'").fetchall() == [("red",)]
    assert conn.execute("SELECT c FROM typed WHERE i64 = 9223372036854775807").fetchall() == [
        ("blue",)
    ]


def test_index_is_not_a_column_until_reset(conn):
    frame = pd.DataFrame({"v": [10, 20]}, index=pd.Index(["x", "y"], name="key"))
    register_frame("indexed", frame)
    register_frame("reset", frame.reset_index())
    conn.execute("IMPORT FOREIGN SCHEMA s FROM SERVER frames INTO main")
    assert [c.name for c in catalog.get_table(conn, "indexed").columns] == ["v"]
    assert conn.execute("SELECT * FROM reset WHERE key = 'y'").fetchall() == [("y", 20)]


def test_column_name_and_frame_options(conn):
    register_frame("Raw Data", pd.DataFrame({"Total Amount": [5, 6], 3: ["a", "b"]}))
    conn.execute("""
        CREATE FOREIGN TABLE totals (amount integer OPTIONS (column_name 'Total Amount'),
                                     label text OPTIONS (column_name '3'))
            SERVER frames OPTIONS (frame 'Raw Data')
    """)
    assert conn.execute("SELECT label, amount FROM totals WHERE amount > 5").fetchall() == [
        ("b", 6)
    ]
    fdw = DataFrameFdw.create({"frame": "Raw Data"}, {}, TableContext(table_name="totals"))
    assert fdw.explain([], [], None, None, None) == 'DataFrame "Raw Data" (2 rows)'
    unregister_frame("Raw Data")
    assert fdw.explain([], [], None, None, None) == 'frame "Raw Data" (not registered)'


# ------------------------------------------------------------------ errors


def test_unknown_frame_names_the_table_and_how_to_register(conn):
    conn.execute("CREATE FOREIGN TABLE ghost (x integer) SERVER frames OPTIONS (frame 'nowhere')")
    with pytest.raises(UndefinedObjectError) as err:
        conn.execute("SELECT * FROM ghost").fetchall()
    assert 'foreign table "ghost": no frame is registered as "nowhere"' in str(err.value)
    assert "register_frame('nowhere', frame)" in (err.value.hint or "")


def test_unknown_column_is_named(conn):
    register_frame("people", people())
    conn.execute("CREATE FOREIGN TABLE people (id integer, age integer) SERVER frames")
    with pytest.raises(UndefinedObjectError, match='frame "people" has no column "age"'):
        conn.execute("SELECT age FROM people").fetchall()


def test_options_are_validated_and_a_failed_ddl_changes_nothing(conn):
    before = vtables.dump(conn)
    with pytest.raises(InvalidOptionError, match='invalid option "filename"'):
        conn.execute("CREATE FOREIGN TABLE t (x int) SERVER frames OPTIONS (filename 'a.csv')")
    with pytest.raises(InvalidOptionError, match="empty name"):
        conn.execute("CREATE FOREIGN TABLE t (x int) SERVER frames OPTIONS (frame ' ')")
    with pytest.raises(InvalidOptionError, match='invalid option "frame"'):
        conn.execute("CREATE FOREIGN TABLE t (x int OPTIONS (frame 'f')) SERVER frames")
    with pytest.raises(InvalidOptionError, match='invalid option "frame" for server'):
        conn.execute("CREATE SERVER other FOREIGN DATA WRAPPER dataframe_fdw OPTIONS (frame 'x')")
    assert vtables.dump(conn) == before


def test_registry_refuses_what_is_not_a_frame():
    with pytest.raises(TypeError, match="pandas DataFrame or a pyarrow Table"):
        register_frame("x", [1, 2])
    with pytest.raises(ValueError, match="non-empty"):
        register_frame("", pd.DataFrame())
    with pytest.raises(KeyError, match="no frame is registered as 'x'"):
        get_frame("x")
    frame = pd.DataFrame({"a": [1]})
    register_frame("x", frame)
    snapshot = registered_frames()
    unregister_frame("x")
    unregister_frame("x")  # twice: nothing happens
    assert snapshot == {"x": frame} and registered_frames() == {}


def test_update_and_delete_are_refused(conn):
    register_frame("people", people())
    conn.execute(PEOPLE)
    with pytest.raises(FeatureNotSupportedError, match='cannot update foreign table "people"'):
        conn.execute("UPDATE people SET name = 'x' WHERE id = 1")
    with pytest.raises(FeatureNotSupportedError, match="cannot delete from foreign table"):
        conn.execute("DELETE FROM people")
    pd.testing.assert_frame_equal(get_frame("people"), people())


# ------------------------------------------------------------------ import


def test_import_limit_to_and_except(conn):
    for name in ("a", "b", "c"):
        register_frame(name, pd.DataFrame({"x": [1]}))
    conn.execute("IMPORT FOREIGN SCHEMA s LIMIT TO (a, c) FROM SERVER frames INTO main")
    assert sorted(t.name for t in catalog.list_tables(conn, "frames")) == ["a", "c"]
    conn.execute("IMPORT FOREIGN SCHEMA s EXCEPT (a, c) FROM SERVER frames INTO main")
    assert sorted(t.name for t in catalog.list_tables(conn, "frames")) == ["a", "b", "c"]
    assert conn.execute("SELECT x FROM b").fetchall() == [(1,)]


def test_import_maps_object_columns_by_their_values():
    frame = pd.DataFrame(
        {
            "ints": pd.Series([1, None], dtype=object),
            "floats": pd.Series([1.5, 2], dtype=object),
            "dates": [dt.date(2024, 1, 1), None],
            "aware": [dt.datetime(2024, 1, 1, tzinfo=dt.UTC), None],
            "naive": pd.Series([dt.datetime(2024, 1, 1), None], dtype=object),
            "raw": [b"\x00", None],
            "mixed": pd.Series(["a", 1], dtype=object),
            "cats": pd.Categorical([1, 2]),
            "u64": np.array([1, 2], dtype="uint64"),
            "u16": np.array([1, 2], dtype="uint16"),
            "delta": pd.to_timedelta([1, 2], unit="s"),
        }
    )
    definition = dataframe_fdw._definition("f", frame)
    assert [(c.name, c.type) for c in definition.columns] == [
        ("ints", "bigint"),
        ("floats", "double precision"),
        ("dates", "date"),
        ("aware", "timestamptz"),
        ("naive", "timestamp"),
        ("raw", "bytea"),
        ("mixed", "text"),
        ("cats", "bigint"),
        ("u64", "numeric"),  # beyond a signed 64-bit integer: read as REAL
        ("u16", "integer"),
        ("delta", "text"),
    ]
    table = pa.table(
        {
            "t": pa.array([1], pa.time64("us")),
            "d": pa.array([dt.date(2024, 1, 1)], pa.date32()),
            "k": pa.array(["x"]).dictionary_encode(),
            "m": pa.array([decimal.Decimal("1.5")], pa.decimal128(5, 2)),
            "bin": pa.array([b"x"], pa.binary()),
            "l": pa.array([[1]], pa.list_(pa.int64())),
            "u": pa.array([1], pa.uint64()),
        }
    )
    got = [c.type for c in dataframe_fdw._definition("a", table).columns]
    assert got == "time date text numeric bytea text numeric".split()


# ------------------------------------------------------------------ writes


@pytest.mark.parametrize("kind", KINDS)
def test_insert_is_seen_at_commit_and_dropped_at_rollback(tmp_path, kind):
    original = KINDS[kind](people())
    register_frame("people", original)
    writer, reader = connect(tmp_path / "app.db"), connect(tmp_path / "app.db")
    writer.execute(PEOPLE)
    writer.execute("BEGIN")
    writer.execute("INSERT INTO people VALUES (6, 'Hedy', 1.5, 2)")
    assert writer.execute("SELECT name FROM people WHERE id = 6").fetchall() == [("Hedy",)]
    assert reader.execute("SELECT count(*) FROM people").fetchone() == (5,)
    assert get_frame("people") is original
    writer.execute("COMMIT")
    assert reader.execute("SELECT name, visits FROM people WHERE id = 6").fetchall() == [
        ("Hedy", 2)
    ]
    assert get_frame("people") is not original and len(get_frame("people")) == 6
    writer.execute("BEGIN")
    writer.execute("INSERT INTO people (id) VALUES (7)")
    writer.execute("ROLLBACK")
    assert len(get_frame("people")) == 6
    assert writer.execute("SELECT count(*) FROM people").fetchone() == (6,)
    writer.close()
    reader.close()


def test_savepoints(conn):
    register_frame("people", people())
    conn.execute(PEOPLE)
    conn.execute("BEGIN; INSERT INTO people (id) VALUES (10); SAVEPOINT sp;")
    conn.execute("INSERT INTO people (id) VALUES (11)")
    conn.execute("ROLLBACK TO sp; RELEASE sp; COMMIT")
    assert get_frame("people")["id"].tolist() == [1, 2, 3, 4, 5, 10]
    conn.execute("BEGIN; SAVEPOINT a; INSERT INTO people (id) VALUES (20); ROLLBACK TO a")
    conn.execute("INSERT INTO people (id) VALUES (21); SAVEPOINT b")
    conn.execute("INSERT INTO people (id) VALUES (22); SAVEPOINT c")
    conn.execute("INSERT INTO people (id) VALUES (23); ROLLBACK TO b; COMMIT")
    assert get_frame("people")["id"].tolist() == [1, 2, 3, 4, 5, 10, 21]


def test_appends_keep_dtypes_where_the_values_fit(conn):
    frame = pd.DataFrame(
        {
            "i": np.array([1, 2**62], dtype="int64"),
            "j": [1, 2],
            "b": [True, False],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "tz": pd.to_datetime(["2024-01-01", "2024-01-02"]).tz_localize("UTC"),
            "d": [dt.date(2024, 1, 1), dt.date(2024, 1, 2)],
            "c": pd.Categorical(["x", "y"]),
            "f": [0.5, 1.5],
        },
        index=pd.RangeIndex(2),
    )
    register_frame("f", frame)
    conn.execute("IMPORT FOREIGN SCHEMA s FROM SERVER frames INTO main")
    conn.execute(
        "INSERT INTO f VALUES (3, NULL, 1, '2024-03-01 10:00:00', '2024-03-01 10:00:00+02:00',"
        " '2024-03-01', 'z', NULL)"
    )
    new = get_frame("f")
    assert list(new.index) == [0, 1, 2]
    assert new["i"].dtype == np.int64 and new["i"].tolist() == [1, 2**62, 3]
    assert str(new["j"].dtype) == "Int64" and new["j"].tolist()[:2] == [1, 2]
    assert new["j"].isna().tolist() == [False, False, True]
    assert new["b"].dtype == bool and new["b"].tolist() == [True, False, True]
    assert new["t"].dtype == frame["t"].dtype
    assert new["t"].iloc[2] == pd.Timestamp("2024-03-01 10:00:00")
    assert new["tz"].dtype == frame["tz"].dtype
    assert new["tz"].iloc[2] == pd.Timestamp("2024-03-01 08:00:00", tz="UTC")
    assert new["d"].tolist()[2] == dt.date(2024, 3, 1)
    assert isinstance(new["c"].dtype, pd.CategoricalDtype) and new["c"].tolist() == [
        "x",
        "y",
        "z",
    ]
    assert new["f"].dtype == np.float64 and math.isnan(new["f"].iloc[2])
    assert conn.execute("SELECT i, c FROM f WHERE i = 3").fetchall() == [(3, "z")]


def test_appends_after_another_index_count_on(conn):
    register_frame("f", pd.DataFrame({"x": [1, 2]}, index=["a", "b"]))
    conn.execute("CREATE FOREIGN TABLE f (x integer) SERVER frames")
    conn.execute("INSERT INTO f VALUES (3)")
    assert list(get_frame("f").index) == ["a", "b", 2]


def test_arrow_appends_follow_the_schema(conn):
    table = pa.table({"id": pa.array([1], pa.int32()), "when": pa.array([None], pa.date32())})
    register_frame("t", table)
    conn.execute("IMPORT FOREIGN SCHEMA s FROM SERVER frames INTO main")
    conn.execute("INSERT INTO t VALUES (2, '2024-05-06')")
    assert get_frame("t").schema == table.schema
    assert get_frame("t").to_pylist()[1] == {"id": 2, "when": dt.date(2024, 5, 6)}
    conn.execute("CREATE FOREIGN TABLE t_text (id text) SERVER frames OPTIONS (frame 't')")
    with pytest.raises(WrapperError, match='frame "t".*column "id"'):
        conn.execute("INSERT INTO t_text VALUES ('not a number')")
    assert get_frame("t").num_rows == 2


def test_appends_from_threads_all_land(tmp_path):
    register_frame("log", pd.DataFrame({"n": pd.Series([], dtype="int64")}))
    connect(tmp_path / "app.db").execute("CREATE FOREIGN TABLE log (n integer) SERVER frames")
    errors = []

    def work(k: int) -> None:
        try:
            c = connect(tmp_path / "app.db")
            for i in range(20):
                c.execute("INSERT INTO log VALUES (?)", (k * 100 + i,))
            c.close()
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(get_frame("log")["n"]) == sorted(k * 100 + i for k in range(4) for i in range(20))


def test_commit_fails_when_the_frame_is_gone(conn):
    register_frame("people", people())
    conn.execute(PEOPLE)
    conn.execute("BEGIN")
    conn.execute("INSERT INTO people (id) VALUES (8)")
    unregister_frame("people")
    with pytest.raises(Exception, match='frame "people" was unregistered'):
        conn.execute("COMMIT")


def test_to_sql_appends_and_read_sql_reads_back(tmp_path):
    register_frame("people", people())
    connect(tmp_path / "app.db").execute(PEOPLE)
    engine = sa.create_engine(f"sqlmed:///{tmp_path / 'app.db'}")
    try:
        new = pd.DataFrame({"id": [6, 7], "name": ["Hedy", None], "score": [1.0, None]})
        assert new.to_sql("people", engine, if_exists="append", index=False) == 2
        frame = get_frame("people")
        assert frame["id"].tolist() == [1, 2, 3, 4, 5, 6, 7]
        assert frame["visits"].isna().tolist()[-2:] == [True, True]
        back = pd.read_sql("SELECT id, name FROM people WHERE id > 5 ORDER BY id", engine)
        assert back["id"].tolist() == [6, 7] and back["name"].isna().tolist() == [False, True]
        assert back["name"][0] == "Hedy"
    finally:
        engine.dispose()


def test_the_docstring_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    register_frame(
        "measurements", pd.DataFrame({"station": ["Oslo", "Bergen"], "value": [1.5, 9.0]})
    )
    conn = vtables.connect(str(tmp_path / "app.db"))
    try:
        for sql in docstring_examples("dataframe_fdw"):
            rows = conn.execute(sql).fetchall()
        assert rows == [("Bergen", 9.0), ("Oslo", 2.5)]
    finally:
        conn.close()
    assert get_frame("measurements")["station"].tolist() == ["Oslo", "Bergen", "Oslo"]


def test_signature_and_name():
    assert vtables.find_wrapper("dataframe_fdw") is DataFrameFdw


# ------------------------------------------------------------- differential

COLUMNS = ["id", "grp", "val", "name", "flag", "big"]
EDGE_INTS = [0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63)]
NAMES = ["ann", "Ann", "bob", "dé", "日本", "", "a_b", "%"]
VALUES = {
    "id": st.integers(-2, 45),
    "grp": st.sampled_from(["a", "b", "c", "A", "1"]),
    "val": st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False),
        st.sampled_from([0.0, -0.0, 1e300]),
        st.integers(-5, 5),
    ),
    "name": st.sampled_from([*NAMES, "ann%", "5"]),
    "flag": st.one_of(st.booleans().map(int), st.sampled_from(["1", "true", 0.5])),
    "big": st.one_of(st.sampled_from(EDGE_INTS), st.floats(-1e19, 1e19, allow_nan=False)),
}
ROW = st.tuples(
    st.one_of(st.none(), st.sampled_from(["a", "b", "c", "A"])),
    st.one_of(
        st.none(),
        st.just(math.nan),
        st.floats(-1e6, 1e6, allow_nan=False),
        st.sampled_from([math.inf, -math.inf, 0.5]),
    ),
    st.one_of(st.none(), st.sampled_from(NAMES), st.text(max_size=3)),
    st.one_of(st.none(), st.booleans()),
    st.one_of(st.none(), st.sampled_from(EDGE_INTS), st.integers(-(2**63), 2**63 - 1)),
)


def between(draw, column: str, values: dict) -> tuple[str, list]:
    """BETWEEN two values of any storage class, in SQLite's order."""
    pair = sorted([draw(values[column]), draw(values[column])], key=cmp_to_key(compare))
    return f"T.{column} BETWEEN ? AND ?", pair


def build(rows: list[tuple], kind: str):
    frame = pd.DataFrame(
        {
            "id": np.arange(1, len(rows) + 1, dtype="int64"),
            "grp": pd.Series([r[0] for r in rows], dtype="string"),
            "val": pd.Series([np.nan if r[1] is None else r[1] for r in rows], dtype="float64"),
            "name": pd.Series([r[2] for r in rows], dtype=object),
            "flag": pd.array([r[3] for r in rows], dtype="boolean"),
            "big": pd.array([r[4] for r in rows], dtype="Int64"),
        }
    )
    return frame if kind == "pandas" else as_arrow(frame)


def native(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value) if isinstance(value, bool) else value


@pytest.mark.parametrize("kind", KINDS)
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(ROW, max_size=30),
    q=queries(
        COLUMNS,
        VALUES,
        patterns=["a%", "A%", "%b%", "_", "d%", "%", "日%"],
        aggregates="count(*), sum(val), min(name), max(big), count(flag)",
        between=between,
    ),
)
def test_differential_against_a_native_copy(conn, kind, rows, q):
    """Random frames, registered and copied into a native table: same answers."""
    register_frame("items", build(rows, kind))
    conn.execute("""
        DROP TABLE IF EXISTS local_items;
        CREATE TABLE local_items (id bigint, grp text, val double precision, name text,
                                  flag boolean, big bigint);
        CREATE TABLE IF NOT EXISTS tags (id integer PRIMARY KEY, tag text);
        INSERT OR IGNORE INTO tags VALUES (1, 'one'), (3, 'three'), (30, 'thirty');
    """)
    if not conn.execute(
        "SELECT 1 FROM sqlmed_foreign_tables WHERE foreign_table_name = 'items'"
    ).fetchall():
        conn.execute(
            "CREATE FOREIGN TABLE items (id bigint, grp text, val double precision, name text,"
            " flag boolean, big bigint) SERVER frames"
        )
    conn.executemany(
        "INSERT INTO local_items VALUES (?, ?, ?, ?, ?, ?)",
        [(i, *(native(v) for v in row)) for i, row in enumerate(rows, 1)],
    )
    sql, params = q
    got = conn.execute(sql.format(table="items"), params).fetchall()
    want = conn.execute(sql.format(table="local_items"), params).fetchall()
    assert got == want, sql


GRID_ROWS = [
    ("a", 1.5, "ann", True, 2**63 - 1),
    ("A", math.nan, "", False, -(2**63)),
    (None, -0.0, "日本", None, 2**53 + 1),
    ("1", math.inf, "5", True, None),
    ("b", 2.0, None, False, 0),
    ("a", 9007199254740993.0, "a\x00b", True, 2**53),
]
NUMBER_PROBES = [0, 1, 2, -1, 2**53, 2**53 + 1, 2**63 - 1, -(2**63), 1.5, 2.0, -0.0]
PROBES = [None, *NUMBER_PROBES, 1e300, math.inf, 9007199254740992.0]
PROBES += "1 2.0 a A ann 日本 5 x true".split() + [""]


@pytest.mark.parametrize("kind", KINDS)
def test_every_comparison_against_a_native_copy(conn, kind):
    """Each operator, column and probe of every storage class: vectorised
    masks and row-by-row checks give a native table's answers."""
    register_frame("items", build(GRID_ROWS, kind))
    conn.execute(
        "CREATE FOREIGN TABLE items (id bigint, grp text, val double precision, name text,"
        " flag boolean, big bigint) SERVER frames"
    )
    conn.execute(
        "CREATE TABLE local_items (id bigint, grp text, val double precision, name text,"
        " flag boolean, big bigint)"
    )
    conn.executemany(
        "INSERT INTO local_items VALUES (?, ?, ?, ?, ?, ?)",
        [(i, *(native(v) for v in row)) for i, row in enumerate(GRID_ROWS, 1)],
    )
    ops = ["=", "!=", "<", "<=", ">", ">=", "IS", "IS NOT"]
    for column in COLUMNS:
        for probe in PROBES:
            for op in ops:
                sql = f"SELECT id FROM {{}} WHERE {column} {op} ? ORDER BY id"
                got = conn.execute(sql.format("items"), (probe,)).fetchall()
                want = conn.execute(sql.format("local_items"), (probe,)).fetchall()
                assert got == want, (column, op, probe)
            sql = f"SELECT id FROM {{}} WHERE {column} IN (?, ?, 'a', 2) ORDER BY id"
            params = (probe, 1)
            got = conn.execute(sql.format("items"), params).fetchall()
            assert got == conn.execute(sql.format("local_items"), params).fetchall(), probe


def test_a_null_byte_and_surrogate_free_text_compare_as_binary(conn):
    names = ["a\x00b", "a", "ab", "\uffff", "\U0001f600", "é", "E"]
    register_frame("t", pd.DataFrame({"name": names}))
    conn.execute("CREATE FOREIGN TABLE t (name text) SERVER frames")
    conn.execute("CREATE TABLE n (name text)")
    conn.executemany("INSERT INTO n VALUES (?)", [(n,) for n in names])
    for op in ("<", "<=", ">", ">=", "=", "!="):
        for probe in names:
            sql = f"SELECT name FROM {{}} WHERE name {op} ? ORDER BY name"
            got = conn.execute(sql.format("t"), (probe,)).fetchall()
            assert got == conn.execute(sql.format("n"), (probe,)).fetchall(), (op, probe)
