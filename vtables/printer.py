"""The one printer of SQL/MED text: sqlglot's PostgreSQL generator with a
transform per tree of ``vtables.syntax``, printing each as canonical SQL that
the parser reads back to an equal tree.

Names print as written when the tree says they are unquoted and in double
quotes otherwise; option values and other strings always print as literals.
The secrecy hook: a printer given ``secret`` (option name -> bool) prints the
value of each option it names as ``'********'``, so text that is shown (a log,
a migration script) holds no secret while the text that is run is printed by
the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlglot import exp
from sqlglot.generators.postgres import PostgresGenerator

from . import syntax
from .secrets import MASK
from .sqltext import quote_literal


def ident(node: exp.Identifier) -> str:
    """An identifier node: double-quoted when the node says so, else as written."""
    if node.args.get("quoted"):
        return '"' + node.this.replace('"', '""') + '"'
    return node.this


def _exists(node: exp.Expression, text: str) -> str:
    return f" {text}" if node.args.get("exists") else ""


def _cascade(node: exp.Expression) -> str:
    return f" {node.args['cascade']}" if node.args.get("cascade") else ""


def _user(role: syntax.MedUser) -> str:
    keyword = role.args.get("keyword")
    return keyword if keyword else ident(role.this)


def _functions(functions: list[syntax.FdwFunction] | None) -> str:
    out = ""
    for fn in functions or ():
        kind = fn.args["kind"]
        out += f" {kind} {ident(fn.this)}" if fn.this else f" NO {kind}"
    return out


def _rename(head: str, node: exp.Expression) -> str | None:
    """``head RENAME TO new`` when the ALTER renames, else None."""
    if node.args.get("rename"):
        return f"{head} RENAME TO {ident(node.args['rename'])}"
    return None


class MedGenerator(PostgresGenerator):
    """PostgreSQL's generator that also prints the SQL/MED trees."""

    def __init__(self, *args: Any, secret: Callable[[str], bool] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.secret = secret

    # -- the parts statements share

    def med_options(self, options: list[syntax.MedOption] | None) -> str:
        """`` OPTIONS (...)``, or nothing when the tree has no clause."""
        if options is None:
            return ""
        items = []
        for opt in options:
            action = opt.args.get("action")
            text = f"{action} {ident(opt.this)}" if action else ident(opt.this)
            if action != "DROP":
                value = opt.args.get("value") or ""
                if self.secret is not None and self.secret(opt.this.this):
                    value = MASK
                text += " " + quote_literal(value)
            items.append(text)
        return " OPTIONS (" + ", ".join(items) + ")"

    def med_column(self, col: syntax.MedColumn) -> str:
        text = f"{ident(col.this)} {self.sql(col.args['kind'])}"
        text += self.med_options(col.args.get("options"))
        if col.args.get("collate") is not None:
            text += f" COLLATE {ident(col.args['collate'])}"
        if col.args.get("not_null"):
            text += " NOT NULL"
        if col.args.get("null"):
            text += " NULL"
        if col.args.get("default") is not None:
            text += " DEFAULT " + self.sql(col.args["default"])
        for check in col.args.get("constraints") or ():
            text += " " + self.med_check(check)
        return text

    def med_check(self, check: syntax.MedCheck) -> str:
        text = f"CONSTRAINT {ident(check.this)} " if check.this else ""
        text += f"CHECK ({self.sql(check.args['expression'])})"
        return text + (" NOT VALID" if check.args.get("not_valid") else "")

    # -- wrappers, servers, user mappings, extensions

    def create_fdw(self, e: syntax.CreateFdw) -> str:
        head = f"CREATE FOREIGN DATA WRAPPER {ident(e.this)}"
        return head + _functions(e.args.get("functions")) + self.med_options(e.args.get("options"))

    def alter_fdw(self, e: syntax.AlterFdw) -> str:
        head = f"ALTER FOREIGN DATA WRAPPER {ident(e.this)}"
        renamed = _rename(head, e)
        if renamed is not None:
            return renamed
        return head + _functions(e.args.get("functions")) + self.med_options(e.args.get("options"))

    def create_server(self, e: syntax.CreateServer) -> str:
        text = "CREATE SERVER" + _exists(e, "IF NOT EXISTS") + f" {ident(e.this)}"
        if e.args.get("type") is not None:
            text += f" TYPE {quote_literal(e.args['type'])}"
        if e.args.get("version") is not None:
            text += f" VERSION {quote_literal(e.args['version'])}"
        text += f" FOREIGN DATA WRAPPER {ident(e.args['wrapper'])}"
        return text + self.med_options(e.args.get("options"))

    def alter_server(self, e: syntax.AlterServer) -> str:
        head = f"ALTER SERVER {ident(e.this)}"
        renamed = _rename(head, e)
        if renamed is not None:
            return renamed
        if e.args.get("version") is not None:
            head += f" VERSION {quote_literal(e.args['version'])}"
        return head + self.med_options(e.args.get("options"))

    def user_mapping(self, e: exp.Expression, verb: str, exists: str) -> str:
        """``verb USER MAPPING [exists] FOR user SERVER s [OPTIONS]``."""
        return (
            f"{verb} USER MAPPING"
            + (_exists(e, exists) if exists else "")
            + f" FOR {_user(e.this)} SERVER {ident(e.args['server'])}"
            + self.med_options(e.args.get("options"))
        )

    def create_extension(self, e: syntax.CreateExtension) -> str:
        return "CREATE EXTENSION" + _exists(e, "IF NOT EXISTS") + f" {ident(e.this)}"

    # -- foreign tables

    def create_table(self, e: syntax.CreateForeignTable) -> str:
        columns = ", ".join(
            [self.med_column(c) for c in e.args.get("columns") or ()]
            + [self.med_check(c) for c in e.args.get("constraints") or ()]
        )
        return (
            "CREATE FOREIGN TABLE"
            + _exists(e, "IF NOT EXISTS")
            + f" {ident(e.this)} ({columns}) SERVER {ident(e.args['server'])}"
            + self.med_options(e.args.get("options"))
        )

    def alter_table(self, e: syntax.AlterForeignTable) -> str:
        head = "ALTER FOREIGN TABLE" + _exists(e, "IF EXISTS") + f" {ident(e.this)}"
        renamed = _rename(head, e)
        if renamed is not None:
            return renamed
        return head + " " + ", ".join(self.action(a) for a in e.args.get("actions") or ())

    def action(self, a: syntax.FtAction) -> str:
        """One action of ALTER FOREIGN TABLE."""
        kind = a.args["kind"]
        if kind == "ADD":
            return "ADD COLUMN" + _exists(a, "IF NOT EXISTS") + " " + self.med_column(a.this)
        if kind == "DROP":
            name = ident(a.args["column"])
            return "DROP COLUMN" + _exists(a, "IF EXISTS") + f" {name}" + _cascade(a)
        if kind == "OPTIONS":
            return self.med_options(a.args.get("options")).lstrip()
        if kind == "ADD_CONSTRAINT":
            return "ADD " + self.med_check(a.this)
        if kind == "DROP_CONSTRAINT":
            name = ident(a.args["constraint"])
            return "DROP CONSTRAINT" + _exists(a, "IF EXISTS") + f" {name}" + _cascade(a)
        if kind == "VALIDATE_CONSTRAINT":
            return f"VALIDATE CONSTRAINT {ident(a.args['constraint'])}"
        return self.column_action(a)

    def column_action(self, a: syntax.FtAction) -> str:
        """RENAME COLUMN, and the ALTER COLUMN actions."""
        kind, col = a.args["kind"], ident(a.args["column"])
        if kind == "RENAME_COLUMN":
            return f"RENAME COLUMN {col} TO {ident(a.args['to'])}"
        head = f"ALTER COLUMN {col}"
        if kind == "TYPE":
            return f"{head} TYPE {self.sql(a.args['dtype'])}"
        if kind == "SET_DEFAULT":
            return f"{head} SET DEFAULT {self.sql(a.args['default'])}"
        if kind == "COLUMN_OPTIONS":
            return head + self.med_options(a.args.get("options"))
        return f"{head} {kind.replace('_', ' ')}"

    def import_schema(self, e: syntax.ImportForeignSchema) -> str:
        text = f"IMPORT FOREIGN SCHEMA {ident(e.this)}"
        if e.args.get("restriction"):
            tables = ", ".join(ident(t) for t in e.args.get("tables") or ())
            text += f" {e.args['restriction']} ({tables})"
        text += f" FROM SERVER {ident(e.args['server'])} INTO {ident(e.args['into'])}"
        return text + self.med_options(e.args.get("options"))

    # -- any object

    def comment(self, e: syntax.MedComment) -> str:
        target = ident(e.this)
        if e.args.get("column"):
            target += "." + ident(e.args["column"])
        text = e.args.get("comment")
        value = "NULL" if text is None else quote_literal(text)
        return f"COMMENT ON {e.args['kind']} {target} IS {value}"

    def drop(self, e: syntax.MedDrop) -> str:
        names = ", ".join(ident(n) for n in e.expressions)
        return f"DROP {e.args['kind']}" + _exists(e, "IF EXISTS") + f" {names}" + _cascade(e)

    TRANSFORMS = {
        **PostgresGenerator.TRANSFORMS,
        syntax.CreateFdw: create_fdw,
        syntax.AlterFdw: alter_fdw,
        syntax.CreateServer: create_server,
        syntax.AlterServer: alter_server,
        syntax.CreateUserMapping: lambda self, e: self.user_mapping(e, "CREATE", "IF NOT EXISTS"),
        syntax.AlterUserMapping: lambda self, e: self.user_mapping(e, "ALTER", ""),
        syntax.DropUserMapping: lambda self, e: self.user_mapping(e, "DROP", "IF EXISTS"),
        syntax.CreateForeignTable: create_table,
        syntax.AlterForeignTable: alter_table,
        syntax.ImportForeignSchema: import_schema,
        syntax.MedComment: comment,
        syntax.MedDrop: drop,
        syntax.CreateExtension: create_extension,
        syntax.MedType: lambda self, e: e.args["text"],
        syntax.MedUser: lambda self, e: _user(e),
        syntax.MedCheck: med_check,
    }
