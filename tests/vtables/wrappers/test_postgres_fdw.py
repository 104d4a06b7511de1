"""postgres_fdw against a real PostgreSQL 15 server: pushdown, writes, transactions,
IMPORT FOREIGN SCHEMA, errors and a differential test against a native SQLite copy."""

from __future__ import annotations

import json
import os
import shutil
import tracemalloc

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vtables
from tests.helpers import refuses
from tests.pgserver import Log, PostgresServer, registering, remote, serving
from tests.vtables.differential import queries
from vtables import catalog
from vtables.wrappers import postgres_fdw
from vtables.wrappers.postgres_fdw import PostgresFdw

PASSWORD = "Sekr3t-pw!x"

REMOTE_SCHEMA = """
CREATE TABLE items(
    id integer PRIMARY KEY, grp text, val double precision, name text COLLATE "en-x-icu",
    flag boolean NOT NULL DEFAULT false, d date, amount numeric(10,2), code varchar(10));
INSERT INTO items
SELECT i, (ARRAY['a','b','c',NULL])[i % 4 + 1],
       CASE WHEN i % 7 = 0 THEN NULL ELSE round(i * 0.75, 2) END,
       (ARRAY['ann','Bob','bob','cy',NULL,'dé','Ann','Émile','zoë','Zed'])[i % 10 + 1],
       i % 2 = 1, date '2024-01-01' + i, i * 1.25, 'c' || i
FROM generate_series(1, 60) i;
CREATE VIEW even_items AS SELECT id, name FROM items WHERE id % 2 = 0;
CREATE MATERIALIZED VIEW grp_counts AS SELECT grp, count(*) AS n FROM items GROUP BY grp;
CREATE TABLE measures(
    id bigint, at timestamptz NOT NULL DEFAULT now(), ts timestamp, t time, payload jsonb,
    tags text[], raw bytea, uid uuid, price money, ch char(3), span interval,
    PRIMARY KEY (id)) PARTITION BY RANGE (id);
CREATE TABLE measures_low PARTITION OF measures FOR VALUES FROM (0) TO (100);
CREATE TABLE measures_high PARTITION OF measures FOR VALUES FROM (100) TO (1000);
INSERT INTO measures VALUES
    (1, '2024-03-01 10:00:00+02', '2024-03-01 10:00:00.5', '12:30:00', '{"a": [1, 2]}',
     '{x,y}', '\\x00ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 12.5, 'ab', '1 day 2 hours'),
    (150, '2024-03-02 00:00:00+00', NULL, NULL, 'null', NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE big AS SELECT i AS id, md5(i::text) AS h FROM generate_series(1, 50000) i;
ALTER TABLE big ADD PRIMARY KEY (id);
ANALYZE;
"""


def _sql(conn_str: str, script: str) -> None:
    with psycopg.connect(conn_str, autocommit=True) as c:
        c.execute(script)


def _prepare(server: PostgresServer) -> None:
    """Role ``fdw`` owning database ``shop`` (statements logged), REMOTE_SCHEMA in
    it, and PostgreSQL's own postgres_fdw looping back to it (``remote_ft``)."""
    admin = f"host={server.host} port={server.port} user=postgres dbname=postgres"
    _sql(admin, f"CREATE ROLE fdw LOGIN PASSWORD '{PASSWORD}'")
    _sql(admin, "CREATE DATABASE shop OWNER fdw")
    _sql(admin, "ALTER ROLE fdw SET log_statement = 'all'")
    shop_admin = admin.replace("dbname=postgres", "dbname=shop")
    _sql(shop_admin, "CREATE EXTENSION postgres_fdw")
    _sql(
        shop_admin,
        "CREATE SERVER loop FOREIGN DATA WRAPPER postgres_fdw "
        f"OPTIONS (host '{server.host}', port '{server.port}', dbname 'shop');"
        "GRANT USAGE ON FOREIGN SERVER loop TO fdw;"
        f"CREATE USER MAPPING FOR fdw SERVER loop OPTIONS (user 'fdw', password '{PASSWORD}')",
    )
    server.dsn = f"host={server.host} port={server.port} user=fdw password={PASSWORD} dbname=shop"
    _sql(server.dsn, REMOTE_SCHEMA)
    _sql(
        server.dsn,
        "CREATE FOREIGN TABLE remote_ft (id int) SERVER loop OPTIONS (table_name 'items')",
    )


@pytest.fixture(scope="session")
def pg():
    """One server for the whole session; it must start (no skip)."""
    yield from serving(_prepare)


_registered = registering(PostgresFdw)


