"""postgres_fdw's connections: one per server and user mapping on a session, the
remote transaction following the local one, and listing and closing them
from Python and SQL.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator, Mapping
from typing import Any

import psycopg

from ...errors import (
    WrapperError,
)
from ...remote import RemoteTransaction
from ...wrapper import (
    ForeignDataWrapper,
    scrub_text,
)
from .options import check_server_options, connection_params


class _Remote(RemoteTransaction):
    """One connection to a PostgreSQL server for one user mapping.

    ``xact`` is true while a remote transaction is open; ``local`` while the
    local transaction owns it (it then ends with the local one); ``scans``
    counts server-side cursors that opened a transaction of their own.
    """

    def __init__(self, server: str, params: dict[str, Any], keep: bool):
        super().__init__()
        self.server = server
        self.keep = keep
        self.password = params.get("password") or ""
        self.conn = psycopg.connect(autocommit=True, **params)
        _text_loaders(self.conn)
        self.conn.execute(
            "SET TimeZone = 'UTC'; SET DateStyle = ISO; SET IntervalStyle = postgres;"
            " SET extra_float_digits = 3"
        )
        self.xact = False
        self.scans = 0
        #: rows ``insert`` holds back, by wrapper instance: (instance, rows)
        self.pending: dict[int, tuple[Any, list[dict[str, Any]]]] = {}
        self.cursors = itertools.count(1)
        self.closed = False
        #: Why the remote transaction is aborted (PostgreSQL ignores every
        #: command after an error until the transaction ends).
        self.aborted: str | None = None

    @property
    def in_transaction(self) -> bool:
        return self.xact

    @property
    def valid(self) -> bool:
        return not self.closed and not self.conn.closed and not self.conn.broken

    def close(self) -> None:
        self.closed = True
        self.xact = self.local = False
        self.conn.close()

    def execute(self, query: Any, params: Any = None) -> psycopg.Cursor:
        return self.conn.execute(query, params)

    def open_xact(self) -> None:
        if not self.xact:
            self.execute("START TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            self.xact = True

    def end_scan(self) -> None:
        self.scans -= 1
        if self.scans <= 0 and self.xact and not self.local:
            self.scans = 0
            self.xact = False
            if self.valid:
                self.execute("COMMIT")

    def flush(self) -> None:
        pending, self.pending = self.pending, {}
        for wrapper, rows in pending.values():
            wrapper._send_inserts(rows)

    # -- the local transaction's (vtables.remote.RemoteTransaction)
    def start(self) -> None:
        self.open_xact()

    def finish(self, commit: bool) -> None:
        self.xact = False
        if not commit:
            self.execute("ROLLBACK")
            return
        aborted, self.aborted = self.aborted, None
        status = self.execute("ROLLBACK" if aborted else "COMMIT").statusmessage
        if aborted or status != "COMMIT":
            raise WrapperError(
                f'remote COMMIT failed on server "{self.server}": the remote'
                f" transaction was rolled back ({aborted or status})"
            )

    def _savepoint_sql(self, verb: str, level: int) -> None:
        if self.xact and self.local:
            self.flush()
            self.execute(f"{verb} sqlmed_sp{int(level)}")

    def mark(self, level: int) -> None:
        self._savepoint_sql("SAVEPOINT", level)

    def unmark(self, level: int) -> None:
        self._savepoint_sql("RELEASE SAVEPOINT", level)

    def undo_to(self, level: int) -> None:
        self._savepoint_sql("ROLLBACK TO SAVEPOINT", level)


#: Remote types read as PostgreSQL's own text rather than psycopg's Python
#: value, which would lose something: JSON ``null`` and JSON strings (which
#: psycopg parses into None and str), an interval's months (a timedelta
#: counts 30 days), ranges and network addresses (whose str() is Python's
#: spelling).  Arrays of them follow their elements.
_AS_TEXT = (
    "json",
    "jsonb",
    "interval",
    "inet",
    "cidr",
    "int4range",
    "int8range",
    "numrange",
    "daterange",
    "tsrange",
    "tstzrange",
)


def _text_loaders(conn: psycopg.Connection) -> None:
    from psycopg.types.string import TextLoader

    for name in _AS_TEXT:
        conn.adapters.register_loader(name, TextLoader)


def _connect(server: str, options: dict[str, str], settings: Mapping[str, Any]) -> _Remote:
    """A new connection with these merged options (``settings``: them typed)."""
    check_server_options(options, server)  # a file written by someone else
    params = connection_params(options)
    where = (
        f"{options.get('host') or options.get('hostaddr') or 'localhost'}:"
        f"{options.get('port', '5432')}"
    )
    who = f'database "{options.get("dbname", "")}" as user "{options.get("user", "")}"'
    try:
        remote = _Remote(server, params, settings["keep_connections"])
    except psycopg.Error as err:
        message = f'could not connect to server "{server}" ({where}, {who}): {str(err).strip()}'
        secrets = [options.get(k, "") for k in ("password", "sslpassword")]
        raise WrapperError(scrub_text(message, secrets)) from None
    if settings["password_required"] and not remote.conn.pgconn.used_password:
        remote.close()
        raise WrapperError(
            f'password is required for server "{server}"',
            detail="The remote server did not ask for the user mapping's password.",
            hint="Set password_required 'false' in the user mapping, or use a password.",
        )
    return remote


class ConnectedTable(ForeignDataWrapper):
    """A foreign table's way to its server: the shared connection, the
    failures it reports, and the remote transaction that follows the local one."""

    _key: str | None = None  # in the session's shared state

    @property
    def schema(self) -> str:
        return self.settings["schema_name"] or "public"

    @property
    def remote_table(self) -> str:
        return self.settings["table_name"] or self.table_name

    @property
    def label(self) -> str:
        return (
            f'foreign table "{self.table_name}" (remote table "{self.schema}"."{self.remote_table}"'
            f' on server "{self.server_name}")'
        )

    def _session_key(self) -> str:
        key = self._key
        if key is None:  # the options of an instance never change: hash them once
            params = connection_params(self.options)
            digest = hashlib.sha256(json.dumps(sorted(params.items())).encode()).hexdigest()
            key = self._key = f"postgres_fdw:{digest[:16]}"
        return key

    def remote(self) -> _Remote:
        key = self._session_key()
        cached = self.context.shared.get(key)
        if cached is not None and not cached.valid and not cached.xact:  # lost: reconnect
            self.context.shared.pop(key, None)
        remote = self.context.shared_state(
            key, lambda: _connect(self.server_name, self.options, self.settings)
        )
        if remote.aborted and remote.local:
            raise WrapperError(
                f'the remote transaction on server "{self.server_name}" was aborted by an'
                f" earlier error: {remote.aborted}",
                hint="ROLLBACK the local transaction (or ROLLBACK TO a savepoint).",
            )
        return remote

    def _existing(self) -> _Remote | None:
        return self.context.shared.get(self._session_key())

    def _fail(self, remote: _Remote | None, err: Exception, what: str = "") -> WrapperError:
        """A WrapperError for a remote failure; a lost connection is forgotten."""
        text = self.scrub(str(err).strip())
        if remote is not None and not remote.valid:
            text = f"connection to server lost: {text}"
            if not (remote.xact and remote.local):  # else COMMIT must still fail
                for key, value in list(self.context.shared.items()):
                    if value is remote:
                        self.context.shared.pop(key, None)
        elif remote is not None and remote.xact and remote.local:
            remote.aborted = text.splitlines()[0]
        elif remote is not None and remote.xact and not remote.local:
            remote.xact = False
            remote.scans = 0
            try:
                remote.execute("ROLLBACK")
            except psycopg.Error:
                pass
        prefix = f"{self.label}: {what}" + (" failed: " if what else "")
        return WrapperError(prefix + text, sqlstate=getattr(err, "sqlstate", None))

    def _run(self, query: Any, params: Any = None, what: str = "") -> psycopg.Cursor:
        remote = self.remote()
        try:
            return remote.execute(query, params)
        except psycopg.Error as err:
            raise self._fail(remote, err, what) from None

    def run_guarded(self, query: Any, params: Any) -> list[tuple]:
        """The rows of a query of the statement planner that may fail (an
        overflow) without harm to the remote transaction: inside a savepoint
        when one is open (rolled back to on error), else on its own."""
        remote = self.remote()
        inside = remote.xact
        try:
            remote.flush()
            if inside:
                remote.execute("SAVEPOINT sqlmed_guard")
        except psycopg.Error as err:
            raise self._fail(remote, err, "scan") from None
        try:
            rows = remote.execute(query, params).fetchall()
        except psycopg.Error as err:
            if not remote.valid:
                raise self._fail(remote, err, "scan") from err
            if inside:
                self._undo_guard(remote)
            failure = WrapperError(
                f"{self.label}: scan failed: {self.scrub(str(err).strip())}",
                sqlstate=getattr(err, "sqlstate", None),
            )
            raise failure from err
        if inside:
            try:
                remote.execute("RELEASE SAVEPOINT sqlmed_guard")
            except psycopg.Error as err:
                raise self._fail(remote, err, "scan") from None
        self._release(remote)
        return rows

    def _undo_guard(self, remote: _Remote) -> None:
        try:
            remote.execute("ROLLBACK TO SAVEPOINT sqlmed_guard; RELEASE SAVEPOINT sqlmed_guard")
        except psycopg.Error as err:
            raise self._fail(remote, err, "rollback to savepoint") from None

    def begin(self) -> None:
        remote = self.remote()
        try:
            remote.begin()
        except psycopg.Error as err:
            raise self._fail(remote, err, "begin") from None

    def pre_commit(self) -> None:
        remote = self._existing()
        if remote is None:
            return
        if remote.pending and not remote.aborted:
            remote.flush()
        try:
            remote.end(commit=True)
        except psycopg.Error as err:
            raise self._fail(remote, err, "remote COMMIT") from None

    def commit(self) -> None:
        self.pre_commit()
        self._after_transaction()

    def rollback(self) -> None:
        remote = self._existing()
        if remote is None:
            return
        remote.pending.clear()
        remote.aborted = None
        if remote.xact and remote.local:
            remote.scans = 0
            try:
                remote.end(commit=False)
            except psycopg.Error:
                # The connection is gone, and the remote transaction with it.
                self._fail(remote, psycopg.OperationalError("rollback"))
        self._after_transaction()

    def _after_transaction(self) -> None:
        remote = self._existing()
        if remote is not None:
            self._release(remote)

    def _release(self, remote: _Remote) -> None:
        """keep_connections 'false': close the connection once no transaction
        and no read uses it, as PostgreSQL closes it at transaction end."""
        if remote.keep or remote.xact or remote.scans or remote.closed:
            return
        key = self._session_key()
        if self.context.shared.get(key) is remote:
            self.context.shared.pop(key, None)
        remote.close()

    def _savepoint(self, what: str, level: int) -> None:
        remote = self._existing()
        if remote is None:
            return
        try:
            (remote.savepoint if what == "savepoint" else remote.release)(level)
        except psycopg.Error as err:
            raise self._fail(remote, err, what) from None

    def savepoint(self, level: int) -> None:
        self._savepoint("savepoint", level)

    def release(self, level: int) -> None:
        self._savepoint("release savepoint", level)

    def rollback_to(self, level: int) -> None:
        remote = self._existing()
        # level -1: the start of a transaction a SAVEPOINT opened
        if remote is not None and (level in remote.savepoints or (level < 0 and remote.local)):
            remote.pending.clear()
            aborted, remote.aborted = remote.aborted, None
            try:
                remote.rollback_to(level)
            except psycopg.Error as err:
                error = self._fail(remote, err, "rollback to savepoint")
                remote.aborted = aborted
                raise error from None


def _remote_state(owner: Any) -> dict[str, dict[str, Any]]:
    """The per-server state of a session (what SQL functions are given) or of
    a connection's session."""
    return getattr(owner, "session", owner).remote


