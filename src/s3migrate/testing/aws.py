"""Stand-ins for SQS, DynamoDB and SSM: a moto server on 127.0.0.1 (we cannot run the real services here)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MotoServer:
    """moto in server mode, in a thread of this process; every client gets its endpoint explicitly."""

    port: int = 0
    region: str = "us-east-1"
    _server: Any = field(default=None, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        from moto.server import ThreadedMotoServer

        self.port = self.port or _free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def env(self) -> dict[str, str]:
        """Environment for a process that should use this server for SQS, DynamoDB and SSM."""
        return {
            "AWS_ENDPOINT_URL_SQS": self.endpoint_url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.endpoint_url,
            "AWS_ENDPOINT_URL_SSM": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(  # type: ignore[call-overload]
            service, endpoint_url=self.endpoint_url, region_name=self.region,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )
