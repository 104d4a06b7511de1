"""What SQLite would say: its comparison rules, for wrappers that push quals.

A wrapper may omit a qual from SQLite's own check only when the source gives
SQLite's answer, and a wrapper that checks a qual itself must give that
answer too.  The rules (SQLite's "Datatypes In SQLite" page) live here, once:

- type affinity of a declared type, and what a column's affinity makes of a
  value compared with it (``apply_affinity``);
- storage classes ordered NULL < numbers < text < blobs, text compared with
  the BINARY collation (``compare``);
- ``=``, ``<``, ..., ``IS``, ``IS NOT``, ``IN``, ``IS [NOT] NULL``, ``LIKE``
  (case-insensitive for ASCII only) and ``GLOB`` (``holds``).

Where the rule is SQLite's own code (which text is a well-formed number, how
a REAL prints as TEXT, GLOB's character classes) SQLite is asked, on one
private in-memory connection per thread, opened on first use.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

import apsw

#: The affinities, as ``affinity`` names them ("any" is BLOB affinity: none).
AFFINITIES = ("integer", "text", "any", "real", "numeric")


def affinity(declared: str | None) -> str:
    """SQLite's affinity of a declared type (section 3.1 of its datatype page)."""
    t = (declared or "").upper()
    if "INT" in t:
        return "integer"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "text"
    if "BLOB" in t or not t:
        return "any"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "real"
    return "numeric"


# ------------------------------------------------------- SQLite, asked


class _Private(threading.local):
    db: apsw.Connection | None = None


_private = _Private()


def _sqlite() -> apsw.Connection:
    """This thread's private in-memory SQLite, opened on first use."""
    db = _private.db
    if db is None:
        db = _private.db = apsw.Connection(":memory:")
        db.execute("CREATE TABLE affinity(n NUMERIC)")
    return db


def _ask(sql: str, *params: Any) -> Any:
    """The first column of the one row ``sql`` gives on the private SQLite."""
    row = _sqlite().execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def as_text(value: Any) -> str:
    """A value as SQLite renders it as text (``CAST(value AS TEXT)``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int):
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return _real_text(value)


@functools.lru_cache(maxsize=1024)
def _real_text(value: float) -> str:
    return str(_ask("SELECT CAST(? AS TEXT)", value))


@functools.lru_cache(maxsize=1024)
def numeric(text: str) -> int | float | str:
    """What NUMERIC affinity makes of a text: a number when the whole text is
    a well-formed one by SQLite's rules (not Python's), else the text."""
    db = _sqlite()
    with db:
        db.execute("INSERT INTO affinity VALUES (?)", (text,))
        value = _ask("SELECT n FROM affinity")
        db.execute("DELETE FROM affinity")
    return value if isinstance(value, int | float) else text


def apply_affinity(kind: str, value: Any) -> Any:
    """What SQLite compares a column of affinity ``kind`` with: ``value`` with
    the column's affinity applied (numbers become text for a TEXT column,
    well-formed numeric text becomes a number for a numeric one)."""
    if value is None or kind == "any":
        return value
    if kind == "text":
        return as_text(value) if isinstance(value, int | float) else value
    if isinstance(value, str):
        return numeric(value)
    return value


# ------------------------------------------------------- comparisons


def storage_class(value: Any) -> int:
    """SQLite's order of storage classes: NULL 0, numbers 1, text 2, blobs 3."""
    if value is None:
        return 0
    if isinstance(value, int | float):
        return 1
    if isinstance(value, str):
        return 2
    return 3


def compare(a: Any, b: Any) -> int:
    """SQLite's order of two values: -1, 0 or 1 (NULL < numbers < text < blobs,
    text with the BINARY collation)."""
    ca, cb = storage_class(a), storage_class(b)
    if ca != cb:
        return -1 if ca < cb else 1
    if ca == 0:
        return 0
    if ca == 2:
        a, b = a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    return -1 if a < b else (1 if a > b else 0)


@functools.lru_cache(maxsize=256)
def _like(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(out), re.S | re.I | re.A)


def like(value: Any, pattern: Any) -> bool:
    """``value LIKE pattern``: ``%`` and ``_``, no escape, case folded for ASCII
    only (SQLite's default)."""
    return _like(as_text(pattern)).fullmatch(as_text(value)) is not None


def glob(value: Any, pattern: Any) -> bool:
    """``value GLOB pattern``, case-sensitive, with SQLite's character classes."""
    return bool(_ask("SELECT ? GLOB ?", as_text(value), as_text(pattern)))


_ORDER = {
    "=": lambda c: c == 0,
    "!=": lambda c: c != 0,
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
}


def holds(op: str, left: Any, right: Any) -> bool:
    """``left op right`` as SQLite decides it, ``right`` having had the
    column's affinity applied (``apply_affinity``; for IN, each value)."""
    if op == "IS NULL":
        return left is None
    if op == "IS NOT NULL":
        return left is not None
    if op in ("IS", "IS NOT"):
        same = compare(left, right) == 0
        return same if op == "IS" else not same
    if op == "IN":
        return left is not None and any(v is not None and compare(left, v) == 0 for v in right)
    if left is None or right is None:
        return False
    if op == "LIKE":
        return like(left, right)
    if op == "GLOB":
        return glob(left, right)
    return bool(_ORDER[op](compare(left, right)))
