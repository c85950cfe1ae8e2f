"""The transfer knobs the engine reads (a projection of the validated Settings)."""

from __future__ import annotations

from dataclasses import dataclass

from s3migrate.config import Settings


@dataclass(frozen=True)
class TransferOptions:
    chunk_size: int = 5 * 1024 * 1024
    resumable_threshold: int = 5 * 1024 * 1024
    threads: int = 4
    storage_class: str | None = None
    part_attempts: int = 3  # per part, within one job attempt (the job itself is retried too)
    get_object_with_version_id: bool = False  # GetObjectWithVersionId: GETs name the job's versionId

    @classmethod
    def from_settings(cls, settings: Settings) -> TransferOptions:
        return cls(
            chunk_size=settings.chunk_size,
            resumable_threshold=settings.resumable_threshold,
            threads=settings.threads,
            storage_class=settings.storage_class,
            part_attempts=min(3, settings.max_retries + 1),
            get_object_with_version_id=settings.get_object_with_version_id,
        )
