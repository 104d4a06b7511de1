"""postgres_fdw's options and batch inserts, held to PostgreSQL 15's own postgres_fdw.

Options are checked by object kind and value exactly where PostgreSQL's
validator checks them: every case runs against the real server's
postgres_fdw too, and both must accept it or both refuse it (with the same
SQLSTATE).  The options that act here (fetch_size, batch_size,
keep_connections, use_remote_estimate, fdw_startup_cost, fdw_tuple_cost) are
watched acting on a real server.  Batch inserts send ``batch_size`` rows per
remote INSERT, keep types and NULLs, and keep nothing of a statement whose
batch failed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import time
from decimal import Decimal

import psycopg
import pytest

import vtables
from tests.helpers import local_database
from tests.pgserver import Log, PostgresServer, registering, remote, serving
from vtables.wrapper import KIND_NAMES
from vtables.wrappers import postgres_fdw
from vtables.wrappers.postgres_fdw import PostgresFdw

PASSWORD = "Par1ty-pw!q"


_registered = registering(PostgresFdw)


def _prepare(server: PostgresServer) -> None:
    """Database ``shop`` (role ``fdw``, statements logged) where PostgreSQL's own
    postgres_fdw is installed, with a server ``s`` (user mapping for postgres),
    a server ``s2`` (none) and a foreign table ``ft(a)``; a table ``nums``."""
    server.admin = f"host={server.host} port={server.port} user=postgres dbname=shop"
    server.psql(f"CREATE ROLE fdw LOGIN PASSWORD '{PASSWORD}'")
    server.psql("CREATE DATABASE shop OWNER fdw")
    server.psql("ALTER ROLE fdw SET log_statement = 'all'")
    server.psql(
        "CREATE EXTENSION postgres_fdw;"
        "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw;"
        "CREATE SERVER s2 FOREIGN DATA WRAPPER postgres_fdw;"
        "CREATE USER MAPPING FOR CURRENT_USER SERVER s;"
        "CREATE FOREIGN TABLE ft (a int) SERVER s;"
        "CREATE TABLE nums AS SELECT i AS id, 'n' || i AS label"
        " FROM generate_series(1, 1000) i;"
        "ALTER TABLE nums ADD PRIMARY KEY (id); ALTER TABLE nums OWNER TO fdw; ANALYZE nums",
        dbname="shop",
    )
    server.dsn = f"host={server.host} port={server.port} user=fdw password={PASSWORD} dbname=shop"


@pytest.fixture(scope="module")
def pg():
    yield from serving(_prepare)


@pytest.fixture
def bare(tmp_path):
    """A local database with the objects ``pg`` made on the PostgreSQL side."""
    yield from local_database(
        tmp_path / "bare.db",
        """
        CREATE EXTENSION postgres_fdw;
        CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw;
        CREATE SERVER s2 FOREIGN DATA WRAPPER postgres_fdw;
        CREATE USER MAPPING FOR CURRENT_USER SERVER s;
        CREATE FOREIGN TABLE ft (a int) SERVER s;
        """,
    )


@pytest.fixture
def lite(tmp_path, pg):
    yield from local_database(
        tmp_path / "local.db",
        f"""
        CREATE EXTENSION postgres_fdw;
        CREATE SERVER shop FOREIGN DATA WRAPPER postgres_fdw
            OPTIONS (host '{pg.host}', port '{pg.port}', dbname 'shop');
        CREATE USER MAPPING FOR CURRENT_USER SERVER shop
            OPTIONS (user 'fdw', password '{PASSWORD}');
        CREATE FOREIGN TABLE nums (id integer, label text) SERVER shop;
        """,
    )


# ------------------------------------------------- PostgreSQL as the oracle


def on_postgresql(pg, statement: str) -> str | None:
    """None if PostgreSQL's postgres_fdw accepts ``statement`` (then undone),
    else the SQLSTATE it refuses it with."""
    with psycopg.connect(pg.admin, autocommit=True) as c:
        try:
            with c.transaction(force_rollback=True):
                c.execute(statement)
        except psycopg.Error as err:
            return err.sqlstate
    return None


def here(conn, statement: str) -> vtables.SQLMedError | None:
    conn.execute("BEGIN")
    try:
        conn.execute(statement)
    except vtables.SQLMedError as err:
        return err
    finally:
        conn.execute("ROLLBACK")
    return None


def valid_on_postgresql(pg, statement: str) -> set[str]:
    with psycopg.connect(pg.admin, autocommit=True) as c:
        with pytest.raises(psycopg.Error) as info:
            c.execute(statement)
    hint = info.value.diag.message_hint or ""
    if hint.startswith("There are no valid options"):
        return set()
    return set(hint.removeprefix("Valid options in this context are: ").split(", "))


def valid_here(conn, statement: str) -> set[str]:
    err = here(conn, statement)
    assert isinstance(err, vtables.InvalidOptionError), statement
    if err.hint == "There are no valid options in this context.":
        return set()
    return set(err.hint.removeprefix("Valid options in this context are: ").split(", "))


#: How to give an object of each kind one option, as statement text.
PLACES = {
    "wrapper": "ALTER FOREIGN DATA WRAPPER postgres_fdw OPTIONS (ADD {})",
    "server": "CREATE SERVER s3 FOREIGN DATA WRAPPER postgres_fdw OPTIONS ({})",
    "user_mapping": "CREATE USER MAPPING FOR CURRENT_USER SERVER s2 OPTIONS ({})",
    "table": "CREATE FOREIGN TABLE ft2 (a int) SERVER s OPTIONS ({})",
    "column": "CREATE FOREIGN TABLE ft2 (a int OPTIONS ({})) SERVER s",
}
#: Where sqlmed differs from PostgreSQL 15 on purpose (see the wrapper's docs):
#: ``service`` is refused on servers (a service file entry can hold a user and
#: a password), and a column may name itself a ``key`` (PostgreSQL uses ctid).
MISSING_HERE = {"server": {"service"}}
#: sqlmed's own: ``key`` (row identity), ``statement_pushdown`` (docs/pushdown.md)
EXTRA_HERE = {
    "column": {"key"},
    "server": {"statement_pushdown"},
    "table": {"statement_pushdown"},
}


@pytest.mark.parametrize("kind", list(PLACES))
def test_the_valid_options_of_each_kind_are_postgresqls(pg, bare, kind):
    statement = PLACES[kind].format("no_such_option 'x'")
    theirs = valid_on_postgresql(pg, statement)
    ours = valid_here(bare, statement)
    assert ours == (theirs - MISSING_HERE.get(kind, set())) | EXTRA_HERE.get(kind, set())
    assert ours == set(PostgresFdw.specs_for(kind))
    if kind == "server":
        assert {"extensions", "parallel_commit", "keep_connections", "sslcert"} <= ours
        assert not {"parallel_abort", "analyze_sampling", "user", "password"} & ours


#: A value each option takes (libpq options take anything at CREATE time).
GOOD_VALUE = {
    "fetch_size": "100",
    "batch_size": "10",
    "fdw_startup_cost": "10.5",
    "fdw_tuple_cost": "0.5",
    "extensions": "plpgsql",
    **{
        name: "true"
        for name in ("updatable", "truncatable", "use_remote_estimate", "statement_pushdown")
    },
    **{name: "on" for name in ("async_capable", "parallel_commit", "keep_connections")},
    "password_required": "false",
    "port": "5432",
    "key": "true",
}
ALL_OPTIONS = sorted(
    {spec.name for spec in PostgresFdw.option_specs}
    | {"service", "parallel_abort", "analyze_sampling", "fallback_application_name"}
    | {"client_encoding", "replication", "sslpassword", "password", "user"}
)


@pytest.mark.parametrize("kind", list(PLACES))
def test_each_option_is_accepted_or_refused_where_postgresql_does(pg, bare, kind):
    differ = MISSING_HERE.get(kind, set()) | EXTRA_HERE.get(kind, set())
    for name in ALL_OPTIONS:
        statement = PLACES[kind].format(f"{name} '{GOOD_VALUE.get(name, 'x')}'")
        theirs = on_postgresql(pg, statement)
        ours = here(bare, statement)
        if name in differ:
            assert (theirs is None) != (ours is None), statement
            continue
        assert (ours is None) == (theirs is None), (statement, theirs, ours)
        if ours is not None:
            assert theirs == ours.sqlstate == "HV00D", statement
            assert f'invalid option "{name}" for {KIND_NAMES[kind]}' in ours.message
            assert ours.hint.startswith(("Valid options in this context are: ", "There are no"))


def test_service_is_refused_on_a_server_without_repeating_its_value(bare):
    err = here(bare, PLACES["server"].format("service 'prod'"))
    assert isinstance(err, vtables.InvalidOptionError)
    assert 'invalid option "service" for server "s3"' in err.message
    assert "prod" not in str(err)


#: (option, value) pairs for a server; PostgreSQL decides which are good.
VALUES = [
    *(
        ("fetch_size", v)
        for v in ("100", " 10", "10 ", "+5", "1e3", "0x10", "07", "08", "1.5", "0.5", "2.5")
    ),
    *(("fetch_size", v) for v in ("0", "-3", "100kB", "lots", "", "2147483647", "2147483648")),
    *(("batch_size", v) for v in ("1", "100", "0", "-1", "1.4", "1e-400", ".5", " .5", "0x")),
    *(("fdw_startup_cost", v) for v in ("0", "10.5", "1e3", "-1", "-0.001", "abc", "NaN")),
    *(("fdw_startup_cost", v) for v in ("inf", "Infinity", "-inf", " 2 ", "1e999", "0x1p3")),
    *(("fdw_tuple_cost", v) for v in ("0.01", "-0.01", "1.5x", "-0")),
    *(("updatable", v) for v in ("true", "FALSE", "On", "off", "yes", "1", "t", "", " true")),
    *(("async_capable", v) for v in ("true", "maybe", "0")),
    *(("parallel_commit", v) for v in ("off", "no")),
    *(("keep_connections", v) for v in ("ON", "y")),
    *(("truncatable", v) for v in ("false", "f")),
    *(("use_remote_estimate", v) for v in ("true", "of")),
    *(("extensions", v) for v in ("plpgsql", '"Foo", bar', "", "  ", "a b", "a,,b", "a,")),
    *(("extensions", v) for v in ('"unterminated', 'a, "b""c" , D', "x,y")),
    *(("port", v) for v in ("5432", "not a port")),  # libpq checks its own options, later
]


def test_values_are_checked_as_postgresql_checks_them(pg, bare):
    refused = 0
    for option, value in VALUES:
        literal = "'" + value.replace("'", "''") + "'"
        statement = f"ALTER SERVER s OPTIONS (ADD {option} {literal})"
        theirs = on_postgresql(pg, statement)
        ours = here(bare, statement)
        assert (ours is None) == (theirs is None), (option, value, theirs, ours)
        if ours is not None:
            refused += 1
            assert ours.sqlstate == theirs, (option, value)  # 22023, or 42601 for Booleans
            assert isinstance(ours, vtables.InvalidOptionError)
            assert f'option "{option}" of server "s"' in ours.message
    assert refused >= 25


def test_the_table_option_is_checked_too(pg, bare):
    for option, value in [("fetch_size", "0"), ("batch_size", "x"), ("updatable", "yes")]:
        statement = f"ALTER FOREIGN TABLE ft OPTIONS (ADD {option} '{value}')"
        assert on_postgresql(pg, statement) is not None
        err = here(bare, statement)
        assert isinstance(err, vtables.InvalidOptionError)
        assert f'option "{option}" of foreign table "ft"' in err.message
    assert here(bare, "ALTER FOREIGN TABLE ft OPTIONS (ADD batch_size '1e2')") is None


def test_credentials_and_connection_strings_stay_out_of_server_options(bare):
    err = here(bare, PLACES["server"].format("dbname 'postgresql://u:pw@h/db'"))
    assert isinstance(err, vtables.InvalidOptionError) and "connection string" in err.message
    assert "pw@" not in str(err)
    err = here(bare, PLACES["server"].format("sslcert 'a=b'"))
    assert isinstance(err, vtables.InvalidOptionError) and '"sslcert"' in err.message


def test_secret_user_mapping_options_are_masked(bare):
    bare.execute(
        "CREATE USER MAPPING FOR CURRENT_USER SERVER s2"
        " OPTIONS (user 'u', password 'Pw-1-secret', sslpassword 'Key-2-secret',"
        " sslcert '/tmp/c.crt', sslkey '/tmp/c.key')"
    )
    dump = vtables.dump(bare)
    assert "Pw-1-secret" not in dump and "Key-2-secret" not in dump
    assert "/tmp/c.crt" in dump
    assert PostgresFdw.secret_options("user_mapping") == {"password", "sslpassword"}


def test_user_mapping_ssl_files_win_over_the_servers(bare):
    bare.execute("ALTER SERVER s OPTIONS (ADD sslcert 'server.crt', sslkey 'server.key')")
    bare.execute(
        "ALTER USER MAPPING FOR CURRENT_USER SERVER s"
        " OPTIONS (ADD sslcert 'mapping.crt', sslpassword 'k')"
    )
    wrapper = bare.wrapper_for("ft")[0]
    params = wrapper.connection_params(wrapper.options)
    assert params["sslcert"] == "mapping.crt" and params["sslkey"] == "server.key"
    assert params["sslpassword"] == "k"
    assert params["fallback_application_name"] == "sqlmed_postgres_fdw"


# -------------------------------------------------------- options that act


def test_fetch_size_server_and_table(lite, pg):
    lite.statement_pushdown = False  # the aggregates below read every row through a scan
    lite.execute("ALTER SERVER shop OPTIONS (ADD fetch_size '1e2')")  # 100, as PostgreSQL reads it
    log = Log(pg)
    assert lite.execute("SELECT count(*) FROM nums").fetchone() == (1000,)
    assert len([x for x in log.lines() if "FETCH FORWARD 100 " in x + " "]) == 11
    lite.execute("ALTER FOREIGN TABLE nums OPTIONS (ADD fetch_size '0x190')")  # 400: the table's
    log.mark()
    assert lite.execute("SELECT sum(id) FROM nums").fetchone() == (500500,)
    fetches = [x for x in log.lines() if "FETCH FORWARD" in x]
    assert len(fetches) == 3 and all("FETCH FORWARD 400" in x for x in fetches)


def _sqlmed_backends(pg, expected: int) -> int:
    """Backends of sqlmed's connections; a closed one may take a moment to exit."""
    for _ in range(50):
        count = remote(
            pg,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sqlmed_postgres_fdw'",
        )[0][0]
        if count == expected:
            break
        time.sleep(0.05)
    return count


