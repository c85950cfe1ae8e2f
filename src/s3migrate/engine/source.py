"""Reading the source: pinned to the version or ETag seen when the job started."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from s3migrate.endpoints.failures import (
    error_code,
    http_status,
    is_service_error,
    names_access_denied,
    translate_transfer_error,
)
from s3migrate.errors import Disposition, SourceChangedError, TransferError
from s3migrate.jobs.job import Job

# Headers that describe the object, copied to the destination like CopyObject would.
_CARRIED = ("ContentType", "ContentEncoding", "ContentDisposition", "ContentLanguage", "CacheControl",
            "WebsiteRedirectLocation")


@dataclass(frozen=True)
class SourcePin:
    """How every read of one job names the source: by version, else by If-Match on the ETag."""

    etag: str | None
    version_id: str | None

    def get_args(self) -> dict[str, str]:
        if self.version_id:
            return {"VersionId": self.version_id}
        if self.etag:
            return {"IfMatch": self.etag}
        return {}


@dataclass(frozen=True)
class SourceObject:
    size: int
    pin: SourcePin
    attributes: dict[str, Any] = field(default_factory=dict)  # passed on to PutObject/CreateMultipartUpload
    version_id: str | None = None  # what the source reported, whether or not reads are pinned by it
    checksum_algorithm: str | None = None  # the source's additional checksum algorithm (CRC32, ...)
    tag_count: int = 0  # how many tags the source has (x-amz-tagging-count)
    last_modified: Any = None  # as the HEAD gave it (a local destination makes it the file's mtime)


# Object Lock state, as GET and HEAD show it (to callers allowed s3:GetObjectRetention/GetObjectLegalHold); written
# only with --copy-object-lock (TransferOptions.written).
LOCK_FIELDS = ("ObjectLockMode", "ObjectLockRetainUntilDate", "ObjectLockLegalHoldStatus")


def carried_attributes(response: dict[str, Any]) -> dict[str, Any]:
    """Content headers, user metadata and Object Lock state of a GET/HEAD response, as PutObject arguments."""
    out = {name: response[name] for name in (*_CARRIED, *LOCK_FIELDS) if response.get(name)}
    if response.get("Metadata"):
        out["Metadata"] = dict(response["Metadata"])
    return out


def head_source(client: Any, job: Job) -> SourceObject:
    """HEAD the source under the job's pin and return what the copy must use."""
    pin = SourcePin(job.etag, job.version_id)
    try:
        head = client.head_object(Bucket=job.src_bucket, Key=job.src_key, ChecksumMode="ENABLED", **pin.get_args())
    except Exception as exc:
        raise source_error(exc, "source HEAD", pin) from None
    etag = head.get("ETag")
    if job.etag and etag and etag != job.etag:
        raise SourceChangedError(f"source ETag is {etag}, the job expected {job.etag}")
    return SourceObject(
        size=int(head["ContentLength"]),
        pin=SourcePin(etag, job.version_id or None),
        attributes=carried_attributes(head),
        version_id=None if head.get("VersionId") in (None, "null") else str(head["VersionId"]),
        checksum_algorithm=checksum_algorithm(head),
        tag_count=int(head.get("TagCount") or 0),
        last_modified=head.get("LastModified"),
    )


def source_tagging(client: Any, job: Job, pin: SourcePin, tag_count: int) -> dict[str, str]:
    """The source's tags as a PutObject/CreateMultipartUpload ``Tagging`` argument. GET and HEAD only say how
    many there are, so an object that has some costs one GetObjectTagging; one without costs nothing."""
    if tag_count <= 0:
        return {}
    args: dict[str, Any] = {"Bucket": job.src_bucket, "Key": job.src_key}
    if pin.version_id:
        args["VersionId"] = pin.version_id
    try:
        tag_set = client.get_object_tagging(**args).get("TagSet", [])
    except Exception as exc:
        if names_access_denied(exc):
            raise _needs(translate_transfer_error(exc, "source tags"),
                         "reading tags needs s3:GetObjectTagging; --no-copy-tags copies without them") from None
        raise source_error(exc, "source tags", pin) from None
    if not tag_set:
        return {}
    return {"Tagging": urlencode([(str(tag["Key"]), str(tag["Value"])) for tag in tag_set], quote_via=quote)}