def setup_db(conn, pg, *, password=PASSWORD, extra_server=""):
    conn.execute(f"""
        CREATE EXTENSION postgres_fdw;
        CREATE SERVER shop FOREIGN DATA WRAPPER postgres_fdw
            OPTIONS (host '{pg.host}', port '{pg.port}', dbname 'shop'{extra_server});
        CREATE USER MAPPING FOR CURRENT_USER SERVER shop
            OPTIONS (user 'fdw', password '{password}');
    """)


LOCAL_COLUMNS = (
    "id integer NOT NULL, grp text, val double precision, name text, flag boolean NOT NULL,"
    " d date, amount numeric(10,2), code varchar(10)"
)


@pytest.fixture
def lite(tmp_path, pg):
    conn = vtables.connect(str(tmp_path / "local.db"), user="alice")
    setup_db(conn, pg)
    conn.execute(f"""
        CREATE FOREIGN TABLE items ({LOCAL_COLUMNS}) SERVER shop;
        CREATE TABLE local_items ({LOCAL_COLUMNS});
        CREATE TABLE tags (id integer PRIMARY KEY, tag text);
    """)
    conn.execute("INSERT INTO local_items SELECT * FROM items")
    conn.executemany("INSERT INTO tags VALUES (?, ?)", [(i, f"t{i % 3}") for i in range(0, 70, 4)])
    yield conn
    postgres_fdw.disconnect_all(conn)
    conn.close()


@pytest.fixture
def scratch(pg, lite):
    """A private remote copy of items, and a foreign table ``w`` over it, for writes."""
    name = f"w_{os.getpid()}_{id(lite)}"
    remote(
        pg,
        f"CREATE TABLE {name} (LIKE items INCLUDING ALL); INSERT INTO {name} SELECT * FROM items",
    )
    lite.execute(
        f"CREATE FOREIGN TABLE w ({LOCAL_COLUMNS}) SERVER shop OPTIONS (table_name '{name}')"
    )
    yield name
    postgres_fdw.disconnect_all(lite)
    remote(pg, f"DROP TABLE {name}")


# ------------------------------------------------------------------- reads


def test_reads_every_type_correctly(lite):
    assert lite.execute("SELECT * FROM items ORDER BY id LIMIT 3").fetchall() == [
        (1, "b", 0.75, "Bob", 1, "2024-01-02", 1.25, "c1"),
        (2, "c", 1.5, "bob", 0, "2024-01-03", 2.5, "c2"),
        (3, None, 2.25, "cy", 1, "2024-01-04", 3.75, "c3"),
    ]
    assert lite.execute("SELECT count(*), sum(val), sum(amount) FROM items").fetchone() == (
        lite.execute("SELECT count(*), sum(val), sum(amount) FROM local_items").fetchone()
    )


def test_pushdown_reaches_the_server(lite, pg):
    log = Log(pg)
    sql = "SELECT name FROM {} WHERE grp = 'a' AND val > 10 ORDER BY id DESC LIMIT 2 OFFSET 1"
    rows = lite.execute(sql.format("items")).fetchall()
    assert rows == lite.execute(sql.format("local_items")).fetchall() == [("bob",), ("zoë",)]
    sent = "\n".join(log.lines())
    assert (
        'SELECT "id", "grp", "val", "name" FROM "public"."items" WHERE "grp" = $1 AND "val" > $2'
        ' ORDER BY "id" DESC NULLS LAST LIMIT $3 OFFSET $4' in sent
    )
    text = lite.explain("SELECT name FROM items WHERE grp = 'a' AND val > 10 ORDER BY id LIMIT 2")
    assert "grp = 'a' (exact)" in text and "val > 10 (exact)" in text
    assert "Limit: 2" in text
    assert 'FROM "public"."items" WHERE "grp" = %s AND "val" > %s ORDER BY' in text


def test_projection_fetches_only_needed_columns(lite, pg):
    log = Log(pg)
    lite.statement_pushdown = False  # the scan alone: it fetches no column
    assert lite.execute("SELECT count(*) FROM items").fetchone() == (60,)
    assert any('SELECT NULL FROM "public"."items"' in line for line in log.lines())
    lite.statement_pushdown = True  # the statement: the server counts
    log.mark()
    assert lite.execute("SELECT count(*) FROM items").fetchone() == (60,)
    lines = [line for line in log.lines() if '"public"."items"' in line]
    assert len(lines) == 1 and 'SELECT COUNT(*) FROM "public"."items"' in lines[0]