def test_keep_connections(lite, pg):
    assert lite.execute("SELECT count(*) FROM nums").fetchone() == (1000,)
    assert postgres_fdw.get_connections(lite) == [("shop", True)]
    assert _sqlmed_backends(pg, 1) == 1
    lite.execute("ALTER SERVER shop OPTIONS (ADD keep_connections 'off')")
    # a streaming read holds its connection while it runs, and closes it after
    cursor = lite.execute("SELECT id FROM nums")
    assert next(cursor) == (1,) and postgres_fdw.get_connections(lite) == [("shop", True)]
    assert len(list(cursor)) == 999
    assert postgres_fdw.get_connections(lite) == [] and _sqlmed_backends(pg, 0) == 0
    # a probe by key (no cursor) closes it too
    assert lite.execute("SELECT label FROM nums WHERE id = 7").fetchall() == [("n7",)]
    assert postgres_fdw.get_connections(lite) == []
    # inner probes under a streaming outer scan share the connection until the end
    join = "SELECT count(*), sum(b.id) FROM nums a JOIN nums b ON b.id = a.id + 1"
    assert lite.execute(join).fetchone() == (999, 500499)
    assert postgres_fdw.get_connections(lite) == [] and _sqlmed_backends(pg, 0) == 0
    # inside a transaction the connection lives until the transaction ends
    lite.execute("BEGIN")
    lite.execute("UPDATE nums SET label = label WHERE id = 1")
    assert lite.execute("SELECT count(*) FROM nums").fetchone() == (1000,)
    assert postgres_fdw.get_connections(lite) == [("shop", True)]
    lite.execute("COMMIT")
    assert postgres_fdw.get_connections(lite) == [] and _sqlmed_backends(pg, 0) == 0


