"""The SQL/MED migration operations (``op.create_server(...)`` and the rest), each
with its reverse, so that autogenerate writes downgrades too.

A foreign table's operations subclass Alembic's own (``CreateTableOp``,
``DropTableOp``, ``AddColumnOp``, ``DropColumnOp``, ``AlterColumnOp``,
``AlterTableOp``), as GeoAlchemy2's spatial operations do: a rewriter or a
``compare_metadata`` reader that knows Alembic's operations sees them for what
they are.  Wrappers, servers, user mappings and extensions have no counterpart
in Alembic and are plain ``MigrateOperation`` classes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypedDict, Unpack

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import MigrateOperation, Operations
from alembic.operations import ops as alembic_ops
from alembic.util import CommandError
from sqlalchemy.schema import SchemaItem

from vtables import grammar

from .. import printer
from ..base import MASK, check_constraints, foreign_server
from ..schema import ForeignDataWrapper, ForeignServer

__all__ = [
    "AddForeignColumnOp",
    "AlterForeignColumnOp",
    "AlterForeignDataWrapperOp",
    "AlterForeignTableOp",
    "AlterServerOp",
    "AlterUserMappingOp",
    "CreateExtensionOp",
    "CreateForeignDataWrapperOp",
    "CreateForeignTableOp",
    "CreateServerOp",
    "CreateUserMappingOp",
    "DropExtensionOp",
    "DropForeignColumnOp",
    "DropForeignDataWrapperOp",
    "DropForeignTableOp",
    "DropForeignTablesOp",
    "DropServerOp",
    "DropUserMappingOp",
    "ImportForeignSchemaOp",
    "OptionChangeArgs",
    "OptionChanges",
    "RenameServerOp",
    "secret_env_name",
    "secret_from_env",
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


def unknown(value: Any) -> bool:
    """A reflected value that cannot be compared: masked, or hidden from this user."""
    return value is None or value == MASK


# ------------------------------------------------------------ option changes


class OptionChangeArgs(TypedDict, total=False):
    """The keywords every ``op.alter_*`` takes for its ``OPTIONS (...)`` clause."""

    add_options: dict[str, Any] | None
    set_options: dict[str, Any] | None
    drop_options: Iterable[str] | None
    existing_options: dict[str, Any] | None


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
    def of(cls, args: OptionChangeArgs) -> OptionChanges:
        """From an ``op.alter_*`` call's keywords."""
        return cls(
            args.get("add_options"),
            args.get("set_options"),
            args.get("drop_options"),
            args.get("existing_options"),
        )

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
            if k in old and not secret(k) and not unknown(old[k]) and old[k] != str(v)
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
                if unknown(value):
                    raise CommandError(
                        f"option {key!r}: no value to {action} (a downgrade needs the value "
                        "the upgrade replaced; pass existing_options=...)"
                    )
        return printer.option_changes(self.add, self.set, self.drop)


# ---------------------------------------------------------------- helpers


def _missing_reverse(what: str) -> NoReturn:
    raise ValueError(
        f"{what} has no reverse here: it was written without the definition of what "
        "it drops; write the downgrade by hand"
    )


class _Reversible(MigrateOperation):
    """A drop whose reverse is known only when autogenerate saw what it drops."""

    _reverse: MigrateOperation | None = None

    def reverse(self) -> MigrateOperation:
        if self._reverse is None:
            _missing_reverse(type(self).__name__)
        return self._reverse


@dataclass(eq=False)
class _DropNamed(_Reversible):
    """``DROP kind [IF EXISTS] name [CASCADE]`` of a wrapper or a server."""

    name: str
    cascade: bool = False
    if_exists: bool = False
    _reverse: MigrateOperation | None = None


@dataclass(eq=False)
class _AlterOptions(MigrateOperation):
    """``ALTER kind name OPTIONS (...)``; ``wrapper`` only tells secrets when rendering."""

    name: str
    options: OptionChanges
    wrapper: str | None = None


# ------------------------------------------------------------- extensions


