"""``connect()``, the Connection and Cursor subclasses, and the statement router."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping, Sequence
from typing import Any

import apsw

from . import catalog, commands, grammar, inserts, module, sqltext, views
from . import explain as explaining
from .errors import (
    FeatureNotSupportedError,
    SQLMedSyntaxError,
)
from .session import Session

_PLAIN_CACHE_SIZE = 4096
_SCHEMA_RETRIES = 20


def default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in this environment
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "user"


_cursor_execute = apsw.Cursor.execute
_cursor_executemany = apsw.Cursor.executemany
# Texts already seen to hold no SQL/MED keyword: a set lookup is the whole
# cost the router adds to ordinary statements.  What is stored depends on
# the text alone, so one cache serves every connection.
_plain: set[str] = set()


class Cursor(apsw.Cursor):
    """An APSW cursor whose ``execute`` understands SQL/MED statements."""

    def execute(self, statements: str, bindings: Any = None, **kwargs: Any) -> apsw.Cursor:
        # The hot path of every statement: kept flat (see _top for what it does).
        conn = self.connection
        if conn.depth:
            return self._execute(self, statements, bindings, **kwargs)
        module = conn._module
        since = len(module.opened)
        conn.depth = 1
        conn.session.insert_target = None
        try:
            try:
                if statements in _plain:
                    result = _cursor_execute(self, statements, bindings, **kwargs)
                elif (known := conn._insert_texts.get(statements)) is not None and (
                    known[0] is not None
                    and conn._insert_token == (conn.data_version(), module.epoch)
                ):  # an INSERT whose rewriting (or not) is known
                    conn.session.insert_target = known[1]
                    result = _cursor_execute(self, known[0], bindings, **kwargs)
                else:
                    result = self._execute(self, statements, bindings, **kwargs)
            except apsw.SchemaChangeError:
                result = self._again(statements, bindings, kwargs)
        except BaseException:
            module.statement_failed(since)
            raise
        finally:
            conn.depth = 0
        if module.pending:
            module.flush()
        return result

    def executemany(self, statements: str, sequenceofbindings: Any, **kwargs: Any) -> apsw.Cursor:
        if sqltext.MED_HINT.search(statements):
            segments = sqltext.plan(statements)
            if any(s.med for s in segments):
                raise FeatureNotSupportedError(
                    "executemany cannot run SQL/MED statements; use execute"
                )
            if len(segments) == 1 and segments[0].insert:
                statements = self.connection.insert_text(segments[0].text) or statements
        elif sqltext.INSERT_HINT.search(statements):
            statements = self.connection.insert_text(statements) or statements
        return self._top(_cursor_executemany, statements, sequenceofbindings, kwargs)

    def _top(self, run: Any, statements: str, bindings: Any, kwargs: dict[str, Any]) -> Any:
        """Run a call of the user's, or of a callback while the user's is under
        way, and finish what the module leaves to the end of the user's call."""
        conn = self.connection
        module = conn._module
        if conn.depth:
            return run(self, statements, bindings, **kwargs)
        since = len(module.opened)
        conn.depth = 1
        conn.session.insert_target = None
        try:
            result = run(self, statements, bindings, **kwargs)
        except BaseException:
            module.statement_failed(since)
            raise
        finally:
            conn.depth = 0
        if module.pending:  # the rows the call inserted, to insert_many in batches
            module.flush()
        return result

    @staticmethod
    def _execute(self: Cursor, statements: str, bindings: Any, **kwargs: Any) -> apsw.Cursor:
        try:
            if statements in _plain:
                return _cursor_execute(self, statements, bindings, **kwargs)
            conn = self.connection
            known = conn._insert_texts.get(statements)
            if (
                known is not None
                and known[0] is not None
                and conn._insert_token == conn._insert_state()
            ):
                conn.session.insert_target = known[1]
                return _cursor_execute(self, known[0], bindings, **kwargs)
            if not sqltext.HINT.search(statements):
                if len(_plain) < _PLAIN_CACHE_SIZE:
                    _plain.add(statements)
                return _cursor_execute(self, statements, bindings, **kwargs)
            return self.connection._route(self, statements, bindings, kwargs)
        except apsw.SchemaChangeError:
            return self._again(statements, bindings, kwargs)

    def _again(self, statements: str, bindings: Any, kwargs: dict[str, Any]) -> apsw.Cursor:
        """Run a statement again that failed because another connection changed
        the schema while a foreign table was being connected for it.

        SQLite prepares a statement again by itself when the schema changes,
        but a foreign table reads the catalog while SQLite prepares, and that
        read cannot see past the schema SQLite is preparing with.  A single
        statement that failed this way failed before it ran, so running it
        again is safe; in a script, earlier statements may have run.
        """
        if sqltext.statement_count(statements) != 1:
            raise
        for attempt in range(_SCHEMA_RETRIES):
            try:
                if sqltext.HINT.search(statements):
                    return self.connection._route(self, statements, bindings, kwargs)
                return _cursor_execute(self, statements, bindings, **kwargs)
            except apsw.SchemaChangeError:
                if attempt == _SCHEMA_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")


