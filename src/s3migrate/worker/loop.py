"""WORK: receive -> claim -> copy -> complete -> ack, on any queue and ledger backend.

Ordering rules: the ledger is completed before the message is acked, so a crash in between
only causes a redelivery, which the ledger then shows as done (ack and skip). While a job runs, a heartbeat
extends the message's visibility and the ledger lease, so a slow object is not handed to a second worker.
"""

from __future__ import annotations

import enum
import functools
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from s3migrate.adaptive import Concurrency
from s3migrate.config import Settings
from s3migrate.endpoints.failures import classify, describe
from s3migrate.engine.context import CopyContext
from s3migrate.engine.copier import ObjectCopier
from s3migrate.engine.retry import backoff_delay
from s3migrate.errors import BadMessageError, Disposition, JobInterrupted, S3MigrateError, TransferError
from s3migrate.jobs.codec import decode_message
from s3migrate.jobs.job import Job
from s3migrate.ledger.base import (
    ClaimResult,
    JobState,
    Ledger,
    LedgerRecord,
    Outcome,
    same_destination,
    same_source,
)
from s3migrate.progress.tracker import Tracker
from s3migrate.queues.base import JobConsumer, Message
from s3migrate.worker.inbox import Inbox

log = logging.getLogger(__name__)


class JobOutcome(enum.Enum):
    DONE = "done"  # copied and verified, or found done already: ack
    FAILED = "failed"  # gave up with a recorded reason: ack
    RETRY = "retry"  # leave the message to come back after a delay
    RETURN = "return"  # make the message visible again now (interrupted on purpose)


@dataclass(frozen=True)
class WorkerSettings:
    workers: int
    job_timeout: float
    max_retries: int  # failed attempts in a row allowed beyond the first
    owner: str
    default_destination: tuple[str, str] | None = None  # for S3 event messages
    original_key_mapping: bool = False  # S3 events: the original's PurePosixPath destination keys
    max_retry_delay: float = 60.0
    receive_wait: float = 0.2  # long-poll seconds per receive (SQS: up to 20)
    max_workers: int = 0  # workers at most when more help (adaptive.py); at most ``workers`` when lower

    @classmethod
    def from_settings(
        cls, settings: Settings, *, owner: str | None = None, receive_wait: float = 0.2,
        job_timeout: float | None = None,
    ) -> WorkerSettings:
        """The worker knobs of validated Settings, for ``sync``, ``work`` and the Lambda worker alike."""
        default_destination = (
            (settings.des_bucket_default, settings.des_prefix_default) if settings.des_bucket_default else None
        )
        return cls(
            workers=settings.workers,
            max_workers=settings.worker_ceiling,
            job_timeout=settings.job_timeout if job_timeout is None else job_timeout,
            max_retries=settings.max_retries,
            owner=owner or worker_id(),
            default_destination=default_destination,
            original_key_mapping=settings.original_key_mapping,
            receive_wait=receive_wait,
        )

    @property
    def visibility_timeout(self) -> float:
        """The message's (and the ledger lease's) lifetime without a heartbeat. Kept short so a killed
        worker's job comes back within minutes; the heartbeat extends it while the job is alive."""
        return min(self.job_timeout, 300.0) + 30.0

    @property
    def heartbeat_interval(self) -> float:
        return max(1.0, min(60.0, self.visibility_timeout / 4))


