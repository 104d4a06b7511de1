"""COPY's text and CSV formats: how a record is read from its line (or lines),
which newline ends the lines, escapes, quoting, the null string, and the
errors COPY gives for what breaks its rules.

A line without the format's special character (the quote for CSV, the
backslash for text) is its fields between delimiters; every other record goes
through ``csv_record`` or ``text_record``, which define what the chunk readers
(``chunks``) must agree with."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .options import Config


class RowError(Exception):
    """A bad row: the message, and the column (index) and value when known."""

    def __init__(
        self, message: str, column: int | None = None, value: Any = None, hint: str | None = None
    ):
        super().__init__(message)
        self.message = message
        self.column = column
        self.value = value
        self.hint = hint


class TooLong(Exception):
    """A line (or a record of several) longer than the wrapper's max_line_length:
    the scan stops, whatever on_error says, as COPY does."""

    def __init__(self, line: int, what: str = "line"):
        super().__init__(line, what)
        self.line = line
        self.what = what


class Undecodable(str):
    """A line whose bytes do not decode, decoded with surrogate escapes so that its
    record still ends where it should.  It claims to contain everything, so the
    quick path (``special not in line``) always hands it to a record reader,
    which reads the whole record and then refuses it."""

    error: str = ""

    def __contains__(self, item: object) -> bool:
        return True


END: Any = object()  # the text format's end-of-data marker line (\.)

_SWAP = str.maketrans("\r\n", "\n\r")
_BSWAP = bytes.maketrans(b"\r\n", b"\n\r")


def swap(text: Any) -> Any:
    """``text`` (str or bytes) with carriage returns and newlines exchanged."""
    if type(text) is bytes:
        return text.translate(_BSWAP)
    # str.translate is slow outside ASCII; files of lone CRs seldom hold an LF
    if "\n" not in text:
        return text.replace("\r", "\n")
    if "\r" not in text:
        return text.replace("\n", "\r")
    return text.translate(_SWAP)


def _unswap(values: list) -> list:
    """Values read from exchanged text (a file of lone CRs), as the file has them."""
    return [swap(v) if v is not None and ("\r" in v or "\n" in v) else v for v in values]


def strip_newline(line: str, cr: bool) -> str:
    """A line without its newline (an exact str even for an Undecodable line).

    Where LF or CR LF ends the first line, either ends every line (PostgreSQL
    holds a file to the first line's style; file_fdw has always read the two
    mixed); where a lone CR does (exchanged to LF: see reader.Lines), only it."""
    if line[-1:] == "\n":
        if not cr and line[-2:-1] == "\r":
            return line[:-2]
        return line[:-1]
    return line[:]


def split_lines(text: str) -> list[str]:
    """Lines with their newlines, split at newlines only (not at str.splitlines's
    other line boundaries, which are data in COPY formats)."""
    parts = text.split("\n")
    tail = parts.pop()  # "" when the text ends with a newline
    lines = [part + "\n" for part in parts]
    if tail:
        lines.append(tail)
    return lines


class Newlines:
    """Which newline ends the lines of a file, found as COPY finds it: by the
    first CR or LF outside a quoted field (CSV) or not after a backslash (text).

    ``feed`` takes the file's text a piece at a time and answers True (a lone CR
    ends lines), False (LF or CR LF) or None (not known yet); ``finish`` answers
    at the end of the file."""

    def __init__(self, cfg: Config):
        self.csv = cfg.csv
        self.quote, self.escape = cfg.quote, cfg.escape
        special = {cfg.quote, cfg.escape} if cfg.csv else {"\\"}
        chars = "".join(re.escape(c) for c in sorted(special | {"\r", "\n"}))
        self._search = re.compile(f"[{chars}]").search
        self.in_quote = False
        self.skip = False  # the piece before ended in an escape character
        self.after_cr = False  # ... in a CR that ends the first line

    def feed(self, text: str) -> bool | None:
        if not text:
            return None
        if self.after_cr:
            return text[0] != "\n"
        pos = 0
        if self.skip:
            self.skip = False
            if not self.csv or text[0] in (self.quote, self.escape):
                pos = 1
        while True:
            m = self._search(text, pos)
            if m is None:
                return None
            c = text[m.start()]
            pos = m.start() + 1
            if c in "\r\n" and not self.in_quote:
                return self._newline(c, text, pos)
            pos = self._special(c, text, pos)
            if pos < 0:
                return None

    def _newline(self, c: str, text: str, pos: int) -> bool | None:
        if c == "\n":
            return False
        if pos < len(text):
            return text[pos] != "\n"
        self.after_cr = True
        return None

    def _special(self, c: str, text: str, pos: int) -> int:
        """Where to look on after a quote, escape or backslash at pos - 1; -1 when
        the text ends in an escape character (the next piece starts escaped)."""
        if not self.csv:  # a backslash: the next character is data
            if pos == len(text):
                self.skip = True
                return -1
            return pos + 1
        if not self.in_quote:
            self.in_quote = c == self.quote
        elif c == self.escape and self.escape != self.quote:
            if pos == len(text):
                self.skip = True
                return -1
            if text[pos] in (self.quote, self.escape):
                return pos + 1
        elif c == self.quote:
            self.in_quote = False
        return pos

    def finish(self) -> bool:
        return self.after_cr


_SURROGATE = re.compile("[\udc80-\udcff]")


def undecodable_error(values: list, error: str, encoding: str) -> RowError:
    """The error for a record holding undecodable bytes, naming the first bad field."""
    for i, value in enumerate(values):
        if value is not None and _SURROGATE.search(value):
            shown = value.encode(encoding, "surrogateescape").decode(encoding, "backslashreplace")
            return RowError(error, i, shown)
    return RowError(error)


def stray_error(cfg: Config) -> RowError:
    """COPY's error for a CR or LF in data that is not the file's newline."""
    what = "newline" if cfg.cr else "carriage return"
    if cfg.csv:
        return RowError(
            f"unquoted {what} found in data", hint=f"Use quoted CSV field to represent {what}."
        )
    escape = "\\n" if cfg.cr else "\\r"
    return RowError(f"literal {what} found in data", hint=f'Use "{escape}" to represent {what}.')


def count_error(cfg: Config, values: list) -> RowError:
    ncols = len(cfg.names)
    if len(values) > ncols:
        return RowError(
            f'extra data after last expected column "{cfg.names[-1]}"', ncols, values[ncols]
        )
    return RowError(f'missing data for column "{cfg.names[len(values)]}"', len(values))


def plain_values(cfg: Config, line: str, null: str | None) -> list:
    """The values of a line without the special character: its fields between
    delimiters (as many as the columns), ``null`` (None when the null string
    holds the special character, so cannot match) read as NULL."""
    if "\r" in line:
        body = strip_newline(line, cfg.cr)
        if "\r" in body:
            raise stray_error(cfg)
    else:
        body = line.rstrip("\n")
    values: list[Any] = body.split(cfg.delimiter)
    if len(values) != len(cfg.names):
        raise count_error(cfg, values)
    if null is not None and null in values:
        force = cfg.force_not_null
        if not any(force):
            return [None if v == null else v for v in values]
        return [None if v == null and not force[i] else v for i, v in enumerate(values)]
    return values


# --------------------------------------------------------------- text format

# A carriage return not after a backslash: data the text format refuses.
_TEXT_CR = re.compile(r"\\.|\r", re.S)
_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.S)
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def unescape(field: str, encoding: str) -> str:
    """The value of a text-format field holding backslash escapes."""
    high = False

    def repl(m: re.Match) -> str:
        nonlocal high
        octal, hexa, char = m.groups()
        if char is not None:
            return _SIMPLE_ESCAPES.get(char, char)
        code = int(octal, 8) & 0o377 if octal is not None else int(hexa, 16)
        if code < 0x80:
            return chr(code)
        high = True
        return chr(0xDC00 + code)  # a raw byte, as the surrogateescape handler spells it

    out = _ESCAPE.sub(repl, field)
    if high:
        try:
            out = out.encode(encoding, "surrogateescape").decode(encoding)
        except UnicodeError as err:
            raise RowError(f'invalid byte sequence for encoding "{encoding}": {err}') from None
    return out


def _text_piece(line: str, cr: bool) -> tuple[str, bool]:
    """A text-format line without its newline, and whether a backslash escapes
    the newline (which is then data, and the record goes on).  A backslash before
    the CR of CR LF escapes the CR alone, as in COPY: the LF ends the line."""
    piece = strip_newline(line, cr)
    if line[-1:] != "\n" or (len(piece) - len(piece.rstrip("\\"))) % 2 == 0:
        return piece, False
    if len(piece) == len(line) - 2:
        return line[:-1], False
    return piece, True


def _text_fields(cfg: Config, body: str, newline: bool) -> list[str]:
    """A text-format record's fields, still escaped.  COPY (PostgreSQL 15 to 17)
    reads a backslash-period as the end-of-data marker wherever it starts an
    escape: followed by the line's newline it ends the row (the data before it on
    the line is the row's), followed by anything else (the end of the file
    included) it is an error."""
    assert cfg.tokens is not None
    fields = []
    start = 0
    for m in cfg.tokens.finditer(body):
        token = m.group()
        if token == cfg.delimiter:
            fields.append(body[start : m.start()])
            start = m.end()
        elif token == "\\.":
            if m.end() < len(body) or not newline:
                raise RowError("end-of-copy marker corrupt")
            body = body[: m.start()]
            break
    fields.append(body[start:])
    return fields


def text_record(cfg: Config, line: str, n: int, it: Iterator, limit: int) -> tuple[Any, int]:
    """A text-format record holding backslashes: (its list of values, or END;
    its last line number)."""
    bad = line.error if type(line) is Undecodable else None
    piece, escaped = _text_piece(line, cfg.cr)
    pieces = [piece]
    size = len(piece)
    # A backslash before the newline makes the newline part of the data.
    while escaped:
        try:
            n, line = next(it)
        except StopIteration:  # the escaped newline ends the file: still data
            pieces.append("")
            break
        if bad is None and type(line) is Undecodable:
            bad = line.error
        piece, escaped = _text_piece(line, cfg.cr)
        pieces.append(piece)
        size += len(piece) + 1
        if size > limit:
            raise TooLong(n - len(pieces) + 1, "record")
    body = "\n".join(pieces) if len(pieces) > 1 else piece
    if "\r" in body and any(m.group() == "\r" for m in _TEXT_CR.finditer(body)):
        raise stray_error(cfg)
    if cfg.cr:
        body = swap(body)
    newline = line[-1:] == "\n"
    if body == "\\." and newline:
        return END, n
    fields = _text_fields(cfg, body, newline)
    if bad is not None:
        raise undecodable_error(fields, bad, cfg.encoding)
    values: list[Any] = []
    for i, field in enumerate(fields):
        if field == cfg.null:
            values.append(None)
        elif "\\" in field:
            try:
                values.append(unescape(field, cfg.encoding))
            except RowError as err:
                err.column, err.value = i, field
                raise
        else:
            values.append(field)
    return values, n


# ---------------------------------------------------------------- CSV format


class _CsvRecord:
    """The state of reading one CSV record holding quotes, which may span lines."""

    def __init__(self, cfg: Config, line: str, n: int, it: Iterator, limit: int):
        self.cfg, self.it, self.limit = cfg, it, limit
        self.bad = line.error if type(line) is Undecodable else None
        self.first = self.n = n
        self.size = 0
        self.stray = False  # an unquoted CR (an LF of a file of lone CRs): refused at the end
        self.line = line
        self.body = strip_newline(line, cfg.cr)
        self.eol = line[len(self.body) :]
        self.values: list[Any] = []

    def read(self) -> tuple[list, int]:
        cfg = self.cfg
        pos = 0
        while True:
            value, saw_quote, pos = self._field(pos)
            null = value == cfg.null and _is_null(cfg, len(self.values), saw_quote)
            self.values.append(None if null else value)
            if pos >= len(self.body):
                break
            pos += 1  # past the delimiter
        if self.bad is not None:
            raise undecodable_error(self.values, self.bad, cfg.encoding)
        if self.stray:
            raise stray_error(cfg)
        return (_unswap(self.values) if cfg.cr else self.values), self.n

    def _field(self, pos: int) -> tuple[str, bool, int]:
        """A field from pos: its text, whether it held a quote, where it ends."""
        d, q = self.cfg.delimiter, self.cfg.quote
        pieces: list[str] = []
        saw_quote = False
        while True:  # an unquoted stretch, then maybe a quoted one
            body = self.body
            jd = body.find(d, pos)
            jq = body.find(q, pos)
            end = jq if jq != -1 and (jd == -1 or jq < jd) else len(body) if jd == -1 else jd
            pieces.append(body[pos:end])
            self.stray = self.stray or "\r" in pieces[-1]
            if end != jq:
                return "".join(pieces), saw_quote, end
            saw_quote = True
            pos = self._quoted(pieces, jq + 1)

    def _quoted(self, pieces: list[str], pos: int) -> int:
        """Append a quoted stretch's text from pos (reading on past the line where
        it goes on); where it ends, after its closing quote."""
        q, e = self.cfg.quote, self.cfg.escape
        while True:
            body = self.body
            j = body.find(q, pos)
            if e != q:
                je = body.find(e, pos)
                if je != -1 and (j == -1 or je < j):
                    j = je
            if j == -1:  # the value goes on past the end of this line
                pieces.append(body[pos:])
                pieces.append(self.eol)
                self._next_line(pieces)
                pos = 0
                continue
            c = body[j]
            if c == e and j + 1 < len(body) and body[j + 1] in (q, e):
                pieces.append(body[pos:j])
                pieces.append(body[j + 1])
                pos = j + 2
            elif c == q:
                pieces.append(body[pos:j])
                return j + 1
            else:  # an escape character not escaping anything
                pieces.append(body[pos : j + 1])
                pos = j + 1

    def _next_line(self, pieces: list[str]) -> None:
        cfg = self.cfg
        self.size += len(self.line)
        if self.size > self.limit:
            raise TooLong(self.first, "record")
        try:
            self.n, self.line = next(self.it)
        except StopIteration:
            if self.stray:  # the first of its faults, as COPY finds it
                raise stray_error(cfg) from None
            value = "".join(pieces)[:60]
            raise RowError(
                "unterminated CSV quoted field", len(self.values), swap(value) if cfg.cr else value
            ) from None
        if self.bad is None and type(self.line) is Undecodable:
            self.bad = self.line.error
        self.body = strip_newline(self.line, cfg.cr)
        self.eol = self.line[len(self.body) :]


def _split_fields(cfg: Config, body: str) -> tuple[list[str], list[bool]]:
    """A record's fields where the escape is the quote, from the record's text
    cut at its quotes (every other piece quoted), and whether each held a quote."""
    q, d = cfg.quote, cfg.delimiter
    parts = body.split(q)
    fields = parts[0].split(d)
    quoted = [False] * len(fields)
    current = fields.pop()
    saw = quoted.pop()
    i, count = 1, len(parts)
    while i < count:
        current += parts[i]
        saw = True
        after = parts[i + 1]
        if not after and i + 2 < count:  # a doubled quote inside quotes: a quote
            current += q
        elif d in after:
            pieces = after.split(d)
            fields.append(current + pieces[0])
            fields.extend(pieces[1:-1])
            quoted.append(True)
            quoted.extend([False] * (len(pieces) - 2))
            current, saw = pieces[-1], False
        else:
            current += after
        i += 2
    fields.append(current)
    quoted.append(saw)
    return fields, quoted


def _is_null(cfg: Config, i: int, saw_quote: bool) -> bool:
    """Whether field i, being the null string, is NULL: force_null and
    force_not_null say for the table's columns (extra fields are an error)."""
    if i >= len(cfg.names):
        return not saw_quote
    if saw_quote:
        return cfg.force_null[i]
    return not cfg.force_not_null[i]


