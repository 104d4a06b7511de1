"""connect(), the statement router, users, views, persistence and dump."""

from __future__ import annotations

import apsw
import pytest

import vtables
from tests.conftest import snapshot
from vtables import SQLMedSyntaxError, catalog, sqltext

SETUP = """
CREATE EXTENSION memory_fdw;
CREATE SERVER s FOREIGN DATA WRAPPER memory_fdw OPTIONS (host 'h', api_token 'tok-123');
CREATE USER MAPPING FOR alice SERVER s OPTIONS (user 'a', password 'pw-alice');
CREATE USER MAPPING FOR bob SERVER s OPTIONS (user 'b', password 'pw-bob');
CREATE USER MAPPING FOR PUBLIC SERVER s OPTIONS (user 'anyone');
CREATE FOREIGN TABLE people (id integer NOT NULL, name text) SERVER s OPTIONS (dataset 'people');
"""


def test_connect_returns_apsw_subclasses(conn):
    assert isinstance(conn, apsw.Connection) and isinstance(conn, vtables.Connection)
    assert isinstance(conn.cursor(), vtables.Cursor)
    assert isinstance(conn.execute("SELECT 1"), vtables.Cursor)
    assert conn.user == "alice"
    assert vtables.connect().user == vtables.default_user()


def test_catalog_is_created_lazily(db_path):
    c = vtables.connect(db_path)
    c.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1)")
    assert not catalog.exists(c)
    assert c.execute("SELECT * FROM sqlmed_foreign_servers").fetchall() == []
    c.execute("CREATE FOREIGN DATA WRAPPER w")
    assert catalog.exists(c)


def test_ordinary_sql_takes_the_fast_path_without_parsing(conn, monkeypatch):
    def boom(*args):
        raise AssertionError("the router parsed ordinary SQL")

    monkeypatch.setattr(sqltext, "plan", boom)
    monkeypatch.setattr(vtables.grammar, "parse", boom)
    conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t(v) VALUES (?)", [("a",), ("b",)])
    assert conn.execute("SELECT v FROM t ORDER BY id").fetchall() == [("a",), ("b",)]


def test_mixed_script_runs_in_order_with_bindings(conn):
    cur = conn.execute(
        """
        CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
        INSERT INTO t VALUES (?, ?);
        CREATE EXTENSION memory_fdw;  -- a comment with FOREIGN in it
        INSERT INTO t VALUES (?, 'foreign server');
        CREATE SERVER s FOREIGN DATA WRAPPER memory_fdw;
        SELECT id, v FROM t ORDER BY id;
        """,
        (1, "one", 2),
    )
    assert cur.fetchall() == [(1, "one"), (2, "foreign server")]
    assert catalog.get_server(conn, "s") is not None


def test_named_bindings_reach_every_statement(conn):
    rows = conn.execute(
        "CREATE EXTENSION memory_fdw; SELECT :a, :b", {"a": 1, "b": "server"}
    ).fetchall()
    assert rows == [(1, "server")]


def test_script_ending_with_sql_med_returns_an_empty_cursor(conn):
    cur = conn.execute(
        "CREATE EXTENSION memory_fdw; CREATE SERVER s FOREIGN DATA WRAPPER memory_fdw;"
    )
    assert cur.fetchall() == []


def test_triggers_with_keywords_survive_the_router(conn):
    conn.execute("""
        CREATE TABLE t(x); CREATE TABLE log(msg);
        CREATE TRIGGER tr AFTER INSERT ON t BEGIN
            INSERT INTO log VALUES ('server said ' || new.x);
            INSERT INTO log VALUES ('foreign; import');
        END;
        CREATE EXTENSION memory_fdw;
        INSERT INTO t VALUES ('hi');
    """)
    assert conn.execute("SELECT msg FROM log").fetchall() == [
        ("server said hi",),
        ("foreign; import",),
    ]


def test_strings_and_comments_are_not_statements(conn):
    conn.execute("CREATE TABLE notes(t)")
    conn.execute("INSERT INTO notes VALUES ('CREATE SERVER x FOREIGN DATA WRAPPER y; DROP SERVER')")
    conn.execute("/* CREATE SERVER */ INSERT INTO notes VALUES ('-- IMPORT FOREIGN SCHEMA')")
    assert conn.execute("SELECT count(*) FROM notes").fetchone() == (2,)
    assert not catalog.exists(conn)


def test_current_user_in_sql(conn):
    assert conn.execute("SELECT current_user, CURRENT_USER(), session_user").fetchone() == (
        "alice",
        "alice",
        "alice",
    )
    assert conn.execute("SELECT 'current_user'").fetchone() == ("current_user",)


def test_syntax_error_position_is_relative_to_the_script(conn):
    conn.execute("CREATE TABLE t(x)")
    before = snapshot(conn)
    with pytest.raises(SQLMedSyntaxError) as info:
        conn.execute("INSERT INTO t VALUES (1);\nCREATE SERVER s\n  FOREIGN DATA WRAPER w;")
    assert (info.value.line, info.value.column) == (3, 16)
    assert "expected WRAPPER" in str(info.value)
    # statements before the bad one ran, as in any SQLite script
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)
    assert snapshot(conn)[1] == before[1]


