"""json_fdw: foreign tables over JSON files, one object a row.

Purpose
    Reads newline-delimited JSON (NDJSON, one object a line) or a JSON array
    of objects as a read-only foreign table.  Each column's value is found in
    the row's object by a JSON path (by default the column's name) and
    converted to the declared column type.  The file is streamed: memory use
    does not grow with the file, for an array too (its elements are decoded
    one at a time).  gzip-compressed files are read transparently.  Quals,
    ORDER BY and LIMIT are never pushed down: SQLite filters the rows.

    As with file_fdw, only regular files are read (not FIFOs or devices), and
    a record (an NDJSON line or an array element) longer than 1 GB stops the
    scan.  The program, never a database file, can change both:
    ``JsonFdw.allow_special_files = True``, ``JsonFdw.max_record_length = n``
    (characters), on the class or on a subclass it registers.

Options
    server ``directory``
        The directory relative ``filename`` values resolve against (default:
        the directory of the database file; for an in-memory database, the
        current working directory).
    table ``filename``
        The file to read (required); ``~`` stands for the home directory.  A
        name ending in ``.gz``, or a file starting with the gzip magic bytes,
        is decompressed on the fly.
    table ``format``
        ``ndjson`` (one object a line, blank lines ignored), ``array`` (one
        JSON array of objects) or ``auto`` (default: an array when the file's
        first non-blank character is ``[``).  An empty file has no rows.
    table ``encoding``
        The file's encoding (default ``utf-8``; any ASCII-compatible Python
        text codec).  A UTF-8 byte order mark at the start is skipped.
    table ``on_error``
        ``stop`` (default) fails the scan at the first bad row; ``ignore``
        skips rows that are not valid JSON, not objects, or hold a value the
        query reads that does not convert to its column's type, and reports
        how many at the end of the scan as a notice (``1 row was skipped due
        to data type incompatibility``).  In an array, text that is not JSON
        stops the scan all the same: where the next element starts is unknown.
    column ``path``
        Where the column's value is in the object: keys and array indexes,
        ``a.b[0].c`` or ``$.a.b[0].c``; a key holding dots, brackets, quotes
        or spaces is written as a JSON string, ``$["a.b"]``; ``$`` alone is
        the whole object.  Default: the column's name, as one key.

Values
    A missing key, a path that does not reach a value, or JSON ``null`` is
    NULL.  Other values are converted as the declared type says
    (``vtables.types``): ``true``/``false`` for a boolean column, numbers for
    integer, real and numeric ones (an integer beyond 64 bits is an error for
    an integer column and a REAL for the others, infinite beyond REAL's range,
    however many digits), strings for text, dates and timestamps.  An object
    or an array read into a text column is its JSON text, compact; a number
    read into a text column is its text as written in the file; a ``json``
    column holds the JSON text of whatever is there (a string quoted).
    Errors name the table, the file, the line (for an array element, the line
    it starts on) and the column, and quote the value (a number as written).

Example
    ::

        CREATE EXTENSION json_fdw;
        CREATE SERVER json_files FOREIGN DATA WRAPPER json_fdw;
        CREATE FOREIGN TABLE events (
            id integer,
            kind text OPTIONS (path 'type'),
            city text OPTIONS (path 'where.city'),
            first_tag text OPTIONS (path '$.tags[0]'),
            tags json
        ) SERVER json_files OPTIONS (filename 'events.ndjson');
        SELECT city, count(*) FROM events WHERE kind = 'click' GROUP BY city;
"""

from __future__ import annotations

import codecs
import errno
import json
import os
import stat
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

from vtables import types
from vtables.errors import InvalidOptionError, WrapperError
from vtables.wrapper import (
    ColumnDefinition,
    ForeignDataWrapper,
    OptionSpec,
    Qual,
    resolve_path,
)

from .reading import Reading, Refused, open_binary
from .values import (
    BadRecord,
    Column,
    Fatal,
    Keeps,
    Rows,
    as_written,
    float_as_written,
    int_as_written,
    json_text,
    no_constant,
    parse_path,
    value_converter,
)

__all__ = ["JsonFdw", "parse_path", "python_encoding"]

# ----------------------------------------------------------------- options


