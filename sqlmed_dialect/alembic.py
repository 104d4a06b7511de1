"""Alembic for ``sqlmed://``: foreign tables, servers, user mappings and wrappers
as first-class migration objects.

Importing this module (``env.py`` does it: ``import sqlmed_dialect.alembic``)
registers, through Alembic's own extension points:

- :class:`SQLMedImpl`, the migration implementation for the ``sqlmed`` dialect
  name (SQLite's, plus routing of ``op.add_column``/``op.alter_column``/
  ``op.drop_column``/``op.drop_table`` on a foreign table to ALTER/DROP FOREIGN
  TABLE, and a batch mode that never copies a foreign table);
- operations with reverses, implementations and autogenerate renderers:
  ``op.create_extension``, ``op.create_foreign_data_wrapper``,
  ``op.create_server``, ``op.alter_server``, ``op.rename_server``,
  ``op.create_user_mapping``, ``op.create_foreign_table``,
  ``op.add_foreign_column``, ``op.alter_foreign_column``,
  ``op.alter_foreign_table``, ``op.import_foreign_schema`` and their
  drop/alter counterparts;
- an autogenerate comparator for the ``sqlmed`` dialect that compares the
  MetaData's SQL/MED objects and foreign tables with the database.

Secret option values (passwords, tokens: whatever the wrapper marks secret)
are never written into a migration file: autogenerate renders
``secret_from_env("SQLMED_...")``, read when the migration runs.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import comparators, renderers
from alembic.autogenerate import render as alembic_render
from alembic.ddl.base import (
    ColumnName,
    RenameTable,
    alter_table,
    format_column_name,
    format_table_name,
)
from alembic.ddl.sqlite import SQLiteImpl
from alembic.operations import MigrateOperation, Operations
from alembic.operations import ops as alembic_ops
from alembic.util import CommandError, DispatchPriority, PriorityDispatchResult
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import ExecutableDDLElement

from vtables import grammar
from vtables.secrets import mask_sql

from . import printer
from .base import MASK, catalog_rows, check_constraints, foreign_server, is_secret_option
from .schema import (
    CreateForeignDataWrapper,
    CreateServer,
    CreateUserMapping,
    DropExtension,
    DropForeignDataWrapper,
    DropServer,
    DropUserMapping,
    Extension,
    ForeignDataWrapper,
    ForeignServer,
    UserMapping,
    objects_of,
)

log = logging.getLogger(__name__)

__all__ = [
    "SQLMedImpl",
    "secret_from_env",
    "secret_env_name",
]


# ------------------------------------------------------------------ secrets


def secret_env_name(*parts: str) -> str:
    """The environment variable a migration reads a secret option from."""
    words = [re.sub(r"\W+", "_", p).strip("_").upper() for p in parts if p]
    return "SQLMED_" + "_".join(w for w in words if w)


def secret_from_env(name: str) -> str:
    """A secret option value, read from the environment when the migration runs."""
    try:
        return os.environ[name]
    except KeyError:
        raise CommandError(
            f"environment variable {name} is not set: this migration reads a secret "
            "option value (a password, a token) from it; set it before running alembic"
        ) from None


def _unknown(value: Any) -> bool:
    """A reflected value that cannot be compared: masked, or hidden from this user."""
    return value is None or value == MASK


class _Secret:
    """A secret option value in a rendered migration: its environment variable."""

    def __init__(self, env: str):
        self.env = env

    def __repr__(self) -> str:
        return f"secret_from_env({self.env!r})"


# ------------------------------------------------------------ option changes


class OptionChanges:
    """``OPTIONS (ADD ..., SET ..., DROP ...)`` with the values they replace.

    ``existing`` holds the old values of SET and DROP options, so that the
    change can be reversed for a downgrade.
    """

    def __init__(
        self,
        add: dict[str, Any] | None = None,
        set_: dict[str, Any] | None = None,
        drop: Iterable[str] | None = None,
        existing: dict[str, Any] | None = None,
    ):
        self.add = dict(add or {})
        self.set = dict(set_ or {})
        self.drop = list(drop or [])
        self.existing = dict(existing or {})

    @classmethod
    def between(
        cls, old: dict[str, Any], new: dict[str, Any], secret: Callable[[str], bool]
    ) -> OptionChanges:
        """From reflected options to declared ones. A secret's value cannot be read
        back, so a secret only ever counts as added or dropped."""
        add = {k: v for k, v in new.items() if k not in old}
        drop = [k for k in old if k not in new]
        set_ = {
            k: v
            for k, v in new.items()
            if k in old and not secret(k) and not _unknown(old[k]) and old[k] != str(v)
        }
        existing = {k: old[k] for k in [*set_, *drop]}
        return cls(add, set_, drop, existing)

    def __bool__(self) -> bool:
        return bool(self.add or self.set or self.drop)

    def reverse(self) -> OptionChanges:
        return OptionChanges(
            add={k: self.existing.get(k) for k in self.drop},
            set_={k: self.existing.get(k) for k in self.set},
            drop=list(self.add),
            existing={**self.add, **self.set},
        )

    def items(self) -> list[grammar.MedOption] | None:
        """The ``OPTIONS (ADD ..., SET ..., DROP ...)`` items, for the printer."""
        for action, options in (("ADD", self.add), ("SET", self.set)):
            for key, value in options.items():
                if value is None or isinstance(value, _Secret) or _unknown(value):
                    raise CommandError(
                        f"option {key!r}: no value to {action} (a downgrade needs the value "
                        "the upgrade replaced; pass existing_options=...)"
                    )
        return printer.option_changes(self.add, self.set, self.drop)

    def render(self, shown: _Shown) -> list[str]:
        out = []
        if self.add:
            out.append(f"add_options={shown(self.add)!r}")
        if self.set:
            out.append(f"set_options={shown(self.set)!r}")
        if self.drop:
            out.append(f"drop_options={self.drop!r}")
        # a replaced secret is not worth asking the environment for: left out
        existing = shown.plain(self.existing)
        if existing:
            out.append(f"existing_options={existing!r}")
        return out


def _changes(add, set_options, drop, existing) -> OptionChanges:
    return OptionChanges(add, set_options, drop, existing)


# ---------------------------------------------------------- DDL statements


class MedStatement(ExecutableDDLElement):
    """A SQL/MED statement (a :mod:`vtables.grammar` expression) to execute: printed
    by the one printer, secret option values shown masked, executed in the clear."""

    inherit_cache = False

    def __init__(self, tree: Any):
        self.tree = tree


@compiles(MedStatement)
def _compile_med_statement(element, compiler, **kw):
    return printer.shown(compiler, element.tree)


# SQLite's forms of RENAME, also under the sqlmed dialect name.
@compiles(RenameTable, "sqlmed")
def _rename_table(element, compiler, **kw):
    table = alter_table(compiler, element.table_name, element.schema)
    return f"{table} RENAME TO {format_table_name(compiler, element.new_table_name, None)}"


@compiles(ColumnName, "sqlmed")
def _rename_column(element, compiler, **kw):
    table = alter_table(compiler, element.table_name, element.schema)
    old = format_column_name(compiler, element.column_name)
    return f"{table} RENAME COLUMN {old} TO {format_column_name(compiler, element.newname)}"


# --------------------------------------------------------------------- impl


class SQLMedImpl(SQLiteImpl):
    """SQLite's migration implementation, aware of foreign tables.

    Operations Alembic knows (``add_column``, ``alter_column``,
    ``drop_column``, ``drop_table``) become ALTER/DROP FOREIGN TABLE when their
    table is a foreign table, and batch mode alters a foreign table in place
    (or re-creates it from its definition) instead of "move and copy", which
    would create a second foreign table and copy rows through the wrapper.
    """

    __dialect__ = "sqlmed"

    def __init__(self, *arg: Any, **kw: Any):
        super().__init__(*arg, **kw)
        self._recreating: tuple[sa.Table, sa.Table] | None = None

    # -- catalog lookups (online only: an --sql run cannot ask the database)

    # These read the catalog without beginning a transaction (catalog_rows): an
    # operation that SQLite's impl runs without a statement leaves none open.

    def is_foreign_table(self, table_name: str, schema: str | None = None) -> bool:
        if self.as_sql or schema not in (None, "main") or self.connection is None:
            return False
        sql = "SELECT 1 FROM sqlmed_foreign_tables WHERE foreign_table_name = ? COLLATE NOCASE"
        return bool(catalog_rows(self.connection, sql, (table_name,)))

    def server_wrapper(self, server: str) -> str | None:
        if self.as_sql or self.connection is None:
            return None
        sql = (
            "SELECT foreign_data_wrapper_name FROM sqlmed_foreign_servers "
            "WHERE foreign_server_name = ?"
        )
        rows = catalog_rows(self.connection, sql, (server,))
        return rows[0][0] if rows else None

    def reflect_table(self, table_name: str) -> sa.Table:
        return sa.Table(table_name, sa.MetaData(), autoload_with=self.connection)

    # -- ALTER FOREIGN TABLE

    def medcolumn(self, column: sa.Column) -> grammar.MedColumn:
        """A column of a foreign table, for the printer."""
        default = column.server_default
        return printer.column(
            column.name,
            self.type_sql(column.type, column),
            options_=column.dialect_options["sqlmed"]["options"],
            not_null=not column.nullable,
            default_sql=self._default_sql(default.arg) if default is not None else None,
        )

    def type_sql(self, type_: Any, column: sa.Column | None = None) -> str:
        return self.dialect.type_compiler_instance.process(
            sa.types.to_instance(type_), type_expression=column
        )

    def _default_sql(self, arg: Any) -> str:
        if isinstance(arg, str):
            return grammar.quote_literal(arg)
        return str(arg.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True}))

    def alter_foreign_table(self, table_name: str, *actions: grammar.FtAction) -> None:
        """``ALTER FOREIGN TABLE name action, ...`` (nothing for no action)."""
        if actions:
            self._exec(MedStatement(printer.alter_foreign_table(table_name, list(actions))))

    def add_column(self, table_name, column, *, schema=None, **kw):
        if not self.is_foreign_table(table_name, schema):
            return super().add_column(table_name, column, schema=schema, **kw)
        self.alter_foreign_table(table_name, printer.add_column(self.medcolumn(column)))

    def drop_column(self, table_name, column, *, schema=None, **kw):
        if not self.is_foreign_table(table_name, schema):
            return super().drop_column(table_name, column, schema=schema, **kw)
        self.alter_foreign_table(table_name, printer.drop_column(column.name))

    def alter_column(
        self,
        table_name,
        column_name,
        *,
        nullable=None,
        server_default=False,
        name=None,
        type_=None,
        schema=None,
        **kw,
    ):
        if not self.is_foreign_table(table_name, schema):
            return super().alter_column(
                table_name,
                column_name,
                nullable=nullable,
                server_default=server_default,
                name=name,
                type_=type_,
                schema=schema,
                **kw,
            )
        actions = []
        if type_ is not None:
            actions.append(printer.alter_column_type(column_name, self.type_sql(type_)))
        if nullable is not None:
            actions.append(printer.alter_column_nullable(column_name, nullable))
        if server_default is not False:
            default_sql = None
            if server_default is not None:
                default_sql = self._default_sql(getattr(server_default, "arg", server_default))
            actions.append(printer.alter_column_default(column_name, default_sql))
        self.alter_foreign_table(table_name, *actions)
        if name is not None and name != column_name:
            self.alter_foreign_table(table_name, printer.rename_column(column_name, name))

    def drop_table(self, table, **kw):
        recreating = self._recreating
        if recreating is not None and table is recreating[0]:
            self._exec(sa.schema.DropTable(recreating[0]))
            return
        if foreign_server(table) is None and self.is_foreign_table(table.name, table.schema):
            self._exec(MedStatement(printer.drop("FOREIGN TABLE", [table.name])))
            return
        super().drop_table(table, **kw)

    # -- batch mode: a foreign table is never moved and copied

    def requires_recreate_in_batch(self, batch_op) -> bool:
        copy_from = batch_op.copy_from
        if (copy_from is not None and foreign_server(copy_from) is not None) or (
            self.is_foreign_table(batch_op.table_name, batch_op.schema)
        ):
            return False
        return super().requires_recreate_in_batch(batch_op)

    def prep_table_for_batch(self, batch_impl, table) -> None:
        # recreate="always" on a foreign table: drop it and create it again from
        # the new definition; nothing is copied (the rows live in the source).
        if foreign_server(table) is not None or self.is_foreign_table(table.name, table.schema):
            new = batch_impl.new_table
            if foreign_server(table) is not None and foreign_server(new) is None:
                new.dialect_options["sqlmed"]["server"] = foreign_server(table)
                new.dialect_options["sqlmed"]["options"] = table.dialect_options["sqlmed"][
                    "options"
                ]
            if foreign_server(new) is None:
                raise CommandError(
                    f'batch mode cannot re-create foreign table "{table.name}": its server '
                    "is unknown (pass copy_from=Table(..., sqlmed_server=...))"
                )
            self._recreating = (table, new)
            return
        super().prep_table_for_batch(batch_impl, table)

    def create_table(self, table, **kw):
        if self._recreating is not None and table is self._recreating[1]:
            return  # created under its final name, after the old one is dropped
        super().create_table(table, **kw)

    def _exec(self, construct, *arg, **kw):
        recreating = self._recreating
        if (
            recreating is not None
            and isinstance(construct, sa.sql.Insert)
            and construct.table is recreating[1]
        ):
            return None
        return super()._exec(construct, *arg, **kw)

    def static_output(self, text: str) -> None:
        # --sql: any SQL/MED text (op.execute's too) shows secret values masked
        super().static_output(mask_sql(text))

    def rename_table(self, old_table_name, new_table_name, schema=None):
        recreating = self._recreating
        if recreating is not None and old_table_name == recreating[1].name:
            self._recreating = None
            new = recreating[1]
            temp_name = new.name
            new.name = new_table_name
            try:
                super().create_table(new)
            finally:
                new.name = temp_name
            return
        super().rename_table(old_table_name, new_table_name, schema=schema)


# --------------------------------------------------------------- operations


def _exec(operations: Operations, tree: Any) -> None:
    operations.impl._exec(MedStatement(tree))


def _missing_reverse(what: str) -> MigrateOperation:
    raise ValueError(
        f"{what} has no reverse here: it was written without the definition of what "
        "it drops; write the downgrade by hand"
    )


class _Reversible(MigrateOperation):
    _reverse: MigrateOperation | None = None

    def reverse(self) -> MigrateOperation:
        if self._reverse is None:
            return _missing_reverse(type(self).__name__)
        return self._reverse


# -- extensions


@Operations.register_operation("create_extension")
class CreateExtensionOp(MigrateOperation):
    """``CREATE EXTENSION name``: install a builtin or registered wrapper."""

    def __init__(self, name: str, if_not_exists: bool = False):
        self.name = name
        self.if_not_exists = if_not_exists

    @classmethod
    def create_extension(cls, operations, name: str, *, if_not_exists: bool = False):
        return operations.invoke(cls(name, if_not_exists))

    def reverse(self):
        return DropExtensionOp(self.name)


@Operations.register_operation("drop_extension")
class DropExtensionOp(MigrateOperation):
    def __init__(self, name: str, if_exists: bool = False, cascade: bool = False):
        self.name = name
        self.if_exists = if_exists
        self.cascade = cascade

    @classmethod
    def drop_extension(
        cls, operations, name: str, *, if_exists: bool = False, cascade: bool = False
    ):
        return operations.invoke(cls(name, if_exists, cascade))

    def reverse(self):
        return CreateExtensionOp(self.name)


@Operations.implementation_for(CreateExtensionOp)
def _create_extension(operations, op):
    _exec(operations, printer.create_extension(op.name, if_not_exists=op.if_not_exists))


@Operations.implementation_for(DropExtensionOp)
def _drop_extension(operations, op):
    operations.impl._exec(
        DropExtension(Extension(op.name), if_exists=op.if_exists, cascade=op.cascade)
    )


# -- foreign data wrappers


@Operations.register_operation("create_foreign_data_wrapper")
class CreateForeignDataWrapperOp(MigrateOperation):
    def __init__(self, name, handler=None, validator=None, options=None):
        self.name = name
        self.handler = handler
        self.validator = validator
        self.options = dict(options or {})

    @classmethod
    def create_foreign_data_wrapper(
        cls, operations, name: str, *, handler=None, validator=None, options=None
    ):
        return operations.invoke(cls(name, handler, validator, options))

    def reverse(self):
        return DropForeignDataWrapperOp(self.name, _reverse=self)

    def to_object(self) -> ForeignDataWrapper:
        return ForeignDataWrapper(
            self.name, handler=self.handler, validator=self.validator, options=self.options
        )


@Operations.register_operation("drop_foreign_data_wrapper")
class DropForeignDataWrapperOp(_Reversible):
    def __init__(self, name, cascade=False, if_exists=False, _reverse=None):
        self.name = name
        self.cascade = cascade
        self.if_exists = if_exists
        self._reverse = _reverse

    @classmethod
    def drop_foreign_data_wrapper(cls, operations, name: str, *, cascade=False, if_exists=False):
        return operations.invoke(cls(name, cascade, if_exists))


@Operations.register_operation("alter_foreign_data_wrapper")
class AlterForeignDataWrapperOp(MigrateOperation):
    def __init__(self, name, options: OptionChanges):
        self.name = name
        self.options = options

    @classmethod
    def alter_foreign_data_wrapper(
        cls,
        operations,
        name: str,
        *,
        add_options=None,
        set_options=None,
        drop_options=None,
        existing_options=None,
    ):
        changes = _changes(add_options, set_options, drop_options, existing_options)
        return operations.invoke(cls(name, changes))

    def reverse(self):
        return AlterForeignDataWrapperOp(self.name, self.options.reverse())


@Operations.implementation_for(CreateForeignDataWrapperOp)
def _create_fdw(operations, op):
    operations.impl._exec(CreateForeignDataWrapper(op.to_object()))


@Operations.implementation_for(DropForeignDataWrapperOp)
def _drop_fdw(operations, op):
    operations.impl._exec(
        DropForeignDataWrapper(
            ForeignDataWrapper(op.name), if_exists=op.if_exists, cascade=op.cascade
        )
    )


@Operations.implementation_for(AlterForeignDataWrapperOp)
def _alter_fdw(operations, op):
    if op.options:
        _exec(operations, printer.alter_fdw(op.name, op.options.items()))


# -- servers


@Operations.register_operation("create_server")
class CreateServerOp(MigrateOperation):
    def __init__(self, name, wrapper, type_=None, version=None, options=None):
        self.name = name
        self.wrapper = wrapper
        self.type_ = type_
        self.version = version
        self.options = dict(options or {})

    @classmethod
    def create_server(
        cls, operations, name: str, wrapper: str, *, type_=None, version=None, options=None
    ):
        return operations.invoke(cls(name, wrapper, type_, version, options))

    @classmethod
    def from_object(cls, server: ForeignServer) -> CreateServerOp:
        return cls(server.name, server.wrapper, server.type, server.version, server.options)

    def reverse(self):
        return DropServerOp(self.name, _reverse=self)

    def to_object(self) -> ForeignServer:
        return ForeignServer(
            self.name, self.wrapper, type=self.type_, version=self.version, options=self.options
        )


@Operations.register_operation("drop_server")
class DropServerOp(_Reversible):
    """``DROP SERVER``; with ``cascade=True`` its user mappings and foreign tables go
    too (and a downgrade only re-creates the server itself)."""

    def __init__(self, name, cascade=False, if_exists=False, _reverse=None):
        self.name = name
        self.cascade = cascade
        self.if_exists = if_exists
        self._reverse = _reverse

    @classmethod
    def drop_server(cls, operations, name: str, *, cascade=False, if_exists=False):
        return operations.invoke(cls(name, cascade, if_exists))


@Operations.register_operation("alter_server")
class AlterServerOp(MigrateOperation):
    def __init__(self, name, options: OptionChanges, version=None, existing_version=None):
        self.name = name
        self.options = options
        self.version = version
        self.existing_version = existing_version

    @classmethod
    def alter_server(
        cls,
        operations,
        name: str,
        *,
        version=None,
        existing_version=None,
        add_options=None,
        set_options=None,
        drop_options=None,
        existing_options=None,
    ):
        changes = _changes(add_options, set_options, drop_options, existing_options)
        return operations.invoke(cls(name, changes, version, existing_version))

    def reverse(self):
        return AlterServerOp(
            self.name,
            self.options.reverse(),
            # PostgreSQL cannot set a version back to NULL: '' stands for none
            version=(self.existing_version or "") if self.version is not None else None,
            existing_version=self.version,
        )


@Operations.register_operation("rename_server")
class RenameServerOp(MigrateOperation):
    """``ALTER SERVER name RENAME TO new_name``: its mappings and tables follow."""

    def __init__(self, name, new_name):
        self.name = name
        self.new_name = new_name

    @classmethod
    def rename_server(cls, operations, name: str, new_name: str):
        return operations.invoke(cls(name, new_name))

    def reverse(self):
        return RenameServerOp(self.new_name, self.name)


@Operations.implementation_for(CreateServerOp)
def _create_server(operations, op):
    operations.impl._exec(CreateServer(op.to_object()))


@Operations.implementation_for(DropServerOp)
def _drop_server(operations, op):
    operations.impl._exec(
        DropServer(ForeignServer(op.name, ""), if_exists=op.if_exists, cascade=op.cascade)
    )


@Operations.implementation_for(AlterServerOp)
def _alter_server(operations, op):
    if op.version is None and not op.options:
        return
    _exec(operations, printer.alter_server(op.name, version=op.version, changes=op.options.items()))


@Operations.implementation_for(RenameServerOp)
def _rename_server(operations, op):
    _exec(operations, printer.rename_server(op.name, op.new_name))


# -- user mappings


@Operations.register_operation("create_user_mapping")
class CreateUserMappingOp(MigrateOperation):
    def __init__(self, server, user="PUBLIC", options=None, wrapper=None):
        self.server = server
        self.user = user
        self.options = dict(options or {})
        self.wrapper = wrapper  # only to tell secrets when rendering

    @classmethod
    def create_user_mapping(cls, operations, server: str, user: str = "PUBLIC", *, options=None):
        return operations.invoke(cls(server, user, options))

    def reverse(self):
        return DropUserMappingOp(self.server, self.user, _reverse=self)


@Operations.register_operation("drop_user_mapping")
class DropUserMappingOp(_Reversible):
    def __init__(self, server, user="PUBLIC", if_exists=False, _reverse=None):
        self.server = server
        self.user = user
        self.if_exists = if_exists
        self._reverse = _reverse

    @classmethod
    def drop_user_mapping(
        cls, operations, server: str, user: str = "PUBLIC", *, if_exists: bool = False
    ):
        return operations.invoke(cls(server, user, if_exists))


@Operations.register_operation("alter_user_mapping")
class AlterUserMappingOp(MigrateOperation):
    def __init__(self, server, user, options: OptionChanges, wrapper=None):
        self.server = server
        self.user = user
        self.options = options
        self.wrapper = wrapper

    @classmethod
    def alter_user_mapping(
        cls,
        operations,
        server: str,
        user: str = "PUBLIC",
        *,
        add_options=None,
        set_options=None,
        drop_options=None,
        existing_options=None,
    ):
        changes = _changes(add_options, set_options, drop_options, existing_options)
        return operations.invoke(cls(server, user, changes))

    def reverse(self):
        return AlterUserMappingOp(self.server, self.user, self.options.reverse(), self.wrapper)


@Operations.implementation_for(CreateUserMappingOp)
def _create_user_mapping(operations, op):
    operations.impl._exec(CreateUserMapping(UserMapping(op.server, op.user, options=op.options)))


@Operations.implementation_for(DropUserMappingOp)
def _drop_user_mapping(operations, op):
    operations.impl._exec(DropUserMapping(UserMapping(op.server, op.user), if_exists=op.if_exists))


@Operations.implementation_for(AlterUserMappingOp)
def _alter_user_mapping(operations, op):
    if not op.options:
        return
    _exec(operations, printer.alter_user_mapping(op.user, op.server, op.options.items()))


# -- foreign tables


def _foreign_table(name, columns, server, options, comment=None, constraints=()) -> sa.Table:
    """A foreign Table; ``columns`` may hold CheckConstraints too (as
    ``op.create_table`` takes them), and ``constraints`` more of them."""
    items = list(columns) + list(constraints)
    checks = [
        sa.CheckConstraint(c.sqltext, name=c.name, **c.dialect_kwargs)
        for c in items
        if isinstance(c, sa.CheckConstraint)
    ]
    columns_ = [c._copy() for c in items if isinstance(c, sa.Column)]
    for column in columns_:  # a column's own CHECK is among ``checks`` already
        column.constraints = {
            c for c in column.constraints if not isinstance(c, sa.CheckConstraint)
        }
    return sa.Table(
        name,
        sa.MetaData(),
        *columns_,
        *checks,
        sqlmed_server=server,
        sqlmed_options=dict(options or {}) or None,
        comment=comment,
    )


@Operations.register_operation("create_foreign_table")
class CreateForeignTableOp(MigrateOperation):
    """``CREATE FOREIGN TABLE name (columns) SERVER server OPTIONS (...)``."""

    def __init__(self, table_name, columns, server, options=None, if_not_exists=False):
        self.table_name = table_name
        # columns, and CHECK constraints (declared, not enforced, as in PostgreSQL)
        self.columns = list(columns)
        self.server = server
        self.options = dict(options or {})
        self.if_not_exists = if_not_exists

    @classmethod
    def create_foreign_table(
        cls,
        operations,
        table_name: str,
        *columns: sa.Column,
        server: str,
        options: dict[str, str] | None = None,
        if_not_exists: bool = False,
    ) -> sa.Table:
        return operations.invoke(cls(table_name, columns, server, options, if_not_exists))

    @classmethod
    def from_table(cls, table: sa.Table) -> CreateForeignTableOp:
        return cls(
            table.name,
            [*table.columns, *check_constraints(table)],
            foreign_server(table),
            table.dialect_options["sqlmed"]["options"],
        )

    def to_table(self) -> sa.Table:
        return _foreign_table(self.table_name, self.columns, self.server, self.options)

    def reverse(self):
        return DropForeignTableOp(self.table_name, _reverse=self)


@Operations.register_operation("drop_foreign_table")
class DropForeignTableOp(_Reversible):
    def __init__(self, table_name, if_exists=False, _reverse=None):
        self.table_name = table_name
        self.if_exists = if_exists
        self._reverse = _reverse

    @classmethod
    def drop_foreign_table(cls, operations, table_name: str, *, if_exists: bool = False):
        return operations.invoke(cls(table_name, if_exists))


@Operations.register_operation("alter_foreign_table")
class AlterForeignTableOp(MigrateOperation):
    """Table options (ADD/SET/DROP) and, re-creating the table from its
    definition, its server (PostgreSQL has no ALTER for a table's server)."""

    def __init__(self, table_name, options: OptionChanges, server=None, existing_server=None):
        self.table_name = table_name
        self.options = options
        self.server = server
        self.existing_server = existing_server

    @classmethod
    def alter_foreign_table(
        cls,
        operations,
        table_name: str,
        *,
        server=None,
        existing_server=None,
        add_options=None,
        set_options=None,
        drop_options=None,
        existing_options=None,
    ):
        changes = _changes(add_options, set_options, drop_options, existing_options)
        return operations.invoke(cls(table_name, changes, server, existing_server))

    def reverse(self):
        return AlterForeignTableOp(
            self.table_name,
            self.options.reverse(),
            server=self.existing_server if self.server is not None else None,
            existing_server=self.server,
        )


@Operations.register_operation("add_foreign_column")
class AddForeignColumnOp(MigrateOperation):
    def __init__(self, table_name, column: sa.Column):
        self.table_name = table_name
        self.column = column

    @classmethod
    def add_foreign_column(cls, operations, table_name: str, column: sa.Column):
        return operations.invoke(cls(table_name, column))

    def reverse(self):
        return DropForeignColumnOp(self.table_name, self.column.name, _reverse=self)


@Operations.register_operation("drop_foreign_column")
class DropForeignColumnOp(_Reversible):
    def __init__(self, table_name, column_name, _reverse=None):
        self.table_name = table_name
        self.column_name = column_name
        self._reverse = _reverse

    @classmethod
    def drop_foreign_column(cls, operations, table_name: str, column_name: str):
        return operations.invoke(cls(table_name, column_name))


@Operations.register_operation("alter_foreign_column")
class AlterForeignColumnOp(MigrateOperation):
    def __init__(
        self,
        table_name,
        column_name,
        *,
        type_=None,
        existing_type=None,
        nullable=None,
        existing_nullable=None,
        new_column_name=None,
        options: OptionChanges | None = None,
    ):
        self.table_name = table_name
        self.column_name = column_name
        self.type_ = type_
        self.existing_type = existing_type
        self.nullable = nullable
        self.existing_nullable = existing_nullable
        self.new_column_name = new_column_name
        self.options = options or OptionChanges()

    @classmethod
    def alter_foreign_column(
        cls,
        operations,
        table_name: str,
        column_name: str,
        *,
        type_=None,
        existing_type=None,
        nullable=None,
        existing_nullable=None,
        new_column_name=None,
        add_options=None,
        set_options=None,
        drop_options=None,
        existing_options=None,
    ):
        changes = _changes(add_options, set_options, drop_options, existing_options)
        return operations.invoke(
            cls(
                table_name,
                column_name,
                type_=type_,
                existing_type=existing_type,
                nullable=nullable,
                existing_nullable=existing_nullable,
                new_column_name=new_column_name,
                options=changes,
            )
        )

    def reverse(self):
        if self.type_ is not None and self.existing_type is None:
            return _missing_reverse("alter_foreign_column(type_=...) without existing_type")
        return AlterForeignColumnOp(
            self.table_name,
            self.new_column_name or self.column_name,
            type_=self.existing_type if self.type_ is not None else None,
            existing_type=self.type_,
            nullable=self.existing_nullable if self.nullable is not None else None,
            existing_nullable=self.nullable,
            new_column_name=self.column_name if self.new_column_name else None,
            options=self.options.reverse(),
        )


@Operations.register_operation("import_foreign_schema")
class ImportForeignSchemaOp(MigrateOperation):
    """``IMPORT FOREIGN SCHEMA remote [LIMIT TO | EXCEPT (...)] FROM SERVER s INTO main``.

    Its reverse drops the tables named by ``limit_to``; without ``limit_to``
    what was imported is only known to the source, so the downgrade is
    written by hand.
    """

    def __init__(self, remote_schema, server, limit_to=None, except_=None, options=None):
        if limit_to is not None and except_ is not None:
            raise ValueError("import_foreign_schema: give limit_to or except_, not both")
        self.remote_schema = remote_schema
        self.server = server
        self.limit_to = list(limit_to) if limit_to is not None else None
        self.except_ = list(except_) if except_ is not None else None
        self.options = dict(options or {})

    @classmethod
    def import_foreign_schema(
        cls,
        operations,
        remote_schema: str,
        server: str,
        *,
        limit_to: list[str] | None = None,
        except_: list[str] | None = None,
        options: dict[str, str] | None = None,
    ):
        return operations.invoke(cls(remote_schema, server, limit_to, except_, options))

    def reverse(self):
        if self.limit_to is None:
            return _missing_reverse("import_foreign_schema without limit_to")
        return DropForeignTablesOp(self.limit_to, _reverse=self)


@Operations.register_operation("drop_foreign_tables")
class DropForeignTablesOp(_Reversible):
    """``DROP FOREIGN TABLE a, b, ...`` (the reverse of an import)."""

    def __init__(self, table_names, if_exists=False, _reverse=None):
        self.table_names = list(table_names)
        self.if_exists = if_exists
        self._reverse = _reverse

    @classmethod
    def drop_foreign_tables(cls, operations, table_names: list[str], *, if_exists=False):
        return operations.invoke(cls(table_names, if_exists))


@Operations.implementation_for(CreateForeignTableOp)
def _create_foreign_table(operations, op):
    table = op.to_table()
    operations.impl._exec(sa.schema.CreateTable(table, if_not_exists=op.if_not_exists))
    return table


@Operations.implementation_for(DropForeignTableOp)
def _drop_foreign_table(operations, op):
    _exec(operations, printer.drop("FOREIGN TABLE", [op.table_name], if_exists=op.if_exists))


@Operations.implementation_for(DropForeignTablesOp)
def _drop_foreign_tables(operations, op):
    _exec(operations, printer.drop("FOREIGN TABLE", op.table_names, if_exists=op.if_exists))


@Operations.implementation_for(AlterForeignTableOp)
def _alter_foreign_table(operations, op):
    impl: SQLMedImpl = operations.impl
    if op.server is not None and op.server != op.existing_server:
        if impl.as_sql:
            raise CommandError(
                f'moving foreign table "{op.table_name}" to another server re-creates it from '
                "its definition, which needs a live database (not --sql)"
            )
        table = impl.reflect_table(op.table_name)
        impl._exec(sa.schema.DropTable(table))
        table.dialect_options["sqlmed"]["server"] = op.server
        impl._exec(sa.schema.CreateTable(table))
    if op.options:
        impl.alter_foreign_table(op.table_name, printer.table_options(op.options.items()))


@Operations.implementation_for(AddForeignColumnOp)
def _add_foreign_column(operations, op):
    impl: SQLMedImpl = operations.impl
    impl.alter_foreign_table(op.table_name, printer.add_column(impl.medcolumn(op.column)))


@Operations.implementation_for(DropForeignColumnOp)
def _drop_foreign_column(operations, op):
    operations.impl.alter_foreign_table(op.table_name, printer.drop_column(op.column_name))


@Operations.implementation_for(AlterForeignColumnOp)
def _alter_foreign_column(operations, op):
    impl: SQLMedImpl = operations.impl
    name = op.column_name
    actions = []
    if op.type_ is not None:
        actions.append(printer.alter_column_type(name, impl.type_sql(op.type_)))
    if op.nullable is not None:
        actions.append(printer.alter_column_nullable(name, op.nullable))
    if op.options:
        actions.append(printer.alter_column_options(name, op.options.items()))
    impl.alter_foreign_table(op.table_name, *actions)
    if op.new_column_name and op.new_column_name != name:
        impl.alter_foreign_table(op.table_name, printer.rename_column(name, op.new_column_name))


@Operations.implementation_for(ImportForeignSchemaOp)
def _import_foreign_schema(operations, op):
    tree = printer.import_foreign_schema(
        op.remote_schema,
        op.server,
        limit_to=op.limit_to,
        except_=op.except_,
        options_=op.options,
    )
    _exec(operations, tree)


# ---------------------------------------------------------------- renderers


def _prefix(autogen_context) -> str:
    return autogen_context.opts.get("alembic_module_prefix", "op.")


class _Shown:
    """Option dicts as written in a migration: secrets become ``secret_from_env``."""

    def __init__(self, autogen_context, wrapper: str | None, kind: str, *owner: str):
        self.autogen_context = autogen_context
        self.wrapper = wrapper
        self.kind = kind
        self.owner = owner
        self.envs: list[str] = []

    def secret(self, key: str, value: Any) -> bool:
        return is_secret_option(key, self.wrapper, self.kind) or value == MASK

    def plain(self, options: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in options.items() if not self.secret(k, v)}

    def __call__(self, options: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in options.items():
            if self.secret(key, value):
                env = secret_env_name(*self.owner, key)
                if env not in self.envs:
                    self.envs.append(env)
                out[key] = _Secret(env)
            else:
                out[key] = value
        if any(isinstance(v, _Secret) for v in out.values()):
            self.autogen_context.imports.add("from sqlmed_dialect.alembic import secret_from_env")
        return out

    def comment(self) -> str:
        if not self.envs:
            return ""
        return (
            "# secret option values are not written here: they are read from the "
            f"environment when this migration runs ({', '.join(self.envs)})\n"
        )


def _call(autogen_context, name: str, args: list[str], shown: _Shown | None = None) -> str:
    text = f"{_prefix(autogen_context)}{name}(" + ", ".join(a for a in args if a) + ")"
    return (shown.comment() if shown else "") + text


def _kw(name: str, value: Any, default: Any = None) -> str:
    return "" if value == default else f"{name}={value!r}"


@renderers.dispatch_for(CreateExtensionOp)
def _render_create_extension(autogen_context, op):
    return _call(autogen_context, "create_extension", [repr(op.name)])


@renderers.dispatch_for(DropExtensionOp)
def _render_drop_extension(autogen_context, op):
    return _call(
        autogen_context,
        "drop_extension",
        [repr(op.name), _kw("if_exists", op.if_exists, False), _kw("cascade", op.cascade, False)],
    )


@renderers.dispatch_for(CreateForeignDataWrapperOp)
def _render_create_fdw(autogen_context, op):
    shown = _Shown(autogen_context, op.name, "wrapper", op.name)
    options = shown(op.options)
    args = [
        repr(op.name),
        _kw("handler", op.handler),
        _kw("validator", op.validator),
        _kw("options", options, {}),
    ]
    return _call(autogen_context, "create_foreign_data_wrapper", args, shown)


@renderers.dispatch_for(DropForeignDataWrapperOp)
def _render_drop_fdw(autogen_context, op):
    args = [repr(op.name), _kw("cascade", op.cascade, False)]
    return _call(autogen_context, "drop_foreign_data_wrapper", args)


@renderers.dispatch_for(AlterForeignDataWrapperOp)
def _render_alter_fdw(autogen_context, op):
    shown = _Shown(autogen_context, op.name, "wrapper", op.name)
    args = [repr(op.name), *op.options.render(shown)]
    return _call(autogen_context, "alter_foreign_data_wrapper", args, shown)


@renderers.dispatch_for(CreateServerOp)
def _render_create_server(autogen_context, op):
    shown = _Shown(autogen_context, op.wrapper, "server", op.name)
    args = [
        repr(op.name),
        repr(op.wrapper),
        _kw("type_", op.type_),
        _kw("version", op.version),
        _kw("options", shown(op.options), {}),
    ]
    return _call(autogen_context, "create_server", args, shown)


@renderers.dispatch_for(DropServerOp)
def _render_drop_server(autogen_context, op):
    args = [repr(op.name), _kw("cascade", op.cascade, False)]
    return _call(autogen_context, "drop_server", args)


@renderers.dispatch_for(AlterServerOp)
def _render_alter_server(autogen_context, op):
    wrapper = getattr(op, "wrapper", None)
    shown = _Shown(autogen_context, wrapper, "server", op.name)
    args = [
        repr(op.name),
        _kw("version", op.version),
        _kw("existing_version", op.existing_version),
        *op.options.render(shown),
    ]
    return _call(autogen_context, "alter_server", args, shown)


@renderers.dispatch_for(RenameServerOp)
def _render_rename_server(autogen_context, op):
    return _call(autogen_context, "rename_server", [repr(op.name), repr(op.new_name)])


@renderers.dispatch_for(CreateUserMappingOp)
def _render_create_user_mapping(autogen_context, op):
    shown = _Shown(autogen_context, op.wrapper, "user_mapping", op.server, op.user)
    args = [repr(op.server), repr(op.user), _kw("options", shown(op.options), {})]
    return _call(autogen_context, "create_user_mapping", args, shown)


@renderers.dispatch_for(DropUserMappingOp)
def _render_drop_user_mapping(autogen_context, op):
    return _call(autogen_context, "drop_user_mapping", [repr(op.server), repr(op.user)])


@renderers.dispatch_for(AlterUserMappingOp)
def _render_alter_user_mapping(autogen_context, op):
    shown = _Shown(autogen_context, op.wrapper, "user_mapping", op.server, op.user)
    args = [repr(op.server), repr(op.user), *op.options.render(shown)]
    return _call(autogen_context, "alter_user_mapping", args, shown)


def _render_column(column: sa.Column, autogen_context) -> str:
    return alembic_render._render_column(column, autogen_context)


@renderers.dispatch_for(CreateForeignTableOp)
def _render_create_foreign_table(autogen_context, op):
    shown = _Shown(autogen_context, getattr(op, "wrapper", None), "table", op.table_name)
    table = op.to_table()
    columns = [_render_column(c, autogen_context) for c in table.columns]
    columns += [
        alembic_render._render_check_constraint(c, autogen_context, None)
        for c in check_constraints(table)
    ]
    args = [
        repr(op.table_name),
        *columns,
        f"server={op.server!r}",
        _kw("options", shown(op.options), {}),
    ]
    text = f"{_prefix(autogen_context)}create_foreign_table(\n    " + ",\n    ".join(
        a for a in args if a
    )
    return shown.comment() + text + ",\n)"


@renderers.dispatch_for(DropForeignTableOp)
def _render_drop_foreign_table(autogen_context, op):
    return _call(autogen_context, "drop_foreign_table", [repr(op.table_name)])


@renderers.dispatch_for(DropForeignTablesOp)
def _render_drop_foreign_tables(autogen_context, op):
    return _call(autogen_context, "drop_foreign_tables", [repr(op.table_names)])


@renderers.dispatch_for(AlterForeignTableOp)
def _render_alter_foreign_table(autogen_context, op):
    shown = _Shown(autogen_context, getattr(op, "wrapper", None), "table", op.table_name)
    args = [
        repr(op.table_name),
        _kw("server", op.server),
        _kw("existing_server", op.existing_server),
        *op.options.render(shown),
    ]
    return _call(autogen_context, "alter_foreign_table", args, shown)


@renderers.dispatch_for(AddForeignColumnOp)
def _render_add_foreign_column(autogen_context, op):
    column = _render_column(op.column, autogen_context)
    return _call(autogen_context, "add_foreign_column", [repr(op.table_name), column])


@renderers.dispatch_for(DropForeignColumnOp)
def _render_drop_foreign_column(autogen_context, op):
    args = [repr(op.table_name), repr(op.column_name)]
    return _call(autogen_context, "drop_foreign_column", args)


@renderers.dispatch_for(AlterForeignColumnOp)
def _render_alter_foreign_column(autogen_context, op):
    shown = _Shown(autogen_context, None, "column", op.table_name, op.column_name)

    def type_(value):
        return alembic_render._repr_type(value, autogen_context)

    args = [
        repr(op.table_name),
        repr(op.column_name),
        f"type_={type_(op.type_)}" if op.type_ is not None else "",
        f"existing_type={type_(op.existing_type)}" if op.existing_type is not None else "",
        _kw("nullable", op.nullable),
        _kw("existing_nullable", op.existing_nullable),
        _kw("new_column_name", op.new_column_name),
        *op.options.render(shown),
    ]
    return _call(autogen_context, "alter_foreign_column", args, shown)


@renderers.dispatch_for(ImportForeignSchemaOp)
def _render_import_foreign_schema(autogen_context, op):
    args = [
        repr(op.remote_schema),
        repr(op.server),
        _kw("limit_to", op.limit_to),
        _kw("except_", op.except_),
        _kw("options", op.options, {}),
    ]
    return _call(autogen_context, "import_foreign_schema", args)


# ------------------------------------------------------------- autogenerate


def _metadatas(autogen_context) -> list[sa.MetaData]:
    metadata = autogen_context.metadata
    if metadata is None:
        return []
    if isinstance(metadata, sa.MetaData):
        return [metadata]
    return list(metadata)


def _resolved_user(user: str, current: str) -> str:
    upper = user.upper()
    if upper == "PUBLIC":
        return "PUBLIC"
    if upper in ("CURRENT_USER", "CURRENT_ROLE", "USER", "SESSION_USER"):
        return current
    return user


def _table_of(upgrade_op) -> str | None:
    if isinstance(upgrade_op, (alembic_ops.CreateTableOp, alembic_ops.DropTableOp)):
        return upgrade_op.table_name
    if isinstance(upgrade_op, alembic_ops.ModifyTableOps):
        return upgrade_op.table_name
    return None


def _refers_to(upgrade_op, names: set[str]) -> bool:
    if isinstance(upgrade_op, (alembic_ops.AddConstraintOp, alembic_ops.DropConstraintOp)):
        constraint = getattr(upgrade_op, "to_constraint", lambda: None)()
        if isinstance(constraint, sa.ForeignKeyConstraint):
            return constraint.referred_table.name.lower() in names
    return False


class _Comparison:
    """One autogenerate run's view of the SQL/MED objects on both sides."""

    def __init__(self, autogen_context):
        self.ctx = autogen_context
        self.impl = autogen_context.migration_context.impl
        self.inspector = autogen_context.inspector
        conn = autogen_context.connection
        self.user = conn.connection.dbapi_connection.vtables.user
        self.objects = [o for md in _metadatas(autogen_context) for o in objects_of(md)]
        self.tables = {
            t.name.lower(): t
            for t in autogen_context.sorted_tables
            if t.schema in (None, "main")
            and foreign_server(t) is not None
            and autogen_context.run_object_filters(t, t.name, "table", False, None)
        }
        self.servers_db = {s["name"]: s for s in self.inspector.get_servers()}
        self.wrapper_of = {name: s["wrapper"] for name, s in self.servers_db.items()}
        for obj in self.objects:
            if isinstance(obj, ForeignServer):
                self.wrapper_of.setdefault(obj.name, obj.wrapper)
        self.db_tables = {n.lower(): n for n in self.inspector.get_foreign_table_names()}
        self.before: list[MigrateOperation] = []  # drops, then creates of servers...
        self.after: list[MigrateOperation] = []  # foreign tables
        self.recreated_servers: set[str] = set()

    def secret(self, wrapper: str | None, kind: str) -> Callable[[str], bool]:
        return lambda key: is_secret_option(key, wrapper, kind)

    def of(self, kind: type) -> list[Any]:
        return [o for o in self.objects if isinstance(o, kind)]

    # -- wrappers and extensions

    def extensions(self, drops: list, creates: list) -> None:
        db = {e["name"] for e in self.inspector.get_extensions()}
        declared = [e.name for e in self.of(Extension)]
        creates.extend(CreateExtensionOp(n) for n in declared if n not in db)
        drops.extend(DropExtensionOp(n) for n in sorted(db - set(declared)))

    def wrappers(self, drops: list, creates: list, alters: list) -> None:
        db = {w["name"]: w for w in self.inspector.get_foreign_data_wrappers()}
        declared = {w.name: w for w in self.of(ForeignDataWrapper)}
        for name, w in declared.items():
            create = CreateForeignDataWrapperOp(name, w.handler, w.validator, w.options)
            found = db.get(name)
            if found is None:
                creates.append(create)
            elif (found["handler"], found["validator"]) != (w.handler, w.validator):
                drops.append(DropForeignDataWrapperOp(name, _reverse=self._fdw_op(found)))
                creates.append(create)
            else:
                changes = OptionChanges.between(
                    found["options"], w.options, self.secret(name, "wrapper")
                )
                if changes:
                    alters.append(AlterForeignDataWrapperOp(name, changes))
        for name, found in db.items():
            if name not in declared and found["extension"] is None:
                drops.append(DropForeignDataWrapperOp(name, _reverse=self._fdw_op(found)))

    @staticmethod
    def _fdw_op(found: dict) -> CreateForeignDataWrapperOp:
        return CreateForeignDataWrapperOp(
            found["name"], found["handler"], found["validator"], found["options"]
        )

    # -- servers and user mappings

    def servers(self, drops: list, creates: list, alters: list) -> None:
        declared = {s.name: s for s in self.of(ForeignServer)}
        for name, s in declared.items():
            create = CreateServerOp.from_object(s)
            found = self.servers_db.get(name)
            if found is None:
                creates.append(create)
            elif (found["wrapper"], found["type"]) != (s.wrapper, s.type):
                drops.append(DropServerOp(name, _reverse=self._server_op(found)))
                creates.append(create)
                self.recreated_servers.add(name)
            else:
                changes = OptionChanges.between(
                    found["options"], s.options, self.secret(s.wrapper, "server")
                )
                version_changed = (found["version"] or None) != (s.version or None)
                if changes or version_changed:
                    op = AlterServerOp(
                        name,
                        changes,
                        version=s.version if version_changed else None,
                        existing_version=found["version"] if version_changed else None,
                    )
                    op.wrapper = s.wrapper
                    alters.append(op)
        for name, found in self.servers_db.items():
            if name not in declared:
                drops.append(DropServerOp(name, _reverse=self._server_op(found)))
                self.recreated_servers.add(name)

    @staticmethod
    def _server_op(found: dict) -> CreateServerOp:
        return CreateServerOp(
            found["name"], found["wrapper"], found["type"], found["version"], found["options"]
        )

    def user_mappings(self, drops: list, creates: list, alters: list) -> None:
        db = {(m["user"], m["server"]): m for m in self.inspector.get_user_mappings()}
        declared = {}
        for m in self.of(UserMapping):
            declared[(_resolved_user(m.user, self.user), m.server)] = m
        for key, m in declared.items():
            wrapper = self.wrapper_of.get(m.server)
            create = CreateUserMappingOp(m.server, m.user, m.options, wrapper)
            found = db.get(key)
            if found is None:
                creates.append(create)
                continue
            if m.server in self.recreated_servers:
                drops.append(DropUserMappingOp(m.server, m.user, _reverse=self._mapping_op(found)))
                creates.append(create)
                continue
            changes = OptionChanges.between(
                found["options"], m.options, self.secret(wrapper, "user_mapping")
            )
            if changes:
                alters.append(AlterUserMappingOp(m.server, m.user, changes, wrapper))
        for key, found in db.items():
            if key not in declared:
                reverse = self._mapping_op(found)
                drops.append(DropUserMappingOp(found["server"], found["user"], _reverse=reverse))

    def _mapping_op(self, found: dict) -> CreateUserMappingOp:
        wrapper = self.wrapper_of.get(found["server"])
        return CreateUserMappingOp(found["server"], found["user"], found["options"], wrapper)

    # -- foreign tables

    def reflected(self, name: str) -> sa.Table:
        table = sa.Table(name, sa.MetaData())
        self.inspector.reflect_table(table, None)
        return table

    def foreign_tables(self, drops: list) -> None:
        for key, table in self.tables.items():
            create = CreateForeignTableOp.from_table(table)
            create.wrapper = self.wrapper_of.get(create.server)
            if key not in self.db_tables:
                self.after.append(create)
                continue
            existing = self.reflected(self.db_tables[key])
            server = foreign_server(existing)
            if server != create.server or server in self.recreated_servers:
                drops.insert(0, self._drop_table_op(existing))
                self.after.append(create)
                continue
            self.compare_table(table, existing)
        for key, name in self.db_tables.items():
            if key not in self.tables and self.ctx.run_name_filters(
                name, "table", {"schema_name": None}
            ):
                drops.insert(0, self._drop_table_op(self.reflected(name)))

    def _drop_table_op(self, existing: sa.Table) -> DropForeignTableOp:
        reverse = CreateForeignTableOp.from_table(existing)
        reverse.wrapper = self.wrapper_of.get(reverse.server)
        return DropForeignTableOp(existing.name, _reverse=reverse)

    def compare_table(self, table: sa.Table, existing: sa.Table) -> None:
        name = table.name
        wrapper = self.wrapper_of.get(foreign_server(table))
        db_columns = {c.name.lower(): c for c in existing.columns}
        md_columns = {c.name.lower(): c for c in table.columns}
        ops: list[MigrateOperation] = []
        for key, column in db_columns.items():
            if key not in md_columns:
                reverse = AddForeignColumnOp(name, column)
                ops.append(DropForeignColumnOp(name, column.name, _reverse=reverse))
        for key, column in md_columns.items():
            found = db_columns.get(key)
            if found is None:
                ops.append(AddForeignColumnOp(name, column._copy()))
                continue
            type_changed = self.impl.compare_type(found, column)
            nullable_changed = found.nullable != column.nullable
            changes = OptionChanges.between(
                found.dialect_options["sqlmed"]["options"] or {},
                column.dialect_options["sqlmed"]["options"] or {},
                self.secret(wrapper, "column"),
            )
            if type_changed or nullable_changed or changes:
                ops.append(
                    AlterForeignColumnOp(
                        name,
                        column.name,
                        type_=column.type if type_changed else None,
                        existing_type=found.type if type_changed else None,
                        nullable=column.nullable if nullable_changed else None,
                        existing_nullable=found.nullable if nullable_changed else None,
                        options=changes,
                    )
                )
        changes = OptionChanges.between(
            existing.dialect_options["sqlmed"]["options"] or {},
            table.dialect_options["sqlmed"]["options"] or {},
            self.secret(wrapper, "table"),
        )
        if changes:
            op = AlterForeignTableOp(name, changes)
            op.wrapper = wrapper
            ops.append(op)
        self.after.extend(ops)


def compare_sqlmed(autogen_context, upgrade_ops, schemas) -> PriorityDispatchResult:
    """Autogenerate for wrappers, servers, user mappings and foreign tables.

    Runs after Alembic's own table comparison, takes foreign tables out of what
    it found (they are never a plain ``create_table``) and adds SQL/MED
    operations in dependency order: dropped foreign tables, mappings, servers
    and wrappers first, then new wrappers, servers and mappings, Alembic's
    local tables, and the foreign tables last.
    """
    if None not in schemas or getattr(upgrade_ops, "_sqlmed_compared", False):
        return PriorityDispatchResult.CONTINUE
    upgrade_ops._sqlmed_compared = True
    cmp = _Comparison(autogen_context)
    foreign = set(cmp.tables) | set(cmp.db_tables)
    upgrade_ops.ops[:] = [
        o
        for o in upgrade_ops.ops
        if (_table_of(o) or "").lower() not in foreign and not _refers_to(o, foreign)
    ]
    for o in upgrade_ops.ops:
        if isinstance(o, alembic_ops.ModifyTableOps):
            o.ops[:] = [sub for sub in o.ops if not _refers_to(sub, foreign)]
    upgrade_ops.ops[:] = [
        o
        for o in upgrade_ops.ops
        if not (isinstance(o, alembic_ops.ModifyTableOps) and o.is_empty())
    ]

    drops: list[MigrateOperation] = []
    creates: list[MigrateOperation] = []
    alters: list[MigrateOperation] = []
    server_drops: list[MigrateOperation] = []
    wrapper_drops: list[MigrateOperation] = []
    table_drops: list[MigrateOperation] = []
    cmp.extensions(wrapper_drops, creates)
    cmp.wrappers(wrapper_drops, creates, alters)
    cmp.servers(server_drops, creates, alters)
    cmp.user_mappings(drops, creates, alters)
    cmp.foreign_tables(table_drops)
    # DropExtension before its wrappers' servers would fail: servers go first.
    head = [*table_drops, *drops, *server_drops, *wrapper_drops, *creates, *alters]
    upgrade_ops.ops[:0] = head
    upgrade_ops.ops.extend(cmp.after)
    return PriorityDispatchResult.CONTINUE


def setup(plugin) -> None:
    """Alembic plugin entry (``alembic.plugins``): registers the comparator."""
    plugin.add_autogenerate_comparator(
        compare_sqlmed, "schema", "sqlmed", qualifier="sqlmed", priority=DispatchPriority.LAST
    )


# Also on Alembic's global registry, so that a plain env.py needs no
# ``autogenerate_plugins`` setting: a foreign table must never be proposed as a
# local create_table just because a plugin was left out.
comparators.dispatch_for(
    "schema", qualifier="sqlmed", priority=DispatchPriority.LAST, subgroup="sqlmed"
)(compare_sqlmed)
