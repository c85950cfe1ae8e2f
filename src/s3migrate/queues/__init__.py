"""Work queues: the protocol every backend implements, and the backends."""

from s3migrate.queues.base import Message, QueueCounts, WorkQueue

__all__ = ["Message", "QueueCounts", "WorkQueue"]
