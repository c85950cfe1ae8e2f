"""Filters through the real command line: sync copies what passes them, verify checks just that, and a SRC
under which nothing passes says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import endpoint_args, keys, put, run_cli

pytestmark = pytest.mark.integration




def test_sync_and_verify_with_ordered_rules_sizes_and_a_key_list(env: Any, buckets: tuple[str, str],
                                                                 tmp_path: Path) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    for key, size in [("photos/a.jpg", 2000), ("photos/b.jpg", 50), ("photos/raw/c.jpg", 3000),
                      ("photos/notes.txt", 2000), ("photos/d.tmp", 2000)]:
        put(a.client(), src_bucket, key, size)
    common = [*endpoint_args(a.endpoint, b.endpoint)]
    filters = ["--exclude", "*", "--include", "*.jpg", "--exclude", "raw/*", "--min-size", "1KiB"]
    src, dst = f"s3://{src_bucket}/photos", f"s3://{dst_bucket}/photos"

    dry = run_cli("sync", src, dst, *common, *filters, "--dry-run")
    assert dry.returncode == 0 and "would copy: 1 object," in dry.stdout and "filtered out 4" in dry.stdout, dry.stdout
    done = run_cli("sync", src, dst, *common, *filters, "-y")
    assert done.returncode == 0, done.stderr
    assert keys(b.client(), dst_bucket) == {"photos/a.jpg": 2000}

    checked = run_cli("verify", src, dst, *common, *filters, "--json")
    assert checked.returncode == 0, checked.stdout
    assert json.loads(checked.stdout)["summary"]["equal"] == 1
    unfiltered = run_cli("verify", src, dst, *common, "--json")
    assert unfiltered.returncode == 1 and json.loads(unfiltered.stdout)["summary"]["missing"] == 4

    wanted = tmp_path / "wanted.txt"
    wanted.write_text("notes.txt\n# not this one: d.tmp\n")
    listed = run_cli("sync", src, dst, *common, "--files-from", str(wanted), "-y")
    assert listed.returncode == 0, listed.stderr
    assert set(keys(b.client(), dst_bucket)) == {"photos/a.jpg", "photos/notes.txt"}


def test_a_src_that_nothing_passes_says_so(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "only/one.txt", 10)
    common = [*endpoint_args(a.endpoint, b.endpoint)]
    result = run_cli("sync", f"s3://{src_bucket}/only", f"s3://{dst_bucket}/x", *common, "--exclude", "*.txt", "-y")
    assert result.returncode == 0 and "none of the 1 object " in result.stderr, result.stderr
    empty = run_cli("sync", f"s3://{src_bucket}/nothing-here", f"s3://{dst_bucket}/x", *common, "-y")
    assert empty.returncode == 0 and "nothing is listed under" in empty.stderr, empty.stderr
    assert keys(b.client(), dst_bucket) == {}
