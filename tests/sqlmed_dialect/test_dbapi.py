"""The PEP 249 module over vtables connections, on real connections."""

from __future__ import annotations

import datetime
import decimal
import threading

import apsw
import pytest

import vtables
from sqlmed_dialect import dbapi


@pytest.fixture
def conn():
    c = dbapi.connect()
    c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, n INTEGER)")
    c.commit()
    yield c
    c.close()


def names(c):
    return [r[0] for r in c.execute("SELECT name FROM t ORDER BY id").fetchall()]


# ------------------------------------------------------------------ globals


def test_module_globals():
    assert dbapi.apilevel == "2.0"
    assert dbapi.threadsafety == 1
    assert dbapi.paramstyle == "qmark"
    assert dbapi.sqlite_version == apsw.sqlite_lib_version()
    assert isinstance(dbapi.sqlite_version_info, tuple)
    assert all(isinstance(p, int) for p in dbapi.sqlite_version_info)
    assert dbapi.sqlite_version_info >= (3, 0)
    assert dbapi.Binary(b"ab") == b"ab"
    assert dbapi.Date(2024, 1, 2) == datetime.date(2024, 1, 2)
    assert dbapi.Time(1, 2, 3) == datetime.time(1, 2, 3)
    assert dbapi.Timestamp(2024, 1, 2, 3, 4, 5) == datetime.datetime(2024, 1, 2, 3, 4, 5)
    assert isinstance(dbapi.DateFromTicks(0), datetime.date)
    assert isinstance(dbapi.TimeFromTicks(0), datetime.time)
    assert isinstance(dbapi.TimestampFromTicks(0), datetime.datetime)
    assert dbapi.STRING == "VARCHAR(20)"
    assert dbapi.NUMBER == "INTEGER"
    assert dbapi.BINARY == "BLOB"
    assert dbapi.DATETIME == "TIMESTAMP"
    assert dbapi.STRING != "INTEGER"


def test_exception_hierarchy():
    assert issubclass(dbapi.Warning, Exception)
    assert issubclass(dbapi.Error, Exception)
    assert issubclass(dbapi.InterfaceError, dbapi.Error)
    assert issubclass(dbapi.DatabaseError, dbapi.Error)
    for name in (
        "DataError",
        "OperationalError",
        "IntegrityError",
        "InternalError",
        "ProgrammingError",
        "NotSupportedError",
    ):
        cls = getattr(dbapi, name)
        assert issubclass(cls, dbapi.DatabaseError)
        assert getattr(dbapi.Connection, name) is cls
    assert not issubclass(dbapi.Warning, dbapi.Error)


@pytest.mark.parametrize(
    "orig, expected",
    [
        (apsw.ConstraintError("c"), dbapi.IntegrityError),
        (apsw.BusyError("b"), dbapi.OperationalError),
        (apsw.SQLError("s"), dbapi.OperationalError),
        (apsw.MisuseError("m"), dbapi.InterfaceError),
        (apsw.BindingsError("b"), dbapi.ProgrammingError),
        (apsw.CursorClosedError("c"), dbapi.ProgrammingError),
        (apsw.ConnectionClosedError("c"), dbapi.ProgrammingError),
        (apsw.TooBigError("t"), dbapi.DataError),
        (apsw.InternalError("i"), dbapi.InternalError),
        (apsw.CorruptError("c"), dbapi.DatabaseError),
        (vtables.SQLMedSyntaxError("x"), dbapi.ProgrammingError),
        (vtables.DuplicateObjectError("d"), dbapi.ProgrammingError),
        (vtables.UndefinedObjectError("u"), dbapi.ProgrammingError),
        (vtables.DependentObjectsError("d"), dbapi.ProgrammingError),
        (vtables.InvalidOptionError("i"), dbapi.ProgrammingError),
        (vtables.FeatureNotSupportedError("f"), dbapi.NotSupportedError),
        (vtables.WrapperError("w"), dbapi.OperationalError),
        (vtables.SQLMedError("e"), dbapi.OperationalError),
    ],
)
def test_exception_mapping(orig, expected):
    mapped = dbapi.map_exception(orig)
    assert type(mapped) is expected
    assert str(mapped) == str(orig)
    assert mapped.orig is orig
    assert mapped.sqlstate == getattr(orig, "sqlstate", None)


