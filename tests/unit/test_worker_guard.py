"""A worker thread survives what a job's handling did not expect, and the run says so."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from s3migrate.jobs.codec import encode_job
from s3migrate.jobs.job import Job
from s3migrate.ledger.sqlite import SqliteLedger
from s3migrate.progress.tracker import Tracker
from s3migrate.queues.sqlite import SqliteQueue
from s3migrate.sqlite_db import Database
from s3migrate.worker.loop import Worker, WorkerSettings


class ExplodingLedger(SqliteLedger):
    """A ledger whose first claim raises what no backend should (a bug, a library surprise)."""

    exploded = False

    def claim(self, job: Job, owner: str, lease_seconds: float) -> Any:
        if not self.exploded:
            self.exploded = True
            raise KeyError("an attribute nobody expected")
        return super().claim(job, owner, lease_seconds)


class NullCopier:
    def one_request(self, job: Job) -> bool:
        return False  # every job is claimed, so the exploding claim is reached

    def copy(self, ctx: Any) -> Any:
        from s3migrate.engine.context import CopyResult

        return CopyResult(etag='"e"', size=ctx.job.size, bytes_sent=ctx.job.size)


def test_an_unexpected_exception_returns_the_message_and_is_counted(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.db")
    queue, ledger = SqliteQueue(db), ExplodingLedger(db)
    job = Job("s", "k", "d", "k", 5, None, '"e"')
    queue.send([encode_job(job)])
    tracker = Tracker()
    settings = WorkerSettings(workers=1, job_timeout=60, max_retries=3, owner="w")
    worker = Worker(queue, ledger, NullCopier(), settings, tracker)  # type: ignore[arg-type]
    done = threading.Event()
    thread = threading.Thread(target=lambda: (worker.run(finished=lambda: False, idle_timeout=1.0), done.set()))
    thread.start()
    thread.join(timeout=60)
    assert done.is_set()
    snapshot = tracker.snapshot()
    assert snapshot.objects_failed == 1 and "KeyError" in snapshot.failures[0][1]
    assert queue.counts().in_flight == 1  # returned to the queue with a delay, never lost
