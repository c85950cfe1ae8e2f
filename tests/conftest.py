"""Shared fixtures: two real S3 servers playing two accounts, started once per test session.

The integration suite runs against two S3 implementations through the one ``accounts`` fixture, as rclone runs
one suite over every backend: SeaweedFS (the main one) and moto's S3 server. A test that one of them cannot
serve says why with ``@pytest.mark.not_on(server, reason)`` and is skipped there only.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws import MotoS3
from tests.support.seaweed import SeaweedServer

S3_SERVERS = ("seaweedfs", "moto")


@dataclass
class Account:
    name: str
    server: SeaweedServer | MotoS3
    kind: str = "seaweedfs"

    @property
    def endpoint(self) -> str:
        return self.server.endpoint_url

    def client(self) -> Any:
        return self.server.client()


@pytest.fixture(scope="session", params=S3_SERVERS)
def accounts(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Account, Account]]:
    kind = str(request.param)
    src: SeaweedServer | MotoS3
    dst: SeaweedServer | MotoS3
    if kind == "seaweedfs":
        root = tmp_path_factory.mktemp("seaweed")
        # The source also answers unsigned reads, as a public data set does (--from-no-sign-request).
        src = SeaweedServer(root / "src", "AKSOURCEACCOUNT", "source-secret-key", anonymous_read=True)
        dst = SeaweedServer(root / "dst", "AKDESTACCOUNT", "destination-secret-key")
    else:
        src = MotoS3("AKSOURCEACCOUNT", "source-secret-key")
        dst = MotoS3("AKDESTACCOUNT", "destination-secret-key")
    src.start()
    try:
        dst.start()
        try:
            yield Account("src", src, kind), Account("dst", dst, kind)
        finally:
            dst.stop()
    finally:
        src.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "not_on(server, reason): this test cannot run against that S3 server")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        server = getattr(item, "callspec", None) and item.callspec.params.get("accounts")
        for mark in item.iter_markers("not_on"):
            if server == mark.args[0]:
                item.add_marker(pytest.mark.skip(reason=f"not on {server}: {mark.args[1]}"))


@pytest.fixture(scope="session")
def aws_profiles(tmp_path_factory: pytest.TempPathFactory, accounts: tuple[Account, Account]) -> Path:
    """A shared credentials file with profiles 'src' and 'dst'; used through AWS_SHARED_CREDENTIALS_FILE."""
    src, dst = accounts
    path = tmp_path_factory.mktemp("aws") / "credentials"
    path.write_text(
        f"[src]\naws_access_key_id = {src.server.access_key}\naws_secret_access_key = {src.server.secret_key}\n"
        f"[dst]\naws_access_key_id = {dst.server.access_key}\naws_secret_access_key = {dst.server.secret_key}\n"
    )
    return path


@pytest.fixture(autouse=True)
def _isolated_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """No test sees the developer's AWS settings; integration tests see the local profiles."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # The tests' objects of 6-96 MiB are meant to take the resumable multipart path in the original's 5 MB parts
    # (its threshold and ChunkSize); the defaults (64 MiB, 8 MiB) are exercised by the tests that pass their own
    # options and by the benchmarks.
    monkeypatch.setenv("ResumableThreshold", "5")
    monkeypatch.setenv("ChunkSize", "5")
    if "aws_profiles" in request.fixturenames:
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(request.getfixturevalue("aws_profiles")))


@pytest.fixture
def buckets(accounts: tuple[Account, Account]) -> tuple[str, str]:
    """A fresh source bucket in account 1 and destination bucket in account 2."""
    src, dst = accounts
    suffix = uuid.uuid4().hex[:10]
    src_bucket, dst_bucket = f"src-{suffix}", f"dst-{suffix}"
    src.client().create_bucket(Bucket=src_bucket)
    dst.client().create_bucket(Bucket=dst_bucket)
    return src_bucket, dst_bucket


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Any]:
    """moto in server mode (SQS, DynamoDB, SSM stand-ins) on 127.0.0.1."""
    from tests.support.aws import MotoServer

    server = MotoServer().start()
    yield server
    server.stop()
