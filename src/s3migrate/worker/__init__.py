"""The jobsender (SEND) and the worker loop (WORK), shared by every mode."""

from s3migrate.worker.loop import JobOutcome, Worker, WorkerSettings
from s3migrate.worker.sender import send_jobs

__all__ = ["JobOutcome", "Worker", "WorkerSettings", "send_jobs"]
