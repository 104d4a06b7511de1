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
be able to make the program that opens it run commands.

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
  Python codec or PostgreSQL encoding name such as ``LATIN1`` or ``WIN1252``).
  A UTF-8 byte order mark at the start of the file is skipped.
- ``on_error``: ``stop`` (default) fails the scan at the first bad row;
  ``ignore`` skips rows where a value the query reads does not convert to
  its column's type, and also rows with the wrong number of fields,
  undecodable bytes or an unterminated quote (PostgreSQL 17 skips only the
  former).  The number of rows skipped is logged at INFO level.

Column (csv only):

- ``force_not_null``: never match this column's value against the null
  string (an empty field reads as ``''``).
- ``force_null``: match the value against the null string even when quoted.
- ``column_name``: the name the header line uses for the column
  (``header 'match'``).

Text format follows ``COPY``: tab-separated, ``\\N`` is NULL, backslash escapes
(``\\t \\n \\r \\b \\f \\v \\\\``, octal ``\\123`` and hex ``\\x41``), a line with
just ``\\.`` ends the data.  CSV follows ``COPY ... CSV``: quoted fields may
hold delimiters, quotes (doubled, or preceded by ``escape``) and newlines;
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
import gzip
import logging
import os
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
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
# Bytes every supported encoding must spell like ASCII: lines split on b"\n".
_ASCII_PROBE = "\n\r\t ,;|\"'\\.0123456789ABCabcNx"


def python_encoding(name: str) -> str:
    """The Python codec for an encoding name (Python or PostgreSQL spelling).

    ValueError if unknown or not ASCII-compatible (lines are split on ``\\n``
    bytes, so UTF-16 and the like cannot be read).
    """
    key = name.strip().lower()
    candidate = _PG_ENCODINGS.get(key.replace("-", "").replace("_", ""), key)
    if candidate.startswith("win") and candidate[3:].isdigit():
        candidate = "cp" + candidate[3:]
    try:
        codec = codecs.lookup(candidate)
    except LookupError:
        raise ValueError(f"unknown encoding {name!r}") from None
    try:
        ascii_ok = _ASCII_PROBE.encode(codec.name) == _ASCII_PROBE.encode("ascii")
    except UnicodeError:
        ascii_ok = False
    if not ascii_ok:
        raise ValueError(f"encoding {name!r} is not ASCII-compatible")
    return codec.name


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


