"""Objects at or under the resumable threshold: one GET, one PUT with Content-MD5.

When the source's ETag is a plain MD5 (a single-part, unencrypted object) the GET body is streamed into
the PUT as it arrives, with that MD5 as Content-MD5: the destination checks every byte against the
*source's* digest, end to end, and the copy neither buffers nor hashes (as rclone does). Otherwise the
body is read into memory and hashed, and our own MD5 goes as Content-MD5.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from s3migrate.endpoints.lean import LeanS3, StreamedBody, finish_body
from s3migrate.engine.budget import ByteBudget
from s3migrate.engine.context import CopyContext, CopyResult
from s3migrate.engine.digest import content_md5, etag_digest, md5_digest, strip_etag
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
from s3migrate.errors import IntegrityError, JobInterrupted, error_code, translate_transfer_error

log = logging.getLogger(__name__)
_STREAM_BUFFER = 2 * 1024 * 1024  # what a streamed copy holds at once (socket buffers and one block)


@dataclass
class StreamSwitch:
    """Whether single-part copies stream. Turned off for the run when a destination refuses a source ETag
    as Content-MD5 (an S3-compatible source whose plain-looking ETags are not MD5s)."""

    enabled: bool = True


def check_put_etag(response: dict[str, Any], digest: bytes, what: str) -> str:
    """The destination verified Content-MD5 already; a plain-MD5 ETag must also equal our digest."""
    etag = str(response.get("ETag", ""))
    encrypted = response.get("ServerSideEncryption") == "aws:kms" or response.get("SSECustomerAlgorithm")
    stored = etag_digest(etag)
    if stored is not None and not encrypted and stored != digest:
        raise IntegrityError(f"{what}: destination ETag {strip_etag(etag)} != sent MD5 {digest.hex()}")
    return etag


def copy_single(
    src: Any, dst: Any, ctx: CopyContext, options: TransferOptions, budget: ByteBudget,
    streaming: StreamSwitch | None = None,
) -> CopyResult:
    job = ctx.job
    pin = SourcePin(job.etag, job.version_id)
    can_stream = streaming is not None and isinstance(dst, LeanS3)  # only the lean PUT takes a streamed body

    def attempt() -> CopyResult:
        if can_stream and streaming is not None and streaming.enabled and etag_digest(job.etag) is not None:
            streamed = _copy_streamed(src, dst, ctx, options, budget, pin, streaming)
            if streamed is not None:
                return streamed
        taken = budget.acquire(job.size, ctx.cancelled)
        if taken < 0:
            raise JobInterrupted("stopped before the copy started", timeout=False)
        try:
            data, response = read_range(src, job, pin, None, None, with_checksum=True)
            digest = md5_digest(data)
            args = _put_args(ctx, options, response, data, digest, _tags(src, ctx, options, pin, response))
            try:
                put = dst.put_object(**args)
            except Exception as exc:
                raise write_error(exc, "destination PUT", args) from None
            etag = check_put_etag(put, digest, "destination PUT")
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


def _put_args(ctx: CopyContext, options: TransferOptions, response: dict[str, Any], body: Any,
              digest: bytes, tags: dict[str, str]) -> dict[str, Any]:
    """PutObject arguments: the body with its MD5, the source's content headers, metadata, checksum and tags."""
    args: dict[str, Any] = {
        "Bucket": ctx.job.dst_bucket,
        "Key": ctx.job.dst_key,
        "Body": body,
        "ContentMD5": content_md5(digest),
        **carried_attributes(response),
        **full_object_checksum(response),
        **tags,
    }
    if options.storage_class:
        args["StorageClass"] = options.storage_class
    return args


def _copy_streamed(
    src: Any, dst: Any, ctx: CopyContext, options: TransferOptions, budget: ByteBudget, pin: SourcePin,
    streaming: StreamSwitch,
) -> CopyResult | None:
    """Stream the GET into the PUT; None when this object has to be buffered instead."""
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
        digest = etag_digest(response.get("ETag"))
        encrypted = response.get("ServerSideEncryption") == "aws:kms" or response.get("SSECustomerAlgorithm")
        length = int(response.get("ContentLength", -1))
        if digest is None or encrypted or length < 0:  # its ETag is not its MD5: hash it ourselves
            finish_body(body, drained=False)
            return None
        stream = StreamedBody(body, length)
        try:
            check_source_etag(response, pin)
            args = _put_args(ctx, options, response, stream, digest, _tags(src, ctx, options, pin, response))
            try:
                put = dst.put_object(**args)
            except ClientError as exc:
                if error_code(exc) in ("BadDigest", "InvalidDigest") and stream.sent == length:
                    streaming.enabled = False
                    log.warning("the destination refused the source ETag of %s as its MD5; copying with our own "
                                "MD5 from now on", job.describe())
                    return None
                raise write_error(exc, "destination PUT", args) from None
            except Exception as exc:
                raise translate_transfer_error(exc, "streamed copy") from None
        finally:
            finish_body(body, drained=stream.sent == length)
        etag = check_put_etag(put, digest, "destination PUT")
        ctx.on_bytes(length)
        return CopyResult(etag=etag, size=length, bytes_sent=length, version_id=response.get("VersionId"))
    finally:
        budget.release(taken)
