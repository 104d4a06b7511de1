"""The statement planner over sqlite_fdw: what is pushed, what stays in SQLite,
and that both give SQLite's answer (the same SQL over native copies)."""

from __future__ import annotations

import apsw
import pytest

import vtables

ORDERS = [
    (i, None if i % 7 == 0 else f"g{i % 3}", None if i % 11 == 0 else i * 10, f"Name{i % 5}")
    for i in range(1, 61)
]
CUSTOMERS = [(i, f"c{i}", "Ünïcode" if i % 4 == 0 else "plain") for i in range(1, 41)]


def sqlite_pair(tmp_path, fill) -> tuple[vtables.Connection, apsw.Connection]:
    """A remote SQLite file and a native in-memory database, both filled by
    ``fill(db)``; the local connection imports the remote's tables."""
    remote = apsw.Connection(str(tmp_path / "remote.db"))
    fill(remote)
    remote.close()
    conn = vtables.connect(str(tmp_path / "local.db"))
    conn.execute("""
        CREATE EXTENSION sqlite_fdw;
        CREATE SERVER s FOREIGN DATA WRAPPER sqlite_fdw OPTIONS (database 'remote.db');
        IMPORT FOREIGN SCHEMA main FROM SERVER s INTO main;
    """)
    native = apsw.Connection(":memory:")
    fill(native)
    return conn, native


def _fill(db: apsw.Connection) -> None:
    db.execute("""
        CREATE TABLE orders (id integer PRIMARY KEY, grp text, amount integer, name text);
        CREATE TABLE customers (id integer PRIMARY KEY, name text, kind text);
    """)
    db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", ORDERS)
    db.executemany("INSERT INTO customers VALUES (?, ?, ?)", CUSTOMERS)


@pytest.fixture
def env(tmp_path):
    conn, native = sqlite_pair(tmp_path, _fill)
    yield conn, native
    conn.close()


def same(env, sql, params=None):
    """The rows of ``sql`` with pushdown, without it, and over native tables:
    all three equal; returns the plan."""
    conn, native = env
    planned = conn._planner.planned(sql)
    pushed = conn.execute(sql, params).fetchall()
    conn.statement_pushdown = False
    try:
        local = conn.execute(sql, params).fetchall()
    finally:
        conn.statement_pushdown = True
    expected = native.execute(sql, params).fetchall()
    assert pushed == local == expected
    return planned


def test_count_is_one_remote_query(env):
    planned = same(env, "SELECT count(*) FROM orders")
    assert planned is not None and len(planned.blocks) == 1
    assert planned.blocks[0].remote_sql == 'SELECT COUNT(*) FROM "orders" AS "t0"'


def test_group_by_with_null_groups_and_every_aggregate(env):
    sql = (
        "SELECT grp, count(*), count(amount), count(DISTINCT name), sum(amount), avg(amount),"
        " min(amount), max(name) FROM orders GROUP BY grp ORDER BY grp"
    )
    planned = same(env, sql)
    assert planned is not None and "GROUP BY" in planned.blocks[0].remote_sql


def test_join_of_two_tables_of_one_server(env):
    sql = (
        "SELECT o.id, c.name, c.kind FROM orders o JOIN customers c ON c.id = o.id"
        " WHERE o.amount > ? ORDER BY o.id DESC LIMIT 5"
    )
    planned = same(env, sql, (100,))
    assert planned is not None
    assert "JOIN" in planned.blocks[0].remote_sql and "LIMIT" in planned.blocks[0].remote_sql


def test_left_join_and_having(env):
    sql = (
        "SELECT c.kind, count(o.id) AS n FROM customers c LEFT JOIN orders o"
        " ON o.name = upper(c.name) GROUP BY c.kind"
    )
    # upper() is not on the allow-list (it folds ASCII only): the block stays in SQLite
    assert same(env, sql) is None
    sql = (
        "SELECT c.kind, count(o.id) AS n FROM customers c LEFT JOIN orders o ON o.id = c.id"
        " GROUP BY c.kind HAVING count(o.id) > ? ORDER BY n DESC, c.kind"
    )
    planned = same(env, sql, (3,))
    assert planned is not None and "LEFT JOIN" in planned.blocks[0].remote_sql


def test_names_and_types_are_sqlites(env):
    conn, native = env
    sql = "SELECT grp AS g, count( * ), max(amount) FROM orders GROUP BY grp"
    assert conn._planner.planned(sql) is not None
    got = conn.execute(sql).get_description()
    assert got == native.execute(sql).get_description()


