"""The C speedups: that they are in use where they should be, that the C chunk
parser reads exactly what the Python readers read, and that batching keeps the
one-row-at-a-time semantics (read-ahead, errors, lazy conversion).

tox runs the whole suite twice: with the speedups, and with SQLMED_SPEEDUPS=0
(APSW's module and the Python readers); the tests here hold in both.
"""

from __future__ import annotations

import os
import tempfile

import apsw
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import vtables
from vtables import ForeignDataWrapper, OptionSpec, WrapperError, module, speedups, types
from vtables.wrappers import file_fdw
from vtables.wrappers.file_fdw import FileFdw

SWITCHED_OFF = os.environ.get("SQLMED_SPEEDUPS", "1").lower() in {"0", "false", "off", "no"}


def test_the_c_speedups_serve_foreign_tables(conn, monkeypatch):
    if SWITCHED_OFF:
        assert not speedups.enabled()
    else:
        assert speedups.built(), (
            "vtables._speedups was not built: it needs a C compiler, Python's headers and "
            "SQLite's sqlite3ext.h (Debian: libsqlite3-dev); SQLMED_SPEEDUPS=0 runs without it"
        )
        assert speedups.enabled()
    batches = []
    batch = module.BatchCursor.Batch

    def counting(self):
        out = batch(self)
        batches.append(out)
        return out

    monkeypatch.setattr(module.BatchCursor, "Batch", counting)
    conn.execute("""
        CREATE EXTENSION memory_fdw;
        CREATE SERVER mem FOREIGN DATA WRAPPER memory_fdw;
        CREATE FOREIGN TABLE people (id integer, name text) SERVER mem
            OPTIONS (dataset 'people');
    """)
    assert conn.execute("SELECT name FROM people ORDER BY id").fetchall() == [("ann",), ("bob",)]
    if SWITCHED_OFF:
        assert batches == []
    else:  # a batch of 1 row, then of 2 (only 1 left), then the end
        assert [b if b is None else len(b) for b in batches] == [1, 1, None]


class CountingFdw(ForeignDataWrapper):
    """Rows 1..n of (i, text); counts the rows it produced; fails at row
    ``fail_at``; row ``bad_at`` holds a value column b cannot convert."""

    name = "counting_fdw"
    option_specs = (
        OptionSpec("rows", {"table"}, int, default=100),
        OptionSpec("fail_at", {"table"}, int, default=0),
        OptionSpec("bad_at", {"table"}, int, default=0),
        OptionSpec("shape", {"table"}, default="tuple"),
    )
    produced = 0

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        opts = {s.name: s.default for s in self.option_specs}
        opts.update({k: int(v) if k != "shape" else v for k, v in self.options.items()})
        for i in range(1, opts["rows"] + 1):
            if i == opts["fail_at"]:
                raise RuntimeError(f"source broke at row {i}")
            CountingFdw.produced += 1
            values = {"a": i, "b": "oops" if i == opts["bad_at"] else str(i * 10), "c": f"r{i}"}
            if opts["shape"] == "dict":
                yield {c: values[c] for c in columns}
            elif opts["shape"] == "list":
                yield [values[c] for c in columns]
            elif opts["shape"] == "short":
                yield tuple(values[c] for c in columns)[:-1]
            else:
                yield tuple(values[c] for c in columns)


@pytest.fixture
def counting(conn):
    vtables.register_wrapper(CountingFdw)
    conn.execute(
        "CREATE EXTENSION counting_fdw; CREATE SERVER cs FOREIGN DATA WRAPPER counting_fdw"
    )
    CountingFdw.produced = 0
    yield conn
    vtables.unregister_wrapper("counting_fdw")


def table(conn, name, **opts):
    options = ", ".join(f"{k} '{v}'" for k, v in opts.items())
    conn.execute(
        f"CREATE FOREIGN TABLE {name} (a integer, b integer, c text) SERVER cs"
        + (f" OPTIONS ({options})" if options else "")
    )


