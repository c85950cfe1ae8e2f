"""The lean GET/PUT path answers exactly as botocore would, on a real server, and steps aside when it should."""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3migrate.endpoints.client import Credentials, Endpoint, make_s3_client
from s3migrate.endpoints.lean import S3Store
from s3migrate.endpoints.location import S3Location
from s3migrate.engine.budget import ByteBudget
from s3migrate.engine.context import CopyContext, CopyResult
from s3migrate.engine.options import TransferOptions
from s3migrate.engine.single import copy_single
from s3migrate.jobs.job import Job
from tests.conftest import Account
from tests.integration.helpers import MIB
from tests.support.faultproxy import FaultProxy, Rule


def lean_client(account: Account, bucket: str, endpoint_url: str | None = None) -> Any:
    server = account.server
    client = make_s3_client(Endpoint(S3Location.parse(f"s3://{bucket}"), endpoint_url=endpoint_url or account.endpoint,
                                     credentials=Credentials(server.access_key, server.secret_key)))
    assert isinstance(client, S3Store) and client.lean_active
    return client


def md5_of(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def seaweed_keeps(key: str) -> bool:
    """SeaweedFS is filesystem-backed: it refuses "." and ".." segments, reads "\\" as "/" and folds empty
    segments (a leading, trailing or doubled "/"), whichever client sends them; not what this test is about."""
    return "\\" not in key and all(part not in ("", ".", "..") for part in key.split("/")) and len(key.encode()) <= 200


key_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(seaweed_keeps)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=key_text)
def test_any_key_round_trips_like_botocore(accounts: tuple[Account, Account], buckets: tuple[str, str],
                                           key: str) -> None:
    src, _ = accounts
    bucket = buckets[0]
    client = lean_client(src, bucket)
    data = os.urandom(257)
    put = client.put_object(Bucket=bucket, Key=key, Body=data, ContentMD5=md5_of(data),
                            ContentType="text/x-test", Metadata={"origin": "lean"})
    # The full botocore client sees the same object under the same key.
    plain = src.client()
    head = plain.head_object(Bucket=bucket, Key=key)
    assert head["ETag"] == put["ETag"] and head["ContentLength"] == len(data)
    assert key in [o["Key"] for o in plain.list_objects_v2(Bucket=bucket, Prefix=key)["Contents"]]
    got = client.get_object(Bucket=bucket, Key=key, IfMatch=put["ETag"])
    assert got["Body"].read() == data
    assert (got["ETag"], got["ContentType"], got["Metadata"]) == (put["ETag"], "text/x-test", {"origin": "lean"})
    ranged = client.get_object(Bucket=bucket, Key=key, Range="bytes=10-19")
    assert ranged["Body"].read() == data[10:20] and ranged["ContentLength"] == 10
    copied = client.copy_object(Bucket=bucket, Key=f"{key}.copy", CopySource={"Bucket": bucket, "Key": key},
                                MetadataDirective="COPY", CopySourceIfMatch=put["ETag"])
    assert copied["CopyObjectResult"]["ETag"].strip('"') == put["ETag"].strip('"')  # SeaweedFS leaves out the quotes
    assert plain.get_object(Bucket=bucket, Key=f"{key}.copy")["Body"].read() == data
    listed = client.list_objects_page(bucket, key).objects  # the lean listing decodes url-encoded keys
    assert (key, len(data), put["ETag"]) in [(k, size, etag) for k, size, etag, *_ in listed]
    modified = {k: m for k, _, _, _, m in listed}[key]  # as botocore parses it (--compare newer reads it)
    listed_by_botocore = plain.list_objects_v2(Bucket=bucket, Prefix=key)["Contents"]
    assert datetime.datetime.fromisoformat(modified) == {o["Key"]: o["LastModified"] for o in listed_by_botocore}[key]


def test_lean_listing_pages_like_botocore(accounts: tuple[Account, Account], buckets: tuple[str, str]) -> None:
    src, _ = accounts
    bucket = buckets[0]
    plain = src.client()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: plain.put_object(Bucket=bucket, Key=f"p/{i:05d} é+", Body=b"x" * (i % 7)),
                      range(1100)))
    expected = [(o["Key"], o["Size"], o["ETag"]) for page in plain.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="p/") for o in page.get("Contents", [])]
    client = lean_client(src, bucket)
    first = client.list_objects_page(bucket, "p/")
    second = client.list_objects_page(bucket, "p/", first.next_token)
    assert len(first.objects) == 1000 and second.next_token is None
    assert [(k, size, etag) for k, size, etag, *_ in first.objects + second.objects] == expected
    after = client.list_objects_page(bucket, "p/", start_after="p/01049 é+")  # StartAfter, url-encoded
    assert [(k, size, etag) for k, size, etag, *_ in after.objects] == expected[1050:]
    assert client.list_objects_page(bucket, "p/", start_after="p/\x7f").objects == []
    with pytest.raises(ClientError) as missing:
        client.list_objects_page("no-such-bucket-here", "")
    assert missing.value.response["Error"]["Code"] == "NoSuchBucket"


