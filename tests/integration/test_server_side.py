"""Same service, destination can read the source: objects are copied inside S3 (CopyObject), no bytes stream
through the client. Where the first CopyObject is refused, the pair streams instead, with the same result."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import Account
from tests.integration.helpers import MIB, put, read, run_cli
from tests.support.faultproxy import FaultProxy, Rule

pytestmark = pytest.mark.integration


def two_buckets(account: Account) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    src, dst = f"same-src-{suffix}", f"same-dst-{suffix}"
    account.client().create_bucket(Bucket=src)
    account.client().create_bucket(Bucket=dst)
    return src, dst


def sync_same_account(proxy: FaultProxy, src: str, dst: str, *extra: str) -> str:
    result = run_cli("sync", f"s3://{src}/data", f"s3://{dst}/copy", "--from-profile", "src", "--to-profile", "src",
                     "--from-endpoint", proxy.endpoint_url, "--to-endpoint", proxy.endpoint_url, "--state", "s.db",
                     "--log-level", "INFO", *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_same_account_copies_inside_s3(accounts: tuple[Account, Account], aws_profiles: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    a, _ = accounts
    src, dst = two_buckets(a)
    objects = {f"data/f{i}.txt": put(a.client(), src, f"data/f{i}.txt", 1000 + i, ContentType="text/plain",
                                     Metadata={"owner": "me"}) for i in range(5)}
    objects["data/big.bin"] = put(a.client(), src, "data/big.bin", 12 * MIB + 5)  # above the multipart threshold
    a.client().put_object_tagging(Bucket=src, Key="data/f0.txt", Tagging={"TagSet": [{"Key": "team", "Value": "x"}]})
    with FaultProxy(a.endpoint) as proxy:
        out = sync_same_account(proxy, src, dst)
        assert "copied 6 objects (0 B sent, 12.0 MiB copied in place" in out, out  # nothing passed through here
        source_reads = [p for p in proxy.paths if p.startswith(f"GET /{src}/data/")]
        assert source_reads == []  # nothing was read through the client
        assert proxy.counts.get("PUT part", 0) == 0  # one CopyObject each, up to 5 GiB
    for key, data in objects.items():
        copied = key.replace("data/", "copy/", 1)
        assert read(a.client(), dst, copied) == data
    head = a.client().head_object(Bucket=dst, Key="copy/f1.txt")
    assert head["ContentType"] == "text/plain" and head["Metadata"] == {"owner": "me"}
    assert a.client().get_object_tagging(Bucket=dst, Key="copy/f0.txt")["TagSet"] == [{"Key": "team", "Value": "x"}]


def test_refused_server_side_copy_streams_instead(accounts: tuple[Account, Account], aws_profiles: Path,
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    a, _ = accounts
    src, dst = two_buckets(a)
    objects = {f"data/f{i}.txt": put(a.client(), src, f"data/f{i}.txt", 2000 + i) for i in range(4)}
    with FaultProxy(a.endpoint) as proxy:
        # The first PUT to the destination is the CopyObject probe: the destination may not read the source.
        proxy.rules.append(Rule(method="PUT", pattern=f"/{dst}/", status=403, times=1))
        sync_same_account(proxy, src, dst, "--workers", "1")
        assert len([p for p in proxy.paths if p.startswith(f"GET /{src}/data/")]) == len(objects)
    for key, data in objects.items():
        assert read(a.client(), dst, key.replace("data/", "copy/", 1)) == data


def test_a_source_copy_object_cannot_find_streams(accounts: tuple[Account, Account], aws_profiles: Path,
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A listed key that CopyObject answers NoSuchKey for (SeaweedFS for "folder/" markers) streams instead, and
    server-side copy stays on for the others."""
    monkeypatch.chdir(tmp_path)
    a, _ = accounts
    src, dst = two_buckets(a)
    objects = {f"data/f{i}.txt": put(a.client(), src, f"data/f{i}.txt", 3000 + i) for i in range(4)}
    a.client().put_object(Bucket=src, Key="data/folder/", Body=b"")
    with FaultProxy(a.endpoint) as proxy:
        proxy.rules.append(Rule(method="PUT", pattern=f"/{dst}/copy/f2.txt", status=404, times=1))
        sync_same_account(proxy, src, dst, "--workers", "1")
        streamed = [p for p in proxy.paths if p.startswith(f"GET /{src}/data/")]
        assert all("f2.txt" in p or "folder" in p for p in streamed) and any("f2.txt" in p for p in streamed)
    for key, data in objects.items():
        assert read(a.client(), dst, key.replace("data/", "copy/", 1)) == data
    assert a.client().head_object(Bucket=dst, Key="copy/folder/")["ContentLength"] == 0


