"""Cluster mode end to end: SeaweedFS for S3 (two accounts), a moto server for SQS, DynamoDB and SSM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s3migrate.ledger.base import JobState
from s3migrate.ledger.dynamodb import DynamoLedger, create_table
from tests.conftest import Account
from tests.integration.helpers import MIB, keys, put, read, unfinished_uploads
from tests.support.aws import MotoServer
from tests.support.faultproxy import FaultProxy, Rule

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster(accounts: tuple[Account, Account], aws_profiles: Path, moto_server: MotoServer, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A fresh queue (with a DLQ) and ledger table, and proxies in front of both S3 accounts."""
    monkeypatch.chdir(tmp_path)
    for name, value in moto_server.env().items():
        monkeypatch.setenv(name, value)
    sqs, ddb = moto_server.client("sqs"), moto_server.client("dynamodb")
    name = f"jobs-{uuid.uuid4().hex[:8]}"
    dlq = sqs.create_queue(QueueName=name + "-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 60})})["QueueUrl"]
    create_table(ddb, name)
    a, b = accounts
    with FaultProxy(a.endpoint) as src_proxy, FaultProxy(b.endpoint) as dst_proxy:
        yield {"queue": f"sqs://{name}", "queue_url": url, "ledger": f"dynamodb://{name}", "table": name,
               "sqs": sqs, "ddb": ddb, "src_proxy": src_proxy, "dst_proxy": dst_proxy}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "s3migrate", *args]


def s3_args(c: dict[str, Any]) -> list[str]:
    return ["--from-profile", "src", "--to-profile", "dst", "--from-endpoint", c["src_proxy"].endpoint_url,
            "--to-endpoint", c["dst_proxy"].endpoint_url]


