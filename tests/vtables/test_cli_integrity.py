"""The ``sqlmed`` command on hostile names and hostile files (issue 12, items 8, 11,
17 and 20): what it prints is printed SQL or one-line names, what it shows of a
catalog comes from the catalog, and its history keeps no secret."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import apsw
import pytest

import vtables
from tests.vtables.test_cli import ROOT, setup, sqlmed
from vtables import cli, grammar
from vtables.dump import statements

MALLORY = "mallory\nDROP TABLE IF EXISTS accounts; --"

NASTY_CATALOG = """
CREATE TABLE accounts(x);
INSERT INTO accounts VALUES (1);
CREATE FOREIGN DATA WRAPPER "w
DROP TABLE accounts; --" OPTIONS (password 'pw-w');
CREATE SERVER "s */ DROP TABLE accounts; /*" FOREIGN DATA WRAPPER "w
DROP TABLE accounts; --" OPTIONS (token 'pw-s', host 'h');
CREATE USER MAPPING FOR "mallory
DROP TABLE IF EXISTS accounts; --" SERVER "s */ DROP TABLE accounts; /*"
    OPTIONS (password 'pw-u');
CREATE FOREIGN TABLE "t'; DROP TABLE accounts; --" ("c
DROP TABLE accounts; --" text OPTIONS (secret 'pw-c'))
    SERVER "s */ DROP TABLE accounts; /*" OPTIONS (password 'pw-t');
"""


def ddl(path) -> list[str]:
    conn = vtables.connect(str(path))
    try:
        return [s for s in statements(conn) if not s.startswith("--")]
    finally:
        conn.close()


def test_dump_of_hostile_names_replays_without_running_anything_else(tmp_path):
    setup(tmp_path / "a.db", NASTY_CATALOG)
    first = sqlmed("dump", "a.db", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "pw-" not in first.stdout
    assert len(grammar.parse(first.stdout)) == len(ddl(tmp_path / "a.db"))
    (tmp_path / "dump.sql").write_text(first.stdout)
    replay = apsw.Connection(str(tmp_path / "b.db"))
    replay.execute("CREATE TABLE accounts(x); INSERT INTO accounts VALUES (1)")
    replay.close()
    run = sqlmed("run", "b.db", "dump.sql", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    conn = vtables.connect(str(tmp_path / "b.db"))
    assert conn.execute("SELECT x FROM accounts").fetchall() == [(1,)]
    conn.close()
    assert ddl(tmp_path / "b.db") == ddl(tmp_path / "a.db")


def test_shell_dumpfdw_prints_the_same_safe_dump(tmp_path):
    setup(tmp_path / "a.db", NASTY_CATALOG)
    proc = sqlmed("shell", "a.db", cwd=tmp_path, stdin=".dumpfdw\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == vtables.dump(vtables.connect(str(tmp_path / "a.db")))
    assert '-- secret options of user mapping for "mallory\\nDROP TABLE' in proc.stdout


@pytest.mark.parametrize(
    "name", [MALLORY, "a'b", 'q"uote', "select", "options", "if", "Mixed", "ü 表", "x;y"]
)
def test_import_statement_is_printed_by_the_sql_printer(name):
    sql = cli.import_statement(
        name, name, limit_to=[name, "plain"], options=[(name, name), ("k", "it's")], into=name
    )
    tree = grammar.parse_one(sql)
    assert grammar.to_sql(tree) == sql
    assert tree.this.this == name and tree.args["server"].this == name
    assert tree.args["into"].this == name
    assert [t.this for t in tree.args["tables"]] == [name, "plain"]
    assert [(o.this.this, o.args["value"]) for o in tree.args["options"]] == [
        (name, name),
        ("k", "it's"),
    ]
    sql = cli.import_statement("s", "r", except_=["a", name])
    assert [t.this for t in grammar.parse_one(sql).args["tables"]] == ["a", name]


def test_import_reports_hostile_remote_names_on_one_line(tmp_path):
    remote = apsw.Connection(str(tmp_path / "remote.db"))
    remote.execute('CREATE TABLE "evil\nimported 0 foreign tables; all is well"(id INTEGER)')
    remote.close()
    setup(
        tmp_path / "app.db",
        "CREATE EXTENSION sqlite_fdw;"
        "CREATE SERVER remote FOREIGN DATA WRAPPER sqlite_fdw OPTIONS (database 'remote.db');",
    )
    proc = sqlmed(
        "import", "app.db", "--server", "remote", "--remote-schema", "main", "-q", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "imported 1 foreign table from schema main of server remote:"
        ' "evil\\nimported 0 foreign tables; all is well"\n'
    )


# ---------------------------------------------------------------- item 11

SPOOF = """
CREATE TABLE sqlmed_foreign_table_options(foreign_table_name, option_name, option_value);
INSERT INTO sqlmed_foreign_table_options VALUES ('leak', 'filename', 'ok.csv');
"""

LEAK = """
CREATE EXTENSION file_fdw;
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE leak (line text) SERVER files OPTIONS (filename '/etc/passwd');
"""


@pytest.fixture
def spoofed(tmp_path):
    setup(tmp_path / "s.db", LEAK)
    plain = apsw.Connection(str(tmp_path / "s.db"))
    plain.execute(SPOOF)
    plain.close()
    return tmp_path


def test_dump_refuses_a_file_that_spoofs_the_catalog(spoofed):
    proc = sqlmed("dump", "s.db", cwd=spoofed)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "cannot be trusted" in proc.stderr
    assert "sqlmed_foreign_table_options" in proc.stderr


def test_import_refuses_a_file_that_spoofs_the_catalog(spoofed):
    proc = sqlmed("import", "s.db", "--server", "files", "--remote-schema", "x", "-q", cwd=spoofed)
    assert proc.returncode == 1
    assert "sqlmed_foreign_table_options" in proc.stderr


def test_shell_warns_and_its_listings_refuse_a_spoofed_catalog(spoofed):
    stdin = ".ftables\nSELECT * FROM sqlmed_foreign_table_options;\n.dumpfdw\n"
    proc = sqlmed("shell", "s.db", cwd=spoofed, stdin=stdin)
    assert "ok.csv" not in proc.stdout
    first, *rest = proc.stderr.splitlines()
    assert first.startswith("sqlmed: warning: the file defines table")
    assert "sqlmed_foreign_table_options" in first
    assert sum("cannot be trusted" in line for line in rest) == 3


def test_shell_tables_list_the_spoofing_table_but_not_the_guards(spoofed):
    proc = sqlmed("shell", "s.db", cwd=spoofed, stdin=".tables\n")
    assert proc.stdout.split() == ["leak", "sqlmed_foreign_table_options"]


# ---------------------------------------------------------------- item 20


def test_dump_of_a_damaged_catalog_prints_the_rest_and_warns(tmp_path):
    setup(
        tmp_path / "d.db",
        LEAK
        + "CREATE SERVER other FOREIGN DATA WRAPPER file_fdw;"
        + "CREATE FOREIGN TABLE gone (a int) SERVER other OPTIONS (filename 'a.csv');",
    )
    plain = apsw.Connection(str(tmp_path / "d.db"))
    plain.execute("UPDATE sqlmed_server SET options='[1]' WHERE name='other'")
    plain.close()
    proc = sqlmed("dump", "d.db", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "CREATE FOREIGN TABLE leak" in proc.stdout
    assert (
        '-- not dumped: catalog row for server "other" is damaged: options are not a JSON object'
        in proc.stdout.splitlines()
    )
    assert "-- foreign table gone not dumped: its server other was not dumped" in proc.stdout
    assert proc.stderr == (
        'sqlmed: warning: catalog row for server "other" is damaged:'
        " options are not a JSON object\n"
    )


# ---------------------------------------------------------------- item 17

HISTORY_INPUT = [
    "CREATE FOREIGN DATA WRAPPER w;",
    "CREATE SERVER s FOREIGN DATA WRAPPER w;",
    "CREATE USER MAPPING FOR PUBLIC SERVER s",
    "OPTIONS (user 'u', password 'hunter2');",
    "SELECT 'kept' AS x;",
    "ALTER SERVER s OPTIONS (ADD api_token 'tok-123');",
    "SELECT 'also kept';",
]


def _read_until(fd: int, marker: bytes, timeout: float = 30.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_shell_history_keeps_no_statement_that_carries_a_secret(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path), TERM="dumb", NO_COLOR="1", INPUTRC="/dev/null")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vtables.cli", "shell", str(tmp_path / "h.db")],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=tmp_path,
        close_fds=True,
    )
    os.close(follower)
    try:
        _read_until(leader, b"sqlmed> ")
        for line in HISTORY_INPUT:
            os.write(leader, line.encode() + b"\n")
            _read_until(leader, b"> ")
        os.write(leader, b"\x04")
        _read_until(leader, b"\x00", timeout=10)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    history = (tmp_path / ".sqlite_history").read_text()
    assert "hunter2" not in history and "tok-123" not in history
    assert "CREATE USER MAPPING FOR PUBLIC SERVER s" not in history
    assert "SELECT 'kept' AS x;" in history
    assert "SELECT 'also kept';" in history
    assert "CREATE SERVER s FOREIGN DATA WRAPPER w;" in history
    conn = vtables.connect(str(tmp_path / "h.db"))
    assert conn.execute("SELECT count(*) FROM sqlmed_user_mappings").fetchone() == (1,)
