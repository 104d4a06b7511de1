"""The virtual-table module: what is pushed down, coercion, writes, transactions."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

import vtables
from vtables import Qual, SortKey
from vtables.module import NotNullViolation

ROWS = [
    {"id": i, "grp": ["a", "b", "c"][i % 3], "val": None if i % 5 == 0 else i * 1.5}
    for i in range(1, 21)
]


class RecordingFdw(vtables.ForeignDataWrapper):
    """Keeps its rows in memory and records every scan it is asked for.

    It honours = and IN on ``id`` exactly, sorts by any key list made of
    ``id`` and ``grp``, and applies limit/offset; everything else it leaves
    to SQLite.
    """

    name = "recording_fdw"
    rowid_column = "id"
    option_specs = (vtables.OptionSpec("dataset", {"table"}),)
    scans: list = []
    log: list = []
    data: list = []

    def honours(self, qual):
        return qual.column == "id" and qual.operator in ("=", "IN")

    def can_sort(self, sortkeys):
        return all(k.column in ("id", "grp") for k in sortkeys)

    def can_limit(self):
        return True

    def estimate(self, quals, columns):
        if any(q.column == "id" and q.operator in ("=", "IN") for q in quals):
            return 1.0, 1.0
        return 1_000_000.0, 1_000_000.0

    def explain(self, quals, columns, sortkeys, limit, offset):
        return f"memory scan of {len(self.data)} rows"

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        type(self).scans.append(
            {"quals": quals, "columns": columns, "sort": sortkeys, "limit": limit, "offset": offset}
        )
        rows = list(self.data)
        for q in quals:
            if q.column == "id" and q.operator == "=":
                rows = [r for r in rows if r["id"] == q.value]
            elif q.column == "id" and q.operator == "IN":
                rows = [r for r in rows if r["id"] in q.value]
        for key in reversed(sortkeys or []):
            rows.sort(
                key=lambda r: (r[key.column] is not None, r[key.column]), reverse=key.descending
            )
        start = offset or 0
        if limit is not None and limit >= 0:
            rows = rows[start : start + limit]
        else:
            rows = rows[start:]
        for r in rows:
            yield {c: r[c] for c in columns}

    def insert(self, values):
        type(self).log.append(("insert", values))
        type(self).data.append(dict(values))

    def update(self, identity, values):
        type(self).log.append(("update", identity, values))
        for r in type(self).data:
            if r["id"] == identity["id"]:
                r.update(values)

    def delete(self, identity):
        type(self).log.append(("delete", identity))
        type(self).data[:] = [r for r in type(self).data if r["id"] != identity["id"]]

    # a transactional source: writes are kept until commit
    def begin(self):
        type(self).log.append(("begin",))
        self._snapshot = [dict(r) for r in type(self).data]
        self._savepoints = {}

    def commit(self):
        type(self).log.append(("commit",))

    def rollback(self):
        type(self).log.append(("rollback",))
        type(self).data[:] = self._snapshot

    def savepoint(self, level):
        self._savepoints[level] = [dict(r) for r in type(self).data]

    def rollback_to(self, level):
        type(self).data[:] = [dict(r) for r in self._savepoints[level]]


@pytest.fixture
def rec(conn):
    RecordingFdw.scans = []
    RecordingFdw.log = []
    RecordingFdw.data = [dict(r) for r in ROWS]
    vtables.register_wrapper(RecordingFdw)
    _tables(conn)
    conn.execute("INSERT INTO keys VALUES (2, 'two'), (3, 'three'), (7, 'seven'), (99, 'none')")
    yield conn
    vtables.unregister_wrapper("recording_fdw")


def _tables(conn):
    """The foreign table ft, a local copy of its rows, and a table of keys."""
    conn.execute("""
        CREATE EXTENSION recording_fdw;
        CREATE SERVER mem FOREIGN DATA WRAPPER recording_fdw;
        CREATE FOREIGN TABLE ft (id integer NOT NULL, grp text, val real) SERVER mem;
        CREATE TABLE local_copy (id integer NOT NULL, grp text, val real);
        CREATE TABLE keys (k integer PRIMARY KEY, label text);
    """)
    conn.executemany(
        "INSERT INTO local_copy VALUES (?, ?, ?)", [(r["id"], r["grp"], r["val"]) for r in ROWS]
    )


def last(n=1):
    return RecordingFdw.scans[-n:] if n > 1 else RecordingFdw.scans[-1]


def same(conn, sql, params=()):
    """The query over the foreign table gives what it gives over a local copy."""
    got = conn.execute(sql, params).fetchall()
    want = conn.execute(sql.replace("ft", "local_copy"), params).fetchall()
    assert got == want
    return got


def test_equality_is_pushed_and_omitted(rec):
    assert same(rec, "SELECT grp FROM ft WHERE id = 4") == [("b",)]
    assert last()["quals"] == [Qual("id", "=", 4)]
    assert last()["columns"] == ["id", "grp"]


def test_in_list_is_one_scan(rec):
    RecordingFdw.scans.clear()
    assert same(rec, "SELECT id FROM ft WHERE id IN (3, 5, 8) ORDER BY id") == [(3,), (5,), (8,)]
    assert len(RecordingFdw.scans) == 1
    qual = last()["quals"][0]
    assert (qual.column, qual.operator, sorted(qual.value)) == ("id", "IN", [3, 5, 8])


@pytest.mark.parametrize("speedups", ["1", "0"])
def test_an_empty_in_subquery_matches_nothing(rec, monkeypatch, speedups):
    """Regression: on APSW's path an IN list handed over whole failed the
    statement with SQLError "<NULL>" when the subquery had no rows."""
    monkeypatch.setenv("SQLMED_SPEEDUPS", speedups)
    conn = vtables.connect(":memory:", user="alice")
    _tables(conn)
    assert conn._module.batched == (speedups == "1")
    for sql in (
        "SELECT count(*) FROM ft WHERE id IN (SELECT k FROM keys)",
        "SELECT count(*) FROM ft WHERE id NOT IN (SELECT k FROM keys)",
        "SELECT count(*) FROM ft WHERE id IN (SELECT k FROM keys) OR grp = 'a'",
    ):
        same(conn, sql)
    conn.execute("INSERT INTO keys VALUES (3, 'three'), (5, 'five')")
    assert same(conn, "SELECT id FROM ft WHERE id IN (SELECT k FROM keys) ORDER BY id") == [
        (3,),
        (5,),
    ]


def test_unhonoured_quals_are_rechecked_by_sqlite(rec):
    rows = same(rec, "SELECT id FROM ft WHERE val > 20 AND grp = 'a' ORDER BY id")
    assert rows == [(18,)]
    ops = {(q.column, q.operator, q.value) for q in last()["quals"]}
    assert ops == {("val", ">", 20), ("grp", "=", "a")}


def test_null_quals(rec):
    same(rec, "SELECT id FROM ft WHERE val IS NULL ORDER BY id")
    assert last()["quals"] == [Qual("val", "IS NULL", None)]
    same(rec, "SELECT id FROM ft WHERE val IS NOT NULL AND grp != 'b' ORDER BY id")
    ops = {(q.column, q.operator) for q in last()["quals"]}
    assert ops == {("val", "IS NOT NULL"), ("grp", "!=")}


def test_like_and_glob_are_offered(rec):
    same(rec, "SELECT id FROM ft WHERE grp LIKE 'A%' ORDER BY id")
    assert Qual("grp", "LIKE", "A%") in last()["quals"]
    same(rec, "SELECT id FROM ft WHERE grp GLOB 'a*' ORDER BY id")
    assert Qual("grp", "GLOB", "a*") in last()["quals"]


def test_order_by_two_columns_is_consumed(rec):
    rows = same(rec, "SELECT grp, id FROM ft ORDER BY grp DESC, id")
    assert rows[0] == ("c", 2)
    assert last()["sort"] == [SortKey("grp", True), SortKey("id", False)]


def test_order_by_a_column_the_wrapper_cannot_sort_stays_with_sqlite(rec):
    same(rec, "SELECT id, val FROM ft ORDER BY val, id")
    assert last()["sort"] is None


def test_limit_pushed_only_when_everything_is_honoured(rec):
    assert same(rec, "SELECT id FROM ft ORDER BY id LIMIT 3 OFFSET 2") == [(3,), (4,), (5,)]
    assert (last()["limit"], last()["offset"]) == (3, 2)
    # a qual the wrapper does not honour: LIMIT must stay with SQLite
    assert same(rec, "SELECT id FROM ft WHERE grp = 'b' ORDER BY id LIMIT 2") == [(1,), (4,)]
    assert last()["limit"] is None
    # an ORDER BY it cannot sort: same
    same(rec, "SELECT id FROM ft ORDER BY val DESC, id LIMIT 4")
    assert last()["limit"] is None and last()["sort"] is None


def test_count_star_fetches_no_column(rec):
    assert same(rec, "SELECT count(*) FROM ft") == [(20,)]
    assert last()["columns"] == []


def test_join_with_local_table_probes_by_key(rec):
    RecordingFdw.scans.clear()
    rows = same(rec, "SELECT k, label, grp FROM keys JOIN ft ON ft.id = keys.k ORDER BY k")
    assert rows == [(2, "two", "c"), (3, "three", "a"), (7, "seven", "b")]
    assert all(
        s["quals"][0].column == "id" and s["quals"][0].operator in ("=", "IN")
        for s in RecordingFdw.scans
    )
    assert len(RecordingFdw.scans) == 4  # one probe per local key


def test_aggregates_and_group_by(rec):
    same(rec, "SELECT grp, count(*), sum(val), min(id) FROM ft GROUP BY grp ORDER BY grp")


def test_explain_shows_the_pushdown(rec):
    text = rec.explain("SELECT grp FROM ft WHERE id = 4 AND val > 1 ORDER BY id LIMIT 5")
    assert "Foreign Scan on ft (server mem, wrapper recording_fdw)" in text
    assert "id = 4 (exact)" in text
    assert "val > 1 (rechecked by SQLite)" in text
    assert "Request: memory scan of 20 rows" in text
    assert "Limit" not in text  # a rechecked qual keeps LIMIT local
    text = rec.execute(
        "SELECT sqlmed_explain('SELECT id FROM ft ORDER BY grp, id LIMIT 2')"
    ).fetchone()[0]
    assert "Sort: grp, id" in text and "Limit: 2" in text
    assert rec.explain("SELECT * FROM keys") == "(no foreign scans)"
    assert RecordingFdw.scans == []  # explaining runs nothing


# ------------------------------------------------------------------ writes


def test_writes_reach_the_wrapper(rec):
    rec.execute("INSERT INTO ft VALUES (100, 'z', 1.0)")
    rec.execute("UPDATE ft SET val = 2.5 WHERE id = 100")
    rec.execute("DELETE FROM ft WHERE grp = 'a'")
    kinds = [entry[0] for entry in RecordingFdw.log if entry[0] in ("insert", "update", "delete")]
    assert kinds[:2] == ["insert", "update"] and set(kinds[2:]) == {"delete"}
    assert ("update", {"id": 100}, {"id": 100, "grp": "z", "val": 2.5}) in RecordingFdw.log
    assert rec.execute("SELECT count(*) FROM ft WHERE grp = 'a'").fetchone() == (0,)
    assert rec.execute("SELECT val FROM ft WHERE id = 100").fetchone() == (2.5,)


def test_delete_without_where_deletes_everything(rec):
    rec.execute("DELETE FROM ft")
    assert RecordingFdw.data == []


def test_not_null_is_enforced_on_writes(rec):
    with pytest.raises(NotNullViolation, match='null value in column "id" of relation "ft"'):
        rec.execute("INSERT INTO ft (grp) VALUES ('x')")
    with pytest.raises(NotNullViolation):
        rec.execute("UPDATE ft SET id = NULL WHERE id = 1")
    assert len(RecordingFdw.data) == 20


def test_local_rollback_undoes_wrapper_writes(rec):
    rec.execute("BEGIN")
    rec.execute("INSERT INTO ft VALUES (200, 'q', NULL)")
    rec.execute("DELETE FROM ft WHERE id = 1")
    assert rec.execute("SELECT count(*) FROM ft").fetchone() == (20,)
    rec.execute("ROLLBACK")
    assert sorted(r["id"] for r in RecordingFdw.data) == list(range(1, 21))
    assert ("rollback",) in RecordingFdw.log


def test_savepoints_reach_the_wrapper(rec):
    rec.execute("BEGIN; INSERT INTO ft VALUES (300, 'x', NULL); SAVEPOINT sp;")
    rec.execute("INSERT INTO ft VALUES (301, 'y', NULL)")
    rec.execute("ROLLBACK TO sp; RELEASE sp; COMMIT")
    ids = {r["id"] for r in RecordingFdw.data}
    assert 300 in ids and 301 not in ids
    assert ("commit",) in RecordingFdw.log


def test_read_only_wrapper_refuses_writes(conn):
    class ReadOnly(vtables.ForeignDataWrapper):
        name = "ro_fdw"

        def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
            return [(1,)]

    vtables.register_wrapper(ReadOnly)
    try:
        conn.execute(
            "CREATE EXTENSION ro_fdw; CREATE SERVER r FOREIGN DATA WRAPPER ro_fdw;"
            "CREATE FOREIGN TABLE rt (x int) SERVER r"
        )
        for sql, verb in (
            ("INSERT INTO rt VALUES (2)", "insert into"),
            ("DELETE FROM rt", "delete from"),
            ("UPDATE rt SET x = 3", "update"),
        ):
            with pytest.raises(
                vtables.FeatureNotSupportedError, match=f'cannot {verb} foreign table "rt"'
            ):
                conn.execute(sql)
    finally:
        vtables.unregister_wrapper("ro_fdw")


# ---------------------------------------------------------------- coercion


class TypedFdw(vtables.ForeignDataWrapper):
    name = "typed_fdw"
    rows: list = []

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        for row in self.rows:
            yield {c: row.get(c) for c in columns}


@pytest.fixture
def typed(conn):
    vtables.register_wrapper(TypedFdw)
    conn.execute("""
        CREATE EXTENSION typed_fdw; CREATE SERVER t FOREIGN DATA WRAPPER typed_fdw;
        CREATE FOREIGN TABLE tt (i bigint, r double precision, n numeric(10,2), s varchar(5),
            b boolean, d date, tm time, ts timestamp, tz timestamptz, by bytea, j jsonb,
            sm smallint) SERVER t;
    """)
    yield conn
    vtables.unregister_wrapper("typed_fdw")


def test_values_are_coerced_to_declared_types(typed):
    TypedFdw.rows = [
        {
            "i": "42",
            "r": "1.5",
            "n": decimal.Decimal("12.50"),
            "s": 7,
            "b": "yes",
            "d": dt.datetime(2024, 2, 29, 13, 0),
            "tm": dt.time(8, 30, 1, 5),
            "ts": "2024-01-02T03:04:05",
            "by": "\\x00ff",
            "tz": dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "j": {"a": [1, 2]},
            "sm": True,
        }
    ]
    row = typed.execute("SELECT * FROM tt").fetchone()
    assert row == (
        42,
        1.5,
        12.5,
        "7",
        1,
        "2024-02-29",
        "08:30:01.000005",
        "2024-01-02 03:04:05.000000",
        "2024-01-01 10:00:00.000000+00:00",
        b"\x00\xff",
        '{"a": [1, 2]}',
        1,
    )
    assert typed.execute("SELECT typeof(i), typeof(n), typeof(b) FROM tt").fetchone() == (
        "integer",
        "real",
        "integer",
    )


def test_sqlalchemy_reads_the_storage_formats_back(typed):
    import sqlalchemy as sa
    from sqlalchemy.dialects import sqlite

    TypedFdw.rows = [
        {
            "d": dt.date(2024, 5, 6),
            "ts": dt.datetime(2024, 5, 6, 7, 8, 9, 10),
            "tm": dt.time(1, 2, 3),
            "b": False,
            "n": decimal.Decimal("3.25"),
        }
    ]
    row = typed.execute("SELECT d, ts, tm, b, n FROM tt").fetchone()
    dialect = sqlite.dialect()
    read = [
        t.dialect_impl(dialect).result_processor(dialect, None)
        for t in (sa.Date(), sa.DateTime(), sa.Time(), sa.Boolean(), sa.Numeric(10, 2))
    ]
    values = [proc(v) if proc else v for proc, v in zip(read, row, strict=True)]
    assert values == [
        dt.date(2024, 5, 6),
        dt.datetime(2024, 5, 6, 7, 8, 9, 10),
        dt.time(1, 2, 3),
        False,
        decimal.Decimal("3.25"),
    ]


def test_bad_value_names_table_column_row_and_value(typed):
    TypedFdw.rows = [{"i": 1}, {"i": 2}, {"i": "forty"}]
    with pytest.raises(vtables.WrapperError) as info:
        typed.execute("SELECT i FROM tt").fetchall()
    text = str(info.value)
    assert 'foreign table "tt"' in text and 'column "i"' in text and "row 3" in text
    assert "'forty'" in text and "bigint" in text
