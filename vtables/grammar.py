"""SQL/MED statements as a sqlglot dialect.

sqlglot knows none of PostgreSQL's SQL/MED statements (it falls back to
``Command`` or fails), so this module extends its PostgreSQL dialect through
the documented extension points: statement parsers keyed by the leading
token, one expression class per statement, and generator transforms that
print each tree back as canonical SQL.  ``parse(sql)`` followed by
``to_sql(tree)`` and ``parse`` again gives an equal tree.
"""

from __future__ import annotations

import re
from typing import Any

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.tokens import TokenType

from . import sqltext
from .errors import SQLMedSyntaxError

__all__ = [
    "parse",
    "parse_one",
    "to_sql",
    "quote_ident",
    "quote_literal",
]

_WORD = re.compile(r"[A-Za-z_\x80-\uffff][A-Za-z0-9_$\x80-\uffff]*\Z")
_USER_KEYWORDS = ("CURRENT_USER", "CURRENT_ROLE", "SESSION_USER", "USER", "PUBLIC")


# ---------------------------------------------------------------- expressions


class MedOption(exp.Expression):
    """One ``name 'value'`` item; ``action`` is ADD, SET or DROP in ALTER lists."""

    arg_types = {"this": True, "value": False, "action": False}


class MedColumn(exp.Expression):
    arg_types = {
        "this": True,
        "kind": True,
        "options": False,
        "collate": False,
        "not_null": False,
        "null": False,
        "default": False,
        "constraints": False,
    }


class MedCheck(exp.Expression):
    """``[CONSTRAINT name] CHECK (expression) [NOT VALID]``: declared, never enforced."""

    arg_types = {"this": False, "expression": True, "not_valid": False}


class MedType(exp.Expression):
    """A column type: sqlglot's DataType (which validates it) and the text as written."""

    arg_types = {"this": True, "text": True}


class MedUser(exp.Expression):
    """A role spec: a name (Identifier) or one of the keywords in ``keyword``."""

    arg_types = {"this": False, "keyword": False}


class CreateFdw(exp.Expression):
    arg_types = {"this": True, "functions": False, "options": False}


class AlterFdw(exp.Expression):
    arg_types = {"this": True, "functions": False, "options": False, "rename": False}


class FdwFunction(exp.Expression):
    """HANDLER f | NO HANDLER | VALIDATOR f | NO VALIDATOR (``this`` is None for NO)."""

    arg_types = {"this": False, "kind": True}


class CreateServer(exp.Expression):
    arg_types = {
        "this": True,
        "exists": False,
        "type": False,
        "version": False,
        "wrapper": True,
        "options": False,
    }


class AlterServer(exp.Expression):
    arg_types = {"this": True, "version": False, "options": False, "rename": False}


class CreateUserMapping(exp.Expression):
    arg_types = {"this": True, "server": True, "exists": False, "options": False}


class AlterUserMapping(exp.Expression):
    arg_types = {"this": True, "server": True, "options": True}


class DropUserMapping(exp.Expression):
    arg_types = {"this": True, "server": True, "exists": False}


class CreateForeignTable(exp.Expression):
    arg_types = {
        "this": True,
        "exists": False,
        "columns": False,
        "server": True,
        "options": False,
        "constraints": False,
    }


class AlterForeignTable(exp.Expression):
    arg_types = {"this": True, "exists": False, "actions": False, "rename": False}


class FtAction(exp.Expression):
    """One ALTER FOREIGN TABLE action.

    ``kind`` is one of ADD, DROP, TYPE, SET_DEFAULT, DROP_DEFAULT, SET_NOT_NULL,
    DROP_NOT_NULL, COLUMN_OPTIONS, OPTIONS, RENAME_COLUMN, ADD_CONSTRAINT (``this``
    a MedCheck), DROP_CONSTRAINT, VALIDATE_CONSTRAINT (``constraint`` its name).
    """

    arg_types = {
        "kind": True,
        "this": False,
        "column": False,
        "exists": False,
        "options": False,
        "dtype": False,
        "default": False,
        "cascade": False,
        "to": False,
        "constraint": False,
    }


class ImportForeignSchema(exp.Expression):
    arg_types = {
        "this": True,
        "restriction": False,
        "tables": False,
        "server": True,
        "into": True,
        "options": False,
    }


class MedComment(exp.Expression):
    """COMMENT ON ...; ``kind`` is FOREIGN DATA WRAPPER, SERVER, FOREIGN TABLE or COLUMN."""

    arg_types = {"this": True, "kind": True, "column": False, "comment": False}


class MedDrop(exp.Expression):
    """DROP of wrappers, servers, foreign tables or extensions (a name list)."""

    arg_types = {"kind": True, "expressions": True, "exists": False, "cascade": False}


class CreateExtension(exp.Expression):
    arg_types = {"this": True, "exists": False}


