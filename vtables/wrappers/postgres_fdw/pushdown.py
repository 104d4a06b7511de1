"""postgres_fdw's pushdown: quals, ORDER BY and LIMIT deparsed to PostgreSQL SQL
that answers as SQLite would, and the scans that run it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from ... import semantics
from ...wrapper import (
    Qual,
    SortKey,
)
from .catalog import DescribedTable
from .connection import _Remote

#: The kinds of (local declared type, remote type) pairs that translate, with
#: the PostgreSQL array type their IN lists are sent as.
_ARRAY = {
    "int": "int8[]",
    "float": "float8[]",
    "numeric": "float8[]",
    "text": "text[]",
    "bool": "bool[]",
    "date": "date[]",
    "timestamp": "timestamp[]",
    "timestamptz": "timestamptz[]",
    "time": "time[]",
    "bytea": "bytea[]",
}
#: Kinds whose values compare and sort the same way on both sides once
#: translated: every kind that translates.
_SORTABLE = frozenset(_ARRAY)


_DATE = re.compile(r"\d{4}-\d\d-\d\d\Z")


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\Z")


_TIME = re.compile(r"\d\d:\d\d:\d\d\.\d{6}\Z")


#: The kinds SQLite holds as text of one exact form (the module's): the form,
#: matched in full, and how the PostgreSQL value is read from it.  A
#: timestamptz is stored as UTC text ending in "+00:00".
_TEXT_FORMS: dict[str, tuple[re.Pattern[str], Callable[[str], Any]]] = {
    "date": (_DATE, dt.date.fromisoformat),
    "timestamptz": (re.compile(_TIMESTAMP.pattern[:-2] + r"\+00:00\Z"), dt.datetime.fromisoformat),
    "timestamp": (_TIMESTAMP, dt.datetime.fromisoformat),
    "time": (_TIME, dt.time.fromisoformat),
}


def _q(name: str) -> sql.Identifier:
    return sql.Identifier(name)


@dataclass
class _Plan:
    query: sql.Composed
    params: list[Any]
    local: list[Qual]
    fetch: list[str]
    point: bool
    remote_limit: bool
    width: int


def _pg_value(kind: str, v: Any) -> tuple[bool, Any]:
    """The parameter that makes PostgreSQL compare a column of this kind with
    ``v`` exactly as SQLite compares it, if there is one."""
    if v is None:
        return True, None
    if kind == "int":
        if isinstance(v, int):
            return True, v
        if isinstance(v, float) and v.is_integer() and abs(v) < 2**63:
            return True, int(v)
    elif kind in ("float", "numeric"):
        # numeric(p <= 15) against float8: PostgreSQL casts the column to float8,
        # which is what SQLite compares too (the module stores it as REAL).
        if isinstance(v, float):
            return True, v
        if isinstance(v, int) and abs(v) <= 2**53:
            return True, float(v)
    elif kind == "text":
        if isinstance(v, str):
            return True, v
    elif kind in _TEXT_FORMS:
        form, read = _TEXT_FORMS[kind]
        if isinstance(v, str) and form.match(v):
            try:
                return True, read(v)
            except ValueError:
                pass
    elif kind == "bytea":
        if isinstance(v, bytes):
            return True, v
    return False, None


def _glob_to_like(pattern: Any) -> str | None:
    """SQLite's GLOB pattern as a LIKE pattern (escape ``\\``), if one says the same."""
    if not isinstance(pattern, str) or "[" in pattern:
        return None
    out = []
    for ch in pattern:
        if ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


