"""Secret option values in SQL text: found and masked before text is shown.

Statements such as ``CREATE USER MAPPING ... OPTIONS (password 'x')`` carry
secrets in their text.  Whatever shows such text (error messages, a
statement kept on an exception, logs, a shell's history) shows it through
``mask_sql``.  The text is read token by token, so a statement that does not
parse is masked too.

An option counts as secret here when its name is secret for any installed
wrapper, in any object kind, or is one of the usual secret names: the text
alone does not say which wrapper will read it, so the rule errs towards
masking.
"""

from __future__ import annotations

from . import sqltext
from . import wrapper as wrapper_api
from .errors import SQLMedSyntaxError

#: What a secret value is shown as, everywhere.
MASK = "********"

_MASKED = "'" + MASK + "'"
_ACTIONS = {"ADD", "SET", "DROP"}
_SKIPPED = ("ws", "lc", "bc")
# Shorter bare pieces of a secret are not replaced in messages: they would
# garble every word that contains them (quoted ones always are).
_SHORTEST = 4


def secret_names() -> frozenset[str]:
    """Option names treated as secret in SQL text (lower case)."""
    names = set(wrapper_api.DEFAULT_SECRETS)
    for name in wrapper_api.available_wrappers():
        try:
            cls = wrapper_api.find_wrapper(name)
        except Exception:  # an installed wrapper that cannot load: its specs are unknown
            continue
        if cls is not None:
            names.update(s.name.lower() for s in cls.option_specs if s.secret)
    return frozenset(names)


def _name(text: str) -> str:
    if text.startswith('"'):
        return text[1:-1].replace('""', '"').lower() if len(text) > 1 else ""
    return text.lower()


def _secret_spans(sql: str) -> list[tuple[int, int]]:
    """(start, end) of each value given to a secret option inside OPTIONS (...)."""
    toks = [t for t in sqltext.tokens(sql) if t.kind not in _SKIPPED]
    secrets: frozenset[str] | None = None
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        if not (
            tok.kind == "word"
            and tok.text.upper() == "OPTIONS"
            and i + 1 < len(toks)
            and toks[i + 1].text == "("
        ):
            i += 1
            continue
        i += 2
        depth = 1
        expect_key = True
        while i < len(toks) and depth:
            tok = toks[i]
            if tok.text == "(":
                depth += 1
            elif tok.text == ")":
                depth -= 1
            elif tok.text == "," and depth == 1:
                expect_key = True
            elif expect_key and depth == 1 and tok.kind in ("word", "qid"):
                if tok.kind == "word" and tok.text.upper() in _ACTIONS:
                    nxt = toks[i + 1] if i + 1 < len(toks) else None
                    if nxt is not None and nxt.kind in ("word", "qid"):
                        i += 1
                        continue
                expect_key = False
                if secrets is None:
                    secrets = secret_names()
                if _name(tok.text) in secrets:
                    j = i + 1
                    # the value: every token up to the next comma or the closing parenthesis
                    start = end = None
                    inner = 0
                    while j < len(toks):
                        t = toks[j]
                        if inner == 0 and t.text in (",", ")"):
                            break
                        if t.text == "(":
                            inner += 1
                        elif t.text == ")":
                            inner -= 1
                        if start is None:
                            start = t.start
                        end = t.start + len(t.text)
                        j += 1
                    if start is not None and end is not None:
                        spans.append((start, end))
                    i = j
                    continue
            i += 1
    return spans


def mask_sql(sql: str) -> str:
    """``sql`` with the value of every secret option replaced by ``'********'``."""
    if not isinstance(sql, str) or not sqltext.OPTIONS_HINT.search(sql):
        return sql
    spans = _secret_spans(sql)
    if not spans:
        return sql
    out = []
    last = 0
    for start, end in spans:
        out.append(sql[last:start])
        out.append(_MASKED)
        last = end
    out.append(sql[last:])
    return "".join(out)


def carries_secret(sql: str) -> bool:
    """Whether ``sql`` gives a value to a secret option."""
    return (
        isinstance(sql, str) and bool(sqltext.OPTIONS_HINT.search(sql)) and bool(_secret_spans(sql))
    )


def mask_text(text: str, sql: str | None) -> str:
    """A message about ``sql`` with every secret value of ``sql`` that it quotes
    masked: the whole value, and each word or quoted text in it."""
    if not sql or not isinstance(text, str) or not sqltext.OPTIONS_HINT.search(sql):
        return text
    for start, end in _secret_spans(sql):
        pieces = {sql[start:end]}
        for tok in sqltext.tokens(sql[start:end]):
            quoted = tok.kind in ("str", "qid", "bq")
            if quoted or (tok.kind in ("word", "param") and len(tok.text) >= _SHORTEST):
                pieces.add(tok.text)
            inner = tok.text.lstrip("EeXxBbNn")[1:-1] if quoted else ""
            if len(inner) >= _SHORTEST:
                pieces.add(inner)
        for piece in sorted(pieces, key=len, reverse=True):
            text = text.replace(repr(piece), MASK).replace(piece, MASK)
    return text


def _redact(message: str, sql: str | None) -> tuple[str, str | None]:
    return mask_text(message, sql), (mask_sql(sql) if sql is not None else None)


# Every syntax error masks its message and statement text with this module's
# rules (errors.py sits below this module and cannot import it).
SQLMedSyntaxError.redact = staticmethod(_redact)  # type: ignore[method-assign]