@Operations.register_operation("create_extension")
@dataclass(eq=False)
class CreateExtensionOp(MigrateOperation):
    """``CREATE EXTENSION name``: install a builtin or registered wrapper."""

    name: str
    if_not_exists: bool = False

    @classmethod
    def create_extension(
        cls, operations: Operations, name: str, *, if_not_exists: bool = False
    ) -> None:
        """``CREATE EXTENSION [IF NOT EXISTS] name``."""
        return operations.invoke(cls(name, if_not_exists))

    def reverse(self) -> DropExtensionOp:
        return DropExtensionOp(self.name)


@Operations.register_operation("drop_extension")
@dataclass(eq=False)
class DropExtensionOp(MigrateOperation):
    """``DROP EXTENSION``: its wrappers go too (with ``cascade``, their servers)."""

    name: str
    if_exists: bool = False
    cascade: bool = False

    @classmethod
    def drop_extension(
        cls, operations: Operations, name: str, *, if_exists: bool = False, cascade: bool = False
    ) -> None:
        """``DROP EXTENSION [IF EXISTS] name [CASCADE]``."""
        return operations.invoke(cls(name, if_exists, cascade))

    def reverse(self) -> CreateExtensionOp:
        return CreateExtensionOp(self.name)


# ------------------------------------------------------ foreign data wrappers


@Operations.register_operation("create_foreign_data_wrapper")
@dataclass(eq=False)
class CreateForeignDataWrapperOp(MigrateOperation):
    """``CREATE FOREIGN DATA WRAPPER``: a wrapper of the program's own."""

    name: str
    handler: str | None = None
    validator: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create_foreign_data_wrapper(
        cls, operations: Operations, name: str, *, handler=None, validator=None, options=None
    ) -> None:
        """``CREATE FOREIGN DATA WRAPPER name [HANDLER h] [VALIDATOR v] [OPTIONS (...)]``."""
        return operations.invoke(cls(name, handler, validator, dict(options or {})))

    def reverse(self) -> DropForeignDataWrapperOp:
        return DropForeignDataWrapperOp(self.name, _reverse=self)

    def to_object(self) -> ForeignDataWrapper:
        return ForeignDataWrapper(
            self.name, handler=self.handler, validator=self.validator, options=self.options
        )


@Operations.register_operation("drop_foreign_data_wrapper")
class DropForeignDataWrapperOp(_DropNamed):
    @classmethod
    def drop_foreign_data_wrapper(
        cls, operations: Operations, name: str, *, cascade=False, if_exists=False
    ) -> None:
        """``DROP FOREIGN DATA WRAPPER [IF EXISTS] name [CASCADE]``."""
        return operations.invoke(cls(name, cascade, if_exists))


@Operations.register_operation("alter_foreign_data_wrapper")
class AlterForeignDataWrapperOp(_AlterOptions):
    @classmethod
    def alter_foreign_data_wrapper(
        cls, operations: Operations, name: str, **changes: Unpack[OptionChangeArgs]
    ) -> None:
        """``ALTER FOREIGN DATA WRAPPER name OPTIONS (ADD ..., SET ..., DROP ...)``."""
        return operations.invoke(cls(name, OptionChanges.of(changes)))

    def reverse(self) -> AlterForeignDataWrapperOp:
        return AlterForeignDataWrapperOp(self.name, self.options.reverse(), self.wrapper)


# ---------------------------------------------------------------- servers


