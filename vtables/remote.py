"""Remote transactions that follow the local one, savepoints included.

A wrapper that writes to a source with transactions (another database)
keeps one connection per server and user on the session, shared by the
tables of that server; the local transaction's begin, commit, rollback and
savepoints must reach that connection once, whichever table saw them.  As
Multicorn's TransactionAwareForeignDataWrapper does for PostgreSQL, the
mechanism is written once: ``RemoteTransaction`` keeps the state (is a
remote transaction the local one's? which savepoints are open?) and calls
the source's own verbs; ``TransactionAware`` is the wrapper side.
"""

from __future__ import annotations

from typing import ClassVar

from .wrapper import ForeignDataWrapper


class RemoteTransaction:
    """A remote connection's transaction, as the local transaction drives it.

    Subclasses say how the source begins, ends and marks savepoints
    (``start``, ``finish``, ``mark``, ``unmark``, ``undo_to``); this class
    decides when.  ``local`` is true while the local transaction owns a remote
    one; ``savepoints`` lists the levels open remotely, outermost first.
    """

    def __init__(self) -> None:
        self.local = False
        self.savepoints: list[int] = []

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open remotely (the session keeps such a
        connection when its server changes, until the transaction ends)."""
        return self.local

    # -- the source's verbs
    def start(self) -> None:
        """Begin a remote transaction."""
        raise NotImplementedError

    def finish(self, commit: bool) -> None:
        """Commit (or roll back) the remote transaction."""
        raise NotImplementedError

    def mark(self, level: int) -> None:
        """Open savepoint ``level``."""
        raise NotImplementedError

    def unmark(self, level: int) -> None:
        """Release savepoint ``level`` (and those inside it)."""
        raise NotImplementedError

    def undo_to(self, level: int) -> None:
        """Roll back to savepoint ``level``, which stays open."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection."""

    # -- when
    def begin(self) -> None:
        if not self.local:
            self.start()
            self.local = True

    def end(self, commit: bool) -> None:
        """Commit or roll back the local transaction's remote one, if open."""
        if self.local:
            self.local = False
            self.savepoints.clear()
            self.finish(commit)

    def savepoint(self, level: int) -> None:
        if self.local and level not in self.savepoints:
            self.mark(level)
            self.savepoints.append(level)

    def release(self, level: int) -> None:
        if level in self.savepoints:
            self.unmark(level)
            del self.savepoints[self.savepoints.index(level) :]

    def rollback_to(self, level: int) -> None:
        if level in self.savepoints:
            self.undo_to(level)
            del self.savepoints[self.savepoints.index(level) + 1 :]
        elif level < 0 and self.local:
            # the transaction's start (ROLLBACK TO the SAVEPOINT that opened the
            # local transaction): everything undone, the transaction still open
            self.savepoints.clear()
            self.finish(False)
            self.start()


class TransactionAware(ForeignDataWrapper):
    """A wrapper whose transaction tier drives ``transaction()``'s remote one."""

    #: True: the remote transaction commits when SQLite syncs, before the local
    #: commit, so that a failing remote commit fails the local COMMIT; False:
    #: after the local commit.
    commit_on_sync: ClassVar[bool] = True

    def transaction(self, start: bool = False) -> RemoteTransaction | None:
        """The shared remote connection of this table's server and user:
        opened when ``start``, else None when none is open."""
        raise NotImplementedError

    def transaction_error(self, err: Exception, what: str) -> Exception:
        """The error to raise for ``err``, raised by the source while doing
        ``what`` ("remote commit", ...); by default ``err`` itself."""
        return err

    def _end(self, commit: bool) -> None:
        remote = self.transaction()
        if remote is not None:
            try:
                remote.end(commit)
            except Exception as err:
                error = self.transaction_error(
                    err, "remote commit" if commit else "remote rollback"
                )
                if error is err:
                    raise
                raise error from None

    def begin(self) -> None:
        remote = self.transaction(start=True)
        if remote is not None:
            remote.begin()

    def pre_commit(self) -> None:
        if self.commit_on_sync:
            self._end(True)

    def commit(self) -> None:
        self._end(True)

    def rollback(self) -> None:
        self._end(False)

    def savepoint(self, level: int) -> None:
        remote = self.transaction()
        if remote is not None:
            remote.savepoint(level)

    def release(self, level: int) -> None:
        remote = self.transaction()
        if remote is not None:
            remote.release(level)

    def rollback_to(self, level: int) -> None:
        remote = self.transaction()
        if remote is not None:
            remote.rollback_to(level)
