"""Every code example in docs/ runs.

The fenced blocks of each page run in order, in a fresh temporary directory
holding the files the examples name (``setup_files``), sharing one Python
namespace per page:

- ``python`` blocks are executed;
- ``sql`` blocks run on a ``vtables`` connection to ``app.db``;
- ``console`` blocks run their ``$ sqlmed ...`` lines through the command's
  ``main`` (any other command must be marked);
- other languages (``ini``, ``text``) are not code and are not run.

A MyST comment on the line just before a block changes that:

- ``% docs-test: skip REASON``: not run (a PostgreSQL server, an
  interactive shell, an abridged listing); the reason is required;
- ``% docs-test: parse-only REASON``: SQL parsed with ``vtables.parse``,
  not run;
- ``% docs-test: raises NAME``: must raise an exception of class ``NAME``.

The examples of the wrapper modules' docstrings (rendered on the generated
wrapper pages) are parsed, and run where they need only local files.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import inspect
import io
import re
import shlex
import sqlite3
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import vtables
from vtables import cli, views
from vtables import wrapper as wrapper_api

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)
MARKER = re.compile(r"^%\s*docs-test:\s*(skip|parse-only|raises)\b\s*(.*)$")
FENCE = re.compile(r"^(`{3,}|~{3,})\s*([^\s`]*)")
RUN_LANGUAGES = {"python", "sql", "console"}


@dataclass
class Block:
    page: str
    line: int
    language: str
    code: str
    action: str = "run"
    argument: str = ""

    def __str__(self) -> str:
        return f"{self.page}:{self.line} ({self.language})"


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a MyST page (directives such as ``{toctree}`` excluded)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    name = str(path.relative_to(DOCS))
    found: list[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, info = match.group(1), match.group(2)
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        if info.startswith("{"):
            continue
        block = Block(name, start + 1, info.lower(), "\n".join(body) + "\n")
        marker = MARKER.match(lines[start - 1]) if start else None
        if marker:
            block.action, block.argument = marker.group(1), marker.group(2).strip()
            if block.action in ("skip", "parse-only") and not block.argument:
                raise AssertionError(f"{block}: a {block.action} marker needs a reason")
        found.append(block)
    return found


MYAPP_MODELS = """\
import sqlalchemy as sa
from sqlalchemy import orm

metadata = sa.MetaData()


class Base(orm.DeclarativeBase):
    pass
