"""Objects at or under the resumable threshold: one GET, one PUT with Content-MD5.

Nothing read is trusted blindly. Every body must have the size the listing gave, and where the source ETag is
the object's MD5 (single-part, unencrypted or SSE-S3), the bytes must have that MD5:

- Streamed (the lean PUT): the GET body goes into the PUT as it arrives, with the *source's* MD5 as
  Content-MD5, so the destination checks every byte end to end and the copy neither buffers nor hashes (as
  rclone does). A BadDigest fails this attempt (retried, then the object fails by name); it never turns the
  check off for other objects.
- Buffered (botocore's PUT, or a source whose ETag is not an MD5): the body is read into memory and hashed,
  compared with the source's MD5 where there is one, and our MD5 goes as Content-MD5.
"""

from __future__ import annotations

import logging
from typing import Any

from s3migrate.endpoints.failures import error_code, is_service_error, translate_transfer_error
from s3migrate.endpoints.lean import StreamedBody, finish_body
from s3migrate.engine.budget import ByteBudget
from s3migrate.engine.context import CopyContext, CopyResult
from s3migrate.engine.digest import content_md5, etag_digest, etag_is_md5, md5_digest, object_md5, strip_etag
from s3migrate.engine.options import TransferOptions
from s3migrate.engine.retry import with_retries
from s3migrate.engine.source import (
    SourcePin,
    carried_attributes,
    check_source_etag,
    full_object_checksum,
    read_range,
    source_error,
    source_tagging,
    write_error,
)
from s3migrate.errors import Disposition, IntegrityError, JobInterrupted, TransferError
from s3migrate.jobs.job import Job

log = logging.getLogger(__name__)
_STREAM_BUFFER = 2 * 1024 * 1024  # what a streamed copy holds at once (socket buffers and one block)
ETAG_HINT = "if this service's ETags are not the MD5 of the content, --no-check-source-etag turns this check off"


def check_put_etag(response: dict[str, Any], digest: bytes, what: str) -> str:
    """The destination verified Content-MD5 already; an ETag that S3 makes an MD5 must also equal our digest."""
    etag = str(response.get("ETag", ""))
    stored = object_md5(response)
    if stored is not None and stored != digest:
        raise IntegrityError(f"{what}: destination ETag {strip_etag(etag)} != sent MD5 {digest.hex()}")
    return etag


def checked_put(dst: Any, job: Job, response: dict[str, Any], digest: bytes) -> str:
    """A PUT whose stored ETag is not the MD5 we sent (a destination that does not check Content-MD5 took other
    bytes) leaves no wrong object behind: it is deleted before the error is raised, and the copy is retried."""
    try:
        return check_put_etag(response, digest, "destination PUT")
    except IntegrityError:
        log.error("deleting s3://%s/%s: it does not hold the bytes that were sent", job.dst_bucket, job.dst_key)
        try:
            dst.delete_object(Bucket=job.dst_bucket, Key=job.dst_key)
        except Exception as exc:
            log.error("could not delete the wrong object: %s", exc)
        raise


def check_source_length(job: Job, length: int) -> None:
    """A body (or a Content-Length) that differs from the listed size is never written."""
    if length != job.size:
        raise TransferError(f"source GET answered {length} bytes where the listing says {job.size}; not written",
                            Disposition.RETRY)


def check_source_md5(job: Job, response: dict[str, Any], digest: bytes, options: TransferOptions) -> None:
    """The MD5 of what we read must be the source's own MD5 (its ETag), where S3 makes the ETag one."""
    expected = object_md5(response) if options.check_source_etag else None
    if expected is not None and expected != digest:
        raise TransferError(
            f"the bytes read from the source have MD5 {digest.hex()}, its ETag says {expected.hex()}; not written "
            f"({ETAG_HINT})", Disposition.RETRY)