def _stray_cr(cfg: Config, body: str) -> bool:
    """Whether a CR is outside quotes (an LF, in a file of lone CRs)."""
    return "\r" in body and any("\r" in p for p in body.split(cfg.quote)[::2])


def _unterminated(cfg: Config, body: str) -> RowError:
    """The error for a record whose quote is still open at the end of the file."""
    if _stray_cr(cfg, body):  # the first of its faults, as COPY finds it
        return stray_error(cfg)
    fields, _quoted = _split_fields(cfg, body + cfg.quote)
    value = fields[-1][:60]
    return RowError(
        "unterminated CSV quoted field", len(fields) - 1, swap(value) if cfg.cr else value
    )


def _quoted_record(cfg: Config, line: str, n: int, it: Iterator, limit: int) -> tuple[list, int]:
    """A CSV record whose escape is the quote: it goes on while its quotes are
    odd in number, then its text is cut at the quotes."""
    q = cfg.quote
    bad = line.error if type(line) is Undecodable else None
    body = strip_newline(line, cfg.cr)
    odd = body.count(q) % 2
    if odd:  # the record goes on past this line
        first, size, pieces = n, 0, [body]
        while odd:
            pieces.append(line[len(pieces[-1]) :])  # the line's newline: data
            size += len(line)
            if size > limit:
                raise TooLong(first, "record")
            try:
                n, line = next(it)
            except StopIteration:
                raise _unterminated(cfg, "".join(pieces)) from None
            if bad is None and type(line) is Undecodable:
                bad = line.error
            pieces.append(strip_newline(line, cfg.cr))
            odd ^= pieces[-1].count(q) % 2
        body = "".join(pieces)
    fields, quoted = _split_fields(cfg, body)
    values: list[Any] = [
        None if v == cfg.null and _is_null(cfg, i, saw) else v
        for i, (v, saw) in enumerate(zip(fields, quoted, strict=True))
    ]
    if bad is not None:
        raise undecodable_error(values, bad, cfg.encoding)
    if _stray_cr(cfg, body):
        raise stray_error(cfg)
    return (_unswap(values) if cfg.cr else values), n


def csv_record(cfg: Config, line: str, n: int, it: Iterator, limit: int) -> tuple[list, int]:
    """A CSV record holding quotes (it may span lines): (its list of values,
    its last line number)."""
    if cfg.escape == cfg.quote:
        return _quoted_record(cfg, line, n, it, limit)
    return _CsvRecord(cfg, line, n, it, limit).read()
