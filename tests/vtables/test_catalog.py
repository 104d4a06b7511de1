"""PostgreSQL's catalog rules for wrappers, servers, user mappings and foreign tables."""

from __future__ import annotations

import pytest

import vtables
from tests.conftest import snapshot
from vtables import (
    DependentObjectsError,
    DuplicateObjectError,
    FeatureNotSupportedError,
    InvalidOptionError,
    SQLMedError,
    UndefinedObjectError,
    catalog,
)

SETUP = """
CREATE EXTENSION memory_fdw;
CREATE SERVER s FOREIGN DATA WRAPPER memory_fdw OPTIONS (host 'h', port '5432');
CREATE USER MAPPING FOR alice SERVER s OPTIONS (user 'a', password 'pw-alice');
CREATE USER MAPPING FOR PUBLIC SERVER s OPTIONS (user 'anyone');
CREATE FOREIGN TABLE people (id integer NOT NULL, name text OPTIONS (column_name 'name'))
    SERVER s OPTIONS (dataset 'people');
"""


@pytest.fixture
def setup(conn):
    conn.execute(SETUP)
    return conn


def fails(conn, sql, error, *fragments):
    """Run a failing statement: right error, message fragments, nothing changed."""
    before = snapshot(conn)
    with pytest.raises(error) as info:
        conn.execute(sql)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert snapshot(conn) == before
    return info.value


# ------------------------------------------------------------------- wrappers


def test_wrapper_create_alter_rename_drop(conn):
    conn.execute("CREATE FOREIGN DATA WRAPPER w HANDLER memory_fdw_handler OPTIONS (debug 'on')")
    w = catalog.get_wrapper(conn, "w")
    assert (w.handler, w.validator, w.options) == ("memory_fdw_handler", None, {"debug": "on"})
    conn.execute("ALTER FOREIGN DATA WRAPPER w VALIDATOR memory_fdw_validator NO HANDLER")
    w = catalog.get_wrapper(conn, "w")
    assert (w.handler, w.validator) == (None, "memory_fdw_validator")
    conn.execute("ALTER FOREIGN DATA WRAPPER w OPTIONS (SET debug 'off')")
    assert catalog.get_wrapper(conn, "w").options == {"debug": "off"}
    conn.execute("CREATE SERVER s FOREIGN DATA WRAPPER w")
    conn.execute("ALTER FOREIGN DATA WRAPPER w RENAME TO w2")
    assert catalog.get_wrapper(conn, "w") is None
    assert catalog.get_server(conn, "s").fdw == "w2"
    conn.execute("DROP FOREIGN DATA WRAPPER w2 CASCADE")
    assert catalog.list_wrappers(conn) == [] and catalog.list_servers(conn) == []


def test_wrapper_duplicate_and_undefined(conn):
    conn.execute("CREATE FOREIGN DATA WRAPPER w")
    fails(
        conn,
        "CREATE FOREIGN DATA WRAPPER w",
        DuplicateObjectError,
        'foreign-data wrapper "w" already exists',
    )
    fails(
        conn,
        "DROP FOREIGN DATA WRAPPER nope",
        UndefinedObjectError,
        'foreign-data wrapper "nope" does not exist',
    )
    fails(conn, "ALTER FOREIGN DATA WRAPPER nope OPTIONS (a 'b')", UndefinedObjectError, "nope")
    conn.execute("DROP FOREIGN DATA WRAPPER IF EXISTS nope")
    assert conn.notices[-1] == 'foreign-data wrapper "nope" does not exist, skipping'
    conn.execute("CREATE FOREIGN DATA WRAPPER w2")
    fails(conn, "ALTER FOREIGN DATA WRAPPER w RENAME TO w2", DuplicateObjectError, '"w2"')


def test_wrapper_functions_must_be_installed(conn):
    fails(
        conn,
        "CREATE FOREIGN DATA WRAPPER w HANDLER bogus_handler",
        UndefinedObjectError,
        "function bogus_handler() does not exist",
    )
    fails(
        conn,
        "CREATE FOREIGN DATA WRAPPER w VALIDATOR os_system",
        UndefinedObjectError,
        "function os_system() does not exist",
    )
    fails(
        conn,
        "CREATE FOREIGN DATA WRAPPER w HANDLER memory_fdw_handler HANDLER plain_fdw_handler",
        SQLMedError,
        "conflicting or redundant options",
    )


