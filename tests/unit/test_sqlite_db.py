"""Group commit in the state file: an owned file's transactions join one batch for up to ``batch_window`` seconds or
``batch_limit`` transactions, each stays atomic, and the batch is committed within the window even when no
transaction follows (and on ``close``); a shared file commits every transaction."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
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


def test_a_batch_is_committed_within_its_window_by_nobody_in_particular(tmp_path: Path) -> None:
    db = Database(tmp_path / "window.db", owned=True, batch_window=0.2).acquire()
    db.executescript("CREATE TABLE t (k TEXT PRIMARY KEY)")
    insert(db, "a")
    assert committed(db) == set()  # the batch is open for the next transactions
    deadline = time.monotonic() + 5
    while committed(db) != {"a"}:  # no transaction follows: the committer thread commits it
        assert time.monotonic() < deadline, "the batch was never committed"
        time.sleep(0.05)
    db.close()


def test_transactions_join_the_open_batch_and_the_limit_commits_it(tmp_path: Path) -> None:
    db = Database(tmp_path / "limit.db", owned=True, batch_window=5.0, batch_limit=3).acquire()
    db.executescript("CREATE TABLE t (k TEXT PRIMARY KEY)")
    insert(db, "a")
    insert(db, "b")
    assert committed(db) == set()
    insert(db, "c")
    assert committed(db) == {"a", "b", "c"}
    db.close()


def test_a_failed_transaction_in_a_batch_is_undone_alone(db: Database) -> None:
    insert(db, "a")
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES ('b')")
        raise RuntimeError("boom")
    insert(db, "c")
    db.close()
    assert committed(db) == {"a", "c"}
    db.acquire()  # the fixture closes it again


def test_reads_see_the_open_batch(db: Database) -> None:
    insert(db, "a")
    with db.reading() as conn:
        assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1
    assert committed(db) == set()  # another process sees it once the batch commits


def test_a_shared_file_commits_every_transaction(tmp_path: Path) -> None:
    db = Database(tmp_path / "shared.db").acquire()  # a file several processes share
    db.executescript("CREATE TABLE t (k TEXT PRIMARY KEY)")
    insert(db, "a")
    assert committed(db) == {"a"}
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
    time.sleep(0.3)  # the batch window (0.05 s) passes
    assert len(committed(db)) == 1600  # all committed once the threads are done, before close
    assert commits < 1600
    db.close()


def test_close_commits_an_open_batch(tmp_path: Path) -> None:
    db = Database(tmp_path / "close.db", owned=True, batch_window=5.0).acquire()
    db.executescript("CREATE TABLE t (k TEXT PRIMARY KEY)")
    insert(db, "a")
    assert committed(db) == set()
    db.close()
    assert committed(db) == {"a"}
