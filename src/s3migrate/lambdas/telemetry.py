"""What a Lambda run reports: the original's traffic log lines and CloudWatch Embedded Metric Format.

The original's dashboard reads three metric filters on the log group, ``[info, date, sn,
p="--->Downloading", bytes, key]`` and the same for ``--->Uploading`` and ``--->Complete``; the Lambda
runtime's log format supplies the first three fields, so the lines keep working with existing dashboards.
The same figures also go out as one EMF record per invocation (namespace ``s3_migrate``), which needs no
metric filter at all.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import threading
import time
from typing import Any, TextIO

from s3migrate.jobs.job import Job
from s3migrate.progress.tracker import Tracker

NAMESPACE = "s3_migrate"
traffic_log = logging.getLogger("s3migrate.traffic")
traffic_log.setLevel(logging.INFO)  # these lines feed metric filters: never hidden by LoggingLevel


class TrafficTracker(Tracker):
    """A tracker that also writes the original's per-part traffic lines and counts bytes per invocation.

    A part (or a whole small object) is logged as downloaded and uploaded when it lands at the
    destination: the copy streams through memory, so what was read is what was written."""

    def __init__(self) -> None:
        super().__init__()
        self._counts_lock = threading.Lock()
        self.bytes_completed = 0

    def job_sent(self, job: Job, nbytes: int) -> None:
        super().job_sent(job, nbytes)
        name = f"{job.src_bucket}/{job.src_key}"
        traffic_log.info("--->Downloading %d %s", nbytes, name)
        traffic_log.info("--->Uploading %d %s", nbytes, name)

    def job_done(self, job: Job, size: int) -> None:
        super().job_done(job, size)
        with self._counts_lock:
            self.bytes_completed += size
        traffic_log.info("--->Complete %d %s/%s", size, job.src_bucket, job.src_key)


def peak_memory_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emf_record(function: str, metrics: dict[str, tuple[float, str]], now: float | None = None) -> dict[str, Any]:
    """One Embedded Metric Format record: ``metrics`` maps a name to (value, unit)."""
    return {
        "_aws": {
            "Timestamp": int((now if now is not None else time.time()) * 1000),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["FunctionName"]],
                "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()],
            }],
        },
        "FunctionName": function,
        **{name: value for name, (value, _) in metrics.items()},
    }


def emit(record: dict[str, Any], stream: TextIO | None = None) -> None:
    """EMF records are plain JSON lines on stdout; the Lambda log agent turns them into metrics."""
    print(json.dumps(record, separators=(",", ":")), file=stream or sys.stdout, flush=True)


def worker_metrics(tracker: TrafficTracker) -> dict[str, tuple[float, str]]:
    snapshot = tracker.snapshot()
    return {
        "BytesDownloaded": (snapshot.bytes_sent, "Bytes"),
        "BytesUploaded": (snapshot.bytes_sent, "Bytes"),
        "BytesCompleted": (tracker.bytes_completed, "Bytes"),
        "ObjectsDone": (snapshot.objects_done + snapshot.objects_skipped, "Count"),
        "ObjectsFailed": (snapshot.objects_failed, "Count"),
        "MaxMemoryUsed": (round(peak_memory_mib(), 1), "Megabytes"),
    }
