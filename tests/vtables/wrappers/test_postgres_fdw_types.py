"""Type mapping without silent loss, against a real PostgreSQL: every value
read through postgres_fdw and sqlalchemy_fdw is psycopg's value or its
documented conversion (docs/wrappers/types.md), and writes round-trip."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

import psycopg
import pytest

import vtables
from tests.pgserver import PostgresServer
from vtables.wrappers.postgres_fdw import PostgresFdw
from vtables.wrappers.sqlalchemy_fdw import SqlalchemyFdw

REMOTE = r"""
CREATE TABLE typed (
    id int PRIMARY KEY, tz timestamptz, n numeric(30,10), u uuid, j json, jb jsonb,
    b bytea, ia int[], ta text[], iv interval, flag boolean, d date, t time, ttz timetz);
INSERT INTO typed VALUES
    (1, '2026-12-01 18:15:29.767501+05:30', '123456789012345.1234567890',
     'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'null', '"text"', '\x00ff10',
     '{1,NULL,3}', '{"a b",NULL,"c,d"}', '1 mon 2 days 03:04:05.5', true,
     '2024-02-29', '12:30:00.25', '12:30:00+02'),
    (2, '2026-06-01 00:00:00-08', '0.1000000000', '00000000-0000-0000-0000-000000000000',
     '{"a": [1, 2.5]}', '{"b": {"c": null}}', '\x', '{}', '{}', '-3 years 1 hour', false,
     '1999-12-31', '00:00:00', '23:59:59-05:30'),
    (3, '2026-01-01 12:00:00+00', '42', NULL, '12', '[]', NULL, '{{1,2},{3,4}}',
     '{x}', '0', NULL, NULL, NULL, NULL);