def test_a_pushed_join_asks_the_servers_estimate_once(lite, pg):
    log = Log(pg)
    sql = "SELECT a.id, b.grp FROM items a JOIN items b ON b.id = a.id WHERE a.grp = 'a'"
    for _ in range(3):
        assert len(lite.execute(sql).fetchall()) == 15
    explains = [line for line in log.lines() if "EXPLAIN (FORMAT JSON) SELECT" in line]
    assert len(explains) == 1 and 'JOIN "public"."items"' in explains[0]
    # the result is read at once, not through a cursor (the estimate is small)
    assert not [line for line in log.lines() if "DECLARE" in line]


def test_in_list_is_one_query(lite, pg):
    log = Log(pg)
    got = lite.execute("SELECT id FROM items WHERE id IN (3, 5, 8, 99) ORDER BY id").fetchall()
    assert got == [(3,), (5,), (8,)]
    selects = [line for line in log.lines() if 'FROM "public"."items"' in line]
    assert len(selects) == 1 and '"id" = ANY($1::int8[])' in selects[0]


def test_limit_not_pushed_when_a_qual_is_not_honoured(lite, pg):
    sql = "SELECT id FROM items WHERE name GLOB '[bB]*' ORDER BY id LIMIT 2"
    plan = vtables.foreign_scans(lite, sql)[0]
    assert plan.exact == [False] and not plan.limit_pushed
    log = Log(pg)
    assert lite.execute(sql).fetchall() == [(1,), (2,)]
    assert not any("LIMIT" in line for line in log.lines())
    # a GLOB that LIKE can say is pushed and honoured
    plan = vtables.foreign_scans(lite, "SELECT id FROM items WHERE name GLOB 'B*' LIMIT 2")[0]
    assert all(plan.exact) and plan.limit_pushed  # SQLite adds a range for the prefix
    assert "LIKE %s ESCAPE" in plan.request


def test_text_order_and_comparison_follow_sqlite_not_the_collation(lite, pg):
    # en-x-icu puts "ann" before "Bob"; SQLite's BINARY puts every upper case first
    icu = remote(pg, "SELECT DISTINCT name FROM items WHERE name IS NOT NULL ORDER BY name")
    assert [r[0] for r in icu][:4] == ["ann", "Ann", "bob", "Bob"]
    sql = "SELECT DISTINCT name FROM {} ORDER BY name"
    got = lite.execute(sql.format("items")).fetchall()
    assert got == lite.execute(sql.format("local_items")).fetchall()
    assert [r[0] for r in got][:5] == [None, "Ann", "Bob", "Zed", "ann"]
    for cond in ("name < 'b'", "name >= 'Zed'", "name > 'dz'", "name = 'bob'", "name != 'Bob'"):
        q = f"SELECT id FROM {{}} WHERE {cond} ORDER BY id"
        assert (
            lite.execute(q.format("items")).fetchall()
            == lite.execute(q.format("local_items")).fetchall()
        ), cond
    plan = vtables.foreign_scans(lite, "SELECT id FROM items WHERE name < 'b' ORDER BY name")[0]
    assert 'COLLATE "C" <' in plan.request and 'COLLATE "C" ASC NULLS FIRST' in plan.request


def test_like_is_ascii_case_insensitive_only(lite):
    for pattern in ("b%", "B_b", "é%", "É%", "%e", "z_%", "a%"):
        q = "SELECT id FROM {} WHERE name LIKE ? ORDER BY id"
        assert (
            lite.execute(q.format("items"), (pattern,)).fetchall()
            == lite.execute(q.format("local_items"), (pattern,)).fetchall()
        ), pattern
    plan = vtables.foreign_scans(lite, "SELECT id FROM items WHERE name LIKE 'é%'")[0]
    assert all(plan.exact) and "ILIKE %s ESCAPE ''" in plan.request


def test_values_postgres_would_compare_differently_are_checked_here(lite, pg):
    cases = [
        ("id = ?", 5.0),
        ("id < ?", 2.5),
        ("id = ?", "7"),
        ("id > ?", "abc"),
        ("d >= ?", "2024-02-20"),
        ("d < ?", "2024-01-05 00:00"),
        ("flag = ?", 1),
        ("flag > ?", 0.5),
        ("flag IS NOT ?", 0),
        ("amount > ?", "70"),
        ("val IS ?", None),
        ("code = ?", 5),
    ]
    for cond, value in cases:
        q = f"SELECT id FROM {{}} WHERE {cond} ORDER BY id LIMIT 5"
        assert (
            lite.execute(q.format("items"), (value,)).fetchall()
            == lite.execute(q.format("local_items"), (value,)).fetchall()
        ), (cond, value)