def test_a_query_that_stops_early_reads_few_rows_ahead(counting):
    table(counting, "t", rows=100_000)
    # The wrapper cannot limit: SQLite stops after 3 rows; batches grow 1, 2, 4.
    assert counting.execute("SELECT a FROM t LIMIT 3").fetchall() == [(1,), (2,), (3,)]
    assert CountingFdw.produced <= 7
    CountingFdw.produced = 0
    got = counting.execute("SELECT a FROM t WHERE c = 'r5000' LIMIT 1").fetchall()
    assert got == [(5000,)]
    assert CountingFdw.produced < 2 * 5000


def test_rows_before_a_source_error_are_served_first(counting):
    table(counting, "t", fail_at=50)
    assert counting.execute("SELECT a FROM t LIMIT 40").fetchall() == [(i,) for i in range(1, 41)]
    seen = []
    with pytest.raises(WrapperError, match=r'foreign table "t": source broke at row 50'):
        for row in counting.execute("SELECT a FROM t"):
            seen.append(row[0])
    assert seen == list(range(1, 50))


def test_values_convert_when_read_and_only_then(counting):
    table(counting, "t", bad_at=7)
    # b of row 7 is never read: c filters the row out first (not pushed down)
    got = counting.execute("SELECT sum(b) FROM t WHERE c <> 'r7'").fetchall()
    assert got == [(sum(i * 10 for i in range(1, 101)) - 70,)]
    assert counting.execute("SELECT typeof(b), b FROM t WHERE a = 3").fetchall() == [
        ("integer", 30)
    ]
    with pytest.raises(
        WrapperError, match=r'foreign table "t", column "b", row 7: cannot convert \'oops\''
    ):
        counting.execute("SELECT sum(b) FROM t").fetchall()


@pytest.mark.parametrize("shape", ["dict", "list"])
def test_rows_as_mappings_and_lists(counting, shape):
    table(counting, "t", rows=5, shape=shape)
    assert counting.execute("SELECT c, b, a FROM t WHERE a > 3").fetchall() == [
        ("r4", 40, 4),
        ("r5", 50, 5),
    ]


def test_a_row_with_too_few_values_is_an_error_naming_the_table(counting):
    table(counting, "t", rows=5, shape="short")
    with pytest.raises(WrapperError, match=r'foreign table "t"'):
        counting.execute("SELECT a, b, c FROM t").fetchall()


# ------------------------------------------------- the C chunk parser

# Field texts near every edge of the conversions: signs, spaces, digits Python
# reads and SQL does not, int64 limits, integral numerics, boolean spellings,
# impossible dates, nulls and the characters that send a chunk to the exact
# reader (quotes, carriage returns).
TRICKY = [
    "", "0", "-0", "+5", "007", " 5", "5 ", "1_000", "١", "12x", "-",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "-9223372036854775809", "1.5", ".5", "5.", "-.5", "1e3", "1E-3", "2.50", "2.00",
    "1e19", "-1e400", "inf", "nan", "1e", "t", "true", "TRUE", "True", "tRue", "yes",
    "on", "Off", "N", " on", "2024-02-29", "2023-02-29", "0000-01-01", "2024-13-01",
    "20240105", "2024-W01-1", "2024-1-05", "é", "x y", "NA", '"', '"q"', "\r", "\\N", "a\\tb",
]  # fmt: skip


def field(plain):
    """Mostly what the column's type reads, sometimes a tricky text."""
    return st.one_of(plain, plain, plain, st.sampled_from(TRICKY))


FIELDS = [
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.floats(allow_nan=False).map(repr),
    st.one_of(
        st.decimals(places=2, allow_nan=False, allow_infinity=False).map(str),
        st.integers(-(10**20), 10**20).map(str),
    ),
    st.sampled_from(["t", "f", "true", "FALSE", "Yes", "no", "on", "OFF", "1", "0"]),
    st.dates().map(str),
    st.text(st.characters(blacklist_characters=',"\r\n', blacklist_categories=["Cs"])),
]
line = st.tuples(*[field(f) for f in FIELDS]).map(",".join)
lines = st.lists(
    st.tuples(line, st.sampled_from(["\n", "\n", "\n", "\r\n"])), min_size=1, max_size=40
)

COLUMNS = "a integer, b real, c numeric, d boolean, e date, f text"
QUERIES = [
    "SELECT * FROM t",
    "SELECT count(*) FROM t",
    "SELECT c, typeof(c), a FROM t",
    "SELECT f, e FROM t WHERE a IN (0, 5, 7, 9223372036854775807)",
    "SELECT d FROM t WHERE a = -9223372036854775808",
]


