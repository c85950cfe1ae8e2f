"""Rate limits as token buckets: ``--bwlimit`` (bytes per second per process) and ``--tps-limit`` (requests per
second per endpoint).

A bucket refills at ``rate`` and holds at most ``burst`` seconds of it. Taking more than it holds leaves it in
debt, and the taker waits the debt out: over any few seconds the average stays at the rate, whatever the sizes
taken (a 64 MiB object is paid for after it moved, by the next transfer waiting).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(self, rate: float, *, burst: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("a rate must be positive")
        self.rate, self.capacity = float(rate), float(rate) * burst
        self._tokens = self.capacity
        self._clock, self._sleep = clock, sleep
        self._last = clock()
        self._lock = threading.Lock()

    def take(self, amount: float) -> float:
        """Take ``amount`` tokens; returns the seconds to wait before going on (0 when the bucket held them)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= amount
            return max(0.0, -self._tokens / self.rate)

    def acquire(self, amount: float, cancelled: threading.Event | None = None) -> None:
        """Take ``amount`` and wait out any debt (returning early, debt kept, when ``cancelled`` is set)."""
        wait = self.take(amount)
        if wait <= 0:
            return
        if cancelled is None:
            self._sleep(wait)
        else:
            cancelled.wait(wait)