def test_join_probes_the_remote_by_key(lite, pg):
    lite.execute("CREATE FOREIGN TABLE big (id integer, h text) SERVER shop")
    lite.execute("ANALYZE tags")  # else SQLite guesses a million local rows
    sql = "SELECT tag, h FROM tags JOIN big ON big.id = tags.id ORDER BY tags.id"
    plan = vtables.foreign_scans(lite, sql)
    assert [s.table for s in plan] == ["big"]
    assert plan[0].quals == [vtables.Qual("id", "=", None)] and plan[0].exact == [True]
    log = Log(pg)
    got = lite.execute(sql).fetchall()
    assert len(got) == 17 and got[0][1] == remote(pg, "SELECT md5('4')")[0][0]
    # key probes run as plain statements, without cursors
    assert not any("DECLARE" in line for line in log.lines())


def test_estimate_uses_reltuples_and_keys(lite):
    lite.execute("CREATE FOREIGN TABLE big (id integer, h text) SERVER shop")
    wrapper, _ = lite.wrapper_for("big")
    rows, _cost = wrapper.estimate([], ["id"])
    assert rows == pytest.approx(50000, rel=0.05)
    assert wrapper.estimate([vtables.Qual("id", "=", None)], ["id"])[0] == 1.0
    assert wrapper.estimate([vtables.Qual("h", "=", "x")], ["id"])[0] < rows
    lite.execute("ALTER FOREIGN TABLE big OPTIONS (ADD use_remote_estimate 'true')")
    wrapper, _ = lite.wrapper_for("big")
    assert wrapper.estimate([vtables.Qual("id", "<", 100)], ["id"])[0] < 1000


def test_large_scans_stream_in_fetch_size_batches(lite, pg):
    lite.execute("CREATE FOREIGN TABLE big (id integer, h text) SERVER shop")
    log = Log(pg)
    tracemalloc.start()
    try:
        n = 0
        for _row in lite.execute("SELECT id, h FROM big"):
            n += 1
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 50000
    assert peak < 4_000_000  # the whole result would be ~6 MB of Python objects
    fetches = [line for line in log.lines() if "FETCH FORWARD 1000" in line]
    assert len(fetches) == 51
    lite.execute("ALTER FOREIGN TABLE big OPTIONS (ADD fetch_size '20000')")
    log.mark()
    lite.statement_pushdown = False  # every row through the scan, not a remote count
    assert lite.execute("SELECT count(*) FROM big").fetchone() == (50000,)
    assert len([line for line in log.lines() if "FETCH FORWARD 20000" in line]) == 3


def test_types_come_through(lite):
    lite.execute("IMPORT FOREIGN SCHEMA public LIMIT TO (measures) FROM SERVER shop INTO main")
    row = lite.execute("SELECT * FROM measures WHERE id = 1").fetchone()
    assert row[:4] == (
        1,
        "2024-03-01 08:00:00.000000+00:00",
        "2024-03-01 10:00:00.500000",
        "12:30:00.000000",
    )
    assert json.loads(row[4]) == {"a": [1, 2]} and json.loads(row[5]) == ["x", "y"]
    assert row[6] == b"\x00\xff" and row[7] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert row[8] == "$12.50" and row[9] == "ab "
    assert row[10]  # interval, as text
    assert lite.execute(
        "SELECT id FROM measures WHERE at >= '2024-03-02 00:00:00.000000'"
    ).fetchall() == [(150,)]


# ------------------------------------------------------------------ writes


def test_writes(lite, pg, scratch):
    lite.execute("INSERT INTO w VALUES (100, 'z', 1.5, 'new', 1, '2025-01-01', 3.5, 'n')")
    lite.execute("UPDATE w SET val = 9.25, name = 'changed', flag = 0 WHERE id = 3")
    lite.execute("DELETE FROM w WHERE grp = 'b'")
    rows = remote(pg, f"SELECT id, grp, val, name, flag FROM {scratch} ORDER BY id")
    assert (100, "z", 1.5, "new", True) in rows
    assert (3, None, 9.25, "changed", False) in rows
    assert not any(r[1] == "b" for r in rows)
    assert len(rows) == 60 - 15 + 1


def test_batched_inserts(lite, pg, scratch):
    lite.execute("ALTER FOREIGN TABLE w OPTIONS (ADD batch_size '50')")
    log = Log(pg)
    lite.executemany("INSERT INTO w (id, flag) VALUES (?, 0)", [(1000 + i,) for i in range(120)])
    lite.execute(
        "INSERT INTO w SELECT id + 2000, grp, val, name, flag, d, amount, code FROM local_items"
    )
    inserts = [line for line in log.lines() if "INSERT INTO" in line]
    assert remote(pg, f"SELECT count(*) FROM {scratch}")[0][0] == 60 + 120 + 60
    # executemany runs one statement per row; INSERT ... SELECT is batched by 50
    assert len(inserts) == 120 + 2


