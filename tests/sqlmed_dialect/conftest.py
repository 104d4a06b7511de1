"""Fixtures shared by the dialect's tests."""

from __future__ import annotations

import pytest

from sqlmed_dialect import dbapi


@pytest.fixture
def two_connections(tmp_path):
    """``open(timeout)``: two DB-API connections to one file, ``a`` and ``b``
    (``b`` waits ``timeout`` seconds for a lock), with a table ``t (a)`` made by
    ``a``; both closed at the end."""
    opened: list[dbapi.Connection] = []

    def open_(timeout: float) -> tuple[dbapi.Connection, dbapi.Connection]:
        path = str(tmp_path / "app.db")
        opened.extend((dbapi.connect(path), dbapi.connect(path, timeout=timeout)))
        opened[0].execute("CREATE TABLE t (a)")
        return opened[0], opened[1]

    yield open_
    for connection in opened:
        connection.close()
