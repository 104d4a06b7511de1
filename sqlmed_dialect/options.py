"""The dialect's keywords and SQL/MED options: where they are read, which are secret.

A foreign table is a :class:`~sqlalchemy.schema.Table` with ``sqlmed_server``
(and ``sqlmed_options``); its columns take ``sqlmed_options`` and its CHECK
constraints ``sqlmed_not_valid``.  They are declared in the dialect's
``construct_arguments`` (:data:`CONSTRUCT_ARGUMENTS`) and read only through
``dialect_options["sqlmed"]``.  Option values that a wrapper marks secret
are shown as :data:`MASK` wherever SQLAlchemy shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import schema as sa_schema
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.schema import SchemaItem

from vtables import catalog
from vtables.wrapper import DEFAULT_SECRETS, find_wrapper

MASK = catalog.MASK

#: The dialect's keywords, per schema item, with their defaults.
CONSTRUCT_ARGUMENTS: list[tuple[type[SchemaItem] | type[ClauseElement], Mapping[str, Any]]] = [
    (sa_schema.Table, {"server": None, "options": None}),
    (sa_schema.Column, {"options": None}),
    (sa_schema.CheckConstraint, {"not_valid": False}),
]


def foreign_server(table: sa_schema.Table) -> str | None:
    """The server of a Table declared (or reflected) as a foreign table."""
    return table.dialect_options["sqlmed"]["server"]


def table_options(table: sa_schema.Table) -> dict[str, str] | None:
    """A foreign table's ``sqlmed_options``."""
    return table.dialect_options["sqlmed"]["options"]


def column_options(column: sa_schema.Column[Any]) -> dict[str, str] | None:
    """A foreign table column's ``sqlmed_options``."""
    return column.dialect_options["sqlmed"]["options"]


def is_secret_option(key: str, wrapper: str | None = None, kind: str = "table") -> bool:
    """Whether an option is a secret: the wrapper's option specs say so when the
    wrapper is installed and known, else the usual names (password, token...)."""
    if wrapper:
        try:
            cls = find_wrapper(wrapper)
        except Exception:  # noqa: BLE001 - an uninstallable wrapper: fall back on names
            cls = None
        if cls is not None:
            spec = cls.specs_for(kind).get(key)
            if spec is not None:
                return spec.secret
    return key.lower() in DEFAULT_SECRETS


def shown_options(
    options: Mapping[str, str] | None, wrapper: str | None, kind: str
) -> dict[str, str]:
    """``options`` as a repr may show them: secret values masked."""
    return {
        k: (MASK if is_secret_option(k, wrapper, kind) else v) for k, v in (options or {}).items()
    }