def worker_id() -> str:
    """This process, as the ledger's lease owner and instanceID: host, PID and a nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class _Heartbeat:
    """Extends visibility and leases of the messages in progress."""

    def __init__(self, queue: JobConsumer, ledger: Ledger, settings: WorkerSettings, stop: threading.Event) -> None:
        self.queue, self.ledger, self.settings, self.stop = queue, ledger, settings, stop
        self._live: dict[str, tuple[Message, list[Job]]] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="s3migrate-heartbeat", daemon=True)
        self._thread.start()

    def add(self, message: Message, jobs: list[Job]) -> None:
        with self._lock:
            self._live[message.receipt] = (message, jobs)

    def remove(self, message: Message) -> None:
        with self._lock:
            self._live.pop(message.receipt, None)

    def _run(self) -> None:
        while not self.stop.wait(self.settings.heartbeat_interval):
            self.beat()

    def beat(self) -> None:
        """Every live message's visibility in batches of ten, then the lease of every claimed job."""
        with self._lock:
            live = list(self._live.values())
        if not live:  # an idle worker writes nothing (the embedded queue would take a transaction for it)
            return
        try:
            self.queue.change_visibility_many([message.receipt for message, _ in live],
                                              self.settings.visibility_timeout)
            for _, jobs in live:
                for job in jobs:
                    self.ledger.renew(job.ledger_key, self.settings.owner, self.settings.visibility_timeout)
        except Exception as exc:  # a missed beat is not fatal; the next one may succeed
            log.warning("heartbeat failed: %s", describe(exc))


