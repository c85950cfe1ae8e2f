"""estimate: the plan's objects and bytes, and the S3 requests the run then really makes, counted by proxies."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from s3migrate.estimate import CLUSTER_CALLS
from tests.conftest import Account
from tests.integration.helpers import MIB, endpoint_args, no_traceback, put, run_cli
from tests.support.faultproxy import FaultProxy

pytestmark = pytest.mark.integration


def s3_calls(proxy: FaultProxy) -> Counter[str]:
    """Each request a proxy saw, named as the estimate names S3's APIs."""
    calls: Counter[str] = Counter()
    for method, path, _ in proxy.headers:
        query = path.partition("?")[2]
        if method == "GET" and "list-type" in query:
            calls["LIST"] += 1
        elif method == "GET" and "uploadId=" in query:
            calls["ListParts"] += 1
        elif method == "GET" and "uploads" in query:
            calls["ListMultipartUploads"] += 1
        elif method == "PUT" and "partNumber=" in query:
            calls["UploadPart"] += 1
        elif method == "POST" and "uploadId=" in query:
            calls["CompleteMultipartUpload"] += 1
        elif method == "POST" and "uploads" in query:
            calls["CreateMultipartUpload"] += 1
        else:
            calls[method] += 1
    return calls


def test_estimate_counts_what_the_run_then_does(accounts: tuple[Account, Account], buckets: tuple[str, str],
                                                proxies: tuple[FaultProxy, FaultProxy]) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    src_proxy, dst_proxy = proxies
    for i in range(5):
        put(a.client(), src_bucket, f"s{i}", 1000 + i)
    put(a.client(), src_bucket, "big.bin", 12 * 5 * MIB + 3)  # 13 parts of 5 MiB
    put(b.client(), dst_bucket, "s0", 1000)  # already there
    args = [f"s3://{src_bucket}", f"s3://{dst_bucket}", "--from-profile", "src", "--to-profile", "dst",
            "--from-endpoint", src_proxy.endpoint_url, "--to-endpoint", dst_proxy.endpoint_url]

    estimated = run_cli("estimate", *args, "--json", "--throughput", "10MiB")
    assert estimated.returncode == 0, estimated.stderr
    result = json.loads(estimated.stdout)
    planned = json.loads(run_cli("sync", *args, "--dry-run", "--json").stdout)
    assert (result["objects"], result["bytes"]) == (planned["to_copy"], planned["bytes"]) == (5, 4 * 1000 + 10 + 12
                                                                                            * 5 * MIB + 3)
    assert result["seconds"] == round(result["bytes"] / (10 * MIB), 1)
    assert result["cost_usd"]["total"] > 0 and result["prices_as_of"]

    src_proxy.headers.clear()
    dst_proxy.headers.clear()
    assert run_cli("sync", *args, "-y").returncode == 0
    real = s3_calls(src_proxy) + s3_calls(dst_proxy)
    assert dict(real) == result["requests"], (dict(real), result["requests"])


def test_cluster_and_lambda_estimates_price_queue_and_ledger_calls(env: Any, buckets: tuple[str, str],
                                                                   tmp_path: Path) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    for i in range(20):
        put(a.client(), src_bucket, f"k{i}", 100)
    common = ["estimate", f"s3://{src_bucket}", f"s3://{dst_bucket}", *endpoint_args(a.endpoint, b.endpoint),
              "--json"]
    cluster = json.loads(run_cli(*common, "--mode", "cluster").stdout)
    for name, per_object in CLUSTER_CALLS.items():  # the counting test's figures, for 20 objects
        assert cluster["requests"][name] == math.ceil(per_object * 20), name
    assert cluster["requests"]["DynamoDB write"] == 40 and cluster["requests"]["DynamoDB read"] == 20
    assert cluster["cost_usd"]["dynamodb"] > 0 and cluster["cost_usd"]["sqs"] > 0
    lam = json.loads(run_cli(*common, "--mode", "lambda").stdout)
    assert lam["cost_usd"]["lambda"] > 0 and any("Lambda time assumed" in note for note in lam["notes"])
    prices = json.loads(Path(__import__("s3migrate").__file__).with_name("data").joinpath("prices.json").read_text())
    prices["s3_per_1000"]["PUT"] = 1000.0  # the user's own table
    mine = tmp_path / "prices.json"
    mine.write_text(json.dumps(prices))
    dear = json.loads(run_cli(*common, "--prices", str(mine)).stdout)
    assert dear["cost_usd"]["s3_requests"] >= 20.0
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    bad = run_cli(*common, "--prices", str(broken))
    assert bad.returncode == 2 and no_traceback(bad) and "--prices" in bad.stderr
