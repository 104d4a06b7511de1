"""The frames a program exposes to dataframe_fdw: pandas DataFrames and
pyarrow Tables registered by name, in this process.

A database file can only name a frame the running program registered here;
it never names code or data to load.  ``find`` is what the wrapper looks
frames up with; INSERTs committed through it replace a frame (``replace``)."""

from __future__ import annotations

import sys
import threading
from typing import Any

_lock = threading.Lock()
_frames: dict[str, Any] = {}


def is_frame(frame: Any) -> bool:
    """Whether ``frame`` is a pandas DataFrame or a pyarrow Table (whoever made
    one imported its library: neither is imported here)."""
    pd, pa = sys.modules.get("pandas"), sys.modules.get("pyarrow")
    return (pd is not None and isinstance(frame, pd.DataFrame)) or (
        pa is not None and isinstance(frame, pa.Table)
    )


def is_arrow(frame: Any) -> bool:
    """Whether ``frame`` is a pyarrow Table."""
    pa = sys.modules.get("pyarrow")
    return pa is not None and isinstance(frame, pa.Table)


def register_frame(name: str, frame: Any) -> None:
    """Expose ``frame`` (a ``pandas.DataFrame`` or a ``pyarrow.Table``) to
    dataframe_fdw's foreign tables as ``name``, replacing any frame of that name."""
    if not isinstance(name, str) or not name:
        raise ValueError("a frame's name is a non-empty string")
    if not is_frame(frame):
        raise TypeError(f"frame {name!r}: expected a pandas DataFrame or a pyarrow Table")
    with _lock:
        _frames[name] = frame


def unregister_frame(name: str) -> None:
    """Remove frame ``name`` (nothing happens when there is none)."""
    with _lock:
        _frames.pop(name, None)


def get_frame(name: str) -> Any:
    """The frame registered as ``name`` now (INSERTs committed make a new one)."""
    with _lock:
        try:
            return _frames[name]
        except KeyError:
            raise KeyError(f"no frame is registered as {name!r}") from None


def registered_frames(*, locked: bool = False) -> dict[str, Any]:
    """A snapshot of the registered frames, ``{name: frame}`` (``locked``: the
    caller holds ``lock()``)."""
    if locked:
        return dict(_frames)
    with _lock:
        return dict(_frames)


def find(name: str) -> tuple[str, Any] | None:
    """The registered name and frame for ``name``: the exact name, else the one
    name equal to it ignoring case (SQL folds unquoted names)."""
    found = find_all(name)
    return found[0] if len(found) == 1 else None


def find_all(name: str) -> list[tuple[str, Any]]:
    """``[(name, frame)]`` for the exact name, else every registered name equal
    to it ignoring case (more than one: the name is ambiguous), sorted."""
    with _lock:
        if name in _frames:
            return [(name, _frames[name])]
        folded = name.lower()
        found = [(n, f) for n, f in _frames.items() if n.lower() == folded]
    return sorted(found, key=lambda item: item[0])


def lock() -> threading.Lock:
    """The registry's lock, for a change that reads then replaces frames."""
    return _lock


def replace(name: str, frame: Any) -> None:
    """Put ``frame`` under ``name``; the caller holds ``lock()``."""
    _frames[name] = frame
