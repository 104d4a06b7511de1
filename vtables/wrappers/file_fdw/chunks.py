"""The chunk readers: a chunk of whole records read column by column, by the C
extension's ``parse_chunk`` or, without it or for a type it does not convert,
by ``fast_batch``.  Either answers None for a chunk it does not read exactly as
the record readers (``formats``) would; the scan then reads that chunk record
by record.  A conversion in either is ``vtables.types``' (``text_converter`` /
``convert_texts``).

A plain chunk (no quote in CSV, no backslash in text) is its lines' fields
between delimiters.  A CSV chunk holding quotes comes as a ``Quoted``: the C
reader reads its quoting itself, in one pass (any escape).  Without it, the
Python column reader reads it once ``dequote`` has undone it (the escape being
the quote), at the chunk's scale: COPY's rule cuts its text at the quotes,
every other piece quoted, so the delimiters and newlines of the pieces outside
quotes end fields and records, those inside are data, and two quotes in a row
inside quotes are a quote.  What comes out is plain text when nothing inside
the quotes needed telling apart (the quotes simply dropped), else a
``Dequoted``: the records with their own separators."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from vtables import speedups, types

from .options import Config

#: (k, family, converter): the k-th wanted column's conversion.
Conversion = tuple[int, str, Callable[[Any], Any]]
#: (k, allowed values): rows whose k-th wanted column is not one of them are dropped.
Keep = tuple[int, frozenset]

_C_KINDS = {"integer": 1, "real": 2, "numeric": 3, "boolean": 4, "date": 5}  # _speedups.K_*
# Characters that stand for a chunk's separators; a chunk holding them all is
# read record by record.  ASCII first: the C reader takes a one-byte separator.
_STAND_INS = "".join(map(chr, [*range(0x1F, 0x0D, -1), *range(0x0C, 0x0A, -1), 8, 7, 6, 5, 4]))
_STAND_INS += "".join(map(chr, range(0xE000, 0xE020)))


@dataclass
class Quoted:
    """A CSV chunk of whole records holding quotes, with the scan's Config (its
    ``cr`` found as the file is read) and bound on a record's length."""

    text: str
    cfg: Config
    limit: int

    @property
    def multiline(self) -> bool:
        """Whether a newline inside quotes may be read as data here: not in a
        file of lone CRs (the text's LFs stand for its CRs), nor in a chunk long
        enough to hold a record over the bound (the record reader reports it)."""
        return not self.cfg.cr and len(self.text) <= self.limit


@dataclass
class Dequoted:
    """A CSV chunk's records with the quotes undone: in ``text`` records end at
    ``eol`` and fields at ``sep`` (characters the chunk does not hold, unless
    its newline and delimiter serve), and what was inside quotes is data.

    ``null`` is what an unquoted field that is the null string reads as (a
    character the chunk does not hold, so a quoted one cannot match), or the
    null string itself when a column's force_null or force_not_null says: then
    ``marked``, when a quoted field may be the null string, is the same text
    with ``mark`` before each quoted stretch.  ``special`` is in neither (the
    C reader's special character)."""

    text: str
    sep: str
    eol: str
    special: str
    null: str | None
    marked: str | None = None
    mark: str = ""


def record_end(cfg: Config, text: str) -> int:
    """Where the last whole CSV record of ``text`` (whole lines, from a record's
    start) ends: after the last newline outside quotes (0 when none); the whole
    text when no quote is left open at its end."""
    q = cfg.quote
    if cfg.escape != q:
        return _escaped_record_end(cfg, text)
    if not text.count(q) % 2:
        return len(text)
    parts = text.split(q)
    pos = len(text)
    for i in range(len(parts) - 1, -1, -1):  # the last piece is inside quotes
        pos -= len(parts[i])
        if not i % 2:
            j = parts[i].rfind("\n")
            if j >= 0:
                return pos + j + 1
        pos -= 1
    return 0


