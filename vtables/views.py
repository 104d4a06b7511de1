"""The catalog's read-only views (``sqlmed_foreign_servers`` and the rest), as
eponymous virtual tables registered on each connection: they add nothing to
the file that a plain SQLite tool could trip over.

A view shows what the catalog holds for the session's user: secret option
values masked for everyone, a user mapping's options only to the user it maps
(or all, for PUBLIC's), a damaged object left out with a notice.  On a file
whose own objects squat the views' names, temp tables of the same names
(which SQLite finds first) refuse to show anything while the squatters remain.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import apsw
import apsw.ext

from . import grammar
from .catalog import PUBLIC, VIEW_NAMES, exists, scan, shown_options, structure_problems, verify
from .errors import CatalogError

if TYPE_CHECKING:
    from .session import Session


def _sound(session: Session, kind: str) -> Iterator[Any]:
    """The objects of a kind that decode; a damaged one is left out, and a
    notice tells whoever reads the views."""
    for item in scan(session.db, kind):
        if isinstance(item, CatalogError):
            session.notices.append(f"{item.message}; it is left out")
        else:
            yield item


def _options_of(session: Session, kind: str) -> Iterator[tuple]:
    """(object name, option, value) of every object of a kind, secrets masked."""
    for obj in _sound(session, kind):
        for key, value in shown_options(obj).items():
            yield (obj.name, key, value)


class View:
    """One view: its rows for a session, its columns and its name."""

    column_access = apsw.ext.VTColumnAccess.By_Index

    def __init__(self, fn: Callable[[Session], Iterator[tuple]], columns: tuple[str, ...]):
        self._fn = fn
        self.columns = columns
        self.view_name = "sqlmed_" + fn.__name__

    def __call__(self, session: Session) -> list[tuple]:
        if not exists(session.db):
            return []
        return list(self._fn(session))


def _view(*columns: str) -> Callable[[Callable[[Session], Iterator[tuple]]], View]:
    """A view of the named columns (separated by spaces) whose rows ``fn`` yields."""

    def decorate(fn: Callable[[Session], Iterator[tuple]]) -> View:
        return View(fn, tuple(" ".join(columns).split()))

    return decorate


@_view("extension_name extension_version")
def extensions(session: Session) -> Iterator[tuple]:
    for e in _sound(session, "extension"):
        yield (e.name, e.version)


@_view("foreign_data_wrapper_name handler validator extension comment")
def foreign_data_wrappers(session: Session) -> Iterator[tuple]:
    for w in _sound(session, "wrapper"):
        yield (w.name, w.handler, w.validator, w.extension, w.comment)


@_view("foreign_data_wrapper_name option_name option_value")
def foreign_data_wrapper_options(session: Session) -> Iterator[tuple]:
    return _options_of(session, "wrapper")


@_view(
    "foreign_server_name foreign_data_wrapper_name",
    "foreign_server_type foreign_server_version comment",
)
def foreign_servers(session: Session) -> Iterator[tuple]:
    for s in _sound(session, "server"):
        yield (s.name, s.fdw, s.type, s.version, s.comment)


@_view("foreign_server_name option_name option_value")
def foreign_server_options(session: Session) -> Iterator[tuple]:
    return _options_of(session, "server")


@_view("foreign_table_name foreign_server_name comment")
def foreign_tables(session: Session) -> Iterator[tuple]:
    for t in _sound(session, "table"):
        yield (t.name, t.server, t.comment)


@_view("foreign_table_name option_name option_value")
def foreign_table_options(session: Session) -> Iterator[tuple]:
    return _options_of(session, "table")


@_view("table_name column_name ordinal_position data_type is_nullable column_default comment")
def foreign_table_columns(session: Session) -> Iterator[tuple]:
    for t in _sound(session, "table"):
        for i, c in enumerate(t.columns, 1):
            yield (t.name, c.name, i, c.type, "NO" if c.not_null else "YES", c.default, c.comment)


@_view("table_name constraint_name check_clause is_validated")
def foreign_table_constraints(session: Session) -> Iterator[tuple]:
    # declared, not enforced, as in PostgreSQL
    for t in _sound(session, "table"):
        for k in t.constraints:
            yield (t.name, k.name, k.check_sql, "YES" if k.validated else "NO")


@_view("table_name column_name option_name option_value")
def column_options(session: Session) -> Iterator[tuple]:
    for t in _sound(session, "table"):
        for c in t.columns:
            for key, value in shown_options(c).items():
                yield (t.name, c.name, key, value)


@_view("authorization_identifier foreign_server_name")
def user_mappings(session: Session) -> Iterator[tuple]:
    for um in _sound(session, "user_mapping"):
        yield (um.user, um.server)


@_view("authorization_identifier foreign_server_name option_name option_value")
def user_mapping_options(session: Session) -> Iterator[tuple]:
    # As in PostgreSQL, a mapping's option values are shown only to the user
    # it maps (everyone is mapped by PUBLIC); secrets are masked for all.
    for um in _sound(session, "user_mapping"):
        visible = um.user in (session.user, PUBLIC)
        for key, value in shown_options(um).items():
            yield (um.user, um.server, key, value if visible else None)


VIEWS = (
    extensions,
    foreign_data_wrappers,
    foreign_data_wrapper_options,
    foreign_servers,
    foreign_server_options,
    foreign_tables,
    foreign_table_options,
    foreign_table_columns,
    foreign_table_constraints,
    column_options,
    user_mappings,
    user_mapping_options,
)


def register(session: Session) -> None:
    """The views, as eponymous virtual tables; on a file that squats their
    names, also as temp tables (which SQLite finds before the file's own) that
    refuse to show anything while the file does so."""
    conn = session.db
    me = weakref.ref(session)
    for view in VIEWS:
        bound = _Bound(view, me)  # APSW's stub wants columns as a 1-tuple and primary_key
        apsw.ext.make_virtual_module(conn, view.view_name, bound, eponymous_only=True)  # type: ignore[arg-type]
    try:
        problems = structure_problems(conn)
    except apsw.Error:  # busy, locked, not a database: first use will say
        return
    if problems:
        _guard_views(session)


class _Bound:
    """A view bound to a session, as apsw.ext.make_virtual_module calls it."""

    column_access = View.column_access

    def __init__(self, view: View, session: Callable[[], Session | None]):
        self._view, self._session = view, session
        self.columns = view.columns

    def __call__(self) -> list[tuple]:
        session = self._session()
        if session is None:
            raise CatalogError("the connection is closed")
        return self._view(session)


_GUARD_MODULE = "sqlmed_checked_view"


def _guard_views(session: Session) -> None:
    conn = session.db
    conn.create_module(_GUARD_MODULE, _CheckedViews(session))  # type: ignore[arg-type]
    for view in VIEWS:
        apsw.Cursor.execute(
            conn.cursor(),
            f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{view.view_name} USING {_GUARD_MODULE}",
        )


class _CheckedViews:
    """A view that checks the file before each scan: it refuses while objects of
    the file squat the catalog's names, and shows the catalog once they are gone."""

    def __init__(self, session: Session):
        self._session = weakref.ref(session)

    def Create(self, db: Any, modulename: str, dbname: str, tablename: str, *args: str):
        view = {v.view_name: v for v in VIEWS}[tablename.lower()]
        columns = ", ".join(grammar.quote_ident(c) for c in view.columns)
        return f"CREATE TABLE x({columns})", _CheckedTable(self._session, view)

    Connect = Create


class _CheckedTable:
    def __init__(self, session: Callable[[], Session | None], view: Any):
        self._session, self._view = session, view

    def BestIndex(self, *args: Any) -> None:
        return None

    def Open(self) -> _CheckedCursor:
        return _CheckedCursor(self._session, self._view)

    def Disconnect(self) -> None:
        pass

    Destroy = Disconnect


class _CheckedCursor:
    def __init__(self, session: Callable[[], Session | None], view: Any):
        self._session, self._view = session, view
        self._rows: list[tuple] = []
        self._at = 0

    def Filter(self, *args: Any) -> None:
        session = self._session()
        if session is None:
            raise CatalogError("the connection is closed")
        verify(session.db)
        self._rows, self._at = [tuple(r) for r in self._view(session)], 0

    def Eof(self) -> bool:
        return self._at >= len(self._rows)

    def Rowid(self) -> int:
        return self._at

    def Column(self, number: int) -> Any:
        return self._at if number == -1 else self._rows[self._at][number]

    def Next(self) -> None:
        self._at += 1

    def Close(self) -> None:
        pass


if tuple(view.view_name for view in VIEWS) != VIEW_NAMES:  # pragma: no cover - a slip
    raise AssertionError("vtables.views.VIEWS and vtables.catalog.VIEW_NAMES differ")
