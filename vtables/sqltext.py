"""Light lexical work on SQL text: splitting scripts, spotting SQL/MED statements.

Only the slow path of the statement router uses this; text without any
SQL/MED keyword never reaches it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import NamedTuple

import apsw

# Text the router must look at: a statement that may be SQL/MED, or a bare
# CURRENT_USER and friends (which SQLite may not resolve); any other text goes
# straight to SQLite.
MED_HINT = re.compile(
    r"""
    \b(?:create|alter|drop)\b(?:\s|/\*.*?\*/|--[^\n]*(?:\n|$))+(?:foreign|server|user|extension)\b
  | \bimport\b | \bcomment\b | \bcurrent_user\b | \bsession_user\b | \bcurrent_role\b
    """,
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
# An INSERT: rewritten when its target is a foreign table (``vtables.inserts``),
# which only a connection whose catalog has foreign tables needs to look at.
INSERT_HINT = re.compile(r"\binsert\b|\breplace\s+into\b", re.IGNORECASE)
# ROLLBACK (TO): what the router keeps of INSERT texts may no longer hold.
ROLLBACK_HINT = re.compile(r"\brollback\b", re.IGNORECASE)
HINT = re.compile(
    f"(?:{MED_HINT.pattern})|{INSERT_HINT.pattern}|{ROLLBACK_HINT.pattern}",
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
    return [Token(m.lastgroup or "other", m.group(), m.start()) for m in _TOKEN.finditer(sql)]


def at_depth_zero(toks: list[Token], start: int = 0) -> Iterator[int]:
    """The index of each token from ``start`` on that is outside all parentheses
    opened from there (the parentheses themselves are not given)."""
    depth = 0
    for k in range(start, len(toks)):
        text = toks[k].text
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
        elif depth == 0:
            yield k


# PostgreSQL's reserved words, and the words the SQL/MED grammar reads where a
# name may stand: a name spelled like one of them is quoted.
RESERVED = frozenset(
    """ALL ANALYSE ANALYZE AND ANY ARRAY AS ASC ASYMMETRIC BOTH CASE CAST CHECK COLLATE COLUMN
    CONSTRAINT CREATE CURRENT_CATALOG CURRENT_DATE CURRENT_ROLE CURRENT_TIME CURRENT_TIMESTAMP
    CURRENT_USER DEFAULT DEFERRABLE DESC DISTINCT DO ELSE END EXCEPT FALSE FETCH FOR FOREIGN FROM
    GRANT GROUP HAVING IN INITIALLY INTERSECT INTO LATERAL LEADING LIMIT LOCALTIME LOCALTIMESTAMP
    NOT NULL OFFSET ON ONLY OR ORDER PLACING PRIMARY REFERENCES RETURNING SELECT SESSION_USER
    SOME SYMMETRIC TABLE THEN TO TRAILING TRUE UNION UNIQUE USER USING VARIADIC WHEN WHERE WINDOW
    WITH PUBLIC OPTIONS SERVER HANDLER VALIDATOR TYPE VERSION ADD SET DROP IS NO""".split()
)
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_$]*")


def quote_ident(name: str) -> str:
    """Quote an identifier the PostgreSQL way when it needs quoting."""
    if _PLAIN_NAME.fullmatch(name) and name.upper() not in RESERVED:
        return name
    return quote_name(name)


def quote_name(name: str) -> str:
    """An identifier, always quoted: no keyword of any dialect (SQLite's
    differ from PostgreSQL's) can be mistaken for it."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A string literal (quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


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
    #: one plain statement with a bare CURRENT_USER (SESSION_USER,
    #: CURRENT_ROLE): where SQLite cannot resolve the word as a column, the
    #: router makes it a call, as PostgreSQL reads the keyword
    user_words: bool = False
    #: one plain INSERT (or REPLACE) statement: if its target is a foreign
    #: table, the router may rewrite it (``vtables.inserts``)
    insert: bool = False


def is_med(toks: list[Token]) -> bool:
    words = [t.text.upper() for t in toks if t.kind not in ("ws", "lc", "bc")][:2]
    if not words:
        return False
    if words[0] in _MED_FIRST:
        return True
    return len(words) > 1 and words[1] in _MED_SECOND.get(words[0], ())


def _pieces(sql: str) -> list[tuple[int, int, list[Token]]]:
    """Each statement of a script: (start, end, tokens), semicolon included."""
    pieces: list[tuple[int, int, list[Token]]] = []
    start = 0
    current: list[Token] = []
    for tok in tokens(sql):
        current.append(tok)
        if tok.kind == "semi":
            end = tok.start + 1
            if apsw.complete(sql[start:end].replace("\x00", " ")):
                pieces.append((start, end, current))
                start, current = end, []
    if current:
        pieces.append((start, len(sql), current))
    return pieces


def statements(sql: str) -> Iterator[tuple[int, str]]:
    """Each complete statement of a script with its offset (trigger bodies
    kept whole); a tail of nothing but whitespace is none."""
    for start, end, _toks in _pieces(sql):
        text = sql[start:end]
        if end < len(sql) or text.strip():
            yield start, text


def statement_count(sql: str) -> int:
    """How many statements ``sql`` holds (empty ones not counted)."""
    return sum(_code(ptoks) for _b, _e, ptoks in _pieces(sql))


@functools.lru_cache(maxsize=512)
def plan(sql: str) -> tuple[Segment, ...]:
    """Split a script into SQL/MED statements and runs of plain SQL.

    Runs of plain statements stay together and keep their original text, so
    SQLite sees exactly what was written (trigger bodies included).
    """
    segments: list[Segment] = []
    for begin, end, ptoks in _pieces(sql):
        if is_med(ptoks):
            segments.append(Segment(True, sql[begin:end], begin, 0))
            continue
        text = sql[begin:end]
        params, bare = _plain_text(ptoks)
        insert = _is_insert(ptoks)
        prev = segments[-1] if segments else None
        alone = bare or insert
        if not alone and prev is not None and not (prev.med or prev.user_words or prev.insert):
            segments[-1] = Segment(False, prev.text + text, prev.offset, prev.params + params)
        else:
            segments.append(Segment(False, text, begin, params, bare, insert))
    # drop trailing runs holding nothing but whitespace and comments
    while segments and not segments[-1].med and not _has_code(segments[-1].text):
        segments.pop()
    return tuple(segments)


def _is_insert(toks: list[Token]) -> bool:
    words = [t for t in toks if t.kind not in ("ws", "lc", "bc")]
    if not words:
        return False
    first = words[0].text.upper()
    if first in ("INSERT", "REPLACE"):
        return True
    if first != "WITH":
        return False
    return any(
        words[k].kind == "word" and words[k].text.upper() in ("INSERT", "REPLACE")
        for k in at_depth_zero(words)
    )


def _code(toks: list[Token]) -> bool:
    return any(t.kind not in ("ws", "lc", "bc", "semi") for t in toks)


def _has_code(text: str) -> bool:
    return _code(tokens(text))


def _bare_user_words(toks: list[Token]) -> list[Token]:
    significant = [t for t in toks if t.kind not in ("ws", "lc", "bc")]
    return [
        tok
        for tok, nxt in zip(significant, [*significant[1:], None], strict=False)
        if tok.kind == "word"
        and tok.text.upper() in USER_FUNCTIONS
        and (nxt is None or nxt.text != "(")
    ]


def _plain_text(toks: list[Token]) -> tuple[int, bool]:
    """Positional parameters of a plain statement, and whether it has a bare
    CURRENT_USER or friend."""
    params = 0
    for tok in toks:
        if tok.kind == "param" and tok.text.startswith("?"):
            params = max(params + 1, int(tok.text[1:]) if len(tok.text) > 1 else 0)
    return params, bool(_bare_user_words(toks))


_UNRESOLVED_USER = re.compile(
    r"no such column: (current_user|session_user|current_role)\b", re.IGNORECASE
)


def call_unresolved_user_word(sql: str, message: str) -> str | None:
    """``sql`` with the bare word SQLite's error says is no column made a call
    (``current_user()``), or None when the error is about something else."""
    found = _UNRESOLVED_USER.search(message)
    if found is None:
        return None
    word = found.group(1).upper()
    toks = tokens(sql)
    bare = {id(t) for t in _bare_user_words(toks) if t.text.upper() == word}
    if not bare:
        return None
    return "".join(t.text + "()" if id(t) in bare else t.text for t in toks)
