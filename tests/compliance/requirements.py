"""What SQLite, and so the ``sqlmed`` dialect, supports, for SQLAlchemy's suite.

The flags follow what SQLAlchemy's own test requirements say about SQLite
(``test/requirements.py`` in SQLAlchemy's repository) for the SQLite version
APSW bundles; they are written as plain open/closed predicates because those
requirements test the dialect *name* ``sqlite`` and ours is ``sqlmed``.  The
same class also serves a run against ``sqlite://`` (pysqlite), so that the two
dialects are measured by the same rules; where the drivers differ, the
predicate says which driver it is about and why.

``fails(...)`` marks what SQLite is known not to do: the test still runs and
must fail, so a change in behaviour shows up.
"""

from __future__ import annotations

from sqlalchemy.testing import exclusions
from sqlalchemy.testing.requirements import SuiteRequirements


def _file_db(config) -> bool:
    return config.db.dialect._is_url_file_db(config.db.url)


def _memory_db(config) -> bool:
    return not _file_db(config)


def _json1(config) -> bool:
    from sqlalchemy import exc

    with config.db.connect() as conn:
        try:
            value = conn.exec_driver_sql("""SELECT json_extract('{"a": "b"}', '$."a"')""")
            return value.scalar() == "b"
        except exc.DBAPIError:
            return False


class Requirements(SuiteRequirements):
    # ------------------------------------------------------------ temporary

    @property
    def temporary_tables(self):
        """A temporary table is seen only by the connection that made it; the
        suite needs every checkout to be that connection, which holds for a
        ``:memory:`` database (one connection per thread) and not for a file
        database (a pool of connections)."""
        return exclusions.skip_if(_file_db, "temporary tables with a pool of file connections")

    # --------------------------------------------------------------- queries

    def get_order_by_collation(self, config):
        return "NOCASE"

    # ----------------------------------------------------------------- types

    @property
    def json_type(self):
        """The JSON1 functions are built into the SQLite both drivers use."""
        return exclusions.only_if(_json1, "SQLite without JSON1")

    # --------------------------------------------------------- transactions

    def get_isolation_levels(self, config):
        with config.db.connect() as conn:
            supported = conn.dialect.get_isolation_level_values(conn.connection.dbapi_connection)
        return {"default": "SERIALIZABLE", "supported": supported}

    @property
    def independent_readonly_connections(self):
        return exclusions.skip_if(_memory_db, "a :memory: database is one connection")

    @property
    def ad_hoc_engines(self):
        return exclusions.skip_if(_file_db, "a second engine on the same database file")


