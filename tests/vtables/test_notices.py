"""Notices: PostgreSQL's NOTICE messages, raised by wrappers and by file_fdw's
on_error 'ignore', reaching ``conn.notices``, the ``sqlmed`` command (printed
as psql prints them) and SQLAlchemy users (logged); and the text format's
``\\.`` as PostgreSQL 15 reads it."""

from __future__ import annotations

import io
import logging

import pytest
import sqlalchemy as sa

import vtables
from vtables import ForeignDataWrapper, WrapperError, cli
from vtables.wrappers.file_fdw import FileFdw

SKIPPED_1 = "1 row was skipped due to data type incompatibility"
SKIPPED_3 = "3 rows were skipped due to data type incompatibility"


class ChattyFdw(ForeignDataWrapper):
    """Two rows, and a notice before and after them."""

    name = "chatty_fdw"

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        self.notice(f'scanning "{self.table_name}" on server "{self.server_name}"')
        yield from ({"n": 1}, {"n": 2})
        self.notice("scan done")


@pytest.fixture(autouse=True)
def _chatty():
    vtables.register_wrapper(ChattyFdw)
    yield
    vtables.unregister_wrapper("chatty_fdw")


def write(path, text: str) -> str:
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return str(path)


BAD_ROWS = "1\t10\n2\tx\n3\t30\n4\ty\n5\tz\n"  # rows 2, 4 and 5: not integers

FILES_SQL = """
CREATE EXTENSION file_fdw;
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE one_bad (id integer, n integer) SERVER files
    OPTIONS (filename {one}, on_error 'ignore');
CREATE FOREIGN TABLE three_bad (id integer, n integer) SERVER files
    OPTIONS (filename {three}, on_error 'ignore');
"""


def files_sql(tmp_path) -> str:
    one = write(tmp_path / "one.txt", "1\t10\n2\tx\n3\t30\n")
    three = write(tmp_path / "three.txt", BAD_ROWS)
    return FILES_SQL.format(one=f"'{one}'", three=f"'{three}'")


# ---------------------------------------------------------- the wrapper API


def test_wrapper_notices_reach_the_connection(conn, caplog):
    conn.execute("""
        CREATE FOREIGN DATA WRAPPER chatty HANDLER chatty_fdw_handler;
        CREATE SERVER talk FOREIGN DATA WRAPPER chatty;
        CREATE FOREIGN TABLE t (n integer) SERVER talk;
    """)
    before = list(conn.notices)
    with caplog.at_level(logging.INFO, logger=__name__):
        assert conn.execute("SELECT n FROM t").fetchall() == [(1,), (2,)]
    assert conn.notices[len(before) :] == ['scanning "t" on server "talk"', "scan done"]
    # logged on the logger of the wrapper's module
    assert [r.getMessage() for r in caplog.records if r.name == __name__] == [
        'scanning "t" on server "talk"',
        "scan done",
    ]


def test_a_wrapper_used_alone_only_logs_its_notices(caplog):
    wrapper = ChattyFdw({}, {})
    wrapper.table_name = "alone"
    with caplog.at_level(logging.INFO, logger=__name__):
        assert list(wrapper.scan([], ["n"])) == [{"n": 1}, {"n": 2}]
    assert [r.getMessage() for r in caplog.records] == [
        'scanning "alone" on server ""',
        "scan done",
    ]
    got = []
    wrapper.notify = got.append
    list(wrapper.scan([], ["n"]))
    assert got == ['scanning "alone" on server ""', "scan done"]


# ------------------------------------------------- file_fdw on_error 'ignore'


def test_on_error_ignore_counts_skipped_rows_in_a_notice(conn, tmp_path):
    conn.execute(files_sql(tmp_path))
    conn.notices.clear()
    assert conn.execute("SELECT * FROM one_bad").fetchall() == [(1, 10), (3, 30)]
    assert conn.notices == [SKIPPED_1]
    assert conn.execute("SELECT * FROM three_bad").fetchall() == [(1, 10), (3, 30)]
    assert conn.notices == [SKIPPED_1, SKIPPED_3]
    # once per scan: a scan reading no bad value says nothing
    conn.notices.clear()
    assert conn.execute("SELECT id FROM three_bad").fetchall() == [(i,) for i in range(1, 6)]
    assert conn.notices == []


def test_on_error_ignore_notices_of_a_join(conn, tmp_path):
    conn.execute(files_sql(tmp_path))
    conn.notices.clear()
    sql = "SELECT a.n, b.n FROM one_bad AS a JOIN three_bad AS b USING (id) ORDER BY 1"
    assert conn.execute(sql).fetchall() == [(10, 10), (30, 30)]
    # one notice for each scan of each table (the inner one may be scanned again)
    assert set(conn.notices) == {SKIPPED_1, SKIPPED_3}


def test_skipped_row_notice_on_a_wrapper_alone(tmp_path):
    path = write(tmp_path / "w.txt", BAD_ROWS)
    columns = {
        "id": vtables.ColumnDefinition("id", "integer"),
        "n": vtables.ColumnDefinition("n", "integer"),
    }
    wrapper = FileFdw({"filename": path, "on_error": "ignore"}, columns)
    got = []
    wrapper.notify = got.append
    rows = [tuple(r) for batch in wrapper.scan_batches([], ["id", "n"]) for r in batch]
    assert rows == [(1, 10), (3, 30)]
    assert got == [SKIPPED_3]
    assert wrapper.skipped_rows == 3