def test_use_remote_estimate(lite, pg):
    qual = [vtables.Qual("id", "<", 37)]
    wrapper = lite.wrapper_for("nums")[0]
    log = Log(pg)
    rows, _cost = wrapper.estimate(qual, ["id"])
    assert rows == pytest.approx(1000 / 3)  # reltuples and a guess for the qual
    assert not any("EXPLAIN" in line for line in log.lines())
    lite.execute("ALTER SERVER shop OPTIONS (ADD use_remote_estimate 'true')")
    wrapper = lite.wrapper_for("nums")[0]
    log.mark()
    rows, _cost = wrapper.estimate(qual, ["id"])
    plan = remote(pg, "EXPLAIN (FORMAT JSON) SELECT id FROM nums WHERE id < 37")[0][0]
    assert rows == plan[0]["Plan"]["Plan Rows"] and 30 <= rows <= 45
    assert any(
        'EXPLAIN (FORMAT JSON) SELECT "id" FROM "public"."nums" WHERE "id" < $1' in line
        for line in log.lines()
    )
    # planning a query asks the server too
    log.mark()
    assert lite.execute("SELECT count(*) FROM nums WHERE id < 37").fetchone() == (36,)
    assert any("EXPLAIN (FORMAT JSON)" in line for line in log.lines())
    # the table's option wins over the server's
    lite.execute("ALTER FOREIGN TABLE nums OPTIONS (ADD use_remote_estimate 'off')")
    log.mark()
    assert lite.execute("SELECT count(*) FROM nums WHERE id < 37").fetchone() == (36,)
    assert not any("EXPLAIN" in line for line in log.lines())