def outcome(conn, sql):
    try:
        return conn.execute(sql).fetchall()
    except WrapperError as err:
        return str(err)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=lines,
    null=st.sampled_from([None, "NA", ""]),
    small=st.booleans(),
    fmt=st.sampled_from(["csv", "text"]),
)
def test_the_c_parser_reads_what_the_python_readers_read(lines, null, small, fmt):
    text = "".join(a + b for a, b in lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.csv")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        conn = vtables.connect(":memory:")
        opts = f"filename '{path}', format '{fmt}', delimiter ','"
        opts += "" if null is None else f", null '{null}'"
        conn.execute(f"""
            CREATE EXTENSION file_fdw;
            CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
            CREATE FOREIGN TABLE t ({COLUMNS}) SERVER files OPTIONS ({opts});
        """)
        saved = (file_fdw._CHUNK, file_fdw._c_parser, FileFdw._fast_batch)
        try:
            if small:  # many chunks of a line or two
                file_fdw._CHUNK = 64
            accepted = []

            def counting(*args):
                parse = saved[1](*args)
                if parse is None:
                    return None
                return lambda text: accepted.append(parse(text)) or accepted[-1]

            file_fdw._c_parser = counting
            with_c = [outcome(conn, q) for q in QUERIES]
            taken = sum(b is not None for b in accepted) * 4 // max(len(accepted), 1)
            event(f"C parser took {taken}/4 of the chunks")
            file_fdw._c_parser = lambda *args: None
            python = [outcome(conn, q) for q in QUERIES]
            FileFdw._fast_batch = lambda self, *args: None
            exact = [outcome(conn, q) for q in QUERIES]
        finally:
            file_fdw._CHUNK, file_fdw._c_parser, FileFdw._fast_batch = saved
            conn.close()
    assert with_c == exact
    assert python == exact


@pytest.mark.skipif(not speedups.built(), reason="not built: see the first test of this file")
def test_the_c_parser_declines_what_it_does_not_read_itself():
    c = speedups._speedups  # built, even when switched off
    parse = c.parse_chunk
    kinds = (c.K_INTEGER, c.K_NUMERIC, c.K_TEXT)

    def run(text, null=None, keeps=()):
        return parse(text, ",", 3, (0, 1, 2), kinds, null, (False,) * 3, keeps, '"')

    batch = run("1,2.50,x\n-7,3.25,\r\n")
    assert list(batch) == [(1, 2.5, "x"), (-7, 3.25, "")]
    assert [type(v) for v in batch[0]] == [int, float, str]
    assert list(run("1,2.00,x\n")) == [(1, 2, "x")]  # NUMERIC affinity: integral is INTEGER
    assert list(run("1,,x\n", null="")) == [(1, None, "x")]
    assert list(run("1,1,a\n2,2,b\n3,3,c\n", keeps=((0, (3, 1)),))) == [(1, 1, "a"), (3, 3, "c")]
    assert len(run("1,1,a\n", keeps=((0, (2**70,)),))) == 0
    for declined in ['1,2,"x"\n', "1,2\n", "1,2,x,y\n", "1_0,2,x\n", " 1,2,x\n", "1,2,x\ry\n"]:
        assert run(declined) is None, declined
    assert run("1,2,\ud800\n") is None  # a lone surrogate: the Python readers decide
    huge = parse("a,b\n", ",", 2**61 + 1, (0,), (c.K_TEXT,), None, (), (), '"')
    assert huge is None  # more fields than the chunk could hold


@pytest.mark.skipif(not speedups.built(), reason="not built: see the first test of this file")
def test_the_c_parser_checks_its_arguments_and_keys():
    c = speedups._speedups
    kinds = (c.K_INTEGER, c.K_INTEGER, c.K_TEXT)

    def run(text, wanted=(0, 1, 2), kinds=kinds, keeps=()):
        return c.parse_chunk(text, ",", 3, wanted, kinds, None, (), keeps, '"')

    assert run("1,2,x\n", wanted=(0, 0, 1)) is None  # a field wanted twice
    assert run("1,2,x\n", wanted=(0, 1, 3)) is None  # no such field
    assert run("1,2,x\n", kinds=kinds[:2]) is None  # a kind a wanted field
    assert run("1,2,x\n", keeps=((2, (1,)),)) is None  # keys are integer columns
    assert run("1,2,x\n", keeps=((3, (1,)),)) is None
    # a key column is converted on every line, also lines an earlier key dropped
    assert run("1,2,x\n3,z,y\n", keeps=((0, (1,)), (1, (2,)))) is None
    two_keys = run("1,2,x\n1,3,y\n4,2,z\n", keeps=((0, (1,)), (1, (2, 3))))
    assert list(two_keys) == [(1, 2, "x"), (1, 3, "y")]
    assert len(run("1,2,x\n", keeps=((0, ()),))) == 0
    with pytest.raises(TypeError):
        run("1,2,x\n", keeps=((0, ("1",)),))
    flags = c.parse_chunk("t,Yes,OFF,0\n", ",", 4, (0, 1, 2, 3), (c.K_BOOLEAN,) * 4, None,
                          (), (), '"')  # fmt: skip
    assert list(flags) == [(1, 1, 0, 0)]
    for bad_flag in ("tRUE", "2", ""):
        assert c.parse_chunk(bad_flag, ",", 1, (0,), (c.K_BOOLEAN,), None, (), (), '"') is None
    days = ("2024-02-29", "2023-02-29", "0000-01-01", "2024-13-01")
    got = [c.parse_chunk(d, ",", 1, (0,), (c.K_DATE,), None, (), (), '"') for d in days]
    assert [b if b is None else list(b) for b in got] == [[("2024-02-29",)], None, None, None]


# ------------------------------------------------- the C parser on CSV quoting


def test_the_c_parser_reads_csv_quoting_itself():
    assert speedups.built()
    c = speedups._speedups
    kinds = (c.K_INTEGER, c.K_TEXT, c.K_TEXT)

    def run(text, null="", escape='"', quote='"', fnn=(), fnull=(), keeps=(), multiline=True):
        batch = c.parse_chunk(
            text, ",", 3, (0, 1, 2), kinds, null, fnn, keeps, quote, quote, escape, fnull,
            multiline,
        )  # fmt: skip
        return None if batch is None else list(batch)

    # quoted delimiters, newlines, CR LF inside and after, doubled quotes, "" is not NULL
    text = '1,"a,b","x\ny"\r\n2,"say ""hi""",""\n3,,"\r\n"\n4,"a"b,""""'
    expected = [(1, "a,b", "x\ny"), (2, 'say "hi"', ""), (3, None, "\r\n"), (4, "ab", '"')]
    assert run(text) == expected
    # values undone out of the chunk outlive it; so do those of the rows a key keeps
    kept = run('1,"a""b",x\n2,"c""d","e""f"\n', keeps=((0, (2,)),))
    assert kept == [(2, 'c"d', 'e"f')]
    # the null string: NULL unquoted unless forced not null, quoted only if forced null
    assert run('1,NA,"NA"\n2,"N"A,NA\n', null="NA") == [(1, None, "NA"), (2, "NA", None)]
    forced = run('1,"",\n', fnn=(False, False, True), fnull=(False, True, False))
    assert forced == [(1, None, "")]
    # another escape: it escapes the quote and itself inside quotes only
    assert run('1,"a\\"b\\\\c\\d",e\\f\n', escape="\\") == [(1, 'a"b\\c\\d', "e\\f")]
    # a NUL, which COPY refuses ("invalid byte sequence"): the record reader says so
    assert run('1,"a\x00b",x\n') is None and run("1,a,\x00\n") is None
    # what the record readers must read (and report)
    for declined in ('1,"a\n', '1,"a",b\rc\n', '1,"a"\r', '1,"a",b,c\n', '1,"a"\n', 'x,"a",b\n'):
        assert run(declined) is None, declined
    assert run('1,"a\nb",c\n', multiline=False) is None  # a file of lone CRs, a long record
    assert run("1,\u00e9a\u00e9,b\n", quote="\u00e9", escape="\u00e9") is None  # not one byte
    assert run('1,"a",b\n', quote="\u00e9", escape="\u00e9") == [(1, '"a"', "b")]  # none in it


QCOLUMNS = ("a", "b", "c", "d")  # a integer, the others text


def c_reader(cfg, wanted: list[int], keeps: list):
    """The C chunk reader of a scan (the extension used even when switched off:
    it is built in both of tox's envs, as the first test of this file checks)."""
    assert speedups.built()
    saved = speedups.module
    speedups.module = lambda: speedups._speedups
    try:
        conversions = [(k, "integer", types.text_converter("integer")) for k in wanted if k == 0]
        conversions = [(wanted.index(0), kind, conv) for _k, kind, conv in conversions]
        return file_fdw.chunks.c_parser(cfg, wanted, conversions, keeps)
    finally:
        speedups.module = saved


def record_reader_rows(path: str, opts: dict, flags: list[str], wanted: list[int]):
    """The rows the record readers alone read (the chunk readers off), or the error."""
    columns = {
        c: vtables.ColumnDefinition(c, "integer" if c == "a" else "text", {f: "true"} if f else {})
        for c, f in zip(QCOLUMNS, flags, strict=True)
    }
    wrapper = FileFdw({**opts, "format": "csv", "filename": path}, columns)
    saved = (file_fdw._c_parser, FileFdw._fast_batch)
    file_fdw._c_parser, FileFdw._fast_batch = (lambda *a: None), (lambda self, *a: None)
    try:
        return wrapper, [tuple(r) for r in wrapper.scan([], [QCOLUMNS[j] for j in wanted])]
    except WrapperError as err:
        return wrapper, err.message
    finally:
        file_fdw._c_parser, FileFdw._fast_batch = saved


def spelled(draw, value: str | None, d: str, q: str, e: str, null: str, int_column: bool) -> str:
    """A field's CSV text: the null string for None; else the value, quoted
    when it must be (or by chance), its quotes and escapes escaped."""
    if value is None:
        return null
    must = value == null or value == "" or any(c in value for c in (d, q, e, "\n", "\r"))
    if not must and (int_column or draw(st.booleans())) and draw(st.booleans()):
        return value
    if e == q:
        return q + value.replace(q, q + q) + q
    inner = "".join(e + c if c in (q, e) else c for c in value)
    return q + inner + q


@st.composite
def quoted_chunk(draw) -> tuple[str, dict, list[str], bool]:
    """A CSV text holding quotes, its options (delimiter, quote, escape, null),
    FORCE_* flags for its four columns, and whether it is well formed (three
    fields a record, every field quoted where it must be); else any mix of the
    characters that matter."""
    d = draw(st.sampled_from([",", ";", "\t", "|"]))
    q = draw(st.sampled_from(['"', "'"]))
    e = draw(st.sampled_from([q, q, "\\", "!"]))
    null = draw(st.sampled_from(["", "NA", "\\N"]))
    opts = {"delimiter": d, "quote": q, "escape": e, "null": null}
    flags = draw(
        st.lists(st.sampled_from(["", "", "force_null", "force_not_null"]), min_size=4, max_size=4)
    )
    flags[0] = flags[0] if flags[0] != "force_not_null" else ""  # (a NULL integer stays NULL)
    special = [d, q, e, "\n", "\r\n", "\r"]
    if draw(st.integers(0, 2)) == 0:  # records of four fields of anything
        piece = st.sampled_from(["a", "N", "A", " ", "a", e + q, q + q, e + e, *special])
        bare = st.lists(piece, max_size=4).map("".join)
        soup = st.one_of(bare, bare.map(lambda x: q + x + q))
        first = st.sampled_from(["1", q + "2" + q, "", q + q, null, "x", q + "3"])
        records = draw(st.lists(st.tuples(first, soup, soup, soup), min_size=1, max_size=8))
        text = "\n".join(d.join(r) for r in records)
        return q + text if q not in text else text, opts, flags, False
    chars = st.sampled_from(["a", "N", "A", "é", " ", "\x00", "\x1f", *special])
    text_value = st.one_of(
        st.none(), st.sampled_from([null, ""]), st.lists(chars, max_size=6).map("".join)
    )
    int_value = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1).map(str))
    lines = []
    for _ in range(draw(st.integers(1, 30))):
        values = [draw(int_value), draw(text_value), draw(text_value), draw(text_value)]
        cells = [spelled(draw, v, d, q, e, null, i == 0) for i, v in enumerate(values)]
        lines.append(d.join(cells) + draw(st.sampled_from(["\n", "\r\n"])))
    if draw(st.booleans()):  # the last line without its newline
        lines[-1] = lines[-1].rstrip("\r\n")
    text = "".join(lines)
    if q not in text:  # a chunk holding its quote
        text = f"1{d}{q}x{q}{d}{d}\n" + text
    return text, opts, flags, "\x00" not in text  # (a NUL is an error)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=quoted_chunk(), wanted=st.permutations(range(4)), cut=st.integers(0, 4), data=st.data())
