"""A byte budget taken before a part is read, so memory is bounded by construction, not by hope."""

from __future__ import annotations

import threading


class ByteBudget:
    """At most ``capacity`` bytes of object data in flight. A request larger than the whole budget is
    admitted alone (it waits for everything else to drain) so that an oversized part cannot deadlock."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._used = 0
        self._peak = 0
        self._cond = threading.Condition()

    def acquire(self, nbytes: int, cancelled: threading.Event | None = None) -> int:
        """Block until ``nbytes`` fit; return the amount to pass to :meth:`release`.
        Returns -1 when ``cancelled`` is set while waiting."""
        amount = min(max(nbytes, 0), self.capacity)
        with self._cond:
            while self._used + amount > self.capacity:
                if cancelled is not None and cancelled.is_set():
                    return -1
                self._cond.wait(timeout=0.2)
            self._used += amount
            self._peak = max(self._peak, self._used)
        return amount

    def release(self, amount: int) -> None:
        if amount <= 0:
            return
        with self._cond:
            self._used -= amount
            self._cond.notify_all()

    @property
    def peak(self) -> int:
        return self._peak