MED_EXPRESSIONS = (
    CreateFdw,
    AlterFdw,
    CreateServer,
    AlterServer,
    CreateUserMapping,
    AlterUserMapping,
    DropUserMapping,
    CreateForeignTable,
    AlterForeignTable,
    ImportForeignSchema,
    MedComment,
    MedDrop,
    CreateExtension,
)

DROP_KINDS = ("FOREIGN DATA WRAPPER", "SERVER", "FOREIGN TABLE", "EXTENSION")


# --------------------------------------------------------------------- parser


class _Parser(Postgres.Parser):
    """PostgreSQL parser with the SQL/MED statements added.

    Each SQL/MED statement is reached through STATEMENT_PARSERS, keyed by its
    leading token; anything else falls back to sqlglot's own parser.
    """

    STATEMENT_PARSERS = {
        **Postgres.Parser.STATEMENT_PARSERS,
        TokenType.CREATE: lambda self: self._med_create(),
        TokenType.ALTER: lambda self: self._med_alter(),
        TokenType.DROP: lambda self: self._med_drop(),
        TokenType.COMMENT: lambda self: self._med_comment(),
    }

    def _med_expected(self, what: str) -> None:
        """Fail at the start of the current token (or just past the last one)."""
        if self._curr:
            found, offset = repr(self._curr.text), self._curr.start
        else:
            found = "end of input"
            offset = self._prev.end + 1 if self._prev else 0
        line, column = sqltext.position(self.sql or "", offset)
        raise SQLMedSyntaxError(
            f"expected {what} but found {found}", line=line, column=column, sql=self.sql
        )

    def _med_expect(self, *words: str) -> None:
        for i, word in enumerate(words):
            if not self._match_text_seq(word):
                self._med_expected(" ".join(words[i:]))

    def _med_ident(self, what: str = "a name") -> exp.Identifier:
        tok = self._curr
        if tok and tok.token_type == TokenType.IDENTIFIER:
            self._advance()
            return exp.Identifier(this=tok.text, quoted=True)
        if (
            tok
            and tok.token_type not in (TokenType.STRING, TokenType.NUMBER)
            and _WORD.match(tok.text)
        ):
            self._advance()
            return exp.Identifier(this=tok.text, quoted=False)
        self._med_expected(what)
        return exp.Identifier(this="", quoted=False)  # only reached when errors are collected

    def _med_string(self, what: str = "a string literal") -> str:
        # 'text', or E'text' with backslash escapes (sqlglot's BYTE_STRING, decoded)
        if self._match(TokenType.STRING) or self._match(TokenType.BYTE_STRING):
            return self._prev.text
        self._med_expected(what)
        return ""

    def _med_paren(self) -> None:
        if not self._match(TokenType.L_PAREN):
            self._med_expected("'('")

    def _med_close(self) -> None:
        if not self._match(TokenType.R_PAREN):
            self._med_expected("')' or ','")

    def _med_if_not_exists(self) -> bool:
        return self._match_text_seq("IF", "NOT", "EXISTS")

    def _med_if_exists(self) -> bool:
        return self._match_text_seq("IF", "EXISTS")

    def _med_options(self, alter: bool) -> list[MedOption] | None:
        if not self._match_text_seq("OPTIONS"):
            return None
        self._med_paren()
        items = []
        while True:
            action = None
            if (
                alter
                and self._curr
                and self._curr.token_type not in (TokenType.IDENTIFIER, TokenType.STRING)
                and self._curr.text.upper() in ("ADD", "SET", "DROP")
                and self._next
                and self._next.token_type not in (TokenType.STRING, TokenType.BYTE_STRING)
            ):
                action = self._curr.text.upper()
                self._advance()
            name = self._med_ident("an option name")
            if action == "DROP":
                items.append(MedOption(this=name, action="DROP"))
            else:
                value = self._med_string(f"a string value for option {name.this!r}")
                items.append(MedOption(this=name, value=value, action=action))
            if not self._match(TokenType.COMMA):
                break
        self._med_close()
        return items

    def _med_user(self) -> MedUser:
        tok = self._curr
        if tok and tok.token_type != TokenType.IDENTIFIER and tok.text.upper() in _USER_KEYWORDS:
            self._advance()
            return MedUser(keyword=tok.text.upper())
        return MedUser(this=self._med_ident("a user name"))

    def _med_end(self, expression: exp.Expression) -> exp.Expression:
        if self._curr and self._curr.token_type != TokenType.SEMICOLON:
            self._med_expected("end of statement")
        return expression

    # -- statement entry points; each falls back to sqlglot's own parser

    def _med_create(self) -> exp.Expr:
        if self._match_text_seq("FOREIGN", "DATA", "WRAPPER"):
            return self._med_end(self._med_create_fdw())
        if self._match_text_seq("FOREIGN", "TABLE"):
            return self._med_end(self._med_create_table())
        if self._match_text_seq("FOREIGN"):
            self._med_expected("DATA WRAPPER or TABLE")
        if self._match_text_seq("SERVER"):
            return self._med_end(self._med_create_server())
        if self._match_text_seq("USER"):
            self._med_expect("MAPPING")
            exists = self._med_if_not_exists()
            self._med_expect("FOR")
            user = self._med_user()
            self._med_expect("SERVER")
            server = self._med_ident("a server name")
            options = self._med_options(alter=False)
            return self._med_end(
                CreateUserMapping(this=user, server=server, exists=exists, options=options)
            )
        if self._match_text_seq("EXTENSION"):
            exists = self._med_if_not_exists()
            name = self._med_ident("an extension name")
            return self._med_end(CreateExtension(this=name, exists=exists))
        return self._parse_create()

    def _med_fdw_functions(self) -> list[FdwFunction]:
        functions = []
        while True:
            if self._match_text_seq("NO", "HANDLER"):
                functions.append(FdwFunction(kind="HANDLER"))
            elif self._match_text_seq("NO", "VALIDATOR"):
                functions.append(FdwFunction(kind="VALIDATOR"))
            elif self._match_text_seq("HANDLER"):
                functions.append(
                    FdwFunction(this=self._med_ident("a handler name"), kind="HANDLER")
                )
            elif self._match_text_seq("VALIDATOR"):
                functions.append(
                    FdwFunction(this=self._med_ident("a validator name"), kind="VALIDATOR")
                )
            elif self._match_text_seq("NO"):
                self._med_expected("HANDLER or VALIDATOR")
            else:
                return functions

    def _med_create_fdw(self) -> CreateFdw:
        name = self._med_ident("a foreign-data wrapper name")
        functions = self._med_fdw_functions()
        options = self._med_options(alter=False)
        return CreateFdw(this=name, functions=functions or None, options=options)

    def _med_create_server(self) -> CreateServer:
        exists = self._med_if_not_exists()
        name = self._med_ident("a server name")
        stype = self._med_string("a server type string") if self._match_text_seq("TYPE") else None
        version = self._med_string("a version string") if self._match_text_seq("VERSION") else None
        self._med_expect("FOREIGN", "DATA", "WRAPPER")
        wrapper = self._med_ident("a foreign-data wrapper name")
        options = self._med_options(alter=False)
        return CreateServer(
            this=name, exists=exists, type=stype, version=version, wrapper=wrapper, options=options
        )

    def _med_type(self, what: str) -> MedType:
        """A data type, kept as written (sqlglot would rename ``integer`` to ``INT``).

        sqlglot alone also lets ``numeric(10 2)`` through as ``numeric(10)``.
        """
        start = self._index
        dtype = self._parse_types(check_func=False, schema=True, allow_identifiers=True)
        if not isinstance(dtype, exp.DataType):
            self._retreat(start)
            self._med_expected(what)
        if not _well_formed_params(self._tokens[start : self._index]):
            self._retreat(start)
            self._med_expected(what + " (type parameters are a comma-separated list)")
        first, last = self._tokens[start], self._tokens[self._index - 1]
        text = re.sub(r"\s+", " ", self.sql[first.start : last.end + 1])
        return MedType(this=dtype, text=text)

    def _med_column(self) -> MedColumn:
        name = self._med_ident("a column name")
        dtype = self._med_type(f"a data type for column {name.this!r}")
        args: dict[str, Any] = {"this": name, "kind": dtype}
        while True:
            if self._curr and self._curr.text.upper() == "OPTIONS":
                if args.get("options") is not None:
                    self.raise_error("OPTIONS given twice for a column")
                args["options"] = self._med_options(alter=False)
            elif self._match(TokenType.COLLATE):
                if args.get("collate") is not None:
                    self.raise_error("COLLATE given twice for a column")
                args["collate"] = self._med_ident("a collation name")
            elif self._match_text_seq("NOT", "NULL"):
                args["not_null"] = True
            elif self._match(TokenType.NULL):
                args["null"] = True
            elif self._match(TokenType.DEFAULT):
                default = self._parse_bitwise()
                if default is None:
                    self._med_expected("a default expression")
                args["default"] = default
            elif self._med_at_check():
                args.setdefault("constraints", []).append(self._med_check(table=False))
            else:
                break
        if args.get("not_null") and args.get("null"):
            self.raise_error(f"conflicting NULL/NOT NULL declarations for column {name.this!r}")
        return MedColumn(**args)

    def _med_at_check(self) -> bool:
        return self._match_text_seq("CONSTRAINT", advance=False) or self._match_text_seq(
            "CHECK", advance=False
        )

    def _med_check(self, table: bool) -> MedCheck:
        """``[CONSTRAINT name] CHECK (expr)``, and ``[NOT VALID]`` for a table constraint."""
        name = None
        if self._match_text_seq("CONSTRAINT"):
            name = self._med_ident("a constraint name")
        self._med_expect("CHECK")
        self._med_paren()
        expression = self._parse_disjunction()
        if expression is None:
            self._med_expected("a check expression")
        self._med_close()
        not_valid = table and self._match_text_seq("NOT", "VALID")
        return MedCheck(this=name, expression=expression, not_valid=not_valid or None)

    def _med_table_element(self) -> exp.Expression:
        if self._med_at_check():
            return self._med_check(table=True)
        return self._med_column()

    def _med_create_table(self) -> CreateForeignTable:
        exists = self._med_if_not_exists()
        name = self._med_ident("a foreign table name")
        self._med_paren()
        elements: list[exp.Expression] = []
        if not self._match(TokenType.R_PAREN):
            elements = self._parse_csv(self._med_table_element)
            self._med_close()
        columns = [e for e in elements if isinstance(e, MedColumn)]
        constraints = [e for e in elements if isinstance(e, MedCheck)]
        self._med_expect("SERVER")
        server = self._med_ident("a server name")
        options = self._med_options(alter=False)
        return CreateForeignTable(
            this=name,
            exists=exists,
            columns=columns or None,
            server=server,
            options=options,
            constraints=constraints or None,
        )

    def _med_alter(self) -> exp.Expr:
        if self._match_text_seq("FOREIGN", "DATA", "WRAPPER"):
            name = self._med_ident("a foreign-data wrapper name")
            if self._match_text_seq("RENAME", "TO"):
                return self._med_end(AlterFdw(this=name, rename=self._med_ident("a new name")))
            functions = self._med_fdw_functions()
            options = self._med_options(alter=True)
            if not functions and options is None:
                self._med_expected("HANDLER, VALIDATOR, OPTIONS or RENAME TO")
            return self._med_end(AlterFdw(this=name, functions=functions or None, options=options))
        if self._match_text_seq("FOREIGN", "TABLE"):
            return self._med_end(self._med_alter_table())
        if self._match_text_seq("FOREIGN"):
            self._med_expected("DATA WRAPPER or TABLE")
        if self._match_text_seq("SERVER"):
            name = self._med_ident("a server name")
            if self._match_text_seq("RENAME", "TO"):
                return self._med_end(AlterServer(this=name, rename=self._med_ident("a new name")))
            version = (
                self._med_string("a version string") if self._match_text_seq("VERSION") else None
            )
            options = self._med_options(alter=True)
            if version is None and options is None:
                self._med_expected("VERSION, OPTIONS or RENAME TO")
            return self._med_end(AlterServer(this=name, version=version, options=options))
        if self._match_text_seq("USER"):
            self._med_expect("MAPPING")
            self._med_expect("FOR")
            user = self._med_user()
            self._med_expect("SERVER")
            server = self._med_ident("a server name")
            options = self._med_options(alter=True)
            if options is None:
                self._med_expected("OPTIONS")
            return self._med_end(AlterUserMapping(this=user, server=server, options=options))
        return self._parse_alter()

    def _med_alter_table(self) -> AlterForeignTable:
        exists = self._med_if_exists()
        name = self._med_ident("a foreign table name")
        if self._match_text_seq("RENAME", "TO"):
            return AlterForeignTable(this=name, exists=exists, rename=self._med_ident("a new name"))
        if self._match_text_seq("RENAME"):
            self._match_text_seq("COLUMN")
            column = self._med_ident("a column name")
            self._med_expect("TO")
            to = self._med_ident("a new column name")
            action = FtAction(kind="RENAME_COLUMN", column=column, to=to)
            return AlterForeignTable(this=name, exists=exists, actions=[action])
        actions = self._parse_csv(self._med_alter_action)
        return AlterForeignTable(this=name, exists=exists, actions=actions)

    def _med_cascade(self) -> str | None:
        if self._match_text_seq("CASCADE"):
            return "CASCADE"
        if self._match_text_seq("RESTRICT"):
            return "RESTRICT"
        return None

    def _med_alter_action(self) -> FtAction:
        if self._match_text_seq("ADD"):
            if self._med_at_check():
                return FtAction(kind="ADD_CONSTRAINT", this=self._med_check(table=True))
            self._match_text_seq("COLUMN")
            exists = self._med_if_not_exists()
            return FtAction(kind="ADD", this=self._med_column(), exists=exists)
        if self._match_text_seq("DROP", "CONSTRAINT"):
            exists = self._med_if_exists()
            constraint = self._med_ident("a constraint name")
            return FtAction(
                kind="DROP_CONSTRAINT",
                constraint=constraint,
                exists=exists,
                cascade=self._med_cascade(),
            )
        if self._match_text_seq("VALIDATE", "CONSTRAINT"):
            constraint = self._med_ident("a constraint name")
            return FtAction(kind="VALIDATE_CONSTRAINT", constraint=constraint)
        if self._match_text_seq("DROP"):
            self._match_text_seq("COLUMN")
            exists = self._med_if_exists()
            column = self._med_ident("a column name")
            return FtAction(kind="DROP", column=column, exists=exists, cascade=self._med_cascade())
        if self._curr and self._curr.text.upper() == "OPTIONS":
            return FtAction(kind="OPTIONS", options=self._med_options(alter=True))
        if self._match_text_seq("ALTER"):
            self._match_text_seq("COLUMN")
            column = self._med_ident("a column name")
            if self._match_text_seq("SET", "DATA", "TYPE") or self._match_text_seq("TYPE"):
                dtype = self._med_type("a data type")
                return FtAction(kind="TYPE", column=column, dtype=dtype)
            if self._match_text_seq("SET", "NOT", "NULL"):
                return FtAction(kind="SET_NOT_NULL", column=column)
            if self._match_text_seq("DROP", "NOT", "NULL"):
                return FtAction(kind="DROP_NOT_NULL", column=column)
            if self._match_text_seq("SET", "DEFAULT"):
                default = self._parse_bitwise()
                if default is None:
                    self._med_expected("a default expression")
                return FtAction(kind="SET_DEFAULT", column=column, default=default)
            if self._match_text_seq("DROP", "DEFAULT"):
                return FtAction(kind="DROP_DEFAULT", column=column)
            if self._curr and self._curr.text.upper() == "OPTIONS":
                return FtAction(
                    kind="COLUMN_OPTIONS", column=column, options=self._med_options(alter=True)
                )
            self._med_expected(
                "TYPE, SET DATA TYPE, SET/DROP NOT NULL, SET/DROP DEFAULT or OPTIONS"
            )
        self._med_expected("ADD, DROP, ALTER, VALIDATE CONSTRAINT, OPTIONS or RENAME")
        return FtAction(kind="OPTIONS")  # only reached when errors are collected

    def _med_drop(self) -> exp.Expr:
        for kind in DROP_KINDS:
            if self._match_text_seq(*kind.split()):
                if_exists = self._med_if_exists()
                what = "an extension name" if kind == "EXTENSION" else "a name"
                names = self._parse_csv(lambda what=what: self._med_ident(what))
                cascade = self._med_cascade()
                return self._med_end(
                    MedDrop(kind=kind, expressions=names, exists=if_exists, cascade=cascade)
                )
        if self._match_text_seq("FOREIGN"):
            self._med_expected("DATA WRAPPER or TABLE")
        if self._match_text_seq("USER"):
            self._med_expect("MAPPING")
            if_exists = self._med_if_exists()
            self._med_expect("FOR")
            user = self._med_user()
            self._med_expect("SERVER")
            server = self._med_ident("a server name")
            return self._med_end(DropUserMapping(this=user, server=server, exists=if_exists))
        return self._parse_drop()

    def _med_comment(self) -> exp.Expr:
        index = self._index
        if self._match_text_seq("ON"):
            kind = None
            if self._match_text_seq("FOREIGN", "DATA", "WRAPPER"):
                kind = "FOREIGN DATA WRAPPER"
            elif self._match_text_seq("FOREIGN", "TABLE"):
                kind = "FOREIGN TABLE"
            elif self._match_text_seq("SERVER"):
                kind = "SERVER"
            elif self._match_text_seq("COLUMN"):
                kind = "COLUMN"
            if kind:
                name = self._med_ident("an object name")
                column = None
                if kind == "COLUMN":
                    if not self._match(TokenType.DOT):
                        self._med_expected("'.' and a column name (table.column)")
                    column = self._med_ident("a column name")
                self._med_expect("IS")
                if self._match(TokenType.NULL):
                    comment = None
                else:
                    comment = self._med_string("a string literal or NULL")
                return self._med_end(
                    MedComment(this=name, kind=kind, column=column, comment=comment)
                )
        self._retreat(index)
        return self._parse_comment()

    def _med_import(self) -> ImportForeignSchema:
        self._med_expect("FOREIGN", "SCHEMA")
        remote = self._med_ident("a remote schema name")
        restriction = None
        tables = None
        if self._match_text_seq("LIMIT", "TO"):
            restriction = "LIMIT TO"
        elif self._match_text_seq("EXCEPT"):
            restriction = "EXCEPT"
        if restriction:
            self._med_paren()
            tables = self._parse_csv(lambda: self._med_ident("a table name"))
            self._med_close()
        self._med_expect("FROM", "SERVER")
        server = self._med_ident("a server name")
        self._med_expect("INTO")
        into = self._med_ident("a local schema name")
        options = self._med_options(alter=False)
        return self._med_end(
            ImportForeignSchema(
                this=remote,
                restriction=restriction,
                tables=tables,
                server=server,
                into=into,
                options=options,
            )
        )

    def _parse_statement(self) -> exp.Expr | None:  # type: ignore[override]
        if self._curr and self._curr.token_type != TokenType.IDENTIFIER:
            if self._curr.text.upper() == "IMPORT":
                self._advance()
                return self._med_import()
        return super()._parse_statement()