def test_rollback_undoes_remote_writes(lite, pg, scratch):
    before = remote(pg, f"SELECT * FROM {scratch} ORDER BY id")
    lite.execute("BEGIN")
    lite.execute("INSERT INTO w (id, flag) VALUES (200, 0)")
    lite.execute("DELETE FROM w WHERE id < 10")
    lite.execute("UPDATE w SET name = 'x'")
    lite.execute("INSERT INTO tags VALUES (999, 'gone')")
    lite.execute("ROLLBACK")
    assert remote(pg, f"SELECT * FROM {scratch} ORDER BY id") == before
    assert lite.execute("SELECT count(*) FROM tags WHERE id = 999").fetchone() == (0,)


def test_remote_transaction_is_repeatable_read(lite, pg, scratch):
    lite.execute("BEGIN")
    lite.execute("UPDATE w SET name = 'mine' WHERE id = 1")
    level = remote(
        pg,
        "SELECT count(*) FROM pg_stat_activity WHERE usename = 'fdw'"
        " AND state = 'idle in transaction'",
    )[0][0]
    assert level == 1
    remote(pg, f"UPDATE {scratch} SET name = 'other' WHERE id = 2")
    # the remote snapshot was taken at the first statement: the change is not seen
    assert lite.execute("SELECT name FROM w WHERE id = 2").fetchone() == ("bob",)
    lite.execute("COMMIT")
    assert lite.execute("SELECT name FROM w WHERE id IN (1, 2) ORDER BY id").fetchall() == [
        ("mine",),
        ("other",),
    ]


def test_savepoints_follow_local_ones(lite, pg, scratch):
    lite.execute("BEGIN; INSERT INTO w (id, flag) VALUES (300, 0); SAVEPOINT sp;")
    lite.execute("INSERT INTO w (id, flag) VALUES (301, 0)")
    lite.execute("ROLLBACK TO sp")
    lite.execute("INSERT INTO w (id, flag) VALUES (302, 0)")
    lite.execute("RELEASE sp; COMMIT")
    ids = {r[0] for r in remote(pg, f"SELECT id FROM {scratch}")}
    assert {300, 302} <= ids and 301 not in ids


def test_rollback_to_the_savepoint_that_opened_the_transaction(lite, pg, scratch):
    lite.execute("SAVEPOINT a")
    lite.execute("INSERT INTO w (id, flag) VALUES (310, 0)")
    lite.execute("SAVEPOINT b")
    lite.execute("INSERT INTO w (id, flag) VALUES (311, 0)")
    lite.execute("ROLLBACK TO a")
    lite.execute("INSERT INTO w (id, flag) VALUES (312, 0)")
    lite.execute("RELEASE a")
    ids = {r[0] for r in remote(pg, f"SELECT id FROM {scratch} WHERE id >= 310")}
    assert ids == {312}


def test_an_error_aborts_the_remote_transaction_as_in_postgresql(lite, pg, scratch):
    insert = "INSERT INTO w (id, flag) VALUES ({}, 0)".format
    lite.execute("BEGIN")
    lite.execute(insert(700))
    refuses(
        lite,
        (insert(1), vtables.WrapperError, "duplicate key"),
        (insert(701), vtables.WrapperError, "was aborted by an earlier error"),
        # never a silent remote rollback behind a local commit
        ("COMMIT", vtables.WrapperError, "remote COMMIT failed"),
    )
    assert not lite.in_transaction
    assert remote(pg, f"SELECT count(*) FROM {scratch} WHERE id >= 700")[0][0] == 0
    # a savepoint taken before the error recovers the remote transaction
    lite.execute("BEGIN; SAVEPOINT a")
    lite.execute(insert(702))
    refuses(lite, (insert(1), vtables.WrapperError, "duplicate key"))
    lite.execute("ROLLBACK TO a")
    lite.execute(insert(703))
    lite.execute("COMMIT")
    assert remote(pg, f"SELECT id FROM {scratch} WHERE id >= 700") == [(703,)]


