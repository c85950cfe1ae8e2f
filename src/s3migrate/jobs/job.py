"""A job: copy one source object to one destination key."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    """One object to copy. ``etag`` and ``version_id`` pin the source when known."""

    src_bucket: str
    src_key: str
    dst_bucket: str
    dst_key: str
    size: int
    version_id: str | None = None
    etag: str | None = None

    @property
    def ledger_key(self) -> str:
        """The ledger's partition key, as in the original: ``src_bucket/src_key``."""
        return f"{self.src_bucket}/{self.src_key}"

    def describe(self) -> str:
        if self.src_bucket.startswith("/"):  # a local folder (no bucket name starts with /)
            return f"{self.src_bucket.rstrip('/')}/{self.src_key}"
        return f"s3://{self.src_bucket}/{self.src_key}"
