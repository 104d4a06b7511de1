"""The catalog's objects as Python sees them, with their secrets masked in reprs,
and the SQL expressions (types, defaults, CHECKs) their text stands for."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, NamedTuple

from sqlglot import exp

from .. import grammar, sqltext
from .. import wrapper as wrapper_api
from ..errors import CatalogError, SQLMedError
from ..secrets import MASK

PUBLIC = "public"

# ------------------------------------------------------------------ objects
#
# Every catalog object knows which wrapper's option specs decide which of its
# options are secret (``secret_rule``: that wrapper's validator and handler
# names, filled in when the object is loaded); ``is_secret`` applies the one
# rule, and the reprs mask by it.


#: (validator, handler) of the wrapper whose option specs say which options are
#: secret: kept out of reprs and comparisons
Rule = tuple[str | None, str | None]


def _rule_field() -> Any:
    return field(default=(None, None), repr=False, compare=False)


class _Masked:
    kind: ClassVar[str]

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):  # type: ignore[arg-type]
            if not f.repr:
                continue
            value = shown_options(self) if f.name == "options" else getattr(self, f.name)  # type: ignore[arg-type]
            parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class Extension(NamedTuple):
    name: str
    version: str | None


@dataclass(repr=False)
class Wrapper(_Masked):
    kind: ClassVar[str] = "wrapper"
    name: str
    handler: str | None
    validator: str | None
    options: dict[str, str]
    extension: str | None
    comment: str | None


@dataclass(repr=False)
class Server(_Masked):
    kind: ClassVar[str] = "server"
    name: str
    fdw: str
    type: str | None
    version: str | None
    options: dict[str, str]
    comment: str | None
    secret_rule: Rule = _rule_field()


@dataclass(repr=False)
class UserMapping(_Masked):
    kind: ClassVar[str] = "user_mapping"
    user: str
    server: str
    options: dict[str, str]
    secret_rule: Rule = _rule_field()


@dataclass(repr=False)
class Column(_Masked):
    kind: ClassVar[str] = "column"
    name: str
    type: str
    not_null: bool = False
    default: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    comment: str | None = None
    secret_rule: Rule = _rule_field()
    #: the column's collation: "C" (bytes, as BINARY), BINARY, NOCASE or RTRIM
    collation: str | None = None


@dataclass
class CheckConstraint:
    """A CHECK constraint of a foreign table: declared, never enforced (as in
    PostgreSQL, an assumption about the remote data); ``check_sql`` is the
    expression as the grammar prints it; ``validated`` is False for NOT VALID."""

    name: str
    check_sql: str
    validated: bool = True


@dataclass(repr=False)
class ForeignTable(_Masked):
    kind: ClassVar[str] = "table"
    name: str
    server: str
    options: dict[str, str]
    comment: str | None
    columns: list[Column]
    secret_rule: Rule = _rule_field()
    constraints: list[CheckConstraint] = field(default_factory=list)

    def column(self, name: str) -> Column | None:
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)


CatalogObject = Wrapper | Server | UserMapping | ForeignTable | Column


def is_secret(obj: CatalogObject, key: str) -> bool:
    """Whether option ``key`` of a catalog object must never be shown: the one
    rule for views, dump, the ``sqlmed`` command and reprs.  The object's
    wrapper's option spec decides (its validator's, else its handler's); with
    no wrapper known, the usual secret names are."""
    if isinstance(obj, Wrapper):
        validator, handler = obj.validator, obj.handler
    else:
        validator, handler = obj.secret_rule
    return wrapper_api.is_secret(validator, obj.kind, key, handler)


def shown_options(obj: CatalogObject) -> dict[str, str]:
    """An object's options as they may be shown: secret values masked."""
    return {k: MASK if is_secret(obj, k) else v for k, v in obj.options.items()}


# ------------------------------------------------------------- row decoding


def display(name: object) -> str:
    """A name as messages and dump comments show it: a quoted identifier on one
    line (control characters escaped), so that no name can end a comment."""
    if name is None:
        return "NULL"
    if not isinstance(name, str):
        return "(a value that is not text)"
    return one_line(sqltext.quote_name(name))


