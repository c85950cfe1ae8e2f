"""What a cluster pays per object: queue and ledger calls of send + work for small objects, counted by a proxy in
front of SQS and DynamoDB. It fails when a change makes more calls than ``estimate.CLUSTER_CALLS`` (what
``s3migrate estimate`` prices), so the estimate stays true."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from s3migrate.estimate import CLUSTER_CALLS
from s3migrate.ledger.dynamodb import create_table
from tests.conftest import Account
from tests.integration.helpers import keys, put
from tests.support.aws import MotoServer
from tests.support.faultproxy import FaultProxy

pytestmark = pytest.mark.integration
OBJECTS = 400
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
READS = {"GetItem", "BatchGetItem", "Query", "Scan"}
SQS_OTHER = {"ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "GetQueueAttributes", "GetQueueUrl"}


@pytest.mark.not_on("moto", "the S3 server does not change the queue and ledger calls; SeaweedFS is enough")
def test_calls_per_object_stay_within_what_estimate_prices(
    accounts: tuple[Account, Account], buckets: tuple[str, str], aws_profiles: Path, moto_server: MotoServer,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    monkeypatch.chdir(tmp_path)
    name = f"calls-{uuid.uuid4().hex[:8]}"
    moto_server.client("sqs").create_queue(QueueName=name)
    create_table(moto_server.client("dynamodb"), name)
    for i in range(OBJECTS):
        put(a.client(), src_bucket, f"small/{i:03d}", 10_000)
    with FaultProxy(moto_server.endpoint_url) as control:
        env = {**moto_server.env(), "AWS_ENDPOINT_URL_SQS": control.endpoint_url,
               "AWS_ENDPOINT_URL_DYNAMODB": control.endpoint_url,
               "AWS_SHARED_CREDENTIALS_FILE": str(aws_profiles), "PATH": "/usr/bin:/bin"}
        common = ["--queue", f"sqs://{name}", "--ledger", f"dynamodb://{name}", "--from-profile", "src",
                  "--to-profile", "dst", "--from-endpoint", a.endpoint, "--to-endpoint", b.endpoint]
        for args in (["send", f"s3://{src_bucket}", f"s3://{dst_bucket}"], ["work", "--exit-when-idle", "2"]):
            done = subprocess.run([sys.executable, "-m", "s3migrate", *args, *common], capture_output=True,
                                  text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)
            assert done.returncode == 0, done.stderr
        calls = Counter(h.get("x-amz-target", "?").rpartition(".")[2] for _, _, h in control.headers)
    assert len(keys(b.client(), dst_bucket)) == OBJECTS
    measured = {
        "SQS SendMessageBatch": (calls["SendMessageBatch"] + calls["SendMessage"]) / OBJECTS,
        "SQS ReceiveMessage": calls["ReceiveMessage"] / OBJECTS,
        "SQS DeleteMessage": (calls["DeleteMessage"] + calls["DeleteMessageBatch"]) / OBJECTS,
        "SQS other": sum(calls[op] for op in SQS_OTHER) / OBJECTS,
        "DynamoDB write": sum(calls[op] for op in WRITES) / OBJECTS,
        "DynamoDB read": sum(calls[op] for op in READS) / OBJECTS,
    }
    print("calls per object:", measured, dict(calls))
    counted = {*SQS_OTHER, *WRITES, *READS, "SendMessageBatch", "SendMessage", "ReceiveMessage", "DeleteMessage",
               "DeleteMessageBatch", "DescribeTable"}
    assert set(calls) <= counted, f"calls this test does not price: {set(calls) - counted}"
    for what, per_object in measured.items():
        assert per_object <= CLUSTER_CALLS[what], (what, per_object, dict(calls))
    # The targets: at most 2 ledger writes and 1 read per small object, and at most 0.3 SQS requests per
    # object for the workers (receive, delete, visibility: the end-of-run polls included).
    assert measured["DynamoDB write"] <= 2.0 and measured["DynamoDB read"] <= 1.0
    worker_sqs = calls["ReceiveMessage"] + calls["DeleteMessage"] + calls["DeleteMessageBatch"] \
        + calls["ChangeMessageVisibility"] + calls["ChangeMessageVisibilityBatch"]
    assert worker_sqs / OBJECTS <= 0.3, dict(calls)
