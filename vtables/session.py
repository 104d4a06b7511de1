"""The per-connection state of the SQL/MED engine: one ``Session`` a connection.

The layers below the connection (the commands, the virtual-table module,
explain, the wrappers' SQL functions) are handed the session and take from it
what they need: the database (``db``), the user, where notices go, the
wrapper instances serving foreign tables, the state each server keeps for
this connection (``remote``: a wrapper's remote connections), the tables
being rebuilt and the SQL functions installed.  None of them reaches back
into the connection object: imports point down only (tests/test_layers.py).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

import apsw

from . import catalog
from . import wrapper as wrapper_api
from .errors import (
    PrerequisiteError,
    SQLMedError,
    UndefinedFunctionError,
    UndefinedObjectError,
)
from .wrapper import ColumnDefinition, ForeignDataWrapper

logger = logging.getLogger(__name__)


def column_definitions(table: catalog.ForeignTable) -> dict[str, ColumnDefinition]:
    """A foreign table's columns as the wrapper API describes them."""
    return {
        c.name: ColumnDefinition(c.name, c.type, dict(c.options), c.not_null, c.default)
        for c in table.columns
    }


def installed_class(fdw: catalog.Wrapper, role: str) -> type[ForeignDataWrapper]:
    """The class behind a foreign-data wrapper's ``handler`` or ``validator``
    function; UndefinedObjectError when this program has none."""
    function = fdw.handler if role == "handler" else fdw.validator
    find = wrapper_api.handler_class if role == "handler" else wrapper_api.validator_class
    cls = find(function)
    if cls is None:
        label = "handler" if role == "handler" else "validator function"
        raise UndefinedObjectError(
            f'{label} {function}() of foreign-data wrapper "{fdw.name}" is not installed'
            " in this program",
            hint="Install the package that provides the wrapper, or register it with "
            "vtables.register_wrapper().",
        )
    return cls


