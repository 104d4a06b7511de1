"""The SQL/MED syntax tree: one sqlglot expression class per statement and per
part of one, and the builders that make trees from plain names and values.

The parser (``vtables.parser``) reads text into these trees and the printer
(``vtables.printer``) writes them back; everything that prints SQL/MED text
(the dump, the ``sqlmed`` command, the dialect) builds a tree here and prints
it with ``grammar.to_sql``, so names and values are never pasted into text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from sqlglot import exp

from .sqltext import quote_ident

__all__ = [
    "MedOption",
    "MedColumn",
    "MedCheck",
    "MedType",
    "MedUser",
    "CreateFdw",
    "AlterFdw",
    "FdwFunction",
    "CreateServer",
    "AlterServer",
    "CreateUserMapping",
    "AlterUserMapping",
    "DropUserMapping",
    "CreateForeignTable",
    "AlterForeignTable",
    "FtAction",
    "ImportForeignSchema",
    "MedComment",
    "MedDrop",
    "CreateExtension",
    "MED_EXPRESSIONS",
    "DROP_KINDS",
    "USER_KEYWORDS",
    "Options",
    "identifier",
    "user",
    "options",
    "create_extension",
    "create_fdw",
    "create_server",
    "create_user_mapping",
    "column",
    "check",
    "create_foreign_table",
    "comment",
    "import_foreign_schema",
]


# ---------------------------------------------------------------- expressions


def _args(required: str, optional: str = "") -> dict[str, bool]:
    """sqlglot's ``arg_types``: the names of the required and the optional arguments."""
    return dict.fromkeys(required.split(), True) | dict.fromkeys(optional.split(), False)


class MedOption(exp.Expression):
    """One ``name 'value'`` item; ``action`` is ADD, SET or DROP in ALTER lists."""

    arg_types = _args("this", "value action")


class MedColumn(exp.Expression):
    """A column of CREATE FOREIGN TABLE (or ADD COLUMN): ``this kind [OPTIONS (...)]
    [COLLATE collate] [NOT NULL | NULL] [DEFAULT default] [constraints...]``."""

    arg_types = _args("this kind", "options collate not_null null default constraints")


class MedCheck(exp.Expression):
    """``[CONSTRAINT name] CHECK (expression) [NOT VALID]``: declared, never enforced."""

    arg_types = _args("expression", "this not_valid")


class MedType(exp.Expression):
    """A column type: sqlglot's DataType in ``this`` (which validates it) and, in
    ``text``, the type as written, which is what is kept and printed."""

    arg_types = _args("this text")


class MedUser(exp.Expression):
    """The role of a user mapping: a name (an Identifier in ``this``) or, in
    ``keyword``, one of CURRENT_USER, CURRENT_ROLE, SESSION_USER, USER, PUBLIC."""

    arg_types = _args("", "this keyword")


class CreateFdw(exp.Expression):
    """``CREATE FOREIGN DATA WRAPPER this [functions...] [OPTIONS (...)]``."""

    arg_types = _args("this", "functions options")


class AlterFdw(exp.Expression):
    """``ALTER FOREIGN DATA WRAPPER this [functions...] [OPTIONS (ADD|SET|DROP ...)]``,
    or ``... RENAME TO rename``."""

    arg_types = _args("this", "functions options rename")


class FdwFunction(exp.Expression):
    """HANDLER f | NO HANDLER | VALIDATOR f | NO VALIDATOR (``this`` is None for NO)."""

    arg_types = _args("kind", "this")


class CreateServer(exp.Expression):
    """``CREATE SERVER [IF NOT EXISTS] this [TYPE 'type'] [VERSION 'version']
    FOREIGN DATA WRAPPER wrapper [OPTIONS (...)]``."""

    arg_types = _args("this wrapper", "exists type version options")


class AlterServer(exp.Expression):
    """``ALTER SERVER this [VERSION 'version'] [OPTIONS (...)]``, or RENAME TO."""

    arg_types = _args("this", "version options rename")


