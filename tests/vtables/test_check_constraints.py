"""CHECK constraints on foreign tables, as PostgreSQL has them: accepted, named,
stored, dumped and shown, but declared only: never enforced locally."""

from __future__ import annotations

import sqlite3

import apsw
import pytest

import vtables
from tests.conftest import snapshot
from vtables import (
    DuplicateObjectError,
    FeatureNotSupportedError,
    SQLMedError,
    SQLMedSyntaxError,
    UndefinedObjectError,
    catalog,
    grammar,
)
from vtables.dump import dump

SETUP = """
CREATE EXTENSION memory_fdw;
CREATE SERVER s FOREIGN DATA WRAPPER memory_fdw;
"""


@pytest.fixture
def setup(conn):
    conn.execute(SETUP)
    return conn


def checks(conn, table: str) -> list[tuple[str, str, bool]]:
    return [(c.name, c.check_sql, c.validated) for c in catalog.get_table(conn, table).constraints]


def fails(conn, sql, error, message):
    before = snapshot(conn)
    with pytest.raises(error) as info:
        conn.execute(sql)
    assert info.value.message == message
    assert snapshot(conn) == before
    return info.value


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE FOREIGN TABLE t (a int CHECK (a > 0) NOT NULL,"
        " b text CONSTRAINT bb CHECK (b <> ''),"
        " CONSTRAINT x CHECK (a < 10 OR b = 'y') NOT VALID, CHECK (a IS NOT NULL)) SERVER s",
        "ALTER FOREIGN TABLE t ADD CONSTRAINT c1 CHECK (a BETWEEN 1 AND 9) NOT VALID,"
        " DROP CONSTRAINT IF EXISTS c2 CASCADE, VALIDATE CONSTRAINT c3",
        "ALTER FOREIGN TABLE t ADD CHECK (a IN (1, 2)),"
        " ADD COLUMN z int CONSTRAINT zc CHECK (z > 1)",
        'CREATE FOREIGN TABLE t ("check" int, "constraint" int) SERVER s',
    ],
)
def test_grammar_round_trip(sql):
    tree = grammar.parse_one(sql)
    printed = grammar.to_sql(tree)
    assert grammar.parse_one(printed) == tree
    assert grammar.to_sql(grammar.parse_one(printed)) == printed


def test_grammar_keeps_constraint_parts():
    tree = grammar.parse_one(
        "CREATE FOREIGN TABLE t (a int CONSTRAINT pos CHECK (a > 0), CHECK (a < 9) NOT VALID)"
        " SERVER s"
    )
    (column,) = tree.args["columns"]
    (col_check,) = column.args["constraints"]
    assert col_check.this.this == "pos"
    (table_check,) = tree.args["constraints"]
    assert table_check.this is None and table_check.args["not_valid"]
    assert grammar.to_sql(table_check.args["expression"]) == "a < 9"


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE FOREIGN TABLE t (a int CHECK a > 0) SERVER s",
        # NOT VALID belongs to table constraints only, as in PostgreSQL's grammar
        "CREATE FOREIGN TABLE t (a int CHECK (a > 0) NOT VALID) SERVER s",
        "CREATE FOREIGN TABLE t (a int, CONSTRAINT x) SERVER s",
        "ALTER FOREIGN TABLE t VALIDATE x",
    ],
)
def test_grammar_refuses(sql):
    with pytest.raises(SQLMedSyntaxError):
        grammar.parse_one(sql)


def test_names_as_postgresql_chooses_them(setup):
    setup.execute(
        "CREATE FOREIGN TABLE t (a int CHECK (a > 0), b text CHECK (b <> ''),"
        " CHECK (a > 1), CHECK (a < 100 AND b <> 'x'), CONSTRAINT Named CHECK (a <> 5))"
        " SERVER s OPTIONS (dataset 'people')"
    )
    assert checks(setup, "t") == [
        ("t_a_check", "a > 0", True),
        ("t_b_check", "b <> ''", True),
        ("t_a_check1", "a > 1", True),  # numbered on collision
        ("t_check", "a < 100 AND b <> 'x'", True),  # more than one column: <table>_check
        ("named", "a <> 5", True),  # an unquoted name folds to lower case
    ]
    setup.execute("ALTER FOREIGN TABLE t ADD CHECK (a > 2), ADD CHECK (b > 'a' OR a > 0)")
    assert [n for n, _, _ in checks(setup, "t")][-2:] == ["t_a_check2", "t_check1"]