def test_server_side_copy_can_be_switched_off(accounts: tuple[Account, Account], aws_profiles: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    a, _ = accounts
    src, dst = two_buckets(a)
    data = put(a.client(), src, "data/x", 3000)
    with FaultProxy(a.endpoint) as proxy:
        sync_same_account(proxy, src, dst, "--no-server-side-copy")
        assert proxy.paths.get(f"GET /{src}/data/x") == 1
    assert read(a.client(), dst, "copy/x") == data


def test_large_objects_copy_inside_s3_part_by_part_and_resume(accounts: tuple[Account, Account],
                                                              aws_profiles: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the copy cutoff (5 GiB; 5 MiB here): a multipart upload of UploadPartCopy requests. A job that runs
    out of time mid-object resumes from the parts already copied; each part is copied once."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("S3MIGRATE_COPY_CUTOFF", "5MiB")
    monkeypatch.setenv("S3MIGRATE_COPY_PART_SIZE", "5MiB")
    a, _ = accounts
    src, dst = two_buckets(a)
    data = put(a.client(), src, "data/big.bin", 23 * MIB + 7)  # five parts
    with FaultProxy(a.endpoint) as proxy:
        parts = {n: Rule(method="PUT", pattern=f"partNumber={n}(&|$)") for n in range(1, 6)}  # counters
        slow = Rule(method="PUT", pattern="partNumber=3(&|$)", delay=3.0)  # still running at the job timeout
        proxy.rules.extend([slow, *parts.values()])
        result = run_cli("sync", f"s3://{src}/data", f"s3://{dst}/copy", "--from-profile", "src", "--to-profile",
                         "src", "--from-endpoint", proxy.endpoint_url, "--to-endpoint", proxy.endpoint_url,
                         "--state", "s.db", "--threads", "1", "--job-timeout", "1.5", "--log-level", "INFO")
        assert result.returncode == 0, result.stderr
        assert [p for p in proxy.paths if p.startswith(f"GET /{src}/data/")] == []  # no byte through the client
    assert "resuming upload" in result.stderr
    assert {n: rule.matched for n, rule in parts.items()} == dict.fromkeys(parts, 1)
    assert read(a.client(), dst, "copy/big.bin") == data
    assert not a.client().list_multipart_uploads(Bucket=dst).get("Uploads")


def test_a_refused_part_copy_streams_the_object(accounts: tuple[Account, Account], aws_profiles: Path,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first answer decides for the pair, for UploadPartCopy as for CopyObject: its upload is aborted and
    the object streams."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("S3MIGRATE_COPY_CUTOFF", "5MiB")
    a, _ = accounts
    src, dst = two_buckets(a)
    data = put(a.client(), src, "data/big.bin", 12 * MIB + 1)
    with FaultProxy(a.endpoint) as proxy:
        proxy.rules.append(Rule(method="PUT", pattern="partNumber=1(&|$)", status=403, times=1))
        sync_same_account(proxy, src, dst)
        assert proxy.paths.get(f"GET /{src}/data/big.bin", 0) >= 1  # streamed
    assert read(a.client(), dst, "copy/big.bin") == data
    assert not a.client().list_multipart_uploads(Bucket=dst).get("Uploads")
