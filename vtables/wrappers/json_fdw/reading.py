"""json_fdw's files: opened (regular files only unless the program allows
others; gzip undone), read in bounded memory as NDJSON lines or as the elements
of one array, and their records made batches of rows."""

from __future__ import annotations

import codecs
import gzip
from collections.abc import Callable, Iterator
from itertools import repeat
from operator import itemgetter
from typing import Any

from vtables import files

from .values import BadRecord, Fatal, NeedsText, Rows

CHUNK = 1 << 16  # bytes read at a time
_GZIP_MAGIC = b"\x1f\x8b"
_JSON_SPACE = " \t\r\n"
_LINE_SPACE = " \t\r"  # (lines are split on LF first)

# ------------------------------------------------------------------- files


class Refused(Exception):
    """The file may not be read; the message says why (after the table and file)."""


def _open_raw(path: str, allow_special: bool) -> Any:
    """The file, opened for bytes (``vtables.files.open_raw``); Refused says why not."""
    try:
        return files.open_raw(path, allow_special)
    except FileNotFoundError:
        raise Refused("does not exist") from None
    except IsADirectoryError:
        raise Refused("is a directory") from None
    except files.SpecialFile as err:
        raise Refused(f"is not a regular file ({err})") from None


def open_binary(path: str, allow_special: bool) -> tuple[Any, bool]:
    """The file's bytes (gzip undone), and whether it was compressed."""
    raw = _open_raw(path, allow_special)
    try:
        gz = path.endswith(".gz")
        if not gz and raw.seekable():
            gz = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
        return (gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw), gz
    except BaseException:
        raw.close()
        raise


def _ndjson_blocks(raw: Any, limit: int, line: int, encoding: str) -> Iterator[tuple[int, bytes]]:
    """(number of the first line, whole lines) read in bounded memory: a line
    is refused as soon as it holds more than ``limit`` characters."""
    carry: list[bytes] = []
    carried = 0
    counter = None  # the carried line's characters, counted once its bytes pass the limit
    while True:
        block = raw.read(CHUNK)
        cut = block.rfind(b"\n") + 1
        if block and not cut:
            carry.append(block)
            carried += len(block)
            if carried > limit:
                if counter is None:
                    counter = _Counter(encoding)
                    for piece in carry[:-1]:
                        counter.add(piece)
                if counter.add(block) > limit:
                    raise Fatal(line, f"line is longer than {limit} characters")
            continue
        head = b"".join((*carry, block[:cut])) if carry else block[:cut]
        carry = [block[cut:]] if block[cut:] else []
        carried, counter = len(block) - cut, None
        if head:
            yield line, head
            line += head.count(b"\n")
        if not block:
            return


class _Counter:
    """The characters of bytes given a block at a time (undecodable bytes
    count as one character each, as a replacement character)."""

    def __init__(self, encoding: str):
        self.decoder = codecs.getincrementaldecoder(encoding)("replace")
        self.count = 0

    def add(self, data: bytes) -> int:
        self.count += len(self.decoder.decode(data))
        return self.count


