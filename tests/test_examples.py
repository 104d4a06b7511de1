"""The examples in examples/ run and print what they claim."""

from __future__ import annotations

import importlib.util
import os

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_federated_join(tmp_path, capsys):
    rows = load("federated_join").main(str(tmp_path))
    assert rows == [
        ("United States", "Margaret", 2, 315.0),
        ("Europe", "Ada", 2, 200.5),
        ("United States", "Grace", 1, 42.0),
        ("Europe", "Linus", 1, 7.25),
    ]
    out = capsys.readouterr().out
    assert "Foreign Scan on customers (server files, wrapper file_fdw)" in out
    assert 'WHERE "customer" = ?' in out
    # running it again on the same directory works (IF NOT EXISTS everywhere)
    assert load("federated_join").main(str(tmp_path)) == rows
