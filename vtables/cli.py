"""The ``sqlmed`` command: a shell on a SQLite file that understands SQL/MED, plus
one-shot commands (demo, run, explain, import, dump).

Everything here goes through ``vtables.connect``, so the command sees a
database exactly as a Python program would; no SQLAlchemy is imported.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib import resources
from typing import Any, TextIO

import apsw
import apsw.shell

from . import __version__, catalog, grammar, secrets, sqltext
from .connection import Connection, connect
from .dump import dump, identifier
from .errors import SQLMedError, SQLMedSyntaxError

PROG = "sqlmed"
DEFAULT_WIDTH = 40


class CommandError(Exception):
    """A mistake in how the command was used (a missing file, a bad option)."""


# ------------------------------------------------------------------ tables


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    """Columns a string takes in a terminal (wide East Asian characters count twice)."""
    if text.isascii():
        return len(text)
    return sum(_char_width(ch) for ch in text)


def truncate(text: str, width: int, ellipsis: str = "…") -> str:
    """``text`` cut to at most ``width`` columns, ending in ``ellipsis`` when cut."""
    if width <= 0 or text_width(text) <= width:
        return text
    room = max(width - text_width(ellipsis), 0)
    used = 0
    out = []
    for ch in text:
        w = _char_width(ch)
        if used + w > room:
            break
        out.append(ch)
        used += w
    return "".join(out).rstrip() + ellipsis


_CONTROL = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


def render(value: Any, null: str = "NULL") -> str:
    """One value as it appears in a cell: control characters made visible,
    blobs as SQL hex literals, NULL as ``null``."""
    if value is None:
        return null
    if isinstance(value, bytes | bytearray | memoryview):
        return "x'" + bytes(value).hex() + "'"
    text = str(value)
    if not text.isprintable():
        text = text.translate(_CONTROL)
        text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return text


def format_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    width: int = DEFAULT_WIDTH,
    null: str = "NULL",
    ellipsis: str = "…",
) -> str:
    """Rows as aligned text in the manner of psql: numbers to the right, long
    values cut with an ellipsis, a row count at the end."""
    rows = list(rows)
    heads = [truncate(render(c), width, ellipsis) for c in columns]
    cells = [[truncate(render(v, null), width, ellipsis) for v in row] for row in rows]
    numeric = [
        all(isinstance(row[i], int | float) for row in rows if row[i] is not None)
        and any(row[i] is not None for row in rows)
        for i in range(len(columns))
    ]
    widths = [text_width(h) for h in heads]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], text_width(cell))

    def line(values: Sequence[str], right: Sequence[bool]) -> str:
        parts = []
        for value, w, r in zip(values, widths, right, strict=True):
            pad = " " * (w - text_width(value))
            parts.append(pad + value if r else value + pad)
        return (" " + " | ".join(parts)).rstrip()

    out = [line(heads, [False] * len(heads)), "+".join("-" * (w + 2) for w in widths)]
    out.extend(line(row, numeric) for row in cells)
    out.append(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return "\n".join(out) + "\n"


def _ellipsis(stream: TextIO) -> str:
    try:
        "…".encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "..."
    return "…"


class Printer:
    """Prints result sets and notices for the one-shot commands."""

    def __init__(self, out: TextIO, err: TextIO, *, width: int, null: str):
        self.out, self.err = out, err
        self.width, self.null = width, null
        self.ellipsis = _ellipsis(out)
        self.tables = 0

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if self.tables:
            self.out.write("\n")
        self.tables += 1
        self.out.write(
            format_table(columns, rows, width=self.width, null=self.null, ellipsis=self.ellipsis)
        )

    def notices(self, conn: Connection, seen: int) -> int:
        for message in conn.notices[seen:]:
            self.err.write(f"NOTICE:  {message}\n")
        return len(conn.notices)


# ----------------------------------------------------------------- scripts


statements = sqltext.statements


class ScriptError(Exception):
    """A statement of a script failed; the message says on which line."""

    def __init__(self, line: int, error: Exception, start: tuple[int, int] = (1, 1)):
        self.line, self.error = line, error
        if isinstance(error, SQLMedSyntaxError) and error.line is not None:
            # its position is within the statement's text: make it the script's
            self.line = start[0] + error.line - 1
            column = error.column + (start[1] - 1 if error.line == 1 else 0)
            where = f"line {self.line}, column {column}"
            super().__init__(f"syntax error at {where}: {error.description}")
        else:
            super().__init__(f"line {line}: {_message(error)}")


def query(conn: Connection, sql: str) -> tuple[list[str] | None, list[tuple]]:
    """The column names (None for a statement that returns no columns) and rows
    of one statement.  The names are taken when the statement starts, since
    APSW cannot tell them once a query has returned no rows."""
    columns: list[str] | None = None
    cursor = conn.cursor()

    def trace(cur: apsw.Cursor, statement: str, bindings: Any) -> bool:
        nonlocal columns
        columns = [d[0] for d in cur.description] or None
        return True

    cursor.exec_trace = trace
    rows = list(cursor.execute(sql))
    return columns, rows


def run_script(conn: Connection, sql: str, printer: Printer) -> None:
    """Run every statement of ``sql`` in turn, printing each result set.

    Statements run one at a time (not through one ``execute`` of the whole
    text) so that the rows of every SELECT are shown, not only the last's.
    """
    seen = len(conn.notices)
    for offset, text in statements(sql):
        code = [t for t in sqltext.tokens(text) if t.kind not in ("ws", "lc", "bc", "semi")]
        if not code:
            continue
        line = sqltext.position(sql, offset + code[0].start)[0]
        try:
            columns, rows = query(conn, text)
        except (SQLMedError, apsw.Error) as err:
            raise ScriptError(line, err, sqltext.position(sql, offset)) from err
        finally:
            seen = printer.notices(conn, seen)
        if columns is not None:
            printer.table(columns, rows)


# -------------------------------------------------------------------- demo

DEMO_ORDERS = """
CREATE TABLE IF NOT EXISTS orders(
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL,
    product_id INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    ordered_on TEXT NOT NULL
);
DELETE FROM orders;
INSERT INTO orders(customer_id, product_id, quantity, ordered_on) VALUES
    (1, 1, 1, '2023-11-02'), (1, 5, 2, '2024-01-15'), (1, 4, 1, '2024-03-08'),
    (2, 3, 3, '2024-02-01'), (2, 2, 4, '2024-02-20'), (3, 6, 1, '2024-04-11'),
    (3, 3, 1, '2023-07-30'), (4, 4, 2, '2024-05-05'), (4, 2, 10, '2024-05-06'),
    (5, 5, 1, '2024-06-17'), (6, 1, 1, '2022-12-24'), (7, 6, 2, '2024-03-03');
