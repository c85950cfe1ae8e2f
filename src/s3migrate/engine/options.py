"""The transfer knobs the engine reads (a projection of the validated Settings)."""

from __future__ import annotations

from dataclasses import dataclass

from s3migrate.config import Settings


@dataclass(frozen=True)
class TransferOptions:
    chunk_size: int = 5 * 1024 * 1024
    resumable_threshold: int = 64 * 1024 * 1024
    threads: int = 4
    storage_class: str | None = None
    part_attempts: int = 3  # per part, within one job attempt (the job itself is retried too)
    get_object_with_version_id: bool = False  # GetObjectWithVersionId: GETs name the job's versionId
    update_version_id: bool = False  # UpdateVersionId: read and record the source's versionId before starting
    verify_md5_twice: bool = False  # ifVerifyMD5Twice: re-read parts sent by earlier attempts and check them
    server_side_copy: bool = True  # try CopyObject when the endpoints are one service (see engine.server_side)
    check_source_etag: bool = True  # a single-part source's plain ETag is its MD5: bodies must match it
    copy_tags: bool = True  # copy object tags (a GetObjectTagging for each object that has any)
    copy_cutoff: int = 5 * 1024**3  # server-side copies over this size are multipart (UploadPartCopy)
    copy_part_size: int = 64 * 1024 * 1024  # parts of server-side multipart copies

    @classmethod
    def from_settings(cls, settings: Settings) -> TransferOptions:
        return cls(
            chunk_size=settings.chunk_size,
            resumable_threshold=settings.resumable_threshold,
            threads=settings.threads,
            storage_class=settings.storage_class,
            part_attempts=min(3, settings.max_retries + 1),
            get_object_with_version_id=settings.get_object_with_version_id,
            update_version_id=settings.update_version_id,
            verify_md5_twice=settings.verify_md5_twice,
            server_side_copy=settings.server_side_copy,
            copy_tags=settings.copy_tags,
            check_source_etag=settings.check_source_etag,
            copy_cutoff=settings.copy_cutoff,
            copy_part_size=settings.copy_part_size,
        )
