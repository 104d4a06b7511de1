"""file_fdw's chunk readers (the C parser, CSV quoting included; the Python
column reader, CSV chunks with quotes dequoted) against its record readers and
COPY's rules."""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import vtables
from tests.vtables.wrappers.test_file_fdw import create, rows, with_file_fdw, write
from vtables import WrapperError, speedups
from vtables.wrappers import file_fdw
from vtables.wrappers.file_fdw import FileFdw, chunks, reader


@pytest.fixture
def files(conn):
    return with_file_fdw(conn)


# ------------------------------------------------------- csv parsing property


def copy_csv_reference(text: str, d: str, q: str, e: str, null: str) -> tuple[list, bool]:
    """COPY's CSV reading, character by character: (records, unterminated at the end)."""
    records = []
    i, size = 0, len(text)
    while i < size:
        fields, chars, quoted, in_quote = [], [], False, False
        while i < size:
            c = text[i]
            if in_quote and c == e and text[i + 1 : i + 2] in (q, e) and i + 1 < size:
                chars.append(text[i + 1])
                i += 2
                continue
            i += 1
            if in_quote:
                if c == q:
                    in_quote = False
                else:
                    chars.append(c)
            elif c == "\n" or (c == "\r" and text[i : i + 1] == "\n"):
                i += c == "\r"
                break
            elif c == d:
                fields.append(("".join(chars), quoted))
                chars, quoted = [], False
            elif c == q:
                in_quote = quoted = True
            else:
                chars.append(c)
        if in_quote:
            return records, True
        fields.append(("".join(chars), quoted))
        records.append([None if not was and v == null else v for v, was in fields])
    return records, False


@pytest.mark.parametrize(
    ("d", "q", "e", "null"),
    [(",", '"', '"', ""), (",", '"', "\\", ""), (";", "'", "'", "N"), (",", '"', '"', "N")],
)
def test_csv_parsing_matches_copy_character_by_character(tmp_path, d, q, e, null):
    rng = random.Random(f"{d}{q}{e}{null}")
    alphabet = ["a", "b", ",", '"', '"', "\n", "\\", " ", "N", "\r\n", ";", "'"]
    columns = {f"c{i}": vtables.ColumnDefinition(f"c{i}", "text") for i in range(3)}
    opts = {"format": "csv", "delimiter": d, "quote": q, "escape": e, "null": null}
    for trial in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        path = write(tmp_path / f"p{trial}.csv", text)
        wrapper = FileFdw({**opts, "filename": path, "on_error": "ignore"}, columns)
        got = [list(row) for row in wrapper.scan([], list(columns))]
        records, unterminated = copy_csv_reference(text, d, q, e, null)
        assert got == [r for r in records if len(r) == 3], text
        assert wrapper.skipped_rows == sum(len(r) != 3 for r in records) + unterminated, text


# ------------------------------------------------------- the batch reader

BATCH_QUERIES = [
    "SELECT * FROM big",
    "SELECT count(*) FROM big",
    "SELECT sum(amount), sum(id), count(day), count(flag), max(name) FROM big",
    "SELECT id FROM big",
    "SELECT flag, id FROM big WHERE flag",
    "SELECT * FROM big WHERE id = 7001",
    "SELECT * FROM big WHERE id = 12000",
    "SELECT * FROM big WHERE id = 99999999",
    "SELECT id, name FROM big WHERE id IN (3, 4444, 9000, 15999, -1)",
    "SELECT typeof(amount), count(*) FROM big GROUP BY 1",
]


