"""json_fdw's values: column paths, JSON values converted to the declared types,
and records made rows (a block at a time, or one by one to name or skip bad ones)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import compress, repeat
from typing import Any

from vtables import types

_INT64 = (-(2**63), 2**63 - 1)
#: (column index, the values it may hold): from = and IN quals, rows failing them skipped
Keeps = tuple[tuple[int, frozenset], ...]

# ------------------------------------------------------------------- paths

Path = tuple[str | int, ...]
_STEP = re.compile(
    r"""\.(?P<key>[^.\[\]"'\s]+)      # .key
      | \[\s*(?P<index>\d+)\s*\]      # [0]
      | \[\s*(?P<quoted>"(?:[^"\\]|\\.)*")\s*\]   # ["a.b"]
    """,
    re.X,
)


def parse_path(text: str) -> Path:
    """A column's ``path`` option as its steps (keys and indexes); ValueError
    says what is wrong.  ``a.b[0]``, ``$.a.b[0]``, ``$["a.b"]``; ``$``: ()."""
    rest = text.strip()
    if rest.startswith("$"):
        rest = rest[1:]
    elif rest and rest[0] not in ".[":
        rest = "." + rest
    if not rest and not text.strip().startswith("$"):
        raise ValueError("a path names at least one key")
    steps: list[str | int] = []
    pos = 0
    while pos < len(rest):
        match = _STEP.match(rest, pos)
        if match is None:
            raise ValueError(
                f"cannot read the path at character {pos + 1} of {rest!r}; write keys as"
                ' a.b, indexes as [0], and other keys as ["a.b"]'
            )
        if match["key"] is not None:
            steps.append(match["key"])
        elif match["index"] is not None:
            steps.append(int(match["index"]))
        else:
            try:
                steps.append(json.loads(match["quoted"]))
            except ValueError as err:
                raise ValueError(f"bad quoted key {match['quoted']}: {err}") from None
        pos = match.end()
    return tuple(steps)


def _walker(steps: Path) -> Callable[[Any], Any]:
    """The value at ``steps`` in a record (None where the path leads nowhere)."""

    def walk(value: Any) -> Any:
        for step in steps:
            if isinstance(step, str):
                value = value.get(step) if type(value) is dict else None
            elif type(value) is list and step < len(value):
                value = value[step]
            else:
                return None
        return value

    return walk


class BadRecord(Exception):
    """A record that is not read: ``line`` and what is wrong (``column`` and the
    value, for a value that does not convert)."""

    def __init__(self, line: int, message: str, column: str | None = None, value: Any = None):
        super().__init__(message)
        self.line, self.message, self.column, self.value = line, message, column, value


class NeedsText(Exception):
    """A block decoded without keeping numbers' text holds a number for a text
    or json column: decode it again keeping them."""


class Fatal(BadRecord):
    """A bad record after which the scan cannot go on (in an array, or too long)."""


# ------------------------------------------------------------------ values


class Float(float):
    """A JSON number with a fraction or exponent, and its text as written."""

    __slots__ = ("text",)
    text: str


def float_as_written(text: str) -> Float:
    value = Float(text)
    value.text = text
    return value


class BigInt(Float):
    """A JSON integer too long for ``int()`` (over 4300 digits, far beyond any
    REAL): the infinity ``float()`` reads, and its text as written."""

    __slots__ = ()


_INT_DIGITS = 4000  # int() refuses more than sys.get_int_max_str_digits() (4300 at least)


def int_as_written(text: str) -> int | BigInt:
    """A JSON integer: an int, or a BigInt where ``int()`` would refuse it (its
    limit is process-wide, so it is not raised)."""
    if len(text) <= _INT_DIGITS:
        return int(text)
    value = BigInt(text)
    value.text = text
    return value


def as_written(value: Any) -> str | None:
    """A number's text as written in the file, if the decoder kept it."""
    return value.text if isinstance(value, Float) else None


def no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_SURROGATE = re.compile("[\ud800-\udfff]")
_NONE = type(None)
# Python types a family stores as they are (ints checked for range too).
_KEPT: dict[str, frozenset[type]] = {
    "text": frozenset({str, _NONE}),
    "integer": frozenset({int, _NONE}),
    "numeric": frozenset({int, _NONE}),
    "real": frozenset({float, _NONE}),
    "any": frozenset({int, float, str, _NONE}),
}


def _no_surrogates(text: str) -> str:
    """``text``, unless it holds a lone surrogate (an unpaired ``\\ud800`` escape),
    which no UTF-8 text can hold."""
    if not text.isascii() and _SURROGATE.search(text):
        raise ValueError("unpaired surrogate (a \\ud800-\\udfff escape) in a string")
    return text


def _compact(value: Any) -> str:
    return _no_surrogates(json_text(value))


def json_text(value: Any) -> str:
    """A decoded JSON value's compact JSON text."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:  # an infinity (a number beyond REAL) inside: not "Infinity"
        try:
            return "".join(_compact_parts(value))
        except RecursionError:
            raise ValueError("nested too deeply") from None


def _compact_parts(value: Any) -> Iterator[str]:
    """Compact JSON text, numbers beyond REAL as written (or as 1e999)."""
    if isinstance(value, dict):
        yield "{"
        for k, (key, item) in enumerate(value.items()):
            yield ("," if k else "") + json.dumps(key, ensure_ascii=False) + ":"
            yield from _compact_parts(item)
        yield "}"
    elif isinstance(value, list):
        yield "["
        for k, item in enumerate(value):
            yield "," if k else ""
            yield from _compact_parts(item)
        yield "]"
    elif isinstance(value, float) and not math.isfinite(value):
        yield as_written(value) or ("1e999" if value > 0 else "-1e999")
    else:
        yield json.dumps(value, ensure_ascii=False)


def value_converter(declared: str) -> Callable[[Any], Any]:
    """A JSON value (not None) to the declared type's storage; ValueError,
    TypeError or ArithmeticError when it does not convert."""
    kind = types.family(declared)
    convert = types.converter(declared)

    def to_text(value: Any) -> Any:
        cls = type(value)
        if cls is str:
            return _no_surrogates(value)
        if cls is Float or cls is BigInt:
            return value.text
        if cls is int:
            return str(value)
        return _compact(value)

    def to_json(value: Any) -> str:
        written = as_written(value)
        return _compact(value) if written is None else written

    def other(value: Any) -> Any:
        cls = type(value)
        if cls is dict or cls is list:
            raise ValueError(f"found a JSON {'object' if cls is dict else 'array'}")
        if cls is BigInt and kind == "integer":
            raise ValueError("out of range for a 64-bit integer")
        if cls is Float or cls is BigInt:
            value = float(value)
        elif cls is bool and kind in ("real", "numeric", "any"):
            value = int(value)
        elif cls is int and not _INT64[0] <= value <= _INT64[1] and kind != "integer":
            value = _real(value)  # as SQLite reads such a literal
        out = convert(value)
        return _no_surrogates(out) if type(out) is str else out

    return to_text if kind == "text" else to_json if kind == "json" else other


def _real(value: int) -> float:
    """An integer as a REAL: infinite beyond the largest."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


@dataclass
class Column:
    name: str
    declared: str
    kind: str
    steps: Path
    convert: Callable[[Any], Any]

    def pick(self, records: list) -> list:
        if len(self.steps) == 1 and type(self.steps[0]) is str:
            return list(map(dict.get, records, repeat(self.steps[0])))
        return list(map(_walker(self.steps), records))

    def values(self, raw: list) -> list:
        """``raw`` in the column's storage, or ValueError (the slow path says which)."""
        found = set(map(type, raw))
        kind = self.kind
        if Float in found and kind not in ("text", "json"):
            raw = [float(v) if type(v) is Float else v for v in raw]
            found = (found - {Float}) | {float}
        if float in found and kind in ("text", "json"):
            raise NeedsText  # a float's text as written is lost
        kept = _KEPT.get(kind)
        if kept is not None and found <= kept and (int not in found or _in_range(raw)):
            if str in found:
                _no_surrogates("".join(v for v in raw if type(v) is str))
            return raw
        values = [v for v in raw if v is not None] if _NONE in found else raw
        found.discard(_NONE)
        if kind == "numeric" and found == {float} and not any(map(float.is_integer, values)):
            return raw  # NUMERIC affinity: REAL unless integral
        if found == {str} and kind not in ("text", "json", "any", "blob"):
            # the declared type's reading of texts, the loop in C where it can be
            out = iter(types.convert_texts(kind, values, types.text_converter(self.declared)))
            return (
                [None if v is None else next(out) for v in raw]
                if len(values) < len(raw)
                else list(out)
            )
        if kind == "boolean" and found == {bool}:
            return [None if v is None else int(v) for v in raw]
        convert = self.convert
        return [None if v is None else convert(v) for v in raw]


def _in_range(values: list) -> bool:
    ints = [v for v in values if type(v) is int]
    return _INT64[0] <= min(ints) and max(ints) <= _INT64[1]


class Rows:
    """Records to rows of the wanted columns: a block at a time where every
    record is good, record by record (to name or skip the bad ones) elsewhere."""

    def __init__(self, columns: list[Column], ignore: bool, keeps: Keeps = ()):
        self.columns, self.ignore, self.keeps = columns, ignore, keeps
        self.skipped = 0
        keyed = {k for k, _allowed in keeps}
        # the columns of = / IN quals first: a row that fails them reads no further
        self.order = sorted(range(len(columns)), key=lambda k: k not in keyed)

    def block(self, records: list) -> list | None:
        """The rows of records all of which are objects, or None if one is bad."""
        if set(map(type, records)) - {dict}:
            return None
        try:
            for k, allowed in self.keeps:
                column = self.columns[k]
                found = column.values(column.pick(records))
                records = list(compress(records, [v in allowed for v in found]))
            if not self.columns:
                return [()] * len(records)
            return list(zip(*(c.values(c.pick(records)) for c in self.columns), strict=True))
        except (ValueError, TypeError, ArithmeticError):
            return None

    def one(self, line: int, record: Any) -> tuple | None:
        """A record's row, raising BadRecord (or None when ``ignore`` skips it,
        or a qual certainly fails it)."""
        try:
            if type(record) is not dict:
                what = _json_kind(record)
                raise BadRecord(line, f"expected a JSON object, found {what}")
            row: list[Any] = [None] * len(self.columns)
            for k in self.order:
                row[k] = self._value(line, self.columns[k], record)
                if any(j == k and row[k] not in allowed for j, allowed in self.keeps):
                    return None
            return tuple(row)
        except BadRecord:
            if not self.ignore:
                raise
            self.skipped += 1
            return None

    @staticmethod
    def _value(line: int, column: Column, record: dict) -> Any:
        value = column.pick([record])[0]
        try:
            return None if value is None else column.convert(value)
        except (ValueError, TypeError, ArithmeticError) as err:
            problem = f"invalid input for type {column.declared} ({err})"
            raise BadRecord(line, problem, column.name, value) from None

    def bad(self, error: BadRecord) -> None:
        """A record that could not be read: raised, or counted when ``ignore``."""
        if not self.ignore or isinstance(error, Fatal):
            raise error
        self.skipped += 1


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, (int, float)) else "null"