def _escaped_record_end(cfg: Config, text: str) -> int:
    """record_end where the escape is not the quote: the quotes read from the
    start (inside them, the escape before a quote or itself makes it data)."""
    q, e = cfg.quote, cfg.escape
    inside = re.compile(f"[{re.escape(q + e)}]").search
    pos, last = 0, 0
    while True:
        j = text.find(q, pos)  # outside quotes, the escape is data
        k = text.rfind("\n", pos, len(text) if j < 0 else j)
        if k >= 0:
            last = k + 1
        if j < 0:
            return len(text)
        pos = j + 1
        while True:
            m = inside(text, pos)
            if m is None:
                return last  # a quote open at the end
            pos = m.end()
            if m.group() == q:
                break
            if text[pos : pos + 1] in (q, e):
                pos += 1


def _stand_ins(cfg: Config, text: str, count: int) -> list[str] | None:
    taken = cfg.delimiter + cfg.quote + cfg.null
    found = [c for c in _STAND_INS if c not in taken and c not in text][:count]
    return found if len(found) == count else None


def _outside(outside: str, q: str, cut: str) -> str | None:
    """The text outside quotes (its pieces joined by ``cut``) with its line
    ends as LF, and a quote for two quotes in a row inside quotes (an empty
    piece between two quoted ones); None for a stray CR."""
    if "\r" in outside:
        outside = outside.replace("\r\n", "\n")
        if "\r" in outside:
            return None
    while cut + cut in outside:
        outside = outside.replace(cut + cut, cut + q + cut)
    return outside


def _mark_nulls(outside: str, d: str, null: str, mark: str) -> str:
    """The text outside quotes with ``mark`` for each field that is the null
    string with no quote in it (the text's quoted stretches are stand-ins)."""
    ends = (d, "\n")
    for a in ends:
        for b in ends:
            while a + null + b in outside:  # again where two overlap
                outside = outside.replace(a + null + b, a + mark + b)
    if outside.startswith(null) and outside[len(null) : len(null) + 1] in (d, "\n", ""):
        outside = mark + outside[len(null) :]
    k = len(outside) - len(null)
    if outside.endswith(null) and k > 0 and outside[k - 1] in ends and outside[-1:] != "\n":
        outside = outside[:k] + mark
    return outside


def dequote(cfg: Config, text: str, limit: int) -> str | Dequoted | None:
    """A CSV chunk holding quotes (whole records, the escape being the quote)
    undone: plain text, a Dequoted, or None when the record readers must read
    it (an unterminated quote, a stray carriage return, a record over lines
    longer than ``limit`` could be)."""
    q, d, null = cfg.quote, cfg.delimiter, cfg.null
    parts = text.split(q)
    if not len(parts) % 2 or (cfg.cr and "\r" in text):
        return None
    odds = parts[1::2]
    inside = "".join(odds)
    if q + q not in text and d not in inside and "\n" not in inside and "\r" not in inside:
        plain = "".join(parts)
        if not null or null not in plain:  # no quoted field can be the null string
            return plain
    if "\n" in inside and len(text) > limit:
        return None
    stand_ins = _stand_ins(cfg, text, 5)
    if stand_ins is None:
        return None
    cut, sep, eol, special, mark = stand_ins
    outside = _outside(cut.join(parts[0::2]), q, cut)
    if outside is None:
        return None
    flags = any(cfg.force_not_null) or any(cfg.force_null)
    if not flags:
        outside = _mark_nulls(outside, d, null, mark)
    if d in inside:
        outside = outside.replace(d, sep)
    else:
        sep = d
    if "\n" in inside or "\r" in inside:  # (a CR before a newline is no CR LF then)
        outside = outside.replace("\n", eol)
        if cfg.cr:  # a CR of the file (see reader.Lines): data, as the file has it
            odds = cut.join(odds).replace("\n", "\r").split(cut)
    else:
        eol = "\n"
    parts[1::2] = odds
    parts[0::2] = outside.split(cut)
    out = Dequoted("".join(parts), sep, eol, special, null if flags else mark)
    if flags and (("" in odds) if not null else (null in out.text)):
        parts[0::2] = outside.replace(cut, mark + cut).split(cut)
        out.marked, out.mark = "".join(parts), mark
    return out


