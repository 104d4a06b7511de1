"""postgres_fdw keeps credentials and connection strings out of server options.

A server option is one libpq keyword with one plain value: a ``dbname`` that
is a conninfo string or URI, or any connection option holding ``key=value``,
is refused when the server is created or altered, and again when a database
file written by something else holds one; the refusal names the option and
the server and never repeats the value.  Connection errors name the server
and never show the user mapping's password.
"""

from __future__ import annotations

import json

import apsw
import psycopg
import pytest

import vtables
from tests.helpers import local_database
from tests.pgserver import PostgresServer, free_port, registering, serving
from vtables.wrappers import postgres_fdw
from vtables.wrappers.postgres_fdw import PostgresFdw

PASSWORD = "Mapp1ng-pw!z"
LEAK = "Leak3d-pw9"
ODD_DB = "it's a shop"

#: (option, value) pairs a server must refuse because libpq would read the
#: value as more than one connection parameter, or it carries a password.
CONNECTION_STRINGS = [
    ("dbname", f"host=evil.example user=x password={LEAK} dbname=z"),
    ("dbname", f"postgresql://x:{LEAK}@evil.example/z"),
    ("dbname", f"postgres://x:{LEAK}@evil.example:5433/z?sslmode=disable"),
    ("dbname", f"POSTGRESQL://x:{LEAK}@evil.example/z"),
    ("dbname", f"shop password={LEAK}"),
    ("dbname", f"password={LEAK}"),
    ("host", f"localhost password={LEAK}"),
    ("host", f"postgresql://x:{LEAK}@evil.example/z"),
    ("hostaddr", f"127.0.0.1 password={LEAK}"),
    ("port", f"5432 password={LEAK}"),
    ("application_name", f"app password={LEAK}"),
    ("target_session_attrs", f"any password={LEAK}"),
]
#: Options a server never takes: credentials and files of them.
NOT_SERVER_OPTIONS = [
    ("password", LEAK),
    ("user", f"x password={LEAK}"),
    ("sslpassword", LEAK),
    ("service", f"evil{LEAK}"),
]
BAD = CONNECTION_STRINGS + NOT_SERVER_OPTIONS


_registered = registering(PostgresFdw)


def _prepare(server: PostgresServer) -> None:
    """Role ``fdw`` owning a database with an odd name, and a view ``settings``
    of what a session there sees."""
    admin = f"host={server.host} port={server.port} user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f"CREATE ROLE fdw LOGIN PASSWORD '{PASSWORD}'")
        c.execute(
            psycopg.sql.SQL("CREATE DATABASE {} OWNER fdw").format(psycopg.sql.Identifier(ODD_DB))
        )
    with psycopg.connect(
        host=server.host, port=server.port, user="fdw", password=PASSWORD, dbname=ODD_DB
    ) as c:
        c.execute(
            "CREATE VIEW settings AS SELECT current_database() AS db,"
            " current_setting('application_name') AS app,"
            " current_setting('statement_timeout') AS st"
        )


@pytest.fixture(scope="module")
def pg():
    yield from serving(_prepare)


@pytest.fixture
def lite(tmp_path):
    yield from local_database(tmp_path / "local.db", "CREATE EXTENSION postgres_fdw")


def _catalog(conn) -> tuple:
    return (
        conn.execute("SELECT * FROM sqlmed_server ORDER BY name").fetchall(),
        conn.execute("SELECT * FROM sqlmed_foreign_server_options").fetchall(),
        vtables.dump(conn),
    )


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _refused(excinfo, option: str, server: str, value: str) -> None:
    err = excinfo.value
    text = str(err)
    assert f'"{option}"' in text and f'"{server}"' in text, text
    for shown in (text, repr(err), repr(err.__cause__), repr(err.__context__)):
        assert LEAK not in shown and value not in shown, shown


# ------------------------------------------------------------- validation


@pytest.mark.parametrize(("option", "value"), BAD)
def test_create_server_refuses_credentials_and_connection_strings(lite, option, value):
    before = _catalog(lite)
    with pytest.raises(vtables.InvalidOptionError) as info:
        lite.execute(
            "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw"
            f" OPTIONS ({option} {_sql_text(value)})"
        )
    _refused(info, option, "s", value)
    assert _catalog(lite) == before
    assert LEAK not in vtables.dump(lite)


@pytest.mark.parametrize(("option", "value"), BAD)
def test_alter_server_refuses_credentials_and_connection_strings(lite, option, value):
    lite.execute(
        "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw"
        " OPTIONS (host '127.0.0.1', port '5432', dbname 'shop', application_name 'a',"
        " target_session_attrs 'any')"
    )
    before = _catalog(lite)
    present = {"host", "port", "dbname", "application_name", "target_session_attrs"}
    action = "SET" if option in present else "ADD"
    bad = f"{action} {option} {_sql_text(value)}"
    with pytest.raises(vtables.InvalidOptionError) as info:
        lite.execute(f"ALTER SERVER s OPTIONS ({bad})")
    _refused(info, option, "s", value)
    # with a valid change in the same statement: nothing of it is kept
    other = "SET connect_timeout '3'" if option == "port" else "SET port '5433'"
    other = "ADD connect_timeout '3'" if option == "port" else other
    with pytest.raises(vtables.InvalidOptionError) as info:
        lite.execute(f"ALTER SERVER s OPTIONS ({other}, {bad})")
    _refused(info, option, "s", value)
    assert _catalog(lite) == before
    assert LEAK not in vtables.dump(lite)


