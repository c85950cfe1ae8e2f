"""Giant objects across workers (``send --giant-threshold``): one multipart upload, each part range its own job.

The jobsender creates the upload (``start_upload``) and sends one message per part; any worker, EC2 or Lambda,
uploads any part (``upload_part``: a pinned ranged GET, an UploadPart with Content-MD5) and records it in the
ledger, where a redelivered part counts once. The worker whose part makes the count complete claims the
completion (one at a time, by lease) and completes (``complete``): every part listed at the destination must
have its layout's size and the MD5 the ledger recorded from the bytes read, and the object's ETag must be the MD5
of those MD5s where S3 makes it one. A later ``send`` sends again only the parts the ledger lacks.
"""

from __future__ import annotations

from typing import Any

from s3migrate.endpoints.failures import translate_transfer_error
from s3migrate.engine.digest import content_md5, etag_digest, etag_is_md5, md5_digest, multipart_etag, strip_etag
from s3migrate.engine.options import TransferOptions
from s3migrate.engine.single import check_put_etag
from s3migrate.engine.source import SourcePin, head_source, read_range, source_tagging, write_error
from s3migrate.errors import IntegrityError, TransferError
from s3migrate.jobs.job import Job
from s3migrate.jobs.layout import PartLayout


def start_upload(src: Any, dst: Any, job: Job, options: TransferOptions) -> str:
    """Create the giant object's multipart upload, with what a copy writes (the source's content headers and
    metadata, the options' ACL, encryption, storage class and tags). Returns its UploadId."""
    source = head_source(src, job)
    args: dict[str, Any] = {"Bucket": job.dst_bucket, "Key": job.dst_key,
                            **options.written(source.attributes), **options.write_args}
    if options.storage_class:
        args["StorageClass"] = options.storage_class
    if options.copy_tags:
        args.update(source_tagging(src, job, source.pin, source.tag_count))
    try:
        created = dst.create_multipart_upload(**args)
    except Exception as exc:
        raise write_error(exc, "destination CreateMultipartUpload", args) from None
    return str(created["UploadId"])


def upload_part(src: Any, dst: Any, job: Job) -> tuple[str, int]:
    """Read this job's part of the source (pinned) and upload it; returns (MD5 hex of its bytes, bytes)."""
    assert job.upload_id is not None and job.part_number
    part = PartLayout(job.size, job.part_size).part(job.part_number)
    data, _ = read_range(src, job, SourcePin(job.etag, job.version_id), part.byte_range, part.size)
    digest = md5_digest(data)
    try:
        response = dst.upload_part(Bucket=job.dst_bucket, Key=job.dst_key, UploadId=job.upload_id,
                                   PartNumber=job.part_number, Body=data, ContentMD5=content_md5(digest))
    except Exception as exc:
        raise translate_transfer_error(exc, f"destination UploadPart {job.part_number}") from None
    check_put_etag(response, digest, f"part {job.part_number}")
    return digest.hex(), len(data)


def complete(dst: Any, job: Job, done: dict[int, str]) -> str:
    """Complete the upload from the parts the ledger recorded, each checked at the destination; the ETag."""
    assert job.upload_id is not None
    layout = PartLayout(job.size, job.part_size)
    listed: dict[int, dict[str, Any]] = {}
    try:
        for page in dst.get_paginator("list_parts").paginate(Bucket=job.dst_bucket, Key=job.dst_key,
                                                             UploadId=job.upload_id):
            listed.update({int(p["PartNumber"]): p for p in page.get("Parts", [])})
    except Exception as exc:
        raise translate_transfer_error(exc, "destination ListParts") from None
    parts, matching, differing = [], 0, []
    for number in range(1, layout.count + 1):
        part, recorded = listed.get(number), done.get(number)
        if part is None or recorded is None:
            raise TransferError(f"part {number} is not at the destination; a later send sends it again")
        if not layout.fits(number, int(part["Size"])):
            raise IntegrityError(f"part {number} has {part['Size']} bytes at the destination")
        stored = etag_digest(part.get("ETag"))
        if stored is not None and stored.hex() == recorded:
            matching += 1
        else:
            differing.append(number)
        parts.append({"PartNumber": number, "ETag": part["ETag"]})
    # ListParts does not say whether the upload is encrypted. Part ETags that are MD5s all match what was read;
    # under SSE-KMS or SSE-C none does (each part was checked against its Content-MD5 when it was sent). Some
    # matching and some not is another writer's part.
    if matching and differing:
        raise IntegrityError(f"part {differing[0]} at the destination is not the part that was read")
    try:
        response = dst.complete_multipart_upload(Bucket=job.dst_bucket, Key=job.dst_key, UploadId=job.upload_id,
                                                 MultipartUpload={"Parts": parts})
    except Exception as exc:
        raise translate_transfer_error(exc, "destination CompleteMultipartUpload") from None
    etag = str(response.get("ETag", ""))
    expected = multipart_etag([bytes.fromhex(done[n]) for n in range(1, layout.count + 1)])
    if etag_is_md5(response) and "-" in strip_etag(etag) and strip_etag(etag) != expected:
        raise IntegrityError(f"completed ETag {strip_etag(etag)} != expected {expected}")
    return etag
