"""The remote end: the URL with its credentials, one engine and connection
per server and user, and the remote transaction that follows the local one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ...errors import InvalidOptionError
from ...remote import RemoteTransaction
from ...remotesql import Unguarded
from ...wrapper import resolve_path, scrub_text


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


#: dialects whose connection holds one pending result: a statement run while
#: another result is read replaces it (duckdb_engine's cursors share the
#: DuckDB connection), so the results being read are fetched first
_ONE_RESULT = {"duckdb"}

#: dialects without savepoints, whose transaction an error aborts
_NO_SAVEPOINTS = {"duckdb"}


class Reader:
    """A result read row by row, or from memory once ``buffer`` fetched the rest."""

    def __init__(self, result: Any):
        self.result = result
        self._rows: Iterator[Any] = iter(result)

    def buffer(self) -> None:
        self._rows = iter(list(self._rows))

    def __iter__(self) -> Reader:
        return self

    def __next__(self) -> Any:
        return next(self._rows)


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
        #: results being read: a join's scans of one server share its connection
        self.readers: list[Reader] = []
        if self.engine.dialect.name in _ONE_RESULT:
            sa.event.listen(self.engine, "before_cursor_execute", self._buffer_readers)

    def _buffer_readers(self, *_args: Any) -> None:
        for reader in self.readers:
            reader.buffer()

    def read(self, result: Any) -> Reader:
        """The rows of ``result``, read while other statements may run."""
        reader = Reader(result)
        self.readers.append(reader)
        return reader

    def done(self, reader: Reader) -> None:
        """``reader`` is read or abandoned: its result closed, and the read's
        implicit transaction ended when it was the last one."""
        self.readers.remove(reader)
        try:
            reader.result.close()
        finally:
            self.end_read()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def end_read(self) -> None:
        """Outside a local transaction, end the implicit transaction reads
        opened, once no result is being read any more (rolling it back would
        close a server-side cursor that another scan still reads)."""
        if not self.in_transaction and not self.readers and self.conn.in_transaction():
            self.conn.rollback()

    def guarded(self, read: Callable[[], list[tuple]]) -> list[tuple]:
        """``read()``, so that its failure leaves the transaction usable:
        inside a savepoint, rolled back to on error.  Without savepoints
        (DuckDB), only outside a local transaction: an error then ends the
        read's implicit one; inside one, ``Unguarded``."""
        if self.dialect in _NO_SAVEPOINTS:
            if self.in_transaction:
                raise Unguarded(f"{self.dialect} has no savepoints")
            try:
                return read()
            except Exception:
                if self.conn.in_transaction():
                    self.conn.rollback()
                raise
        nested = self.conn.begin_nested()
        try:
            rows = read()
        except Exception:
            if nested.is_active:
                nested.rollback()
            raise
        nested.commit()
        return rows

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


def _first_line(err: BaseException, secrets: list[str]) -> str:
    """A driver error's first line (its DBAPI error's, for SQLAlchemy's), secrets masked."""
    text = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
    return scrub_text(text, secrets)