"""

DEMO_DDL = """
CREATE EXTENSION IF NOT EXISTS file_fdw;
CREATE EXTENSION IF NOT EXISTS sqlite_fdw;
CREATE SERVER IF NOT EXISTS demo_files FOREIGN DATA WRAPPER file_fdw
    OPTIONS (directory {directory});
ALTER SERVER demo_files OPTIONS (SET directory {directory});
CREATE SERVER IF NOT EXISTS demo_shop FOREIGN DATA WRAPPER sqlite_fdw
    OPTIONS (database {orders});
ALTER SERVER demo_shop OPTIONS (SET database {orders});
CREATE FOREIGN TABLE IF NOT EXISTS customers (
    id integer NOT NULL, name text, city text, country text
) SERVER demo_files OPTIONS (filename 'customers.csv', format 'csv', header 'true');
CREATE FOREIGN TABLE IF NOT EXISTS products (
    id integer NOT NULL, name text, category text, price numeric
) SERVER demo_files OPTIONS (filename 'products.csv', format 'csv', header 'true');
CREATE FOREIGN TABLE IF NOT EXISTS orders (
    id integer NOT NULL, customer_id integer, product_id integer, quantity integer,
    ordered_on text
) SERVER demo_shop;
CREATE TABLE IF NOT EXISTS countries(code TEXT PRIMARY KEY, name TEXT NOT NULL);
INSERT OR REPLACE INTO countries VALUES
    ('FI', 'Finland'), ('GB', 'United Kingdom'), ('NL', 'Netherlands'),
    ('US', 'United States');
"""

DEMO_QUERY = """\
SELECT co.name AS country, c.name AS customer, c.city,
       count(*) AS orders, round(sum(o.quantity * p.price), 2) AS spent
