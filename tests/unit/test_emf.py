"""Embedded Metric Format records: valid structure, and per-interval deltas from the tracker."""

from __future__ import annotations

import io
import json

from s3migrate.jobs.job import Job
from s3migrate.progress.emf import EmfReporter, emf_record
from s3migrate.progress.tracker import Tracker


def test_record_declares_every_metric_and_dimension() -> None:
    record = emf_record({"FunctionName": "w"}, {"BytesUploaded": (10, "Bytes"), "ObjectsDone": (1, "Count")}, 1.5)
    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert record["_aws"]["Timestamp"] == 1500 and directive["Namespace"] == "s3_migrate"
    assert directive["Dimensions"] == [["FunctionName"]] and record["FunctionName"] == "w"
    assert [m["Name"] for m in directive["Metrics"]] == ["BytesUploaded", "ObjectsDone"]
    assert record["BytesUploaded"] == 10 and record["ObjectsDone"] == 1


def test_reporter_prints_what_moved_since_the_last_record() -> None:
    tracker, out = Tracker(), io.StringIO()
    job = Job("a", "k", "b", "k", 100)
    reporter = EmfReporter(tracker, 3600, {"ServiceName": "s3migrate-worker"}, out)
    tracker.job_sent(job, 60)
    reporter.report()
    tracker.job_sent(job, 40)
    tracker.job_done(job, 100)
    tracker.failed("x", "boom")
    reporter.report()
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert (first["BytesUploaded"], first["BytesCompleted"], first["ObjectsDone"]) == (60, 0, 0)
    assert (second["BytesUploaded"], second["BytesCompleted"], second["ObjectsDone"], second["ObjectsFailed"]) == \
        (40, 100, 1, 1)
    assert second["ServiceName"] == "s3migrate-worker" and second["MaxMemoryUsed"] > 0


def test_the_originals_metrics_are_published_without_dimensions() -> None:
    """Existing alarms on namespace s3_migrate (Downloading-bytes, Uploading-bytes, Completed-bytes,
    MaxMemoryUsed) were built on dimensionless metric filters: the same names arrive without dimensions."""
    tracker, out = Tracker(), io.StringIO()
    job = Job("a", "k", "b", "k", 100)
    tracker.job_sent(job, 100)
    tracker.job_done(job, 100)
    EmfReporter(tracker, 3600, {"ServiceName": "s3migrate-worker"}, out).report()
    record = json.loads(out.getvalue())
    ours, original = record["_aws"]["CloudWatchMetrics"]
    assert ours["Dimensions"] == [["ServiceName"]] and original["Dimensions"] == [[]]
    assert {m["Name"] for m in original["Metrics"]} == {"Downloading-bytes", "Uploading-bytes", "Completed-bytes",
                                                        "MaxMemoryUsed"}
    assert {m["Name"] for m in ours["Metrics"]}.isdisjoint(m["Name"] for m in original["Metrics"])
    assert (record["Downloading-bytes"], record["Uploading-bytes"], record["Completed-bytes"]) == (100, 100, 100)
    assert {m["Unit"] for m in original["Metrics"] if m["Name"] == "MaxMemoryUsed"} == {"Megabytes"}
