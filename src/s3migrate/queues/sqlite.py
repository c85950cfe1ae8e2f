"""The embedded queue: SQS semantics in a SQLite table (visibility timeouts, receive counts, dead letters)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence

from s3migrate.queues.base import Message, QueueCounts
from s3migrate.sqlite_db import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    body          TEXT NOT NULL,
    visible_at    REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT,
    sent_at       REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (visible_at, id);
CREATE TABLE IF NOT EXISTS queue_dead_letters (
    id            INTEGER PRIMARY KEY,
    body          TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    dead_at       REAL NOT NULL
);
"""


class SqliteQueue:
    """A WorkQueue in a SQLite file; several processes may share it."""

    def __init__(self, db: Database, *, max_receives: int = 0, poll_interval: float = 0.05) -> None:
        """``max_receives`` > 0 moves a message to the dead letters on its next receive after that many.

        Idle receivers look at the table every ``poll_interval`` seconds (one of them at a time per process)
        for messages that other processes sent or returned. When this process owns the file (``db.owned``,
        as in ``sync``) nothing changes it behind this object's back: an idle receiver then looks once and
        sleeps until this process sends or returns a message, or until the earliest invisible message comes
        due (a delayed retry)."""
        self._db = db.acquire()
        self._max_receives = max_receives
        self._poll = poll_interval
        self._changed = threading.Condition()  # wakes this process's idle receivers when work arrives
        self._changes = 0  # sends and visibility changes by this process, counted under _changed
        self._quiet: tuple[int, float] | None = None  # (changes, due): nothing visible before ``due`` as of then
        self._nudges = 0  # idle receivers return when this changes (the sender finished, then the queue ran empty)
        self._draining = False  # the sender is done: an ack that empties the queue nudges the receivers
        self._flowing = False  # the last receive found work: the next one skips the read-only look first
        self._looking = False  # shared file: one idle receiver of this process polls it, the others wait
        self._db.executescript(_SCHEMA)
        self._size: int | None = None  # owned file: messages in the table, kept by this process once counted

    def _wake(self) -> None:
        with self._changed:
            self._changes += 1
            self._changed.notify_all()

    def send(self, bodies: Sequence[str]) -> None:
        now = time.time()
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT INTO queue_messages (body, visible_at, sent_at) VALUES (?, ?, ?)",
                [(body, now, now) for body in bodies],
            )
            self._resized(len(bodies))
        self._wake()

    def receive(self, max_messages: int, visibility_timeout: float, wait_seconds: float = 0.0) -> list[Message]:
        """Idle receivers look with a read (no write transaction, no WAL write) and sleep until this process
        sends or returns a message, or the next look is due (see ``__init__``)."""
        deadline = time.monotonic() + wait_seconds
        nudges = self._nudges
        while True:
            changes = self._changes
            flowing = self._flowing
            if flowing or self._anything_visible(changes):
                messages = self._receive_now(max_messages, visibility_timeout)
                self._flowing = bool(messages)
                if messages:
                    if not flowing and not self._db.owned:
                        self._wake()  # work arrived from elsewhere: the other idle receivers may take some
                    return messages
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._nudges != nudges:  # let the caller look whether its work is over
                return []
            if self._draining and self._empty():  # nothing more will come: no need to wait out the receive
                return []
            with self._changed:
                if self._changes != changes or self._nudges != nudges:
                    continue
                if self._db.owned:
                    self._changed.wait(timeout=min(self._next_look(changes), remaining))
                elif self._looking:  # another idle receiver of this process looks at the file for all
                    self._changed.wait(timeout=remaining)
                else:
                    self._looking = True
                    try:
                        self._changed.wait(timeout=min(self._poll, remaining))
                    finally:
                        self._looking = False
                        self._changed.notify()  # let another idle receiver take the next look

    def _next_look(self, changes: int) -> float:
        """Owned file: sleep until the earliest invisible message comes due, if the last look is still current."""
        if self._quiet is None or self._quiet[0] != changes:
            return self._poll
        return max(0.0, self._quiet[1] - time.time())

    def _anything_visible(self, changes: int) -> bool:
        """Whether a message is visible now. In an owned file the answer stays valid until this process
        changes the queue or the earliest invisible message comes due, so idle receivers do not ask again."""
        now = time.time()
        if self._db.owned and self._quiet is not None and self._quiet[0] == changes and now < self._quiet[1]:
            return False
        with self._db.reading() as conn:
            (due,) = conn.execute("SELECT MIN(visible_at) FROM queue_messages").fetchone()
        if due is not None and due <= now:
            return True
        self._quiet = (changes, float("inf") if due is None else due)
        return False

    def _empty(self) -> bool:
        """Asked after every ack once the sender is done. An owned file counts its messages once and then
        keeps the count itself, which saves a read (and a turn at the connection) per copied object."""
        if self._size is not None:
            return self._size == 0
        with self._db.reading() as conn:
            (size,) = conn.execute("SELECT COUNT(*) FROM queue_messages").fetchone()
            if self._db.owned:
                self._size = size
            return bool(size == 0)

    def _resized(self, change: int) -> None:
        """Called last in the transaction that added or removed ``change`` messages, under the file's lock."""
        if self._size is not None:
            self._size += change

    def _receive_now(self, max_messages: int, visibility_timeout: float) -> list[Message]:
        now = time.time()
        out: list[Message] = []
        dead = 0
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT id, body, receive_count FROM queue_messages WHERE visible_at <= ? ORDER BY id LIMIT ?",
                (now, max_messages * 2 if self._max_receives else max_messages),
            ).fetchall()
            for msg_id, body, count in rows:
                if self._max_receives and count >= self._max_receives:
                    conn.execute(
                        "INSERT OR REPLACE INTO queue_dead_letters (id, body, receive_count, dead_at)"
                        " VALUES (?, ?, ?, ?)",
                        (msg_id, body, count, now),
                    )
                    conn.execute("DELETE FROM queue_messages WHERE id = ?", (msg_id,))
                    dead += 1
                    continue
                if len(out) >= max_messages:
                    break
                receipt = f"{msg_id}:{uuid.uuid4().hex}"
                conn.execute(
                    "UPDATE queue_messages SET visible_at = ?, receive_count = receive_count + 1, receipt = ?"
                    " WHERE id = ?",
                    (now + visibility_timeout, receipt, msg_id),
                )
                out.append(Message(str(msg_id), body, receipt, count + 1))
            self._resized(-dead)
        return out

    def ack(self, receipt: str) -> None:
        self.ack_many([receipt])

    def ack_many(self, receipts: Sequence[str]) -> None:
        """One transaction for them all."""
        with self._db.transaction() as conn:
            deleted = sum(conn.execute("DELETE FROM queue_messages WHERE id = ? AND receipt = ?",
                                       (_message_id(receipt), receipt)).rowcount for receipt in receipts)
            self._resized(-deleted)
        if self._draining and self._empty():
            self.wake_receivers()

    def sender_done(self) -> None:
        """Nothing more will be sent by this process: from now on idle receivers return when the queue runs
        empty (and now), instead of at their wait's end, so a finished run ends at once. Before, an empty
        queue only means the sender is behind, and waking every receiver then would cost CPU for nothing."""
        self._draining = True
        self.wake_receivers()

    def wake_receivers(self) -> None:
        """Idle receivers of this process return now, so their callers look whether to stop."""
        with self._changed:
            self._nudges += 1
            self._changed.notify_all()

    def change_visibility(self, receipt: str, timeout: float) -> None:
        self.change_visibility_many([receipt], timeout)

    def change_visibility_many(self, receipts: Sequence[str], timeout: float) -> None:
        visible_at = time.time() + timeout
        with self._db.transaction() as conn:
            conn.executemany("UPDATE queue_messages SET visible_at = ? WHERE id = ? AND receipt = ?",
                             [(visible_at, _message_id(receipt), receipt) for receipt in receipts])
        self._wake()  # returned now, or due at another time than idle receivers expect

    def dead_letter(self, message: Message, reason: str) -> bool:
        with self._db.transaction() as conn:
            moved = conn.execute("DELETE FROM queue_messages WHERE id = ? AND receipt = ?",
                                 (_message_id(message.receipt), message.receipt)).rowcount
            if moved:
                conn.execute(
                    "INSERT OR REPLACE INTO queue_dead_letters (id, body, receive_count, dead_at) VALUES (?, ?, ?, ?)",
                    (_message_id(message.receipt), message.body, message.receive_count, time.time()),
                )
            self._resized(-moved)
        return True

    def counts(self) -> QueueCounts:
        now = time.time()
        with self._db.reading() as conn:
            visible, in_flight = conn.execute(
                "SELECT COALESCE(SUM(visible_at <= ?), 0), COALESCE(SUM(visible_at > ?), 0) FROM queue_messages",
                (now, now),
            ).fetchone()
            (dead,) = conn.execute("SELECT COUNT(*) FROM queue_dead_letters").fetchone()
        return QueueCounts(int(visible), int(in_flight), int(dead))

    def purge(self) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM queue_messages")
            if self._size is not None:
                self._size = 0

    def close(self) -> None:
        self._db.close()


def _message_id(receipt: str) -> int:
    """Receipts are ``<id>:<nonce>``: look the row up by its key, then check the nonce is still current."""
    head = receipt.split(":", 1)[0]
    return int(head) if head.isdigit() else -1
