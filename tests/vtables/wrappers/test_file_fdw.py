"""file_fdw: CSV and text files as foreign tables, with COPY's rules."""

from __future__ import annotations

import csv
import gzip
import logging
import os
import random
import re
import sys
import tracemalloc

import pytest

import vtables
from vtables import FeatureNotSupportedError, InvalidOptionError, WrapperError
from vtables.wrappers.file_fdw import FileFdw, python_encoding


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def options(**opts: str) -> str:
    return ", ".join(f"{key} {lit(value)}" for key, value in opts.items())


def write(path, text: str, encoding: str = "utf-8") -> str:
    with open(path, "w", encoding=encoding, newline="") as f:
        f.write(text)
    return str(path)


def with_file_fdw(conn):
    """conn, with file_fdw and a server "files" of it."""
    conn.execute("""
        CREATE EXTENSION file_fdw;
        CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
    """)
    return conn


@pytest.fixture
def files(conn):
    return with_file_fdw(conn)


def create(conn, name: str, columns: str, server: str = "files", **opts: str) -> None:
    conn.execute(
        f"CREATE FOREIGN TABLE {name} ({columns}) SERVER {server} OPTIONS ({options(**opts)})"
    )


def rows(conn, sql: str, params=()) -> list[tuple]:
    return conn.execute(sql, params).fetchall()


PEOPLE = "id,name,born,score,active\n1,ann,1990-04-01,3.5,true\n2,bob,,12,false\n3,,2001-12-31,,t\n"


# ------------------------------------------------------------------ basics


def test_csv_with_header_and_declared_types(files, tmp_path):
    path = write(tmp_path / "people.csv", PEOPLE)
    create(
        files,
        "people",
        "id integer, name text, born date, score numeric, active boolean",
        filename=path,
        format="csv",
        header="true",
    )
    assert rows(files, "SELECT * FROM people ORDER BY id") == [
        (1, "ann", "1990-04-01", 3.5, 1),
        (2, "bob", None, 12, 0),
        (3, None, "2001-12-31", None, 1),
    ]
    got = rows(files, "SELECT typeof(id), typeof(born), typeof(score) FROM people WHERE id = 1")
    assert got == [("integer", "text", "real")]
    assert rows(files, "SELECT count(*) FROM people") == [(3,)]
    assert rows(files, "SELECT name FROM people WHERE active") == [("ann",), (None,)]
    assert rows(files, "SELECT score, id FROM people WHERE born > '2000-01-01'") == [(None, 3)]


def test_text_format_follows_copy(files, tmp_path):
    text = (
        "1\tplain\t\\N\n"
        "2\ttab\\there\\nnew\\\\back\t\\\\N\n"
        "3\toctal \\101\\x42\\xq \\303\\251\tx\r\n"
        "4\tescaped\\\tdelimiter\t\n"
        "5\tnew\\\nline\tz\n"
        "\\.\n"
        "6\tafter the end marker\tz\n"
    )
    create(files, "t", "id integer, a text, b text", filename=write(tmp_path / "t.txt", text))
    assert rows(files, "SELECT * FROM t") == [
        (1, "plain", None),
        (2, "tab\there\nnew\\back", "\\N"),
        (3, "octal ABxq é", "x"),
        (4, "escaped\tdelimiter", ""),
        (5, "new\nline", "z"),
    ]
    assert rows(files, "SELECT count(*) FROM t") == [(5,)]


def test_text_format_custom_delimiter_and_null(files, tmp_path):
    path = write(tmp_path / "t.txt", "a|NA|\nNA|b\\|c|\\N\n")
    create(files, "t", "x text, y text, z text", filename=path, delimiter="|", null="NA")
    assert rows(files, "SELECT * FROM t") == [("a", None, ""), (None, "b|c", "N")]


def test_header_false_reads_the_first_line(files, tmp_path):
    path = write(tmp_path / "p.csv", "id,name\n1,ann\n")
    create(files, "p", "id text, name text", filename=path, format="csv")
    assert rows(files, "SELECT * FROM p") == [("id", "name"), ("1", "ann")]