def test_parameters_of_an_unexpected_type_run_in_sqlite(env):
    conn, _ = env
    sql = "SELECT count(*) FROM orders WHERE amount > ?"
    planned = same(env, sql, ("100",))  # text against an integer column: affinity
    module = planned.blocks[0].module
    assert module.fallbacks == 1 and module.runs == 0
    same(env, sql, (100,))
    assert module.runs == 1
    same(env, sql, (100.5,))
    assert module.fallbacks == 2


def test_named_and_numbered_parameters(env):
    same(env, "SELECT count(*) FROM orders WHERE grp = :g AND amount < :a", {"g": "g1", "a": 300})
    same(env, "SELECT count(*) FROM orders WHERE amount > ?2 AND amount < ?1", (400, 100))
    same(
        env,
        "SELECT (SELECT count(*) FROM orders WHERE amount > ?), ?, (SELECT max(id) FROM orders)",
        (50, 7),
    )


def test_nested_blocks_are_pushed_and_the_rest_stays_local(env):
    conn, _ = env
    conn.execute("CREATE TABLE local_tags(id integer, tag text)")
    conn.executemany("INSERT INTO local_tags VALUES (?, ?)", [(i, f"t{i}") for i in range(5)])
    env[1].execute("CREATE TABLE local_tags(id integer, tag text)")
    env[1].executemany("INSERT INTO local_tags VALUES (?, ?)", [(i, f"t{i}") for i in range(5)])
    sql = (
        "SELECT t.tag, x.n FROM local_tags t JOIN"
        " (SELECT grp, count(*) AS n FROM orders GROUP BY grp) x ON x.n > t.id ORDER BY 1, 2"
    )
    planned = same(env, sql)
    assert planned is not None and "local_tags" in planned.text
    sql = "WITH g AS (SELECT grp, sum(amount) AS total FROM orders GROUP BY grp) SELECT * FROM g"
    planned = same(env, sql)
    assert planned is not None and len(planned.blocks) == 1


def test_what_is_not_on_the_allow_list_stays_local(env):
    conn, _ = env
    for sql in (
        "SELECT group_concat(name) FROM orders",
        "SELECT upper(name), count(*) FROM orders GROUP BY name",
        "SELECT grp, amount FROM orders GROUP BY grp",  # a bare column
        "SELECT count(*) FROM orders WHERE amount = '10'",  # affinity
        "SELECT sum(amount + 0.5) FROM orders WHERE name LIKE ?",  # a real in a sum
    ):
        assert conn._planner.planned(sql) is None, sql
        same(env, sql, ("name%",) if "?" in sql else None)
    for sql in (  # on the list since expressions were added
        "SELECT grp, total(amount) FROM orders GROUP BY grp",
        "SELECT count(*) FROM orders WHERE name LIKE 'name%'",
        "SELECT sum(amount + 1) FROM orders",
    ):
        assert conn._planner.planned(sql) is not None, sql
        same(env, sql)


def test_switches(env):
    conn, _ = env
    sql = "SELECT count(*) FROM orders"
    conn.statement_pushdown = False
    assert conn._planner.planned(sql) is None
    conn.statement_pushdown = True
    assert conn._planner.planned(sql) is not None
    conn.execute("ALTER SERVER s OPTIONS (ADD statement_pushdown 'false')")
    assert conn._planner.planned(sql) is None
    same(env, sql)
    conn.execute("ALTER SERVER s OPTIONS (DROP statement_pushdown)")
    assert conn._planner.planned(sql) is not None


def test_a_temp_table_of_the_same_name_is_never_pushed(env):
    conn, _ = env
    conn.execute("CREATE TEMP TABLE orders(id integer)")
    conn.execute("INSERT INTO temp.orders VALUES (1)")
    assert conn.execute("SELECT count(*) FROM orders").fetchall() == [(1,)]


def test_the_query_table_cannot_be_called_from_a_view(env):
    conn, _ = env
    planned = conn._planner.planned("SELECT count(*) FROM orders")
    name = planned.text.split("FROM ")[1].split("(")[0].strip('"')
    conn.execute(f'CREATE VIEW v AS SELECT * FROM "{name}"()')
    with pytest.raises(apsw.SQLError, match="unsafe use"):
        conn.execute("SELECT * FROM v").fetchall()


