"""Every way in and every attribute out: ACLs, server-side encryption, SSE-C keys, requester pays, anonymous reads of
a public source, metadata and content headers, on streamed, multipart and server-side copies."""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Account
from tests.integration.helpers import MIB, endpoint_args, keys, no_traceback, put, read, run_cli
from tests.support.faultproxy import FaultProxy

pytestmark = pytest.mark.integration

LARGE = 12 * MIB + 5  # multipart in the tests' settings


def test_acl_encryption_metadata_and_headers_are_written(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    for key, size in (("small.txt", 1000), ("large.bin", LARGE)):
        put(a.client(), src_bucket, key, size, Metadata={"origin": "src"}, ContentType="text/plain")
    result = run_cli("sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", *endpoint_args(a.endpoint, b.endpoint),
                     "--acl", "bucket-owner-full-control", "--sse", "AES256", "--metadata", "team=data",
                     "--metadata", "Stage=raw", "--content-type", "application/x-test", "--cache-control",
                     "max-age=60", "--expires", "2030-01-01T00:00:00Z", "-y")
    assert result.returncode == 0, result.stderr
    for key in ("small.txt", "large.bin"):
        head = b.client().head_object(Bucket=dst_bucket, Key=key)
        assert head["Metadata"] == {"origin": "src", "team": "data", "stage": "raw"}, (key, head["Metadata"])
        assert head["ContentType"] == "application/x-test" and head["CacheControl"] == "max-age=60"
        assert head["Expires"] == datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
        assert head.get("ServerSideEncryption") == "AES256", (key, head)


@pytest.mark.not_on("seaweedfs", "SeaweedFS accepts x-amz-acl but answers GetObjectAcl with the owner's grant only")
def test_the_canned_acl_is_granted(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "shared.txt", 100)
    put(a.client(), src_bucket, "shared-large.bin", LARGE)
    result = run_cli("sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", *endpoint_args(a.endpoint, b.endpoint),
                     "--acl", "public-read", "-y")
    assert result.returncode == 0, result.stderr
    for key in ("shared.txt", "shared-large.bin"):
        grants = b.client().get_object_acl(Bucket=dst_bucket, Key=key)["Grants"]
        assert any(g["Grantee"].get("URI", "").endswith("/global/AllUsers") and g["Permission"] == "READ"
                   for g in grants), (key, grants)


def test_metadata_directive_replace_writes_only_what_the_options_give(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "k.txt", 100, Metadata={"origin": "src"}, ContentType="text/plain")
    result = run_cli("sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", *endpoint_args(a.endpoint, b.endpoint),
                     "--metadata-directive", "REPLACE", "--metadata", "only=this", "-y")
    assert result.returncode == 0, result.stderr
    head = b.client().head_object(Bucket=dst_bucket, Key="k.txt")
    assert head["Metadata"] == {"only": "this"} and head["ContentType"] != "text/plain"


def test_a_server_side_copy_writes_the_same_attributes(env: Any, buckets: tuple[str, str]) -> None:
    """Within one account CopyObject moves the bytes; changed metadata makes it a REPLACE with the source's own."""
    a, _ = env
    src_bucket, _ = buckets
    put(a.client(), src_bucket, "in/doc.txt", 100, Metadata={"origin": "src"}, ContentType="text/plain")
    same = ["--from-profile", "src", "--to-profile", "src", "--from-endpoint", a.endpoint, "--to-endpoint",
            a.endpoint]
    result = run_cli("sync", f"s3://{src_bucket}/in", f"s3://{src_bucket}/out", *same, "--metadata", "team=x",
                     "--cache-control", "no-cache", "--sse", "AES256", "-y")
    assert result.returncode == 0 and "copied in place" in result.stdout, result.stdout + result.stderr
    head = a.client().head_object(Bucket=src_bucket, Key="out/doc.txt")
    assert head["Metadata"] == {"origin": "src", "team": "x"} and head["ContentType"] == "text/plain"
    assert head["CacheControl"] == "no-cache" and head.get("ServerSideEncryption") == "AES256", head


def test_requester_pays_goes_on_every_request(accounts: tuple[Account, Account], buckets: tuple[str, str],
                                              proxies: tuple[FaultProxy, FaultProxy]) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    src_proxy, _ = proxies
    data = put(a.client(), src_bucket, "paid/large.bin", LARGE)
    put(a.client(), src_bucket, "paid/small.txt", 10)
    src_proxy.require_header = ("x-amz-request-payer", "requester")  # as a requester-pays bucket answers
    args = ["sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", "--from-profile", "src", "--from-endpoint",
            src_proxy.endpoint_url, "--to-profile", "dst", "--to-endpoint", b.endpoint, "-y"]
    refused = run_cli(*args)
    assert refused.returncode == 2 and "AccessDenied" in refused.stderr and no_traceback(refused)
    src_proxy.headers.clear()
    paid = run_cli(*args, "--from-request-payer")
    assert paid.returncode == 0, paid.stderr
    assert read(b.client(), dst_bucket, "paid/large.bin") == data
    seen = src_proxy.headers
    assert len(seen) > 4 and all(h.get("x-amz-request-payer") == "requester" for _, _, h in seen)


def test_a_public_source_is_read_without_credentials(accounts: tuple[Account, Account], buckets: tuple[str, str],
                                                     proxies: tuple[FaultProxy, FaultProxy]) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    src_proxy, _ = proxies
    # Public as a data set is: an object ACL on moto (which does not apply bucket policies to anonymous reads), an
    # anonymous identity on SeaweedFS's source account.
    data = put(a.client(), src_bucket, "open/data.bin", LARGE, **({"ACL": "public-read"} if a.kind == "moto" else {}))
    result = run_cli("sync", f"s3://{src_bucket}/open", f"s3://{dst_bucket}/open", "--from-no-sign-request",
                     "--from-endpoint", src_proxy.endpoint_url, "--to-profile", "dst", "--to-endpoint",
                     b.endpoint, "-y")  # no source profile, and no keys in the environment
    assert result.returncode == 0, result.stderr
    assert read(b.client(), dst_bucket, "open/data.bin") == data
    assert src_proxy.headers and not any("authorization" in h for _, _, h in src_proxy.headers)


@pytest.mark.not_on("moto", "moto's S3 server ignores SSE-C keys (it stores and serves the object unencrypted)")
def test_sse_c_keys_on_both_sides(env: Any, buckets: tuple[str, str], tmp_path: Path) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    key_file = tmp_path / "dst.key"
    key_file.write_bytes(os.urandom(32))
    small = put(a.client(), src_bucket, "c/small.txt", 1000)
    large = put(a.client(), src_bucket, "c/large.bin", LARGE)
    common = endpoint_args(a.endpoint, b.endpoint)
    sealed = run_cli("sync", f"s3://{src_bucket}/c", f"s3://{dst_bucket}/c", *common, "--sse-c-key",
                     str(key_file), "-y")
    assert sealed.returncode == 0, sealed.stderr
    key = key_file.read_bytes()
    assert key.hex() not in sealed.stderr + sealed.stdout
    with pytest.raises(Exception):  # noqa: B017 - without the key the object cannot be read
        b.client().get_object(Bucket=dst_bucket, Key="c/small.txt")
    for name, data in (("c/small.txt", small), ("c/large.bin", large)):
        body = b.client().get_object(Bucket=dst_bucket, Key=name, SSECustomerAlgorithm="AES256",
                                     SSECustomerKey=key)["Body"].read()
        assert body == data, name

    back = run_cli("sync", f"s3://{dst_bucket}/c", f"s3://{src_bucket}/back", "--from-profile", "dst",
                   "--from-endpoint", b.endpoint, "--to-profile", "src", "--to-endpoint", a.endpoint,
                   "--from-sse-c-key", str(key_file), "-y")
    assert back.returncode == 0, back.stderr
    assert keys(a.client(), src_bucket, "back/") == {"back/small.txt": 1000, "back/large.bin": LARGE}
    assert read(a.client(), src_bucket, "back/large.bin") == large


@pytest.mark.not_on("seaweedfs", "SeaweedFS has no KMS")
def test_sse_kms_with_a_key_of_the_destination_account(env: Any, buckets: tuple[str, str]) -> None:
    import boto3

    a, b = env
    src_bucket, dst_bucket = buckets
    kms = boto3.client("kms", endpoint_url=b.endpoint, region_name="us-east-1", aws_access_key_id="AKDESTACCOUNT",
                       aws_secret_access_key="destination-secret-key")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    put(a.client(), src_bucket, "k.txt", 100)
    put(a.client(), src_bucket, "k-large.bin", LARGE)
    result = run_cli("sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", *endpoint_args(a.endpoint, b.endpoint),
                     "--sse", "aws:kms", "--sse-kms-key-id", key_id, "-y")
    assert result.returncode == 0, result.stderr
    for key in ("k.txt", "k-large.bin"):
        head = b.client().head_object(Bucket=dst_bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms" and key_id in head["SSEKMSKeyId"], head


@pytest.mark.parametrize(("args", "message"), [
    (["--acl", "everyone"], "--acl everyone: must be private, public-read"),
    (["--sse", "rot13"], "--sse rot13: must be AES256, aws:kms or aws:kms:dsse"),
    (["--sse-kms-key-id", "k"], "--sse-kms-key-id (sse_kms_key_id) needs --sse aws:kms"),
    (["--sse-c-key", "missing.key"], "--sse-c-key (sse_c_key) missing.key: cannot read the key file"),
    (["--from-sse-c-key", "short.key"], "holds 32 bytes (a 256-bit key) or their base64"),
    (["--metadata", "novalue"], "--metadata novalue: metadata must be KEY=VALUE"),
    (["--expires", "someday"], "--expires someday: not a date"),
    (["--restore-days", "0"], "--restore-days 0"),
])
def test_bad_access_options_are_one_line_and_exit_2_before_anything_is_copied(
    env: Any, buckets: tuple[str, str], tmp_path: Path, args: list[str], message: str,
) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "k.txt", 10)
    (tmp_path / "short.key").write_bytes(b"0123456789")
    result = run_cli("sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", *endpoint_args(a.endpoint, b.endpoint),
                     *args, "-y")
    assert result.returncode == 2 and no_traceback(result), result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "0123456789" not in result.stderr  # a key file's content is never shown
    assert keys(b.client(), dst_bucket) == {}
