"""Reading a file into batches of rows: the file opened (regular files only
unless the program allows others; gzip undone), its lines read in bounded
memory, chunks of whole records through the chunk readers and the rest record by
record, bad rows reported with file, line and column or skipped."""

from __future__ import annotations

import codecs
import gzip
import io
import re
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, replace
from itertools import chain, islice
from operator import itemgetter
from typing import Any

from vtables import files
from vtables.errors import WrapperError

from .chunks import Conversion, Keep, Quoted, record_end
from .formats import (
    END,
    Newlines,
    RowError,
    TooLong,
    Undecodable,
    count_error,
    csv_record,
    plain_values,
    split_lines,
    swap,
    text_record,
)
from .options import Config

_GZIP_MAGIC = b"\x1f\x8b"
_BUFFER = 1 << 16


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


def open_raw(path: str, allow_special: bool) -> Any:
    """The file, opened for reading bytes (``vtables.files.open_raw``)."""
    return files.open_raw(path, allow_special, _BUFFER)


def is_gzip(path: str, allow_special: bool) -> bool:
    if path.endswith(".gz"):
        return True
    with open_raw(path, allow_special) as f:
        return f.read(2) == _GZIP_MAGIC


def open_binary(path: str, gz: bool, allow_special: bool) -> Any:
    raw = open_raw(path, allow_special)
    if not gz:
        return raw
    try:
        return _GzipFile(raw)
    except BaseException:
        raw.close()
        raise


class Lines:
    """The lines of a file, read in bounded memory: str lines from the decoded
    file, or bytes lines from the raw one (after bytes that do not decode).

    Every line ends in LF here: when a lone CR ends the file's first line
    (``cr``, found by ``sniff`` as COPY finds it), CR and LF are exchanged as the
    file is read, and a CR in a line stands for an LF of the file, which COPY
    refuses unless quoted or escaped; values are exchanged back.  So the readers
    downstream, the C one included, split on LF alone.

    A line longer than ``limit`` raises TooLong, however the file is read
    (chunks or lines), before it is held in memory whole.  ``chunk`` is the
    number of characters (or bytes) read at a time."""

    def __init__(
        self, f: Any, limit: int, chunk: int, *, binary: bool = False, cr: bool | None = None
    ):
        self._f = f
        self._limit = limit
        self._chunk = chunk
        self._binary = binary
        self._nl: Any = b"\n" if binary else "\n"
        self._empty: Any = b"" if binary else ""
        self._buf: Any = self._empty
        self._pos = 0
        self.cr = cr
        #: Lines handed out so far.
        self.line = 0
        #: The lines of the last chunk.
        self.chunk_lines = 0

    def close(self) -> None:
        self._f.close()

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> Any:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def _read(self) -> Any:
        block = self._f.read(self._chunk)
        return swap(block) if self.cr and block else block

    def sniff(self, newlines: Newlines, encoding: str) -> bool:
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
            block = self._f.read(self._chunk)
            parts.append(block)
            size += len(block)
            cr = newlines.feed(decode(block, not block) if decode else block)
            if cr is None and not block:
                cr = newlines.finish()
            elif cr is None and size - newlines.after_cr > self._limit:
                raise TooLong(1, "record" if newlines.in_quote else "line")
        buf = self._empty.join(parts)
        self.cr = cr
        self._buf = swap(buf) if cr else buf
        self._pos = 0
        return cr

    def readline(self) -> Any:
        """The next line (empty at the end of the file)."""
        nl, buf, pos = self._nl, self._buf, self._pos
        j = buf.find(nl, pos)
        if j >= 0:
            if j - pos > self._limit:
                raise TooLong(self.line + 1)
            self._pos = j + 1
            self.line += 1
            return buf[pos : j + 1]
        self._buf, self._pos = self._empty, 0
        line = self._gather(buf[pos:], None)
        self.line += bool(line)
        return line

    def _gather(self, head: Any, block: Any) -> Any:
        """``head`` (the start of a line), ``block`` (more of it, if not None) and
        blocks read until a newline: joined once, never one by one (quadratic).
        ``block`` given (``chunk``), the whole lines of the last block are
        included; else (``readline``) the line only."""
        nl = self._nl
        parts = [head] if block is None else [head, block]
        size = sum(map(len, parts))
        whole = block is not None
        while True:
            if size > self._limit:
                raise TooLong(self.line + 1)
            block = self._read()
            if not block:
                return self._empty.join(parts)
            j = block.find(nl)
            if j >= 0:
                if size + j > self._limit:
                    raise TooLong(self.line + 1)
                cut = block.rfind(nl) + 1 if whole else j + 1
                parts.append(block[:cut])
                self._buf, self._pos = block, cut
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
                    raise TooLong(self.line + 1)
                text = head + block[:cut] if head else block[:cut]
                self._buf, self._pos = block, cut
            elif block:
                text = self._gather(head, block)
            else:
                text = head
        if len(text) > self._limit:  # a bound below the chunk size: every line checked
            for i, length in enumerate(map(len, text.split(nl))):
                if length > self._limit:
                    raise TooLong(self.line + i + 1)
        self.chunk_lines = text.count(nl) + (text[-1:] != nl) if text else 0
        self.line += self.chunk_lines
        return text


