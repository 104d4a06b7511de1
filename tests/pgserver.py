"""A throwaway PostgreSQL server for tests and benchmarks.

Finds the server binaries (``pg_config --bindir``, then Debian's usual
place), runs ``initdb`` in a temporary directory (as the ``postgres`` OS user
when we are root, since PostgreSQL refuses to run as root) and starts it on a
free loopback port.  Nothing here skips: when the binaries are missing,
``PostgresServer()`` raises.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time


def find_bindir() -> str:
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for bindir in candidates:
        if bindir and os.path.exists(os.path.join(bindir, "initdb")):
            return bindir
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; install the postgresql package"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """``passwords=True``: every role but ``postgres`` must log in over TCP with
    its password (scram-sha-256); by default every login is trusted."""

    def __init__(self, *, passwords: bool = False) -> None:
        self.bindir = find_bindir()
        self.root = tempfile.mkdtemp(prefix="sqlmed-pg-")
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync")
        if passwords:
            with open(os.path.join(self.data, "pg_hba.conf"), "w") as hba:
                hba.write(
                    "local all all trust\n"
                    "host all postgres 127.0.0.1/32 trust\n"
                    "host all all 127.0.0.1/32 scram-sha-256\n"
                )
        self._run(
            "pg_ctl",
            "-D",
            self.data,
            "-l",
            os.path.join(self.root, "log"),
            "-w",
            "start",
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
        )
        self.host = "127.0.0.1"
        self.log = os.path.join(self.root, "log")

    def _run(self, tool: str, *args: str) -> str:
        cmd = [os.path.join(self.bindir, tool), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"{tool} failed: {out.stderr or out.stdout}")
        return out.stdout

    def _psql(self, dbname: str, *args: str, script: str | None = None) -> str:
        psql = os.path.join(self.bindir, "psql")
        cmd = [
            psql if os.path.exists(psql) else "psql",
            "-X",
            "-q",
            "-A",
            "-t",
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            dbname,
            "-v",
            "ON_ERROR_STOP=1",
            *args,
        ]
        out = subprocess.run(cmd, input=script, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr}")
        return out.stdout

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        return self._psql(dbname, "-c", sql)

    def timed(self, sql: str, dbname: str = "postgres") -> float:
        """Seconds the server spent on ``sql`` (psql's \\timing, the last statement)."""
        script = "\\timing on\n" + sql.rstrip(";") + ";\n"
        out = self._psql(dbname, "-o", "/dev/null", script=script)
        times = [float(line.split()[1]) for line in out.splitlines() if line.startswith("Time:")]
        return times[-1] / 1000.0

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    start = time.perf_counter()
    with PostgresServer() as pg:
        print(pg.psql("SELECT version()").strip(), f"({time.perf_counter() - start:.1f}s)")


def serving(prepare, *, passwords: bool = True):
    """A server fixture's body: a new server, made ready by ``prepare(server)``,
    yielded, and stopped afterwards (also when ``prepare`` fails)."""
    server = PostgresServer(passwords=passwords)
    try:
        prepare(server)
        yield server
    finally:
        server.stop()


def owned_database(server, dbname: str, password: str, *, logged: bool = False) -> str:
    """A login role ``fdw`` (``password``) owning a new database ``dbname``,
    its statements in the server log when ``logged``; sets and returns
    ``server.dsn`` for it."""
    import psycopg
    from psycopg import sql

    admin = f"host={server.host} port={server.port} user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(sql.SQL("CREATE ROLE fdw LOGIN PASSWORD {}").format(sql.Literal(password)))
        c.execute(sql.SQL("CREATE DATABASE {} OWNER fdw").format(sql.Identifier(dbname)))
        if logged:
            c.execute("ALTER ROLE fdw SET log_statement = 'all'")
    server.dsn = (
        f"host={server.host} port={server.port} user=fdw password={password} dbname={dbname}"
    )
    return server.dsn


def foreign_server(server, dbname: str, password: str, name: str = "s") -> str:
    """The SQL/MED statements that reach ``dbname`` on ``server`` as role fdw:
    postgres_fdw, a server ``name`` and the current user's mapping."""
    return f"""
        CREATE EXTENSION postgres_fdw;
        CREATE SERVER {name} FOREIGN DATA WRAPPER postgres_fdw
            OPTIONS (host '{server.host}', port '{server.port}', dbname '{dbname}');
        CREATE USER MAPPING FOR CURRENT_USER SERVER {name}
            OPTIONS (user 'fdw', password '{password}');
    """


def remote(server, query, params=None):
    """Run ``query`` on ``server`` as its ``dsn`` says; its rows, if it has any."""
    import psycopg

    with psycopg.connect(server.dsn, autocommit=True) as c:
        cur = c.execute(query, params)
        return cur.fetchall() if cur.description else None


class Log:
    """Statements the server logged (log_statement) since ``mark``."""

    def __init__(self, server):
        self.path = server.log
        self.mark()

    def mark(self) -> None:
        self.offset = os.path.getsize(self.path)

    def lines(self) -> list[str]:
        with open(self.path, encoding="utf-8", errors="replace") as f:
            f.seek(self.offset)
            text = f.read()
        return [line for line in text.splitlines() if "statement: " in line or "execute " in line]

    def inserts(self) -> list[str]:
        return [line for line in self.lines() if "INSERT INTO" in line]

    def first_parameters(self) -> list[str]:
        """The value of $1 of each logged INSERT."""
        import re

        with open(self.path, encoding="utf-8", errors="replace") as f:
            f.seek(self.offset)
            return re.findall(r"INSERT INTO[^\n]*\n[^\n]*parameters: \$1 = '([^']*)'", f.read())


def registering(cls):
    """An autouse fixture that installs wrapper ``cls`` for each test of a module."""
    import pytest

    import vtables

    @pytest.fixture(autouse=True)
    def _registered():
        vtables.register_wrapper(cls)
        yield
        vtables.unregister_wrapper(cls.name)

    return _registered
