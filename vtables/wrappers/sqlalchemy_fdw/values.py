"""Values and expressions: SQLite's comparison rules said in Core for any
remote, and how each remote type's values reach SQLite and come back."""

from __future__ import annotations

from typing import Any

from ... import semantics
from .connection import _sa

_NUMERIC = {"integer", "real", "numeric"}


# SQLite orders NULL < numbers < text < blobs: a comparison across those
# classes has the same answer for every non-NULL value of the column.
_BELOW = {"=": False, "!=": True, "<": True, "<=": True, ">": False, ">=": False}


_NEVER = object()  # a value of a class that sorts after every value of the column


def _as_sqlite_sees(value: Any, family: str) -> Any:
    """The value as SQLite compares it with a column of that declared type (the
    column's affinity applied to it), or _NEVER when it is of a later class."""
    if family in _NUMERIC and not isinstance(value, int | float):
        value = semantics.apply_affinity("numeric", value)
        # text that is no number, and blobs, sort after every number
        return value if isinstance(value, int | float) else _NEVER
    if family == "text" and not isinstance(value, str):
        value = semantics.apply_affinity("text", value)
        return value if isinstance(value, str) else _NEVER  # blobs sort after every text
    return value


def _bind(value: Any, native: bool) -> Any:
    """A bound value typed by itself, not by the column: PostgreSQL must compare
    an integer column with 1.5 (or 3000000000) as numbers, not cast the value."""
    sa = _sa()
    if native:
        return sa.bindparam(None, value)
    return sa.bindparam(None, value, type_=_value_type(value))


def _value_type(value: Any) -> Any:
    sa = _sa()
    if isinstance(value, bool | int):
        return sa.BigInteger()
    if isinstance(value, float):
        return sa.Float()
    if isinstance(value, bytes):
        return sa.LargeBinary()
    return sa.Text()


def _in(col: Any, values: list, native: bool) -> Any:
    """``col IN (values)``, one expanding list per Python type of value."""
    sa = _sa()
    if native:
        return col.in_(sa.bindparam(None, values, expanding=True))
    groups: dict[type, list] = {}
    for v in values:
        groups.setdefault(type(_value_type(v)), []).append(v)
    if not groups:
        return sa.false()
    return sa.or_(
        *(
            col.in_(sa.bindparam(None, vs, expanding=True, type_=_value_type(vs[0])))
            for vs in groups.values()
        )
    )


def _compare(col: Any, op: str, value: Any, family: str, native: bool = False) -> Any:
    """``col op value`` with SQLite's answer for a column of that declared type,
    whatever the remote's typing rules."""
    sa = _sa()
    if not native:
        value = _as_sqlite_sees(value, family)
        if value is _NEVER:
            return col.is_not(None) if _BELOW[op] else sa.false()
    bound = _bind(value, native)
    if op == "=":
        return col == bound
    if op == "!=":
        return col != bound
    if op == "<":
        return col < bound
    if op == "<=":
        return col <= bound
    if op == ">":
        return col > bound
    return col >= bound


def _pg_plain_text(type_: Any) -> bool:
    """text or varchar compared bytewise for equality: not blank-padded char(n),
    not citext, not an enum, and no collation of its own (which could be
    nondeterministic)."""
    sa = _sa()
    if not isinstance(type_, sa.String) or isinstance(type_, sa.CHAR | sa.NCHAR | sa.Enum):
        return False  # an enum compares in its declared order, and with no text
    if type(type_).__name__.upper() == "CITEXT":
        return False
    return getattr(type_, "collation", None) in (None, "C", "POSIX", "default")


def _double_exact(type_: Any, dialect: str) -> bool:
    """Whether every value of a remote numeric type fits a double exactly (15
    significant digits); SQLite's own NUMERIC values are doubles already."""
    sa = _sa()
    if dialect == "sqlite" or not isinstance(type_, sa.Numeric) or isinstance(type_, sa.Float):
        return True
    return type_.precision is not None and type_.precision <= 15


def _read_as_text(col: Any) -> Any:
    """A PostgreSQL column whose Python value would lose something, read as
    the server's text: JSON (``null`` and strings), interval (months), ranges."""
    sa = _sa()
    from sqlalchemy.dialects.postgresql import INTERVAL, AbstractRange

    if isinstance(col.type, sa.JSON | INTERVAL | sa.Interval | AbstractRange):
        return sa.cast(col, sa.Text).label(col.name)
    return col


def _out_fix(type_: Any) -> Any:
    """How a local value (SQLite's storage) becomes what the remote type's
    bind processing takes, or None when it takes it as it is."""
    import decimal
    import json
    import uuid

    sa = _sa()
    if isinstance(type_, sa.JSON):
        return lambda v: json.loads(v) if isinstance(v, str) else v
    if isinstance(type_, sa.ARRAY):

        def array(v: Any) -> Any:
            if isinstance(v, str) and v.lstrip().startswith("["):
                out = json.loads(v)
                return out if isinstance(out, list) else v
            return v

        return array
    if isinstance(type_, sa.Boolean):
        return lambda v: bool(v) if v.__class__ in (int, float) else v
    if isinstance(type_, sa.Uuid) and type_.as_uuid:
        return lambda v: uuid.UUID(v) if isinstance(v, str) else v
    if isinstance(type_, sa.Numeric) and not isinstance(type_, sa.Float):
        # the exact decimal a REAL prints as; a TEXT value is the exact one
        return lambda v: decimal.Decimal(repr(v) if v.__class__ is float else v)
    return None


def _remote_family(type_: Any) -> str:
    sa = _sa()
    if isinstance(type_, sa.Boolean):
        return "boolean"
    if isinstance(type_, sa.Integer):
        return "integer"
    if isinstance(type_, sa.Float):
        return "real"
    if isinstance(type_, sa.Numeric):
        return "numeric"
    if isinstance(type_, sa.String | sa.Enum) and not isinstance(type_, sa.Uuid):
        return "text"
    return "other"


def _declared(type_: Any, dialect: Any) -> str:
    """A declared type the module understands, for an imported column."""
    sa = _sa()
    try:
        text = type_.compile(dialect=dialect)
    except Exception:  # noqa: BLE001 - types without a rendering: keep SQLite's BLOB
        return "BLOB"
    if isinstance(type_, sa.DateTime) and getattr(type_, "timezone", False):
        return "timestamptz"
    return text.lower()
