from __future__ import annotations

import pytest

import vtables
from vtables import ColumnDefinition, ForeignDataWrapper, OptionSpec, TableDefinition


class MemoryFdw(ForeignDataWrapper):
    """A wrapper over rows held in this process, with options of every kind."""

    name = "memory_fdw"
    version = "1.0"
    option_specs = (
        OptionSpec("debug", {"wrapper"}, bool),
        OptionSpec("host", {"server"}),
        OptionSpec("port", {"server"}, int),
        OptionSpec("api_token", {"server"}, secret=True),
        OptionSpec("user", {"user_mapping"}),
        OptionSpec("password", {"user_mapping"}, secret=True),
        OptionSpec("dataset", {"table"}, required=True),
        OptionSpec("mode", {"table"}, choices=("fast", "safe")),
        OptionSpec("column_name", {"column"}),
    )
    datasets: dict[str, list[dict]] = {
        "people": [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}],
    }
    remote_schemas: dict[str, list[TableDefinition]] = {
        "shop": [
            TableDefinition(
                "orders", [ColumnDefinition("id", "integer", not_null=True)], {"dataset": "orders"}
            ),
            TableDefinition(
                "items",
                [
                    ColumnDefinition("sku", "text"),
                    ColumnDefinition("qty", "int", {"column_name": "q"}),
                ],
                {"dataset": "items"},
            ),
            TableDefinition("Mixed", [ColumnDefinition("v", "real")], {"dataset": "m"}),
        ]
    }

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        for row in self.datasets.get(self.options["dataset"], []):
            yield {c: row.get(self.columns[c].options.get("column_name", c)) for c in columns}

    @classmethod
    def import_schema(
        cls,
        schema,
        server_options,
        user_options,
        options,
        restriction_type,
        restricts,
        *,
        database_path="",
    ):
        if schema not in cls.remote_schemas:
            raise ValueError(f"no schema {schema}")
        return list(cls.remote_schemas[schema])


class PlainFdw(ForeignDataWrapper):
    """A wrapper with no options at all and no IMPORT FOREIGN SCHEMA."""

    name = "plain_fdw"


@pytest.fixture(autouse=True)
def _wrappers():
    vtables.register_wrapper(MemoryFdw)
    vtables.register_wrapper(PlainFdw)
    yield
    vtables.unregister_wrapper("memory_fdw")
    vtables.unregister_wrapper("plain_fdw")


@pytest.fixture
def conn():
    c = vtables.connect(":memory:", user="alice")
    yield c
    c.close()


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "test.db")


def snapshot(c) -> tuple:
    """Everything a failed statement must leave untouched: schema and catalog rows."""
    schema = c.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
    ).fetchall()
    rows = []
    for (name,) in c.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'sqlmed%' ORDER BY name"
    ).fetchall():
        rows.append((name, sorted(map(repr, c.execute(f"SELECT * FROM {name}").fetchall()))))
    return schema, rows