def test_no_validator_accepts_any_option(conn):
    conn.execute("CREATE FOREIGN DATA WRAPPER w OPTIONS (anything 'goes')")
    conn.execute("CREATE SERVER s FOREIGN DATA WRAPPER w OPTIONS (whatever 'x')")
    assert catalog.get_server(conn, "s").options == {"whatever": "x"}


# ------------------------------------------------------------------ options


def test_option_rules(setup):
    fails(
        setup,
        "CREATE SERVER t FOREIGN DATA WRAPPER memory_fdw OPTIONS (host 'a', host 'b')",
        DuplicateObjectError,
        'option "host" provided more than once',
    )
    fails(
        setup,
        "ALTER SERVER s OPTIONS (ADD host 'x')",
        DuplicateObjectError,
        'option "host" provided more than once for server "s"',
    )
    fails(setup, "ALTER SERVER s OPTIONS (host 'x')", DuplicateObjectError, '"host"')
    fails(
        setup,
        "ALTER SERVER s OPTIONS (SET api_token 'x')",
        UndefinedObjectError,
        'option "api_token" not found for server "s"',
    )
    fails(
        setup,
        "ALTER SERVER s OPTIONS (DROP api_token)",
        UndefinedObjectError,
        'option "api_token" not found',
    )
    setup.execute("ALTER SERVER s OPTIONS (SET host 'h2', DROP port, ADD api_token 't')")
    assert catalog.get_server(setup, "s").options == {"host": "h2", "api_token": "t"}


def test_unknown_option_lists_the_valid_ones_for_that_kind(setup):
    err = fails(
        setup,
        "ALTER SERVER s OPTIONS (ADD dataset 'x')",
        InvalidOptionError,
        'invalid option "dataset" for server "s"',
    )
    assert err.hint == "Valid options in this context are: api_token, host, port"
    err = fails(
        setup,
        "CREATE USER MAPPING FOR bob SERVER s OPTIONS (host 'x')",
        InvalidOptionError,
        'invalid option "host"',
    )
    assert err.hint == "Valid options in this context are: password, user"
    err = fails(
        setup,
        "CREATE FOREIGN TABLE t2 (a int OPTIONS (colname 'x')) SERVER s OPTIONS (dataset 'd')",
        InvalidOptionError,
        'invalid option "colname" for column "t2.a"',
    )
    assert err.hint == "Valid options in this context are: column_name"
    fails(
        setup,
        "ALTER FOREIGN DATA WRAPPER memory_fdw OPTIONS (ADD host 'x')",
        InvalidOptionError,
        "Valid options in this context are: debug",
    )


def test_option_values_and_required_options_are_validated(setup):
    fails(
        setup,
        "ALTER SERVER s OPTIONS (SET port 'abc')",
        InvalidOptionError,
        'invalid value \'abc\' for option "port" of server "s": expected an integer',
    )
    fails(
        setup,
        "ALTER FOREIGN TABLE people OPTIONS (ADD mode 'slow')",
        InvalidOptionError,
        "expected one of fast, safe",
    )
    fails(
        setup,
        "CREATE FOREIGN TABLE t2 (a int) SERVER s",
        InvalidOptionError,
        'option "dataset" is required for foreign table "t2"',
    )
    fails(
        setup,
        "ALTER FOREIGN TABLE people OPTIONS (DROP dataset)",
        InvalidOptionError,
        'option "dataset" is required',
    )
    fails(
        setup,
        "ALTER FOREIGN DATA WRAPPER memory_fdw OPTIONS (ADD debug 'maybe')",
        InvalidOptionError,
        "expected a boolean",
    )


