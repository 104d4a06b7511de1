"""``connect()``, the Connection and Cursor subclasses, and the statement router."""

from __future__ import annotations

import abc
import getpass
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import apsw

from . import catalog, commands, grammar, inserts, module, speedups, sqltext, statements, views
from .errors import (
    FeatureNotSupportedError,
    SQLMedSyntaxError,
)
from .explain import ForeignScan
from .explain import explain as explain_text
from .explain import foreign_scans as foreign_scans_of
from .session import Session

_PLAIN_CACHE_SIZE = 4096
_SCHEMA_RETRIES = 20
#: an IN whose right side is a query or a table (APSW's module must not take
#: its list whole: see Session.whole_in)
_WHOLE_IN: dict[str, bool] = {}


def _whole_in(sql: str) -> bool:
    """Whether APSW's module may take ``sql``'s IN lists whole (known per text)."""
    whole = _WHOLE_IN.get(sql)
    if whole is None:
        whole = _IN_SUBQUERY.search(sql) is None
        if len(_WHOLE_IN) >= _PLAIN_CACHE_SIZE:
            _WHOLE_IN.clear()
        _WHOLE_IN[sql] = whole
    return whole


_IN_SUBQUERY = re.compile(r"\bIN\b\s*(?:\(\s*(?:SELECT|WITH|VALUES)\b|[^\s(])", re.IGNORECASE)


def default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in this environment
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "user"


_cursor_execute = apsw.Cursor.execute
_cursor_executemany = apsw.Cursor.executemany
# A connection's texts already seen to hold no SQL/MED keyword and to name no
# foreign table of a SQL server (``Connection._plain``): a set lookup is the
# whole cost the router adds to ordinary statements.

# The router's hot path has two implementations that do the same, step for
# step: Cursor.execute below, and the C cursor of the speedups
# (vtables/_speedups_c/router.c), which runs plain texts and known INSERTs
# without a Python call and calls _execute, _again and _executemany for the
# rest.  A connection uses the C one when the speedups are on.


class _Router:
    """A connection's routing state on the pure-Python path (the C path's is
    ``vtables._speedups.Router``, with the same attributes)."""

    __slots__ = ("aimed", "depth", "token")

    def __init__(self) -> None:
        #: Cursor.execute calls under way (those of callbacks run inside the user's)
        self.depth = 0
        #: session.insert_target may not be None (the C router resets it only then)
        self.aimed = True
        #: (data_version, module epoch) that the known INSERT texts hold for
        self.token: tuple[int, int] | None = None


class Cursor(apsw.Cursor, metaclass=abc.ABCMeta):
    """An APSW cursor whose ``execute`` understands SQL/MED statements.

    With the C speedups on, a connection's cursors are ``vtables._speedups.Cursor``
    (registered as a virtual subclass: ``isinstance`` holds for them too)."""

    def execute(self, statements: str, bindings: Any = None, **kwargs: Any) -> apsw.Cursor:
        # The hot path of every statement: kept flat (see _top for what it does).
        conn: Connection = self.connection  # type: ignore[assignment]
        router = conn._router
        if router.depth:
            return _execute(self, statements, bindings, **kwargs)
        module = conn._module
        since = len(module.opened)
        router.depth = 1
        conn.session.insert_target = None
        try:
            conn.session.whole_in = _whole_in(statements)
            try:
                if statements in conn._plain:
                    result = _cursor_execute(self, statements, bindings, **kwargs)
                elif (known := conn._insert_texts.get(statements)) is not None and (
                    known[0] is not None and router.token == (conn.data_version(), module.epoch)
                ):  # an INSERT whose rewriting (or not) is known
                    conn.session.insert_target, router.aimed = known[1], True
                    result = _cursor_execute(self, known[0], bindings, **kwargs)
                else:
                    result = _execute(self, statements, bindings, **kwargs)
            except apsw.SchemaChangeError as err:
                result = _again(self, err, statements, bindings, **kwargs)
        except BaseException:
            module.statement_failed(since)
            raise
        finally:
            router.depth = 0
        if module.pending:
            module.flush()
        return result

    def executemany(self, statements: str, sequenceofbindings: Any, **kwargs: Any) -> apsw.Cursor:
        conn: Connection = self.connection  # type: ignore[assignment]
        conn.session.whole_in = not isinstance(statements, str) or _whole_in(statements)
        return _executemany(self, statements, sequenceofbindings, **kwargs)


def _executemany(
    cursor: apsw.Cursor, statements: str, sequenceofbindings: Any, **kwargs: Any
) -> apsw.Cursor:
    conn: Connection = cursor.connection  # type: ignore[assignment]
    if sqltext.MED_HINT.search(statements):
        segments = sqltext.plan(statements)
        if any(s.med for s in segments):
            raise FeatureNotSupportedError("executemany cannot run SQL/MED statements; use execute")
        if len(segments) == 1 and segments[0].insert:
            statements = conn.insert_text(segments[0].text) or statements
    elif sqltext.INSERT_HINT.search(statements):
        statements = conn.insert_text(statements) or statements
    return _top(cursor, _cursor_executemany, statements, sequenceofbindings, kwargs)