# The requirements that are plainly met ("open"), not met ("closed"), or that stand
# or fall with another (its name); what needs more is a property of Requirements.
_PLAIN: dict[str, str] = {
    # ------------------------------------------------------------------ DDL
    # CREATE TABLE ... AS SELECT.
    "create_table_as": "open",
    # CREATE TEMPORARY TABLE ... AS SELECT (a temp table lives in one
    # connection, so only where the pool hands out that one connection).
    "create_temp_table_as": "temporary_tables",
    "table_ddl_if_exists": "open",
    "index_ddl_if_exists": "open",
    # Enforced foreign keys: SQLite enforces none unless PRAGMA
    # foreign_keys=ON.
    "foreign_keys": "closed",
    "on_update_cascade": "closed",
    "non_updating_cascade": "open",
    "deferrable_fks": "closed",
    # ``FOREIGN KEY (a, a) REFERENCES ...``: SQLite accepts and reflects it.
    "repeated_column_foreign_keys": "open",
    "repeated_remote_col_foreign_keys": "open",
    # SQLite keeps no name for an unnamed constraint.
    "implicitly_named_constraints": "closed",
    # Generated columns (SQLite 3.31+), VIRTUAL and STORED.
    "computed_columns": "open",
    "computed_columns_stored": "computed_columns",
    "computed_columns_virtual": "computed_columns",
    "computed_columns_reflect_persisted": "computed_columns",
    "server_defaults": "open",
    "expression_server_defaults": "open",
    "indexes_with_expressions": "open",
    # Index columns reflect in the order they were declared.
    "indexes_check_column_order": "open",
    # ------------------------------------------------------------ temporary
    "temp_table_reflection": "temporary_tables",
    "temp_table_reflect_indexes": "temporary_tables",
    "temp_table_names": "temporary_tables",
    "has_temp_table": "temporary_tables",
    "temporary_views": "temporary_tables",
    # ------------------------------------------------------------ reflection
    # Attached databases; provisioning attaches one as ``test_schema``.
    "schemas": "open",
    "views": "open",
    "reflects_pk_names": "open",
    "foreign_key_constraint_option_reflection_ondelete": "open",
    "fk_constraint_option_reflection_ondelete_restrict": "open",
    "fk_constraint_option_reflection_ondelete_noaction": "open",
    "foreign_key_constraint_option_reflection_onupdate": "open",
    "fk_constraint_option_reflection_onupdate_restrict": "open",
    # WITHOUT ROWID and STRICT come back as ``sqlite_*`` table options
    # (and a foreign table's server and options as ``sqlmed_*``).
    "reflect_table_options": "open",
    "unique_constraint_reflection": "open",
    "inline_check_constraint_reflection": "open",
    "check_constraint_reflection": "open",
    # --------------------------------------------------------------- queries
    "ctes": "open",
    "ctes_with_values": "open",
    # Window functions (SQLite 3.25+).
    "window_functions": "open",
    # RANGE frames with offsets (SQLite 3.28+).
    "window_range": "open",
    "window_range_numeric": "open",
    "intersect": "open",
    "except_": "open",
    # NULLS FIRST / NULLS LAST (SQLite 3.30+).
    "nullsordering": "open",
    "boolean_col_expressions": "open",
    # Row values (SQLite 3.15+).
    "tuple_in": "open",
    "tuple_in_w_empty": "tuple_in",
    "nested_aggregates": "closed",
    "mod_operator_as_percent_sign": "open",
    # REGEXP, through the ``regexp`` function the dialect installs.
    "regexp_match": "open",
    # UPDATE ... FROM (SQLite 3.33+).
    "update_from": "open",
    "supports_bitwise_and": "open",
    "supports_bitwise_or": "open",
    "supports_bitwise_not": "open",
    "supports_bitwise_xor": "open",
    "supports_bitwise_shift": "open",
    # Table and column names with ``%`` in them: qmark parameters leave
    # them alone.
    "percent_schema_names": "open",
    # -------------------------------------------------------------- results
    # Both drivers give ``cursor.lastrowid`` after an INSERT.
    "emulated_lastrowid": "open",
    "emulated_lastrowid_even_with_sequences": "open",
    "dbapi_lastrowid": "open",
    # ----------------------------------------------------------------- types
    "unicode_ddl": "open",
    "nvarchar_types": "open",
    "datetime_literals": "open",
    "datetime_historic": "open",
    "date_historic": "open",
    "json_array_indexes": "json_type",
    "json_index_supplementary_unicode_element": "closed",
    "legacy_unconditional_json_extract": "json_type",
    "reflects_json_type": "json_type",
    "precision_numerics_enotation_small": "open",
    "precision_numerics_retains_significant_digits": "open",
    "infinity_floats": "open",
    "float_or_double_precision_behaves_generically": "open",
    # --------------------------------------------------------- transactions
    # SERIALIZABLE, READ UNCOMMITTED and AUTOCOMMIT.
    "isolation_level": "open",
    "autocommit": "isolation_level",
    # The dialect detects autocommit (``isolation_level is None`` on the
    # DB-API connection) and keeps the default ``do_rollback``.
    "skip_autocommit_rollback": "open",
    # Concurrent writers: as SQLAlchemy says for every SQLite driver, no.
    "independent_connections": "closed",
}


_UNION = "SQLite does not accept a parenthesized SELECT in a UNION"

# What SQLite is known not to do: the tests run and must fail (the reason).
_FAILS: dict[str, str] = {
    "parens_in_union_contained_select_w_limit_offset": _UNION,
    "parens_in_union_contained_select_wo_limit_offset": _UNION,
    "precision_numerics_many_significant_digits": "SQLite keeps numerics as 64-bit floats",
    "numeric_received_as_decimal_untyped": (
        "SQLite returns floats, not Decimal, for untyped numerics"
    ),
}


def _fails(reason: str) -> property:
    return property(lambda self: exclusions.fails(reason))


def _plain(value: str) -> property:
    if value in ("open", "closed"):
        outcome = getattr(exclusions, value)
        return property(lambda self: outcome())
    return property(lambda self: getattr(self, value))


for _name, _value in _PLAIN.items():
    setattr(Requirements, _name, _plain(_value))
for _name, _reason in _FAILS.items():
    setattr(Requirements, _name, _fails(_reason))
