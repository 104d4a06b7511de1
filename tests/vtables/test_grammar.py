"""Every SQL/MED statement form parses, prints back and parses to the same tree."""

from __future__ import annotations

import pytest
from sqlglot import exp

from vtables import SQLMedSyntaxError, grammar

ROUND_TRIPS = [
    # foreign data wrappers
    "CREATE FOREIGN DATA WRAPPER dummy",
    "CREATE FOREIGN DATA WRAPPER w HANDLER w_handler VALIDATOR w_validator OPTIONS (debug 'true')",
    "CREATE FOREIGN DATA WRAPPER w NO HANDLER NO VALIDATOR",
    "CREATE FOREIGN DATA WRAPPER w VALIDATOR v HANDLER h",
    "ALTER FOREIGN DATA WRAPPER w HANDLER h NO VALIDATOR",
    "ALTER FOREIGN DATA WRAPPER w NO HANDLER",
    "ALTER FOREIGN DATA WRAPPER w OPTIONS (ADD a '1', SET b '2', DROP c, d '4')",
    "ALTER FOREIGN DATA WRAPPER w RENAME TO w2",
    "DROP FOREIGN DATA WRAPPER w",
    "DROP FOREIGN DATA WRAPPER IF EXISTS a, b CASCADE",
    "DROP FOREIGN DATA WRAPPER a RESTRICT",
    # servers
    "CREATE SERVER s FOREIGN DATA WRAPPER w",
    "CREATE SERVER IF NOT EXISTS s TYPE 'oracle' VERSION '11.2' FOREIGN DATA WRAPPER w "
    "OPTIONS (host 'h', port '5432')",
    "CREATE SERVER s VERSION '1' FOREIGN DATA WRAPPER w",
    "ALTER SERVER s VERSION '2'",
    "ALTER SERVER s VERSION '2' OPTIONS (SET host 'x', DROP port, ADD dbname 'd')",
    "ALTER SERVER s OPTIONS (host 'x')",
    'ALTER SERVER s RENAME TO "New Server"',
    "DROP SERVER s",
    "DROP SERVER IF EXISTS s1, s2 CASCADE",
    # user mappings
    "CREATE USER MAPPING FOR bob SERVER s",
    "CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER s OPTIONS (user 'u', password 'p')",
    "CREATE USER MAPPING FOR USER SERVER s",
    "CREATE USER MAPPING FOR CURRENT_ROLE SERVER s",
    "CREATE USER MAPPING FOR SESSION_USER SERVER s",
    "CREATE USER MAPPING FOR PUBLIC SERVER s",
    'CREATE USER MAPPING FOR "Bob Smith" SERVER s',
    "ALTER USER MAPPING FOR bob SERVER s OPTIONS (SET password 'new', DROP user)",
    "ALTER USER MAPPING FOR PUBLIC SERVER s OPTIONS (user 'x')",
    "DROP USER MAPPING FOR bob SERVER s",
    "DROP USER MAPPING IF EXISTS FOR CURRENT_USER SERVER s",
    # foreign tables
    "CREATE FOREIGN TABLE t (a INT) SERVER s",
    "CREATE FOREIGN TABLE IF NOT EXISTS t (id integer NOT NULL, name varchar(20) "
    "OPTIONS (column_name 'n') DEFAULT 'x', ts timestamp with time zone NULL, "
    "amount numeric(10,2), tags text[], c citext, d double precision DEFAULT 1 + 2 NOT NULL) "
    "SERVER s OPTIONS (filename '/tmp/x.csv', format 'csv')",
    "CREATE FOREIGN TABLE e () SERVER s",
    'CREATE FOREIGN TABLE "My Table" ("Col A" text) SERVER "My Server"',
    "ALTER FOREIGN TABLE t ADD COLUMN x INT",
    "ALTER FOREIGN TABLE t ADD x INT OPTIONS (k 'v') NOT NULL",
    "ALTER FOREIGN TABLE t ADD COLUMN IF NOT EXISTS x INT",
    "ALTER FOREIGN TABLE t DROP COLUMN x",
    "ALTER FOREIGN TABLE t DROP x CASCADE",
    "ALTER FOREIGN TABLE t DROP COLUMN IF EXISTS x RESTRICT",
    "ALTER FOREIGN TABLE t RENAME COLUMN a TO b",
    "ALTER FOREIGN TABLE t RENAME a TO b",
    "ALTER FOREIGN TABLE t RENAME TO t2",
    "ALTER FOREIGN TABLE IF EXISTS t RENAME TO t2",
    "ALTER FOREIGN TABLE t ALTER COLUMN a TYPE bigint",
    "ALTER FOREIGN TABLE t ALTER a SET DATA TYPE text",
    "ALTER FOREIGN TABLE t ALTER COLUMN a SET NOT NULL",
    "ALTER FOREIGN TABLE t ALTER a DROP NOT NULL",
    "ALTER FOREIGN TABLE t ALTER a SET DEFAULT 42",
    "ALTER FOREIGN TABLE t ALTER a DROP DEFAULT",
    "ALTER FOREIGN TABLE t ALTER COLUMN a OPTIONS (ADD column_name 'A', DROP x)",
    "ALTER FOREIGN TABLE t OPTIONS (SET format 'text')",
    "ALTER FOREIGN TABLE IF EXISTS t ADD x int, DROP y, ALTER z TYPE real, OPTIONS (a 'b')",
    "DROP FOREIGN TABLE t",
    "DROP FOREIGN TABLE IF EXISTS a, b CASCADE",
    # import
    "IMPORT FOREIGN SCHEMA remote FROM SERVER s INTO main",
    'IMPORT FOREIGN SCHEMA public LIMIT TO (a, "B") FROM SERVER s INTO public',
    "IMPORT FOREIGN SCHEMA r EXCEPT (x) FROM SERVER s INTO main OPTIONS (import_default 'true')",
    # comments
    "COMMENT ON FOREIGN DATA WRAPPER w IS 'a wrapper'",
    "COMMENT ON SERVER s IS 'it''s quoted'",
    "COMMENT ON FOREIGN TABLE t IS NULL",
    "COMMENT ON COLUMN t.a IS 'col'",
    # extensions
    "CREATE EXTENSION postgres_fdw",
    "CREATE EXTENSION IF NOT EXISTS file_fdw",
    "DROP EXTENSION file_fdw",
    "DROP EXTENSION IF EXISTS a, b CASCADE",
    # quoted option names and values
    "CREATE SERVER s FOREIGN DATA WRAPPER w OPTIONS (\"tns name\" 'orcl', \"Q\"\"x\" 'a''b')",
]


