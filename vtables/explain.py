"""EXPLAIN for foreign scans: what each foreign table of a query is asked for.

The module writes its plan for every scan into ``idxStr``, which SQLite
prints as the P4 operand of the VFilter opcode; reading ``EXPLAIN`` output
shows the plan SQLite chose without running the query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import apsw

from . import catalog, sqltext
from .errors import FeatureNotSupportedError, SQLMedError
from .plan import Plan
from .wrapper import Qual, SortKey

if TYPE_CHECKING:
    from .session import Session


@dataclass
class ForeignScan:
    table: str
    wrapper: str
    server: str
    columns: list[str]
    quals: list[Qual]
    exact: list[bool] = field(default_factory=list)
    sortkeys: list[SortKey] = field(default_factory=list)
    limit: Any = None
    offset: Any = None
    limit_pushed: bool = False
    offset_pushed: bool = False
    request: str = ""
    #: when SQLite filters the scan again in one statement, its rows are held
    #: in memory once (vtables.materialize), indexed on these columns ([]:
    #: held whole); None: never held
    held: list[str] | None = None

    def text(self) -> str:
        lines = [f"Foreign Scan on {self.table} (server {self.server}, wrapper {self.wrapper})"]
        lines.append("  Columns: " + (", ".join(self.columns) or "(none)"))
        if self.quals:
            shown = []
            for qual, exact in zip(self.quals, self.exact, strict=True):
                value = "" if qual.operator in ("IS NULL", "IS NOT NULL") else " " + _value(qual)
                check = "exact" if exact else "rechecked by SQLite"
                shown.append(f"{qual.column} {qual.operator}{value} ({check})")
            lines.append("  Quals: " + "; ".join(shown))
        if self.sortkeys:
            keys = ", ".join(f"{k.column}{' DESC' if k.descending else ''}" for k in self.sortkeys)
            lines.append(f"  Sort: {keys}")
        pushed = []
        if self.limit_pushed:
            pushed.append(f"Limit: {_show(self.limit)}")
        if self.offset_pushed:
            pushed.append(f"Offset: {_show(self.offset)}")
        if pushed:
            lines.append("  " + "  ".join(pushed))
        if self.held is not None:
            on = f", indexed on {', '.join(self.held)}" if self.held else ""
            lines.append(f"  Rescans: from memory, the source read once per statement{on}")
        if self.request:
            lines.append("  Request: " + self.request.replace("\n", "\n    "))
        return "\n".join(lines)


def _show(value: Any) -> str:
    return "?" if value is None else repr(value)


def _value(qual: Qual) -> str:
    if qual.operator == "IN" and qual.value is None:
        return "(?)"
    return _show(qual.value)


_STALE_RETRIES = 20


def foreign_scans(session: Session, sql: str, bindings: Any = None) -> list[ForeignScan]:
    """The foreign scans SQLite would run for ``sql``, in the order it runs them.

    ``sql`` must be one statement: it is prepared, never run.
    """
    count = sqltext.statement_count(sql)
    if count != 1:
        raise FeatureNotSupportedError(
            f"explain takes one statement, not {count}",
            hint="Explain each statement of a script on its own.",
        )
    if sqltext.is_med(sqltext.tokens(sql)):
        raise FeatureNotSupportedError("explain takes a query, not an SQL/MED statement")
    for _ in range(_STALE_RETRIES):
        plans = _plans(session.db, sql, bindings)
        if not any(p.stale for p in plans):
            break
    else:  # pragma: no cover - another connection changed the schema twenty times over
        raise SQLMedError("explain: the schema kept changing while the query was prepared")
    return [_scan(session, plan) for plan in plans]


def _plans(db: apsw.Connection, sql: str, bindings: Any) -> list[Plan]:
    # EXPLAIN prepares the one statement and lists its program without running
    # it; a cursor would go on to run any statement after it, so there is none.
    cursor = apsw.Cursor(db)
    rows = cursor.execute("EXPLAIN " + sql, bindings).fetchall()
    plans = []
    for row in rows:
        if row[1] != "VFilter" or not isinstance(row[5], str):
            continue
        try:
            plans.append(Plan.decode(row[5]))
        except (ValueError, KeyError, TypeError):  # another virtual table's idxStr
            continue
    return plans


def _scan(session: Session, plan: Plan) -> ForeignScan:
    """A scan as the planner decided it: nothing is asked of the wrapper again
    but the request text it would send."""
    db = session.db
    table = catalog.get_table(db, plan.table)
    if table is None:  # dropped since the statement was prepared
        raise SQLMedError(f'foreign table "{plan.table}" does not exist')
    names = [c.name for c in table.columns]
    server = catalog.get_server(db, table.server)
    if server is None:  # pragma: no cover - the catalog keeps a table's server
        raise SQLMedError(f'server "{table.server}" does not exist')
    wrapper, _ = session.wrapper_for(table.name)
    quals = [Qual(names[q.column], q.operator, q.known) for q in plan.quals]
    columns = [names[c] for c in plan.columns]
    sortkeys = [SortKey(names[c], desc) for c, desc in plan.sort]
    limit = plan.known.get("limit") if plan.limit is not None else None
    offset = plan.known.get("offset") if plan.offset is not None else None
    request = wrapper.explain(quals, columns, sortkeys or None, limit, offset)
    return ForeignScan(
        table=table.name,
        wrapper=server.fdw,
        server=server.name,
        columns=columns,
        quals=quals,
        exact=[q.exact for q in plan.quals],
        sortkeys=sortkeys,
        limit=limit,
        offset=offset,
        limit_pushed=plan.limit is not None,
        offset_pushed=plan.offset is not None,
        request=request or "",
        held=None if plan.cache is None else [names[c] for c in plan.cache],
    )


def explain(session: Session, sql: str, bindings: Any = None) -> str:
    """The pushdown plan of a query as text, one block per foreign scan."""
    scans = foreign_scans(session, sql, bindings)
    if not scans:
        return "(no foreign scans)"
    return "\n".join(scan.text() for scan in scans)
