"""A job: copy one source object to one destination key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The metadata a copied version of an --all-versions history carries: the source version it was copied from.
SOURCE_VERSION_METADATA = "s3migrate-source-version-id"


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
    history: bool = False  # one version of an --all-versions chain (planner/history.py): pinned to version_id
    delete_marker: bool = False  # that version is a delete marker: the copy is a delete at the destination
    # One part of a giant object (``send --giant-threshold``): the upload the jobsender made, this part's number
    # (0: complete the upload only), the layout's part size and count. Any worker uploads any part.
    upload_id: str | None = None
    part_number: int | None = None
    part_size: int = 0
    part_count: int = 0

    @property
    def ledger_key(self) -> str:
        """The ledger's partition key, as in the original: ``src_bucket/src_key``; a version of a history has
        its own (``?versionId=``), so each version is done once."""
        if self.history:
            return f"{self.src_bucket}/{self.src_key}?versionId={self.version_id or 'null'}"
        return f"{self.src_bucket}/{self.src_key}"

    def describe(self) -> str:
        if self.src_bucket.startswith("/"):  # a local folder (no bucket name starts with /)
            return f"{self.src_bucket.rstrip('/')}/{self.src_key}"
        where = f"s3://{self.src_bucket}/{self.src_key}"
        if self.part_number:
            return f"{where} (part {self.part_number} of {self.part_count})"
        return f"{where} (version {self.version_id})" if self.history else where

    def tagged(self, attributes: dict[str, Any]) -> dict[str, Any]:
        """What a write of this job carries: a version of a history also names its source version."""
        if not self.history:
            return attributes
        return {**attributes, "Metadata": {**attributes.get("Metadata", {}),
                                           SOURCE_VERSION_METADATA: self.version_id or "null"}}
