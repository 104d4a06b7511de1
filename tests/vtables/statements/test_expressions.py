"""Scalar expressions in pushed blocks (translate + expressions): each
construct is sent to the remote (its remote SQL says how) and gives SQLite's
answer, over a SQLite file (sqlite_fdw), a real PostgreSQL server
(postgres_fdw; the fixtures' server, never skipped) and DuckDB (through
sqlalchemy_fdw); each near miss stays in SQLite and still gives it."""

from __future__ import annotations

import pytest
import sqlglot
from hypothesis import given, settings

from tests.vtables.statements import queries
from tests.vtables.statements import test_differential as differential
from tests.vtables.statements.test_differential import check, connect
from tests.vtables.wrappers import test_sqlalchemy_fdw_pushdown as through_sqlalchemy
from vtables.statements.translate import DIALECTS, NotPushable, Translator
from vtables.wrappers import postgres_fdw

# the differential tests' remotes and data (fixtures, by name): PostgreSQL's
# server, the SQLite file, the DuckDB file, and their native copy
pg = differential.pg
lite_remote = differential.lite_remote
native = differential.native
conn = differential.conn
duck_remote = through_sqlalchemy.duck_remote


@pytest.fixture(params=["sqlite", "postgres", "duckdb"])
def remote(request, tmp_path):
    """A connection to each of the three dialects: sqlite_fdw, postgres_fdw,
    and DuckDB through sqlalchemy_fdw (tables a and b)."""
    if request.param == "duckdb":
        server = through_sqlalchemy._server_sql("duckdb", request.getfixturevalue)
        db = through_sqlalchemy._connect(tmp_path / "local.db", server)
        db.kind = "duckdb"  # type: ignore[attr-defined]
    else:
        db = connect(request.param, tmp_path / "local.db", request.getfixturevalue)
    yield db
    if request.param == "postgres":
        postgres_fdw.disconnect_all(db)
    db.close()


def pushed(db, native, sql, params=(), ordered=True):
    """SQLite's answer, with the block sent: its remote query."""
    check(db, native, sql, list(params), ordered)
    planned = db._planner.planned(sql)
    assert planned is not None and planned.blocks, sql
    return planned.blocks[0]


def kept(db, native, sql, params=(), ordered=True) -> None:
    """SQLite's answer, with the block kept in SQLite."""
    check(db, native, sql, list(params), ordered)
    planned = db._planner.planned(sql)
    assert planned is None or not planned.blocks, sql


JOIN = "FROM a JOIN b ON a.id = b.id"

#: (statement, {dialect: a piece of its remote SQL})
PUSHED = [
    (  # integer division truncates toward zero, by zero is NULL; % takes the dividend's sign
        f"SELECT a.id, a.k / b.m, a.k % b.m, b.m / 2, -b.m, abs(b.m), a.k * b.m - a.id {JOIN}"
        " ORDER BY a.id",
        {"postgres": "NULLIF(", "duckdb": "//", "sqlite": '"t0"."k" / "t1"."m"'},
    ),
    (
        f"SELECT a.id, a.k / 0, a.k % 0, (a.k + b.m) * (a.id - 3) {JOIN} ORDER BY a.id",
        {"postgres": "MOD(", "duckdb": "%", "sqlite": "%"},
    ),
    (  # an expression as GROUP BY key, select item and ORDER BY key
        "SELECT a.k % 3, count(*), sum(a.id * 2) FROM a GROUP BY a.k % 3 ORDER BY 1",
        {"postgres": "GROUP BY MOD(", "duckdb": "GROUP BY", "sqlite": "GROUP BY"},
    ),
    (
        "SELECT a.k + 1 AS k1, count(*) FROM a GROUP BY (a.k + 1) ORDER BY k1 DESC",
        {"postgres": "BIGINT", "duckdb": "BIGINT", "sqlite": '"t0"."k" + :p0'},
    ),
    (  # expressions inside aggregates; total() from the exact sum
        "SELECT sum(a.k * 2), avg(a.id - a.k), total(a.k), total(a.id * -1),"
        " count(DISTINCT a.k + 1), min(a.id % 4), max(-a.k) FROM a",
        {"postgres": "COUNT(DISTINCT", "duckdb": "SUM(", "sqlite": "SUM("},
    ),
    (  # total() over no rows is 0.0
        "SELECT total(a.k), sum(a.k), count(*) FROM a WHERE a.id < 0",
        {"postgres": "SUM(", "duckdb": "SUM(", "sqlite": "SUM("},
    ),
    (  # || with NULLs, length in characters (é, ß), coalesce/ifnull/nullif
        f"SELECT a.id, a.grp || b.tag, a.grp || ?, length(a.name), coalesce(a.grp, b.tag),"
        f" ifnull(a.grp, 'none'), nullif(a.grp, 'a') {JOIN} ORDER BY a.id",
        {"postgres": "||", "duckdb": "SPLIT_PART(", "sqlite": "LENGTH("},
    ),
    (
        f"SELECT a.id, CASE WHEN a.k > 3 THEN 'big' WHEN a.k IS NULL THEN NULL ELSE 'small' END,"
        f" CASE a.grp WHEN 'a' THEN 1 WHEN 'A' THEN 2 ELSE 0 END {JOIN} ORDER BY a.id",
        {"postgres": "CASE WHEN", "duckdb": "CASE WHEN", "sqlite": "CASE WHEN"},
    ),
    (  # the scalar max/min: NULL if any argument is
        f"SELECT a.id, max(a.k, b.m), min(a.grp, b.tag), max(a.k, b.k, 3) {JOIN} ORDER BY a.id",
        {"postgres": "GREATEST(", "duckdb": "LEAST(", "sqlite": "MAX("},
    ),
    (
        f"SELECT a.id, CAST(a.k AS VARCHAR(5)), CAST(b.m AS INTEGER) {JOIN} ORDER BY a.id",
        {"postgres": "AS TEXT", "duckdb": "AS TEXT", "sqlite": "AS TEXT"},
    ),
    (  # expressions in WHERE and ORDER BY, with a LIMIT
        "SELECT a.id, b.id FROM a JOIN b ON a.k = b.k WHERE a.id + b.m > 10"
        " AND length(a.grp || a.name) >= 2 ORDER BY a.id * b.m DESC, a.id, b.id LIMIT 5",
        {"postgres": "LIMIT", "duckdb": "LIMIT", "sqlite": "LIMIT"},
    ),
    (  # DISTINCT over an expression, ordered by it
        "SELECT DISTINCT a.k % 4 FROM a ORDER BY a.k % 4",
        {"postgres": "DISTINCT", "duckdb": "DISTINCT", "sqlite": "DISTINCT"},
    ),
]


