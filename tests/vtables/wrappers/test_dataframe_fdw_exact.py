"""dataframe_fdw: values round-trip exactly, both ways, or are refused by name.

A reviewer's findings, each a regression test: appends that changed values to
fit a dtype, integers beyond 64 bits, a frame replaced before COMMIT, the
registry's error messages, text UTF-8 cannot hold, and the pending rows a
transaction reads back.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import vtables
from tests.vtables.wrappers.test_dataframe_fdw import connect
from tests.vtables.wrappers.test_dataframe_fdw import frames as frames  # noqa: F401  (autouse)
from vtables import get_frame, register_frame
from vtables.errors import UndefinedObjectError, WrapperError
from vtables.wrappers import dataframe_fdw


@pytest.fixture
def db(tmp_path):
    c = connect(tmp_path / "app.db")
    yield c
    c.close()


def both(db, table: str, declared: str, values: list) -> tuple[list, list]:
    """The foreign table's rows and a native table's, after the same INSERTs."""
    db.execute(f"CREATE TABLE native_{table} ({declared})")
    for value in values:
        for name in (table, f"native_{table}"):
            db.execute(f"INSERT INTO {name} VALUES (?)", (value,))
    got = db.execute(f"SELECT * FROM {table}").fetchall()
    return got, db.execute(f"SELECT * FROM native_{table}").fetchall()


# ------------------------------------------------------- appends (R3, R6 minor)


def test_float32_and_second_columns_widen_rather_than_round(db):
    register_frame("f32", pd.DataFrame({"x": pd.Series([], dtype=np.float32)}))
    register_frame("ts", pd.DataFrame({"t": pd.Series([], dtype="datetime64[s]")}))
    db.execute("IMPORT FOREIGN SCHEMA s FROM SERVER frames INTO main")
    got, want = both(db, "f32", "x double precision", [1.5, 0.1, 16777217, 1e300])
    assert got == want == [(1.5,), (0.1,), (16777217.0,), (1e300,)]
    assert get_frame("f32")["x"].dtype == np.float64
    assert db.execute("SELECT count(*) FROM f32 WHERE x = 0.1").fetchone() == (1,)
    db.execute("INSERT INTO ts VALUES ('2024-01-01 10:00:00.123456')")
    assert db.execute("SELECT t FROM ts").fetchall() == [("2024-01-01 10:00:00.123456",)]
    assert get_frame("ts")["t"].dtype == np.dtype("M8[us]")


def test_text_a_dtype_would_change_is_kept_as_written(db):
    frame = pd.DataFrame(
        {
            "flag": [True],
            "i": [1],
            "f": [1.5],
            "d": [dt.date(2024, 1, 1)],
            "naive": pd.to_datetime(["2024-01-01"]),
        }
    )
    register_frame("t", frame)
    declared = "flag text, i text, f text, d text, naive text"
    db.execute(f"CREATE FOREIGN TABLE t ({declared}) SERVER frames")
    db.execute(f"CREATE TABLE native_t ({declared})")
    rows = [
        ("true", "7", "2.5", "2024-03-01", "2024-03-01 10:00:00.000000"),  # the dtype holds these
        ("x", "05", "1.50", "2024-01-02 10:00:00", "2024-01-01 10:00:00+02:00"),
    ]
    for name in ("t", "native_t"):
        db.executemany(f"INSERT INTO {name} VALUES (?, ?, ?, ?, ?)", rows)
    got = db.execute("SELECT * FROM t").fetchall()[1:]
    assert got == rows == db.execute("SELECT * FROM native_t").fetchall()
    held = get_frame("t")
    assert held["flag"].tolist() == [True, True, "x"]
    assert held["i"].tolist() == [1, 7, "05"] and held["d"].tolist()[1] == dt.date(2024, 3, 1)


def test_values_a_boolean_column_cannot_hold_make_it_object(db):
    register_frame("b", pd.DataFrame({"flag": [True, False]}))
    db.execute("CREATE FOREIGN TABLE b (flag integer) SERVER frames")
    got, want = both(db, "b", "flag integer", [1, 2])
    assert got[2:] == want == [(1,), (2,)]
    assert get_frame("b")["flag"].tolist() == [True, False, True, 2]


def test_offsets_are_kept_or_the_instant_is(db):
    frame = pd.DataFrame({"naive": pd.to_datetime(["2024-01-01"])})
    frame["utc"] = frame["naive"].dt.tz_localize("UTC")
    register_frame("t", frame)
    db.execute("CREATE FOREIGN TABLE t (naive timestamptz, utc timestamptz) SERVER frames")
    db.execute("INSERT INTO t VALUES ('2024-03-01 10:00:00+02:00', '2024-03-01 10:00:00+02:00')")
    assert db.execute("SELECT * FROM t").fetchall()[1:] == [
        ("2024-03-01 08:00:00.000000+00:00", "2024-03-01 08:00:00.000000+00:00")
    ]
    assert get_frame("t")["utc"].dtype == frame["utc"].dtype  # the same instant


def test_a_null_keeps_an_integer_columns_width(db):
    frame = pd.DataFrame(
        {
            "i32": np.array([1], np.int32),
            "i8": np.array([1], np.int8),
            "u8": np.array([1], np.uint8),
        }
    )
    register_frame("t", frame)
    db.execute("IMPORT FOREIGN SCHEMA s FROM SERVER frames INTO main")
    db.execute("INSERT INTO t VALUES (NULL, 1000, -1)")
    held = get_frame("t")
    assert str(held["i32"].dtype) == "Int32"
    assert held["i8"].dtype == np.int64 and held["u8"].dtype == np.int64
    assert db.execute("SELECT * FROM t").fetchall() == [(1, 1, 1), (None, 1000, -1)]


def test_arrow_refuses_what_its_schema_cannot_hold_exactly(db):
    table = pa.table(
        {
            "x": pa.array([1.5], pa.float32()),
            "t": pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("s")),
        }
    )
    register_frame("a", table)
    db.execute("IMPORT FOREIGN SCHEMA s FROM SERVER frames INTO main")
    with pytest.raises(WrapperError, match=r'table "a".*column "x" \(float\).*0\.1'):
        db.execute("INSERT INTO a VALUES (0.1, NULL)")
    with pytest.raises(WrapperError, match=r'table "a".*column "t" \(timestamp\[s\]\).*500000'):
        db.execute("INSERT INTO a VALUES (2.5, '2024-01-01 10:00:00.5')")
    db.execute("INSERT INTO a VALUES (2.5, '2024-01-01 10:00:00')")
    assert get_frame("a").schema == table.schema
    assert db.execute("SELECT * FROM a").fetchall() == [
        (1.5, "2024-01-01 00:00:00.000000"),
        (2.5, "2024-01-01 10:00:00.000000"),
    ]


# ------------------------------------------------------ integers beyond 64 bits (R1)


@pytest.mark.parametrize("kind", ["pandas", "arrow"])
def test_integers_beyond_64_bits_read_as_sqlite_reads_them(db, kind):
    values = [1, 2**63, 2**64 - 1]
    u = np.array(values, dtype=np.uint64)
    register_frame("u", pd.DataFrame({"u": u}) if kind == "pandas" else pa.table({"u": u}))
    db.execute("IMPORT FOREIGN SCHEMA s FROM SERVER frames INTO main")
    assert db.execute("SELECT type FROM pragma_table_info('u')").fetchall() == [("numeric",)]
    db.execute("CREATE TABLE native (u numeric)")
    db.executemany(
        "INSERT INTO native VALUES (?)", [(float(v) if v > 2**62 else v,) for v in values]
    )
    for where in ["1", "u > 9223372036854775807", "u = 1", "u >= 9.3e18", "u < 2"]:
        sql = f"SELECT u, typeof(u) FROM {{}} WHERE {where} ORDER BY u"
        got = db.execute(sql.format("u")).fetchall()
        assert got == db.execute(sql.format("native")).fetchall(), where
    register_frame("o", pd.DataFrame({"big": pd.Series([2**70, 10**400, -(2**63)], dtype=object)}))
    db.execute("CREATE FOREIGN TABLE o (big bigint) SERVER frames")
    assert db.execute("SELECT big FROM o").fetchall() == [
        (float(2**70),),
        (float("inf"),),
        (-(2**63),),
    ]


# ------------------------------------------------ a frame replaced before COMMIT (R4)


def test_commit_fails_when_the_frame_lost_the_appended_columns(db):
    register_frame("t", pd.DataFrame({"id": [1]}))
    db.execute("CREATE FOREIGN TABLE t (id bigint) SERVER frames")
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (5)")
    replacement = pd.DataFrame({"other": ["z"]})
    register_frame("t", replacement)
    with pytest.raises(WrapperError, match='frame "t": it has no column "id" any more'):
        db.execute("COMMIT")
    assert get_frame("t") is replacement


def test_commit_appends_to_a_frame_replaced_by_one_with_the_columns(db):
    register_frame("t", pd.DataFrame({"id": [1]}))
    db.execute("CREATE FOREIGN TABLE t (id bigint) SERVER frames")
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (5)")
    register_frame("t", pd.DataFrame({"id": [2], "name": ["b"]}))
    db.execute("COMMIT")
    held = get_frame("t")
    assert held["id"].tolist() == [2, 5] and held["name"].isna().tolist() == [False, True]


# --------------------------------------------------------- messages (R6, R7)


def test_an_unregistered_frame_names_the_real_register_function(db):
    db.execute("CREATE FOREIGN TABLE people (id bigint) SERVER frames")
    with pytest.raises(UndefinedObjectError) as caught:
        db.execute("SELECT * FROM people").fetchall()
    assert "vtables.register_frame('people', frame)" in str(caught.value)
    assert callable(vtables.register_frame)


def test_a_name_two_frames_match_ignoring_case_is_ambiguous(db):
    register_frame("People", pd.DataFrame({"id": [1]}))
    register_frame("PEOPLE", pd.DataFrame({"id": [2]}))
    db.execute("CREATE FOREIGN TABLE people (id bigint) SERVER frames")
    with pytest.raises(UndefinedObjectError, match='"people" is ambiguous.*"PEOPLE", "People"'):
        db.execute("SELECT * FROM people").fetchall()
    db.execute("ALTER FOREIGN TABLE people OPTIONS (ADD frame 'People')")
    assert db.execute("SELECT * FROM people").fetchall() == [(1,)]


@pytest.mark.parametrize("declared", ["text", "varchar(10)", "blob"])
def test_a_lone_surrogate_is_an_error_naming_table_column_and_row(db, declared):
    frame = pd.DataFrame({"id": [1, 2], "s": pd.Series(["ok", "bad\ud800"], dtype=object)})
    register_frame("s", frame.set_axis(["a", "b"]))
    db.execute(f"CREATE FOREIGN TABLE s (id bigint, s {declared}) SERVER frames")
    with pytest.raises(WrapperError, match=r'table "s".*column "s", row 1 \(index .b.\)'):
        db.execute("SELECT * FROM s").fetchall()
    assert db.execute("SELECT id FROM s WHERE id = 1").fetchall() == [(1,)]


# ------------------------------------------- pending rows read back (R6 minor)


def test_pending_rows_are_made_into_a_frame_once(db, monkeypatch):
    register_frame("t", pd.DataFrame({"id": [0]}))
    db.execute("CREATE FOREIGN TABLE t (id bigint) SERVER frames")
    built: list[int] = []
    real = dataframe_fdw.appended

    def counting(frame, rows):
        built.append(len(rows))
        return real(frame, rows)

    monkeypatch.setattr(dataframe_fdw, "appended", counting)
    db.execute("BEGIN")
    for i in range(1, 21):
        db.execute("INSERT INTO t VALUES (?)", (i,))
        assert db.execute("SELECT count(*), max(id) FROM t").fetchone() == (i + 1, i)
    # each row made into a frame once for the reads (and once when inserted)
    assert sum(built) == 2 * 20
    db.execute("SAVEPOINT s; INSERT INTO t VALUES (100); SELECT * FROM t")
    db.execute("ROLLBACK TO s; INSERT INTO t VALUES (200)")
    assert db.execute("SELECT max(id) FROM t").fetchone() == (200,)
    db.execute("COMMIT")
    assert get_frame("t")["id"].tolist() == list(range(21)) + [200]
