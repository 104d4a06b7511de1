"""Autogenerate for the ``sqlmed`` dialect: the MetaData's extensions, wrappers,
servers, user mappings and foreign tables compared with the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import sqlalchemy as sa
from alembic.autogenerate.api import AutogenContext
from alembic.operations import MigrateOperation
from alembic.operations import ops as alembic_ops
from alembic.util import PriorityDispatchResult

from vtables import grammar

from ..base import foreign_server, is_secret_option
from ..schema import Extension, ForeignDataWrapper, ForeignServer, UserMapping, objects_of
from . import ops
from .ops import OptionChanges


def _metadatas(autogen_context: AutogenContext) -> list[sa.MetaData]:
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
    return current if upper in grammar.USER_KEYWORDS else user


def _table_of(upgrade_op: MigrateOperation) -> str | None:
    if isinstance(
        upgrade_op,
        (alembic_ops.CreateTableOp, alembic_ops.DropTableOp, alembic_ops.ModifyTableOps),
    ):
        return upgrade_op.table_name
    return None


def _refers_to(upgrade_op: MigrateOperation, names: set[str]) -> bool:
    if isinstance(upgrade_op, (alembic_ops.AddConstraintOp, alembic_ops.DropConstraintOp)):
        constraint = getattr(upgrade_op, "to_constraint", lambda: None)()
        if isinstance(constraint, sa.ForeignKeyConstraint):
            return constraint.referred_table.name.lower() in names
    return False


def _fdw_op(found: dict) -> ops.CreateForeignDataWrapperOp:
    return ops.CreateForeignDataWrapperOp(
        found["name"], found["handler"], found["validator"], found["options"]
    )


def _server_op(found: dict) -> ops.CreateServerOp:
    return ops.CreateServerOp(
        found["name"], found["wrapper"], found["type"], found["version"], found["options"]
    )


class _Comparison:
    """One autogenerate run's view of the SQL/MED objects on both sides."""

    def __init__(self, autogen_context: AutogenContext):
        self.ctx = autogen_context
        self.impl = autogen_context.migration_context.impl
        self.inspector = cast(Any, autogen_context.inspector)  # SQLMedInspector
        conn: Any = autogen_context.connection
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
        creates.extend(ops.CreateExtensionOp(n) for n in declared if n not in db)
        drops.extend(ops.DropExtensionOp(n) for n in sorted(db - set(declared)))

    def wrappers(self, drops: list, creates: list, alters: list) -> None:
        db = {w["name"]: w for w in self.inspector.get_foreign_data_wrappers()}
        declared = {w.name: w for w in self.of(ForeignDataWrapper)}
        for name, w in declared.items():
            create = ops.CreateForeignDataWrapperOp(name, w.handler, w.validator, w.options)
            found = db.get(name)
            if found is None:
                creates.append(create)
            elif (found["handler"], found["validator"]) != (w.handler, w.validator):
                drops.append(ops.DropForeignDataWrapperOp(name, _reverse=_fdw_op(found)))
                creates.append(create)
            else:
                changes = OptionChanges.between(
                    found["options"], w.options, self.secret(name, "wrapper")
                )
                if changes:
                    alters.append(ops.AlterForeignDataWrapperOp(name, changes))
        for name, found in db.items():
            if name not in declared and found["extension"] is None:
                drops.append(ops.DropForeignDataWrapperOp(name, _reverse=_fdw_op(found)))

    # -- servers and user mappings

    def servers(self, drops: list, creates: list, alters: list) -> None:
        declared = {s.name: s for s in self.of(ForeignServer)}
        for name, s in declared.items():
            found = self.servers_db.get(name)
            if found is None:
                creates.append(ops.CreateServerOp.from_object(s))
            elif (found["wrapper"], found["type"]) != (s.wrapper, s.type):
                drops.append(ops.DropServerOp(name, _reverse=_server_op(found)))
                creates.append(ops.CreateServerOp.from_object(s))
                self.recreated_servers.add(name)
            else:
                changes = OptionChanges.between(
                    found["options"], s.options, self.secret(s.wrapper, "server")
                )
                if changes or (found["version"] or None) != (s.version or None):
                    alters.append(self._alter_server(s, found["version"], changes))
        for name, found in self.servers_db.items():
            if name not in declared:
                drops.append(ops.DropServerOp(name, _reverse=_server_op(found)))
                self.recreated_servers.add(name)

    @staticmethod
    def _alter_server(
        s: ForeignServer, version: str | None, changes: OptionChanges
    ) -> ops.AlterServerOp:
        if (version or None) == (s.version or None):
            return ops.AlterServerOp(s.name, changes, wrapper=s.wrapper)
        return ops.AlterServerOp(s.name, changes, s.version, version, wrapper=s.wrapper)

    def user_mappings(self, drops: list, creates: list, alters: list) -> None:
        db = {(m["user"], m["server"]): m for m in self.inspector.get_user_mappings()}
        declared = {}
        for m in self.of(UserMapping):
            declared[(_resolved_user(m.user, self.user), m.server)] = m
        for key, m in declared.items():
            wrapper = self.wrapper_of.get(m.server)
            create = ops.CreateUserMappingOp(m.server, m.user, m.options, wrapper)
            found = db.get(key)
            if found is None:
                creates.append(create)
                continue
            if m.server in self.recreated_servers:
                drops.append(
                    ops.DropUserMappingOp(m.server, m.user, _reverse=self._mapping_op(found))
                )
                creates.append(create)
                continue
            changes = OptionChanges.between(
                found["options"], m.options, self.secret(wrapper, "user_mapping")
            )
            if changes:
                alters.append(ops.AlterUserMappingOp(m.server, m.user, changes, wrapper))
        for key, found in db.items():
            if key not in declared:
                reverse = self._mapping_op(found)
                drops.append(
                    ops.DropUserMappingOp(found["server"], found["user"], _reverse=reverse)
                )

    def _mapping_op(self, found: dict) -> ops.CreateUserMappingOp:
        wrapper = self.wrapper_of.get(found["server"])
        return ops.CreateUserMappingOp(found["server"], found["user"], found["options"], wrapper)

    # -- foreign tables

    def reflected(self, name: str) -> sa.Table:
        table = sa.Table(name, sa.MetaData())
        self.inspector.reflect_table(table, None)
        return table

    def _create_table_op(self, table: sa.Table) -> ops.CreateForeignTableOp:
        create = ops.CreateForeignTableOp.from_table(table)
        create.wrapper = self.wrapper_of.get(create.server or "")
        return create

    def foreign_tables(self, drops: list) -> None:
        for key, table in self.tables.items():
            create = self._create_table_op(table)
            if key not in self.db_tables:
                self.after.append(create)
                continue
            existing = self.reflected(self.db_tables[key])
            server = foreign_server(existing)
            if server != create.server or server in self.recreated_servers:
                drops.insert(
                    0,
                    ops.DropForeignTableOp(existing.name, _reverse=self._create_table_op(existing)),
                )
                self.after.append(create)
                continue
            self.compare_table(table, existing)
        for key, name in self.db_tables.items():
            if key not in self.tables and self.ctx.run_name_filters(
                name, "table", {"schema_name": None}
            ):
                existing = self.reflected(name)
                drops.insert(
                    0, ops.DropForeignTableOp(name, _reverse=self._create_table_op(existing))
                )

    def _options(self, db: Any, md: Any, wrapper: str | None, kind: str) -> OptionChanges:
        """The option changes between a reflected table or column and a declared one."""
        return OptionChanges.between(
            db.dialect_options["sqlmed"]["options"] or {},
            md.dialect_options["sqlmed"]["options"] or {},
            self.secret(wrapper, kind),
        )

    def compare_column(
        self, name: str, found: sa.Column, column: sa.Column, wrapper: str | None
    ) -> ops.AlterForeignColumnOp | None:
        type_changed = self.impl.compare_type(found, column)
        nullable_changed = found.nullable != column.nullable
        changes = self._options(found, column, wrapper, "column")
        if not (type_changed or nullable_changed or changes):
            return None
        return ops.AlterForeignColumnOp(
            name,
            column.name,
            modify_type=column.type if type_changed else None,
            existing_type=found.type if type_changed else None,
            modify_nullable=column.nullable if nullable_changed else None,
            existing_nullable=found.nullable if nullable_changed else None,
            options=changes,
        )

    def compare_table(self, table: sa.Table, existing: sa.Table) -> None:
        name = table.name
        wrapper = self.wrapper_of.get(foreign_server(table) or "")
        db_columns = {c.name.lower(): c for c in existing.columns}
        md_columns = {c.name.lower(): c for c in table.columns}
        steps: list[MigrateOperation | None] = []
        for key, column in db_columns.items():
            if key not in md_columns:
                reverse = ops.AddForeignColumnOp(name, column)
                steps.append(ops.DropForeignColumnOp(name, column.name, _reverse=reverse))
        for key, column in md_columns.items():
            found = db_columns.get(key)
            if found is None:
                steps.append(ops.AddForeignColumnOp(name, column._copy()))
            else:
                steps.append(self.compare_column(name, found, column, wrapper))
        changes = self._options(existing, table, wrapper, "table")
        if changes:
            steps.append(ops.AlterForeignTableOp(name, changes, wrapper=wrapper))
        self.after.extend(op for op in steps if op is not None)


def _without_foreign_tables(upgrade_ops: alembic_ops.UpgradeOps, foreign: set[str]) -> None:
    """Takes out what Alembic's own comparison proposed for foreign tables."""
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


def compare_sqlmed(
    autogen_context: AutogenContext, upgrade_ops: alembic_ops.UpgradeOps, schemas: Any
) -> PriorityDispatchResult:
    """Autogenerate for wrappers, servers, user mappings and foreign tables.

    Runs after Alembic's own table comparison, takes foreign tables out of what
    it found (they are never a plain ``create_table``) and adds SQL/MED
    operations in dependency order: dropped foreign tables, mappings, servers
    and wrappers first, then new wrappers, servers and mappings, Alembic's
    local tables, and the foreign tables last.
    """
    if None not in schemas or getattr(upgrade_ops, "_sqlmed_compared", False):
        return PriorityDispatchResult.CONTINUE
    # registered twice (globally, and as a plugin when one lists it): runs once
    upgrade_ops._sqlmed_compared = True  # type: ignore[attr-defined]
    cmp = _Comparison(autogen_context)
    _without_foreign_tables(upgrade_ops, set(cmp.tables) | set(cmp.db_tables))
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
