"""One thread-safe aggregator of what a run did; renderers and summaries read from it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from s3migrate.jobs.job import Job


@dataclass
class Snapshot:
    elapsed: float
    planning: bool
    objects_planned: int
    bytes_planned: int
    objects_done: int
    objects_failed: int
    objects_skipped: int
    bytes_sent: int
    bytes_reused: int
    bytes_completed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    messages_dead_lettered: int = 0  # messages no worker can use, moved to (or left for) the dead-letter queue
    bytes_in_place: int = 0  # copied by the destination itself (server-side copy): nothing passed through here

    @property
    def objects_finished(self) -> int:
        return self.objects_done + self.objects_failed + self.objects_skipped

    @property
    def bytes_finished(self) -> int:
        return self.bytes_sent + self.bytes_reused + self.bytes_in_place

    @property
    def rate(self) -> float:
        """Bytes moved per second since the copying began (sent, or copied in place by the destination)."""
        moved = self.bytes_sent + self.bytes_in_place
        return moved / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        if self.planning or self.rate <= 0:
            return None
        return max(0.0, (self.bytes_planned - self.bytes_finished) / self.rate)


class Tracker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self.planning = True
        self.objects_planned = 0
        self.bytes_planned = 0
        self.objects_done = 0
        self.objects_failed = 0
        self.objects_skipped = 0
        self.bytes_sent = 0
        self.bytes_reused = 0
        self.bytes_completed = 0
        self.failures: list[tuple[str, str]] = []
        self.messages_dead_lettered = 0
        self.bytes_in_place = 0
        self._moved_limit: tuple[int, Callable[[int], None]] | None = None

    def when_moved(self, limit: int, callback: Callable[[int], None]) -> None:
        """Call ``callback(moved)`` once, from the thread that reports it, when the bytes moved (sent, and copied
        in place) reach ``limit`` (--max-transfer: the run stops before it takes another object)."""
        self._moved_limit = (limit, callback)

    def _check_moved(self) -> None:
        watch = self._moved_limit
        if watch is None:
            return
        with self._lock:
            moved = self.bytes_sent + self.bytes_in_place
            if moved < watch[0] or self._moved_limit is None:
                return
            self._moved_limit = None
        watch[1](moved)

    def planned(self, objects: int, nbytes: int) -> None:
        with self._lock:
            self.objects_planned += objects
            self.bytes_planned += nbytes

    def planning_finished(self) -> None:
        self.planning = False

    def sent(self, nbytes: int) -> None:
        with self._lock:
            self.bytes_sent += nbytes
        self._check_moved()

    def job_sent(self, job: Job, nbytes: int) -> None:
        """Bytes of ``job`` written to the destination (one part, or a whole object)."""
        self.sent(nbytes)

    def job_done(self, job: Job, size: int) -> None:
        """``job`` is copied and recorded."""
        with self._lock:
            self.objects_done += 1
            self.bytes_completed += size

    def copied_in_place(self, nbytes: int) -> None:
        """Bytes the destination copied itself (CopyObject, UploadPartCopy)."""
        with self._lock:
            self.bytes_in_place += nbytes
        self._check_moved()

    def copying_started(self) -> None:
        """Rate and ETA count from here (not from the planning or a question asked before)."""
        with self._lock:
            self._start = time.monotonic()

    def reused(self, nbytes: int) -> None:
        with self._lock:
            self.bytes_reused += nbytes

    def done(self) -> None:
        with self._lock:
            self.objects_done += 1

    def skipped(self, nbytes: int) -> None:
        """A job found already done (a redelivery): its bytes count as finished."""
        with self._lock:
            self.objects_skipped += 1
            self.bytes_reused += nbytes

    def failed(self, what: str, reason: str) -> None:
        with self._lock:
            self.objects_failed += 1
            self.failures.append((what, reason))

    def dead_lettered(self, what: str, reason: str) -> None:
        """A message that is not a job: moved to the dead-letter queue, or left for its redrive policy."""
        with self._lock:
            self.messages_dead_lettered += 1
            self.failures.append((what, reason))

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                elapsed=time.monotonic() - self._start,
                planning=self.planning,
                objects_planned=self.objects_planned,
                bytes_planned=self.bytes_planned,
                objects_done=self.objects_done,
                objects_failed=self.objects_failed,
                objects_skipped=self.objects_skipped,
                bytes_sent=self.bytes_sent,
                bytes_reused=self.bytes_reused,
                bytes_completed=self.bytes_completed,
                failures=list(self.failures),
                messages_dead_lettered=self.messages_dead_lettered,
                bytes_in_place=self.bytes_in_place,
            )
