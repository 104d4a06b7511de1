"""The SQL/MED statements' parser: sqlglot's PostgreSQL parser with one entry
point per leading token (CREATE, ALTER, DROP, COMMENT, IMPORT) that reads a
SQL/MED statement into the trees of ``vtables.syntax`` and hands anything else
back to sqlglot.  Mistakes raise ``SQLMedSyntaxError`` naming the line, the
column and what was expected.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

from sqlglot import exp
from sqlglot.parsers.postgres import PostgresParser
from sqlglot.tokens import Token, TokenType

from . import sqltext, syntax
from .errors import SQLMedSyntaxError

_WORD = re.compile(r"[A-Za-z_\x80-\uffff][A-Za-z0-9_$\x80-\uffff]*\Z")
_E = TypeVar("_E", bound=exp.Expression)


class MedParser(PostgresParser):
    """PostgreSQL parser with the SQL/MED statements added.

    Each SQL/MED statement is reached through STATEMENT_PARSERS, keyed by its
    leading token; anything else falls back to sqlglot's own parser.
    """

    STATEMENT_PARSERS = {
        **PostgresParser.STATEMENT_PARSERS,
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

    def _med_options(self, alter: bool) -> list[syntax.MedOption] | None:
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
                items.append(syntax.MedOption(this=name, action="DROP"))
            else:
                value = self._med_string(f"a string value for option {name.this!r}")
                items.append(syntax.MedOption(this=name, value=value, action=action))
            if not self._match(TokenType.COMMA):
                break
        self._med_close()
        return items

    def _med_user(self) -> syntax.MedUser:
        tok = self._curr
        if (
            tok
            and tok.token_type != TokenType.IDENTIFIER
            and tok.text.upper() in syntax.USER_KEYWORDS
        ):
            self._advance()
            return syntax.MedUser(keyword=tok.text.upper())
        return syntax.MedUser(this=self._med_ident("a user name"))

    def _med_mapping(
        self, exists: Callable[[], bool] | None
    ) -> tuple[bool, syntax.MedUser, exp.Identifier]:
        """``MAPPING [IF [NOT] EXISTS] FOR user SERVER name``, after USER; ``exists``
        reads the IF clause the statement allows (None: none)."""
        self._med_expect("MAPPING")
        found = exists() if exists is not None else False
        self._med_expect("FOR")
        user = self._med_user()
        self._med_expect("SERVER")
        return found, user, self._med_ident("a server name")

    def _med_end(self, expression: _E) -> _E:
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
            exists, user, server = self._med_mapping(self._med_if_not_exists)
            options = self._med_options(alter=False)
            return self._med_end(
                syntax.CreateUserMapping(this=user, server=server, exists=exists, options=options)
            )
        if self._match_text_seq("EXTENSION"):
            exists = self._med_if_not_exists()
            name = self._med_ident("an extension name")
            return self._med_end(syntax.CreateExtension(this=name, exists=exists))
        return self._parse_create()

    def _med_fdw_functions(self) -> list[syntax.FdwFunction]:
        functions = []
        while True:
            if self._match_text_seq("NO", "HANDLER"):
                functions.append(syntax.FdwFunction(kind="HANDLER"))
            elif self._match_text_seq("NO", "VALIDATOR"):
                functions.append(syntax.FdwFunction(kind="VALIDATOR"))
            elif self._match_text_seq("HANDLER"):
                functions.append(
                    syntax.FdwFunction(this=self._med_ident("a handler name"), kind="HANDLER")
                )
            elif self._match_text_seq("VALIDATOR"):
                functions.append(
                    syntax.FdwFunction(this=self._med_ident("a validator name"), kind="VALIDATOR")
                )
            elif self._match_text_seq("NO"):
                self._med_expected("HANDLER or VALIDATOR")
            else:
                return functions

    def _med_create_fdw(self) -> syntax.CreateFdw:
        name = self._med_ident("a foreign-data wrapper name")
        functions = self._med_fdw_functions()
        options = self._med_options(alter=False)
        return syntax.CreateFdw(this=name, functions=functions or None, options=options)

    def _med_create_server(self) -> syntax.CreateServer:
        exists = self._med_if_not_exists()
        name = self._med_ident("a server name")
        stype = self._med_string("a server type string") if self._match_text_seq("TYPE") else None
        version = self._med_string("a version string") if self._match_text_seq("VERSION") else None
        self._med_expect("FOREIGN", "DATA", "WRAPPER")
        wrapper = self._med_ident("a foreign-data wrapper name")
        options = self._med_options(alter=False)
        return syntax.CreateServer(
            this=name, exists=exists, type=stype, version=version, wrapper=wrapper, options=options
        )

    def _med_type(self, what: str) -> syntax.MedType:
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
        return syntax.MedType(this=dtype, text=text)

    def _med_column(self) -> syntax.MedColumn:
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
        return syntax.MedColumn(**args)

    def _med_at_check(self) -> bool:
        return self._match_text_seq("CONSTRAINT", advance=False) or self._match_text_seq(
            "CHECK", advance=False
        )

    def _med_check(self, table: bool) -> syntax.MedCheck:
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
        return syntax.MedCheck(this=name, expression=expression, not_valid=not_valid or None)

    def _med_table_element(self) -> exp.Expression:
        if self._med_at_check():
            return self._med_check(table=True)
        return self._med_column()

    def _med_create_table(self) -> syntax.CreateForeignTable:
        exists = self._med_if_not_exists()
        name = self._med_ident("a foreign table name")
        self._med_paren()
        elements: list[exp.Expression] = []
        if not self._match(TokenType.R_PAREN):
            elements = self._parse_csv(self._med_table_element)
            self._med_close()
        columns = [e for e in elements if isinstance(e, syntax.MedColumn)]
        constraints = [e for e in elements if isinstance(e, syntax.MedCheck)]
        self._med_expect("SERVER")
        server = self._med_ident("a server name")
        options = self._med_options(alter=False)
        return syntax.CreateForeignTable(
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
                return self._med_end(
                    syntax.AlterFdw(this=name, rename=self._med_ident("a new name"))
                )
            functions = self._med_fdw_functions()
            options = self._med_options(alter=True)
            if not functions and options is None:
                self._med_expected("HANDLER, VALIDATOR, OPTIONS or RENAME TO")
            return self._med_end(
                syntax.AlterFdw(this=name, functions=functions or None, options=options)
            )
        if self._match_text_seq("FOREIGN", "TABLE"):
            return self._med_end(self._med_alter_table())
        if self._match_text_seq("FOREIGN"):
            self._med_expected("DATA WRAPPER or TABLE")
        if self._match_text_seq("SERVER"):
            name = self._med_ident("a server name")
            if self._match_text_seq("RENAME", "TO"):
                return self._med_end(
                    syntax.AlterServer(this=name, rename=self._med_ident("a new name"))
                )
            version = (
                self._med_string("a version string") if self._match_text_seq("VERSION") else None
            )
            options = self._med_options(alter=True)
            if version is None and options is None:
                self._med_expected("VERSION, OPTIONS or RENAME TO")
            return self._med_end(syntax.AlterServer(this=name, version=version, options=options))
        if self._match_text_seq("USER"):
            _, user, server = self._med_mapping(None)
            options = self._med_options(alter=True)
            if options is None:
                self._med_expected("OPTIONS")
            return self._med_end(syntax.AlterUserMapping(this=user, server=server, options=options))
        return self._parse_alter()

    def _med_alter_table(self) -> syntax.AlterForeignTable:
        exists = self._med_if_exists()
        name = self._med_ident("a foreign table name")
        if self._match_text_seq("RENAME", "TO"):
            return syntax.AlterForeignTable(
                this=name, exists=exists, rename=self._med_ident("a new name")
            )
        if self._match_text_seq("RENAME"):
            self._match_text_seq("COLUMN")
            column = self._med_ident("a column name")
            self._med_expect("TO")
            to = self._med_ident("a new column name")
            action = syntax.FtAction(kind="RENAME_COLUMN", column=column, to=to)
            return syntax.AlterForeignTable(this=name, exists=exists, actions=[action])
        actions = self._parse_csv(self._med_alter_action)
        return syntax.AlterForeignTable(this=name, exists=exists, actions=actions)

    def _med_cascade(self) -> str | None:
        if self._match_text_seq("CASCADE"):
            return "CASCADE"
        if self._match_text_seq("RESTRICT"):
            return "RESTRICT"
        return None

    def _med_alter_action(self) -> syntax.FtAction:
        if self._match_text_seq("ADD"):
            if self._med_at_check():
                return syntax.FtAction(kind="ADD_CONSTRAINT", this=self._med_check(table=True))
            self._match_text_seq("COLUMN")
            exists = self._med_if_not_exists()
            return syntax.FtAction(kind="ADD", this=self._med_column(), exists=exists)
        if self._match_text_seq("DROP", "CONSTRAINT"):
            exists = self._med_if_exists()
            constraint = self._med_ident("a constraint name")
            return syntax.FtAction(
                kind="DROP_CONSTRAINT",
                constraint=constraint,
                exists=exists,
                cascade=self._med_cascade(),
            )
        if self._match_text_seq("VALIDATE", "CONSTRAINT"):
            constraint = self._med_ident("a constraint name")
            return syntax.FtAction(kind="VALIDATE_CONSTRAINT", constraint=constraint)
        if self._match_text_seq("DROP"):
            self._match_text_seq("COLUMN")
            exists = self._med_if_exists()
            column = self._med_ident("a column name")
            return syntax.FtAction(
                kind="DROP", column=column, exists=exists, cascade=self._med_cascade()
            )
        if self._curr and self._curr.text.upper() == "OPTIONS":
            return syntax.FtAction(kind="OPTIONS", options=self._med_options(alter=True))
        if self._match_text_seq("ALTER"):
            self._match_text_seq("COLUMN")
            column = self._med_ident("a column name")
            if self._match_text_seq("SET", "DATA", "TYPE") or self._match_text_seq("TYPE"):
                dtype = self._med_type("a data type")
                return syntax.FtAction(kind="TYPE", column=column, dtype=dtype)
            if self._match_text_seq("SET", "NOT", "NULL"):
                return syntax.FtAction(kind="SET_NOT_NULL", column=column)
            if self._match_text_seq("DROP", "NOT", "NULL"):
                return syntax.FtAction(kind="DROP_NOT_NULL", column=column)
            if self._match_text_seq("SET", "DEFAULT"):
                default = self._parse_bitwise()
                if default is None:
                    self._med_expected("a default expression")
                return syntax.FtAction(kind="SET_DEFAULT", column=column, default=default)
            if self._match_text_seq("DROP", "DEFAULT"):
                return syntax.FtAction(kind="DROP_DEFAULT", column=column)
            if self._curr and self._curr.text.upper() == "OPTIONS":
                return syntax.FtAction(
                    kind="COLUMN_OPTIONS", column=column, options=self._med_options(alter=True)
                )
            self._med_expected(
                "TYPE, SET DATA TYPE, SET/DROP NOT NULL, SET/DROP DEFAULT or OPTIONS"
            )
        self._med_expected("ADD, DROP, ALTER, VALIDATE CONSTRAINT, OPTIONS or RENAME")
        return syntax.FtAction(kind="OPTIONS")  # only reached when errors are collected

    def _med_drop(self) -> exp.Expr:
        for kind in syntax.DROP_KINDS:
            if self._match_text_seq(*kind.split()):
                if_exists = self._med_if_exists()
                what = "an extension name" if kind == "EXTENSION" else "a name"
                names = self._parse_csv(functools.partial(self._med_ident, what))
                cascade = self._med_cascade()
                return self._med_end(
                    syntax.MedDrop(kind=kind, expressions=names, exists=if_exists, cascade=cascade)
                )
        if self._match_text_seq("FOREIGN"):
            self._med_expected("DATA WRAPPER or TABLE")
        if self._match_text_seq("USER"):
            if_exists, user, server = self._med_mapping(self._med_if_exists)
            return self._med_end(syntax.DropUserMapping(this=user, server=server, exists=if_exists))
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
                    syntax.MedComment(this=name, kind=kind, column=column, comment=comment)
                )
        self._retreat(index)
        return self._parse_comment()

    def _med_import(self) -> syntax.ImportForeignSchema:
        self._med_expect("FOREIGN", "SCHEMA")
        args: dict[str, Any] = {"this": self._med_ident("a remote schema name")}
        if self._match_text_seq("LIMIT", "TO"):
            args["restriction"] = "LIMIT TO"
        elif self._match_text_seq("EXCEPT"):
            args["restriction"] = "EXCEPT"
        if args.get("restriction"):
            self._med_paren()
            args["tables"] = self._parse_csv(lambda: self._med_ident("a table name"))
            self._med_close()
        self._med_expect("FROM", "SERVER")
        args["server"] = self._med_ident("a server name")
        self._med_expect("INTO")
        args["into"] = self._med_ident("a local schema name")
        args["options"] = self._med_options(alter=False)
        return self._med_end(syntax.ImportForeignSchema(**args))

    def _parse_statement(self) -> exp.Expr | None:
        if self._curr and self._curr.token_type != TokenType.IDENTIFIER:
            if self._curr.text.upper() == "IMPORT":
                self._advance()
                return self._med_import()
        return super()._parse_statement()


def _well_formed_params(tokens: list[Token]) -> bool:
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
