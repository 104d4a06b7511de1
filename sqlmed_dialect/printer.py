"""The SQL/MED statements the dialect and its Alembic operations send, built as
:mod:`vtables.grammar` expressions and printed by its one printer,
:func:`vtables.grammar.to_sql`.

Names and option values are never pasted into text: a name becomes an
identifier node and a value a string the printer quotes, so that whatever they
hold (quotes, newlines, ``;``, ``--``, ``*/``) the statement reads back as
exactly those names and values.  Only SQL that SQLAlchemy itself printed (a
column's type, a DEFAULT expression) goes in as it is.

The text printed here holds secret option values in the clear: the dialect's
DDL compiler and execution context mask it (:func:`vtables.secrets.mask_sql`)
wherever SQLAlchemy shows a statement, and send the real text to the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlglot import exp

from vtables import grammar
from vtables.secrets import mask_sql

USER_KEYWORDS = frozenset({"PUBLIC", "CURRENT_USER", "CURRENT_ROLE", "USER", "SESSION_USER"})


def to_sql(tree: exp.Expression) -> str:
    return grammar.to_sql(tree)


def shown(compiler: Any, tree: exp.Expression) -> str:
    """A statement for a compiler: in the clear for the sqlmed DDL compiler (which
    masks what it shows and keeps the real text to execute), masked for any other."""
    from .base import SQLMedDDLCompiler

    text = to_sql(tree)
    return text if isinstance(compiler, SQLMedDDLCompiler) else mask_sql(text)


# ------------------------------------------------------------------ pieces


def ident(name: str) -> exp.Identifier:
    """A name, quoted unless it reads the same bare (lower case, not reserved)."""
    name = str(name)
    return exp.Identifier(this=name, quoted=grammar.quote_ident(name) != name)


def user(name: str) -> grammar.MedUser:
    """``FOR user``: PUBLIC, CURRENT_USER and the like are keywords, any other a name."""
    if name.upper() in USER_KEYWORDS:
        return grammar.MedUser(keyword=name.upper())
    return grammar.MedUser(this=ident(name))


def options(values: Mapping[str, Any] | None) -> list[grammar.MedOption] | None:
    """``OPTIONS (key 'value', ...)``; None (no clause) for no options."""
    if not values:
        return None
    return [grammar.MedOption(this=ident(k), value=str(v)) for k, v in values.items()]


def option_changes(
    add: Mapping[str, Any], set_: Mapping[str, Any], drop: Iterable[str]
) -> list[grammar.MedOption] | None:
    """``OPTIONS (ADD key 'value', SET key 'value', DROP key)``."""
    items = [grammar.MedOption(this=ident(k), value=str(v), action="ADD") for k, v in add.items()]
    items += [grammar.MedOption(this=ident(k), value=str(v), action="SET") for k, v in set_.items()]
    items += [grammar.MedOption(this=ident(k), action="DROP") for k in drop]
    return items or None


def _sql(text: str) -> exp.Var:
    """SQL that SQLAlchemy printed (a type, a default expression), as it is."""
    return exp.Var(this=text)


def column(
    name: str,
    type_sql: str,
    *,
    options_: Mapping[str, Any] | None = None,
    not_null: bool = False,
    default_sql: str | None = None,
) -> grammar.MedColumn:
    return grammar.MedColumn(
        this=ident(name),
        kind=grammar.MedType(this=_sql(type_sql), text=type_sql),
        options=options(options_),
        not_null=not_null or None,
        default=_sql(default_sql) if default_sql is not None else None,
    )


# -------------------------------------------------------------- statements


def drop(
    kind: str, names: Iterable[str], *, if_exists: bool = False, cascade: bool = False
) -> grammar.MedDrop:
    """``DROP kind [IF EXISTS] a, b [CASCADE]``; kind is one of grammar.DROP_KINDS."""
    return grammar.MedDrop(
        kind=kind,
        expressions=[ident(n) for n in names],
        exists=if_exists or None,
        cascade="CASCADE" if cascade else None,
    )


def create_extension(name: str, *, if_not_exists: bool = False) -> grammar.CreateExtension:
    return grammar.CreateExtension(this=ident(name), exists=if_not_exists or None)


def create_fdw(
    name: str,
    *,
    handler: str | None = None,
    validator: str | None = None,
    options_: Mapping[str, Any] | None = None,
) -> grammar.CreateFdw:
    functions = []
    if handler is not None:
        functions.append(grammar.FdwFunction(this=ident(handler), kind="HANDLER"))
    if validator is not None:
        functions.append(grammar.FdwFunction(this=ident(validator), kind="VALIDATOR"))
    return grammar.CreateFdw(
        this=ident(name), functions=functions or None, options=options(options_)
    )


def alter_fdw(name: str, changes: list[grammar.MedOption] | None) -> grammar.AlterFdw:
    return grammar.AlterFdw(this=ident(name), options=changes)


def create_server(
    name: str,
    wrapper: str,
    *,
    type_: str | None = None,
    version: str | None = None,
    options_: Mapping[str, Any] | None = None,
    if_not_exists: bool = False,
) -> grammar.CreateServer:
    return grammar.CreateServer(
        this=ident(name),
        exists=if_not_exists or None,
        type=type_,
        version=version,
        wrapper=ident(wrapper),
        options=options(options_),
    )


def alter_server(
    name: str, *, version: str | None = None, changes: list[grammar.MedOption] | None = None
) -> grammar.AlterServer:
    return grammar.AlterServer(this=ident(name), version=version, options=changes)


def rename_server(name: str, new_name: str) -> grammar.AlterServer:
    return grammar.AlterServer(this=ident(name), rename=ident(new_name))


def create_user_mapping(
    user_name: str, server: str, options_: Mapping[str, Any] | None = None
) -> grammar.CreateUserMapping:
    return grammar.CreateUserMapping(
        this=user(user_name), server=ident(server), options=options(options_)
    )


def alter_user_mapping(
    user_name: str, server: str, changes: list[grammar.MedOption] | None
) -> grammar.AlterUserMapping:
    return grammar.AlterUserMapping(this=user(user_name), server=ident(server), options=changes)


def drop_user_mapping(
    user_name: str, server: str, *, if_exists: bool = False
) -> grammar.DropUserMapping:
    return grammar.DropUserMapping(
        this=user(user_name), server=ident(server), exists=if_exists or None
    )


def create_foreign_table(
    name: str,
    columns: list[grammar.MedColumn],
    server: str,
    options_: Mapping[str, Any] | None = None,
    *,
    if_not_exists: bool = False,
    constraints: list[grammar.MedCheck] | None = None,
) -> grammar.CreateForeignTable:
    return grammar.CreateForeignTable(
        this=ident(name),
        exists=if_not_exists or None,
        columns=columns or None,
        server=ident(server),
        options=options(options_),
        constraints=constraints or None,
    )


def check(sql: str, *, name: str | None = None, not_valid: bool = False) -> grammar.MedCheck:
    """``[CONSTRAINT name] CHECK (sql) [NOT VALID]``; ``sql`` as SQLAlchemy printed it."""
    return grammar.MedCheck(
        this=ident(name) if name is not None else None,
        expression=_sql(sql),
        not_valid=not_valid or None,
    )


def alter_foreign_table(name: str, actions: list[grammar.FtAction]) -> grammar.AlterForeignTable:
    return grammar.AlterForeignTable(this=ident(name), actions=actions)


# ALTER FOREIGN TABLE actions


def add_column(col: grammar.MedColumn) -> grammar.FtAction:
    return grammar.FtAction(kind="ADD", this=col)


def drop_column(name: str) -> grammar.FtAction:
    return grammar.FtAction(kind="DROP", column=ident(name))


def alter_column_type(name: str, type_sql: str) -> grammar.FtAction:
    dtype = grammar.MedType(this=_sql(type_sql), text=type_sql)
    return grammar.FtAction(kind="TYPE", column=ident(name), dtype=dtype)


def alter_column_nullable(name: str, nullable: bool) -> grammar.FtAction:
    return grammar.FtAction(
        kind="DROP_NOT_NULL" if nullable else "SET_NOT_NULL", column=ident(name)
    )


def alter_column_default(name: str, default_sql: str | None) -> grammar.FtAction:
    if default_sql is None:
        return grammar.FtAction(kind="DROP_DEFAULT", column=ident(name))
    return grammar.FtAction(kind="SET_DEFAULT", column=ident(name), default=_sql(default_sql))


def alter_column_options(name: str, changes: list[grammar.MedOption]) -> grammar.FtAction:
    return grammar.FtAction(kind="COLUMN_OPTIONS", column=ident(name), options=changes)


def table_options(changes: list[grammar.MedOption]) -> grammar.FtAction:
    return grammar.FtAction(kind="OPTIONS", options=changes)


def add_check(constraint: grammar.MedCheck) -> grammar.FtAction:
    return grammar.FtAction(kind="ADD_CONSTRAINT", this=constraint)


def drop_constraint(name: str, *, if_exists: bool = False) -> grammar.FtAction:
    return grammar.FtAction(
        kind="DROP_CONSTRAINT", constraint=ident(name), exists=if_exists or None
    )


def rename_column(name: str, new_name: str) -> grammar.FtAction:
    return grammar.FtAction(kind="RENAME_COLUMN", column=ident(name), to=ident(new_name))


def import_foreign_schema(
    remote_schema: str,
    server: str,
    *,
    limit_to: Iterable[str] | None = None,
    except_: Iterable[str] | None = None,
    options_: Mapping[str, Any] | None = None,
    into: str = "main",
) -> grammar.ImportForeignSchema:
    restriction = tables = None
    if limit_to is not None:
        restriction, tables = "LIMIT TO", [ident(n) for n in limit_to]
    elif except_ is not None:
        restriction, tables = "EXCEPT", [ident(n) for n in except_]
    return grammar.ImportForeignSchema(
        this=ident(remote_schema),
        restriction=restriction,
        tables=tables,
        server=ident(server),
        into=ident(into),
        options=options(options_),
    )
