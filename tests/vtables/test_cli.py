"""The ``sqlmed`` command, run as a separate process the way a person runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import apsw
import pytest

import vtables
from vtables import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sqlmed(*args: str, cwd, stdin: str | None = None, module: str = "vtables.cli"):
    env = dict(os.environ, NO_COLOR="1", COLUMNS="120")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def rows_of(out: str) -> list[list[str]]:
    """The cells of every data row of the tables printed by ``format_table``."""
    lines = out.splitlines()
    found = []
    for i, line in enumerate(lines):
        if i and set(line) <= set("-+") and "-" in line:
            for row in lines[i + 1 :]:
                if row.startswith("(") and row.endswith(")"):
                    break
                found.append([cell.strip() for cell in row.split(" | ")])
    return found


def setup(path, sql: str) -> None:
    """Prepare a database in this process (faster than another command run)."""
    conn = vtables.connect(str(path))
    conn.execute(sql)
    conn.close()


def remote_db(path, tables: int) -> None:
    conn = apsw.Connection(str(path))
    for i in range(tables):
        conn.execute(f"CREATE TABLE t{i:02d}(id INTEGER NOT NULL PRIMARY KEY, v TEXT)")
    conn.execute("INSERT INTO t03 VALUES (1, 'one'), (2, 'two'), (3, 'three')")
    conn.close()


# -------------------------------------------------------------------- demo


def test_demo_joins_three_sources_and_shows_the_plan(tmp_path):
    first = sqlmed("demo", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert (tmp_path / "sqlmed-demo.db").exists()
    assert (tmp_path / "sqlmed-demo-orders.db").exists()
    assert rows_of(out) == [
        ["United States", "Margaret Hamilton", "Boston", "2", "485.0"],
        ["United Kingdom", "Ada Lovelace", "London", "2", "217.5"],
        ["United States", "Grace Hopper", "New York", "2", "169.7"],
        ["United Kingdom", "Tim Berners-Lee", "NULL", "1", "130.0"],
        ["Finland", "Linus Torvalds", "Helsinki", "1", "65.0"],
        ["Netherlands", "Edsger Dijkstra", "Rotterdam", "1", "18.75"],
    ]
    assert "(6 rows)" in out
    assert "Foreign Scan on customers (server demo_files, wrapper file_fdw)" in out
    assert "Foreign Scan on orders (server demo_shop, wrapper sqlite_fdw)" in out
    assert "ordered_on >= '2024-01-01' (exact)" in out
    assert 'WHERE "ordered_on" >= ?' in out
    assert "sqlmed shell sqlmed-demo.db" in out
    # a second run on the same files gives the same answer
    again = sqlmed("demo", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout == out
    # and python -m vtables is the same demo
    module = sqlmed(str(tmp_path / "other.db"), cwd=tmp_path, module="vtables")
    assert module.returncode == 0, module.stderr
    assert rows_of(module.stdout) == rows_of(out)
    assert (tmp_path / "other-orders.db").exists()


# ------------------------------------------------------------------- shell

SHELL_INPUT = """\
CREATE EXTENSION file_fdw; CREATE SERVER files FOREIGN DATA WRAPPER file_fdw; SELECT 'after server';
CREATE FOREIGN TABLE people (id integer NOT NULL, name text)
    SERVER files OPTIONS (filename 'people.csv', format 'csv', header 'true');
