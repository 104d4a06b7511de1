"""postgres_fdw's writes: batched, pipelined INSERTs, and UPDATE and DELETE by
the identity columns.
"""

from __future__ import annotations

import contextlib
import decimal
import itertools
import json
import operator
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from ...errors import (
    FeatureNotSupportedError,
)
from .connection import _Remote
from .pushdown import ScannedTable, _q

#: PostgreSQL's limit on the parameters of one statement (PQ_QUERY_PARAM_MAX_LIMIT),
#: which caps the rows of one remote INSERT as postgres_fdw caps batch_size.
_MAX_PARAMS = 65535


_PIPELINE = psycopg.Pipeline.is_supported()


def _out_bool(value: Any) -> Any:
    return bool(value) if value.__class__ in (int, float) else value


def _out_numeric(value: Any) -> Any:
    return decimal.Decimal(repr(value)) if value.__class__ is float else value


def _out_array(value: Any) -> Any:
    """The JSON text an array column reads as (a JSON array) back to a list;
    other text (PostgreSQL's ``{1,2}`` literal) goes as it is."""
    if value.__class__ is str and value.lstrip().startswith("["):
        try:
            out = json.loads(value)
        except ValueError:
            return value
        if isinstance(out, list):
            return out
    return value


class WritableTable(ScannedTable):
    """INSERT (batched, pipelined), UPDATE and DELETE by the identity columns."""

    _insert_cache: dict[tuple[tuple[str, ...], int, str | None], bytes]

    def identity_columns(self) -> tuple[str, ...]:
        """Columns marked ``key 'true'``, else the remote primary key."""
        marked = super().identity_columns()
        if marked:
            return marked
        meta = self.metadata()
        return tuple(name for name, remote in self.remote_names.items() if meta[remote].primary)

    def _out(self, column: str, value: Any) -> Any:
        """A local value as PostgreSQL should receive it."""
        if value is None:
            return None
        fix = self._out_fix(column)
        return value if fix is None else fix(value)

    def _out_fix(self, column: str) -> Callable[[Any], Any] | None:
        """The conversion a column's values need on their way out, if any: a
        number to a Boolean, a REAL to the exact decimal it prints as (psycopg
        would send a float8, which PostgreSQL rounds to 15 digits for a
        numeric), the JSON text of an array to a list (sent as an array)."""
        if self._kind(column) == "bool":
            return _out_bool
        meta = self.metadata().get(self.remote_names[column])
        typname = meta.typname if meta else ""
        if typname == "numeric":
            return _out_numeric
        if typname.startswith("_"):
            return _out_array
        return None

    def insert(self, values: dict[str, Any]) -> None:
        self.check_updatable("insert")
        remote = self.remote()
        batch = self.settings["batch_size"]
        if batch <= 1:
            if remote.pending:
                remote.flush()
            self._send_inserts([values])
            return
        _wrapper, rows = remote.pending.setdefault(id(self), (self, []))
        rows.append(values)
        if len(rows) >= batch:
            remote.pending.pop(id(self), None)
            self._send_inserts(rows)

    def insert_many(self, rows: list[dict[str, Any]], on_conflict: str | None = None) -> None:
        """Send ``rows`` now, ``batch_size`` rows per remote INSERT, the
        statements pipelined.  Outside a remote transaction they run in one of
        their own, so that a failing row leaves none of them behind.
        ``on_conflict`` IGNORE sends ``ON CONFLICT DO NOTHING`` (as PostgreSQL's
        postgres_fdw does), REPLACE an upsert on the identity columns."""
        self.check_updatable("insert")
        if not rows:
            return
        remote = self.remote()
        own = not remote.xact
        if own:
            try:
                remote.open_xact()
            except psycopg.Error as err:
                raise self._fail(remote, err, "insert") from None
        try:
            if remote.pending:
                remote.flush()  # rows that insert() held back go first
            self._send_inserts(rows, on_conflict)
            if own:
                remote.xact = False
                try:
                    remote.execute("COMMIT")
                except psycopg.Error as err:
                    raise self._fail(remote, err, "insert") from None
        finally:
            if own:
                self._release(remote)

    def _send_inserts(self, rows: list[dict[str, Any]], on_conflict: str | None = None) -> None:
        """INSERT ``rows`` (dicts by local column name), ``batch_size`` per
        statement: full batches go as one executemany of a multi-row INSERT
        (psycopg pipelines it and prepares the statement), the rest as one
        more statement.  Rows are grouped by the columns they name."""
        if not rows:
            return
        remote = self.remote()
        batch = self.settings["batch_size"]
        try:
            start = 0
            while start < len(rows):
                names = tuple(rows[start])
                stop = start + 1
                while stop < len(rows) and tuple(rows[stop]) == names:
                    stop += 1
                self._insert_group(remote, names, rows[start:stop], batch, on_conflict)
                start = stop
        except psycopg.Error as err:
            raise self._fail(remote, err, "insert") from None

    def _insert_group(
        self,
        remote: _Remote,
        names: tuple[str, ...],
        rows: list[dict[str, Any]],
        batch: int,
        on_conflict: str | None = None,
    ) -> None:
        size = max(1, min(batch, _MAX_PARAMS // len(names))) if names else 1
        row_params = self._row_params(names)
        full, rest = divmod(len(rows), size)
        cur = remote.conn.cursor()
        if size == 1:
            chunks = list(map(row_params, rows))
        else:
            flat = itertools.chain.from_iterable
            chunks = [
                list(flat(map(row_params, rows[i : i + size]))) for i in range(0, len(rows), size)
            ]
        if len(chunks) == 1:
            cur.execute(self._insert_sql(names, len(rows), on_conflict), chunks[0])
            return
        # One round trip for every statement where libpq can pipeline (14+).
        pipeline = remote.conn.pipeline() if _PIPELINE else contextlib.nullcontext()
        with pipeline:
            cur.executemany(self._insert_sql(names, size, on_conflict), chunks[:full])
            if rest:
                cur.execute(self._insert_sql(names, rest, on_conflict), chunks[-1])

    def _insert_sql(
        self, names: tuple[str, ...], count: int, on_conflict: str | None = None
    ) -> bytes:
        query = self._insert_cache.get((names, count, on_conflict))
        if query is None:
            target = sql.SQL("INSERT INTO {}.{}").format(_q(self.schema), _q(self.remote_table))
            if names:
                cols = sql.SQL(", ").join(_q(self.remote_names[n]) for n in names)
                one = "(" + ", ".join(["%s"] * len(names)) + ")"
                values = sql.SQL(", ".join([one] * count))
                composed = target + sql.SQL(" ({}) VALUES ").format(cols) + values
            else:
                composed = target + sql.SQL(" DEFAULT VALUES")
            composed += self._on_conflict_sql(names, on_conflict)
            query = self._insert_cache[(names, count, on_conflict)] = composed.as_bytes(None)
        return query

    def _on_conflict_sql(self, names: tuple[str, ...], on_conflict: str | None) -> sql.Composable:
        if on_conflict is None:
            return sql.SQL("")
        if on_conflict == "IGNORE":
            return sql.SQL(" ON CONFLICT DO NOTHING")
        keys = self.identity_columns()
        if not keys:
            raise FeatureNotSupportedError(
                f'INSERT OR REPLACE into foreign table "{self.table_name}" needs the remote'
                " table's primary key (or columns marked key 'true')"
            )
        changed = [n for n in names if n not in keys]
        target = sql.SQL(", ").join(_q(self.remote_names[k]) for k in keys)
        if not changed:
            return sql.SQL(" ON CONFLICT ({}) DO NOTHING").format(target)
        sets = sql.SQL(", ").join(
            sql.SQL("{} = EXCLUDED.{}").format(_q(self.remote_names[n]), _q(self.remote_names[n]))
            for n in changed
        )
        return sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(target, sets)

    def _row_params(self, names: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
        """A row's parameters, in ``names`` order, converted as ``_out`` converts."""
        if not names:
            return lambda row: ()
        get = operator.itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
        fixes = [(i, f) for i, n in enumerate(names) if (f := self._out_fix(n)) is not None]
        if not fixes:
            return get

        def params(row: dict[str, Any]) -> list[Any]:
            values = list(get(row))
            for i, fix in fixes:
                if values[i] is not None:
                    values[i] = fix(values[i])
            return values

        return params

    def _key_clause(self, identity: dict[str, Any]) -> tuple[sql.Composable, list[Any]]:
        parts = [sql.SQL("{} = %s").format(_q(self.remote_names[k])) for k in identity]
        return sql.SQL(" AND ").join(parts), list(identity.values())

    def update(self, identity: dict[str, Any], values: dict[str, Any]) -> None:
        self.check_updatable("update")
        self.remote().flush()
        sets = sql.SQL(", ").join(
            sql.SQL("{} = %s").format(_q(self.remote_names[n])) for n in values
        )
        where, params = self._key_clause(identity)
        query = sql.SQL("UPDATE {}.{} SET {} WHERE {}").format(
            _q(self.schema), _q(self.remote_table), sets, where
        )
        self._run(query, [self._out(n, v) for n, v in values.items()] + params, "update")

    def delete(self, identity: dict[str, Any]) -> None:
        self.check_updatable("delete")
        self.remote().flush()
        where, params = self._key_clause(identity)
        query = sql.SQL("DELETE FROM {}.{} WHERE {}").format(
            _q(self.schema), _q(self.remote_table), where
        )
        self._run(query, params, "delete")