def _well_formed_params(tokens: list) -> bool:
    """Each parenthesised group of a type holds single tokens separated by commas."""
    inside = False
    expect_item = True
    for tok in tokens:
        if tok.token_type == TokenType.L_PAREN:
            if inside:
                return False
            inside, expect_item = True, True
        elif tok.token_type == TokenType.R_PAREN:
            if not inside or expect_item:
                return False
            inside = False
        elif inside:
            if expect_item == (tok.token_type == TokenType.COMMA):
                return False
            expect_item = not expect_item
    return not inside


# ------------------------------------------------------------------ generator


def quote_ident(name: str) -> str:
    """Quote an identifier the PostgreSQL way when it needs quoting."""
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) and name.upper() not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_RESERVED = frozenset(
    """ALL ANALYSE ANALYZE AND ANY ARRAY AS ASC ASYMMETRIC BOTH CASE CAST CHECK COLLATE COLUMN
    CONSTRAINT CREATE CURRENT_CATALOG CURRENT_DATE CURRENT_ROLE CURRENT_TIME CURRENT_TIMESTAMP
    CURRENT_USER DEFAULT DEFERRABLE DESC DISTINCT DO ELSE END EXCEPT FALSE FETCH FOR FOREIGN FROM
    GRANT GROUP HAVING IN INITIALLY INTERSECT INTO LATERAL LEADING LIMIT LOCALTIME LOCALTIMESTAMP
    NOT NULL OFFSET ON ONLY OR ORDER PLACING PRIMARY REFERENCES RETURNING SELECT SESSION_USER
    SOME SYMMETRIC TABLE THEN TO TRAILING TRUE UNION UNIQUE USER USING VARIADIC WHEN WHERE WINDOW
    WITH PUBLIC OPTIONS SERVER HANDLER VALIDATOR TYPE VERSION ADD SET DROP IS NO""".split()
)


