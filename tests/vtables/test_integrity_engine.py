"""Issue 12, the engine: transactions of SQL/MED statements, concurrent DDL,
cached wrappers, explain, and SQL that is not SQL/MED reaching SQLite as written."""

from __future__ import annotations

import threading
import time

import apsw
import pytest

import vtables
from tests.conftest import MemoryFdw
from vtables import SQLMedSyntaxError

# ------------------------------------------------------------ transactions


def _locked_by_reader(path):
    """A second connection holding a read transaction on ``path``."""
    r = vtables.connect(path, user="bob", timeout=0)
    r.execute("BEGIN; SELECT * FROM notes").fetchall()
    return r


def test_failed_commit_of_ddl_leaves_no_transaction_open(db_path):
    # item 1: rollback journal, a reader blocks the commit of CREATE SERVER
    a = vtables.connect(db_path, user="alice", timeout=0)
    a.execute("CREATE EXTENSION memory_fdw; CREATE TABLE notes(x)")
    r = _locked_by_reader(db_path)
    with pytest.raises(vtables.SQLMedError, match="locked|busy"):
        a.execute("CREATE SERVER s FOREIGN DATA WRAPPER memory_fdw")
    assert not a.in_transaction
    r.execute("ROLLBACK")
    a.execute("INSERT INTO notes VALUES (42)")
    a.execute("CREATE SERVER s2 FOREIGN DATA WRAPPER memory_fdw")
    a.close()
    b = vtables.connect(db_path)
    assert b.execute("SELECT x FROM notes").fetchall() == [(42,)]
    names = [r[0] for r in b.execute("SELECT foreign_server_name FROM sqlmed_foreign_servers")]
    assert names == ["s2"]


def test_failed_ddl_inside_a_user_transaction_keeps_that_transaction(db_path):
    a = vtables.connect(db_path, user="alice")
    a.execute("CREATE EXTENSION memory_fdw; CREATE TABLE notes(x)")
    a.execute("BEGIN; INSERT INTO notes VALUES (1)")
    with pytest.raises(vtables.UndefinedObjectError):
        a.execute("CREATE SERVER s FOREIGN DATA WRAPPER nowhere")
    assert a.in_transaction
    a.execute("INSERT INTO notes VALUES (2); COMMIT")
    assert a.execute("SELECT x FROM notes ORDER BY x").fetchall() == [(1,), (2,)]


def test_ddl_of_a_failed_script_statement_keeps_autocommit(db_path):
    a = vtables.connect(db_path, user="alice")
    with pytest.raises(vtables.UndefinedObjectError):
        a.execute("CREATE EXTENSION memory_fdw; CREATE SERVER s FOREIGN DATA WRAPPER nowhere")
    assert not a.in_transaction
    assert a.execute("SELECT count(*) FROM sqlmed_extensions").fetchone() == (1,)


def test_connect_has_a_busy_timeout(db_path):
    assert vtables.connect(db_path).execute("PRAGMA busy_timeout").fetchone() == (5000,)
    assert vtables.connect(db_path, timeout=0.25).execute("PRAGMA busy_timeout").fetchone() == (
        250,
    )


def test_concurrent_ddl_waits_for_the_write_lock(db_path):
    # item 2: deferred SAVEPOINTs that read then write fail at once on SQLITE_BUSY
    setup = vtables.connect(db_path)
    setup.execute("PRAGMA journal_mode=WAL; CREATE EXTENSION memory_fdw")
    setup.close()
    errors: list[BaseException] = []
    threads_n, per_thread = 4, 25

    def work(k):
        c = vtables.connect(db_path, timeout=10)
        try:
            for i in range(per_thread):
                c.execute(f"CREATE SERVER s{k}_{i} FOREIGN DATA WRAPPER memory_fdw")
        except BaseException as err:  # noqa: BLE001 (reported below)
            errors.append(err)
        finally:
            c.close()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    c = vtables.connect(db_path)
    assert c.execute("SELECT count(*) FROM sqlmed_foreign_servers").fetchone() == (
        threads_n * per_thread,
    )


