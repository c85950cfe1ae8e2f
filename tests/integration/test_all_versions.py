"""--all-versions: every version of every key, oldest first, delete markers included, into a versioned
destination; resumable; verify compares the histories; a destination history that is not the source's is left."""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest

from s3migrate.endpoints.client import keep_version_order
from tests.integration.helpers import MIB, deterministic_bytes, endpoint_args, no_traceback, run_cli, start_cli
from tests.support.faultproxy import FaultProxy, Rule
from tests.support.waits import wait_for_parts

pytestmark = pytest.mark.integration


def history(client: Any, bucket: str, key: str) -> list[tuple[str, bytes | None]]:
    """A key's versions oldest first, in the order the service lists them (newest first, markers and objects
    interleaved; kept by the same hook s3migrate's clients have): ("object", bytes) or ("marker", None)."""
    client.meta.events.register("before-parse.s3.ListObjectVersions", keep_version_order)
    page = client.list_object_versions(Bucket=bucket, Prefix=key)
    out: list[tuple[str, bytes | None]] = []
    for name, version, marker in reversed(page["VersionOrder"]):
        if name != key:
            continue
        if marker:
            out.append(("marker", None))
        else:
            out.append(("object", client.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()))
    return out


@pytest.mark.not_on("moto", "moto lists all of a key's delete markers after its versions, not interleaved by age as "
                            "S3 does, so versions made in the same second cannot be put in order")
def test_every_version_in_order_then_only_the_new_ones(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    for client, bucket in ((a.client(), src_bucket), (b.client(), dst_bucket)):
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    src = a.client()
    writes = [lambda: src.put_object(Bucket=src_bucket, Key="doc.txt", Body=b"first"),
              lambda: src.put_object(Bucket=src_bucket, Key="doc.txt", Body=b"second, longer"),
              lambda: src.delete_object(Bucket=src_bucket, Key="doc.txt"),  # a delete marker
              lambda: src.put_object(Bucket=src_bucket, Key="doc.txt", Body=b"third"),
              lambda: src.put_object(Bucket=src_bucket, Key="big.bin", Body=deterministic_bytes(12 * MIB + 1, 1)),
              lambda: src.put_object(Bucket=src_bucket, Key="big.bin", Body=deterministic_bytes(12 * MIB + 1, 2))]
    for write in writes:
        write()
    common = [f"s3://{src_bucket}", f"s3://{dst_bucket}", *endpoint_args(a.endpoint, b.endpoint)]

    planned = run_cli("sync", *common, "--all-versions", "--dry-run", "--json")
    assert planned.returncode == 0, planned.stderr
    assert {p["key"]: p["reason"] for p in json.loads(planned.stdout)["planned"]} == {
        "big.bin": "2 of 2 versions to copy", "doc.txt": "4 of 4 versions to copy"}

    copied = run_cli("sync", *common, "--all-versions", "-y", "--json")
    assert copied.returncode == 0, copied.stderr
    assert json.loads(copied.stdout)["copied"] == 6
    for key in ("doc.txt", "big.bin"):
        assert history(b.client(), dst_bucket, key) == history(src, src_bucket, key), key
    assert [kind for kind, _ in history(b.client(), dst_bucket, "doc.txt")] == ["object", "object", "marker",
                                                                                 "object"]

    verified = run_cli("verify", *common, "--all-versions", "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["summary"]["equal"] == 2, verified.stdout

    src.put_object(Bucket=src_bucket, Key="doc.txt", Body=b"fourth")
    behind = run_cli("verify", *common, "--all-versions", "--json")
    assert behind.returncode == 1
    assert json.loads(behind.stdout)["problems"][0]["reason"] == "1 of 5 versions not at the destination"
    again = run_cli("sync", *common, "--all-versions", "-y", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["copied"] == 1, again.stdout
    assert history(b.client(), dst_bucket, "doc.txt") == history(src, src_bucket, "doc.txt")
    nothing = run_cli("sync", *common, "--all-versions", "-y", "--json")
    assert json.loads(nothing.stdout)["copied"] == 0 and json.loads(nothing.stdout)["skipped"] == 2


def test_another_history_is_left_and_an_unversioned_destination_refused(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    common = [f"s3://{src_bucket}", f"s3://{dst_bucket}", *endpoint_args(a.endpoint, b.endpoint)]
    a.client().put_bucket_versioning(Bucket=src_bucket, VersioningConfiguration={"Status": "Enabled"})
    a.client().put_object(Bucket=src_bucket, Key="k.txt", Body=b"source")
    refused = run_cli("sync", *common, "--all-versions", "-y")
    assert refused.returncode == 2 and "versioning is not enabled" in refused.stderr and no_traceback(refused)

    b.client().put_bucket_versioning(Bucket=dst_bucket, VersioningConfiguration={"Status": "Enabled"})
    b.client().put_object(Bucket=dst_bucket, Key="k.txt", Body=b"something else")
    left = run_cli("sync", *common, "--all-versions", "-y", "--json")
    assert left.returncode == 0, left.stderr
    report = json.loads(left.stdout)
    assert report["copied"] == 0 and report["left"] == 1
    assert "another history" in report["left_examples"][0]["reason"]
    assert b.client().get_object(Bucket=dst_bucket, Key="k.txt")["Body"].read() == b"something else"


@pytest.mark.not_on("moto", "moto lists all of a key's delete markers after its versions, not interleaved by age as "
                            "S3 does, so versions made in the same second cannot be put in order")
def test_a_killed_history_resumes_without_repeating_a_version(
    accounts: Any, buckets: tuple[str, str], proxies: tuple[FaultProxy, FaultProxy],
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    _, dst_proxy = proxies
    for client, bucket in ((a.client(), src_bucket), (b.client(), dst_bucket)):
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    src = a.client()
    src.put_object(Bucket=src_bucket, Key="disk.img", Body=b"version one")
    src.put_object(Bucket=src_bucket, Key="disk.img", Body=deterministic_bytes(12 * 5 * MIB + 7, 3))  # 13 parts
    src.put_object(Bucket=src_bucket, Key="disk.img", Body=b"version three")
    dst_proxy.rules.append(Rule(method="PUT", pattern="partNumber=", delay=0.4))
    args = ["sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", "--from-profile", "src", "--from-endpoint",
            a.endpoint, "--to-profile", "dst", "--to-endpoint", dst_proxy.endpoint_url, "--all-versions",
            "--workers", "1", "--threads", "1", "--state", "state.db", "-y"]
    process = start_cli(*args)
    assert wait_for_parts(b.client(), dst_bucket, "disk.img", 3, process), process.communicate()
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert [kind for kind, _ in history(b.client(), dst_bucket, "disk.img")] == ["object"]  # version one only

    dst_proxy.rules.clear()
    result = run_cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["copied"] == 2  # the rest of the history, the big one resumed from its parts
    assert history(b.client(), dst_bucket, "disk.img") == history(src, src_bucket, "disk.img")
