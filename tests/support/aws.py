"""Stand-ins for SQS, DynamoDB and SSM: a moto server on 127.0.0.1 (we cannot run the real services here)."""

from __future__ import annotations

import socket
import threading
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
    _thread: Any = field(default=None, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass

        app = DomainDispatcherApplication(create_backend_app)
        dynamodb_lock = threading.Lock()

        def serialised_dynamodb(environ: dict[str, Any], start_response: Any) -> Any:
            # moto applies DynamoDB condition expressions without locking, so two concurrent conditional
            # writes can both succeed (seen: 3 double claims in 60 races). Real DynamoDB evaluates them
            # atomically; serialising DynamoDB calls makes the stand-in behave like the service.
            if str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB"):
                with dynamodb_lock:
                    return list(app(environ, start_response))
            return app(environ, start_response)

        self.port = self.port or _free_port()
        self._server = make_server(
            "127.0.0.1", self.port, serialised_dynamodb, threaded=True, request_handler=QuietHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
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


@dataclass
class MotoS3:
    """moto's S3 in server mode, as a second S3 implementation beside SeaweedFS (its own quirks: it does not
    check Content-MD5 or credentials, and keeps keys verbatim). Same surface as ``SeaweedServer``."""

    access_key: str
    secret_key: str
    server: MotoServer = field(default_factory=MotoServer)

    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url

    def start(self) -> MotoS3:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def client(self, **config: Any) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 5}, **config),
        )
