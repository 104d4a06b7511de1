"""SQL/MED schema objects for a MetaData: wrappers, servers and user mappings.

Attached to a :class:`~sqlalchemy.schema.MetaData`, they are created by
``metadata.create_all()`` before any table (extensions and wrappers, then
servers, then user mappings) and dropped by ``drop_all()`` after every table,
in the reverse order; ``checkfirst`` asks the catalog.  Each also compiles to
its SQL/MED statement (printed by :mod:`.printer`, secrets masked in what is
shown), so ``conn.execute(CreateServer(server))`` works too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import ExecutableDDLElement, MetaData

from . import printer
from .base import MASK, catalog_rows, is_secret_option

_KEY = "sqlmed_objects"


def _register(metadata: MetaData | None, obj: Any) -> None:
    if metadata is None:
        return
    objects = metadata.info.get(_KEY)
    if objects is None:
        objects = metadata.info[_KEY] = []
        event.listen(metadata, "before_create", _create_all)
        event.listen(metadata, "after_drop", _drop_all)
    objects.append(obj)


def _shown_options(options: dict[str, str], wrapper: str | None, kind: str) -> dict[str, str]:
    return {
        k: (MASK if is_secret_option(k, wrapper, kind) else v) for k, v in (options or {}).items()
    }


class _MedObject:
    kind = ""
    create_order = 0

    def exists(self, connection) -> bool:
        raise NotImplementedError

    def create(self, bind, checkfirst: bool = False) -> None:
        """Create this object (unless ``checkfirst`` and it exists)."""
        with _connection(bind) as conn:
            if not (checkfirst and self.exists(conn)):
                conn.execute(self._create_ddl())

    def drop(self, bind, checkfirst: bool = False) -> None:
        """Drop this object (unless ``checkfirst`` and it does not exist)."""
        with _connection(bind) as conn:
            if not checkfirst or self.exists(conn):
                conn.execute(self._drop_ddl())


class _connection:  # noqa: N801 - used as a function
    """A Connection from a Connection or an Engine (committing at the end)."""

    def __init__(self, bind):
        self.bind = bind
        self._ctx = None

    def __enter__(self):
        if hasattr(bind := self.bind, "begin") and not hasattr(bind, "in_transaction"):
            self._ctx = bind.begin()
            return self._ctx.__enter__()
        return bind

    def __exit__(self, *exc):
        if self._ctx is not None:
            return self._ctx.__exit__(*exc)
        return False


class Extension(_MedObject):
    """``CREATE EXTENSION name``: installs a builtin or registered wrapper."""

    kind = "extension"
    create_order = 0

    def __init__(self, name: str, metadata: MetaData | None = None):
        self.name = name
        _register(metadata, self)

    def exists(self, connection) -> bool:
        sql = "SELECT 1 FROM sqlmed_extensions WHERE extension_name = ?"
        return bool(catalog_rows(connection, sql, (self.name,)))

    def _create_ddl(self):
        return CreateExtension(self)

    def _drop_ddl(self):
        return DropExtension(self)

    def __repr__(self) -> str:
        return f"Extension({self.name!r})"


class ForeignDataWrapper(_MedObject):
    """``CREATE FOREIGN DATA WRAPPER name [HANDLER h] [VALIDATOR v] [OPTIONS (...)]``."""

    kind = "wrapper"
    create_order = 1

    def __init__(
        self,
        name: str,
        metadata: MetaData | None = None,
        *,
        handler: str | None = None,
        validator: str | None = None,
        options: dict[str, str] | None = None,
    ):
        self.name = name
        self.handler = handler
        self.validator = validator
        self.options = dict(options or {})
        _register(metadata, self)

    def exists(self, connection) -> bool:
        sql = "SELECT 1 FROM sqlmed_foreign_data_wrappers WHERE foreign_data_wrapper_name = ?"
        return bool(catalog_rows(connection, sql, (self.name,)))

    def _create_ddl(self):
        return CreateForeignDataWrapper(self)

    def _drop_ddl(self):
        return DropForeignDataWrapper(self)

    def __repr__(self) -> str:
        return (
            f"ForeignDataWrapper({self.name!r}, handler={self.handler!r}, "
            f"validator={self.validator!r}, "
            f"options={_shown_options(self.options, self.name, 'wrapper')!r})"
        )


def _wrapper_name(wrapper: str | ForeignDataWrapper | Extension) -> str:
    return wrapper if isinstance(wrapper, str) else wrapper.name


class ForeignServer(_MedObject):
    """``CREATE SERVER name [TYPE t] [VERSION v] FOREIGN DATA WRAPPER w [OPTIONS (...)]``."""

    kind = "server"
    create_order = 2

    def __init__(
        self,
        name: str,
        wrapper: str | ForeignDataWrapper | Extension,
        metadata: MetaData | None = None,
        *,
        type: str | None = None,  # noqa: A002 - the SQL keyword
        version: str | None = None,
        options: dict[str, str] | None = None,
    ):
        self.name = name
        self.wrapper = _wrapper_name(wrapper)
        self.type = type
        self.version = version
        self.options = dict(options or {})
        _register(metadata, self)

    def exists(self, connection) -> bool:
        sql = "SELECT 1 FROM sqlmed_foreign_servers WHERE foreign_server_name = ?"
        return bool(catalog_rows(connection, sql, (self.name,)))

    def _create_ddl(self):
        return CreateServer(self)

    def _drop_ddl(self):
        return DropServer(self)

    def __repr__(self) -> str:
        return (
            f"ForeignServer({self.name!r}, {self.wrapper!r}, "
            f"options={_shown_options(self.options, self.wrapper, 'server')!r})"
        )


_USER_KEYWORDS = printer.USER_KEYWORDS


class UserMapping(_MedObject):
    """``CREATE USER MAPPING FOR user SERVER s [OPTIONS (...)]``.

    ``user`` is a user name or PUBLIC / CURRENT_USER; option values marked
    secret never show in reprs, logs or compiled text printed by SQLAlchemy.
    """

    kind = "user mapping"
    create_order = 3

    def __init__(
        self,
        server: str | ForeignServer,
        user: str = "PUBLIC",
        metadata: MetaData | None = None,
        *,
        options: dict[str, str] | None = None,
    ):
        self.server = server if isinstance(server, str) else server.name
        self._wrapper = None if isinstance(server, str) else server.wrapper
        self.user = user
        self.options = dict(options or {})
        _register(metadata, self)

    def exists(self, connection) -> bool:
        user = self.user
        if user.upper() == "PUBLIC":
            user = "public"
        elif user.upper() in _USER_KEYWORDS:
            user = connection.connection.dbapi_connection.vtables.user
        sql = (
            "SELECT 1 FROM sqlmed_user_mappings WHERE authorization_identifier = ? "
            "AND foreign_server_name = ?"
        )
        return bool(catalog_rows(connection, sql, (user, self.server)))

    def _create_ddl(self):
        return CreateUserMapping(self)

    def _drop_ddl(self):
        return DropUserMapping(self)

    def __repr__(self) -> str:
        shown = _shown_options(self.options, self._wrapper, "user_mapping")
        return f"UserMapping({self.server!r}, user={self.user!r}, options={shown!r})"


# ------------------------------------------------------------- DDL elements


class _MedDDL(ExecutableDDLElement):
    def __init__(self, element: _MedObject, *, if_exists: bool = False, cascade: bool = False):
        self.element = element
        self.if_exists = if_exists
        self.cascade = cascade


class CreateExtension(_MedDDL):
    pass


class DropExtension(_MedDDL):
    pass


class CreateForeignDataWrapper(_MedDDL):
    pass


class DropForeignDataWrapper(_MedDDL):
    pass


class CreateServer(_MedDDL):
    pass


class DropServer(_MedDDL):
    pass


class CreateUserMapping(_MedDDL):
    pass


class DropUserMapping(_MedDDL):
    pass


@compiles(CreateExtension)
def _create_extension(element, compiler, **kw):
    return printer.shown(compiler, printer.create_extension(element.element.name))


@compiles(DropExtension)
def _drop_extension(element, compiler, **kw):
    tree = printer.drop(
        "EXTENSION", [element.element.name], if_exists=element.if_exists, cascade=element.cascade
    )
    return printer.shown(compiler, tree)


@compiles(CreateForeignDataWrapper)
def _create_fdw(element, compiler, **kw):
    fdw = element.element
    tree = printer.create_fdw(
        fdw.name, handler=fdw.handler, validator=fdw.validator, options_=fdw.options
    )
    return printer.shown(compiler, tree)


@compiles(DropForeignDataWrapper)
def _drop_fdw(element, compiler, **kw):
    tree = printer.drop(
        "FOREIGN DATA WRAPPER",
        [element.element.name],
        if_exists=element.if_exists,
        cascade=element.cascade,
    )
    return printer.shown(compiler, tree)


@compiles(CreateServer)
def _create_server(element, compiler, **kw):
    server = element.element
    tree = printer.create_server(
        server.name,
        server.wrapper,
        type_=server.type,
        version=server.version,
        options_=server.options,
    )
    return printer.shown(compiler, tree)


@compiles(DropServer)
def _drop_server(element, compiler, **kw):
    tree = printer.drop(
        "SERVER", [element.element.name], if_exists=element.if_exists, cascade=element.cascade
    )
    return printer.shown(compiler, tree)


@compiles(CreateUserMapping)
def _create_user_mapping(element, compiler, **kw):
    um = element.element
    return printer.shown(compiler, printer.create_user_mapping(um.user, um.server, um.options))


@compiles(DropUserMapping)
def _drop_user_mapping(element, compiler, **kw):
    um = element.element
    tree = printer.drop_user_mapping(um.user, um.server, if_exists=element.if_exists)
    return printer.shown(compiler, tree)


# ------------------------------------------------------- create_all/drop_all


def objects_of(metadata: MetaData) -> list[_MedObject]:
    """The SQL/MED objects attached to ``metadata``, in creation order."""
    return sorted(metadata.info.get(_KEY, ()), key=lambda o: o.create_order)


def _create_all(metadata: MetaData, connection, checkfirst: bool = True, **kw) -> None:
    for obj in objects_of(metadata):
        if not (checkfirst and obj.exists(connection)):
            connection.execute(obj._create_ddl())


def _drop_all(metadata: MetaData, connection, checkfirst: bool = True, **kw) -> None:
    for obj in reversed(objects_of(metadata)):
        if not checkfirst or obj.exists(connection):
            connection.execute(obj._drop_ddl())