def one_line(text: str) -> str:
    """``text`` with every character that is not printable (line breaks
    included, whatever the convention) escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


COLLATIONS = {"c": "C", "posix": "C", "binary": "BINARY", "nocase": "NOCASE", "rtrim": "RTRIM"}
SQLITE_COLLATIONS = {"C": "BINARY", "BINARY": "BINARY", "NOCASE": "NOCASE", "RTRIM": "RTRIM"}


def column_type(table: ForeignTable, column: Column) -> exp.Expression:
    """A column's type as an expression for the printer; CatalogError when the
    catalog's text is not exactly one data type."""
    kind = _parse_type(column.type)
    if kind is None:
        raise _column_damaged(table, column, "type is not a data type")
    return kind.copy()


def column_default(table: ForeignTable, column: Column) -> exp.Expression | None:
    """A column's default as an expression for the printer (None if it has
    none); CatalogError when the catalog's text is not one expression."""
    if column.default is None:
        return None
    default = _parse_default(column.default)
    if default is None:
        raise _column_damaged(table, column, "default is not an expression")
    return default.copy()


@functools.lru_cache(maxsize=1024)
def _parse_type(text: str) -> exp.Expression | None:
    try:
        tree = grammar.parse_one(f"CREATE FOREIGN TABLE t (c {text}) SERVER s")
    except SQLMedError:
        return None
    columns = tree.args.get("columns") if isinstance(tree, grammar.CreateForeignTable) else None
    if not columns or len(columns) != 1:
        return None
    if {k for k, v in columns[0].args.items() if v} != {"this", "kind"}:
        return None  # the text went on into options, a default, NOT NULL...
    kind = columns[0].args["kind"]
    return kind if kind.args.get("text") == text else None


def _one_action(action: str, kind: str) -> grammar.FtAction | None:
    """The one action of ``ALTER FOREIGN TABLE t <action>`` if it is of ``kind``."""
    try:
        tree = grammar.parse_one(f"ALTER FOREIGN TABLE t {action}")
    except SQLMedError:
        return None
    actions = tree.args.get("actions") if isinstance(tree, grammar.AlterForeignTable) else None
    if not actions or len(actions) != 1 or actions[0].args.get("kind") != kind:
        return None
    return actions[0]


@functools.lru_cache(maxsize=1024)
def _parse_default(text: str) -> exp.Expression | None:
    action = _one_action(f"ALTER c SET DEFAULT {text}", "SET_DEFAULT")
    return None if action is None else action.args["default"]


def check_expression(table: ForeignTable, check: CheckConstraint) -> exp.Expression:
    """A CHECK constraint's expression for the printer; CatalogError when the
    catalog's text is not one expression."""
    tree = parse_check(check.check_sql)
    if tree is None:
        label = f"constraint {display(check.name)} of foreign table {display(table.name)}"
        raise damaged(label, "check_sql is not an expression", "sqlmed_fconstraint")
    return tree.copy()


@functools.lru_cache(maxsize=1024)
def parse_check(text: str) -> exp.Expression | None:
    """The expression of ``CHECK (text)``, or None if the text is not exactly one."""
    action = _one_action(f"ADD CHECK ({text})", "ADD_CONSTRAINT")
    if action is None:
        return None
    check = action.this
    if check.args.get("not_valid") or check.this is not None:
        return None
    return check.args["expression"]


def _column_damaged(table: ForeignTable, column: Column, problem: str) -> CatalogError:
    label = f"column {display(column.name)} of foreign table {display(table.name)}"
    return damaged(label, problem, "sqlmed_fcolumn")


def damaged(label: str, problem: str, table: str) -> CatalogError:
    return CatalogError(
        f"catalog row for {label} is damaged: {problem}",
        hint=f"Repair or delete the row of {table} with SQL, or recreate the object from a dump.",
    )


__all__ = [
    "COLLATIONS",
    "PUBLIC",
    "SQLITE_COLLATIONS",
    "CatalogObject",
    "CheckConstraint",
    "Column",
    "Extension",
    "ForeignTable",
    "Server",
    "UserMapping",
    "Wrapper",
    "check_expression",
    "column_default",
    "column_type",
    "display",
    "is_secret",
    "one_line",
    "parse_check",
    "shown_options",
]