def decoded(raw: Iterable[bytes], encoding: str, first: int) -> Iterator[str]:
    """Lines decoded one at a time; a line that does not decode becomes an
    ``Undecodable`` carrying the error."""
    for number, line in enumerate(raw, first):
        try:
            text = line.decode(encoding)
        except UnicodeDecodeError as err:
            bad = Undecodable(line.decode(encoding, "surrogateescape"))
            bad.error = (
                f'invalid byte sequence for encoding "{encoding}": '
                f"0x{line[err.start : err.end].hex()} at byte {err.start + 1} of the line"
            )
            yield bad
            continue
        if number == 1 and encoding == "utf-8" and text.startswith("\ufeff"):
            text = text[1:]
        yield text


@dataclass
class Source:
    """Where a scan reads from, and the program's bounds on it."""

    cfg: Config
    allow_special: bool
    limit: int
    chunk: int

    def open_binary(self) -> Any:
        return open_binary(self.cfg.path, self.cfg.gzip, self.allow_special)

    def open_text(self) -> Lines:
        encoding = "utf-8-sig" if self.cfg.encoding == "utf-8" else self.cfg.encoding
        raw = self.open_binary()
        try:
            text = io.TextIOWrapper(raw, encoding=encoding, newline="\n")
        except BaseException:
            raw.close()
            raise
        return Lines(text, self.limit, self.chunk)

    def reopen_binary(self, cr: bool | None) -> Lines:
        return Lines(self.open_binary(), self.limit, self.chunk, binary=True, cr=cr)


class _Restart(Exception):
    """Re-read the file from ``line`` on, decoding each line by itself."""

    def __init__(self, line: int):
        self.line = line


def fail(cfg: Config, err: RowError, line: int) -> WrapperError:
    """The error a scan raises for a bad row."""
    where = f'foreign table "{cfg.table}", file "{cfg.path}", line {line}'
    if err.column is not None and err.column < len(cfg.names):
        where += f', column "{cfg.names[err.column]}"'
    message = f"{where}: {err.message}"
    if err.value is not None:
        shown = err.value if len(err.value) <= 80 else err.value[:77] + "..."
        message += f': "{shown}"'
    return WrapperError(message, hint=err.hint)


#: COPY's end-of-data line in CSV: ``\.`` alone on a line
_END_LINE = re.compile(r"(?:^|\n)\\\.(?:\r?\n|\r|$)")


def nul_error(cfg: Config) -> RowError:
    """PostgreSQL's error for a NUL byte, which no text value can hold."""
    return RowError(f'invalid byte sequence for encoding "{cfg.encoding}": 0x00')


def check_header(cfg: Config, values: list, line: int) -> None:
    """header 'match': the first line names the columns, in order."""
    expected = cfg.header_names
    if len(values) != len(expected):
        message = (
            f"wrong number of fields in header line: got {len(values)}, expected {len(expected)}"
        )
        raise fail(cfg, RowError(message), line)
    for i, (got, want) in enumerate(zip(values, expected, strict=True)):
        if got is None:
            problem = f'got null value ("{cfg.null}"), expected "{want}"'
        elif got != want:
            problem = f'got "{got}", expected "{want}"'
        else:
            continue
        raise fail(
            cfg, RowError(f"column name mismatch in header line field {i + 1}: {problem}"), line
        )


