"""Group commit in the state file: batches only form while threads wait, stay atomic per transaction,
and everything is committed once nobody waits (or on ``close``)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from s3migrate.sqlite_db import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "state.db", owned=True, batch_window=5.0).acquire()
    database.executescript("CREATE TABLE t (k TEXT PRIMARY KEY)")
    yield database
    database.close()


def committed(db: Database) -> set[str]:
    """What another connection (another process, or this one after a crash) sees."""
    other = sqlite3.connect(str(db.path))
    try:
        return {row[0] for row in other.execute("SELECT k FROM t")}
    finally:
        other.close()


def insert(db: Database, key: str) -> None:
    with db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES (?)", (key,))


def while_another_waits(db: Database, body: Callable[[sqlite3.Connection], None],
                        waiter: Callable[[], None]) -> threading.Thread:
    """Run ``body`` in a transaction, and leave it only once ``waiter`` (in a thread) is blocked on the
    connection: the batch then stays open for the waiter."""
    thread = threading.Thread(target=waiter)
    with db.transaction() as conn:
        body(conn)
        thread.start()
        deadline = time.monotonic() + 10
        while db._waiting == 0:
            assert time.monotonic() < deadline, "the waiter never blocked"
            time.sleep(0.001)
    return thread


def test_without_waiters_every_transaction_commits_at_once(db: Database) -> None:
    insert(db, "a")
    assert committed(db) == {"a"}


def test_a_batch_stays_open_for_a_waiter_and_its_last_member_commits_it(db: Database) -> None:
    seen_during: list[set[str]] = []

    def waiter() -> None:
        seen_during.append(committed(db))  # the first transaction is not committed yet
        insert(db, "b")

    thread = while_another_waits(db, lambda conn: conn.execute("INSERT INTO t VALUES ('a')"), waiter)
    thread.join(10)
    assert seen_during == [set()]
    assert committed(db) == {"a", "b"}


def test_a_failed_transaction_in_a_batch_is_undone_alone(db: Database) -> None:
    errors: list[BaseException] = []

    def failing() -> None:
        try:
            with db.transaction() as conn:
                conn.execute("INSERT INTO t VALUES ('b')")
                raise RuntimeError("boom")
        except RuntimeError as exc:
            errors.append(exc)
        insert(db, "c")

    thread = while_another_waits(db, lambda conn: conn.execute("INSERT INTO t VALUES ('a')"), failing)
    thread.join(10)
    assert len(errors) == 1
    assert committed(db) == {"a", "c"}


def test_reads_see_the_open_batch(db: Database) -> None:
    seen: list[int] = []

    def reader() -> None:
        with db.reading() as conn:
            seen.append(conn.execute("SELECT COUNT(*) FROM t").fetchone()[0])

    thread = while_another_waits(db, lambda conn: conn.execute("INSERT INTO t VALUES ('a')"), reader)
    thread.join(10)
    assert seen == [1]
    assert committed(db) == {"a"}  # the reader was the last to hold the connection: it committed


def test_without_a_window_every_transaction_commits_even_with_waiters(tmp_path: Path) -> None:
    db = Database(tmp_path / "shared.db").acquire()  # a file several processes share
    db.executescript("CREATE TABLE t (k TEXT PRIMARY KEY)")
    seen: list[set[str]] = []
    def waiter() -> None:
        with db.reading():
            seen.append(committed(db))

    thread = while_another_waits(db, lambda conn: conn.execute("INSERT INTO t VALUES ('a')"), waiter)
    thread.join(10)
    assert seen == [{"a"}]
    db.close()


def test_many_threads_batch_and_nothing_is_lost(tmp_path: Path) -> None:
    db = Database(tmp_path / "many.db", owned=True).acquire()
    db.executescript("CREATE TABLE t (k TEXT PRIMARY KEY)")
    commits = 0
    original = db._commit

    def counting_commit() -> None:
        nonlocal commits
        commits += 1
        original()

    db._commit = counting_commit  # type: ignore[method-assign]

    def work(n: int) -> None:
        for i in range(200):
            insert(db, f"{n}-{i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(committed(db)) == 1600  # all committed once the threads are done, before close
    assert commits < 1600
    db.close()


def test_close_commits_an_open_batch(tmp_path: Path) -> None:
    db = Database(tmp_path / "close.db", owned=True, batch_window=5.0).acquire()
    db.executescript("CREATE TABLE t (k TEXT PRIMARY KEY)")
    db._waiting = 1  # as if a thread were about to join: the batch stays open
    insert(db, "a")
    assert committed(db) == set()
    db._waiting = 0
    db.close()
    assert committed(db) == {"a"}
