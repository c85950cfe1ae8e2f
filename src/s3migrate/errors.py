"""One exception hierarchy for s3migrate, and nothing else: no third-party imports here. What botocore and
urllib3 raise is translated at the endpoint boundary (:mod:`s3migrate.endpoints.failures`).

The retry budget, in one place. A request that fails transiently (throttling, 5xx, a reset or a timeout) is
retried by botocore up to ``max_attempts`` = 10 times (standard mode, the client's ``retries``); a part or a
single-request copy that still fails transiently is tried again up to 3 times in all (``part_attempts``, fewer
when ``--max-retries`` is lower); and a job whose attempt failed transiently goes back to the queue, with
full-jitter backoff up to 60 s, until it has failed ``--max-retries`` (MaxRetry, 10) attempts in a row. So one
request is sent at most 10 x 3 x 11 = 330 times before its object is reported failed. Errors that no retry can
change (denied, missing, refused credentials, invalid arguments, a changed source) skip all three levels.

Everything the tool raises on purpose derives from :class:`S3MigrateError`. botocore exceptions are
translated here, at the boundary, so the rest of the code reasons about *what to do* (retry, give up,
re-plan, restart the upload) instead of about HTTP status codes.

::

    S3MigrateError                  exit code 2 unless a subclass says otherwise
    ├── ConfigError                 bad flags, sizes, URLs, config files
    ├── EndpointError               a bucket that cannot be listed: missing, denied, unreachable
    ├── StateError                  the embedded state file is unusable or locked by another run
    ├── BadMessageError             a queue message that is not a job (recorded and removed)
    └── TransferError               one object failed (exit code 1 for the run); has a Disposition
        ├── SourceChangedError      the source object changed while it was being copied
        ├── SourceMissingError      the source object (or version) is gone
        ├── IntegrityError          a digest or ETag did not match what we sent
        └── JobInterrupted          stopped on purpose (job timeout, shutdown); the upload stays resumable
"""

from __future__ import annotations

import enum


class Disposition(enum.Enum):
    """What a failed operation means for the job that ran it."""

    RETRY = "retry"  # transient: try again later, keep any multipart upload
    FATAL = "fatal"  # will not succeed by retrying: record and move on
    SOURCE_CHANGED = "source_changed"  # re-plan; never finish from mixed data
    RESTART_UPLOAD = "restart_upload"  # abort the unfinished upload and start it again


class S3MigrateError(Exception):
    """Base of every error s3migrate raises on purpose."""

    exit_code = 2


class ConfigError(S3MigrateError):
    """Invalid flags, sizes, URLs or configuration files."""


class EndpointError(S3MigrateError):
    """An endpoint or bucket cannot be used at all (missing, denied, unreachable)."""


class StateError(S3MigrateError):
    """The embedded state file cannot be opened or is in use by another run."""


class BadMessageError(S3MigrateError):
    """A queue message that cannot be read as a job or an S3 event."""

    exit_code = 1


class TransferError(S3MigrateError):
    """One object could not be copied; the run continues with the others."""

    exit_code = 1
    disposition = Disposition.RETRY

    def __init__(self, message: str, disposition: Disposition | None = None) -> None:
        super().__init__(message)
        if disposition is not None:
            self.disposition = disposition


class SourceChangedError(TransferError):
    """The source changed while it was being copied (ETag/version no longer matches)."""

    disposition = Disposition.SOURCE_CHANGED


class SourceMissingError(TransferError):
    """The source object or version no longer exists."""

    disposition = Disposition.FATAL


class IntegrityError(TransferError):
    """A digest or ETag returned by the destination does not match what was sent."""

    disposition = Disposition.RESTART_UPLOAD


class JobInterrupted(TransferError):
    """The copy was stopped on purpose (job timeout or shutdown); it resumes on the next attempt."""

    disposition = Disposition.RETRY

    def __init__(self, message: str, *, timeout: bool) -> None:
        super().__init__(message)
        self.timeout = timeout
