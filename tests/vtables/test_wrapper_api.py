"""Builtin wrappers keep the base class's signatures (Multicorn's drifted)."""

from __future__ import annotations

import inspect
import os
from importlib.metadata import entry_points

import apsw
import pytest

import vtables
from vtables import wrapper as wrapper_api
from vtables.wrapper import ENTRY_POINT_GROUP, ForeignDataWrapper

BUILTINS = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
API = [
    name
    for name, member in vars(ForeignDataWrapper).items()
    if callable(member) or isinstance(member, (classmethod, staticmethod))
    if not name.startswith("_") or name == "__init__"
]


def test_builtin_wrappers_are_installed():
    assert {"file_fdw", "sqlite_fdw", "postgres_fdw", "sqlalchemy_fdw"} <= set(BUILTINS)


def _params(fn):
    return [
        (p.name, p.kind, p.default is inspect.Parameter.empty)
        for p in inspect.signature(fn).parameters.values()
    ]


@pytest.mark.parametrize("name", BUILTINS)
def test_signatures_match_the_base_class(name):
    cls = vtables.find_wrapper(name)
    assert issubclass(cls, ForeignDataWrapper)
    assert cls.name == name
    assert cls.__doc__ or inspect.getmodule(cls).__doc__, "a Purpose/Options/Example docstring"
    for method in API:
        base = getattr(ForeignDataWrapper, method)
        mine = getattr(cls, method)
        assert _params(mine) == _params(base), f"{name}.{method} drifted from the base class"
        assert isinstance(
            inspect.getattr_static(cls, method),
            type(inspect.getattr_static(ForeignDataWrapper, method)),
        ), f"{name}.{method} kind changed"


@pytest.mark.parametrize("name", BUILTINS)
def test_option_specs_are_well_formed(name):
    cls = vtables.find_wrapper(name)
    seen = set()
    for spec in cls.option_specs:
        for kind in spec.kinds:
            assert (kind, spec.name) not in seen, f"{spec.name} declared twice for {kind}"
            seen.add((kind, spec.name))
        if spec.default is not None and spec.choices:
            assert str(spec.default) in spec.choices


class FunctionsFdw(ForeignDataWrapper):
    """An extension that brings SQL functions."""

    name = "functions_fdw"
    calls: list = []

    @classmethod
    def sql_functions(cls):
        def greet(conn, who):
            cls.calls.append(conn.user)
            return f"hello {who}"

        return {"functions_fdw_greet": (greet, 1)}


@pytest.fixture
def functions_fdw():
    vtables.register_wrapper(FunctionsFdw)
    FunctionsFdw.calls = []
    yield
    vtables.unregister_wrapper("functions_fdw")


def test_an_extension_brings_its_sql_functions(functions_fdw, tmp_path):
    path = str(tmp_path / "f.db")
    conn = vtables.connect(path, user="ann")
    with pytest.raises(apsw.SQLError, match="no such function"):
        conn.execute("SELECT functions_fdw_greet('x')").fetchall()
    conn.execute("CREATE EXTENSION functions_fdw")
    assert conn.execute("SELECT functions_fdw_greet('x')").fetchall() == [("hello x",)]
    assert FunctionsFdw.calls == ["ann"]
    # another connection opening the database has them too
    other = vtables.connect(path, user="bob")
    assert other.execute("SELECT functions_fdw_greet('y')").fetchall() == [("hello y",)]
    assert FunctionsFdw.calls == ["ann", "bob"]
    # gone with the extension, as in PostgreSQL
    conn.execute("DROP EXTENSION functions_fdw")
    for c in (conn, other):
        with pytest.raises(vtables.UndefinedFunctionError) as err:
            c.execute("SELECT functions_fdw_greet('x')").fetchall()
        assert err.value.sqlstate == "42883"
        assert "function functions_fdw_greet() does not exist" in str(err.value)
    # and with a rolled-back CREATE EXTENSION
    conn.execute("BEGIN; CREATE EXTENSION functions_fdw")
    assert conn.execute("SELECT functions_fdw_greet('z')").fetchall() == [("hello z",)]
    conn.execute("ROLLBACK")
    with pytest.raises(vtables.UndefinedFunctionError):
        conn.execute("SELECT functions_fdw_greet('z')").fetchall()
    other.close()
    conn.close()


# ------------------------------------------------------------ the toolkit


class ContextFdw(ForeignDataWrapper):
    """Reads its context in ``__init__`` (given at construction) and types its options."""

    name = "context_fdw"
    option_specs = (
        vtables.OptionSpec("rows", {"server", "table"}, int, default=2),
        vtables.OptionSpec("loud", {"server"}, bool, default=False),
        wrapper_api.COLUMN_NAME,
        wrapper_api.KEY,
    )
    seen: list = []

    def __init__(self, options, columns):
        super().__init__(options, columns)
        self.seen.append((self.table_name, self.server_name, self.context.user))

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        self.context.shared["scans"] = self.context.shared.get("scans", 0) + 1
        for n in range(self.settings["rows"]):
            yield {c: n for c in columns}