@pytest.mark.not_on("moto", "moto accepts a wrong Content-MD5 and unsigned-looking requests, so nothing is refused")
def test_errors_are_the_ones_botocore_raises(accounts: tuple[Account, Account], buckets: tuple[str, str]) -> None:
    src, _ = accounts
    bucket = buckets[0]
    client = lean_client(src, bucket)
    plain = src.client()
    data = b"x" * 100
    put = client.put_object(Bucket=bucket, Key="k", Body=data)
    for call in (
        lambda c: c.get_object(Bucket=bucket, Key="missing"),
        lambda c: c.get_object(Bucket=bucket, Key="k", IfMatch='"0123456789abcdef0123456789abcdef"'),
        lambda c: c.put_object(Bucket=bucket, Key="k2", Body=data, ContentMD5=md5_of(b"other bytes")),
    ):
        with pytest.raises(ClientError) as lean_error:
            call(client)
        with pytest.raises(ClientError) as full_error:
            call(plain)
        assert type(lean_error.value).__name__ == type(full_error.value).__name__
        assert lean_error.value.response["Error"]["Code"] == full_error.value.response["Error"]["Code"]
        assert lean_error.value.response["ResponseMetadata"]["HTTPStatusCode"] == \
            full_error.value.response["ResponseMetadata"]["HTTPStatusCode"]
    # Nothing was written by the PUT whose Content-MD5 did not match.
    with pytest.raises(ClientError):
        plain.head_object(Bucket=bucket, Key="k2")
    assert client.get_object(Bucket=bucket, Key="k")["ETag"] == put["ETag"]


def test_server_errors_go_through_botocore_retries(accounts: tuple[Account, Account],
                                                   buckets: tuple[str, str]) -> None:
    src, _ = accounts
    bucket = buckets[0]
    with FaultProxy(src.endpoint) as proxy:
        client = lean_client(src, bucket, proxy.endpoint_url)
        data = os.urandom(1000)
        proxy.rules.append(Rule(method="PUT", pattern="slow", status=503, times=2))
        put = client.put_object(Bucket=bucket, Key="slow", Body=data, ContentMD5=md5_of(data))
        proxy.rules.append(Rule(method="GET", pattern="slow", status=500, times=2))
        assert client.get_object(Bucket=bucket, Key="slow")["Body"].read() == data
    assert put["ETag"].strip('"') == hashlib.md5(data).hexdigest()


