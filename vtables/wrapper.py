"""The wrapper API: option specs, the ForeignDataWrapper base class and the registry.

A wrapper is a Python class.  It is found by name: first among the classes
the running program registered (``register_wrapper``), then among the
``sqlmed.wrappers`` entry points of installed distributions.  The catalog of
a database file only ever names wrappers; it never names code to import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from itertools import islice
from typing import Any, ClassVar

from .errors import FeatureNotSupportedError, InvalidOptionError

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "sqlmed.wrappers"

#: The object kinds options belong to, as PostgreSQL's validators see them.
KINDS = ("wrapper", "server", "user_mapping", "table", "column")

KIND_NAMES = {
    "wrapper": "foreign-data wrapper",
    "server": "server",
    "user_mapping": "user mapping",
    "table": "foreign table",
    "column": "column",
}

# Masked even when the wrapper that owns them is not installed here.
DEFAULT_SECRETS = frozenset(
    {"password", "passwd", "passphrase", "secret", "secret_key", "token", "api_key", "api_token"}
    | {"access_token", "private_key"}
)

_TRUE = {"true", "on", "yes", "1", "t", "y"}
_FALSE = {"false", "off", "no", "0", "f", "n"}


def parse_bool(value: str) -> bool:
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError("expected a boolean (true/false, on/off, yes/no, 1/0)")


@dataclass(frozen=True)
class OptionSpec:
    """One option a wrapper accepts, for one or more object kinds."""

    name: str
    kinds: frozenset[str]
    type: type = str
    default: Any = None
    required: bool = False
    secret: bool = False
    choices: tuple[str, ...] | None = None
    doc: str = ""

    def __post_init__(self) -> None:
        kinds = frozenset([self.kinds] if isinstance(self.kinds, str) else self.kinds)
        unknown = kinds - set(KINDS)
        if unknown:
            raise ValueError(f"unknown option kinds {sorted(unknown)}; use {KINDS}")
        object.__setattr__(self, "kinds", kinds)

    def convert(self, value: str) -> Any:
        """The typed value of the option's text; ValueError says what was expected."""
        if self.choices is not None and value not in self.choices:
            raise ValueError("expected one of " + ", ".join(self.choices))
        if self.type is bool:
            return parse_bool(value)
        if self.type is int:
            try:
                return int(value.strip())
            except ValueError:
                raise ValueError("expected an integer") from None
        if self.type is float:
            try:
                return float(value.strip())
            except ValueError:
                raise ValueError("expected a number") from None
        if self.type is list:
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


@dataclass
class ColumnDefinition:
    name: str
    type: str
    options: dict[str, str] = field(default_factory=dict)
    not_null: bool = False
    default: str | None = None


@dataclass
class TableDefinition:
    """What ``import_schema`` returns for each remote table."""

    name: str
    columns: list[ColumnDefinition] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)


#: Operators a qual can carry, as SQLite offers them to virtual tables.
OPERATORS = (
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "!=",
    "IS",
    "IS NOT",
    "IS NULL",
    "IS NOT NULL",
    "LIKE",
    "GLOB",
    "IN",
)


