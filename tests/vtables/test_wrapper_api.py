"""Builtin wrappers keep the base class's signatures (Multicorn's drifted)."""

from __future__ import annotations

import inspect
from importlib.metadata import entry_points

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