def test_generated_name_shortened_to_namedatalen(setup):
    long = "x" * 70
    setup.execute(
        f"CREATE FOREIGN TABLE {long[:60]} (c int CHECK (c > 0)) SERVER s"
        " OPTIONS (dataset 'people')"
    )
    (name, _, _) = checks(setup, long[:60])[0]
    assert name == "x" * 55 + "_c_check"  # 63 bytes: the table name gives way


def test_not_valid_and_validate(setup):
    setup.execute(
        "CREATE FOREIGN TABLE t (a int, CONSTRAINT nv CHECK (a > 0) NOT VALID) SERVER s"
        " OPTIONS (dataset 'people')"
    )
    assert checks(setup, "t") == [("nv", "a > 0", False)]
    setup.execute("ALTER FOREIGN TABLE t ADD CONSTRAINT nv2 CHECK (a < 9) NOT VALID")
    setup.execute("ALTER FOREIGN TABLE t VALIDATE CONSTRAINT nv")
    assert checks(setup, "t") == [("nv", "a > 0", True), ("nv2", "a < 9", False)]


def test_errors_and_notices(setup):
    setup.execute(
        "CREATE FOREIGN TABLE t (a int CONSTRAINT x CHECK (a > 0)) SERVER s"
        " OPTIONS (dataset 'people')"
    )
    err = fails(
        setup,
        "ALTER FOREIGN TABLE t ADD CONSTRAINT x CHECK (a > 1)",
        DuplicateObjectError,
        'constraint "x" for relation "t" already exists',
    )
    assert err.sqlstate == "42710"
    fails(
        setup,
        "CREATE FOREIGN TABLE u (a int CONSTRAINT y CHECK (a > 0), CONSTRAINT y CHECK (a < 9))"
        " SERVER s OPTIONS (dataset 'people')",
        DuplicateObjectError,
        'check constraint "y" already exists',
    )
    err = fails(
        setup,
        "ALTER FOREIGN TABLE t DROP CONSTRAINT nope",
        UndefinedObjectError,
        'constraint "nope" of relation "t" does not exist',
    )
    assert err.sqlstate == "42704"
    fails(
        setup,
        "ALTER FOREIGN TABLE t VALIDATE CONSTRAINT nope",
        UndefinedObjectError,
        'constraint "nope" of relation "t" does not exist',
    )
    err = fails(
        setup,
        "ALTER FOREIGN TABLE t ADD CHECK (zz > 1)",
        UndefinedObjectError,
        'column "zz" does not exist',
    )
    assert err.sqlstate == "42703"
    fails(
        setup,
        "ALTER FOREIGN TABLE t ADD CHECK (a > (SELECT 1))",
        FeatureNotSupportedError,
        "cannot use subquery in check constraint",
    )
    fails(
        setup,
        "ALTER FOREIGN TABLE t ADD CHECK (max(a) > 1)",
        SQLMedError,
        "aggregate functions are not allowed in check constraints",
    )
    del setup.notices[:]
    setup.execute("ALTER FOREIGN TABLE t DROP CONSTRAINT IF EXISTS nope")
    assert setup.notices == ['constraint "nope" of relation "t" does not exist, skipping']
    setup.execute("ALTER FOREIGN TABLE t DROP CONSTRAINT x")
    assert checks(setup, "t") == []


def test_columns_follow(setup):
    setup.execute(
        "CREATE FOREIGN TABLE t (a int CHECK (a > 0), b int, CHECK (a < b), CHECK (b > 0))"
        " SERVER s OPTIONS (dataset 'people')"
    )
    setup.execute('ALTER FOREIGN TABLE t RENAME a TO "Aa"')
    assert checks(setup, "t")[:2] == [
        ("t_a_check", '"Aa" > 0', True),
        ("t_check", '"Aa" < b', True),
    ]
    # as in PostgreSQL, DROP COLUMN takes the constraints that name the column along
    setup.execute('ALTER FOREIGN TABLE t DROP COLUMN "Aa"')
    assert checks(setup, "t") == [("t_b_check", "b > 0", True)]
    setup.execute("ALTER FOREIGN TABLE t RENAME TO t2")
    assert checks(setup, "t2") == [("t_b_check", "b > 0", True)]
    setup.execute("DROP FOREIGN TABLE t2")
    assert setup.execute("SELECT count(*) FROM sqlmed_fconstraint").fetchall() == [(0,)]