class _RowError(Exception):
    """A bad row: the message, and the column (index) and value when known."""

    def __init__(self, message: str, column: int | None = None, value: Any = None):
        super().__init__(message)
        self.message = message
        self.column = column
        self.value = value
        self.line: int | None = None


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
        OptionSpec("encoding", {"table"}, default="utf-8", doc="the file's encoding"),
        OptionSpec(
            "on_error",
            {"table"},
            choices=("stop", "ignore"),
            default="stop",
            doc="ignore skips rows with malformed values (logged at the end of the scan)",
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

    def _is_gzip(self, path: str) -> bool:
        if path.endswith(".gz"):
            return True
        with open(path, "rb") as f:
            return f.read(2) == _GZIP_MAGIC

    def _check_file(self, cfg: _Config) -> None:
        try:
            cfg.gzip = self._is_gzip(cfg.path)
        except FileNotFoundError:
            raise WrapperError(
                f'foreign table "{self.table_name}": file "{cfg.path}" does not exist',
                hint=self._where_hint(),
            ) from None
        except IsADirectoryError:
            raise WrapperError(
                f'foreign table "{self.table_name}": "{cfg.path}" is a directory'
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

    def _open_text(self, cfg: _Config):
        encoding = "utf-8-sig" if cfg.encoding == "utf-8" else cfg.encoding
        if cfg.gzip:
            return gzip.open(cfg.path, "rt", encoding=encoding, newline="\n")
        return open(cfg.path, encoding=encoding, newline="\n", buffering=_BUFFER)

    def _open_binary(self, cfg: _Config):
        if cfg.gzip:
            return gzip.open(cfg.path, "rb")
        return open(cfg.path, "rb", buffering=_BUFFER)

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
        body = line.rstrip("\r\n")
        # A backslash before the newline makes the newline part of the data.
        while line.endswith("\n") and (len(body) - len(body.rstrip("\\"))) % 2 == 1:
            try:
                n, line = next(it)
            except StopIteration:
                break
            if bad is None and type(line) is _Undecodable:
                bad = line.error
            body = body + "\n" + line.rstrip("\r\n")
        if body == "\\.":
            return _END, n
        delimiter = cfg.delimiter
        fields = []
        start = 0
        for m in cfg.tokens.finditer(body):
            if m.group() == delimiter:
                fields.append(body[start : m.start()])
                start = m.end()
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
        body = line.rstrip("\r\n")
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
                    pos = end
                    break
                pieces.append(body[pos:jq])
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
                        try:
                            n, line = next(it)
                        except StopIteration:
                            raise _RowError(
                                "unterminated CSV quoted field",
                                len(values),
                                "".join(pieces)[:60],
                            ) from None
                        if bad is None and type(line) is _Undecodable:
                            bad = line.error
                        body = line.rstrip("\r\n")
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
                return values, n
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
            body = line.rstrip("\r\n")
            if doubled in body:
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
        return WrapperError(message)

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
                values = line.rstrip("\r\n").split(cfg.delimiter)
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

        def rest(first: int) -> Iterator[tuple[int, str]]:
            """The lines after a chunk, for records going on past it."""
            nonlocal carry
            if carry:
                line, carry = carry + f.readline(), ""
                yield first, line
                first += 1
            yield from enumerate(f, first)

        header_pending = cfg.header != "false"
        chunked = True
        carry = ""  # the start of a line the latest chunk cut
        skipped = 0
        n = 0  # the first line of the current record
        last = 0  # the last line read
        pending: list = []  # rows of the exact reader not yet handed out
        f = self._open_text(cfg)
        it: Iterator = enumerate(f, 1)
        try:
            while True:
                try:
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
                            block = f.read(_CHUNK)
                            if block:
                                cut = block.rfind("\n") + 1
                                if not cut:  # a line longer than a chunk
                                    carry += block
                                    continue
                                text, carry = carry + block[:cut], block[cut:]
                            elif carry:  # the last line, without a newline
                                text, carry = carry, ""
                            else:
                                return
                            lines = text.count("\n") + (not text.endswith("\n"))
                            batch = None if c_parse is None else c_parse(text)
                            if batch is None:
                                batch = self._fast_batch(cfg, text, wanted, conversions, keeps)
                            if batch is not None:
                                n = last = n + lines
                                yield batch
                                continue
                            end = n + lines
                            it = chain(enumerate(_split_lines(text), n + 1), rest(end + 1))
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
                    f = self._open_binary(cfg)
                    if resume > 1:
                        next(islice(f, resume - 2, resume - 1), None)
                    it = enumerate(self._decoded(f, cfg.encoding, resume), resume)
                    n = last = resume - 1
                    chunked = False
                    carry = ""
        except (OSError, EOFError, zlib.error) as err:  # a truncated or corrupt gzip file
            raise WrapperError(
                f'foreign table "{self.table_name}", file "{cfg.path}", after line {n}: '
                f"could not read file: {err}"
            ) from None
        finally:
            f.close()
            self.skipped_rows = skipped
            if skipped:
                logger.info(
                    'foreign table "%s": %d row%s skipped (on_error ignore), file "%s"',
                    self.table_name,
                    skipped,
                    " was" if skipped == 1 else "s were",
                    cfg.path,
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
        key = (cfg.path, st.st_mtime_ns, st.st_size)
        if self._estimated is not None and self._estimated[0] == key:
            return self._estimated[1]
        try:
            is_gzip = self._is_gzip(cfg.path)
            size = st.st_size
            if is_gzip:
                with open(cfg.path, "rb") as raw:
                    raw.seek(max(size - 4, 0))
                    isize = int.from_bytes(raw.read(4), "little")
                # ISIZE is the uncompressed size modulo 2**32.
                size = isize if isize >= size else size * 5
            with self._open_binary(cfg) as f:
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
            parts.append("not found" if not os.path.exists(cfg.path) else "unreadable")
        else:
            if stats[2]:
                parts.append("gzip")
            parts.append(_size_text(stats[1]))
        return f"file {cfg.path} ({', '.join(parts)})"