def test_fdw_costs_feed_the_estimate(lite):
    wrapper = lite.wrapper_for("nums")[0]
    rows, cost = wrapper.estimate([], ["id"])
    assert rows == 1000 and cost == 50 + 1000
    lite.execute("ALTER SERVER shop OPTIONS (ADD fdw_startup_cost '1e4', fdw_tuple_cost '0.5')")
    rows, cost = lite.wrapper_for("nums")[0].estimate([], ["id"])
    assert rows == 1000 and cost == 10_000 + 1000 * 1.5


def test_options_without_effect_change_nothing(lite, pg):
    sql = "SELECT id, label FROM nums WHERE id BETWEEN 5 AND 9 ORDER BY id DESC LIMIT 3"
    before = vtables.foreign_scans(lite, sql)[0].request
    want = lite.execute(sql).fetchall()
    lite.execute(
        "ALTER SERVER shop OPTIONS (ADD extensions 'plpgsql, \"pg_trgm\"', async_capable 'on',"
        " parallel_commit 'on', truncatable 'false')"
    )
    lite.execute("ALTER FOREIGN TABLE nums OPTIONS (ADD async_capable 'true')")
    assert vtables.foreign_scans(lite, sql)[0].request == before
    assert lite.execute(sql).fetchall() == want == [(9, "n9"), (8, "n8"), (7, "n7")]
    lite.execute("BEGIN")
    lite.execute("UPDATE nums SET label = 'x' WHERE id = 5")
    lite.execute("ROLLBACK")
    assert remote(pg, "SELECT label FROM nums WHERE id = 5") == [("n5",)]


