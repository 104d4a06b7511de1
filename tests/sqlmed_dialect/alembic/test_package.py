"""The Alembic support as a package: every operation has its implementation and
its renderer, the foreign table operations are Alembic's own kinds (as
GeoAlchemy2's are), and the comparator runs once when it is a plugin too."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import renderers
from alembic.operations import MigrateOperation, Operations
from alembic.operations import ops as alembic_ops
from alembic.runtime.plugins import Plugin

import sqlmed_dialect.alembic as sqlmed_alembic
from sqlmed_dialect.alembic import (
    AddForeignColumnOp,
    AlterForeignColumnOp,
    AlterForeignTableOp,
    CreateForeignTableOp,
    DropForeignColumnOp,
    DropForeignTableOp,
    OptionChanges,
)

from .conftest import autogenerate
from .test_operations import library


def operations() -> list[type]:
    found = [getattr(sqlmed_alembic, name) for name in sqlmed_alembic.__all__]
    return [o for o in found if isinstance(o, type) and issubclass(o, MigrateOperation)]


def test_every_operation_is_implemented_and_rendered():
    assert len(operations()) == 20
    for op_class in operations():
        assert Operations._to_impl.dispatch(op_class).__module__ == "sqlmed_dialect.alembic.toimpl"
        assert renderers.dispatch(op_class).__module__ == "sqlmed_dialect.alembic.render"


def test_foreign_table_operations_are_alembics_own_kinds():
    kinds = {
        CreateForeignTableOp: alembic_ops.CreateTableOp,
        DropForeignTableOp: alembic_ops.DropTableOp,
        AlterForeignTableOp: alembic_ops.AlterTableOp,
        AddForeignColumnOp: alembic_ops.AddColumnOp,
        DropForeignColumnOp: alembic_ops.DropColumnOp,
        AlterForeignColumnOp: alembic_ops.AlterColumnOp,
    }
    for ours, alembics in kinds.items():
        assert issubclass(ours, alembics), ours


def test_foreign_table_operations_reverse_and_diff():
    column = sa.Column("year", sa.Integer)
    add = AddForeignColumnOp("books", column)
    assert add.to_diff_tuple() == ("add_column", None, "books", column)
    drop = add.reverse()
    assert isinstance(drop, DropForeignColumnOp) and drop.reverse() is add
    with pytest.raises(ValueError, match="no reverse"):
        DropForeignColumnOp("books", "year").reverse()

    create = CreateForeignTableOp("t", [sa.Column("id", sa.Integer)], "files", {"format": "csv"})
    kind, table = create.to_diff_tuple()
    assert kind == "add_table" and table.dialect_options["sqlmed"]["server"] == "files"
    assert table.dialect_options["sqlmed"]["options"] == {"format": "csv"}
    assert create.reverse().reverse() is create
    with pytest.raises(ValueError, match="no reverse"):
        DropForeignTableOp("t").reverse()

    alter = AlterForeignColumnOp(
        "t", "id", modify_type=sa.Text, existing_type=sa.Integer, modify_name="key"
    )
    back = alter.reverse()
    assert (back.column_name, back.modify_name, back.modify_type) == ("key", "id", sa.Integer)
    assert not back.options

    options = OptionChanges(add={"a": "1"}, set_={"b": "2"}, existing={"b": "1"})
    table_alter = AlterForeignTableOp("t", options, server="s2", existing_server="s1")
    undo = table_alter.reverse()
    assert (undo.server, undo.existing_server) == ("s1", "s2")
    assert (undo.options.set, undo.options.drop) == ({"b": "1"}, ["a"])


def test_the_comparator_runs_once_when_also_a_plugin(engine, remote, csv_file):
    md = library(remote, csv_file)
    expected = autogenerate(engine, md)
    plugin = Plugin("sqlmed_under_test")
    try:
        sqlmed_alembic.setup(plugin)
        found = autogenerate(engine, md, plugins=["alembic.autogenerate.*", "sqlmed_under_test"])
    finally:
        plugin.remove()
    assert found == expected
    assert expected[0].count("op.create_foreign_table(") == 2