class Session:
    """What one connection knows beyond its database file."""

    def __init__(self, db: apsw.Connection, user: str):
        # The connection owns its session: a weak reference keeps the pair
        # collectable without a cycle (a connection closes when it goes).
        self._db = weakref.ref(db)
        self.user = user
        #: Messages PostgreSQL would send as NOTICE (``... does not exist, skipping``).
        self.notices: list[str] = []
        #: foreign tables whose virtual table is being dropped and made again
        #: (ALTER FOREIGN TABLE): their catalog rows stay.
        self.rebuilding: set[str] = set()
        #: State each server keeps for this connection (remote connections, say),
        #: shared by the wrapper instances serving its tables; emptied when the
        #: server or a user mapping changes.
        self.remote: dict[str, dict[str, Any]] = {}
        #: the table the INSERT under way targets, and whether the router
        #: applied its defaults (the module checks it; None: no INSERT)
        self.insert_target: tuple[str, bool] | None = None
        #: APSW's module may hand a scan an IN list whole: false while a
        #: statement with an IN subquery runs (APSW fails an empty list)
        self.whole_in = True
        #: the texts the router runs without a look (no SQL/MED, no foreign
        #: table the statement planner would read): forgotten when this
        #: connection meets a foreign table it did not know
        self.plain_texts: set[str] = set()
        self._wrappers: dict[str, tuple[ForeignDataWrapper, list[catalog.Column]]] = {}
        self._generation: int | None = None

    @property
    def db(self) -> apsw.Connection:
        db = self._db()
        if db is None:  # pragma: no cover - a session outliving its connection
            raise apsw.ConnectionClosedError("the connection of this session is gone")
        return db

    def notice(self, message: str) -> None:
        """A PostgreSQL NOTICE: kept for the caller to show, and logged."""
        self.notices.append(message)
        logger.info("%s", message)

    # ------------------------------------------------------------ wrappers

    @staticmethod
    def handler_class(fdw: catalog.Wrapper) -> type[ForeignDataWrapper]:
        """The wrapper class behind a foreign-data wrapper's handler."""
        if not fdw.handler:
            raise PrerequisiteError(f'foreign-data wrapper "{fdw.name}" has no handler')
        return installed_class(fdw, "handler")

    def wrapper_for(self, table_name: str) -> tuple[ForeignDataWrapper, list[catalog.Column]]:
        """The wrapper instance serving a foreign table for this session's user."""
        key = table_name.lower()
        db = self.db
        # The catalog's generation moves with every SQL/MED statement, this
        # connection's or another's, and moves back with a rollback of one.
        generation = catalog.generation(db)
        if generation != self._generation:
            self._wrappers.clear()
            self._generation = generation
        cached = self._wrappers.get(key)
        if cached is not None:
            return cached
        table = catalog.get_table(db, table_name)
        if table is None:
            raise UndefinedObjectError(f'foreign table "{table_name}" does not exist')
        server = catalog.get_server(db, table.server)
        fdw = catalog.get_wrapper(db, server.fdw) if server is not None else None
        if server is None or fdw is None:  # pragma: no cover - the catalog's keys forbid it
            raise UndefinedObjectError(f'the server of foreign table "{table.name}" does not exist')
        cls = self.handler_class(fdw)
        um = catalog.find_user_mapping(db, self.user, server.name)
        options = {**fdw.options, **server.options, **(um.options if um else {}), **table.options}
        context = wrapper_api.TableContext(
            table_name=table.name,
            server_name=server.name,
            database_path=db.filename or "",
            shared=self.remote.setdefault(server.name, {}),
            notify=self.notices.append,  # the wrapper's notices
            user=self.user,
        )
        instance = cls.create(options, column_definitions(table), context)
        self._wrappers[key] = (instance, table.columns)
        return self._wrappers[key]

    def server_wrapper(self, server_name: str) -> ForeignDataWrapper:
        """A wrapper instance for a server itself (no table): what
        ``sqlmed_query()`` runs a query the user wrote through."""
        db = self.db
        server = catalog.get_server(db, server_name)
        if server is None:
            raise UndefinedObjectError(f'server "{server_name}" does not exist')
        fdw = catalog.get_wrapper(db, server.fdw)
        if fdw is None:  # pragma: no cover - the catalog's keys forbid it
            raise UndefinedObjectError(f'the wrapper of server "{server.name}" does not exist')
        cls = self.handler_class(fdw)
        um = catalog.find_user_mapping(db, self.user, server.name)
        options = {**fdw.options, **server.options, **(um.options if um else {})}
        context = wrapper_api.TableContext(
            server_name=server.name,
            database_path=db.filename or "",
            shared=self.remote.setdefault(server.name, {}),
            notify=self.notices.append,
            user=self.user,
        )
        return cls.create(options, {}, context)

    def forget_wrappers(self) -> None:
        self._wrappers.clear()

    def forget_table(self, name: str) -> None:
        self._wrappers.pop(name.lower(), None)

    def close_server(self, name: str) -> None:
        """Drop cached wrapper instances and the server's shared state after a change."""
        self._wrappers.clear()
        state = self.remote.get(name, {})
        if any(getattr(value, "in_transaction", False) for value in state.values()):
            return  # a remote transaction is open: keep its connection until it ends
        for value in self.remote.pop(name, {}).values():
            close = getattr(value, "close", None)
            if close is not None:
                close()

    # ------------------------------------------------------- SQL functions

    def install_functions(self, extension: str) -> None:
        """Make the SQL functions of ``extension``'s wrapper callable here.

        A function is called as ``function(session, *args)``.  It answers
        "does not exist" once the extension is dropped; SQLITE_DIRECTONLY
        keeps views and triggers stored in a file from calling it.
        """
        cls = wrapper_api.find_wrapper(extension)
        if cls is None:
            return
        me = weakref.ref(self)
        for fname, (fn, nargs) in cls.sql_functions().items():
            self.db.create_scalar_function(
                fname, _sql_function(me, extension, fname, fn), nargs, flags=apsw.SQLITE_DIRECTONLY
            )

    def install_extension_functions(self) -> None:
        """The SQL functions of the extensions already in the catalog."""
        db = self.db
        try:
            names = [n for n, _v in catalog.list_extensions(db)] if catalog.exists(db) else []
        except apsw.Error:  # busy, locked, not a database: first use will say
            return
        for name in names:
            try:
                self.install_functions(name)
            except SQLMedError:  # not installed here: its tables will say so
                continue


def _sql_function(
    owner: weakref.ref[Session], extension: str, fname: str, fn: Callable[..., Any]
) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        session = owner()
        if session is None or not (
            catalog.exists(session.db) and catalog.get_extension(session.db, extension)
        ):
            raise UndefinedFunctionError(
                f"function {fname}() does not exist",
                hint=f"It comes with CREATE EXTENSION {extension}.",
            )
        return fn(session, *args)

    return call