def test_dump_round_trip(setup, tmp_path):
    setup.execute(
        "CREATE FOREIGN TABLE t (a int CHECK (a > 0), b text, CONSTRAINT \"Odd\" CHECK (b <> 'x')"
        " NOT VALID, CHECK (a < 100 OR b IS NULL)) SERVER s OPTIONS (dataset 'people')"
    )
    script = dump(setup)
    assert (
        "CONSTRAINT t_a_check CHECK (a > 0), CONSTRAINT \"Odd\" CHECK (b <> 'x') NOT VALID, "
        "CONSTRAINT t_check CHECK (a < 100 OR b IS NULL)" in script
    )
    fresh = vtables.connect(str(tmp_path / "fresh.db"))
    try:
        fresh.execute(script)
        assert catalog.get_table(fresh, "t") == catalog.get_table(setup, "t")
        assert dump(fresh) == script
        assert catalog.check(fresh) == []
    finally:
        fresh.close()


def test_damaged_check_reported(setup):
    setup.execute("CREATE FOREIGN TABLE t (a int CHECK (a > 0)) SERVER s OPTIONS (dataset 'p')")
    setup.execute("UPDATE sqlmed_fconstraint SET check_sql = 'a > ) 0'")
    assert any("check_sql is not an expression" in p for p in catalog.check(setup))
    assert "CREATE FOREIGN TABLE t" not in dump(setup)


def test_file_made_before_check_constraints(db_path):
    conn = vtables.connect(db_path)
    conn.execute(SETUP + "CREATE FOREIGN TABLE t (a int) SERVER s OPTIONS (dataset 'people');")
    conn.execute("DROP TABLE sqlmed_fconstraint")
    conn.close()
    conn = vtables.connect(db_path)
    try:
        assert catalog.check(conn) == []
        assert catalog.get_table(conn, "t").constraints == []
        assert "CREATE FOREIGN TABLE t (a int) SERVER s" in dump(conn)
        conn.execute("ALTER FOREIGN TABLE t RENAME TO t1")  # the module renames the rows
        conn.execute("ALTER FOREIGN TABLE t1 ADD CHECK (a > 0)")  # the table is added
        assert checks(conn, "t1") == [("t1_a_check", "a > 0", True)]
    finally:
        conn.close()


def test_declared_not_enforced(conn, tmp_path):
    """As in PostgreSQL: the core never checks a foreign table's constraints, so a
    row that breaks one is written to the source and read back as it is."""
    remote = str(tmp_path / "remote.db")
    with sqlite3.connect(remote) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)")
    conn.execute(
        "CREATE EXTENSION sqlite_fdw;"
        f"CREATE SERVER r FOREIGN DATA WRAPPER sqlite_fdw OPTIONS (database '{remote}');"
        "CREATE FOREIGN TABLE t (id int OPTIONS (key 'true'), a int CHECK (a > 0), b text,"
        " CHECK (b <> 'bad'))"
        " SERVER r OPTIONS (table 't');"
    )
    conn.execute("INSERT INTO t VALUES (1, -5, 'bad')")
    assert conn.execute("SELECT a, b FROM t").fetchall() == [(-5, "bad")]
    conn.execute("UPDATE t SET a = -6")
    assert conn.execute("SELECT a FROM t WHERE a < 0").fetchall() == [(-6,)]
    source = apsw.Connection(remote)
    try:
        assert source.execute("SELECT a, b FROM t").fetchall() == [(-6, "bad")]
    finally:
        source.close()


def test_the_constraints_view(setup):
    setup.execute(
        "CREATE FOREIGN TABLE t (a int CHECK (a > 0), b text) SERVER s OPTIONS (dataset 'x');"
        " ALTER FOREIGN TABLE t ADD CONSTRAINT later CHECK (b <> '') NOT VALID"
    )
    rows = setup.execute(
        "SELECT table_name, constraint_name, check_clause, is_validated"
        " FROM sqlmed_foreign_table_constraints ORDER BY constraint_name"
    ).fetchall()
    assert rows == [("t", "later", "b <> ''", "NO"), ("t", "t_a_check", "a > 0", "YES")]
    setup.execute("ALTER FOREIGN TABLE t VALIDATE CONSTRAINT later")
    assert setup.execute(
        "SELECT is_validated FROM sqlmed_foreign_table_constraints WHERE constraint_name='later'"
    ).fetchone() == ("YES",)