def mixed_file(path, count: int = 16_000) -> str:
    """Plain lines (batch reader) with regions the column readers must tell
    apart: quoted fields, some holding the delimiter, doubled quotes or nothing
    (not NULL), a field spanning lines, CRLF endings, integral numerics, unusual
    boolean spellings, nulls and non-ISO-looking dates; and one the exact
    reader must take (a field holding every character that could stand in for
    the separators of a dequoted chunk, and a boolean the C parser declines)."""
    rnd = random.Random(11)
    with open(path, "w", newline="") as f:
        f.write("id,name,amount,day,flag\n")
        for i in range(count):
            name = f"name {rnd.randrange(1000)}"
            amount = f"{rnd.uniform(0, 100):.2f}"
            day = f"2024-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}"
            flag = rnd.choice(["t", "f", "true", "FALSE", "Yes"])
            end = "\n"
            if 3000 <= i < 3500:
                name = f'"{name}, quoted"'
            if i % 4001 == 0:
                name = f'"{name}\nsecond line"'
            if 6000 <= i < 6400:
                end = "\r\n"
            if 9000 <= i < 9100:
                amount = str(rnd.randrange(100))
            if i % 1234 == 0:
                flag = " on"
            if i % 501 == 0:
                name = ""
            if i % 777 == 0:
                amount = day = ""
            if 12000 <= i < 12050:
                day = "20240105"
            if 10000 <= i < 10200:
                name = f'"{name} ""the"" {name}"' if i % 7 else '""'
            if i == 14000:
                name = f'"{chunks._STAND_INS}, and a comma"'
                flag = " on"
            f.write(f"{i},{name},{amount},{day},{flag}{end}")
    return str(path)


@pytest.mark.parametrize("reader", ["c", "python"])
@pytest.mark.parametrize("chunk", [None, 200])
def test_batch_reader_agrees_with_the_line_reader(files, tmp_path, monkeypatch, chunk, reader):
    """The C chunk parser (when built), then the Python batch reader, then the
    exact line reader: each chunk is read by the first that takes it, and the
    results are those of the exact reader alone."""
    if chunk:  # small chunks: records spanning lines cross chunk boundaries
        monkeypatch.setattr(file_fdw, "_CHUNK", chunk)
    path = mixed_file(tmp_path / "mixed.csv")
    assert os.path.getsize(path) > 8 * (1 << 16)  # many chunks
    create(
        files,
        "big",
        "id integer, name text, amount numeric, day date, flag boolean",
        filename=path,
        format="csv",
        header="true",
    )
    taken = {"c": 0, "python": 0, "c quoted": 0, "python quoted": 0, "exact": 0}
    fast_batch = FileFdw._fast_batch
    c_parser = file_fdw._c_parser

    def counting(self, cfg, chunk, *args):
        batch = fast_batch(self, cfg, chunk, *args)
        plain = isinstance(chunk, str)
        taken["exact" if batch is None else "python" if plain else "python quoted"] += 1
        return batch

    def counting_c(*args):
        parse = c_parser(*args) if reader == "c" else None
        if parse is None:
            return None

        def counted(chunk):
            batch = parse(chunk)
            if batch is not None:
                taken["c" if isinstance(chunk, str) else "c quoted"] += 1
            return batch

        return counted

    monkeypatch.setattr(FileFdw, "_fast_batch", counting)
    monkeypatch.setattr(file_fdw, "_c_parser", counting_c)
    batched = {q: rows(files, q) for q in BATCH_QUERIES}
    # every reader had chunks to read
    if reader == "c" and speedups.enabled():
        assert taken["c"] > taken["python"] > 0 and taken["exact"] > 0, taken
        # chunks holding quotes: C reads them itself, Python those it declines
        assert taken["c quoted"] > taken["python quoted"] > 0, taken
    else:
        assert taken["c"] == taken["c quoted"] == 0, taken
        assert taken["python"] > taken["exact"] > 0 and taken["python quoted"] > 0, taken
    monkeypatch.setattr(FileFdw, "_fast_batch", lambda self, *args: None)
    monkeypatch.setattr(file_fdw, "_c_parser", lambda *args: None)
    for q in BATCH_QUERIES:
        assert batched[q] == rows(files, q), q
    assert len(batched["SELECT * FROM big"]) == 16_000
    [(ident, _name, _amount, day, _flag)] = batched["SELECT * FROM big WHERE id = 12000"]
    assert (ident, day) == (12000, "2024-01-05")  # 20240105 read as a date, normalised


