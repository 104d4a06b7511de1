"""Builtin wrappers keep the base class's signatures (Multicorn's drifted)."""

from __future__ import annotations

import inspect
from importlib.metadata import entry_points

import apsw
import pytest

import vtables
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