def test_bad_secret_value_is_not_echoed(conn):
    class Strict(vtables.ForeignDataWrapper):
        name = "strict_fdw"
        option_specs = (vtables.OptionSpec("password", {"user_mapping"}, int, secret=True),)

    vtables.register_wrapper(Strict)
    try:
        conn.execute("CREATE EXTENSION strict_fdw; CREATE SERVER s FOREIGN DATA WRAPPER strict_fdw")
        err = fails(
            conn,
            "CREATE USER MAPPING FOR bob SERVER s OPTIONS (password 'hunter2')",
            InvalidOptionError,
            "password",
        )
        assert "hunter2" not in str(err)
    finally:
        vtables.unregister_wrapper("strict_fdw")


# ------------------------------------------------------------------ servers


def test_server_rules(setup):
    fails(
        setup,
        "CREATE SERVER s FOREIGN DATA WRAPPER memory_fdw",
        DuplicateObjectError,
        'server "s" already exists',
    )
    setup.execute("CREATE SERVER IF NOT EXISTS s FOREIGN DATA WRAPPER memory_fdw")
    assert setup.notices[-1] == 'server "s" already exists, skipping'
    for sql, fragment in [
        ("CREATE SERVER t FOREIGN DATA WRAPPER nope", 'foreign-data wrapper "nope" does not exist'),
        ("ALTER SERVER nope VERSION '2'", 'server "nope" does not'),
        ("DROP SERVER nope", 'server "nope" does not exist'),
    ]:
        fails(setup, sql, UndefinedObjectError, fragment)
    setup.execute("CREATE SERVER t TYPE 'test' VERSION '1.0' FOREIGN DATA WRAPPER memory_fdw")
    t = catalog.get_server(setup, "t")
    assert (t.type, t.version) == ("test", "1.0")
    setup.execute("ALTER SERVER t VERSION '2.0'")
    assert catalog.get_server(setup, "t").version == "2.0"
    fails(setup, "ALTER SERVER t RENAME TO s", DuplicateObjectError, 'server "s" already exists')


def test_server_rename_carries_dependants(setup):
    setup.execute("ALTER SERVER s RENAME TO s2")
    assert catalog.get_server(setup, "s") is None
    assert {um.server for um in catalog.list_user_mappings(setup)} == {"s2"}
    assert catalog.get_table(setup, "people").server == "s2"
    assert setup.execute("SELECT count(*) FROM people").fetchone() == (2,)


def test_drop_server_restrict_and_cascade(setup):
    err = fails(
        setup,
        "DROP SERVER s",
        DependentObjectsError,
        "cannot drop server s because other objects depend on it",
    )
    assert "foreign table people depends on server s" in err.detail
    assert "user mapping for alice on server s depends on server s" in err.detail
    assert "CASCADE" in err.hint
    fails(setup, "DROP SERVER s RESTRICT", DependentObjectsError)
    setup.execute("DROP SERVER s CASCADE")
    assert setup.notices[-1] == "drop cascades to 3 other objects"
    assert catalog.list_servers(setup) == []
    assert catalog.list_user_mappings(setup) == []
    assert catalog.list_tables(setup) == []
    names = [r[0] for r in setup.execute("SELECT name FROM sqlite_master")]
    assert "people" not in names


def test_drop_wrapper_cascades_through_servers(conn):
    conn.execute("""
        CREATE FOREIGN DATA WRAPPER w VALIDATOR memory_fdw_validator HANDLER memory_fdw_handler;
        CREATE SERVER s1 FOREIGN DATA WRAPPER w;
        CREATE FOREIGN TABLE t1 (a int) SERVER s1 OPTIONS (dataset 'x');
    """)
    err = fails(conn, "DROP FOREIGN DATA WRAPPER w", DependentObjectsError, "wrapper w")
    assert "server s1 depends on foreign-data wrapper w" in err.detail
    conn.execute("DROP FOREIGN DATA WRAPPER w CASCADE")
    assert catalog.list_tables(conn) == [] and catalog.list_servers(conn) == []
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name='t1'").fetchone() == (0,)


def test_server_without_dependants_drops_without_cascade(setup):
    setup.execute("CREATE SERVER lonely FOREIGN DATA WRAPPER memory_fdw; DROP SERVER lonely")
    assert catalog.get_server(setup, "lonely") is None


