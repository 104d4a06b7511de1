"""Issue 12, the Alembic side: operations leave no transaction the user did not
start, and names that need quoting survive rendering (Python source), --sql
output and execution, creating exactly the objects they name."""

from __future__ import annotations

import io
import sqlite3

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

import vtables
from sqlmed_dialect import ForeignDataWrapper, ForeignServer, UserMapping

from .conftest import autogenerate, empty, run

# ------------------------------------------------- 7: no transaction left open


def operations(conn) -> Operations:
    return Operations(MigrationContext.configure(conn))


@pytest.mark.parametrize("scheme", ["sqlite", "sqlmed"])
def test_operations_that_send_nothing_leave_no_transaction(tmp_path, scheme):
    engine = sa.create_engine(f"{scheme}:///{tmp_path / 'app.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a INTEGER, b INTEGER)")
    with engine.connect() as conn:
        op = operations(conn)
        op.alter_column("t", "a")  # nothing to change
        with op.batch_alter_table("t"):
            pass
        assert not conn.in_transaction()
        with conn.begin():  # no InvalidRequestError: nothing was begun behind our back
            conn.exec_driver_sql("INSERT INTO t VALUES (1, 2)")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT * FROM t").fetchall() == [(1, 2)]
    engine.dispose()


def test_catalog_lookups_begin_no_transaction(engine, remote):
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE EXTENSION sqlite_fdw; "
            f"CREATE SERVER lib FOREIGN DATA WRAPPER sqlite_fdw OPTIONS (database '{remote}'); "
            "CREATE USER MAPPING FOR PUBLIC SERVER lib; "
            "CREATE FOREIGN TABLE books (id integer, title text) SERVER lib; "
            "CREATE TABLE notes (id INTEGER PRIMARY KEY)"
        )
    with engine.connect() as conn:
        op = operations(conn)
        impl = op.impl
        assert impl.is_foreign_table("books") and not impl.is_foreign_table("notes")
        assert impl.server_wrapper("lib") == "sqlite_fdw"
        op.alter_column("books", "title")  # a foreign table, nothing to change
        op.alter_foreign_column("books", "title")
        op.alter_server("lib")
        op.alter_user_mapping("lib", "PUBLIC")
        with op.batch_alter_table("books"):
            pass
        assert ForeignServer("lib", "sqlite_fdw").exists(conn)
        assert UserMapping("lib", "PUBLIC").exists(conn)
        insp = sa.inspect(conn)
        assert insp.get_foreign_table_names() == ["books"]
        assert [s["name"] for s in insp.get_servers()] == ["lib"]
        assert [m["server"] for m in insp.get_user_mappings()] == ["lib"]
        assert [w["name"] for w in insp.get_foreign_data_wrappers()] == ["sqlite_fdw"]
        assert [e["name"] for e in insp.get_extensions()] == ["sqlite_fdw"]
        assert not conn.in_transaction()
        with conn.begin():
            conn.exec_driver_sql("INSERT INTO notes VALUES (1)")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT * FROM notes").fetchall() == [(1,)]


# ----------------------------------------------- 8: names that need quoting


def nasty(tag: str) -> str:
    return f"{tag}\n DROP TABLE x; --'\"*/\\ end"


def nasty_metadata(**changes) -> sa.MetaData:
    md = sa.MetaData()
    sa.Table("x", md, sa.Column("a", sa.Integer))
    fdw = ForeignDataWrapper(
        nasty("w"), md, options=changes.get("fdw_options", {nasty("wo"): nasty("wv")})
    )
    server = ForeignServer(
        nasty("s"),
        fdw,
        md,
        type=nasty("type"),
        version=changes.get("version", nasty("v")),
        options=changes.get("server_options", {nasty("so"): nasty("sv"), "password": nasty("pw")}),
    )
    UserMapping(
        server, nasty("u"), md, options=changes.get("mapping_options", {nasty("uo"): nasty("uv")})
    )
    sa.Table(
        nasty("t"),
        md,
        sa.Column(
            nasty("c"),
            sa.Text,
            sqlmed_options=changes.get("column_options", {nasty("co"): nasty("cv")}),
        ),
        *changes.get("extra_columns", []),
        sqlmed_server=nasty("s"),
        sqlmed_options=changes.get("table_options", {nasty("to"): nasty("tv")}),
    )
    return md


def state(path: str) -> dict:
    """Every SQL/MED object and local table in the file, raw (secrets unmasked)."""
    conn = vtables.connect(path)
    try:
        cat = vtables.catalog
        return {
            "wrappers": [(w.name, w.options) for w in cat.list_wrappers(conn)],
            "servers": [
                (s.name, s.fdw, s.type, s.version, s.options) for s in cat.list_servers(conn)
            ],
            "mappings": [(m.user, m.server, m.options) for m in cat.list_user_mappings(conn)],
            "tables": [
                (t.name, t.server, t.options, [(c.name, c.type, c.options) for c in t.columns])
                for t in cat.list_tables(conn)
            ],
            "local": sorted(
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlmed%'"
                )
            ),
            "x rows": conn.execute("SELECT * FROM x").fetchall()
            if conn.table_exists(None, "x")
            else None,
        }
    finally:
        conn.close()


