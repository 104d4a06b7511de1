"""postgres_fdw's view of the remote catalog: a table's columns and how each
compares, and IMPORT FOREIGN SCHEMA with its type mapping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg

from ...errors import (
    InvalidOptionError,
    UndefinedObjectError,
    WrapperError,
)
from ...wrapper import (
    ColumnDefinition,
    ImportRequest,
    TableDefinition,
    scrub_text,
)
from .connection import ConnectedTable, _connect, _Remote


@dataclass
class _RemoteColumn:
    typname: str
    typmod: int
    formatted: str
    deterministic: bool
    unique: bool
    primary: bool


_COLUMNS_SQL = """
SELECT a.attname, t.typname, a.atttypmod, format_type(a.atttypid, a.atttypmod),
       coalesce(co.collisdeterministic, true),
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisunique
               AND i.indpred IS NULL AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum),
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary
               AND a.attnum = ANY (i.indkey::int2[]))
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


class DescribedTable(ConnectedTable):
    """A foreign table that knows its remote columns."""

    _meta: dict[str, _RemoteColumn] | None = None
    _reltuples: float | None = None
    #: column -> how its values compare remotely (``_kind``)
    _kinds: dict[str, str]
    #: column -> its declared type's family (vtables.types.family)
    families: dict[str, str]

    def metadata(self) -> dict[str, _RemoteColumn]:
        """Remote columns by name, and the table's row count estimate, read once."""
        if self._meta is None:
            row = self._run(
                "SELECT c.oid, c.reltuples, c.relkind FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relname = %s",
                (self.schema, self.remote_table),
            ).fetchone()
            if row is None:
                raise UndefinedObjectError(
                    f'foreign table "{self.table_name}": remote table'
                    f' "{self.schema}"."{self.remote_table}" does not exist on server'
                    f' "{self.server_name}"'
                )
            oid, reltuples, _relkind = row
            meta = {r[0]: _RemoteColumn(*r[1:]) for r in self._run(_COLUMNS_SQL, (oid,)).fetchall()}
            missing = [r for r in self.remote_names.values() if r not in meta]
            if missing:
                raise UndefinedObjectError(
                    f'foreign table "{self.table_name}": column "{missing[0]}" does not exist'
                    f' in remote table "{self.schema}"."{self.remote_table}" on server'
                    f' "{self.server_name}"'
                )
            self._reltuples = float(reltuples) if reltuples and reltuples > 0 else 1000.0
            self._meta = meta
        return self._meta

    def _kind(self, column: str) -> str:
        """How a column's values compare remotely; "other": only in Python."""
        kind = self._kinds.get(column)
        if kind is None:
            kind = "other"
            meta = self.metadata().get(self.remote_names[column])
            family = self.families[column]
            if meta is None:
                return kind
            typ = meta.typname
            if family == "integer" and typ in ("int2", "int4", "int8"):
                kind = "int"
            elif family == "real" and typ in ("float4", "float8"):
                kind = "float"
            elif family == "numeric" and typ == "numeric":
                precision = ((meta.typmod - 4) >> 16) & 0xFFFF if meta.typmod >= 4 else 0
                kind = "numeric" if 0 < precision <= 15 else "other"
            elif family == "text" and typ in ("text", "varchar") and meta.deterministic:
                kind = "text"
            elif family == "boolean" and typ == "bool":
                kind = "bool"
            elif family in ("date", "timestamp", "timestamptz") and typ == family:
                kind = family
            elif family == "time" and typ == "time":
                kind = "time"
            elif family == "blob" and typ == "bytea":
                kind = "bytea"
            self._kinds[column] = kind
        return kind

    def _pk_size(self) -> int:
        return sum(1 for c in self.metadata().values() if c.primary)

    @classmethod
    def import_tables(cls, request: ImportRequest) -> list[TableDefinition]:
        unknown = set(request.options) - {"import_default", "import_not_null", "import_collate"}
        if unknown:
            raise InvalidOptionError(
                f'invalid option "{sorted(unknown)[0]}" for IMPORT FOREIGN SCHEMA',
                hint="Valid options are: import_collate, import_default, import_not_null",
            )
        merged = request.connect_options
        remote = _connect("(import)", merged, cls.read_settings(merged))
        try:
            return import_tables(remote, request)
        except psycopg.Error as err:
            text = scrub_text(str(err), cls.secret_values(merged))
            raise WrapperError(f'IMPORT FOREIGN SCHEMA "{request.schema}": {text}') from None
        finally:
            remote.close()


def import_tables(remote: _Remote, request: ImportRequest) -> list[TableDefinition]:
    """The remote schema's tables, as IMPORT FOREIGN SCHEMA defines them."""
    import_default = request.flag("import_default", False)
    import_not_null = request.flag("import_not_null", True)
    schema = request.schema
    found = remote.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    if found is None:
        raise UndefinedObjectError(f'schema "{schema}" is not present on foreign server')
    query = _IMPORT_SQL
    params: list[Any] = [schema]
    if request.restriction_type == "LIMIT TO":
        query += " AND c.relname = ANY(%s)"
        params.append(list(request.restricts))
    elif request.restriction_type == "EXCEPT" and request.restricts:
        query += " AND NOT (c.relname = ANY(%s))"
        params.append(list(request.restricts))
    query += " ORDER BY c.relname, a.attnum"
    tables: dict[str, TableDefinition] = {}
    for relname, attname, formatted, notnull, default, key in remote.execute(query, params):
        table = tables.setdefault(
            relname,
            TableDefinition(relname, [], {"schema_name": schema, "table_name": relname}),
        )
        if attname is None:
            continue
        table.columns.append(
            ColumnDefinition(
                attname,
                local_type(formatted),
                {"column_name": attname, **({"key": "true"} if key else {})},
                not_null=bool(notnull) and import_not_null,
                default=default if import_default else None,
            )
        )
    return list(tables.values())


_IMPORT_SQL = """
    SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
           a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
           coalesce(a.attnum = ANY(i.indkey), false)
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
         AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
    WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'f', 'm', 'p')
      AND NOT c.relispartition
"""


#: PostgreSQL types (format_type spelling, without modifiers) whose declared
#: name means the same to vtables.types; anything else is imported as text.
_KEPT_TYPES = {
    "smallint",
    "integer",
    "bigint",
    "real",
    "double precision",
    "numeric",
    "text",
    "character varying",
    "character",
    "boolean",
    "date",
    "timestamp without time zone",
    "timestamp with time zone",
    "time without time zone",
    "time with time zone",
    "bytea",
    "json",
    "jsonb",
    "uuid",
}


def local_type(formatted: str) -> str:
    """A declared local type for a PostgreSQL type (``format_type`` output)."""
    if formatted.endswith("[]"):
        return formatted  # arrays arrive as lists, stored as JSON
    base = re.sub(r"\(.*?\)", "", formatted).strip()
    return formatted if base in _KEPT_TYPES else "text"