def _ident(node: exp.Identifier) -> str:
    if node.args.get("quoted"):
        return '"' + node.this.replace('"', '""') + '"'
    return node.this


def _options_sql(options: list[MedOption] | None) -> str:
    if options is None:
        return ""
    items = []
    for opt in options:
        action = opt.args.get("action")
        text = _ident(opt.this)
        if action:
            text = f"{action} {text}"
        if action != "DROP":
            text += " " + quote_literal(opt.args.get("value") or "")
        items.append(text)
    return " OPTIONS (" + ", ".join(items) + ")"


def _user_sql(user: MedUser) -> str:
    keyword = user.args.get("keyword")
    return keyword if keyword else _ident(user.this)


def _functions_sql(functions: list[FdwFunction] | None) -> str:
    out = ""
    for fn in functions or ():
        kind = fn.args["kind"]
        out += f" {kind} {_ident(fn.this)}" if fn.this else f" NO {kind}"
    return out


def _column_sql(gen: Any, col: MedColumn) -> str:
    text = f"{_ident(col.this)} {gen.sql(col.args['kind'])}"
    text += _options_sql(col.args.get("options"))
    if col.args.get("collate") is not None:
        text += f" COLLATE {_ident(col.args['collate'])}"
    if col.args.get("not_null"):
        text += " NOT NULL"
    if col.args.get("null"):
        text += " NULL"
    if col.args.get("default") is not None:
        text += " DEFAULT " + gen.sql(col.args["default"])
    for check in col.args.get("constraints") or ():
        text += " " + _check_sql(gen, check)
    return text


