"""Imports point down: sqlmed_dialect -> vtables -> vtables.wrappers (DESIGN.md).

Read from the source with ``ast``, so a lazy import inside a function counts
as much as one at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports(path: Path) -> set[str]:
    """The absolute names of every module ``path`` imports."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package.replace(".", "/")).glob("*.py"))


def test_the_engine_never_imports_the_dialect():
    for path in sources("vtables") + sources("vtables.wrappers"):
        bad = {n for n in imports(path) if n.split(".")[0] == "sqlmed_dialect"}
        assert not bad, f"{path.name} imports {bad}"


def test_the_engine_core_never_imports_sqlalchemy_or_a_builtin_wrapper():
    for path in sources("vtables"):
        found = imports(path)
        assert not {n for n in found if n.split(".")[0] == "sqlalchemy"}, path.name
        assert not {n for n in found if n.startswith("vtables.wrappers.")}, path.name


def test_wrappers_use_the_wrapper_api_not_the_engine_around_it():
    # a wrapper sees what the API hands it, never the connection or the catalog
    engine = {"vtables.connection", "vtables.commands", "vtables.catalog", "vtables.module"}
    engine |= {"vtables.cli", "vtables.explain", "vtables.dump"}
    for path in sources("vtables.wrappers"):
        found = imports(path)
        assert not found & engine, f"{path.name} imports {found & engine}"
        assert not {n for n in found if n.startswith("vtables.wrappers.")} - {
            f"vtables.wrappers.{path.stem}"
        }, f"{path.name} imports another wrapper"
