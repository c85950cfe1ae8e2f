"""The token bucket behind --bwlimit and --tps-limit: bursts up to its capacity, then the rate on average."""

from __future__ import annotations

import threading
import time

from s3migrate.pacing import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_burst_then_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(100.0, burst=2.0, clock=clock, sleep=clock.sleep)
    bucket.acquire(200)  # the burst: no wait
    assert clock.slept == []
    for _ in range(10):
        bucket.acquire(50)
    assert abs(clock.now - 5.0) < 1e-9  # 500 more at 100 per second
    clock.now += 10  # idle: it refills to its capacity, not beyond
    bucket.acquire(200)
    bucket.acquire(100)
    assert abs(clock.slept[-1] - 1.0) < 1e-9


def test_a_take_larger_than_the_bucket_is_paid_for_afterwards() -> None:
    clock = Clock()
    bucket = TokenBucket(10.0, burst=1.0, clock=clock, sleep=clock.sleep)
    bucket.acquire(50)  # 40 in debt: 4 seconds
    assert clock.slept == [4.0]
    bucket.acquire(10)
    assert clock.slept[-1] == 1.0


def test_a_cancelled_wait_returns_at_once() -> None:
    bucket = TokenBucket(1.0, burst=1.0)
    cancelled = threading.Event()
    cancelled.set()
    started = time.monotonic()
    bucket.acquire(100, cancelled)  # would wait 99 s
    assert time.monotonic() - started < 1.0
    assert bucket.take(0) > 98  # the debt is kept: the next taker waits it out
