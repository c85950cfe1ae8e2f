"""Cluster mode: ``send`` (the jobsender) and ``work`` (a worker) over any queue and ledger backend.

The control plane (SQS, DynamoDB, SSM) uses the process's own AWS identity and the standard botocore
settings (profiles, regions, ``AWS_ENDPOINT_URL_SQS`` ...). Object access follows the original ``JobType``
(see :func:`s3migrate.wiring.account_endpoints`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from s3migrate.config import Settings
from s3migrate.endpoints.location import S3Location
from s3migrate.engine.giant import start_upload
from s3migrate.engine.options import TransferOptions
from s3migrate.errors import ConfigError, S3MigrateError
from s3migrate.jobs.codec import decode_message, encode_job
from s3migrate.jobs.job import Job
from s3migrate.jobs.layout import PartLayout
from s3migrate.ledger.base import JobState, Ledger, UploadRecord, same_destination
from s3migrate.ledger.open import open_ledger
from s3migrate.planner.mapping import KeyMapping
from s3migrate.planner.plan import PlanStats
from s3migrate.progress.tracker import Tracker
from s3migrate.queues.base import WorkQueue
from s3migrate.queues.open import open_queue
from s3migrate.queues.sqs import SqsQueue
from s3migrate.window import Window
from s3migrate.wiring import (
    Stores,
    account_endpoints,
    build_planner,
    check_both_listable,
    ignore_rules,
    open_stores,
    worker_copier,
)
from s3migrate.worker.loop import Worker, WorkerSettings
from s3migrate.worker.sender import send_jobs

log = logging.getLogger(__name__)


@dataclass
class SendReport:
    stats: list[tuple[KeyMapping, PlanStats]] = field(default_factory=list)
    jobs: int = 0
    bytes: int = 0
    largest: int = 0
    worker_memory: int = 0
    stopped: bool = False  # cancelled (a deadline) before every pair was compared to the end
    already_queued: int = 0  # planned, but the ledger holds them as waiting or in progress: not sent again
    already_queued_bytes: int = 0
    giant_objects: int = 0  # objects over --giant-threshold, sent as part jobs
    giant_parts: int = 0  # part jobs sent for them


def _drop_test_event(queue: WorkQueue) -> bool:
    """True when the only message left is an ``s3:TestEvent`` (it is removed): it does not make the queue busy."""
    messages = queue.receive(1, visibility_timeout=10)
    for message in messages:
        try:
            if decode_message(message.body, ("-", "")).ignored == "s3:TestEvent":
                queue.ack(message.receipt)
                return True
        except S3MigrateError:
            pass
        queue.change_visibility(message.receipt, 0)
    return False


def run_send(
    settings: Settings, pairs: list[KeyMapping], *, force: bool = False, cancelled: threading.Event | None = None
) -> SendReport:
    """The jobsender: plan every pair and enqueue what is missing. It never refuses because the queue is busy
    (the original did, and new objects were then never sent): while the queue has work, a planned job the ledger
    holds as waiting or in progress for the same destination is not sent again. ``force`` sends everything.

    ``cancelled`` stops it between jobs (what was sent stays sent; the next run compares again)."""
    if not settings.queue or not settings.ledger:
        raise ConfigError("--queue and --ledger are required (or sqs_queue_name / table_queue_name)")
    queue, ledger = open_queue(settings.queue), open_ledger(settings.ledger)
    try:
        counts = queue.counts()
        busy = counts.busy and not force
        if busy and counts.visible + counts.in_flight == 1 and counts.visible == 1 and _drop_test_event(queue):
            busy = False
        ignore = ignore_rules(settings)
        report = SendReport()
        tracker = Tracker()
        for mapping in pairs:
            if cancelled is not None and cancelled.is_set():
                report.stopped = True
                break
            src, dst = account_endpoints(settings, mapping.src_bucket, mapping.dst_bucket)
            src = replace(src, location=S3Location(mapping.src_bucket, mapping.src_list_prefix))
            dst = replace(dst, location=S3Location(mapping.dst_bucket, mapping.dst_list_prefix))
            stores = open_stores(settings, src, dst)
            if stores.same_service:
                mapping.check_not_inside_source(ignore)
            check_both_listable(src, dst)
            planner = build_planner(settings, stores, mapping, ignore, ledger)
            jobs = planner.jobs()
            if busy:
                jobs = _not_queued(jobs, ledger, report)
            jobs = _giants_apart(jobs, GiantSender(settings, stores, ledger, queue, report))
            report.jobs += send_jobs(jobs, ledger, queue, tracker, cancelled)
            report.stopped = cancelled is not None and cancelled.is_set()
            report.stats.append((mapping, planner.stats))
            report.bytes += planner.stats.bytes_to_copy
            report.largest = max(report.largest, planner.stats.largest)
        report.bytes -= report.already_queued_bytes  # what was sent
        part = PartLayout.for_size(report.largest, settings.chunk_size).part_size if report.largest else 0
        report.worker_memory = max(min(settings.workers * settings.threads * max(part, settings.chunk_size),
                                       settings.max_memory), part)
        return report
    finally:
        queue.close()
        ledger.close()


def _not_queued(items: Iterator[Job | list[Job]], ledger: Ledger, report: SendReport) -> Iterator[Job | list[Job]]:
    """Planned jobs, less those already waiting in the queue or in a worker's hands for the same destination
    (a ledger read each, only while the queue is busy). A record in progress whose lease ran out is sent again:
    a second message is harmless (the ledger lets one worker claim it), a lost one would never be copied."""
    now = time.time()
    for item in items:
        job = item[0] if isinstance(item, list) else item
        record = ledger.get(job.ledger_key)
        same_destination = record is not None and (record.dst_bucket, record.dst_key) == (job.dst_bucket,
                                                                                       job.dst_key)
        if same_destination and record is not None and (
                record.state is JobState.PENDING
                or (record.state is JobState.RUNNING and (record.lease_expires or 0) > now)):
            report.already_queued += 1
            report.already_queued_bytes += sum(j.size for j in item) if isinstance(item, list) else item.size
            continue
        yield item


def _giants_apart(items: Iterator[Job | list[Job]], giants: GiantSender) -> Iterator[Job | list[Job]]:
    """Objects over the giant threshold go out as part jobs; the rest as they are."""
    for item in items:
        if isinstance(item, Job) and item.size > giants.settings.giant_threshold:
            giants.send(item)
            continue
        yield item


@dataclass
class GiantSender:
    """Sends a giant object as one multipart upload whose parts are separate jobs (engine/giant.py). On a later
    send the same upload is kept (same source, same layout) and only the parts the ledger lacks are sent again;
    with every part done, one completion job."""

    settings: Settings
    stores: Stores
    ledger: Ledger
    queue: WorkQueue
    report: SendReport
    owner: str = "jobsender"

    def send(self, job: Job) -> None:
        layout = PartLayout.for_size(job.size, self.settings.giant_part_size)
        record = self.ledger.get(job.ledger_key)
        upload_id = record.upload_id if record is not None and record.upload_part_size == layout.part_size \
            and record.upload_src_etag == job.etag and same_destination(record, job) else None
        done = self.ledger.parts_done(job.ledger_key) if upload_id and self._still_there(job, upload_id) else None
        if done is None:
            self.ledger.register([job])
            options = TransferOptions.from_settings(self.settings)
            upload_id = start_upload(self.stores.src_client, self.stores.dst_client, job, options)
            self.ledger.record_upload(job.ledger_key, self.owner,
                                      UploadRecord(upload_id, layout.part_size, job.etag, job.version_id))
            done = {}
        assert upload_id is not None
        numbers = [n for n in range(1, layout.count + 1) if n not in done] or [0]  # 0: complete only
        parts = [replace(job, upload_id=upload_id, part_number=n, part_size=layout.part_size,
                         part_count=layout.count) for n in numbers]
        self.queue.send([encode_job(part) for part in parts])
        self.report.giant_objects += 1
        self.report.giant_parts += len(parts)
        log.info("%s: %d part jobs sent (%d of %d parts already done)", job.describe(), len(parts), len(done),
                 layout.count)

    def _still_there(self, job: Job, upload_id: str) -> bool:
        """Whether the recorded upload still exists at the destination (aborted or expired: start again)."""
        try:
            self.stores.dst_client.list_parts(Bucket=job.dst_bucket, Key=job.dst_key, UploadId=upload_id,
                                              MaxParts=1)
        except Exception:
            return False
        return True


@dataclass
class WorkRun:
    """One ``work`` process: N worker threads over the queue until stopped or idle."""

    settings: Settings
    exit_when_idle: float | None = None
    tracker: Tracker = field(default_factory=Tracker)
    cancelled: threading.Event = field(default_factory=threading.Event)
    window: str | None = None  # why --max-duration / --max-transfer ended the run
    _worker: Worker | None = None

    def cancel(self) -> None:
        self.cancelled.set()
        if self._worker is not None:
            self._worker.cancelled.set()

    def run(self) -> Tracker:
        settings = self.settings
        if not settings.queue or not settings.ledger:
            raise ConfigError("--queue and --ledger are required (or sqs_queue_name / table_queue_name)")
        threads = settings.workers + 2  # the workers, the heartbeat, the metrics
        queue, ledger = open_queue(settings.queue, threads), open_ledger(settings.ledger, threads)
        copier = worker_copier(settings)
        worker = Worker(
            queue, ledger, copier,
            WorkerSettings.from_settings(settings, receive_wait=10.0 if isinstance(queue, SqsQueue) else 0.2),
            self.tracker,
        )
        self._worker = worker
        if self.cancelled.is_set():
            worker.cancelled.set()
        started = time.monotonic()
        window = Window(self.tracker, self.cancel, max_duration=settings.max_duration,
                        max_transfer=settings.max_transfer)
        try:
            with window:
                worker.run(finished=lambda: False, idle_timeout=self.exit_when_idle)
            self.window = window.reason
        finally:
            copier.close()
            queue.close()
            ledger.close()
        log.info("worker stopped after %.0fs", time.monotonic() - started)
        return self.tracker
