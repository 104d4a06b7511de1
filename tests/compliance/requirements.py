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
    # ------------------------------------------------------------------ DDL

    @property
    def create_table_as(self):
        """CREATE TABLE ... AS SELECT."""
        return exclusions.open()

    @property
    def create_temp_table_as(self):
        """CREATE TEMPORARY TABLE ... AS SELECT (a temp table lives in one
        connection, so only where the pool hands out that one connection)."""
        return self.temporary_tables

    @property
    def table_ddl_if_exists(self):
        return exclusions.open()

    @property
    def index_ddl_if_exists(self):
        return exclusions.open()

    @property
    def foreign_keys(self):
        """Enforced foreign keys: SQLite enforces none unless PRAGMA
        foreign_keys=ON."""
        return exclusions.closed()

    @property
    def on_update_cascade(self):
        return exclusions.closed()

    @property
    def non_updating_cascade(self):
        return exclusions.open()

    @property
    def deferrable_fks(self):
        return exclusions.closed()

    @property
    def repeated_column_foreign_keys(self):
        """``FOREIGN KEY (a, a) REFERENCES ...``: SQLite accepts and reflects it."""
        return exclusions.open()

    @property
    def repeated_remote_col_foreign_keys(self):
        return exclusions.open()

    @property
    def implicitly_named_constraints(self):
        """SQLite keeps no name for an unnamed constraint."""
        return exclusions.closed()

    @property
    def computed_columns(self):
        """Generated columns (SQLite 3.31+), VIRTUAL and STORED."""
        return exclusions.open()

    @property
    def computed_columns_stored(self):
        return self.computed_columns

    @property
    def computed_columns_virtual(self):
        return self.computed_columns

    @property
    def computed_columns_reflect_persisted(self):
        return self.computed_columns

    @property
    def server_defaults(self):
        return exclusions.open()

    @property
    def expression_server_defaults(self):
        return exclusions.open()

    @property
    def indexes_with_expressions(self):
        return exclusions.open()

    @property
    def indexes_check_column_order(self):
        """Index columns reflect in the order they were declared."""
        return exclusions.open()

    # ------------------------------------------------------------ temporary

    @property
    def temporary_tables(self):
        """A temporary table is seen only by the connection that made it; the
        suite needs every checkout to be that connection, which holds for a
        ``:memory:`` database (one connection per thread) and not for a file
        database (a pool of connections)."""
        return exclusions.skip_if(_file_db, "temporary tables with a pool of file connections")

    @property
    def temp_table_reflection(self):
        return self.temporary_tables

    @property
    def temp_table_reflect_indexes(self):
        return self.temporary_tables

    @property
    def temp_table_names(self):
        return self.temporary_tables

    @property
    def has_temp_table(self):
        return self.temporary_tables

    @property
    def temporary_views(self):
        return self.temporary_tables

    # ------------------------------------------------------------ reflection

    @property
    def schemas(self):
        """Attached databases; provisioning attaches one as ``test_schema``."""
        return exclusions.open()

    @property
    def views(self):
        return exclusions.open()

    @property
    def reflects_pk_names(self):
        return exclusions.open()

    @property
    def foreign_key_constraint_option_reflection_ondelete(self):
        return exclusions.open()

    @property
    def fk_constraint_option_reflection_ondelete_restrict(self):
        return exclusions.open()

    @property
    def fk_constraint_option_reflection_ondelete_noaction(self):
        return exclusions.open()

    @property
    def foreign_key_constraint_option_reflection_onupdate(self):
        return exclusions.open()

    @property
    def fk_constraint_option_reflection_onupdate_restrict(self):
        return exclusions.open()

    @property
    def reflect_table_options(self):
        """WITHOUT ROWID and STRICT come back as ``sqlite_*`` table options
        (and a foreign table's server and options as ``sqlmed_*``)."""
        return exclusions.open()

    @property
    def unique_constraint_reflection(self):
        return exclusions.open()

    @property
    def inline_check_constraint_reflection(self):
        return exclusions.open()

    @property
    def check_constraint_reflection(self):
        return exclusions.open()

    # --------------------------------------------------------------- queries

    @property
    def ctes(self):
        return exclusions.open()

    @property
    def ctes_with_values(self):
        return exclusions.open()

    @property
    def window_functions(self):
        """Window functions (SQLite 3.25+)."""
        return exclusions.open()

    @property
    def window_range(self):
        """RANGE frames with offsets (SQLite 3.28+)."""
        return exclusions.open()

    @property
    def window_range_numeric(self):
        return exclusions.open()

    @property
    def intersect(self):
        return exclusions.open()

    @property
    def except_(self):
        return exclusions.open()

    @property
    def nullsordering(self):
        """NULLS FIRST / NULLS LAST (SQLite 3.30+)."""
        return exclusions.open()

    @property
    def boolean_col_expressions(self):
        return exclusions.open()

    @property
    def tuple_in(self):
        """Row values (SQLite 3.15+)."""
        return exclusions.open()

    @property
    def tuple_in_w_empty(self):
        return self.tuple_in

    @property
    def parens_in_union_contained_select_w_limit_offset(self):
        return exclusions.fails("SQLite does not accept a parenthesized SELECT in a UNION")

    @property
    def parens_in_union_contained_select_wo_limit_offset(self):
        return exclusions.fails("SQLite does not accept a parenthesized SELECT in a UNION")

    @property
    def nested_aggregates(self):
        return exclusions.closed()

    @property
    def mod_operator_as_percent_sign(self):
        return exclusions.open()

    @property
    def regexp_match(self):
        """REGEXP, through the ``regexp`` function the dialect installs."""
        return exclusions.open()

    @property
    def update_from(self):
        """UPDATE ... FROM (SQLite 3.33+)."""
        return exclusions.open()

    @property
    def supports_bitwise_and(self):
        return exclusions.open()

    @property
    def supports_bitwise_or(self):
        return exclusions.open()

    @property
    def supports_bitwise_not(self):
        return exclusions.open()

    @property
    def supports_bitwise_xor(self):
        return exclusions.open()

    @property
    def supports_bitwise_shift(self):
        return exclusions.open()

    @property
    def percent_schema_names(self):
        """Table and column names with ``%`` in them: qmark parameters leave
        them alone."""
        return exclusions.open()

    def get_order_by_collation(self, config):
        return "NOCASE"

    # -------------------------------------------------------------- results

    @property
    def emulated_lastrowid(self):
        """Both drivers give ``cursor.lastrowid`` after an INSERT."""
        return exclusions.open()

    @property
    def emulated_lastrowid_even_with_sequences(self):
        return exclusions.open()

    @property
    def dbapi_lastrowid(self):
        return exclusions.open()

    # ----------------------------------------------------------------- types

    @property
    def unicode_ddl(self):
        return exclusions.open()

    @property
    def nvarchar_types(self):
        return exclusions.open()

    @property
    def datetime_literals(self):
        return exclusions.open()

    @property
    def datetime_historic(self):
        return exclusions.open()

    @property
    def date_historic(self):
        return exclusions.open()

    @property
    def json_type(self):
        """The JSON1 functions are built into the SQLite both drivers use."""
        return exclusions.only_if(_json1, "SQLite without JSON1")

    @property
    def json_array_indexes(self):
        return self.json_type

    @property
    def json_index_supplementary_unicode_element(self):
        # as SQLAlchemy says for SQLite; see https://bugs.python.org/issue38749
        return exclusions.closed()

    @property
    def legacy_unconditional_json_extract(self):
        return self.json_type

    @property
    def reflects_json_type(self):
        return self.json_type

    @property
    def precision_numerics_enotation_small(self):
        return exclusions.open()

    @property
    def precision_numerics_many_significant_digits(self):
        return exclusions.fails("SQLite keeps numerics as 64-bit floats")

    @property
    def numeric_received_as_decimal_untyped(self):
        return exclusions.fails("SQLite returns floats, not Decimal, for untyped numerics")

    @property
    def precision_numerics_retains_significant_digits(self):
        return exclusions.open()

    @property
    def infinity_floats(self):
        return exclusions.open()

    @property
    def float_or_double_precision_behaves_generically(self):
        return exclusions.open()

    # --------------------------------------------------------- transactions

    @property
    def isolation_level(self):
        """SERIALIZABLE, READ UNCOMMITTED and AUTOCOMMIT."""
        return exclusions.open()

    def get_isolation_levels(self, config):
        with config.db.connect() as conn:
            supported = conn.dialect.get_isolation_level_values(conn.connection.dbapi_connection)
        return {"default": "SERIALIZABLE", "supported": supported}

    @property
    def autocommit(self):
        return self.isolation_level

    @property
    def skip_autocommit_rollback(self):
        """The dialect detects autocommit (``isolation_level is None`` on the
        DB-API connection) and keeps the default ``do_rollback``."""
        return exclusions.open()

    @property
    def independent_connections(self):
        """Concurrent writers: as SQLAlchemy says for every SQLite driver, no."""
        return exclusions.closed()

    @property
    def independent_readonly_connections(self):
        return exclusions.skip_if(_memory_db, "a :memory: database is one connection")

    @property
    def ad_hoc_engines(self):
        return exclusions.skip_if(_file_db, "a second engine on the same database file")
