"""sync --delete: the destination mirrors the source under its prefix, after every copy succeeded; filtered keys
are kept; --max-delete refuses a large deletion; --dry-run lists it; the state file records it."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Account
from tests.integration.helpers import endpoint_args, keys, no_traceback, put, run_cli
from tests.support.faultproxy import FaultProxy, Rule

pytestmark = pytest.mark.integration




def seed(a: Account, b: Account, src_bucket: str, dst_bucket: str) -> None:
    put(a.client(), src_bucket, "data/keep.txt", 10)
    put(a.client(), src_bucket, "data/new.txt", 20)
    put(b.client(), dst_bucket, "copy/keep.txt", 10)
    put(b.client(), dst_bucket, "copy/old.txt", 30)  # not at the source: goes
    put(b.client(), dst_bucket, "copy/old.log", 40)  # not at the source, but excluded: stays
    put(b.client(), dst_bucket, "elsewhere/x.txt", 5)  # outside the prefix: never touched


def test_delete_mirrors_the_prefix_and_keeps_what_the_filters_leave_out(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    seed(a, b, src_bucket, dst_bucket)
    args = ["sync", f"s3://{src_bucket}/data", f"s3://{dst_bucket}/copy", *endpoint_args(a.endpoint, b.endpoint),
            "--exclude", "*.log", "--delete", "--state", "state.db", "-y"]

    dry = run_cli(*args, "--dry-run")
    assert dry.returncode == 0 and "would delete: 1 object " in dry.stdout and "old.txt" in dry.stdout, dry.stdout
    assert "copy/old.txt" in keys(b.client(), dst_bucket)  # a dry run deletes nothing

    refused = run_cli(*args, "--max-delete", "0")
    assert refused.returncode == 1 and no_traceback(refused)
    assert "more than --max-delete 0" in refused.stderr
    assert "copy/old.txt" in keys(b.client(), dst_bucket)

    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert "deleted 1 object " in result.stdout
    assert keys(b.client(), dst_bucket) == {"copy/keep.txt": 10, "copy/new.txt": 20, "copy/old.log": 40,
                                            "elsewhere/x.txt": 5}
    with sqlite3.connect("state.db") as conn:
        assert conn.execute('SELECT desBucket, desKey, Size FROM deletions').fetchall() == [
            (dst_bucket, "copy/old.txt", 30)]


def test_nothing_is_deleted_when_a_copy_failed(env: Any, buckets: tuple[str, str], tmp_path: Path) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    seed(a, b, src_bucket, dst_bucket)
    with FaultProxy(a.endpoint) as src_proxy:
        src_proxy.rules.append(Rule(method="GET", pattern="new.txt", status=403))
        result = run_cli("sync", f"s3://{src_bucket}/data", f"s3://{dst_bucket}/copy", "--from-profile", "src",
                         "--to-profile", "dst", "--from-endpoint", src_proxy.endpoint_url, "--to-endpoint",
                         b.endpoint, "--delete", "--max-retries", "0", "--no-server-side-copy", "-y")
    assert result.returncode == 1 and no_traceback(result)
    assert "nothing deleted: 1 object failed to copy" in result.stderr
    assert "copy/old.txt" in keys(b.client(), dst_bucket)
