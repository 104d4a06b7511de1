"""The wrapper API: option specs, the ForeignDataWrapper base class and the registry.

A wrapper is a Python class.  It is found by name: first among the classes
the running program registered (``register_wrapper``), then among the
``sqlmed.wrappers`` entry points of installed distributions.  The catalog of
a database file only ever names wrappers; it never names code to import.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from itertools import islice
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

from . import sqltext
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


# ------------------------------------------------ helpers every wrapper needs

_MASK = "********"  # vtables.secrets.MASK, which sits beside this module
_DSN_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.I)


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret value masked, and the password of any
    connection string in it (drivers echo their DSN in errors)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, _MASK)
    return _DSN_PASSWORD.sub(r"\1" + _MASK, text)


#: ``name`` as a quoted SQL identifier, always quoted (``vtables.sqltext.quote_name``)
quote_identifier = sqltext.quote_name


def resolve_path(
    path: str, database_path: str, directory: str | None = None, *, uris: bool = True
) -> str:
    """Where a file option points: ``~`` expanded; a ``file:`` URI (when the
    source takes ``uris``) as it is; an absolute path normalised; a relative
    one against ``directory`` (itself relative to the database), else the
    database file's directory (the current directory for an in-memory
    database)."""
    path = os.path.expanduser(path)
    if uris and path.startswith("file:"):
        return path
    if os.path.isabs(path):
        return os.path.normpath(path)
    base = os.path.dirname(os.path.abspath(database_path)) if database_path else os.getcwd()
    if directory:
        base = os.path.join(base, os.path.expanduser(directory))
    return os.path.abspath(os.path.join(base, path))


@dataclass(frozen=True)
class OptionSpec:
    """One option a wrapper accepts, for one or more object kinds."""

    name: str
    #: the object kinds that take it (a set of KINDS, or one kind's name)
    kinds: AbstractSet[str]
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

    def read(self, value: str | None) -> Any:
        """The typed value of an option as stored (``None``: not given): the
        converted text, else the default.  A text that does not convert (a
        catalog written by something else: every DDL validates) keeps the
        default."""
        if value is None:
            return self.default
        try:
            return self.convert(value)
        except ValueError:
            logger.warning(
                "option %s: %r is not a valid value; using the default", self.name, value
            )
            return self.default


#: Options most wrappers of remote tables take, declared once.
UPDATABLE = OptionSpec(
    "updatable",
    frozenset({"server", "table"}),
    bool,
    default=True,
    doc="false refuses INSERT, UPDATE and DELETE.",
)
COLUMN_NAME = OptionSpec("column_name", frozenset({"column"}), doc="Remote column name.")
KEY = OptionSpec(
    "key",
    frozenset({"column"}),
    bool,
    doc="true marks the columns that identify a row for UPDATE and DELETE;"
    " default: the remote primary key.",
)


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


_T = TypeVar("_T")


@dataclass(frozen=True)
class TableContext:
    """Where a wrapper instance serves, given to it at construction.

    The session builds one per foreign table and user; a wrapper built on its
    own (``MyFdw(options, columns)``, in a test) gets an empty one.
    """

    #: the foreign table's name in this database
    table_name: str = ""
    #: the server it belongs to
    server_name: str = ""
    #: the database file's path ("" for an in-memory database)
    database_path: str = ""
    #: state shared by the instances serving one server on one connection (its
    #: remote connections, say); emptied when the server or a user mapping changes
    shared: dict[str, Any] = field(default_factory=dict)
    #: where ``notice`` sends a message (the connection's notices); None: logged only
    notify: Callable[[str], None] | None = None
    #: the connection's current user
    user: str = ""

    def shared_state(self, key: str, make: Callable[[], _T]) -> _T:
        """The state ``shared`` under ``key`` (a remote connection, say), made by
        ``make()`` when there is none yet; an error ``make`` raises stores nothing."""
        state = self.shared.get(key)
        if state is None:
            state = self.shared[key] = make()
        return state


@dataclass(frozen=True)
class ImportRequest:
    """What IMPORT FOREIGN SCHEMA asks ``import_tables`` for."""

    schema: str
    server_options: dict[str, str]
    user_options: dict[str, str]
    #: the statement's own OPTIONS (``import_default``, ...)
    options: dict[str, str]
    #: "LIMIT TO", "EXCEPT" or None, and the tables it names
    restriction_type: str | None = None
    restricts: list[str] = field(default_factory=list)
    #: the local database file's path, for paths relative to it
    database_path: str = ""

    @property
    def connect_options(self) -> dict[str, str]:
        """The server's options with the user mapping's over them."""
        return {**self.server_options, **self.user_options}

    def wanted(self, name: str) -> bool:
        """Whether LIMIT TO / EXCEPT lets table ``name`` in."""
        return imported(name, self.restriction_type, self.restricts)

    def flag(self, name: str, default: bool) -> bool:
        """A Boolean option of the statement (``import_not_null``, ...)."""
        value = self.options.get(name)
        return default if value is None else parse_bool(value)


def _context_attribute(name: str, doc: str) -> Any:
    """An attribute of the instance's TableContext, settable for a wrapper
    used on its own (the context is replaced, never changed in place)."""

    def get(self: ForeignDataWrapper) -> Any:
        return getattr(self.context, name)

    def set_(self: ForeignDataWrapper, value: Any) -> None:
        self.context = dataclasses.replace(self.context, **{name: value})

    return property(get, set_, doc=doc)


class ForeignDataWrapper:
    """Base class of every wrapper, in tiers.

    - read: ``scan`` (required);
    - planner hints: ``estimate``, ``honours``, ``can_sort``, ``can_limit``,
      ``explain``: the defaults promise nothing, so SQLite re-checks every qual
      and sorts itself;
    - writes: ``insert``, ``insert_many``, ``update``, ``delete``, each row
      named by ``identity_columns()``;
    - transactions: ``begin``, ``pre_commit``, ``commit``, ``rollback``,
      ``savepoint``, ``release``, ``rollback_to``;
    - ``import_tables`` for IMPORT FOREIGN SCHEMA.

    The optional write and import tiers raise NotImplementedError; the
    transaction tier does nothing unless a wrapper overrides it.

    An instance serves one foreign table for one user: ``options`` (the
    wrapper's, server's, user mapping's and table's merged, the most specific
    winning), ``columns``, ``context`` (a TableContext, there before
    ``__init__`` runs) and ``settings`` (the options typed, defaults applied)
    are fixed for its life.
    """

    #: The name the wrapper is installed under (``CREATE EXTENSION name``).
    name: ClassVar[str] = ""
    #: Options accepted, per object kind.
    option_specs: ClassVar[tuple[OptionSpec, ...]] = ()
    #: Column(s) identifying a row for UPDATE and DELETE when no column is
    #: marked with the column option ``key``; None: read-only (see
    #: ``identity_columns``).
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

    #: Where the instance serves (see TableContext); set before ``__init__``.
    context: TableContext = TableContext()
    table_name = _context_attribute("table_name", "The foreign table's name.")
    server_name = _context_attribute("server_name", "The server's name.")
    database_path = _context_attribute("database_path", "The database file's path.")
    #: The per-server shared state under its older name (``context.shared``).
    session = _context_attribute("shared", "State shared by a server's instances.")
    notify = _context_attribute("notify", "Where ``notice`` sends messages.")

    def __init__(self, options: dict[str, str], columns: dict[str, ColumnDefinition]):
        self.options = options
        self.columns = columns

    @classmethod
    def create(
        cls,
        options: dict[str, str],
        columns: dict[str, ColumnDefinition],
        context: TableContext,
    ) -> ForeignDataWrapper:
        """An instance serving ``context``'s table: the context is in place
        before ``__init__`` runs, so ``__init__`` may read ``self.table_name``,
        ``self.context.shared``, ... (the session builds wrappers this way)."""
        instance = cls.__new__(cls)
        instance.context = context
        instance.__init__(options, columns)  # type: ignore[misc]
        return instance

    # -- options
    @property
    def settings(self) -> Mapping[str, Any]:
        """The options of every kind but column, typed by their specs, each
        spec's default standing in for an option not given."""
        cached: Mapping[str, Any] | None = self.__dict__.get("_settings")
        if cached is None:
            cached = self.__dict__["_settings"] = MappingProxyType(self.read_settings(self.options))
        return cached

    @classmethod
    def read_settings(cls, options: Mapping[str, str]) -> dict[str, Any]:
        """``settings`` for these merged options (for classmethods such as
        ``import_tables``, which have options but no instance)."""
        out: dict[str, Any] = {}
        for spec in cls.option_specs:
            if spec.kinds != {"column"} and spec.name not in out:
                out[spec.name] = spec.read(options.get(spec.name))
        return out

    def column_option(self, column: str, name: str) -> Any:
        """A column's option, typed by its spec, the default when not given
        (None when the wrapper declares no such column option)."""
        specs: dict[str, OptionSpec] | None = self.__dict__.get("_column_specs")
        if specs is None:
            specs = self.__dict__["_column_specs"] = self.specs_for("column")
        spec = specs.get(name)
        if spec is None:
            return None
        return spec.read(self.columns[column].options.get(name))

    @property
    def remote_names(self) -> dict[str, str]:
        """Each column's name at the source: its ``column_name`` option when the
        wrapper declares one, else its own name."""
        names: dict[str, str] | None = self.__dict__.get("_remote_names")
        if names is None:
            declared = "column_name" in self.specs_for("column")
            names = self.__dict__["_remote_names"] = {
                name: (col.options.get("column_name", name) if declared else name)
                for name, col in self.columns.items()
            }
        return names

    def scrub(self, text: str) -> str:
        """``text`` (a driver's error, which may echo a connection string) with
        the values of this instance's secret options masked."""
        return scrub_text(text, self.secret_values(self.options))

    @classmethod
    def secret_values(cls, options: Mapping[str, str]) -> list[str]:
        """The values of ``options`` that a secret option spec holds."""
        secret = {s.name for s in cls.option_specs if s.secret}
        return [value for key, value in options.items() if key in secret and value]

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
        as ``function(session, *args)`` with the connection's Session (its
        ``user``; its ``remote``: each server's shared state).  Each connection
        installs them when it opens a database whose catalog has the extension,
        or runs its CREATE EXTENSION; they answer "does not exist" once the
        extension is gone."""
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
        """True if every row ``scan`` yields satisfies ``qual`` exactly.

        Asked while SQLite plans the query, before the value is known: the
        qual then carries ``value=None`` (for ``IN``, None rather than a
        tuple), unless SQLite already knows a constant.  Answer for the
        column and operator; a value that turns out to need a local check
        (a float against an integer column, say) must then be checked by
        ``scan`` itself, since SQLite will not check it again.  The answer
        must not change between planning and ``scan``.
        """
        return False

    def can_sort(self, sortkeys: list[SortKey]) -> bool:
        """True if ``scan`` returns rows in exactly this order."""
        return False

    def can_limit(self) -> bool:
        """True if ``scan`` applies ``limit`` and ``offset``."""
        return False

    def remote_sql(self) -> Any:
        """A ``vtables.remotesql.RemoteSQL`` when the source runs SQL: the
        statement planner may then send joins, aggregates and sorts over
        several of its tables as one query.  None (the default): each scan
        is planned alone."""
        return None

    def aggregator(self) -> Any:
        """A ``vtables.remotesql.Aggregator`` when the wrapper computes
        aggregates over its table itself (from a file's metadata, say).
        None (the default): SQLite aggregates the rows ``scan`` yields."""
        return None

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
    def import_tables(cls, request: ImportRequest) -> list[TableDefinition]:
        """Definitions of the remote schema's tables for IMPORT FOREIGN SCHEMA
        (LIMIT TO / EXCEPT applied or not: the caller filters again)."""
        raise NotImplementedError

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
        """What the engine calls: ``import_tables`` with the arguments as one
        ImportRequest.  (A wrapper written before ``import_tables`` existed
        overrides this instead.)"""
        return cls.import_tables(
            ImportRequest(
                schema,
                server_options,
                user_options,
                options,
                restriction_type,
                list(restricts),
                database_path,
            )
        )

    @classmethod
    def writable(cls) -> bool:
        return cls.rowid_column is not None or cls.insert is not ForeignDataWrapper.insert

    def check_updatable(self, verb: str) -> None:
        """Refuse a write when the server or table has ``updatable 'false'``."""
        if "updatable" in self.settings:
            updatable = self.settings["updatable"] is not False
        else:
            value = self.options.get("updatable")
            updatable = value is None or parse_bool(value)
        if not updatable:
            raise FeatureNotSupportedError(
                f'foreign table "{self.table_name}" does not allow {verb}s',
                hint="Its server or table has the option updatable 'false'.",
            )

    def identity_columns(self) -> tuple[str, ...]:
        """The columns that name a row for UPDATE and DELETE (empty: the table
        is not updatable that way), asked once per scan.

        The one way to say it: the columns marked with the column option
        ``key`` (for a wrapper that declares it as a Boolean, ``KEY``), else
        ``rowid_column``.  A wrapper whose source knows its own key extends
        this: ``return super().identity_columns() or <the source's key>``.
        """
        if getattr(self.specs_for("column").get("key"), "type", None) is bool:
            marked = tuple(name for name in self.columns if self.column_option(name, "key"))
            if marked:
                return marked
        rc = self.rowid_column
        if rc is None:
            return ()
        return (rc,) if isinstance(rc, str) else tuple(rc)

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
