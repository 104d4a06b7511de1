"""Subqueries inside a pushed block: scalar aggregates, IN and EXISTS over
the same server's tables, correlated or not, sent in the block's one remote
query; the others keep the block in SQLite (its own subquery may still be
sent alone)."""

from __future__ import annotations

import pytest

from .test_planner import env, same  # noqa: F401  # the fixture is used by name

PUSHED = [
    "SELECT o.id, (SELECT max(c.id) FROM customers c WHERE c.kind = 'plain') FROM orders o"
    " WHERE o.amount > 100 ORDER BY 1",
    "SELECT o.id FROM orders o WHERE o.id IN (SELECT c.id FROM customers c WHERE c.kind = ?)"
    " ORDER BY 1",
    "SELECT o.id FROM orders o WHERE o.id NOT IN (SELECT c.id FROM customers c) ORDER BY 1",
    "SELECT o.id FROM orders o WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = o.id"
    " AND c.kind <> 'plain') ORDER BY 1",
    "SELECT o.grp, count(*) FROM orders o WHERE o.amount > (SELECT count(*) FROM customers c"
    " WHERE c.id < o.id) GROUP BY o.grp ORDER BY 1",
    "SELECT o.name FROM orders o WHERE o.name IN (SELECT DISTINCT c.name FROM customers c)",
    "SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM customers c"
    " WHERE c.id = o.id AND EXISTS (SELECT 1 FROM orders p WHERE p.id = c.id + 1))",
]


@pytest.mark.parametrize("sql", PUSHED)
def test_a_subquery_on_the_list_goes_with_its_block(env, sql):  # noqa: F811
    planned = same(env, sql, ("plain",) if "?" in sql else None)
    assert planned is not None and len(planned.blocks) == 1, planned
    assert planned.blocks[0].remote_sql.count("SELECT") >= 2


KEPT = [
    # several rows: SQLite takes the first, the others raise
    "SELECT o.id, (SELECT c.name FROM customers c WHERE c.id >= o.id) FROM orders o ORDER BY 1",
    # LIMIT in a subquery
    "SELECT o.id FROM orders o WHERE o.id IN (SELECT c.id FROM customers c LIMIT 3) ORDER BY 1",
    # a sum's check reads a select list only
    "SELECT o.id FROM orders o WHERE o.amount > (SELECT sum(c.id) FROM customers c) ORDER BY 1",
    # IN across types (text against integers: SQLite's affinity)
    "SELECT o.id FROM orders o WHERE o.name IN (SELECT c.id FROM customers c) ORDER BY 1",
    # a local table in the subquery
    "SELECT o.id FROM orders o WHERE o.id IN (SELECT k FROM keep) ORDER BY 1",
]


@pytest.mark.parametrize("sql", KEPT)
def test_a_subquery_off_the_list_keeps_its_block_local(env, sql):  # noqa: F811
    conn, native = env
    for db in (conn, native):
        db.execute("CREATE TABLE IF NOT EXISTS keep (k integer); INSERT INTO keep VALUES (3), (4)")
    planned = same(env, sql)
    outer = planned.blocks if planned is not None else []
    assert all(b.remote_sql.count("SELECT") == 1 for b in outer), outer
