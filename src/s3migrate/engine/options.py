"""The transfer knobs the engine reads (a projection of the validated Settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from s3migrate.config import CONTENT_HEADERS, Settings
from s3migrate.engine.source import LOCK_FIELDS

# Settings field -> the PutObject/CreateMultipartUpload/CopyObject argument it sets.
_CONTENT_ARGS = {"content_type": "ContentType", "cache_control": "CacheControl",
                 "content_disposition": "ContentDisposition", "content_encoding": "ContentEncoding",
                 "content_language": "ContentLanguage", "expires": "Expires"}


@dataclass(frozen=True)
class TransferOptions:
    chunk_size: int = 5 * 1024 * 1024
    resumable_threshold: int = 64 * 1024 * 1024
    threads: int = 4
    max_threads: int = 4  # parts of one object in flight at most, when more help (adaptive.py)
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
    # Every object write (PutObject, CreateMultipartUpload, CopyObject): ACL, ServerSideEncryption, SSEKMSKeyId.
    write_args: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # content headers (and Expires) set on every object
    metadata: dict[str, str] = field(default_factory=dict)  # user metadata added to every object
    replace_metadata: bool = False  # --metadata-directive REPLACE: nothing carried from the source
    copy_object_lock: bool = False  # --copy-object-lock: the source's retention and legal hold are written too

    @property
    def rewrites_attributes(self) -> bool:
        """Whether what is written differs from the source's own metadata and content headers."""
        return bool(self.headers or self.metadata or self.replace_metadata or self.copy_object_lock)

    def written(self, carried: dict[str, Any]) -> dict[str, Any]:
        """The metadata, content headers and (with --copy-object-lock) Object Lock state to write, from the
        source's (``carried``) and the options."""
        lock = {name: carried[name] for name in LOCK_FIELDS if name in carried} if self.copy_object_lock else {}
        out = {} if self.replace_metadata else {k: v for k, v in carried.items() if k not in LOCK_FIELDS}
        out.update(self.headers)
        if self.metadata:
            out["Metadata"] = {**out.get("Metadata", {}), **self.metadata}
        out.update(lock)
        return out

    @classmethod
    def from_settings(cls, settings: Settings) -> TransferOptions:
        return cls(
            chunk_size=settings.chunk_size,
            resumable_threshold=settings.resumable_threshold,
            threads=settings.threads,
            max_threads=settings.thread_ceiling,
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
            write_args=write_args(settings),
            headers={_CONTENT_ARGS[name]: str(getattr(settings, name)) for name in (*CONTENT_HEADERS, "expires")
                     if getattr(settings, name)},
            metadata=dict(settings.metadata),
            replace_metadata=settings.metadata_directive == "REPLACE",
            copy_object_lock=settings.copy_object_lock,
        )


def write_args(settings: Settings) -> dict[str, str]:
    """ACL and server-side encryption of every object write."""
    args: dict[str, str] = {}
    if settings.acl:
        args["ACL"] = settings.acl
    if settings.sse:
        args["ServerSideEncryption"] = settings.sse
    if settings.sse_kms_key_id:
        args["SSEKMSKeyId"] = settings.sse_kms_key_id
    return args
