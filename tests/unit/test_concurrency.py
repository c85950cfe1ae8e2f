"""Workers added while they help (far endpoints), given back when a step brings nothing: the controller alone, on
a made-up clock. ``bench/run.py --latency 50`` shows it on real servers."""

from __future__ import annotations

from s3migrate.adaptive import INTERVAL, PAUSE, Concurrency


def test_workers_grow_while_each_step_brings_more_objects_per_second() -> None:
    c = Concurrency(workers=64, ceiling=1024)
    assert c.tick(0.0, 0, starved=False) == 64  # the first interval starts
    assert c.tick(1.0, 600, starved=False) == 96  # 600/s with 64: try half as many again
    assert c.tick(2.0, 1500, starved=False) == 144  # 900/s with 96: kept, and another step
    assert c.tick(3.0, 2700, starved=False) == 216  # 1,200/s: kept again
    assert c.tick(3.0 + INTERVAL / 2, 3000, starved=False) == 216  # within an interval nothing changes


def test_a_step_that_brings_nothing_is_given_back_and_not_tried_again_for_a_while() -> None:
    c = Concurrency(workers=64, ceiling=1024)
    c.tick(0.0, 0, starved=False)
    assert c.tick(1.0, 600, starved=False) == 96
    assert c.tick(2.0, 1230, starved=False) == 64  # 630/s is not 10% more: back to 64
    assert c.tick(3.0, 1830, starved=False) == 64
    assert c.tick(2.0 + PAUSE + 1, 1830 + 600 * int(PAUSE), starved=False) == 96  # tried again later


def test_no_step_while_the_queue_runs_dry_and_never_past_the_ceiling() -> None:
    c = Concurrency(workers=64, ceiling=80)
    c.tick(0.0, 0, starved=False)
    assert c.tick(1.0, 600, starved=True) == 64  # receives found nothing waiting: more workers would only wait
    assert c.tick(2.0, 1200, starved=False) == 80
    assert c.tick(3.0, 2400, starved=False) == 80


def test_an_objects_part_slots_grow_and_are_taken_back_by_the_releases() -> None:
    """The parts of one object (engine/multipart.py): permits added by a step, and owed back by later releases when
    a step is given back, so the parts in flight never exceed the current count."""
    from s3migrate.engine.multipart import _Slots

    clock = [0.0]
    slots = _Slots(2, 4, clock=lambda: clock[0])
    assert slots.acquire(0) and slots.acquire(0) and not slots.acquire(0)  # two to start with
    slots.release(100)
    clock[0] = 1.0
    assert slots.acquire(0)  # the first interval: 100 bytes/s measured, a step to 3 adds a permit
    assert slots.acquire(0) and not slots.acquire(0)  # three in flight now
    slots.release(10)
    clock[0] = 2.0
    slots.acquire(0)  # 10 bytes/s after the step: it is given back, and one permit is owed
    assert slots._concurrency.workers == 2 and slots._owed == 1
