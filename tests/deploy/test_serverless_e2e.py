"""The serverless stack end to end, without AWS: the synthesized template is deployed into MiniStack (CloudFormation,
S3, SQS, DynamoDB, SSM, Lambda running our handler in a subprocess); the other account is a SeaweedFS server.

Objects put into the stack's trigger bucket arrive at the destination through S3 event -> SQS -> worker Lambda,
and a large object whose copy outlasts the configured JobTimeout moves over several invocations."""

from __future__ import annotations

import json
import os
import sys
import time
import tomllib
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from s3migrate_deploy.app import build_app
from s3migrate_deploy.asset import build
from s3migrate_deploy.settings import EXAMPLE, DeploySettings, parse

from s3migrate.ledger.base import JobState
from s3migrate.ledger.dynamodb import DynamoLedger
from tests.conftest import Account
from tests.integration.helpers import MIB, keys, read, unfinished_uploads
from tests.support.faultproxy import FaultProxy, Rule
from tests.support.ministack import ACCOUNT, MiniStack

pytestmark = pytest.mark.integration
BOOTSTRAP_QUALIFIER = "hnb659fds"  # the CDK default synthesizer's


@pytest.fixture(scope="module")
def ministack() -> Iterator[MiniStack]:
    server = MiniStack().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lambda_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real Lambda asset, built for the Python that MiniStack runs handlers with (this one)."""
    out = tmp_path_factory.mktemp("asset")
    build(out, python_version=f"{sys.version_info.major}.{sys.version_info.minor}")
    archive = tmp_path_factory.mktemp("zip") / "code.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(out.rglob("*")):
            zf.write(path, path.relative_to(out))
    return archive


def deploy(ministack: MiniStack, settings: DeploySettings, code: Path, outdir: Path) -> dict[str, str]:
    """What `cdk deploy` does, by hand: bootstrap resources, assets to the asset bucket, then CreateStack."""
    build_app(settings, str(outdir), {"aws:cdk:bundling-stacks": []}).synth()
    stack = f"{settings.name}-serverless"
    template = (outdir / f"{stack}.template.json").read_text()
    s3, ssm, cfn = ministack.client("s3"), ministack.client("ssm"), ministack.client("cloudformation")
    ssm.put_parameter(Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version", Value="30", Type="String",
                      Overwrite=True)
    bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{ACCOUNT}-{ministack.region}"
    if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        s3.create_bucket(Bucket=bucket)
    manifest = json.loads((outdir / f"{stack}.assets.json").read_text())
    for asset in manifest["files"].values():
        source = outdir / asset["source"]["path"]
        for destination in asset["destinations"].values():
            # The directory asset is the Lambda code (bundling was skipped at synthesis): upload the real build.
            s3.upload_file(str(code if source.is_dir() else source), bucket, destination["objectKey"])
    cfn.create_stack(StackName=stack, TemplateBody=template, Capabilities=["CAPABILITY_IAM"])
    deadline = time.monotonic() + 180
    while True:
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        if not described["StackStatus"].endswith("IN_PROGRESS") or time.monotonic() > deadline:
            break
        time.sleep(1)
    failures = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
                for e in cfn.describe_stack_events(StackName=stack)["StackEvents"] if "FAILED" in e["ResourceStatus"]]
    assert described["StackStatus"] == "CREATE_COMPLETE", failures
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def wait_for_keys(client: Any, bucket: str, expected: set[str], timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    found: dict[str, int] = {}
    while time.monotonic() < deadline:
        found = keys(client, bucket)
        if expected <= set(found) and not unfinished_uploads(client, bucket):
            return found
        time.sleep(1)
    return found


def test_objects_put_into_the_trigger_bucket_arrive_at_the_destination(
    ministack: MiniStack, lambda_code: Path, accounts: tuple[Account, Account], buckets: tuple[str, str],
    tmp_path: Path,
) -> None:
    _, b = accounts
    dst_bucket = buckets[1]
    suffix = uuid.uuid4().hex[:6]
    data = tomllib.loads(EXAMPLE.read_text())
    data.update(stacks=["serverless"], name=f"e2e{suffix}", JobTimeout=2, MaxThread=1, MaxParallelFile=2,
                ResumableThreshold=5, Des_bucket_default=dst_bucket, Des_prefix_default="arrived",
                ssm_parameter_credentials=f"keys{suffix}")
    settings = parse(data)
    with FaultProxy(b.endpoint) as dst_proxy:
        # The other account: its keys and endpoint in the SecureString the stack references (never creates).
        ministack.client("ssm").put_parameter(Name=f"keys{suffix}", Type="SecureString", Value=json.dumps({
            "aws_access_key_id": b.server.access_key, "aws_secret_access_key": b.server.secret_key,
            "region": "us-east-1", "endpoint_url": dst_proxy.endpoint_url}))
        outputs = deploy(ministack, settings, lambda_code, tmp_path / "cdk.out")
        trigger = outputs["TriggerBucketName"]
        # Slow parts: the 6-part object cannot finish within one invocation's JobTimeout (2 s).
        dst_proxy.rules.append(Rule(method="PUT", pattern="partNumber=", delay=0.8))
        s3 = ministack.client("s3")
        small = {f"photos/img {i}+.jpg": os.urandom(1000 + i) for i in range(5)}
        big = os.urandom(6 * 5 * MIB)
        for key, body in small.items():
            s3.put_object(Bucket=trigger, Key=key, Body=body)
        s3.put_object(Bucket=trigger, Key="video/big.bin", Body=big)

        expected = {f"arrived/{key}" for key in [*small, "video/big.bin"]}
        found = wait_for_keys(b.client(), dst_bucket, expected, timeout=240)
        assert set(found) == expected, found
        parts_sent = dst_proxy.counts.get("PUT part", 0)

    for key, body in small.items():
        assert read(b.client(), dst_bucket, f"arrived/{key}") == body
    assert read(b.client(), dst_bucket, "arrived/video/big.bin") == big
    assert parts_sent == 6  # resumed across invocations: no part sent twice
    ledger = DynamoLedger(ministack.client("dynamodb"), outputs["LedgerTable"])
    record = ledger.get(f"{trigger}/video/big.bin")
    assert record is not None and record.state is JobState.DONE
    assert record.try_times >= 2, "the large object should have needed several invocations"
