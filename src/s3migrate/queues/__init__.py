"""Work queues: the protocol every backend implements, and the backends."""

from s3migrate.queues.base import JobConsumer, JobProducer, Message, QueueCounts, WorkQueue

__all__ = ["JobConsumer", "JobProducer", "Message", "QueueCounts", "WorkQueue"]