def test_batch_reader_reports_the_bad_line(files, tmp_path):
    lines = [f"{i},{i * 2}\n" for i in range(20_000)]
    lines[15_321] = "15321,12x\n"
    path = write(tmp_path / "bad.csv", "".join(lines))
    create(files, "bad", "a integer, b integer", filename=path, format="csv")
    with pytest.raises(WrapperError, match=r'line 15322, column "b": invalid input .*: "12x"'):
        rows(files, "SELECT sum(b) FROM bad")
    assert rows(files, "SELECT sum(a) FROM bad") == [(sum(range(20_000)),)]
    lines[17_000] = "17000\n"
    write(tmp_path / "bad.csv", "".join(lines))
    with pytest.raises(WrapperError, match=r'line 17001, column "b": missing data for column "b"'):
        rows(files, "SELECT count(*) FROM bad")
    create(files, "lenient", "a integer, b integer", filename=path, format="csv", on_error="ignore")
    assert rows(files, "SELECT count(b), sum(a) FROM lenient") == [
        (19_998, sum(range(20_000)) - 15_321 - 17_000)
    ]


def test_a_partly_quoted_null_string_is_data(files, tmp_path):
    path = write(tmp_path / "n.csv", '"N"A,x\nNA,y\n"NA",z\n')
    create(files, "n", "a text, b text", filename=path, format="csv", null="NA")
    assert rows(files, "SELECT * FROM n") == [("NA", "x"), (None, "y"), ("NA", "z")]


@pytest.fixture(params=["chunks", "records"])
def either_reader(request, monkeypatch):
    """Plain chunks read by the chunk readers, or (no chunk reader) record by record."""
    if request.param == "records":
        monkeypatch.setattr(FileFdw, "_fast_batch", lambda self, *args: None)
        monkeypatch.setattr(file_fdw, "_c_parser", lambda *args: None)


def test_key_quals_skip_other_columns_alike_in_both_readers(files, tmp_path, either_reader):
    path = write(tmp_path / "k.csv", "1,10\n2,oops\n3,30\n")
    create(files, "k", "id integer, v integer", filename=path, format="csv")
    # rows an = / IN qual on an integer column excludes are not converted further
    assert rows(files, "SELECT * FROM k WHERE id = 3") == [(3, 30)]
    assert rows(files, "SELECT * FROM k WHERE id IN (1, 3)") == [(1, 10), (3, 30)]
    with pytest.raises(WrapperError, match=r'line 2, column "v": invalid input'):
        rows(files, "SELECT * FROM k")
    with pytest.raises(WrapperError, match=r'line 2, column "v": invalid input'):
        rows(files, "SELECT * FROM k WHERE id = 2")


def test_underscores_are_not_digits(files, tmp_path, either_reader):
    path = write(tmp_path / "u.csv", "1,2.5\n1_000,3.5\n")
    create(files, "u", "a integer, b real", filename=path, format="csv")
    with pytest.raises(WrapperError, match=r'line 2, column "a": invalid input .*"1_000"'):
        rows(files, "SELECT a FROM u")
    write(tmp_path / "u.csv", "1,2.5\n2,1_0.5\n")
    with pytest.raises(WrapperError, match=r'line 2, column "b": invalid input .*"1_0.5"'):
        rows(files, "SELECT b FROM u")
    # digits of other scripts are not digits to PostgreSQL either
    write(tmp_path / "u.csv", "1,2.5\n\u0661,3.5\n")
    with pytest.raises(WrapperError, match=r'line 2, column "a": invalid input'):
        rows(files, "SELECT a FROM u")
    # accented text elsewhere keeps the column readers on their quick path
    write(tmp_path / "u.csv", "1,2.5\n2,3.5\n")
    create(files, "v", "a integer, b real, c text", filename=str(tmp_path / "v.csv"), format="csv")
    write(tmp_path / "v.csv", "1,2.5,dé\n2,3.5,x\n")
    assert rows(files, "SELECT * FROM v") == [(1, 2.5, "dé"), (2, 3.5, "x")]


