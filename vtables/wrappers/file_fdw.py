"""file_fdw: read CSV and text files as foreign tables, like PostgreSQL's file_fdw.

Purpose
-------
Reads a data file in the format PostgreSQL's ``COPY FROM`` reads (``text`` or
``csv``) as a read-only foreign table.  The file is streamed line by line:
memory use does not grow with the file.  gzip-compressed files are read
transparently.  The file's fields map to the table's columns in order; values
are converted to the declared column types.  Quals, ORDER BY and LIMIT are
never pushed down: every scan reads the whole file and SQLite filters.

Reading commands' output (``program``) is refused: a database file must never
be able to make the program that opens it run commands.  For the same reason
only regular files are read (not FIFOs, which would make a scan wait, nor
devices such as ``/dev/zero``, which never end), and a line longer than 1 GB
(COPY's bound) stops the scan.  The program, never a database file, can change
both: ``FileFdw.allow_special_files = True``, ``FileFdw.max_line_length = n``
(characters), on the class or on a subclass it registers.

Options
-------
Server:

- ``directory``: the directory relative ``filename`` values resolve against
  (default: the directory of the database file; for an in-memory database,
  the current working directory).

Foreign table:

- ``filename`` (required): the file to read; relative paths resolve against
  the server's ``directory``, and ``~`` stands for the home directory.  A
  name ending in ``.gz``, or a file starting with the gzip magic bytes, is
  decompressed on the fly.
- ``format``: ``text`` (default) or ``csv``.
- ``header``: ``false`` (default), ``true`` (skip the first line) or
  ``match`` (the first line must name the columns, in order; a column's
  ``column_name`` option gives the name to expect).
- ``delimiter``: one character; tab for text, comma for csv.
- ``quote``: csv only, one character (default ``"``).
- ``escape``: csv only, one character (default: the quote character).
- ``null``: the string that means NULL; ``\\N`` for text, an unquoted empty
  string for csv.
- ``encoding``: the file's encoding (default ``utf-8``; any ASCII-compatible
  Python text codec or PostgreSQL encoding name such as ``LATIN1`` or
  ``WIN1252``; codecs from bytes to bytes such as ``hex`` are refused).
  A UTF-8 byte order mark at the start of the file is skipped.
- ``on_error``: ``stop`` (default) fails the scan at the first bad row;
  ``ignore`` skips rows where a value the query reads does not convert to
  its column's type, and also rows with the wrong number of fields,
  undecodable bytes, an unterminated quote or a stray line ending (PostgreSQL
  17 skips only the former); a line past the length bound stops the scan all
  the same.  The number of rows skipped is reported at the end of the scan
  as a notice, worded as PostgreSQL 17's (``1 row was skipped due to data
  type incompatibility``).

Column (csv only):

- ``force_not_null``: never match this column's value against the null
  string (an empty field reads as ``''``).
- ``force_null``: match the value against the null string even when quoted.
- ``column_name``: the name the header line uses for the column
  (``header 'match'``).

Lines end as COPY finds them at the end of the first line: LF, CR LF (the two
may be mixed) or a lone CR (old Mac files).  In a file of lone CRs an LF is
refused, and elsewhere a lone CR, as COPY refuses them ("literal newline found
in data"; "unquoted" for CSV), unless quoted (CSV) or after a backslash (text).

Text format follows ``COPY``: tab-separated, ``\\N`` is NULL, backslash escapes
(``\\t \\n \\r \\b \\f \\v \\\\``, octal ``\\123`` and hex ``\\x41``), a line with
just ``\\.`` ends the data; as in PostgreSQL 15 to 17, ``\\.`` ending a line after
other data ends that row (the data before it is the row's), and ``\\.`` anywhere
else (the file's end included) is an error, "end-of-copy marker corrupt".
CSV follows ``COPY ... CSV``: quoted fields may hold delimiters, quotes
(doubled, or preceded by ``escape``) and newlines;
the null string matches only unquoted values.

Example
-------
::

    CREATE EXTENSION file_fdw;
    CREATE SERVER files FOREIGN DATA WRAPPER file_fdw
        OPTIONS (directory '/srv/data');
    CREATE FOREIGN TABLE measurements (
        station text,
        taken date,
        value numeric OPTIONS (force_not_null 'true')
    ) SERVER files
      OPTIONS (filename 'measurements.csv.gz', format 'csv', header 'match');
    SELECT station, avg(value) FROM measurements GROUP BY station;
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import errno
import gzip
import io
import logging
import os
import re
import stat
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from itertools import chain, islice, repeat
from operator import itemgetter
from typing import Any

from .. import speedups, types
from ..errors import FeatureNotSupportedError, InvalidOptionError, WrapperError
from ..wrapper import ForeignDataWrapper, OptionSpec, Qual, SortKey, parse_bool

logger = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"
_BUFFER = 1 << 16
_CHUNK = 1 << 16  # bytes of whole lines the batch reader takes at a time
_SAMPLE = 1 << 16
# Characters COPY refuses as a text-format delimiter (they mean something after a backslash).
_TEXT_BAD_DELIMITERS = "\\.abcdefghijklmnopqrstuvwxyz0123456789"
_CSV_ONLY = ("quote", "escape")
# PostgreSQL encoding names Python does not know, without "-" and "_" (WIN1252 and
# the like become cp1252 by rule).
_PG_ENCODINGS = {
    "unicode": "utf-8",
    "alt": "cp866",
    "koi8": "koi8-r",
    "koi8r": "koi8-r",
    "koi8u": "koi8-u",
    "mskanji": "shift_jis",
    "shiftjis": "shift_jis",
    "win": "cp1251",
    "tcvn": "cp1258",
    "tcvn5712": "cp1258",
    "vscii": "cp1258",
    "abc": "cp1258",
}
# Text every supported encoding must spell like ASCII, both ways: lines split on
# b"\n", and a backslash escape is the file's, not the codec's (raw_unicode_escape).
_ASCII_PROBE = "\n\r\t ,;|\"'\\.0123456789ABCabcNx\\u0041"


def python_encoding(name: str) -> str:
    """The Python codec for an encoding name (Python or PostgreSQL spelling).

    ValueError if unknown, not a text encoding (``hex``, ``zlib``: codecs from
    bytes to bytes) or not ASCII-compatible (lines are split on ``\\n`` bytes,
    so UTF-16 and the like cannot be read).
    """
    key = name.strip().lower()
    candidate = _PG_ENCODINGS.get(key.replace("-", "").replace("_", ""), key)
    if candidate.startswith("win") and candidate[3:].isdigit():
        candidate = "cp" + candidate[3:]
    try:
        codec = codecs.lookup(candidate)
    except LookupError:
        raise ValueError(f"unknown encoding {name!r}") from None
    if not getattr(codec, "_is_text_encoding", True):
        raise ValueError(f"{name!r} is not a text encoding (the codec converts bytes to bytes)")
    ascii = _ASCII_PROBE.encode("ascii")
    try:
        ascii_ok = _ASCII_PROBE.encode(codec.name) == ascii and ascii.decode(codec.name) == (
            _ASCII_PROBE
        )
    except (UnicodeError, LookupError):
        ascii_ok = False
    if not ascii_ok:
        raise ValueError(f"encoding {name!r} is not ASCII-compatible")
    return codec.name


def _encoding_option(value: str) -> str:
    try:
        return python_encoding(value)
    except ValueError as err:
        raise ValueError(f"not a valid encoding name: {err}") from None


@dataclass(frozen=True)
class _CheckedOption(OptionSpec):
    """An option spec whose text must also pass ``parse`` (ValueError says why),
    so that ForeignDataWrapper.validate refuses it at CREATE / ALTER time."""

    parse: Callable[[str], Any] | None = None

    def convert(self, value: str) -> Any:
        out = super().convert(value)
        return out if self.parse is None else self.parse(value)


def _header_choice(value: str) -> str:
    if value.strip().lower() == "match":
        return "match"
    try:
        return "true" if parse_bool(value) else "false"
    except ValueError:
        raise ValueError('expected a boolean or "match"') from None


def _table_problems(options: Mapping[str, str]) -> str | None:
    """What COPY would refuse in this combination of table options, or None."""
    fmt = options.get("format", "text")
    csv_mode = fmt == "csv"
    for key in _CSV_ONLY:
        if key in options and not csv_mode:
            return f"COPY {key} available only in CSV mode"
    delimiter = options.get("delimiter", "," if csv_mode else "\t")
    quote = options.get("quote", '"')
    escape = options.get("escape", quote)
    null = options.get("null", "" if csv_mode else "\\N")
    if len(delimiter) != 1:
        return "COPY delimiter must be a single one-byte character"
    if delimiter in "\r\n":
        return "COPY delimiter cannot be newline or carriage return"
    if "\r" in null or "\n" in null:
        return "COPY null representation cannot use newline or carriage return"
    if not csv_mode and delimiter in _TEXT_BAD_DELIMITERS:
        return f'COPY delimiter cannot be "{delimiter}"'
    if csv_mode:
        if len(quote) != 1:
            return "COPY quote must be a single one-byte character"
        if len(escape) != 1:
            return "COPY escape must be a single one-byte character"
        if delimiter == quote:
            return "COPY delimiter and quote must be different"
        if quote in null:
            return "CSV quote character must not appear in the NULL specification"
    if delimiter in null:
        return "COPY delimiter character must not appear in the NULL specification"
    if "header" in options:
        try:
            _header_choice(options["header"])
        except ValueError:
            return f'header requires a Boolean value or "match", not {options["header"]!r}'
    if "encoding" in options:
        try:
            python_encoding(options["encoding"])
        except ValueError as err:
            return f'argument to option "encoding" must be a valid encoding name: {err}'
    return None


@dataclass
class _Config:
    """Everything a scan needs, worked out once per wrapper instance."""

    path: str
    csv: bool
    header: str
    delimiter: str
    quote: str
    escape: str
    null: str
    encoding: str
    ignore: bool
    names: list[str]
    header_names: list[str]
    force_not_null: list[bool]
    force_null: list[bool]
    gzip: bool = False
    #: Text format: finds escapes and (unescaped) delimiters.
    tokens: re.Pattern | None = None
    #: This scan's file ends its lines with a lone CR (see _Lines); set per scan.
    cr: bool = False


class _RowError(Exception):
    """A bad row: the message, and the column (index) and value when known."""

    def __init__(
        self, message: str, column: int | None = None, value: Any = None, hint: str | None = None
    ):
        super().__init__(message)
        self.message = message
        self.column = column
        self.value = value
        self.hint = hint
        self.line: int | None = None


class _TooLong(Exception):
    """A line (or a record of several) longer than the wrapper's max_line_length:
    the scan stops, whatever on_error says, as COPY does."""

    def __init__(self, line: int, what: str = "line"):
        super().__init__(line, what)
        self.line = line
        self.what = what


class _SpecialFile(OSError):
    """The file is not a regular file, and the program did not allow others."""


def _file_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "of an unknown kind"


_SWAP = str.maketrans("\r\n", "\n\r")
_BSWAP = bytes.maketrans(b"\r\n", b"\n\r")


def _swap(text: Any) -> Any:
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
    return [_swap(v) if v is not None and ("\r" in v or "\n" in v) else v for v in values]


def _strip(line: str, cr: bool) -> str:
    """A line without its newline (an exact str even for an _Undecodable line).

    Where LF or CR LF ends the first line, either ends every line (PostgreSQL
    holds a file to the first line's style; file_fdw has always read the two
    mixed); where a lone CR does (exchanged to LF: see _Lines), only it."""
    if line[-1:] == "\n":
        if not cr and line[-2:-1] == "\r":
            return line[:-2]
        return line[:-1]
    return line[:]


def _text_piece(line: str, cr: bool) -> tuple[str, bool]:
    """A text-format line without its newline, and whether a backslash escapes
    the newline (which is then data, and the record goes on).  A backslash before
    the CR of CR LF escapes the CR alone, as in COPY: the LF ends the line."""
    piece = _strip(line, cr)
    if line[-1:] != "\n" or (len(piece) - len(piece.rstrip("\\"))) % 2 == 0:
        return piece, False
    if len(piece) == len(line) - 2:
        return line[:-1], False
    return piece, True


class _Newlines:
    """Which newline ends the lines of a file, found as COPY finds it: by the
    first CR or LF outside a quoted field (CSV) or not after a backslash (text).

    ``feed`` takes the file's text a piece at a time and answers True (a lone CR
    ends lines), False (LF or CR LF) or None (not known yet); ``finish`` answers
    at the end of the file."""

    def __init__(self, cfg: _Config):
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
        size = len(text)
        while True:
            m = self._search(text, pos)
            if m is None:
                return None
            j = m.start()
            c = text[j]
            pos = j + 1
            if c in "\r\n" and not self.in_quote:
                if c == "\n":
                    return False
                if pos < size:
                    return text[pos] != "\n"
                self.after_cr = True
                return None
            if not self.csv:  # a backslash: the next character is data
                if pos == size:
                    self.skip = True
                    return None
                pos += 1
            elif not self.in_quote:
                self.in_quote = c == self.quote
            elif c == self.escape and self.escape != self.quote:
                if pos == size:
                    self.skip = True
                    return None
                if text[pos] in (self.quote, self.escape):
                    pos += 1
            elif c == self.quote:
                self.in_quote = False

    def finish(self) -> bool:
        return self.after_cr


class _Lines:
    """The lines of a file, read in bounded memory: str lines from the decoded
    file, or bytes lines from the raw one (after bytes that do not decode).

    Every line ends in LF here: when a lone CR ends the file's first line
    (``cr``, found by ``sniff`` as COPY finds it), CR and LF are exchanged as the
    file is read, and a CR in a line stands for an LF of the file, which COPY
    refuses unless quoted or escaped; values are exchanged back (_unswap).  So
    the readers downstream, the C one included, split on LF alone.

    A line longer than ``limit`` raises _TooLong, however the file is read
    (chunks or lines), before it is held in memory whole."""

    def __init__(self, f: Any, limit: int, *, binary: bool = False, cr: bool | None = None):
        self._f = f
        self._limit = limit
        self._binary = binary
        self._nl: Any = b"\n" if binary else "\n"
        self._empty: Any = b"" if binary else ""
        self._buf: Any = self._empty
        self._pos = 0
        self.cr = cr
        #: Lines handed out so far.
        self.line = 0

    def close(self) -> None:
        self._f.close()

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> Any:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def _read(self) -> Any:
        block = self._f.read(_CHUNK)
        return _swap(block) if self.cr and block else block

    def sniff(self, newlines: _Newlines, encoding: str) -> bool:
        """Whether a lone CR ends the lines: the file read until COPY would know."""
        if self.cr is not None:
            return self.cr
        decode = None
        if self._binary:
            decode = codecs.getincrementaldecoder(encoding)("replace").decode
        parts = []
        size = 0
        cr = None
        while cr is None:
            block = self._f.read(_CHUNK)
            parts.append(block)
            size += len(block)
            cr = newlines.feed(decode(block, not block) if decode else block)
            if cr is None and not block:
                cr = newlines.finish()
            elif cr is None and size - newlines.after_cr > self._limit:
                raise _TooLong(1, "record" if newlines.in_quote else "line")
        buf = self._empty.join(parts)
        self.cr = cr
        self._buf = _swap(buf) if cr else buf
        self._pos = 0
        return cr

    def readline(self) -> Any:
        """The next line (empty at the end of the file)."""
        nl, buf, pos = self._nl, self._buf, self._pos
        j = buf.find(nl, pos)
        if j >= 0:
            if j - pos > self._limit:
                raise _TooLong(self.line + 1)
            self._pos = j + 1
            self.line += 1
            return buf[pos : j + 1]
        parts = [buf[pos:]]
        size = len(buf) - pos
        self._buf, self._pos = self._empty, 0
        while True:
            if size > self._limit:
                raise _TooLong(self.line + 1)
            block = self._read()
            if not block:
                line = self._empty.join(parts)
                self.line += bool(line)
                return line
            j = block.find(nl)
            if j >= 0:
                if size + j > self._limit:
                    raise _TooLong(self.line + 1)
                parts.append(block[: j + 1])
                self._buf, self._pos = block, j + 1
                self.line += 1
                return self._empty.join(parts)
            parts.append(block)
            size += len(block)

    def chunk(self) -> Any:
        """About a chunk of whole lines (the file's last line may lack its
        newline); empty at the end of the file."""
        nl, buf, pos = self._nl, self._buf, self._pos
        cut = buf.rfind(nl, pos) + 1
        if cut:  # whole lines left: the start read by sniff, or what readline left
            text = buf[pos:cut]
            self._pos = cut
        else:
            head = buf[pos:]  # the start of a line
            self._buf, self._pos = self._empty, 0
            block = self._read()
            cut = block.rfind(nl) + 1
            if cut:
                if len(head) + block.find(nl) > self._limit:
                    raise _TooLong(self.line + 1)
                text = head + block[:cut] if head else block[:cut]
                self._buf, self._pos = block, cut
            elif block:
                text = self._long(head, block)
            else:
                text = head
        if len(text) > self._limit:  # a bound below the chunk size: every line checked
            for i, length in enumerate(map(len, text.split(nl))):
                if length > self._limit:
                    raise _TooLong(self.line + i + 1)
        if text:
            self.line += text.count(nl) + (text[-1:] != nl)
        return text

    def _long(self, head: Any, block: Any) -> Any:
        """A line longer than a chunk, and the whole lines after it in its last
        block: the pieces joined once, never one by one (quadratic)."""
        nl = self._nl
        parts = [head, block]
        size = len(head) + len(block)
        while True:
            if size > self._limit:
                raise _TooLong(self.line + 1)
            block = self._read()
            if not block:
                return self._empty.join(parts)
            j = block.find(nl)
            if j >= 0:
                if size + j > self._limit:
                    raise _TooLong(self.line + 1)
                cut = block.rfind(nl) + 1
                parts.append(block[:cut])
                self._buf, self._pos = block, cut
                return self._empty.join(parts)
            parts.append(block)
            size += len(block)


class _Restart(Exception):
    """Re-read the file from ``line`` on, decoding each line by itself."""

    def __init__(self, line: int):
        self.line = line


class _Undecodable(str):
    """A line whose bytes do not decode, decoded with surrogate escapes so that its
    record still ends where it should.  It claims to contain everything, so the
    fast path (``special not in line``) always hands it to the slow path, which
    reads the whole record and then refuses it."""

    error: str = ""

    def __contains__(self, item: object) -> bool:
        return True


_SURROGATE = re.compile("[\udc80-\udcff]")


def _undecodable(values: list, error: str, encoding: str) -> _RowError:
    """The error for a record holding undecodable bytes, naming the first bad field."""
    for i, value in enumerate(values):
        if value is not None and _SURROGATE.search(value):
            shown = value.encode(encoding, "surrogateescape").decode(encoding, "backslashreplace")
            return _RowError(error, i, shown)
    return _RowError(error)


_END = object()  # the text format's end-of-data marker line (\.)
# A carriage return not after a backslash: data the text format refuses.
_TEXT_CR = re.compile(r"\\.|\r", re.S)

_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.S)
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unescape(field: str, encoding: str) -> str:
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
            raise _RowError(f'invalid byte sequence for encoding "{encoding}": {err}') from None
    return out


_INT64 = (-(2**63), 2**63 - 1)
_ALL_TYPED = frozenset(
    {"integer", "real", "numeric", "boolean", "date", "time", "timestamp", "timestamptz"}
    | {"blob", "json"}
)


def _int64(value: str) -> int:
    if "_" in value or not value.isascii():  # Python reads 1_000 and ١ as numbers; PG does not
        raise ValueError("invalid input syntax")
    out = int(value)  # like types' integer coercion of text: int() strips spaces itself
    if _INT64[0] <= out <= _INT64[1]:
        return out
    raise ValueError("out of range for a 64-bit integer")


def _converter(declared: str):
    """The coercion of a field's text to the declared type: types.converter's,
    with shortcuts for the common families."""
    family = types.family(declared)
    if family == "integer":
        return _int64
    if family == "real":
        return _float
    return types.converter(declared)


def _float(value: str) -> float:
    if "_" in value or not value.isascii():  # Python reads 1_0.5 and ١ as numbers
        raise ValueError("invalid input syntax")
    return float(value)


def _split_lines(text: str) -> list[str]:
    """Lines with their newlines, split at newlines only (not at str.splitlines's
    other line boundaries, which are data in COPY formats)."""
    parts = text.split("\n")
    tail = parts.pop()  # "" when the text ends with a newline
    lines = [part + "\n" for part in parts]
    if tail:
        lines.append(tail)
    return lines


# The usual spellings of booleans, for a lookup per value.
_BOOLEAN_TEXT = {
    spelling: value
    for words, value in (("t true y yes on 1", 1), ("f false n no off 0", 0))
    for word in words.split()
    for spelling in (word, word.upper(), word.capitalize())
}


def _convert_column(values: Any, kind: str, convert: Any) -> list:
    """A column of field texts (or None) converted, the loop inside C where it can
    be; raises what the converter raises."""
    if None in values:
        return [None if v is None else convert(v) for v in values]
    if kind in ("integer", "real", "numeric"):
        # digits Python reads and SQL does not (1_000, ١): converted one by one
        joined = "".join(values)
        underscore = "_" in joined or not joined.isascii()
    if kind == "integer" and not underscore:
        out = list(map(int, values))
        if out and (min(out) < _INT64[0] or max(out) > _INT64[1]):
            raise ValueError("out of range for a 64-bit integer")
        return out
    if kind == "real" and not underscore:
        return list(map(float, values))
    if kind == "numeric" and not underscore:
        # NUMERIC affinity: REAL unless integral; integral texts take the exact path.
        out = list(map(float, values))
        if not any(map(float.is_integer, out)):
            return out
    elif kind == "boolean":
        try:
            return list(map(_BOOLEAN_TEXT.__getitem__, values))
        except KeyError:
            pass  # spaces, other spellings: the converter's rules
    elif kind == "date" and set(map(len, values)) == {10}:
        return list(map(dt.date.isoformat, map(dt.date.fromisoformat, values)))
    return list(map(convert, values))


_C_KINDS = {"integer": 1, "real": 2, "numeric": 3, "boolean": 4, "date": 5}  # _speedups.K_*


def _c_parser(cfg: Any, wanted: list[int], conversions: list, keeps: list) -> Any:
    """The C extension's reader of plain chunks for this scan (text -> batch or
    None), or None when it is not in use or some wanted column's type is not
    one it converts."""
    c = speedups.module()
    if c is None or len(cfg.delimiter.encode()) != 1:
        return None
    kinds = [c.K_TEXT] * len(wanted)
    for k, kind, _convert in conversions:
        if kind not in _C_KINDS:
            return None
        kinds[k] = _C_KINDS[kind]
    special = cfg.quote if cfg.csv else "\\"
    null = None if special in cfg.null else cfg.null
    args = (
        cfg.delimiter,
        len(cfg.names),
        tuple(wanted),
        tuple(kinds),
        null,
        tuple(bool(x) for x in cfg.force_not_null),
        tuple((k, tuple(allowed)) for k, allowed in keeps),
        special,
    )
    parse = c.parse_chunk
    return lambda text: parse(text, *args)


class _GzipFile(gzip.GzipFile):
    """A gzip stream over an open file, closing the file with it."""

    def __init__(self, raw: Any):
        super().__init__(fileobj=raw, mode="rb")
        self._under = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._under.close()


def _size_text(size: int) -> str:
    if size < 1000:
        return f"{size} B"
    for unit in ("kB", "MB", "GB", "TB"):
        size /= 1000
        if size < 1000 or unit == "TB":
            return f"{size:.1f} {unit}"
    return ""  # pragma: no cover


class FileFdw(ForeignDataWrapper):
    """PostgreSQL's file_fdw: read-only foreign tables over text and CSV files."""

    name = "file_fdw"
    version = "1.0"
    coerces_values = True

    #: The longest line read, in characters (bytes when reading the raw file after
    #: bytes that do not decode); a CSV record over several lines counts whole.
    #: COPY stops at 1 GB.  Set by the program (on this class or a subclass),
    #: never by a database file.
    max_line_length: int = 1 << 30
    #: Whether FIFOs, devices and other files that are not regular files may be
    #: read.  A database file naming ``/dev/zero`` or a FIFO must not make a scan
    #: run or wait for ever, so only the program can allow them.
    allow_special_files: bool = False

    option_specs = (
        OptionSpec("directory", {"server"}, doc="directory relative filenames resolve against"),
        OptionSpec("filename", {"table"}, required=True, doc="the file to read"),
        OptionSpec(
            "format", {"table"}, choices=("text", "csv"), default="text", doc="COPY's file format"
        ),
        OptionSpec("header", {"table"}, default="false", doc="true, false or match"),
        OptionSpec("delimiter", {"table"}, doc="one character (tab for text, comma for csv)"),
        OptionSpec("quote", {"table"}, doc='csv quote character (default ")'),
        OptionSpec("escape", {"table"}, doc="csv escape character (default: the quote)"),
        OptionSpec("null", {"table"}, doc="the null string (\\N for text, empty for csv)"),
        _CheckedOption(
            "encoding",
            {"table"},
            default="utf-8",
            doc="the file's encoding (an ASCII-compatible text encoding)",
            parse=_encoding_option,
        ),
        OptionSpec(
            "on_error",
            {"table"},
            choices=("stop", "ignore"),
            default="stop",
            doc="ignore skips rows with malformed values (a notice counts them at the scan's end)",
        ),
        OptionSpec(
            "force_not_null", {"column"}, bool, default=False, doc="csv: never read as NULL"
        ),
        OptionSpec(
            "force_null", {"column"}, bool, default=False, doc="csv: a quoted null string is NULL"
        ),
        OptionSpec("column_name", {"column"}, doc="the column's name in the header line"),
    )

    def __init__(self, options, columns):
        super().__init__(options, columns)
        self._config: _Config | None = None
        self._estimated: tuple[tuple, tuple[float, int, bool]] | None = None
        #: Rows the last completed scan skipped (on_error 'ignore').
        self.skipped_rows = 0

    # ---------------------------------------------------------- options

    @classmethod
    def validate(cls, kind: str, options: Mapping[str, str], *, object_name: str) -> None:
        if "program" in options:
            raise FeatureNotSupportedError(
                'file_fdw option "program" is not supported',
                detail="Running commands named in a database file would let whoever wrote "
                "the file run programs as the user who opens it.",
                hint="Use filename, with a file the command wrote beforehand.",
            )
        super().validate(kind, options, object_name=object_name)
        if kind == "table":
            problem = _table_problems(options)
            if problem:
                raise InvalidOptionError(f'foreign table "{object_name}": {problem}')

    def _resolve(self) -> str:
        filename = os.path.expanduser(self.options["filename"])
        if os.path.isabs(filename):
            return os.path.normpath(filename)
        base = os.path.dirname(os.path.abspath(self.database_path)) if self.database_path else ""
        directory = self.options.get("directory")
        if directory:
            base = os.path.join(base or os.getcwd(), os.path.expanduser(directory))
        return os.path.abspath(os.path.join(base or os.getcwd(), filename))

    def config(self) -> _Config:
        if self._config is not None:
            return self._config
        options = self.options
        if "program" in options:
            self.validate("table", options, object_name=self.table_name)
        if "filename" not in options:
            raise InvalidOptionError(
                f'option "filename" is required for foreign table "{self.table_name}"'
            )
        problem = _table_problems(options)
        if problem:
            raise InvalidOptionError(f'foreign table "{self.table_name}": {problem}')
        csv_mode = options.get("format", "text") == "csv"
        names = list(self.columns)
        force_not_null, force_null = [], []
        for col in self.columns.values():
            for key, flags in (("force_not_null", force_not_null), ("force_null", force_null)):
                flag = parse_bool(col.options.get(key, "false"))
                if flag and not csv_mode:
                    raise InvalidOptionError(
                        f'foreign table "{self.table_name}", column "{col.name}": '
                        f"COPY {key} available only in CSV mode"
                    )
                flags.append(flag)
        quote = options.get("quote", '"')
        path = self._resolve()
        self._config = _Config(
            path=path,
            csv=csv_mode,
            header=_header_choice(options.get("header", "false")),
            delimiter=options.get("delimiter", "," if csv_mode else "\t"),
            quote=quote,
            escape=options.get("escape", quote),
            null=options.get("null", "" if csv_mode else "\\N"),
            encoding=python_encoding(options.get("encoding", "utf-8")),
            ignore=options.get("on_error", "stop") == "ignore",
            names=names,
            header_names=[c.options.get("column_name", c.name) for c in self.columns.values()],
            force_not_null=force_not_null,
            force_null=force_null,
        )
        delimiter = self._config.delimiter
        self._config.tokens = re.compile(r"\\.|" + re.escape(delimiter), re.S)
        return self._config

    # ------------------------------------------------------------ files

    def _open_raw(self, path: str) -> Any:
        """The file, opened for reading bytes.  Only a regular file unless the
        program allows others: it is looked at before it is opened (opening a FIFO
        waits for a writer), and opened without waiting, then looked at again."""
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        if not stat.S_ISREG(mode):
            if not self.allow_special_files:
                raise _SpecialFile(_file_kind(mode))
            return open(path, "rb", buffering=_BUFFER)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):  # replaced since: look again
                raise _SpecialFile(_file_kind(mode))
            return open(fd, "rb", buffering=_BUFFER)
        except BaseException:
            os.close(fd)
            raise

    def _is_gzip(self, path: str) -> bool:
        if path.endswith(".gz"):
            return True
        with self._open_raw(path) as f:
            return f.read(2) == _GZIP_MAGIC

    def _check_file(self, cfg: _Config) -> None:
        try:
            mode = os.stat(cfg.path).st_mode
            if stat.S_ISREG(mode):
                cfg.gzip = self._is_gzip(cfg.path)
            elif stat.S_ISDIR(mode):
                raise IsADirectoryError(cfg.path)
            elif not self.allow_special_files:
                raise _SpecialFile(_file_kind(mode))
            else:  # not read ahead of the scan: a FIFO's bytes can be read only once
                cfg.gzip = cfg.path.endswith(".gz")
        except FileNotFoundError:
            raise WrapperError(
                f'foreign table "{self.table_name}": file "{cfg.path}" does not exist',
                hint=self._where_hint(),
            ) from None
        except IsADirectoryError:
            raise WrapperError(
                f'foreign table "{self.table_name}": "{cfg.path}" is a directory'
            ) from None
        except _SpecialFile as err:
            raise WrapperError(
                f'foreign table "{self.table_name}": "{cfg.path}" is not a regular file ({err})',
                hint="file_fdw reads regular files only; a program that means to read "
                "FIFOs or devices sets FileFdw.allow_special_files.",
            ) from None
        except OSError as err:
            raise WrapperError(
                f'foreign table "{self.table_name}": could not open file "{cfg.path}": '
                f"{err.strerror or err}"
            ) from None

    def _where_hint(self) -> str:
        if os.path.isabs(os.path.expanduser(self.options["filename"])):
            return ""
        if self.options.get("directory"):
            return "Relative filenames resolve against the server's directory option."
        if self.database_path:
            return "Relative filenames resolve against the database file's directory."
        return "Relative filenames resolve against the current directory (in-memory database)."

    def _open_text(self, cfg: _Config) -> _Lines:
        encoding = "utf-8-sig" if cfg.encoding == "utf-8" else cfg.encoding
        raw = self._open_binary(cfg)
        try:
            text = io.TextIOWrapper(raw, encoding=encoding, newline="\n")
        except BaseException:
            raw.close()
            raise
        return _Lines(text, self.max_line_length)

    def _open_binary(self, cfg: _Config, gz: bool | None = None) -> Any:
        raw = self._open_raw(cfg.path)
        if not (cfg.gzip if gz is None else gz):
            return raw
        try:
            return _GzipFile(raw)
        except BaseException:
            raw.close()
            raise

    @staticmethod
    def _decoded(raw: Any, encoding: str, first: int) -> Iterator[str]:
        """Lines decoded one at a time; a line that does not decode becomes an
        ``_Undecodable`` carrying the error."""
        for number, line in enumerate(raw, first):
            try:
                text = line.decode(encoding)
            except UnicodeDecodeError as err:
                bad = _Undecodable(line.decode(encoding, "surrogateescape"))
                bad.error = (
                    f'invalid byte sequence for encoding "{encoding}": '
                    f"0x{line[err.start : err.end].hex()} at byte {err.start + 1} of the line"
                )
                yield bad
                continue
            if number == 1 and encoding == "utf-8" and text.startswith("\ufeff"):
                text = text[1:]
            yield text

    # ----------------------------------------------------------- parsing

    def _text_record(self, cfg: _Config, line: str, n: int, it: Iterator) -> tuple[Any, int]:
        """A text-format record holding backslashes: (its list of values, or _END;
        its last line number)."""
        bad = line.error if type(line) is _Undecodable else None
        cr = cfg.cr
        piece, escaped = _text_piece(line, cr)
        pieces = [piece]
        size = len(piece)
        # A backslash before the newline makes the newline part of the data.
        while escaped:
            try:
                n, line = next(it)
            except StopIteration:  # the escaped newline ends the file: still data
                pieces.append("")
                break
            if bad is None and type(line) is _Undecodable:
                bad = line.error
            piece, escaped = _text_piece(line, cr)
            pieces.append(piece)
            size += len(piece) + 1
            if size > self.max_line_length:
                raise _TooLong(n - len(pieces) + 1, "record")
        body = "\n".join(pieces) if len(pieces) > 1 else piece
        if "\r" in body and any(m.group() == "\r" for m in _TEXT_CR.finditer(body)):
            raise self._stray(cfg)
        if cr:
            body = _swap(body)
        # COPY (PostgreSQL 15 to 17) reads a backslash-period as the end-of-data
        # marker wherever it starts an escape: followed by the line's newline it
        # ends the data, alone on its line, else after the data before it on the
        # line, which is a row (and, from a file, COPY then reads on); followed
        # by anything else, the end of the file included, it is an error.
        newline = line[-1:] == "\n"
        if body == "\\." and newline:
            return _END, n
        delimiter = cfg.delimiter
        fields = []
        start = 0
        for m in cfg.tokens.finditer(body):
            token = m.group()
            if token == delimiter:
                fields.append(body[start : m.start()])
                start = m.end()
            elif token == "\\.":
                if m.end() < len(body) or not newline:
                    raise _RowError("end-of-copy marker corrupt")
                body = body[: m.start()]
                break
        fields.append(body[start:])
        if bad is not None:
            raise _undecodable(fields, bad, cfg.encoding)
        null = cfg.null
        values: list[Any] = []
        for i, field in enumerate(fields):
            if field == null:
                values.append(None)
            elif "\\" in field:
                try:
                    values.append(_unescape(field, cfg.encoding))
                except _RowError as err:
                    err.column, err.value = i, field
                    raise
            else:
                values.append(field)
        return values, n

    def _csv_record(self, cfg: _Config, line: str, n: int, it: Iterator) -> tuple[list, int]:
        """A CSV record holding quotes (it may span lines): (its list of values,
        its last line number)."""
        bad = line.error if type(line) is _Undecodable else None
        d, q, e = cfg.delimiter, cfg.quote, cfg.escape
        null, force_nn, force_null = cfg.null, cfg.force_not_null, cfg.force_null
        ncols = len(cfg.names)
        cr = cfg.cr
        first = n
        size = 0
        stray = False  # an unquoted CR (an LF of a file of lone CRs): refused at the end
        body = _strip(line, cr)
        eol = line[len(body) :]
        values: list[Any] = []
        pos = 0
        while True:  # one field
            pieces = []
            saw_quote = False
            while True:  # an unquoted stretch, then maybe a quoted one
                jd = body.find(d, pos)
                jq = body.find(q, pos)
                if jq == -1 or (jd != -1 and jd < jq):
                    end = len(body) if jd == -1 else jd
                    pieces.append(body[pos:end])
                    stray = stray or "\r" in pieces[-1]
                    pos = end
                    break
                pieces.append(body[pos:jq])
                stray = stray or "\r" in pieces[-1]
                pos = jq + 1
                saw_quote = True
                while True:  # inside quotes
                    j = body.find(q, pos)
                    if e != q:
                        je = body.find(e, pos)
                        if je != -1 and (j == -1 or je < j):
                            j = je
                    if j == -1:  # the value goes on past the end of this line
                        pieces.append(body[pos:])
                        pieces.append(eol)
                        size += len(line)
                        if size > self.max_line_length:
                            raise _TooLong(first, "record")
                        try:
                            n, line = next(it)
                        except StopIteration:
                            if stray:  # the first of its faults, as COPY finds it
                                raise self._stray(cfg) from None
                            value = "".join(pieces)[:60]
                            raise _RowError(
                                "unterminated CSV quoted field",
                                len(values),
                                _swap(value) if cr else value,
                            ) from None
                        if bad is None and type(line) is _Undecodable:
                            bad = line.error
                        body = _strip(line, cr)
                        eol = line[len(body) :]
                        pos = 0
                        continue
                    c = body[j]
                    if c == e and j + 1 < len(body) and body[j + 1] in (q, e):
                        pieces.append(body[pos:j])
                        pieces.append(body[j + 1])
                        pos = j + 2
                    elif c == q:
                        pieces.append(body[pos:j])
                        pos = j + 1
                        break
                    else:  # an escape character not escaping anything
                        pieces.append(body[pos : j + 1])
                        pos = j + 1
            value = "".join(pieces)
            i = len(values)
            if value == null and i < ncols:
                if (not saw_quote and not force_nn[i]) or (saw_quote and force_null[i]):
                    value = None
            elif value == null and not saw_quote:
                value = None
            values.append(value)
            if pos >= len(body):
                if bad is not None:
                    raise _undecodable(values, bad, cfg.encoding)
                if stray:
                    raise self._stray(cfg)
                return (_unswap(values) if cr else values), n
            pos += 1  # past the delimiter

    def _csv_quick(self, cfg: _Config):
        """The CSV record reader for lines holding quotes.

        The stdlib ``csv`` module parses a one-line record several times faster
        than ``_csv_record``, and gives COPY's result whenever every quote opens or
        closes a field: then the field lengths, the delimiters and the quotes add
        up to the line's length.  Lines with doubled quotes (escaped quotes, or an
        empty quoted string that must not read as NULL), records going on past the
        line, a non-default escape and anything the module balks at go to the
        exact parser.
        """
        exact = self._csv_record
        if cfg.escape != cfg.quote:
            return exact
        q = cfg.quote
        doubled = q + q
        null = cfg.null
        slot: list[str] = []
        dialect = {"delimiter": cfg.delimiter, "quotechar": q, "doublequote": True}
        state = [csv.reader(iter(slot.pop, None), **dialect)]

        def record(cfg: _Config, line: str, n: int, it: Iterator) -> tuple[list, int]:
            if type(line) is _Undecodable:
                return exact(cfg, line, n, it)
            body = _strip(line, cfg.cr)
            if doubled in body or "\r" in body:  # a CR: data if quoted, else refused
                return exact(cfg, line, n, it)
            slot.append(body)
            try:
                values = next(state[0])
            except (csv.Error, IndexError):  # IndexError: the record goes on
                slot.clear()
                state[0] = csv.reader(iter(slot.pop, None), **dialect)
                return exact(cfg, line, n, it)
            if sum(map(len, values)) + len(values) - 1 + body.count(q) != len(body):
                return exact(cfg, line, n, it)  # a quote in the middle of a field
            if null in values:  # a quote anywhere in the field makes it not NULL
                return exact(cfg, line, n, it)
            return values, n

        return record

    def _null_fast(self, cfg: _Config, values: list) -> list:
        """Apply the null string to an unquoted record's fields."""
        null = cfg.null
        force = cfg.force_not_null
        if not any(force):
            return [None if v == null else v for v in values]
        return [None if v == null and not force[i] else v for i, v in enumerate(values)]

    def _count_error(self, cfg: _Config, values: list) -> _RowError:
        ncols = len(cfg.names)
        if len(values) > ncols:
            return _RowError(
                f'extra data after last expected column "{cfg.names[-1]}"', ncols, values[ncols]
            )
        name = cfg.names[len(values)]
        return _RowError(f'missing data for column "{name}"', len(values))

    def _fail(self, cfg: _Config, err: _RowError, line: int) -> WrapperError:
        where = f'foreign table "{self.table_name}", file "{cfg.path}", line {line}'
        if err.column is not None and err.column < len(cfg.names):
            where += f', column "{cfg.names[err.column]}"'
        message = f"{where}: {err.message}"
        if err.value is not None:
            shown = err.value if len(err.value) <= 80 else err.value[:77] + "..."
            message += f': "{shown}"'
        return WrapperError(message, hint=err.hint)

    def _too_long(self, cfg: _Config, err: _TooLong) -> WrapperError:
        return WrapperError(
            f'foreign table "{self.table_name}", file "{cfg.path}", line {err.line}: '
            f"{err.what} is longer than {self.max_line_length} characters",
            hint="The program reading the file sets the bound: FileFdw.max_line_length "
            "(COPY's is 1 GB).",
        )

    @staticmethod
    def _stray(cfg: _Config) -> _RowError:
        """COPY's error for a CR or LF in data that is not the file's newline."""
        what = "newline" if cfg.cr else "carriage return"
        if cfg.csv:
            return _RowError(
                f"unquoted {what} found in data",
                hint=f"Use quoted CSV field to represent {what}.",
            )
        escape = "\\n" if cfg.cr else "\\r"
        return _RowError(
            f"literal {what} found in data", hint=f'Use "{escape}" to represent {what}.'
        )

    def _check_header(self, cfg: _Config, values: list, line: int) -> None:
        expected = cfg.header_names
        if len(values) != len(expected):
            raise self._fail(
                cfg,
                _RowError(
                    f"wrong number of fields in header line: got {len(values)}, "
                    f"expected {len(expected)}"
                ),
                line,
            )
        for i, (got, want) in enumerate(zip(values, expected, strict=True)):
            if got is None:
                problem = f'got null value ("{cfg.null}"), expected "{want}"'
            elif got != want:
                problem = f'got "{got}", expected "{want}"'
            else:
                continue
            raise self._fail(
                cfg,
                _RowError(f"column name mismatch in header line field {i + 1}: {problem}"),
                line,
            )

    # ------------------------------------------------------------ scans

    def scan_batches(
        self,
        quals: list[Qual],
        columns: list[str],
        sortkeys: list[SortKey] | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> Iterator[Any]:
        """Batches of rows: C batches, zips of columns or lists of tuples."""
        cfg = self.config()
        self._check_file(cfg)
        index = {name: i for i, name in enumerate(cfg.names)}
        wanted = [index[c] for c in columns]
        # Every value the query reads is converted here, once, so a bad one is
        # reported (or its row skipped) with its file, line and column; the
        # module passes the results through (coerces_values).
        conversions = []
        for k, name in enumerate(columns):
            declared = self.columns[name].type
            kind = types.family(declared)
            if kind in _ALL_TYPED:
                conversions.append((k, kind, _converter(declared)))
        # An = or IN qual on an integer column with integer values can skip rows
        # that certainly fail it (the values are converted above); SQLite still
        # checks the survivors, so the qual is not claimed as honoured.
        keeps = []
        for qual in quals:
            if qual.column not in columns or types.family(self.columns[qual.column].type) != (
                "integer"
            ):
                continue
            k = columns.index(qual.column)
            if qual.operator == "=" and type(qual.value) is int:
                keeps.append((k, frozenset((qual.value,))))
            elif qual.operator == "IN" and all(type(v) is int for v in qual.value or ()):
                keeps.append((k, frozenset(qual.value or ())))
        return self._batches(cfg, wanted, conversions, keeps)

    def scan(
        self,
        quals: list[Qual],
        columns: list[str],
        sortkeys: list[SortKey] | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> Iterator[Any]:
        return chain.from_iterable(self.scan_batches(quals, columns, sortkeys, limit, offset))

    def _fast_batch(
        self, cfg: _Config, text: str, wanted: list[int], conversions: list, keeps: list
    ) -> Any:
        """The rows of a chunk of whole lines, read column by column with the
        loops inside C; None when the chunk needs the exact reader: a quote (CSV)
        or backslash (text), a stray carriage return, a wrong field count or a
        value that does not convert (the exact reader reports or skips it)."""
        special = cfg.quote if cfg.csv else "\\"
        if special in text:
            return None
        if "\r" in text:
            text = text.replace("\r\n", "\n")
            if "\r" in text:
                return None
        if text.endswith("\n"):
            text = text[:-1]
        texts = text.split("\n")
        delim = cfg.delimiter
        if set(map(str.count, texts, repeat(delim))) != {len(cfg.names) - 1}:
            return None
        if not wanted:  # count(*): only the field counts matter
            return repeat((), len(texts))
        null = None if special in cfg.null else cfg.null
        kinds = {k: (kind, convert) for k, kind, convert in conversions}
        cols: list[Any] = [None] * len(wanted)
        ncols = len(cfg.names)
        # Most columns wanted: the whole chunk split once into one flat list of
        # fields (every line has ncols of them: counted above), a column being
        # every ncols-th field.  A few: each cut out of the lines.  Neither builds
        # a list per line for the garbage collector to walk.
        # Columns of = / IN quals are cut out first, so a chunk without a match
        # never splits the rest.
        many = len(wanted) * 2 > ncols
        keyed = {k for k, _allowed in keeps}
        flat: list[str] | None = None
        keep: list[int] | None = None  # the rows = / IN quals let through

        def column(k: int) -> list:
            nonlocal flat
            j = wanted[k]
            if many and k not in keyed:
                if flat is None:
                    flat = text.replace("\n", delim).split(delim)
                values = flat[j::ncols]
                if keep is not None:
                    values = [values[i] for i in keep]
            elif j == 0:
                values = [line.partition(delim)[0] for line in texts]
            elif j == ncols - 1:
                values = [line.rpartition(delim)[2] for line in texts]
            else:
                values = [line.split(delim, j + 1)[j] for line in texts]
            if null is not None and null in values and not cfg.force_not_null[j]:
                values = [None if v == null else v for v in values]
            if k in kinds:
                values = _convert_column(values, *kinds[k])
            return values

        try:
            # Columns with = / IN quals first: a chunk without a match ends here.
            for k, allowed in keeps:
                if cols[k] is None:
                    cols[k] = column(k)
                if allowed.isdisjoint(cols[k]):
                    return ()
            if keeps:
                keep = [
                    i
                    for i in range(len(texts))
                    if all(cols[k][i] in allowed for k, allowed in keeps)
                ]
                texts = [texts[i] for i in keep]
                cols = [None if c is None else [c[i] for i in keep] for c in cols]
            for k in range(len(wanted)):
                if cols[k] is None:
                    cols[k] = column(k)
        except (ValueError, TypeError, ArithmeticError):
            return None
        return zip(*cols, strict=True)

    def _batches(
        self, cfg: _Config, wanted: list[int], conversions: list, keeps: list
    ) -> Iterator[Any]:
        """Batches of rows (iterables of tuples in ``wanted`` order), chunk by chunk.

        Chunks of plain lines go through ``_fast_batch``; any other chunk, and
        the rest of a file after bytes that do not decode, through the exact
        record readers, line by line."""
        cfg = replace(cfg)  # this scan's: the file's newline is found as it is read
        ignore = cfg.ignore
        ncols = len(cfg.names)
        special = cfg.quote if cfg.csv else "\\"
        record = self._csv_quick(cfg) if cfg.csv else self._text_record
        # The null string the exact reader's quick path (no quote / no backslash
        # in the line) must test.
        fast_null = None if special in cfg.null else cfg.null
        getter = itemgetter(*wanted) if len(wanted) > 1 else None
        single = wanted[0] if len(wanted) == 1 else None
        count_only = not wanted

        c_parse = _c_parser(cfg, wanted, conversions, keeps)
        keyed = {k for k, _allowed in keeps}
        key_conversions = [c for c in conversions if c[0] in keyed]
        other_conversions = [c for c in conversions if c[0] not in keyed]

        def exact(line: str, n: int, it: Iterator) -> Any:
            """One record's row (None when a keep filter drops it, _END at the
            end-of-data marker) and its last line."""
            last = n
            if special not in line:
                if "\r" in line:
                    body = _strip(line, cfg.cr)
                    if "\r" in body:
                        raise self._stray(cfg)
                else:
                    body = line.rstrip("\n")
                values = body.split(cfg.delimiter)
                if len(values) != ncols:
                    raise self._count_error(cfg, values)
                if fast_null is not None and fast_null in values:
                    values = self._null_fast(cfg, values)
            else:
                try:
                    values, last = record(cfg, line, n, it)
                except UnicodeDecodeError:
                    raise _Restart(n) from None
                if values is _END:
                    return _END, last
                if len(values) != ncols:
                    raise self._count_error(cfg, values)
            if count_only:
                return (), last
            if getter is not None:
                row = list(getter(values))
            else:
                row = [values[single]]
            k = 0
            try:
                # As the batch reader does: the columns of = / IN quals first, and
                # the rest of a row only when it passes them.
                for k, _kind, convert in key_conversions:
                    v = row[k]
                    if v is not None:
                        row[k] = convert(v)
                for k, allowed in keeps:
                    if row[k] not in allowed:
                        return None, last
                for k, _kind, convert in other_conversions:
                    v = row[k]
                    if v is not None:
                        row[k] = convert(v)
            except (ValueError, TypeError, ArithmeticError) as err:
                raise self._conversion_error(cfg, wanted[k], row[k], err) from None
            return tuple(row), last

        header_pending = cfg.header != "false"
        chunked = True
        skipped = 0
        failed = False
        n = 0  # the first line of the current record
        last = 0  # the last line read
        pending: list = []  # rows of the exact reader not yet handed out
        try:
            f = self._open_text(cfg)
        except OSError as err:  # gone, or replaced by a FIFO, since _check_file
            raise WrapperError(
                f'foreign table "{self.table_name}": could not open file "{cfg.path}": '
                f"{err.strerror or err}"
            ) from None
        it: Iterator = enumerate(f, 1)
        try:
            while True:
                try:
                    if f.cr is None:
                        cfg.cr = f.sniff(_Newlines(cfg), cfg.encoding)
                    if header_pending:
                        first = next(it, None)
                        if first is None:
                            return
                        n, line = first
                        try:
                            values, last = record(cfg, line, n, it)
                        except UnicodeDecodeError:
                            raise _Restart(n) from None
                        except _RowError as err:
                            raise self._fail(cfg, err, n) from None
                        if values is _END:
                            return
                        if cfg.header == "match":
                            self._check_header(cfg, values, n)
                        header_pending = False
                    while True:  # a chunk at a time; after a restart, the rest at once
                        end = None
                        if chunked:
                            n = last = max(n, last)
                            before = f.line
                            text = f.chunk()
                            if not text:
                                return
                            lines = f.line - before
                            batch = None
                            # (exchanged CRs and LFs: a CR is an LF of the file, for
                            # the exact reader to judge)
                            if not cfg.cr or "\r" not in text:
                                if c_parse is not None:
                                    batch = c_parse(text)
                                if batch is None:
                                    batch = self._fast_batch(cfg, text, wanted, conversions, keeps)
                            if batch is not None:
                                n = last = n + lines
                                yield batch
                                continue
                            end = n + lines
                            it = chain(enumerate(_split_lines(text), n + 1), enumerate(f, end + 1))
                        for n, line in it:
                            try:
                                row, last = exact(line, n, it)
                            except _RowError as err:
                                if not ignore:
                                    if pending:
                                        yield pending
                                        pending = []
                                    raise self._fail(cfg, err, n) from None
                                skipped += 1
                                row = None
                            if row is _END:
                                if pending:
                                    yield pending
                                return
                            if row is not None:
                                pending.append(row)
                            if end is not None and max(n, last) >= end:
                                break
                        if pending:
                            yield pending
                            pending = []
                        if end is None:
                            return
                except (UnicodeDecodeError, _Restart) as err:
                    # Bulk decoding met bytes that do not decode.  Read on from the first
                    # record not yet returned, decoding line by line to find the bad one.
                    if pending:
                        yield pending
                        pending = []
                    if isinstance(err, _Restart):
                        resume = err.line
                    else:
                        resume = max(n, last) + 1
                    f.close()
                    f = _Lines(self._open_binary(cfg), self.max_line_length, binary=True, cr=f.cr)
                    cfg.cr = f.sniff(_Newlines(cfg), cfg.encoding)
                    if resume > 1:
                        next(islice(f, resume - 2, resume - 1), None)
                    it = enumerate(self._decoded(f, cfg.encoding, resume), resume)
                    n = last = resume - 1
                    chunked = False
        except _TooLong as err:
            failed = True
            raise self._too_long(cfg, err) from None
        except (OSError, EOFError, zlib.error) as err:  # a truncated or corrupt gzip file
            failed = True
            raise WrapperError(
                f'foreign table "{self.table_name}", file "{cfg.path}", after line {n}: '
                f"could not read file: {err}"
            ) from None
        except GeneratorExit:  # the query stopped early: the scan still ends
            raise
        except BaseException:
            failed = True
            raise
        finally:
            f.close()
            self.skipped_rows = skipped
            if skipped and not failed:
                # as PostgreSQL 17's COPY and file_fdw say it, once, at the scan's end
                self.notice(
                    f"{skipped} row was skipped due to data type incompatibility"
                    if skipped == 1
                    else f"{skipped} rows were skipped due to data type incompatibility"
                )

    def _conversion_error(self, cfg: _Config, column: int, value: Any, err: Exception):
        declared = self.columns[cfg.names[column]].type
        return _RowError(f"invalid input for type {declared} ({err})", column, value)

    # --------------------------------------------------------- planning

    def _stats(self) -> tuple[float, int, bool] | None:
        """(estimated rows, file size, gzip) of the file, or None if unreadable."""
        try:
            cfg = self.config()
            st = os.stat(cfg.path)
        except (OSError, InvalidOptionError):
            return None
        if not stat.S_ISREG(st.st_mode):  # never opened to plan: it could wait for ever
            return None
        key = (cfg.path, st.st_mtime_ns, st.st_size)
        if self._estimated is not None and self._estimated[0] == key:
            return self._estimated[1]
        try:
            is_gzip = self._is_gzip(cfg.path)
            size = st.st_size
            if is_gzip:
                with self._open_raw(cfg.path) as raw:
                    raw.seek(max(size - 4, 0))
                    isize = int.from_bytes(raw.read(4), "little")
                # ISIZE is the uncompressed size modulo 2**32.
                size = isize if isize >= size else size * 5
            with self._open_binary(cfg, is_gzip) as f:
                sample = f.read(_SAMPLE)
        except (OSError, EOFError, gzip.BadGzipFile):
            return None
        lines = sample.count(b"\n") or 1
        width = len(sample) / lines if sample else 1
        rows = max(size / max(width, 1.0), 1.0)
        if self._config.header != "false":
            rows = max(rows - 1, 1.0)
        stats = (rows, st.st_size, is_gzip)
        self._estimated = (key, stats)
        return stats

    def estimate(self, quals: list[Qual], columns: list[str]) -> tuple[float, float]:
        # Quals are not used: the whole file is read whatever they are, so every plan
        # costs the same and SQLite has no reason to scan the file more than once.
        stats = self._stats()
        rows = stats[0] if stats else 1000.0
        per_row = 1.0 + len(columns) / max(len(self.columns), 1)
        return rows, 100.0 + rows * per_row

    def explain(
        self,
        quals: list[Qual],
        columns: list[str],
        sortkeys: list[SortKey] | None,
        limit: int | None,
        offset: int | None,
    ) -> str:
        try:
            cfg = self.config()
        except InvalidOptionError as err:
            return f"file {self.options.get('filename')} ({err.message})"
        parts = [f"format {'csv' if cfg.csv else 'text'}", f"header {cfg.header}"]
        stats = self._stats()
        if stats is None:
            if not os.path.exists(cfg.path):
                parts.append("not found")
            elif not os.path.isfile(cfg.path):
                parts.append("not a regular file")
            else:
                parts.append("unreadable")
        else:
            if stats[2]:
                parts.append("gzip")
            parts.append(_size_text(stats[1]))
        return f"file {cfg.path} ({', '.join(parts)})"