def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(*args), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def queue_empty(c: dict[str, Any]) -> bool:
    attrs = c["sqs"].get_queue_attributes(QueueUrl=c["queue_url"], AttributeNames=["All"])["Attributes"]
    return attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_send_then_two_workers_one_killed_mid_object(
    cluster: dict[str, Any], accounts: tuple[Account, Account], buckets: tuple[str, str], tmp_path: Path
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    expected = {f"data/small-{i:02d} +%é.txt": put(a.client(), src_bucket, f"data/small-{i:02d} +%é.txt", 100 + i)
                for i in range(20)}
    expected["data/empty"] = put(a.client(), src_bucket, "data/empty", 0)
    expected["data/big.bin"] = put(a.client(), src_bucket, "data/big.bin", 12 * 5 * MIB + 99)  # 13 parts
    put(a.client(), src_bucket, "other/not-in-pairs.txt", 10)
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps([{"src_bucket": src_bucket, "src_prefix": "data/", "des_bucket": dst_bucket,
                                  "des_prefix": "archive"}]))
    common = ["--queue", cluster["queue"], "--ledger", cluster["ledger"], *s3_args(cluster)]

    sent = run("send", "--pairs", str(pairs), *common)
    assert sent.returncode == 0, sent.stderr
    assert "sent 22 jobs" in sent.stdout and "largest object 60.0 MiB" in sent.stdout
    busy = run("send", "--pairs", str(pairs), *common)  # the queue is busy: nothing is refused, nothing doubled
    assert busy.returncode == 0 and "22 planned jobs still waiting" in busy.stdout and "sent 0 jobs" in busy.stdout

    cluster["dst_proxy"].rules.append(Rule(method="PUT", pattern="partNumber=", delay=0.3))
    work = ["work", *common, "--workers", "2", "--threads", "2", "--job-timeout", "5", "--exit-when-idle", "50",
            "--log-level", "INFO"]
    first, second = subprocess.Popen(cli(*work)), subprocess.Popen(cli(*work))
    ledger = DynamoLedger(cluster["ddb"], cluster["table"])
    big_key = f"{src_bucket}/data/big.bin"
    deadline = time.monotonic() + 90
    owner = None
    while time.monotonic() < deadline:
        record = ledger.get(big_key)
        uploads = [u for u in unfinished_uploads(b.client(), dst_bucket) if u["Key"] == "archive/data/big.bin"]
        if record and record.lease_owner and uploads:
            parts = b.client().list_parts(Bucket=dst_bucket, Key="archive/data/big.bin",
                                          UploadId=uploads[0]["UploadId"]).get("Parts", [])
            if len(parts) >= 3:
                owner = record.lease_owner
                break
        time.sleep(0.05)
    assert owner is not None, "the large object never got going"
    victim = first if f":{first.pid}:" in owner else second
    survivor = second if victim is first else first
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    cluster["dst_proxy"].rules.clear()
    assert survivor.wait(timeout=240) == 0

    for key, data in expected.items():
        assert read(b.client(), dst_bucket, "archive/" + key) == data, key
    assert "archive/other/not-in-pairs.txt" not in keys(b.client(), dst_bucket)
    assert unfinished_uploads(b.client(), dst_bucket) == []
    records = {r.key: r for r in ledger.records()}
    assert len(records) == 22 and all(r.state is JobState.DONE for r in records.values())
    assert records[big_key].try_times >= 2 and len(records[big_key].instance_ids) >= 1
    assert queue_empty(cluster)
    # nothing was copied twice in full: each small object PUT once, the big one's parts at most once plus in-flight
    paths = cluster["dst_proxy"].paths
    for key in expected:
        if key != "data/big.bin":
            assert paths.get(f"PUT /{dst_bucket}/archive/{key}") == 1, (key, records[f"{src_bucket}/{key}"])
    assert paths.get(f"PUT /{dst_bucket}/archive/data/big.bin", 0) <= 13 + 2

    status = run("status", "--ledger", cluster["ledger"], "--queue", cluster["queue"], "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["objects"]["DONE"] == 22 and report["queue"]["visible"] == 0


def test_s3_event_notifications_copy_to_the_default_destination(
    cluster: dict[str, Any], accounts: tuple[Account, Account], buckets: tuple[str, str]
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    data = put(a.client(), src_bucket, "in box/a+b %c é.txt", 123)
    folder = put(a.client(), src_bucket, "new folder/", 0)
    event = {"Records": [
        {"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
         "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": src_bucket, "arn": f"arn:aws:s3:::{src_bucket}"},
                "object": {"key": "in+box/a%2Bb+%25c+%C3%A9.txt", "size": 123, "sequencer": "0A1B"}}},
    ]}
    folder_event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": src_bucket}, "object": {"key": "new+folder/", "size": 0}}}]}
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-01-01T00:00:00.000Z",
                  "Bucket": src_bucket, "RequestId": "X", "HostId": "Y"}
    # S3 -> SNS -> SQS fan-out wraps the event in a notification; EventBridge sends its own shape.
    via_sns = put(a.client(), src_bucket, "sns/one.txt", 44)
    sns_event = {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:1:fanout",
                 "Message": json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
                     "bucket": {"name": src_bucket}, "object": {"key": "sns/one.txt", "size": 44}}}]})}
    via_eventbridge = put(a.client(), src_bucket, "eb/two.txt", 55)
    eventbridge_event = {"version": "0", "detail-type": "Object Created", "source": "aws.s3", "detail": {
        "version": "0", "bucket": {"name": src_bucket}, "object": {"key": "eb/two.txt", "size": 55}}}
    for body in (test_event, event, folder_event, sns_event, eventbridge_event):
        cluster["sqs"].send_message(QueueUrl=cluster["queue_url"], MessageBody=json.dumps(body))
    result = run("work", "--queue", cluster["queue"], "--ledger", cluster["ledger"], *s3_args(cluster),
                 "--des-bucket-default", dst_bucket, "--des-prefix-default", "events", "--exit-when-idle", "3")
    assert result.returncode == 0, result.stderr
    assert read(b.client(), dst_bucket, "events/in box/a+b %c é.txt") == data
    assert read(b.client(), dst_bucket, "events/new folder/") == folder
    assert read(b.client(), dst_bucket, "events/sns/one.txt") == via_sns
    assert read(b.client(), dst_bucket, "events/eb/two.txt") == via_eventbridge
    assert queue_empty(cluster)


