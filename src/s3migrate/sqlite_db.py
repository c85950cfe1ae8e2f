"""One SQLite file shared by the embedded queue and ledger.

A single connection per process, serialised by a lock: the work per statement is tiny, and WAL mode with
``BEGIN IMMEDIATE`` keeps several processes on one file correct (each waits on the busy timeout).
``synchronous=NORMAL`` survives a killed process; after a power loss the last transactions may be lost,
which is safe because the destination bucket, not this file, is the source of truth.

Group commit, for a file one process owns (``owned=True``: ``sync``'s state file, held under its lock): a
COMMIT costs more than the small state change before it (the WAL pages of the row and its indexes, the lock
handed between 64 worker threads), once or more per copied object. So a finished transaction leaves the write
transaction open (inside it each later one is a savepoint of its own), and the batch is committed once it is
``batch_window`` seconds old (50 ms) or ``batch_limit`` transactions long, by the transaction that finds it so
or, when none comes, by a small thread of this object. A crash loses at most the open batch, which is the same
as crashing that much earlier: the batch is a tail of this connection's changes, in order, so an ``ack`` is
never durable without the ``complete`` before it, and what was lost is planned and copied (or found at the
destination) again. Readers on this connection see the open batch; other processes see it once committed.
Files shared by several processes (``sqlite://`` queues and ledgers of a cluster) commit every transaction, so
that a busy process does not keep the write lock from the others.
``close`` commits what is open.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from s3migrate.errors import StateError

log = logging.getLogger(__name__)


class Database:
    """A thread-safe handle on one SQLite file."""

    def __init__(
        self, path: Path | str, *, owned: bool = False, create: bool = True, batch_window: float = 0.05,
        batch_limit: int = 256,
    ) -> None:
        """``owned``: no other process writes to this file while this one has it open. ``create``: make the
        file (and its folder) when missing; read-only commands pass False and get a StateError instead."""
        self.path = Path(path)
        self.owned = owned
        try:
            if str(path) != ":memory:":
                self._prepare(create)
            self._conn = sqlite3.connect(
                str(path), timeout=60.0, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=60000")
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        except OSError as exc:
            raise StateError(f"cannot open state file {path}: {exc.strerror or exc}; choose another place with "
                             "--state PATH (or run from a folder you can write)") from None
        self._lock = threading.RLock()
        self._depth = 0  # nesting of _held() in the thread that holds the lock
        self._batch_window, self._batch_limit = batch_window, batch_limit
        self._batch_started: float | None = None  # monotonic time the open write transaction began
        self._batched = 0  # transactions in the open batch
        self._refs = 0
        self._closed = False
        if owned:  # a batch nobody adds to is committed by this thread once it is ``batch_window`` old
            threading.Thread(target=self._commit_late_batches, name="s3migrate-state-commit", daemon=True).start()

    def _prepare(self, create: bool) -> None:
        """A new state file and its folder are private to the user (0600 / 0700): they hold the bucket's
        inventory. Nothing is created for a read-only command."""
        if self.path.exists():
            if not self.path.is_file():
                raise StateError(f"state file {self.path} is not a file")
            return
        if not create:
            raise StateError(f"no state file at {self.path}")
        if not self.path.parent.exists():
            self.path.parent.mkdir(mode=0o700, parents=True)
        os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))

    def _error(self, exc: sqlite3.Error) -> StateError:
        """One line that names the file and what to do, for anything SQLite says about it."""
        text = str(exc)
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            hint = "it (or its folder) is read-only: make both writable, or choose another place with --state PATH"
        elif "not a database" in text or "malformed" in text or "file is encrypted" in text:
            hint = ("it is not an s3migrate state file, or it is damaged: move it away (the next run plans again "
                    "from the buckets and resumes unfinished uploads) or choose another with --state PATH")
        elif "locked" in text or "busy" in text:
            hint = "another process holds it: wait for it, or choose another place with --state PATH"
        else:
            hint = "choose another place with --state PATH"
        return StateError(f"state file {self.path}: {text}; {hint}")

    @contextmanager
    def _held(self) -> Iterator[None]:
        """The connection, for this thread alone; on the way out an open batch is committed if the file is shared,
        or the batch is ``batch_window`` old or ``batch_limit`` transactions long."""
        self._lock.acquire()
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            try:
                if self._depth == 0 and self._batch_started is not None and (
                    not self.owned
                    or self._batched >= self._batch_limit
                    or time.monotonic() - self._batch_started >= self._batch_window
                ):
                    self._commit()
            finally:
                self._lock.release()

    def _commit_late_batches(self) -> None:
        """An owned file's batch is committed once it is ``batch_window`` old, by the next transaction or by
        this thread when no transaction comes (a quiet moment, the end of a run)."""
        while True:
            time.sleep(self._batch_window)
            with self._lock:
                if self._closed:
                    return
                if self._depth == 0 and self._batch_started is not None \
                        and time.monotonic() - self._batch_started >= self._batch_window:
                    try:
                        self._commit()
                    except StateError as exc:  # rolled back: what it recorded is planned and copied again
                        log.error("%s; the last changes were not saved, the next run redoes them", exc)

    def _commit(self) -> None:
        self._batch_started = None
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise self._error(exc) from None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locking) transaction: all of it or none of it."""
        with self._held():
            joined = self._batch_started is not None
            try:
                if joined:
                    self._conn.execute("SAVEPOINT tx")
                else:
                    self._conn.execute("BEGIN IMMEDIATE")
                    self._batch_started, self._batched = time.monotonic(), 0
            except sqlite3.Error as exc:
                raise self._error(exc) from None
            try:
                yield self._conn
            except BaseException as exc:
                if joined:  # undo this transaction only; the batch it joined stays
                    self._conn.execute("ROLLBACK TO tx")
                    self._conn.execute("RELEASE tx")
                else:
                    self._batch_started = None
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._error(exc) from None
                raise
            if joined:
                self._conn.execute("RELEASE tx")
            self._batched += 1

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads; they see this process's batched changes, committed or not."""
        with self._held():
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise self._error(exc) from None

    def executescript(self, script: str) -> None:
        with self._held():
            if self._batch_started is not None:
                self._commit()  # executescript would commit it anyway
            try:
                self._conn.executescript(script)
            except sqlite3.Error as exc:
                raise self._error(exc) from None

    def acquire(self) -> Database:
        with self._lock:
            self._refs += 1
        return self

    def close(self) -> None:
        with self._held():
            self._refs -= 1
            if self._refs <= 0:
                if self._batch_started is not None:
                    self._commit()
                self._conn.close()
                self._closed = True
