"""Backends under the shared conformance suites. Every WorkQueue and Ledger backend is added here.

SQS and DynamoDB run on a moto server (started once per session on 127.0.0.1)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from s3migrate.ledger.base import Ledger
from s3migrate.ledger.dynamodb import DynamoLedger, create_table
from s3migrate.ledger.sqlite import SqliteLedger
from s3migrate.queues.base import WorkQueue
from s3migrate.queues.sqlite import SqliteQueue
from s3migrate.queues.sqs import SqsQueue
from s3migrate.sqlite_db import Database
from tests.support.aws import MotoServer

QueueFactory = Callable[..., WorkQueue]


def _owned(param: str) -> bool:
    """``sync`` owns its state file (group commit, no polling); ``sqlite://`` cluster backends share theirs."""
    return param.endswith("owned")


@pytest.fixture(params=["sqlite", "sqlite-owned", "sqs"])
def make_queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QueueFactory]:
    created: list[WorkQueue] = []

    def factory(max_receives: int = 0) -> WorkQueue:
        if request.param.startswith("sqlite"):
            db = Database(tmp_path / f"q{len(created)}.db", owned=_owned(request.param))
            queue: WorkQueue = SqliteQueue(db, max_receives=max_receives)
        else:
            moto: MotoServer = request.getfixturevalue("moto_server")
            sqs = moto.client("sqs")
            name = f"q-{uuid.uuid4().hex[:8]}"
            attributes = {}
            if max_receives:
                dlq = sqs.create_queue(QueueName=name + "-dlq")["QueueUrl"]
                arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": max_receives})
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            queue = SqsQueue(sqs, url)
        created.append(queue)
        return queue

    yield factory
    for queue in created:
        queue.close()


@pytest.fixture(params=["sqlite", "sqlite-owned", "dynamodb"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    backend: Ledger
    if request.param.startswith("sqlite"):
        backend = SqliteLedger(Database(tmp_path / "ledger.db", owned=_owned(request.param)))
    else:
        moto: MotoServer = request.getfixturevalue("moto_server")
        client = moto.client("dynamodb")
        table = f"t-{uuid.uuid4().hex[:8]}"
        create_table(client, table)
        backend = DynamoLedger(client, table)
    yield backend
    backend.close()