@Operations.register_operation("create_server")
@dataclass(eq=False)
class CreateServerOp(MigrateOperation):
    """``CREATE SERVER``: where a wrapper finds its data."""

    name: str
    wrapper: str
    type_: str | None = None
    version: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create_server(
        cls,
        operations: Operations,
        name: str,
        wrapper: str,
        *,
        type_: str | None = None,
        version: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        """``CREATE SERVER name [TYPE t] [VERSION v] FOREIGN DATA WRAPPER w OPTIONS (...)``."""
        return operations.invoke(cls(name, wrapper, type_, version, dict(options or {})))

    @classmethod
    def from_object(cls, server: ForeignServer) -> CreateServerOp:
        return cls(server.name, server.wrapper, server.type, server.version, server.options)

    def reverse(self) -> DropServerOp:
        return DropServerOp(self.name, _reverse=self)

    def to_object(self) -> ForeignServer:
        return ForeignServer(
            self.name, self.wrapper, type=self.type_, version=self.version, options=self.options
        )


@Operations.register_operation("drop_server")
class DropServerOp(_DropNamed):
    """``DROP SERVER``; with ``cascade=True`` its user mappings and foreign tables go
    too (and a downgrade only re-creates the server itself)."""

    @classmethod
    def drop_server(
        cls, operations: Operations, name: str, *, cascade=False, if_exists=False
    ) -> None:
        """``DROP SERVER [IF EXISTS] name [CASCADE]``."""
        return operations.invoke(cls(name, cascade, if_exists))


@Operations.register_operation("alter_server")
@dataclass(eq=False)
class AlterServerOp(MigrateOperation):
    """A server's options and version (``existing_version`` for the downgrade)."""

    name: str
    options: OptionChanges
    version: str | None = None
    existing_version: str | None = None
    wrapper: str | None = None  # only to tell secrets when rendering

    @classmethod
    def alter_server(
        cls,
        operations: Operations,
        name: str,
        *,
        version: str | None = None,
        existing_version: str | None = None,
        **changes: Unpack[OptionChangeArgs],
    ) -> None:
        """``ALTER SERVER name [VERSION v] OPTIONS (ADD ..., SET ..., DROP ...)``."""
        return operations.invoke(cls(name, OptionChanges.of(changes), version, existing_version))

    def reverse(self) -> AlterServerOp:
        return AlterServerOp(
            self.name,
            self.options.reverse(),
            # PostgreSQL cannot set a version back to NULL: '' stands for none
            version=(self.existing_version or "") if self.version is not None else None,
            existing_version=self.version,
            wrapper=self.wrapper,
        )


@Operations.register_operation("rename_server")
@dataclass(eq=False)
class RenameServerOp(MigrateOperation):
    """``ALTER SERVER name RENAME TO new_name``: its mappings and tables follow."""

    name: str
    new_name: str

    @classmethod
    def rename_server(cls, operations: Operations, name: str, new_name: str) -> None:
        """``ALTER SERVER name RENAME TO new_name``."""
        return operations.invoke(cls(name, new_name))

    def reverse(self) -> RenameServerOp:
        return RenameServerOp(self.new_name, self.name)


# ----------------------------------------------------------- user mappings


@Operations.register_operation("create_user_mapping")
@dataclass(eq=False)
class CreateUserMappingOp(MigrateOperation):
    """``CREATE USER MAPPING``: a user's credentials for a server."""

    server: str
    user: str = "PUBLIC"
    options: dict[str, Any] = field(default_factory=dict)
    wrapper: str | None = None  # only to tell secrets when rendering

    @classmethod
    def create_user_mapping(
        cls, operations: Operations, server: str, user: str = "PUBLIC", *, options=None
    ) -> None:
        """``CREATE USER MAPPING FOR user SERVER server OPTIONS (...)``."""
        return operations.invoke(cls(server, user, dict(options or {})))

    def reverse(self) -> DropUserMappingOp:
        return DropUserMappingOp(self.server, self.user, _reverse=self)


@Operations.register_operation("drop_user_mapping")
@dataclass(eq=False)
class DropUserMappingOp(_Reversible):
    server: str
    user: str = "PUBLIC"
    if_exists: bool = False
    _reverse: MigrateOperation | None = None

    @classmethod
    def drop_user_mapping(
        cls, operations: Operations, server: str, user: str = "PUBLIC", *, if_exists: bool = False
    ) -> None:
        """``DROP USER MAPPING [IF EXISTS] FOR user SERVER server``."""
        return operations.invoke(cls(server, user, if_exists))


@Operations.register_operation("alter_user_mapping")
@dataclass(eq=False)
class AlterUserMappingOp(MigrateOperation):
    server: str
    user: str
    options: OptionChanges
    wrapper: str | None = None  # only to tell secrets when rendering

    @classmethod
    def alter_user_mapping(
        cls,
        operations: Operations,
        server: str,
        user: str = "PUBLIC",
        **changes: Unpack[OptionChangeArgs],
    ) -> None:
        """``ALTER USER MAPPING FOR user SERVER server OPTIONS (ADD ..., SET ..., DROP ...)``."""
        return operations.invoke(cls(server, user, OptionChanges.of(changes)))

    def reverse(self) -> AlterUserMappingOp:
        return AlterUserMappingOp(self.server, self.user, self.options.reverse(), self.wrapper)


# ---------------------------------------------------------- foreign tables


def foreign_table(
    name: str,
    columns: Iterable[SchemaItem],
    server: str | None,
    options: dict[str, Any] | None,
) -> sa.Table:
    """A foreign Table; ``columns`` may hold CheckConstraints too (as
    ``op.create_table`` takes them)."""
    items = list(columns)
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
    )