class _ArrayReader:
    """The elements of a JSON array, decoded one at a time from a sliding buffer."""

    def __init__(self, raw: Any, encoding: str, limit: int, scanners: tuple[Callable, Callable]):
        self.raw, self.limit = raw, limit
        self.scan_once, self.careful = scanners
        self.decoder = codecs.getincrementaldecoder(encoding)()
        self.buf, self.pos, self.line, self.eof = "", 0, 1, False
        self.counted = 0  # the position up to which lines are counted

    def _fill(self, size: int = CHUNK) -> None:
        self._line_at(self.pos)
        self.buf, self.counted, self.pos = self.buf[self.pos :], 0, 0
        data = self.raw.read(size)
        try:
            text = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as err:
            where = self.line + self.buf.count("\n") + err.object[: err.start].count(b"\n")
            raise Fatal(where, f"invalid byte sequence: {err.reason}") from None
        self.buf += text
        self.eof = not data

    def _line_at(self, pos: int) -> int:
        self.line += self.buf.count("\n", self.counted, pos)
        self.counted = pos
        return self.line

    def _skip_space(self) -> str:
        """The next character that is not JSON whitespace ("" at the end)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _JSON_SPACE:
                self.pos += 1
            if self.pos < len(self.buf) or self.eof:
                return self.buf[self.pos : self.pos + 1]
            self._fill()

    def elements(self) -> Iterator[tuple[int, Any, str]]:
        first = self._skip_space()
        if not first:
            return
        if first != "[":
            raise Fatal(self._line_at(self.pos), "invalid JSON: expected an array")
        self.pos += 1
        if self._skip_space() == "]":
            self.pos += 1
        else:
            while True:
                yield self._element()
                char = self._skip_space()
                self.pos += 1
                if char == "]":
                    break
                if char != ",":
                    raise Fatal(
                        self._line_at(self.pos - 1),
                        "invalid JSON: expected ',' or ']' after an array element",
                    )
                self._skip_space()
        if self._skip_space():
            raise Fatal(self._line_at(self.pos), "invalid JSON: extra data after the array")

    def _element(self) -> tuple[int, Any, str]:
        """(its line, the element at ``pos``, its text), reading on while it is
        incomplete, never holding much more than ``limit`` characters of it."""
        while True:
            start, buf = self.pos, self.buf
            try:
                found = self.scan_once(buf, start)
            except (StopIteration, ValueError, RecursionError):
                found = self._scan(buf, start)
            if found is not None:
                value, end = found
                if self.eof or end < len(buf) or buf[end - 1] in '}]"el':
                    if end - start > self.limit:
                        raise Fatal(self._line_at(start), self._too_long()) from None
                    self.pos = end
                    return self._line_at(start), value, buf[start:end]
            held = len(buf) - start
            if held > self.limit:
                raise Fatal(self._line_at(start), self._too_long())
            del buf  # (not held while the buffer is filled)
            self._fill(max(CHUNK, min(held, self.limit + 1 - held)))

    def _scan(self, buf: str, start: int) -> tuple[Any, int] | None:
        """(the element at ``start``, its end), or None if it may be cut short at
        the buffer's end.  The careful decoder reads what the first refuses: an
        integer too long for int()."""
        for scan_once in (self.scan_once, self.careful):
            try:
                return scan_once(buf, start)
            except RecursionError:
                raise Fatal(self._line_at(start), "invalid JSON: nested too deeply") from None
            except (StopIteration, ValueError) as err:
                # (a value cut short at the buffer's end stops the scanner there)
                at = err.value if isinstance(err, StopIteration) else getattr(err, "pos", start)
                if not self.eof and (at >= len(buf) - 6 or "Unterminated" in str(err)):
                    return None
                error = err
        line = self._line_at(start) + buf.count("\n", start, at)
        raise Fatal(line, json_error(error, buf, at)) from None

    def _too_long(self) -> str:
        return f"array element is longer than {self.limit} characters"


def json_error(err: BaseException, text: str, at: int) -> str:
    if isinstance(err, StopIteration):
        return "invalid JSON: expecting a value" if at >= len(text) else "invalid JSON value"
    column = at - text.rfind("\n", 0, at)
    message = getattr(err, "msg", str(err))
    return f"invalid JSON: {message} (character {column} of the line)"


# ----------------------------------------------------------------- reading


class _Prefixed:
    """A binary stream with bytes already read put back in front."""

    def __init__(self, head: bytes, raw: Any):
        self.head, self.raw = head, raw

    def read(self, size: int) -> bytes:
        if self.head:
            out, self.head = self.head[:size], self.head[size:]
            return out
        return self.raw.read(size)


def _start(raw: Any, utf8: bool) -> tuple[_Prefixed, int, str]:
    """The stream from its first character that is not JSON whitespace (a UTF-8
    byte order mark skipped), that character's line, and the character."""
    line, first = 1, True
    while True:
        block = raw.read(CHUNK)
        if first and utf8 and block.startswith(codecs.BOM_UTF8):
            block = block[3:]
        first = False
        rest = block.lstrip(b" \t\r\n")
        line += block.count(b"\n", 0, len(block) - len(rest))
        if rest or not block:
            return _Prefixed(rest, raw), line, rest[:1].decode("ascii", "replace")