FROM orders AS o
JOIN customers AS c ON c.id = o.customer_id
JOIN products AS p ON p.id = o.product_id
JOIN countries AS co ON co.code = c.country
WHERE o.ordered_on >= '2024-01-01'
GROUP BY co.name, c.name, c.city
ORDER BY spent DESC"""


def demo_data_directory() -> str:
    """Where the bundled CSV files are, as a directory file_fdw can read."""
    folder = resources.files("vtables") / "demo_data"
    path = os.fspath(folder) if isinstance(folder, os.PathLike) else None
    if path is None or not os.path.isfile(os.path.join(path, "customers.csv")):
        raise CommandError("the demo's CSV files are missing from this installation")
    return os.path.abspath(path)


def cmd_demo(args: argparse.Namespace, printer: Printer) -> int:
    path = os.path.abspath(args.path)
    base, _ext = os.path.splitext(os.path.basename(path))
    orders_name = f"{base}-orders.db"
    orders_path = os.path.join(os.path.dirname(path), orders_name)
    source = apsw.Connection(orders_path)
    try:
        with source:
            source.execute(DEMO_ORDERS)
    finally:
        source.close()
    conn = _open(path, args, create=True)
    try:
        with conn:
            conn.execute(
                DEMO_DDL.format(
                    directory=grammar.quote_literal(demo_data_directory()),
                    orders=grammar.quote_literal(orders_name),
                )
            )
        columns, rows = query(conn, DEMO_QUERY)
        plan = conn.explain(DEMO_QUERY)
    finally:
        conn.close()
    out = printer.out
    out.write(f"database:  {path}\n")
    out.write("sources:   customers, products  CSV files read by file_fdw (server demo_files)\n")
    out.write(f"           orders               {orders_name}, by sqlite_fdw (server demo_shop)\n")
    out.write("           countries            a local table of the database\n\n")
    out.write(DEMO_QUERY + ";\n\n")
    printer.tables += 1
    out.write(
        format_table(
            columns or [], rows, width=printer.width, null=printer.null, ellipsis=printer.ellipsis
        )
    )
    out.write("\nPushed down to each source:\n")
    out.write("".join("  " + line + "\n" for line in plan.splitlines()))
    shown = shlex.quote(os.path.relpath(path) if not os.path.isabs(args.path) else path)
    out.write(
        "\nThe same database in the shell (SQL/MED statements and SQL, .help for more):\n"
        f"  {PROG} shell {shown}\n"
        "  sqlmed> .ftables\n"
        "  sqlmed> .explainfdw SELECT * FROM orders WHERE quantity > 2;\n"
    )
    return 0


# ------------------------------------------------------------------- shell


class MedShell(apsw.shell.Shell):
    """APSW's shell on a ``vtables`` connection, with SQL/MED statements and
    dot-commands for the catalog.

    APSW's shell finds statement boundaries by running the text with an
    execution tracer that stops at the first statement; the router runs
    SQL/MED statements before SQLite sees them, so such text is split here
    first and only plain SQL is handed to the shell's own machinery.
    """

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
        tables = ", ".join(grammar.quote_literal(name) for name in catalog.CATALOG_TABLES)
        shown = ", ".join(grammar.quote_literal(name) for name in catalog.VIEW_NAMES)
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


def _warn_problems(conn: Connection, printer: Printer) -> list[str]:
    """Print every problem of the catalog as a warning; return them."""
    problems = catalog.check(conn)
    for problem in problems:
        printer.err.write(f"{PROG}: warning: {catalog.one_line(problem)}\n")
    return problems


def _trusted(conn: Connection, printer: Printer) -> None:
    """Refuse a file whose objects squat the catalog's names; warn of damaged rows."""
    catalog.verify(conn)
    _warn_problems(conn, printer)


def cmd_shell(args: argparse.Namespace, printer: Printer) -> int:
    conn = _open(args.db or ":memory:", args, create=True)
    _warn_problems(conn, printer)
    shell = MedShell(user=args.user, db=conn)
    where = "a transient in-memory database" if not args.db else os.path.abspath(args.db)
    intro = (
        f"sqlmed {__version__} shell on {where} (user {conn.user}); "
        f"SQLite {apsw.sqlite_lib_version()}\n"
        "SQL/MED statements and SQL end with ';'.  .wrappers .servers .mappings .ftables\n"
        "list the catalog, .explainfdw QUERY shows the pushdown plan, .help the rest.\n"
    )
    shell.cmdloop(intro=intro)
    return 1 if shell.failures and not shell.interactive else 0


# ------------------------------------------------------ one-shot commands


def _open(path: str, args: argparse.Namespace, *, create: bool) -> Connection:
    if not create and path != ":memory:" and not os.path.exists(path):
        raise CommandError(f"database file {path!r} does not exist")
    conn = connect(path, user=args.user)
    conn.set_busy_timeout(5000)
    return conn


def cmd_run(args: argparse.Namespace, printer: Printer) -> int:
    if args.command is not None:
        sql = args.command
    elif args.file == "-":
        sql = sys.stdin.read()
    elif args.file:
        try:
            with open(args.file, encoding="utf-8") as f:
                sql = f.read()
        except OSError as err:
            raise CommandError(f"cannot read {args.file}: {err.strerror}") from None
    else:
        raise CommandError("give a script file (or - for standard input) or -c SQL")
    conn = _open(args.db, args, create=True)
    try:
        run_script(conn, sql, printer)
    finally:
        conn.close()
    return 0


