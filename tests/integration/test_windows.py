"""Maintenance windows: --max-transfer and --max-duration stop a run from taking new objects, with exit code 3,
and the next run continues."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Account
from tests.integration.helpers import endpoint_args, keys, put, run_cli
from tests.support.faultproxy import FaultProxy, Rule

pytestmark = pytest.mark.integration


def test_max_transfer_stops_taking_objects_and_the_next_run_continues(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    for i in range(30):
        put(a.client(), src_bucket, f"f{i:02d}", 256 * 1024)
    common = [f"s3://{src_bucket}", f"s3://{dst_bucket}", *endpoint_args(a.endpoint, b.endpoint), "-y", "--json"]
    first = run_cli("sync", *common, "--max-transfer", "1MiB", "--workers", "1")
    assert first.returncode == 3, first.stderr
    report = json.loads(first.stdout)
    assert "--max-transfer 1.0 MiB reached" in report["window"] and "run the same command again" in first.stderr
    assert 4 <= report["copied"] < 30, report
    assert len(keys(b.client(), dst_bucket)) == report["copied"]
    rest = run_cli("sync", *common)
    assert rest.returncode == 0 and json.loads(rest.stdout)["copied"] == 30 - report["copied"], rest.stdout


def test_max_duration_ends_a_slow_run_resumably(accounts: tuple[Account, Account], buckets: tuple[str, str],
                                                proxies: tuple[FaultProxy, FaultProxy]) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    _, dst_proxy = proxies
    for i in range(10):
        put(a.client(), src_bucket, f"slow{i}", 1000)
    dst_proxy.rules.append(Rule(method="PUT", delay=0.5))
    args = ["sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", "--from-profile", "src", "--from-endpoint",
            a.endpoint, "--to-profile", "dst", "--to-endpoint", dst_proxy.endpoint_url, "-y", "--workers", "1"]
    stopped = run_cli(*args, "--max-duration", "1s")
    assert stopped.returncode == 3 and "--max-duration 1s reached" in stopped.stderr, stopped.stderr
    assert len(keys(b.client(), dst_bucket)) < 10
    dst_proxy.rules.clear()
    assert run_cli(*args).returncode == 0
    assert len(keys(b.client(), dst_bucket)) == 10
