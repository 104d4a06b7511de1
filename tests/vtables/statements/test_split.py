"""Blocks split at their join: the tables of one server joined there, the
rest (local tables, clauses not on the allow-list) in SQLite over the remote
result; same answers as with pushdown off and over native copies, over a
remote SQLite file and a real PostgreSQL server (never skipped)."""

# ruff: noqa: F811  (the fixtures are imported to be used by name)
from __future__ import annotations

import pytest

from tests.vtables.statements.test_differential import (  # noqa: F401  # fixtures by name
    check,
    conn,
    lite_remote,
    native,
    pg,
)

LOCAL = [(k, None if k % 4 == 0 else f"label{k % 3}") for k in range(-1, 60)]

#: statements whose join of a and b one server answers, with what SQLite keeps
SPLIT = [
    # functions not on the allow-list, above the join
    "SELECT upper(b.tag), a.id FROM a JOIN b ON b.k = a.k WHERE a.n > ? ORDER BY 2, 1",
    "SELECT substr(a.name, 2), count(*) FROM a, b WHERE b.k = a.k AND a.grp IS NOT NULL"
    " GROUP BY 1 ORDER BY 1",
    "SELECT a.id, b.id, printf('%s-%s', a.grp, b.tag) FROM a JOIN b ON a.k = b.k"
    " WHERE b.m IN (1, 2, ?) ORDER BY 1, 2",
    # a local table joined to the server's join
    "SELECT l.label, a.id, b.tag FROM l JOIN a ON a.id = l.k JOIN b ON b.k = a.k"
    " WHERE b.m >= ? ORDER BY 2, 3",
    "SELECT l.label, count(*), sum(b.m) FROM a, b, l WHERE a.k = b.k AND l.k = b.id"
    " AND (a.grp = 'a' OR l.label IS NULL) GROUP BY l.label ORDER BY 1",
]


@pytest.fixture
def local(conn, native):
    conn.execute("CREATE TABLE l (k integer, label text)")
    conn.executemany("INSERT INTO l VALUES (?, ?)", LOCAL)
    native.execute("CREATE TABLE IF NOT EXISTS l (k integer, label text)")
    if not native.execute("SELECT count(*) FROM l").fetchone()[0]:
        native.executemany("INSERT INTO l VALUES (?, ?)", LOCAL)
    return conn


@pytest.mark.parametrize("sql", SPLIT)
@pytest.mark.parametrize("value", [0, 3, None])
def test_split_blocks_answer_as_sqlite(local, native, sql, value):
    params = (value,) * sql.count("?")
    check(local, native, sql, params, ordered=True)


def test_the_join_runs_remotely_and_the_rest_in_sqlite(local, native):
    sql = SPLIT[0]
    planned = local._planner.planned(sql)
    assert planned is not None and len(planned.blocks) == 1
    remote = planned.blocks[0].remote_sql
    assert "JOIN" in remote.upper() or '", "' in remote or ", " in remote
    assert "upper" not in remote.lower()  # the function stays in SQLite
    assert "upper" in planned.text.lower()
    text = local.explain(sql, (3,))
    assert text.startswith('Remote Query on server "s"')
    (line,) = [x for x in text.splitlines() if x.startswith("Local SQL: ")]
    assert "upper(" in line.lower() and "sqlmed_q_" in line


def test_a_small_local_side_probes_by_key(local, native):
    """One local row against the server's whole cross product: SQLite's key
    probes are cheaper than the remote join, so the block stays as written."""
    sql = "SELECT a.id, b.id FROM l JOIN a ON a.id = l.k JOIN b ON b.m <> a.k WHERE l.k = 7"
    check(local, native, sql, (), ordered=False)
    planned = local._planner.planned(sql)
    assert planned is None or not planned.blocks
    if local.kind == "postgres":  # the server's estimate decides the next one
        big = "SELECT l.label, a.id, b.id FROM l JOIN a ON a.id = l.k JOIN b ON b.id = a.id"
        check(local, native, big, (), ordered=False)
        planned = local._planner.planned(big)
        assert planned is not None and len(planned.blocks) == 1


def test_a_rewritten_block_must_compile_as_written(local, native):
    """Text sqlglot would write otherwise (here: an explicit CROSS JOIN, which
    fixes SQLite's join order) keeps the block as written."""
    sql = "SELECT upper(b.tag), a.id FROM a CROSS JOIN b WHERE b.k = a.k ORDER BY 2, 1"
    check(local, native, sql, (), ordered=True)
    planned = local._planner.planned(sql)
    assert planned is None or not planned.blocks


def test_a_condition_half_on_the_list_binds_nothing(local, native):
    """``x = ? OR f(x)``: the comparison is translated, then the function is
    not; the remote query must not keep the value the comparison bound."""
    sql = (
        "SELECT a.grp, b.id FROM a JOIN b ON a.k = b.k"
        " WHERE (a.grp = ?) OR (hex(a.grp) = ?) ORDER BY 2, 1"
    )
    check(local, native, sql, ("a", "41"), ordered=True)
    planned = local._planner.planned(sql)
    assert planned is not None and len(planned.blocks) == 1
    assert planned.blocks[0].module.nargs == 0
