"""What the SQL/MED commands share: names, options and their validation, lookups."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlglot import exp

from .. import catalog, grammar, sqltext
from .. import wrapper as wrapper_api
from ..catalog import PUBLIC
from ..errors import (
    DuplicateObjectError,
    SQLMedError,
    UndefinedObjectError,
)
from ..grammar import MedOption
from ..session import installed_class

if TYPE_CHECKING:
    from ..session import Session

logger = logging.getLogger(__name__)

LOCAL_SCHEMAS = ("main", "public")


def name_of(ident: exp.Identifier) -> str:
    """PostgreSQL folds unquoted names to lower case."""
    return ident.this if ident.args.get("quoted") else ident.this.lower()


#: an identifier quoted for SQLite
qi = sqltext.quote_name


# ------------------------------------------------------------------ options


def apply_options(
    current: dict[str, str], items: list[MedOption] | None, what: str
) -> dict[str, str]:
    """New option list after ADD/SET/DROP items (a bare item means ADD),
    applied in order as PostgreSQL does: ``ADD x '1', DROP x`` is fine."""
    new = dict(current)
    for item in items or ():
        key = name_of(item.this)
        action = item.args.get("action") or "ADD"
        if action == "ADD":
            if key in new:
                raise DuplicateObjectError(
                    f'option "{key}" provided more than once for {what}',
                    hint="Use SET to change the value of an existing option.",
                )
            new[key] = item.args.get("value") or ""
        elif key not in new:
            raise UndefinedObjectError(f'option "{key}" not found for {what}')
        elif action == "SET":
            new[key] = item.args.get("value") or ""
        else:
            del new[key]
    return new


def validator_of(fdw: catalog.Wrapper) -> type[wrapper_api.ForeignDataWrapper] | None:
    return installed_class(fdw, "validator") if fdw.validator else None


def validate(fdw: catalog.Wrapper, kind: str, options: dict[str, str], name: str) -> None:
    cls = validator_of(fdw)
    if cls is not None:
        cls.validate(kind, options, object_name=name)


def function_class(function: str, suffix: str) -> None:
    cls = (
        wrapper_api.handler_class(function)
        if suffix == "handler"
        else wrapper_api.validator_class(function)
    )
    if cls is None:
        raise UndefinedObjectError(
            f"function {function}() does not exist",
            hint=f"{suffix.capitalize()} names are <wrapper>_{suffix} for an installed wrapper; "
            f"installed: {', '.join(wrapper_api.available_wrappers()) or 'none'}.",
        )


# ---------------------------------------------------------------- lookups


def wrapper_named(session: Session, name: str) -> catalog.Wrapper:
    fdw = catalog.get_wrapper(session.db, name)
    if fdw is None:
        raise UndefinedObjectError(f'foreign-data wrapper "{name}" does not exist')
    return fdw


def server_named(session: Session, name: str) -> catalog.Server:
    server = catalog.get_server(session.db, name)
    if server is None:
        raise UndefinedObjectError(f'server "{name}" does not exist')
    return server


def server_wrapper(session: Session, server: catalog.Server) -> catalog.Wrapper:
    return wrapper_named(session, server.fdw)


def resolve_user(session: Session, user: grammar.MedUser) -> str:
    keyword = user.args.get("keyword")
    if keyword == "PUBLIC":
        return PUBLIC
    if keyword:
        return session.user
    name = name_of(user.this)
    return PUBLIC if name == PUBLIC else name


def relation_exists(session: Session, name: str) -> bool:
    row = session.db.execute(
        "SELECT 1 FROM main.sqlite_master WHERE name=? COLLATE NOCASE"
        " AND type IN ('table', 'view', 'index')",
        (name,),
    ).fetchone()
    return row is not None


def skip_or_raise(session: Session, error: type[SQLMedError], message: str, skip: object) -> None:
    """IF [NOT] EXISTS: with ``skip``, a notice that the statement passes the
    object by (as PostgreSQL's "..., skipping"); else the error."""
    if not skip:
        raise error(message)
    session.notice(message + ", skipping")