SELECT id, name, current_user FROM people ORDER BY id;
CREATE FOREIGN DATA WRAPPER dummy;
CREATE SERVER remote FOREIGN DATA WRAPPER dummy OPTIONS (host 'db.example');
CREATE USER MAPPING FOR CURRENT_USER SERVER remote OPTIONS (user 'bob', password 'hunter2');
CREATE USER MAPPING FOR carol SERVER remote OPTIONS (user 'carol');
DROP SERVER IF EXISTS nowhere;
.wrappers
.servers
.mappings
.ftables
.explainfdw SELECT name FROM people WHERE name = 'it''s'
SELECT count(*) FROM sqlmed_foreign_tables;
"""


def test_shell_reads_sql_med_and_lists_the_catalog(tmp_path):
    (tmp_path / "people.csv").write_text("id,name\n1,ann\n2,bob\n")
    proc = sqlmed("--user", "alice", "shell", "app.db", cwd=tmp_path, stdin=SHELL_INPUT)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # statements on one line, SQL/MED and SQL mixed, run in order
    assert lines[0] == "after server"
    assert lines[1:3] == ["1|ann|alice", "2|bob|alice"]
    assert 'NOTICE:  server "nowhere" does not exist, skipping' in proc.stderr
    assert "wrapper|handler|validator|options|comment" in lines
    assert "file_fdw|file_fdw_handler|file_fdw_validator||" in lines
    assert "remote|dummy|||host=db.example|" in lines
    # secrets masked; other users' mapping options hidden
    assert "alice|remote|user=bob, password=********" in lines
    assert "carol|remote|user=(hidden)" in lines
    assert "hunter2" not in proc.stdout + proc.stderr
    assert (
        "people|files|id integer, name text|filename=people.csv, format=csv, header=true|" in lines
    )
    assert "Foreign Scan on people (server files, wrapper file_fdw)" in lines
    assert '  Quals: name = "it\'s" (rechecked by SQLite)' in lines
    assert lines[-1] == "1"
    # the objects are in the file
    conn = apsw.Connection(str(tmp_path / "app.db"))
    assert conn.execute("SELECT name FROM sqlmed_ftable").fetchall() == [("people",)]


def test_shell_tables_leave_out_the_catalog(tmp_path):
    stdin = (
        "CREATE EXTENSION file_fdw;\n"
        "CREATE SERVER f FOREIGN DATA WRAPPER file_fdw;\n"
        "CREATE FOREIGN TABLE ft (a int) SERVER f OPTIONS (filename 'x.csv');\n"
        "CREATE TABLE loc (b int);\n"
        ".tables\n"
        ".tables l%\n"
    )
    proc = sqlmed("shell", "t.db", cwd=tmp_path, stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["ft", "loc", "loc"]


def test_shell_reports_errors_and_keeps_going(tmp_path):
    stdin = "SELECT * FROM nosuch;\nCREATE SERVER s FOREIGN DATA WRAPPER nowrap;\nSELECT 42;\n"
    proc = sqlmed("shell", cwd=tmp_path, stdin=stdin)
    assert proc.stdout.splitlines() == ["42"]
    assert "no such table: nosuch" in proc.stderr
    assert 'foreign-data wrapper "nowrap" does not exist' in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1


# --------------------------------------------------------------------- run

SCRIPT = """\
CREATE EXTENSION sqlite_fdw;
CREATE SERVER remote FOREIGN DATA WRAPPER sqlite_fdw OPTIONS (database 'remote.db');
CREATE FOREIGN TABLE numbers (id integer NOT NULL, v text) SERVER remote OPTIONS ("table" 't03');
CREATE TABLE notes(id INTEGER PRIMARY KEY, note TEXT);
INSERT INTO notes VALUES (1, 'a rather long note that will not fit in a narrow column'), (3, NULL);
SELECT n.id, n.v, notes.note FROM numbers AS n LEFT JOIN notes USING (id) ORDER BY n.id;
SELECT * FROM numbers WHERE id > 10;
"""


def test_run_prints_every_result_set(tmp_path):
    remote_db(tmp_path / "remote.db", 4)
    (tmp_path / "script.sql").write_text(SCRIPT)
    proc = sqlmed("run", "app.db", "script.sql", "--width", "20", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert rows_of(proc.stdout) == [
        ["1", "one", "a rather long note…"],
        ["2", "two", "NULL"],
        ["3", "three", "NULL"],
    ]
    assert "(3 rows)" in proc.stdout
    assert " id | v\n----+---\n(0 rows)" in proc.stdout
    assert proc.stdout.index("(3 rows)") < proc.stdout.index("(0 rows)")
    # numbers are aligned to the right, text to the left
    assert "  3 | three | NULL" in proc.stdout


def test_run_failure_exits_1_with_the_error_and_no_traceback(tmp_path):
    proc = sqlmed(
        "run", "app.db", "-c", "SELECT 1;\nSELECT * FROM nosuch;\nSELECT 2;", cwd=tmp_path
    )
    assert proc.returncode == 1
    assert proc.stderr == "sqlmed: error: line 2: no such table: nosuch\n"
    assert rows_of(proc.stdout) == [["1"]]  # stopped at the failing statement

    bad = "SELECT 1;\n\nCREATE SERVER s FOREIGN\n  DATA WRAPER w;"
    proc = sqlmed("run", "app.db", "-c", bad, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("sqlmed: error: syntax error at line 4, column 8: ")
    assert "WRAPER" in proc.stderr


def test_usage_errors_and_debug(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "app.db", "missing.sql"]) == 1
    assert capsys.readouterr().err.startswith("sqlmed: error: cannot read missing.sql")
    assert cli.main(["explain", "nothere.db", "SELECT 1"]) == 1
    assert capsys.readouterr().err == "sqlmed: error: database file 'nothere.db' does not exist\n"
    assert not (tmp_path / "nothere.db").exists()
    # --debug lets the error through, traceback and all
    with pytest.raises(cli.ScriptError) as raised:
        cli.main(["--debug", "run", "app.db", "-c", "SELECT * FROM nosuch"])
    assert isinstance(raised.value.error, apsw.SQLError)


# ----------------------------------------------------------------- explain


def test_explain_shows_the_pushdown(tmp_path):
    remote_db(tmp_path / "remote.db", 4)
    setup(tmp_path / "app.db", SCRIPT)
    query = "SELECT v FROM numbers WHERE id >= 2 ORDER BY id LIMIT 1"
    proc = sqlmed("explain", "app.db", query, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "Foreign Scan on numbers (server remote, wrapper sqlite_fdw)"
    assert "  Quals: id >= 2 (exact)" in lines
    assert "  Sort: id" in lines
    assert any(line.startswith("  Request: SELECT") and '"t03"' in line for line in lines)


# ------------------------------------------------------------------ import

SERVER = (
    "CREATE EXTENSION sqlite_fdw;"
    " CREATE SERVER remote FOREIGN DATA WRAPPER sqlite_fdw OPTIONS (database 'remote.db');"
)


def test_import_foreign_schema_with_progress(tmp_path):
    remote_db(tmp_path / "remote.db", 24)
    setup(tmp_path / "app.db", SERVER)
    args = ("import", "app.db", "--server", "remote", "--remote-schema", "main")
    proc = sqlmed(*args, "--except", "t03,t04", "--except", "t05", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("imported 21 foreign tables from schema main of server remote:")
    assert proc.stderr.splitlines() == [
        "importing: 10 foreign tables created",
        "importing: 20 foreign tables created",
    ]

    proc = sqlmed(
        *args, "--limit-to", "t03", "--option", "import_not_null=false", "-q", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "imported 1 foreign table from schema main of server remote: t03\n"
    assert proc.stderr == ""
    conn = vtables.connect(str(tmp_path / "app.db"))
    dumped = vtables.dump(conn)
    # NOT NULL not imported; the remote primary key is, as key 'true'
    assert "CREATE FOREIGN TABLE t03 (id INTEGER OPTIONS (key 'true'), v TEXT)" in dumped
    assert "CREATE FOREIGN TABLE t00 (id INTEGER OPTIONS (key 'true') NOT NULL, v TEXT)" in dumped
    assert "t04" not in dumped and "t05" not in dumped
    rows = conn.execute("SELECT v FROM t03 ORDER BY id DESC").fetchall()
    assert rows == [("three",), ("two",), ("one",)]
    conn.close()

    proc = sqlmed(*args, "--limit-to", "t03", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr == 'sqlmed: error: relation "t03" already exists\n'
    proc = sqlmed(*args, "--limit-to", "t04", "--except", "t05", cwd=tmp_path)
    assert proc.returncode == 1
    assert "--limit-to and --except cannot be used together" in proc.stderr


# -------------------------------------------------------------------- dump

CATALOG = """\
CREATE EXTENSION file_fdw;
CREATE FOREIGN DATA WRAPPER dummy OPTIONS (debug 'true');
COMMENT ON FOREIGN DATA WRAPPER dummy IS 'a wrapper with no handler';
CREATE SERVER "Odd Name" TYPE 'kind' VERSION '2' FOREIGN DATA WRAPPER dummy
    OPTIONS (host 'db.example', port '5432');