def test_remote_errors_and_updatable_false(lite, pg, scratch):
    insert = "INSERT INTO w (id, flag) VALUES ({}, 0)".format
    with pytest.raises(vtables.WrapperError, match='remote table "public"."w_.*" on server "shop"'):
        lite.execute(insert(1))
    lite.execute("ALTER FOREIGN TABLE w OPTIONS (ADD updatable 'false')")
    refuses(
        lite,
        (insert(500), vtables.FeatureNotSupportedError, "does not allow inserts"),
        ("DELETE FROM w WHERE id = 1", vtables.FeatureNotSupportedError, "does not allow deletes"),
    )
    lite.execute("ALTER SERVER shop OPTIONS (ADD updatable 'false')")
    lite.execute("ALTER FOREIGN TABLE w OPTIONS (SET updatable 'true')")  # the table's wins
    lite.execute("UPDATE w SET name = name WHERE id = 1")
    lite.execute("ALTER FOREIGN TABLE w OPTIONS (DROP updatable)")
    with pytest.raises(vtables.FeatureNotSupportedError, match="does not allow updates"):
        lite.execute("UPDATE w SET name = 'x' WHERE id = 1")
    assert remote(pg, f"SELECT count(*) FROM {scratch}")[0][0] == 60


# ------------------------------------------------------------- connections


def test_connections_are_cached_listed_and_closed(lite, pg):
    # CREATE EXTENSION postgres_fdw brought the SQL functions
    postgres_fdw.disconnect_all(lite)
    assert json.loads(lite.execute("SELECT postgres_fdw_get_connections()").fetchone()[0]) == []
    lite.execute("SELECT count(*) FROM items").fetchone()
    lite.execute("SELECT count(*) FROM items WHERE id = 3").fetchone()
    assert postgres_fdw.get_connections(lite) == [("shop", True)]
    assert (
        remote(
            pg,
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'fdw'"
            " AND pid <> pg_backend_pid()",
        )[0][0]
        == 1
    )
    lite.execute("ALTER USER MAPPING FOR CURRENT_USER SERVER shop OPTIONS (SET user 'fdw')")
    assert postgres_fdw.get_connections(lite) == []
    lite.execute("SELECT count(*) FROM items").fetchone()
    assert lite.execute("SELECT postgres_fdw_disconnect_all()").fetchone() == (1,)
    assert postgres_fdw.get_connections(lite) == []
    # a connection opening the database has the functions (its own connections)
    lite.execute("SELECT count(*) FROM items").fetchone()
    again = vtables.connect(lite.filename, user="alice")
    try:
        assert again.execute("SELECT postgres_fdw_get_connections()").fetchone() == ("[]",)
        again.execute("SELECT count(*) FROM items").fetchone()
        got = json.loads(again.execute("SELECT postgres_fdw_get_connections()").fetchone()[0])
        assert got == [{"server_name": "shop", "valid": True}]
        assert again.execute("SELECT postgres_fdw_disconnect('shop')").fetchone() == (1,)
    finally:
        again.close()
    assert postgres_fdw.get_connections(lite) == [("shop", True)]


def test_keep_connections_off(lite, pg):
    lite.execute("ALTER SERVER shop OPTIONS (ADD keep_connections 'off')")
    lite.execute("CREATE TABLE t2 AS SELECT 1")
    lite.execute("BEGIN; UPDATE items SET name = name WHERE id = -1; COMMIT")
    assert postgres_fdw.get_connections(lite) == []


# ------------------------------------------------------------------ errors


def test_bad_credentials_never_show_the_password(tmp_path, pg):
    conn = vtables.connect(str(tmp_path / "x.db"), user="alice")
    setup_db(conn, pg, password="Wr0ng-Pa55word")
    conn.execute("CREATE FOREIGN TABLE items (id integer) SERVER shop")
    with pytest.raises(vtables.WrapperError) as info:
        conn.execute("SELECT * FROM items").fetchall()
    text = str(info.value)
    assert 'could not connect to server "shop"' in text
    assert "password authentication failed" in text
    assert "Wr0ng-Pa55word" not in text and "Wr0ng-Pa55word" not in repr(info.value.__cause__)
    with pytest.raises(vtables.WrapperError) as info:
        conn.execute("IMPORT FOREIGN SCHEMA public FROM SERVER shop INTO main")
    assert "Wr0ng-Pa55word" not in str(info.value)
    conn.execute(
        "ALTER USER MAPPING FOR CURRENT_USER SERVER shop OPTIONS (SET password"
        f" '{PASSWORD}', ADD password_required 'true')"
    )
    assert conn.execute("SELECT count(*) FROM items").fetchone() == (60,)
    conn.close()


