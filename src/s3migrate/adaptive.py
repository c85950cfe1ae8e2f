"""How many requests to keep in flight: more while more of them move more per second.

Used for the workers of a process (messages settled per second) and for the parts of one object in flight
(bytes per second).

A far endpoint answers each request after tens or hundreds of milliseconds, so a process needs more requests in
flight there than next door to keep its links and its CPU busy; how many depends on the latency, the object
sizes and the machine, which nobody knows in advance. So the workers start at ``--workers`` and, while the queue
has work waiting for them, the process adds half as many again, keeps the step if the next interval settles at
least 10% more messages per second, and otherwise gives the step back and does not try again for a while. Memory
does not grow with it: data in flight stays under ``--max-memory`` (the byte budget), so where memory or the
machine is the limit a step brings nothing and is given back.
"""

from __future__ import annotations

from dataclasses import dataclass

STEP = 1.5  # each step adds half as many workers again
GAIN = 1.10  # a step is kept when the rate rises by this much
INTERVAL = 0.5  # seconds a rate is measured over
PAUSE = 30.0  # seconds before trying again after a step that brought nothing


@dataclass
class Concurrency:
    """Decides the number of workers from the messages settled; ``Worker.run`` asks it every half second."""

    workers: int
    ceiling: int
    _since: float | None = None  # when the current interval began
    _settled_then: int = 0
    _before_step: tuple[int, float] | None = None  # workers and rate before the step being judged
    _paused_until: float = 0.0

    def tick(self, now: float, settled: int, starved: bool) -> int:
        """The workers to run now. ``settled``: messages settled so far; ``starved``: during the interval a
        receive found no message waiting (more workers would only wait too)."""
        if self._since is None:
            self._since, self._settled_then = now, settled
            return self.workers
        if now - self._since < INTERVAL:
            return self.workers
        rate = (settled - self._settled_then) / (now - self._since)
        self._since, self._settled_then = now, settled
        if self._before_step is not None:  # judge the last step on the interval after it
            before_workers, before_rate = self._before_step
            self._before_step = None
            if rate < before_rate * GAIN:
                self.workers = before_workers
                self._paused_until = now + PAUSE
                return self.workers
        if starved or rate <= 0 or now < self._paused_until or self.workers >= self.ceiling:
            return self.workers
        self._before_step = (self.workers, rate)
        self.workers = min(self.ceiling, max(self.workers + 1, int(self.workers * STEP)))
        return self.workers
