"""Large objects: a resumable multipart upload in which the destination is the single source of truth.

1. HEAD the source and pin it (VersionId, else If-Match on the ETag).
2. Find this key's unfinished upload: the one the ledger recorded, resumed only when it was cut from the
   same source with the same part size; otherwise the newest one, whose parts are *verified* against the
   source (read, hashed, compared with the part ETag) before any is trusted. Uploads that cannot be
   resumed are aborted; nothing is ever completed from parts of another layout or another source.
3. Send only the missing parts, each with Content-MD5, under a per-object thread limit and the global byte
   budget (taken before the part is read).
4. Complete with the part list S3 returns, and check the resulting ETag against the digests of the bytes
   we read (md5 of the concatenated part digests, ``-N``). A mismatch deletes the bad object.

A transient failure never aborts the upload: it stays for the next attempt.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from s3migrate.adaptive import Concurrency
from s3migrate.endpoints.failures import classify, describe, server_side_refusal, translate_transfer_error
from s3migrate.engine.budget import ByteBudget
from s3migrate.engine.checksums import checksum_function
from s3migrate.engine.context import CopyContext, CopyResult
from s3migrate.engine.digest import content_md5, etag_digest, etag_is_md5, md5_digest, multipart_etag, strip_etag
from s3migrate.engine.options import TransferOptions
from s3migrate.engine.retry import with_retries
from s3migrate.engine.single import check_put_etag
from s3migrate.engine.source import SourceObject, head_source, read_range, source_tagging, write_error
from s3migrate.errors import Disposition, IntegrityError, JobInterrupted, TransferError
from s3migrate.jobs.layout import Part, PartLayout
from s3migrate.ledger.base import UploadRecord

log = logging.getLogger(__name__)


class _Upload:
    """An upload chosen for this attempt, with the digests of the parts already trusted."""

    def __init__(self, upload_id: str, trusted: dict[int, bytes], unverified: dict[int, bytes]) -> None:
        self.upload_id = upload_id
        self.trusted = trusted  # part number -> MD5 digest, known to come from this source
        self.unverified = unverified  # part number -> MD5 digest of a part of unknown origin


class ServerSideRefused(TransferError):
    """UploadPartCopy was refused in a way that means "not here" (no read access to the source, not
    implemented): the object streams instead."""

    disposition = Disposition.FATAL  # not retried part by part; the caller decides


class MultipartCopy:
    """One resumable multipart upload. With ``server_side`` the parts are UploadPartCopy requests naming a
    byte range of the source (nothing passes through this machine), else ranged GETs sent as UploadPart."""

    def __init__(
        self,
        src: Any,
        dst: Any,
        ctx: CopyContext,
        options: TransferOptions,
        budget: ByteBudget,
        pool: ThreadPoolExecutor,
        *,
        server_side: bool = False,
    ) -> None:
        self.src, self.dst, self.ctx, self.options = src, dst, ctx, options
        self.budget, self.pool = budget, pool
        self.server_side = server_side
        self.job = ctx.job
        self.algorithm: str | None = None  # the additional checksum carried from the source, if any
        self.checksum: Callable[[bytes], str] | None = None
        self.part_checksums: dict[int, str] = {}
        # Set once the destination shows SSE-KMS, DSSE-KMS or SSE-C (in the headers of CreateMultipartUpload or
        # UploadPart; ListParts does not say): its part and object ETags are then not MD5s.
        self.opaque_etags = False

    def _learn_encryption(self, response: dict[str, Any]) -> None:
        if not etag_is_md5(response):
            self.opaque_etags = True

    # -- entry point -------------------------------------------------------------------------------------

    def run(self, source: SourceObject | None = None) -> CopyResult:
        source = source or head_source(self.src, self.job)
        part_size = self.options.copy_part_size if self.server_side else self.options.chunk_size
        layout = PartLayout.for_size(source.size, part_size)
        if source.checksum_algorithm and not self.server_side:
            self.checksum = checksum_function(source.checksum_algorithm)
            self.algorithm = source.checksum_algorithm if self.checksum else None
        upload = self._resume_or_create(source, layout)
        try:
            digests, sent_bytes, sent_parts = self._send_parts(source, layout, upload)
            etag = self._complete(layout, upload.upload_id, digests)
        except Exception as exc:
            disposition = classify(exc)
            if isinstance(exc, ServerSideRefused):
                self._abort(upload.upload_id, reason=str(exc))
                raise
            if disposition in (Disposition.SOURCE_CHANGED, Disposition.RESTART_UPLOAD):
                self._abort(upload.upload_id, reason=str(exc))
            if disposition is Disposition.RESTART_UPLOAD:
                raise TransferError(f"upload restarted: {exc}", Disposition.RETRY) from None
            raise
        return CopyResult(
            etag=etag,
            size=source.size,
            bytes_sent=sent_bytes,
            parts_sent=sent_parts,
            parts_reused=layout.count - sent_parts,
            version_id=source.pin.version_id,
            part_size=layout.part_size,
        )

    # -- finding or starting the upload ------------------------------------------------------------------

    def _list_uploads(self) -> list[dict[str, Any]]:
        job = self.job
        uploads: list[dict[str, Any]] = []
        try:
            paginator = self.dst.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=job.dst_bucket, Prefix=job.dst_key):
                uploads.extend(u for u in page.get("Uploads", []) if u.get("Key") == job.dst_key)
        except Exception as exc:
            raise translate_transfer_error(exc, "destination ListMultipartUploads") from None
        return uploads

    def _list_parts(self, upload_id: str) -> list[dict[str, Any]]:
        job = self.job
        parts: list[dict[str, Any]] = []
        try:
            paginator = self.dst.get_paginator("list_parts")
            for page in paginator.paginate(Bucket=job.dst_bucket, Key=job.dst_key, UploadId=upload_id):
                parts.extend(page.get("Parts", []))
        except Exception as exc:
            raise translate_transfer_error(exc, "destination ListParts") from None
        return parts

    def _resume_or_create(self, source: SourceObject, layout: PartLayout) -> _Upload:
        record = self.ctx.ledger.get(self.job.ledger_key)
        uploads = self._list_uploads()
        by_id = {u["UploadId"]: u for u in uploads}
        recorded_id = record.upload_id if record else None
        if record and recorded_id and recorded_id in by_id:
            del by_id[recorded_id]
            same_layout = record.upload_part_size == layout.part_size
            same_source = (record.upload_src_etag, record.upload_src_version) == (
                source.pin.etag,
                source.pin.version_id,
            )
            if same_layout and same_source:
                resumed = self._adopt(recorded_id, layout, trusted=True)
                if resumed is not None:
                    return resumed
            else:
                why = "part size changed" if not same_layout else "the source changed since it started"
                self._abort(recorded_id, reason=why)
        # No usable recorded upload: take the newest unfinished one, verifying its parts against the source.
        if by_id:
            newest = max(by_id.values(), key=lambda u: str(u.get("Initiated") or ""))
            adopted = self._adopt(newest["UploadId"], layout, trusted=False)
            if adopted is not None:
                self._remember(adopted.upload_id, source, layout)
                return adopted
        return self._create(source, layout)

    def _adopt(self, upload_id: str, layout: PartLayout, *, trusted: bool) -> _Upload | None:
        """Take an existing upload if its parts fit the layout; abort it (and return None) otherwise."""
        parts = self._list_parts(upload_id)
        if any(not layout.fits(int(p["PartNumber"]), int(p["Size"])) for p in parts):
            self._abort(upload_id, reason=f"its parts do not fit {layout.part_size}-byte parts")
            return None
        digests = {int(p["PartNumber"]): etag_digest(p.get("ETag")) for p in parts}
        if self.server_side:  # trust comes from the recorded upload (same source pin, same layout), not from
            known = {n: d or b"" for n, d in digests.items()}  # part ETags, which some services do not make MD5s
        else:
            known = {n: d for n, d in digests.items() if d is not None}
        if self.algorithm:
            field = f"Checksum{self.algorithm}"
            self.part_checksums = {int(p["PartNumber"]): str(p[field]) for p in parts if p.get(field)}
            if len(self.part_checksums) < len(known):
                trusted = False  # their checksums are not listed (some S3-compatibles): read them back
        if self.options.verify_md5_twice:
            trusted = False  # ifVerifyMD5Twice: every earlier part is read back from the source and checked
        log.info("resuming upload %s of %s with %d/%d parts", upload_id, self.job.dst_key, len(known), layout.count)
        return _Upload(upload_id, known if trusted else {}, {} if trusted else known)

    def _create(self, source: SourceObject, layout: PartLayout) -> _Upload:
        args: dict[str, Any] = {"Bucket": self.job.dst_bucket, "Key": self.job.dst_key,
                                **self.job.tagged(self.options.written(source.attributes)),
                                **self.options.write_args}
        if self.options.storage_class:
            args["StorageClass"] = self.options.storage_class
        if self.algorithm:
            args["ChecksumAlgorithm"] = self.algorithm
        if self.options.copy_tags:
            args.update(source_tagging(self.src, self.job, source.pin, source.tag_count))
        if self.dst.abilities.filesystem:  # parts are written in place, and the file gets the source's time
            args.update(PartSize=layout.part_size, SourceLastModified=source.last_modified)
        try:
            created = self.dst.create_multipart_upload(**args)
        except Exception as exc:
            raise write_error(exc, "destination CreateMultipartUpload", args) from None
        self._learn_encryption(created)
        upload_id = str(created["UploadId"])
        self._remember(upload_id, source, layout)
        return _Upload(upload_id, {}, {})

    def _remember(self, upload_id: str, source: SourceObject, layout: PartLayout) -> None:
        self.ctx.ledger.record_upload(
            self.job.ledger_key,
            self.ctx.owner,
            UploadRecord(upload_id, layout.part_size, source.pin.etag, source.pin.version_id),
        )

    def _abort(self, upload_id: str, *, reason: str) -> None:
        log.warning("aborting upload %s of s3://%s/%s: %s", upload_id, self.job.dst_bucket, self.job.dst_key, reason)
        try:
            self.dst.abort_multipart_upload(Bucket=self.job.dst_bucket, Key=self.job.dst_key, UploadId=upload_id)
        except Exception as exc:  # already gone, or no permission: the next attempt starts a new one anyway
            log.warning("could not abort upload %s: %s", upload_id, exc)
        record = self.ctx.ledger.get(self.job.ledger_key)
        if record is not None and record.upload_id == upload_id:
            self.ctx.ledger.record_upload(self.job.ledger_key, self.ctx.owner, None)

    # -- sending parts -----------------------------------------------------------------------------------

    def _send_parts(
        self, source: SourceObject, layout: PartLayout, upload: _Upload
    ) -> tuple[dict[int, bytes], int, int]:
        ctx = self.ctx
        digests: dict[int, bytes] = dict(upload.trusted)
        slots = _Slots(self.options.threads, self.options.max_threads)
        failed = threading.Event()
        futures: list[Future[tuple[int, bytes, int]]] = []
        for part in layout.parts():
            if part.number in upload.trusted:
                ctx.on_reused(part.size)
                continue
            if not self._wait_for_slot(slots, failed):
                break
            taken = 0 if self.server_side else self.budget.acquire(part.size, ctx.cancelled)
            if taken < 0:
                slots.release()
                break
            future = self.pool.submit(
                self._part_task, source, upload.upload_id, part, upload.unverified.get(part.number), taken, slots
            )
            future.add_done_callback(lambda f: failed.set() if f.exception() is not None else None)
            futures.append(future)
        wait(futures)
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            # The most decisive failure wins: a changed source over a restart over a transient error.
            order = [Disposition.SOURCE_CHANGED, Disposition.FATAL, Disposition.RESTART_UPLOAD, Disposition.RETRY]
            errors.sort(key=lambda e: order.index(classify(e)))  # type: ignore[arg-type]
            raise errors[0]  # type: ignore[misc]
        sent_bytes = sent_parts = 0
        for future in futures:
            number, digest, sent = future.result()
            digests[number] = digest
            if sent:
                sent_bytes += sent
                sent_parts += 1
        if len(digests) < layout.count:
            timed_out = not ctx.cancelled.is_set()
            raise JobInterrupted(
                f"{'job timeout' if timed_out else 'stopped'} with {len(digests)}/{layout.count} parts at the "
                "destination; the upload resumes on the next attempt",
                timeout=timed_out,
            )
        return digests, sent_bytes, sent_parts

    def _wait_for_slot(self, slots: _Slots, failed: threading.Event) -> bool:
        while not slots.acquire(timeout=0.2):
            if failed.is_set() or self.ctx.should_stop():
                return False
        if failed.is_set() or self.ctx.should_stop():
            slots.release()
            return False
        return True

    def _part_task(
        self,
        source: SourceObject,
        upload_id: str,
        part: Part,
        candidate: bytes | None,
        taken: int,
        slots: _Slots,
    ) -> tuple[int, bytes, int]:
        moved = 0  # bytes of this part at the destination, for the part count's rate
        try:
            if self.server_side:
                digest, sent = with_retries(
                    lambda: self._copy_part(source, upload_id, part), self.options.part_attempts, self.ctx.cancelled
                )
            else:
                digest, sent = with_retries(
                    lambda: self._upload_part(source, upload_id, part, candidate),
                    self.options.part_attempts,
                    self.ctx.cancelled,
                )
            if sent and self.server_side:
                self.ctx.on_copied_in_place(sent)
            elif sent:
                self.ctx.on_bytes(sent)
            else:
                self.ctx.on_reused(part.size)
            moved = part.size
            return part.number, digest, sent
        finally:
            self.budget.release(taken)
            slots.release(moved)

    def _upload_part(
        self, source: SourceObject, upload_id: str, part: Part, candidate: bytes | None
    ) -> tuple[bytes, int]:
        """Read one part from the source and send it with its Content-MD5 (or keep an identical candidate)."""
        job = self.job
        data, _ = read_range(self.src, job, source.pin, part.byte_range, part.size)
        digest = md5_digest(data)
        extra: dict[str, str] = {}
        if self.checksum is not None:
            extra[f"Checksum{self.algorithm}"] = self.checksum(data)
            self.part_checksums[part.number] = extra[f"Checksum{self.algorithm}"]
        if candidate == digest:  # an unverified part that proved identical: keep it
            return digest, 0
        try:
            response = self.dst.upload_part(
                Bucket=job.dst_bucket,
                Key=job.dst_key,
                UploadId=upload_id,
                PartNumber=part.number,
                Body=data,
                ContentMD5=content_md5(digest),
                **extra,
            )
        except Exception as exc:
            raise translate_transfer_error(exc, f"destination UploadPart {part.number}") from None
        self._learn_encryption(response)
        check_put_etag(response, digest, f"part {part.number}")
        return digest, len(data)

    def _copy_part(self, source: SourceObject, upload_id: str, part: Part) -> tuple[bytes, int]:
        """Have the destination copy one byte range of the source, pinned like every read. The digest is
        the part ETag S3 reports (its MD5 on AWS), or empty when the service reports something else."""
        job = self.job
        copy_source = {"Bucket": job.src_bucket, "Key": job.src_key}
        args: dict[str, Any] = {
            "Bucket": job.dst_bucket,
            "Key": job.dst_key,
            "UploadId": upload_id,
            "PartNumber": part.number,
            "CopySource": copy_source,
            "CopySourceRange": part.byte_range,
        }
        if source.pin.version_id:
            copy_source["VersionId"] = source.pin.version_id
        elif source.pin.etag:
            args["CopySourceIfMatch"] = source.pin.etag
        try:
            response = self.dst.upload_part_copy(**args)
        except Exception as exc:
            if server_side_refusal(exc) is not None:
                raise ServerSideRefused(f"server-side UploadPartCopy: {describe(exc)}") from None
            raise translate_transfer_error(exc, f"server-side UploadPartCopy {part.number}") from None
        etag = response.get("CopyPartResult", {}).get("ETag")
        return etag_digest(etag) or b"", part.size

    # -- completing --------------------------------------------------------------------------------------

    def _complete(self, layout: PartLayout, upload_id: str, digests: dict[int, bytes]) -> str:
        job = self.job
        listed = {int(p["PartNumber"]): p for p in self._list_parts(upload_id)}
        complete_parts = []
        for number in range(1, layout.count + 1):
            part = listed.get(number)
            if part is None:
                raise TransferError(f"part {number} is not at the destination after it was sent")
            if not layout.fits(number, int(part["Size"])):
                raise IntegrityError(f"part {number} has {part['Size']} bytes at the destination")
            stored = None if self.opaque_etags else etag_digest(part.get("ETag"))
            if stored is not None and digests[number] and stored != digests[number]:
                raise IntegrityError(f"part {number} at the destination is not the part that was sent")
            entry = {"PartNumber": number, "ETag": part["ETag"]}
            if self.algorithm:
                entry[f"Checksum{self.algorithm}"] = self.part_checksums[number]
            complete_parts.append(entry)
        try:
            response = self.dst.complete_multipart_upload(
                Bucket=job.dst_bucket,
                Key=job.dst_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": complete_parts},
            )
        except Exception as exc:
            raise translate_transfer_error(exc, "destination CompleteMultipartUpload") from None
        etag = str(response.get("ETag", ""))
        if self.server_side:  # no byte passed through here: the part sizes were checked, the pin held each read
            return etag
        if self.opaque_etags or not etag_is_md5(response):
            return etag  # SSE-KMS, DSSE or SSE-C: the ETag is no MD5; Content-MD5 on every part carried the check
        expected = multipart_etag([digests[n] for n in range(1, layout.count + 1)])
        if "-" in strip_etag(etag) and strip_etag(etag) != expected:
            self._delete_bad_object(etag, expected)
            raise IntegrityError(f"completed ETag {strip_etag(etag)} != expected {expected}")
        return etag

    def _delete_bad_object(self, etag: str, expected: str) -> None:
        log.error("deleting s3://%s/%s: ETag %s, expected %s", self.job.dst_bucket, self.job.dst_key, etag, expected)
        try:
            self.dst.delete_object(Bucket=self.job.dst_bucket, Key=self.job.dst_key)
        except Exception as exc:
            log.error("could not delete the bad object: %s", exc)


class _Slots:
    """Parts of one object in flight: ``--threads`` to start with, more while more of them move more bytes per
    second (a far endpoint: each part waits on round trips), up to ``max_threads`` (adaptive.py decides,
    on bytes instead of messages). Bytes in flight stay under the byte budget whatever the count."""

    def __init__(self, threads: int, ceiling: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._semaphore = threading.Semaphore(threads)
        self._lock = threading.Lock()
        self._owed = 0  # permits given back: the next releases keep them
        self._bytes = 0
        self._concurrency = Concurrency(threads, max(threads, ceiling))
        self._adaptive = ceiling > threads

    def acquire(self, timeout: float) -> bool:
        if self._adaptive:
            self._adjust()
        return self._semaphore.acquire(timeout=timeout)

    def release(self, sent: int = 0) -> None:
        with self._lock:
            self._bytes += sent
            if self._owed:
                self._owed -= 1
                return
        self._semaphore.release()

    def _adjust(self) -> None:
        with self._lock:
            before = self._concurrency.workers
            after = self._concurrency.tick(self._clock(), self._bytes, starved=False)
            if after < before:
                self._owed += before - after
            added = max(0, after - before)
            forgiven = min(self._owed, added)  # a permit still owed is simply not taken back
            self._owed -= forgiven
        if added > forgiven:
            self._semaphore.release(added - forgiven)
