"""Objects at or under the resumable threshold: one GET, one PUT with Content-MD5."""

from __future__ import annotations

from typing import Any

from s3migrate.engine.budget import ByteBudget
from s3migrate.engine.context import CopyContext, CopyResult
from s3migrate.engine.digest import content_md5, etag_digest, md5_digest, strip_etag
from s3migrate.engine.options import TransferOptions
from s3migrate.engine.retry import with_retries
from s3migrate.engine.source import SourcePin, carried_attributes, full_object_checksum, read_range
from s3migrate.errors import IntegrityError, JobInterrupted, translate_transfer_error


def check_put_etag(response: dict[str, Any], digest: bytes, what: str) -> str:
    """The destination verified Content-MD5 already; a plain-MD5 ETag must also equal our digest."""
    etag = str(response.get("ETag", ""))
    encrypted = response.get("ServerSideEncryption") == "aws:kms" or response.get("SSECustomerAlgorithm")
    stored = etag_digest(etag)
    if stored is not None and not encrypted and stored != digest:
        raise IntegrityError(f"{what}: destination ETag {strip_etag(etag)} != sent MD5 {digest.hex()}")
    return etag


def copy_single(
    src: Any, dst: Any, ctx: CopyContext, options: TransferOptions, budget: ByteBudget
) -> CopyResult:
    job = ctx.job
    pin = SourcePin(job.etag, job.version_id)

    def attempt() -> CopyResult:
        taken = budget.acquire(job.size, ctx.cancelled)
        if taken < 0:
            raise JobInterrupted("stopped before the copy started", timeout=False)
        try:
            data, response = read_range(src, job, pin, None, None, with_checksum=True)
            digest = md5_digest(data)
            args: dict[str, Any] = {
                "Bucket": job.dst_bucket,
                "Key": job.dst_key,
                "Body": data,
                "ContentMD5": content_md5(digest),
                **carried_attributes(response),
                **full_object_checksum(response),
            }
            if options.storage_class:
                args["StorageClass"] = options.storage_class
            try:
                put = dst.put_object(**args)
            except Exception as exc:
                raise translate_transfer_error(exc, "destination PUT") from None
            etag = check_put_etag(put, digest, "destination PUT")
            ctx.on_bytes(len(data))
            return CopyResult(
                etag=etag, size=len(data), bytes_sent=len(data), version_id=response.get("VersionId")
            )
        finally:
            budget.release(taken)

    return with_retries(attempt, options.part_attempts, ctx.cancelled)