def _check_sql(gen: Any, check: MedCheck) -> str:
    text = f"CONSTRAINT {_ident(check.this)} " if check.this else ""
    text += f"CHECK ({gen.sql(check.args['expression'])})"
    return text + (" NOT VALID" if check.args.get("not_valid") else "")


def _exists(node: exp.Expression, text: str) -> str:
    return f" {text}" if node.args.get("exists") else ""


def _create_fdw_sql(gen: Any, e: CreateFdw) -> str:
    return (
        f"CREATE FOREIGN DATA WRAPPER {_ident(e.this)}"
        + _functions_sql(e.args.get("functions"))
        + _options_sql(e.args.get("options"))
    )


def _alter_fdw_sql(gen: Any, e: AlterFdw) -> str:
    head = f"ALTER FOREIGN DATA WRAPPER {_ident(e.this)}"
    if e.args.get("rename"):
        return f"{head} RENAME TO {_ident(e.args['rename'])}"
    return head + _functions_sql(e.args.get("functions")) + _options_sql(e.args.get("options"))


def _create_server_sql(gen: Any, e: CreateServer) -> str:
    text = "CREATE SERVER" + _exists(e, "IF NOT EXISTS") + f" {_ident(e.this)}"
    if e.args.get("type") is not None:
        text += f" TYPE {quote_literal(e.args['type'])}"
    if e.args.get("version") is not None:
        text += f" VERSION {quote_literal(e.args['version'])}"
    text += f" FOREIGN DATA WRAPPER {_ident(e.args['wrapper'])}"
    return text + _options_sql(e.args.get("options"))