class RecordRows:
    """A record's row: its values read by the format's rules, the wanted ones
    picked and converted (the columns of = / IN quals first, and the rest of a
    row only when it passes them, as the chunk readers do)."""

    def __init__(
        self,
        cfg: Config,
        wanted: list[int],
        conversions: list[Conversion],
        keeps: list[Keep],
        limit: int,
    ):
        self.cfg, self.wanted, self.keeps, self.limit = cfg, wanted, keeps, limit
        self.record = csv_record if cfg.csv else text_record
        # The null string a plain line (no quote / no backslash) must test.
        self.null = None if cfg.special in cfg.null else cfg.null
        self.getter = itemgetter(*wanted) if len(wanted) > 1 else None
        keyed = {k for k, _allowed in keeps}
        self.key_conversions = [c for c in conversions if c[0] in keyed]
        self.other_conversions = [c for c in conversions if c[0] not in keyed]

    def values(self, line: str, n: int, it: Iterator) -> tuple[Any, int]:
        """A record's values (or END, at the end-of-data marker) and its last line."""
        cfg = self.cfg
        if cfg.csv and line.rstrip("\r\n") == "\\." and line[2:3] in ("", "\r", "\n"):
            return END, n  # COPY's end-of-data line, alone on its line, in CSV too
        if cfg.special not in line:
            if "\x00" in line:
                raise nul_error(cfg)
            return plain_values(cfg, line, self.null), n
        try:
            values, last = self.record(cfg, line, n, it, self.limit)
        except UnicodeDecodeError:
            raise _Restart(n) from None
        if values is END:
            return values, last
        if len(values) != len(cfg.names):
            raise count_error(cfg, values)
        if any(v is not None and "\x00" in v for v in values):
            raise nul_error(cfg)
        return values, last

    def __call__(self, line: str, n: int, it: Iterator) -> tuple[Any, int]:
        """A record's row (None when a keep filter drops it, END at the
        end-of-data marker) and its last line."""
        values, last = self.values(line, n, it)
        if values is END or not self.wanted:
            return (END if values is END else ()), last
        row = list(self.getter(values)) if self.getter else [values[self.wanted[0]]]
        k = 0
        try:
            for k, _kind, convert in self.key_conversions:
                if row[k] is not None:
                    row[k] = convert(row[k])
            for k, allowed in self.keeps:
                if row[k] not in allowed:
                    return None, last
            for k, _kind, convert in self.other_conversions:
                if row[k] is not None:
                    row[k] = convert(row[k])
        except (ValueError, TypeError, ArithmeticError) as err:
            column = self.wanted[k]
            declared = self.cfg.types[column]
            raise RowError(f"invalid input for type {declared} ({err})", column, row[k]) from None
        return tuple(row), last


ChunkReader = Callable[[str | Quoted], Any]


