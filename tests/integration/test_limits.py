"""--bwlimit and --tps-limit, measured: a copy never moves faster than its limits allow (over a few seconds)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.helpers import MIB, endpoint_args, put, run_cli

pytestmark = pytest.mark.integration


def test_bwlimit_holds_the_average_rate(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    for i in range(12):
        put(a.client(), src_bucket, f"b{i:02d}", MIB // 2)  # 6 MiB
    result = run_cli("sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", *endpoint_args(a.endpoint, b.endpoint),
                     "-y", "--json", "--bwlimit", "1MiB/s")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["bytes_sent"] == 6 * MIB
    # A burst of two seconds' worth (2 MiB) goes at once; the other 4 MiB take at least 4 s at 1 MiB/s.
    assert report["seconds"] >= 3.6, report["seconds"]


def test_tps_limit_spaces_the_requests_to_each_endpoint(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    for i in range(30):
        put(a.client(), src_bucket, f"t{i:02d}", 10)
    result = run_cli("sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", *endpoint_args(a.endpoint, b.endpoint),
                     "-y", "--json", "--tps-limit", "10")
    assert result.returncode == 0, result.stderr
    # 30 PUTs to the destination at 10 per second, after a burst of 10 (its listings came before the clock).
    assert json.loads(result.stdout)["seconds"] >= 1.8, result.stdout
