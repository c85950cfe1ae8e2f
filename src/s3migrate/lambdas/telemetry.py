"""What a Lambda run reports: the original's traffic log lines and CloudWatch Embedded Metric Format.

The original's dashboard reads three metric filters on the log group, ``[info, date, sn,
p="--->Downloading", bytes, key]`` and the same for ``--->Uploading`` and ``--->Complete``; the Lambda
runtime's log format supplies the first three fields, so the lines keep working with existing dashboards.
The same figures also go out as one EMF record per invocation (namespace ``s3_migrate``), which needs no
metric filter at all.
"""

from __future__ import annotations

import logging

from s3migrate.jobs.job import Job
from s3migrate.progress.tracker import Tracker

traffic_log = logging.getLogger("s3migrate.traffic")
traffic_log.setLevel(logging.INFO)  # these lines feed metric filters: never hidden by LoggingLevel


class TrafficTracker(Tracker):
    """A tracker that also writes the original's per-part traffic lines.

    A part (or a whole small object) is logged as downloaded and uploaded when it lands at the
    destination: the copy streams through memory, so what was read is what was written."""

    def job_sent(self, job: Job, nbytes: int) -> None:
        super().job_sent(job, nbytes)
        name = f"{job.src_bucket}/{job.src_key}"
        traffic_log.info("--->Downloading %d %s", nbytes, name)
        traffic_log.info("--->Uploading %d %s", nbytes, name)

    def job_done(self, job: Job, size: int) -> None:
        super().job_done(job, size)
        traffic_log.info("--->Complete %d %s/%s", size, job.src_bucket, job.src_key)
