"""What the embedded state file pays per object: write transactions of ``sync``'s worker loop (receive, look or
claim, finish or complete, ack), counted on the real SQLite queue and ledger. It fails when a change makes more."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from s3migrate.engine.context import CopyContext, CopyResult
from s3migrate.jobs.job import Job
from s3migrate.ledger.base import JobState
from s3migrate.ledger.sqlite import SqliteLedger
from s3migrate.progress.tracker import Tracker
from s3migrate.queues.sqlite import SqliteQueue
from s3migrate.sqlite_db import Database
from s3migrate.worker.loop import Worker, WorkerSettings
from s3migrate.worker.sender import send_jobs

OBJECTS = 300


class CountingDatabase(Database):
    """The state file, counting its write transactions (each one a COMMIT or a savepoint of a group commit)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.transactions = 0

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        self.transactions += 1
        with super().transaction() as conn:
            yield conn


class InstantCopier:
    """The copy itself is not what is counted here: it reports the job's bytes as landed."""

    def __init__(self, one_request: bool) -> None:
        self._one_request = one_request

    def one_request(self, job: Job) -> bool:
        return self._one_request

    def copy(self, ctx: CopyContext) -> CopyResult:
        return CopyResult(etag='"d"', size=ctx.job.size, bytes_sent=ctx.job.size)


@pytest.mark.parametrize(("one_request", "ceiling"), [(True, 1.3), (False, 2.3)])
def test_write_transactions_per_object(tmp_path: Path, one_request: bool, ceiling: float) -> None:
    db = CountingDatabase(tmp_path / "state.db", owned=True)
    queue, ledger = SqliteQueue(db), SqliteLedger(db)
    jobs = [Job("src", f"k{i:04d}", "dst", f"k{i:04d}", 10_000, None, f'"e{i}"') for i in range(OBJECTS)]
    send_jobs(jobs, ledger, queue)
    sent = db.transactions
    queue.sender_done()
    worker = Worker(queue, ledger, InstantCopier(one_request), WorkerSettings(8, 60, 3, "w"), Tracker())  # type: ignore[arg-type]
    thread = threading.Thread(target=worker.run, kwargs={"finished": lambda: True})
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive()
    per_object = (db.transactions - sent) / OBJECTS
    print(f"one request: {one_request}: {sent / OBJECTS:.2f} to send, {per_object:.2f} to work, per object")
    assert all(r.state is JobState.DONE and r.try_times == 1 for r in ledger.records())
    assert sum(1 for _ in ledger.records()) == OBJECTS and not queue.counts().busy
    assert sent / OBJECTS <= 0.03  # register and send: one transaction each per hundred
    assert per_object <= ceiling
