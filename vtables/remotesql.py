"""What a wrapper offers the statement planner: SQL, or aggregates.

A wrapper whose source runs SQL (postgres_fdw, sqlite_fdw, sqlalchemy_fdw)
returns a ``RemoteSQL`` from ``ForeignDataWrapper.remote_sql()``.  The
statement planner (``vtables.statements``) then sends joins, aggregates,
sorts and limits over several of its tables as one query, built as a
sqlglot tree in ``dialect`` and run by ``run``.  A query the remote may stop
with an overflow where SQLite goes on (integer arithmetic on PostgreSQL or
DuckDB) is run by ``run_guarded``: read whole, so that its failure leaves
the remote transaction as it was; an error ``overflowed`` recognizes (there,
or in a sum past 64 bits) sends the block to SQLite.  What may be sent is the
planner's to decide (its allow-list is per dialect); the wrapper says which
columns hold exactly the values SQLite would see (``column``), which tables
can share one query (``key``: the same server and the same credentials) and
runs the text it is given with bound parameters, never values in the text.

A wrapper whose source is not SQL may still answer aggregates over its own
table (``ForeignDataWrapper.aggregator()``): ``count``, ``min``, ``max`` and
``sum``, grouped or not, under quals, from a file's metadata or an index.
The contract is the scans': exactly what SQLite would compute over the rows
``scan`` would yield for the same quals.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import apsw

from .errors import FeatureNotSupportedError
from .wrapper import OptionSpec, Qual

#: The server and foreign-table option that turns statement pushdown off.
STATEMENT_PUSHDOWN = OptionSpec(
    "statement_pushdown",
    {"server", "table"},
    type=bool,
    default=True,
    doc="false keeps joins, aggregates and sorts over this server's tables in SQLite"
    " (each table is still scanned with its own pushdown).",
)


@dataclass(frozen=True)
class RemoteColumn:
    """One column of a remote table as the planner may use it."""

    #: its name at the source
    name: str
    #: the family (``vtables.types.family``) whose values the source holds
    #: exactly as SQLite sees them after conversion: ``integer``, ``real`` or
    #: ``text`` (compared byte by byte); None when they may differ, and then
    #: the column is never used in a pushed expression
    family: str | None


class RemoteSQL:
    """A SQL source's side of statement pushdown, for one foreign table."""

    #: the sqlglot dialect the source speaks (``postgres``, ``sqlite``, ``duckdb``...)
    dialect: str = ""

    def key(self) -> Hashable:
        """Tables whose keys are equal can be read by one remote query: the
        same source reached with the same credentials."""
        raise NotImplementedError

    def enabled(self) -> bool:
        """False when the server or table turned statement pushdown off."""
        return True

    def table(self) -> tuple[str, ...]:
        """The remote table's name, qualified as far as needed: (schema, name)."""
        raise NotImplementedError

    def column(self, name: str) -> RemoteColumn | None:
        """The remote side of the foreign table's column ``name``."""
        raise NotImplementedError

    def estimate(self) -> float:
        """Rows in the remote table (the planner's guess when it has no better)."""
        return 1000.0

    def rows(self, text: str, params: Mapping[str, Any]) -> float | None:
        """The rows the source expects a query of the planner's to return
        (its EXPLAIN), None when it cannot tell; asked once per statement text."""
        return None

    def run(self, text: str, params: Mapping[str, Any]) -> Iterable[tuple]:
        """Run a read-only query built by the planner (named parameters
        ``p0``, ``p1``... as the dialect spells them) inside the remote
        transaction the foreign table's scans use; yield its rows."""
        raise NotImplementedError

    def run_small(self, text: str, params: Mapping[str, Any]) -> Iterable[tuple]:
        """``run`` for a query known to return few rows (an aggregate without
        GROUP BY, a LIMIT): a source with a cheaper way for those (no cursor
        kept open on the server) overrides it."""
        return self.run(text, params)

    def run_guarded(self, text: str, params: Mapping[str, Any]) -> list[tuple]:
        """``run`` for a query that may fail (``overflowed``) where its failure
        must leave the remote transaction usable: inside a savepoint rolled
        back to on error (released after), its rows read whole.  By default,
        and where the source cannot (no savepoints in an open transaction),
        ``Unguarded``: the block runs in SQLite."""
        raise Unguarded(f"no guarded queries on {self.where()}")

    def overflowed(self, err: BaseException) -> bool:
        """Whether ``err``, raised by ``run``, is the remote stopping where
        SQLite would go on: an integer out of range (an overflow, or a
        division by zero, where SQLite gives a float or NULL).  ``causes``
        walks the exceptions a wrapper's error was raised from."""
        return False

    # -- sqlmed_query(server, query): a query the user wrote, run as it is

    def describe(self, text: str) -> list[tuple[str, str]]:
        """The columns of a read-only query the user wrote: (name, the type a
        foreign table would declare for it), without running it."""
        raise FeatureNotSupportedError(f"sqlmed_query() is not supported by {self.where()}")

    def run_readonly(self, text: str) -> Iterable[tuple]:
        """Run a query the user wrote in a read-only remote transaction (or
        savepoint, when the scans' transaction is open); yield its rows."""
        raise FeatureNotSupportedError(f"sqlmed_query() is not supported by {self.where()}")

    def where(self) -> str:
        """Where the query runs, for EXPLAIN (server name and address, no secrets)."""
        return ""


