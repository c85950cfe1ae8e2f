"""Archived source objects are reported, not tried and failed, and restored on request; Object Lock retention and
legal hold are carried over with --copy-object-lock, and refused by name where the destination cannot keep them."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from tests.integration.helpers import MIB, endpoint_args, keys, no_traceback, put, run_cli
from tests.support.faultproxy import FaultProxy

pytestmark = pytest.mark.integration


@pytest.mark.not_on("seaweedfs", "SeaweedFS stores the GLACIER storage class but serves the object as it is "
                                 "(no archive, no RestoreObject)")
def test_archived_objects_are_reported_then_restored_and_copied(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "cold/old.bin", 1000, StorageClass="GLACIER")
    put(a.client(), src_bucket, "cold/older.bin", 2000, StorageClass="DEEP_ARCHIVE")
    put(a.client(), src_bucket, "cold/warm.txt", 10)
    common = [f"s3://{src_bucket}", f"s3://{dst_bucket}", *endpoint_args(a.endpoint, b.endpoint), "-y"]

    reported = run_cli("sync", *common, "--json")
    assert reported.returncode == 0, reported.stderr  # archived objects are left, not failed
    report = json.loads(reported.stdout)
    assert report["copied"] == 1 and report["left"] == 2 and report["failed"] == []
    reasons = {item["key"]: item["reason"] for item in report["left_examples"]}
    assert "GLACIER, not restored" in reasons["cold/old.bin"] and "--restore-days" in reasons["cold/old.bin"]
    assert "DEEP_ARCHIVE" in reasons["cold/older.bin"]
    assert keys(b.client(), dst_bucket) == {"cold/warm.txt": 10}
    text = run_cli("sync", *common)
    assert "left as they are: 2 objects" in text.stderr

    asked = run_cli("sync", *common, "--restore-days", "2", "--restore-tier", "bulk", "--json")
    assert asked.returncode == 0, asked.stderr
    reasons = [item["reason"] for item in json.loads(asked.stdout)["left_examples"]]
    assert len(reasons) == 2 and all("restore requested (2 days, Bulk tier)" in r for r in reasons), reasons
    head = a.client().head_object(Bucket=src_bucket, Key="cold/old.bin")
    assert 'ongoing-request="false"' in head.get("Restore", ""), head  # moto restores at once

    later = run_cli("sync", *common, "--json")  # restored now: this run copies them
    assert later.returncode == 0 and json.loads(later.stdout)["copied"] == 2, later.stdout
    assert keys(b.client(), dst_bucket) == {"cold/warm.txt": 10, "cold/old.bin": 1000, "cold/older.bin": 2000}

    one = run_cli("cp", f"s3://{src_bucket}/cold/old.bin", f"s3://{dst_bucket}/single/",
                  *endpoint_args(a.endpoint, b.endpoint))
    assert one.returncode == 0, one.stderr  # restored now


@pytest.mark.not_on("seaweedfs", "SeaweedFS does not keep Object Lock retention on objects")
def test_object_lock_is_carried_over_on_request(accounts: Any, buckets: tuple[str, str],
                                                proxies: tuple[FaultProxy, FaultProxy]) -> None:
    a, b = accounts
    src_bucket, _ = buckets
    _, dst_proxy = proxies
    locked_src, locked_dst = f"{src_bucket}-lk", f"{src_bucket}-ld"
    a.client().create_bucket(Bucket=locked_src, ObjectLockEnabledForBucket=True)
    b.client().create_bucket(Bucket=locked_dst, ObjectLockEnabledForBucket=True)
    until = datetime.datetime.now(datetime.UTC).replace(microsecond=0) + datetime.timedelta(days=30)
    for key, size in (("kept.txt", 100), ("kept-large.bin", 12 * MIB + 1)):
        put(a.client(), locked_src, key, size, ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until,
            ObjectLockLegalHoldStatus="ON")
    common = ["--from-profile", "src", "--from-endpoint", a.endpoint, "--to-profile", "dst", "--to-endpoint",
              dst_proxy.endpoint_url]

    plain = run_cli("sync", f"s3://{locked_src}", f"s3://{locked_dst}/plain", *common, "-y")
    assert plain.returncode == 0, plain.stderr
    assert "ObjectLockMode" not in b.client().head_object(Bucket=locked_dst, Key="plain/kept.txt")

    dst_proxy.headers.clear()
    kept = run_cli("sync", f"s3://{locked_src}", f"s3://{locked_dst}/kept", *common, "--copy-object-lock", "-y")
    assert kept.returncode == 0, kept.stderr
    head = b.client().head_object(Bucket=locked_dst, Key="kept/kept.txt")
    assert head["ObjectLockMode"] == "GOVERNANCE" and head["ObjectLockLegalHoldStatus"] == "ON", head
    assert head["ObjectLockRetainUntilDate"] == until, head["ObjectLockRetainUntilDate"]
    # moto keeps Object Lock only on single-part objects; that the multipart upload asked for it is in its request.
    [created] = [h for method, path, h in dst_proxy.headers if method == "POST" and "kept-large.bin?uploads" in path]
    assert created.get("x-amz-object-lock-mode") == "GOVERNANCE" and created.get("x-amz-object-lock-legal-hold") == "ON"
    assert created.get("x-amz-object-lock-retain-until-date", "").startswith(until.strftime("%Y-%m-%dT%H:%M:%S"))

    _, dst_bucket = buckets  # no Object Lock there: the objects fail by name, saying why
    refused = run_cli("sync", f"s3://{locked_src}", f"s3://{dst_bucket}/x", *common, "--copy-object-lock", "-y",
                      "--max-retries", "0")
    assert refused.returncode == 1 and no_traceback(refused), refused.stderr
    assert "Object Lock enabled" in refused.stderr and "kept.txt" in refused.stderr
