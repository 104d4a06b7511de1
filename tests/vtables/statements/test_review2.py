"""Regression tests from a second hostile review of the statement planner's
new pieces (split blocks, views, subqueries in pushed blocks): each failed
on the code before its fix (the docstrings say the root cause)."""

# ruff: noqa: F811  (the fixtures are imported to be used by name)
from __future__ import annotations

import pytest

from tests.vtables.statements.test_differential import (  # noqa: F401  # fixtures by name
    _outcome,
    check,
    conn,
    lite_remote,
    native,
    pg,
)
from tests.vtables.statements.test_planner import env, same  # noqa: F401  # fixtures by name
from tests.vtables.statements.test_split import local  # noqa: F401  # fixtures by name

# ---------------------------------------------------------------- EXISTS


def test_exists_over_an_aggregate_is_always_true(env):
    """EXISTS (SELECT max(..) ... WHERE nothing): an aggregate without GROUP BY
    is one row (of NULL), so EXISTS is true.  blocks.Block.nested replaces the
    select list of an EXISTS subquery by ``1`` (and Block._outputs skips the
    items when ``exists``), so the aggregate is gone: no row, false."""
    sql = (
        "SELECT count(*) FROM orders o WHERE EXISTS"
        " (SELECT max(c.id) FROM customers c WHERE c.id > 1000)"
    )
    assert env[1].execute(sql).fetchall() == [(60,)]
    same(env, sql)


def test_not_exists_over_a_correlated_count(env):
    sql = (
        "SELECT o.grp, count(*) FROM orders o WHERE NOT EXISTS"
        " (SELECT count(*) FROM customers c WHERE c.id = o.id + 1000) GROUP BY o.grp ORDER BY 1"
    )
    assert env[1].execute(sql).fetchall() == []
    same(env, sql)


# ------------------------------------------- subqueries reading the outer block


@pytest.mark.parametrize(
    "sql",
    [
        # the subquery's item is the enclosing block's column
        "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.id"
        " WHERE o.id IN (SELECT o.id FROM customers x WHERE x.id < 5)",
        # an aggregate of the enclosing block's column (min/max keep its column)
        "SELECT (SELECT max(o.amount) FROM customers x WHERE x.id = 1) FROM orders o",
    ],
)
def test_a_subquery_item_of_an_outer_column_crashes_the_planner(env, sql):
    """Block._output / _default_name look the item's column up in the
    subquery's own ``sources`` (blocks.py:531 and :545): KeyError, which
    Planner.planned does not catch (only NotPushable & co.), so the
    statement fails instead of running in SQLite."""
    same(env, sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT (SELECT count(a.n) FROM b WHERE b.id > 0) FROM a",
        "SELECT a.id, (SELECT count(a.n) FROM b WHERE b.id = 1) FROM a",
    ],
)
@pytest.mark.parametrize("conn", ["postgres"], indirect=True)  # SQLite's remote: SQLite's rules
def test_an_aggregate_of_outer_columns_belongs_to_the_outer_block(conn, native, sql):
    """count(a.n) inside a subquery over b reads only the outer block's
    columns: SQL (and PostgreSQL) make it an aggregate of the OUTER query,
    SQLite as well but with its own rules (bare columns, first row of a
    scalar subquery).  The translator takes it for the subquery's own
    aggregate (one_row) and sends it as written: PostgreSQL answers
    "more than one row returned by a subquery" / "must appear in the GROUP
    BY clause" where SQLite returns one row."""
    check(conn, native, sql, (), ordered=False)


@pytest.mark.parametrize("conn", ["postgres"], indirect=True)  # SQLite's remote: its first row
def test_an_aggregate_inside_a_nested_subquery_does_not_aggregate_the_case(conn, native):
    """CASE WHEN EXISTS (SELECT max(..) ...) THEN 1 ELSE 0 END is no aggregate:
    Expressions.case (expressions.py:213) asks node.find(exp.AggFunc), which
    descends into the EXISTS subquery.  The middle subquery (over b, many
    rows) is then taken for an aggregate of one row (Block.nested one_row)
    and sent as a scalar subquery: PostgreSQL raises "more than one row
    returned by a subquery" where SQLite takes the first row."""
    sql = (
        "SELECT a.id, (SELECT CASE WHEN EXISTS (SELECT max(x.id) FROM a x) THEN 1 ELSE 0 END"
        " FROM b) FROM a ORDER BY 1"
    )
    check(conn, native, sql, (), ordered=True)


# ---------------------------------------------------------------- split blocks


def test_split_order_by_an_alias_that_is_also_a_column_name(env):
    """ORDER BY kind names the result column "kind" (o.id): SQLite resolves an
    ORDER BY identifier against the select list's aliases first.
    partial._Columns.of resolves it as the column c.kind (found in one FROM
    item) and the swap rewrites it to the remote result's c.kind."""
    for sql in (
        "SELECT upper(c.kind), o.id AS kind FROM orders o JOIN customers c ON c.id = o.id"
        " ORDER BY kind",
        "SELECT upper(c.kind), o.id AS kind FROM orders o JOIN customers c ON c.id = o.id"
        " ORDER BY kind DESC LIMIT 5",
    ):
        planned = same(env, sql)
        assert planned is None or not planned.blocks  # the split would misread "kind"


@pytest.mark.parametrize("conn", ["postgres"], indirect=True)  # SQLite's remote: not split
def test_split_inside_a_cte_that_shadows_a_local_table(local, native):
    """The CTE l (k, tag) shadows the local table l (k, label): ``tag`` is
    ambiguous (l.tag or b.tag) and SQLite refuses the statement.  The split
    reads l's columns from main.pragma_table_xinfo (the table, not the CTE)
    and resolves ``tag`` to b.tag; the EXPLAIN guard prepares the block
    alone, outside its WITH, where l is the table: the statement runs."""
    sql = (
        "WITH l AS (SELECT k, 'x' AS tag FROM main.l) SELECT * FROM (SELECT tag, a.id"
        " FROM l JOIN a ON a.id = l.k JOIN b ON b.k = a.k WHERE b.m >= 0) ORDER BY 2"
    )
    assert _outcome(native, sql, ())[0] == "error"
    assert _outcome(local, sql, ()) == _outcome(native, sql, ())


# ---------------------------------------------------------------- views


def test_delete_from_a_view_with_an_instead_of_trigger(env):
    """DELETE FROM v (a view over foreign tables with an INSTEAD OF trigger):
    hold.references takes the word after FROM for a FROM item, and
    Planner._read_views replaces the target by a subquery: DELETE FROM
    (SELECT ...) AS per_group, a syntax error."""
    conn, native = env
    for db in (conn, native):
        db.execute("""
            CREATE VIEW per_group AS SELECT grp, count(*) AS n FROM orders GROUP BY grp;
            CREATE TABLE log(grp text);
            CREATE TRIGGER per_group_del INSTEAD OF DELETE ON per_group
            BEGIN INSERT INTO log VALUES (old.grp); END;
        """)
        db.execute("DELETE FROM per_group WHERE grp = 'g1'")
    query = "SELECT * FROM log ORDER BY grp"
    assert conn.execute(query).fetchall() == native.execute(query).fetchall()