@Operations.register_operation("create_foreign_table")
class CreateForeignTableOp(alembic_ops.CreateTableOp):
    """``CREATE FOREIGN TABLE name (columns) SERVER server OPTIONS (...)``."""

    wrapper: str | None = None  # only to tell secrets when rendering

    def __init__(
        self,
        table_name: str,
        columns: Sequence[SchemaItem],
        server: str | None,
        options: dict[str, Any] | None = None,
        if_not_exists: bool = False,
    ):
        # columns, and CHECK constraints (declared, not enforced, as in PostgreSQL)
        super().__init__(table_name, list(columns), if_not_exists=if_not_exists)
        self.server = server
        self.options = dict(options or {})

    @classmethod
    def create_foreign_table(
        cls,
        operations: Operations,
        table_name: str,
        *columns: sa.Column,
        server: str,
        options: dict[str, str] | None = None,
        if_not_exists: bool = False,
    ) -> sa.Table:
        return operations.invoke(cls(table_name, columns, server, options, if_not_exists))

    @classmethod
    def from_table(
        cls, table: sa.Table, *, _namespace_metadata: sa.MetaData | None = None
    ) -> CreateForeignTableOp:
        return cls(
            table.name,
            [*table.columns, *check_constraints(table)],
            foreign_server(table),
            table.dialect_options["sqlmed"]["options"],
        )

    def to_table(self, migration_context: MigrationContext | None = None) -> sa.Table:
        return foreign_table(self.table_name, self.columns, self.server, self.options)

    def reverse(self) -> DropForeignTableOp:
        return DropForeignTableOp(self.table_name, _reverse=self)


@Operations.register_operation("drop_foreign_table")
class DropForeignTableOp(alembic_ops.DropTableOp):
    def __init__(
        self,
        table_name: str,
        if_exists: bool = False,
        _reverse: CreateForeignTableOp | None = None,
    ):
        super().__init__(table_name, if_exists=if_exists, _reverse=_reverse)

    @classmethod
    def drop_foreign_table(
        cls, operations: Operations, table_name: str, *, if_exists: bool = False
    ) -> None:
        return operations.invoke(cls(table_name, if_exists))

    def reverse(self) -> alembic_ops.CreateTableOp:
        if self._reverse is None:
            _missing_reverse(type(self).__name__)
        return self._reverse


@Operations.register_operation("alter_foreign_table")
class AlterForeignTableOp(alembic_ops.AlterTableOp):
    """Table options (ADD/SET/DROP) and, re-creating the table from its
    definition, its server (PostgreSQL has no ALTER for a table's server)."""

    def __init__(
        self,
        table_name: str,
        options: OptionChanges,
        server: str | None = None,
        existing_server: str | None = None,
        wrapper: str | None = None,
    ):
        super().__init__(table_name)
        self.options = options
        self.server = server
        self.existing_server = existing_server
        self.wrapper = wrapper  # only to tell secrets when rendering

    @classmethod
    def alter_foreign_table(
        cls,
        operations: Operations,
        table_name: str,
        *,
        server: str | None = None,
        existing_server: str | None = None,
        **changes: Unpack[OptionChangeArgs],
    ) -> None:
        changes_ = OptionChanges.of(changes)
        return operations.invoke(cls(table_name, changes_, server, existing_server))

    def reverse(self) -> AlterForeignTableOp:
        return AlterForeignTableOp(
            self.table_name,
            self.options.reverse(),
            server=self.existing_server if self.server is not None else None,
            existing_server=self.server,
            wrapper=self.wrapper,
        )


@Operations.register_operation("add_foreign_column")
class AddForeignColumnOp(alembic_ops.AddColumnOp):
    @classmethod
    def add_foreign_column(cls, operations: Operations, table_name: str, column: sa.Column) -> None:
        return operations.invoke(cls(table_name, column))

    def reverse(self) -> DropForeignColumnOp:
        return DropForeignColumnOp(self.table_name, self.column.name, _reverse=self)