def test_unterminated_string_in_a_script(conn):
    with pytest.raises(SQLMedSyntaxError) as info:
        conn.execute("CREATE SERVER s FOREIGN DATA WRAPPER w OPTIONS (a 'oops)")
    assert (info.value.line, info.value.column) == (1, 51)


def test_executemany_refuses_sql_med(conn):
    with pytest.raises(vtables.FeatureNotSupportedError):
        conn.executemany("CREATE EXTENSION memory_fdw", [(), ()])


def test_failed_statement_inside_a_transaction_keeps_earlier_work(conn):
    conn.execute(SETUP)
    conn.execute("BEGIN")
    conn.execute("CREATE SERVER s2 FOREIGN DATA WRAPPER memory_fdw")
    before = snapshot(conn)
    with pytest.raises(vtables.DependentObjectsError):
        conn.execute("DROP SERVER s")
    assert snapshot(conn) == before
    conn.execute("COMMIT")
    assert catalog.get_server(conn, "s2") is not None


def test_rollback_undoes_sql_med_statements(conn):
    conn.execute(SETUP)
    before = snapshot(conn)
    conn.execute("BEGIN; DROP SERVER s CASCADE; CREATE SERVER s3 FOREIGN DATA WRAPPER memory_fdw")
    conn.execute("ROLLBACK")
    assert snapshot(conn) == before
    assert conn.execute("SELECT count(*) FROM people").fetchone() == (2,)


def test_persistence_and_second_connection(db_path):
    a = vtables.connect(db_path, user="alice")
    a.execute(SETUP)
    b = vtables.connect(db_path, user="bob")
    assert b.execute("SELECT name FROM people ORDER BY id").fetchall() == [("ann",), ("bob",)]
    assert [s.name for s in catalog.list_servers(b)] == ["s"]
    a.execute("ALTER FOREIGN TABLE people ADD COLUMN extra text")
    assert [r[1] for r in b.execute("PRAGMA table_info(people)")] == ["id", "name", "extra"]
    b.execute("DROP FOREIGN TABLE people")
    assert catalog.get_table(a, "people") is None
    a.close()
    b.close()
    c = vtables.connect(db_path)
    assert [s.name for s in catalog.list_servers(c)] == ["s"]
    assert len(catalog.list_user_mappings(c)) == 3
    c.close()


def test_plain_sqlite_can_read_the_file(db_path):
    a = vtables.connect(db_path)
    a.execute(SETUP)
    a.close()
    raw = apsw.Connection(db_path)
    names = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"people", "sqlmed_server", "sqlmed_ftable"} <= names
    assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # no views or triggers that need this library
    assert raw.execute(
        "SELECT count(*) FROM sqlite_master WHERE type IN ('view', 'trigger')"
    ).fetchone() == (0,)
    raw.close()


def test_secrets_never_reach_sqlite_master(conn):
    conn.execute(SETUP)
    text = " ".join(r[0] or "" for r in conn.execute("SELECT sql FROM sqlite_master"))
    for secret in ("pw-alice", "pw-bob", "tok-123"):
        assert secret not in text


def test_views(conn):
    conn.execute(SETUP)
    conn.execute("COMMENT ON SERVER s IS 'srv'")
    assert conn.execute("SELECT * FROM sqlmed_foreign_data_wrappers").fetchall() == [
        ("memory_fdw", "memory_fdw_handler", "memory_fdw_validator", "memory_fdw", None)
    ]
    assert conn.execute("SELECT * FROM sqlmed_foreign_servers").fetchall() == [
        ("s", "memory_fdw", None, None, "srv")
    ]
    assert conn.execute("SELECT * FROM sqlmed_foreign_server_options").fetchall() == [
        ("s", "host", "h"),
        ("s", "api_token", "********"),
    ]
    assert conn.execute("SELECT * FROM sqlmed_foreign_tables").fetchall() == [("people", "s", None)]
    assert conn.execute("SELECT * FROM sqlmed_foreign_table_options").fetchall() == [
        ("people", "dataset", "people")
    ]
    assert conn.execute(
        "SELECT column_name, data_type, is_nullable FROM sqlmed_foreign_table_columns"
    ).fetchall() == [("id", "integer", "NO"), ("name", "text", "YES")]
    conn.execute("ALTER FOREIGN TABLE people ALTER name OPTIONS (column_name 'n')")
    assert conn.execute("SELECT * FROM sqlmed_column_options").fetchall() == [
        ("people", "name", "column_name", "n")
    ]
    assert conn.execute("SELECT * FROM sqlmed_extensions").fetchall() == [("memory_fdw", "1.0")]
    assert sorted(conn.execute("SELECT * FROM sqlmed_user_mappings").fetchall()) == [
        ("alice", "s"),
        ("bob", "s"),
        ("public", "s"),
    ]


