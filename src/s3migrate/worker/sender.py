"""SEND: register planned jobs in the ledger and put them on the queue, in batches."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from s3migrate.jobs.codec import encode_chain, encode_job
from s3migrate.jobs.job import Job
from s3migrate.ledger.base import Ledger
from s3migrate.progress.tracker import Tracker
from s3migrate.queues.base import JobProducer

BATCH = 100


def send_jobs(
    jobs: Iterable[Job | list[Job]],
    ledger: Ledger,
    queue: JobProducer,
    tracker: Tracker | None = None,
    cancelled: threading.Event | None = None,
) -> int:
    """Register then enqueue every job (ledger first: a queued job always has a record). A list is one key's
    versions (``--all-versions``), sent as one message. Returns the count of jobs."""
    sent = 0
    batch: list[Job | list[Job]] = []

    def flush() -> None:
        nonlocal sent
        if not batch:
            return
        jobs = [job for item in batch for job in (item if isinstance(item, list) else [item])]
        ledger.register(jobs)
        queue.send([encode_chain(item) if isinstance(item, list) else encode_job(item) for item in batch])
        if tracker is not None:
            tracker.planned(len(jobs), sum(job.size for job in jobs))
        sent += len(jobs)
        batch.clear()

    for job in jobs:
        if cancelled is not None and cancelled.is_set():
            break
        batch.append(job)
        if len(batch) >= BATCH:
            flush()
    flush()
    return sent