class CreateUserMapping(exp.Expression):
    """``CREATE USER MAPPING [IF NOT EXISTS] FOR this SERVER server [OPTIONS]``;
    ``this`` is a MedUser."""

    arg_types = _args("this server", "exists options")


class AlterUserMapping(exp.Expression):
    """``ALTER USER MAPPING FOR this SERVER server OPTIONS (...)``."""

    arg_types = _args("this server options")


class DropUserMapping(exp.Expression):
    """``DROP USER MAPPING [IF EXISTS] FOR this SERVER server``."""

    arg_types = _args("this server", "exists")


class CreateForeignTable(exp.Expression):
    """``CREATE FOREIGN TABLE [IF NOT EXISTS] this (columns..., constraints...)
    SERVER server [OPTIONS (...)]``: MedColumn and MedCheck items."""

    arg_types = _args("this server", "exists columns options constraints")


class AlterForeignTable(exp.Expression):
    """``ALTER FOREIGN TABLE [IF EXISTS] this action, ...`` (FtAction items),
    or ``... RENAME TO rename``."""

    arg_types = _args("this", "exists actions rename")


class FtAction(exp.Expression):
    """One ALTER FOREIGN TABLE action.

    ``kind`` is one of ADD, DROP, TYPE, SET_DEFAULT, DROP_DEFAULT, SET_NOT_NULL,
    DROP_NOT_NULL, COLUMN_OPTIONS, OPTIONS, RENAME_COLUMN, ADD_CONSTRAINT (``this``
    a MedCheck), DROP_CONSTRAINT, VALIDATE_CONSTRAINT (``constraint`` its name).
    """

    arg_types = _args("kind", "this column exists options dtype default cascade to constraint")


class ImportForeignSchema(exp.Expression):
    """``IMPORT FOREIGN SCHEMA this [LIMIT TO | EXCEPT (tables...)]
    FROM SERVER server INTO into [OPTIONS (...)]``; ``restriction`` says which."""

    arg_types = _args("this server into", "restriction tables options")


class MedComment(exp.Expression):
    """COMMENT ON ...; ``kind`` is FOREIGN DATA WRAPPER, SERVER, FOREIGN TABLE or COLUMN."""

    arg_types = _args("this kind", "column comment")


class MedDrop(exp.Expression):
    """DROP of wrappers, servers, foreign tables or extensions (a name list)."""

    arg_types = _args("kind expressions", "exists cascade")


class CreateExtension(exp.Expression):
    """``CREATE EXTENSION [IF NOT EXISTS] this``: the wrapper a package ships."""

    arg_types = _args("this", "exists")


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


# ------------------------------------------------------------------- builders

#: Role keywords a user mapping may name instead of a user.
USER_KEYWORDS = ("CURRENT_USER", "CURRENT_ROLE", "SESSION_USER", "USER", "PUBLIC")

# Besides what quote_ident quotes (PostgreSQL's reserved words), the words the
# parser reads specially where a name may stand: a printed statement must not
# depend on how the parser breaks such a tie.
_KEYWORDS = frozenset(
    """CURRENT_USER CURRENT_ROLE SESSION_USER USER PUBLIC IF EXISTS NO NOT NULL DEFAULT
    OPTIONS CASCADE RESTRICT HANDLER VALIDATOR""".split()
)

Options = Mapping[str, Any] | Iterable[tuple[str, Any]]
_N = TypeVar("_N", bound=exp.Expression)


def identifier(name: str) -> exp.Identifier:
    """A name as an identifier expression, quoted unless it is a plain word."""
    name = str(name)
    quoted = quote_ident(name) != name or name.upper() in _KEYWORDS
    return exp.Identifier(this=name, quoted=quoted)


def user(name: str, *, keyword: bool | None = None) -> MedUser:
    """``FOR user``: a role keyword (PUBLIC, CURRENT_USER...) or a name.  With
    ``keyword`` None, a name spelled like a keyword is the keyword."""
    if keyword is None:
        keyword = name.upper() in USER_KEYWORDS
    return MedUser(keyword=name.upper()) if keyword else MedUser(this=identifier(name))