def test_user_mapping_options_are_shown_only_to_the_mapped_user(db_path):
    a = vtables.connect(db_path, user="alice")
    a.execute(SETUP)
    rows = a.execute(
        "SELECT authorization_identifier, option_name, option_value"
        " FROM sqlmed_user_mapping_options ORDER BY 1, 2"
    ).fetchall()
    assert rows == [
        ("alice", "password", "********"),
        ("alice", "user", "a"),
        ("bob", "password", None),
        ("bob", "user", None),
        ("public", "user", "anyone"),
    ]
    b = vtables.connect(db_path, user="bob")
    rows = b.execute(
        "SELECT authorization_identifier, option_value FROM"
        " sqlmed_user_mapping_options WHERE option_name='user' ORDER BY 1"
    ).fetchall()
    assert rows == [("alice", None), ("bob", "b"), ("public", "anyone")]


def test_wrapper_sees_the_current_users_mapping(db_path):
    seen = {}

    class Peek(vtables.ForeignDataWrapper):
        name = "peek_fdw"
        option_specs = (
            vtables.OptionSpec("host", {"server"}),
            vtables.OptionSpec("user", {"user_mapping"}),
            vtables.OptionSpec("t", {"table"}),
        )

        def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
            seen["options"] = dict(self.options)
            return [(1,)]

    vtables.register_wrapper(Peek)
    try:
        a = vtables.connect(db_path, user="alice")
        a.execute("""
            CREATE EXTENSION peek_fdw;
            CREATE SERVER p FOREIGN DATA WRAPPER peek_fdw OPTIONS (host 'h');
            CREATE USER MAPPING FOR alice SERVER p OPTIONS (user 'a');
            CREATE USER MAPPING FOR PUBLIC SERVER p OPTIONS (user 'pub');
            CREATE FOREIGN TABLE pt (x int) SERVER p OPTIONS (t 'table-level');
        """)
        assert a.execute("SELECT x FROM pt").fetchall() == [(1,)]
        assert seen["options"] == {"host": "h", "user": "a", "t": "table-level"}
        c = vtables.connect(db_path, user="carol")
        c.execute("SELECT x FROM pt").fetchall()
        assert seen["options"]["user"] == "pub"
        a.execute("ALTER USER MAPPING FOR alice SERVER p OPTIONS (SET user 'a2')")
        a.execute("SELECT x FROM pt").fetchall()
        assert seen["options"]["user"] == "a2"
    finally:
        vtables.unregister_wrapper("peek_fdw")


def test_dump_recreates_the_catalog(conn):
    conn.execute(SETUP)
    conn.execute("""
        CREATE FOREIGN DATA WRAPPER "Odd Wrapper" NO HANDLER OPTIONS ("tns name" 'orcl');
        CREATE SERVER "Other" TYPE 'x' VERSION '9' FOREIGN DATA WRAPPER "Odd Wrapper";
        ALTER FOREIGN DATA WRAPPER memory_fdw OPTIONS (debug 'true');
        ALTER FOREIGN TABLE people ADD COLUMN "Mixed Case" numeric(10,2) DEFAULT 0 NOT NULL,
            ALTER name OPTIONS (column_name 'name');
        COMMENT ON COLUMN people.name IS 'it''s a name';
        COMMENT ON SERVER s IS 'main server';
        CREATE FOREIGN TABLE "select" ("from" text) SERVER "Other";
    """)
    text = vtables.dump(conn)
    for secret in ("pw-alice", "pw-bob", "tok-123"):
        assert secret not in text
    assert "-- secret options of user mapping for alice on server s not dumped: password" in text
    fresh = vtables.connect(":memory:", user="alice")
    fresh.execute(text)
    kept = "".join(line + "\n" for line in text.splitlines() if not line.startswith("--"))
    assert vtables.dump(fresh) == kept
    assert fresh.execute("SELECT name FROM people ORDER BY id").fetchall() == [("ann",), ("bob",)]


def test_wrapper_instances_follow_changes_made_by_another_connection(db_path):
    a = vtables.connect(db_path, user="alice")
    a.execute(SETUP)
    assert a.execute("SELECT count(*) FROM people").fetchone() == (2,)
    b = vtables.connect(db_path, user="bob")
    b.execute("ALTER FOREIGN TABLE people OPTIONS (SET dataset 'nothing')")
    assert a.execute("SELECT count(*) FROM people").fetchone() == (0,)


def test_scan_errors_name_the_table(conn):
    class Broken(vtables.ForeignDataWrapper):
        name = "broken_fdw"

        def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
            yield (1,)
            raise RuntimeError("source went away")

    vtables.register_wrapper(Broken)
    try:
        conn.execute("""
            CREATE EXTENSION broken_fdw;
            CREATE SERVER b FOREIGN DATA WRAPPER broken_fdw;
            CREATE FOREIGN TABLE bt (x int) SERVER b;
        """)
        with pytest.raises(vtables.WrapperError, match='foreign table "bt": source went away'):
            conn.execute("SELECT x FROM bt").fetchall()
    finally:
        vtables.unregister_wrapper("broken_fdw")