def _needs(error: TransferError, what_to_do: str) -> TransferError:
    """A refusal no retry will change, with the permission or switch that would."""
    return TransferError(f"{error} - {what_to_do}", Disposition.FATAL)


def write_error(exc: BaseException, what: str, args: dict[str, Any]) -> TransferError:
    """Translate a failed destination write; a refused write that carried tags says which permission it needs,
    since the same credentials write untagged objects."""
    error = translate_transfer_error(exc, what)
    if args.get("Tagging") and names_access_denied(exc):
        return _needs(error, "writing tags needs s3:PutObjectTagging; --no-copy-tags copies without them")
    if any(args.get(name) for name in LOCK_FIELDS) and error_code(exc) in ("InvalidRequest", "InvalidArgument"):
        return _needs(error, "--copy-object-lock keeps the source's retention only in a destination bucket with "
                             "Object Lock enabled")
    return error


def source_error(exc: BaseException, what: str, pin: SourcePin) -> TransferError:
    """Translate, and say what to do when reading a specific version is what failed."""
    error = translate_transfer_error(exc, what)
    if pin.version_id and is_service_error(exc):
        code, status = error_code(exc), http_status(exc)
        if names_access_denied(exc):
            return _needs(error, f"reading version {pin.version_id} needs s3:GetObjectVersion; if this bucket "
                                 "allows GetObject only, turn GetObjectWithVersionId (and UpdateVersionId) off")
        if code in ("NoSuchVersion", "404", "NotFound", "InvalidArgument") or status == 404:
            return TransferError(f"version {pin.version_id} of the source no longer exists ({error})",
                                 Disposition.FATAL)
    return error


CHECKSUM_FIELDS = ("ChecksumCRC64NVME", "ChecksumCRC32C", "ChecksumCRC32", "ChecksumSHA256", "ChecksumSHA1")


def full_object_checksum(response: dict[str, Any]) -> dict[str, str]:
    """The source's full-object additional checksum (as a PutObject argument), if it has one.

    Passed to the destination's PUT, it makes the destination check our bytes against the *source's*
    checksum: end to end, beyond the MD5 of what we read. Composite (per-part) checksums do not apply."""
    if response.get("ChecksumType") not in (None, "FULL_OBJECT"):
        return {}
    for name in CHECKSUM_FIELDS:
        value = response.get(name)
        if isinstance(value, str) and value and "-" not in value:
            return {name: value}
    return {}


def checksum_algorithm(response: dict[str, Any]) -> str | None:
    """The additional checksum algorithm a source object carries (CRC32, CRC32C, ...), if any."""
    for name in CHECKSUM_FIELDS:
        if response.get(name):
            return name[len("Checksum"):]
    return None


def check_source_etag(response: dict[str, Any], pin: SourcePin) -> None:
    """A read pinned by ETag must have got that ETag (a server that ignores If-Match would not say so)."""
    if pin.etag and response.get("ETag") and response["ETag"] != pin.etag and not pin.version_id:
        raise SourceChangedError(f"source ETag changed to {response['ETag']}")


def read_range(
    client: Any, job: Job, pin: SourcePin, byte_range: str | None, expected: int | None,
    *, with_checksum: bool = False,
) -> tuple[bytes, dict[str, Any]]:
    """GET the whole object or one range, under the pin; check that exactly ``expected`` bytes came
    (botocore itself checks a body against its Content-Length)."""
    args: dict[str, Any] = {"Bucket": job.src_bucket, "Key": job.src_key, **pin.get_args()}
    if byte_range:
        args["Range"] = byte_range
    if with_checksum:
        args["ChecksumMode"] = "ENABLED"
    try:
        response = client.get_object(**args)
        data: bytes = response["Body"].read()
    except Exception as exc:
        raise source_error(exc, "source GET", pin) from None
    check_source_etag(response, pin)
    if expected is not None and len(data) != expected:
        raise TransferError(f"source GET answered {len(data)} bytes where {expected} were expected; not written")
    return data, response