def test_unreachable_server_and_missing_objects(lite, pg):
    from tests.pgserver import free_port

    lite.execute(f"""
        CREATE SERVER gone FOREIGN DATA WRAPPER postgres_fdw
            OPTIONS (host '127.0.0.1', port '{free_port()}', dbname 'shop', connect_timeout '2');
        CREATE USER MAPPING FOR PUBLIC SERVER gone OPTIONS (user 'fdw', password '{PASSWORD}');
        CREATE FOREIGN TABLE lost (x int) SERVER gone;
        CREATE FOREIGN TABLE ghost (x int) SERVER shop OPTIONS (table_name 'no_such_table');
        CREATE FOREIGN TABLE wrongcol (nope int) SERVER shop OPTIONS (table_name 'items');
    """)
    lost, _, _ = refuses(
        lite,
        ("SELECT * FROM lost", vtables.WrapperError, 'could not connect to server "gone"'),
        ("SELECT * FROM ghost", vtables.UndefinedObjectError, '"public"."no_such_table" does not'),
        ("SELECT * FROM wrongcol", vtables.UndefinedObjectError, 'column "nope" does not exist'),
    )
    assert PASSWORD not in str(lost)


def test_bad_options_are_refused(lite):
    add = "ALTER SERVER shop OPTIONS (ADD {})".format
    refuses(
        lite,
        (add("fetch_size 'lots'"), vtables.InvalidOptionError, "expected an integer"),
        (add("password 'x'"), vtables.InvalidOptionError, 'invalid option "password"'),
        (add("hots 'x'"), vtables.InvalidOptionError, 'invalid option "hots"'),
    )
    lite.execute(add("sslmode 'disable', application_name 'me'"))
    with pytest.raises(vtables.InvalidOptionError, match="Valid options in this context are:"):
        lite.execute("CREATE FOREIGN TABLE t2 (a int) SERVER shop OPTIONS (tabel 'x')")
    dump = vtables.dump(lite)
    assert PASSWORD not in dump


def _stop(server: PostgresServer) -> None:
    server._run("pg_ctl", "-D", server.data, "-m", "immediate", "-w", "stop")


def test_server_stopped_mid_scan_and_mid_transaction(tmp_path):
    private = PostgresServer()
    try:
        dsn = f"host={private.host} port={private.port} user=postgres dbname=postgres"
        _sql(
            dsn,
            "CREATE TABLE nums AS SELECT i AS id FROM generate_series(1, 5000) i;"
            "ALTER TABLE nums ADD PRIMARY KEY (id)",
        )
        conn = vtables.connect(str(tmp_path / "p.db"), user="alice")
        conn.execute(f"""
            CREATE EXTENSION postgres_fdw;
            CREATE SERVER priv FOREIGN DATA WRAPPER postgres_fdw
                OPTIONS (host '{private.host}', port '{private.port}', dbname 'postgres',
                         fetch_size '100');
            CREATE USER MAPPING FOR PUBLIC SERVER priv OPTIONS (user 'postgres');
            CREATE FOREIGN TABLE nums (id integer) SERVER priv;
            CREATE TABLE keep (v text);
            INSERT INTO keep VALUES ('before');
        """)
        conn.execute("BEGIN")
        conn.execute("INSERT INTO keep VALUES ('during')")
        conn.execute("INSERT INTO nums VALUES (9001)")
        cursor = conn.execute("SELECT id FROM nums")
        assert [next(cursor) for _ in range(150)][-1] == (150,)
        _stop(private)
        with pytest.raises(vtables.WrapperError, match='server "priv"') as info:
            for _ in cursor:
                pass
        assert "connection" in str(info.value)
        with pytest.raises(vtables.WrapperError, match="remote COMMIT failed") as info:
            conn.execute("COMMIT")
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        assert conn.execute("SELECT v FROM keep").fetchall() == [("before",)]
        # outside a transaction, a read fails clearly too
        with pytest.raises(vtables.WrapperError, match='server "priv"'):
            conn.execute("SELECT count(*) FROM nums").fetchall()
        conn.close()
    finally:
        shutil.rmtree(private.root, ignore_errors=True)
        try:
            _stop(private)
        except RuntimeError:
            pass


# ------------------------------------------------------------------ import


def test_import_foreign_schema(lite):
    lite.execute("DROP FOREIGN TABLE items")
    lite.execute("IMPORT FOREIGN SCHEMA public FROM SERVER shop INTO main")
    names = {t.name for t in catalog.list_tables(lite, "shop")}
    assert names == {"items", "even_items", "grp_counts", "measures", "big", "remote_ft"}
    items = catalog.get_table(lite, "items")
    assert [(c.name, c.type, c.not_null) for c in items.columns] == [
        ("id", "integer", True),
        ("grp", "text", False),
        ("val", "double precision", False),
        ("name", "text", False),
        ("flag", "boolean", True),
        ("d", "date", False),
        ("amount", "numeric(10,2)", False),
        ("code", "character varying(10)", False),
    ]
    measures = catalog.get_table(lite, "measures")
    assert {c.name: types_family(c.type) for c in measures.columns} == {
        "id": "integer",
        "at": "timestamptz",
        "ts": "timestamp",
        "t": "time",
        "payload": "json",
        "tags": "json",
        "raw": "blob",
        "uid": "text",
        "price": "text",
        "ch": "text",
        "span": "text",
    }
    assert lite.execute("SELECT count(*) FROM even_items").fetchone() == (30,)
    assert lite.execute("SELECT sum(n) FROM grp_counts").fetchone() == (60,)
    assert lite.execute("SELECT count(*) FROM measures").fetchone() == (2,)
    assert lite.execute("SELECT count(*) FROM remote_ft").fetchone() == (60,)
    assert lite.execute("SELECT * FROM items ORDER BY id LIMIT 1").fetchone() == (
        lite.execute("SELECT * FROM local_items ORDER BY id LIMIT 1").fetchone()
    )