# ------------------------------------------------------------ user mappings


def test_user_mapping_rules(setup):
    fails(
        setup,
        "CREATE USER MAPPING FOR alice SERVER s",
        DuplicateObjectError,
        'user mapping for "alice" already exists for server "s"',
    )
    fails(setup, "CREATE USER MAPPING FOR CURRENT_USER SERVER s", DuplicateObjectError, "alice")
    setup.execute("CREATE USER MAPPING IF NOT EXISTS FOR USER SERVER s")
    assert "skipping" in setup.notices[-1]
    fails(
        setup,
        "CREATE USER MAPPING FOR bob SERVER nope",
        UndefinedObjectError,
        'server "nope" does not exist',
    )
    fails(
        setup,
        "ALTER USER MAPPING FOR bob SERVER s OPTIONS (user 'b')",
        UndefinedObjectError,
        'user mapping for "bob" does not exist for server "s"',
    )
    fails(setup, "DROP USER MAPPING FOR bob SERVER s", UndefinedObjectError, '"bob"')
    setup.execute("DROP USER MAPPING IF EXISTS FOR bob SERVER s")
    setup.execute("DROP USER MAPPING IF EXISTS FOR bob SERVER nope")
    assert setup.notices[-1] == 'server "nope" does not exist, skipping'
    setup.execute("ALTER USER MAPPING FOR CURRENT_ROLE SERVER s OPTIONS (SET password 'new')")
    assert catalog.get_user_mapping(setup, "alice", "s").options["password"] == "new"
    setup.execute('DROP USER MAPPING FOR "public" SERVER s')
    assert catalog.get_user_mapping(setup, "public", "s") is None


@pytest.mark.parametrize("spec", ["USER", "CURRENT_USER", "CURRENT_ROLE", "SESSION_USER"])
def test_user_keywords_mean_the_current_user(conn, spec):
    conn.execute("CREATE EXTENSION memory_fdw; CREATE SERVER s FOREIGN DATA WRAPPER memory_fdw")
    conn.execute(f"CREATE USER MAPPING FOR {spec} SERVER s")
    assert [um.user for um in catalog.list_user_mappings(conn)] == ["alice"]


def test_user_mapping_lookup_prefers_own_then_public(setup, db_path):
    assert catalog.find_user_mapping(setup, "alice", "s").options["user"] == "a"
    assert catalog.find_user_mapping(setup, "carol", "s").options["user"] == "anyone"
    setup.execute("DROP USER MAPPING FOR PUBLIC SERVER s")
    assert catalog.find_user_mapping(setup, "carol", "s") is None


# ---------------------------------------------------------- foreign tables


def test_foreign_table_is_a_virtual_table(setup):
    sql = setup.execute("SELECT sql FROM sqlite_master WHERE name='people'").fetchone()[0]
    assert sql == 'CREATE VIRTUAL TABLE "people" USING sqlmed'
    info = setup.execute("PRAGMA table_info(people)").fetchall()
    assert [(r[1], r[2], r[3]) for r in info] == [("id", "INTEGER", 1), ("name", "TEXT", 0)]
    assert setup.execute("SELECT id, name FROM people ORDER BY id").fetchall() == [
        (1, "ann"),
        (2, "bob"),
    ]