@pytest.mark.parametrize("sql, pieces", PUSHED)
def test_expressions_are_pushed(remote, native, sql, pieces):
    block = pushed(remote, native, sql, ["x"] * sql.count("?"))
    assert pieces[remote.kind] in block.remote_sql, block.remote_sql


@pytest.mark.parametrize("pattern", ["a%", "A%", "%é%", "%É%", "_e%", "z_d", "ß%", "%"])
def test_like_folds_ascii_only(remote, native, pattern):
    sql = f"SELECT count(*), count(DISTINCT a.grp) {JOIN} WHERE a.name LIKE ? OR b.tag LIKE ?"
    block = pushed(remote, native, sql, [pattern, pattern])
    spelled = {"postgres": "ILIKE", "duckdb": "TRANSLATE(", "sqlite": "LIKE"}
    assert spelled[remote.kind] in block.remote_sql


def test_arithmetic_is_guarded_where_the_remote_raises(remote):
    block = remote._planner.planned(f"SELECT a.id, a.k * b.m {JOIN}").blocks[0]
    assert block.module.pushed.guarded == (remote.kind != "sqlite")
    # % never overflows (INT64_MIN % -1 is 0 everywhere), length cannot
    sql = f"SELECT a.id, a.k % b.m, length(a.name) {JOIN}"
    assert not remote._planner.planned(sql).blocks[0].module.pushed.guarded


def test_overflow_goes_on_in_floating_point(remote, native):
    """a.n holds values near the 64-bit limits: SQLite's arithmetic leaves 64
    bits for a REAL.  A SQLite remote computes the same; PostgreSQL and DuckDB
    raise, and the guarded block runs in SQLite."""
    sql = (
        f"SELECT a.id, a.n * 2, -(a.n * 2), a.n + 9223372036854775807, (a.n * 2) / -1,"
        f" max(a.n * 4, a.n) {JOIN} ORDER BY a.id"
    )
    block = pushed(remote, native, sql)
    assert any(type(row[1]) is float for row in native.execute(sql))
    assert block.module.fallbacks == (0 if remote.kind == "sqlite" else 1)
    sql = "SELECT a.n * 3, count(*) FROM a GROUP BY a.n * 3 ORDER BY 1"
    block = pushed(remote, native, sql)
    assert block.module.fallbacks == (0 if remote.kind == "sqlite" else 1)


def test_sums_past_64_bits_run_in_sqlite(conn, native):
    # the remote's total of REALs, or its exact sum past 64 bits, is not
    # SQLite's running total: the block runs in SQLite
    for sql in ("SELECT total(a.n * 2), count(*) FROM a", "SELECT total(a.n) FROM a"):
        block = pushed(conn, native, sql)
        assert block.module.fallbacks >= 1


