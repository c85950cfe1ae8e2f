"""The Ledger protocol: one record per source object, claims with leases, the job's history.

One source key may be sent to several destinations (two bucket pairs with one source, an S3 event beside a
jobsender pair, a changed destination). The record keeps the original's identity, ``Key`` = ``src_bucket/src_key``,
and describes the destination of its latest job (``desBucket``, ``desKey``); a job is "already done" only when
the record is DONE *for that job's destination* from the same source content. A job for another destination
claims the record and copies: it is never acked as done because some other destination holds the copy.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from s3migrate.jobs.job import Job


class JobState(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


class Outcome(enum.StrEnum):
    """The original ``jobStatus`` values, added to the record's set per attempt."""

    DONE = "DONE"
    ERR = "ERR"
    TIMEOUT = "TIMEOUT"
    QUIT = "QUIT"


class ClaimResult(enum.Enum):
    CLAIMED = "claimed"
    ALREADY_DONE = "already_done"  # a redelivered job whose copy is recorded as done: ack and skip
    BUSY = "busy"  # another live worker holds the lease: leave the message to return
    FREE = "free"  # ``look``: nothing stops the job, and no lease was taken (``finish`` records the attempt)


@dataclass
class LedgerRecord:
    key: str
    dst_bucket: str
    dst_key: str
    size: int
    version_id: str | None = None
    src_etag: str | None = None
    state: JobState = JobState.PENDING
    job_status: set[str] = field(default_factory=set)
    instance_ids: set[str] = field(default_factory=set)
    try_times: int = 0
    fail_count: int = 0
    first_time: float | None = None  # epoch seconds (firstTime)
    claim_time: float | None = None  # epoch seconds the current attempt started (ours)
    end_time: float | None = None  # epoch seconds (endTime)
    total_spent_time: float | None = None  # endTime - firstTime
    progress: float = 0.0
    dst_etag: str | None = None
    upload_id: str | None = None
    upload_part_size: int | None = None
    upload_src_etag: str | None = None
    upload_src_version: str | None = None
    lease_owner: str | None = None
    lease_expires: float | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class Claim:
    result: ClaimResult
    record: LedgerRecord | None


@dataclass(frozen=True)
class UploadRecord:
    """An unfinished multipart upload and what it was cut from."""

    upload_id: str
    part_size: int
    src_etag: str | None
    src_version: str | None


@dataclass(frozen=True)
class LedgerSummary:
    counts: dict[JobState, int]
    bytes_by_state: dict[JobState, int]
    retries: int


def same_source(record: LedgerRecord, job: Job) -> bool:
    """Whether a finished record describes the same source content as this job."""
    if record.size != job.size:
        return False
    if record.src_etag and job.etag and record.src_etag != job.etag:
        return False
    return not (record.version_id and job.version_id and record.version_id != job.version_id)


def time_text(ts: float) -> str:
    """The original's human-readable times (``startTime_f``, ``endTime_f``): ``time.asctime`` in local time."""
    return time.asctime(time.localtime(ts))


def same_destination(record: LedgerRecord, job: Job) -> bool:
    """Whether the record describes this job's destination (one source may be sent to several)."""
    return (record.dst_bucket, record.dst_key) == (job.dst_bucket, job.dst_key)


def refuse_claim(record: LedgerRecord | None, job: Job, owner: str, now: float) -> Claim | None:
    """The one claim rule every backend applies before it writes: skip a job done from the same source,
    leave a job leased by another live owner; None means the claim may go ahead."""
    if record is None:
        return None
    if record.state is JobState.DONE and same_source(record, job) and same_destination(record, job):
        return Claim(ClaimResult.ALREADY_DONE, record)
    leased_elsewhere = record.lease_owner not in (None, owner) and (record.lease_expires or 0) > now
    if record.state is JobState.RUNNING and leased_elsewhere:
        return Claim(ClaimResult.BUSY, record)
    return None


@runtime_checkable
class Ledger(Protocol):
    """Every backend (SQLite, DynamoDB) passes the same conformance suite (tests/conformance)."""

    def register(self, jobs: Sequence[Job]) -> None:
        """Record planned jobs as PENDING (a planned job is missing at the destination, whatever was done)."""

    def claim(self, job: Job, owner: str, lease_seconds: float) -> Claim:
        """Take the job for ``owner`` unless it is done (same source) or leased by another live owner."""

    def look(self, job: Job, owner: str) -> Claim:
        """``claim``'s rule with one read and no write: ALREADY_DONE, BUSY, or FREE with the record read (None
        when there is none). For jobs copied in one request, which have no upload to resume: ``finish`` then
        records the attempt and the completion in one write."""

    def finish(
        self, job: Job, owner: str, seen: LedgerRecord | None, dst_etag: str, version_id: str | None = None,
    ) -> None:
        """A ``look``ed job is copied: record the attempt as ``claim`` would (tryTimes, instanceID, startTime_f,
        firstTime, the job's fields) and the completion as ``complete`` would, in one write."""

    def renew(self, key: str, owner: str, lease_seconds: float, progress: float | None = None) -> bool:
        """Extend the lease; False when ``owner`` no longer holds it."""

    def record_version(self, key: str, version_id: str) -> None:
        """UpdateVersionId: remember the source version this job copies (read before it starts)."""

    def record_upload(self, key: str, owner: str, upload: UploadRecord | None) -> None:
        """Remember (or forget, with None) the unfinished multipart upload of this job."""

    def complete(
        self, key: str, owner: str, dst_etag: str, version_id: str | None = None, part_size: int | None = None,
        first_time: float | None = None,
    ) -> None:
        """Mark DONE (jobStatus += DONE), clear the upload and the lease; keep the part size behind desEtag.
        ``first_time``: the claim's, so a backend need not read the record again for totalSpentTime."""

    def fail(self, key: str, owner: str, reason: str, outcome: Outcome, final: bool, *, unclaimed: bool = False) -> int:
        """Record a failed attempt; FAILED when ``final``, else back to PENDING. Returns the failures in a row.
        ``unclaimed``: the attempt was ``look``ed, not claimed, so it is counted here (tryTimes, instanceID)."""

    def part_done(self, key: str, part_number: int, md5_hex: str) -> int:
        """A part of a giant object (``send --giant-threshold``) is at the destination; idempotent (a redelivered
        part counts once). Returns how many of its parts are done."""

    def parts_done(self, key: str) -> dict[int, str]:
        """The giant object's parts done so far: part number -> MD5 (hex) of its bytes."""

    def claim_completion(self, key: str, owner: str, lease_seconds: float) -> bool:
        """Whether ``owner`` may complete the giant object's upload: exactly one at a time (the lease of one that
        died runs out)."""

    def release_completion(self, key: str, owner: str) -> None:
        """Give the completion back (it failed); the next part to arrive, or the next send, tries again."""

    def get(self, key: str) -> LedgerRecord | None:
        """The record, or None."""

    def records(self, state: JobState | None = None) -> Iterator[LedgerRecord]:
        """All records (in one state)."""

    def destination_keys(self, dst_bucket: str) -> Iterator[tuple[str, str | None]]:
        """(desKey, versionId) of every record for a destination bucket (the ``desBucket-index``)."""

    def summary(self) -> LedgerSummary:
        """Counts and bytes per state, and the total retries."""

    def close(self) -> None:
        """Release connections."""