def test_foreign_table_rules(setup):
    fails(
        setup,
        "CREATE FOREIGN TABLE people (a int) SERVER s OPTIONS (dataset 'x')",
        DuplicateObjectError,
        'relation "people" already exists',
    )
    setup.execute(
        "CREATE FOREIGN TABLE IF NOT EXISTS people (a int) SERVER s OPTIONS (dataset 'x')"
    )
    assert setup.notices[-1] == 'relation "people" already exists, skipping'
    setup.execute("CREATE TABLE local_t(x)")
    fails(
        setup,
        "CREATE FOREIGN TABLE LOCAL_T (a int) SERVER s OPTIONS (dataset 'x')",
        DuplicateObjectError,
        'relation "local_t" already exists',
    )
    fails(
        setup,
        "CREATE FOREIGN TABLE t (a int, A text) SERVER s OPTIONS (dataset 'x')",
        DuplicateObjectError,
        'column "a" specified more than once',
    )
    fails(
        setup,
        "CREATE FOREIGN TABLE t (a int) SERVER nope",
        UndefinedObjectError,
        'server "nope" does not exist',
    )
    fails(
        setup,
        "CREATE FOREIGN TABLE t () SERVER s OPTIONS (dataset 'x')",
        FeatureNotSupportedError,
        "at least one column",
    )
    fails(
        setup,
        "CREATE FOREIGN TABLE sqlmed_x (a int) SERVER s OPTIONS (dataset 'x')",
        SQLMedError,
        "reserved",
    )
    fails(setup, "DROP FOREIGN TABLE nope", UndefinedObjectError, 'relation "nope" does not exist')
    fails(setup, "DROP FOREIGN TABLE local_t", SQLMedError, '"local_t" is not a foreign table')
    fails(setup, "ALTER FOREIGN TABLE local_t OPTIONS (a 'b')", SQLMedError, "not a foreign table")
    setup.execute("DROP FOREIGN TABLE IF EXISTS nope, people")
    assert catalog.get_table(setup, "people") is None
    assert setup.execute("SELECT count(*) FROM sqlite_master WHERE name='people'").fetchone() == (
        0,
    )


def test_alter_foreign_table_actions(setup):
    setup.execute("""
        ALTER FOREIGN TABLE people
            ADD COLUMN age smallint OPTIONS (column_name 'years') NOT NULL,
            ALTER COLUMN name TYPE varchar(40),
            ALTER id DROP NOT NULL,
            ALTER COLUMN name SET NOT NULL,
            ALTER name SET DEFAULT 'x',
            ALTER COLUMN name OPTIONS (SET column_name 'nm'),
            OPTIONS (ADD mode 'fast')
    """)
    t = catalog.get_table(setup, "people")
    assert [(c.name, c.type, c.not_null, c.default, c.options) for c in t.columns] == [
        ("id", "integer", False, None, {}),
        ("name", "varchar(40)", True, "'x'", {"column_name": "nm"}),
        ("age", "smallint", True, None, {"column_name": "years"}),
    ]
    assert t.options == {"dataset": "people", "mode": "fast"}
    info = setup.execute("PRAGMA table_info(people)").fetchall()
    assert [(r[1], r[2], r[3]) for r in info] == [
        ("id", "INTEGER", 0),
        ("name", "varchar(40)", 1),
        ("age", "smallint", 1),
    ]
    setup.execute("ALTER FOREIGN TABLE people ALTER name DROP DEFAULT, DROP COLUMN age")
    setup.execute("ALTER FOREIGN TABLE people RENAME COLUMN name TO full_name")
    assert [c.name for c in catalog.get_table(setup, "people").columns] == ["id", "full_name"]
    assert [r[1] for r in setup.execute("PRAGMA table_info(people)")] == ["id", "full_name"]
    assert catalog.get_table(setup, "people").column("full_name").default is None


def test_alter_foreign_table_errors(setup):
    rel = 'of relation "people"'
    fails(
        setup,
        "ALTER FOREIGN TABLE people ADD COLUMN id int",
        DuplicateObjectError,
        f'column "id" {rel} already exists',
    )
    fails(
        setup,
        "ALTER FOREIGN TABLE people DROP COLUMN nope",
        UndefinedObjectError,
        f'column "nope" {rel} does not exist',
    )
    fails(setup, "ALTER FOREIGN TABLE people ALTER nope TYPE int", UndefinedObjectError, "nope")
    fails(
        setup,
        "ALTER FOREIGN TABLE people RENAME id TO name",
        DuplicateObjectError,
        f'column "name" {rel} already exists',
    )
    fails(
        setup,
        "ALTER FOREIGN TABLE people DROP id, DROP name",
        FeatureNotSupportedError,
        "only column",
    )
    # one bad action spoils the whole statement
    fails(setup, "ALTER FOREIGN TABLE people ADD x int, DROP nope", UndefinedObjectError, "nope")
    fails(
        setup,
        "ALTER FOREIGN TABLE nope ADD x int",
        UndefinedObjectError,
        'relation "nope" does not exist',
    )
    setup.execute("ALTER FOREIGN TABLE IF EXISTS nope ADD x int")
    setup.execute(
        "ALTER FOREIGN TABLE people ADD COLUMN IF NOT EXISTS id int, DROP COLUMN IF EXISTS nope"
    )
    assert setup.notices[-2:] == [
        f'column "id" {rel} already exists, skipping',
        f'column "nope" {rel} does not exist, skipping',
    ]