@dataclass(frozen=True)
class Qual:
    """A condition on one column: ``column operator value``.

    ``IN`` carries a tuple of values; ``IS NULL`` / ``IS NOT NULL`` carry
    None.  Comparisons follow SQLite's rules (NULL never equal, LIKE
    case-insensitive for ASCII, GLOB case-sensitive, BINARY collation).
    """

    column: str
    operator: str
    value: Any = None


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY term; SQLite puts NULLs first ascending and last descending."""

    column: str
    descending: bool = False


class ForeignDataWrapper:
    """Base class of every wrapper, in tiers.

    - read: ``scan`` (required);
    - planner hints: ``estimate``, ``honours``, ``can_sort``, ``can_limit``,
      ``explain``: the defaults promise nothing, so SQLite re-checks every qual
      and sorts itself;
    - writes: ``insert``, ``insert_many``, ``update``, ``delete``, keyed by the
      ``rowid_column`` (one name or a tuple of names);
    - transactions: ``begin``, ``pre_commit``, ``commit``, ``rollback``,
      ``savepoint``, ``release``, ``rollback_to``;
    - ``import_schema`` for IMPORT FOREIGN SCHEMA.

    The optional write and import tiers raise NotImplementedError; the
    transaction tier does nothing unless a wrapper overrides it.
    """

    #: The name the wrapper is installed under (``CREATE EXTENSION name``).
    name: ClassVar[str] = ""
    #: Options accepted, per object kind.
    option_specs: ClassVar[tuple[OptionSpec, ...]] = ()
    #: Column(s) identifying a row for UPDATE and DELETE; None: read-only.
    rowid_column: ClassVar[str | tuple[str, ...] | None] = None
    #: SQLite conflict modes beyond ABORT (``INSERT OR IGNORE``, ``OR REPLACE``)
    #: that the source carries out itself: ``insert_many`` is then called with
    #: ``on_conflict="IGNORE"`` or ``"REPLACE"`` (a wrapper that lists none
    #: has such INSERTs refused, never run as plain ones).
    conflict_modes: ClassVar[frozenset[str]] = frozenset()
    #: True when ``scan`` yields tuples whose values already have the storage
    #: format of their declared types (what ``vtables.types.converter`` gives):
    #: the module then passes them to SQLite without looking at them.
    coerces_values: ClassVar[bool] = False

    #: Set by the connection after construction: where the wrapper serves.
    table_name: str = ""
    server_name: str = ""
    #: The database file's path ("" for an in-memory database).
    database_path: str = ""
    #: State shared by the instances serving one server on one connection
    #: (remote connections, say); emptied when the server or a mapping changes.
    session: dict[str, Any]
    #: Set by the connection: where ``notice`` sends a message (the connection's
    #: ``notices`` list).  None (a wrapper used on its own): notices are only logged.
    notify: Callable[[str], None] | None = None

    def __init__(self, options: dict[str, str], columns: dict[str, ColumnDefinition]):
        self.options = options
        self.columns = columns

    def notice(self, message: str) -> None:
        """Raise a PostgreSQL-style NOTICE: ``message`` goes to the connection's
        ``notices`` (which the ``sqlmed`` command prints as ``NOTICE:  ...``
        and the DB-API module logs) and is logged at INFO on the logger of the
        wrapper class's module.  A notice never interrupts the statement."""
        logging.getLogger(type(self).__module__).info("%s", message)
        notify = self.notify
        if notify is not None:
            notify(message)

    # -- read tier
    def scan(
        self,
        quals: list[Qual],
        columns: list[str],
        sortkeys: list[SortKey] | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> Iterable[Mapping[str, Any] | tuple]:
        """Yield rows: mappings by column name, or sequences in ``columns`` order.

        ``sortkeys``, ``limit`` and ``offset`` are given only when the wrapper
        said it honours them.  Quals are always given, honoured or not: a qual
        the wrapper does not honour may only be used to skip rows it certainly
        fails, never as a filter with other semantics.
        """
        raise NotImplementedError

    def scan_batches(
        self,
        quals: list[Qual],
        columns: list[str],
        sortkeys: list[SortKey] | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> Iterator[Any]:
        """The rows of ``scan`` in batches (lists of rows), which is how the C
        module takes them.  Batches grow from 1 row to 1024, so a query that
        stops early reads few rows ahead.  A wrapper with a faster way to
        make batches overrides this, and may yield ``vtables._speedups``
        batches; rows read before an error are handed over before it."""
        rows = iter(self.scan(quals, columns, sortkeys, limit, offset))
        size = 1
        while True:
            batch: list[Any] = []
            try:
                batch.extend(islice(rows, size))
            except Exception:
                if batch:
                    yield batch
                raise
            if batch:
                yield batch
            if len(batch) < size:
                return
            size = min(size * 2, 1024)

    # -- SQL functions
    @classmethod
    def sql_functions(cls) -> dict[str, tuple[Callable[..., Any], int]]:
        """SQL functions the extension brings, as PostgreSQL's extensions do:
        ``{name: (function, number of arguments)}``, the function being called
        as ``function(conn, *args)``.  Each connection installs them when it
        opens a database whose catalog has the extension, or runs its CREATE
        EXTENSION; they answer "does not exist" once the extension is gone."""
        return {}

    # -- planner hints
    def estimate(self, quals: list[Qual], columns: list[str]) -> tuple[float, float]:
        """(rows, cost) of a scan with these quals; constant values are filled in
        when SQLite knows them at planning time, else ``value`` is None."""
        rows = 1_000_000.0
        for qual in quals:
            if qual.operator in ("=", "IS"):
                rows /= 100
            elif qual.operator == "IN":
                rows /= 100 / max(len(qual.value or ()), 1)
            else:
                rows /= 3
        rows = max(rows, 1.0)
        return rows, 10.0 + rows

    def honours(self, qual: Qual) -> bool:
        """True if every row ``scan`` yields satisfies ``qual`` exactly."""
        return False

    def can_sort(self, sortkeys: list[SortKey]) -> bool:
        """True if ``scan`` returns rows in exactly this order."""
        return False

    def can_limit(self) -> bool:
        """True if ``scan`` applies ``limit`` and ``offset``."""
        return False

    def explain(
        self,
        quals: list[Qual],
        columns: list[str],
        sortkeys: list[SortKey] | None,
        limit: int | None,
        offset: int | None,
    ) -> str:
        """The request this scan sends to the source (remote SQL, a file name)."""
        return ""

    # -- write tier
    def insert(self, values: dict[str, Any]) -> None:
        raise NotImplementedError

    def insert_many(self, rows: list[dict[str, Any]], on_conflict: str | None = None) -> None:
        """Insert rows; ``on_conflict`` is IGNORE (skip a row the source's
        constraints refuse, as ``ON CONFLICT DO NOTHING``) or REPLACE (replace
        the row with the same identity), given only if in ``conflict_modes``."""
        if on_conflict is not None:
            raise FeatureNotSupportedError(f"INSERT OR {on_conflict} is not supported")
        for values in rows:
            self.insert(values)

    def update(self, identity: dict[str, Any], values: dict[str, Any]) -> None:
        raise NotImplementedError

    def delete(self, identity: dict[str, Any]) -> None:
        raise NotImplementedError

    # -- transaction tier
    def begin(self) -> None:
        pass

    def pre_commit(self) -> None:
        pass

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def savepoint(self, level: int) -> None:
        pass

    def release(self, level: int) -> None:
        pass

    def rollback_to(self, level: int) -> None:
        pass

    # -- import tier
    @classmethod
    def import_schema(
        cls,
        schema: str,
        server_options: dict[str, str],
        user_options: dict[str, str],
        options: dict[str, str],
        restriction_type: str | None,
        restricts: list[str],
        *,
        database_path: str = "",
    ) -> list[TableDefinition]:
        """Definitions of the remote schema's tables (LIMIT TO / EXCEPT applied or
        not: the caller filters again).  ``database_path`` is the local file's."""
        raise NotImplementedError

    @classmethod
    def writable(cls) -> bool:
        return cls.rowid_column is not None or cls.insert is not ForeignDataWrapper.insert

    def check_updatable(self, verb: str) -> None:
        """Refuse a write when the server or table has ``updatable 'false'``."""
        value = self.options.get("updatable")
        if value is not None and not parse_bool(value):
            raise FeatureNotSupportedError(
                f'foreign table "{self.table_name}" does not allow {verb}s',
                hint="Its server or table has the option updatable 'false'.",
            )

    def identity_columns(self) -> tuple[str, ...]:
        rc = self.rowid_column
        if rc is None:
            return ()
        return (rc,) if isinstance(rc, str) else tuple(rc)

    # -- options
    @classmethod
    def specs_for(cls, kind: str) -> dict[str, OptionSpec]:
        return {spec.name: spec for spec in cls.option_specs if kind in spec.kinds}

    @classmethod
    def validate(cls, kind: str, options: Mapping[str, str], *, object_name: str) -> None:
        """Refuse unknown options, bad values and missing required ones."""
        specs = cls.specs_for(kind)
        what = f'{KIND_NAMES[kind]} "{object_name}"' if object_name else KIND_NAMES[kind]
        for key, value in options.items():
            spec = specs.get(key)
            if spec is None:
                valid = ", ".join(sorted(specs))
                hint = (
                    f"Valid options in this context are: {valid}"
                    if valid
                    else "There are no valid options in this context."
                )
                raise InvalidOptionError(f'invalid option "{key}" for {what}', hint=hint)
            try:
                spec.convert(value)
            except ValueError as err:
                shown = "********" if spec.secret else repr(value)
                raise InvalidOptionError(
                    f'invalid value {shown} for option "{key}" of {what}: {err}'
                ) from None
        for spec in specs.values():
            if spec.required and spec.name not in options:
                raise InvalidOptionError(f'option "{spec.name}" is required for {what}')

    @classmethod
    def secret_options(cls, kind: str) -> frozenset[str]:
        return frozenset(s.name for s in cls.specs_for(kind).values() if s.secret)


# ------------------------------------------------------------------ registry

_registered: dict[str, type[ForeignDataWrapper]] = {}


def imported(name: str, restriction_type: str | None, restricts: list[str]) -> bool:
    """Whether IMPORT FOREIGN SCHEMA's LIMIT TO / EXCEPT lets table ``name`` in."""
    if restriction_type == "LIMIT TO":
        return name in restricts
    if restriction_type == "EXCEPT":
        return name not in restricts
    return True


def register_wrapper(
    cls: type[ForeignDataWrapper], name: str | None = None
) -> type[ForeignDataWrapper]:
    """Install a wrapper class for this program under ``name`` (default ``cls.name``)."""
    name = name or cls.name
    if not name:
        raise ValueError("a wrapper needs a name to be registered under")
    if not (isinstance(cls, type) and issubclass(cls, ForeignDataWrapper)):
        raise TypeError("wrappers must subclass vtables.ForeignDataWrapper")
    _registered[name] = cls
    return cls


def unregister_wrapper(name: str) -> None:
    _registered.pop(name, None)


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def find_wrapper(name: str) -> type[ForeignDataWrapper] | None:
    """The installed wrapper called ``name``, or None."""
    cls = _registered.get(name)
    if cls is not None:
        return cls
    ep = _entry_points().get(name)
    if ep is None:
        return None
    try:
        cls = ep.load()
    except ImportError as err:
        raise FeatureNotSupportedError(
            f'wrapper "{name}" is installed but cannot be loaded: {err}',
            hint="Install what it needs (for postgres_fdw: pip install 'sqlmed[postgres]').",
        ) from None
    _registered[name] = cls
    return cls


def available_wrappers() -> list[str]:
    return sorted(set(_registered) | set(_entry_points()))


def _by_function(function: str | None, suffix: str) -> type[ForeignDataWrapper] | None:
    if not function or not function.endswith(suffix):
        return None
    return find_wrapper(function[: -len(suffix)])


def handler_class(function: str | None) -> type[ForeignDataWrapper] | None:
    """The wrapper behind a handler name such as ``file_fdw_handler``."""
    return _by_function(function, "_handler")


def validator_class(function: str | None) -> type[ForeignDataWrapper] | None:
    """The wrapper behind a validator name such as ``file_fdw_validator``."""
    return _by_function(function, "_validator")


def is_secret(validator: str | None, kind: str, key: str, handler: str | None = None) -> bool:
    """Whether an option's value must never be shown: the wrapper's option spec
    says (its validator's, else its handler's), else the usual secret names."""
    for cls in (validator_class(validator), handler_class(handler)):
        if cls is not None:
            spec = cls.specs_for(kind).get(key)
            if spec is not None:
                return spec.secret
    return key.lower() in DEFAULT_SECRETS