class OldStyleFdw(ForeignDataWrapper):
    """Written against the API before TableContext: attributes set after __init__."""

    name = "old_style_fdw"
    rowid_column = "n"

    def __init__(self, options, columns):
        super().__init__(options, columns)
        self.at_init = self.table_name

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        self.session["table"] = self.table_name
        yield {c: 1 for c in columns}


@pytest.fixture
def toolkit(tmp_path):
    vtables.register_wrapper(ContextFdw)
    vtables.register_wrapper(OldStyleFdw)
    ContextFdw.seen = []
    conn = vtables.connect(str(tmp_path / "t.db"), user="ann")
    yield conn
    conn.close()
    vtables.unregister_wrapper("context_fdw")
    vtables.unregister_wrapper("old_style_fdw")


def test_the_context_is_there_at_construction(toolkit):
    toolkit.execute("""
        CREATE EXTENSION context_fdw;
        CREATE SERVER s FOREIGN DATA WRAPPER context_fdw OPTIONS (rows '5');
        CREATE FOREIGN TABLE t (n integer OPTIONS (key 'true'), m integer) SERVER s
            OPTIONS (rows '3');
    """)
    assert toolkit.execute("SELECT n FROM t").fetchall() == [(0,), (1,), (2,)]
    assert ContextFdw.seen == [("t", "s", "ann")]
    wrapper, _ = toolkit.session.wrapper_for("t")
    assert isinstance(wrapper.context, wrapper_api.TableContext)
    assert wrapper.context.shared is toolkit.session.remote["s"]
    assert toolkit.session.remote["s"]["scans"] == 1
    # typed, defaults applied, the table's value winning over the server's
    assert dict(wrapper.settings) == {"rows": 3, "loud": False}
    assert wrapper.column_option("n", "key") is True
    assert wrapper.column_option("m", "key") is None
    assert wrapper.identity_columns() == ("n",)
    assert wrapper.remote_names == {"n": "n", "m": "m"}


def test_an_old_style_wrapper_keeps_working(toolkit):
    toolkit.execute("""
        CREATE EXTENSION old_style_fdw;
        CREATE SERVER o FOREIGN DATA WRAPPER old_style_fdw;
        CREATE FOREIGN TABLE old (n integer) SERVER o;
    """)
    assert toolkit.execute("SELECT n FROM old").fetchall() == [(1,)]
    wrapper, _ = toolkit.session.wrapper_for("old")
    assert wrapper.at_init == "old"
    assert toolkit.session.remote["o"] == {"table": "old"}
    assert wrapper.identity_columns() == ("n",)
    # built on its own, as tests do, then given its attributes one by one
    alone = OldStyleFdw({}, {})
    assert (alone.at_init, alone.table_name, alone.database_path) == ("", "", "")
    alone.table_name = "mine"
    alone.session = {}
    assert list(alone.scan([], ["n"])) == [{"n": 1}]
    assert alone.session == {"table": "mine"} and alone.context.table_name == "mine"
    assert OldStyleFdw({}, {}).table_name == ""  # the class default is untouched


def test_an_option_that_does_not_convert_keeps_its_default():
    wrapper = ContextFdw({"rows": "many"}, {})
    assert wrapper.settings["rows"] == 2


def test_import_schema_hands_import_tables_one_request():
    got = []

    class Importing(ForeignDataWrapper):
        name = "importing_fdw"

        @classmethod
        def import_tables(cls, request):
            got.append(request)
            return []

    Importing.import_schema(
        "s", {"a": "1"}, {"a": "2"}, {"import_not_null": "false"}, "EXCEPT", ["x"]
    )
    (request,) = got
    assert request.connect_options == {"a": "2"}
    assert request.wanted("y") and not request.wanted("x")
    assert request.flag("import_not_null", True) is False
    assert request.flag("import_default", False) is False


def test_shared_helpers(tmp_path):
    db = str(tmp_path / "sub" / "app.db")
    assert wrapper_api.resolve_path("x.db", db) == str(tmp_path / "sub" / "x.db")
    assert wrapper_api.resolve_path("/abs/x.db", db) == "/abs/x.db"
    assert wrapper_api.resolve_path("file:x.db?mode=ro", db) == "file:x.db?mode=ro"
    assert wrapper_api.resolve_path("x.csv", db, "data") == str(tmp_path / "sub" / "data" / "x.csv")
    assert wrapper_api.quote_identifier('a"b') == '"a""b"'
    text = "connect failed: password=hunter2 host=h (secret s3cr3t)"
    assert wrapper_api.scrub_text(text, ["s3cr3t"]) == (
        "connect failed: password=******** host=h (secret ********)"
    )


def test_resolve_path_normalises_absolute_paths_and_may_refuse_uris(tmp_path):
    db = str(tmp_path / "sub" / "app.db")
    assert wrapper_api.resolve_path("/abs/../x.db", db) == "/x.db"
    # a source whose names are never URIs (file_fdw's filename) resolves them as files
    assert wrapper_api.resolve_path("file:x.csv", db, uris=False) == str(
        tmp_path / "sub" / "file:x.csv"
    )
    assert wrapper_api.resolve_path("x.csv", "", "d") == os.path.join(os.getcwd(), "d", "x.csv")