def test_rename_foreign_table(setup):
    setup.execute("ALTER FOREIGN TABLE people RENAME TO persons")
    assert catalog.get_table(setup, "people") is None
    assert [c.name for c in catalog.get_table(setup, "persons").columns] == ["id", "name"]
    assert setup.execute("SELECT count(*) FROM persons").fetchone() == (2,)
    setup.execute("CREATE TABLE other(x)")
    fails(
        setup,
        "ALTER FOREIGN TABLE persons RENAME TO other",
        DuplicateObjectError,
        'relation "other" already exists',
    )


def test_plain_drop_and_rename_keep_the_catalog_in_step(setup):
    setup.execute("ALTER TABLE people RENAME TO folks")
    assert catalog.get_table(setup, "folks") is not None
    assert catalog.get_table(setup, "people") is None
    setup.execute("BEGIN; DROP TABLE folks")
    assert catalog.get_table(setup, "folks") is None
    setup.execute("ROLLBACK")
    assert catalog.get_table(setup, "folks") is not None
    setup.execute("DROP TABLE folks")
    assert catalog.list_tables(setup) == []
    assert setup.execute("SELECT count(*) FROM sqlmed_fcolumn").fetchone() == (0,)


def test_comments(setup):
    setup.execute("""
        COMMENT ON FOREIGN DATA WRAPPER memory_fdw IS 'rows in memory';
        COMMENT ON SERVER s IS 'the server';
        COMMENT ON FOREIGN TABLE people IS 'people';
        COMMENT ON COLUMN people.name IS 'their name';
    """)
    assert catalog.get_wrapper(setup, "memory_fdw").comment == "rows in memory"
    assert catalog.get_server(setup, "s").comment == "the server"
    t = catalog.get_table(setup, "people")
    assert (t.comment, t.column("name").comment) == ("people", "their name")
    setup.execute("COMMENT ON SERVER s IS NULL; COMMENT ON FOREIGN TABLE people IS ''")
    assert catalog.get_server(setup, "s").comment is None
    assert catalog.get_table(setup, "people").comment is None
    fails(setup, "COMMENT ON SERVER nope IS 'x'", UndefinedObjectError, 'server "nope"')
    fails(setup, "COMMENT ON COLUMN people.nope IS 'x'", UndefinedObjectError, '"nope"')
    fails(setup, "COMMENT ON FOREIGN TABLE nope IS 'x'", UndefinedObjectError, '"nope"')


# --------------------------------------------------------------- extensions


def test_extensions(conn):
    conn.execute("CREATE EXTENSION memory_fdw")
    w = catalog.get_wrapper(conn, "memory_fdw")
    assert (w.handler, w.validator, w.extension) == (
        "memory_fdw_handler",
        "memory_fdw_validator",
        "memory_fdw",
    )
    assert catalog.list_extensions(conn) == [("memory_fdw", "1.0")]
    fails(
        conn,
        "CREATE EXTENSION memory_fdw",
        DuplicateObjectError,
        'extension "memory_fdw" already exists',
    )
    conn.execute("CREATE EXTENSION IF NOT EXISTS memory_fdw")
    err = fails(
        conn,
        "CREATE EXTENSION nosuch_fdw",
        UndefinedObjectError,
        'extension "nosuch_fdw" is not available',
    )
    assert "memory_fdw" in err.hint
    fails(
        conn,
        "DROP FOREIGN DATA WRAPPER memory_fdw",
        DependentObjectsError,
        "because extension memory_fdw requires it",
    )
    conn.execute("CREATE SERVER s FOREIGN DATA WRAPPER memory_fdw")
    fails(
        conn,
        "DROP EXTENSION memory_fdw",
        DependentObjectsError,
        "server s depends on foreign-data wrapper memory_fdw",
    )
    conn.execute("DROP EXTENSION memory_fdw CASCADE")
    assert catalog.list_extensions(conn) == [] and catalog.list_wrappers(conn) == []
    fails(conn, "DROP EXTENSION memory_fdw", UndefinedObjectError, "does not exist")
    conn.execute("DROP EXTENSION IF EXISTS memory_fdw")


