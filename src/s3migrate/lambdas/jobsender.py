"""The scheduled Lambda jobsender: ``s3migrate.lambdas.jobsender.handler`` (an hourly EventBridge rule).

Bucket pairs, the ignore list and the other account's credentials come from SSM (``ssm_parameter_bucket``,
``ssm_parameter_ignore_list``, ``ssm_parameter_credentials``), the queue and table from ``sqs_queue_name``
and ``table_queue_name``: the same ``run_send`` as ``s3migrate send``. Unlike the original it sends while the
queue still has work, leaving out what the ledger shows waiting or in progress. The comparison streams (two
sorted listings, merged), so its memory does not grow with the bucket; it stops sending a safety margin before
the Lambda timeout, and the next run picks up whatever is still missing.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from s3migrate.cluster import run_send
from s3migrate.config import load_settings
from s3migrate.progress.emf import emf_record, emit, peak_memory_mib
from s3migrate.wiring import bucket_pairs

log = logging.getLogger(__name__)

SAFETY_MARGIN = 60.0  # seconds: the batch in hand is registered and sent before the Lambda timeout


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    settings = load_settings({}, None, os.environ)
    pairs = bucket_pairs(settings, None, None, None)
    stop = threading.Event()
    timer = None
    if context is not None:
        remaining = context.get_remaining_time_in_millis() / 1000
        timer = threading.Timer(max(1.0, remaining - SAFETY_MARGIN), stop.set)
        timer.daemon = True
        timer.start()
    try:
        report = run_send(settings, pairs, cancelled=stop)
    finally:
        if timer is not None:
            timer.cancel()
    for mapping, stats in report.stats:
        log.info("%s -> %s: %d to copy (%d bytes), %d unchanged, %d ignored", mapping.src_bucket,
                 mapping.dst_bucket, stats.to_copy, stats.bytes_to_copy, stats.skipped, stats.ignored)
    if report.stopped:
        log.warning("stopped before the Lambda timeout after %d jobs; the next run continues", report.jobs)
    function = getattr(context, "function_name", None) or os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "jobsender")
    emit(emf_record({"FunctionName": function}, {
        "JobsSent": (report.jobs, "Count"),
        "BytesToCopy": (report.bytes, "Bytes"),
        "MaxMemoryUsed": (round(peak_memory_mib(), 1), "Megabytes"),
    }))
    if report.already_queued:
        log.info("%d planned jobs are still waiting or in progress: not sent again", report.already_queued)
    return {"status": "stopped" if report.stopped else "sent", "jobs": report.jobs, "bytes": report.bytes,
            "already_queued": report.already_queued}
