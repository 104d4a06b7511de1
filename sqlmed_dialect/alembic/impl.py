"""``SQLMedImpl``: SQLite's migration implementation for the ``sqlmed`` dialect,
aware of foreign tables, and :class:`MedStatement`, the one way the Alembic
support sends a SQL/MED statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic.ddl.base import (
    ColumnName,
    RenameTable,
    alter_table,
    format_column_name,
    format_table_name,
)
from alembic.ddl.sqlite import SQLiteImpl
from alembic.util import CommandError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import ExecutableDDLElement

from vtables import grammar
from vtables.secrets import mask_sql

from .. import printer
from ..base import catalog_rows, foreign_server


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

    def execute_med(self, tree: Any) -> None:
        """Send a SQL/MED statement (a :mod:`vtables.grammar` tree)."""
        self._exec(MedStatement(tree))

    def medcolumn(self, column: sa.Column) -> grammar.MedColumn:
        """A column of a foreign table, for the printer."""
        default = column.server_default
        return grammar.column(
            column.name,
            printer.sql_type(self.type_sql(column.type, column)),
            options_=column.dialect_options["sqlmed"]["options"],
            not_null=not column.nullable,
            default=printer.verbatim(self.default_sql(default)) if default is not None else None,
        )

    def type_sql(self, type_: Any, column: sa.Column | None = None) -> str:
        return self.dialect.type_compiler_instance.process(
            sa.types.to_instance(type_), type_expression=column
        )

    def default_sql(self, default: Any) -> str:
        """A server default (a DefaultClause, or what it holds) as SQL text."""
        arg = getattr(default, "arg", default)
        if isinstance(arg, str):
            return grammar.quote_literal(arg)
        return str(arg.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True}))

    def alter_foreign_table(self, table_name: str, *actions: grammar.FtAction) -> None:
        """``ALTER FOREIGN TABLE name action, ...`` (nothing for no action)."""
        if actions:
            self.execute_med(printer.alter_foreign_table(table_name, list(actions)))

    def alter_foreign_column(
        self,
        table_name: str,
        column_name: str,
        *,
        type_: Any = None,
        nullable: bool | None = None,
        more: Sequence[grammar.FtAction] = (),
        new_name: str | None = None,
    ) -> None:
        """One ALTER FOREIGN TABLE for a column's changes, then its RENAME if any."""
        actions = []
        if type_ is not None:
            actions.append(printer.alter_column_type(column_name, self.type_sql(type_)))
        if nullable is not None:
            actions.append(printer.alter_column_nullable(column_name, nullable))
        actions += more
        self.alter_foreign_table(table_name, *actions)
        if new_name is not None and new_name != column_name:
            self.alter_foreign_table(table_name, printer.rename_column(column_name, new_name))

    def add_column(self, table_name, column, *, schema=None, **kw):
        if not self.is_foreign_table(table_name, schema):
            return super().add_column(table_name, column, schema=schema, **kw)
        self.alter_foreign_table(table_name, printer.add_column(self.medcolumn(column)))

    def drop_column(self, table_name, column, *, schema=None, **kw):
        if not self.is_foreign_table(table_name, schema):
            return super().drop_column(table_name, column, schema=schema, **kw)
        self.alter_foreign_table(table_name, printer.drop_column(column.name))

    def alter_column(self, table_name, column_name, *, schema=None, **kw):
        if not self.is_foreign_table(table_name, schema):
            return super().alter_column(table_name, column_name, schema=schema, **kw)
        more = []
        if kw.get("server_default", False) is not False:
            default = kw["server_default"]
            default_sql = self.default_sql(default) if default is not None else None
            more.append(printer.alter_column_default(column_name, default_sql))
        self.alter_foreign_column(
            table_name,
            column_name,
            type_=kw.get("type_"),
            nullable=kw.get("nullable"),
            more=more,
            new_name=kw.get("name"),
        )

    def drop_table(self, table, **kw):
        recreating = self._recreating
        if recreating is not None and table is recreating[0]:
            self._exec(sa.schema.DropTable(recreating[0]))
            return
        if foreign_server(table) is None and self.is_foreign_table(table.name, table.schema):
            self.execute_med(printer.drop("FOREIGN TABLE", [table.name]))
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