def test_date_of_a_timestamp(conn, native):
    sql = "SELECT date(c.ts), count(*), min(date(c.d)) FROM c GROUP BY date(c.ts) ORDER BY 1"
    if conn.kind == "postgres":
        block = pushed(conn, native, sql)
        assert 'CAST("t0"."ts" AS DATE)' in block.remote_sql
    else:  # sqlite_fdw's date columns are text of any form
        kept(conn, native, sql)
    sql = "SELECT c.d, count(*) FROM c WHERE date(c.ts) >= '2024-01-05' GROUP BY c.d ORDER BY 1"
    check(conn, native, sql, [], True)


#: near misses: (statement, the dialects that push it)
KEPT = [
    ("SELECT CAST(a.k AS REAL) / 2, count(*) FROM a GROUP BY CAST(a.k AS REAL) / 2", {"sqlite"}),
    ("SELECT max(CAST(a.k AS STRING)) FROM a", set()),  # STRING: NUMERIC affinity
    ("SELECT upper(a.grp), count(*) FROM a GROUP BY upper(a.grp)", set()),  # ASCII only
    ("SELECT lower(a.grp), count(*) FROM a GROUP BY lower(a.grp)", set()),
    # group_concat's order is the scan's: its length is the same in any order
    ("SELECT length(group_concat(a.grp)), a.k FROM a GROUP BY a.k", set()),
    ("SELECT length(a.k), count(*) FROM a GROUP BY length(a.k)", set()),  # of an integer
    ("SELECT a.k || a.grp, count(*) FROM a GROUP BY a.k || a.grp", set()),
    ("SELECT max(a.k, a.grp), count(*) FROM a GROUP BY max(a.k, a.grp)", set()),
    ("SELECT a.grp, total(a.k) FROM a GROUP BY a.grp ORDER BY 2, 1", set()),  # float ties
    ("SELECT sum(a.k) + 1, count(*) FROM a", set()),  # sum's check reads whole items
    ("SELECT a.k + 1, count(*) FROM a GROUP BY a.k", {"sqlite", "postgres", "duckdb"}),
    ("SELECT a.k, count(*) FROM a GROUP BY a.k + 1", set()),  # a.k is not grouped
    ("SELECT a.id + 0.5, count(*) FROM a GROUP BY a.id + 0.5", set()),  # a real literal
]


@pytest.mark.parametrize("sql, dialects", KEPT)
def test_near_misses_stay_in_sqlite(remote, native, sql, dialects):
    if remote.kind in dialects:
        pushed(remote, native, sql, ordered=False)
    else:
        kept(remote, native, sql, ordered=False)


def test_the_generator_draws_expressions():
    """The differential tests' statements hold the constructs above."""
    texts: list[str] = []

    @settings(max_examples=500, database=None, derandomize=True)
    @given(case=queries.statements(overflow=True))
    def draw(case):
        texts.append(case[0])

    draw()
    seen = " ".join(texts)
    for piece in (" / ", " % ", "||", "length(", "CASE", "coalesce(", "total(", "CAST(", "-("):
        assert piece in seen, piece
    assert any("GROUP BY" in t and "GROUP BY a." not in t for t in texts)  # an expression key


@pytest.mark.parametrize("value", [5, 2.5, "7", None])
def test_a_parameter_of_another_type_runs_the_block_in_sqlite(remote, native, value):
    """Inside an expression a parameter is bound as the family it meets:
    another storage class (which SQLite would convert) runs the block in SQLite."""
    sql = f"SELECT a.id, a.grp || ?, a.k * ? {JOIN} ORDER BY a.id"
    block = pushed(remote, native, sql, [value, value])
    assert (block.module.fallbacks == 0) == (value is None)


def test_a_condition_refused_halfway_leaves_no_parameter_behind():
    # regression: the split of a join (statements.partial) sends the conditions
    # it can and keeps the others; a condition refused halfway had bound its
    # first parameter, which DuckDB refused as one argument too many
    tr = Translator(DIALECTS["duckdb"], {}, lambda name: 0)
    with pytest.raises(NotPushable):
        tr.predicate(sqlglot.parse_one("SELECT 1 WHERE ? = 1 OR x IS NULL").args["where"].this)
    assert tr.params == []


def test_conditions_kept_in_sqlite_beside_pushed_ones(remote, native):
    sql = "SELECT a.grp FROM a JOIN b ON a.k = b.k WHERE (a.grp = ?) OR (('a') IS NULL)"
    check(remote, native, sql, ["a"], False)
    sql = "SELECT a.grp FROM a JOIN b ON a.k = b.k WHERE b.m > ? AND ((a.grp = ?) OR (? IS NULL))"
    check(remote, native, sql, [0, "a", None], False)