def test_wrapper_name_taken_blocks_extension(conn):
    conn.execute("CREATE FOREIGN DATA WRAPPER memory_fdw")
    fails(
        conn,
        "CREATE EXTENSION memory_fdw",
        DuplicateObjectError,
        'foreign-data wrapper "memory_fdw" already exists',
    )


# ------------------------------------------------------------------ import


def test_import_foreign_schema(setup):
    setup.execute("IMPORT FOREIGN SCHEMA shop FROM SERVER s INTO public")
    names = {t.name for t in catalog.list_tables(setup)}
    assert names == {"people", "orders", "items", "Mixed"}
    items = catalog.get_table(setup, "items")
    assert [(c.name, c.type, c.options) for c in items.columns] == [
        ("sku", "text", {}),
        ("qty", "int", {"column_name": "q"}),
    ]
    assert catalog.get_table(setup, "orders").columns[0].not_null


def test_import_limit_to_and_except(setup):
    setup.execute('IMPORT FOREIGN SCHEMA shop LIMIT TO (orders, "Mixed") FROM SERVER s INTO main')
    assert {t.name for t in catalog.list_tables(setup)} == {"people", "orders", "Mixed"}
    setup.execute('DROP FOREIGN TABLE orders; DROP FOREIGN TABLE "Mixed"')
    setup.execute("IMPORT FOREIGN SCHEMA shop EXCEPT (items) FROM SERVER s INTO main")
    assert {t.name for t in catalog.list_tables(setup)} == {"people", "orders", "Mixed"}


def test_import_errors_are_atomic(setup):
    setup.execute("CREATE TABLE items(x)")
    fails(
        setup,
        "IMPORT FOREIGN SCHEMA shop FROM SERVER s INTO main",
        DuplicateObjectError,
        'relation "items" already exists',
    )
    fails(
        setup,
        "IMPORT FOREIGN SCHEMA shop FROM SERVER s INTO elsewhere",
        UndefinedObjectError,
        'schema "elsewhere" does not exist',
    )
    fails(
        setup,
        "IMPORT FOREIGN SCHEMA nope FROM SERVER s INTO main",
        vtables.WrapperError,
        "no schema nope",
        'server "s"',
    )
    setup.execute("CREATE EXTENSION plain_fdw; CREATE SERVER p FOREIGN DATA WRAPPER plain_fdw")
    fails(
        setup,
        "IMPORT FOREIGN SCHEMA x FROM SERVER p INTO main",
        FeatureNotSupportedError,
        'foreign-data wrapper "plain_fdw" does not support IMPORT FOREIGN SCHEMA',
    )


# ---------------------------------------------------------------- handlers


def test_wrapper_without_handler_cannot_be_scanned(conn):
    conn.execute("""
        CREATE FOREIGN DATA WRAPPER dummy;
        CREATE SERVER ds FOREIGN DATA WRAPPER dummy;
        CREATE FOREIGN TABLE dt (a int) SERVER ds;
    """)
    with pytest.raises(SQLMedError, match='foreign-data wrapper "dummy" has no handler'):
        conn.execute("SELECT * FROM dt").fetchall()


def test_handler_not_installed_in_this_program(setup):
    vtables.unregister_wrapper("memory_fdw")
    with pytest.raises(UndefinedObjectError, match="not installed in this program"):
        setup.execute("SELECT * FROM people").fetchall()
    # the catalog still describes it, and it can be dropped
    setup.execute("DROP SERVER s CASCADE")
    assert catalog.list_tables(setup) == []