@pytest.mark.parametrize("sql", ROUND_TRIPS)
def test_round_trip(sql):
    tree = grammar.parse_one(sql)
    assert isinstance(tree, grammar.MED_EXPRESSIONS)
    printed = grammar.to_sql(tree)
    again = grammar.parse_one(printed)
    assert again == tree
    assert grammar.to_sql(again) == printed


def test_statements_sqlglot_alone_cannot_parse_are_ours():
    import sqlglot

    for sql in (
        "CREATE SERVER s FOREIGN DATA WRAPPER w",
        "IMPORT FOREIGN SCHEMA r FROM SERVER s INTO main",
    ):
        try:
            plain = sqlglot.parse_one(sql, read="postgres")
        except sqlglot.errors.ParseError:
            plain = None
        assert not isinstance(plain, grammar.MED_EXPRESSIONS)
        assert isinstance(grammar.parse_one(sql), grammar.MED_EXPRESSIONS)


def test_names_fold_unless_quoted():
    tree = grammar.parse_one('CREATE SERVER MySrv FOREIGN DATA WRAPPER "MyFdw"')
    assert tree.this == exp.Identifier(this="MySrv", quoted=False)
    assert tree.args["wrapper"].args["quoted"] is True
    from vtables.commands import name_of

    assert name_of(tree.this) == "mysrv"
    assert name_of(tree.args["wrapper"]) == "MyFdw"


def test_option_actions():
    tree = grammar.parse_one(
        "ALTER SERVER s OPTIONS (ADD a '1', SET b '2', DROP c, d '4', add 'x')"
    )
    got = [(o.this.this, o.args.get("action"), o.args.get("value")) for o in tree.args["options"]]
    # a bare name means ADD (action None); "add 'x'" is an option named add
    assert got == [
        ("a", "ADD", "1"),
        ("b", "SET", "2"),
        ("c", "DROP", None),
        ("d", None, "4"),
        ("add", None, "x"),
    ]


def test_quoted_option_name():
    tree = grammar.parse_one("CREATE SERVER s FOREIGN DATA WRAPPER w OPTIONS (\"tns name\" 'orcl')")
    opt = tree.args["options"][0]
    assert opt.this.this == "tns name" and opt.args["value"] == "orcl"


def test_script_of_several_statements():
    trees = grammar.parse("CREATE FOREIGN DATA WRAPPER w; CREATE SERVER s FOREIGN DATA WRAPPER w;")
    assert [type(t) for t in trees] == [grammar.CreateFdw, grammar.CreateServer]


def test_other_statements_still_parse_as_sqlglot_does():
    assert isinstance(grammar.parse_one("CREATE TABLE t (a INT)"), exp.Create)
    assert isinstance(grammar.parse_one("DROP TABLE t"), exp.Drop)
    assert isinstance(grammar.parse_one("ALTER TABLE t ADD COLUMN b INT"), exp.Alter)