class Connection(apsw.Connection):
    """An APSW connection with the SQL/MED catalog, module and router installed."""

    def __init__(
        self,
        filename: str = ":memory:",
        flags: int = apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE,
        vfs: str | None = None,
        statementcachesize: int = 100,
        *,
        user: str | None = None,
        timeout: float = 5.0,
    ):
        super().__init__(filename, flags=flags, vfs=vfs, statementcachesize=statementcachesize)
        self.set_busy_timeout(int(timeout * 1000))
        #: what the engine's layers below know of this connection
        self.session = Session(self, user or default_user())
        #: Cursor.execute calls under way (those of callbacks run inside the user's)
        self.depth = 0
        self._insert_texts: dict[str, tuple[str | None, tuple[str, bool] | None]] = {}
        self._insert_token: tuple[int, int] | None = None
        self.cursor_factory = Cursor
        for fname in sqltext.USER_FUNCTIONS:
            self.create_scalar_function(fname.lower(), self._current_user, 0, deterministic=True)
        self._module = module.register(self.session)
        self.set_rollback_hook(self.forget_inserts)
        views.register(self.session)
        self.session.install_extension_functions()
        # A view or trigger stored in a file may not call a function that
        # runs statements or reaches outside the database: SQLITE_DIRECTONLY.
        self.create_scalar_function(
            "sqlmed_explain", self._explain_sql, 1, flags=apsw.SQLITE_DIRECTONLY
        )

    @property
    def user(self) -> str:
        """The user SQL/MED statements and user mappings are resolved for."""
        return self.session.user

    @user.setter
    def user(self, value: str) -> None:
        self.session.user = value
        self.session.forget_wrappers()

    @property
    def notices(self) -> list[str]:
        """Messages PostgreSQL would send as NOTICE (``... does not exist, skipping``)."""
        return self.session.notices

    def install_functions(self, extension: str) -> None:
        """Make the SQL functions of ``extension``'s wrapper callable here."""
        self.session.install_functions(extension)

    def _explain_sql(self, sql: str) -> str:
        return explaining.explain(self.session, sql)

    def explain(self, sql: str, bindings: Any = None) -> str:
        """The pushdown plan of ``sql``: for each foreign scan, the wrapper, the
        quals, columns, sort and limit pushed down, and the request sent."""
        return explaining.explain(self.session, sql, bindings)

    def foreign_scans(self, sql: str, bindings: Any = None) -> list[explaining.ForeignScan]:
        """The foreign scans SQLite would run for ``sql``, in the order it runs them."""
        return explaining.foreign_scans(self.session, sql, bindings)

    def _current_user(self) -> str:
        return self.session.user

    # ------------------------------------------------------------- router

    def _route(
        self, cursor: apsw.Cursor, sql: str, bindings: Any, kwargs: dict[str, Any]
    ) -> apsw.Cursor:
        if not sqltext.MED_HINT.search(sql):
            if sqltext.ROLLBACK_HINT.search(sql):
                self.forget_inserts()  # a ROLLBACK TO may undo a foreign table's definition
            text = self.insert_text(sql)  # an INSERT, looked at once; None: a script
            if text is not None:
                return apsw.Cursor.execute(cursor, text, bindings, **kwargs)
        segments = sqltext.plan(sql)
        if not any(s.med or s.user_words for s in segments):
            if len(segments) == 1 and segments[0].insert:
                sql = self.insert_text(segments[0].text)
            if len(segments) <= 1 or not any(s.insert for s in segments):
                return apsw.Cursor.execute(cursor, sql, bindings, **kwargs)
        where = sqltext.unterminated(sql)
        if where is not None:
            line, column, closer = where
            raise SQLMedSyntaxError(
                f"unterminated quoted text or comment (expected {closer})",
                line=line,
                column=column,
                sql=sql,
            )
        positional = bindings is not None and not isinstance(bindings, Mapping)
        if positional and not isinstance(bindings, Sequence):
            bindings = list(bindings)
        used = 0
        last = len(segments) - 1
        for i, seg in enumerate(segments):
            if seg.med:
                self._run_med(sql, seg)
                continue
            if positional:
                seg_bindings = bindings[used : used + seg.params]
                used += seg.params
            else:
                seg_bindings = bindings
            if seg.insert:
                text = self.insert_text(seg.text) or seg.text
            else:
                text, self.session.insert_target = seg.text, None
            while True:
                try:
                    result = apsw.Cursor.execute(cursor, text, seg_bindings or None, **kwargs)
                    break
                except apsw.SQLError as err:
                    # nothing ran: SQLite refused the statement as it prepared it
                    called = sqltext.call_unresolved_user_word(text, str(err))
                    if not seg.user_words or called is None:
                        raise
                    text = called
            if i == last:
                return result
            for _ in result:  # earlier statements run to completion, as in a script
                pass
        return apsw.Cursor.execute(cursor, "", None)

    # An INSERT's text is looked at once (vtables.inserts); what it becomes is
    # kept until the database changes (data_version: any connection's commit),
    # this connection runs SQL/MED, rolls back, or drops or renames a foreign
    # table.  Another connection's commit may show only at the next read, so
    # the module checks that an INSERT into a foreign table with defaults was
    # rewritten knowing them, and has it run again otherwise.

    def _insert_state(self) -> tuple[int, int]:
        return (self.data_version(), self._module.epoch)

    def forget_inserts(self) -> None:
        self._module.epoch += 1

    def insert_text(self, text: str) -> str | None:
        """An INSERT as SQLite must run it: rewritten when its target is a
        foreign table with defaults to fill in or an ON CONFLICT DO NOTHING,
        else as written (None for a script: its statements go one by one);
        notes its target for the module's check."""
        state = self._insert_state()
        if state != self._insert_token:
            self._insert_texts.clear()
            self._insert_token = state
        known = self._insert_texts.get(text)
        if known is None:
            known = self._rewrite_insert(text)
            if len(self._insert_texts) < _PLAIN_CACHE_SIZE:
                self._insert_texts[text] = known
        self.session.insert_target = known[1]
        return known[0]

    def _rewrite_insert(self, text: str) -> tuple[str | None, tuple[str, bool] | None]:
        """(the text to run, (its target, whether its defaults were applied))."""
        ins = inserts.parse(text)
        if ins is None:
            return (None if sqltext.statement_count(text) > 1 else text), None
        if (ins.schema or "main").lower() != "main":
            return text, None
        table = catalog.get_table(self, ins.table) if catalog.exists(self) else None
        if table is None:
            return text, (ins.table.lower(), False)
        defaults = {}
        for column in table.columns:
            if column.default is not None:
                defaults[column.name] = inserts.sqlite_default(
                    column.default, table.name, column.name, self._prepares
                )
        rewritten = inserts.rewrite(
            text, ins, [c.name for c in table.columns], defaults, table_label=f'"{table.name}"'
        )
        return (text if rewritten is None else rewritten), (table.name.lower(), True)

    def _prepares(self, expression: str) -> None:
        """Raise SQLite's error if it cannot prepare ``SELECT expression``."""
        apsw.Cursor(self).execute("EXPLAIN SELECT " + expression).fetchall()

    def _run_med(self, script: str, seg: sqltext.Segment) -> None:
        try:
            trees = grammar.parse(seg.text)
        except SQLMedSyntaxError as err:
            raise _relocate(err, script, seg.offset) from None
        try:
            for tree in trees:
                commands.execute(self.session, tree)
        finally:
            self.session.forget_wrappers()
            self.forget_inserts()

    # ------------------------------------------------------------ wrappers

    def wrapper_for(self, table_name: str) -> tuple[Any, list[catalog.Column]]:
        """The wrapper instance serving a foreign table for this connection's user."""
        return self.session.wrapper_for(table_name)