@Operations.register_operation("drop_foreign_column")
class DropForeignColumnOp(alembic_ops.DropColumnOp):
    @classmethod
    def drop_foreign_column(cls, operations: Operations, table_name: str, column_name: str) -> None:
        return operations.invoke(cls(table_name, column_name))

    def reverse(self) -> alembic_ops.AddColumnOp:
        if self._reverse is None:
            _missing_reverse(type(self).__name__)
        return self._reverse


@Operations.register_operation("alter_foreign_column")
class AlterForeignColumnOp(alembic_ops.AlterColumnOp):
    """A foreign table's column: type, nullability, name and options.  Built as
    Alembic's AlterColumnOp (``modify_type``, ``existing_type``,
    ``modify_nullable``, ``existing_nullable``, ``modify_name``), plus ``options``."""

    def __init__(
        self,
        table_name: str,
        column_name: str,
        *,
        options: OptionChanges | None = None,
        **kw: Any,
    ):
        super().__init__(table_name, column_name, **kw)
        self.options = options or OptionChanges()

    @classmethod
    def alter_foreign_column(
        cls,
        operations: Operations,
        table_name: str,
        column_name: str,
        *,
        type_: Any = None,
        existing_type: Any = None,
        nullable: bool | None = None,
        existing_nullable: bool | None = None,
        new_column_name: str | None = None,
        **changes: Unpack[OptionChangeArgs],
    ) -> None:
        """``ALTER FOREIGN TABLE t ALTER COLUMN c TYPE ..., SET/DROP NOT NULL,
        OPTIONS (...)``, then ``RENAME COLUMN c TO new_column_name``."""
        op = cls(
            table_name,
            column_name,
            modify_type=type_,
            existing_type=existing_type,
            modify_nullable=nullable,
            existing_nullable=existing_nullable,
            modify_name=new_column_name,
            options=OptionChanges.of(changes),
        )
        return operations.invoke(op)

    def reverse(self) -> AlterForeignColumnOp:
        if self.modify_type is not None and self.existing_type is None:
            _missing_reverse("alter_foreign_column(type_=...) without existing_type")
        return AlterForeignColumnOp(
            self.table_name,
            self.modify_name or self.column_name,
            modify_type=self.existing_type if self.modify_type is not None else None,
            existing_type=self.modify_type,
            modify_nullable=self.existing_nullable if self.modify_nullable is not None else None,
            existing_nullable=self.modify_nullable,
            modify_name=self.column_name if self.modify_name else None,
            options=self.options.reverse(),
        )


@Operations.register_operation("import_foreign_schema")
class ImportForeignSchemaOp(MigrateOperation):
    """``IMPORT FOREIGN SCHEMA remote [LIMIT TO | EXCEPT (...)] FROM SERVER s INTO main``.

    Its reverse drops the tables named by ``limit_to``; without ``limit_to``
    what was imported is only known to the source, so the downgrade is
    written by hand.
    """

    def __init__(
        self,
        remote_schema: str,
        server: str,
        limit_to: Iterable[str] | None = None,
        except_: Iterable[str] | None = None,
        options: dict[str, Any] | None = None,
    ):
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
        operations: Operations,
        remote_schema: str,
        server: str,
        *,
        limit_to: list[str] | None = None,
        except_: list[str] | None = None,
        options: dict[str, str] | None = None,
    ) -> None:
        return operations.invoke(cls(remote_schema, server, limit_to, except_, options))

    def reverse(self) -> DropForeignTablesOp:
        if self.limit_to is None:
            _missing_reverse("import_foreign_schema without limit_to")
        return DropForeignTablesOp(self.limit_to, _reverse=self)


@Operations.register_operation("drop_foreign_tables")
class DropForeignTablesOp(_Reversible):
    """``DROP FOREIGN TABLE a, b, ...`` (the reverse of an import)."""

    def __init__(
        self,
        table_names: Iterable[str],
        if_exists: bool = False,
        _reverse: MigrateOperation | None = None,
    ):
        self.table_names = list(table_names)
        self.if_exists = if_exists
        self._reverse = _reverse

    @classmethod
    def drop_foreign_tables(
        cls, operations: Operations, table_names: list[str], *, if_exists=False
    ) -> None:
        return operations.invoke(cls(table_names, if_exists))
