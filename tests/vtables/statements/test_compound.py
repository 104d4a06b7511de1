"""Compound SELECTs and views over foreign tables: each member, and a view's
body, sent to its server when it can be, with SQLite's answer."""

from __future__ import annotations

import pytest

from .test_planner import env, same  # noqa: F401  # the fixture is used by name

#: (statement, how many of its members are sent: one table's plain scan stays a scan)
COMPOUNDS = [
    (
        "SELECT grp, count(*) FROM orders GROUP BY grp UNION ALL SELECT kind, count(*)"
        " FROM customers GROUP BY kind ORDER BY 2, 1",
        2,
    ),
    (
        "SELECT o.id FROM orders o JOIN customers c ON c.id = o.id WHERE c.kind = 'plain'"
        " UNION SELECT id FROM customers WHERE id > 30 ORDER BY 1 LIMIT 10",
        1,
    ),
    (
        "SELECT o.id FROM orders o JOIN customers c ON c.id = o.id"
        " EXCEPT SELECT count(*) FROM orders",
        2,
    ),
    ("SELECT max(amount) FROM orders INTERSECT SELECT amount FROM orders", 1),
    (
        "SELECT count(*) AS n FROM orders UNION ALL VALUES (7)"
        " UNION ALL SELECT count(*) FROM customers",
        2,
    ),
]


@pytest.mark.parametrize("sql, sent", COMPOUNDS)
def test_each_member_of_a_compound_is_sent_alone(env, sql, sent):  # noqa: F811
    planned = same(env, sql)
    assert planned is not None
    assert len(planned.blocks) == sent, planned.blocks
    assert all("UNION" not in b.remote_sql and "EXCEPT" not in b.remote_sql for b in planned.blocks)


def test_members_of_a_compound_in_a_subquery_and_an_insert(env):  # noqa: F811
    conn, native = env
    sql = (
        "SELECT count(*), sum(n) FROM (SELECT count(*) AS n FROM orders"
        " UNION ALL SELECT max(id) FROM customers)"
    )
    planned = same(env, sql)
    assert planned is not None and len(planned.blocks) == 2
    for db in (conn, native):
        db.execute("CREATE TABLE counts (n)")
        db.execute(
            "INSERT INTO counts SELECT count(*) FROM orders UNION ALL"
            " SELECT count(*) FROM customers WHERE kind = 'plain'"
        )
    assert (
        conn.execute("SELECT n FROM counts").fetchall()
        == native.execute("SELECT n FROM counts").fetchall()
    )
    insert = "INSERT INTO counts SELECT count(*) FROM orders UNION SELECT 1 FROM customers"
    assert len(conn._planner.planned(insert).blocks) == 1


def test_compound_result_names_come_from_its_first_member(env):  # noqa: F811
    conn, _native = env
    cursor = conn.execute(
        "SELECT grp AS g, count(*) FROM orders GROUP BY grp UNION ALL SELECT 'x', 1"
    )
    assert [d[0] for d in cursor.getdescription()] == ["g", "count(*)"]


VIEWS = """
    CREATE VIEW per_group AS SELECT grp, count(*) AS n, max(amount) AS top FROM orders GROUP BY grp;
    CREATE VIEW joined AS
        SELECT o.id, o.amount, c.kind FROM orders o JOIN customers c ON c.id = o.id;
    CREATE VIEW plain AS SELECT id, name FROM orders;
"""


def _views(pair):
    conn, native = pair
    conn.execute(VIEWS)
    native.execute(VIEWS)


def test_a_view_one_server_answers_is_one_remote_query(env):  # noqa: F811
    _views(env)
    planned = same(env, "SELECT * FROM per_group ORDER BY grp")
    assert planned is not None and len(planned.blocks) == 1
    assert "GROUP BY" in planned.blocks[0].remote_sql
    # filtered, and joined to itself under aliases: still its remote query, once per name
    sql = (
        "SELECT p.grp, p.n, q.top FROM per_group AS p JOIN main.per_group q ON q.grp = p.grp"
        " WHERE p.n > 3 ORDER BY 1"
    )
    planned = same(env, sql)
    assert planned is not None and len(planned.blocks) == 1
    # read whole: a join view is one remote query
    planned = same(env, "SELECT kind, count(*) FROM joined GROUP BY kind ORDER BY kind")
    assert planned is not None and "JOIN" in planned.blocks[0].remote_sql
    # a view the statement joins to it (its scans may be probed by key) stays SQLite's
    # when the server cannot say it is small; one table's scan is never replaced
    for sql in ("SELECT * FROM plain WHERE id = 3", "SELECT * FROM plain ORDER BY name, id"):
        planned = same(env, sql)
        assert planned is None or not planned.blocks


def test_a_view_made_after_a_plan_is_read_remotely(env):  # noqa: F811
    conn, native = env
    sql = "SELECT n FROM per_group WHERE grp = 'g1'"
    conn.execute("CREATE TABLE per_group (grp, n)")  # a local table of that name first
    native.execute("CREATE TABLE per_group (grp, n)")
    assert same(env, sql) is None
    for db in (conn, native):
        db.execute("DROP TABLE per_group")
    _views(env)
    planned = same(env, sql)
    assert planned is not None and len(planned.blocks) == 1


def test_a_view_whose_body_is_not_on_the_list_stays_a_view(env):  # noqa: F811
    conn, native = env
    for db in (conn, native):
        db.execute(
            "CREATE VIEW odd AS SELECT grp, group_concat(name) AS names FROM orders"
            " WHERE abs(amount) > random() % 1 GROUP BY grp"
        )
    planned = same(env, "SELECT grp, length(names) FROM odd ORDER BY grp")
    assert planned is None or not planned.blocks


def test_a_view_stored_in_the_file_cannot_reach_sqlmed_query(env):  # noqa: F811
    conn, _native = env
    conn.execute(
        "CREATE VIEW sneaky AS SELECT o.id FROM orders o JOIN customers c ON c.id = o.id"
        " WHERE o.id IN (SELECT id FROM sqlmed_query('s', 'SELECT 1 AS id'))"
    )
    before = conn._planner.planned("SELECT * FROM sneaky")
    assert before is None or not before.blocks
    with pytest.raises(Exception, match="sqlmed_query"):
        conn.execute("SELECT * FROM sneaky").fetchall()
