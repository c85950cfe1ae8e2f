"""Backends under the shared conformance suites. Every WorkQueue and Ledger backend is added here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from s3migrate.ledger.base import Ledger
from s3migrate.ledger.sqlite import SqliteLedger
from s3migrate.queues.base import WorkQueue
from s3migrate.queues.sqlite import SqliteQueue
from s3migrate.sqlite_db import Database

QueueFactory = Callable[..., WorkQueue]


@pytest.fixture(params=["sqlite"])
def make_queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QueueFactory]:
    created: list[WorkQueue] = []

    def factory(max_receives: int = 0) -> WorkQueue:
        queue = SqliteQueue(Database(tmp_path / f"q{len(created)}.db"), max_receives=max_receives)
        created.append(queue)
        return queue

    yield factory
    for queue in created:
        queue.close()


@pytest.fixture(params=["sqlite"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    backend = SqliteLedger(Database(tmp_path / "ledger.db"))
    yield backend
    backend.close()
