"""The SQS-triggered Lambda worker: ``s3migrate.lambdas.worker.handler``.

Configuration comes from the original environment variable names (``table_queue_name``, ``JobType``,
``ssm_parameter_credentials``, ``Des_bucket_default``, ``MaxThread``, ``JobTimeout`` ...). Each record of the
batch is one message handled by the same ``Worker.handle`` as ``s3migrate work``:

- A message whose job is done (or finally failed, with the reason in the ledger) is reported as processed;
  the Lambda service deletes it.
- A message to try again is reported in ``batchItemFailures`` (partial batch response) so only it returns.
  When the queue is known (``sqs_queue_name``) its visibility is also set to the retry delay, and to 0 for a
  job that ran out of time, so it resumes at once instead of after the 15-minute visibility timeout.
- Time: no new part starts after ``JobTimeout`` (870 s in the original) or the Lambda's remaining time less
  a safety margin, whichever comes first. The multipart upload stays resumable and the next invocation
  sends only the missing parts: that is how objects far larger than one Lambda run can carry move.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from s3migrate.config import Settings, load_settings
from s3migrate.endpoints.failures import describe
from s3migrate.engine.copier import ObjectCopier
from s3migrate.errors import ConfigError, S3MigrateError
from s3migrate.lambdas.telemetry import TrafficTracker
from s3migrate.ledger.base import Ledger
from s3migrate.ledger.open import open_ledger
from s3migrate.progress.emf import emf_record, emit, traffic_metrics
from s3migrate.queues.base import Message, QueueCounts, WorkQueue
from s3migrate.queues.open import open_queue
from s3migrate.wiring import worker_copier
from s3migrate.worker.loop import Worker, WorkerSettings

log = logging.getLogger(__name__)

SAFETY_MARGIN = 30.0  # seconds kept free before the Lambda timeout for parts in flight and the ledger write


@dataclass
class BatchQueue:
    """The JobConsumer seen by ``Worker.handle`` inside one invocation: acks mark a record processed, a
    visibility change marks it failed (and is passed on to SQS when the queue is known)."""

    sqs: WorkQueue | None = None
    returned: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ack(self, receipt: str) -> None:
        with self._lock:
            self.returned.discard(receipt)

    def change_visibility(self, receipt: str, timeout: float) -> None:
        with self._lock:
            self.returned.add(receipt)
        if self.sqs is not None:
            try:
                self.sqs.change_visibility(receipt, timeout)
            except Exception as exc:  # the message still comes back, after the queue's visibility timeout
                log.warning("could not set the visibility of a returned message: %s", describe(exc))

    def ack_many(self, receipts: Sequence[str]) -> None:
        for receipt in receipts:
            self.ack(receipt)

    def change_visibility_many(self, receipts: Sequence[str], timeout: float) -> None:
        for receipt in receipts:
            self.change_visibility(receipt, timeout)

    def dead_letter(self, message: Message, reason: str) -> bool:
        """Moved by the queue when it is known; otherwise reported failed, so the redrive policy moves it."""
        if self.sqs is not None and self.sqs.dead_letter(message, reason):
            with self._lock:
                self.returned.discard(message.receipt)
            return True
        with self._lock:
            self.returned.add(message.receipt)
        return False

    def receive(self, max_messages: int, visibility_timeout: float, wait_seconds: float = 0.0) -> list[Message]:
        return []  # the Lambda service delivers the messages

    def counts(self) -> QueueCounts:
        return QueueCounts(0, 0, 0)

    def close(self) -> None:
        pass


@dataclass
class WorkerRuntime:
    """What a warm Lambda container keeps between invocations: settings, clients, ledger."""

    settings: Settings
    ledger: Ledger
    copier: ObjectCopier
    sqs: WorkQueue | None

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> WorkerRuntime:
        settings = load_settings({}, None, env)
        if not settings.ledger:
            raise ConfigError("table_queue_name is not set")
        sqs = open_queue(settings.queue, settings.workers) if settings.queue else None
        return cls(settings, open_ledger(settings.ledger, settings.workers), worker_copier(settings), sqs)


_runtime: WorkerRuntime | None = None
_runtime_lock = threading.Lock()


def runtime() -> WorkerRuntime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = WorkerRuntime.from_environment(os.environ)
        return _runtime


def _message(record: Mapping[str, Any]) -> Message:
    attributes = record.get("attributes") or {}
    return Message(
        message_id=str(record["messageId"]),
        body=str(record.get("body", "")),
        receipt=str(record.get("receiptHandle", record["messageId"])),
        receive_count=int(attributes.get("ApproximateReceiveCount", 1)),
    )


def handle_batch(event: Mapping[str, Any], context: Any, rt: WorkerRuntime) -> dict[str, Any]:
    """Handle every record of an SQS event; return the partial batch response."""
    settings = rt.settings
    remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else float("inf")
    budget = max(1.0, min(settings.job_timeout, remaining - SAFETY_MARGIN))
    owner = f"lambda:{getattr(context, 'aws_request_id', None) or os.getpid()}"
    tracker = TrafficTracker()
    batch = BatchQueue(rt.sqs)
    knobs = WorkerSettings.from_settings(settings, owner=owner, job_timeout=budget)
    worker = Worker(batch, rt.ledger, rt.copier, knobs, tracker)
    messages = [_message(record) for record in event.get("Records", [])]

    def one(message: Message) -> None:
        try:
            worker.handle(message)
        except Exception as exc:  # a ledger or queue outage: the message comes back
            log.error("message %s: %s", message.message_id, describe(exc))
            batch.change_visibility(message.receipt, 30)

    with ThreadPoolExecutor(max_workers=max(1, min(len(messages), settings.workers))) as pool:
        list(pool.map(one, messages))
    failures = [m.message_id for m in messages if m.receipt in batch.returned]
    function = getattr(context, "function_name", None) or os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "s3migrate")
    emit(emf_record({"FunctionName": function}, traffic_metrics(tracker.snapshot())))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    try:
        rt = runtime()
    except S3MigrateError as exc:
        # A deployment problem (a missing parameter, a table that does not exist): one line in the log, and
        # every message goes back; after 60 receives they reach the dead-letter queue and its alarm.
        log.error("s3migrate worker cannot start: %s", exc)
        return {"batchItemFailures": [{"itemIdentifier": str(r["messageId"])} for r in event.get("Records", [])]}
    return handle_batch(event, context, rt)
