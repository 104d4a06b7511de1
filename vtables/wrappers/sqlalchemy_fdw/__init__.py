"""sqlalchemy_fdw: foreign tables over any database SQLAlchemy reaches by URL.

Purpose
    Query, join and write tables of PostgreSQL, MySQL, another SQLite file or
    any database with a SQLAlchemy dialect, through that dialect: the remote
    SQL is built with SQLAlchemy Core and compiled for the remote database.

Options
    server ``url``
        A SQLAlchemy URL without credentials (required), such as
        ``postgresql+psycopg://db.example.com/sales`` or ``sqlite:///other.db``
        (a relative SQLite path resolves against the local database's
        directory).  A URL holding a password is refused: passwords belong in
        a user mapping.
    server or table ``updatable``
        ``false`` refuses INSERT, UPDATE and DELETE (default ``true``).
    server or table ``statement_pushdown``
        ``false`` keeps joins, aggregates and sorts over the server's tables
        in SQLite (default ``true``; see Pushdown).
    user mapping ``user``, ``password`` (secret)
        Credentials added to the URL when connecting.
    table ``schema``, ``table``
        The remote table (default: the foreign table's name, default schema).
    column ``column_name``
        The remote column (default: the column's name).
    column ``key``
        ``true`` marks the columns that identify a row for UPDATE and DELETE;
        without any, the remote table's primary key is used.  IMPORT FOREIGN
        SCHEMA marks the remote primary key.

Pushdown
    Quals, ORDER BY, LIMIT and OFFSET are sent as Core expressions with bound
    parameters, and trusted (omitted from SQLite's own check) only where the
    remote compares exactly as SQLite does: numbers everywhere; text on
    SQLite remotes with BINARY collation and on PostgreSQL (equality always,
    ordering with ``COLLATE "C"``) and on DuckDB tables that name no
    collation.  NULLs are ordered as SQLite orders them.  Writes run in a
    remote transaction that follows the local one, savepoints included.

    Statement pushdown (joins, ``GROUP BY``, aggregates, ``DISTINCT``,
    ``ORDER BY`` and ``LIMIT`` over several tables of one server and user
    mapping, sent as one query: see the statement pushdown page) works on
    SQLite (through pysqlite), PostgreSQL (psycopg or psycopg2) and DuckDB
    (duckdb_engine) remotes, whose semantics the planner knows; any other
    dialect or driver runs those parts in SQLite over each table's scan.
    Columns take part when the remote holds exactly what SQLite sees:
    64-bit integers (not DuckDB's ``HUGEINT`` or ``UBIGINT``), text
    compared byte by byte (as for quals above; not enums) and, on SQLite
    remotes, ``REAL``; PostgreSQL and DuckDB floating-point columns stay
    out (NaN).  Citus, which is PostgreSQL, gets the same queries through
    ``postgresql+psycopg://``; Trino's and ClickHouse's dialects are not
    known to the planner, so only each table's quals, sort and limit reach
    them.

Writes
    Rows are inserted in batches (one ``executemany`` per batch).
    ``INSERT OR IGNORE`` (and ``ON CONFLICT DO NOTHING``) and ``INSERT OR
    REPLACE`` are said in the remote's own dialect: SQLite's ``OR IGNORE`` /
    ``OR REPLACE``, PostgreSQL's ``ON CONFLICT DO NOTHING`` / ``DO UPDATE``
    on the primary key, MySQL's ``INSERT IGNORE`` / ``ON DUPLICATE KEY
    UPDATE``; other remotes refuse them.

Example
    ::

        CREATE EXTENSION sqlalchemy_fdw;
        CREATE SERVER warehouse FOREIGN DATA WRAPPER sqlalchemy_fdw
            OPTIONS (url 'postgresql+psycopg://localhost/warehouse');
        CREATE USER MAPPING FOR CURRENT_USER SERVER warehouse
            OPTIONS (user 'report', password 'secret');
        IMPORT FOREIGN SCHEMA public LIMIT TO (orders) FROM SERVER warehouse INTO main;
"""

from __future__ import annotations

from typing import Any

