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
the null string matches only unquoted values (``header 'match'`` compares the
header's fields so too, whatever ``force_null`` and ``force_not_null`` say);
a line holding just ``\\.`` ends the data.  In either format a NUL byte is
refused, as PostgreSQL refuses it ("invalid byte sequence").

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

import gzip
import logging
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain
from typing import Any

from vtables import files, types
from vtables.errors import FeatureNotSupportedError, InvalidOptionError, WrapperError
from vtables.wrapper import ColumnDefinition, ForeignDataWrapper, Qual, resolve_path

from . import chunks, reader
from .chunks import Conversion, Keep, c_parser
from .formats import unescape
from .options import (
    OPTION_SPECS,
    Config,
    make_config,
    python_encoding,
    table_problems,
    where_hint,
)

__all__ = ["FileFdw", "python_encoding"]

logger = logging.getLogger(__name__)

#: Characters (bytes after bytes that do not decode) read from the file at a time.
_CHUNK = 1 << 16
_SAMPLE = 1 << 16  # bytes read to estimate a file's rows
# the C chunk reader's factory, looked up at each scan (tests replace it)
_c_parser = c_parser
_unescape = unescape  # the text format's escapes, for tests that build expected values


def _size_text(size: float) -> str:
    if size < 1000:
        return f"{size:.0f} B"
    for unit in ("kB", "MB", "GB", "TB"):
        size /= 1000
        if size < 1000 or unit == "TB":
            return f"{size:.1f} {unit}"
    return ""  # pragma: no cover


def _keeps(quals: list[Qual], columns: list[str], declared: Mapping[str, str]) -> list[Keep]:
    """An = or IN qual on an integer column with integer values can skip rows that
    certainly fail it (the values are converted first); SQLite still checks the
    survivors, so the qual is not claimed as honoured."""
    keeps: list[Keep] = []
    for qual in quals:
        if qual.column not in columns or types.family(declared[qual.column]) != "integer":
            continue
        k = columns.index(qual.column)
        if qual.operator == "=" and type(qual.value) is int:
            keeps.append((k, frozenset((qual.value,))))
        elif qual.operator == "IN" and all(type(v) is int for v in qual.value or ()):
            keeps.append((k, frozenset(qual.value or ())))
    return keeps


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

    option_specs = OPTION_SPECS

    def __init__(self, options: dict[str, str], columns: dict[str, ColumnDefinition]):
        super().__init__(options, columns)
        self._config: Config | None = None
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
            problem = table_problems(options)
            if problem:
                raise InvalidOptionError(f'foreign table "{object_name}": {problem}')

    def config(self) -> Config:
        if self._config is None:
            if "program" in self.options:
                self.validate("table", self.options, object_name=self.table_name)
            path = ""
            if "filename" in self.options:
                # relative to the server's directory, itself relative to the
                # database file's (a filename is never a URI)
                path = resolve_path(
                    self.options["filename"],
                    self.database_path,
                    self.options.get("directory"),
                    uris=False,
                )
            self._config = make_config(self.table_name, self.options, self.columns, path)
        return self._config

    # ------------------------------------------------------------ files

    def _check_file(self, cfg: Config) -> None:
        """Set cfg.gzip, or raise what makes the file unreadable."""
        allow = self.allow_special_files
        try:
            mode = os.stat(cfg.path).st_mode
            if stat.S_ISREG(mode):
                cfg.gzip = reader.is_gzip(cfg.path, allow)
            elif stat.S_ISDIR(mode):
                raise IsADirectoryError(cfg.path)
            elif not allow:
                raise files.SpecialFile(files.file_kind(mode))
            else:  # not read ahead of the scan: a FIFO's bytes can be read only once
                cfg.gzip = cfg.path.endswith(".gz")
        except FileNotFoundError:
            raise WrapperError(
                f'foreign table "{self.table_name}": file "{cfg.path}" does not exist',
                hint=where_hint(
                    self.options["filename"], self.options.get("directory"), self.database_path
                ),
            ) from None
        except IsADirectoryError:
            raise WrapperError(
                f'foreign table "{self.table_name}": "{cfg.path}" is a directory'
            ) from None
        except files.SpecialFile as err:
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

    # ------------------------------------------------------------ scans

    def scan_batches(self, quals, columns, sortkeys=None, limit=None, offset=None) -> Iterator[Any]:
        """Batches of rows: C batches, zips of columns or lists of tuples."""
        cfg = self.config()
        self._check_file(cfg)
        index = {name: i for i, name in enumerate(cfg.names)}
        wanted = [index[c] for c in columns]
        # Every value the query reads is converted here, once, so a bad one is
        # reported (or its row skipped) with its file, line and column; the
        # module passes the results through (coerces_values).
        conversions: list[Conversion] = []
        for k, name in enumerate(columns):
            declared = self.columns[name].type
            kind = types.family(declared)
            if kind not in ("text", "any"):
                conversions.append((k, kind, types.text_converter(declared)))
        keeps = _keeps(quals, columns, {n: c.type for n, c in self.columns.items()})
        readers = [
            read
            for read in (
                _c_parser(cfg, wanted, conversions, keeps),
                lambda text: self._fast_batch(cfg, text, wanted, conversions, keeps),
            )
            if read is not None
        ]
        source = reader.Source(cfg, self.allow_special_files, self.max_line_length, _CHUNK)
        return reader.Scan(source, wanted, conversions, keeps, readers, self._ended).batches()

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None) -> Iterator[Any]:
        return chain.from_iterable(self.scan_batches(quals, columns, sortkeys, limit, offset))

    def _fast_batch(
        self,
        cfg: Config,
        chunk: str | chunks.Dequoted,
        wanted: list[int],
        conversions: list,
        keeps: list,
    ) -> Iterable[Any] | None:
        """The Python chunk reader (chunks.fast_batch)."""
        return chunks.fast_batch(cfg, chunk, wanted, conversions, keeps)

    def _ended(self, skipped: int, failed: bool) -> None:
        self.skipped_rows = skipped
        if skipped and not failed:
            # as PostgreSQL 17's COPY and file_fdw say it, once, at the scan's end
            self.notice(
                f"{skipped} row was skipped due to data type incompatibility"
                if skipped == 1
                else f"{skipped} rows were skipped due to data type incompatibility"
            )

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
        allow = self.allow_special_files
        try:
            gz = reader.is_gzip(cfg.path, allow)
            size = st.st_size
            if gz:
                with reader.open_raw(cfg.path, allow) as raw:
                    raw.seek(max(size - 4, 0))
                    isize = int.from_bytes(raw.read(4), "little")
                # ISIZE is the uncompressed size modulo 2**32.
                size = isize if isize >= size else size * 5
            with reader.open_binary(cfg.path, gz, allow) as f:
                sample = f.read(_SAMPLE)
        except (OSError, EOFError, gzip.BadGzipFile):
            return None
        lines = sample.count(b"\n") or 1
        width = len(sample) / lines if sample else 1
        rows = max(size / max(width, 1.0), 1.0)
        if cfg.header != "false":
            rows = max(rows - 1, 1.0)
        stats = (rows, st.st_size, gz)
        self._estimated = (key, stats)
        return stats

    def estimate(self, quals: list[Qual], columns: list[str]) -> tuple[float, float]:
        # Quals are not used: the whole file is read whatever they are, so every plan
        # costs the same and SQLite has no reason to scan the file more than once.
        stats = self._stats()
        rows = stats[0] if stats else 1000.0
        per_row = 1.0 + len(columns) / max(len(self.columns), 1)
        return rows, 100.0 + rows * per_row

    def explain(self, quals, columns, sortkeys, limit, offset) -> str:
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