def test_the_c_parser_reads_quoted_csv_as_the_record_reader(case, wanted, cut, data):
    """A chunk holding quotes: the C parser's rows are the record reader's
    whenever it takes the chunk, and it takes every well-formed one."""
    text, opts, flags, well_formed = case
    wanted = list(wanted[:cut])
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "q.csv")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        wrapper, exact = record_reader_rows(path, opts, flags, wanted)
    keeps: list = []
    if 0 in wanted and isinstance(exact, list) and data.draw(st.booleans()):
        k = wanted.index(0)
        allowed = frozenset(
            data.draw(
                st.lists(
                    st.sampled_from([r[k] for r in exact if r[k] is not None] + [5]), max_size=3
                )
            )
        )
        keeps = [(k, allowed)]
        exact = [r for r in exact if r[k] in allowed]
    cfg = wrapper.config()
    chunk = file_fdw.chunks.Quoted(text, cfg, 1 << 30)
    batch = c_reader(cfg, wanted, keeps)(chunk)
    got = None if batch is None else list(batch)
    event(f"well formed: {well_formed}, C took it: {got is not None}")
    if well_formed:
        assert got is not None, text
    if got is not None:
        assert got == exact, text


@pytest.fixture
def c_served(monkeypatch):
    """A connection the C module serves, on the pure path too (the extension
    is built in both of tox's envs; test_the_c_speedups_serve_foreign_tables
    fails where it is not)."""
    monkeypatch.setenv("SQLMED_SPEEDUPS", "1")
    conn = vtables.connect(":memory:", user="alice")
    assert speedups.enabled()
    monkeypatch.delenv("SQLMED_SPEEDUPS")
    vtables.register_wrapper(CountingFdw)
    conn.execute(
        "CREATE EXTENSION counting_fdw; CREATE SERVER cs FOREIGN DATA WRAPPER counting_fdw"
    )
    yield conn
    vtables.unregister_wrapper("counting_fdw")
    conn.close()