def test_header_match(files, tmp_path):
    path = write(tmp_path / "p.csv", 'id,"Full Name",born\n1,ann,1990-04-01\n')
    create(
        files,
        "ok",
        "id integer, name text OPTIONS (column_name 'Full Name'), born date",
        filename=path,
        format="csv",
        header="match",
    )
    assert rows(files, "SELECT name, born FROM ok") == [("ann", "1990-04-01")]

    create(
        files,
        "renamed",
        "id integer, fullname text, born date",
        filename=path,
        format="csv",
        header="match",
    )
    with pytest.raises(WrapperError) as err:
        rows(files, "SELECT * FROM renamed")
    message = str(err.value)
    assert path in message and "line 1" in message
    assert 'column name mismatch in header line field 2: got "Full Name", expected "fullname"' in (
        message
    )
    # count(*) reads the header too
    with pytest.raises(WrapperError, match="mismatch"):
        rows(files, "SELECT count(*) FROM renamed")

    create(files, "short", "id integer, name text", filename=path, format="csv", header="MATCH")
    with pytest.raises(WrapperError, match="wrong number of fields in header line: got 3"):
        rows(files, "SELECT * FROM short")


def test_header_match_in_text_format(files, tmp_path):
    path = write(tmp_path / "p.txt", "id\tname\n1\tann\n")
    create(files, "p", "id integer, name text", filename=path, header="match")
    assert rows(files, "SELECT * FROM p") == [(1, "ann")]


def test_empty_file(files, tmp_path):
    path = write(tmp_path / "empty.csv", "")
    create(files, "e1", "a text", filename=path, format="csv", header="match")
    create(files, "e2", "a text, b text", filename=path, format="csv")
    assert rows(files, "SELECT * FROM e1") == []
    assert rows(files, "SELECT count(*) FROM e2") == [(0,)]


# ---------------------------------------------------------------- csv rules


def test_csv_quotes_nulls_and_newlines(files, tmp_path):
    text = (
        'a,"b, with comma",c\r\n'
        ',"",\r\n'
        '"multi\nline ""quoted""","x",y\n'
        '"and\n\nmore",,"last"\n'
        'mid"dle"quote,"ab"cd,"\\"\n'
    )
    create(files, "q", "x text, y text, z text", filename=write(tmp_path / "q.csv", text))
    files.execute("ALTER FOREIGN TABLE q OPTIONS (ADD format 'csv')")
    assert rows(files, "SELECT * FROM q") == [
        ("a", "b, with comma", "c"),
        (None, "", None),
        ('multi\nline "quoted"', "x", "y"),
        ("and\n\nmore", None, "last"),
        ("middlequote", "abcd", "\\"),
    ]
    assert rows(files, "SELECT count(*) FROM q") == [(5,)]
    assert rows(files, "SELECT z FROM q") == [("c",), (None,), ("y",), ("last",), ("\\",)]


def test_csv_custom_delimiter_quote_escape_null(files, tmp_path):
    text = "1;'it\\'s';NA\n2;'NA';\n3;'a\\b\\\\c';'x;y'\n"
    create(
        files,
        "c",
        "id integer, a text, b text",
        filename=write(tmp_path / "c.csv", text),
        format="csv",
        delimiter=";",
        quote="'",
        escape="\\",
        null="NA",
    )
    assert rows(files, "SELECT * FROM c") == [
        (1, "it's", None),
        (2, "NA", ""),
        (3, "a\\b\\c", "x;y"),
    ]


def test_csv_null_string_matches_only_unquoted_values(files, tmp_path):
    path = write(tmp_path / "n.csv", 'NULL,"NULL",\n')
    create(files, "n", "a text, b text, c text", filename=path, format="csv", null="NULL")
    assert rows(files, "SELECT * FROM n") == [(None, "NULL", "")]


