"""The ``sqlmed`` command: a shell on a SQLite file that understands SQL/MED
(``vtables.shell``), plus one-shot commands (demo, run, explain, import, dump)
that print result sets as ``vtables.output`` formats them.

Everything here goes through ``vtables.connect``, so the command sees a
database exactly as a Python program would; no SQLAlchemy is imported.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any, NamedTuple, TextIO

import apsw

from . import __version__, catalog, grammar, sqltext, syntax
from .connection import Connection, connect
from .dump import dump
from .errors import SQLMedError, SQLMedSyntaxError
from .output import DEFAULT_WIDTH, Printer, format_table, render, text_width, truncate
from .shell import MedShell

__all__ = [
    "main",
    "build_parser",
    "import_statement",
    "run_script",
    "query",
    "statements",
    "ScriptError",
    "CommandError",
    "MedShell",
    "Printer",
    "format_table",
    "render",
    "text_width",
    "truncate",
    "DEFAULT_WIDTH",
    "PROG",
]

PROG = "sqlmed"


class CommandError(Exception):
    """A mistake in how the command was used (a missing file, a bad option)."""


# ----------------------------------------------------------------- scripts


statements = sqltext.statements


class ScriptError(Exception):
    """A statement of a script failed; the message says on which line."""

    def __init__(self, line: int, error: Exception, start: tuple[int, int] = (1, 1)):
        self.line, self.error = line, error
        if (
            isinstance(error, SQLMedSyntaxError)
            and error.line is not None
            and error.column is not None
        ):
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
            seen = printer.notices(conn.notices, seen)
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

DEMO_EXTENSIONS = """
CREATE EXTENSION IF NOT EXISTS file_fdw;
CREATE EXTENSION IF NOT EXISTS sqlite_fdw;
"""

DEMO_TABLES = """
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


def demo_ddl(directory: str, orders: str) -> str:
    """The demo's catalog: its servers (created, or pointed at ``directory`` and
    ``orders`` again when they exist) printed from trees, between fixed text."""
    servers = []
    for name, wrapper, option, value in (
        ("demo_files", "file_fdw", "directory", directory),
        ("demo_shop", "sqlite_fdw", "database", orders),
    ):
        given = {option: value}
        created = syntax.create_server(name, wrapper, options_=given, if_not_exists=True)
        pointed = grammar.AlterServer(
            this=syntax.identifier(name), options=syntax.options(given, action="SET")
        )
        servers += [grammar.to_sql(created) + ";\n", grammar.to_sql(pointed) + ";\n"]
    return DEMO_EXTENSIONS + "".join(servers) + DEMO_TABLES


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
            conn.execute(demo_ddl(demo_data_directory(), orders_name))
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
    """IMPORT FOREIGN SCHEMA as the SQL printer writes it, whatever the names hold."""
    tree = syntax.import_foreign_schema(
        remote_schema,
        server,
        limit_to=list(limit_to) or None,
        except_=list(except_) or None,
        options_=options,
        into=into,
    )
    return grammar.to_sql(tree)


def shown_name(name: str) -> str:
    """A name in a message: as the SQL printer writes it, on one line."""
    return catalog.one_line(grammar.to_sql(syntax.identifier(name)))


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
            printer.notices(conn.notices, seen)
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


#: Options accepted before and after the command name: (flag, default, settings).
_COMMON_OPTIONS: tuple[tuple[str, Any, dict[str, Any]], ...] = (
    (
        "--user",
        None,
        {
            "metavar": "NAME",
            "help": "current user that user mappings are looked up for (default: the OS user)",
        },
    ),
    ("--debug", False, {"action": "store_true", "help": "show the traceback of an error"}),
    (
        "--width",
        DEFAULT_WIDTH,
        {
            "type": int,
            "metavar": "N",
            "help": "cut values longer than N columns with an ellipsis "
            f"(default {DEFAULT_WIDTH}; 0: never)",
        },
    ),
    (
        "--null",
        "NULL",
        {"metavar": "TEXT", "help": "how NULL is shown in result tables (default NULL)"},
    ),
)