from ... import types
from ...errors import FeatureNotSupportedError, UndefinedObjectError, WrapperError
from ...remote import TransactionAware
from ...remotesql import STATEMENT_PUSHDOWN
from ...wrapper import (
    COLUMN_NAME,
    KEY,
    UPDATABLE,
    ImportRequest,
    OptionSpec,
    Qual,
    SortKey,
    TableDefinition,
)
from .catalog import _import, duckdb_binary, reflect
from .connection import _first_line, _Remote, _sa, _url
from .statements import AlchemySQL, sqlglot_dialect
from .values import (
    _NEVER,
    _NUMERIC,
    _as_sqlite_sees,
    _bind,
    _compare,
    _double_exact,
    _in,
    _out_fix,
    _pg_plain_text,
    _read_as_text,
    _remote_family,
)


class SqlalchemyFdw(TransactionAware):
    name = "sqlalchemy_fdw"
    version = "1.0"
    option_specs = (
        OptionSpec("url", {"server"}, required=True, doc="SQLAlchemy URL, no credentials."),
        UPDATABLE,
        OptionSpec("user", {"user_mapping"}, doc="Remote user name."),
        OptionSpec("password", {"user_mapping"}, secret=True, doc="Remote password."),
        OptionSpec("schema", {"table"}, doc="Remote schema."),
        OptionSpec("table", {"table"}, doc="Remote table or view name."),
        COLUMN_NAME,
        KEY,
        STATEMENT_PUSHDOWN,
    )

    _table: Any = None
    _rows: float | None = None

    @classmethod
    def validate(cls, kind, options, *, object_name):
        super().validate(kind, options, object_name=object_name)
        if kind == "server" and "url" in options:
            _url(dict(options), "", server=object_name)

    def remote_sql(self) -> AlchemySQL | None:
        """Statement pushdown, for the dialects and drivers the planner knows."""
        if not hasattr(self, "_sqlglot"):
            self._sqlglot = sqlglot_dialect(self.options["url"])
        return AlchemySQL(self, self._sqlglot) if self._sqlglot else None

    # ------------------------------------------------------------ plumbing

    @property
    def remote_table(self) -> str:
        return self.settings["table"] or self.table_name

    def _where(self) -> str:
        schema = self.settings["schema"]
        name = f"{schema}.{self.remote_table}" if schema else self.remote_table
        return (
            f'foreign table "{self.table_name}" (remote table "{name}" '
            f'on server "{self.server_name}")'
        )

    def _shared_key(self, shown: str) -> str:
        return f"sqlalchemy_fdw:{shown}:{self.settings['user'] or ''}"

    def remote(self) -> _Remote:
        url, shown = _url(self.options, self.database_path, server=self.server_name)
        return self.context.shared_state(self._shared_key(shown), lambda: self._open(url, shown))

    def _open(self, url: Any, shown: str) -> _Remote:
        try:
            return _Remote(url, shown)
        except Exception as err:  # noqa: BLE001 - driver errors vary by dialect
            raise WrapperError(
                f'server "{self.server_name}": cannot connect to {shown}: {self._clean(err)}'
            ) from None

    def transaction(self, start: bool = False) -> _Remote | None:
        if start:
            return self.remote()
        url, shown = _url(self.options, self.database_path, server=self.server_name)
        return self.context.shared.get(self._shared_key(shown))

    def transaction_error(self, err: Exception, what: str) -> Exception:
        if what != "remote commit":
            return err
        return WrapperError(
            f'server "{self.server_name}": remote commit failed: {self._clean(err)}'
        )

    def _clean(self, err: BaseException) -> str:
        """An error's first line without secrets (drivers may echo the DSN)."""
        return _first_line(err, self.secret_values(self.options))

    def _run(self, statement: Any, params: Any = None) -> Any:
        remote = self.remote()
        try:
            return remote.conn.execute(statement, params)
        except Exception as err:  # noqa: BLE001 - reported with the table's name
            remote.end_read()
            raise WrapperError(f"{self._where()}: {self._clean(err)}") from None

    def table(self) -> Any:
        """The remote table, reflected once."""
        if self._table is None:
            sa = _sa()
            remote = self.remote()
            schema = self.settings["schema"]
            try:
                table = reflect(remote.conn, self.remote_table, schema)
            except sa.exc.NoSuchTableError:
                raise UndefinedObjectError(f"{self._where()}: the remote table does not exist")
            except Exception as err:  # noqa: BLE001
                raise WrapperError(f"{self._where()}: {self._clean(err)}") from None
            finally:
                remote.end_read()
            missing = [r for r in self.remote_names.values() if r not in table.c]
            if missing:
                raise UndefinedObjectError(
                    f'{self._where()}: column "{missing[0]}" does not exist remotely'
                )
            self._table = table
        return self._table

    def _column(self, name: str) -> Any:
        return self.table().c[self.remote_names[name]]

    def _text_exact(self, column: str) -> str | None:
        """How text compares exactly on the remote: "plain", "collate" or None."""
        dialect = self.remote().dialect
        if dialect == "postgresql":
            return "collate" if _pg_plain_text(self._column(column).type) else None
        if dialect == "sqlite":
            return "plain" if self._sqlite_binary() else None
        if dialect == "duckdb":
            return "plain" if self._duckdb_binary() else None
        return None

    def _sqlite_binary(self) -> bool:
        """A SQLite remote table compares text bytewise: a table (not a view)
        whose definition names no collation."""
        if not hasattr(self, "_binary"):
            sa = _sa()
            row = self._run(
                sa.text("SELECT type, sql FROM sqlite_master WHERE name = :n"),
                {"n": self.remote_table},
            ).first()
            self._finish_read()
            self._binary = (
                bool(row) and row[0] == "table" and "collate" not in (row[1] or "").lower()
            )
        return self._binary

    def _duckdb_binary(self) -> bool:
        if not hasattr(self, "_binary"):
            remote = self.remote()
            try:
                self._binary = duckdb_binary(
                    remote.conn, self.remote_table, self.settings["schema"]
                )
            except Exception as err:  # noqa: BLE001
                raise WrapperError(f"{self._where()}: {self._clean(err)}") from None
            finally:
                self._finish_read(remote)
        return self._binary

    def _exact(self, column: str) -> bool:
        family = types.family(self.columns[column].type)
        remote_type = self._column(column).type
        if family in _NUMERIC:
            if family == "numeric" and not _double_exact(remote_type, self.remote().dialect):
                return False  # values a double cannot hold are kept as TEXT locally
            return _remote_family(remote_type) in _NUMERIC
        if family == "text":
            return _remote_family(remote_type) == "text" and self._text_exact(column) is not None
        return False

    # ---------------------------------------------------------- planning

    def honours(self, qual: Qual) -> bool:
        if qual.column not in self.remote_names:
            return False
        if qual.operator in ("IS NULL", "IS NOT NULL"):
            return True
        if qual.operator in ("LIKE", "GLOB"):
            return False
        if qual.operator in ("<", "<=", ">", ">=") and not self._orderable(qual.column):
            return False
        return self._exact(qual.column)

    def _orderable(self, column: str) -> bool:
        family = types.family(self.columns[column].type)
        return family in _NUMERIC or self._text_exact(column) is not None

    def can_sort(self, sortkeys: list[SortKey]) -> bool:
        return all(self._exact(k.column) and self._orderable(k.column) for k in sortkeys)

    def can_limit(self) -> bool:
        return True

    def estimate(self, quals: list[Qual], columns: list[str]) -> tuple[float, float]:
        sa = _sa()
        table = self.table()
        if self._rows is None:
            count = self._run(sa.select(sa.func.count()).select_from(table)).scalar()
            self._finish_read()
            self._rows = float(max(count or 0, 1))
        rows = self._rows
        keys = {c.name for c in table.primary_key.columns}
        for q in quals:
            remote = self.remote_names.get(q.column)
            if q.operator in ("=", "IS") and keys == {remote}:
                rows = 1.0
            elif q.operator in ("=", "IS"):
                rows /= 10
            elif q.operator == "IN":
                rows = min(rows, len(q.value or ()) or 10) if keys == {remote} else rows / 5
            else:
                rows /= 3
        rows = max(rows, 1.0)
        return rows, 100.0 + rows

    # -------------------------------------------------------------- reads

    def _ordered(self, column: str) -> Any:
        col = self._column(column)
        if types.family(self.columns[column].type) == "text" and self._text_exact(column) == (
            "collate"
        ):
            return col.collate("C")
        return col

    def _select(self, quals, columns, sortkeys, limit, offset) -> Any:
        sa = _sa()
        table = self.table()
        postgres = self.remote().dialect == "postgresql"
        picked = [
            _read_as_text(self._column(c)) if postgres else self._column(c) for c in columns
        ] or [sa.literal_column("1")]
        stmt = sa.select(*picked).select_from(table)
        for q in quals:
            if not self.honours(q):
                continue
            col = (
                self._ordered(q.column)
                if q.operator in ("<", "<=", ">", ">=")
                else (self._column(q.column))
            )
            op = q.operator
            family = types.family(self.columns[q.column].type)
            native = self.remote().dialect == "sqlite"  # compares as SQLite does already
            if op == "IS NULL":
                stmt = stmt.where(col.is_(None))
            elif op == "IS NOT NULL":
                stmt = stmt.where(col.is_not(None))
            elif op == "IN" and q.value is None:  # EXPLAIN: the list is not known yet
                stmt = stmt.where(col.in_(sa.bindparam(None, expanding=True)))
            elif op == "IN":
                values = list(q.value)
                if not native:
                    values = [_as_sqlite_sees(v, family) for v in values]
                    values = [v for v in values if v is not _NEVER and v is not None]
                stmt = stmt.where(_in(col, values, native))
            elif op in ("IS", "IS NOT"):
                value = q.value if native else _as_sqlite_sees(q.value, family)
                if value is _NEVER:
                    stmt = stmt.where(sa.false() if op == "IS" else sa.true())
                elif op == "IS":
                    stmt = stmt.where(col.is_not_distinct_from(_bind(value, native)))
                else:
                    stmt = stmt.where(col.is_distinct_from(_bind(value, native)))
            elif q.value is None:  # = NULL and the like are never true
                stmt = stmt.where(sa.false())
            else:
                stmt = stmt.where(_compare(col, op, q.value, family, native))
        for key in sortkeys or ():
            col = self._ordered(key.column)
            stmt = stmt.order_by(
                col.desc().nulls_last() if key.descending else col.asc().nulls_first()
            )
        if limit is not None and limit >= 0:
            stmt = stmt.limit(limit)
        if offset is not None and offset > 0:  # SQLite reads a negative OFFSET as 0
            stmt = stmt.offset(offset)
        return stmt

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        stmt = self._select(quals, columns, sortkeys, limit, offset)
        remote = self.remote()
        result = self._run(stmt.execution_options(stream_results=True, yield_per=1000))
        return self._stream(result, bool(columns), remote)

    def _stream(self, result, has_columns: bool, remote: _Remote, where: str = ""):
        reader = remote.read(result)
        try:
            for row in reader:
                yield tuple(row) if has_columns else ()
        except Exception as err:  # noqa: BLE001
            raise WrapperError(f"{where or self._where()}: {self._clean(err)}") from None
        finally:
            remote.done(reader)

    def _finish_read(self, remote: _Remote | None = None) -> None:
        """Outside a local transaction, end the read's implicit remote transaction."""
        (remote or self.remote()).end_read()

    def explain(self, quals, columns, sortkeys, limit, offset) -> str:
        stmt = self._select(quals, columns, sortkeys, limit, offset)
        remote = self.remote()
        sql = " ".join(str(stmt.compile(dialect=remote.engine.dialect)).split())
        return f"{sql}  -- on {remote.shown}"

    # ------------------------------------------------------------- writes

    def identity_columns(self) -> tuple[str, ...]:
        """Columns marked ``key 'true'``, else the remote primary key."""
        marked = super().identity_columns()
        if marked:
            return marked
        keys = {c.name for c in self.table().primary_key.columns}
        return tuple(name for name, remote in self.remote_names.items() if remote in keys)

    def _remote_values(self, values: dict[str, Any]) -> dict[str, Any]:
        out = {self.remote_names[k]: v for k, v in values.items()}
        fixes = self._out_fixes()
        for name, fix in fixes.items():
            value = out.get(name)
            if value is not None:
                out[name] = fix(value)
        return out

    def _out_fixes(self) -> dict[str, Any]:
        """Remote column -> the conversion its local values need to reach the
        remote type through SQLAlchemy's bind processing (computed once)."""
        fixes = getattr(self, "_fixes", None)
        if fixes is None:
            fixes = {}
            for name in self.columns:
                fix = _out_fix(self._column(name).type)
                if fix is not None:
                    fixes[self.remote_names[name]] = fix
            self._fixes = fixes
        return fixes

    def _write(self, statement: Any, params: Any = None) -> None:
        remote = self.remote()
        autocommit = not remote.in_transaction
        try:
            remote.conn.execute(statement, params) if params is not None else remote.conn.execute(
                statement
            )
            if autocommit:
                remote.conn.commit()
        except Exception as err:  # noqa: BLE001
            if autocommit and remote.conn.in_transaction():
                remote.conn.rollback()
            integrity = isinstance(err, _sa().exc.IntegrityError)
            raise WrapperError(
                f"{self._where()}: {self._clean(err)}", sqlstate="23000" if integrity else None
            ) from None

    def insert(self, values: dict[str, Any]) -> None:
        self.insert_many([values])

    @property
    def conflict_modes(self) -> frozenset[str]:  # type: ignore[override]
        """What the remote dialect can say: SQLite's OR IGNORE / OR REPLACE,
        PostgreSQL's ON CONFLICT, MySQL's IGNORE / ON DUPLICATE KEY UPDATE."""
        name = self.remote().engine.dialect.name
        if name in ("sqlite", "postgresql", "mysql", "mariadb"):
            return frozenset({"IGNORE", "REPLACE"})
        return frozenset()

    def insert_many(self, rows: list[dict[str, Any]], on_conflict: str | None = None) -> None:
        self.check_updatable("insert")
        if rows:
            values = [self._remote_values(r) for r in rows]
            self._write(self._insert(on_conflict, values[0]), values)

    def _insert(self, on_conflict: str | None, sample: dict[str, Any]) -> Any:
        table = self.table()
        if on_conflict is None:
            return table.insert()
        name = self.remote().engine.dialect.name
        if name == "sqlite":
            return table.insert().prefix_with(f"OR {on_conflict}")
        keys = [c.name for c in table.primary_key.columns]
        changed = [k for k in sample if k not in keys]
        if on_conflict == "REPLACE" and not keys:
            raise FeatureNotSupportedError(
                f"{self._where()}: INSERT OR REPLACE needs the remote table's primary key"
            )
        if name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert

            stmt = insert(table)
            if on_conflict == "IGNORE" or not changed:
                return stmt.on_conflict_do_nothing()
            return stmt.on_conflict_do_update(
                index_elements=keys, set_={k: stmt.excluded[k] for k in changed}
            )
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        upsert = mysql_insert(table)
        if on_conflict == "IGNORE":
            return upsert.prefix_with("IGNORE")
        return upsert.on_duplicate_key_update({k: upsert.inserted[k] for k in changed or keys})

    def _key(self, identity: dict[str, Any]) -> Any:
        sa = _sa()
        return sa.and_(*(self._column(k).is_not_distinct_from(v) for k, v in identity.items()))

    def update(self, identity: dict[str, Any], values: dict[str, Any]) -> None:
        self.check_updatable("update")
        stmt = self.table().update().where(self._key(identity)).values(self._remote_values(values))
        self._write(stmt)

    def delete(self, identity: dict[str, Any]) -> None:
        self.check_updatable("delete")
        self._write(self.table().delete().where(self._key(identity)))

    # ------------------------------------------------------------- import

    @classmethod
    def import_tables(cls, request: ImportRequest) -> list[TableDefinition]:
        sa = _sa()
        merged = request.connect_options
        url, shown = _url(merged, request.database_path, server="(import)")
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                return _import(sa.inspect(conn), request, engine.dialect)
        except sa.exc.SQLAlchemyError as err:
            text = _first_line(err, cls.secret_values(merged))
            raise WrapperError(f"cannot import from {shown}: {text}") from None
        finally:
            engine.dispose()