def test_not_null_violation_maps_to_integrity_error():
    from vtables.module import NotNullViolation

    mapped = dbapi.map_exception(NotNullViolation("null value"))
    assert type(mapped) is dbapi.IntegrityError
    assert mapped.sqlstate == "23502"


def test_integrity_error_from_sqlite(conn):
    conn.execute("INSERT INTO t (name) VALUES ('a')")
    with pytest.raises(dbapi.IntegrityError) as info:
        conn.execute("INSERT INTO t (name) VALUES ('a')")
    assert isinstance(info.value.__cause__, apsw.ConstraintError)
    assert info.value.orig is info.value.__cause__
    assert "UNIQUE" in str(info.value)


def test_sqlite_syntax_error_is_operational(conn):
    with pytest.raises(dbapi.OperationalError, match="syntax error"):
        conn.execute("SELEC 1")
    with pytest.raises(dbapi.OperationalError, match="no such table"):
        conn.execute("SELECT * FROM missing")


def test_sqlmed_syntax_error_is_programming_error(conn):
    with pytest.raises(dbapi.ProgrammingError) as info:
        conn.execute("CREATE SERVER FOREIGN DATA WRAPPER")
    assert isinstance(info.value.orig, vtables.SQLMedSyntaxError)
    assert info.value.sqlstate == "42601"


def test_wrong_number_of_bindings(conn):
    with pytest.raises(dbapi.ProgrammingError):
        conn.execute("SELECT ?, ?", (1,))


def test_unsupported_binding_type(conn):
    with pytest.raises(dbapi.ProgrammingError, match="not supported"):
        conn.execute("SELECT ?", (object(),))


# --------------------------------------------------------------- cursor


def test_description(conn):
    cur = conn.execute("SELECT id, name FROM t WHERE 0")
    assert [d[0] for d in cur.description] == ["id", "name"]
    assert all(len(d) == 7 for d in cur.description)
    assert cur.description[0][1] == dbapi.NUMBER
    assert cur.fetchall() == []
    assert [d[0] for d in cur.description] == ["id", "name"]
    conn.execute("INSERT INTO t (name) VALUES ('a')")
    cur = conn.execute("SELECT name AS x FROM t")
    assert cur.description[0][0] == "x"
    assert cur.fetchall() == [("a",)]
    assert cur.description[0][0] == "x"
    assert conn.execute("UPDATE t SET n = 1").description is None
    assert conn.execute("CREATE TABLE u (a)").description is None


def test_rowcount(conn):
    cur = conn.cursor()
    assert cur.rowcount == -1
    cur.execute("INSERT INTO t (name) VALUES ('a')")
    assert cur.rowcount == 1
    cur.executemany("INSERT INTO t (name, n) VALUES (?, ?)", [("b", 1), ("c", 2), ("d", 2)])
    assert cur.rowcount == 3
    cur.execute("UPDATE t SET n = 5 WHERE n IS NOT NULL")
    assert cur.rowcount == 3
    cur.execute("SELECT * FROM t")
    assert cur.rowcount == -1
    cur.fetchall()
    assert cur.rowcount == -1
    cur.execute("DELETE FROM t WHERE n = 5")
    assert cur.rowcount == 3
    cur.execute("CREATE TABLE u (a)")
    assert cur.rowcount == -1
    cur.execute("DELETE FROM t WHERE 0")
    assert cur.rowcount == 0
    cur.execute("SELECT 1")
    assert cur.rowcount == -1
    cur.executemany("UPDATE t SET n = ? WHERE name = ?", [(1, "a"), (2, "zz")])
    assert cur.rowcount == 1
    cur.execute("INSERT INTO t (name) VALUES ('r1'), ('r2') RETURNING id")
    assert len(cur.fetchall()) == 2
    assert cur.rowcount == 2


