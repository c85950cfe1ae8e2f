"""Renderers: a rich progress display on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, TextIO

from s3migrate.config import format_size
from s3migrate.progress.tracker import Snapshot, Tracker

if TYPE_CHECKING:
    from rich.text import Text


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def status_line(s: Snapshot) -> str:
    planned = f"{s.objects_planned}{'+' if s.planning else ''}"
    parts = [
        f"objects {s.objects_finished}/{planned}",
        f"bytes {format_size(s.bytes_finished)}/{format_size(s.bytes_planned)}",
        f"{format_size(s.rate)}/s",
        f"ETA {_duration(s.eta)}",
    ]
    if s.objects_failed:
        parts.append(f"failed {s.objects_failed}")
    return "  ".join(parts)


class ProgressRenderer:
    """Refreshes until stopped; rich on a terminal, one line every ``interval`` seconds elsewhere."""

    def __init__(self, tracker: Tracker, stream: TextIO | None = None, interval: float = 10.0) -> None:
        self.tracker = tracker
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.interval = 0.25 if self.interactive else interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="s3migrate-progress", daemon=True)

    def __enter__(self) -> ProgressRenderer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        if self.interactive:  # rich is imported here: a run without a terminal (cron, workers) skips its 35 ms
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream)
            with Live(console=console, refresh_per_second=4, transient=True) as live:
                while not self._stop.wait(self.interval):
                    live.update(self._rich(self.tracker.snapshot()))
        else:
            while not self._stop.wait(self.interval):
                print(f"progress: {status_line(self.tracker.snapshot())}", file=self.stream, flush=True)

    @staticmethod
    def _rich(s: Snapshot) -> Text:
        from rich.text import Text

        total = max(s.bytes_planned, 1)
        done = min(s.bytes_finished, total)
        width = 30
        filled = int(width * done / total) if s.bytes_planned else 0
        bar = Text("━" * filled, style="green") + Text("━" * (width - filled), style="grey37")
        return bar + Text("  " + status_line(s))
