"""The embedded queue's idle receivers: in a file this process owns they look once and sleep until something
changes; in a shared file they poll, since other processes may send."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from s3migrate.queues.sqlite import SqliteQueue
from s3migrate.sqlite_db import Database


def counting_reads(db: Database) -> list[int]:
    """Count the reads the queue makes (each idle look is one)."""
    reads = [0]
    original = db.reading

    @contextmanager
    def reading() -> Iterator[Any]:
        reads[0] += 1
        with original() as conn:
            yield conn

    db.reading = reading  # type: ignore[method-assign]
    return reads


def test_an_idle_receiver_of_an_owned_file_does_not_poll(tmp_path: Path) -> None:
    db = Database(tmp_path / "owned.db", owned=True)
    queue = SqliteQueue(db)
    reads = counting_reads(db)
    looks = [0]
    look = queue._anything_visible

    def counting_look(changes: int) -> bool:
        looks[0] += 1
        return look(changes)

    queue._anything_visible = counting_look  # type: ignore[method-assign]
    assert queue.receive(1, visibility_timeout=30, wait_seconds=1.0) == []
    assert looks[0] <= 2 and reads[0] <= 2  # it woke at most once, and asked the file at most once


def test_an_idle_receiver_of_a_shared_file_polls(tmp_path: Path) -> None:
    db = Database(tmp_path / "shared.db")
    queue = SqliteQueue(db, poll_interval=0.05)
    reads = counting_reads(db)
    other = SqliteQueue(Database(tmp_path / "shared.db"))  # another process's handle on the same file
    threading.Timer(0.3, lambda: other.send(["from elsewhere"])).start()
    (message,) = queue.receive(1, visibility_timeout=30, wait_seconds=3.0)
    assert message.body == "from elsewhere"
    assert reads[0] >= 3


def test_wake_receivers_returns_idle_receivers_at_once(tmp_path: Path) -> None:
    queue = SqliteQueue(Database(tmp_path / "owned.db", owned=True))
    threading.Timer(0.2, queue.wake_receivers).start()
    started = time.monotonic()
    assert queue.receive(1, visibility_timeout=30, wait_seconds=10.0) == []
    assert time.monotonic() - started < 5


def test_idle_receivers_of_a_shared_file_take_turns_to_poll(tmp_path: Path) -> None:
    db = Database(tmp_path / "shared.db")
    queue = SqliteQueue(db, poll_interval=0.05)
    reads = counting_reads(db)
    receivers = [threading.Thread(target=queue.receive, args=(1, 30, 1.0)) for _ in range(16)]
    for receiver in receivers:
        receiver.start()
    for receiver in receivers:
        receiver.join(10)
    # one look per poll interval and receiver handover, not one per receiver: 16 x 20 = 320 before
    assert reads[0] < 100


def test_work_found_by_the_polling_receiver_reaches_the_others(tmp_path: Path) -> None:
    queue = SqliteQueue(Database(tmp_path / "shared.db"), poll_interval=0.05)
    other = SqliteQueue(Database(tmp_path / "shared.db"))
    got: list[str] = []
    receivers = [threading.Thread(target=lambda: got.extend(m.body for m in queue.receive(1, 30, 5.0)))
                 for _ in range(4)]
    for receiver in receivers:
        receiver.start()
    time.sleep(0.3)
    other.send(["a", "b", "c", "d"])
    started = time.monotonic()
    for receiver in receivers:
        receiver.join(10)
    assert sorted(got) == ["a", "b", "c", "d"]
    assert time.monotonic() - started < 2


def test_an_owned_file_keeps_count_of_its_messages(tmp_path: Path) -> None:
    """After the sender is done every ack asks whether the queue ran empty: an owned file answers from its
    own count, which must follow sends, acks (stale receipts remove nothing), dead letters and purges."""
    db = Database(tmp_path / "owned.db", owned=True)
    queue = SqliteQueue(db, max_receives=1)

    def table_size() -> int:
        with db.reading() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM queue_messages").fetchone()[0])

    queue.send(["a", "b", "c"])
    assert not queue._empty()
    first, _ = queue.receive(2, visibility_timeout=0)
    queue.ack(first.receipt)
    queue.ack(first.receipt)  # again: already gone, removes nothing
    queue.ack("999:stale")
    reads = counting_reads(db)
    assert not queue._empty() and reads[0] == 0  # answered without asking the file
    assert table_size() == 2
    (third,) = queue.receive(1, visibility_timeout=30)  # "b" was received once already: a dead letter now
    assert third.body == "c"
    assert table_size() == 1 and not queue._empty()
    queue.purge()
    assert table_size() == 0 and queue._empty()
    queue.send(["d"])
    assert not queue._empty()
    queue.sender_done()
    (message,) = queue.receive(1, visibility_timeout=30)
    queue.ack(message.receipt)
    started = time.monotonic()
    assert queue.receive(1, visibility_timeout=30, wait_seconds=10.0) == []  # drained: returns at once
    assert time.monotonic() - started < 1


def test_a_shared_file_counts_what_other_processes_did(tmp_path: Path) -> None:
    queue = SqliteQueue(Database(tmp_path / "shared.db"))
    other = SqliteQueue(Database(tmp_path / "shared.db"))
    queue.send(["a"])
    assert not queue._empty()
    (message,) = other.receive(1, visibility_timeout=30)
    other.ack(message.receipt)
    assert queue._empty()