def _common() -> argparse.ArgumentParser:
    """The options accepted before and after the command name; their defaults are
    set by ``main`` so that one given before the command is not reset after it."""
    common = argparse.ArgumentParser(add_help=False)
    for flag, _default, settings in _COMMON_OPTIONS:
        common.add_argument(flag, default=argparse.SUPPRESS, **settings)
    return common


def _demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "path", nargs="?", default="sqlmed-demo.db", help="database file (default: %(default)s)"
    )


def _shell_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("db", nargs="?", help="database file (default: a transient in-memory one)")


def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("db", help="database file (created if missing)")
    p.add_argument("file", nargs="?", help="script file, or - for standard input")
    p.add_argument("-c", "--command", metavar="SQL", help="run SQL given here instead of a file")


def _explain_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("db", help="database file")
    p.add_argument("query", help="the query (a SELECT)")


def _import_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("db", help="database file")
    p.add_argument("--server", required=True, help="foreign server to import from")
    p.add_argument("--remote-schema", required=True, metavar="SCHEMA", help="remote schema name")
    lists = "(comma-separated; may repeat)"
    p.add_argument(
        "--limit-to", action="append", metavar="A,B", help=f"import only these tables {lists}"
    )
    p.add_argument(
        "--except",
        dest="except_",
        action="append",
        metavar="C,D",
        help=f"import all tables but these {lists}",
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


def _dump_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("db", help="database file")


class _Command(NamedTuple):
    name: str
    handler: Callable[[argparse.Namespace, Printer], int]
    help: str
    description: str
    arguments: Callable[[argparse.ArgumentParser], None]


COMMANDS = (
    _Command(
        "demo",
        cmd_demo,
        "a first federated query: CSV files, a second SQLite file and a local table",
        "Create (or refresh) a demo database: a server over bundled CSV files, a second "
        "SQLite file next to the database, a local table; run one query joining them and "
        "print its rows and what was pushed down to each source.  Needs no network.",
        _demo_arguments,
    ),
    _Command(
        "shell",
        cmd_shell,
        "an interactive shell accepting SQL/MED statements and SQL",
        "An interactive shell (APSW's) whose statements go through the SQL/MED router.  "
        "Dot-commands: .wrappers .servers .mappings .ftables .explainfdw QUERY .dumpfdw, "
        "and all of APSW's (.help).  Reads standard input when it is not a terminal.",
        _shell_arguments,
    ),
    _Command(
        "run",
        cmd_run,
        "run a SQL script (SQL/MED statements and SQL) and print the results",
        "Run a script statement by statement, printing the rows of each query.  Stops at "
        "the first error, printing it with its line, and exits with status 1.",
        _run_arguments,
    ),
    _Command(
        "explain",
        cmd_explain,
        "show the pushdown plan of a query",
        "Show, for each foreign table a query reads, the columns, quals, sort and limit "
        "pushed down and the request sent to the source.  The query is not run.",
        _explain_arguments,
    ),
    _Command(
        "import",
        cmd_import,
        "IMPORT FOREIGN SCHEMA: create foreign tables from a server's catalog",
        "Create foreign tables for the tables of a remote schema (IMPORT FOREIGN SCHEMA), "
        "showing progress on standard error when there are many.",
        _import_arguments,
    ),
    _Command(
        "dump",
        cmd_dump,
        "print the SQL/MED catalog as DDL",
        "Print the catalog (extensions, wrappers, servers, user mappings, foreign tables, "
        "comments) as SQL/MED statements that recreate it.  Secret options are left out, "
        "with a comment naming them.",
        _dump_arguments,
    ),
)


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
    for command in COMMANDS:
        p = sub.add_parser(
            command.name, parents=[common], help=command.help, description=command.description
        )
        p.set_defaults(handler=command.handler)
        command.arguments(p)
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
    for flag, default, _settings in _COMMON_OPTIONS:
        if not hasattr(args, flag[2:]):
            setattr(args, flag[2:], default)
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