# ------------------------------------------------------------ batch inserts

DEST = """
CREATE TABLE {name} (
    id integer PRIMARY KEY, name text, val double precision CHECK (val >= 0), flag boolean,
    d date, amount numeric(10,2), raw bytea, doc jsonb, at timestamptz)
"""
LOCAL = (
    "id integer NOT NULL, name text, val double precision, flag boolean, d date,"
    " amount numeric(10,2), raw bytea, doc jsonb, at timestamp with time zone"
)
NAMES = ("id", "name", "val", "flag", "d", "amount", "raw", "doc", "at")


@pytest.fixture
def dest(pg, lite):
    """An empty remote table and a foreign table ``dest`` over it."""
    name = f"dest_{os.getpid()}_{id(lite)}"
    remote(pg, DEST.format(name=name))
    lite.execute(f"CREATE FOREIGN TABLE dest ({LOCAL}) SERVER shop OPTIONS (table_name '{name}')")
    yield name
    postgres_fdw.disconnect_all(lite)
    remote(pg, f"DROP TABLE {name}")


def row(i: int) -> dict:
    """Row ``i`` as SQLite hands it over: 0/1 for booleans, text for dates and JSON."""
    return {
        "id": i,
        "name": None if i % 5 == 0 else f"n{i} ✓",
        "val": None if i % 7 == 0 else i * 0.5,
        "flag": None if i % 11 == 0 else i % 2,
        "d": f"2024-02-{i % 28 + 1:02d}",
        "amount": None if i % 3 == 0 else i * 1.25,
        "raw": None if i % 13 == 0 else bytes([i % 256, 0, 255]),
        "doc": json.dumps({"i": i, "even": i % 2 == 0}),
        "at": f"2024-03-01 {i % 24:02d}:30:00.250000",
    }


