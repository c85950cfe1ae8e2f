"""CloudWatch Embedded Metric Format: metrics as JSON log lines, extracted by CloudWatch Logs.

The Lambda functions print one record per invocation; ``s3migrate work --metrics-interval`` prints one per
interval to its log, which the CloudWatch agent ships (CloudWatch Logs extracts EMF from any log event).
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from typing import Any, TextIO

from s3migrate.progress.tracker import Snapshot, Tracker

NAMESPACE = "s3_migrate"
# The original's names (its log metric filters published them in this namespace, without dimensions).
ORIGINAL_METRICS = frozenset({"Downloading-bytes", "Uploading-bytes", "Completed-bytes", "MaxMemoryUsed"})


def peak_memory_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emf_record(dimensions: dict[str, str], metrics: dict[str, tuple[float, str]],
               now: float | None = None) -> dict[str, Any]:
    """One EMF record: ``metrics`` maps a name to (value, unit), published under ``dimensions``. The original
    Longbow's metrics among them (:data:`ORIGINAL_METRICS`) go out without dimensions, as its metric filters
    made them, so existing alarms and dashboards keep working."""
    ours = {name: unit for name, (_, unit) in metrics.items() if name not in ORIGINAL_METRICS}
    original = {name: unit for name, (_, unit) in metrics.items() if name in ORIGINAL_METRICS}
    directives = [{"Namespace": NAMESPACE, "Dimensions": [sorted(dimensions)],
                   "Metrics": [{"Name": name, "Unit": unit} for name, unit in ours.items()]}]
    if original:
        directives.append({"Namespace": NAMESPACE, "Dimensions": [[]],
                           "Metrics": [{"Name": name, "Unit": unit} for name, unit in original.items()]})
    return {
        "_aws": {
            "Timestamp": int((now if now is not None else time.time()) * 1000),
            "CloudWatchMetrics": directives,
        },
        **dimensions,
        **{name: value for name, (value, _) in metrics.items()},
    }


def emit(record: dict[str, Any], stream: TextIO | None = None) -> None:
    print(json.dumps(record, separators=(",", ":")), file=stream or sys.stdout, flush=True)


def traffic_metrics(now: Snapshot, before: Snapshot | None = None) -> dict[str, tuple[float, str]]:
    """What moved between two snapshots (since the start without ``before``). Bytes are counted as a part
    lands: the copy streams through memory, so what was downloaded is what was uploaded."""

    def delta(name: str) -> int:
        return int(getattr(now, name) - (getattr(before, name) if before is not None else 0))

    return {
        "BytesDownloaded": (delta("bytes_sent"), "Bytes"),
        "BytesUploaded": (delta("bytes_sent"), "Bytes"),
        "BytesCompleted": (delta("bytes_completed"), "Bytes"),
        "ObjectsDone": (delta("objects_done") + delta("objects_skipped"), "Count"),
        "ObjectsFailed": (delta("objects_failed"), "Count"),
        "MessagesDeadLettered": (delta("messages_dead_lettered"), "Count"),
        "Downloading-bytes": (delta("bytes_sent"), "Bytes"),
        "Uploading-bytes": (delta("bytes_sent"), "Bytes"),
        "Completed-bytes": (delta("bytes_completed"), "Bytes"),
        "MaxMemoryUsed": (round(peak_memory_mib(), 1), "Megabytes"),
    }


class EmfReporter:
    """Prints a record of what moved every ``interval`` seconds (and once at the end)."""

    def __init__(self, tracker: Tracker, interval: float, dimensions: dict[str, str],
                 stream: TextIO | None = None) -> None:
        self.tracker, self.interval, self.dimensions, self.stream = tracker, interval, dimensions, stream
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="s3migrate-emf", daemon=True)
        self._last: Snapshot | None = None

    def __enter__(self) -> EmfReporter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.report()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.report()

    def report(self) -> None:
        snapshot = self.tracker.snapshot()
        emit(emf_record(self.dimensions, traffic_metrics(snapshot, self._last)), self.stream)
        self._last = snapshot
