"""Interrupting a copy, throttling storms, per-object failures and a source that changes mid-copy."""

from __future__ import annotations

import os
import signal
import sqlite3
import time

import pytest

from tests.conftest import Account
from tests.integration.helpers import MIB, keys, no_traceback, put, read, run_cli, start_cli, unfinished_uploads
from tests.support.faultproxy import FaultProxy, Rule
from tests.support.waits import parts_uploaded, wait_for_parts

pytestmark = pytest.mark.integration


def proxied_args(src_proxy: FaultProxy, dst_proxy: FaultProxy) -> list[str]:
    return ["--from-profile", "src", "--to-profile", "dst", "--from-endpoint", src_proxy.endpoint_url,
            "--to-endpoint", dst_proxy.endpoint_url]


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_large_object_resumes_without_resending_parts(
    accounts: tuple[Account, Account], buckets: tuple[str, str], proxies: tuple[FaultProxy, FaultProxy],
    how: signal.Signals,
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    src_proxy, dst_proxy = proxies
    size = 12 * 5 * MIB + 777  # 13 parts of 5 MiB
    data = put(a.client(), src_bucket, "big/video.bin", size)
    dst_proxy.rules.append(Rule(method="PUT", pattern="partNumber=", delay=0.4))  # slow the upload down
    args = ["sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", *proxied_args(src_proxy, dst_proxy),
            "--workers", "1", "--threads", "1", "--state", "state.db"]

    process = start_cli(*args)
    assert wait_for_parts(b.client(), dst_bucket, "big/video.bin", 4, process), process.communicate()
    process.send_signal(how)
    _, stderr = process.communicate(timeout=60)
    if how == signal.SIGINT:
        assert process.returncode == 130 and "run the same command again" in stderr and "Traceback" not in stderr
    assert "big/video.bin" not in keys(b.client(), dst_bucket)
    time.sleep(1.0)  # a part the proxy was still holding may land after the client died
    already = parts_uploaded(b.client(), dst_bucket, "big/video.bin")
    assert 4 <= already < 13

    dst_proxy.rules.clear()
    dst_proxy.counts.clear()
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert dst_proxy.counts.get("PUT part", 0) == 13 - already  # only the missing parts were sent
    assert read(b.client(), dst_bucket, "big/video.bin") == data
    assert unfinished_uploads(b.client(), dst_bucket) == []


def test_slowdown_storm_slows_the_copy_but_does_not_fail_it(
    accounts: tuple[Account, Account], buckets: tuple[str, str], proxies: tuple[FaultProxy, FaultProxy],
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    src_proxy, dst_proxy = proxies
    expected = {f"obj-{i:03d}": put(a.client(), src_bucket, f"obj-{i:03d}", 1000 + i) for i in range(40)}
    expected["large.bin"] = put(a.client(), src_bucket, "large.bin", 11 * MIB)
    dst_proxy.rules += [Rule(method="PUT", status=503, every=2, times=40), Rule(status=500, every=7, times=5)]
    src_proxy.rules += [Rule(method="GET", pattern="obj-", status=503, every=3, times=15),
                        Rule(method="GET", pattern="large", reset_mid_body=True, times=1)]
    result = run_cli("sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", *proxied_args(src_proxy, dst_proxy))
    assert result.returncode == 0, result.stderr
    assert sum(r.fired for r in dst_proxy.rules + src_proxy.rules) >= 40
    for key, data in expected.items():
        assert read(b.client(), dst_bucket, key) == data


def test_per_object_failures_are_named_recorded_and_exit_1(
    accounts: tuple[Account, Account], buckets: tuple[str, str], proxies: tuple[FaultProxy, FaultProxy],
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    src_proxy, dst_proxy = proxies
    good = put(a.client(), src_bucket, "good.txt", 10)
    put(a.client(), src_bucket, "denied.txt", 10)
    src_proxy.rules.append(Rule(method="GET", pattern="denied", status=403))
    result = run_cli("sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", *proxied_args(src_proxy, dst_proxy),
                     "--state", "state.db")
    assert result.returncode == 1 and no_traceback(result)
    assert f"s3://{src_bucket}/denied.txt" in result.stderr and "AccessDenied" in result.stderr
    assert read(b.client(), dst_bucket, "good.txt") == good
    assert "denied.txt" not in keys(b.client(), dst_bucket)
    row = sqlite3.connect("state.db").execute(
        "SELECT state, lastError, jobStatus FROM ledger WHERE Key = ?", (f"{src_bucket}/denied.txt",)
    ).fetchone()
    assert row[0] == "FAILED" and "AccessDenied" in row[1] and "ERR" in row[2]


def test_source_overwritten_during_copy_is_never_mixed(
    accounts: tuple[Account, Account], buckets: tuple[str, str], proxies: tuple[FaultProxy, FaultProxy],
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    src_proxy, dst_proxy = proxies
    put(a.client(), src_bucket, "changing.bin", 6 * 5 * MIB, seed=1)
    dst_proxy.rules.append(Rule(method="PUT", pattern="partNumber=", delay=0.5))
    args = ["sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", *proxied_args(src_proxy, dst_proxy),
            "--workers", "1", "--threads", "1"]
    process = start_cli(*args)
    assert wait_for_parts(b.client(), dst_bucket, "changing.bin", 2, process), process.communicate()
    new = put(a.client(), src_bucket, "changing.bin", 6 * 5 * MIB, seed=2)  # same size, new content
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1 and "source changed" in stderr
    assert "changing.bin" not in keys(b.client(), dst_bucket)
    assert unfinished_uploads(b.client(), dst_bucket) == []  # the half-old upload was aborted

    dst_proxy.rules.clear()
    assert run_cli(*args).returncode == 0
    assert read(b.client(), dst_bucket, "changing.bin") == new


def test_upload_with_another_part_size_is_restarted_not_mixed(
    accounts: tuple[Account, Account], buckets: tuple[str, str], proxies: tuple[FaultProxy, FaultProxy],
) -> None:
    a, b = accounts
    src_bucket, dst_bucket = buckets
    src_proxy, dst_proxy = proxies
    data = put(a.client(), src_bucket, "obj.bin", 20 * MIB)
    dst_proxy.rules.append(Rule(method="PUT", pattern="partNumber=", delay=0.4))
    base = ["sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", *proxied_args(src_proxy, dst_proxy),
            "--workers", "1", "--threads", "1", "--state", "state.db"]
    process = start_cli(*base, "--chunk-size", "5MiB")
    assert wait_for_parts(b.client(), dst_bucket, "obj.bin", 2, process), process.communicate()
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    dst_proxy.rules.clear()
    result = run_cli(*base, "--chunk-size", "8MiB")
    assert result.returncode == 0, result.stderr
    assert read(b.client(), dst_bucket, "obj.bin") == data
    assert b.client().head_object(Bucket=dst_bucket, Key="obj.bin")["ETag"].endswith('-3"')
    assert unfinished_uploads(b.client(), dst_bucket) == []
