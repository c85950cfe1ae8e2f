"""For scripts: sync --json (and with --dry-run, the planned actions), send --json, --quiet, --log-file, and
verify --one-way for a destination prefix that holds other things too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import endpoint_args, put, run_cli

pytestmark = pytest.mark.integration




def test_sync_json_dry_run_and_run(env: Any, buckets: tuple[str, str], tmp_path: Path) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "d/one.txt", 100)
    put(a.client(), src_bucket, "d/two.txt", 200)
    put(b.client(), dst_bucket, "d/stale.txt", 5)
    args = ["sync", f"s3://{src_bucket}/d", f"s3://{dst_bucket}/d", *endpoint_args(a.endpoint, b.endpoint), "--json"]

    planned = run_cli(*args, "--dry-run", "--delete")
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)  # the whole of stdout is one document
    assert plan["to_copy"] == 2 and plan["bytes"] == 300
    assert sorted(p["key"] for p in plan["planned"]) == ["one.txt", "two.txt"]
    assert plan["planned"][0]["reason"] and plan["would_delete"] == [{"key": "stale.txt", "size": 5}]

    log = tmp_path / "run.log"
    done = run_cli(*args, "--delete", "--log-file", str(log), "--log-level", "INFO")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["copied"] == 2 and result["bytes"] == 300 and result["failed"] == []
    assert result["deleted"] == ["d/stale.txt"] and result["exit_code"] == 0
    assert "copied s3://" in log.read_text() and done.stderr == ""  # log records went to the file

    quiet = run_cli(*args[:-1], "--quiet")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""


def test_verify_one_way_ignores_what_only_the_destination_holds(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "p/a.txt", 10)
    common = endpoint_args(a.endpoint, b.endpoint)
    assert run_cli("sync", f"s3://{src_bucket}/p", f"s3://{dst_bucket}/p", *common, "-y").returncode == 0
    put(b.client(), dst_bucket, "p/someone-elses.txt", 10)
    two_way = run_cli("verify", f"s3://{src_bucket}/p", f"s3://{dst_bucket}/p", *common, "--json")
    assert two_way.returncode == 1 and json.loads(two_way.stdout)["summary"]["extra"] == 1
    one_way = run_cli("verify", f"s3://{src_bucket}/p", f"s3://{dst_bucket}/p", *common, "--one-way", "--json")
    assert one_way.returncode == 0, one_way.stdout


def test_send_json(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "s/x.bin", 1000)
    result = run_cli("send", f"s3://{src_bucket}/s", f"s3://{dst_bucket}/s", "--queue", "sqlite:///q.db",
                     "--ledger", "sqlite:///q.db", *endpoint_args(a.endpoint, b.endpoint), "--json")
    assert result.returncode == 0, result.stderr
    sent = json.loads(result.stdout)
    assert sent["jobs"] == 1 and sent["bytes"] == 1000 and sent["pairs"][0]["listed"] == 1