def test_force_not_null_and_force_null(files, tmp_path):
    path = write(tmp_path / "f.csv", ',"",,""\nx,y,z,w\n')
    create(
        files,
        "f",
        "a text, b text OPTIONS (force_null 'true'), c text OPTIONS (force_not_null 'on'), "
        "d text OPTIONS (force_null 'true', force_not_null 'true')",
        filename=path,
        format="csv",
    )
    assert rows(files, "SELECT * FROM f") == [(None, None, "", None), ("x", "y", "z", "w")]
    assert rows(files, "SELECT c FROM f WHERE c IS NOT NULL") == [("",), ("z",)]


def test_force_options_need_csv(files, tmp_path):
    path = write(tmp_path / "t.txt", "a\n")
    create(files, "t", "a text OPTIONS (force_not_null 'true')", filename=path)
    with pytest.raises(InvalidOptionError, match="force_not_null available only in CSV mode"):
        rows(files, "SELECT * FROM t")


def test_utf8_bom_and_other_encodings(files, tmp_path):
    path = write(tmp_path / "bom.csv", "\ufeffid,name\n1,zoë\n")
    create(files, "bom", "id integer, name text", filename=path, format="csv", header="match")
    assert rows(files, "SELECT * FROM bom") == [(1, "zoë")]
    latin = write(tmp_path / "latin.txt", "1\tcafé\n", encoding="latin-1")
    create(files, "latin", "id integer, name text", filename=latin, encoding="LATIN1")
    assert rows(files, "SELECT * FROM latin") == [(1, "café")]
    create(files, "win", "id integer, name text", filename=latin, encoding="WIN1252")
    assert rows(files, "SELECT name FROM win") == [("café",)]
    assert python_encoding("UTF8") == "utf-8"
    with pytest.raises(ValueError, match="ASCII-compatible"):
        python_encoding("utf-16")


# --------------------------------------------------------------- gzip, paths


def test_gzip_by_name_and_by_magic_bytes(files, tmp_path):
    data = "".join(f"{i},name {i}\n" for i in range(1000))
    with gzip.open(tmp_path / "d.csv.gz", "wt", encoding="utf-8", newline="") as f:
        f.write(data)
    os.link(tmp_path / "d.csv.gz", tmp_path / "d.data")
    for name, filename in (("gz1", "d.csv.gz"), ("gz2", "d.data")):
        create(
            files, name, "id integer, name text", filename=str(tmp_path / filename), format="csv"
        )
        assert rows(files, f"SELECT count(*), sum(id), max(name) FROM {name}") == [
            (1000, 499500, "name 999")
        ]
    assert "gzip" in files.explain("SELECT * FROM gz2")


