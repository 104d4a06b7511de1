"""Sphinx directives that render documentation from the code, so it cannot drift.

``sqlmed-wrapper NAME``
    A whole page for a builtin wrapper: the module docstring of
    ``vtables.wrappers.NAME`` (its Purpose / Options / Pushdown / Example
    sections), what the wrapper class can do, and a table of its
    ``option_specs``.

``sqlmed-catalog-view NAME``
    The columns of one catalog view, as ``PRAGMA table_info`` reports them on
    a fresh ``vtables`` connection.
"""

from __future__ import annotations

import importlib
import inspect
import re
import textwrap
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

import vtables
from vtables.wrapper import KIND_NAMES, KINDS, ForeignDataWrapper, OptionSpec

_UNDERLINE = re.compile(r"^([-=~^\"'`#*+])\1{2,}\s*$")


def wrapper_class(name: str) -> tuple[Any, type[ForeignDataWrapper]]:
    """The module ``vtables.wrappers.NAME`` and the wrapper class it defines."""
    module = importlib.import_module(f"vtables.wrappers.{name}")
    for _, obj in inspect.getmembers(module, inspect.isclass):
        if (
            issubclass(obj, ForeignDataWrapper)
            and obj.__module__ == module.__name__
            and obj.name == name
        ):
            return module, obj
    raise LookupError(f"vtables.wrappers.{name} defines no wrapper class named {name!r}")


def docstring_sections(doc: str) -> tuple[str, list[tuple[str, str]]]:
    """Split a wrapper module docstring into its summary and titled sections.

    Two layouts are in use: numpydoc-like titles underlined with dashes, and
    titles followed by an indented body.  Both come out as (title, body).
    """
    lines = inspect.cleandoc(doc).splitlines()
    summary_lines: list[str] = []
    while lines and lines[0].strip():
        summary_lines.append(lines.pop(0))
    summary = " ".join(s.strip() for s in summary_lines)
    sections: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        at_margin = bool(line.strip()) and not line[0].isspace()
        if at_margin and _UNDERLINE.match(nxt):
            sections.append((line.strip(), []))
            i += 2
            continue
        if at_margin and nxt.strip() and nxt[0].isspace() and not sections_body_open(sections):
            sections.append((line.strip(), []))
            i += 1
            continue
        if not sections:
            sections.append(("", []))
        sections[-1][1].append(line)
        i += 1
    return summary, [(title, textwrap.dedent("\n".join(body)).strip()) for title, body in sections]


def sections_body_open(sections: list[tuple[str, list[str]]]) -> bool:
    """True while the last section's body is an unindented (underlined-title) one.

    In that layout a line at the margin followed by an indented line is body
    text (a definition list, say), not a new title.
    """
    if not sections:
        return False
    return any(line and not line[0].isspace() for line in sections[-1][1])


def _literal(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value).replace("\\", "\\\\").replace("`", "\\`")
    return f"``{text}``" if text else '``""``'


def option_rows(specs: tuple[OptionSpec, ...]) -> list[list[str]]:
    def order(spec: OptionSpec) -> tuple[int, str]:
        return (min(KINDS.index(k) for k in spec.kinds), spec.name)

    rows = []
    for spec in sorted(specs, key=order):
        kinds = ", ".join(KIND_NAMES[k] for k in KINDS if k in spec.kinds)
        doc = spec.doc.strip()
        if doc and not doc.endswith("."):
            doc += "."
        doc = doc[:1].upper() + doc[1:].replace("\\", "\\\\")
        if spec.choices:
            choices = ", ".join(map(_literal, spec.choices))
            doc = (doc + " " if doc else "") + f"One of {choices}."
        rows.append(
            [
                _literal(spec.name),
                kinds,
                spec.type.__name__,
                _literal(spec.default),
                "yes" if spec.required else "",
                "yes" if spec.secret else "",
                doc,
            ]
        )
    return rows


def list_table(header: list[str], rows: list[list[str]], widths: str = "auto") -> list[str]:
    out = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [header, *rows]:
        for j, cell in enumerate(row):
            out.append((("   * - " if j == 0 else "     - ") + cell).rstrip())
    return out


def writes(cls: type[ForeignDataWrapper]) -> str:
    """Which of INSERT, UPDATE and DELETE the wrapper takes."""
    if not cls.writable():
        return "no"
    verbs = (
        ["INSERT"]
        if cls.insert is not ForeignDataWrapper.insert
        or (cls.insert_many is not ForeignDataWrapper.insert_many)
        else []
    )
    if cls.rowid_column is not None or "key" in cls.specs_for("column"):
        verbs += [
            v
            for v in ("UPDATE", "DELETE")
            if getattr(cls, v.lower()) is not getattr(ForeignDataWrapper, v.lower())
        ]
    return ", ".join(verbs) or "no"