def test_foreign_table_reads_survive_concurrent_ddl(db_path):
    # item 3: SchemaChangeError escaped from the module's Connect during prepare
    setup = vtables.connect(db_path)
    setup.execute(
        "PRAGMA journal_mode=WAL; CREATE EXTENSION memory_fdw;"
        " CREATE SERVER s FOREIGN DATA WRAPPER memory_fdw;"
        " CREATE FOREIGN TABLE people (id integer, name text) SERVER s"
        " OPTIONS (dataset 'people')"
    )
    setup.close()
    stop = threading.Event()
    failures: list[BaseException] = []

    def writer():
        c = vtables.connect(db_path, timeout=10)
        i = 0
        while not stop.is_set() and i < 2000:
            c.execute(f"CREATE FOREIGN TABLE f{i} (x int) SERVER s OPTIONS (dataset 'none')")
            i += 1
        c.close()

    w = threading.Thread(target=writer)
    w.start()
    reader = vtables.connect(db_path, timeout=10)
    reads = 0
    deadline = time.monotonic() + 1.5
    try:
        while time.monotonic() < deadline:
            if reads % 5 == 0:  # a new connection's first statement connects the table
                reader = vtables.connect(db_path, timeout=10)
            try:
                assert reader.execute("SELECT * FROM people ORDER BY id").fetchall() == [
                    (1, "ann"),
                    (2, "bob"),
                ]
                reads += 1
            except apsw.Error as err:
                failures.append(err)
    finally:
        stop.set()
        w.join(60)
    assert reads > 0
    assert failures == []


def test_rollback_resets_cached_wrappers(conn):
    # item 4
    MemoryFdw.datasets["other"] = [{"id": 9, "name": "zed"}]
    conn.execute(
        "CREATE EXTENSION memory_fdw; CREATE SERVER s FOREIGN DATA WRAPPER memory_fdw;"
        " CREATE FOREIGN TABLE t (id integer, name text) SERVER s OPTIONS (dataset 'people')"
    )
    conn.execute("BEGIN; ALTER FOREIGN TABLE t OPTIONS (SET dataset 'other')")
    assert conn.execute("SELECT id FROM t").fetchall() == [(9,)]
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT id FROM t").fetchall() == [(1,), (2,)]
    conn.execute("BEGIN; SAVEPOINT a; ALTER FOREIGN TABLE t OPTIONS (SET dataset 'other')")
    assert conn.execute("SELECT id FROM t").fetchall() == [(9,)]
    conn.execute("ROLLBACK TO a")
    assert conn.execute("SELECT id FROM t").fetchall() == [(1,), (2,)]
    conn.execute("COMMIT")


def test_rollback_resets_cached_wrappers_after_server_options(conn):
    class Echo(vtables.ForeignDataWrapper):
        name = "echo_fdw"
        option_specs = (vtables.OptionSpec("directory", {"server"}),)

        def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
            yield (self.options.get("directory", "none"),)

    vtables.register_wrapper(Echo)
    try:
        conn.execute(
            "CREATE EXTENSION echo_fdw; CREATE SERVER s FOREIGN DATA WRAPPER echo_fdw;"
            " CREATE FOREIGN TABLE t (d text) SERVER s"
        )
        assert conn.execute("SELECT d FROM t").fetchall() == [("none",)]
        conn.execute("BEGIN; ALTER SERVER s OPTIONS (ADD directory 'other')")
        assert conn.execute("SELECT d FROM t").fetchall() == [("other",)]
        conn.execute("ROLLBACK")
        assert conn.execute("SELECT d FROM t").fetchall() == [("none",)]
    finally:
        vtables.unregister_wrapper("echo_fdw")


# ----------------------------------------------------------------- explain


def test_explain_takes_one_statement_and_runs_nothing(conn):
    # item 9
    conn.execute("CREATE TABLE notes(x); INSERT INTO notes VALUES (1)")
    with pytest.raises(vtables.SQLMedError, match="one statement"):
        conn.explain("SELECT 1; DELETE FROM notes")
    with pytest.raises(vtables.SQLMedError, match="one statement"):
        conn.execute("SELECT sqlmed_explain('SELECT 1; DELETE FROM notes')").fetchall()
    assert conn.execute("SELECT count(*) FROM notes").fetchone() == (1,)
    assert conn.explain("SELECT * FROM notes;  -- trailing\n") == "(no foreign scans)"
    conn.explain("DELETE FROM notes")
    assert conn.execute("SELECT count(*) FROM notes").fetchone() == (1,)


def test_side_effect_functions_cannot_be_called_from_the_schema(db_path):
    # item 9: a view or trigger stored in a file must not call sqlmed_explain
    c = vtables.connect(db_path)
    c.execute(
        "CREATE TABLE notes(x); INSERT INTO notes VALUES (1);"
        " CREATE VIEW v AS SELECT sqlmed_explain('SELECT 1') AS e;"
        " CREATE TABLE log(x);"
        " CREATE TRIGGER tr AFTER INSERT ON log BEGIN"
        "   SELECT sqlmed_explain('SELECT 1'); END;"
    )
    with pytest.raises(apsw.SQLError, match="unsafe use of"):
        c.execute("SELECT * FROM v").fetchall()
    with pytest.raises(apsw.SQLError, match="unsafe use of"):
        c.execute("INSERT INTO log VALUES (1)")
    assert c.execute("SELECT sqlmed_explain('SELECT 1')").fetchone() == ("(no foreign scans)",)


