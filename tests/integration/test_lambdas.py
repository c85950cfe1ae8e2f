"""The Lambda handlers, called the way the Lambda service calls them (real SQS event payloads with real
receipt handles), with SeaweedFS as both accounts' S3 and a moto server as SQS, DynamoDB and SSM."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest

from s3migrate.jobs.job import Job
from s3migrate.lambdas import jobsender, worker
from s3migrate.ledger.base import JobState
from s3migrate.ledger.dynamodb import DynamoLedger, create_table
from tests.conftest import Account
from tests.integration.helpers import MIB, keys, put, read, unfinished_uploads
from tests.support.aws import MotoServer
from tests.support.faultproxy import FaultProxy, Rule

pytestmark = pytest.mark.integration


@dataclass
class FakeContext:
    """What the handlers use of the Lambda context object."""

    remaining_seconds: float = 900.0
    function_name: str = "s3migrate-worker"
    aws_request_id: str = ""

    def __post_init__(self) -> None:
        self.aws_request_id = self.aws_request_id or uuid.uuid4().hex

    def get_remaining_time_in_millis(self) -> int:
        return int(self.remaining_seconds * 1000)


@pytest.fixture
def lambda_env(accounts: tuple[Account, Account], aws_profiles: Path, moto_server: MotoServer,
               buckets: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A deployment as the CDK app makes it: queue with DLQ, table, SSM parameters, environment variables.
    JobType PUT: the function's own identity reads the source, the stored credentials write the destination."""
    a, b = accounts
    src_bucket, dst_bucket = buckets
    for name, value in moto_server.env().items():
        monkeypatch.setenv(name, value)
    sqs, ddb, ssm = moto_server.client("sqs"), moto_server.client("dynamodb"), moto_server.client("ssm")
    name = f"lambda-{uuid.uuid4().hex[:8]}"
    dlq = sqs.create_queue(QueueName=name + "-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": "900",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 60})})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    create_table(ddb, name)
    with FaultProxy(a.endpoint) as src_proxy, FaultProxy(b.endpoint) as dst_proxy:
        ssm.put_parameter(Name=f"{name}-credentials", Type="SecureString", Value=json.dumps({
            "aws_access_key_id": b.server.access_key, "aws_secret_access_key": b.server.secret_key,
            "region": "us-east-1", "endpoint_url": dst_proxy.endpoint_url}))
        ssm.put_parameter(Name=f"{name}-buckets", Type="String", Value=json.dumps([
            {"src_bucket": src_bucket, "src_prefix": "data/", "des_bucket": dst_bucket, "des_prefix": "copy"}]))
        ssm.put_parameter(Name=f"{name}-ignore", Type="String", Value="*.tmp\n")
        env = {
            "table_queue_name": name, "sqs_queue_name": name, "JobType": "PUT",
            "ssm_parameter_credentials": f"{name}-credentials", "ssm_parameter_bucket": f"{name}-buckets",
            "ssm_parameter_ignore_list": f"{name}-ignore", "Des_bucket_default": dst_bucket,
            "Des_prefix_default": "events", "MaxThread": "2", "MaxParallelFile": "4",
            "S3MIGRATE_FROM_PROFILE": "src", "S3MIGRATE_FROM_ENDPOINT": src_proxy.endpoint_url,
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(worker, "_runtime", None)  # a cold start for every test
        yield {"name": name, "url": url, "arn": arn, "sqs": sqs, "ddb": ddb, "src_proxy": src_proxy,
               "dst_proxy": dst_proxy, "src_bucket": src_bucket, "dst_bucket": dst_bucket}


def sqs_event(env: dict[str, Any], max_messages: int = 10) -> dict[str, Any]:
    """Receive like the Lambda service does and build the event it would pass to the function."""
    messages = env["sqs"].receive_message(
        QueueUrl=env["url"], MaxNumberOfMessages=max_messages, WaitTimeSeconds=1,
        MessageSystemAttributeNames=["All"],
    ).get("Messages", [])
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
        "eventSource": "aws:sqs", "eventSourceARN": env["arn"], "awsRegion": "us-east-1",
    } for m in messages]}


def object_created(bucket: str, key: str, size: int) -> str:
    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": quote_plus(key), "size": size}},
    }]})


def emf_records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


