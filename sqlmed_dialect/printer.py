"""The SQL/MED statements the dialect and its Alembic operations send.

Every statement is a :mod:`vtables.grammar` tree printed by its one printer,
:func:`vtables.grammar.to_sql`; the CREATE statements come from the engine's
builders (``grammar.create_server``, ``grammar.column``...), and this module
adds only what the engine does not build: the ALTER and DROP statements and
the actions of ALTER FOREIGN TABLE.  SQL that SQLAlchemy itself printed (a
column's type, a DEFAULT or CHECK expression) goes into a tree as it is
(:func:`verbatim`, :func:`sql_type`).

Secrets: :func:`shown` prints a statement with the printer's secrecy hook
(:func:`secret`), so what SQLAlchemy shows (``str(compiled)``, logs, errors,
``--sql`` output) holds ``'********'`` for each secret option value, while the
text executed is printed in the clear by the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlglot import exp

from vtables import grammar
from vtables.secrets import secret_names

# ------------------------------------------------------------------ printing


def secret() -> Callable[[str], bool]:
    """The secrecy hook for :func:`vtables.grammar.to_sql`: an option is secret
    when its name is secret for any installed wrapper or is one of the usual
    names (the rule of :func:`vtables.secrets.mask_sql`, which errs towards
    masking: the text alone does not say which wrapper reads it)."""
    names: frozenset[str] | None = None

    def is_secret(name: str) -> bool:
        nonlocal names
        if names is None:  # asked of installed wrappers only when a statement has options
            names = secret_names()
        return name.lower() in names

    return is_secret


def to_sql(tree: exp.Expression) -> str:
    """A statement as executed: secret values in the clear."""
    return grammar.to_sql(tree)


def masked(tree: exp.Expression) -> str:
    """A statement as shown: secret values as ``'********'``."""
    return grammar.to_sql(tree, secret=secret())


def shown(compiler: Any, tree: exp.Expression) -> str:
    """A statement for a compiler: the sqlmed DDL compiler shows it masked and
    keeps the real text to execute; any other compiler only shows it."""
    from .base import SQLMedDDLCompiler

    if isinstance(compiler, SQLMedDDLCompiler):
        return compiler.med_statement(tree)
    return masked(tree)


# ------------------------------------------------------------------ pieces


def verbatim(text: str) -> exp.Var:
    """SQL that SQLAlchemy printed (a default, a CHECK expression), as it is."""
    return exp.Var(this=text)


def sql_type(text: str) -> grammar.MedType:
    """A column type as SQLAlchemy's type compiler printed it."""
    return grammar.MedType(this=verbatim(text), text=text)


def option_changes(
    add: Mapping[str, Any], set_: Mapping[str, Any], drop: Iterable[str]
) -> list[grammar.MedOption] | None:
    """``OPTIONS (ADD key 'value', SET key 'value', DROP key)``."""
    items = grammar.options(add, action="ADD") or []
    items += grammar.options(set_, action="SET") or []
    items += grammar.options([(k, None) for k in drop], action="DROP") or []
    return items or None


# ------------------------------------------------------ ALTER and DROP


def drop(
    kind: str, names: Iterable[str], *, if_exists: bool = False, cascade: bool = False
) -> grammar.MedDrop:
    """``DROP kind [IF EXISTS] a, b [CASCADE]``; kind is one of grammar.DROP_KINDS."""
    return grammar.MedDrop(
        kind=kind,
        expressions=[grammar.identifier(n) for n in names],
        exists=if_exists or None,
        cascade="CASCADE" if cascade else None,
    )


def alter_fdw(name: str, changes: list[grammar.MedOption] | None) -> grammar.AlterFdw:
    return grammar.AlterFdw(this=grammar.identifier(name), options=changes)


def alter_server(
    name: str, *, version: str | None = None, changes: list[grammar.MedOption] | None = None
) -> grammar.AlterServer:
    return grammar.AlterServer(this=grammar.identifier(name), version=version, options=changes)


def rename_server(name: str, new_name: str) -> grammar.AlterServer:
    return grammar.AlterServer(this=grammar.identifier(name), rename=grammar.identifier(new_name))


def alter_user_mapping(
    user_name: str, server: str, changes: list[grammar.MedOption] | None
) -> grammar.AlterUserMapping:
    return grammar.AlterUserMapping(
        this=grammar.user(user_name), server=grammar.identifier(server), options=changes
    )


def drop_user_mapping(
    user_name: str, server: str, *, if_exists: bool = False
) -> grammar.DropUserMapping:
    return grammar.DropUserMapping(
        this=grammar.user(user_name), server=grammar.identifier(server), exists=if_exists or None
    )


def alter_foreign_table(name: str, actions: list[grammar.FtAction]) -> grammar.AlterForeignTable:
    return grammar.AlterForeignTable(this=grammar.identifier(name), actions=actions)


# ALTER FOREIGN TABLE actions


def _on_column(kind: str, name: str, **args: Any) -> grammar.FtAction:
    return grammar.FtAction(kind=kind, column=grammar.identifier(name), **args)


def add_column(col: grammar.MedColumn) -> grammar.FtAction:
    return grammar.FtAction(kind="ADD", this=col)


def drop_column(name: str) -> grammar.FtAction:
    return _on_column("DROP", name)


def alter_column_type(name: str, type_sql: str) -> grammar.FtAction:
    return _on_column("TYPE", name, dtype=sql_type(type_sql))


def alter_column_nullable(name: str, nullable: bool) -> grammar.FtAction:
    return _on_column("DROP_NOT_NULL" if nullable else "SET_NOT_NULL", name)


def alter_column_default(name: str, default_sql: str | None) -> grammar.FtAction:
    if default_sql is None:
        return _on_column("DROP_DEFAULT", name)
    return _on_column("SET_DEFAULT", name, default=verbatim(default_sql))


def alter_column_options(name: str, changes: list[grammar.MedOption]) -> grammar.FtAction:
    return _on_column("COLUMN_OPTIONS", name, options=changes)


def table_options(changes: list[grammar.MedOption]) -> grammar.FtAction:
    return grammar.FtAction(kind="OPTIONS", options=changes)


def rename_column(name: str, new_name: str) -> grammar.FtAction:
    return _on_column("RENAME_COLUMN", name, to=grammar.identifier(new_name))