def python_encoding(name: str) -> str:
    """The Python codec for ``name``; ValueError unless an ASCII-compatible text codec."""
    try:
        codec = codecs.lookup(name.strip())
    except LookupError:
        raise ValueError(f"unknown encoding {name!r}") from None
    # JSON's own characters must read as in ASCII (lines are split on b"\n")
    probe = ' \t\r\n[]{},:"\\-+.0123456789eEtrufalsn'
    try:
        ascii_ok = getattr(codec, "_is_text_encoding", True) and (
            codec.decode(probe.encode("ascii"))[0] == probe
        )
    except (UnicodeError, LookupError, TypeError):
        ascii_ok = False
    if not ascii_ok:
        raise ValueError(f"encoding {name!r} is not an ASCII-compatible text encoding")
    return codec.name


@dataclass(frozen=True)
class _Parsed(OptionSpec):
    """An option whose text must pass ``parse`` (ValueError says why): refused at DDL."""

    parse: Callable[[str], Any] = str

    def convert(self, value: str) -> Any:
        return self.parse(super().convert(value))


_SERVER, _TABLE, _COLUMN = (frozenset({kind}) for kind in ("server", "table", "column"))

OPTION_SPECS: tuple[OptionSpec, ...] = (
    OptionSpec("directory", _SERVER, doc="directory relative filenames resolve against"),
    OptionSpec("filename", _TABLE, required=True, doc="the file to read"),
    OptionSpec(
        "format",
        _TABLE,
        choices=("auto", "ndjson", "array"),
        default="auto",
        doc="ndjson, array, or auto (the first character decides)",
    ),
    _Parsed("encoding", _TABLE, default="utf-8", parse=python_encoding, doc="the file's encoding"),
    OptionSpec(
        "on_error",
        _TABLE,
        choices=("stop", "ignore"),
        default="stop",
        doc="stop at a bad row, or skip it",
    ),
    _Parsed("path", _COLUMN, parse=parse_path, doc="the JSON path of the value in each object"),
)

# ----------------------------------------------------------------- wrapper


