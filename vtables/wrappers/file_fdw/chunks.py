"""The chunk readers: a chunk of whole plain lines (no quote in CSV, no
backslash in text, no stray carriage return, every line with all its fields)
read column by column, by the C extension's ``parse_chunk`` or, without it or
for a type it does not convert, by ``fast_batch``.  Either answers None for a
chunk it does not read exactly as the record readers (``formats``) would; the
scan then reads that chunk record by record.  A conversion in either is
``vtables.types``' (``text_converter`` / ``convert_texts``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import repeat
from typing import Any

from vtables import speedups, types

from .options import Config

#: (k, family, converter): the k-th wanted column's conversion.
Conversion = tuple[int, str, Callable[[Any], Any]]
#: (k, allowed values): rows whose k-th wanted column is not one of them are dropped.
Keep = tuple[int, frozenset]

_C_KINDS = {"integer": 1, "real": 2, "numeric": 3, "boolean": 4, "date": 5}  # _speedups.K_*


def c_parser(
    cfg: Config, wanted: list[int], conversions: list[Conversion], keeps: list[Keep]
) -> Callable[[str], Any] | None:
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
    args = (
        cfg.delimiter,
        len(cfg.names),
        tuple(wanted),
        tuple(kinds),
        None if cfg.special in cfg.null else cfg.null,
        tuple(bool(x) for x in cfg.force_not_null),
        tuple((k, tuple(allowed)) for k, allowed in keeps),
        cfg.special,
    )
    parse = c.parse_chunk
    return lambda text: parse(text, *args)


def _plain_lines(cfg: Config, text: str) -> tuple[str, list[str]] | None:
    """The chunk without its last newline and its lines without their newlines,
    or None when a line is not plain."""
    if cfg.special in text:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
    if text.endswith("\n"):
        text = text[:-1]
    texts = text.split("\n")
    if set(map(str.count, texts, repeat(cfg.delimiter))) != {len(cfg.names) - 1}:
        return None
    return text, texts


class _Columns:
    """Columns cut out of a chunk's lines, nulls and conversions applied.

    Most columns wanted: the whole chunk split once into one flat list of fields
    (every line has ncols of them), a column being every ncols-th field.  A few:
    each cut out of the lines.  Neither builds a list per line for the garbage
    collector to walk.  Columns of = / IN quals are cut out first, so a chunk
    without a match never splits the rest."""

    def __init__(
        self, cfg: Config, text: str, texts: list[str], wanted: list[int], keeps: list[Keep]
    ):
        self.cfg, self.text, self.texts, self.wanted = cfg, text, texts, wanted
        self.ncols = len(cfg.names)
        self.keyed = {k for k, _allowed in keeps}
        self.many = len(wanted) * 2 > self.ncols
        self.null = None if cfg.special in cfg.null else cfg.null
        self.flat: list[str] | None = None
        self.keep: list[int] | None = None  # the rows = / IN quals let through

    def cut(self, k: int, conversion: Conversion | None) -> list:
        j, delim, texts = self.wanted[k], self.cfg.delimiter, self.texts
        values: list[Any]
        if self.many and k not in self.keyed:
            if self.flat is None:
                self.flat = self.text.replace("\n", delim).split(delim)
            values = self.flat[j :: self.ncols]
            if self.keep is not None:
                values = [values[i] for i in self.keep]
        elif j == 0:
            values = [line.partition(delim)[0] for line in texts]
        elif j == self.ncols - 1:
            values = [line.rpartition(delim)[2] for line in texts]
        else:
            values = [line.split(delim, j + 1)[j] for line in texts]
        null = self.null
        if null is not None and null in values and not self.cfg.force_not_null[j]:
            values = [None if v == null else v for v in values]
        if conversion is not None:
            values = types.convert_texts(conversion[1], values, conversion[2])
        return values


def fast_batch(
    cfg: Config, text: str, wanted: list[int], conversions: list[Conversion], keeps: list[Keep]
) -> Iterable[Any] | None:
    """The rows of a chunk of whole lines (tuples in ``wanted`` order), read
    column by column with the loops inside C; None when the chunk needs the
    record readers: a quote (CSV) or backslash (text), a stray carriage return,
    a wrong field count or a value that does not convert (the record readers
    report or skip it)."""
    plain = _plain_lines(cfg, text)
    if plain is None:
        return None
    text, texts = plain
    if not wanted:  # count(*): only the field counts matter
        return repeat((), len(texts))
    by_k = {c[0]: c for c in conversions}
    columns = _Columns(cfg, text, texts, wanted, keeps)
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
                i for i in range(len(texts)) if all(cols[k][i] in allowed for k, allowed in keeps)
            ]
            columns.keep = keep
            columns.texts = [texts[i] for i in keep]
            cols = [None if c is None else [c[i] for i in keep] for c in cols]
        for k in range(len(wanted)):
            if cols[k] is None:
                cols[k] = columns.cut(k, by_k.get(k))
    except (ValueError, TypeError, ArithmeticError):
        return None
    return zip(*cols, strict=True)