class Worker:
    """Runs ``settings.workers`` threads over one queue until told to stop or the work runs out."""

    def __init__(
        self,
        queue: JobConsumer,
        ledger: Ledger,
        copier: ObjectCopier,
        settings: WorkerSettings,
        tracker: Tracker,
    ) -> None:
        self.queue, self.ledger, self.copier = queue, ledger, copier
        self.settings, self.tracker = settings, tracker
        self.cancelled = threading.Event()  # stop now: interrupt jobs, return their messages
        self._heartbeat_stop = threading.Event()
        self._inbox: Inbox | None = None  # while run() runs: acks go out in batches
        self._running_lock = threading.Lock()
        self._running = 0  # worker threads in their loop
        self._wanted = 0  # worker threads run() wants (more are started, surplus ones leave)

    def run(self, finished: Callable[[], bool], idle_timeout: float | None = None) -> None:
        """Work until ``finished()`` is true while the queue is idle, or until cancelled.

        ``idle_timeout``: also stop after that many seconds without receiving anything."""
        heartbeat = _Heartbeat(self.queue, self.ledger, self.settings, self._heartbeat_stop)
        inbox = Inbox(self.queue, self.settings.visibility_timeout, threads=self.settings.workers,
                      hold=lambda message: heartbeat.add(message, []), release=heartbeat.remove, tail=finished)
        self._inbox = inbox
        concurrency = Concurrency(self.settings.workers, max(self.settings.workers, self.settings.max_workers))
        adaptive = concurrency.ceiling > concurrency.workers
        threads: list[threading.Thread] = []

        def start(count: int) -> None:
            with self._running_lock:
                self._wanted += count
            for _ in range(count):
                thread = threading.Thread(target=self._thread_main, args=(inbox, heartbeat, finished, idle_timeout),
                                          name=f"s3migrate-worker-{len(threads)}")
                threads.append(thread)
                thread.start()

        start(self.settings.workers)
        empty_receives = inbox.empty_receives
        try:
            while True:
                alive = [thread for thread in threads if thread.is_alive()]
                if not alive:
                    break
                alive[0].join(timeout=0.5)
                if self.cancelled.is_set() or not adaptive:
                    continue
                starved, empty_receives = inbox.empty_receives != empty_receives, inbox.empty_receives
                wanted = concurrency.tick(time.monotonic(), inbox.settled, starved)
                with self._running_lock:
                    more = wanted - self._wanted
                    if more < 0:
                        self._wanted = wanted  # the surplus threads leave after their current message
                inbox.resize(wanted)
                if more > 0:
                    log.info("workers: %d (more of them moved more objects per second)", wanted)
                    start(more)
        finally:
            self._inbox = None
            inbox.close()
            self._heartbeat_stop.set()

    def _leaving(self) -> bool:
        """Whether this thread is one too many (workers were given back): it then leaves, counted out."""
        with self._running_lock:
            if self._running > self._wanted:
                self._running -= 1
                return True
            return False

    def _thread_main(
        self, inbox: Inbox, heartbeat: _Heartbeat, finished: Callable[[], bool], idle_timeout: float | None
    ) -> None:
        with self._running_lock:
            self._running += 1
        if self._work(inbox, heartbeat, finished, idle_timeout):
            return
        with self._running_lock:  # it stopped for another reason than being one too many
            self._running -= 1

    def _work(
        self, inbox: Inbox, heartbeat: _Heartbeat, finished: Callable[[], bool], idle_timeout: float | None
    ) -> bool:
        """Take and handle messages until the run is over; True when this thread left as one too many."""
        last_work = time.monotonic()
        while not self.cancelled.is_set():
            if self._leaving():
                return True
            try:
                message = inbox.take(self.settings.receive_wait, self.cancelled)
            except S3MigrateError as exc:
                log.error("cannot receive: %s", exc)
                self.cancelled.wait(2.0)
                continue
            if message is None:
                if self.cancelled.is_set():
                    return False
                inbox.flush()  # a finished message still held would look in flight
                if finished() and not self.queue.counts().busy:
                    return False
                if idle_timeout is not None and time.monotonic() - last_work >= idle_timeout:
                    return False
                continue
            if self.cancelled.is_set():  # stopping: give back what arrived meanwhile, untouched
                heartbeat.remove(message)
                self.queue.change_visibility(message.receipt, 0)
                return False
            started = time.monotonic()
            self._handle_guarded(message, heartbeat)
            last_work = time.monotonic()
            inbox.took(last_work - started)
        return False

    def _handle_guarded(self, message: Message, heartbeat: _Heartbeat) -> None:
        """A bug or an outage the job's own handling did not expect never ends a worker thread: the message
        comes back after a delay for another try, and the run counts and names the failure."""
        try:
            self.handle(message, heartbeat)
        except Exception as exc:
            reason = f"worker error ({type(exc).__name__}: {describe(exc)}); the message returns to the queue"
            log.error("message %s: %s", message.message_id, reason)
            self.tracker.failed(f"message {message.message_id}", reason)
            try:
                self.queue.change_visibility(message.receipt, 30.0)
            except Exception as again:  # it comes back after its visibility timeout anyway
                log.warning("could not return message %s: %s", message.message_id, describe(again))
        finally:
            heartbeat.remove(message)  # also a message held since its receive that never became a job

    def handle(self, message: Message, heartbeat: _Heartbeat | None = None) -> JobOutcome:
        try:
            decoded = decode_message(message.body, self.settings.default_destination,
                                     posix_keys=self.settings.original_key_mapping)
        except BadMessageError as exc:
            # Never deleted: the dead-letter queue (and its alarm) is how an operator learns of it.
            try:
                moved = self.queue.dead_letter(message, str(exc))
            except S3MigrateError as error:
                log.error("message %s: %s; and it could not be dead-lettered: %s", message.message_id, exc, error)
                moved = False
            where = "moved to the dead-letter queue" if moved else "left for the queue's redrive policy"
            log.error("message %s is not a job (%s): %s", message.message_id, exc, where)
            self.tracker.dead_lettered(f"message {message.message_id}", f"not a job ({exc}): {where}")
            return JobOutcome.FAILED
        if decoded.ignored:
            log.info("ignoring message %s: %s", message.message_id, decoded.ignored)
            self._ack(message)
            return JobOutcome.DONE
        if heartbeat is not None:  # leases to renew: those of claimed jobs (one-request jobs take none)
            heartbeat.add(message, [job for job in decoded.jobs if not self.copier.one_request(job)])
        try:
            if decoded.sequential:
                outcomes = self._run_in_order(decoded.jobs)
            else:
                outcomes = [self.run_job(job, redelivered=message.receive_count > 1) for job in decoded.jobs]
        finally:
            if heartbeat is not None:
                heartbeat.remove(message)
        return self._settle(message, outcomes)

    def _run_in_order(self, jobs: list[Job]) -> list[tuple[JobOutcome, float]]:
        """The versions of one history, each only after the one before it is done (a redelivered message skips
        those the ledger shows done). After a version that failed for good, the later ones are not copied: each
        is counted and named, and the next plan sends them again."""
        outcomes: list[tuple[JobOutcome, float]] = []
        for index, job in enumerate(jobs):
            outcome = self.run_job(job)
            outcomes.append(outcome)
            if outcome[0] is JobOutcome.DONE:
                continue
            if outcome[0] is JobOutcome.FAILED:
                for later in jobs[index + 1:]:
                    self.tracker.failed(later.describe(), f"not copied: the earlier version {job.version_id} failed")
            break
        return outcomes

    def _settle(self, message: Message, outcomes: list[tuple[JobOutcome, float]]) -> JobOutcome:
        pending = [(o, delay) for o, delay in outcomes if o in (JobOutcome.RETRY, JobOutcome.RETURN)]
        if not pending:
            self._ack(message)
            return JobOutcome.FAILED if any(o is JobOutcome.FAILED for o, _ in outcomes) else JobOutcome.DONE
        outcome, delay = max(pending, key=lambda item: item[1])
        try:
            self.queue.change_visibility(message.receipt, delay)
        except Exception as exc:
            log.warning("could not return message %s: %s", message.message_id, describe(exc))
        return outcome

    def _ack(self, message: Message) -> None:
        """With the next batch while ``run`` runs (the ledger already holds the outcome), else at once."""
        inbox = self._inbox
        if inbox is not None:
            inbox.ack(message.receipt)
        else:
            self.queue.ack(message.receipt)

    def run_part(self, job: Job) -> tuple[JobOutcome, float]:
        """One part of a giant object (no claim: many workers share the object): upload it, record it, and
        complete the upload when it was the last one missing and this worker gets the completion."""
        owner, key = self.settings.owner, job.ledger_key
        try:
            record = self.ledger.get(key)
            if record is not None and record.state is JobState.DONE and same_destination(record, job) \
                    and same_source(record, job):
                self.tracker.skipped(0)
                return JobOutcome.DONE, 0.0
            if job.part_number:
                md5_hex, sent = self.copier.upload_giant_part(job)
                self.tracker.job_sent(job, sent)
                done = self.ledger.part_done(key, job.part_number, md5_hex)
                log.info("%s uploaded (%d of %d parts done)", job.describe(), done, job.part_count)
            else:  # a completion job: every part was already there
                done = len(self.ledger.parts_done(key))
            attempt = f"{owner}:{uuid.uuid4().hex}"  # this attempt only: a thread of this process is another one
            if done >= job.part_count and self.ledger.claim_completion(key, attempt, self.settings.visibility_timeout):
                try:
                    etag = self.copier.complete_giant(job, self.ledger.parts_done(key))
                except BaseException:
                    self.ledger.release_completion(key, attempt)
                    raise
                self.ledger.complete(key, owner, etag, job.version_id, job.part_size)
                self.tracker.job_done(job, job.size)
                log.info("completed s3://%s/%s from %d parts", job.dst_bucket, job.dst_key, job.part_count)
        except Exception as exc:
            record = self.ledger.get(key)
            return self._failed(job, exc, record.fail_count if record else 0)
        return JobOutcome.DONE, 0.0

    def run_job(self, job: Job, *, redelivered: bool = False) -> tuple[JobOutcome, float]:
        """Claim, copy and record one job; returns what to do with its message and after what delay."""
        if job.upload_id is not None:
            return self.run_part(job)
        owner = self.settings.owner
        try:
            claim = self.ledger.look(job, owner) if self.copier.one_request(job) else None
            if claim is None or claim.record is None:  # a job no plan registered (an S3 event) is claimed
                claim = self.ledger.claim(job, owner, self.settings.visibility_timeout)
        except S3MigrateError as exc:
            log.error("ledger claim failed for %s: %s", job.describe(), exc)
            return JobOutcome.RETRY, 5.0
        unclaimed = claim.result is ClaimResult.FREE
        # A claim counts its own attempt in tryTimes; a look writes nothing, so a killed earlier attempt shows only
        # as the message's redelivery.
        tries = claim.record.try_times if claim.record else 0
        retried = (redelivered or tries > 0) if unclaimed else tries > 1
        if claim.result is ClaimResult.ALREADY_DONE:
            self.tracker.skipped(job.size)
            return JobOutcome.DONE, 0.0
        if claim.result is ClaimResult.BUSY:
            remaining = (claim.record.lease_expires or 0) - time.time() if claim.record else 30.0
            return JobOutcome.RETRY, max(5.0, min(remaining, self.settings.visibility_timeout))
        ctx = CopyContext(
            job=job,
            owner=owner,
            ledger=self.ledger,
            record=claim.record,
            retried=retried,
            cancelled=self.cancelled,
            deadline=time.monotonic() + self.settings.job_timeout,
            on_bytes=functools.partial(self.tracker.job_sent, job),
            on_reused=self.tracker.reused,
            on_copied_in_place=self.tracker.copied_in_place,
        )
        try:
            result = self.copier.copy(ctx)
            self._check_recorded_version(ctx.job, result.version_id, claim.record)
        except Exception as exc:
            return self._failed(ctx.job, exc, claim.record.fail_count if claim.record else 0, unclaimed=unclaimed)
        if unclaimed:
            self.ledger.finish(ctx.job, owner, claim.record, result.etag, result.version_id)
        else:
            self.ledger.complete(job.ledger_key, owner, result.etag, result.version_id, result.part_size,
                                 first_time=claim.record.first_time if claim.record else None)
        self.tracker.job_done(job, result.size)
        log.info("copied %s (%d bytes, %d parts sent, %d reused)", job.describe(), result.size,
                 result.parts_sent, result.parts_reused)
        return JobOutcome.DONE, 0.0

    def _check_recorded_version(self, job: Job, copied: str | None, claimed: LedgerRecord | None) -> None:
        """As the original does at completion: the version copied must be the one the ledger recorded. That is
        the version this copy pinned and recorded itself (UpdateVersionId), else the one the claim found: known
        here, so it costs no read."""
        if not copied:
            return
        recorded = job.version_id or (claimed.version_id if claimed is not None else None)
        if recorded and recorded != copied:
            raise TransferError(
                f"copied version {copied} but the ledger recorded {recorded}; copying again",
                Disposition.RETRY,
            )

    def _failed(self, job: Job, exc: BaseException, previous_failures: int, *,
                unclaimed: bool = False) -> tuple[JobOutcome, float]:
        owner = self.settings.owner
        reason = describe(exc) if not isinstance(exc, S3MigrateError) else str(exc)
        if isinstance(exc, JobInterrupted):
            outcome = Outcome.TIMEOUT if exc.timeout else Outcome.QUIT
            self.ledger.fail(job.ledger_key, owner, reason, outcome, final=False, unclaimed=unclaimed)
            log.info("%s: %s", job.describe(), reason)
            return JobOutcome.RETURN, 0.0
        disposition = classify(exc)
        if disposition is Disposition.SOURCE_CHANGED and not reason.startswith("source changed"):
            reason = f"source changed: {reason}"
        failures = previous_failures + 1
        final = disposition in (Disposition.FATAL, Disposition.SOURCE_CHANGED) or failures > self.settings.max_retries
        self.ledger.fail(job.ledger_key, owner, reason, Outcome.ERR, final=final, unclaimed=unclaimed)
        if final:
            log.error("%s failed: %s", job.describe(), reason)
            self.tracker.failed(job.describe(), reason)
            return JobOutcome.FAILED, 0.0
        delay = backoff_delay(failures, base=1.0, cap=self.settings.max_retry_delay)
        log.warning("%s failed (attempt %d, retrying in %.1fs): %s", job.describe(), failures, delay, reason)
        return JobOutcome.RETRY, delay