class Reading:
    """One scan of one file: its records read into batches of rows."""

    def __init__(self, path: str, settings: Any, limit: int, rows: Rows, decoders: tuple):
        """``decoders``: the fast one, and the one keeping numbers' text (for
        text and json columns), which reads a block where the fast one did not do."""
        self.path, self.rows, self.limit = path, rows, limit
        fast, written, careful = decoders
        self.fast, self.scan_once = fast.scan_once, written.scan_once
        self.careful, self.decode = careful.scan_once, careful.decode
        self.encoding: str = settings["encoding"]
        self.format: str = settings["format"]
        self.line = 0  # the last line read

    def batches(self, raw: Any) -> Iterator[list]:
        stream, line, char = _start(raw, self.encoding in ("utf-8", "utf-8-sig"))
        self.line = line - 1
        if not char:
            return
        if self.format == "array" or (self.format == "auto" and char == "["):
            yield from self._array(stream, line)
        else:
            yield from self._ndjson(stream, line)

    # ---- NDJSON
    def _ndjson(self, stream: Any, line: int) -> Iterator[list]:
        for first, data in _ndjson_blocks(stream, self.limit, line, self.encoding):
            rows = self._block(first, data)
            if rows is None:
                rows = self._lines(first, data)
            self.line = first + data.count(b"\n")
            if rows:
                yield rows

    def _block(self, first: int, data: bytes) -> list | None:
        """The rows of whole lines, or None if one of them is bad or too long."""
        try:
            text = data.decode(self.encoding)
        except UnicodeDecodeError:
            return None
        lines = text.split("\n")
        if not lines[-1]:
            lines.pop()
        if len(text) > self.limit and max(map(len, lines)) > self.limit:
            return None
        stripped = list(map(str.strip, lines, repeat(_LINE_SPACE)))
        if "" in stripped:
            stripped = [s for s in stripped if s]
        for scan_once in (self.fast, self.scan_once):
            try:
                parsed = list(map(scan_once, stripped, repeat(0)))
            except (StopIteration, ValueError, RecursionError):
                return None
            if list(map(itemgetter(1), parsed)) != list(map(len, stripped)):
                return None
            try:
                return self.rows.block(list(map(itemgetter(0), parsed)))
            except NeedsText:  # a number for a text column: read again, keeping its text
                continue
        return None

    def _lines(self, first: int, data: bytes) -> list:
        """The rows of whole lines read one by one: bad ones raised or skipped."""
        out = []
        lines = data.split(b"\n")
        if not lines[-1]:
            lines.pop()
        for n, raw in enumerate(lines, first):
            self.line = n - 1
            try:
                if len(raw) > self.limit and len(raw.decode(self.encoding, "replace")) > self.limit:
                    raise Fatal(n, f"line is longer than {self.limit} characters")
                try:
                    text = raw.decode(self.encoding).strip(_LINE_SPACE)
                except UnicodeDecodeError as err:
                    message = f'invalid byte sequence for encoding "{self.encoding}"'
                    raise BadRecord(n, f"{message}: 0x{raw[err.start : err.end].hex()}") from None
                if not text:
                    continue
                try:
                    record = self.decode(text)
                except (ValueError, RecursionError) as err:
                    raise BadRecord(n, json_error(err, text, getattr(err, "pos", 0))) from None
            except BadRecord as err:
                self.rows.bad(err)
                continue
            row = self.rows.one(n, record)
            if row is not None:
                out.append(row)
        return out

    # ---- arrays
    def _array(self, stream: Any, line: int) -> Iterator[list]:
        reader = _ArrayReader(stream, self.encoding, self.limit, (self.scan_once, self.careful))
        reader.line = line
        lines: list[int] = []
        records: list[Any] = []
        texts: list[str] = []
        size = 16
        for n, record, text in reader.elements():
            lines.append(n)
            records.append(record)
            texts.append(text)
            self.line = n
            if len(records) >= size:
                yield self._elements(lines, records, texts)
                lines, records, texts, size = [], [], [], min(size * 2, 1024)
        if records:
            yield self._elements(lines, records, texts)
        self.line = reader._line_at(reader.pos)

    def _elements(self, lines: list[int], records: list, texts: list[str]) -> list:
        rows = self.rows.block(records)
        if rows is None:  # one by one, decoded again keeping numbers as written
            records = [self.careful(text, 0)[0] for text in texts]
            rows = [r for r in map(self.rows.one, lines, records) if r is not None]
        return rows
