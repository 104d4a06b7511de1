"""``sqlmed shell``: APSW's interactive shell on a ``vtables`` connection, with
SQL/MED statements, their notices, and dot-commands for the catalog.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import apsw
import apsw.shell

from . import catalog, secrets, sqltext
from .connection import Connection, connect
from .dump import dump


class MedShell(apsw.shell.Shell):
    """APSW's shell on a ``vtables`` connection, with SQL/MED statements and
    dot-commands for the catalog.

    APSW's shell finds statement boundaries by running the text with an
    execution tracer that stops at the first statement; the router runs
    SQL/MED statements before SQLite sees them, so such text is split here
    first and only plain SQL is handed to the shell's own machinery.
    """

    # APSW's shell opens a plain apsw.Connection for ``.open``, replaced at once
    _db: Any

    def __init__(self, *, user: str | None = None, **kwargs: Any):
        self.med_user = user
        self.failures = 0
        super().__init__(**kwargs)
        self.prompt = "sqlmed> "
        self.moreprompt = "   ...> "

    def _ensure_db(self) -> Connection:
        if self._db is None:
            self._db = connect(self.dbfilename or ":memory:", user=self.med_user)
            self._apply_fts()
        return self._db

    db = property(_ensure_db, apsw.shell.Shell._set_db, None, "The current vtables.Connection")

    def handle_exception(self) -> None:
        self.failures += 1
        super().handle_exception()

    def get_complete_line(self) -> str | None:
        # readline puts each line typed into the history, which is written to
        # the history file at exit: the lines of a statement that gives a
        # secret option a value are taken out again once it is complete.
        history = _readline() if getattr(self, "_using_readline", False) else None
        before = history.get_current_history_length() if history else 0
        command = super().get_complete_line()
        if history and command is not None and secrets.carries_secret(command):
            for pos in range(history.get_current_history_length() - 1, before - 1, -1):
                history.remove_history_item(pos)
        return command

    def command_open(self, cmd: list[str]) -> None:
        super().command_open(cmd)
        plain = self._db
        if isinstance(plain, Connection):
            return
        self.db_references.discard(plain)
        filename, flags, vfs = plain.filename, plain.open_flags, plain.open_vfs
        plain.close()
        self._db = Connection(filename, flags=flags, vfs=vfs, user=self.med_user)
        self._apply_fts()
        self.db_references.add(self._db)

    command_open.__doc__ = apsw.shell.Shell.command_open.__doc__

    def process_sql(
        self, sql: str, bindings: Any = None, internal: bool = False, summary: Any = None
    ) -> None:
        if internal:
            return super().process_sql(sql, bindings, internal, summary)
        if not sqltext.HINT.search(sql):
            # notices of plain SQL: a wrapper's, raised by the scans of a query
            with self._notices():
                return super().process_sql(sql, bindings, internal, summary)
        where = sqltext.unterminated(sql)
        if where is not None:
            self.db.execute(sql)  # raises the router's error naming line and column
        for seg in sqltext.plan(sql):
            with self._notices():
                if not seg.med:
                    super().process_sql(seg.text, bindings, internal, summary)
                    continue
                if self.echo:
                    self.write_error(seg.text.strip() + "\n")
                self.db.execute(seg.text)

    @contextlib.contextmanager
    def _notices(self) -> Iterator[None]:
        """Print the notices raised within, as psql does: ``NOTICE:  ...``
        on standard error after the statement, failed or not."""
        notices = self.db.notices
        seen = len(notices)
        try:
            yield
        finally:
            for message in notices[seen:]:
                self.write(self.stderr, f"NOTICE:  {message}\n")

    def process_command(self, command: str) -> None:
        # The query after .explainfdw is kept as written, not split as shell words.
        word, _, rest = command.strip().partition(" ")
        if word.lower() == ".explainfdw":
            if self.echo:
                self.write(self.stderr, command + "\n")
            return self.command_explainfdw([rest.strip()] if rest.strip() else [])
        return super().process_command(command)

    def _listing(self, sql: str, bindings: Sequence[Any] = ()) -> None:
        catalog.verify(self.db)
        self.push_output()
        self.header = True
        try:
            self.process_sql(sql, tuple(bindings), internal=True)
        finally:
            self.pop_output()

    def command_tables(self, cmd: list[str]) -> None:
        """tables ?PATTERN?: Lists tables (foreign ones included) and views matching a
        LIKE pattern; the SQL/MED catalog's own tables are left out
        """
        tables = ", ".join(sqltext.quote_literal(name) for name in catalog.CATALOG_TABLES)
        shown = ", ".join(sqltext.quote_literal(name) for name in catalog.VIEW_NAMES)
        self.push_output()
        self.output = self.output_list
        self.header = False
        try:
            for pattern in cmd or ["%"]:
                self.process_sql(
                    "SELECT name FROM (SELECT name, type FROM sqlite_schema"
                    f" WHERE name NOT IN ({tables}) UNION ALL"
                    " SELECT name, type FROM sqlite_temp_schema"
                    f" WHERE name NOT IN ({shown})) "
                    "WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite~_%' ESCAPE '~' "
                    "AND name LIKE ?1 ORDER BY 1",
                    (pattern,),
                    internal=True,
                )
        finally:
            self.pop_output()

    def command_wrappers(self, cmd: list[str]) -> None:
        """wrappers: Lists foreign-data wrappers with their handler, validator and options

        Secret option values are masked.
        """
        self._listing(
            "SELECT w.foreign_data_wrapper_name AS wrapper, w.handler, w.validator,"
            " (SELECT group_concat(o.option_name || '=' || o.option_value, ', ')"
            "  FROM sqlmed_foreign_data_wrapper_options AS o"
            "  WHERE o.foreign_data_wrapper_name = w.foreign_data_wrapper_name) AS options,"
            " w.comment FROM sqlmed_foreign_data_wrappers AS w ORDER BY 1"
        )

    def command_servers(self, cmd: list[str]) -> None:
        """servers: Lists foreign servers with their wrapper, type, version and options

        Secret option values are masked.
        """
        self._listing(
            "SELECT s.foreign_server_name AS server, s.foreign_data_wrapper_name AS wrapper,"
            " s.foreign_server_type AS type, s.foreign_server_version AS version,"
            " (SELECT group_concat(o.option_name || '=' || o.option_value, ', ')"
            "  FROM sqlmed_foreign_server_options AS o"
            "  WHERE o.foreign_server_name = s.foreign_server_name) AS options,"
            " s.comment FROM sqlmed_foreign_servers AS s ORDER BY 1"
        )

    def command_mappings(self, cmd: list[str]) -> None:
        """mappings: Lists user mappings and their options

        Secret option values are masked; the options of a mapping for
        another user are hidden, as PostgreSQL's pg_user_mappings does.
        """
        self._listing(
            "SELECT m.authorization_identifier AS user, m.foreign_server_name AS server,"
            " (SELECT group_concat(o.option_name || '=' || coalesce(o.option_value, '(hidden)'),"
            "   ', ') FROM sqlmed_user_mapping_options AS o"
            "  WHERE o.authorization_identifier = m.authorization_identifier"
            "  AND o.foreign_server_name = m.foreign_server_name) AS options"
            " FROM sqlmed_user_mappings AS m ORDER BY 2, 1"
        )

    def command_ftables(self, cmd: list[str]) -> None:
        """ftables ?PATTERN?: Lists foreign tables (LIKE PATTERN) with server, columns, options"""
        self._listing(
            "SELECT t.foreign_table_name AS name, t.foreign_server_name AS server,"
            " (SELECT group_concat(c.column_name || ' ' || c.data_type, ', '"
            "   ORDER BY c.ordinal_position) FROM sqlmed_foreign_table_columns AS c"
            "  WHERE c.table_name = t.foreign_table_name) AS columns,"
            " (SELECT group_concat(o.option_name || '=' || o.option_value, ', ')"
            "  FROM sqlmed_foreign_table_options AS o"
            "  WHERE o.foreign_table_name = t.foreign_table_name) AS options,"
            " t.comment FROM sqlmed_foreign_tables AS t"
            " WHERE t.foreign_table_name LIKE ?1 ORDER BY 1",
            [cmd[0] if cmd else "%"],
        )

    def command_explainfdw(self, cmd: list[str]) -> None:
        """explainfdw QUERY: Shows what each foreign table of QUERY is asked for

        The pushdown plan: for each foreign scan, the columns, the quals
        (and whether SQLite checks them again), the sort, the limit and the
        request sent to the source.  The query is not run.
        """
        if not cmd:
            raise self.Error("explainfdw needs a query, e.g. .explainfdw SELECT * FROM t")
        sql = " ".join(cmd).strip().rstrip(";").strip()
        self.write(self.stdout, self.db.explain(sql) + "\n")

    def command_dumpfdw(self, cmd: list[str]) -> None:
        """dumpfdw: Prints the SQL/MED catalog as DDL (secret options left out)"""
        self.write(self.stdout, dump(self.db))


def _readline() -> Any:
    try:
        import readline
    except ImportError:  # no line editing, so no history either
        return None
    return readline