def cmd_explain(args: argparse.Namespace, printer: Printer) -> int:
    conn = _open(args.db, args, create=False)
    try:
        sql = args.query.strip().rstrip(";")
        printer.out.write(conn.explain(sql) + "\n")
    finally:
        conn.close()
    return 0


def _split_names(values: list[str] | None) -> list[str]:
    return [n.strip() for v in values or () for n in v.split(",") if n.strip()]


def import_statement(
    server: str,
    remote_schema: str,
    *,
    limit_to: Sequence[str] = (),
    except_: Sequence[str] = (),
    options: Sequence[tuple[str, str]] = (),
    into: str = "main",
) -> str:
    restriction, tables = ("LIMIT TO", limit_to) if limit_to else ("EXCEPT", except_)
    return grammar.to_sql(
        grammar.ImportForeignSchema(
            this=identifier(remote_schema),
            restriction=restriction if tables else None,
            tables=[identifier(n) for n in tables] or None,
            server=identifier(server),
            into=identifier(into),
            options=[grammar.MedOption(this=identifier(k), value=v) for k, v in options] or None,
        )
    )


def shown_name(name: str) -> str:
    """A name in a message: as the SQL printer writes it, on one line."""
    return catalog.one_line(grammar.to_sql(identifier(name)))


class ImportProgress:
    """Counts the foreign tables an import writes to the catalog, as it writes them.

    The import runs as one atomic statement; SQLite's update hook sees each
    catalog row as it is inserted, which is the only moment to report from.
    """

    def __init__(self, err: TextIO, *, every: int = 10, enabled: bool = True):
        self.err, self.every, self.enabled = err, every, enabled
        self.rowids: set[int] = set()
        self.tty = enabled and hasattr(err, "isatty") and err.isatty()

    def __call__(self, kind: int, database: str, table: str, rowid: int) -> None:
        if kind != apsw.SQLITE_INSERT or table != "sqlmed_ftable" or rowid in self.rowids:
            return
        self.rowids.add(rowid)
        n = len(self.rowids)
        if self.tty:
            self.err.write(f"\rimporting: {n} foreign tables created")
            self.err.flush()
        elif self.enabled and n % self.every == 0:
            self.err.write(f"importing: {n} foreign tables created\n")
            self.err.flush()

    def done(self) -> None:
        if self.tty and self.rowids:
            self.err.write("\n")


