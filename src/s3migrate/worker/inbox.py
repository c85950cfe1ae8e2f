"""The messages of one worker process: received in batches for its idle threads, deleted in batches.

SQS bills every request, and for small objects one ReceiveMessage and one DeleteMessage per object cost as
much as the copy's own requests. So a thread that needs work receives for every idle thread (up to SQS's 10),
and also for the threads that will be free within about a second (from how fast this process settles
messages); the other idle threads wait for it instead of asking the queue themselves. Only while more than ten
threads are idle and the last receive came back full does a second receiver ask at the same time (one receive
per round trip would otherwise cap a process at ten messages per round trip); on a queue running dry one
receiver long-polls for all. Messages received and not yet started stay in the heartbeat, so their visibility
is extended as a running job's is, and they go back to the queue at once when the worker stops.

Acks wait, briefly, to be deleted ten at a time: at once when ten are due, else within ``flush_interval``. In
a run's tail (``tail()``: ``sync`` has planned everything) they go within a few hundredths of a second once the
queue looks dry (a receive came back empty, or has waited longer than a queue with work answers), since the
run ends when the queue is empty and a held ack would only delay that. An ack is only ever taken after the
ledger recorded the job, so a crash before the batch is sent costs a redelivery that the ledger shows as done,
never a lost job.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable

from s3migrate.endpoints.failures import describe
from s3migrate.queues.base import SQS_BATCH, JobConsumer, Message

log = logging.getLogger(__name__)

AHEAD = 1.0  # seconds: messages taken beyond the idle threads are at most this much work of the process
TICK = 0.02  # seconds between the ack flusher's looks
SLOW_RECEIVE = 0.05  # seconds: a receive still waiting after this found no message ready (a long poll)


class Inbox:
    def __init__(
        self, queue: JobConsumer, visibility_timeout: float, *, threads: int = 1, flush_interval: float = 0.5,
        hold: Callable[[Message], None] | None = None, release: Callable[[Message], None] | None = None,
        tail: Callable[[], bool] = lambda: False,
    ) -> None:
        """``threads``: the worker threads taking from this inbox. ``hold`` / ``release``: put a received, not yet
        started message in the heartbeat and take it out."""
        self.queue = queue
        self.visibility_timeout = visibility_timeout
        self._hold = hold or (lambda message: None)
        self._release = release or (lambda message: None)
        self._tail = tail
        self._threads = threads
        self._ready: collections.deque[Message] = collections.deque()
        self._changed = threading.Condition()
        self._running = 0  # threads with a message taken and not yet settled (``took``)
        self._settled = 0  # messages settled so far
        self._receives: dict[int, float] = {}  # receives in progress: id -> when it started
        self._next_receive = 0
        self._dry = False  # the last receive found nothing
        self._full = False  # the last receive brought as many as it asked for: the queue has plenty
        self._empty_receives = 0  # receives that found nothing: their waiters return too
        self._job_seconds: float | None = None  # a moving average of how long a message takes
        self._acks: list[str] = []
        self._oldest_ack = 0.0
        self._acks_lock = threading.Lock()
        self._closed = threading.Event()
        self._flusher = threading.Thread(target=self._flush_when_due, args=(flush_interval,), daemon=True,
                                         name="s3migrate-acks")
        self._flusher.start()

    @property
    def empty_receives(self) -> int:
        """Receives so far that found no message waiting."""
        return self._empty_receives

    @property
    def settled(self) -> int:
        """Messages taken and settled so far (the rate the worker count follows)."""
        return self._settled

    def resize(self, threads: int) -> None:
        """The worker threads taking from this inbox changed."""
        with self._changed:
            self._threads = threads

    def take(self, wait_seconds: float, cancelled: threading.Event) -> Message | None:
        """The next message for this thread, or None when none came within the wait (or the worker stops)."""
        deadline = time.monotonic() + wait_seconds
        with self._changed:
            empties = self._empty_receives
            while True:
                if cancelled.is_set():
                    return None  # the held messages go back in close()
                if self._ready:
                    self._running += 1
                    return self._ready.popleft()
                if self._empty_receives != empties:
                    return None
                idle = max(1, self._threads - self._running)
                receivers = -(-idle // SQS_BATCH) if self._full else 1
                if len(self._receives) < receivers:
                    wanted = min(SQS_BATCH, idle + self._ahead())
                    receive_id = self._next_receive
                    self._next_receive += 1
                    self._receives[receive_id] = time.monotonic()
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)
        return self._receive(receive_id, wanted, deadline)

    def _ahead(self) -> int:
        """Messages to take beyond the idle threads: as many as the threads settle in ``AHEAD`` seconds. Slow jobs
        (large objects) leave their queue-mates to other workers; quick ones fill the batch."""
        if self._job_seconds is None:
            return 0
        return int(min(SQS_BATCH, self._threads * AHEAD / max(self._job_seconds, 1e-3)))

    def _receive(self, receive_id: int, wanted: int, deadline: float) -> Message | None:
        messages: list[Message] = []
        try:
            messages = self.queue.receive(wanted, self.visibility_timeout,
                                          wait_seconds=max(0.0, deadline - time.monotonic()))
        finally:
            with self._changed:
                for message in messages[1:]:
                    self._hold(message)
                    self._ready.append(message)
                del self._receives[receive_id]
                self._dry = not messages
                self._full = len(messages) >= wanted
                if messages:
                    self._running += 1
                else:
                    self._empty_receives += 1
                self._changed.notify_all()
        return messages[0] if messages else None

    def took(self, seconds: float) -> None:
        """A taken message is settled, after ``seconds``: the average decides whether to take messages ahead."""
        with self._changed:
            self._running -= 1
            self._settled += 1
            self._job_seconds = seconds if self._job_seconds is None else 0.8 * self._job_seconds + 0.2 * seconds

    def ack(self, receipt: str) -> None:
        """Delete the message with the next batch (see the module's docstring for when that goes)."""
        with self._acks_lock:
            if not self._acks:
                self._oldest_ack = time.monotonic()
            self._acks.append(receipt)
            full = len(self._acks) >= SQS_BATCH
        if full:
            self._flush_quietly()

    def flush(self) -> None:
        """Delete the finished messages held now."""
        with self._acks_lock:
            receipts, self._acks = self._acks, []
        if receipts:
            self.queue.ack_many(receipts)

    def _flush_quietly(self) -> None:
        try:
            self.flush()
        except Exception as exc:  # the messages come back after their visibility, and the ledger shows them done
            log.warning("could not delete finished messages: %s", describe(exc))

    def _looks_dry(self, now: float) -> bool:
        if not self._tail():
            return False
        with self._changed:
            return self._dry or any(now - started >= SLOW_RECEIVE for started in self._receives.values())

    def _flush_when_due(self, interval: float) -> None:
        while not self._closed.wait(TICK):
            with self._acks_lock:
                oldest = self._oldest_ack if self._acks else None
            now = time.monotonic()
            if oldest is not None and (now - oldest >= interval or self._looks_dry(now)):
                self._flush_quietly()

    def close(self) -> None:
        """Return the messages not started and delete the finished ones."""
        self._closed.set()
        self._flusher.join(timeout=5)
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