"""


def setup_files(directory: Path) -> None:
    """The files the examples read: a CSV file, a second SQLite database and
    ``myapp.models``, the application module the Alembic env.py imports."""
    (directory / "myapp").mkdir()
    (directory / "myapp" / "__init__.py").write_text("", encoding="utf-8")
    (directory / "myapp" / "models.py").write_text(MYAPP_MODELS, encoding="utf-8")
    (directory / "people.csv").write_text(
        "id,name,city\n1,Ada,London\n2,Grace,New York\n3,Linus,Helsinki\n", encoding="utf-8"
    )
    (directory / "events.ndjson").write_text(
        '{"id": 1, "type": "click", "where": {"city": "Oslo"}, "tags": ["new"]}\n'
        '{"id": 2, "type": "view", "where": {"city": "Oslo"}}\n'
        '{"id": 3, "type": "click", "where": {"city": "Lima"}, "tags": []}\n',
        encoding="utf-8",
    )
    (directory / "data").mkdir()
    pq.write_table(
        pa.table({"id": [999, 1001, 1002], "fare": [7.5, 12.0, 3.25], "zone": ["a", "b", "a"]}),
        directory / "data" / "trips.parquet",
    )
    with contextlib.closing(sqlite3.connect(directory / "archive.db")) as db, db:
        db.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL,"
            " total REAL NOT NULL, placed TEXT NOT NULL)"
        )
        db.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            [
                (1, "Ada", 12.5, "2023-11-02"),
                (2, "Grace", 40.0, "2024-01-15"),
                (3, "Ada", 7.25, "2024-02-01"),
                (4, "Linus", 99.0, "2024-03-09"),
            ],
        )


class Page:
    """The state the blocks of one page share."""

    MODULE = "sqlmed_docs_page"

    def __init__(self) -> None:
        # a real module, so that SQLAlchemy can resolve the ORM's annotations
        self.module = types.ModuleType(self.MODULE)
        sys.modules[self.MODULE] = self.module
        self.namespace = self.module.__dict__
        self.conn: vtables.Connection | None = None

    def sql(self, code: str) -> None:
        if self.conn is None:
            self.conn = vtables.connect("app.db")
        for _ in self.conn.execute(code):
            pass

    def run(self, block: Block) -> None:
        if block.language == "python":
            exec(compile(block.code, str(block), "exec"), self.namespace)
        elif block.language == "sql":
            self.sql(block.code)
        elif block.language == "console":
            self.console(block)

    def console(self, block: Block) -> None:
        for line in block.code.splitlines():
            if not line.startswith("$ "):
                continue
            argv = shlex.split(line[2:])
            if argv[0] != "sqlmed":
                raise AssertionError(f"{block}: cannot run {argv[0]!r}; mark the block")
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = cli.main(argv[1:])
            assert status == 0, f"{block}: {line} exited {status}: {err.getvalue()}"

    def close(self) -> None:
        for value in self.namespace.values():
            dispose = getattr(value, "dispose", None)
            if callable(dispose) and type(value).__name__ == "Engine":
                dispose()
        if self.conn is not None:
            self.conn.close()
        sys.modules.pop(self.MODULE, None)


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_page_examples(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    setup_files(tmp_path)
    registered = dict(wrapper_api._registered)  # pages may register wrappers
    page = Page()
    try:
        for block in blocks(path):
            if block.action == "skip" or block.language not in RUN_LANGUAGES:
                continue
            if block.action == "parse-only":
                assert block.language == "sql", f"{block}: parse-only is for SQL blocks"
                vtables.parse(block.code)
            elif block.action == "raises":
                with pytest.raises(Exception) as info:
                    page.run(block)
                names = [k.__name__ for k in type(info.value).__mro__]
                assert block.argument in names, f"{block}: raised {info.value!r}"
            else:
                try:
                    page.run(block)
                except Exception as err:
                    raise AssertionError(f"{block} failed: {err!r}") from err
    finally:
        page.close()
        for module in ("myapp.models", "myapp"):
            sys.modules.pop(module, None)
        wrapper_api._registered.clear()
        wrapper_api._registered.update(registered)


def test_markers_are_few():
    """Blocks that cannot run offline stay the exception."""
    every = [b for p in PAGES for b in blocks(p) if b.language in RUN_LANGUAGES]
    skipped = [b for b in every if b.action in ("skip", "parse-only")]
    assert len(skipped) * 3 < len(every), [str(b) for b in skipped]


# ------------------------------------------------------------ generated pages

WRAPPERS = (
    "file_fdw",
    "sqlite_fdw",
    "postgres_fdw",
    "sqlalchemy_fdw",
    "parquet_fdw",
    "json_fdw",
    "dataframe_fdw",
)
# Examples of wrapper docstrings that need more than local files.
NOT_RUN = {
    "file_fdw": "reads /srv/data, outside the test directory",
    "postgres_fdw": "needs a PostgreSQL server",
    "sqlalchemy_fdw": "needs a PostgreSQL server",
    "dataframe_fdw": "needs a frame the program registers (run by"
    " tests/vtables/wrappers/test_dataframe_fdw.py::test_the_docstring_example_runs)",
}


def docstring_examples(name: str) -> list[str]:
    # the wrapper's module, or its package's __init__
    spec = importlib.util.find_spec(f"vtables.wrappers.{name}")
    assert spec is not None and spec.origin is not None, name
    source = Path(spec.origin).read_text("utf-8")
    doc = inspect.cleandoc(ast.get_docstring(ast.parse(source), clean=False) or "")
    examples = []
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != "::":
            continue
        indent = len(line) - len(line.lstrip())
        body = []
        for nxt in lines[i + 1 :]:
            if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                break
            body.append(nxt)
        examples.append(inspect.cleandoc("\n".join(body)))
    return examples


@pytest.mark.parametrize("name", WRAPPERS)
def test_wrapper_docstring_examples(name, tmp_path, monkeypatch):
    examples = docstring_examples(name)
    assert examples, f"vtables.wrappers.{name} has no example"
    for sql in examples:
        vtables.parse(sql)
    if name in NOT_RUN:
        return
    monkeypatch.chdir(tmp_path)
    setup_files(tmp_path)
    conn = vtables.connect(str(tmp_path / "app.db"))
    try:
        for sql in examples:
            for _ in conn.execute(sql):
                pass
    finally:
        conn.close()


@pytest.mark.parametrize("name", WRAPPERS)
def test_wrapper_pages_generate(name):
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import sqlmed_docs
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    text = "\n".join(sqlmed_docs.wrapper_page(name))
    cls = sqlmed_docs.wrapper_class(name)[1]
    for spec in cls.option_specs:
        assert f"``{spec.name}``" in text
    page = (DOCS / "wrappers" / f"{name}.rst").read_text(encoding="utf-8")
    assert page.split() == ["..", "sqlmed-wrapper::", name]


def test_every_catalog_view_is_documented():
    text = (DOCS / "reference" / "catalog.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"\.\. sqlmed-catalog-view:: (\w+)", text))
    assert documented == {view.view_name for view in views.VIEWS}