def test_no_skipped_row_notice_when_the_scan_fails(conn, tmp_path):
    path = write(tmp_path / "f.txt", "1\tx\n2\t\\.x\n")
    conn.execute(f"""
        CREATE EXTENSION file_fdw;
        CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
        CREATE FOREIGN TABLE f (id integer, n text) SERVER files OPTIONS (filename '{path}');
    """)
    conn.notices.clear()
    with pytest.raises(WrapperError, match="end-of-copy marker corrupt"):
        conn.execute("SELECT * FROM f").fetchall()
    assert conn.notices == []


# ----------------------------------------------------------- sqlmed command


def test_sqlmed_run_prints_notices_after_the_statement(tmp_path, capsys):
    db = str(tmp_path / "app.db")
    script = files_sql(tmp_path) + "SELECT count(n) FROM three_bad;\nSELECT 7;\n"
    assert cli.main(["run", db, "-c", script]) == 0
    out, err = capsys.readouterr()
    assert err == f"NOTICE:  {SKIPPED_3}\n"
    assert "(1 row)" in out


def test_shell_prints_notices_of_plain_queries(tmp_path):
    db = str(tmp_path / "app.db")
    setup = vtables.connect(db)
    setup.execute(files_sql(tmp_path))
    setup.close()
    conn = vtables.connect(db)
    out, err = io.StringIO(), io.StringIO()
    shell = cli.MedShell(db=conn, stdout=out, stderr=err)
    shell.process_sql("SELECT n FROM one_bad;")
    assert err.getvalue() == f"NOTICE:  {SKIPPED_1}\n"
    assert out.getvalue().split() == ["10", "30"]
    # SQL/MED and SQL in one text: each statement's notices after it
    shell.process_sql("DROP SERVER IF EXISTS nowhere; SELECT n FROM three_bad;")
    assert err.getvalue().splitlines()[1:] == [
        'NOTICE:  server "nowhere" does not exist, skipping',
        f"NOTICE:  {SKIPPED_3}",
    ]
    conn.close()


# --------------------------------------------------------------- SQLAlchemy


def test_sqlalchemy_users_see_notices_logged(tmp_path, caplog):
    eng = sa.create_engine(f"sqlmed:///{tmp_path / 'app.db'}")
    with eng.begin() as c:
        c.exec_driver_sql(files_sql(tmp_path))
    with caplog.at_level(logging.INFO, logger="sqlmed_dialect"):
        with eng.connect() as c:
            assert c.exec_driver_sql("SELECT * FROM three_bad").fetchall() == [(1, 10), (3, 30)]
            c.exec_driver_sql("DROP SERVER IF EXISTS nowhere")
    logged = [r.getMessage() for r in caplog.records if r.name == "sqlmed_dialect"]
    assert logged == [
        f"NOTICE:  {SKIPPED_3}",
        'NOTICE:  server "nowhere" does not exist, skipping',
    ]
    eng.dispose()


# ------------------------------------------- text format: \. as PostgreSQL 15


@pytest.fixture(params=["default", "pure Python"])
def files(request, monkeypatch):
    if request.param == "pure Python":
        monkeypatch.setenv("SQLMED_SPEEDUPS", "0")
    conn = vtables.connect(":memory:")
    conn.execute("""
        CREATE EXTENSION file_fdw;
        CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
    """)
    yield conn
    conn.close()


def text_table(conn, tmp_path, text: str, **opts: str) -> None:
    path = write(tmp_path / "t.txt", text)
    extra = "".join(f", {k} '{v}'" for k, v in opts.items())
    conn.execute("DROP FOREIGN TABLE IF EXISTS t")
    conn.execute(
        f"CREATE FOREIGN TABLE t (a text, b text) SERVER files OPTIONS (filename '{path}'{extra})"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # alone on its line: the end of the data
        ("x\ty\n\\.\nafter\tend\n", [("x", "y")]),
        # the last field of a line: ends the row there (the field is empty),
        # and COPY reads on from a file
        ("x\t\\.\nafter\tend\n", [("x", ""), ("after", "end")]),
        ("x\ty\\.\nafter\tz\n", [("x", "y"), ("after", "z")]),
        ("x\t\\.\r\nafter\tend\r\n", [("x", ""), ("after", "end")]),
        # an escaped backslash before a period is data
        ("x\ty\\\\.\n", [("x", "y\\.")]),
        ("x\t\\\\.z\n", [("x", "\\.z")]),
    ],
)
def test_backslash_period_in_text_format(files, tmp_path, text, expected):
    text_table(files, tmp_path, text)
    assert files.execute("SELECT a, b FROM t").fetchall() == expected


@pytest.mark.parametrize(
    "text",
    [
        "x\ty\\.z\n",  # in the middle of a field
        "x\t\\.\ty\n",  # a field of its own, not the last
        "x\ty\n\\.",  # alone, but the file ends without a newline
        "x\ty\\.",  # ending the file
    ],
)
def test_backslash_period_elsewhere_is_an_error(files, tmp_path, text):
    text_table(files, tmp_path, text)
    with pytest.raises(WrapperError, match="end-of-copy marker corrupt"):
        files.execute("SELECT a, b FROM t").fetchall()
