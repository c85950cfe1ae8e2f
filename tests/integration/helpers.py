"""Helpers for integration tests: run the real CLI, make datasets, compare buckets."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 300, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run ``s3migrate`` as a user would: a separate process, no terminal."""
    return subprocess.run(
        [sys.executable, "-m", "s3migrate", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL, env=os.environ.copy(),
        **kwargs,
    )


def start_cli(*args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "s3migrate", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, stdin=subprocess.DEVNULL,
    )


def endpoint_args(src_endpoint: str, dst_endpoint: str) -> list[str]:
    return ["--from-profile", "src", "--to-profile", "dst", "--from-endpoint", src_endpoint,
            "--to-endpoint", dst_endpoint]


def put(client: Any, bucket: str, key: str, size: int, seed: int = 0, **extra: Any) -> bytes:
    data = deterministic_bytes(size, seed or hash(key) & 0xFFFF)
    client.put_object(Bucket=bucket, Key=key, Body=data, **extra)
    return data


def deterministic_bytes(size: int, seed: int) -> bytes:
    block = hashlib.sha256(f"{seed}".encode()).digest() * 2048  # 64 KiB pattern
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.md5(f"{seed}:{counter}".encode()).digest() + block[: 65536 - 16]
        counter += 1
    return bytes(out[:size])


def read(client: Any, bucket: str, key: str) -> bytes:
    return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())


def keys(client: Any, bucket: str, prefix: str = "") -> dict[str, int]:
    out: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            out[item["Key"]] = item["Size"]
    return out


def unfinished_uploads(client: Any, bucket: str) -> list[dict[str, Any]]:
    return list(client.list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def no_traceback(result: subprocess.CompletedProcess[str]) -> bool:
    return "Traceback" not in result.stderr and "Traceback" not in result.stdout
