"""Opening the files a database file names, for the wrappers that read them.

Only a regular file is opened unless the program allows others: a database
file naming a FIFO must not make a scan wait for a writer, nor a device make
it read for ever.  The file is looked at before it is opened (opening a FIFO
waits), opened without waiting, and looked at again (it may have been
replaced in between)."""

from __future__ import annotations

import errno
import os
import stat
from typing import Any


class SpecialFile(OSError):
    """The file is not a regular file, and the program did not allow others."""


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, for an error message."""
    for test, kind in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "of an unknown kind"


def open_raw(path: str, allow_special: bool, buffering: int = -1) -> Any:
    """The file, opened for reading bytes: FileNotFoundError, IsADirectoryError
    or SpecialFile (its kind the message) when it may not be read."""
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if not stat.S_ISREG(mode):
        if not allow_special:
            raise SpecialFile(file_kind(mode))
        return open(path, "rb", buffering=buffering)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # replaced since: look again
            raise SpecialFile(file_kind(mode))
        return open(fd, "rb", buffering=buffering)
    except BaseException:
        os.close(fd)
        raise
