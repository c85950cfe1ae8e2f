"""Same service, destination can read the source: objects are copied inside S3 (CopyObject), no bytes stream
through the client. Where the first CopyObject is refused, the pair streams instead, with the same result."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from s3migrate.testing.faultproxy import FaultProxy, Rule
from tests.conftest import Account
from tests.integration.helpers import MIB, put, read, run_cli

pytestmark = pytest.mark.integration


def two_buckets(account: Account) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    src, dst = f"same-src-{suffix}", f"same-dst-{suffix}"
    account.client().create_bucket(Bucket=src)
    account.client().create_bucket(Bucket=dst)
    return src, dst


def sync_same_account(proxy: FaultProxy, src: str, dst: str, *extra: str) -> None:
    result = run_cli("sync", f"s3://{src}/data", f"s3://{dst}/copy", "--from-profile", "src", "--to-profile", "src",
                     "--from-endpoint", proxy.endpoint_url, "--to-endpoint", proxy.endpoint_url, "--state", "s.db",
                     "--log-level", "INFO", *extra)
    assert result.returncode == 0, result.stderr


def test_same_account_copies_inside_s3(accounts: tuple[Account, Account], aws_profiles: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    a, _ = accounts
    src, dst = two_buckets(a)
    objects = {f"data/f{i}.txt": put(a.client(), src, f"data/f{i}.txt", 1000 + i, ContentType="text/plain",
                                     Metadata={"owner": "me"}) for i in range(5)}
    objects["data/big.bin"] = put(a.client(), src, "data/big.bin", 12 * MIB + 5)  # above the multipart threshold
    with FaultProxy(a.endpoint) as proxy:
        sync_same_account(proxy, src, dst)
        source_reads = [p for p in proxy.paths if p.startswith(f"GET /{src}/data/")]
        assert source_reads == []  # nothing was read through the client
        assert proxy.counts.get("PUT part", 0) == 0
    for key, data in objects.items():
        copied = key.replace("data/", "copy/", 1)
        assert read(a.client(), dst, copied) == data
    head = a.client().head_object(Bucket=dst, Key="copy/f1.txt")
    assert head["ContentType"] == "text/plain" and head["Metadata"] == {"owner": "me"}


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