def test_bad_messages_reach_the_dead_letter_queue_and_never_crash_the_worker(
    cluster: dict[str, Any], accounts: tuple[Account, Account], buckets: tuple[str, str]
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    good = put(a.client(), src_bucket, "good.txt", 10)
    put(a.client(), src_bucket, "denied.txt", 10)
    cluster["src_proxy"].rules.append(Rule(method="GET", pattern="denied", status=403))
    cluster["src_proxy"].rules.append(Rule(method="HEAD", pattern="denied", status=403))

    def job(src_key: str, bucket: str = src_bucket, **extra: Any) -> str:
        return json.dumps({"Src_bucket": bucket, "Src_key": src_key, "Des_bucket": dst_bucket,
                           "Des_key": src_key, "Size": 10, "versionId": "null", **extra})

    bodies = ["{not json", json.dumps({"Src_bucket": src_bucket}), job("missing.txt"), job("x", bucket="no-such-bkt"),
              job("denied.txt"), job("k" * 2000), job("good.txt"), "[1, 2]"]
    for body in bodies:
        cluster["sqs"].send_message(QueueUrl=cluster["queue_url"], MessageBody=body)
    s3_event = json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": src_bucket},
                                                                              "object": {"key": "good.txt"}}}]})
    bodies.append(s3_event)  # an event, but no Des_bucket_default is set: no destination, so not a job
    for body in bodies[-1:]:
        cluster["sqs"].send_message(QueueUrl=cluster["queue_url"], MessageBody=body)
    result = run("work", "--queue", cluster["queue"], "--ledger", cluster["ledger"], *s3_args(cluster),
                 "--exit-when-idle", "3", "--max-retries", "1")
    assert result.returncode == 1, result.stderr  # objects failed and messages were dead-lettered
    assert "Traceback" not in result.stderr
    assert read(b.client(), dst_bucket, "good.txt") == good
    assert queue_empty(cluster)
    # The messages that are not jobs are in the dead-letter queue, never deleted: its alarm fires as it did.
    dlq = cluster["sqs"].get_queue_url(QueueName=cluster["table"] + "-dlq")["QueueUrl"]
    dead = []
    while batch := cluster["sqs"].receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", []):
        dead += [m["Body"] for m in batch]
    assert sorted(dead) == sorted(["{not json", json.dumps({"Src_bucket": src_bucket}), job("k" * 2000), "[1, 2]",
                                   s3_event])
    ledger = DynamoLedger(cluster["ddb"], cluster["table"])
    failed = {r.key: r.last_error for r in ledger.records(JobState.FAILED)}
    assert "does not exist" in (failed[f"{src_bucket}/missing.txt"] or "")
    assert "does not exist" in (failed["no-such-bkt/x"] or "")
    assert "AccessDenied" in (failed[f"{src_bucket}/denied.txt"] or "")
    assert "not a job" in result.stderr and "not JSON" in result.stderr and "1024-byte" in result.stderr
    assert "Des_bucket_default" in result.stderr
    # the worker kept going through every bad message and stopped by itself when the queue was idle
    assert "worker done: 1 copied" in result.stdout and "3 failed" in result.stdout, result.stdout
    assert "5 messages not jobs (dead-letter queue)" in result.stdout, result.stdout


