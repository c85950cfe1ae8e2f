"""Bytes are never trusted blindly: lying sources (short bodies, flipped bits) and encrypting destinations.

The source objects here carry no additional checksum (uploaded with checksums only when required), as on
the services where a short body used to land: nothing but the listed size and the MD5 ETag can catch it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Account
from tests.integration.helpers import MIB, deterministic_bytes, keys, no_traceback, read, run_cli
from tests.support.faultproxy import FaultProxy, Rule

pytestmark = pytest.mark.integration

TRANSPORTS = ["lean", "botocore"]


def plain_client(account: Account) -> Any:
    """A client that stores objects without additional checksums (older SDKs, other tools)."""
    return account.server.client(request_checksum_calculation="when_required")


def put_plain(account: Account, bucket: str, key: str, size: int) -> bytes:
    data = deterministic_bytes(size, hash(key) & 0xFFFF)
    plain_client(account).put_object(Bucket=bucket, Key=key, Body=data)
    return data


def sync_args(src: FaultProxy, dst: FaultProxy | str, src_bucket: str, dst_bucket: str) -> list[str]:
    dst_url = dst if isinstance(dst, str) else dst.endpoint_url
    return ["sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", "--from-profile", "src", "--to-profile", "dst",
            "--from-endpoint", src.endpoint_url, "--to-endpoint", dst_url, "--state", "state.db",
            "--workers", "1", "--max-retries", "1"]


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "botocore":
        monkeypatch.setenv("S3MIGRATE_LEAN_REQUESTS", "0")
    return str(request.param)


@pytest.mark.parametrize("fault", ["short", "flip"])
def test_a_lying_source_fails_the_object_by_name_and_writes_nothing(
    accounts: tuple[Account, Account], buckets: tuple[str, str], proxies: tuple[FaultProxy, FaultProxy],
    transport: str, fault: str,
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    src_proxy, _ = proxies
    # "a" is damaged once: retried and copied right. "b" is damaged every time: it fails by name. The damage to
    # "a" must not turn checking off for "b" (a BadDigest once made every later object skip the check).
    good = put_plain(a, src_bucket, "a.bin", 3 * MIB + 5)
    put_plain(a, src_bucket, "b.bin", 2 * MIB + 7)
    damage = {"short_body": 4096} if fault == "short" else {"flip_byte": True}
    src_proxy.rules.append(Rule(method="GET", pattern=r"/a\.bin", times=1, **damage))  # type: ignore[arg-type]
    src_proxy.rules.append(Rule(method="GET", pattern=r"/b\.bin", **damage))  # type: ignore[arg-type]

    result = run_cli(*sync_args(src_proxy, b.endpoint, src_bucket, dst_bucket))

    assert result.returncode == 1, result.stderr
    assert no_traceback(result)
    assert "b.bin" in result.stderr
    assert "b.bin" not in keys(b.client(), dst_bucket)
    assert read(b.client(), dst_bucket, "a.bin") == good
    assert src_proxy.paths.get(f"GET /{src_bucket}/b.bin", 0) >= 2  # retried before it was given up


def test_a_listed_size_that_the_body_does_not_have_is_refused(
    accounts: tuple[Account, Account], buckets: tuple[str, str], proxies: tuple[FaultProxy, FaultProxy],
    transport: str,
) -> None:
    """Even where no MD5 can say so (--no-check-source-etag), a body shorter than the listing is not written."""
    a, b = accounts
    src_bucket, dst_bucket = buckets
    src_proxy, _ = proxies
    put_plain(a, src_bucket, "c.bin", MIB)
    src_proxy.rules.append(Rule(method="GET", pattern=r"/c\.bin", short_body=1))

    result = run_cli(*sync_args(src_proxy, b.endpoint, src_bucket, dst_bucket), "--no-check-source-etag")

    assert result.returncode == 1 and no_traceback(result), result.stderr
    assert "c.bin" in result.stderr and "1048575 bytes where 1048576 were expected; not written" in result.stderr
    assert keys(b.client(), dst_bucket) == {}


@pytest.mark.parametrize("sse", ["aws:kms", "aws:kms:dsse"])
def test_copies_into_an_encrypting_bucket_succeed_and_verify_never_calls_them_different(
    accounts: tuple[Account, Account], buckets: tuple[str, str], proxies: tuple[FaultProxy, FaultProxy],
    transport: str, sse: str,
) -> None:
    """Under SSE-KMS and DSSE-KMS the ETags of PUT, UploadPart, Complete, HEAD and LIST are not MD5s."""
    a, b = accounts
    src_bucket, dst_bucket = buckets
    src_proxy, dst_proxy = proxies
    dst_proxy.sse = sse
    small = put_plain(a, src_bucket, "small.bin", MIB + 3)
    large = put_plain(a, src_bucket, "large.bin", 12 * MIB + 11)  # multipart: the tests' threshold is 5 MiB

    result = run_cli(*sync_args(src_proxy, dst_proxy, src_bucket, dst_bucket))
    assert result.returncode == 0, result.stderr
    assert read(b.client(), dst_bucket, "small.bin") == small
    assert read(b.client(), dst_bucket, "large.bin") == large

    verify = ["verify", f"s3://{src_bucket}", f"s3://{dst_bucket}", "--from-profile", "src", "--to-profile", "dst",
              "--from-endpoint", src_proxy.endpoint_url, "--to-endpoint", dst_proxy.endpoint_url, "--json"]
    without_ledger = run_cli(*verify)
    report = json.loads(without_ledger.stdout)
    assert report["summary"]["different"] == 0 and report["summary"]["missing"] == 0, report
    # Without the ledger only a checksum both sides carry proves them; the rest is unproven, never different.
    assert report["summary"]["equal"] + report["summary"]["unproven"] == 2, report
    with_ledger = run_cli(*verify, "--state", "state.db")
    assert with_ledger.returncode == 0, with_ledger.stdout  # the ledger recorded what was written
    deep = run_cli(*verify, "--deep")
    assert deep.returncode == 0, deep.stdout
    assert json.loads(deep.stdout)["summary"]["equal"] == 2


def test_a_folder_where_the_state_cannot_be_made_is_one_line_and_exit_2(
    accounts: tuple[Account, Account], buckets: tuple[str, str], aws_profiles: Any, tmp_path: Any
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    put_plain(a, src_bucket, "k.bin", 10)
    (tmp_path / ".s3migrate").write_text("a file where the state folder would go")
    result = run_cli("sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", "--from-profile", "src", "--to-profile",
                     "dst", "--from-endpoint", a.endpoint, "--to-endpoint", b.endpoint, "-y", cwd=tmp_path)
    assert result.returncode == 2 and no_traceback(result), result.stderr
    assert "cannot make the state file" in result.stderr and "--state PATH" in result.stderr
    assert keys(b.client(), dst_bucket) == {}
