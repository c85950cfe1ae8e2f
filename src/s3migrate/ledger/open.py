"""Opening a ledger from its URL: the embedded SQLite ledger or Amazon DynamoDB."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from s3migrate.endpoints.control import aws_client
from s3migrate.endpoints.failures import describe
from s3migrate.errors import ConfigError, EndpointError
from s3migrate.ledger.base import Ledger
from s3migrate.ledger.dynamodb import DynamoLedger
from s3migrate.ledger.sqlite import SqliteLedger
from s3migrate.sqlite_db import Database
from s3migrate.sqlite_url import sqlite_path


def open_ledger(url: str, connections: int = 10, *, create: bool = True) -> Ledger:
    """``sqlite:///PATH`` | ``dynamodb://TABLE`` | a bare table name (DynamoDB). ``connections``: threads that
    will use it at once. ``create``: False for read-only commands."""
    if url.startswith("sqlite:///"):
        return SqliteLedger(Database(sqlite_path(url), create=create))
    table = url[len("dynamodb://"):] if url.startswith("dynamodb://") else url
    if "://" in table or not table:
        raise ConfigError(f"unknown ledger {url!r} (use sqlite:///PATH or dynamodb://TABLE)")
    client = aws_client("dynamodb", connections)
    try:
        client.describe_table(TableName=table)
    except ClientError as exc:
        raise EndpointError(f"DynamoDB table {table!r}: {describe(exc)}") from None
    except BotoCoreError as exc:
        raise EndpointError(f"DynamoDB table {table!r}: {describe(exc)}") from None
    return DynamoLedger(client, table)
