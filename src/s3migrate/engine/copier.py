"""The engine's front door: copy one job, choosing one request or a resumable multipart upload."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from s3migrate.endpoints.failures import translate_transfer_error
from s3migrate.engine import giant
from s3migrate.engine.budget import ByteBudget
from s3migrate.engine.context import CopyContext, CopyResult
from s3migrate.engine.digest import etag_digest
from s3migrate.engine.multipart import MultipartCopy
from s3migrate.engine.options import TransferOptions
from s3migrate.engine.server_side import COPY_OBJECT_LIMIT, ServerSideCopy
from s3migrate.engine.single import copy_single
from s3migrate.engine.source import SourceObject, head_source
from s3migrate.jobs.job import SOURCE_VERSION_METADATA, Job
from s3migrate.pacing import TokenBucket


def _paced(report: Callable[[int], None], bandwidth: TokenBucket, ctx: CopyContext) -> Callable[[int], None]:
    """Bytes reported as sent are paid for: the thread that sent them waits out any debt before its next part."""

    def on_bytes(count: int) -> None:
        report(count)
        bandwidth.acquire(count, ctx.cancelled)

    return on_bytes


class ObjectCopier:
    """Copies objects from one S3 client to another within a shared byte budget and part pool."""

    def __init__(self, src: Any, dst: Any, options: TransferOptions, budget: ByteBudget, part_workers: int,
                 *, same_service: bool = False, bandwidth: TokenBucket | None = None) -> None:
        """``same_service``: the endpoints are one S3 service, so server-side copy may work (it is tried).
        ``bandwidth``: --bwlimit, paid for by every byte that passes through this process."""
        self.src, self.dst, self.options, self.budget = src, dst, options, budget
        self.bandwidth = bandwidth
        self.server_side = ServerSideCopy(dst, options, candidate=same_service and options.server_side_copy)
        self._pool = ThreadPoolExecutor(max_workers=max(1, part_workers), thread_name_prefix="s3migrate-part")

    def copy(self, ctx: CopyContext) -> CopyResult:
        if self.bandwidth is not None:
            ctx.on_bytes = _paced(ctx.on_bytes, self.bandwidth, ctx)
        job = ctx.job
        if self.options.update_version_id and not job.version_id:
            ctx.job = job = self._pin_current_version(ctx)
        if job.delete_marker:
            return self._delete_marker(job)
        if job.version_id and not self.options.get_object_with_version_id and not job.history:
            # GetObjectWithVersionId off (the original default): read the current object, pinned by ETag.
            ctx.job = job = replace(job, version_id=None)
        if ctx.retried:
            landed = self._already_at_destination(job)
            if landed is not None:
                return landed
        source = None
        if job.etag is None and job.version_id is None:
            # An unpinned job (an original-format message): pin it to what the source is now.
            source = head_source(self.src, job)
            ctx.job = job = replace(job, etag=source.pin.etag, size=source.size)
        if self.server_side.applies():
            if job.size <= min(self.options.copy_cutoff, COPY_OBJECT_LIMIT):
                copied = self.server_side.copy(ctx)
            else:
                copied = self.server_side.copy_parts(ctx, lambda: self._multipart(ctx, source, server_side=True))
            if copied is not None:
                return copied
        if job.size <= self.options.resumable_threshold:
            return copy_single(self.src, self.dst, ctx, self.options, self.budget)
        source = source or head_source(self.src, job)
        if source.size <= self.options.resumable_threshold:  # it shrank since it was listed
            return copy_single(self.src, self.dst, ctx, self.options, self.budget)
        return self._multipart(ctx, source)

    def one_request(self, job: Job) -> bool:
        """Whether the job is copied by one request (a PUT or a CopyObject), so it leaves no upload to resume:
        the worker then needs no lease for it (``Ledger.look`` and ``finish``). Jobs of a history keep theirs
        (their order matters), and so do unpinned ones (their size is not known yet)."""
        limit = min(self.options.resumable_threshold, self.options.copy_cutoff, COPY_OBJECT_LIMIT)
        return not job.history and not job.delete_marker and job.upload_id is None \
            and (job.etag is not None or job.version_id is not None) and job.size <= limit

    def upload_giant_part(self, job: Job) -> tuple[str, int]:
        """One part of a giant object (engine/giant.py): (MD5 hex of its bytes, bytes sent)."""
        md5_hex, sent = giant.upload_part(self.src, self.dst, job)
        if self.bandwidth is not None:
            self.bandwidth.acquire(sent)
        return md5_hex, sent

    def complete_giant(self, job: Job, done: dict[int, str]) -> str:
        """Complete a giant object's upload from the parts the ledger recorded; its ETag."""
        return giant.complete(self.dst, job, done)

    def _delete_marker(self, job: Job) -> CopyResult:
        """A delete marker of a history: a DELETE at the (versioned) destination makes one there too."""
        try:
            self.dst.delete_object(Bucket=job.dst_bucket, Key=job.dst_key)
        except Exception as exc:
            raise translate_transfer_error(exc, "destination DELETE (a delete marker)") from None
        # The ledger records the source version this marker mirrors (the destination's marker has its own id).
        return CopyResult(etag="", size=0, bytes_sent=0, version_id=job.version_id)

    def _multipart(self, ctx: CopyContext, source: SourceObject | None, *, server_side: bool = False) -> CopyResult:
        copy = MultipartCopy(self.src, self.dst, ctx, self.options, self.budget, self._pool, server_side=server_side)
        return copy.run(source)

    def _already_at_destination(self, job: Job) -> CopyResult | None:
        """A retried job (its worker may have died after the PUT and before the ledger write) is not copied
        again when the destination already holds exactly the source's bytes (equal size and plain MD5 ETags). A
        version of a history landed only if the destination's latest version names it as its source: equal bytes
        could be the version before it."""
        source_md5 = etag_digest(job.etag)
        if source_md5 is None and not job.history:
            return None
        try:
            head = self.dst.head_object(Bucket=job.dst_bucket, Key=job.dst_key)
        except Exception:
            return None
        if job.history:
            if (head.get("Metadata") or {}).get(SOURCE_VERSION_METADATA) != job.version_id:
                return None
            return CopyResult(etag=str(head["ETag"]), size=job.size, bytes_sent=0, version_id=job.version_id)
        if int(head.get("ContentLength", -1)) == job.size and etag_digest(head.get("ETag")) == source_md5:
            return CopyResult(etag=str(head["ETag"]), size=job.size, bytes_sent=0, version_id=job.version_id)
        return None

    def _pin_current_version(self, ctx: CopyContext) -> Job:
        """UpdateVersionId: a new job reads the source's current versionId and records it; a resumed one
        (an unfinished upload in the ledger) keeps the version its parts were read from."""
        job, record = ctx.job, ctx.record
        if record is not None and record.upload_id and record.upload_src_version:
            return replace(job, version_id=record.upload_src_version)
        source = head_source(self.src, replace(job, etag=None))
        version = source.version_id
        if not version:  # an unversioned bucket: nothing to record
            return job
        ctx.ledger.record_version(job.ledger_key, version)
        return replace(job, version_id=version, size=source.size, etag=source.pin.etag)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
