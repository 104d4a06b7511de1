"""INSERTs into foreign tables, made what PostgreSQL would run before SQLite sees them.

SQLite hands a virtual table NULL for a column an INSERT leaves out, and has
no upsert for virtual tables.  PostgreSQL fills a left-out column of a
foreign table with the column's DEFAULT, and runs ``ON CONFLICT DO NOTHING``
at the remote server.  So an INSERT into a foreign table is rewritten here:

- left-out columns that have a DEFAULT are added, with the default as SQLite
  evaluates it (``INSERT INTO t (a, d) SELECT *, <default> FROM (<source>)``);
- ``ON CONFLICT DO NOTHING`` becomes ``INSERT OR IGNORE``, which the module
  hands to the wrapper as its conflict mode.

Everything else of the statement keeps its text, so parameters, RETURNING
and the source query mean what they meant.  The rewriting is lexical (the
tokens of ``sqltext``) and only ever touches INSERTs whose target is a
foreign table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from . import sqltext
from .errors import FeatureNotSupportedError, SQLMedError
from .sqltext import Token, at_depth_zero

_SKIP = ("ws", "lc", "bc")
_NAME_KINDS = ("word", "qid", "bq", "br")


@dataclass(frozen=True)
class Insert:
    """The parts of one INSERT statement, as offsets into its text."""

    table: str  # the target's name, unquoted
    schema: str | None
    verb_start: int  # where INSERT (or REPLACE) starts
    conflict: str | None  # OR x / REPLACE
    columns: list[str] | None  # the column list, unquoted, if there is one
    source_start: int  # VALUES / SELECT / WITH / DEFAULT VALUES
    default_values: bool
    source_end: int  # where the upsert or RETURNING clause starts, or the end
    upsert: tuple[int, int] | None  # the ON CONFLICT clause
    upsert_target: bool  # ON CONFLICT (cols) ...
    upsert_nothing: bool  # ... DO NOTHING
    text_end: int  # the end of the statement, before any semicolon
    alias: str | None = None  # INTO t AS alias, as written


def _unquote(tok: Token) -> str:
    text = tok.text
    if tok.kind == "qid":
        return text[1:-1].replace('""', '"')
    if tok.kind == "bq":
        return text[1:-1].replace("``", "`")
    if tok.kind == "br":
        return text[1:-1]
    return text


def _word(toks: list[Token], k: int) -> str:
    """The keyword at ``k`` (upper case), or "" for anything else or past the end."""
    return toks[k].text.upper() if k < len(toks) and toks[k].kind == "word" else ""


def _verb(toks: list[Token]) -> int:
    """Where INSERT (or REPLACE) stands: first, or after a WITH clause."""
    if toks[0].text.upper() != "WITH":
        return 0
    verbs = (k for k in at_depth_zero(toks) if _word(toks, k) in ("INSERT", "REPLACE"))
    return next(verbs, len(toks))


def _target(toks: list[Token], i: int) -> tuple[str | None, str, str | None, int] | None:
    """``[schema.]table [AS alias]`` from ``i``: schema, table, alias and where it ends."""
    if i >= len(toks) or toks[i].kind not in _NAME_KINDS:
        return None
    schema = None
    table = _unquote(toks[i])
    i += 1
    if i + 1 < len(toks) and toks[i].text == "." and toks[i + 1].kind in _NAME_KINDS:
        schema, table = table, _unquote(toks[i + 1])
        i += 2
    alias = None
    if _word(toks, i) == "AS" and i + 1 < len(toks):
        alias = toks[i + 1].text
        i += 2
    return schema, table, alias, i


def _column_list(toks: list[Token], i: int) -> tuple[list[str] | None, int]:
    """The names of a ``(a, b)`` column list at ``i`` (None if there is none), and its end."""
    if i >= len(toks) or toks[i].text != "(":
        return None, i
    columns = []
    i += 1
    while i < len(toks) and toks[i].text != ")":
        if toks[i].kind in _NAME_KINDS:
            columns.append(_unquote(toks[i]))
        i += 1
    return columns, i + 1


class _Tail(NamedTuple):
    source_end: int
    upsert: tuple[int, int] | None = None
    target: bool = False
    nothing: bool = False


def _tail(toks: list[Token], i: int, text_end: int) -> _Tail:
    """Where the source ends: at an ON CONFLICT or a RETURNING outside parentheses."""
    for k in at_depth_zero(toks, i):
        if _word(toks, k) == "RETURNING":
            return _Tail(toks[k].start)
        if _word(toks, k) == "ON" and _word(toks, k + 1) == "CONFLICT":
            returning = (j for j in at_depth_zero(toks, k + 2) if _word(toks, j) == "RETURNING")
            end = next(returning, len(toks))
            clause = [w.text.upper() for w in toks[k:end] if w.kind == "word"]
            return _Tail(
                source_end=toks[k].start,
                upsert=(toks[k].start, toks[end].start if end < len(toks) else text_end),
                target=k + 2 < len(toks) and toks[k + 2].text == "(",
                nothing=clause[-2:] == ["DO", "NOTHING"] and clause.count("DO") == 1,
            )
    return _Tail(text_end)


def parse(sql: str) -> Insert | None:
    """The parts of ``sql`` if it is one INSERT (or REPLACE) statement."""
    toks = [t for t in sqltext.tokens(sql) if t.kind not in _SKIP]
    while toks and toks[-1].kind == "semi":
        toks.pop()
    if not toks or any(t.kind == "semi" for t in toks):
        return None
    text_end = toks[-1].start + len(toks[-1].text)
    i = _verb(toks)
    verb = _word(toks, i)
    if verb not in ("INSERT", "REPLACE"):
        return None
    conflict = "REPLACE" if verb == "REPLACE" else None
    verb_start = toks[i].start
    i += 1
    if verb == "INSERT" and _word(toks, i) == "OR":
        conflict = _word(toks, i + 1) or None
        i += 2
    if _word(toks, i) != "INTO":
        return None
    target = _target(toks, i + 1)
    if target is None:
        return None
    schema, table, alias, i = target
    columns, i = _column_list(toks, i)
    if i >= len(toks):
        return None
    tail = _tail(toks, i, text_end)
    return Insert(
        table=table,
        schema=schema,
        verb_start=verb_start,
        conflict=conflict,
        columns=columns,
        source_start=toks[i].start,
        default_values=_word(toks, i) == "DEFAULT" and _word(toks, i + 1) == "VALUES",
        source_end=tail.source_end,
        upsert=tail.upsert,
        upsert_target=tail.target,
        upsert_nothing=tail.nothing,
        text_end=text_end,
        alias=alias,
    )


quote = sqltext.quote_name


def rewrite(
    sql: str,
    ins: Insert,
    columns: list[str],
    defaults: dict[str, str],
    *,
    table_label: str,
) -> str | None:
    """``sql`` as it must reach SQLite, or None when it can go as written.

    ``columns`` are the foreign table's columns in order; ``defaults`` maps a
    column to its DEFAULT as a SQLite expression.
    """
    conflict = ins.conflict
    if ins.upsert is not None:
        if not ins.upsert_nothing or ins.upsert_target:
            raise FeatureNotSupportedError(
                f"ON CONFLICT on foreign table {table_label} supports only DO NOTHING,"
                " without a conflict target",
                hint="As in PostgreSQL's postgres_fdw: the remote server's own"
                " constraints decide what conflicts.",
            )
        if conflict not in (None, "IGNORE"):
            raise SQLMedError(f"INSERT OR {conflict} with ON CONFLICT DO NOTHING: pick one")
        conflict = "IGNORE"
    given = ins.columns if ins.columns is not None else (None if ins.default_values else columns)
    named = {c.lower() for c in given or ()}
    missing = [c for c in columns if c in defaults and c.lower() not in named]
    for c in missing:
        default = defaults[c]
        if isinstance(default, _Unusable):
            raise FeatureNotSupportedError(default.message)
    if not missing and conflict == ins.conflict and ins.upsert is None:
        return None
    head = f"INSERT OR {conflict}" if conflict else "INSERT"
    parts = [sql[: ins.verb_start], head]
    target = (quote(ins.schema) + "." if ins.schema else "") + quote(ins.table)
    parts.append(f" INTO {target} ")
    if ins.alias:
        parts.append(f"AS {ins.alias} ")
    tail_start = ins.upsert[1] if ins.upsert is not None else ins.source_end
    tail = sql[tail_start : ins.text_end]
    source = sql[ins.source_start : ins.source_end].rstrip()
    if missing:
        listed = (given or []) + missing
        parts.append("(" + ", ".join(quote(c) for c in listed) + ") ")
        values = ", ".join(defaults[c] for c in missing)
        if ins.default_values or not given:
            parts.append(f"SELECT {values} ")
        else:
            parts.append(f"SELECT *, {values} FROM ({source}) ")
    else:
        if ins.columns is not None:
            parts.append("(" + ", ".join(quote(c) for c in ins.columns) + ") ")
        parts.append(source + " ")
    parts.append(tail)
    return "".join(parts)


class _Unusable(str):
    """A DEFAULT SQLite cannot evaluate: an error if an INSERT needs it."""

    message: str


def sqlite_default(text: str, table: str, column: str, check: Callable[[str], None]) -> str:
    """A column's DEFAULT (as the catalog keeps it, PostgreSQL's spelling) as
    an expression SQLite evaluates (CURRENT_TIMESTAMP, casts, functions);
    ``check`` raises if SQLite cannot prepare it."""
    from . import grammar

    try:
        tree = grammar.parse_one(f"ALTER FOREIGN TABLE t ALTER c SET DEFAULT {text}")
        expression = tree.args["actions"][0].args["default"].sql(dialect="sqlite")
        check(expression)
        return expression
    except Exception as err:  # sqlglot's errors, ours, SQLite's
        unusable = _Unusable(text)
        unusable.message = (
            f'the default of column "{column}" of foreign table "{table}" ({text})'
            f" cannot be evaluated by SQLite: {err}"
        )
        return unusable
