"""What one copy attempt needs besides the clients: the job, its ledger record, cancellation, a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from s3migrate.jobs.job import Job
from s3migrate.ledger.base import Ledger, LedgerRecord


@dataclass
class CopyContext:
    job: Job
    owner: str
    ledger: Ledger
    record: LedgerRecord | None = None
    retried: bool = False  # an earlier attempt may have landed: look at the destination before copying
    cancelled: threading.Event = field(default_factory=threading.Event)
    deadline: float = float("inf")  # time.monotonic() after which no new part starts
    on_bytes: Callable[[int], None] = lambda n: None  # bytes written to the destination
    on_reused: Callable[[int], None] = lambda n: None  # bytes found already at the destination
    on_copied_in_place: Callable[[int], None] = lambda n: None  # bytes the destination copied itself (no transfer)

    def should_stop(self) -> bool:
        return self.cancelled.is_set() or time.monotonic() >= self.deadline


@dataclass(frozen=True)
class CopyResult:
    etag: str
    size: int
    bytes_sent: int
    parts_sent: int = 0
    parts_reused: int = 0
    version_id: str | None = None
    part_size: int | None = None  # the multipart layout behind ``etag`` (None: a single PUT)
