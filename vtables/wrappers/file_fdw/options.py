"""file_fdw's options: their specs, COPY's rules for combining them, the encoding
names accepted, where a relative filename resolves, and the per-table Config a
scan works from."""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vtables.errors import InvalidOptionError
from vtables.wrapper import ColumnDefinition, OptionSpec, parse_bool

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
class CheckedOption(OptionSpec):
    """An option spec whose text must also pass ``parse`` (ValueError says why),
    so that ForeignDataWrapper.validate refuses it at CREATE / ALTER time."""

    parse: Callable[[str], Any] | None = None

    def convert(self, value: str) -> Any:
        out = super().convert(value)
        return out if self.parse is None else self.parse(value)


_SERVER, _TABLE, _COLUMN = (frozenset({kind}) for kind in ("server", "table", "column"))

OPTION_SPECS: tuple[OptionSpec, ...] = (
    OptionSpec("directory", _SERVER, doc="directory relative filenames resolve against"),
    OptionSpec("filename", _TABLE, required=True, doc="the file to read"),
    OptionSpec("format", _TABLE, choices=("text", "csv"), default="text", doc="COPY's file format"),
    OptionSpec("header", _TABLE, default="false", doc="true, false or match"),
    OptionSpec("delimiter", _TABLE, doc="one character (tab for text, comma for csv)"),
    OptionSpec("quote", _TABLE, doc='csv quote character (default ")'),
    OptionSpec("escape", _TABLE, doc="csv escape character (default: the quote)"),
    OptionSpec("null", _TABLE, doc="the null string (\\N for text, empty for csv)"),
    CheckedOption(
        "encoding",
        _TABLE,
        default="utf-8",
        doc="the file's encoding (an ASCII-compatible text encoding)",
        parse=_encoding_option,
    ),
    OptionSpec(
        "on_error",
        _TABLE,
        choices=("stop", "ignore"),
        default="stop",
        doc="ignore skips rows with malformed values (a notice counts them at the scan's end)",
    ),
    *(
        OptionSpec(flag, _COLUMN, bool, default=False, doc=f"csv: {doc}")
        for flag, doc in (
            ("force_not_null", "never read as NULL"),
            ("force_null", "a quoted null string is NULL"),
        )
    ),
    OptionSpec("column_name", _COLUMN, doc="the column's name in the header line"),
)


def header_choice(value: str) -> str:
    if value.strip().lower() == "match":
        return "match"
    try:
        return "true" if parse_bool(value) else "false"
    except ValueError:
        raise ValueError('expected a boolean or "match"') from None


def _one_byte(text: str) -> bool:
    """One character of one byte (COPY counts the option's bytes, not characters)."""
    return len(text.encode("utf-8", "surrogatepass")) == 1


def _csv_problems(delimiter: str, quote: str, escape: str, null: str) -> str | None:
    if not _one_byte(quote):
        return "COPY quote must be a single one-byte character"
    if not _one_byte(escape):
        return "COPY escape must be a single one-byte character"
    if delimiter == quote:
        return "COPY delimiter and quote must be different"
    if quote in null:
        return "CSV quote character must not appear in the NULL specification"
    return None


def table_problems(options: Mapping[str, str]) -> str | None:
    """What COPY would refuse in this combination of table options, or None."""
    csv_mode = options.get("format", "text") == "csv"
    for key in _CSV_ONLY:
        if key in options and not csv_mode:
            return f"COPY {key} available only in CSV mode"
    delimiter = options.get("delimiter", "," if csv_mode else "\t")
    quote = options.get("quote", '"')
    null = options.get("null", "" if csv_mode else "\\N")
    if not _one_byte(delimiter):
        return "COPY delimiter must be a single one-byte character"
    if delimiter in "\r\n":
        return "COPY delimiter cannot be newline or carriage return"
    if "\r" in null or "\n" in null:
        return "COPY null representation cannot use newline or carriage return"
    if not csv_mode and delimiter in _TEXT_BAD_DELIMITERS:
        return f'COPY delimiter cannot be "{delimiter}"'
    if csv_mode:
        problem = _csv_problems(delimiter, quote, options.get("escape", quote), null)
        if problem:
            return problem
    if delimiter in null:
        return "COPY delimiter character must not appear in the NULL specification"
    if "header" in options:
        try:
            header_choice(options["header"])
        except ValueError:
            return f'header requires a Boolean value or "match", not {options["header"]!r}'
    if "encoding" in options:
        try:
            python_encoding(options["encoding"])
        except ValueError as err:
            return f'argument to option "encoding" must be a valid encoding name: {err}'
    return None


def where_hint(filename: str, directory: str | None, database_path: str | None) -> str:
    """Where a relative filename was looked for, for a file-not-found error."""
    if os.path.isabs(os.path.expanduser(filename)):
        return ""
    if directory:
        return "Relative filenames resolve against the server's directory option."
    if database_path:
        return "Relative filenames resolve against the database file's directory."
    return "Relative filenames resolve against the current directory (in-memory database)."


@dataclass
class Config:
    """Everything a scan needs, worked out once per wrapper instance."""

    table: str
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
    types: list[str]
    header_names: list[str]
    force_not_null: list[bool]
    force_null: list[bool]
    gzip: bool = False
    #: Text format: finds escapes and (unescaped) delimiters.
    tokens: re.Pattern | None = None
    #: This scan's file ends its lines with a lone CR (see reader.Lines); set per scan.
    cr: bool = False

    @property
    def special(self) -> str:
        """The character that makes a line more than fields between delimiters."""
        return self.quote if self.csv else "\\"


def _column_flags(
    table: str, columns: Mapping[str, ColumnDefinition], csv_mode: bool
) -> tuple[list[bool], list[bool]]:
    force_not_null: list[bool] = []
    force_null: list[bool] = []
    for col in columns.values():
        for key, flags in (("force_not_null", force_not_null), ("force_null", force_null)):
            flag = parse_bool(col.options.get(key, "false"))
            if flag and not csv_mode:
                raise InvalidOptionError(
                    f'foreign table "{table}", column "{col.name}": '
                    f"COPY {key} available only in CSV mode"
                )
            flags.append(flag)
    return force_not_null, force_null


def make_config(
    table: str, options: Mapping[str, str], columns: Mapping[str, ColumnDefinition], path: str
) -> Config:
    """The table's Config; InvalidOptionError for what COPY would refuse."""
    if "filename" not in options:
        raise InvalidOptionError(f'option "filename" is required for foreign table "{table}"')
    problem = table_problems(options)
    if problem:
        raise InvalidOptionError(f'foreign table "{table}": {problem}')
    csv_mode = options.get("format", "text") == "csv"
    force_not_null, force_null = _column_flags(table, columns, csv_mode)
    quote = options.get("quote", '"')
    delimiter = options.get("delimiter", "," if csv_mode else "\t")
    return Config(
        table=table,
        path=path,
        csv=csv_mode,
        header=header_choice(options.get("header", "false")),
        delimiter=delimiter,
        quote=quote,
        escape=options.get("escape", quote),
        null=options.get("null", "" if csv_mode else "\\N"),
        encoding=python_encoding(options.get("encoding", "utf-8")),
        ignore=options.get("on_error", "stop") == "ignore",
        names=list(columns),
        types=[c.type for c in columns.values()],
        header_names=[c.options.get("column_name", c.name) for c in columns.values()],
        force_not_null=force_not_null,
        force_null=force_null,
        tokens=re.compile(r"\\.|" + re.escape(delimiter), re.S),
    )