def test_lastrowid(conn):
    cur = conn.cursor()
    assert cur.lastrowid is None
    cur.execute("INSERT INTO t (id, name) VALUES (41, 'a')")
    assert cur.lastrowid == 41
    cur.execute("INSERT INTO t (name) VALUES ('b')")
    assert cur.lastrowid == 42
    cur.execute("SELECT 1")
    assert cur.lastrowid == 42


def test_fetchmany_and_arraysize(conn):
    conn.executemany("INSERT INTO t (name) VALUES (?)", [(str(i),) for i in range(7)])
    cur = conn.execute("SELECT name FROM t ORDER BY id")
    assert cur.arraysize == 1
    assert cur.fetchmany() == [("0",)]
    cur.arraysize = 3
    assert cur.fetchmany() == [("1",), ("2",), ("3",)]
    assert cur.fetchmany(2) == [("4",), ("5",)]
    assert cur.fetchone() == ("6",)
    assert cur.fetchmany(5) == []
    assert cur.fetchone() is None
    assert [r[0] for r in conn.execute("SELECT name FROM t ORDER BY id")] == list("0123456")
    assert conn.execute("UPDATE t SET n = 1").fetchall() == []


def test_execute_returns_cursor_and_noops(conn):
    cur = conn.cursor()
    assert cur.execute("SELECT ?", (1,)) is cur
    assert cur.connection is conn
    cur.setinputsizes([None])
    cur.setoutputsize(10)
    cur.close()
    with pytest.raises(dbapi.ProgrammingError):
        cur.execute("SELECT 1")


def test_closed_connection(conn):
    conn.close()
    with pytest.raises(dbapi.ProgrammingError):
        conn.execute("SELECT 1")
    with pytest.raises(dbapi.ProgrammingError):
        conn.commit()
    conn.close()


# -------------------------------------------------------------- transactions


def test_implicit_begin_and_rollback(conn):
    assert not conn.in_transaction
    conn.execute("SELECT * FROM t").fetchall()
    assert not conn.in_transaction
    conn.execute("INSERT INTO t (name) VALUES ('a')")
    assert conn.in_transaction
    assert conn.vtables.in_transaction
    conn.rollback()
    assert not conn.in_transaction
    assert names(conn) == []
    conn.execute("WITH x(v) AS (SELECT 1) SELECT v FROM x").fetchall()
    assert not conn.in_transaction
    cur = conn.execute("WITH x(v) AS (SELECT 'w') INSERT INTO t (name) SELECT v FROM x")
    assert cur.rowcount == 1
    assert conn.in_transaction
    conn.rollback()
    assert names(conn) == []


def test_isolation_level_used_for_begin():
    c = dbapi.connect(isolation_level="IMMEDIATE")
    assert c.isolation_level == "IMMEDIATE"
    c.execute("CREATE TABLE x (a)")
    assert not c.in_transaction  # DDL begins no transaction, as in sqlite3
    c.execute("INSERT INTO x VALUES (1)")
    assert c.in_transaction
    c.rollback()
    with pytest.raises(ValueError):
        dbapi.connect(isolation_level="SOMETIMES")
    c.close()


def test_commit_persists_across_reconnect(tmp_path):
    path = str(tmp_path / "app.db")
    c = dbapi.connect(path, timeout=1.0)
    c.execute("CREATE TABLE t (a)")
    c.execute("INSERT INTO t VALUES (1)")
    c.commit()
    c.execute("INSERT INTO t VALUES (2)")  # never committed
    c.close()
    c = dbapi.connect(path)
    assert c.execute("SELECT a FROM t").fetchall() == [(1,)]
    c.close()


def test_uncommitted_is_invisible_to_other_connection(two_connections):
    a, b = two_connections(timeout=0.05)
    a.commit()
    a.execute("INSERT INTO t VALUES (1)")
    assert b.execute("SELECT count(*) FROM t").fetchone() == (0,)
    a.commit()  # b's finished read holds no lock
    assert b.execute("SELECT count(*) FROM t").fetchone() == (1,)
    a.execute("INSERT INTO t VALUES (2)")
    with pytest.raises(dbapi.OperationalError, match="locked"):
        b.execute("INSERT INTO t VALUES (3)")
    b.rollback()


