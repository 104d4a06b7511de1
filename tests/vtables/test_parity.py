"""Issue 13: PostgreSQL parity for definitions, options and imports."""

from __future__ import annotations

import apsw
import pytest

import vtables
from vtables import DuplicateObjectError, UndefinedObjectError, catalog


def test_an_options_list_is_applied_in_order(conn):
    # item 8: PostgreSQL's transformGenericOptions applies each item in turn
    conn.execute(
        "CREATE EXTENSION memory_fdw;"
        " CREATE SERVER s FOREIGN DATA WRAPPER memory_fdw OPTIONS (host 'h')"
    )
    conn.execute("ALTER SERVER s OPTIONS (ADD port '1', DROP port)")
    assert catalog.get_server(conn, "s").options == {"host": "h"}
    conn.execute("ALTER SERVER s OPTIONS (DROP host, ADD host 'k', SET host 'm')")
    assert catalog.get_server(conn, "s").options == {"host": "m"}
    with pytest.raises(DuplicateObjectError, match='option "host" provided more than once'):
        conn.execute("ALTER SERVER s OPTIONS (ADD port '2', ADD host 'x')")
    with pytest.raises(UndefinedObjectError, match='option "port" not found'):
        conn.execute("ALTER SERVER s OPTIONS (ADD port '2', DROP port, SET port '3')")
    assert catalog.get_server(conn, "s").options == {"host": "m"}
    with pytest.raises(DuplicateObjectError, match='option "host" provided more than once'):
        conn.execute("CREATE SERVER t FOREIGN DATA WRAPPER memory_fdw OPTIONS (host 'a', host 'b')")


@pytest.fixture
def remote(tmp_path):
    path = str(tmp_path / "remote.db")
    db = apsw.Connection(path)
    db.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT)")
    db.close()
    c = vtables.connect(str(tmp_path / "local.db"))
    c.execute(
        f"CREATE EXTENSION sqlite_fdw;"
        f" CREATE SERVER arch FOREIGN DATA WRAPPER sqlite_fdw OPTIONS (database '{path}')"
    )
    return c


def test_sqlite_fdw_import_refuses_an_unknown_schema(remote):
    # item 10: the named schema was ignored and main's tables imported
    with pytest.raises(UndefinedObjectError, match='schema "nope" is not present'):
        remote.execute("IMPORT FOREIGN SCHEMA nope FROM SERVER arch INTO main")
    assert catalog.list_tables(remote) == []
    remote.execute("IMPORT FOREIGN SCHEMA public FROM SERVER arch INTO main")
    assert [t.name for t in catalog.list_tables(remote)] == ["items"]
