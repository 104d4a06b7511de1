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
from ...errors import WrapperError
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


def _quoted(name: str) -> str:
    """An identifier as psycopg quotes it, ``%`` doubled for a query with parameters."""
    return sql.Identifier(name).as_string(None).replace("%", "%%")


@dataclass
class _Plan:
    query: str | sql.Composed | sql.SQL
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
    #: column -> its quoted remote name ("": the table's)
    _idents: dict[str, str]

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
                query = "EXPLAIN (FORMAT JSON) " + str(plan.query)
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

    def _ident(self, column: str) -> str:
        """A column's remote name quoted by psycopg, once per instance (with
        ``%`` doubled: the query text goes to psycopg with parameters)."""
        quoted = self._idents.get(column)
        if quoted is None:
            quoted = self._idents[column] = _quoted(self.remote_names[column])
        return quoted

    def _translate(self, q: Qual) -> tuple[str, list[Any]] | None:
        """The exact remote condition for a qual, or None to check it here."""
        col = self._ident(q.column)
        op = q.operator
        if op in ("IS NULL", "IS NOT NULL"):
            return f"{col} {op}", []
        kind = self._kind(q.column)
        if op == "GLOB":
            pattern = _glob_to_like(q.value)
            if pattern is None:
                return None
            return f"{col} COLLATE \"C\" LIKE %s ESCAPE '\\'", [pattern]
        if op == "LIKE":
            if kind != "text" or not isinstance(q.value, str):
                return None
            return f"{col} COLLATE \"C\" ILIKE %s ESCAPE ''", [q.value]
        affinity = self.affinities[q.column]
        if op == "IN":
            if q.value is None:  # EXPLAIN before the list is known
                return f"{col} = ANY(%s)", [None]
            values = [semantics.apply_affinity(affinity, v) for v in q.value]
            if kind == "bool":
                allowed = [b for b in (False, True) if semantics.holds("IN", int(b), values)]
                return f"{col} = ANY(%s::bool[])", [allowed]
            pushed = []
            for v in values:
                if v is None:
                    continue
                ok, pv = _pg_value(kind, v)
                if not ok:
                    return None
                pushed.append(pv)
            if not pushed:
                return "FALSE", []
            return f"{col} = ANY(%s::{_ARRAY[kind]})", [pushed]
        value = semantics.apply_affinity(affinity, q.value)
        if op in ("IS", "IS NOT") and value is None:
            return f"{col} {'IS NULL' if op == 'IS' else 'IS NOT NULL'}", []
        if kind == "bool":
            if op in ("IS", "IS NOT"):
                equal = [b for b in (False, True) if semantics.holds("=", int(b), value)]
                test = "IS TRUE" if op == "IS" else "IS NOT TRUE"
                return f"({col} = ANY(%s::bool[])) {test}", [equal]
            allowed = [b for b in (False, True) if semantics.holds(op, int(b), value)]
            return f"{col} = ANY(%s::bool[])", [allowed]
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
            return f'{col} COLLATE "C" {op} %s', [pv]
        return f"{col} {'<>' if op == '!=' else op} %s", [pv]

    def _plan(self, quals, columns, sortkeys, limit, offset) -> _Plan:
        where: list[str] = []
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
        select = ", ".join(self._ident(c) for c in fetch) if fetch else "NULL"
        query = f"SELECT {select} FROM {self._table_ident()}"
        if where:
            query += " WHERE " + " AND ".join(where)
        if sortkeys:
            keys = []
            for k in sortkeys:
                collate = ' COLLATE "C"' if self._kind(k.column) == "text" else ""
                order = " DESC NULLS LAST" if k.descending else " ASC NULLS FIRST"
                keys.append(self._ident(k.column) + collate + order)
            query += " ORDER BY " + ", ".join(keys)
        remote_limit = not local and (limit is not None or offset is not None)
        if remote_limit:
            if limit is not None and limit >= 0:
                query += " LIMIT %s"
                params.append(limit)
            if offset:
                query += " OFFSET %s"
                params.append(max(offset, 0))
        point = any(self._is_point(q) for q in quals if q not in local and self.honours(q))
        if remote_limit and limit is not None and 0 <= limit + (offset or 0) <= self._fetch_size():
            point = True
        return _Plan(query, params, local, fetch, point, remote_limit, len(columns))

    def _table_ident(self) -> str:
        quoted = self._idents.get("")  # no column is named "": the table's slot
        if quoted is None:
            quoted = self._idents[""] = f"{_quoted(self.schema)}.{_quoted(self.remote_table)}"
        return quoted

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

    def remote_rows(self, text: str, params: dict[str, Any]) -> float | None:
        """The server's row estimate for a query of the statement planner."""
        try:
            row = self._run(sql.SQL("EXPLAIN (FORMAT JSON) " + text), params).fetchone()
            if row is None:
                return None
            out: Any = json.loads(row[0]) if isinstance(row[0], str) else row[0]
            return float(out[0]["Plan"]["Plan Rows"])
        except (WrapperError, LookupError, TypeError, ValueError):
            return None

    def describe_query(self, text: str) -> list[tuple[str, int]]:
        """The columns (name, type OID) of a query the user wrote, from the
        server's description of it prepared, never run."""
        remote = self.remote()
        pgconn = remote.conn.pgconn
        encoding = remote.conn.info.encoding
        try:
            result = pgconn.prepare(b"sqlmed_describe", text.encode(encoding))
            if result.status != psycopg.pq.ExecStatus.COMMAND_OK:
                message = (result.error_message or b"").decode(encoding, "replace").strip()
                raise WrapperError(f'sqlmed_query on server "{self.server_name}": {message}')
            result = pgconn.describe_prepared(b"sqlmed_describe")
            fields = [
                ((result.fname(i) or b"").decode(encoding), result.ftype(i))
                for i in range(result.nfields)
            ]
        finally:
            pgconn.exec_(b"DEALLOCATE sqlmed_describe")
        return fields

    def user_query(self, text: str) -> tuple[list[tuple[str, int]], list[tuple]]:
        """A query the user wrote (sqlmed_query), read-only: in a read-only
        transaction of its own, or in a savepoint made read-only when the
        scans' transaction is open (rolled back to after the rows are read).
        Its columns (name, type OID) and rows."""
        remote = self.remote()
        remote.flush()
        inside = remote.xact
        begin = (
            "SAVEPOINT sqlmed_query; SET LOCAL transaction_read_only = on"
            if inside
            else "START TRANSACTION READ ONLY"
        )
        end = "ROLLBACK TO SAVEPOINT sqlmed_query; RELEASE SAVEPOINT sqlmed_query"
        try:
            remote.execute(begin)
        except psycopg.Error as err:
            raise self._fail(remote, err, "sqlmed_query") from None
        try:
            cur = remote.execute(text)
            rows = cur.fetchall() if cur.description else []
            described = [(d.name, d.type_code) for d in cur.description or ()]
        except psycopg.Error as err:
            failure = WrapperError(
                f'sqlmed_query on server "{self.server_name}": {self.scrub(str(err).strip())}',
                sqlstate=getattr(err, "sqlstate", None),
            )
            raise failure from None
        finally:
            if remote.valid:
                try:
                    remote.execute(end if inside else "ROLLBACK")
                except psycopg.Error as err:
                    raise self._fail(remote, err, "sqlmed_query") from None
        return described, rows

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
        text = str(plan.query).replace("%%", "%")
        where = self.options.get("host", "localhost") + ":" + self.options.get("port", "5432")
        cursor = "client-side" if plan.point else f"cursor, fetch_size {self._fetch_size()}"
        note = f"  -- on server {self.server_name} ({where}/{self.options.get('dbname', '')})"
        note += f", {cursor}"
        if plan.local:
            note += "; checked locally: " + ", ".join(
                f"{q.column} {q.operator}" for q in plan.local
            )
        return text + note
