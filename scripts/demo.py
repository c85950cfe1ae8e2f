"""``make demo``: two local S3 servers (two accounts), a mixed dataset, and ``s3migrate sync`` between them.

It runs the real command line, interrupts one copy half-way and runs it again, so a newcomer sees the
copy, the resume and the idempotent re-run in under a minute, with nothing but Python installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]  # tests.support: the local servers and the fault proxy
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.seaweed import SeaweedServer  # noqa: E402
from tests.support.waits import wait_for_parts  # noqa: E402

MIB = 1024 * 1024


def _say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def _sync(args: list[str], env: dict[str, str]) -> int:
    print("$ s3migrate " + " ".join(args), flush=True)
    return subprocess.call([sys.executable, "-m", "s3migrate", *args], env=env)


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="s3migrate-demo-"))
    source = SeaweedServer(root / "account-a", "AKDEMOSOURCE", "demo-source-secret")
    destination = SeaweedServer(root / "account-b", "AKDEMODEST", "demo-destination-secret")
    try:
        _say("starting two local S3 servers (SeaweedFS), one per account")
        source.start()
        destination.start()
        print(f"account A: {source.endpoint_url}\naccount B: {destination.endpoint_url}")
        credentials = root / "credentials"
        credentials.write_text(
            f"[account-a]\naws_access_key_id = {source.access_key}\naws_secret_access_key = {source.secret_key}\n"
            f"[account-b]\naws_access_key_id = {destination.access_key}\n"
            f"aws_secret_access_key = {destination.secret_key}\n"
        )
        env = {**os.environ, "AWS_SHARED_CREDENTIALS_FILE": str(credentials), "AWS_CONFIG_FILE": str(root / "none")}

        _say("creating s3://demo-source/photos/ in account A: 300 small files, 2 large ones, odd keys")
        src = source.client()
        src.create_bucket(Bucket="demo-source")
        destination.client().create_bucket(Bucket="demo-destination")
        for i in range(300):
            src.put_object(Bucket="demo-source", Key=f"photos/2024/img {i:03d}+é.jpg", Body=os.urandom(20_000 + i))
        src.put_object(Bucket="demo-source", Key="photos/empty-folder/", Body=b"")
        for name, size in [("photos/video.mp4", 96 * MIB + 123), ("photos/archive.zip", 40 * MIB)]:
            src.put_object(Bucket="demo-source", Key=name, Body=os.urandom(size))

        common = ["--from-profile", "account-a", "--from-endpoint", source.endpoint_url,
                  "--to-profile", "account-b", "--to-endpoint", destination.endpoint_url,
                  "--state", str(root / "state.db")]
        pair = ["s3://demo-source/photos", "s3://demo-destination/backup/photos"]

        _say("dry run: what would be copied")
        _sync(["sync", *pair, *common, "--dry-run"], env)

        _say("copying, and interrupting it (as a Ctrl-C would) once the large video is half-way")
        process = subprocess.Popen(
            [sys.executable, "-m", "s3migrate", "sync", *pair, *common, "--workers", "4", "--threads", "2", "-y"],
            env=env,
        )
        try:
            wait_for_parts(destination.client(), "demo-destination", "backup/photos/video.mp4", 8, process)
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()

        _say("the same command again: it resumes, sending only what is missing")
        code = _sync(["sync", *pair, *common, "-y"], env)

        _say("and once more: nothing left to copy")
        code = code or _sync(["sync", *pair, *common, "-y"], env)

        _say("checking every byte")
        dst = destination.client()
        checked = 0
        for page in src.get_paginator("list_objects_v2").paginate(Bucket="demo-source", Prefix="photos/"):
            for item in page.get("Contents", []):
                key = item["Key"]
                a = hashlib.sha256(src.get_object(Bucket="demo-source", Key=key)["Body"].read()).hexdigest()
                b = hashlib.sha256(
                    dst.get_object(Bucket="demo-destination", Key="backup/" + key)["Body"].read()
                ).hexdigest()
                if a != b:
                    print(f"MISMATCH: {key}")
                    return 1
                checked += 1
        print(f"{checked} objects identical in both accounts")
        return code
    finally:
        source.stop()
        destination.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
