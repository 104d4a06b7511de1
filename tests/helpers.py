"""Helpers the test modules share: refused statements and local databases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import vtables


def refuses(conn: Any, *cases: tuple[str, type[BaseException], str]) -> list[BaseException]:
    """Each case ``(sql, error, match)``: running all of ``sql`` on ``conn``
    (every statement, every row) raises ``error`` with a message in which
    ``match`` is found, as ``pytest.raises(error, match=match)`` checks it.
    The errors, in order; a case that fails names its statement."""
    errors = []
    for sql, error, match in cases:
        try:
            with pytest.raises(error, match=match) as info:
                conn.execute(sql).fetchall()
        except (AssertionError, pytest.fail.Exception) as failed:
            raise AssertionError(f"{sql}\n{failed}") from None
        errors.append(info.value)
    return errors


def local_database(path: Any, script: str = "") -> Iterator[vtables.Connection]:
    """A fixture's body: a connection as ``alice`` to the database at ``path``,
    set up by ``script``; afterwards its postgres_fdw connections are closed,
    then it."""
    from vtables.wrappers import postgres_fdw

    conn = vtables.connect(str(path), user="alice")
    conn.execute(script)
    yield conn
    postgres_fdw.disconnect_all(conn)
    conn.close()