def test_corrupt_gzip_names_the_file(files, tmp_path):
    blob = gzip.compress(b"".join(b"%d,x\n" % i for i in range(100000)))
    (tmp_path / "cut.csv.gz").write_bytes(blob[: len(blob) // 2])
    create(files, "cut", "a integer, b text", filename=str(tmp_path / "cut.csv.gz"), format="csv")
    with pytest.raises(WrapperError, match="cut.csv.gz.*could not read file"):
        rows(files, "SELECT count(*) FROM cut")


def test_relative_filename_uses_the_server_directory(files, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write(data / "x.csv", "1\n2\n")
    files.execute(
        f"CREATE SERVER indir FOREIGN DATA WRAPPER file_fdw OPTIONS (directory {lit(str(data))})"
    )
    create(files, "x", "n integer", server="indir", filename="x.csv", format="csv")
    assert rows(files, "SELECT sum(n) FROM x") == [(3,)]
    assert f"file {data / 'x.csv'} (format csv, header false, 4 B)" in files.explain(
        "SELECT * FROM x"
    )


def test_relative_filename_uses_the_database_directory(tmp_path):
    dbdir = tmp_path / "db"
    dbdir.mkdir()
    write(dbdir / "x.csv", "5\n")
    (dbdir / "sub").mkdir()
    write(dbdir / "sub" / "y.csv", "7\n")
    conn = vtables.connect(str(dbdir / "main.db"))
    try:
        conn.execute(f"""
            CREATE EXTENSION file_fdw;
            CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
            CREATE SERVER sub FOREIGN DATA WRAPPER file_fdw OPTIONS (directory 'sub');
            CREATE FOREIGN TABLE x (n integer) SERVER files OPTIONS (filename 'x.csv');
            CREATE FOREIGN TABLE y (n integer) SERVER sub OPTIONS (filename 'y.csv');
            CREATE FOREIGN TABLE z (n integer) SERVER sub
                OPTIONS (filename {lit(str(dbdir / "x.csv"))});
        """)
        assert rows(conn, "SELECT (SELECT n FROM x), (SELECT n FROM y), (SELECT n FROM z)") == [
            (5, 7, 5)
        ]
    finally:
        conn.close()


def test_in_memory_database_resolves_against_the_working_directory(files, tmp_path, monkeypatch):
    write(tmp_path / "w.csv", "9\n")
    monkeypatch.chdir(tmp_path)
    create(files, "w", "n integer", filename="w.csv")
    assert rows(files, "SELECT n FROM w") == [(9,)]


def test_missing_file_names_the_table_and_the_path(files, tmp_path):
    create(files, "gone", "a text", filename="nowhere/missing.csv")
    with pytest.raises(WrapperError) as err:
        rows(files, "SELECT * FROM gone")
    message = str(err.value)
    assert 'foreign table "gone"' in message
    assert os.path.join(os.getcwd(), "nowhere", "missing.csv") in message
    assert "does not exist" in message
    assert "not found" in files.explain("SELECT * FROM gone")


# ---------------------------------------------------------------- bad rows


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,a\n2,b,extra\n", r'line 2: extra data after last expected column "b": "extra"'),
        ("1,a\n2\n", r'line 2, column "b": missing data for column "b"'),
        ('1,a\n2,"b\n3,c\n', r'line 2, column "b": unterminated CSV quoted field: "b\n3,c\n"'),
        ('1,"x\ny"\n2\n', r'line 3, column "b": missing data for column "b"'),
        ("id,b\n1,a\nzz,b\n", r'line 3, column "id": invalid input for type integer'),
        ('1,"a"\n"2,x",b\n', r'line 2, column "id": invalid input for type integer .*: "2,x"'),
    ],
)
def test_bad_rows_name_file_line_and_column(files, tmp_path, text, expected):
    path = write(tmp_path / "bad.csv", text)
    header = "true" if text.startswith("id,") else "false"
    create(files, "bad", "id integer, b text", filename=path, format="csv", header=header)
    with pytest.raises(WrapperError) as err:
        rows(files, "SELECT * FROM bad")
    message = str(err.value)
    assert f'foreign table "bad", file "{path}"' in message
    assert re.search(expected, message), message


def test_bad_rows_fail_count_star_too(files, tmp_path):
    path = write(tmp_path / "bad.txt", "1\ta\n2\tb\tc\n")
    create(files, "bad", "id integer, b text", filename=path)
    with pytest.raises(WrapperError, match="line 2.*extra data"):
        rows(files, "SELECT count(*) FROM bad")


def bad_encoding_file(path, good_before: int = 5000) -> str:
    """A UTF-8 file with a Latin-1 byte on line good_before + 1, far past the first
    block the reader decodes, and another inside a record spanning two lines."""
    with open(path, "wb") as f:
        for i in range(good_before):
            f.write(f"{i},ok\n".encode())
        f.write(b"-1,caf\xe9\n")
        f.write('"multi\nline",ünïcode\n'.encode())
        f.write(b'-2,"two\nlines caf\xe9"\n')
        for i in range(good_before + 5, good_before + 100):
            f.write(f"{i},ok\n".encode())
    return str(path)


def test_undecodable_bytes_name_the_line(files, tmp_path):
    path = bad_encoding_file(tmp_path / "enc.csv")
    create(files, "enc", "id text, b text", filename=path, format="csv")
    with pytest.raises(WrapperError) as err:
        rows(files, "SELECT * FROM enc")
    assert (
        'line 5001, column "b": invalid byte sequence for encoding "utf-8": 0xe9 at byte 7 of'
        ' the line: "caf\\xe9"'
    ) in str(err.value)
    with pytest.raises(WrapperError, match="line 5001"):
        rows(files, "SELECT count(*) FROM enc")
    # rows before the bad line were all returned once, in order
    cursor = files.execute("SELECT id FROM enc")
    seen = []
    with pytest.raises(WrapperError):
        for (value,) in cursor:
            seen.append(value)
    assert seen == [str(i) for i in range(5000)]


def test_on_error_ignore_skips_bad_rows(files, tmp_path, caplog):
    path = bad_encoding_file(tmp_path / "enc.csv")
    create(files, "enc", "id text, b text", filename=path, format="csv", on_error="ignore")
    got = rows(files, "SELECT id, b FROM enc")
    assert got[:5000] == [(str(i), "ok") for i in range(5000)]
    assert got[5000:] == [("multi\nline", "ünïcode")] + [(str(i), "ok") for i in range(5005, 5100)]
    assert rows(files, "SELECT count(*) FROM enc") == [(len(got),)]

    text = (
        "id,n,d,flag\n"
        "1,10,2024-01-01,true\n"
        "2,x,2024-01-02,true\n"  # bad integer
        "3,30,2024-13-01,true\n"  # bad date
        "4,40,2024-01-04,maybe\n"  # bad boolean
        "5,50\n"  # missing data
        "6,60,2024-01-06,false,extra\n"  # extra data
        '7,70,"2024-01-07,false\n'  # unterminated quote at end of file
    )
    path = write(tmp_path / "mixed.csv", text)
    create(
        files,
        "mixed",
        "id integer, n integer, d date, flag boolean",
        filename=path,
        format="csv",
        header="match",
        on_error="ignore",
    )
    with caplog.at_level(logging.INFO, logger="vtables.wrappers.file_fdw"):
        assert rows(files, "SELECT * FROM mixed") == [(1, 10, "2024-01-01", 1)]
    assert "6 rows were skipped" in caplog.text
    assert files.wrapper_for("mixed")[0].skipped_rows == 6
    # only the values the query needs are converted, like PostgreSQL's file_fdw
    assert rows(files, "SELECT id FROM mixed") == [(1,), (2,), (3,), (4,)]
    assert rows(files, "SELECT count(*) FROM mixed") == [(4,)]


def test_bad_values_of_other_types_with_on_error_stop(files, tmp_path):
    path = write(tmp_path / "d.csv", "2024-01-01\nnot a date\n")
    create(files, "d", "d date", filename=path, format="csv")
    with pytest.raises(WrapperError, match=r'line 2, column "d": invalid input for type date'):
        rows(files, "SELECT * FROM d")
    assert rows(files, "SELECT count(*) FROM d") == [(2,)]


# ------------------------------------------------------------------ options


@pytest.mark.parametrize(
    ("opts", "error", "match"),
    [
        ({"program": "cat /etc/passwd"}, FeatureNotSupportedError, "program.*not supported"),
        ({"filename": "x", "program": "ls"}, FeatureNotSupportedError, "program"),
        ({"filename": "x", "format": "xml"}, InvalidOptionError, "expected one of text, csv"),
        ({"filename": "x", "header": "maybe"}, InvalidOptionError, "Boolean value or .match."),
        ({"filename": "x", "on_error": "skip"}, InvalidOptionError, "expected one of stop"),
        ({"filename": "x", "delimiter": ",,"}, InvalidOptionError, "single one-byte character"),
        ({"filename": "x", "delimiter": "a"}, InvalidOptionError, 'delimiter cannot be "a"'),
        ({"filename": "x", "quote": "'"}, InvalidOptionError, "quote available only in CSV"),
        ({"filename": "x", "escape": "\\"}, InvalidOptionError, "escape available only in CSV"),
        (
            {"filename": "x", "format": "csv", "quote": ","},
            InvalidOptionError,
            "delimiter and quote must be different",
        ),
        (
            {"filename": "x", "format": "csv", "null": "a,b"},
            InvalidOptionError,
            "delimiter character must not appear in the NULL",
        ),
        ({"filename": "x", "encoding": "klingon"}, InvalidOptionError, "valid encoding name"),
        ({"filename": "x", "encoding": "utf-16"}, InvalidOptionError, "ASCII-compatible"),
        ({"filename": "x", "compression": "zstd"}, InvalidOptionError, 'invalid option "compr'),
        ({"format": "csv"}, InvalidOptionError, 'option "filename" is required'),
    ],
)
def test_bad_table_options_are_refused_at_ddl_time(files, opts, error, match):
    with pytest.raises(error, match=match):
        create(files, "t", "a text", **opts)
    assert rows(files, "SELECT count(*) FROM sqlite_master WHERE name = 't'") == [(0,)]


def test_bad_options_of_other_objects(files):
    with pytest.raises(InvalidOptionError, match="expected a boolean"):
        files.execute(
            "CREATE FOREIGN TABLE t (a text OPTIONS (force_null 'maybe')) SERVER files "
            "OPTIONS (filename 'x')"
        )
    with pytest.raises(InvalidOptionError, match='invalid option "format" for server'):
        files.execute("CREATE SERVER s2 FOREIGN DATA WRAPPER file_fdw OPTIONS (format 'csv')")
    with pytest.raises(FeatureNotSupportedError, match="program"):
        files.execute("CREATE SERVER s3 FOREIGN DATA WRAPPER file_fdw OPTIONS (program 'ls')")
    create(files, "t", "a text", filename="x.csv", format="csv", quote="'")
    with pytest.raises(InvalidOptionError, match="quote available only in CSV mode"):
        files.execute("ALTER FOREIGN TABLE t OPTIONS (SET format 'text')")
    with pytest.raises(FeatureNotSupportedError, match="program"):
        files.execute("ALTER FOREIGN TABLE t OPTIONS (ADD program 'ls')")


def test_writes_are_refused(files, tmp_path):
    create(files, "ro", "a integer", filename=write(tmp_path / "ro.csv", "1\n"))
    for sql in (
        "INSERT INTO ro VALUES (2)",
        "UPDATE ro SET a = 3",
        "DELETE FROM ro",
    ):
        with pytest.raises(FeatureNotSupportedError, match="ro"):
            files.execute(sql)
    assert rows(files, "SELECT * FROM ro") == [(1,)]
    assert not FileFdw.writable()


# ----------------------------------------------------- queries and planning


def test_column_subsets_and_count(files, tmp_path):
    path = write(tmp_path / "s.csv", "".join(f'{i},"n{i}",{i * 2},{i % 3}\n' for i in range(300)))
    create(files, "s", "a integer, b text, c integer, d integer", filename=path, format="csv")
    assert rows(files, "SELECT count(*) FROM s") == [(300,)]
    assert rows(files, "SELECT c, a FROM s WHERE a = 7") == [(14, 7)]
    assert rows(files, "SELECT b FROM s WHERE a BETWEEN 3 AND 4") == [("n3",), ("n4",)]
    assert rows(files, "SELECT d, count(*) FROM s GROUP BY d") == [(0, 100), (1, 100), (2, 100)]
    assert rows(files, "SELECT * FROM s ORDER BY a DESC LIMIT 1") == [(299, "n299", 598, 2)]


def test_join_with_a_local_table(files, tmp_path):
    path = write(tmp_path / "orders.csv", "".join(f"{i},{i % 10},{i}.5\n" for i in range(2000)))
    create(files, "orders", "id integer, customer integer, total real", filename=path, format="csv")
    files.execute("CREATE TABLE customers (id integer PRIMARY KEY, name text)")
    files.executemany(
        "INSERT INTO customers VALUES (?, ?)", [(i, f"c{i}") for i in range(0, 10, 3)]
    )
    got = rows(
        files,
        "SELECT c.name, count(*), sum(o.total) FROM orders o JOIN customers c "
        "ON c.id = o.customer GROUP BY c.name ORDER BY c.name",
    )
    want = [(f"c{c}", 200, sum(i + 0.5 for i in range(2000) if i % 10 == c)) for c in (0, 3, 6, 9)]
    assert got == want


def random_rows(count: int, seed: int = 7) -> list[tuple]:
    rng = random.Random(seed)
    pieces = ["a", "b", ",", '"', "\n", " ", "é", "NULL", "\\", "\t", "'", "x"]
    out = []
    for i in range(count):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        out.append(
            (
                i,
                rng.choice([None, "", text, text.upper()]),
                rng.choice([None, rng.randint(-(10**12), 10**12)]),
                rng.choice([None, rng.uniform(-1e6, 1e6)]),
            )
        )
    return out


def csv_text(data: list[tuple]) -> str:
    out = []
    for row in data:
        fields = []
        for value in row:
            if value is None:
                fields.append("")
            elif isinstance(value, str) and (value == "" or any(c in value for c in ',"\n\r')):
                fields.append('"' + value.replace('"', '""') + '"')
            else:
                fields.append(repr(value) if isinstance(value, float) else str(value))
        out.append(",".join(fields) + "\n")
    return "".join(out)


def copy_text(data: list[tuple]) -> str:
    def field(value):
        if value is None:
            return "\\N"
        if isinstance(value, float):
            return repr(value)
        text = str(value)
        for a, b in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
            text = text.replace(a, b)
        return text

    return "".join("\t".join(map(field, row)) + "\n" for row in data)


@pytest.mark.parametrize("fmt", ["csv", "text"])
def test_same_results_as_a_native_table(files, tmp_path, fmt):
    data = random_rows(1500)
    text = csv_text(data) if fmt == "csv" else copy_text(data)
    path = write(tmp_path / f"r.{fmt}", text)
    columns = "id integer, t text, n bigint, r double precision"
    create(files, "ft", columns, filename=path, format=fmt)
    files.execute(f"CREATE TABLE native ({columns})")
    files.executemany("INSERT INTO native VALUES (?, ?, ?, ?)", data)
    for sql in (
        "SELECT * FROM {} ORDER BY id",
        "SELECT t, count(*), sum(n), min(r) FROM {} GROUP BY t ORDER BY t",
        "SELECT count(*), count(t), count(n), count(r) FROM {}",
        "SELECT id FROM {} WHERE t IS NULL OR t = '' ORDER BY id",
        # (a second foreign scan as the inner loop of a join would read the file once
        # per outer row: SQLite builds automatic indexes on native tables only)
        "SELECT a.id, b.id FROM {} a JOIN native b ON a.n = b.n AND a.id < b.id",
    ):
        assert rows(files, sql.format("ft")) == rows(files, sql.format("native")), sql
    assert rows(files, "SELECT * FROM ft") == data


def test_csv_written_by_the_csv_module_reads_back(files, tmp_path):
    data = [(str(i), f'v {i}, with "quotes"\nand newline' if i % 3 else "") for i in range(50)]
    with open(tmp_path / "m.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL)
        writer.writerow(["k", "v"])
        writer.writerows(data)
    create(
        files, "m", "k text, v text", filename=str(tmp_path / "m.csv"), format="csv", header="match"
    )
    assert rows(files, "SELECT * FROM m") == data


def test_explain_and_estimate(files, tmp_path):
    path = write(tmp_path / "e.csv", "id,v\n" + "".join(f"{i},value {i}\n" for i in range(5000)))
    create(files, "e", "id integer, v text", filename=path, format="csv", header="true")
    text = files.explain("SELECT v FROM e WHERE id = 3")
    assert f"file {path} (format csv, header true, 77.8 kB)" in text
    assert "id = 3 (rechecked by SQLite)" in text
    wrapper = files.wrapper_for("e")[0]
    estimated, cost = wrapper.estimate([], ["v"])
    assert 3000 < estimated < 8000
    # quals change nothing: every plan reads the whole file
    assert wrapper.estimate([vtables.Qual("id", "=", 3)], ["v"]) == (estimated, cost)


# ------------------------------------------------------------------ memory


def generate(path, count: int) -> str:
    with open(path, "w", encoding="utf-8") as f:
        for start in range(0, count, 10000):
            f.write(
                "".join(
                    f'{i},"name {i}, quoted",{i * 0.5}\n'
                    if i % 4 == 0
                    else f"{i},name {i},{i * 0.5}\n"
                    for i in range(start, min(start + 10000, count))
                )
            )
    return str(path)


def test_memory_stays_flat(files, tmp_path):
    for count in (50_000, 200_000):
        path = generate(tmp_path / f"g{count}.csv", count)
        create(files, f"g{count}", "id integer, name text, x real", filename=path, format="csv")
    assert rows(files, "SELECT count(*) FROM g50000") == [(50_000,)]  # warm up
    peaks = {}
    for count in (50_000, 200_000):
        tracemalloc.start()
        try:
            got = rows(files, f"SELECT count(*) FROM g{count}")
            peaks[count] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert got == [(count,)]
    assert peaks[200_000] < 1_000_000, peaks
    assert peaks[200_000] < peaks[50_000] * 1.5 + 100_000, peaks

    # Returning values: tracemalloc makes a scan ten times slower, so count the
    # interpreter's allocated blocks instead, early in the scan and at its end.
    cursor = files.execute("SELECT id, name, x FROM g200000")
    early = None
    seen = []
    for i, row in enumerate(cursor, 1):
        if i == 20_000:
            early = sys.getallocatedblocks()
        seen[:] = [row]
    assert seen == [(199_999, "name 199999", 199_999 * 0.5)]
    assert sys.getallocatedblocks() - early < 1000


# ------------------------------------------------ review: COPY CSV's corners


def test_header_match_ignores_force_null_and_force_not_null(files, tmp_path):
    quoted = write(tmp_path / "q.csv", '"x",b\n1,2\n')
    bare = write(tmp_path / "b.csv", "x,b\n1,2\n")
    common = {"format": "csv", "header": "match", "null": "x"}
    create(files, "q", "x text OPTIONS (force_null 'true'), b text", filename=quoted, **common)
    create(files, "b", "x text OPTIONS (force_not_null 'true'), b text", filename=bare, **common)
    assert rows(files, "SELECT * FROM q") == [("1", "2")]  # a quoted field is never NULL here
    with pytest.raises(WrapperError, match=r'field 1: got null value \("x"\), expected "x"'):
        rows(files, "SELECT * FROM b")


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_the_end_of_data_line_ends_csv_too(files, tmp_path, newline):
    text = newline.join(["a,b", "\\.", "c,d", ""])
    create(files, "e", "x text, y text", filename=write(tmp_path / "e.csv", text), format="csv")
    assert rows(files, "SELECT * FROM e") == [("a", "b")]
    # quoted, or with more on its line, it is data
    data = write(tmp_path / "d.csv", 'a,b\n"\\.",x\n\\.x,y\n')
    create(files, "d", "x text, y text", filename=data, format="csv")
    assert rows(files, "SELECT * FROM d") == [("a", "b"), ("\\.", "x"), ("\\.x", "y")]


@pytest.mark.parametrize("fmt", ["csv", "text"])
def test_a_nul_byte_is_refused_with_its_line(files, tmp_path, fmt):
    sep = "," if fmt == "csv" else "\t"
    path = write(tmp_path / "n.txt", f"a{sep}b\nc{sep}d\x00e\n")
    create(files, "n", "x text, y text", filename=path, format=fmt)
    with pytest.raises(WrapperError, match=r"line 2: invalid byte sequence for encoding .*: 0x00"):
        rows(files, "SELECT * FROM n")
    quoted = write(tmp_path / "m.csv", 'a,"b\x00\nc"\n')
    create(files, "m", "x text, y text", filename=quoted, format="csv")
    if fmt == "csv":
        with pytest.raises(WrapperError, match=r"0x00"):
            rows(files, "SELECT * FROM m")


@pytest.mark.parametrize("option", ["delimiter", "quote", "escape"])
def test_options_of_several_bytes_are_refused(files, tmp_path, option):
    path = write(tmp_path / "o.csv", "a,b\n")
    with pytest.raises(InvalidOptionError, match=f"COPY {option} must be a single one-byte"):
        create(files, "o", "x text, y text", filename=path, format="csv", **{option: "é"})