def _option(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def cmd_import(args: argparse.Namespace, printer: Printer) -> int:
    limit_to, except_ = _split_names(args.limit_to), _split_names(args.except_)
    if limit_to and except_:
        raise CommandError("--limit-to and --except cannot be used together")
    sql = import_statement(
        args.server,
        args.remote_schema,
        limit_to=limit_to,
        except_=except_,
        options=args.option or (),
        into=args.into,
    )
    conn = _open(args.db, args, create=False)
    progress = ImportProgress(printer.err, enabled=not args.quiet)
    try:
        _trusted(conn, printer)
        before = set(catalog.table_names(conn))
        seen = len(conn.notices)
        conn.set_update_hook(progress)
        try:
            conn.execute(sql)
        finally:
            conn.set_update_hook(None)
            progress.done()
            printer.notices(conn, seen)
        after = [name for name in catalog.table_names(conn) if name not in before]
    finally:
        conn.close()
    shown = ", ".join(shown_name(n) for n in after[:20])
    shown += f", … ({len(after) - 20} more)" if len(after) > 20 else ""
    printer.out.write(
        f"imported {len(after)} foreign table{'' if len(after) == 1 else 's'} from schema "
        f"{shown_name(args.remote_schema)} of server {shown_name(args.server)}"
        + (f": {shown}" if after else "")
        + "\n"
    )
    return 0


def cmd_dump(args: argparse.Namespace, printer: Printer) -> int:
    conn = _open(args.db, args, create=False)
    try:
        _trusted(conn, printer)
        printer.out.write(dump(conn))
    finally:
        conn.close()
    return 0


# ------------------------------------------------------------------ parser


def _common() -> argparse.ArgumentParser:
    """Options accepted before and after the command name."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--user",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help="current user that user mappings are looked up for (default: the OS user)",
    )
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error",
    )
    common.add_argument(
        "--width",
        type=int,
        metavar="N",
        default=argparse.SUPPRESS,
        help=f"cut values longer than N columns with an ellipsis (default {DEFAULT_WIDTH}; "
        "0: never)",
    )
    common.add_argument(
        "--null",
        metavar="TEXT",
        default=argparse.SUPPRESS,
        help="how NULL is shown in result tables (default NULL)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog=PROG,
        parents=[common],
        description="PostgreSQL's SQL/MED on SQLite: foreign data wrappers, servers, user "
        "mappings and foreign tables in an embedded database file.",
        epilog=f"Start with '{PROG} demo', then '{PROG} shell sqlmed-demo.db'.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="name", metavar="COMMAND")

    def command(name: str, handler: Callable, help: str, description: str | None = None):
        description = description or help[:1].upper() + help[1:]
        p = sub.add_parser(name, parents=[common], help=help, description=description)
        p.set_defaults(handler=handler)
        return p

    p = command(
        "demo",
        cmd_demo,
        "a first federated query: CSV files, a second SQLite file and a local table",
        "Create (or refresh) a demo database: a server over bundled CSV files, a second "
        "SQLite file next to the database, a local table; run one query joining them and "
        "print its rows and what was pushed down to each source.  Needs no network.",
    )
    p.add_argument(
        "path", nargs="?", default="sqlmed-demo.db", help="database file (default: %(default)s)"
    )

    p = command(
        "shell",
        cmd_shell,
        "an interactive shell accepting SQL/MED statements and SQL",
        "An interactive shell (APSW's) whose statements go through the SQL/MED router.  "
        "Dot-commands: .wrappers .servers .mappings .ftables .explainfdw QUERY .dumpfdw, "
        "and all of APSW's (.help).  Reads standard input when it is not a terminal.",
    )
    p.add_argument("db", nargs="?", help="database file (default: a transient in-memory one)")

    p = command(
        "run",
        cmd_run,
        "run a SQL script (SQL/MED statements and SQL) and print the results",
        "Run a script statement by statement, printing the rows of each query.  Stops at "
        "the first error, printing it with its line, and exits with status 1.",
    )
    p.add_argument("db", help="database file (created if missing)")
    p.add_argument("file", nargs="?", help="script file, or - for standard input")
    p.add_argument("-c", "--command", metavar="SQL", help="run SQL given here instead of a file")

    p = command(
        "explain",
        cmd_explain,
        "show the pushdown plan of a query",
        "Show, for each foreign table a query reads, the columns, quals, sort and limit "
        "pushed down and the request sent to the source.  The query is not run.",
    )
    p.add_argument("db", help="database file")
    p.add_argument("query", help="the query (a SELECT)")

    p = command(
        "import",
        cmd_import,
        "IMPORT FOREIGN SCHEMA: create foreign tables from a server's catalog",
        "Create foreign tables for the tables of a remote schema (IMPORT FOREIGN SCHEMA), "
        "showing progress on standard error when there are many.",
    )
    p.add_argument("db", help="database file")
    p.add_argument("--server", required=True, help="foreign server to import from")
    p.add_argument("--remote-schema", required=True, metavar="SCHEMA", help="remote schema name")
    p.add_argument(
        "--limit-to",
        action="append",
        metavar="A,B",
        help="import only these tables (comma-separated; may repeat)",
    )
    p.add_argument(
        "--except",
        dest="except_",
        action="append",
        metavar="C,D",
        help="import all tables but these (comma-separated; may repeat)",
    )
    p.add_argument(
        "--option",
        action="append",
        type=_option,
        metavar="KEY=VALUE",
        help="an IMPORT FOREIGN SCHEMA option (may repeat)",
    )
    p.add_argument("--into", default="main", help="local schema (default: %(default)s)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress messages")

    p = command(
        "dump",
        cmd_dump,
        "print the SQL/MED catalog as DDL",
        "Print the catalog (extensions, wrappers, servers, user mappings, foreign tables, "
        "comments) as SQL/MED statements that recreate it.  Secret options are left out, "
        "with a comment naming them.",
    )
    p.add_argument("db", help="database file")
    return parser


def _message(err: BaseException) -> str:
    if isinstance(err, apsw.Error):
        text = str(err)
        kind = type(err).__name__ + ": "
        return text[len(kind) :] if text.startswith(kind) else text
    return str(err) or type(err).__name__


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, default in (("user", None), ("debug", False), ("width", DEFAULT_WIDTH)):
        if not hasattr(args, name):
            setattr(args, name, default)
    if not hasattr(args, "null"):
        args.null = "NULL"
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return 2
    printer = Printer(sys.stdout, sys.stderr, width=args.width, null=args.null)
    try:
        return args.handler(args, printer)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as err:
        if args.debug:
            raise
        sys.stderr.write(f"{PROG}: error: {_message(err)}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
