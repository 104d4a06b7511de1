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
    """The modules of a package, those of its subpackages included."""
    return sorted((ROOT / package.replace(".", "/")).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def engine_module(name: str) -> str | None:
    """The engine-core module an imported name belongs to (``vtables.catalog.MASK``
    belongs to ``catalog``), or None for anything else."""
    parts = name.split(".")
    if parts[0] != "vtables" or len(parts) < 2 or parts[1] == "wrappers":
        return None
    here = ROOT / "vtables" / parts[1]
    return parts[1] if here.with_suffix(".py").exists() or here.is_dir() else None


def engine_sources() -> dict[str, list[Path]]:
    """The engine core's modules by layer name: a module, or a package's files."""
    found: dict[str, list[Path]] = {}
    for path in sorted((ROOT / "vtables").rglob("*.py")):
        parts = path.relative_to(ROOT / "vtables").parts
        if parts[0] == "wrappers":
            continue
        found.setdefault(parts[0].removesuffix(".py"), []).append(path)
    return found


#: The engine core, lowest layer first: a module imports modules of its own
#: layer or below, never above (DESIGN.md, "Layers").
ENGINE_LAYERS = (
    {"errors", "sqltext", "types", "speedups", "files"},  # no engine imports at all
    {
        "wrapper",
        "frames",
        "semantics",
        "remote",
        "remotesql",
        "secrets",
        "syntax",
        "parser",
        "printer",
        "grammar",
    },  # the wrapper API, the language
    {"catalog", "inserts", "dump"},  # the catalog tables, text rewriting
    {"session"},  # per-connection state
    {
        "plan",
        "materialize",
        "module",
        "commands",
        "views",
        "statements",
        "explain",
    },  # what SQLite and statements call
    {"connection"},  # the APSW connection, the router
    {"output", "shell", "cli", "__init__", "__main__"},  # what users call
)


def test_the_engine_never_imports_the_dialect():
    for path in sources("vtables"):
        bad = {n for n in imports(path) if n.split(".")[0] == "sqlmed_dialect"}
        assert not bad, f"{path.name} imports {bad}"


def test_the_engine_core_never_imports_sqlalchemy_or_a_builtin_wrapper():
    for path in (p for paths in engine_sources().values() for p in paths):
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
        # a wrapper package's modules import one another, not another wrapper
        own = module_name(path).split(".")[:3]
        others = {n for n in found if n.startswith("vtables.wrappers.") and n.split(".")[:3] != own}
        assert not others, f"{path} imports another wrapper: {others}"


def test_every_engine_module_has_a_layer():
    layered = set().union(*ENGINE_LAYERS)
    modules = set(engine_sources())
    assert modules <= layered, modules - layered
    assert not {"catalog", "session", "commands"} - modules  # the layers name real modules


def test_engine_imports_point_down_only():
    rank = {name: i for i, layer in enumerate(ENGINE_LAYERS) for name in layer}
    for unit, paths in engine_sources().items():
        for path in paths:
            for name in imports(path):
                target = engine_module(name)
                if target is None or target == unit:
                    continue
                assert rank[target] <= rank[unit], f"{path} imports {target}, a layer above it"


def test_engine_imports_have_no_cycle():
    graph = {
        unit: {
            m
            for path in paths
            for n in imports(path)
            if (m := engine_module(n)) not in (None, unit)
        }
        for unit, paths in engine_sources().items()
    }
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 2:
            return
        assert state.get(node) != 1, "import cycle: " + " -> ".join([*trail, node])
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, [*trail, node])
        state[node] = 2

    for node in sorted(graph):
        visit(node, [])


def test_the_tests_mirror_the_packages():
    # tests/<package path>/ holds the tests of that package: tests/vtables,
    # tests/vtables/wrappers (test_<wrapper>*.py), tests/sqlmed_dialect, ...
    for folder in sorted(p for p in (ROOT / "tests").rglob("*") if p.is_dir()):
        relative = folder.relative_to(ROOT / "tests")
        if relative.parts[0] in ("compliance", "__pycache__") or "__pycache__" in relative.parts:
            continue
        assert (ROOT / relative / "__init__.py").exists(), f"tests/{relative} mirrors no package"
    wrappers = {p.stem for p in (ROOT / "vtables" / "wrappers").iterdir()} - {"__init__"}
    for path in (ROOT / "tests" / "vtables" / "wrappers").glob("test_*.py"):
        assert any(path.stem.startswith(f"test_{w}") for w in wrappers), path.name