def _top(
    cursor: apsw.Cursor, run: Any, statements: str, bindings: Any, kwargs: dict[str, Any]
) -> Any:
    """Run a call of the user's, or of a callback while the user's is under
    way, and finish what the module leaves to the end of the user's call."""
    conn: Connection = cursor.connection  # type: ignore[assignment]
    router = conn._router
    module = conn._module
    if router.depth:
        return run(cursor, statements, bindings, **kwargs)
    since = len(module.opened)
    router.depth = 1
    conn.session.insert_target = None
    try:
        result = run(cursor, statements, bindings, **kwargs)
    except BaseException:
        module.statement_failed(since)
        raise
    finally:
        router.depth = 0
    if module.pending:  # the rows the call inserted, to insert_many in batches
        module.flush()
    return result


def _execute(cursor: apsw.Cursor, statements: str, bindings: Any = None, **kwargs: Any) -> Any:
    """What a text that is not known plain needs, and every text of a callback's call."""
    try:
        conn: Connection = cursor.connection  # type: ignore[assignment]
        if statements in conn._plain:
            return _cursor_execute(cursor, statements, bindings, **kwargs)
        known = conn._insert_texts.get(statements)
        if (
            known is not None
            and known[0] is not None
            and conn._router.token == conn._insert_state()
        ):
            conn.session.insert_target, conn._router.aimed = known[1], True
            return _cursor_execute(cursor, known[0], bindings, **kwargs)
        if not sqltext.HINT.search(statements):
            # the statement planner's when it names a foreign table of a SQL
            # server: it may send parts of it to the server
            text = conn._planner.route(statements)
            if text is not None:
                return _cursor_execute(cursor, text, bindings, **kwargs)
            if len(conn._plain) < _PLAIN_CACHE_SIZE:
                conn._plain.add(statements)
            return _cursor_execute(cursor, statements, bindings, **kwargs)
        return conn._route(cursor, statements, bindings, kwargs)
    except apsw.SchemaChangeError as err:
        return _again(cursor, err, statements, bindings, **kwargs)


def _again(
    cursor: apsw.Cursor,
    err: apsw.SchemaChangeError,
    statements: str,
    bindings: Any = None,
    **kwargs: Any,
) -> Any:
    """Run a statement again that failed (``err``) because another connection
    changed the schema while a foreign table was being connected for it.

    SQLite prepares a statement again by itself when the schema changes,
    but a foreign table reads the catalog while SQLite prepares, and that
    read cannot see past the schema SQLite is preparing with.  A single
    statement that failed this way failed before it ran, so running it
    again is safe; in a script, earlier statements may have run.
    """
    if sqltext.statement_count(statements) != 1:
        raise err
    for attempt in range(_SCHEMA_RETRIES):
        try:
            if sqltext.HINT.search(statements):
                conn: Connection = cursor.connection  # type: ignore[assignment]
                return conn._route(cursor, statements, bindings, kwargs)
            return _cursor_execute(cursor, statements, bindings, **kwargs)
        except apsw.SchemaChangeError:
            if attempt == _SCHEMA_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