def copy_single(src: Any, dst: Any, ctx: CopyContext, options: TransferOptions, budget: ByteBudget) -> CopyResult:
    job = ctx.job
    pin = SourcePin(job.etag, job.version_id)
    can_stream = options.check_source_etag and dst.abilities.streamed_put

    def attempt() -> CopyResult:
        if can_stream and etag_digest(job.etag) is not None:
            streamed = _copy_streamed(src, dst, ctx, options, budget, pin)
            if streamed is not None:
                return streamed
        taken = budget.acquire(job.size, ctx.cancelled)
        if taken < 0:
            raise JobInterrupted("stopped before the copy started", timeout=False)
        try:
            data, response = read_range(src, job, pin, None, job.size, with_checksum=True)
            digest = md5_digest(data)
            check_source_md5(job, response, digest, options)
            args = _put_args(ctx, options, response, data, digest, _tags(src, ctx, options, pin, response))
            args.update(file_time(dst, response))
            try:
                put = dst.put_object(**args)
            except Exception as exc:
                raise write_error(exc, "destination PUT", args) from None
            etag = checked_put(dst, job, put, digest)
            ctx.on_bytes(len(data))
            return CopyResult(
                etag=etag, size=len(data), bytes_sent=len(data), version_id=response.get("VersionId")
            )
        finally:
            budget.release(taken)

    return with_retries(attempt, options.part_attempts, ctx.cancelled)


def _tags(src: Any, ctx: CopyContext, options: TransferOptions, pin: SourcePin,
          response: dict[str, Any]) -> dict[str, str]:
    if not options.copy_tags:
        return {}
    return source_tagging(src, ctx.job, pin, int(response.get("TagCount") or 0))


def file_time(dst: Any, response: dict[str, Any]) -> dict[str, Any]:
    """A folder destination gives the file the source's LastModified as its mtime (an argument only it takes)."""
    if dst.abilities.filesystem and response.get("LastModified") is not None:
        return {"SourceLastModified": response["LastModified"]}
    return {}


def _put_args(ctx: CopyContext, options: TransferOptions, response: dict[str, Any], body: Any,
              digest: bytes, tags: dict[str, str]) -> dict[str, Any]:
    """PutObject arguments: the body with its MD5, the source's content headers, metadata, checksum and tags."""
    args: dict[str, Any] = {
        "Bucket": ctx.job.dst_bucket,
        "Key": ctx.job.dst_key,
        "Body": body,
        "ContentMD5": content_md5(digest),
        **ctx.job.tagged(options.written(carried_attributes(response))),
        **options.write_args,
        **full_object_checksum(response),
        **tags,
    }
    if options.storage_class:
        args["StorageClass"] = options.storage_class
    return args


def _copy_streamed(
    src: Any, dst: Any, ctx: CopyContext, options: TransferOptions, budget: ByteBudget, pin: SourcePin,
) -> CopyResult | None:
    """Stream the GET into the PUT; None when this object has to be buffered instead (its ETag is no MD5)."""
    job = ctx.job
    taken = budget.acquire(min(job.size, _STREAM_BUFFER), ctx.cancelled)
    if taken < 0:
        raise JobInterrupted("stopped before the copy started", timeout=False)
    try:
        try:
            response = src.get_object(Bucket=job.src_bucket, Key=job.src_key, ChecksumMode="ENABLED",
                                      **pin.get_args())
        except Exception as exc:
            raise source_error(exc, "source GET", pin) from None
        body = response["Body"]
        digest = object_md5(response)
        length = int(response.get("ContentLength", -1))
        if digest is None or not etag_is_md5(response) or length < 0:  # its ETag is not its MD5: hash it
            finish_body(body, drained=False)
            return None
        stream = StreamedBody(body, length)
        try:
            check_source_etag(response, pin)
            check_source_length(job, length)
            args = _put_args(ctx, options, response, stream, digest, _tags(src, ctx, options, pin, response))
            try:
                put = dst.put_object(**args)
            except Exception as exc:
                if error_code(exc) in ("BadDigest", "InvalidDigest"):
                    raise TransferError(
                        f"the destination refused the bytes read from the source: their MD5 is not the source's "
                        f"ETag {strip_etag(job.etag)} ({ETAG_HINT})", Disposition.RETRY) from None
                if is_service_error(exc):
                    raise write_error(exc, "destination PUT", args) from None
                raise translate_transfer_error(exc, "streamed copy") from None
        finally:
            finish_body(body, drained=stream.sent == length)
        etag = checked_put(dst, job, put, digest)
        ctx.on_bytes(length)
        return CopyResult(etag=etag, size=length, bytes_sent=length, version_id=response.get("VersionId"))
    finally:
        budget.release(taken)
