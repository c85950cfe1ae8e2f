"""``s3migrate verify`` against two real SeaweedFS servers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.helpers import MIB, deterministic_bytes, endpoint_args, put, run_cli

pytestmark = pytest.mark.integration




def multipart_put(client: Any, bucket: str, key: str, data: bytes, part: int) -> None:
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = []
    for n, offset in enumerate(range(0, len(data), part), start=1):
        etag = client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n,
                                  Body=data[offset:offset + part])["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})


def test_verify_after_sync_is_proven_then_finds_every_kind_of_problem(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    src, dst = a.client(), b.client()
    put(src, src_bucket, "same.txt", 100)
    put(src, src_bucket, "big.bin", 11 * MIB)
    put(src, src_bucket, "gone.txt", 10)
    put(src, src_bucket, "small-changed.txt", 50, seed=1)
    put(src, src_bucket, "multi-changed.bin", 12 * MIB, seed=1)
    args = [f"s3://{src_bucket}", f"s3://{dst_bucket}", *endpoint_args(a.endpoint, b.endpoint)]
    assert run_cli("sync", *args).returncode == 0

    clean = run_cli("verify", *args)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "5 equal" in clean.stdout

    dst.delete_object(Bucket=dst_bucket, Key="gone.txt")
    put(dst, dst_bucket, "small-changed.txt", 50, seed=2)  # same size, other content, single part
    multipart_put(dst, dst_bucket, "multi-changed.bin", deterministic_bytes(12 * MIB, 9), 5 * MIB)  # same layout
    put(dst, dst_bucket, "extra.txt", 5)
    result = run_cli("verify", *args, "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    verdicts = {p["key"]: p["verdict"] for p in report["problems"]}
    assert verdicts == {"gone.txt": "missing", "small-changed.txt": "different", "multi-changed.bin": "different",
                        "extra.txt": "extra"}
    assert report["summary"]["equal"] == 2


def test_unproven_layouts_are_never_called_equal_and_deep_settles_them(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    src, dst = a.client(), b.client()
    same = deterministic_bytes(11 * MIB, 3)
    src.put_object(Bucket=src_bucket, Key="same-content.bin", Body=same)  # single part at the source
    multipart_put(dst, dst_bucket, "same-content.bin", same, 5 * MIB)  # 3 parts at the destination
    src.put_object(Bucket=src_bucket, Key="corrupt.bin", Body=deterministic_bytes(11 * MIB, 4))
    multipart_put(dst, dst_bucket, "corrupt.bin", deterministic_bytes(11 * MIB, 5), 5 * MIB)
    multipart_put(src, src_bucket, "both-multi.bin", deterministic_bytes(11 * MIB, 6), 5 * MIB)
    multipart_put(dst, dst_bucket, "both-multi.bin", deterministic_bytes(11 * MIB, 7), 5 * MIB)
    args = [f"s3://{src_bucket}", f"s3://{dst_bucket}", *endpoint_args(a.endpoint, b.endpoint)]

    shallow = run_cli("verify", *args)
    assert shallow.returncode == 1
    assert "2 unproven" in shallow.stdout and "--deep" in shallow.stdout
    assert "different both-multi.bin  (ETag differs under the same part layout)" in shallow.stdout

    deep = run_cli("verify", *args, "--deep", "--json")
    assert deep.returncode == 1
    problems = {p["key"]: p["verdict"] for p in json.loads(deep.stdout)["problems"]}
    assert problems == {"corrupt.bin": "different", "both-multi.bin": "different"}