class Scan:
    """One scan of the file, as batches of rows (iterables of tuples in
    ``wanted`` order), chunk by chunk.

    Chunks of whole records go through the chunk readers (``chunk_readers``,
    the first that takes a chunk reads it; a CSV chunk holding quotes as a
    ``chunks.Quoted``); any other chunk, and the rest of a file after bytes that
    do not decode, through the record readers, line by line.
    ``ended(skipped, failed)`` is called when the scan ends, however it ends."""

    def __init__(
        self,
        source: Source,
        wanted: list[int],
        conversions: list[Conversion],
        keeps: list[Keep],
        chunk_readers: list[ChunkReader],
        ended: Callable[[int, bool], None],
    ):
        # this scan's Config: the file's newline is found as it is read
        self.cfg = cfg = source.cfg = replace(source.cfg)
        self.source = source
        self.chunk_readers = chunk_readers
        self.rows = RecordRows(cfg, wanted, conversions, keeps, source.limit)
        self.ended = ended
        self.skipped = 0
        self.n = 0  # the first line of the current record
        self.last = 0  # the last line read
        self.pending: list = []  # rows of the record readers not yet handed out
        self.f: Lines | None = None
        self.it: Iterator[tuple[int, Any]] = iter(())
        # CSV: chunks are cut to whole records (a record's lines that go on past a
        # chunk are carried to the next).
        self.whole_records = cfg.csv
        self.carry = ""

    def batches(self) -> Iterator[Any]:
        cfg = self.cfg
        try:
            self.f = self.source.open_text()
        except OSError as err:  # gone, or replaced by a FIFO, since it was checked
            raise WrapperError(
                f'foreign table "{cfg.table}": could not open file "{cfg.path}": '
                f"{err.strerror or err}"
            ) from None
        failed = False
        try:
            yield from self._read()
        except TooLong as err:
            failed = True
            raise WrapperError(
                f'foreign table "{cfg.table}", file "{cfg.path}", line {err.line}: '
                f"{err.what} is longer than {self.source.limit} characters",
                hint="The program reading the file sets the bound: FileFdw.max_line_length "
                "(COPY's is 1 GB).",
            ) from None
        except (OSError, EOFError, zlib.error) as err:  # a truncated or corrupt gzip file
            failed = True
            raise WrapperError(
                f'foreign table "{cfg.table}", file "{cfg.path}", after line {self.n}: '
                f"could not read file: {err}"
            ) from None
        except GeneratorExit:  # the query stopped early: the scan still ends
            raise
        except BaseException:
            failed = True
            raise
        finally:
            self.f.close()
            self.ended(self.skipped, failed)

    def _read(self) -> Iterator[Any]:
        assert self.f is not None
        self.it = enumerate(self.f, 1)
        header_pending = self.cfg.header != "false"
        chunked = True
        while True:
            try:
                if self.f.cr is None:
                    self.cfg.cr = self.f.sniff(Newlines(self.cfg), self.cfg.encoding)
                if header_pending:
                    if not self._header():
                        return
                    header_pending = False
                if chunked:
                    yield from self._chunks()
                else:
                    yield from self._records(None)
                return
            except (UnicodeDecodeError, _Restart) as err:
                # Bulk decoding met bytes that do not decode.  Read on from the first
                # record not yet returned, decoding line by line to find the bad one.
                yield from self._flush()
                self._restart(err.line if isinstance(err, _Restart) else max(self.n, self.last) + 1)
                chunked = False

    def _header(self) -> bool:
        """Read (and with 'match', check) the header line; False at the end of the data."""
        first = next(self.it, None)
        if first is None:
            return False
        self.n, line = first
        # the header's fields as COPY compares them: NULL only as the unquoted
        # null string, whatever force_null and force_not_null say of the column
        plain = replace(
            self.cfg,
            force_null=[False] * len(self.cfg.names),
            force_not_null=[False] * len(self.cfg.names),
        )
        try:
            values, self.last = self.rows.record(plain, line, self.n, self.it, self.source.limit)
        except UnicodeDecodeError:
            raise _Restart(self.n) from None
        except RowError as err:
            raise fail(self.cfg, err, self.n) from None
        if values is END:
            return False
        if self.cfg.header == "match":
            check_header(self.cfg, values, self.n)
        return True

    def _chunks(self) -> Iterator[Any]:
        f = self.f
        assert f is not None
        carried = 0  # the carry's lines
        while True:
            self.n = self.last = max(self.n, self.last)
            more = f.chunk()
            text, self.carry = self.carry + more, ""
            if not text:
                return
            lines = carried + f.chunk_lines  # (a carry ends in a newline when more follows)
            carried = 0
            # A chunk ending inside quotes is declined by the chunk readers; then
            # the record going on past it goes to the next chunk (a few chunks long
            # at most: a longer one is left to the record readers).
            batch = self._read_chunk(text)
            if batch is None and self.whole_records and self.cfg.quote in text:
                cut = record_end(self.cfg, text)
                if not cut and more and len(text) < 4 * self.source.chunk:
                    self.carry, carried = text, lines
                    continue
                if 0 < cut < len(text):
                    text, self.carry = text[:cut], text[cut:]
                    carried = self.carry.count("\n") + (self.carry[-1:] != "\n")
                    lines -= carried
                    batch = self._read_chunk(text)
            if batch is not None:
                self.n = self.last = self.n + lines
                yield batch
                continue
            end = self.n + lines
            # (a carried record starts right after the chunk: its lines are not read here)
            rest = enumerate(f, end + 1) if not self.carry else ()
            self.it = chain(enumerate(split_lines(text), self.n + 1), rest)
            if (yield from self._records(end)):
                return
            if self.carry:
                self.n = self.last = end

    def _read_chunk(self, text: str) -> Any:
        """The chunk's batch from the first chunk reader that takes it, or None."""
        cfg = self.cfg
        if not self.chunk_readers or (cfg.cr and "\r" in text):
            return None  # (exchanged CRs and LFs: a CR is an LF of the file, for the records)
        if "\x00" in text or (cfg.csv and "\\." in text and _END_LINE.search(text)):
            return None  # a NUL (an error), an end-of-data line: the records say
        chunk: str | Quoted = text
        if cfg.csv and cfg.quote in text:  # read by COPY's quoting rules, or declined
            chunk = Quoted(text, cfg, self.source.limit)
        for read in self.chunk_readers:
            batch = read(chunk)
            if batch is not None:
                return batch
        return None

    def _records(self, end: int | None) -> Generator[Any, None, bool]:
        """Rows record by record, to the end of the line ``end`` (of the file
        when None); returns True at the end-of-data marker."""
        for n, line in self.it:
            self.n = n
            try:
                row, self.last = self.rows(line, n, self.it)
            except RowError as err:
                if not self.cfg.ignore:
                    yield from self._flush()
                    raise fail(self.cfg, err, n) from None
                self.skipped += 1
                row = None
            if row is END:
                yield from self._flush()
                return True
            if row is not None:
                self.pending.append(row)
            if end is not None and max(n, self.last) >= end:
                break
        yield from self._flush()
        return False

    def _flush(self) -> Iterator[Any]:
        if self.pending:
            yield self.pending
            self.pending = []

    def _restart(self, resume: int) -> None:
        """Read on from line ``resume``, decoding each line by itself."""
        assert self.f is not None
        cr = self.f.cr
        self.carry = ""
        self.f.close()
        self.f = f = self.source.reopen_binary(cr)
        self.cfg.cr = f.sniff(Newlines(self.cfg), self.cfg.encoding)
        if resume > 1:
            next(islice(f, resume - 2, resume - 1), None)
        self.it = enumerate(decoded(f, self.cfg.encoding, resume), resume)
        self.n = self.last = resume - 1