def test_the_refusal_says_where_the_settings_belong(lite):
    with pytest.raises(vtables.InvalidOptionError) as info:
        lite.execute(
            "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw"
            f" OPTIONS (dbname 'postgresql://x:{LEAK}@h/db')"
        )
    assert "database name" in info.value.message
    assert "user mapping" in (info.value.hint or "")
    assert "host" in (info.value.hint or "")


def test_a_file_holding_a_connection_string_is_refused_at_connect(tmp_path):
    """A database file written before the check, or by another program."""
    path = str(tmp_path / "old.db")
    conn = vtables.connect(path, user="alice")
    conn.execute(f"""
        CREATE EXTENSION postgres_fdw;
        CREATE SERVER old FOREIGN DATA WRAPPER postgres_fdw
            OPTIONS (host '127.0.0.1', port '{free_port()}', dbname 'shop',
                     connect_timeout '2');
        CREATE USER MAPPING FOR PUBLIC SERVER old OPTIONS (user 'fdw', password '{PASSWORD}');
        CREATE FOREIGN TABLE t (x int) SERVER old;
    """)
    conn.close()
    for option, value in CONNECTION_STRINGS:
        raw = apsw.Connection(path)
        options = json.loads(
            raw.execute("SELECT options FROM sqlmed_server WHERE name='old'").fetchone()[0]
        )
        options[option] = value
        raw.execute("UPDATE sqlmed_server SET options=? WHERE name='old'", (json.dumps(options),))
        raw.close()
        conn = vtables.connect(path, user="alice")
        try:
            with pytest.raises(vtables.InvalidOptionError) as info:
                conn.execute("SELECT * FROM t").fetchall()
            _refused(info, option, "old", value)
            assert PASSWORD not in str(info.value)
        finally:
            postgres_fdw.disconnect_all(conn)
            conn.close()
        raw = apsw.Connection(path)
        del options[option]
        if option in {"dbname", "host", "port"}:
            options[option] = {"dbname": "shop", "host": "127.0.0.1"}.get(option, "1")
        raw.execute("UPDATE sqlmed_server SET options=? WHERE name='old'", (json.dumps(options),))
        raw.close()


# ------------------------------------------------------------- connections


def test_dead_server_error_names_the_server_not_the_password(lite):
    port = free_port()
    lite.execute(f"""
        CREATE SERVER gone FOREIGN DATA WRAPPER postgres_fdw
            OPTIONS (host '127.0.0.1', port '{port}', dbname 'shop', connect_timeout '2');
        CREATE USER MAPPING FOR CURRENT_USER SERVER gone
            OPTIONS (user 'fdw', password '{PASSWORD}');
        CREATE FOREIGN TABLE lost (x int) SERVER gone;
    """)
    for statement in (
        "SELECT * FROM lost",
        "IMPORT FOREIGN SCHEMA public FROM SERVER gone INTO main",
    ):
        with pytest.raises(vtables.WrapperError) as info:
            lite.execute(statement).fetchall()
        text = str(info.value)
        assert "could not connect" in text and str(port) in text, text
        assert PASSWORD not in text and PASSWORD not in repr(info.value.__context__)
        assert "password=" not in text.lower()
    with pytest.raises(vtables.WrapperError, match='server "gone"'):
        lite.execute("SELECT * FROM lost").fetchall()


def test_ordinary_options_reach_the_server_as_values(lite, pg):
    """Values travel as libpq keywords: a database name with a quote and spaces,
    an application_name with a space and ``options`` with ``-c name=value``."""
    lite.execute(f"""
        CREATE SERVER shop FOREIGN DATA WRAPPER postgres_fdw
            OPTIONS (host '{pg.host}', port '{pg.port}', dbname {_sql_text(ODD_DB)},
                     application_name 'sqlmed integrity', options '-c statement_timeout=4321',
                     connect_timeout '5', sslmode 'disable', target_session_attrs 'any');
        CREATE USER MAPPING FOR CURRENT_USER SERVER shop
            OPTIONS (user 'fdw', password '{PASSWORD}');
    """)
    lite.execute("IMPORT FOREIGN SCHEMA public LIMIT TO (settings) FROM SERVER shop INTO main")
    assert lite.execute("SELECT db, app, st FROM settings").fetchall() == [
        (ODD_DB, "sqlmed integrity", "4321ms")
    ]
    lite.execute("ALTER SERVER shop OPTIONS (SET application_name 'renamed')")
    assert lite.execute("SELECT app FROM settings").fetchall() == [("renamed",)]
    assert PASSWORD not in vtables.dump(lite)