def c_parser(
    cfg: Config, wanted: list[int], conversions: list[Conversion], keeps: list[Keep]
) -> Callable[[str | Quoted], Any] | None:
    """The C extension's chunk reader for this scan (chunk -> batch or None),
    or None when it is not in use or some wanted column's type is not one it
    converts.  It reads plain text, and a Quoted chunk when the quote and
    escape are one byte each."""
    c = speedups.module()
    if c is None or len(cfg.delimiter.encode()) != 1:
        return None
    kinds = [c.K_TEXT] * len(wanted)
    for k, kind, _convert in conversions:
        if kind not in _C_KINDS:
            return None
        kinds[k] = _C_KINDS[kind]
    head = (len(cfg.names), tuple(wanted), tuple(kinds))
    tail = (
        tuple(bool(x) for x in cfg.force_not_null),
        tuple((k, tuple(allowed)) for k, allowed in keeps),
    )
    null = None if cfg.special in cfg.null else cfg.null
    parse = c.parse_chunk
    quoting = (cfg.quote, cfg.escape, tuple(bool(x) for x in cfg.force_null))

    def read(chunk: str | Quoted) -> Any:
        if isinstance(chunk, str):
            return parse(chunk, cfg.delimiter, *head, null, *tail, cfg.special)
        return parse(
            chunk.text, cfg.delimiter, *head, null, *tail, cfg.special, *quoting, chunk.multiline
        )

    return read


@dataclass
class _Records:
    """A chunk's records, without their ends, and how they split."""

    text: str  # the records, joined by eol
    records: list[str]
    sep: str
    eol: str
    null: str | None  # the null string to test (None: none can match)
    marked: _Records | None = None  # the same records, quoted stretches marked


def _plain_records(cfg: Config, text: str) -> _Records | None:
    """A plain chunk's records, or None when a line is not plain."""
    if cfg.special in text:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
    if text.endswith("\n"):
        text = text[:-1]
    null = None if cfg.special in cfg.null else cfg.null
    return _Records(text, text.split("\n"), cfg.delimiter, "\n", null)


def _records(cfg: Config, chunk: str | Dequoted) -> _Records | None:
    """The chunk's records when each has as many fields as the table has columns."""
    if isinstance(chunk, str):
        recs = _plain_records(cfg, chunk)
    else:
        eol = chunk.eol
        text, marked = chunk.text, chunk.marked
        if text.endswith(eol):
            text = text[: -len(eol)]
            marked = marked[: -len(eol)] if marked is not None else None
        recs = _Records(text, text.split(eol), chunk.sep, eol, chunk.null)
        if marked is not None:
            recs.marked = _Records(marked, marked.split(eol), chunk.sep, eol, None)
    if recs is None or set(map(str.count, recs.records, repeat(recs.sep))) != {len(cfg.names) - 1}:
        return None
    return recs