def test_the_c_index_info_lives_only_within_its_best_index_call(c_served, monkeypatch):
    counting = c_served
    table(counting, "t", rows=3)
    seen = []
    best_index = module.Table.BestIndexObject

    def probing(self, info):
        seen.append(info)
        assert info.nConstraint == 1 and info.get_aConstraint_iColumn(0) == 0
        for probe in (info.get_aConstraint_op, info.get_aOrderBy_iColumn):
            with pytest.raises(IndexError, match="out of range"):
                probe(5)
        with pytest.raises(IndexError, match="constraint out of range"):
            info.set_aConstraintUsage_omit(-1, True)
        with pytest.raises(RuntimeError, match="cannot be deleted"):
            del info.estimatedCost
        return best_index(self, info)

    monkeypatch.setattr(module.Table, "BestIndexObject", probing)
    assert counting.execute("SELECT c FROM t WHERE a = 2").fetchall() == [("r2",)]
    assert seen and type(seen[0]).__name__ == "IndexInfo"
    for late in (lambda i: i.nConstraint, lambda i: i.get_aConstraint_op(0)):
        with pytest.raises(RuntimeError, match="IndexInfo used outside BestIndex"):
            late(seen[0])
    with pytest.raises(RuntimeError, match="IndexInfo used outside BestIndex"):
        seen[0].idxNum = 3