CREATE USER MAPPING FOR PUBLIC SERVER "Odd Name" OPTIONS ("user" 'guest');
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE people (id integer NOT NULL, name text OPTIONS (force_not_null 'true'))
    SERVER files OPTIONS (filename 'people.csv', format 'csv', header 'true');
COMMENT ON COLUMN people.name IS 'as written in the file';
CREATE TABLE local_only(x);
"""


def test_dump_then_run_on_an_empty_database_gives_the_same_dump(tmp_path):
    setup(tmp_path / "a.db", CATALOG)
    first = sqlmed("dump", "a.db", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    text = first.stdout
    assert "CREATE EXTENSION file_fdw;" in text
    assert 'CREATE USER MAPPING FOR PUBLIC SERVER "Odd Name"' in text
    assert "local_only" not in text
    (tmp_path / "dump.sql").write_text(text)
    replay = sqlmed("run", "b.db", "dump.sql", cwd=tmp_path)
    assert replay.returncode == 0, replay.stderr
    second = sqlmed("dump", "b.db", cwd=tmp_path)
    assert second.stdout == text


# ------------------------------------------------------- in-process pieces


@pytest.mark.parametrize(
    "command", [[], ["demo"], ["shell"], ["run"], ["explain"], ["import"], ["dump"]]
)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([*command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: sqlmed {' '.join(command)}".rstrip())
    assert "--user NAME" in out


def test_format_table_aligns_truncates_and_marks_null():
    text = cli.format_table(
        ["n", "word", "blob"],
        [(1, "short", b"\x00\xff"), (250, "x" * 30, None), (None, "tab\there", b"")],
        width=10,
        null="∅",
    )
    assert text.splitlines() == [
        " n   | word       | blob",
        "-----+------------+---------",
        "   1 | short      | x'00ff'",
        " 250 | xxxxxxxxx… | ∅",
        "   ∅ | tab\\there  | x''",
        "(3 rows)",
    ]
    wide = cli.format_table(["w"], [("日本語のテキスト",)], width=7, ellipsis="...")
    assert wide.splitlines()[2] == " 日本..."
    assert cli.text_width("日本") == 4
