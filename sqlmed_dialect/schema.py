"""SQL/MED schema objects for a MetaData: wrappers, servers and user mappings.

Attached to a :class:`~sqlalchemy.schema.MetaData`, they are created by
``metadata.create_all()`` before any table (extensions and wrappers, then
servers, then user mappings) and dropped by ``drop_all()`` after every table,
in the reverse order; ``checkfirst`` asks the catalog.  Each also compiles to
its SQL/MED statement (a :mod:`vtables.grammar` tree, built by the engine's
builders and printed by its one printer, secrets masked in what is shown), so
``conn.execute(CreateServer(server))`` works too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sqlalchemy import event
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import ExecutableDDLElement, MetaData
from sqlglot import exp

from vtables import grammar

from . import printer
from .base import catalog_rows
from .options import shown_options

_KEY = "sqlmed_objects"


def _register(metadata: MetaData | None, obj: _MedObject) -> None:
    if metadata is None:
        return
    objects = metadata.info.get(_KEY)
    if objects is None:
        objects = metadata.info[_KEY] = []
        event.listen(metadata, "before_create", _create_all)
        event.listen(metadata, "after_drop", _drop_all)
    objects.append(obj)


# ------------------------------------------------------------- DDL elements


class _MedDDL(ExecutableDDLElement):
    """A SQL/MED statement about a schema object, which builds its tree."""

    def __init__(self, element: Any, *, if_exists: bool = False, cascade: bool = False):
        self.element = element
        self.if_exists = if_exists
        self.cascade = cascade

    def tree(self) -> exp.Expression:
        raise NotImplementedError


class _Create(_MedDDL):
    def tree(self) -> exp.Expression:
        return self.element.create_tree()


class _Drop(_MedDDL):
    def tree(self) -> exp.Expression:
        return self.element.drop_tree(if_exists=self.if_exists, cascade=self.cascade)


class CreateExtension(_Create):
    pass


class DropExtension(_Drop):
    pass


class CreateForeignDataWrapper(_Create):
    pass


class DropForeignDataWrapper(_Drop):
    pass


class CreateServer(_Create):
    pass


class DropServer(_Drop):
    pass


class CreateUserMapping(_Create):
    pass


class DropUserMapping(_Drop):
    pass


@compiles(_Create)
@compiles(_Drop)
def _compile(element: _MedDDL, compiler: Any, **kw: Any) -> str:
    return printer.shown(compiler, element.tree())


# ------------------------------------------------------------------ objects


class _MedObject:
    """An object of the SQL/MED catalog: its DDL elements, and the catalog
    query (``exists_sql``, one parameter: the name) that says it exists."""

    kind = ""  # also whose option specs (spaces as underscores) tell the secrets
    keyword = ""  # what DROP names it
    create_order = 0
    exists_sql = ""
    create_element: ClassVar[type[_MedDDL]]
    drop_element: ClassVar[type[_MedDDL]]
    name: str
    options: dict[str, str]

    def _attach(self, metadata: MetaData | None, options: Mapping[str, str] | None) -> None:
        self.options = dict(options or {})
        _register(metadata, self)

    def _options_wrapper(self) -> str | None:
        """The wrapper whose option specs tell the secret options."""
        return None

    def _repr_args(self) -> list[str]:
        return [repr(self.name)]

    def __repr__(self) -> str:
        shown = shown_options(self.options, self._options_wrapper(), self.kind.replace(" ", "_"))
        return f"{type(self).__name__}({', '.join(self._repr_args())}, options={shown!r})"

    def _exists_parameters(self, connection: Any) -> tuple[Any, ...]:
        return (self.name,)

    def exists(self, connection: Any) -> bool:
        return bool(catalog_rows(connection, self.exists_sql, self._exists_parameters(connection)))

    def create_tree(self) -> exp.Expression:
        raise NotImplementedError

    def drop_tree(self, *, if_exists: bool, cascade: bool) -> exp.Expression:
        return printer.drop(self.keyword, [self.name], if_exists=if_exists, cascade=cascade)

    def _create_ddl(self) -> _MedDDL:
        return self.create_element(self)

    def _drop_ddl(self) -> _MedDDL:
        return self.drop_element(self)

    def create(self, bind: Any, checkfirst: bool = False) -> None:
        """Create this object (unless ``checkfirst`` and it exists)."""
        with _connection(bind) as conn:
            if not (checkfirst and self.exists(conn)):
                conn.execute(self._create_ddl())

    def drop(self, bind: Any, checkfirst: bool = False) -> None:
        """Drop this object (unless ``checkfirst`` and it does not exist)."""
        with _connection(bind) as conn:
            if not checkfirst or self.exists(conn):
                conn.execute(self._drop_ddl())


class _connection:  # noqa: N801 - used as a function
    """A Connection from a Connection or an Engine (committing at the end)."""

    def __init__(self, bind: Any):
        self.bind = bind
        self._ctx: Any = None

    def __enter__(self) -> Any:
        if hasattr(bind := self.bind, "begin") and not hasattr(bind, "in_transaction"):
            self._ctx = bind.begin()
            return self._ctx.__enter__()
        return bind

    def __exit__(self, *exc: Any) -> Any:
        if self._ctx is not None:
            return self._ctx.__exit__(*exc)
        return False


class Extension(_MedObject):
    """``CREATE EXTENSION name``: installs a builtin or registered wrapper."""

    kind = "extension"
    keyword = "EXTENSION"
    create_order = 0
    exists_sql = "SELECT 1 FROM sqlmed_extensions WHERE extension_name = ?"

    def __init__(self, name: str, metadata: MetaData | None = None):
        self.name = name
        self._attach(metadata, None)

    def create_tree(self) -> exp.Expression:
        return grammar.create_extension(self.name)

    def __repr__(self) -> str:
        return f"Extension({self.name!r})"


class ForeignDataWrapper(_MedObject):
    """``CREATE FOREIGN DATA WRAPPER name [HANDLER h] [VALIDATOR v] [OPTIONS (...)]``."""

    kind = "wrapper"
    keyword = "FOREIGN DATA WRAPPER"
    create_order = 1
    exists_sql = "SELECT 1 FROM sqlmed_foreign_data_wrappers WHERE foreign_data_wrapper_name = ?"

    def __init__(
        self,
        name: str,
        metadata: MetaData | None = None,
        *,
        options: Mapping[str, str] | None = None,
        handler: str | None = None,
        validator: str | None = None,
    ):
        self.name = name
        self.handler = handler
        self.validator = validator
        self._attach(metadata, options)

    def _options_wrapper(self) -> str | None:
        return self.name

    def _repr_args(self) -> list[str]:
        return [repr(self.name), f"handler={self.handler!r}", f"validator={self.validator!r}"]

    def create_tree(self) -> exp.Expression:
        return grammar.create_fdw(
            self.name, handler=self.handler, validator=self.validator, options_=self.options
        )


class ForeignServer(_MedObject):
    """``CREATE SERVER name [TYPE t] [VERSION v] FOREIGN DATA WRAPPER w [OPTIONS (...)]``."""

    kind = "server"
    keyword = "SERVER"
    create_order = 2
    exists_sql = "SELECT 1 FROM sqlmed_foreign_servers WHERE foreign_server_name = ?"

    def __init__(
        self,
        name: str,
        wrapper: str | ForeignDataWrapper | Extension,
        metadata: MetaData | None = None,
        *,
        options: Mapping[str, str] | None = None,
        type: str | None = None,  # noqa: A002 - the SQL keyword
        version: str | None = None,
    ):
        self.name = name
        self.wrapper = wrapper if isinstance(wrapper, str) else wrapper.name
        self.type = type
        self.version = version
        self._attach(metadata, options)

    def create_tree(self) -> exp.Expression:
        return grammar.create_server(
            self.name,
            self.wrapper,
            type_=self.type,
            version=self.version,
            options_=self.options,
        )

    def _options_wrapper(self) -> str | None:
        return self.wrapper

    def _repr_args(self) -> list[str]:
        return [repr(self.name), repr(self.wrapper)]


class UserMapping(_MedObject):
    """``CREATE USER MAPPING FOR user SERVER s [OPTIONS (...)]``.

    ``user`` is a user name or PUBLIC / CURRENT_USER; option values marked
    secret never show in reprs, logs or compiled text printed by SQLAlchemy.
    """

    kind = "user mapping"
    create_order = 3
    exists_sql = (
        "SELECT 1 FROM sqlmed_user_mappings WHERE authorization_identifier = ? "
        "AND foreign_server_name = ?"
    )

    def __init__(
        self,
        server: str | ForeignServer,
        user: str = "PUBLIC",
        metadata: MetaData | None = None,
        *,
        options: Mapping[str, str] | None = None,
    ):
        self.server = server if isinstance(server, str) else server.name
        self._wrapper = None if isinstance(server, str) else server.wrapper
        self.user = user
        self._attach(metadata, options)

    def _exists_parameters(self, connection: Any) -> tuple[Any, ...]:
        user = self.user
        if user.upper() == "PUBLIC":
            user = "public"
        elif user.upper() in grammar.USER_KEYWORDS:
            user = connection.connection.dbapi_connection.vtables.user
        return (user, self.server)

    def _options_wrapper(self) -> str | None:
        return self._wrapper

    def _repr_args(self) -> list[str]:
        return [repr(self.server), f"user={self.user!r}"]

    def create_tree(self) -> exp.Expression:
        return grammar.create_user_mapping(grammar.user(self.user), self.server, self.options)

    def drop_tree(self, *, if_exists: bool, cascade: bool) -> exp.Expression:
        return printer.drop_user_mapping(self.user, self.server, if_exists=if_exists)


for _object, _create, _drop in (
    (Extension, CreateExtension, DropExtension),
    (ForeignDataWrapper, CreateForeignDataWrapper, DropForeignDataWrapper),
    (ForeignServer, CreateServer, DropServer),
    (UserMapping, CreateUserMapping, DropUserMapping),
):
    _object.create_element, _object.drop_element = _create, _drop


# ------------------------------------------------------- create_all/drop_all


def objects_of(metadata: MetaData) -> list[_MedObject]:
    """The SQL/MED objects attached to ``metadata``, in creation order."""
    return sorted(metadata.info.get(_KEY, ()), key=lambda o: o.create_order)


def _create_all(metadata: MetaData, connection: Any, checkfirst: bool = True, **kw: Any) -> None:
    for obj in objects_of(metadata):
        if not (checkfirst and obj.exists(connection)):
            connection.execute(obj._create_ddl())


def _drop_all(metadata: MetaData, connection: Any, checkfirst: bool = True, **kw: Any) -> None:
    for obj in reversed(objects_of(metadata)):
        if not checkfirst or obj.exists(connection):
            connection.execute(obj._drop_ddl())