def test_a_statement_seen_before_still_begins_a_transaction(conn):
    # the second time a text runs, it runs without the tracer where it may
    for _ in range(2):
        conn.execute("INSERT INTO t (name) VALUES (?)", (str(_),))
        assert conn.in_transaction
        conn.commit()
        assert not conn.in_transaction
    cur = conn.execute("UPDATE t SET n = 1")
    assert cur.rowcount == 2
    assert conn.in_transaction
    conn.rollback()
    assert conn.execute("UPDATE t SET n = 1").rowcount == 2  # again: BEGIN and count
    assert conn.in_transaction
    conn.rollback()
    cur = conn.execute("SELECT name FROM t WHERE 0")
    assert [d[0] for d in cur.description] == ["name"]  # no rows, still described
    cur = conn.execute("SELECT name FROM t WHERE 0")
    assert [d[0] for d in cur.description] == ["name"]


def test_a_cursor_closed_with_rows_left_holds_no_lock(two_connections):
    a, b = two_connections(timeout=0.05)
    a.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    a.commit()
    cur = a.execute("SELECT a FROM t")
    assert cur.fetchone() == (1,)
    cur.close()  # its statement is reset, not kept for the next cursor
    b.execute("INSERT INTO t VALUES (3)")
    b.commit()
    assert a.execute("SELECT count(*) FROM t").fetchone() == (3,)


def test_autocommit_mode(tmp_path):
    path = str(tmp_path / "app.db")
    c = dbapi.connect(path, autocommit=True)
    assert c.autocommit
    assert c.isolation_level is None
    c.execute("CREATE TABLE t (a)")
    c.execute("INSERT INTO t VALUES (1)")
    assert not c.in_transaction
    c.rollback()  # nothing to undo
    assert c.execute("SELECT a FROM t").fetchall() == [(1,)]
    c.autocommit = False
    c.execute("INSERT INTO t VALUES (2)")
    assert c.in_transaction
    c.autocommit = True  # commits the open transaction
    assert not c.in_transaction
    c.close()
    c = dbapi.connect(path, isolation_level=None)
    assert c.autocommit
    assert c.execute("SELECT a FROM t ORDER BY a").fetchall() == [(1,), (2,)]
    c.close()


def test_context_manager(conn):
    with conn as c:
        assert c is conn
        c.execute("INSERT INTO t (name) VALUES ('a')")
    assert not conn.in_transaction
    with pytest.raises(RuntimeError):
        with conn:
            conn.execute("INSERT INTO t (name) VALUES ('b')")
            raise RuntimeError("boom")
    assert not conn.in_transaction
    assert names(conn) == ["a"]
    conn.execute("SELECT 1")  # still open


def test_savepoints(conn):
    conn.execute("INSERT INTO t (name) VALUES ('a')")
    conn.execute("SAVEPOINT sp")
    conn.execute("INSERT INTO t (name) VALUES ('b')")
    conn.execute("ROLLBACK TO sp")
    conn.execute("INSERT INTO t (name) VALUES ('c')")
    conn.execute("RELEASE sp")
    assert conn.in_transaction
    conn.commit()
    assert names(conn) == ["a", "c"]


def test_explicit_begin(conn):
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t (name) VALUES ('a')")
    conn.execute("COMMIT")
    assert not conn.in_transaction
    assert names(conn) == ["a"]


# ------------------------------------------------------------------ binding