def _alter_server_sql(gen: Any, e: AlterServer) -> str:
    head = f"ALTER SERVER {_ident(e.this)}"
    if e.args.get("rename"):
        return f"{head} RENAME TO {_ident(e.args['rename'])}"
    if e.args.get("version") is not None:
        head += f" VERSION {quote_literal(e.args['version'])}"
    return head + _options_sql(e.args.get("options"))


def _create_um_sql(gen: Any, e: CreateUserMapping) -> str:
    return (
        "CREATE USER MAPPING"
        + _exists(e, "IF NOT EXISTS")
        + f" FOR {_user_sql(e.this)} SERVER {_ident(e.args['server'])}"
        + _options_sql(e.args.get("options"))
    )


def _alter_um_sql(gen: Any, e: AlterUserMapping) -> str:
    return f"ALTER USER MAPPING FOR {_user_sql(e.this)} SERVER {_ident(e.args['server'])}" + (
        _options_sql(e.args.get("options"))
    )


def _drop_um_sql(gen: Any, e: DropUserMapping) -> str:
    return (
        "DROP USER MAPPING"
        + _exists(e, "IF EXISTS")
        + f" FOR {_user_sql(e.this)} SERVER {_ident(e.args['server'])}"
    )


def _create_table_sql(gen: Any, e: CreateForeignTable) -> str:
    columns = ", ".join(
        [_column_sql(gen, c) for c in e.args.get("columns") or ()]
        + [_check_sql(gen, c) for c in e.args.get("constraints") or ()]
    )
    return (
        "CREATE FOREIGN TABLE"
        + _exists(e, "IF NOT EXISTS")
        + f" {_ident(e.this)} ({columns}) SERVER {_ident(e.args['server'])}"
        + _options_sql(e.args.get("options"))
    )