def expected(password: str) -> dict:
    return {
        "wrappers": [(nasty("w"), {nasty("wo"): nasty("wv")})],
        "servers": [
            (
                nasty("s"),
                nasty("w"),
                nasty("type"),
                nasty("v"),
                {nasty("so"): nasty("sv"), "password": password},
            )
        ],
        "mappings": [(nasty("u"), nasty("s"), {nasty("uo"): nasty("uv")})],
        "tables": [
            (
                nasty("t"),
                nasty("s"),
                {nasty("to"): nasty("tv")},
                [(nasty("c"), "TEXT", {nasty("co"): nasty("cv")})],
            )
        ],
        "local": sorted(["x", nasty("t")]),
        "x rows": [(1,)],
    }


@pytest.fixture
def with_x(engine):
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE x (a INTEGER)")
        conn.exec_driver_sql("INSERT INTO x VALUES (1)")
    return engine


def secret(name: str) -> str:
    assert name.isidentifier() and name.isupper(), name  # never a raw name
    return "pw from env"


def test_nasty_names_rendered_as_python_and_run(with_x):
    engine = with_x
    md = nasty_metadata()
    up, down = autogenerate(engine, md)
    compile(up, "<upgrade>", "exec")  # valid Python
    for line in up.splitlines():
        if line.lstrip().startswith("#"):  # comments carry no raw name
            assert "DROP TABLE" not in line and "*/" not in line and "'" not in line, line
    run(engine, up, secret_from_env=secret)
    assert state(engine.url.database) == expected("pw from env")
    up2, down2 = autogenerate(engine, md)
    assert empty(up2) and empty(down2), up2 + down2

    # option changes, a new column: ALTER ... OPTIONS (ADD/SET/DROP) with nasty keys
    changed = nasty_metadata(
        version=nasty("v2"),
        fdw_options={nasty("wo2"): nasty("wv2")},
        server_options={nasty("so"): nasty("sv2"), "password": nasty("pw")},
        # (a mapping's values are hidden from other users: only ADD and DROP show)
        mapping_options={nasty("uo"): nasty("uv"), nasty("uo2"): "x"},
        column_options={nasty("co2"): nasty("cv2")},
        table_options={nasty("to"): nasty("tv2")},
        extra_columns=[sa.Column(nasty("c2"), sa.Integer, sqlmed_options={nasty("k"): "v"})],
    )
    up3, down3 = autogenerate(engine, changed)
    compile(up3, "<upgrade>", "exec")
    compile(down3, "<downgrade>", "exec")
    run(engine, up3, secret_from_env=secret)
    now = state(engine.url.database)
    assert now["wrappers"] == [(nasty("w"), {nasty("wo2"): nasty("wv2")})]
    assert now["servers"][0][3:] == (
        nasty("v2"),
        {nasty("so"): nasty("sv2"), "password": "pw from env"},
    )
    assert now["mappings"] == [
        (nasty("u"), nasty("s"), {nasty("uo"): nasty("uv"), nasty("uo2"): "x"})
    ]
    assert now["tables"] == [
        (
            nasty("t"),
            nasty("s"),
            {nasty("to"): nasty("tv2")},
            [
                (nasty("c"), "TEXT", {nasty("co2"): nasty("cv2")}),
                (nasty("c2"), "INTEGER", {nasty("k"): "v"}),
            ],
        )
    ]
    assert now["local"] == sorted(["x", nasty("t")]) and now["x rows"] == [(1,)]
    run(engine, down3, secret_from_env=secret)
    assert state(engine.url.database) == expected("pw from env")

    run(engine, down)
    after = state(engine.url.database)
    assert after["local"] == ["x"] and after["x rows"] == [(1,)]
    assert after["wrappers"] == after["servers"] == after["mappings"] == after["tables"] == []


def test_nasty_names_in_offline_sql_run_as_written(with_x, tmp_path):
    engine = with_x
    up, _ = autogenerate(engine, nasty_metadata())
    buffer = io.StringIO()
    context = MigrationContext.configure(
        dialect_name="sqlmed", opts={"as_sql": True, "output_buffer": buffer}
    )
    exec(  # noqa: S102 - the rendered migration
        compile(up, "<upgrade>", "exec"),
        {"op": Operations(context), "sa": sa, "secret_from_env": secret},
    )
    script = buffer.getvalue()
    assert "pw from env" not in script  # secrets masked in --sql output
    for line in script.splitlines():
        assert not line.startswith("--") or "DROP TABLE x" not in line, line
    # run the script as written, on a copy of the database
    copy = str(tmp_path / "copy.db")
    with sqlite3.connect(engine.url.database) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    conn = vtables.connect(copy)
    conn.execute(script)
    conn.close()
    assert state(copy) == expected("********")


def test_foreign_table_named_with_the_main_schema(engine, remote):
    run(
        engine,
        "op.create_extension('sqlite_fdw')\n"
        f"op.create_server('lib', 'sqlite_fdw', options={{'database': {remote!r}}})\n"
        "op.create_table('books', sa.Column('id', sa.Integer()), schema='main', "
        "sqlmed_server='lib')\n"
        "op.add_column('books', sa.Column('title', sa.Text()), schema='main')\n",
    )
    [books] = state(engine.url.database)["tables"]
    assert books[:2] == ("books", "lib")
    assert [c[0] for c in books[3]] == ["id", "title"]
    run(engine, "op.drop_table('books', schema='main')")
    assert state(engine.url.database)["tables"] == []