def _remotes(conn: Any) -> Iterator[tuple[str, str, _Remote]]:
    for server, state in list(_remote_state(conn).items()):
        for key, value in list(state.items()):
            if isinstance(value, _Remote):
                yield server, key, value


def get_connections(conn: Any) -> list[tuple[str, bool]]:
    """(server name, valid) for each open postgres_fdw connection of ``conn``."""
    return [(server, remote.valid) for server, _key, remote in _remotes(conn)]


def disconnect(conn: Any, server: str) -> bool:
    """Close the connections to ``server`` that are not in a transaction."""
    closed = False
    for name, key, remote in _remotes(conn):
        if name == server and not remote.xact:
            _remote_state(conn)[name].pop(key, None)
            remote.close()
            closed = True
    return closed


def disconnect_all(conn: Any) -> bool:
    """Close every postgres_fdw connection of ``conn`` not in a transaction."""
    closed = False
    for name, _key, _remote in list(_remotes(conn)):
        closed = disconnect(conn, name) or closed
    return closed


def _get_connections_json(conn: Any) -> str:
    return json.dumps([{"server_name": s, "valid": v} for s, v in get_connections(conn)])


def register_functions(conn: Any) -> None:
    """Install the SQL functions on ``conn`` (CREATE EXTENSION postgres_fdw, and
    opening a database that has it, already do)."""
    conn.install_functions("postgres_fdw")
