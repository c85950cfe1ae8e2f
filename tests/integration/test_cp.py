"""cp: one object, with the same engine as sync (checked, resumable), a DST ending in / keeps the name; sync
pointed at an object says to use cp."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.helpers import MIB, endpoint_args, keys, no_traceback, put, read, run_cli

pytestmark = pytest.mark.integration




def test_cp_one_object_to_a_name_and_into_a_folder(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    data = put(a.client(), src_bucket, "dir/report.pdf", 12 * MIB + 3)  # multipart in the tests' settings
    put(a.client(), src_bucket, "dir/report.pdf.bak", 10)  # a key that merely starts the same: not copied
    common = endpoint_args(a.endpoint, b.endpoint)

    renamed = run_cli("cp", f"s3://{src_bucket}/dir/report.pdf", f"s3://{dst_bucket}/archive/2026.pdf", *common)
    assert renamed.returncode == 0, renamed.stderr
    assert f"to s3://{dst_bucket}/archive/2026.pdf" in renamed.stdout
    kept = run_cli("cp", f"s3://{src_bucket}/dir/report.pdf", f"s3://{dst_bucket}/inbox/", *common, "--json")
    assert kept.returncode == 0 and json.loads(kept.stdout)["copied"] == 1, kept.stdout
    assert keys(b.client(), dst_bucket) == {"archive/2026.pdf": 12 * MIB + 3, "inbox/report.pdf": 12 * MIB + 3}
    assert read(b.client(), dst_bucket, "archive/2026.pdf") == data


def test_cp_a_missing_object_or_a_folder_is_one_line(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    common = endpoint_args(a.endpoint, b.endpoint)
    missing = run_cli("cp", f"s3://{src_bucket}/no/such.txt", f"s3://{dst_bucket}/", *common)
    assert missing.returncode == 2 and no_traceback(missing) and "no such object" in missing.stderr
    folder = run_cli("cp", f"s3://{src_bucket}/dir/", f"s3://{dst_bucket}/", *common)
    assert folder.returncode == 2 and "s3migrate sync" in folder.stderr


def test_sync_pointed_at_an_object_says_to_use_cp(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "dir/one.txt", 10)
    result = run_cli("sync", f"s3://{src_bucket}/dir/one.txt", f"s3://{dst_bucket}/x",
                     *endpoint_args(a.endpoint, b.endpoint), "-y")
    assert result.returncode == 0 and "is an object, not a folder" in result.stderr and "s3migrate cp" in result.stderr


def test_cp_within_one_folder_of_one_bucket(env: Any, buckets: tuple[str, str]) -> None:
    """A copy beside the original (same bucket, same folder) is fine; onto itself it is refused."""
    a, _ = env
    src_bucket, _ = buckets
    data = put(a.client(), src_bucket, "dir/k.txt", 50)
    same = ["--from-profile", "src", "--to-profile", "src", "--from-endpoint", a.endpoint, "--to-endpoint", a.endpoint]
    beside = run_cli("cp", f"s3://{src_bucket}/dir/k.txt", f"s3://{src_bucket}/dir/k2.txt", *same)
    assert beside.returncode == 0, beside.stderr
    assert read(a.client(), src_bucket, "dir/k2.txt") == data
    onto_itself = run_cli("cp", f"s3://{src_bucket}/dir/k.txt", f"s3://{src_bucket}/dir/k.txt", *same)
    assert onto_itself.returncode == 2 and "the same object" in onto_itself.stderr and no_traceback(onto_itself)
