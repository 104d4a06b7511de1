"""EXPLAIN for foreign scans: what each foreign table of a query is asked for.

The module writes its plan for every scan into ``idxStr``, which SQLite
prints as the P4 operand of the VFilter opcode; reading ``EXPLAIN`` output
shows the plan SQLite chose without running the query.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import apsw

from . import catalog
from .wrapper import Qual, SortKey

if TYPE_CHECKING:
    from .connection import Connection


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
    request: str = ""

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
        if self.limit_pushed:
            lines.append(f"  Limit: {_show(self.limit)}  Offset: {_show(self.offset)}")
        if self.request:
            lines.append("  Request: " + self.request.replace("\n", "\n    "))
        return "\n".join(lines)


def _show(value: Any) -> str:
    return "?" if value is None else repr(value)


def _value(qual: Qual) -> str:
    if qual.operator == "IN" and qual.value is None:
        return "(?)"
    return _show(qual.value)


def foreign_scans(conn: Connection, sql: str, bindings: Any = None) -> list[ForeignScan]:
    """The foreign scans SQLite would run for ``sql``, in the order it runs them."""
    cursor = apsw.Cursor(conn)
    rows = cursor.execute("EXPLAIN " + sql, bindings).fetchall()
    scans = []
    for row in rows:
        if row[1] != "VFilter" or not isinstance(row[5], str):
            continue
        try:
            plan = json.loads(row[5])
        except ValueError:
            continue
        if not isinstance(plan, dict) or "table" not in plan:
            continue
        scans.append(_scan(conn, plan))
    return scans


def _scan(conn: Connection, plan: dict) -> ForeignScan:
    table = catalog.get_table(conn, plan["table"])
    names = [c.name for c in table.columns]
    server = catalog.get_server(conn, table.server)
    wrapper, _ = conn.wrapper_for(table.name)
    quals, exact = [], []
    for column, operator, _position, known in plan["quals"]:
        value = tuple(known) if operator == "IN" and known is not None else known
        qual = Qual(names[column], operator, value)
        quals.append(qual)
        exact.append(bool(wrapper.honours(qual)))
    columns = [names[c] for c in plan["columns"]]
    sortkeys = [SortKey(names[c], desc) for c, desc in plan["sort"]]
    known = plan.get("known", {})
    pushed = plan["limit"] is not None
    limit = known.get("limit") if pushed else None
    offset = known.get("offset") if plan["offset"] is not None else None
    request = wrapper.explain(quals, columns, sortkeys or None, limit, offset)
    return ForeignScan(
        table=table.name,
        wrapper=server.fdw,
        server=server.name,
        columns=columns,
        quals=quals,
        exact=exact,
        sortkeys=sortkeys,
        limit=limit,
        offset=offset,
        limit_pushed=pushed,
        request=request or "",
    )


def explain(conn: Connection, sql: str, bindings: Any = None) -> str:
    """The pushdown plan of a query as text, one block per foreign scan."""
    scans = foreign_scans(conn, sql, bindings)
    if not scans:
        return "(no foreign scans)"
    return "\n".join(scan.text() for scan in scans)