def test_settings_from_ssm_and_original_env_names_with_version_compare(
    cluster: dict[str, Any], accounts: tuple[Account, Account], buckets: tuple[str, str], moto_server: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    a.client().put_bucket_versioning(Bucket=src_bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = put(a.client(), src_bucket, "docs/report.txt", 500, seed=1)
    put(a.client(), src_bucket, "docs/skip.tmp", 5)
    ssm = moto_server.client("ssm")
    prefix = uuid.uuid4().hex[:6]
    ssm.put_parameter(Name=f"{prefix}_bucket_para", Type="String", Value=json.dumps(
        [{"src_bucket": src_bucket, "src_prefix": "docs", "des_bucket": dst_bucket, "des_prefix": ""}]))
    ssm.put_parameter(Name=f"{prefix}_ignore_list", Type="String", Value="*.tmp\n")
    ssm.put_parameter(Name=f"{prefix}_credentials", Type="SecureString", Value=json.dumps({
        "aws_access_key_id": b.server.access_key, "aws_secret_access_key": b.server.secret_key,
        "region": "us-east-1", "endpoint_url": cluster["dst_proxy"].endpoint_url}))
    env = {"sqs_queue_name": cluster["queue"][len("sqs://"):], "table_queue_name": cluster["table"],
           "ssm_parameter_bucket": f"{prefix}_bucket_para", "ssm_parameter_ignore_list": f"{prefix}_ignore_list",
           "ssm_parameter_credentials": f"{prefix}_credentials", "JobType": "PUT",
           "JobsenderCompareVersionId": "True", "GetObjectWithVersionId": "True", "MaxThread": "2"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    source_only = ["--from-profile", "src", "--from-endpoint", cluster["src_proxy"].endpoint_url]

    sent = run("send", *source_only)
    assert sent.returncode == 0, sent.stderr
    assert "sent 1 job," in sent.stdout and "ignored 1" in sent.stdout
    assert run("work", *source_only, "--exit-when-idle", "3").returncode == 0
    assert read(b.client(), dst_bucket, "docs/report.txt") == v1
    assert "docs/skip.tmp" not in keys(b.client(), dst_bucket)

    again = run("send", *source_only)
    assert "sent 0 jobs" in again.stdout, again.stdout + again.stderr
    v2 = put(a.client(), src_bucket, "docs/report.txt", 500, seed=2)  # same size, new version
    changed = run("send", *source_only)
    assert "sent 1 job," in changed.stdout, changed.stdout + changed.stderr
    assert run("work", *source_only, "--exit-when-idle", "3").returncode == 0
    assert read(b.client(), dst_bucket, "docs/report.txt") == v2


@pytest.mark.not_on("moto", "moto lists all of a key's delete markers after its versions, not interleaved by age as "
                            "S3 does, so versions made in the same second cannot be put in order")
def test_all_versions_over_sqs_and_dynamodb(cluster: dict[str, Any], accounts: tuple[Account, Account],
                                           buckets: tuple[str, str]) -> None:
    """send --all-versions puts each key's history on SQS as one ordered chain; work copies it in order, recording
    each version in DynamoDB."""
    a, b = accounts
    src_bucket, dst_bucket = buckets
    for client, bucket in ((a.client(), src_bucket), (b.client(), dst_bucket)):
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    src = a.client()
    src.put_object(Bucket=src_bucket, Key="k.txt", Body=b"one")
    src.delete_object(Bucket=src_bucket, Key="k.txt")
    src.put_object(Bucket=src_bucket, Key="k.txt", Body=b"three!")
    common = ["--queue", cluster["queue"], "--ledger", cluster["ledger"], *s3_args(cluster)]
    sent = run("send", f"s3://{src_bucket}", f"s3://{dst_bucket}", *common, "--all-versions")
    assert sent.returncode == 0, sent.stderr
    assert run("work", *common, "--exit-when-idle", "3").returncode == 0
    page = b.client().list_object_versions(Bucket=dst_bucket, Prefix="k.txt")
    assert len(page.get("Versions", [])) == 2 and len(page.get("DeleteMarkers", [])) == 1
    assert b.client().get_object(Bucket=dst_bucket, Key="k.txt")["Body"].read() == b"three!"
    ledger = DynamoLedger(cluster["ddb"], cluster["table"])
    versions = [v["VersionId"] for v in src.list_object_versions(Bucket=src_bucket)["Versions"]]
    for version in versions:
        record = ledger.get(f"{src_bucket}/k.txt?versionId={version}")
        assert record is not None and record.state is JobState.DONE, version
    assert queue_empty(cluster)
    again = run("send", f"s3://{src_bucket}", f"s3://{dst_bucket}", *common, "--all-versions", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["jobs"] == 0, again.stdout


@pytest.mark.not_on("moto", "moto's S3 server serves one request at a time: two workers would not overlap")
def test_a_giant_object_is_uploaded_by_two_workers_and_completed_once(
    cluster: dict[str, Any], accounts: tuple[Account, Account], buckets: tuple[str, str],
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    data = put(a.client(), src_bucket, "disk.img", 8 * 5 * MIB + 11)  # 9 parts of 5 MiB
    put(a.client(), src_bucket, "small.txt", 100)
    common = ["--queue", cluster["queue"], "--ledger", cluster["ledger"], *s3_args(cluster)]
    sent = run("send", f"s3://{src_bucket}", f"s3://{dst_bucket}", *common, "--giant-threshold", "10MiB",
               "--giant-part-size", "5MiB", "--json")
    assert sent.returncode == 0, sent.stderr
    report = json.loads(sent.stdout)
    assert (report["giant_objects"], report["giant_parts"], report["jobs"]) == (1, 9, 1)

    # A lost part: one message taken off the queue before any worker sees it.
    sqs = cluster["sqs"]
    lost = None
    while lost is None:
        for message in sqs.receive_message(QueueUrl=cluster["queue_url"], MaxNumberOfMessages=10,
                                           VisibilityTimeout=0).get("Messages", []):
            if json.loads(message["Body"]).get("PartNumber") == 4 and lost is None:
                lost = message
                sqs.delete_message(QueueUrl=cluster["queue_url"], ReceiptHandle=message["ReceiptHandle"])
    cluster["dst_proxy"].rules.append(Rule(method="PUT", pattern="partNumber=", delay=0.3))  # spread the parts
    work = ["work", *common, "--workers", "1", "--threads", "1", "--exit-when-idle", "4", "--log-level", "INFO"]
    first, second = subprocess.Popen(cli(*work), stderr=subprocess.PIPE, text=True), subprocess.Popen(
        cli(*work), stderr=subprocess.PIPE, text=True)
    logs = [first.communicate(timeout=180)[1], second.communicate(timeout=180)[1]]
    assert first.returncode == 0 and second.returncode == 0, logs
    assert all("disk.img (part" in log for log in logs), logs  # both uploaded parts of the one object
    assert "disk.img" not in keys(b.client(), dst_bucket)  # part 4 is missing: not completed
    assert keys(b.client(), dst_bucket) == {"small.txt": 100}

    again = run("send", f"s3://{src_bucket}", f"s3://{dst_bucket}", *common, "--giant-threshold", "10MiB",
                "--giant-part-size", "5MiB", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["giant_parts"] == 1, again.stdout  # only part 4
    duplicate = json.loads(lost["Body"])
    duplicate["PartNumber"] = 2  # a redelivered part: harmless
    sqs.send_message(QueueUrl=cluster["queue_url"], MessageBody=json.dumps(duplicate))
    cluster["dst_proxy"].counts.clear()
    cluster["dst_proxy"].headers.clear()
    done = run("work", *common, "--exit-when-idle", "3")
    assert done.returncode == 0, done.stderr
    assert read(b.client(), dst_bucket, "disk.img") == data
    completions = [p for m, p, _ in cluster["dst_proxy"].headers if m == "POST" and "uploadId=" in p]
    assert len(completions) == 1
    record = DynamoLedger(cluster["ddb"], cluster["table"]).get(f"{src_bucket}/disk.img")
    assert record is not None and record.state is JobState.DONE
    assert unfinished_uploads(b.client(), dst_bucket) == []


def test_work_in_two_processes_shares_the_queue_and_reports_both(
    cluster: dict[str, Any], accounts: tuple[Account, Account], buckets: tuple[str, str]
) -> None:
    """``work --processes 2``: two worker processes over one queue; every message copied once, each process says
    what it did, and a stop signal reaches both."""
    a, b = accounts
    src_bucket, dst_bucket = buckets
    for i in range(40):
        put(a.client(), src_bucket, f"proc/{i:02d}", 1000 + i)
    common = ["--queue", cluster["queue"], "--ledger", cluster["ledger"], *s3_args(cluster)]
    assert run("send", f"s3://{src_bucket}/proc", f"s3://{dst_bucket}/proc", *common).returncode == 0
    cluster["dst_proxy"].rules.append(Rule(method="PUT", pattern="proc/", delay=0.3))  # work enough for two
    done = run("work", *common, "--processes", "2", "--workers", "4", "--exit-when-idle", "3")
    assert done.returncode == 0, done.stderr
    summaries = [line for line in done.stdout.splitlines() if line.startswith("worker done:")]
    copied = [int(line.split()[2]) for line in summaries]
    assert len(summaries) == 2 and sum(copied) == 40 and min(copied) > 0, done.stdout
    assert len(keys(b.client(), dst_bucket, "proc/")) == 40 and queue_empty(cluster)

    idle = subprocess.Popen(cli("work", *common, "--processes", "2"), stdout=subprocess.PIPE, text=True)
    time.sleep(3)  # both started and waiting on the empty queue
    idle.send_signal(signal.SIGTERM)
    out, _ = idle.communicate(timeout=60)
    assert idle.returncode == 0 and out.count("worker done: 0 copied") == 2, out