class _Columns:
    """Columns cut out of a chunk's records, nulls and conversions applied.

    Most columns wanted: the whole chunk split once into one flat list of fields
    (every record has ncols of them), a column being every ncols-th field.  A
    few: each cut out of the records.  Neither builds a list per record for the
    garbage collector to walk.  Columns of = / IN quals are cut out first, so a
    chunk without a match never splits the rest."""

    def __init__(self, cfg: Config, recs: _Records, wanted: list[int], keeps: list[Keep]):
        self.cfg, self.recs, self.wanted = cfg, recs, wanted
        self.ncols = len(cfg.names)
        self.keyed = {k for k, _allowed in keeps}
        self.many = len(wanted) * 2 > self.ncols
        self.flat: list[str] | None = None
        self.keep: list[int] | None = None  # the records = / IN quals let through
        self.marked = None if recs.marked is None else _Columns(cfg, recs.marked, wanted, [])
        if self.marked is not None:
            self.marked.many = self.many

    def restrict(self, keep: list[int]) -> None:
        """Only the records ``keep`` (indexes) from now on."""
        self.keep = keep
        self.recs = _Records(self.recs.text, [self.recs.records[i] for i in keep], *self._how())
        if self.marked is not None:
            self.marked.restrict(keep)

    def _how(self) -> tuple[str, str, str | None]:
        return self.recs.sep, self.recs.eol, self.recs.null

    def raw(self, k: int) -> list[str]:
        """The field texts of the k-th wanted column."""
        j, recs = self.wanted[k], self.recs
        sep = recs.sep
        if self.many and k not in self.keyed:
            if self.flat is None:
                text = recs.text
                self.flat = (text.replace(recs.eol, sep) if recs.eol != sep else text).split(sep)
            values = self.flat[j :: self.ncols]
            if self.keep is not None:
                values = [values[i] for i in self.keep]
            return values
        if j == 0:
            return [rec.partition(sep)[0] for rec in recs.records]
        if j == self.ncols - 1:
            return [rec.rpartition(sep)[2] for rec in recs.records]
        return [rec.split(sep, j + 1)[j] for rec in recs.records]

    def cut(self, k: int, conversion: Conversion | None) -> list:
        values: list[Any] = self.raw(k)
        null, j = self.recs.null, self.wanted[k]
        if null is not None and null in values:
            if self.marked is not None:  # a quoted field is NULL only if force_null
                marks = self.marked.raw(k)
                unquoted = not self.cfg.force_not_null[j]
                quoted = self.cfg.force_null[j]
                values = [
                    None if v == null and (quoted if m != v else unquoted) else v
                    for v, m in zip(values, marks, strict=True)
                ]
            elif not self.cfg.force_not_null[j]:
                values = [None if v == null else v for v in values]
        if conversion is not None:
            values = types.convert_texts(conversion[1], values, conversion[2])
        return values


def fast_batch(
    cfg: Config,
    chunk: str | Quoted | Dequoted,
    wanted: list[int],
    conversions: list[Conversion],
    keeps: list[Keep],
) -> Iterable[Any] | None:
    """The rows of a chunk of whole records (tuples in ``wanted`` order), read
    column by column with the loops inside C; None when the chunk needs the
    record readers: quotes ``dequote`` does not undo, a backslash (text), a
    stray carriage return, a wrong field count or a value that does not convert
    (the record readers report or skip it)."""
    if isinstance(chunk, Quoted):
        qcfg = chunk.cfg
        if qcfg.escape != qcfg.quote:
            return None
        undone = dequote(qcfg, chunk.text, chunk.limit)
        if undone is None:
            return None
        chunk = undone
    recs = _records(cfg, chunk)
    if recs is None:
        return None
    if not wanted:  # count(*): only the field counts matter
        return repeat((), len(recs.records))
    by_k = {c[0]: c for c in conversions}
    columns = _Columns(cfg, recs, wanted, keeps)
    cols: list[Any] = [None] * len(wanted)
    try:
        # Columns with = / IN quals first: a chunk without a match ends here.
        for k, allowed in keeps:
            if cols[k] is None:
                cols[k] = columns.cut(k, by_k.get(k))
            if allowed.isdisjoint(cols[k]):
                return ()
        if keeps:
            keep = [
                i
                for i in range(len(recs.records))
                if all(cols[k][i] in allowed for k, allowed in keeps)
            ]
            columns.restrict(keep)
            cols = [None if c is None else [c[i] for i in keep] for c in cols]
        for k in range(len(wanted)):
            if cols[k] is None:
                cols[k] = columns.cut(k, by_k.get(k))
    except (ValueError, TypeError, ArithmeticError):
        return None
    return zip(*cols, strict=True)