# --------------------------------------------------------- plain SQL as is


def test_current_user_as_an_identifier_reaches_sqlite_unchanged(conn):
    # item 10
    conn.execute("CREATE TABLE audit(id, current_user); INSERT INTO audit VALUES (1, 'bob')")
    assert conn.execute("SELECT id, current_user FROM audit").fetchall() == [(1, "bob")]
    assert conn.execute("SELECT id FROM audit WHERE current_user = 'bob'").fetchall() == [(1,)]
    conn.execute("CREATE TABLE t(session_user text, current_role text)")
    conn.execute("INSERT INTO t VALUES ('s', 'r')")
    assert conn.execute("SELECT session_user, current_role FROM t").fetchall() == [("s", "r")]
    # the functions stay callable as functions, and a bare word that is no
    # column means the current user, as the keyword does in PostgreSQL
    assert conn.execute("SELECT current_user(), session_user()").fetchone() == ("alice", "alice")
    assert conn.execute("SELECT current_user").fetchone() == ("alice",)
    assert conn.execute("SELECT id, current_role FROM audit").fetchall() == [(1, "alice")]
    cur = conn.execute(
        "CREATE TABLE u(current_user); INSERT INTO u VALUES (?);"
        " SELECT current_user, session_user FROM u",
        ("bob",),
    )
    assert cur.fetchall() == [("bob", "alice")]
    with pytest.raises(apsw.SQLError, match="no such column: other"):
        conn.execute("SELECT current_user, other FROM audit")


# ------------------------------------------------------------------ secrets


def test_syntax_errors_mask_secret_values(conn):
    # item 13
    conn.execute("CREATE EXTENSION memory_fdw; CREATE SERVER s FOREIGN DATA WRAPPER memory_fdw")
    for text in (
        'CREATE USER MAPPING FOR bob SERVER s OPTIONS (password "S3cr3t-XYZ")',
        "CREATE USER MAPPING FOR bob SERVER s OPTIONS (password S3cr3t-XYZ)",
        "CREATE USER MAPPING FOR bob SERVER s OPTIONS (user 'u', password 'S3cr3t-XYZ' user)",
        "SELECT 1; CREATE USER MAPPING FOR bob SERVER s OPTIONS (api_token 'S3cr3t-XYZ',)",
    ):
        with pytest.raises(SQLMedSyntaxError) as info:
            conn.execute(text)
        err = info.value
        assert "S3cr3t" not in str(err) and "XYZ" not in str(err)
        assert "S3cr3t" not in err.sql and "********" in err.sql
        assert err.line == 1 and err.column is not None


# ----------------------------------------------------------- explain shown


class Exacting(vtables.ForeignDataWrapper):
    """Honours = on text only for str values; sorts and limits."""

    name = "exacting_fdw"
    rows = [("ann", 1), ("bob", 2)]

    def honours(self, qual):
        return qual.operator == "=" and isinstance(qual.value, str)

    def can_sort(self, sortkeys):
        return True

    def can_limit(self):
        return True

    def explain(self, quals, columns, sortkeys, limit, offset):
        text = "scan"
        if limit is not None:
            text += f" LIMIT {limit}"
        if offset is not None:
            text += f" OFFSET {offset}"
        return text

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        rows = list(self.rows)
        if sortkeys:
            rows.sort(key=lambda r: r[0], reverse=sortkeys[0].descending)
        if offset:
            rows = rows[offset:]
        if limit is not None:
            rows = rows[:limit]
        for name, n in rows:
            yield {"name": name, "n": n}


@pytest.fixture
def exacting(conn):
    vtables.register_wrapper(Exacting)
    conn.execute(
        "CREATE EXTENSION exacting_fdw; CREATE SERVER x FOREIGN DATA WRAPPER exacting_fdw;"
        " CREATE FOREIGN TABLE people (name text, n int) SERVER x"
    )
    yield conn
    vtables.unregister_wrapper("exacting_fdw")


def test_explain_reports_the_planners_own_exactness(exacting):
    # item 22: the planner saw b'ann' and declined; explain must not say exact
    text = exacting.explain("SELECT * FROM people WHERE name = x'616e6e'")
    assert "(rechecked by SQLite)" in text and "(exact)" not in text
    text = exacting.explain("SELECT * FROM people WHERE name = 'ann'")
    assert "(exact)" in text