#: the SQLSTATEs of a query a SQL server stopped where SQLite goes on: numeric
#: value out of range (bigint out of range...), division by zero
OVERFLOW_SQLSTATES = frozenset({"22003", "22012"})


class Unguarded(Exception):
    """``run(..., guarded=True)`` cannot run the query so that its failure
    leaves the remote transaction usable (DuckDB inside a transaction: no
    savepoints, and an error aborts it): the block runs in SQLite."""


def causes(err: BaseException) -> Iterator[BaseException]:
    """``err``, then what it was raised from (``__cause__``, else
    ``__context__``) and a driver's error a library wrapped (``orig``)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [err]
    while todo:
        one = todo.pop()
        if one is None or id(one) in seen:
            continue
        seen.add(id(one))
        yield one
        todo.extend((getattr(one, "orig", None), one.__context__, one.__cause__))


def sqlite_columns(db: apsw.Connection, text: str) -> list[tuple[str, str]]:
    """The columns of a query on a SQLite connection: (name, declared type,
    empty for an expression), from the prepared statement, never run (its
    parameters, if any, taken as NULL)."""
    cursor = apsw.Cursor(db)  # as SQLite itself sees the text
    found: list[tuple[str, str | None]] = []

    def trace(cur: apsw.Cursor, _sql: str, _bindings: Any) -> bool:
        found.extend(cur.get_description())
        return False

    cursor.exec_trace = trace
    try:
        cursor.execute(text, apsw._null_bindings)  # type: ignore[attr-defined]
    except apsw.ExecTraceAbort:
        pass
    return [(str(name), decltype or "") for name, decltype in found]


# -- the tier for wrappers that are not SQL


@dataclass(frozen=True)
class Aggregate:
    """One aggregate of a column: ``count`` (``column`` None for count(*)),
    ``min``, ``max`` or ``sum``; ``distinct`` for count(DISTINCT column)."""

    function: str
    column: str | None = None
    distinct: bool = False


@dataclass(frozen=True)
class AggregateQuery:
    """``SELECT group_by..., aggregates... FROM table WHERE quals GROUP BY group_by``.

    Quals are ANDed and follow SQLite's rules, as the scans' do; their values
    are None while the planner asks ``accepts``, and known when ``run`` is called."""

    group_by: tuple[str, ...]
    aggregates: tuple[Aggregate, ...]
    quals: tuple[Qual, ...] = ()


class Aggregator:
    """A wrapper's own answer to aggregates over its table."""

    def accepts(self, query: AggregateQuery) -> bool:
        """True when ``run`` answers the query exactly (asked once per statement text)."""
        return False

    def run(self, query: AggregateQuery) -> Iterable[tuple]:
        """The rows: the group's values then the aggregates', in order, one row
        per group (exactly one row, even over no rows, without GROUP BY); the
        values SQLite would compute over the rows ``scan`` yields, and the
        error it would raise (an integer ``sum`` past 64 bits)."""
        raise NotImplementedError

    def describe(self) -> str:
        """What the wrapper reads to answer, for EXPLAIN."""
        return ""
