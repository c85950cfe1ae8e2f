"""The messages of one worker process: received in batches for its idle threads, deleted in batches.

SQS bills every request, and for small objects one ReceiveMessage and one DeleteMessage per object cost as
much as the copy's own requests. So one thread at a time receives, for as many threads as are idle (up to
SQS's 10), and while jobs finish within a second it also takes a few for the threads about to be free; the rest
wait for it instead of asking the queue themselves. Messages received and not yet started stay in the
heartbeat, so their visibility is extended as a running job's is, and they go back to the queue at once when
the worker stops.

Acks wait, briefly, to be deleted ten at a time. An ack is only ever taken after the ledger recorded the job,
so a crash before the batch is sent costs a redelivery that the ledger shows as done, never a lost job.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable

from s3migrate.endpoints.failures import describe
from s3migrate.queues.base import JobConsumer, Message

log = logging.getLogger(__name__)

BATCH = 10  # SQS's limit for ReceiveMessage, DeleteMessageBatch and ChangeMessageVisibilityBatch
FAST_JOB = 1.0  # seconds: jobs quicker than this on average let the receiver take messages ahead


class Inbox:
    def __init__(
        self, queue: JobConsumer, visibility_timeout: float, *, flush_interval: float = 0.5,
        hold: Callable[[Message], None] | None = None, release: Callable[[Message], None] | None = None,
    ) -> None:
        """``hold`` / ``release``: put a received, not yet started message in the heartbeat and take it out."""
        self.queue = queue
        self.visibility_timeout = visibility_timeout
        self._hold = hold or (lambda message: None)
        self._release = release or (lambda message: None)
        self._ready: collections.deque[Message] = collections.deque()
        self._changed = threading.Condition()
        self._receiving = False
        self._idle = 0  # threads waiting in take()
        self._empty_receives = 0  # receives that found nothing: their waiters return too
        self._job_seconds: float | None = None  # a moving average of how long a message takes
        self._acks: list[str] = []
        self._acks_lock = threading.Lock()
        self._closed = threading.Event()
        self._flusher = threading.Thread(target=self._flush_every, args=(flush_interval,), daemon=True,
                                         name="s3migrate-acks")
        self._flusher.start()

    def take(self, wait_seconds: float, cancelled: threading.Event) -> Message | None:
        """The next message for this thread, or None when none came within the wait (or the worker stops)."""
        deadline = time.monotonic() + wait_seconds
        with self._changed:
            self._idle += 1
            try:
                empties = self._empty_receives
                while True:
                    if cancelled.is_set():
                        return None  # the held messages go back in close()
                    if self._ready:
                        return self._ready.popleft()
                    if self._empty_receives != empties:
                        return None
                    if not self._receiving:
                        self._receiving = True
                        wanted = min(BATCH, self._idle + self._ahead())
                        break
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._changed.wait(remaining)
            finally:
                self._idle -= 1
        return self._receive(wanted, deadline)

    def _ahead(self) -> int:
        """Messages to take beyond the idle threads: some while jobs are quick, none while they are slow (a slow
        job's queue-mates are better left to other workers)."""
        return BATCH if self._job_seconds is not None and self._job_seconds < FAST_JOB else 0

    def _receive(self, wanted: int, deadline: float) -> Message | None:
        messages: list[Message] = []
        try:
            self._flush_quietly()  # the acks held so far go with this turn
            messages = self.queue.receive(wanted, self.visibility_timeout,
                                          wait_seconds=max(0.0, deadline - time.monotonic()))
        finally:
            with self._changed:
                for message in messages[1:]:
                    self._hold(message)
                    self._ready.append(message)
                self._receiving = False
                if not messages:
                    self._empty_receives += 1
                self._changed.notify_all()
        return messages[0] if messages else None

    def took(self, seconds: float) -> None:
        """How long a message took from start to settle: the average decides whether to take messages ahead."""
        with self._changed:
            self._job_seconds = seconds if self._job_seconds is None else 0.8 * self._job_seconds + 0.2 * seconds

    def ack(self, receipt: str) -> None:
        """Delete the message, with the next batch: at once when ten are due, else within the flush interval."""
        with self._acks_lock:
            self._acks.append(receipt)
            full = len(self._acks) >= BATCH
        if full:
            self.flush()

    def flush(self) -> None:
        with self._acks_lock:
            receipts, self._acks = self._acks, []
        if receipts:
            self.queue.ack_many(receipts)

    def _flush_quietly(self) -> None:
        try:
            self.flush()
        except Exception as exc:  # the messages come back after their visibility, and the ledger shows them done
            log.warning("could not delete finished messages: %s", describe(exc))

    def _flush_every(self, interval: float) -> None:
        while not self._closed.wait(interval):
            self._flush_quietly()

    def close(self) -> None:
        """Return the messages not started and delete the finished ones."""
        self._closed.set()
        with self._changed:
            unstarted = list(self._ready)
            self._ready.clear()
        for message in unstarted:
            self._release(message)
        try:
            if unstarted:
                self.queue.change_visibility_many([m.receipt for m in unstarted], 0)
        except Exception as exc:
            log.warning("could not return %d messages not started: %s", len(unstarted), describe(exc))
        self._flush_quietly()
        self._flusher.join(timeout=5)