"""
COLUMNS = "tz, n, u, j, jb, b, ia, ta, iv, flag, d, t, ttz"


@pytest.fixture(scope="module")
def pg():
    server = PostgresServer()
    try:
        server.dsn = f"host={server.host} port={server.port} user=postgres dbname=postgres"
        with psycopg.connect(server.dsn, autocommit=True) as c:
            c.execute(REMOTE)
        yield server
    finally:
        server.stop()


def remote_rows(pg, where="id < 100"):
    """The rows as psycopg gives them, in the remote session zone UTC, with
    interval and JSON as the server's text (what psycopg's defaults would lose)."""
    with psycopg.connect(pg.dsn, autocommit=True) as c:
        c.execute("SET TimeZone = 'UTC'; SET IntervalStyle = postgres")
        return c.execute(
            f"SELECT id, tz, n, u, j::text, jb::text, b, ia, ta, iv::text, flag, d, t, ttz"
            f" FROM typed WHERE {where} ORDER BY id"
        ).fetchall()


def expected(row):
    """The documented conversion of a psycopg row to what SQLite returns."""
    out = [row[0]]
    tz, n, u, j, jb, b, ia, ta, iv, flag, d, t, ttz = row[1:]
    out.append(tz.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + "+00:00")
    if n == n.to_integral_value():
        out.append(int(n))
    elif decimal.Decimal(repr(float(n))) == n:
        out.append(float(n))
    else:
        out.append(format(n, "f"))
    out.append(None if u is None else str(u))
    out += [j, jb, None if b is None else bytes(b)]
    out += [json.dumps(ia), json.dumps(ta), iv]
    out.append(None if flag is None else int(flag))
    out.append(None if d is None else d.isoformat())
    out.append(None if t is None else t.strftime("%H:%M:%S.%f"))
    out.append(None if ttz is None else ttz.strftime("%H:%M:%S.%f") + ttz.isoformat()[-6:])
    return tuple(out)


@pytest.fixture(params=["pgs", "sas"])
def lite(tmp_path, pg, request):
    vtables.register_wrapper(PostgresFdw)
    vtables.register_wrapper(SqlalchemyFdw)
    conn = vtables.connect(str(tmp_path / "local.db"))
    conn.execute(f"""
        CREATE EXTENSION postgres_fdw; CREATE EXTENSION sqlalchemy_fdw;
        CREATE SERVER pgs FOREIGN DATA WRAPPER postgres_fdw
            OPTIONS (host '{pg.host}', port '{pg.port}', dbname 'postgres');
        CREATE USER MAPPING FOR CURRENT_USER SERVER pgs OPTIONS (user 'postgres');
        CREATE SERVER sas FOREIGN DATA WRAPPER sqlalchemy_fdw
            OPTIONS (url 'postgresql+psycopg://{pg.host}:{pg.port}/postgres');
        CREATE USER MAPPING FOR CURRENT_USER SERVER sas OPTIONS (user 'postgres');
    """)
    conn.execute(
        f"IMPORT FOREIGN SCHEMA public LIMIT TO (typed) FROM SERVER {request.param} INTO main"
    )
    conn.server = request.param
    yield conn
    conn.close()
    vtables.unregister_wrapper("postgres_fdw")
    vtables.unregister_wrapper("sqlalchemy_fdw")
    with psycopg.connect(pg.dsn, autocommit=True) as c:
        c.execute("DELETE FROM typed WHERE id >= 100")


def test_reads_are_psycopg_values_or_their_documented_conversion(lite, pg):
    table = "typed"
    got = lite.execute(f"SELECT id, {COLUMNS} FROM {table} ORDER BY id").fetchall()
    want = [expected(r) for r in remote_rows(pg)]
    assert got == want
    first = got[0]
    assert first[1] == "2026-12-01 12:45:29.767501+00:00"  # the instant, offset written
    assert first[2] == "123456789012345.1234567890"  # 25 digits, not rounded to a REAL
    assert got[1][2] == 0.1 and got[2][2] == 42
    assert first[4] == "null" and first[5] == '"text"'  # JSON null and a JSON string
    assert first[9] == "1 mon 2 days 03:04:05.5"  # months kept, not 30 days
    assert first[13] == "12:30:00.000000+02:00" and got[1][13] == "23:59:59.000000-05:30"


def test_declared_types_of_imported_columns(lite):
    from vtables import types

    if True:
        declared = {name: typ for _cid, name, typ, *_ in lite.execute("PRAGMA table_info(typed)")}
        families = {k: types.family(v) for k, v in declared.items()}
        assert families == {
            "id": "integer",
            "tz": "timestamptz",
            "n": "numeric",
            "u": "text",
            "j": "json",
            "jb": "json",
            "b": "blob",
            "ia": "json",
            "ta": "json",
            "iv": "text",
            "flag": "boolean",
            "d": "date",
            "t": "time",
            "ttz": "time",
        }, lite.server


def test_timestamptz_quals_and_order_follow_the_stored_text(lite):
    for table in ("typed",):
        q = f"SELECT id FROM {table} WHERE tz {{}} ? ORDER BY id"
        assert lite.execute(q.format(">="), ("2026-06-01 08:00:00.000000",)).fetchall() == [
            (1,),
            (2,),
        ]
        assert lite.execute(q.format(">"), ("2026-06-01 08:00:00.000000+00:00",)).fetchall() == [
            (1,)
        ]
        assert lite.execute(q.format("<="), ("2026-06-01 08:00:00.000000",)).fetchall() == [(3,)]
        assert lite.execute(q.format("="), ("2026-06-01 08:00:00.000000+00:00",)).fetchall() == [
            (2,)
        ]
        ordered = lite.execute(f"SELECT id FROM {table} ORDER BY tz DESC").fetchall()
        assert ordered == [(1,), (2,), (3,)]


def test_writes_round_trip(lite, pg):
    table = "typed"
    lite.execute(f"INSERT INTO {table} SELECT id + 100, {COLUMNS} FROM {table} WHERE id < 100")
    lite.execute(
        f"INSERT INTO {table} (id, n, ia, flag) VALUES (200, 0.30000000000000004, '[7, 8]', 1)"
    )
    before = remote_rows(pg)
    after = remote_rows(pg, "id BETWEEN 100 AND 199")
    assert [r[1:] for r in after] == [r[1:] for r in before]
    row = remote_rows(pg, "id = 200")[0]
    assert row[2] == decimal.Decimal("0.3000000000")  # rounded by numeric(30,10) alone
    assert row[7] == [7, 8] and row[10] is True
    assert lite.execute(f"SELECT n FROM {table} WHERE id = 101").fetchone() == (
        "123456789012345.1234567890",
    )
    assert uuid.UUID(lite.execute(f"SELECT u FROM {table} WHERE id = 101").fetchone()[0])
