"""SQL/MED statements as a sqlglot dialect.

sqlglot knows none of PostgreSQL's SQL/MED statements (it falls back to
``Command`` or fails), so the engine extends its PostgreSQL dialect through
the documented extension points: statement parsers keyed by the leading
token (``vtables.parser``), one expression class per statement
(``vtables.syntax``), and generator transforms that print each tree back as
canonical SQL (``vtables.printer``).  This module joins them as the dialect
``SQLMed`` and is the front end everything else uses: ``parse(sql)`` followed
by ``to_sql(tree)`` and ``parse`` again gives an equal tree.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ErrorLevel, ParseError, TokenError

from . import sqltext, syntax
from .errors import SQLMedSyntaxError
from .parser import MedParser
from .printer import MedGenerator
from .sqltext import quote_ident, quote_literal
from .syntax import *  # noqa: F403  (the trees and their builders, here for every user)

__all__ = ["parse", "parse_one", "to_sql", "quote_ident", "quote_literal", "SQLMed"]
__all__ += syntax.__all__


class SQLMed(Postgres):
    """PostgreSQL with SQL/MED statements; the dialect every statement here is read in."""

    Parser = MedParser
    Generator = MedGenerator


_DIALECT = SQLMed()


# ------------------------------------------------------------------ front end


def _syntax_error(sql: str, err: Exception) -> SQLMedSyntaxError:
    errors = getattr(err, "errors", None) or []
    first = errors[0] if errors else {}
    line = first.get("line")
    col = first.get("col")
    description = first.get("description") or str(err).split("\n")[0]
    if line is None:
        where = sqltext.unterminated(sql)
        if where is not None:
            line, col, closer = where
            description = f"unterminated quoted text or comment (expected {closer})"
        else:
            line, col = _first_bad_token(sql)
            description = "invalid token"
    return SQLMedSyntaxError(description, line=line, column=col, sql=sql)


def _first_bad_token(sql: str) -> tuple[int, int]:
    """Where sqlglot's tokenizer first fails (it does not say where itself)."""
    toks = sqltext.tokens(sql)
    low, high = 0, len(toks) - 1  # find the first token whose prefix fails
    found = None
    while low <= high:
        mid = (low + high) // 2
        end = toks[mid].start + len(toks[mid].text)
        try:
            _DIALECT.tokenize(sql[:end])
        except TokenError:
            found, high = mid, mid - 1
        else:
            low = mid + 1
    return sqltext.position(sql, toks[found].start) if found is not None else (1, 1)


def _deepest_paren(sql: str, limit: int = 200) -> tuple[int, int]:
    depth = 0
    for tok in sqltext.tokens(sql):
        if tok.text == "(":
            depth += 1
            if depth > limit:
                return sqltext.position(sql, tok.start)
        elif tok.text == ")":
            depth -= 1
    return 1, 1


_SURROGATE = re.compile("[\ud800-\udfff]")


def parse(sql: str) -> list[exp.Expr]:
    """Parse SQL text (one or more statements) in the SQL/MED dialect."""
    nul = sql.find("\x00")
    if nul >= 0:
        line, column = sqltext.position(sql, nul)
        raise SQLMedSyntaxError("NUL character in SQL text", line=line, column=column, sql=sql)
    bad = _SURROGATE.search(sql)
    if bad is not None:  # not text SQLite can store: no name or value may hold it
        line, column = sqltext.position(sql, bad.start())
        raise SQLMedSyntaxError(
            "a lone surrogate (not a Unicode character) in SQL text",
            line=line,
            column=column,
            sql=sql.encode("utf-8", "backslashreplace").decode("utf-8"),
        )
    try:
        trees = _DIALECT.parse(sql, error_level=ErrorLevel.IMMEDIATE)
    except (ParseError, TokenError) as err:
        raise _syntax_error(sql, err) from None
    except RecursionError:
        line, column = _deepest_paren(sql)
        raise SQLMedSyntaxError(
            "statement nested too deeply", line=line, column=column, sql=sql
        ) from None
    return [t for t in trees if t is not None and not isinstance(t, exp.Semicolon)]


def parse_one(sql: str) -> exp.Expr:
    trees = parse(sql)
    if len(trees) != 1:
        raise SQLMedSyntaxError(f"expected one statement, found {len(trees)}", sql=sql)
    return trees[0]


def to_sql(tree: exp.Expr, *, secret: Callable[[str], bool] | None = None) -> str:
    """Print a tree as SQL/MED text: the one printer of every SQL/MED statement
    the project writes.  ``secret``, when given, says which option names hold
    secrets: their values print as ``'********'`` (``vtables.secrets.MASK``).
    Comments of the parsed text are not printed: a statement's meaning is its
    tree, and a comment sqlglot moved to the end of the statement would not
    read back the same."""
    return MedGenerator(dialect=_DIALECT, secret=secret, comments=False).generate(tree)
