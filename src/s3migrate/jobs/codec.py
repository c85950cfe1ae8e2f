"""Queue message format: the original jobsender's JSON, plus S3 event notifications.

Original job message (keys raw, never URL-encoded)::

    {"Src_bucket", "Src_key", "Des_bucket", "Des_key", "Size", "versionId"}   # versionId "null" when unknown

We add ``Src_etag`` (pins the source) and ``v`` (format version); messages without them are accepted.

S3 event notifications are jobs too, however they arrive: straight from S3 (``{"Records": [...]}``), wrapped by
SNS (``{"Type": "Notification", "Message": "<the S3 event as a string>"}``, S3 -> SNS -> SQS fan-out), or as
EventBridge events (``"detail-type": "Object Created"``). Keys in all three are URL-encoded with ``+`` for a
space. The destination of an event is ``Des_bucket_default``/``Des_prefix_default``; an event that arrives
without one configured cannot be a job (BadMessageError: the worker dead-letters it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote_plus

from s3migrate.errors import BadMessageError
from s3migrate.jobs.job import Job

FORMAT_VERSION = 1
MAX_MESSAGE_BYTES = 256 * 1024  # SQS's limit; anything larger is not one of ours
MAX_KEY_BYTES = 1024  # S3's key length limit


@dataclass(frozen=True)
class DecodedMessage:
    """The jobs in one message; ``ignored`` explains a message that is deliberately not a job."""

    jobs: list[Job] = field(default_factory=list)
    ignored: str | None = None
    sequential: bool = False  # the versions of one history: in order, each only after the one before it


def encode_job(job: Job) -> str:
    body: dict[str, Any] = {
        "Src_bucket": job.src_bucket,
        "Src_key": job.src_key,
        "Des_bucket": job.dst_bucket,
        "Des_key": job.dst_key,
        "Size": job.size,
        "versionId": job.version_id or "null",
        "v": FORMAT_VERSION,
    }
    if job.etag:
        body["Src_etag"] = job.etag
    if job.upload_id is not None:  # a part of a giant object
        body.update(UploadId=job.upload_id, PartNumber=job.part_number, PartSize=job.part_size,
                    PartCount=job.part_count)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def encode_chain(jobs: list[Job]) -> str:
    """One key's versions to copy in order (``--all-versions``): the job fields once, then each version."""
    first = jobs[0]
    body: dict[str, Any] = {
        "Src_bucket": first.src_bucket, "Src_key": first.src_key, "Des_bucket": first.dst_bucket,
        "Des_key": first.dst_key, "v": FORMAT_VERSION,
        "Versions": [{"versionId": j.version_id or "null", "Size": j.size, "Src_etag": j.etag or "",
                      "DeleteMarker": j.delete_marker} for j in jobs],
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _decode_chain(body: dict[str, Any]) -> DecodedMessage:
    versions = body["Versions"]
    if not isinstance(versions, list) or not versions:
        raise BadMessageError("field 'Versions' is not a list of versions")
    src_bucket, dst_bucket = _text(body, "Src_bucket"), _text(body, "Des_bucket")
    src_key, dst_key = _key(_text(body, "Src_key"), "Src_key"), _key(_text(body, "Des_key"), "Des_key")
    jobs = []
    for item in versions:
        if not isinstance(item, dict):
            raise BadMessageError("a version in 'Versions' is not an object")
        etag = item.get("Src_etag")
        jobs.append(Job(src_bucket, src_key, dst_bucket, dst_key, _size(item.get("Size")),
                        version_id=_text(item, "versionId"),  # "null" names the version written before versioning
                        etag=etag if isinstance(etag, str) and etag else None, history=True,
                        delete_marker=item.get("DeleteMarker") is True))
    return DecodedMessage(jobs=jobs, sequential=True)


def original_destination_key(des_prefix: str, src_key: str, *, posix: bool = False) -> str:
    """The original layout: ``des_prefix/`` + the whole source key (the key alone when no prefix), verbatim.

    ``posix``: the original's own rule, ``PurePosixPath(des_prefix) / src_key`` (a trailing ``/`` kept), which
    collapses ``//`` and drops ``.`` path segments, so ``a//b`` and ``./a`` land as ``a/b`` and ``a``. s3migrate
    keeps keys verbatim unless asked (``original_key_mapping``), for fleets whose earlier copies must match."""
    if posix:
        return posix_key(des_prefix, src_key)
    return f"{des_prefix}/{src_key}" if des_prefix else src_key


def posix_key(prefix: str, key: str) -> str:
    """``str(PurePosixPath(prefix) / key)``, with the trailing slash of a folder key kept (as the original did)."""
    joined = str(PurePosixPath(prefix) / key) if key else prefix
    if joined == ".":
        joined = ""
    return joined + "/" if key.endswith("/") and not joined.endswith("/") else joined


def _text(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        raise BadMessageError(f"field {name!r} missing or not a string")
    return value


def _key(value: str, name: str) -> str:
    if len(value.encode("utf-8")) > MAX_KEY_BYTES:
        raise BadMessageError(f"field {name!r} is longer than S3's 1024-byte key limit")
    return value


def _size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadMessageError("field 'Size' missing or not a number")
    try:
        size = int(value)
    except ValueError:
        raise BadMessageError(f"field 'Size' is not a number: {value!r}") from None
    if size < 0 or size > 5 * 1024**4:
        raise BadMessageError(f"field 'Size' out of range: {size}")
    return size


def _version(value: Any) -> str | None:
    if value in (None, "", "null"):
        return None
    if not isinstance(value, str):
        raise BadMessageError("field 'versionId' is not a string")
    return value


def _part_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The part of a giant object a message names, if it names one."""
    if "UploadId" not in body:
        return {}
    numbers = [body.get(name) for name in ("PartNumber", "PartSize", "PartCount")]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
        raise BadMessageError("a part message needs whole numbers PartNumber, PartSize and PartCount")
    return {"upload_id": _text(body, "UploadId"), "part_number": numbers[0], "part_size": numbers[1],
            "part_count": numbers[2]}


def _decode_job(body: dict[str, Any]) -> Job:
    etag = body.get("Src_etag")
    return Job(
        src_bucket=_text(body, "Src_bucket"),
        src_key=_key(_text(body, "Src_key"), "Src_key"),
        dst_bucket=_text(body, "Des_bucket"),
        dst_key=_key(_text(body, "Des_key"), "Des_key"),
        size=_size(body.get("Size")),
        version_id=_version(body.get("versionId")),
        etag=etag if isinstance(etag, str) and etag else None,
        **_part_fields(body),
    )


def _decode_event(records: Any, default_destination: tuple[str, str] | None, posix: bool) -> DecodedMessage:
    if not isinstance(records, list):
        raise BadMessageError("'Records' is not a list")
    jobs: list[Job] = []
    for record in records:
        if not isinstance(record, dict):
            raise BadMessageError("an event record is not an object")
        event_name = str(record.get("eventName", "ObjectCreated:"))
        if not event_name.startswith("ObjectCreated:"):
            continue
        s3 = record.get("s3")
        if not isinstance(s3, dict) or not isinstance(s3.get("bucket"), dict) or not isinstance(
            s3.get("object"), dict
        ):
            raise BadMessageError("an event record has no s3.bucket/s3.object")
        if default_destination is None:
            raise BadMessageError("S3 event received but no Des_bucket_default is configured")
        obj = s3["object"]
        src_bucket = _text(s3["bucket"], "name")
        src_key = _key(unquote_plus(_text(obj, "key")), "key")
        des_bucket, des_prefix = default_destination
        etag = obj.get("eTag")
        jobs.append(
            Job(
                src_bucket=src_bucket,
                src_key=src_key,
                dst_bucket=des_bucket,
                dst_key=_key(original_destination_key(des_prefix, src_key, posix=posix), "key"),
                size=_size(obj.get("size", 0)),
                version_id=_version(obj.get("versionId")),
                etag=f'"{etag}"' if isinstance(etag, str) and etag and not etag.startswith('"') else etag,
            )
        )
    if not jobs:
        return DecodedMessage(ignored="event without ObjectCreated records")
    return DecodedMessage(jobs=jobs)


def decode_message(
    body: str, default_destination: tuple[str, str] | None = None, *, posix_keys: bool = False
) -> DecodedMessage:
    """Decode a queue message body into jobs; raise BadMessageError for anything unreadable. ``posix_keys``:
    S3 events get the original's destination keys (see :func:`original_destination_key`)."""
    if len(body.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise BadMessageError("message larger than 256 KiB")
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadMessageError(f"message is not JSON: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    if not isinstance(data, dict):
        raise BadMessageError("message is not a JSON object")
    if data.get("Type") == "Notification" and isinstance(data.get("Message"), str):  # S3 -> SNS -> SQS
        try:
            data = json.loads(data["Message"])
        except json.JSONDecodeError as exc:
            raise BadMessageError(f"SNS notification whose Message is not JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise BadMessageError("SNS notification whose Message is not a JSON object")
    if data.get("Event") == "s3:TestEvent":
        return DecodedMessage(ignored="s3:TestEvent")
    if "Records" in data:
        return _decode_event(data["Records"], default_destination, posix_keys)
    if "detail-type" in data and "detail" in data:
        return _decode_eventbridge(data, default_destination, posix_keys)
    if "Versions" in data:
        return _decode_chain(data)
    return DecodedMessage(jobs=[_decode_job(data)])


def _decode_eventbridge(
    data: dict[str, Any], default_destination: tuple[str, str] | None, posix: bool
) -> DecodedMessage:
    """An S3 event delivered by EventBridge: one object per event, its fields under ``detail``."""
    if data.get("detail-type") != "Object Created":
        return DecodedMessage(ignored=f"EventBridge event {data.get('detail-type')!r}")
    detail = data["detail"]
    if not isinstance(detail, dict) or not isinstance(detail.get("bucket"), dict) or not isinstance(
        detail.get("object"), dict
    ):
        raise BadMessageError("an EventBridge S3 event has no detail.bucket/detail.object")
    obj = detail["object"]
    record = {"s3": {"bucket": detail["bucket"], "object": {
        "key": obj.get("key"), "size": obj.get("size", 0), "eTag": obj.get("etag"),
        "versionId": obj.get("version-id")}}}
    return _decode_event([record], default_destination, posix)
