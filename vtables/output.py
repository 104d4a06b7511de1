"""Result sets as text for a terminal, in the manner of psql: aligned columns,
numbers to the right, long values cut with an ellipsis, control characters
made visible, wide East Asian characters counted twice.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

DEFAULT_WIDTH = 40


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    """Columns a string takes in a terminal (wide East Asian characters count twice)."""
    if text.isascii():
        return len(text)
    return sum(_char_width(ch) for ch in text)


def truncate(text: str, width: int, ellipsis: str = "…") -> str:
    """``text`` cut to at most ``width`` columns, ending in ``ellipsis`` when cut."""
    if width <= 0 or text_width(text) <= width:
        return text
    room = max(width - text_width(ellipsis), 0)
    used = 0
    out = []
    for ch in text:
        w = _char_width(ch)
        if used + w > room:
            break
        out.append(ch)
        used += w
    return "".join(out).rstrip() + ellipsis


_CONTROL = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


def render(value: Any, null: str = "NULL") -> str:
    """One value as it appears in a cell: control characters made visible,
    blobs as SQL hex literals, NULL as ``null``."""
    if value is None:
        return null
    if isinstance(value, bytes | bytearray | memoryview):
        return "x'" + bytes(value).hex() + "'"
    text = str(value)
    if not text.isprintable():
        text = text.translate(_CONTROL)
        text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return text


def format_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    width: int = DEFAULT_WIDTH,
    null: str = "NULL",
    ellipsis: str = "…",
) -> str:
    """Rows as aligned text in the manner of psql: numbers to the right, long
    values cut with an ellipsis, a row count at the end."""
    rows = list(rows)
    heads = [truncate(render(c), width, ellipsis) for c in columns]
    cells = [[truncate(render(v, null), width, ellipsis) for v in row] for row in rows]
    numeric = [
        all(isinstance(row[i], int | float) for row in rows if row[i] is not None)
        and any(row[i] is not None for row in rows)
        for i in range(len(columns))
    ]
    widths = [text_width(h) for h in heads]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], text_width(cell))

    def line(values: Sequence[str], right: Sequence[bool]) -> str:
        parts = []
        for value, w, r in zip(values, widths, right, strict=True):
            pad = " " * (w - text_width(value))
            parts.append(pad + value if r else value + pad)
        return (" " + " | ".join(parts)).rstrip()

    out = [line(heads, [False] * len(heads)), "+".join("-" * (w + 2) for w in widths)]
    out.extend(line(row, numeric) for row in cells)
    out.append(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return "\n".join(out) + "\n"


def _ellipsis(stream: TextIO) -> str:
    try:
        "…".encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "..."
    return "…"


class Printer:
    """Prints result sets and notices for the one-shot commands."""

    def __init__(self, out: TextIO, err: TextIO, *, width: int, null: str):
        self.out, self.err = out, err
        self.width, self.null = width, null
        self.ellipsis = _ellipsis(out)
        self.tables = 0

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if self.tables:
            self.out.write("\n")
        self.tables += 1
        self.out.write(
            format_table(columns, rows, width=self.width, null=self.null, ellipsis=self.ellipsis)
        )

    def notices(self, notices: Sequence[str], seen: int) -> int:
        """Print the notices from ``seen`` on, as psql does; return how many there are."""
        for message in notices[seen:]:
            self.err.write(f"NOTICE:  {message}\n")
        return len(notices)
