"""Maintenance windows: ``--max-duration`` and ``--max-transfer`` stop a run from taking new objects.

``--max-transfer`` is checked as the tracker counts bytes, in the thread that reports them, so the run stops
before it takes another object; ``--max-duration`` by a watcher a few times a second. Either stops the run the way
Ctrl-C does (objects in flight stop at a part boundary, unfinished uploads stay resumable, messages go back to the
queue) and says why. The next run continues where this one stopped. Its exit code (3) differs from a failure.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from s3migrate.config import format_size
from s3migrate.progress.tracker import Tracker

EXIT_WINDOW = 3  # stopped at --max-duration / --max-transfer: run again to continue


class Window:
    """Stops a run (``stop``) when ``max_duration`` seconds have passed or ``max_transfer`` bytes have moved."""

    def __init__(self, tracker: Tracker, stop: Callable[[], None], *, max_duration: float | None,
                 max_transfer: int | None, interval: float = 0.2) -> None:
        self.tracker, self.stop = tracker, stop
        self.max_duration, self.max_transfer, self.interval = max_duration, max_transfer, interval
        self.reason: str | None = None  # set once the window ended the run
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Window:
        if self.max_transfer is not None:  # checked as bytes are reported: no object is taken past it
            self.tracker.when_moved(self.max_transfer, self._transfer_reached)
        if self.max_duration is not None:
            self._started = time.monotonic()
            self._thread = threading.Thread(target=self._watch, name="s3migrate-window", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(self.interval):
            reason = self._used_up()
            if reason is not None and self.reason is None:
                self.reason = reason
                self.stop()
                return

    def _used_up(self) -> str | None:
        if self.max_duration is not None and time.monotonic() - self._started >= self.max_duration:
            return f"--max-duration {self.max_duration:g}s reached"
        return None

    def _transfer_reached(self, moved: int) -> None:
        assert self.max_transfer is not None
        if self.reason is None:
            self.reason = f"--max-transfer {format_size(self.max_transfer)} reached ({format_size(moved)} moved)"
            self.stop()
