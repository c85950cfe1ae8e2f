"""The original's versioning switches: a source overwritten while its multipart copy runs is copied either
completely old or completely new, never mixed, and the ledger records which version it is."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from tests.conftest import Account
from tests.integration.helpers import MIB, keys, put, read, run_cli, start_cli, unfinished_uploads
from tests.support.faultproxy import FaultProxy, Rule
from tests.support.waits import wait_for_parts

pytestmark = pytest.mark.integration

SIZE = 6 * 5 * MIB


def overwrite_during_copy(args: list[str], a: Any, b: Any, src_bucket: str, dst_bucket: str, dst_proxy: FaultProxy
                          ) -> tuple[bytes, bytes, str, Any]:
    old = put(a.client(), src_bucket, "video.bin", SIZE, seed=1)
    old_version = a.client().head_object(Bucket=src_bucket, Key="video.bin")["VersionId"]
    dst_proxy.rules.append(Rule(method="PUT", pattern="partNumber=", delay=0.5))
    process = start_cli(*args)
    assert wait_for_parts(b.client(), dst_bucket, "video.bin", 2, process), process.communicate()
    new = put(a.client(), src_bucket, "video.bin", SIZE, seed=2)
    _, stderr = process.communicate(timeout=120)
    dst_proxy.rules.clear()
    return old, new, old_version, (process.returncode, stderr)


@pytest.mark.parametrize(
    ("update_version_id", "get_with_version_id"), [(True, True), (False, False), (True, False), (False, True)]
)
def test_versioned_source_overwritten_mid_copy_is_never_mixed(
    accounts: tuple[Account, Account], buckets: tuple[str, str], proxies: tuple[FaultProxy, FaultProxy],
    monkeypatch: pytest.MonkeyPatch, update_version_id: bool, get_with_version_id: bool,
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    src_proxy, dst_proxy = proxies
    a.client().put_bucket_versioning(Bucket=src_bucket, VersioningConfiguration={"Status": "Enabled"})
    monkeypatch.setenv("UpdateVersionId", str(update_version_id))
    monkeypatch.setenv("GetObjectWithVersionId", str(get_with_version_id))
    args = ["sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", "--from-profile", "src", "--to-profile", "dst",
            "--from-endpoint", src_proxy.endpoint_url, "--to-endpoint", dst_proxy.endpoint_url,
            "--workers", "1", "--threads", "1", "--state", "state.db"]
    old, new, old_version, (code, stderr) = overwrite_during_copy(args, a, b, src_bucket, dst_bucket, dst_proxy)
    row = sqlite3.connect("state.db").execute(
        "SELECT state, versionId FROM ledger WHERE Key = ?", (f"{src_bucket}/video.bin",)).fetchone()
    if update_version_id and get_with_version_id:
        # pinned to the version read before the copy started: the complete old version
        assert code == 0, stderr
        assert read(b.client(), dst_bucket, "video.bin") == old
        assert row == ("DONE", old_version)
    else:
        # pinned by ETag: the overwrite is detected, nothing half-old is completed, the next run copies the new
        assert code == 1 and "source changed" in stderr
        assert "video.bin" not in keys(b.client(), dst_bucket)
        assert row[0] == "FAILED"
    assert unfinished_uploads(b.client(), dst_bucket) == []
    rerun = run_cli(*args)
    assert rerun.returncode == 0, rerun.stderr
    if update_version_id and get_with_version_id:
        # the new version has the same size: only a version comparison sees it (JobsenderCompareVersionId)
        assert read(b.client(), dst_bucket, "video.bin") == old
        monkeypatch.setenv("JobsenderCompareVersionId", "True")
        rerun = run_cli(*args)
        assert rerun.returncode == 0 and "copied 1 object " in rerun.stdout, rerun.stdout + rerun.stderr
    assert read(b.client(), dst_bucket, "video.bin") == new


def test_missing_version_and_verify_md5_twice(
    accounts: tuple[Account, Account], buckets: tuple[str, str], proxies: tuple[FaultProxy, FaultProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    src_proxy, dst_proxy = proxies
    a.client().put_bucket_versioning(Bucket=src_bucket, VersioningConfiguration={"Status": "Enabled"})
    data = put(a.client(), src_bucket, "k.bin", 11 * MIB)
    args = ["sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", "--from-profile", "src", "--to-profile", "dst",
            "--from-endpoint", src_proxy.endpoint_url, "--to-endpoint", dst_proxy.endpoint_url, "--state", "state.db"]
    monkeypatch.setenv("ifVerifyMD5Twice", "True")
    # GETs of the source fail once mid-way, so the second attempt resumes and re-reads the earlier parts
    src_proxy.rules.append(Rule(method="GET", pattern="partNumber|k.bin", status=403, times=1, every=2))
    first = run_cli(*args, "--threads", "1", "--workers", "1")
    assert first.returncode == 1 and "AccessDenied" in first.stderr
    (upload,) = unfinished_uploads(b.client(), dst_bucket)
    already = len(b.client().list_parts(Bucket=dst_bucket, Key="k.bin", UploadId=upload["UploadId"])["Parts"])
    assert already >= 1
    src_proxy.rules.clear()
    for proxy in (src_proxy, dst_proxy):
        proxy.counts.clear()
        proxy.paths.clear()
    second = run_cli(*args)
    assert second.returncode == 0, second.stderr
    assert read(b.client(), dst_bucket, "k.bin") == data
    assert src_proxy.paths.get(f"GET /{src_bucket}/k.bin", 0) == 3  # every part read, the earlier ones too
    assert dst_proxy.counts.get("PUT part", 0) == 3 - already  # but only the missing ones sent


@pytest.mark.not_on("moto", "moto's server returns no additional checksums on GET and HEAD")
def test_source_checksums_are_carried_so_the_destination_verifies_end_to_end(
    accounts: tuple[Account, Account], buckets: tuple[str, str], proxies: tuple[FaultProxy, FaultProxy],
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    src_proxy, dst_proxy = proxies
    small = put(a.client(), src_bucket, "small.txt", 1000, ChecksumAlgorithm="CRC32")
    big = put(a.client(), src_bucket, "big.bin", 4 * 5 * MIB + 3, ChecksumAlgorithm="CRC32")
    args = ["sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", "--from-profile", "src", "--to-profile", "dst",
            "--from-endpoint", src_proxy.endpoint_url, "--to-endpoint", dst_proxy.endpoint_url,
            "--workers", "1", "--threads", "1", "--state", "state.db"]
    # interrupt the large object once mid-way, so the resumed upload must still complete with every part's checksum
    dst_proxy.rules.append(Rule(method="PUT", pattern="partNumber=", delay=0.4))
    process = start_cli(*args)
    assert wait_for_parts(b.client(), dst_bucket, "big.bin", 2, process), process.communicate()
    process.kill()
    process.communicate()
    dst_proxy.rules.clear()
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert read(b.client(), dst_bucket, "small.txt") == small and read(b.client(), dst_bucket, "big.bin") == big
    src_small = a.client().head_object(Bucket=src_bucket, Key="small.txt", ChecksumMode="ENABLED")
    dst_small = b.client().head_object(Bucket=dst_bucket, Key="small.txt", ChecksumMode="ENABLED")
    assert dst_small["ChecksumCRC32"] == src_small["ChecksumCRC32"]
    dst_big = b.client().head_object(Bucket=dst_bucket, Key="big.bin", ChecksumMode="ENABLED")
    assert dst_big.get("ChecksumCRC32")


def test_missing_version_and_denied_get_object_version_are_clear_failures(
    accounts: tuple[Account, Account], buckets: tuple[str, str], proxies: tuple[FaultProxy, FaultProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from s3migrate.ledger.base import JobState
    from s3migrate.ledger.sqlite import SqliteLedger
    from s3migrate.queues.sqlite import SqliteQueue
    from s3migrate.sqlite_db import Database

    a, b = accounts
    src_bucket, dst_bucket = buckets
    src_proxy, dst_proxy = proxies
    a.client().put_bucket_versioning(Bucket=src_bucket, VersioningConfiguration={"Status": "Enabled"})
    put(a.client(), src_bucket, "gone.txt", 10)
    put(a.client(), src_bucket, "denied.txt", 10)
    denied_version = a.client().head_object(Bucket=src_bucket, Key="denied.txt")["VersionId"]
    src_proxy.rules.append(Rule(pattern="denied.txt.*versionId=", status=403))

    def job(key: str, version: str) -> str:
        return json.dumps({"Src_bucket": src_bucket, "Src_key": key, "Des_bucket": dst_bucket, "Des_key": key,
                           "Size": 10, "versionId": version})

    queue = SqliteQueue(Database("state.db"))
    queue.send([job("gone.txt", "no-such-version-id"), job("denied.txt", denied_version)])
    queue.close()
    monkeypatch.setenv("GetObjectWithVersionId", "True")
    result = run_cli("work", "--queue", "sqlite:///state.db", "--ledger", "sqlite:///state.db",
                     "--from-profile", "src", "--to-profile", "dst", "--from-endpoint", src_proxy.endpoint_url,
                     "--to-endpoint", dst_proxy.endpoint_url, "--exit-when-idle", "2")
    assert result.returncode == 1, result.stderr  # objects failed: named on stderr, recorded in the ledger
    assert "FAILED s3://" in result.stderr and "gone.txt" in result.stderr
    ledger = SqliteLedger(Database("state.db"))
    failed = {r.key.split("/", 1)[1]: r.last_error or "" for r in ledger.records(JobState.FAILED)}
    assert "no-such-version-id of the source no longer exists" in failed["gone.txt"]
    assert "GetObjectWithVersionId" in failed["denied.txt"] and "s3:GetObjectVersion" in failed["denied.txt"]
    assert keys(b.client(), dst_bucket) == {}
