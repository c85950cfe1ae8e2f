"""One SQLite file shared by the embedded queue and ledger.

A single connection per process, serialised by a lock: the work per statement is tiny, and WAL mode with
``BEGIN IMMEDIATE`` keeps several processes on one file correct (each waits on the busy timeout).
``synchronous=NORMAL`` survives a killed process; after a power loss the last transactions may be lost,
which is safe because the destination bucket, not this file, is the source of truth.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from s3migrate.errors import StateError


class Database:
    """A thread-safe handle on one SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                str(path), timeout=60.0, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=60000")
        except (sqlite3.Error, OSError) as exc:
            raise StateError(f"cannot open state file {path}: {exc}") from None
        self._lock = threading.RLock()
        self._refs = 0

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locking) transaction."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StateError(f"state file {self.path}: {exc}") from None
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def executescript(self, script: str) -> None:
        with self._lock:
            try:
                self._conn.executescript(script)
            except sqlite3.DatabaseError as exc:
                raise StateError(f"state file {self.path} is not usable: {exc}") from None

    def acquire(self) -> Database:
        with self._lock:
            self._refs += 1
        return self

    def close(self) -> None:
        with self._lock:
            self._refs -= 1
            if self._refs <= 0:
                self._conn.close()
