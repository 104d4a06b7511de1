"""Foreign columns declared with PostgreSQL types reflect as SQLAlchemy types that
read and write the text docs/wrappers/types.md documents for them."""

from __future__ import annotations

import datetime
import sqlite3
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy import types as sqltypes

U1 = uuid.UUID("12345678-1234-5678-1234-567812345678")
U2 = uuid.UUID("87654321-4321-8765-4321-876543218765")
PLUS2 = datetime.timezone(datetime.timedelta(hours=2))


@pytest.fixture
def remote(tmp_path):
    path = str(tmp_path / "remote.db")
    with sqlite3.connect(path) as db:
        db.executescript(f"""
            CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT, tt TEXT, a TEXT, b TEXT,
                            ts TEXT, ts2 TEXT, tt2 TEXT, iv TEXT);
            INSERT INTO t VALUES (1, '{U1}', '12:34:56.123456+02:00', '[1,2,null]',
                '["x","y"]', '2026-12-01 12:45:29.767501+00:00',
                '2026-12-01 12:45:29.000000+00:00', '08:00:00.000000+00:00',
                '1 mon 2 days 03:04:05.5');
        """)
    return path


@pytest.fixture
def engine(tmp_path, remote):
    eng = sa.create_engine(f"sqlmed:///{tmp_path / 'app.db'}")
    with eng.begin() as conn:
        for statement in (
            "CREATE EXTENSION sqlite_fdw",
            f"CREATE SERVER lib FOREIGN DATA WRAPPER sqlite_fdw OPTIONS (database '{remote}')",
            "CREATE FOREIGN TABLE t (id integer OPTIONS (key 'true'), u uuid,"
            " tt time with time zone, a integer[], b text[],"
            " ts timestamp with time zone, ts2 timestamptz, tt2 timetz, iv interval)"
            " SERVER lib",
            "CREATE TABLE local (u uuid, tt time with time zone, a integer[],"
            " ts timestamp with time zone, iv interval)",
        ):
            conn.exec_driver_sql(statement)
    yield eng
    eng.dispose()


def stored(path: str, where: str = "id = 1") -> tuple:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT u, tt, a, b, ts, ts2, tt2, iv FROM t WHERE {where}").fetchone()


def test_foreign_columns_reflect_their_documented_types_local_ones_unchanged(engine):
    types = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("t")}
    assert types["u"].python_type is uuid.UUID
    assert isinstance(types["u"], sqltypes.TypeDecorator)
    assert not isinstance(types["u"], sqltypes.Uuid)
    for name in ("tt", "tt2"):
        assert isinstance(types[name], sqltypes.TIME) and types[name].timezone
    for name in ("ts", "ts2"):
        assert isinstance(types[name], sqltypes.TIMESTAMP) and types[name].timezone
    assert type(types["a"]) is sqltypes.JSON and type(types["b"]) is sqltypes.JSON
    assert type(types["iv"]) is sqltypes.TEXT
    # a local table declared with the same names keeps SQLite's reflection
    types = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("local")}
    assert isinstance(types["u"], sqltypes.Uuid)
    assert type(types["tt"]) is sqltypes.NUMERIC
    assert type(types["a"]) is sqltypes.INTEGER
    assert type(types["ts"]) is sqltypes.TIMESTAMP and not types["ts"].timezone
    assert type(types["iv"]) is sqltypes.INTEGER


def test_reading_through_reflected_table(engine):
    t = sa.Table("t", sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        row = conn.execute(sa.select(t)).one()
        assert row.u == U1
        assert row.tt == datetime.time(12, 34, 56, 123456, tzinfo=PLUS2)
        assert row.tt.utcoffset() == datetime.timedelta(hours=2)
        assert row.tt2 == datetime.time(8, tzinfo=datetime.UTC)
        assert row.a == [1, 2, None] and row.b == ["x", "y"]
        assert row.ts == datetime.datetime(2026, 12, 1, 12, 45, 29, 767501, tzinfo=datetime.UTC)
        assert row.ts.tzinfo is not None and row.ts2.tzinfo is not None
        assert row.iv == "1 mon 2 days 03:04:05.5"
        # filters bind the stored form, so they match
        assert conn.scalar(sa.select(t.c.id).where(t.c.u == U1)) == 1
        assert conn.scalar(sa.select(t.c.id).where(t.c.u == str(U1))) == 1
        when = datetime.datetime(2026, 12, 1, 14, 45, 29, tzinfo=PLUS2)
        assert conn.scalar(sa.select(t.c.id).where(t.c.ts2 == when)) == 1
        assert conn.scalar(sa.select(t.c.id).where(t.c.tt2 == datetime.time(8))) == 1


def test_writing_through_reflected_table_round_trips(engine, remote):
    t = sa.Table("t", sa.MetaData(), autoload_with=engine)
    values = {
        "id": 2,
        "u": U2,
        "tt": datetime.time(1, 2, 3, 4, tzinfo=datetime.timezone(-datetime.timedelta(hours=5))),
        "a": [3, None],
        "b": ["p"],
        "ts": datetime.datetime(2026, 1, 2, 5, 4, 5, 6, tzinfo=PLUS2),
        "ts2": datetime.datetime(2026, 1, 2, 3, 4, 5),
        "tt2": datetime.time(9, 30),
        "iv": "3 days",
    }
    with engine.begin() as conn:
        conn.execute(t.insert(), values)
    assert stored(remote, "id = 2") == (
        str(U2),
        "01:02:03.000004-05:00",
        "[3, null]",
        '["p"]',
        "2026-01-02 03:04:05.000006+00:00",
        "2026-01-02 03:04:05.000000+00:00",
        "09:30:00.000000+00:00",
        "3 days",
    )
    with engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.u == U2)).one()
    assert row.u == U2
    assert row.tt == values["tt"] and row.tt.utcoffset() == -datetime.timedelta(hours=5)
    assert row.a == [3, None] and row.b == ["p"]
    assert row.ts == values["ts"]
    assert row.ts2 == values["ts2"].replace(tzinfo=datetime.UTC)
    assert row.tt2 == datetime.time(9, 30, tzinfo=datetime.UTC)
    assert row.iv == "3 days"
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.u == U1).values(u=U2, iv="2 hours"))
    assert stored(remote)[0] == str(U2) and stored(remote)[-1] == "2 hours"


def test_reflected_foreign_table_recreates_with_its_declared_types(engine):
    t = sa.Table("t", sa.MetaData(), autoload_with=engine)
    ddl = str(sa.schema.CreateTable(t).compile(engine))
    assert "u UUID" in ddl
    assert "tt TIME WITH TIME ZONE" in ddl
    assert "ts TIMESTAMP WITH TIME ZONE" in ddl
