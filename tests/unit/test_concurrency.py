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
