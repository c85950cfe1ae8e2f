"""Planning from an S3 Inventory: CSV gzip and Parquet manifests in a bucket or on disk, keys URL-encoded as S3 writes
them, each data file checked against its MD5, the source never listed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Account
from tests.integration.helpers import keys, no_traceback, put, read, run_cli
from tests.support import inventory
from tests.support.faultproxy import FaultProxy

pytestmark = pytest.mark.integration


def listings(proxy: FaultProxy, bucket: str) -> int:
    """ListObjects requests a proxy saw for ``bucket``, beyond the one-key check every run starts with."""
    return sum(1 for method, path, _ in proxy.headers
               if method == "GET" and "list-type" in path and f"/{bucket}" in path and "max-keys=1" not in path)


@pytest.mark.parametrize("file_format", ["CSV", "Parquet"])
def test_a_plan_from_an_inventory_lists_nothing_at_the_source(
    accounts: tuple[Account, Account], buckets: tuple[str, str], proxies: tuple[FaultProxy, FaultProxy],
    file_format: str,
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    src_proxy, _ = proxies
    client = a.client()
    names = ["data/a b+c %.txt", "data/é/ü.bin", "data/plain.txt", "other/outside.txt"]
    data = {name: put(client, src_bucket, name, 100 + i) for i, name in enumerate(names)}
    put(client, src_bucket, "data/not-in-the-inventory.txt", 5)  # newer than the inventory: not planned
    rows = [(name, len(body), client.head_object(Bucket=src_bucket, Key=name)["ETag"]) for name, body in data.items()]
    half = len(rows) // 2
    if file_format == "CSV":
        files = {"inv/data/1.csv.gz": inventory.csv_gzip(src_bucket, rows[:half], deleted=("data/gone.txt",)),
                 "inv/data/2.csv.gz": inventory.csv_gzip(src_bucket, rows[half:])}
    else:
        files = {"inv/data/1.parquet": inventory.parquet(src_bucket, rows[half:]),  # any order across files
                 "inv/data/2.parquet": inventory.parquet(src_bucket, rows[:half])}
    for key, body in files.items():
        client.put_object(Bucket=src_bucket, Key=key, Body=body)
    client.put_object(Bucket=src_bucket, Key="inv/manifest.json",
                      Body=inventory.manifest(src_bucket, src_bucket, file_format.upper(), files))
    args = ["sync", f"s3://{src_bucket}/data", f"s3://{dst_bucket}/copy", "--from-profile", "src", "--to-profile",
            "dst", "--from-endpoint", src_proxy.endpoint_url, "--to-endpoint", b.endpoint, "-y", "--json",
            "--from-inventory", f"s3://{src_bucket}/inv/manifest.json"]
    src_proxy.headers.clear()
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["copied"] == 3
    assert keys(b.client(), dst_bucket) == {f"copy/{n[len('data/'):]}": len(data[n]) for n in names[:3]}
    assert read(b.client(), dst_bucket, "copy/a b+c %.txt") == data["data/a b+c %.txt"]
    assert listings(src_proxy, src_bucket) == 0  # the source was never listed
    again = run_cli(*args)
    assert again.returncode == 0 and json.loads(again.stdout)["copied"] == 0


def test_a_data_file_that_is_not_what_the_manifest_says_is_refused(env: Any, buckets: tuple[str, str],
                                                                   tmp_path: Path) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "k.txt", 10)
    etag = a.client().head_object(Bucket=src_bucket, Key="k.txt")["ETag"]
    good = inventory.csv_gzip(src_bucket, [("k.txt", 10, etag)])
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "1.csv.gz").write_bytes(good + b"tampered")
    (tmp_path / "manifest.json").write_bytes(inventory.manifest(src_bucket, src_bucket, "CSV",
                                                                {"data/1.csv.gz": good}))
    result = run_cli("sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", "--from-profile", "src", "--to-profile",
                     "dst", "--from-endpoint", a.endpoint, "--to-endpoint", b.endpoint, "-y",
                     "--from-inventory", str(tmp_path / "manifest.json"))
    assert result.returncode == 2 and no_traceback(result) and "MD5" in result.stderr, result.stderr
    assert keys(b.client(), dst_bucket) == {}
    (tmp_path / "data" / "1.csv.gz").write_bytes(good)  # a local manifest with its data files beside it
    fixed = run_cli("sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", "--from-profile", "src", "--to-profile",
                    "dst", "--from-endpoint", a.endpoint, "--to-endpoint", b.endpoint, "-y",
                    "--from-inventory", str(tmp_path / "manifest.json"))
    assert fixed.returncode == 0, fixed.stderr
    assert keys(b.client(), dst_bucket) == {"k.txt": 10}