@pytest.mark.not_on("moto", "moto's werkzeug server closes every connection, so none is kept alive")
def test_a_kept_alive_connection_closed_in_flight_is_replaced_not_handed_to_botocore(
    accounts: tuple[Account, Account], buckets: tuple[str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    src, _ = accounts
    bucket = buckets[0]
    client = lean_client(src, bucket)
    data = os.urandom(1000)
    client.put_object(Bucket=bucket, Key="first", Body=data, ContentMD5=md5_of(data))
    origin = client._bucket_url(bucket).origin
    assert origin is not None and len(origin._idle) == 1
    origin._idle[0].sock.shutdown(socket.SHUT_RDWR)  # as if the server had closed it just now
    monkeypatch.setattr("s3migrate.endpoints.wire.Connection.alive", lambda self: True)  # unseen before sending

    def botocore_put(**args: Any) -> None:
        raise AssertionError("the lean path gave up on a stale connection")

    monkeypatch.setattr(client._client, "put_object", botocore_put)
    client.put_object(Bucket=bucket, Key="second", Body=data, ContentMD5=md5_of(data))
    assert client.get_object(Bucket=bucket, Key="second")["Body"].read() == data
    assert len(origin._idle) == 1  # the fresh connection, kept


def test_unknown_arguments_and_switch_off_use_botocore(accounts: tuple[Account, Account], buckets: tuple[str, str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    src, _ = accounts
    bucket = buckets[0]
    client = lean_client(src, bucket)
    client.put_object(Bucket=bucket, Key="tagged", Body=b"abc", Tagging="a=b")  # not a lean argument
    assert src.client().get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == [{"Key": "a", "Value": "b"}]
    monkeypatch.setenv("S3MIGRATE_LEAN_REQUESTS", "0")
    server = src.server
    plain = make_s3_client(Endpoint(S3Location.parse(f"s3://{bucket}"), endpoint_url=src.endpoint,
                                    credentials=Credentials(server.access_key, server.secret_key)))
    # Switched off, the store is the same S3 store with the same abilities but a streamed PUT, served by botocore:
    # planning still lists key ranges, so the switch changes the transport and nothing else.
    assert not plain.lean_active and not plain.abilities.streamed_put and plain.abilities.ranged_listing
    assert plain.get_object(Bucket=bucket, Key="tagged")["Body"].read() == b"abc"
    assert [row[0] for row in plain.list_objects_page(bucket, "").objects] == ["tagged"]


def copy_one(src: Any, dst: Any, job: Job, budget: ByteBudget) -> CopyResult:
    ctx = CopyContext(job=job, owner="test", ledger=None)  # type: ignore[arg-type]  # not used by single copies
    return copy_single(src, dst, ctx, TransferOptions(resumable_threshold=8 * MIB), budget)


def test_single_part_copies_stream_with_the_source_md5(accounts: tuple[Account, Account],
                                                       buckets: tuple[str, str]) -> None:
    """A plain-MD5 source streams into the PUT: the budget never holds the object, and the destination
    checked the bytes against the source's own MD5 (its ETag equals the source ETag)."""
    a, b = accounts
    src_bucket, dst_bucket = buckets
    data = os.urandom(6 * MIB + 123)
    etag = a.client().put_object(Bucket=src_bucket, Key="six.bin", Body=data, ContentType="video/x-test")["ETag"]
    budget = ByteBudget(64 * MIB)
    job = Job(src_bucket, "six.bin", dst_bucket, "copied/six.bin", len(data), etag=etag)
    result = copy_one(lean_client(a, src_bucket), lean_client(b, dst_bucket), job, budget)
    assert result.etag == etag and result.bytes_sent == len(data)
    assert budget.peak <= 2 * MIB < len(data)
    copied = b.client().get_object(Bucket=dst_bucket, Key="copied/six.bin")
    assert copied["Body"].read() == data and copied["ContentType"] == "video/x-test"


def test_a_stream_cut_mid_body_is_copied_again_whole(accounts: tuple[Account, Account],
                                                     buckets: tuple[str, str]) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    data = os.urandom(3 * MIB)
    etag = a.client().put_object(Bucket=src_bucket, Key="cut.bin", Body=data)["ETag"]
    job = Job(src_bucket, "cut.bin", dst_bucket, "cut.bin", len(data), etag=etag)
    with FaultProxy(a.endpoint) as src_proxy, FaultProxy(b.endpoint) as dst_proxy:
        src_proxy.rules.append(Rule(method="GET", pattern="cut", reset_mid_body=True, times=1))
        dst_proxy.rules.append(Rule(method="PUT", pattern="cut", status=503, times=1))
        result = copy_one(lean_client(a, src_bucket, src_proxy.endpoint_url),
                          lean_client(b, dst_bucket, dst_proxy.endpoint_url), job, ByteBudget(64 * MIB))
        assert [r.fired for r in src_proxy.rules + dst_proxy.rules] == [1, 1]
    assert result.etag == etag
    assert b.client().get_object(Bucket=dst_bucket, Key="cut.bin")["Body"].read() == data


def test_get_object_body_streams_in_the_chunks_asked_for(accounts: tuple[Account, Account],
                                                         buckets: tuple[str, str]) -> None:
    """A whole-object read (verify --deep hashes objects this way) never holds the object in memory."""
    src, _ = accounts
    bucket = buckets[0]
    data = os.urandom(3 * MIB + 17)
    src.client().put_object(Bucket=bucket, Key="chunks.bin", Body=data)
    client = lean_client(src, bucket)
    response = client.get_object(Bucket=bucket, Key="chunks.bin")
    body = response["Body"]
    assert response["ContentLength"] == len(data)
    chunks = list(iter(lambda: body.read(MIB), b""))
    assert [len(c) for c in chunks] == [MIB, MIB, MIB, 17] and b"".join(chunks) == data
    # The connection went back to the pool: the next request on it works.
    assert client.get_object(Bucket=bucket, Key="chunks.bin", Range="bytes=0-9")["Body"].read() == data[:10]


def test_an_unexpected_failure_hands_the_call_and_the_client_to_botocore(
    accounts: tuple[Account, Account], buckets: tuple[str, str], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug in the lean path, or botocore internals that changed, never fails a copy: that call goes to
    botocore, and so does every later call of that client (said once)."""
    src, _ = accounts
    bucket = buckets[0]
    client = lean_client(src, bucket)
    calls: list[str] = []

    def broken(operation: str, args: dict[str, Any]) -> dict[str, Any]:
        calls.append(operation)
        raise TypeError("an internal that changed")

    monkeypatch.setattr(client, "_put", broken)
    data = os.urandom(1000)
    client.put_object(Bucket=bucket, Key="first", Body=data, ContentMD5=md5_of(data))
    client.put_object(Bucket=bucket, Key="second", Body=data, ContentMD5=md5_of(data))
    assert calls == ["PutObject"] and not client.lean_active
    assert src.client().get_object(Bucket=bucket, Key="second")["Body"].read() == data
    assert caplog.text.count("botocore serves this client from now on") == 1
    assert client.list_objects_page(bucket, "").objects[0][0] == "first"  # listings too, through botocore


def test_express_directory_buckets_and_arns_go_through_botocore(accounts: tuple[Account, Account],
                                                               buckets: tuple[str, str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from s3migrate.endpoints.lean import botocore_only

    assert botocore_only("logs--usw2-az1--x-s3")
    assert botocore_only("arn:aws:s3::111122223333:accesspoint/mfzwi23gnjvgw.mrap")
    assert not botocore_only("plain-bucket")
    src, _ = accounts
    client = lean_client(src, buckets[0])
    routed: list[str] = []
    monkeypatch.setattr(client._client, "get_object", lambda **args: routed.append(args["Bucket"]) or {})
    client.get_object(Bucket="logs--usw2-az1--x-s3", Key="k")
    assert routed == ["logs--usw2-az1--x-s3"]