def _action_sql(gen: Any, a: FtAction) -> str:
    kind = a.args["kind"]
    col = _ident(a.args["column"]) if a.args.get("column") else ""
    if kind == "ADD":
        return "ADD COLUMN" + _exists(a, "IF NOT EXISTS") + " " + _column_sql(gen, a.this)
    if kind == "DROP":
        text = "DROP COLUMN" + _exists(a, "IF EXISTS") + f" {col}"
        return text + (f" {a.args['cascade']}" if a.args.get("cascade") else "")
    if kind == "OPTIONS":
        return _options_sql(a.args.get("options")).lstrip()
    if kind == "ADD_CONSTRAINT":
        return "ADD " + _check_sql(gen, a.this)
    if kind == "DROP_CONSTRAINT":
        text = "DROP CONSTRAINT" + _exists(a, "IF EXISTS") + f" {_ident(a.args['constraint'])}"
        return text + (f" {a.args['cascade']}" if a.args.get("cascade") else "")
    if kind == "VALIDATE_CONSTRAINT":
        return f"VALIDATE CONSTRAINT {_ident(a.args['constraint'])}"
    if kind == "RENAME_COLUMN":
        return f"RENAME COLUMN {col} TO {_ident(a.args['to'])}"
    head = f"ALTER COLUMN {col}"
    if kind == "TYPE":
        return f"{head} TYPE {gen.sql(a.args['dtype'])}"
    if kind == "SET_DEFAULT":
        return f"{head} SET DEFAULT {gen.sql(a.args['default'])}"
    if kind == "COLUMN_OPTIONS":
        return head + _options_sql(a.args.get("options"))
    return f"{head} {kind.replace('_', ' ')}"


def _alter_table_sql(gen: Any, e: AlterForeignTable) -> str:
    head = "ALTER FOREIGN TABLE" + _exists(e, "IF EXISTS") + f" {_ident(e.this)}"
    if e.args.get("rename"):
        return f"{head} RENAME TO {_ident(e.args['rename'])}"
    return head + " " + ", ".join(_action_sql(gen, a) for a in e.args.get("actions") or ())


def _import_sql(gen: Any, e: ImportForeignSchema) -> str:
    text = f"IMPORT FOREIGN SCHEMA {_ident(e.this)}"
    if e.args.get("restriction"):
        tables = ", ".join(_ident(t) for t in e.args.get("tables") or ())
        text += f" {e.args['restriction']} ({tables})"
    text += f" FROM SERVER {_ident(e.args['server'])} INTO {_ident(e.args['into'])}"
    return text + _options_sql(e.args.get("options"))


def _comment_sql(gen: Any, e: MedComment) -> str:
    target = _ident(e.this)
    if e.args.get("column"):
        target += "." + _ident(e.args["column"])
    comment = e.args.get("comment")
    value = "NULL" if comment is None else quote_literal(comment)
    return f"COMMENT ON {e.args['kind']} {target} IS {value}"