class JsonFdw(ForeignDataWrapper):
    """Read-only foreign tables over NDJSON files and JSON arrays of objects."""

    name = "json_fdw"
    version = "1.0"
    coerces_values = True

    #: The longest record read (an NDJSON line, an array element), in characters.
    #: Set by the program (on this class or a subclass), never by a database file.
    max_record_length: int = 1 << 30
    #: Whether FIFOs, devices and other files that are not regular files may be
    #: read: a database file naming ``/dev/zero`` or a FIFO must not make a scan
    #: run or wait for ever, so only the program can allow them.
    allow_special_files: bool = False

    option_specs = OPTION_SPECS

    def __init__(self, options: dict[str, str], columns: dict[str, ColumnDefinition]):
        super().__init__(options, columns)
        #: Rows the last completed scan skipped (on_error 'ignore').
        self.skipped_rows = 0

    def path(self) -> str:
        """The file's absolute path."""
        if "filename" not in self.options:
            raise InvalidOptionError(
                f'option "filename" is required for foreign table "{self.table_name}"'
            )
        return resolve_path(
            self.options["filename"], self.database_path, self.options.get("directory"), uris=False
        )

    def _columns(self, columns: list[str]) -> list[Column]:
        out = []
        for name in columns:
            column = self.columns[name]
            path = column.options.get("path")
            try:
                steps = (name,) if path is None else parse_path(path)
            except ValueError as err:
                where = f'foreign table "{self.table_name}", column "{name}"'
                raise InvalidOptionError(f"{where}: invalid path {path!r}: {err}") from None
            kind = types.family(column.type)
            out.append(Column(name, column.type, kind, steps, value_converter(column.type)))
        return out

    # ------------------------------------------------------------ scans

    def scan_batches(self, quals, columns, sortkeys=None, limit=None, offset=None) -> Iterator[Any]:
        """Batches of rows (lists of tuples of converted values)."""
        path = self.path()
        wanted = self._columns(columns)
        fast = json.JSONDecoder(parse_constant=no_constant)
        written = fast
        if any(c.kind in ("text", "json") for c in wanted):
            written = json.JSONDecoder(parse_float=float_as_written, parse_constant=no_constant)
        # the slow path's: numbers kept as written (and integers int() refuses read)
        careful = json.JSONDecoder(
            parse_float=float_as_written, parse_int=int_as_written, parse_constant=no_constant
        )
        rows = Rows(wanted, self.settings["on_error"] == "ignore", _keeps(quals, wanted))
        try:
            raw, _gz = open_binary(path, self.allow_special_files)
        except Refused as err:
            raise self._refused(path, str(err)) from None
        except OSError as err:
            raise WrapperError(
                f'foreign table "{self.table_name}": could not open file "{path}": '
                f"{err.strerror or err}"
            ) from None
        decoders = (fast, written, careful)
        reading = Reading(path, self.settings, self.max_record_length, rows, decoders)
        return self._read(reading, raw)

    def _read(self, reading: Reading, raw: Any) -> Iterator[list]:
        failed = False
        try:
            yield from reading.batches(raw)
        except BadRecord as err:
            failed = True
            raise self._bad(reading.path, err) from None
        except (OSError, EOFError, zlib.error) as err:  # a truncated or corrupt gzip file
            failed = True
            raise WrapperError(
                f'foreign table "{self.table_name}", file "{reading.path}", after line '
                f"{reading.line}: could not read file: {err}"
            ) from None
        except GeneratorExit:
            raise
        except BaseException:
            failed = True
            raise
        finally:
            raw.close()
            self._ended(reading.rows.skipped, failed)

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None) -> Iterator[Any]:
        return chain.from_iterable(self.scan_batches(quals, columns, sortkeys, limit, offset))

    def _refused(self, path: str, why: str) -> WrapperError:
        where = f'foreign table "{self.table_name}": '
        if why == "does not exist":
            return WrapperError(f'{where}file "{path}" does not exist')
        hint = None
        if why.startswith("is not a regular file"):
            hint = (
                "json_fdw reads regular files only; a program that means to read FIFOs"
                " or devices sets JsonFdw.allow_special_files."
            )
        return WrapperError(f'{where}"{path}" {why}', hint=hint)

    def _bad(self, path: str, err: BadRecord) -> WrapperError:
        where = f'foreign table "{self.table_name}", file "{path}", line {err.line}'
        if err.column is not None:
            where += f', column "{err.column}"'
        message = f"{where}: {err.message}"
        hint = None
        if isinstance(err, Fatal) and "longer than" in err.message:
            hint = "The program reading the file sets the bound: JsonFdw.max_record_length."
        if err.column is not None:
            shown = _shown(err.value)
            message += f': "{shown if len(shown) <= 80 else shown[:77] + "..."}"'
        return WrapperError(message, hint=hint)

    def _ended(self, skipped: int, failed: bool) -> None:
        self.skipped_rows = skipped
        if skipped and not failed:
            self.notice(
                f"{skipped} row was skipped due to data type incompatibility"
                if skipped == 1
                else f"{skipped} rows were skipped due to data type incompatibility"
            )

    # --------------------------------------------------------- planning

    def estimate(self, quals: list[Qual], columns: list[str]) -> tuple[float, float]:
        # Quals are not used: the whole file is read whatever they are.
        try:
            st = os.stat(self.path())
            size = st.st_size if stat.S_ISREG(st.st_mode) else 100_000
        except (OSError, InvalidOptionError):
            size = 100_000
        rows = max(size / 100.0, 1.0)
        per_row = 2.0 + len(columns) / max(len(self.columns), 1)
        return rows, 100.0 + rows * per_row

    def explain(self, quals, columns, sortkeys, limit, offset) -> str:
        try:
            path = self.path()
        except InvalidOptionError as err:
            return f"file {self.options.get('filename')} ({err.message})"
        parts = [f"format {self.settings['format']}"]
        try:
            raw, gz = open_binary(path, False)
            raw.close()
            if gz:
                parts.append("gzip")
            parts.append(f"{os.stat(path).st_size} bytes")
        except Refused as err:
            parts.append(str(err).replace("is ", "", 1) if "is " in str(err) else str(err))
        except OSError as err:
            parts.append(f"unreadable: {os.strerror(err.errno or errno.EIO)}")
        return f"file {path} ({', '.join(parts)})"


def _keeps(quals: list[Qual], wanted: list[Column]) -> Keeps:
    """= and IN quals on integer columns with integer values: rows whose value
    certainly fails them are skipped (SQLite still checks the others, so the
    quals are not claimed as honoured)."""
    keeps = []
    names = [c.name for c in wanted]
    for qual in quals:
        if qual.column not in names:
            continue
        k = names.index(qual.column)
        values = (qual.value,) if qual.operator == "=" else qual.value or ()
        if wanted[k].kind == "integer" and qual.operator in ("=", "IN"):
            if values and all(type(v) is int for v in values):
                keeps.append((k, frozenset(values)))
    return tuple(keeps)


def _shown(value: Any) -> str:
    if type(value) is str:
        return value
    written = as_written(value)
    if written is not None:
        return written
    try:
        return json_text(value)
    except (TypeError, ValueError):
        return repr(value)
