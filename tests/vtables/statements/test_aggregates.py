"""The tier for wrappers that are not SQL: a wrapper answers aggregates over
its own table (vtables.remotesql.Aggregator), with the scans' exactness."""

from __future__ import annotations

import apsw
import pytest

import vtables
from tests.pgserver import registering
from vtables.remotesql import AggregateQuery, Aggregator

ROWS = [{"id": i, "k": i % 4, "x": None if i % 5 == 0 else i * 3} for i in range(1, 30)]


class Metadata(Aggregator):
    """Answers count(*) and count/min/max of a column from "metadata" (here,
    the rows in memory), under ``k = value`` quals on integers only."""

    def __init__(self, rows: list[dict]):
        self.rows = rows

    def accepts(self, query: AggregateQuery) -> bool:
        return (
            not query.group_by
            and all(q.column == "k" and q.operator == "=" for q in query.quals)
            and all(
                a.function in ("count", "min", "max") and not a.distinct for a in query.aggregates
            )
        )

    def run(self, query: AggregateQuery):
        MetaFdw.asked.append(query)
        if any(type(q.value) is not int for q in query.quals):
            raise AssertionError("a value SQLite would convert reached the aggregator")
        rows = [r for r in self.rows if all(r[q.column] == q.value for q in query.quals)]
        out = []
        for a in query.aggregates:
            values = [r[a.column] for r in rows] if a.column else rows
            present = [v for v in values if v is not None]
            if a.function == "count":
                out.append(len(present))
            else:
                out.append((min if a.function == "min" else max)(present) if present else None)
        yield tuple(out)

    def describe(self) -> str:
        return "metadata"


class MetaFdw(vtables.ForeignDataWrapper):
    name = "meta_fdw"
    asked: list[AggregateQuery] = []
    scans = 0

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        type(self).scans += 1
        for row in ROWS:
            yield {c: row[c] for c in columns}

    def aggregator(self):
        return Metadata(ROWS)


_registered = registering(MetaFdw)


@pytest.fixture
def env():
    conn = vtables.connect(":memory:")
    conn.execute("""
        CREATE EXTENSION meta_fdw;
        CREATE SERVER m FOREIGN DATA WRAPPER meta_fdw;
        CREATE FOREIGN TABLE t (id integer, k integer, x integer) SERVER m;
    """)
    native = apsw.Connection(":memory:")
    native.execute("CREATE TABLE t (id integer, k integer, x integer)")
    native.executemany("INSERT INTO t VALUES (:id, :k, :x)", ROWS)
    MetaFdw.asked.clear()
    MetaFdw.scans = 0
    yield conn, native
    conn.close()


def same(env, sql, params=None):
    conn, native = env
    got = conn.execute(sql, params).fetchall()
    assert got == native.execute(sql, params).fetchall(), sql
    return got


def test_the_wrapper_answers_without_a_scan(env):
    conn, _ = env
    same(env, "SELECT count(*), min(x), max(x), count(x) FROM t")
    assert MetaFdw.scans == 0 and len(MetaFdw.asked) == 1
    query = MetaFdw.asked[0]
    assert [(a.function, a.column) for a in query.aggregates] == [
        ("count", None),
        ("min", "x"),
        ("max", "x"),
        ("count", "x"),
    ]
    text = conn.explain("SELECT count(*) FROM t")
    assert text.startswith('Remote Query on foreign table "t" (metadata)')
    assert "aggregate count(*)" in text


def test_quals_reach_it_with_their_values(env):
    same(env, "SELECT max(x) AS top FROM t WHERE k = ?", (2,))
    same(env, "SELECT count(*) FROM t WHERE k = 3")
    assert [q.value for a in MetaFdw.asked for q in a.quals] == [2, 3]
    assert MetaFdw.scans == 0


def test_what_it_declines_is_sqlites(env):
    for sql in (
        "SELECT k, count(*) FROM t GROUP BY k ORDER BY k",
        "SELECT count(DISTINCT x) FROM t",
        "SELECT sum(x) FROM t",
        "SELECT count(*) FROM t WHERE x > 10",
        "SELECT avg(x) FROM t",
    ):
        same(env, sql)
    assert not MetaFdw.asked and MetaFdw.scans == 5


def test_a_parameter_of_another_type_reaches_it_as_sqlite_binds_it(env):
    # the aggregator's contract is the scans': it applies SQLite's rules to
    # the value bound (here it refuses anything but an integer, loudly)
    with pytest.raises(Exception, match="a value SQLite would convert"):
        env[0].execute("SELECT count(*) FROM t WHERE k = ?", ("2",)).fetchall()


def test_in_a_subquery(env):
    same(env, "SELECT (SELECT count(*) FROM t) + 1, (SELECT min(x) FROM t WHERE k = 1)")
    assert len(MetaFdw.asked) == 2


def test_order_by_and_limit_are_applied_to_its_rows(env):
    conn, _ = env
    for sql in (
        "SELECT count(*) AS n, max(x) FROM t WHERE k = 1 ORDER BY n DESC LIMIT 1",
        "SELECT min(x), max(x) FROM t ORDER BY 2",
        "SELECT min(x) FROM t ORDER BY min(x) LIMIT 5 OFFSET 0",
    ):
        same(env, sql)
    assert len(MetaFdw.asked) == 3 and MetaFdw.scans == 0
    assert "ORDER BY 1 DESC LIMIT 1" in conn.explain(
        "SELECT count(*) AS n FROM t ORDER BY n DESC LIMIT 1"
    )
    # a sort key that is no result column, a LIMIT of an expression: SQLite's
    for sql in (
        "SELECT count(*) FROM t ORDER BY max(x)",
        "SELECT count(*) FROM t LIMIT 1 + 1",
    ):
        same(env, sql)
    assert len(MetaFdw.asked) == 3 and MetaFdw.scans == 2


def test_a_column_of_another_collation_stays_in_sqlite(env):
    conn, _ = env
    conn.execute(
        "CREATE FOREIGN TABLE c (id integer, k integer COLLATE NOCASE, x integer) SERVER m"
    )
    conn.execute("SELECT count(*), max(k) FROM c").fetchall()
    assert not MetaFdw.asked and MetaFdw.scans == 1
    conn.execute("SELECT count(*), max(x) FROM c").fetchall()  # without it, the wrapper's
    assert len(MetaFdw.asked) == 1
