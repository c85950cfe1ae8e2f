"""Waiting for a copy to reach a given point, so tests and the demo can interrupt it there."""

from __future__ import annotations

import subprocess
import time
from typing import Any


def parts_uploaded(client: Any, bucket: str, key: str) -> int:
    """Parts of the unfinished multipart upload of ``key`` at the destination (0 when there is none)."""
    uploads = [u for u in client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
               if u["Key"] == key]
    if not uploads:
        return 0
    return len(client.list_parts(Bucket=bucket, Key=key, UploadId=uploads[0]["UploadId"]).get("Parts", []))


def wait_for_parts(
    client: Any, bucket: str, key: str, count: int, process: subprocess.Popen[Any], timeout: float = 60.0
) -> bool:
    """True once ``count`` parts of ``key`` are at the destination; False if ``process`` ended or time ran out."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if parts_uploaded(client, bucket, key) >= count:
            return True
        time.sleep(0.05)
    return False
