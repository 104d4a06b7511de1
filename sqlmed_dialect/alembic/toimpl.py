"""What each SQL/MED operation sends: its statement, a :mod:`vtables.grammar`
tree (built by the engine's builders, or for ALTER and DROP by
:mod:`sqlmed_dialect.printer`; or a DDL element of :mod:`sqlmed_dialect.schema`
that the dialect compiles the same way), executed by :class:`SQLMedImpl`."""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.util import CommandError

from vtables import grammar

from .. import printer, schema
from . import ops
from .impl import SQLMedImpl


def _impl(operations: Operations) -> SQLMedImpl:
    # the operations are registered for the sqlmed dialect, whose impl this is
    return cast(SQLMedImpl, operations.impl)


def _run(operations: Operations, construct: Any) -> None:
    _impl(operations)._exec(construct)


def _med(operations: Operations, tree: Any) -> None:
    _impl(operations).execute_med(tree)


# -- extensions


@Operations.implementation_for(ops.CreateExtensionOp)
def _create_extension(operations: Operations, op: ops.CreateExtensionOp) -> None:
    _med(operations, grammar.create_extension(op.name, if_not_exists=op.if_not_exists))


@Operations.implementation_for(ops.DropExtensionOp)
def _drop_extension(operations: Operations, op: ops.DropExtensionOp) -> None:
    element = schema.Extension(op.name)
    _run(operations, schema.DropExtension(element, if_exists=op.if_exists, cascade=op.cascade))


# -- foreign data wrappers


@Operations.implementation_for(ops.CreateForeignDataWrapperOp)
def _create_fdw(operations: Operations, op: ops.CreateForeignDataWrapperOp) -> None:
    _run(operations, schema.CreateForeignDataWrapper(op.to_object()))


@Operations.implementation_for(ops.DropForeignDataWrapperOp)
def _drop_fdw(operations: Operations, op: ops.DropForeignDataWrapperOp) -> None:
    element = schema.ForeignDataWrapper(op.name)
    _run(
        operations,
        schema.DropForeignDataWrapper(element, if_exists=op.if_exists, cascade=op.cascade),
    )


@Operations.implementation_for(ops.AlterForeignDataWrapperOp)
def _alter_fdw(operations: Operations, op: ops.AlterForeignDataWrapperOp) -> None:
    if op.options:
        _med(operations, printer.alter_fdw(op.name, op.options.items()))


# -- servers


@Operations.implementation_for(ops.CreateServerOp)
def _create_server(operations: Operations, op: ops.CreateServerOp) -> None:
    _run(operations, schema.CreateServer(op.to_object()))


@Operations.implementation_for(ops.DropServerOp)
def _drop_server(operations: Operations, op: ops.DropServerOp) -> None:
    element = schema.ForeignServer(op.name, "")
    _run(operations, schema.DropServer(element, if_exists=op.if_exists, cascade=op.cascade))


@Operations.implementation_for(ops.AlterServerOp)
def _alter_server(operations: Operations, op: ops.AlterServerOp) -> None:
    if op.version is None and not op.options:
        return
    _med(operations, printer.alter_server(op.name, version=op.version, changes=op.options.items()))


@Operations.implementation_for(ops.RenameServerOp)
def _rename_server(operations: Operations, op: ops.RenameServerOp) -> None:
    _med(operations, printer.rename_server(op.name, op.new_name))


# -- user mappings


@Operations.implementation_for(ops.CreateUserMappingOp)
def _create_user_mapping(operations: Operations, op: ops.CreateUserMappingOp) -> None:
    _run(
        operations,
        schema.CreateUserMapping(schema.UserMapping(op.server, op.user, options=op.options)),
    )


@Operations.implementation_for(ops.DropUserMappingOp)
def _drop_user_mapping(operations: Operations, op: ops.DropUserMappingOp) -> None:
    _run(
        operations,
        schema.DropUserMapping(schema.UserMapping(op.server, op.user), if_exists=op.if_exists),
    )


@Operations.implementation_for(ops.AlterUserMappingOp)
def _alter_user_mapping(operations: Operations, op: ops.AlterUserMappingOp) -> None:
    if op.options:
        _med(operations, printer.alter_user_mapping(op.user, op.server, op.options.items()))


# -- foreign tables


@Operations.implementation_for(ops.CreateForeignTableOp)
def _create_foreign_table(operations: Operations, op: ops.CreateForeignTableOp) -> sa.Table:
    table = op.to_table()
    _run(operations, sa.schema.CreateTable(table, if_not_exists=bool(op.if_not_exists)))
    return table


@Operations.implementation_for(ops.DropForeignTableOp)
def _drop_foreign_table(operations: Operations, op: ops.DropForeignTableOp) -> None:
    if_exists = bool(op.if_exists)
    _med(operations, printer.drop("FOREIGN TABLE", [op.table_name], if_exists=if_exists))


@Operations.implementation_for(ops.DropForeignTablesOp)
def _drop_foreign_tables(operations: Operations, op: ops.DropForeignTablesOp) -> None:
    _med(operations, printer.drop("FOREIGN TABLE", op.table_names, if_exists=op.if_exists))


@Operations.implementation_for(ops.AlterForeignTableOp)
def _alter_foreign_table(operations: Operations, op: ops.AlterForeignTableOp) -> None:
    impl = _impl(operations)
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
        impl.alter_foreign_table(op.table_name, printer.table_options(op.options.items() or []))


@Operations.implementation_for(ops.AddForeignColumnOp)
def _add_foreign_column(operations: Operations, op: ops.AddForeignColumnOp) -> None:
    impl = _impl(operations)
    impl.alter_foreign_table(op.table_name, printer.add_column(impl.medcolumn(op.column)))


@Operations.implementation_for(ops.DropForeignColumnOp)
def _drop_foreign_column(operations: Operations, op: ops.DropForeignColumnOp) -> None:
    _impl(operations).alter_foreign_table(op.table_name, printer.drop_column(op.column_name))


@Operations.implementation_for(ops.AlterForeignColumnOp)
def _alter_foreign_column(operations: Operations, op: ops.AlterForeignColumnOp) -> None:
    name = op.column_name
    more = [printer.alter_column_options(name, op.options.items() or [])] if op.options else []
    _impl(operations).alter_foreign_column(
        op.table_name,
        name,
        type_=op.modify_type,
        nullable=op.modify_nullable,
        more=more,
        new_name=op.modify_name,
    )


@Operations.implementation_for(ops.ImportForeignSchemaOp)
def _import_foreign_schema(operations: Operations, op: ops.ImportForeignSchemaOp) -> None:
    limit_to, except_ = op.limit_to, op.except_
    tree = grammar.import_foreign_schema(
        op.remote_schema, op.server, limit_to=limit_to, except_=except_, options_=op.options
    )
    _med(operations, tree)