@pytest.mark.parametrize(
    "sql, line, column, expected",
    [
        ("CREATE SERVER s", 1, 16, "expected FOREIGN DATA WRAPPER but found end of input"),
        ("CREATE SERVER s FOREIGN DATA WRAPPER w OPTIONS (a 1)", 1, 51, "a string value"),
        ("CREATE FOREIGN TABLE t (a) SERVER s", 1, 26, "a data type"),
        ("CREATE SERVER s FOREIGN DATA WRAPPER w x", 1, 40, "end of statement"),
        ("CREATE SERVER s\n  FOREIGN DATA WRAPPER w\n  OPTIONS (a 'b'", 3, 17, "')'"),
        ("ALTER SERVER s", 1, 15, "VERSION, OPTIONS or RENAME TO"),
        ("CREATE USER MAPPING FOR bob", 1, 28, "SERVER"),
        ("CREATE FOREIGN TABEL t (a int) SERVER s", 1, 16, "DATA WRAPPER or TABLE"),
        ("IMPORT FOREIGN SCHEMA r FROM s INTO main", 1, 30, "expected SERVER but found 's'"),
        ("CREATE SERVER s\nFOREIGN DATA WRAPPER w OPTIONS (a 'b", 2, 35, "unterminated"),
        ("ALTER FOREIGN TABLE t ALTER a FROB", 1, 31, "TYPE, SET DATA TYPE"),
    ],
)
def test_syntax_errors_name_line_column_and_expected(sql, line, column, expected):
    with pytest.raises(SQLMedSyntaxError) as info:
        grammar.parse(sql)
    err = info.value
    assert (err.line, err.column) == (line, column)
    assert expected in str(err)
    assert f"line {line}, column {column}" in str(err)


def test_escape_string_values():
    tree = grammar.parse_one("CREATE FOREIGN TABLE t (a int) SERVER s OPTIONS (delimiter E'\\t')")
    assert tree.args["options"][0].args["value"] == "\t"
    assert grammar.parse_one(grammar.to_sql(tree)) == tree


def test_the_secrecy_hook_masks_the_values_of_the_options_it_names():
    sql = "CREATE USER MAPPING FOR bob SERVER s OPTIONS (user 'u', password 'p', \"Token\" 't')"
    tree = grammar.parse_one(sql)
    assert grammar.to_sql(tree) == sql
    shown = grammar.to_sql(tree, secret=lambda name: name.lower() in ("password", "token"))
    assert shown == (
        "CREATE USER MAPPING FOR bob SERVER s"
        " OPTIONS (user 'u', password '********', \"Token\" '********')"
    )
    change = grammar.parse_one("ALTER SERVER s OPTIONS (SET password 'p', DROP password)")
    assert grammar.to_sql(change, secret=lambda name: True) == (
        "ALTER SERVER s OPTIONS (SET password '********', DROP password)"
    )


NASTY_NAMES = ["plain", "Mixed", "select", "if", "cascade", 'q"uote', "a'b", "new\nline", "ü 表"]


def names(tree: exp.Expression) -> list[str]:
    return sorted(i.this for i in tree.find_all(exp.Identifier))


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_builders_make_trees_that_print_and_read_back_as_the_same_names(name):
    int_type = grammar.parse_one("CREATE FOREIGN TABLE t (c int) SERVER s").args["columns"][0]
    column = grammar.column(name, int_type.args["kind"], collate=name, not_null=True)
    positive = exp.GT(this=exp.column("x"), expression=exp.Literal.number(0))
    check = grammar.check(positive, name=name, not_valid=True)
    trees = [
        grammar.create_extension(name, if_not_exists=True),
        grammar.create_fdw(name, handler=name, validator="v", options_={name: name}),
        grammar.create_server(name, name, type_=name, version="1", options_=[(name, "it's")]),
        grammar.create_user_mapping(grammar.user(name), name, {"k": name}),
        grammar.create_foreign_table(name, [column], name, {name: name}, constraints=[check]),
        grammar.comment("COLUMN", name, name, column=name),
        grammar.comment("SERVER", name, None),
        grammar.import_foreign_schema(name, name, except_=[name], options_={name: name}),
    ]
    for tree in trees:
        sql = grammar.to_sql(tree)
        again = grammar.parse_one(sql)
        assert grammar.to_sql(again) == sql
        assert names(again) == names(tree), sql
    imported = grammar.parse_one(grammar.to_sql(trees[-1]))
    assert [t.this for t in imported.args["tables"]] == [name]
    assert imported.args["restriction"] == "EXCEPT"


def test_user_builder_reads_role_keywords_unless_told_not_to():
    assert grammar.to_sql(grammar.user("public")) == "PUBLIC"
    assert grammar.to_sql(grammar.user("current_user")) == "CURRENT_USER"
    named = grammar.user("public", keyword=False)
    mapping = grammar.to_sql(grammar.create_user_mapping(named, "s"))
    assert mapping == 'CREATE USER MAPPING FOR "public" SERVER s'
    assert grammar.parse_one(mapping).this.this.this == "public"


def test_printed_text_reads_back_the_same_with_comments_in_the_source():
    # found by test_parsed_med_trees_round_trip: a comment that swallowed a
    # keyword was printed at the end of the statement and lost on the way back
    text = (
        "CREATE-- a commentSERVER s4\n  FOREIGN DATA WRAPPER memory_fdw  \n"
        "  OPTIONS (host 'h', /* inline */ port '1');"
    )
    [tree] = grammar.parse(text)
    printed = grammar.to_sql(tree)
    assert printed == "CREATE FOREIGN DATA WRAPPER memory_fdw OPTIONS (host 'h', port '1')"
    assert grammar.to_sql(grammar.parse(printed)[0]) == printed
