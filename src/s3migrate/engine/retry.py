"""Part-level retry on top of botocore's request retries: backoff with full jitter."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import TypeVar

from s3migrate.endpoints.failures import classify
from s3migrate.errors import Disposition

T = TypeVar("T")


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 20.0) -> float:
    """Full-jitter exponential backoff for attempt 1, 2, ... (AWS architecture blog's recommendation)."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


def with_retries(
    operation: Callable[[], T],
    attempts: int,
    cancelled: threading.Event | None = None,
    sleep: Callable[[float], object] | None = None,
) -> T:
    """Run ``operation``; retry transient failures up to ``attempts`` times in all, then re-raise."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return operation()
        except Exception as exc:
            if classify(exc) is not Disposition.RETRY or attempt >= max(1, attempts):
                raise
            if cancelled is not None and cancelled.is_set():
                raise
            delay = backoff_delay(attempt)
            if sleep is not None:
                sleep(delay)
            elif cancelled is not None:
                cancelled.wait(delay)
            else:
                threading.Event().wait(delay)
