"""Light lexical work on SQL text: splitting scripts, spotting SQL/MED statements.

Only the slow path of the statement router uses this; text without any
SQL/MED keyword never reaches it.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

import apsw

# Text the router must look at: a statement that may be SQL/MED, or a bare
# CURRENT_USER and friends; any other text goes straight to SQLite.
HINT = re.compile(
    r"""
    \b(?:create|alter|drop)\b(?:\s|/\*.*?\*/|--[^\n]*(?:\n|$))+(?:foreign|server|user|extension)\b
  | \bimport\b | \bcomment\b | \bcurrent_user\b | \bsession_user\b | \bcurrent_role\b
    """,
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)

# Text that may give options a value (the cheap test before masking secrets).
OPTIONS_HINT = re.compile(r"\boptions\b", re.IGNORECASE)

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<lc>--[^\n]*)
  | (?P<bc>/\*.*?(?:\*/|\Z))
  | (?P<str>[EeXxBbNn]?'(?:[^']|'')*(?:'|\Z))
  | (?P<qid>"(?:[^"]|"")*(?:"|\Z))
  | (?P<bq>`(?:[^`]|``)*(?:`|\Z))
  | (?P<br>\[[^\]]*(?:\]|\Z))
  | (?P<semi>;)
  | (?P<word>[A-Za-z_\x80-\U0010ffff][\w$\x80-\U0010ffff]*)
  | (?P<param>\?\d*|[:@$][A-Za-z_0-9]+)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_CLOSERS = {"str": "'", "qid": '"', "bq": "`", "br": "]", "bc": "*/"}
_MED_SECOND = {
    "CREATE": {"FOREIGN", "SERVER", "USER", "EXTENSION"},
    "ALTER": {"FOREIGN", "SERVER", "USER"},
    "DROP": {"FOREIGN", "SERVER", "USER", "EXTENSION"},
}
_MED_FIRST = {"IMPORT", "COMMENT"}
USER_FUNCTIONS = ("CURRENT_USER", "SESSION_USER", "CURRENT_ROLE")


class Token(NamedTuple):
    kind: str
    text: str
    start: int


def tokens(sql: str) -> list[Token]:
    return [Token(m.lastgroup, m.group(), m.start()) for m in _TOKEN.finditer(sql)]


def position(sql: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    line = sql.count("\n", 0, offset) + 1
    column = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return line, column


def unterminated(sql: str) -> tuple[int, int, str] | None:
    """Where an unterminated quote or comment starts, if there is one."""
    for tok in tokens(sql):
        closer = _CLOSERS.get(tok.kind)
        if closer is None:
            continue
        body = tok.text.lstrip("EeXxBbNn") if tok.kind == "str" else tok.text
        shortest = 4 if tok.kind == "bc" else 2
        if (
            len(body) < shortest
            or not body.endswith(closer)
            or (tok.kind in ("str", "qid", "bq") and _odd_tail(body, closer))
        ):
            line, column = position(sql, tok.start)
            return line, column, closer
    return None


def _odd_tail(body: str, quote: str) -> bool:
    # 'abc'' is unterminated: the final quote is half of an escaped pair
    inner = body[1:]
    run = len(inner) - len(inner.rstrip(quote))
    return run % 2 == 0


class Segment(NamedTuple):
    """A run of statements: one SQL/MED statement, or plain SQL for SQLite."""

    med: bool
    text: str
    offset: int
    params: int  # positional parameters in plain SQL (for splitting bindings)


def is_med(toks: list[Token]) -> bool:
    words = [t.text.upper() for t in toks if t.kind not in ("ws", "lc", "bc")][:2]
    if not words:
        return False
    if words[0] in _MED_FIRST:
        return True
    return len(words) > 1 and words[1] in _MED_SECOND.get(words[0], ())


@functools.lru_cache(maxsize=512)
def plan(sql: str) -> tuple[Segment, ...]:
    """Split a script into SQL/MED statements and runs of plain SQL.

    Runs of plain statements stay together and keep their original text, so
    SQLite sees exactly what was written (trigger bodies included).
    """
    toks = tokens(sql)
    pieces: list[tuple[int, int, list[Token]]] = []
    start = 0
    current: list[Token] = []
    for tok in toks:
        current.append(tok)
        if tok.kind == "semi":
            end = tok.start + 1
            if apsw.complete(sql[start:end].replace("\x00", " ")):
                pieces.append((start, end, current))
                start, current = end, []
    if current:
        pieces.append((start, len(sql), current))

    segments: list[Segment] = []
    for begin, end, ptoks in pieces:
        if is_med(ptoks):
            segments.append(Segment(True, sql[begin:end], begin, 0))
            continue
        text, params = _plain_text(ptoks)
        if segments and not segments[-1].med:
            prev = segments[-1]
            segments[-1] = Segment(False, prev.text + text, prev.offset, prev.params + params)
        else:
            segments.append(Segment(False, text, begin, params))
    # drop trailing runs holding nothing but whitespace and comments
    while segments and not segments[-1].med and not _has_code(segments[-1].text):
        segments.pop()
    return tuple(segments)


def _has_code(text: str) -> bool:
    return any(t.kind not in ("ws", "lc", "bc", "semi") for t in tokens(text))


def _plain_text(toks: list[Token]) -> tuple[str, int]:
    """Text for SQLite, with bare CURRENT_USER and friends made into calls."""
    out = []
    params = 0
    significant = [t for t in toks if t.kind not in ("ws", "lc", "bc")]
    following = {id(a): b for a, b in zip(significant, significant[1:], strict=False)}
    for tok in toks:
        out.append(tok.text)
        if tok.kind == "param" and tok.text.startswith("?"):
            params = max(params + 1, int(tok.text[1:]) if len(tok.text) > 1 else 0)
        elif tok.kind == "word" and tok.text.upper() in USER_FUNCTIONS:
            nxt = following.get(id(tok))
            if nxt is None or nxt.text != "(":
                out.append("()")
    return "".join(out), params
