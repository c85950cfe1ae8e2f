"""MiniStack (PyPI ``ministack``): a local AWS emulator that deploys CloudFormation templates and runs Python
Lambda handlers in subprocesses on an SQS trigger, without containers. The end-to-end test of the serverless
stack deploys the synthesized template into it. One process on 127.0.0.1, stopped by PID."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.aws import _free_port
from tests.support.seaweed import stop_process_group
from tests.support.tools import find_tool

ACCOUNT = "000000000000"


@dataclass
class MiniStack:
    port: int = 0
    region: str = "us-east-1"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    root: Path | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> MiniStack:
        binary = find_tool("ministack", "ministack")
        self.port = self.port or _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="ministack-"))
        env = {**os.environ, "GATEWAY_PORT": str(self.port), "MINISTACK_HOST": "127.0.0.1",
               "MINISTACK_REGION": self.region, "LOG_LEVEL": "WARNING", "STATE_DIR": str(self.root / "state"),
               "S3_DATA_DIR": str(self.root / "s3"), "IOT_MTLS_ENABLED": "0", "SFTP_ENABLED": "0"}
        for name in [n for n in env if n.startswith("AWS_ENDPOINT_URL")]:
            del env[name]
        log = open(self.root / "ministack.log", "ab")  # noqa: SIM115  # owned by the child process
        self.process = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ministack exited: {(self.root / 'ministack.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/_ministack/health", timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"ministack did not answer on {self.endpoint_url} within {timeout}s")

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(  # type: ignore[call-overload]
            service, endpoint_url=self.endpoint_url, region_name=self.region,
            aws_access_key_id="test", aws_secret_access_key="test",
        )

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, grace=10)
        self.process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
