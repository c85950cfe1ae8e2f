"""Server-side copy: when the destination's credentials can read the source on the same service, CopyObject
moves the bytes inside S3 and nothing streams through this machine.

Tried first, as rclone does, only where it can work (the same endpoint, or AWS regions of one partition); the
first answer decides for the endpoint pair. A refusal that says "not here" (access denied to the source, an
endpoint that does not implement it, another partition) turns it off for the pair and the copy streams as
usual; once it has worked, a refusal for one object only makes that object stream.

Objects up to ``copy_cutoff`` (default and maximum: CopyObject's 5 GiB) take one CopyObject; larger ones a
resumable multipart upload of UploadPartCopy requests (``copy_part_size``, 64 MiB), ``--threads`` at a time,
resumed from the parts already at the destination like a streamed upload. Every read is pinned like every other
read (``x-amz-copy-source-if-match`` on the ETag, or the version in the source), and a plain-MD5 source ETag
must come back unchanged as the destination's ETag of a CopyObject.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from s3migrate.endpoints.failures import names_missing_object, server_side_refusal, translate_transfer_error
from s3migrate.engine.context import CopyContext, CopyResult
from s3migrate.engine.digest import etag_digest, etag_is_md5, object_md5
from s3migrate.engine.multipart import ServerSideRefused
from s3migrate.engine.options import TransferOptions
from s3migrate.engine.source import carried_attributes
from s3migrate.errors import IntegrityError
from s3migrate.jobs.job import Job

log = logging.getLogger(__name__)

COPY_OBJECT_LIMIT = 5 * 1024**3  # S3's CopyObject maximum


def clients_share_service(src_client: Any, src_endpoint_url: str | None, dst_client: Any,
                          dst_endpoint_url: str | None) -> bool:
    """:func:`same_service` for two clients, with the regions they actually resolved."""
    return same_service(src_endpoint_url, src_client.meta.region_name, dst_endpoint_url, dst_client.meta.region_name)


def same_service(src_endpoint_url: str | None, src_region: str | None, dst_endpoint_url: str | None,
                 dst_region: str | None) -> bool:
    """Whether one request to the destination can name the source: the same S3-compatible endpoint, or AWS
    regions of the same partition (CopyObject works across regions, not from AWS China to global)."""
    if src_endpoint_url or dst_endpoint_url:
        return (src_endpoint_url or "").rstrip("/") == (dst_endpoint_url or "").rstrip("/")
    return _partition(src_region) == _partition(dst_region)


def _partition(region: str | None) -> str:
    region = region or "us-east-1"
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


class ServerSideCopy:
    """Decides, once per endpoint pair, whether CopyObject works, and copies with it while it does."""

    def __init__(self, dst: Any, options: TransferOptions, candidate: bool) -> None:
        self.dst, self.options = dst, options
        self.works: bool | None = None if candidate else False  # None: not tried yet
        self._lock = threading.Lock()

    def applies(self) -> bool:
        return self.works is not False

    def copy_parts(self, ctx: CopyContext, run: Callable[[], CopyResult]) -> CopyResult | None:
        """A multipart upload of UploadPartCopy requests (``run``, see ``MultipartCopy``), for objects over
        the copy cutoff; None when this object (or this pair) has to stream."""
        try:
            result = run()
        except ServerSideRefused as exc:
            self._refused(ctx.job.describe(), str(exc))
            return None
        self._worked()
        return result

    def _source_attributes(self, job: Job) -> dict[str, Any]:
        """The source's metadata and content headers, for a copy that changes some of them."""
        if self.options.replace_metadata:
            return {}
        return carried_attributes(self._head_source(job, "source HEAD before a server-side copy"))

    def _source_etag_is_md5(self, job: Job) -> bool:
        """A listing does not say whether the source is encrypted (then its ETag is no MD5): a HEAD does."""
        return etag_is_md5(self._head_source(job, "source HEAD after a server-side copy"))

    def _head_source(self, job: Job, what: str) -> dict[str, Any]:
        """The source's HEAD, with the destination's credentials (which read it in a server-side copy)."""
        args: dict[str, Any] = {"Bucket": job.src_bucket, "Key": job.src_key}
        if job.version_id:
            args["VersionId"] = job.version_id
        try:
            head: dict[str, Any] = self.dst.head_object(**args)
        except Exception as exc:
            raise translate_transfer_error(exc, what) from None
        return head

    def copy(self, ctx: CopyContext) -> CopyResult | None:
        """Copy inside S3; None when this object (or this pair) has to stream instead."""
        job = ctx.job
        source: dict[str, str] = {"Bucket": job.src_bucket, "Key": job.src_key}
        if job.version_id:
            source["VersionId"] = job.version_id
        args: dict[str, Any] = {"Bucket": job.dst_bucket, "Key": job.dst_key, "CopySource": source,
                                "MetadataDirective": "COPY"}
        if job.etag and not job.version_id:
            args["CopySourceIfMatch"] = job.etag
        if self.options.storage_class:
            args["StorageClass"] = self.options.storage_class
        if not self.options.copy_tags:
            args["TaggingDirective"] = "REPLACE"  # and no Tagging: the copy has none (COPY, the default, keeps them)
        args.update(self.options.write_args)
        if self.options.rewrites_attributes or job.history:  # REPLACE names all the copy keeps: read the source's
            args.update(MetadataDirective="REPLACE", **job.tagged(self.options.written(self._source_attributes(job))))
        try:
            response = self.dst.copy_object(**args)
        except Exception as exc:
            code = server_side_refusal(exc)
            if code is not None:
                self._refused(job.describe(), code)
                return None
            if names_missing_object(exc):
                # The key was listed: some S3-compatibles (SeaweedFS) cannot name a "folder/" marker object as a
                # copy source. Stream this object; its GET tells whether the source is really gone.
                log.info("server-side copy of %s: the source was not found; streaming it instead", job.describe())
                return None
            raise translate_transfer_error(exc, "server-side CopyObject") from None
        self._worked()
        etag = str(response.get("CopyObjectResult", {}).get("ETag", ""))
        expected, copied = etag_digest(job.etag), object_md5({**response, "ETag": etag})
        if expected is not None and copied not in (None, expected) and self._source_etag_is_md5(job):
            raise IntegrityError(f"server-side copy: destination ETag {etag} != source ETag {job.etag}")
        ctx.on_copied_in_place(job.size)
        return CopyResult(etag=etag, size=job.size, bytes_sent=job.size,
                          version_id=response.get("CopySourceVersionId") or job.version_id)

    def _worked(self) -> None:
        with self._lock:
            if self.works is None:
                log.info("server-side copy works for this endpoint pair: objects are copied inside S3")
            self.works = True

    def _refused(self, what: str, code: str) -> None:
        with self._lock:
            if self.works is None:
                self.works = False
                log.info("server-side copy is not available for this endpoint pair (%s on %s); streaming "
                         "through this machine", code, what)

