"""Items in the exact shape the original Longbow workers write (ddb_start / ddb_complete in v0.98), in one
DynamoDB table with s3migrate: read without a crash, claimed, and written back in the original's types."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from s3migrate.jobs.job import Job
from s3migrate.ledger.base import ClaimResult, JobState
from s3migrate.ledger.dynamodb import DynamoLedger, create_table
from tests.support.aws import MotoServer

JOB = Job("src-bkt", "dir/file.bin", "dst-bkt", "dir/file.bin", 2048, None, '"e1"')


@pytest.fixture
def table(moto_server: MotoServer) -> tuple[DynamoLedger, Any]:
    client = moto_server.client("dynamodb")
    name = f"orig-{uuid.uuid4().hex[:8]}"
    create_table(client, name)
    resource = boto3.resource("dynamodb", endpoint_url=moto_server.endpoint_url, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
    return DynamoLedger(client, name), resource.Table(name)


def original_item(finished: bool) -> dict[str, Any]:
    """What the original's ddb_start (and, when finished, ddb_complete) leave in the table."""
    start = int(time.time()) - 100
    item: dict[str, Any] = {
        "Key": "src-bkt/dir/file.bin", "instanceID": {"i-0abc"}, "tryTimes": Decimal(1),
        "startTime_f": {time.asctime(time.localtime(start))}, "lastTimeProgress": Decimal(0),
        "Size": Decimal(2048), "desBucket": "dst-bkt", "desKey": "dir/file.bin", "firstTime": Decimal(start),
        "versionId": "null",
    }
    if finished:
        item.update({"jobStatus": {"DONE"}, "totalSpentTime": Decimal(100), "endTime": Decimal(start + 100),
                     "endTime_f": time.asctime(time.localtime(start + 100)), "lastTimeProgress": Decimal(100)})
    return item


def test_items_the_original_wrote_are_read_and_status_works(table: tuple[DynamoLedger, Any]) -> None:
    ledger, raw = table
    raw.put_item(Item=original_item(finished=True))
    raw.put_item(Item={**original_item(finished=False), "Key": "src-bkt/other.bin", "desKey": "other.bin"})
    done = ledger.get("src-bkt/dir/file.bin")
    assert done is not None and done.state is JobState.DONE and done.first_time is not None
    assert done.end_time is not None and done.total_spent_time == 100 and done.job_status == {"DONE"}
    running = ledger.get("src-bkt/other.bin")
    assert running is not None and running.state is JobState.PENDING and running.try_times == 1
    summary = ledger.summary()
    assert summary.counts[JobState.DONE] == 1 and summary.counts[JobState.PENDING] == 1


def test_our_writes_keep_the_original_types(table: tuple[DynamoLedger, Any]) -> None:
    """A fleet replaced worker by worker: the original's workers and ours write one item."""
    ledger, raw = table
    raw.put_item(Item=original_item(finished=False))  # an original worker started it and died
    claim = ledger.claim(JOB, "s3migrate-w1", 60)
    assert claim.result is ClaimResult.CLAIMED and claim.record is not None and claim.record.try_times == 2
    ledger.complete(JOB.ledger_key, "s3migrate-w1", '"d1"')
    item = raw.get_item(Key={"Key": JOB.ledger_key}, ConsistentRead=True)["Item"]
    assert isinstance(item["firstTime"], Decimal) and isinstance(item["endTime"], Decimal)
    assert isinstance(item["startTime_f"], set) and len(item["startTime_f"]) >= 1
    assert all(isinstance(v, str) for v in item["startTime_f"])
    assert isinstance(item["endTime_f"], str) and isinstance(item["totalSpentTime"], Decimal)
    assert item["totalSpentTime"] == item["endTime"] - item["firstTime"] >= 100  # original: since the first try
    assert item["instanceID"] == {"i-0abc", "s3migrate-w1"} and item["jobStatus"] == {"DONE"}
    assert item["tryTimes"] == 2 and item["lastTimeProgress"] == 100 and item["Size"] == 2048


def test_an_item_of_unexpected_types_is_a_warning_and_a_fresh_claim(
    table: tuple[DynamoLedger, Any], caplog: pytest.LogCaptureFixture
) -> None:
    ledger, raw = table
    raw.put_item(Item={"Key": JOB.ledger_key, "tryTimes": {"1"}, "instanceID": "i-0abc", "startTime_f": "Mon",
                       "jobStatus": "ERR", "Size": "big", "firstTime": "yesterday", "endTime_f": Decimal(3)})
    record = ledger.get(JOB.ledger_key)
    assert record is not None and record.size == 0 and record.first_time is None
    claim = ledger.claim(JOB, "w2", 60)
    assert claim.result is ClaimResult.CLAIMED, claim
    assert "tryTimes is not a number" in caplog.text
    ledger.complete(JOB.ledger_key, "w2", '"d"')
    done = ledger.get(JOB.ledger_key)
    assert done is not None and done.state is JobState.DONE and done.try_times == 1
    assert ledger.claim(JOB, "w3", 60).result is ClaimResult.ALREADY_DONE


def test_status_reads_a_table_the_original_wrote(table: tuple[DynamoLedger, Any], moto_server: MotoServer,
                                                 tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    ledger, raw = table
    raw.put_item(Item=original_item(finished=True))
    raw.put_item(Item={**original_item(finished=False), "Key": "src-bkt/other.bin", "desKey": "other.bin"})
    env = {**os.environ, **moto_server.env()}
    result = subprocess.run([sys.executable, "-m", "s3migrate", "status", "--ledger", f"dynamodb://{ledger.table}",
                             "--json"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    summary = json.loads(result.stdout)
    assert summary["objects"]["DONE"] == 1 and summary["objects"]["PENDING"] == 1, summary
