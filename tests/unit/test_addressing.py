"""Which URL a bucket's requests go to: path-style for S3-compatible endpoints, virtual-hosted for the services
that refuse path-style (Aliyun OSS, Tencent COS), AWS's own rules, or what the user asked for. Nothing here
sends a request: presigned URLs and the lean path's bucket URL are worked out locally."""

from __future__ import annotations

from pathlib import Path

import pytest

from s3migrate.config import load_settings
from s3migrate.endpoints.client import Credentials, Endpoint, addressing_style, make_s3_client
from s3migrate.endpoints.location import S3Location
from s3migrate.errors import ConfigError

KEYS = Credentials("AKEXAMPLE", "secret")


def endpoint(url: str | None, style: str = "auto", region: str = "us-east-1") -> Endpoint:
    return Endpoint(S3Location("my-bucket"), region=region, endpoint_url=url, credentials=KEYS,
                    addressing_style=style)


@pytest.mark.parametrize(
    ("url", "style", "expected"),
    [
        ("http://127.0.0.1:8333", "auto", "path"),
        ("https://minio.example.com", "auto", "path"),
        ("https://storage.googleapis.com", "auto", "path"),
        ("https://oss-cn-hangzhou.aliyuncs.com", "auto", "virtual"),
        ("https://OSS-CN-BEIJING-INTERNAL.ALIYUNCS.COM", "auto", "virtual"),
        ("https://cos.ap-guangzhou.myqcloud.com", "auto", "virtual"),
        ("https://oss-cn-hangzhou.aliyuncs.com", "path", "path"),
        ("https://minio.example.com", "virtual", "virtual"),
        (None, "auto", None),
    ],
)
def test_the_addressing_style_follows_the_service(url: str | None, style: str, expected: str | None) -> None:
    assert addressing_style(endpoint(url, style)) == expected


def test_virtual_hosted_requests_name_the_bucket_in_the_host() -> None:
    client = make_s3_client(endpoint("https://oss-cn-hangzhou.aliyuncs.com", region="oss-cn-hangzhou"))
    url = client.generate_presigned_url("get_object", Params={"Bucket": "my-bucket", "Key": "a/b.txt"})
    assert url.startswith("https://my-bucket.oss-cn-hangzhou.aliyuncs.com/a/b.txt?")
    where = client._bucket_url("my-bucket")  # the lean path signs and sends to the same host
    assert where.host == "my-bucket.oss-cn-hangzhou.aliyuncs.com" and where.path == ""
    local = make_s3_client(endpoint("http://127.0.0.1:8333"))
    assert local.generate_presigned_url("get_object", Params={"Bucket": "my-bucket", "Key": "k"}).startswith(
        "http://127.0.0.1:8333/my-bucket/k?")


def test_the_setting_is_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert load_settings({"to_addressing_style": "Virtual"}, None).to_addressing_style == "virtual"
    monkeypatch.setenv("S3MIGRATE_FROM_ADDRESSING_STYLE", "dns")
    with pytest.raises(ConfigError, match="auto, path or virtual"):
        load_settings({}, None)