def test_explain_shows_no_offset_when_there_is_none(exacting):
    # item 23
    text = exacting.explain("SELECT * FROM people ORDER BY name LIMIT 1")
    assert "Offset" not in text and "OFFSET" not in text
    assert "Limit: 1" in text and "LIMIT 1" in text
    text = exacting.explain("SELECT * FROM people ORDER BY name LIMIT 1 OFFSET 1")
    assert "Offset: 1" in text and "OFFSET 1" in text
    assert exacting.execute(
        "SELECT name FROM people ORDER BY name LIMIT 1 OFFSET 1"
    ).fetchall() == [("bob",)]


def test_sqlite_fdw_remote_sql_has_no_offset_without_one(tmp_path):
    remote = apsw.Connection(str(tmp_path / "r.db"))
    remote.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')")
    remote.execute("INSERT INTO t VALUES (2, 'b')")
    remote.close()
    c = vtables.connect(str(tmp_path / "l.db"))
    c.execute(
        f"CREATE EXTENSION sqlite_fdw; CREATE SERVER s FOREIGN DATA WRAPPER sqlite_fdw"
        f" OPTIONS (database '{tmp_path / 'r.db'}'); IMPORT FOREIGN SCHEMA main FROM SERVER s"
        " INTO main"
    )
    text = c.explain("SELECT * FROM t ORDER BY id LIMIT 1")
    assert "LIMIT ?" in text and "OFFSET" not in text and "Offset" not in text
    assert c.execute("SELECT v FROM t ORDER BY id LIMIT 1").fetchall() == [("a",)]
    text = c.explain("SELECT * FROM t ORDER BY id LIMIT 1 OFFSET 1")
    assert "LIMIT ? OFFSET ?" in text and "Offset: 1" in text
    assert c.execute("SELECT v FROM t ORDER BY id LIMIT 1 OFFSET 1").fetchall() == [("b",)]


def test_a_failed_statement_is_undone_at_the_source_on_both_paths(conn):
    # APSW's module skips RollbackTo while a callback's exception is pending:
    # the first rows of a failed multi-row INSERT stayed at the source
    from tests.vtables.test_module import RecordingFdw

    RecordingFdw.scans, RecordingFdw.log, RecordingFdw.data = [], [], []
    vtables.register_wrapper(RecordingFdw)
    try:
        conn.execute(
            "CREATE EXTENSION recording_fdw; CREATE SERVER mem FOREIGN DATA WRAPPER recording_fdw;"
            " CREATE FOREIGN TABLE ft (id integer NOT NULL, grp text, val real) SERVER mem"
        )
        conn.execute("BEGIN; INSERT INTO ft VALUES (1, 'a', NULL)")
        with pytest.raises(apsw.ConstraintError, match="not-null"):
            conn.execute("INSERT INTO ft VALUES (2, 'b', NULL), (3, 'c', NULL), (NULL, 'd', 1)")
        assert [r["id"] for r in RecordingFdw.data] == [1]
        conn.execute("INSERT INTO ft VALUES (4, 'e', NULL); COMMIT")
        assert [r["id"] for r in RecordingFdw.data] == [1, 4]
    finally:
        vtables.unregister_wrapper("recording_fdw")


@pytest.mark.parametrize(
    "damage, drop",
    [
        ("UPDATE sqlmed_server SET options = '[1]'", "DROP SERVER s CASCADE"),
        (
            "UPDATE sqlmed_user_mapping SET options = 'not json'",
            "DROP USER MAPPING FOR bob SERVER s",
        ),
        ("UPDATE sqlmed_ftable SET options = '{\"dataset\": 5}'", "DROP FOREIGN TABLE people"),
        ("UPDATE sqlmed_fcolumn SET type = x'00'", "DROP FOREIGN TABLE people"),
        ("UPDATE sqlmed_fdw SET options = '[]'", "DROP EXTENSION memory_fdw CASCADE"),
    ],
)
def test_damaged_objects_can_be_dropped(conn, damage, drop):
    conn.execute(
        "CREATE EXTENSION memory_fdw; CREATE SERVER s FOREIGN DATA WRAPPER memory_fdw;"
        " CREATE USER MAPPING FOR bob SERVER s;"
        " CREATE FOREIGN TABLE people (id integer, name text) SERVER s OPTIONS (dataset 'people')"
    )
    conn.execute(damage)
    conn.execute(drop)
    assert not any(
        isinstance(e, vtables.CatalogError)
        for kind in ("server", "user_mapping", "table")
        for e in vtables.catalog.scan(conn, kind)
    )


def test_a_lone_surrogate_in_sql_med_text_is_a_syntax_error(conn):
    # found by the property test: it escaped as UnicodeEncodeError from a catalog lookup
    with pytest.raises(SQLMedSyntaxError, match="surrogate") as info:
        conn.execute('CREATE SERVER IF NOT EXISTS x FOREIGN DATA WRAPPER "\ud800"')
    assert info.value.line == 1 and info.value.column == 53