# ------------------------------------------- quoted chunks against the record reader


def csv_config(**opts: str):
    columns = {c: vtables.ColumnDefinition(c, "text") for c in ("a", "b", "c")}
    return FileFdw({"format": "csv", "filename": "x.csv", **opts}, columns).config()


def dequoted_rows(cfg, text: str):
    chunk = chunks.dequote(cfg, text, 1 << 30)
    batch = None if chunk is None else chunks.fast_batch(cfg, chunk, [0, 1, 2], [], [])
    return (type(chunk).__name__, None if batch is None else list(batch))


def test_dequote_undoes_a_chunks_quotes():
    cfg = csv_config()
    # quotes around data with nothing special in it: dropped, the chunk is plain
    assert chunks.dequote(cfg, '1,"a","b c"\n2,"d",e\n', 1 << 30) == "1,a,b c\n2,d,e\n"
    # a delimiter, a newline, a quote inside quotes are data; "" is empty, not NULL
    text = '1,"a,b","x\ny"\r\n2,"say ""hi""",""\n3,,"\r"\n'
    rows = [("1", "a,b", "x\ny"), ("2", 'say "hi"', ""), ("3", None, "\r")]
    assert dequoted_rows(cfg, text) == ("Dequoted", rows)
    # FORCE_NULL and FORCE_NOT_NULL read a quoted null string by the column
    columns = {
        "a": vtables.ColumnDefinition("a", "text", {"force_null": "true"}),
        "b": vtables.ColumnDefinition("b", "text", {"force_not_null": "true"}),
        "c": vtables.ColumnDefinition("c", "text"),
    }
    forced = FileFdw({"format": "csv", "filename": "x.csv"}, columns).config()
    assert dequoted_rows(forced, '"",,""\n,"",\n') == (
        "Dequoted",
        [(None, "", ""), (None, "", None)],
    )
    # a null string partly quoted is data; unquoted it is NULL
    n = csv_config(null="NA")
    assert dequoted_rows(n, '"N"A,NA,"NA"\n') == ("Dequoted", [("NA", None, "NA")])
    # what the record readers must read (and report): a quote left open, a stray CR
    assert chunks.dequote(cfg, '1,"a\n', 1 << 30) is None
    assert dequoted_rows(cfg, '1,"a"\rb,c\n') == ("str", None)  # plain: the plain readers decline
    assert chunks.dequote(cfg, '1,"a,"\rb,c\n', 1 << 30) is None
    # a chunk holding every character that could stand in for its separators
    assert chunks.dequote(cfg, f'1,"{chunks._STAND_INS},",c\n', 1 << 30) is None
    # where the last whole record of a chunk ends: the rest goes on in the next chunk
    assert chunks.record_end(cfg, '1,"a\nb",c\n2,"d\n') == len('1,"a\nb",c\n')
    assert chunks.record_end(cfg, '1,"a\nb\n') == 0
    # another escape: before a quote or itself inside quotes, it makes it data
    escaped = csv_config(escape="\\")
    first = '1,"a\\"\nb\\\\",c\\\n'
    assert chunks.record_end(escaped, first + '2,"d\\"\n') == len(first)
    assert chunks.record_end(escaped, first + '2,"d\\\\"\n') == len(first) + 8
    assert chunks.record_end(escaped, '1,"a\\"\n') == 0


@contextmanager
def chunk_readers(on: bool, size: int) -> Iterator[dict]:
    """The chunk readers on (counting the chunks they leave to the record
    readers), or off; chunks of ``size`` characters."""
    saved = (file_fdw._CHUNK, file_fdw._c_parser, FileFdw._fast_batch)
    records = reader.Scan._records
    left = {"chunks": 0}

    def counting(self, end):
        left["chunks"] += end is not None  # (None: the rest of a file, after bad bytes)
        return records(self, end)

    file_fdw._CHUNK = size
    reader.Scan._records = counting  # type: ignore[method-assign]
    if not on:
        file_fdw._c_parser, FileFdw._fast_batch = (lambda *a: None), (lambda self, *a: None)
    try:
        yield left
    finally:
        file_fdw._CHUNK, file_fdw._c_parser, FileFdw._fast_batch = saved
        reader.Scan._records = records  # type: ignore[method-assign]