class ScannedTable(DescribedTable):
    """Planning and reading: quals, sorts and limits deparsed to remote SQL,
    the rest checked here with SQLite's rules."""

    #: column -> SQLite's affinity of its declared type
    affinities: dict[str, str]
    #: column -> (converter, types it leaves alone), as the module converts
    _converters: dict[str, tuple[Callable[[Any], Any], tuple[type, ...]]]

    def honours(self, qual: Qual) -> bool:
        if qual.column not in self.remote_names:
            return False
        if qual.operator in ("IS NULL", "IS NOT NULL"):
            return True
        kind = self._kind(qual.column)
        if qual.operator == "GLOB":
            return kind == "text" and _glob_to_like(qual.value) is not None
        if qual.operator == "LIKE":
            # Exact remotely for text patterns; other patterns are checked here.
            return kind == "text" or self.affinities[qual.column] == "text"
        return True  # sent when exact, else checked here with SQLite's rules

    def can_sort(self, sortkeys: list[SortKey]) -> bool:
        return all(
            k.column in self.remote_names and self._kind(k.column) in _SORTABLE for k in sortkeys
        )

    def can_limit(self) -> bool:
        return True

    def estimate(self, quals: list[Qual], columns: list[str]) -> tuple[float, float]:
        meta = self.metadata()
        rows = self._reltuples or 1000.0
        if self.settings["use_remote_estimate"]:
            known = [q for q in quals if q.value is not None or q.operator in ("IS NULL",)]
            plan = self._plan(known, columns, None, None, None)
            if not plan.local:
                query = sql.SQL("EXPLAIN (FORMAT JSON) ") + plan.query
                (out,) = self._run(query, plan.params, "remote estimate").fetchone() or (None,)
                out = json.loads(out) if isinstance(out, str) else out  # json read as text
                rows = float(out[0]["Plan"]["Plan Rows"])
                quals = [q for q in quals if q not in known]
        for q in quals:
            col = meta.get(self.remote_names.get(q.column, ""))
            unique = col is not None and (col.unique or col.primary and self._pk_size() == 1)
            if q.operator in ("=", "IS") and unique:
                rows = min(rows, 1.0)
            elif q.operator == "IN" and unique:
                rows = min(rows, float(len(q.value or ()) or 10))
            elif q.operator in ("=", "IS", "IN"):
                rows /= 10
            elif q.operator in ("IS NULL",):
                rows /= 20
            elif q.operator != "IS NOT NULL":
                rows /= 3
        rows = max(rows, 1.0)
        startup = self.settings["fdw_startup_cost"]
        return rows, startup + rows * (1.0 + self.settings["fdw_tuple_cost"])

    def _value(self, column: str, raw: Any) -> Any:
        """A fetched value as SQLite will see it (the module's conversion)."""
        if raw is None:
            return None
        convert, natives = self._converters[column]
        return raw if type(raw) in natives else convert(raw)

    def _translate(self, q: Qual) -> tuple[sql.Composable, list[Any]] | None:
        """The exact remote condition for a qual, or None to check it here."""
        col: sql.Composable = _q(self.remote_names[q.column])
        op = q.operator
        if op in ("IS NULL", "IS NOT NULL"):
            return sql.SQL("{} " + op).format(col), []
        kind = self._kind(q.column)
        if op == "GLOB":
            pattern = _glob_to_like(q.value)
            if pattern is None:
                return None
            return sql.SQL("{} COLLATE \"C\" LIKE %s ESCAPE '\\'").format(col), [pattern]
        if op == "LIKE":
            if kind != "text" or not isinstance(q.value, str):
                return None
            return sql.SQL("{} COLLATE \"C\" ILIKE %s ESCAPE ''").format(col), [q.value]
        affinity = self.affinities[q.column]
        if op == "IN":
            if q.value is None:  # EXPLAIN before the list is known
                return sql.SQL("{} = ANY(%s)").format(col), [None]
            values = [semantics.apply_affinity(affinity, v) for v in q.value]
            if kind == "bool":
                allowed = [b for b in (False, True) if semantics.holds("IN", int(b), values)]
                return sql.SQL("{} = ANY(%s::bool[])").format(col), [allowed]
            pushed = []
            for v in values:
                if v is None:
                    continue
                ok, pv = _pg_value(kind, v)
                if not ok:
                    return None
                pushed.append(pv)
            if not pushed:
                return sql.SQL("FALSE"), []
            cast = sql.SQL(_ARRAY[kind])
            return sql.SQL("{} = ANY(%s::{})").format(col, cast), [pushed]
        value = semantics.apply_affinity(affinity, q.value)
        if op in ("IS", "IS NOT") and value is None:
            return sql.SQL("{} " + ("IS NULL" if op == "IS" else "IS NOT NULL")).format(col), []
        if kind == "bool":
            if op in ("IS", "IS NOT"):
                equal = [b for b in (False, True) if semantics.holds("=", int(b), value)]
                test = "IS TRUE" if op == "IS" else "IS NOT TRUE"
                return sql.SQL("({} = ANY(%s::bool[])) " + test).format(col), [equal]
            allowed = [b for b in (False, True) if semantics.holds(op, int(b), value)]
            return sql.SQL("{} = ANY(%s::bool[])").format(col), [allowed]
        if kind == "timestamptz" and op in ("<", "<=", ">", ">=") and isinstance(value, str):
            if _TIMESTAMP.match(value):
                # Stored as this text plus "+00:00", which sorts after the bare
                # text of the same instant: > and >= mean >=, < and <= mean <.
                op = ">=" if op in (">", ">=") else "<"
                value += "+00:00"
        ok, pv = _pg_value(kind, value)
        if not ok:
            return None
        if op == "IS":
            op = "="
        if op == "IS NOT":
            op = "IS DISTINCT FROM"
        if kind == "text" and op in ("<", "<=", ">", ">="):
            return sql.SQL('{} COLLATE "C" ' + op + " %s").format(col), [pv]
        return sql.SQL("{} " + ("<>" if op == "!=" else op) + " %s").format(col), [pv]

    def _plan(self, quals, columns, sortkeys, limit, offset) -> _Plan:
        where: list[sql.Composable] = []
        params: list[Any] = []
        local: list[Qual] = []
        for q in quals:
            if not self.honours(q):
                continue  # SQLite checks it
            translated = self._translate(q)
            if translated is None:
                local.append(q)
            if translated is not None:
                where.append(translated[0])
                params.extend(translated[1])
        fetch = list(columns)
        for q in local:
            if q.column not in fetch:
                fetch.append(q.column)
        select = (
            sql.SQL(", ").join(_q(self.remote_names[c]) for c in fetch)
            if fetch
            else sql.SQL("NULL")
        )
        query = sql.SQL("SELECT {} FROM {}.{}").format(
            select, _q(self.schema), _q(self.remote_table)
        )
        if where:
            query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
        if sortkeys:
            keys = []
            for k in sortkeys:
                collate = ' COLLATE "C"' if self._kind(k.column) == "text" else ""
                order = " DESC NULLS LAST" if k.descending else " ASC NULLS FIRST"
                keys.append(sql.SQL("{}" + collate + order).format(_q(self.remote_names[k.column])))
            query += sql.SQL(" ORDER BY ") + sql.SQL(", ").join(keys)
        remote_limit = not local and (limit is not None or offset is not None)
        if remote_limit:
            if limit is not None and limit >= 0:
                query += sql.SQL(" LIMIT %s")
                params.append(limit)
            if offset:
                query += sql.SQL(" OFFSET %s")
                params.append(max(offset, 0))
        point = any(self._is_point(q) for q in quals if q not in local and self.honours(q))
        if remote_limit and limit is not None and 0 <= limit + (offset or 0) <= self._fetch_size():
            point = True
        return _Plan(query, params, local, fetch, point, remote_limit, len(columns))

    def _is_point(self, q: Qual) -> bool:
        """A qual that selects at most one row per value: an equality on a key."""
        col = self.metadata().get(self.remote_names.get(q.column, ""))
        if col is None or not (col.unique or (col.primary and self._pk_size() == 1)):
            return False
        if q.operator in ("=", "IS"):
            return q.value is not None
        return q.operator == "IN" and len(q.value or ()) <= self._fetch_size()

    def _fetch_size(self) -> int:
        return self.settings["fetch_size"]

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        plan = self._plan(quals, columns, sortkeys, limit, offset)
        remote = self.remote()
        remote.flush()
        rows = self._rows(remote, plan)
        if plan.local:
            rows = self._filter(rows, plan)
            if not plan.remote_limit and (limit is not None or offset):
                stop = None if limit is None or limit < 0 else (offset or 0) + limit
                rows = itertools.islice(rows, max(offset or 0, 0), stop)
        return rows

    def remote_sql(self) -> Any:
        from .statements import PostgresSQL

        return PostgresSQL(self)

    def run_statement(
        self, query: sql.Composable, params: dict[str, Any], small: bool
    ) -> Iterator[tuple]:
        """Rows of a query the statement planner built (read-only), through
        the scans' connection and remote transaction: ``small`` ones at once,
        others through a cursor, ``fetch_size`` rows at a time."""
        remote = self.remote()
        remote.flush()
        plan = _Plan(query, params, [], ["*"], small, True, 0)  # type: ignore[arg-type]
        return self._rows(remote, plan)

    def _filter(self, rows: Iterator[tuple], plan: _Plan) -> Iterator[tuple]:
        checks = []
        for q in plan.local:
            at = plan.fetch.index(q.column)
            right = q.value
            if q.operator == "IN":
                right = [semantics.apply_affinity(self.affinities[q.column], v) for v in right]
            elif q.operator != "LIKE":
                right = semantics.apply_affinity(self.affinities[q.column], right)
            checks.append((at, q.column, q.operator, right))
        width = plan.width
        for row in rows:
            if all(
                semantics.holds(op, self._value(c, row[at]), right) for at, c, op, right in checks
            ):
                yield row[:width]

    def _rows(self, remote: _Remote, plan: _Plan) -> Iterator[tuple]:
        try:
            if plan.point:
                cur = remote.execute(plan.query, plan.params)
                rows = cur.fetchall()
                self._release(remote)
                return iter(rows) if plan.fetch else (() for _ in rows)
            return self._stream(remote, plan)
        except psycopg.Error as err:
            raise self._fail(remote, err, "scan") from None

    def _stream(self, remote: _Remote, plan: _Plan) -> Iterator[tuple]:
        counted = False
        name = f"sqlmed_c{next(remote.cursors)}"
        cur = remote.conn.cursor(name=name)
        cur.itersize = self._fetch_size()
        done = False
        try:
            remote.open_xact()
            if not remote.local:
                remote.scans += 1
                counted = True
            cur.execute(plan.query, plan.params)
            while True:
                batch = cur.fetchmany(cur.itersize)
                for row in batch:
                    yield row if plan.fetch else ()
                if len(batch) < cur.itersize:
                    break
            done = True
        except psycopg.Error as err:
            raise self._fail(remote, err, "scan") from None
        finally:
            if remote.valid:
                try:
                    cur.close()
                except psycopg.Error:
                    pass
                if counted:
                    try:
                        remote.end_scan()
                    except psycopg.Error as err:
                        if done:
                            raise self._fail(remote, err, "commit of read") from None
                    self._release(remote)

    def explain(self, quals, columns, sortkeys, limit, offset) -> str:
        plan = self._plan(quals, columns, sortkeys, limit, offset)
        text = plan.query.as_string(None)
        where = self.options.get("host", "localhost") + ":" + self.options.get("port", "5432")
        cursor = "client-side" if plan.point else f"cursor, fetch_size {self._fetch_size()}"
        note = f"  -- on server {self.server_name} ({where}/{self.options.get('dbname', '')})"
        note += f", {cursor}"
        if plan.local:
            note += "; checked locally: " + ", ".join(
                f"{q.column} {q.operator}" for q in plan.local
            )
        return text + note
