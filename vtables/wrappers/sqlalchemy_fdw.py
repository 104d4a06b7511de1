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
    ordering with ``COLLATE "C"``).  NULLs are ordered as SQLite orders them.
    Writes run in a remote transaction that follows the local one, savepoints
    included.

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

from .. import semantics, types
from ..errors import (
    FeatureNotSupportedError,
    InvalidOptionError,
    UndefinedObjectError,
    WrapperError,
)
from ..remote import RemoteTransaction, TransactionAware
from ..wrapper import (
    COLUMN_NAME,
    KEY,
    UPDATABLE,
    ColumnDefinition,
    ImportRequest,
    OptionSpec,
    Qual,
    SortKey,
    TableDefinition,
    resolve_path,
    scrub_text,
)

_NUMERIC = {"integer", "real", "numeric"}


def _sa():
    import sqlalchemy

    return sqlalchemy


def _url(options: dict[str, str], database_path: str, *, server: str):
    """The remote URL with the user mapping's credentials, and a printable form."""
    sa = _sa()
    try:
        url = sa.engine.make_url(options["url"])
    except Exception as err:  # noqa: BLE001 - any parse failure is a bad option
        raise InvalidOptionError(f'server "{server}": invalid url: {err}') from None
    if url.password is not None:
        raise InvalidOptionError(
            f'server "{server}": the url must not hold a password',
            hint="Put user and password in a user mapping.",
        )
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        url = url.set(database=resolve_path(url.database, database_path))
    shown = url.render_as_string(hide_password=True)
    if options.get("user"):
        url = url.set(username=options["user"])
    if options.get("password"):
        url = url.set(password=options["password"])
    return url, shown


def _explicit_begin(engine: Any) -> None:
    """Make pysqlite begin transactions when SQLAlchemy does: left to itself it
    starts one only before a write, so a SAVEPOINT opens (and its RELEASE
    commits) a transaction of its own."""
    sa = _sa()

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, record):
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")


class _Remote(RemoteTransaction):
    """One engine and connection for a server and user, shared by its tables."""

    def __init__(self, url: Any, shown: str):
        super().__init__()
        sa = _sa()
        self.shown = shown
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        if self.engine.dialect.driver == "pysqlite":
            _explicit_begin(self.engine)
        self.conn = self.engine.connect()
        self._trans: Any = None
        self._nested: dict[int, Any] = {}  # savepoint level -> SQLAlchemy's nested transaction

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def start(self) -> None:
        if self.conn.in_transaction():  # a read's implicit transaction
            self.conn.rollback()
        self._trans = self.conn.begin()

    def finish(self, commit: bool) -> None:
        self._nested.clear()
        trans, self._trans = self._trans, None
        trans.commit() if commit else trans.rollback()

    def mark(self, level: int) -> None:
        self._nested[level] = self.conn.begin_nested()

    def _forget(self, deeper_than: int) -> None:
        for lvl in [k for k in self._nested if k > deeper_than]:
            del self._nested[lvl]

    def unmark(self, level: int) -> None:
        nested = self._nested.get(level)
        self._forget(level - 1)
        if nested is not None and nested.is_active:
            nested.commit()

    def undo_to(self, level: int) -> None:
        nested = self._nested.get(level)
        self._forget(level)
        if nested is not None and nested.is_active:
            nested.rollback()
        # SQL's ROLLBACK TO keeps the savepoint: open it again
        self._nested[level] = self.conn.begin_nested()

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            self.engine.dispose()


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
    )

    _table: Any = None
    _rows: float | None = None

    @classmethod
    def validate(cls, kind, options, *, object_name):
        super().validate(kind, options, object_name=object_name)
        if kind == "server" and "url" in options:
            _url(dict(options), "", server=object_name)

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
            if not remote.in_transaction and remote.conn.in_transaction():
                remote.conn.rollback()
            raise WrapperError(f"{self._where()}: {self._clean(err)}") from None

    def table(self) -> Any:
        """The remote table, reflected once."""
        if self._table is None:
            sa = _sa()
            remote = self.remote()
            schema = self.settings["schema"]
            try:
                table = sa.Table(
                    self.remote_table, sa.MetaData(), schema=schema, autoload_with=remote.conn
                )
            except sa.exc.NoSuchTableError:
                raise UndefinedObjectError(f"{self._where()}: the remote table does not exist")
            except Exception as err:  # noqa: BLE001
                raise WrapperError(f"{self._where()}: {self._clean(err)}") from None
            finally:
                if not remote.in_transaction and remote.conn.in_transaction():
                    remote.conn.rollback()
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

    def _stream(self, result, has_columns: bool, remote: _Remote):
        try:
            for row in result:
                yield tuple(row) if has_columns else ()
        except Exception as err:  # noqa: BLE001
            raise WrapperError(f"{self._where()}: {self._clean(err)}") from None
        finally:
            result.close()
            self._finish_read(remote)

    def _finish_read(self, remote: _Remote | None = None) -> None:
        """Outside a local transaction, end the read's implicit remote transaction."""
        remote = remote or self.remote()
        if not remote.in_transaction and remote.conn.in_transaction():
            remote.conn.rollback()

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


def _import(insp: Any, request: ImportRequest, dialect: Any) -> list[TableDefinition]:
    """The tables IMPORT FOREIGN SCHEMA asks for, as the inspector sees them."""
    schema: str | None = request.schema
    if schema in ("", "main", None) and dialect.name == "sqlite":
        schema = None
    names = insp.get_table_names(schema=schema) + insp.get_view_names(schema=schema)
    import_default = request.flag("import_default", False)
    import_not_null = request.flag("import_not_null", True)
    out = []
    for name in sorted(names):
        if not request.wanted(name):
            continue
        keys = set(insp.get_pk_constraint(name, schema=schema)["constrained_columns"])
        columns = [
            ColumnDefinition(
                col["name"],
                _declared(col["type"], dialect),
                {"key": "true"} if col["name"] in keys else {},
                not_null=(not col.get("nullable", True)) and import_not_null,
                default=col.get("default") if import_default else None,
            )
            for col in insp.get_columns(name, schema=schema)
        ]
        table_options = {"table": name}
        if schema:
            table_options["schema"] = schema
        out.append(TableDefinition(name, columns, table_options))
    return out


def _first_line(err: BaseException, secrets: list[str]) -> str:
    """A driver error's first line (its DBAPI error's, for SQLAlchemy's), secrets masked."""
    text = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
    return scrub_text(text, secrets)


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
    not citext, and no collation of its own (which could be nondeterministic)."""
    sa = _sa()
    if not isinstance(type_, sa.String) or isinstance(type_, sa.CHAR | sa.NCHAR):
        return False
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