def capabilities(cls: type[ForeignDataWrapper]) -> list[str]:
    def overrides(attr: str) -> bool:
        owner = next(k for k in cls.__mro__ if attr in vars(k))
        return owner is not ForeignDataWrapper

    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    return [
        f"- Installed by ``CREATE EXTENSION {cls.name};``"
        f" (wrapper class ``{cls.__module__}.{cls.__qualname__}``).",
        f"- Writes: {writes(cls)}.",
        f"- ``IMPORT FOREIGN SCHEMA``: "
        f"{yes(overrides('import_schema') or overrides('import_tables'))}.",
        f"- Pushdown of quals: {yes(overrides('honours'))};"
        f" of ORDER BY: {yes(overrides('can_sort'))};"
        f" of LIMIT/OFFSET: {yes(overrides('can_limit'))}.",
    ]


def wrapper_page(name: str) -> list[str]:
    """The reStructuredText of a wrapper's page."""
    module, cls = wrapper_class(name)
    if not module.__doc__:
        raise ValueError(f"vtables.wrappers.{name} has no module docstring")
    summary, sections = docstring_sections(module.__doc__)
    prefix = f"{name}:"
    if summary.startswith(prefix):
        summary = summary[len(prefix) :].strip()
    summary = summary[:1].upper() + summary[1:]
    out = [name, "=" * len(name), "", summary, ""]
    out += ["Capabilities", "-" * 12, "", *capabilities(cls), ""]
    for title, body in sections:
        if title:
            out += [title, "-" * len(title), ""]
        # literal blocks of the docstring are SQL
        out += [".. code-block:: sql" if ln.strip() == "::" else ln for ln in body.splitlines()]
        out.append("")
    out += ["Option reference", "-" * 16, ""]
    out += [
        f"Generated from ``{cls.__qualname__}.option_specs``: an option is accepted only on"
        " the object kinds listed; ``CREATE`` and ``ALTER`` refuse unknown options, values"
        " that do not convert to the type and missing required options.  Secret values are"
        " masked everywhere they could be shown (see :doc:`/security`).",
        "",
    ]
    header = ["Option", "Object kinds", "Type", "Default", "Required", "Secret", "Description"]
    out += list_table(header, option_rows(cls.option_specs), "14 16 6 10 8 6 40")
    return out


class _RstDirective(SphinxDirective):
    def render(self, lines: list[str], source: str) -> list[nodes.Node]:
        content = StringList()
        for i, line in enumerate(lines):
            content.append(line, source, i)
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, content, node)
        return node.children


class WrapperDirective(_RstDirective):
    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        module, _ = wrapper_class(name)
        self.env.note_dependency(module.__file__)
        self.env.note_dependency(inspect.getsourcefile(ForeignDataWrapper))
        return self.render(wrapper_page(name), f"<docstring of vtables.wrappers.{name}>")


class CatalogViewDirective(_RstDirective):
    """The view's columns, each with the description given as ``column: text``
    in the content; a column the view lacks, or one left undescribed, is an error."""

    required_arguments = 1
    has_content = True

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        conn = vtables.connect(":memory:")
        try:
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({name})")]
        finally:
            conn.close()
        if not columns:
            raise self.error(f"{name} is not a catalog view")
        described: dict[str, str] = {}
        for line in self.content:
            if not line.strip():
                continue
            if line[:1].isspace() and described:
                last = list(described)[-1]
                described[last] += " " + line.strip()
                continue
            column, sep, text = line.partition(":")
            if not sep:
                raise self.error(f"expected 'column: description', got {line!r}")
            described[column.strip()] = text.strip()
        unknown = [c for c in described if c not in columns]
        if unknown:
            raise self.error(f"{name} has no column(s) {', '.join(unknown)}")
        missing = [c for c in columns if c not in described]
        if missing:
            raise self.error(f"columns of {name} not described: {', '.join(missing)}")
        rows = [[f"``{c}``", described[c]] for c in columns]
        return self.render(list_table(["Column", "Meaning"], rows, "25 75"), f"<view {name}>")


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("sqlmed-wrapper", WrapperDirective)
    app.add_directive("sqlmed-catalog-view", CatalogViewDirective)
    return {"version": vtables.__version__, "parallel_read_safe": True}