def test_binding_of_python_types(conn):
    cur = conn.execute(
        "SELECT ?, ?, ?, ?, ?, ?, ?",
        (
            datetime.date(2024, 2, 29),
            datetime.datetime(2024, 2, 29, 13, 5, 9, 123),
            datetime.time(7, 8, 9, 10),
            decimal.Decimal("12345678901234567890.123456789"),
            True,
            False,
            bytearray(b"\x00\x01"),
        ),
    )
    assert cur.fetchone() == (
        "2024-02-29",
        "2024-02-29 13:05:09.000123",
        "07:08:09.000010",
        "12345678901234567890.123456789",
        1,
        0,
        b"\x00\x01",
    )
    conn.execute("CREATE TABLE num (x NUMERIC)")
    conn.execute("INSERT INTO num VALUES (?)", (decimal.Decimal("1.5"),))
    assert conn.execute("SELECT x, typeof(x) FROM num").fetchone() == (1.5, "real")
    conn.executemany("INSERT INTO t (name, n) VALUES (?, ?)", [(datetime.date(2020, 1, 1), True)])
    assert conn.execute("SELECT name, n FROM t").fetchall() == [("2020-01-01", 1)]


def test_named_parameters(conn):
    assert conn.execute("SELECT :a + :b", {"a": 1, "b": 2}).fetchone() == (3,)


# ------------------------------------------------------------------ threads


def test_other_thread_is_refused(conn):
    cur = conn.cursor()
    caught = []

    def use():
        for call in (lambda: conn.execute("SELECT 1"), lambda: cur.execute("SELECT 1")):
            try:
                call()
            except dbapi.ProgrammingError as exc:
                caught.append(exc)

    t = threading.Thread(target=use)
    t.start()
    t.join()
    assert len(caught) == 2
    assert "same thread" in str(caught[0])


def test_shared_connection_with_lock():
    c = dbapi.connect(check_same_thread=False)
    c.execute("CREATE TABLE t (a INTEGER, who TEXT)")
    c.commit()
    errors = []

    def hammer(who):
        try:
            for i in range(200):
                c.execute("INSERT INTO t VALUES (?, ?)", (i, who))
                cur = c.execute("SELECT count(*) FROM t WHERE who = ?", (who,))
                assert cur.fetchone()[0] == i + 1
                if i % 20 == 0:
                    c.commit()
            c.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(w,)) for w in ("x", "y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert c.execute("SELECT count(*) FROM t").fetchone() == (400,)
    c.close()


# ------------------------------------------------------------------ SQL/MED


def test_sqlmed_ddl_through_dbapi(conn):
    cur = conn.cursor()
    cur.execute("CREATE FOREIGN DATA WRAPPER dummy; CREATE SERVER s FOREIGN DATA WRAPPER dummy")
    assert cur.description is None
    assert cur.rowcount == -1
    assert cur.fetchall() == []
    assert not conn.in_transaction  # DDL begins no transaction, as in sqlite3
    conn.commit()
    with pytest.raises(dbapi.ProgrammingError) as info:
        cur.execute("CREATE SERVER s FOREIGN DATA WRAPPER dummy")
    orig = info.value.orig
    assert isinstance(orig, vtables.DuplicateObjectError)
    assert info.value.__cause__ is orig
    assert str(info.value) == str(orig) == 'server "s" already exists'
    assert info.value.sqlstate == "42710"
    conn.rollback()
    with pytest.raises(dbapi.ProgrammingError, match="does not exist"):
        cur.execute("DROP SERVER nope")
    conn.rollback()
    conn.execute("INSERT INTO t (name) VALUES ('x')")  # begins a transaction
    conn.execute("DROP SERVER s")  # inside it
    conn.rollback()  # undoes the drop
    assert conn.execute("SELECT count(*) FROM sqlmed_foreign_servers").fetchone() == (1,)
    conn.execute("CREATE SERVER IF NOT EXISTS s FOREIGN DATA WRAPPER dummy")
    conn.commit()


def test_the_cursor_of_a_script_begins_a_transaction_before_later_dml():
    # as sqlite3 does: only the script itself runs without an implicit BEGIN
    c = dbapi.connect(":memory:")
    c.execute("CREATE TABLE t(a)")
    c.commit()
    cur = c.executescript("SELECT 1;")
    cur.execute("INSERT INTO t VALUES (?)", (4,))
    assert c.in_transaction
    c.rollback()
    assert c.execute("SELECT count(*) FROM t").fetchone() == (0,)
    c.close()
