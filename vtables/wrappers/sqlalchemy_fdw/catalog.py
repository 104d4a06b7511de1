"""The remote catalog: tables reflected for scans and writes, and IMPORT
FOREIGN SCHEMA from SQLAlchemy's inspector.

DuckDB is read from its own catalog functions: duckdb_engine reflects
through PostgreSQL's ``pg_catalog`` queries, and SQLAlchemy 2.0.45 and later
ask there for ``pg_collation``, which DuckDB does not have.
"""

from __future__ import annotations

import re
from typing import Any

from ...wrapper import ColumnDefinition, ImportRequest, TableDefinition
from .connection import _sa
from .values import _declared


def reflect(conn: Any, name: str, schema: str | None) -> Any:
    """The remote table as a SQLAlchemy ``Table`` (NoSuchTableError if absent)."""
    sa = _sa()
    if conn.dialect.name != "duckdb":
        return sa.Table(name, sa.MetaData(), schema=schema, autoload_with=conn)
    columns = duckdb_columns(conn, name, schema)
    if not columns:
        raise sa.exc.NoSuchTableError(name)
    return sa.Table(
        name,
        sa.MetaData(),
        *(sa.Column(c["name"], c["type"], primary_key=c["primary_key"]) for c in columns),
        schema=schema,
    )


def duckdb_columns(conn: Any, name: str, schema: str | None) -> list[dict[str, Any]]:
    """A DuckDB table's or view's columns as the inspector would give them."""
    where = "table_name = $name AND schema_name = coalesce($schema, current_schema())"
    where += " AND database_name = current_database()"
    params = {"name": name, "schema": schema}
    keys: set[str] = set()
    for (names,) in conn.exec_driver_sql(
        f"SELECT constraint_column_names FROM duckdb_constraints() WHERE {where}"
        " AND constraint_type = 'PRIMARY KEY'",
        params,
    ):
        keys.update(names)
    rows = conn.exec_driver_sql(
        f"SELECT column_name, data_type, is_nullable FROM duckdb_columns() WHERE {where}"
        " ORDER BY column_index",
        params,
    ).fetchall()
    return [
        {
            "name": column,
            "type": _duckdb_type(conn.dialect, data_type),
            "nullable": bool(nullable),
            "default": None,
            "primary_key": column in keys,
        }
        for column, data_type, nullable in rows
    ]


def _duckdb_type(dialect: Any, data_type: str) -> Any:
    """The SQLAlchemy type of a DuckDB type name (NullType when unknown: its
    values then reach SQLite as the driver returns them)."""
    sa = _sa()
    text = data_type.strip().lower()
    decimal = re.fullmatch(r"decimal\((\d+),\s*(\d+)\)", text)
    if decimal:
        return sa.Numeric(int(decimal.group(1)), int(decimal.group(2)))
    known = {"double": sa.Double, "blob": sa.LargeBinary, "varchar": sa.String}
    found = known.get(text) or dialect.ischema_names.get(text)
    return found() if found is not None else sa.types.NullType()


def duckdb_binary(conn: Any, name: str, schema: str | None) -> bool:
    """A DuckDB table compares text bytewise: a table (not a view) whose
    definition names no collation, on a connection without a default one."""
    (default,) = conn.exec_driver_sql("SELECT current_setting('default_collation')").one()
    row = conn.exec_driver_sql(
        "SELECT sql FROM duckdb_tables() WHERE table_name = $name"
        " AND schema_name = coalesce($schema, current_schema())"
        " AND database_name = current_database()",
        {"name": name, "schema": schema},
    ).first()
    return not default and row is not None and "collate" not in (row[0] or "").lower()


def _import(insp: Any, request: ImportRequest, dialect: Any) -> list[TableDefinition]:
    """The tables IMPORT FOREIGN SCHEMA asks for, as the inspector sees them."""
    schema: str | None = request.schema
    if schema in ("", "main", None) and dialect.name == "sqlite":
        schema = None
    names = insp.get_table_names(schema=schema) + insp.get_view_names(schema=schema)
    import_default = request.flag("import_default", False)
    import_not_null = request.flag("import_not_null", True)
    out = []
    for name in sorted(names):
        if not request.wanted(name):
            continue
        if dialect.name == "duckdb":
            found = duckdb_columns(insp.bind, name, schema)
            keys = {c["name"] for c in found if c["primary_key"]}
        else:
            found = insp.get_columns(name, schema=schema)
            keys = set(insp.get_pk_constraint(name, schema=schema)["constrained_columns"])
        columns = [
            ColumnDefinition(
                col["name"],
                _declared(col["type"], dialect),
                {"key": "true"} if col["name"] in keys else {},
                not_null=(not col.get("nullable", True)) and import_not_null,
                default=col.get("default") if import_default else None,
            )
            for col in found
        ]
        table_options = {"table": name}
        if schema:
            table_options["schema"] = schema
        out.append(TableDefinition(name, columns, table_options))
    return out