def read_all(path: str, opts: dict, flags: list[str]) -> list:
    """Every column, a few, none (count), with on_error stop and ignore."""
    columns = {
        c: vtables.ColumnDefinition(c, "text", {flag: "true"} if flag else {})
        for c, flag in zip("abc", flags, strict=True)
    }
    got: list = []
    for ignore in (False, True):
        wrapper = FileFdw(
            {**opts, "format": "csv", "filename": path, "on_error": "stop ignore".split()[ignore]},
            columns,
        )
        for wanted in (["a", "b", "c"], ["c", "a"], ["b"], []):
            try:
                got.append([tuple(row) for row in wrapper.scan([], wanted)])
            except WrapperError as err:
                got.append(err.message)
            got.append(wrapper.skipped_rows)
    return got


@st.composite
def quoted_csv(draw) -> tuple[str, dict, list[str], bool]:
    """A CSV text in COPY's rules, its options, FORCE_* flags for its three
    columns, and whether it is well formed (every field quoted where it must
    be, three fields a record); else any mix of the characters that matter."""
    d = draw(st.sampled_from([",", ";", "\t"]))
    q = draw(st.sampled_from(['"', "'"]))
    e = draw(st.sampled_from([q, q, q, "\\"]))
    null = draw(st.sampled_from(["", "N", "\\N"]))
    flags = draw(
        st.lists(st.sampled_from(["", "", "force_null", "force_not_null"]), min_size=3, max_size=3)
    )
    opts = {"delimiter": d, "quote": q, "escape": e, "null": null}
    special = [d, q, e, "\n", "\r", "\r\n"]
    if draw(st.integers(0, 3)) == 0:
        pieces = st.sampled_from(["a", "N", " ", "\\", q + q, e + q, *special])
        return "".join(draw(st.lists(pieces, max_size=50))), opts, flags, False
    value = st.lists(st.sampled_from(["a", "N", " ", "é", "\x1f", "\\", *special]), max_size=6)
    lines = []
    for record in draw(
        st.lists(st.lists(st.one_of(st.none(), value), min_size=3, max_size=3), min_size=1)
    ):
        cells = []
        for chars in record:
            text = None if chars is None else "".join(chars)
            if text is None:
                cells.append(null)
            elif not any(c in text for c in special) and draw(st.booleans()):
                cells.append(text)  # unquoted: the null string reads as NULL
            else:  # the escape before a quote or itself (the quote's: before a quote)
                cells.append(q + "".join(e + c if c in (q, e) else c for c in text) + q)
        lines.append(d.join(cells) + draw(st.sampled_from(["\n", "\r\n"])))
    if draw(st.booleans()):  # the last line without its newline
        lines[-1] = lines[-1].rstrip("\r\n")
    return "".join(lines), opts, flags, True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=quoted_csv(), size=st.sampled_from([8, 64, 1 << 16]))
def test_quoted_chunks_read_as_the_record_reader_reads_them(case, size):
    """Chunks holding quotes, read by the C parser (when on) or the Python
    column reader, give the record reader's rows, errors and skipped counts;
    every chunk of a well-formed file is theirs when a chunk holds whole records
    (the Python reader's: when the escape is the quote)."""
    text, opts, flags, well_formed = case
    with tempfile.TemporaryDirectory() as tmp:
        path = write(os.path.join(tmp, "q.csv"), text)
        with chunk_readers(False, 1 << 16):
            exact = read_all(path, opts, flags)
        with chunk_readers(True, size) as left:
            fast = read_all(path, opts, flags)
    assert fast == exact
    event(f"well formed: {well_formed}, chunks left to the record reader: {left['chunks'] > 0}")
    if well_formed and size == 1 << 16 and (speedups.enabled() or opts["escape"] == opts["quote"]):
        assert left["chunks"] == 0, text
