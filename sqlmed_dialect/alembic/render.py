"""How autogenerate writes the SQL/MED operations into a migration file.

Secret option values (passwords, tokens: whatever the wrapper marks secret)
are never written: they are rendered as ``secret_from_env("SQLMED_...")``, read
when the migration runs, with a comment naming the variables.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import render as alembic_render
from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext

from ..base import MASK, check_constraints, is_secret_option
from . import ops
from .ops import OptionChanges, secret_env_name


class _Secret:
    """A secret option value in a rendered migration: its environment variable."""

    def __init__(self, env: str):
        self.env = env

    def __repr__(self) -> str:
        return f"secret_from_env({self.env!r})"


class _Shown:
    """Option dicts as written in a migration: secrets become ``secret_from_env``."""

    def __init__(self, autogen_context: AutogenContext, wrapper: str | None, kind: str, *owner):
        self.autogen_context = autogen_context
        self.wrapper = wrapper
        self.kind = kind
        self.owner: tuple[str, ...] = owner
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

    def changes(self, changes: OptionChanges) -> list[str]:
        """The ``add_options=``/``set_options=``/... keywords of an ``op.alter_*``."""
        out = []
        if changes.add:
            out.append(f"add_options={self(changes.add)!r}")
        if changes.set:
            out.append(f"set_options={self(changes.set)!r}")
        if changes.drop:
            out.append(f"drop_options={changes.drop!r}")
        # a replaced secret is not worth asking the environment for: left out
        existing = self.plain(changes.existing)
        if existing:
            out.append(f"existing_options={existing!r}")
        return out

    def comment(self) -> str:
        if not self.envs:
            return ""
        return (
            "# secret option values are not written here: they are read from the "
            f"environment when this migration runs ({', '.join(self.envs)})\n"
        )


def _call(
    autogen_context: AutogenContext, name: str, args: list[str], shown: _Shown | None = None
) -> str:
    prefix = autogen_context.opts.get("alembic_module_prefix", "op.")
    text = f"{prefix}{name}(" + ", ".join(a for a in args if a) + ")"
    return (shown.comment() if shown else "") + text


def _kw(name: str, value: Any, default: Any = None) -> str:
    return "" if value == default else f"{name}={value!r}"


def _alter(
    autogen_context: AutogenContext,
    operation: str,
    name: str,
    shown: _Shown,
    changes: OptionChanges,
    values: dict[str, Any] | None = None,
) -> str:
    """``op.alter_*(name, value=..., existing_value=..., add_options=..., ...)``."""
    keywords = [_kw(k, v) for k, v in (values or {}).items()]
    return _call(
        autogen_context, operation, [repr(name), *keywords, *shown.changes(changes)], shown
    )


# -- extensions and wrappers


@renderers.dispatch_for(ops.CreateExtensionOp)
def _render_create_extension(autogen_context: AutogenContext, op: ops.CreateExtensionOp) -> str:
    return _call(autogen_context, "create_extension", [repr(op.name)])


@renderers.dispatch_for(ops.DropExtensionOp)
def _render_drop_extension(autogen_context: AutogenContext, op: ops.DropExtensionOp) -> str:
    args = [repr(op.name), _kw("if_exists", op.if_exists, False), _kw("cascade", op.cascade, False)]
    return _call(autogen_context, "drop_extension", args)


@renderers.dispatch_for(ops.CreateForeignDataWrapperOp)
def _render_create_fdw(autogen_context: AutogenContext, op: ops.CreateForeignDataWrapperOp) -> str:
    shown = _Shown(autogen_context, op.name, "wrapper", op.name)
    functions = [_kw("handler", op.handler), _kw("validator", op.validator)]
    args = [repr(op.name), *functions, _kw("options", shown(op.options), {})]
    return _call(autogen_context, "create_foreign_data_wrapper", args, shown)


@renderers.dispatch_for(ops.AlterForeignDataWrapperOp)
def _render_alter_fdw(autogen_context: AutogenContext, op: ops.AlterForeignDataWrapperOp) -> str:
    shown = _Shown(autogen_context, op.name, "wrapper", op.name)
    return _alter(autogen_context, "alter_foreign_data_wrapper", op.name, shown, op.options)


_DROP_NAMED = {
    ops.DropForeignDataWrapperOp: "drop_foreign_data_wrapper",
    ops.DropServerOp: "drop_server",
}


@renderers.dispatch_for(ops.DropForeignDataWrapperOp)
@renderers.dispatch_for(ops.DropServerOp)
def _render_drop_named(
    autogen_context: AutogenContext, op: ops.DropServerOp | ops.DropForeignDataWrapperOp
) -> str:
    args = [repr(op.name), _kw("cascade", op.cascade, False)]
    return _call(autogen_context, _DROP_NAMED[type(op)], args)


# -- servers and user mappings


@renderers.dispatch_for(ops.CreateServerOp)
def _render_create_server(autogen_context: AutogenContext, op: ops.CreateServerOp) -> str:
    shown = _Shown(autogen_context, op.wrapper, "server", op.name)
    type_and_version = [_kw("type_", op.type_), _kw("version", op.version)]
    args = [
        repr(op.name),
        repr(op.wrapper),
        *type_and_version,
        _kw("options", shown(op.options), {}),
    ]
    return _call(autogen_context, "create_server", args, shown)


@renderers.dispatch_for(ops.AlterServerOp)
def _render_alter_server(autogen_context: AutogenContext, op: ops.AlterServerOp) -> str:
    shown = _Shown(autogen_context, op.wrapper, "server", op.name)
    versions = {"version": op.version, "existing_version": op.existing_version}
    return _alter(autogen_context, "alter_server", op.name, shown, op.options, versions)


@renderers.dispatch_for(ops.RenameServerOp)
def _render_rename_server(autogen_context: AutogenContext, op: ops.RenameServerOp) -> str:
    return _call(autogen_context, "rename_server", [repr(op.name), repr(op.new_name)])


@renderers.dispatch_for(ops.CreateUserMappingOp)
def _render_create_user_mapping(
    autogen_context: AutogenContext, op: ops.CreateUserMappingOp
) -> str:
    shown = _Shown(autogen_context, op.wrapper, "user_mapping", op.server, op.user)
    args = [repr(op.server), repr(op.user), _kw("options", shown(op.options), {})]
    return _call(autogen_context, "create_user_mapping", args, shown)


@renderers.dispatch_for(ops.DropUserMappingOp)
def _render_drop_user_mapping(autogen_context: AutogenContext, op: ops.DropUserMappingOp) -> str:
    return _call(autogen_context, "drop_user_mapping", [repr(op.server), repr(op.user)])


@renderers.dispatch_for(ops.AlterUserMappingOp)
def _render_alter_user_mapping(autogen_context: AutogenContext, op: ops.AlterUserMappingOp) -> str:
    shown = _Shown(autogen_context, op.wrapper, "user_mapping", op.server, op.user)
    args = [repr(op.server), repr(op.user), *shown.changes(op.options)]
    return _call(autogen_context, "alter_user_mapping", args, shown)


# -- foreign tables


def _render_column(column: sa.Column, autogen_context: AutogenContext) -> str:
    return alembic_render._render_column(column, autogen_context)


@renderers.dispatch_for(ops.CreateForeignTableOp)
def _render_create_foreign_table(
    autogen_context: AutogenContext, op: ops.CreateForeignTableOp
) -> str:
    shown = _Shown(autogen_context, op.wrapper, "table", op.table_name)
    table = op.to_table()
    columns = [_render_column(c, autogen_context) for c in table.columns]
    columns += [
        alembic_render._render_check_constraint(c, autogen_context, None) or ""
        for c in check_constraints(table)
    ]
    args = [
        repr(op.table_name),
        *columns,
        f"server={op.server!r}",
        _kw("options", shown(op.options), {}),
    ]
    prefix = autogen_context.opts.get("alembic_module_prefix", "op.")
    text = f"{prefix}create_foreign_table(\n    " + ",\n    ".join(a for a in args if a)
    return shown.comment() + text + ",\n)"


@renderers.dispatch_for(ops.DropForeignTableOp)
def _render_drop_foreign_table(autogen_context: AutogenContext, op: ops.DropForeignTableOp) -> str:
    return _call(autogen_context, "drop_foreign_table", [repr(op.table_name)])


@renderers.dispatch_for(ops.DropForeignTablesOp)
def _render_drop_foreign_tables(
    autogen_context: AutogenContext, op: ops.DropForeignTablesOp
) -> str:
    return _call(autogen_context, "drop_foreign_tables", [repr(op.table_names)])


@renderers.dispatch_for(ops.AlterForeignTableOp)
def _render_alter_foreign_table(
    autogen_context: AutogenContext, op: ops.AlterForeignTableOp
) -> str:
    shown = _Shown(autogen_context, op.wrapper, "table", op.table_name)
    servers = {"server": op.server, "existing_server": op.existing_server}
    return _alter(autogen_context, "alter_foreign_table", op.table_name, shown, op.options, servers)


@renderers.dispatch_for(ops.AddForeignColumnOp)
def _render_add_foreign_column(autogen_context: AutogenContext, op: ops.AddForeignColumnOp) -> str:
    column = _render_column(op.column, autogen_context)
    return _call(autogen_context, "add_foreign_column", [repr(op.table_name), column])


@renderers.dispatch_for(ops.DropForeignColumnOp)
def _render_drop_foreign_column(
    autogen_context: AutogenContext, op: ops.DropForeignColumnOp
) -> str:
    args = [repr(op.table_name), repr(op.column_name)]
    return _call(autogen_context, "drop_foreign_column", args)


@renderers.dispatch_for(ops.AlterForeignColumnOp)
def _render_alter_foreign_column(
    autogen_context: AutogenContext, op: ops.AlterForeignColumnOp
) -> str:
    shown = _Shown(autogen_context, None, "column", op.table_name, op.column_name)

    def type_(name: str, value: Any) -> str:
        if value is None:
            return ""
        return f"{name}={alembic_render._repr_type(value, autogen_context)}"

    args = [
        repr(op.table_name),
        repr(op.column_name),
        type_("type_", op.modify_type),
        type_("existing_type", op.existing_type),
        _kw("nullable", op.modify_nullable),
        _kw("existing_nullable", op.existing_nullable),
        _kw("new_column_name", op.modify_name),
        *shown.changes(op.options),
    ]
    return _call(autogen_context, "alter_foreign_column", args, shown)


@renderers.dispatch_for(ops.ImportForeignSchemaOp)
def _render_import_foreign_schema(
    autogen_context: AutogenContext, op: ops.ImportForeignSchemaOp
) -> str:
    args = [
        repr(op.remote_schema),
        repr(op.server),
        _kw("limit_to", op.limit_to),
        _kw("except_", op.except_),
        _kw("options", op.options, {}),
    ]
    return _call(autogen_context, "import_foreign_schema", args)