if speedups.built() and hasattr(speedups._speedups, "Cursor"):
    Cursor.register(speedups._speedups.Cursor)


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
        #: what the router keeps: the calls under way, the token of _insert_texts
        self._router: Any = _Router()
        self._insert_texts: dict[str, tuple[str | None, tuple[str, bool] | None]] = {}
        self._plain = self.session.plain_texts
        #: the statement planner: joins, aggregates and sorts sent to SQL servers
        self._planner = statements.Planner(self.session)
        self.cursor_factory = Cursor
        for fname in sqltext.USER_FUNCTIONS:
            self.create_scalar_function(
                fname.lower(),
                self._current_user,  # type: ignore[arg-type]  # apsw's stub: *args only
                0,
                deterministic=True,
            )
        self._module = module.register(self.session)
        self._route_in_c()
        self.set_rollback_hook(self.forget_inserts)
        views.register(self.session)
        self.session.install_extension_functions()
        # A view or trigger stored in a file may not call a function that
        # runs statements or reaches outside the database: SQLITE_DIRECTONLY.
        self.create_scalar_function(
            "sqlmed_explain",
            self._explain_sql,  # type: ignore[arg-type]  # apsw's stub: *args only
            1,
            flags=apsw.SQLITE_DIRECTONLY,
        )

    def _route_in_c(self) -> None:
        """With the speedups on, cursors whose execute runs in C (the same steps)."""
        router = speedups.router(
            self,
            self._module,
            self.session,
            self._plain,
            self._insert_texts,
            (_execute, _again, _executemany),
        )
        if router is not None:
            self._router = self.cursor_factory = router

    @property
    def user(self) -> str:
        """The user SQL/MED statements and user mappings are resolved for."""
        return self.session.user

    @user.setter
    def user(self, value: str) -> None:
        self.session.user = value
        self.session.forget_wrappers()

    @property
    def statement_pushdown(self) -> bool:
        """Whether joins, aggregates and sorts over one SQL server's tables are
        sent to it as one query (on by default; the server option
        ``statement_pushdown 'false'`` turns it off for one server)."""
        return self._planner.enabled

    @statement_pushdown.setter
    def statement_pushdown(self, value: bool) -> None:
        self._planner.enabled = bool(value)
        self._plain.clear()

    @property
    def notices(self) -> list[str]:
        """Messages PostgreSQL would send as NOTICE (``... does not exist, skipping``)."""
        return self.session.notices

    def install_functions(self, extension: str) -> None:
        """Make the SQL functions of ``extension``'s wrapper callable here."""
        self.session.install_functions(extension)

    def _explain_sql(self, sql: str) -> str:
        return explain_text(self.session, sql)

    def explain(self, sql: str, bindings: Any = None) -> str:
        """The pushdown plan of ``sql``: each part sent to a server as one
        query (statement pushdown), then for each foreign scan that remains,
        the wrapper, the quals, columns, sort and limit pushed down, and the
        request sent."""
        planned = self._planned(sql)
        if planned is None:
            return explain_text(self.session, sql, bindings)
        lines = []
        if planned.held:
            names = ", ".join(sqltext.quote_ident(name) for name in planned.held)
            lines.append(f"Read once per statement: {names}")
        for block in planned.blocks:
            what = f"tables {', '.join(block.tables)}" if block.tables else "sqlmed_query"
            lines.append(f"Remote Query on {block.where} ({what})")
            lines.append(f"  {block.label}: {block.remote_sql}")
        if planned.blocks or planned.held:  # what stays in SQLite, over the results
            shown = planned.text.replace(self._planner.prefix, "sqlmed_q_")  # unguessable
            lines.append(f"Local SQL: {shown}")
        rest = explain_text(self.session, planned.text, bindings)
        if rest != "(no foreign scans)":
            lines.append(rest)
        return "\n".join(lines)

    def _planned(self, sql: str) -> statements.Planned | None:
        planner = self._planner
        if sqltext.HINT.search(sql):
            return None
        return planner.planned(sql) if planner.names_foreign_table(sql) else None

    def foreign_scans(self, sql: str, bindings: Any = None) -> list[ForeignScan]:
        """The foreign scans SQLite would run for ``sql``, in the order it runs them."""
        return foreign_scans_of(self.session, sql, bindings)

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
                # one statement: never None (None is for a script)
                sql = self.insert_text(segments[0].text)  # type: ignore[assignment]
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
        if state != self._router.token:
            self._insert_texts.clear()
            self._router.token = state
        known = self._insert_texts.get(text)
        if known is None:
            known = self._rewrite_insert(text)
            if len(self._insert_texts) < _PLAIN_CACHE_SIZE:
                self._insert_texts[text] = known
        self.session.insert_target, self._router.aimed = known[1], True
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
            self._plain.clear()  # a text may now name a foreign table

    # ------------------------------------------------------------ wrappers

    def wrapper_for(self, table_name: str) -> tuple[Any, list[catalog.Column]]:
        """The wrapper instance serving a foreign table for this connection's user."""
        return self.session.wrapper_for(table_name)


# With the speedups, conn.execute makes the C cursor and runs it without
# looking up cursor() and execute (a connection on the pure path, or with
# another cursor_factory, gets APSW's execute).
if (_fast_execute := speedups.execute_method(Connection)) is not None:
    Connection.execute = _fast_execute  # type: ignore[method-assign]


def _relocate(err: SQLMedSyntaxError, script: str, offset: int) -> SQLMedSyntaxError:
    """Give a syntax error found in one statement the position it has in the script."""
    if err.line is None or offset == 0:
        return err
    assert err.column is not None  # the parser gives both or neither
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


def foreign_scans(conn: Connection, sql: str, bindings: Any = None) -> list[ForeignScan]:
    """The foreign scans SQLite would run for ``sql`` on ``conn``: for each, the
    wrapper, the quals, columns, sort and limit pushed down, and the request
    sent.  ``sql`` must be one statement: it is prepared, never run."""
    return conn.foreign_scans(sql, bindings)


def explain_plan(conn: Connection, sql: str, bindings: Any = None) -> str:
    """The pushdown plan of ``sql`` on ``conn`` as text, one block per foreign scan."""
    return conn.explain(sql, bindings)