def stored(i: int) -> tuple:
    """What PostgreSQL must hold for ``row(i)``."""
    r = row(i)
    return (
        i,
        r["name"],
        r["val"],
        None if r["flag"] is None else bool(r["flag"]),
        dt.date(2024, 2, i % 28 + 1),
        None if r["amount"] is None else Decimal(f"{i * 1.25:.2f}"),
        r["raw"],
        {"i": i, "even": i % 2 == 0},
        dt.datetime(2024, 3, 1, i % 24, 30, 0, 250000, tzinfo=dt.UTC),
    )


def remote_rows(pg, name):
    return remote(pg, f"SELECT {', '.join(NAMES)} FROM {name} ORDER BY id")


def _rows_per_statement(inserts: list[str]) -> list[int]:
    return [max(int(n) for n in re.findall(r"\$(\d+)", line)) // len(NAMES) for line in inserts]


@pytest.mark.parametrize("batch", [1, 7, 100])
def test_insert_many_sends_batch_size_rows_per_statement(lite, pg, dest, batch):
    lite.execute(f"ALTER FOREIGN TABLE dest OPTIONS (ADD batch_size '{batch}')")
    n = 250
    wrapper = lite.wrapper_for("dest")[0]
    log = Log(pg)
    wrapper.insert_many([row(i) for i in range(1, n + 1)])
    assert remote_rows(pg, dest) == [stored(i) for i in range(1, n + 1)]
    sizes = _rows_per_statement(log.inserts())
    assert len(sizes) == math.ceil(n / batch)
    assert sizes == [batch] * (n // batch) + ([n % batch] if n % batch else [])
    # the rows read back through the foreign table as they went in
    got = lite.execute("SELECT id, name, val, flag, d, raw FROM dest ORDER BY id").fetchall()
    want = [
        tuple(row(i)[k] for k in ("id", "name", "val", "flag", "d", "raw")) for i in range(1, n + 1)
    ]
    assert got == want


def test_batch_size_from_the_server_and_capped_by_the_parameter_limit(lite, pg, dest):
    lite.execute("ALTER SERVER shop OPTIONS (ADD batch_size '100000')")
    wrapper = lite.wrapper_for("dest")[0]
    log = Log(pg)
    n = 7500  # 9 columns: at most 65535 // 9 = 7281 rows in one statement
    wrapper.insert_many([row(i) for i in range(n)])
    assert _rows_per_statement(log.inserts()) == [7281, n - 7281]
    assert remote(pg, f"SELECT count(*), count(DISTINCT id) FROM {dest}") == [(n, n)]


def test_through_sql_multi_row_insert_and_executemany(lite, pg, dest):
    lite.execute("ALTER FOREIGN TABLE dest OPTIONS (ADD batch_size '7')")
    placeholders = ", ".join(["(" + ", ".join("?" * len(NAMES)) + ")"] * 30)
    log = Log(pg)
    lite.execute(
        f"INSERT INTO dest VALUES {placeholders}",
        [v for i in range(1, 31) for v in row(i).values()],
    )
    assert _rows_per_statement(log.inserts()) == [7, 7, 7, 7, 2]
    log.mark()
    lite.execute("BEGIN")
    lite.executemany(
        f"INSERT INTO dest ({', '.join(NAMES)}) VALUES ({', '.join('?' * len(NAMES))})",
        [tuple(row(i).values()) for i in range(31, 131)],
    )
    lite.execute("COMMIT")
    assert _rows_per_statement(log.inserts()) == [7] * 14 + [2]
    assert remote_rows(pg, dest) == [stored(i) for i in range(1, 131)]


def test_a_failing_row_fails_its_whole_batch_and_statement(lite, pg, dest):
    lite.execute("ALTER FOREIGN TABLE dest OPTIONS (ADD batch_size '7')")
    remote(pg, f"INSERT INTO {dest} (id) VALUES (50)")
    wrapper = lite.wrapper_for("dest")[0]
    with pytest.raises(vtables.WrapperError, match="duplicate key") as info:
        wrapper.insert_many([row(i) for i in range(1, 101)])  # 50 is in the 8th batch
    assert info.value.sqlstate == "23505"
    assert f'remote table "public"."{dest}"' in str(info.value)
    assert remote(pg, f"SELECT id FROM {dest}") == [(50,)]
    bad = [row(i) for i in range(100, 120)]
    bad[10]["val"] = -1.0
    with pytest.raises(vtables.WrapperError, match="check constraint") as info:
        wrapper.insert_many(bad)
    assert info.value.sqlstate == "23514"
    assert remote(pg, f"SELECT id FROM {dest}") == [(50,)]
    # the connection is usable afterwards
    wrapper.insert_many([row(i) for i in range(200, 203)])
    assert remote(pg, f"SELECT count(*) FROM {dest}") == [(4,)]


def test_a_failing_row_through_sql_keeps_nothing(lite, pg, dest):
    lite.execute("ALTER FOREIGN TABLE dest OPTIONS (ADD batch_size '7')")
    remote(pg, f"INSERT INTO {dest} (id) VALUES (50)")
    many = ", ".join(f"({i}, 'x')" for i in range(1, 101))
    with pytest.raises(vtables.WrapperError, match="duplicate key") as info:
        lite.execute(f"INSERT INTO dest (id, name) VALUES {many}")
    assert info.value.sqlstate == "23505"
    assert remote(pg, f"SELECT id FROM {dest}") == [(50,)]
    # in a transaction: the error comes with the statement, and, as in
    # PostgreSQL, the remote transaction can only be rolled back
    lite.execute("BEGIN")
    lite.execute("INSERT INTO dest (id) VALUES (300)")
    with pytest.raises(vtables.WrapperError, match="duplicate key") as info:
        lite.execute(f"INSERT INTO dest (id, name) VALUES {many}")
    assert info.value.sqlstate == "23505"
    with pytest.raises(vtables.WrapperError):
        lite.execute("COMMIT")
    if lite.in_transaction:
        lite.execute("ROLLBACK")
    assert remote(pg, f"SELECT id FROM {dest}") == [(50,)]
    lite.execute(f"INSERT INTO dest (id, name) VALUES {many.replace('(50, ', '(500, ')}")
    assert remote(pg, f"SELECT count(*) FROM {dest}") == [(101,)]


def test_insert_many_obeys_updatable_and_keeps_order_with_held_rows(lite, pg, dest):
    lite.execute("ALTER FOREIGN TABLE dest OPTIONS (ADD batch_size '3', updatable 'false')")
    with pytest.raises(vtables.FeatureNotSupportedError, match="does not allow inserts"):
        lite.wrapper_for("dest")[0].insert_many([row(1)])
    lite.execute("ALTER FOREIGN TABLE dest OPTIONS (SET updatable 'true')")
    wrapper = lite.wrapper_for("dest")[0]
    log = Log(pg)
    wrapper.begin()
    wrapper.insert(row(1))  # held back: fewer than batch_size rows
    wrapper.insert_many([row(2), {"id": 3, "name": "only two columns"}, row(4)])
    wrapper.commit()
    inserts = log.inserts()
    assert len(inserts) == 4 and '("id", "name") VALUES ($1, $2)' in inserts[2]
    assert log.first_parameters() == ["1", "2", "3", "4"]
    assert remote(pg, f"SELECT id, name FROM {dest} WHERE id = 3") == [(3, "only two columns")]
    assert remote(pg, f"SELECT count(*) FROM {dest}") == [(4,)]


# ------------------------------------- defaults and conflicts (issue 13, items 1-2)


@pytest.fixture
def keyed(pg, lite):
    """A remote table with a primary key and a remote default the local one overrides."""
    name = f"keyed_{os.getpid()}_{id(lite)}"
    remote(
        pg,
        f"CREATE TABLE {name} (id int PRIMARY KEY, name text, c7 char(10) DEFAULT 'remote',"
        " n int, at timestamptz)",
    )
    lite.execute(
        f"CREATE FOREIGN TABLE keyed (id int NOT NULL, name text, c7 char(10) DEFAULT 'ft2',"
        f" n int DEFAULT 1 + 2, at timestamp DEFAULT now())"
        f" SERVER shop OPTIONS (table_name '{name}')"
    )
    yield name
    postgres_fdw.disconnect_all(lite)
    remote(pg, f"DROP TABLE {name}")


def test_local_defaults_fill_left_out_columns_as_in_postgresql(lite, pg, keyed):
    lite.execute("INSERT INTO keyed (id, name) VALUES (1, 'a')")
    lite.execute("INSERT INTO keyed (id, c7, n, at) VALUES (2, NULL, NULL, NULL)")
    lite.execute("BEGIN")
    lite.executemany("INSERT INTO keyed (id) VALUES (?)", [(3,), (4,)])
    lite.execute("COMMIT")
    got = remote(pg, f"SELECT id, name, c7, n, at IS NOT NULL FROM {keyed} ORDER BY id")
    # PostgreSQL pads char(10); the local default wins over the remote one
    assert got == [
        (1, "a", "ft2       ", 3, True),
        (2, None, None, None, False),
        (3, None, "ft2       ", 3, True),
        (4, None, "ft2       ", 3, True),
    ]


def test_on_conflict_do_nothing_and_or_ignore_reach_postgresql(lite, pg, keyed):
    log = Log(pg)
    lite.execute("INSERT INTO keyed (id, name) VALUES (1, 'a')")
    lite.execute("INSERT INTO keyed (id, name) VALUES (1, 'b'), (2, 'b') ON CONFLICT DO NOTHING")
    lite.execute("INSERT OR IGNORE INTO keyed (id, name) VALUES (2, 'c'), (3, 'c')")
    assert remote(pg, f"SELECT id, name FROM {keyed} ORDER BY id") == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
    ]
    assert any("ON CONFLICT DO NOTHING" in line for line in log.lines())
    lite.execute("INSERT OR REPLACE INTO keyed (id, name) VALUES (1, 'r')")
    assert remote(pg, f"SELECT name FROM {keyed} WHERE id = 1") == [("r",)]
    with pytest.raises(vtables.WrapperError) as info:
        lite.execute("INSERT INTO keyed (id, name) VALUES (1, 'dup')")
    assert info.value.sqlstate == "23505"
