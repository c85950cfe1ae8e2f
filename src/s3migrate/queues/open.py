"""Opening a queue from its URL: the embedded SQLite queue or Amazon SQS."""

from __future__ import annotations

from s3migrate.endpoints.control import aws_client
from s3migrate.errors import ConfigError
from s3migrate.queues.base import WorkQueue
from s3migrate.queues.sqlite import SqliteQueue
from s3migrate.queues.sqs import SqsQueue
from s3migrate.sqlite_db import Database
from s3migrate.sqlite_url import sqlite_path


def open_queue(url: str, connections: int = 10, *, create: bool = True) -> WorkQueue:
    """``sqlite:///PATH`` | ``sqs://NAME`` | ``https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`` | a bare name (SQS).
    ``connections``: threads that will use it at once. ``create``: False for read-only commands."""
    if url.startswith("sqlite:///"):
        return SqliteQueue(Database(sqlite_path(url), create=create), max_receives=0)
    if url.startswith("sqs://"):
        return SqsQueue.open(aws_client("sqs", connections), url[len("sqs://"):])
    if url.startswith(("https://", "http://")) or "://" not in url:
        return SqsQueue.open(aws_client("sqs", connections), url)
    raise ConfigError(f"unknown queue {url!r} (use sqlite:///PATH, sqs://NAME or an SQS queue URL)")