def _drop_sql(gen: Any, e: MedDrop) -> str:
    names = ", ".join(_ident(n) for n in e.expressions)
    text = f"DROP {e.args['kind']}" + _exists(e, "IF EXISTS") + f" {names}"
    return text + (f" {e.args['cascade']}" if e.args.get("cascade") else "")


def _create_extension_sql(gen: Any, e: CreateExtension) -> str:
    return "CREATE EXTENSION" + _exists(e, "IF NOT EXISTS") + f" {_ident(e.this)}"


class _Generator(Postgres.Generator):
    TRANSFORMS = {
        **Postgres.Generator.TRANSFORMS,
        CreateFdw: _create_fdw_sql,
        AlterFdw: _alter_fdw_sql,
        CreateServer: _create_server_sql,
        AlterServer: _alter_server_sql,
        CreateUserMapping: _create_um_sql,
        AlterUserMapping: _alter_um_sql,
        DropUserMapping: _drop_um_sql,
        CreateForeignTable: _create_table_sql,
        AlterForeignTable: _alter_table_sql,
        ImportForeignSchema: _import_sql,
        MedComment: _comment_sql,
        MedDrop: _drop_sql,
        CreateExtension: _create_extension_sql,
        MedType: lambda gen, e: e.args["text"],
        MedCheck: _check_sql,
    }


class SQLMed(Postgres):
    """PostgreSQL with SQL/MED statements; the dialect every statement here is read in."""

    Parser = _Parser
    Generator = _Generator


_DIALECT = SQLMed()


# ------------------------------------------------------------------ front end


def _syntax_error(sql: str, err: Exception) -> SQLMedSyntaxError:
    errors = getattr(err, "errors", None) or []
    first = errors[0] if errors else {}
    line = first.get("line")
    col = first.get("col")
    description = first.get("description") or str(err).split("\n")[0]
    if line is None:
        where = sqltext.unterminated(sql)
        if where is not None:
            line, col, closer = where
            description = f"unterminated quoted text or comment (expected {closer})"
        else:
            line, col = _first_bad_token(sql)
            description = "invalid token"
    return SQLMedSyntaxError(description, line=line, column=col, sql=sql)


def _first_bad_token(sql: str) -> tuple[int, int]:
    """Where sqlglot's tokenizer first fails (it does not say where itself)."""
    toks = sqltext.tokens(sql)
    low, high = 0, len(toks) - 1  # find the first token whose prefix fails
    found = None
    while low <= high:
        mid = (low + high) // 2
        end = toks[mid].start + len(toks[mid].text)
        try:
            _DIALECT.tokenize(sql[:end])
        except TokenError:
            found, high = mid, mid - 1
        else:
            low = mid + 1
    return sqltext.position(sql, toks[found].start) if found is not None else (1, 1)


def _deepest_paren(sql: str, limit: int = 200) -> tuple[int, int]:
    depth = 0
    for tok in sqltext.tokens(sql):
        if tok.text == "(":
            depth += 1
            if depth > limit:
                return sqltext.position(sql, tok.start)
        elif tok.text == ")":
            depth -= 1
    return 1, 1


_SURROGATE = re.compile("[\ud800-\udfff]")


def parse(sql: str) -> list[exp.Expr]:
    """Parse SQL text (one or more statements) in the SQL/MED dialect."""
    nul = sql.find("\x00")
    if nul >= 0:
        line, column = sqltext.position(sql, nul)
        raise SQLMedSyntaxError("NUL character in SQL text", line=line, column=column, sql=sql)
    bad = _SURROGATE.search(sql)
    if bad is not None:  # not text SQLite can store: no name or value may hold it
        line, column = sqltext.position(sql, bad.start())
        raise SQLMedSyntaxError(
            "a lone surrogate (not a Unicode character) in SQL text",
            line=line,
            column=column,
            sql=sql.encode("utf-8", "backslashreplace").decode("utf-8"),
        )
    try:
        trees = _DIALECT.parse(sql, error_level=ErrorLevel.IMMEDIATE)
    except (ParseError, TokenError) as err:
        raise _syntax_error(sql, err) from None
    except RecursionError:
        line, column = _deepest_paren(sql)
        raise SQLMedSyntaxError(
            "statement nested too deeply", line=line, column=column, sql=sql
        ) from None
    return [t for t in trees if t is not None and not isinstance(t, exp.Semicolon)]


def parse_one(sql: str) -> exp.Expr:
    trees = parse(sql)
    if len(trees) != 1:
        raise SQLMedSyntaxError(f"expected one statement, found {len(trees)}", sql=sql)
    return trees[0]


def to_sql(tree: exp.Expr) -> str:
    """Print a tree back as SQL/MED text."""
    return _DIALECT.generate(tree)
