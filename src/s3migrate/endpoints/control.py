"""The AWS control plane (SQS, DynamoDB, SSM): clients on the process's own identity and the standard botocore
settings (profiles, regions, ``AWS_ENDPOINT_URL_SQS`` ...), and SSM parameter reads."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from s3migrate.endpoints.failures import describe
from s3migrate.errors import ConfigError, EndpointError


def aws_client(service: str, connections: int = 10) -> Any:
    """SQS, DynamoDB and SSM clients: botocore's standard retries, and a connection for each worker thread (a
    smaller pool makes every thread past it open and drop a connection per call, with a warning each time)."""
    config = Config(retries={"mode": "standard"}, max_pool_connections=max(10, connections))
    try:
        return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]
    except BotoCoreError as exc:
        raise EndpointError(f"{service}: {describe(exc)} (set AWS_DEFAULT_REGION or a profile)") from None


def ssm_parameter(name: str, *, decrypt: bool = False) -> str:
    try:
        response = aws_client("ssm").get_parameter(Name=name, WithDecryption=decrypt)
    except (ClientError, BotoCoreError) as exc:
        raise ConfigError(f"SSM parameter {name!r}: {describe(exc)}") from None
    return str(response["Parameter"]["Value"])