def types_family(declared):
    from vtables import types

    return types.family(declared)


def test_import_limit_to_except_and_options(lite):
    lite.execute("DROP FOREIGN TABLE items")
    lite.execute(
        "IMPORT FOREIGN SCHEMA public LIMIT TO (items, measures) FROM SERVER shop INTO main "
        "OPTIONS (import_default 'true', import_not_null 'false')"
    )
    assert {t.name for t in catalog.list_tables(lite, "shop")} == {"items", "measures"}
    items = catalog.get_table(lite, "items")
    assert items.column("flag").default == "false" and not items.column("flag").not_null
    assert catalog.get_table(lite, "measures").column("at").default == "now()"
    lite.execute(
        "IMPORT FOREIGN SCHEMA public EXCEPT (items, measures, big) FROM SERVER shop INTO main"
    )
    assert {t.name for t in catalog.list_tables(lite, "shop")} == {
        "items",
        "measures",
        "even_items",
        "grp_counts",
        "remote_ft",
    }
    with pytest.raises(vtables.SQLMedError, match='schema "nope" is not present'):
        lite.execute("IMPORT FOREIGN SCHEMA nope FROM SERVER shop INTO main")


# ------------------------------------------------------------- differential

COLUMNS = ["id", "grp", "val", "name", "flag", "d", "amount"]
VALUES = {
    "id": st.one_of(st.integers(-2, 65), st.sampled_from([2.5, 10.0, "7", "x"])),
    "grp": st.sampled_from(["a", "b", "c", "d", "A", 5]),
    "val": st.one_of(
        st.floats(0, 50, allow_nan=False).map(lambda v: round(v, 2)), st.integers(0, 50)
    ),
    "name": st.sampled_from(["ann", "Ann", "bob", "Bob", "cy", "dé", "Émile", "zoë", "Zed", "x"]),
    "flag": st.sampled_from([0, 1, 2, -1, 0.5, "1"]),
    "d": st.sampled_from(["2024-01-10", "2024-02-01", "2024-01-31 00:00", "2024", 20240110]),
    "amount": st.one_of(st.integers(0, 80), st.sampled_from([12.5, 7.25, "30", 1.3])),
}


def _between_ids(draw, column, values):
    low, high = sorted([draw(VALUES["id"].filter(lambda v: isinstance(v, int))) for _ in "ab"])
    return f"T.id BETWEEN {low} AND {high}", []


def query():
    return queries(
        COLUMNS,
        VALUES,
        patterns=["a%", "A%", "%b%", "_y", "d%", "%", "é%", "É%", "Z*"],
        aggregates="count(*), sum(val), min(name), max(d), sum(amount)",
        between=_between_ids,
    )


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=query())
def test_differential_against_a_native_copy(lite, q):
    """The same random query over postgres_fdw and over a native SQLite copy."""
    sql, params = q
    got = lite.execute(sql.format(table="items"), params).fetchall()
    want = lite.execute(sql.format(table="local_items"), params).fetchall()
    assert got == want, (sql, params)


def test_percent_signs_in_remote_names(lite, pg):
    """Queries go to psycopg as text with parameters: a % in a quoted name is doubled."""
    remote(
        pg,
        'DROP TABLE IF EXISTS "odd%name"; CREATE TABLE "odd%name" ("50%" int, v text);'
        " INSERT INTO \"odd%name\" VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    )
    lite.execute(
        "CREATE FOREIGN TABLE odd (pct integer OPTIONS (column_name '50%'), v text)"
        " SERVER shop OPTIONS (table_name 'odd%name')"
    )
    assert lite.execute("SELECT v FROM odd WHERE pct >= ? ORDER BY pct DESC", (2,)).fetchall() == [
        ("c",),
        ("b",),
    ]
    assert lite.execute("SELECT count(*), max(v) FROM odd").fetchall() == [(3, "c")]
    assert '"50%"' in lite.explain("SELECT v FROM odd WHERE pct = 1")