class SharedListFdw(ForeignDataWrapper):
    """Hands over one list per scan, refilled in place when the next scan starts
    (legal: the list is not touched while the scan that got it runs)."""

    name = "shared_list_fdw"
    buffer: list = []
    scans = 0

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        for batch in self.scan_batches(quals, columns, sortkeys, limit, offset):
            yield from list(batch)

    def scan_batches(self, quals, columns, sortkeys=None, limit=None, offset=None):
        SharedListFdw.scans += 1
        n = SharedListFdw.scans
        SharedListFdw.buffer[:] = [(f"scan {n} row {i} " + "x" * 40, i) for i in range(3)]
        yield SharedListFdw.buffer


class NarrowFdw(ForeignDataWrapper):
    """Batches (and rows) with one value fewer than the columns asked for."""

    name = "narrow_fdw"

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        yield tuple(range(len(columns) - 1))

    def scan_batches(self, quals, columns, sortkeys=None, limit=None, offset=None):
        c = speedups.module()
        if c is None:
            yield list(self.scan(quals, columns))
        else:
            yield c.rows_batch([tuple(range(len(columns) - 1))], (c.N_ALL,) * (len(columns) - 1))


@pytest.fixture
def odd(conn):
    for cls in (SharedListFdw, NarrowFdw):
        vtables.register_wrapper(cls)
    conn.execute("""
        CREATE EXTENSION shared_list_fdw; CREATE EXTENSION narrow_fdw;
        CREATE SERVER shared FOREIGN DATA WRAPPER shared_list_fdw;
        CREATE SERVER narrow FOREIGN DATA WRAPPER narrow_fdw;
        CREATE FOREIGN TABLE t (b text, i integer) SERVER shared;
        CREATE FOREIGN TABLE u (b text, i integer) SERVER shared;
        CREATE FOREIGN TABLE n (a integer, b integer) SERVER narrow;
    """)
    yield conn
    for cls in (SharedListFdw, NarrowFdw):
        vtables.unregister_wrapper(cls.name)