def test_object_created_events_are_copied_with_traffic_lines_and_metrics(
    lambda_env: dict[str, Any], accounts: tuple[Account, Account], capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = accounts
    env = lambda_env
    expected = {key: put(a.client(), env["src_bucket"], key, size)
                for key, size in [("in/photo 1+2.jpg", 2000), ("in/big.bin", 7 * MIB), ("in/empty", 0)]}
    env["sqs"].send_message(QueueUrl=env["url"], MessageBody=json.dumps({"Event": "s3:TestEvent"}))
    for key, data in expected.items():
        env["sqs"].send_message(QueueUrl=env["url"], MessageBody=object_created(env["src_bucket"], key, len(data)))
    caplog.set_level(logging.INFO, logger="s3migrate.traffic")
    event = sqs_event(env)
    assert len(event["Records"]) == 4

    response = worker.handler(event, FakeContext())

    assert response == {"batchItemFailures": []}
    for key, data in expected.items():
        assert read(b.client(), env["dst_bucket"], f"events/{key}") == data
    total = sum(len(d) for d in expected.values())
    metrics = emf_records(capsys.readouterr().out)
    assert len(metrics) == 1 and metrics[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "s3_migrate"
    assert metrics[0]["BytesCompleted"] == total and metrics[0]["ObjectsDone"] == 3
    assert metrics[0]["BytesUploaded"] == total and metrics[0]["MaxMemoryUsed"] > 0
    lines = [r.getMessage() for r in caplog.records if r.name == "s3migrate.traffic"]
    completes = [line.split(" ", 2) for line in lines if line.startswith("--->Complete ")]
    assert sorted((int(n), name) for _, n, name in completes) == sorted(
        (len(d), f"{env['src_bucket']}/{k}") for k, d in expected.items())
    uploaded = sum(int(line.split(" ")[1]) for line in lines if line.startswith("--->Uploading "))
    assert uploaded == total


def test_a_large_object_moves_over_several_short_invocations(
    lambda_env: dict[str, Any], accounts: tuple[Account, Account], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each invocation stops taking parts before its time is up; the message comes back at once and the next
    invocation sends only the missing parts."""
    a, b = accounts
    env = lambda_env
    monkeypatch.setenv("MaxThread", "1")
    data = put(a.client(), env["src_bucket"], "in/video.bin", 6 * 5 * MIB)  # 6 parts
    env["dst_proxy"].rules.append(Rule(method="PUT", pattern="partNumber=", delay=0.6))
    env["sqs"].send_message(QueueUrl=env["url"], MessageBody=json.dumps({
        "Src_bucket": env["src_bucket"], "Src_key": "in/video.bin", "Des_bucket": env["dst_bucket"],
        "Des_key": "in/video.bin", "Size": len(data), "versionId": "null"}))
    invocations = 0
    while invocations < 12:
        event = sqs_event(env, 1)
        if not event["Records"]:
            break
        invocations += 1
        # 31.5 s left: the safety margin (30 s) leaves 1.5 s of parts per invocation.
        response = worker.handler(event, FakeContext(remaining_seconds=worker.SAFETY_MARGIN + 1.5))
        if not response["batchItemFailures"]:
            break
        assert response["batchItemFailures"] == [{"itemIdentifier": event["Records"][0]["messageId"]}]
    assert 2 <= invocations < 12
    assert read(b.client(), env["dst_bucket"], "in/video.bin") == data
    assert env["dst_proxy"].counts.get("PUT part", 0) == 6  # no part was sent twice
    assert unfinished_uploads(b.client(), env["dst_bucket"]) == []
    record = DynamoLedger(env["ddb"], env["name"]).get(f"{env['src_bucket']}/in/video.bin")
    assert record is not None and record.state is JobState.DONE and record.try_times == invocations


def test_partial_batch_failure_returns_only_the_message_to_retry(
    lambda_env: dict[str, Any], accounts: tuple[Account, Account],
) -> None:
    a, b = accounts
    env = lambda_env
    src_bucket, dst_bucket = env["src_bucket"], env["dst_bucket"]
    sizes = {"in/good.txt": 10, "in/denied.txt": 11, "in/busy.txt": 12}
    for key, size in sizes.items():
        put(a.client(), src_bucket, key, size)
        env["sqs"].send_message(QueueUrl=env["url"], MessageBody=object_created(src_bucket, key, size))
    env["src_proxy"].rules.append(Rule(method="GET", pattern="denied", status=403))
    # Another worker holds the lease on busy.txt: its message must come back later, not be dropped.
    ledger = DynamoLedger(env["ddb"], env["name"])
    ledger.claim(Job(src_bucket, "in/busy.txt", dst_bucket, "events/in/busy.txt", 12), "other-worker", 600)
    event = sqs_event(env)
    ids = {json.loads(r["body"])["Records"][0]["s3"]["object"]["key"]: r["messageId"] for r in event["Records"]}

    response = worker.handler(event, FakeContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": ids[quote_plus("in/busy.txt")]}]}
    assert keys(b.client(), dst_bucket) == {"events/in/good.txt": 10}
    denied = ledger.get(f"{src_bucket}/in/denied.txt")
    assert denied is not None and denied.state is JobState.FAILED and "AccessDenied" in (denied.last_error or "")


def test_scheduled_jobsender_sends_what_is_missing_and_never_refuses_while_busy(
    lambda_env: dict[str, Any], accounts: tuple[Account, Account],
) -> None:
    a, b = accounts
    env = lambda_env
    for i in range(25):
        put(a.client(), env["src_bucket"], f"data/f{i:02d}", 100 + i)
    put(a.client(), env["src_bucket"], "data/scratch.tmp", 5)  # ignored by the SSM ignore list
    put(a.client(), env["src_bucket"], "elsewhere/x", 5)  # outside the pair's prefix
    put(b.client(), env["dst_bucket"], "copy/data/f00", 100)  # already there

    first = jobsender.handler({"source": "aws.events"}, FakeContext(function_name="s3migrate-jobsender"))
    assert first == {"status": "sent", "jobs": 24, "bytes": sum(100 + i for i in range(1, 25)), "already_queued": 0}
    # The queue is busy: a new object is still sent (the original refused, and new objects waited forever), and
    # the 24 still queued are not sent again.
    put(a.client(), env["src_bucket"], "data/f25", 125)
    second = jobsender.handler({"source": "aws.events"}, FakeContext(function_name="s3migrate-jobsender"))
    assert second == {"status": "sent", "jobs": 1, "bytes": 125, "already_queued": 24}

    # The workers drain the queue; the destination then matches the pair.
    while (event := sqs_event(env))["Records"]:
        assert worker.handler(event, FakeContext()) == {"batchItemFailures": []}
    assert keys(b.client(), env["dst_bucket"], "copy/") == {f"copy/data/f{i:02d}": 100 + i for i in range(26)}


def test_a_broken_deployment_returns_every_message_with_one_log_line(
    lambda_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    env = lambda_env
    monkeypatch.setenv("ssm_parameter_credentials", "no-such-parameter")
    env["sqs"].send_message(QueueUrl=env["url"], MessageBody=object_created(env["src_bucket"], "in/x", 1))
    event = sqs_event(env)
    response = worker.handler(event, FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "no-such-parameter" in errors[0] and "\n" not in errors[0]


def test_a_message_that_is_not_a_job_goes_to_the_dead_letter_queue(
    lambda_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never deleted as handled: moved to the queue's DLQ when the queue is known, else reported failed so that
    the redrive policy moves it; the DLQ alarm fires either way."""
    env = lambda_env
    env["sqs"].send_message(QueueUrl=env["url"], MessageBody="{not a job")
    response = worker.handler(sqs_event(env), FakeContext())
    assert response == {"batchItemFailures": []}  # moved by us: nothing for the Lambda service to return
    dlq = env["sqs"].get_queue_url(QueueName=env["name"] + "-dlq")["QueueUrl"]
    moved = env["sqs"].receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in moved] == ["{not a job"]

    monkeypatch.delenv("sqs_queue_name")  # the queue unknown: the redrive policy must move it
    monkeypatch.setattr(worker, "_runtime", None)
    env["sqs"].send_message(QueueUrl=env["url"], MessageBody="[1, 2]")
    event = sqs_event(env)
    response = worker.handler(event, FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_the_lambda_worker_writes_what_the_access_settings_say(
    lambda_env: dict[str, Any], accounts: tuple[Account, Account], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The deployment passes [access] as S3MIGRATE_* environment; the worker writes accordingly."""
    a, b = accounts
    env = lambda_env
    monkeypatch.setenv("S3MIGRATE_METADATA", "copied-by=lambda")
    monkeypatch.setenv("S3MIGRATE_CACHE_CONTROL", "max-age=600")
    monkeypatch.setenv("S3MIGRATE_SSE", "AES256")
    put(a.client(), env["src_bucket"], "in/doc.txt", 300, Metadata={"origin": "src"})
    env["sqs"].send_message(QueueUrl=env["url"], MessageBody=object_created(env["src_bucket"], "in/doc.txt", 300))
    assert worker.handler(sqs_event(env), FakeContext()) == {"batchItemFailures": []}
    head = b.client().head_object(Bucket=env["dst_bucket"], Key="events/in/doc.txt")
    assert head["Metadata"] == {"origin": "src", "copied-by": "lambda"} and head["CacheControl"] == "max-age=600"
    assert head.get("ServerSideEncryption") == "AES256"