def test_statements_that_write_keep_their_text(env):
    conn, native = env
    conn.execute("CREATE TABLE totals(grp text, n integer)")
    sql = "INSERT INTO totals SELECT grp, count(*) FROM orders GROUP BY grp"
    planned = conn._planner.planned(sql)
    assert planned is not None and planned.text.startswith("INSERT INTO totals SELECT")
    conn.execute(sql)
    native.execute("CREATE TABLE totals(grp text, n integer)")
    native.execute(sql)
    query = "SELECT * FROM totals ORDER BY grp"
    assert conn.execute(query).fetchall() == native.execute(query).fetchall()
    conn.execute("CREATE TABLE copied AS SELECT grp, max(amount) AS top FROM orders GROUP BY grp")
    native.execute("CREATE TABLE copied AS SELECT grp, max(amount) AS top FROM orders GROUP BY grp")
    info = "SELECT name, type FROM pragma_table_info('copied')"
    assert conn.execute(info).fetchall() == native.execute(info).fetchall()


def test_a_plan_follows_the_catalog(env):
    conn, _ = env
    sql = "SELECT count(*) FROM orders"
    assert conn.execute(sql).fetchall() == [(60,)]
    conn.execute("DROP FOREIGN TABLE orders")
    conn.execute("CREATE TABLE orders(id integer)")
    assert conn.execute(sql).fetchall() == [(0,)]


def test_explain_shows_the_remote_query_and_what_stayed_local(env):
    conn, _ = env
    text = conn.explain("SELECT grp, count(*) FROM orders GROUP BY grp")
    assert text.startswith('Remote Query on server "s"')
    assert 'Remote SQL: SELECT "t0"."grp", COUNT(*) FROM "orders" AS "t0" GROUP BY' in text
    assert "Foreign Scan" not in text
    conn.statement_pushdown = False
    assert "Foreign Scan on orders" in conn.explain("SELECT grp, count(*) FROM orders GROUP BY grp")


def test_a_view_or_trigger_keeps_the_text_it_was_given(env):
    conn, _ = env
    conn.execute("CREATE VIEW per_group AS SELECT grp, count(*) AS n FROM orders GROUP BY grp")
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'per_group'").fetchone()
    assert "sqlmed_q" not in sql and "FROM orders GROUP BY grp" in sql
    conn.execute("CREATE TABLE log(n integer)")
    conn.execute(
        "CREATE TRIGGER t AFTER INSERT ON log BEGIN"
        " INSERT INTO log SELECT count(*) FROM (SELECT count(*) FROM orders) WHERE 0; END"
    )
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 't'").fetchone()
    assert "sqlmed_q" not in sql
    assert sorted(conn.execute("SELECT * FROM per_group").fetchall(), key=repr) == sorted(
        env[1].execute("SELECT grp, count(*) FROM orders GROUP BY grp").fetchall(), key=repr
    )


def test_writes_with_subqueries_over_foreign_tables(env):
    conn, native = env
    for db in (conn, native):
        db.execute("CREATE TABLE keep(id integer)")
        db.executemany("INSERT INTO keep VALUES (?)", [(i,) for i in range(0, 70, 3)])
    sql = "DELETE FROM keep WHERE id IN (SELECT max(id) FROM orders GROUP BY grp)"
    planned = conn._planner.planned(sql)
    assert planned is not None and planned.text.startswith("DELETE FROM keep WHERE id IN (SELECT")
    conn.execute(sql)
    native.execute(sql)
    query = "SELECT id FROM keep ORDER BY id"
    assert conn.execute(query).fetchall() == native.execute(query).fetchall()


def test_a_pushed_block_on_the_inner_side_of_a_join_runs_once(env):
    conn, native = env
    for db in (conn, native):
        db.execute("CREATE TABLE ids(id integer)")
        db.executemany("INSERT INTO ids VALUES (?)", [(i,) for i in range(40)])
    sql = (
        "SELECT ids.id, x.n FROM ids JOIN (SELECT grp, count(*) AS n FROM orders GROUP BY grp) x"
        " ON x.n > ids.id ORDER BY 1, 2"
    )
    planned = same(env, sql)
    # SQLite filters the query table once per row of ids: the remote query
    # ran once for the statement, its rows kept for the other Filters
    assert planned.blocks[0].module.runs == 1


def test_another_connections_new_foreign_table_is_planned(env, tmp_path):
    conn, _ = env
    other = vtables.connect(str(tmp_path / "local.db"))
    sql = "SELECT count(*) FROM customers2"
    with pytest.raises(apsw.SQLError, match="no such table"):
        conn.execute(sql).fetchall()  # the text is now one this connection knows as plain
    other.execute(
        "CREATE FOREIGN TABLE customers2 (id integer, name text, kind text)"
        " SERVER s OPTIONS (table 'customers')"
    )
    other.close()
    assert conn.execute(sql).fetchall() == [(len(CUSTOMERS),)]  # SQLite meets the table
    assert conn.execute(sql).fetchall() == [(len(CUSTOMERS),)]
    assert conn._planner._cache.get((sql, True)) is not None  # looked at again, and pushed