def test_a_wrapper_may_reuse_the_list_it_handed_over(odd):
    # The inner scan of the join restarts (refilling the list) while the outer
    # scan's batch is still being read: the outer values must stay its own.
    got = odd.execute("SELECT t.b, u.b FROM t, u ORDER BY t.i, u.i").fetchall()
    assert len(got) == 9
    outer = [b for b, _ in got]
    assert len({b.split(" row ")[0] for b in outer}) == 1  # all from the one outer scan
    assert [b.split(" row ")[1][0] for b in outer] == [c for c in "000111222"]


def test_a_batch_narrower_than_the_columns_is_an_error(odd):
    with pytest.raises(WrapperError, match=r'foreign table "n": a row of 1 values came back'):
        odd.execute("SELECT a, b FROM n").fetchall()


@pytest.mark.skipif(not speedups.built(), reason="not built: see the first test of this file")
def test_the_extension_exports_no_sqlite_api_global():
    # Another SQLite extension loaded RTLD_GLOBAL into another SQLite library
    # of the process would otherwise bind our API table to its library.
    import ctypes

    lib = ctypes.CDLL(speedups._speedups.__file__)
    assert lib.sqlite3_sqlmedspeedups_init  # the entry point SQLite looks up
    with pytest.raises(AttributeError):
        lib.sqlite3_api  # noqa: B018


def test_when_sqlite_refuses_the_extension_apsw_serves(monkeypatch, caplog):
    def refuse():
        raise apsw.ExtensionLoadingError("not authorized")

    monkeypatch.setattr(speedups, "_load_api", refuse)
    monkeypatch.setattr(speedups, "_failed", [])
    conn = vtables.connect(":memory:")
    try:
        assert not speedups.enabled()
        if not SWITCHED_OFF and speedups.built():
            assert "C speedups are off: not authorized" in caplog.text
        conn.execute("""
            CREATE EXTENSION memory_fdw;
            CREATE SERVER mem FOREIGN DATA WRAPPER memory_fdw;
            CREATE FOREIGN TABLE people (id integer, name text) SERVER mem
                OPTIONS (dataset 'people');
        """)
        assert conn.execute("SELECT max(name) FROM people").fetchall() == [("bob",)]
    finally:
        conn.close()