def _relocate(err: SQLMedSyntaxError, script: str, offset: int) -> SQLMedSyntaxError:
    """Give a syntax error found in one statement the position it has in the script."""
    if err.line is None or offset == 0:
        return err
    base_line, base_col = sqltext.position(script, offset)
    line = err.line + base_line - 1
    column = err.column + base_col - 1 if err.line == 1 else err.column
    return SQLMedSyntaxError(err.description, line=line, column=column, sql=script)


def connect(
    path: str = ":memory:",
    *,
    user: str | None = None,
    flags: int = apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE | apsw.SQLITE_OPEN_URI,
    vfs: str | None = None,
    statement_cache_size: int = 100,
    timeout: float = 5.0,
) -> Connection:
    """Open a SQLite database whose connection understands SQL/MED.

    ``user`` is the current user that user mappings are looked up for
    (default: the operating-system user).  ``timeout`` is how long, in
    seconds, a statement waits for a lock another connection holds before
    it fails with BusyError (as in Python's sqlite3).
    """
    return Connection(
        os.fspath(path),
        flags=flags,
        vfs=vfs,
        statementcachesize=statement_cache_size,
        user=user,
        timeout=timeout,
    )


def foreign_scans(conn: Connection, sql: str, bindings: Any = None) -> list[explaining.ForeignScan]:
    """The foreign scans SQLite would run for ``sql`` on ``conn``: for each, the
    wrapper, the quals, columns, sort and limit pushed down, and the request
    sent.  ``sql`` must be one statement: it is prepared, never run."""
    return conn.foreign_scans(sql, bindings)


def explain_plan(conn: Connection, sql: str, bindings: Any = None) -> str:
    """The pushdown plan of ``sql`` on ``conn`` as text, one block per foreign scan."""
    return conn.explain(sql, bindings)
