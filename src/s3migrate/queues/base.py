"""The WorkQueue protocol: SQS semantics (at-least-once, visibility timeouts, a dead-letter queue)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

SQS_BATCH = 10  # SQS's limit per SendMessageBatch, ReceiveMessage, DeleteMessageBatch and
# ChangeMessageVisibilityBatch; the embedded queue and the worker's inbox use the same, so all behave alike


@dataclass(frozen=True)
class Message:
    """A received message. ``receipt`` changes with every receive, as with SQS."""

    message_id: str
    body: str
    receipt: str
    receive_count: int


@dataclass(frozen=True)
class QueueCounts:
    visible: int
    in_flight: int
    dead: int

    @property
    def busy(self) -> bool:
        return self.visible > 0 or self.in_flight > 0


@runtime_checkable
class JobProducer(Protocol):
    """What a jobsender needs of a queue."""

    def send(self, bodies: Sequence[str]) -> None:
        """Enqueue message bodies (batched internally)."""

    def counts(self) -> QueueCounts:
        """Approximate visible / in-flight / dead-lettered counts."""

    def close(self) -> None:
        """Release connections."""


@runtime_checkable
class JobConsumer(Protocol):
    """What a worker needs of a queue (the Lambda worker's batch of delivered messages is one too).

    At-least-once delivery: a received message is hidden for ``visibility_timeout`` seconds and comes back
    unless acked; after ``max_receives`` deliveries it moves to the dead-letter queue."""

    def receive(self, max_messages: int, visibility_timeout: float, wait_seconds: float = 0.0) -> list[Message]:
        """Take up to ``max_messages`` visible messages, hiding them for ``visibility_timeout`` seconds."""

    def ack(self, receipt: str) -> None:
        """Delete a received message. Idempotent; a stale receipt is not an error."""

    def change_visibility(self, receipt: str, timeout: float) -> None:
        """Extend (or, with 0, end) the invisibility of a received message."""

    def ack_many(self, receipts: Sequence[str]) -> None:
        """``ack`` for several messages, in as few requests as the queue allows (SQS: ten per request)."""

    def change_visibility_many(self, receipts: Sequence[str], timeout: float) -> None:
        """``change_visibility`` for several messages, in as few requests as the queue allows."""

    def dead_letter(self, message: Message, reason: str) -> bool:
        """Move a message no worker can use to the dead-letter queue (never delete it). False when there is no
        dead-letter queue to move it to: it is then left to come back, for the queue's redrive policy."""

    def counts(self) -> QueueCounts:
        """Approximate visible / in-flight / dead-lettered counts."""

    def close(self) -> None:
        """Release connections."""


@runtime_checkable
class WorkQueue(JobProducer, JobConsumer, Protocol):
    """A whole queue (SQLite, SQS): both sides, and a purge."""

    def purge(self) -> None:
        """Drop every message (not the dead letters)."""
