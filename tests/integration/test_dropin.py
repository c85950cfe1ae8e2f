"""Replacing a running Longbow fleet: bucket pairs as its users wrote them, one source sent to two destinations,
and the original's key mapping on request (over the embedded queue and ledger; the SQS/DynamoDB side is in
test_cluster.py and the conformance suites)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Account
from tests.integration.helpers import endpoint_args, keys, put, read, run_cli

pytestmark = pytest.mark.integration


def send_and_work(accounts: tuple[Account, Account], pairs: list[dict[str, str]], tmp_path: Path,
                  *extra: str) -> tuple[str, str]:
    a, b = accounts
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(pairs))
    common = ["--queue", "sqlite:///state.db", "--ledger", "sqlite:///state.db", *endpoint_args(a.endpoint, b.endpoint),
              *extra]
    sent = run_cli("send", "--pairs", str(path), *common, cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    worked = run_cli("work", *common, "--exit-when-idle", "2", cwd=tmp_path)
    assert worked.returncode == 0, worked.stderr
    return sent.stdout, worked.stdout


def test_src_prefix_slash_means_the_whole_bucket(
    accounts: tuple[Account, Account], buckets: tuple[str, str], aws_profiles: Path, tmp_path: Path
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    data = put(a.client(), src_bucket, "top.txt", 100)
    put(a.client(), src_bucket, "dir/deep.txt", 50)
    sent, _ = send_and_work(accounts, [{"src_bucket": src_bucket, "src_prefix": "/", "des_bucket": dst_bucket,
                                        "des_prefix": "/"}], tmp_path)
    assert "sent 2 jobs" in sent, sent
    assert keys(b.client(), dst_bucket) == {"top.txt": 100, "dir/deep.txt": 50}
    assert read(b.client(), dst_bucket, "top.txt") == data


def test_one_source_sent_to_two_destinations_lands_in_both(
    accounts: tuple[Account, Account], buckets: tuple[str, str], aws_profiles: Path, tmp_path: Path
) -> None:
    """Two bucket pairs with one source (the original's CDK allows it): both destinations get every object."""
    a, b = accounts
    src_bucket, dst_bucket = buckets
    second = dst_bucket + "-b"
    b.client().create_bucket(Bucket=second)
    data = put(a.client(), src_bucket, "shared/file.bin", 3000)
    pairs = [{"src_bucket": src_bucket, "src_prefix": "shared", "des_bucket": dst_bucket, "des_prefix": ""},
             {"src_bucket": src_bucket, "src_prefix": "shared", "des_bucket": second, "des_prefix": "copy"}]
    sent, worked = send_and_work(accounts, pairs, tmp_path)
    assert "sent 2 jobs" in sent, sent
    assert "2 copied" in worked, worked
    assert read(b.client(), dst_bucket, "shared/file.bin") == data
    assert read(b.client(), second, "copy/shared/file.bin") == data


@pytest.mark.not_on("seaweedfs", "SeaweedFS itself folds '//' in keys, so no key differs between the two mappings")
def test_the_originals_key_mapping_on_request(
    accounts: tuple[Account, Account], buckets: tuple[str, str], aws_profiles: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Keys are copied verbatim; original_key_mapping gives the original's PurePosixPath keys, and a second
    send finds those copies (it does not send them again)."""
    a, b = accounts
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "odd//name.txt", 10)
    put(a.client(), src_bucket, "plain.txt", 20)
    pairs = [{"src_bucket": src_bucket, "src_prefix": "", "des_bucket": dst_bucket, "des_prefix": "p"}]
    monkeypatch.setenv("S3MIGRATE_ORIGINAL_KEY_MAPPING", "true")
    send_and_work(accounts, pairs, tmp_path)
    assert keys(b.client(), dst_bucket) == {"p/odd/name.txt": 10, "p/plain.txt": 20}
    again, _ = send_and_work(accounts, pairs, tmp_path)
    assert "sent 0 jobs" in again, again
    monkeypatch.delenv("S3MIGRATE_ORIGINAL_KEY_MAPPING")
    verbatim, _ = send_and_work(accounts, pairs, tmp_path)
    assert "sent 1 job," in verbatim, verbatim
    assert "p/odd//name.txt" in keys(b.client(), dst_bucket)