def options(values: Options | None, *, action: str | None = None) -> list[MedOption] | None:
    """``OPTIONS (key 'value', ...)`` from a mapping or (key, value) pairs (a key
    may repeat); None, no clause at all, for none."""
    pairs = values.items() if isinstance(values, Mapping) else values or ()
    items = [
        MedOption(this=identifier(k), value=None if v is None else str(v), action=action)
        for k, v in pairs
    ]
    return items or None


def _named(cls: type[_N], name: str, options_: Options | None, **args: Any) -> _N:
    """A ``cls`` tree on the object ``name``, with its OPTIONS clause (if any)."""
    return cls(this=identifier(name), options=options(options_), **args)


def create_extension(name: str, *, if_not_exists: bool = False) -> CreateExtension:
    return CreateExtension(this=identifier(name), exists=if_not_exists or None)


def create_fdw(
    name: str,
    *,
    handler: str | None = None,
    validator: str | None = None,
    options_: Options | None = None,
) -> CreateFdw:
    functions = [
        FdwFunction(this=identifier(fn), kind=kind)
        for fn, kind in ((handler, "HANDLER"), (validator, "VALIDATOR"))
        if fn is not None
    ]
    return _named(CreateFdw, name, options_, functions=functions or None)


def create_server(
    name: str,
    wrapper: str,
    *,
    type_: str | None = None,
    version: str | None = None,
    options_: Options | None = None,
    if_not_exists: bool = False,
) -> CreateServer:
    texts = {"type": type_, "version": version}
    server = _named(CreateServer, name, options_, wrapper=identifier(wrapper), **texts)
    server.set("exists", if_not_exists or None)
    return server


def create_user_mapping(
    role: MedUser, server: str, options_: Options | None = None
) -> CreateUserMapping:
    return CreateUserMapping(this=role, server=identifier(server), options=options(options_))


def column(
    name: str,
    kind: exp.Expression,
    *,
    options_: Options | None = None,
    collate: str | None = None,
    not_null: bool = False,
    default: exp.Expression | None = None,
) -> MedColumn:
    """A column of CREATE FOREIGN TABLE; ``kind`` its MedType."""
    collation = identifier(collate) if collate else None
    column = _named(MedColumn, name, options_, kind=kind, collate=collation, default=default)
    column.set("not_null", not_null or None)
    return column


def check(
    expression: exp.Expression, *, name: str | None = None, not_valid: bool = False
) -> MedCheck:
    """``[CONSTRAINT name] CHECK (expression) [NOT VALID]``."""
    return MedCheck(
        this=identifier(name) if name is not None else None,
        expression=expression,
        not_valid=not_valid or None,
    )


def create_foreign_table(
    name: str,
    columns: list[MedColumn],
    server: str,
    options_: Options | None = None,
    *,
    constraints: list[MedCheck] | None = None,
    if_not_exists: bool = False,
) -> CreateForeignTable:
    table = _named(CreateForeignTable, name, options_, columns=columns, server=identifier(server))
    table.set("constraints", constraints or None)
    table.set("exists", if_not_exists or None)
    return table


def comment(kind: str, name: str, text: str | None, *, column: str | None = None) -> MedComment:
    """``COMMENT ON kind name[.column] IS 'text'`` (NULL for None)."""
    return MedComment(
        this=identifier(name),
        kind=kind,
        column=identifier(column) if column is not None else None,
        comment=text,
    )


def import_foreign_schema(
    remote_schema: str,
    server: str,
    *,
    limit_to: Iterable[str] | None = None,
    except_: Iterable[str] | None = None,
    options_: Options | None = None,
    into: str = "main",
) -> ImportForeignSchema:
    """IMPORT FOREIGN SCHEMA; ``limit_to`` or ``except_`` (not both) restricts it."""
    restriction, tables = ("LIMIT TO", limit_to) if limit_to is not None else ("EXCEPT", except_)
    return ImportForeignSchema(
        this=identifier(remote_schema),
        restriction=restriction if tables is not None else None,
        tables=[identifier(n) for n in tables] if tables is not None else None,
        server=identifier(server),
        into=identifier(into),
        options=options(options_),
    )
