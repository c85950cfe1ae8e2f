"""Validated settings: flags, environment, config file, and the original Longbow INI keys.

Precedence, lowest to highest: defaults, the config file (``--config``), environment variables with the
original names (``MaxThread=20``), command-line flags.

Memory: data in flight is bounded by ``workers x threads x chunk_size`` bytes, and by ``max_memory`` when
that is less (a byte budget taken *before* a part is read, see :mod:`s3migrate.engine.budget`). Parts grow
past ``chunk_size`` only for objects that would otherwise need more than 10,000 parts; such a part is still
admitted alone when it is larger than the whole budget, so the peak is ``max(budget, largest part)`` plus the
interpreter and clients (about 100 MiB).
"""

from __future__ import annotations

import configparser
import datetime
import email.utils
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from s3migrate.errors import ConfigError

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

_UNITS = {
    "": 1, "b": 1,
    "k": KIB, "kb": 1000, "kib": KIB,
    "m": MIB, "mb": 1000**2, "mib": MIB,
    "g": GIB, "gb": 1000**3, "gib": GIB,
    "t": 1024 * GIB, "tb": 1000**4, "tib": 1024 * GIB,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_metadata(value: Any) -> dict[str, str]:
    """User metadata from ``KEY=VALUE`` items (a list, or one string with commas) or a table."""
    if isinstance(value, dict):
        return {str(k).strip().lower(): str(v) for k, v in value.items()}
    items = value.split(",") if isinstance(value, str) else list(value or ())
    out: dict[str, str] = {}
    for item in items:
        key, sep, text = str(item).partition("=")
        if not sep or not key.strip():
            raise ValueError(f"metadata must be KEY=VALUE, not {item!r}")
        out[key.strip().lower()] = text
    return out


def http_date(value: Any) -> str:
    """An Expires value (HTTP date, ISO 8601 or a datetime) as the HTTP date S3 stores."""
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        text = str(value).strip()
        try:
            moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                moment = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError):
                raise ValueError(f"not a date: {value!r} (use 2030-01-01T00:00:00Z or an HTTP date)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return email.utils.format_datetime(moment.astimezone(datetime.UTC), usegmt=True)


def parse_size(text: str | int, *, bare_unit: int = 1) -> int:
    """Parse ``5MiB``, ``64MB``, ``5242880`` into bytes; ``bare_unit`` scales a bare number."""
    if isinstance(text, bool):
        raise ConfigError(f"not a size: {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ConfigError(f"a size cannot be negative: {text}")
        return text * bare_unit
    match = _SIZE_RE.match(str(text))
    if not match:
        raise ConfigError(f"not a size: {text!r} (use e.g. 5MiB, 64MB or 5242880)")
    number, unit = match.groups()
    factor = _UNITS.get(unit.lower())
    if factor is None:
        raise ConfigError(f"unknown size unit {unit!r} in {text!r} (use B, KiB, MiB, GiB, KB, MB, GB)")
    value = float(number) * (factor if unit else bare_unit)
    if value != int(value):
        raise ConfigError(f"a size must be a whole number of bytes: {text!r}")
    return int(value)


def format_size(n: float) -> str:
    """Human size with binary units (``5.0 MiB``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str | float) -> float:
    """``90s``, ``30m``, ``12h``, ``7d``, ``2w`` or a number of seconds."""
    match = _DURATION.match(str(text))
    if not match:
        raise ConfigError(f"not a duration: {text!r} (use e.g. 90s, 30m, 12h, 7d or 2w)")
    number, unit = match.groups()
    return float(number) * _UNIT_SECONDS[(unit or "s").lower()]


def filter_rule(text: str) -> str:
    """A filter rule as the settings keep it: ``- PATTERN`` (exclude) or ``+ PATTERN`` (include)."""
    sign, _, pattern = text.strip().partition(" ")
    if sign not in ("+", "-") or not pattern.strip():
        raise ConfigError(f"not a filter rule: {text!r} (use '- PATTERN' to exclude or '+ PATTERN' to include)")
    return f"{sign} {pattern.strip()}"


def parse_bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on", "y"}:
        return True
    if text in {"0", "false", "no", "off", "n", ""}:
        return False
    raise ConfigError(f"not a true/false value: {value!r}")


CANNED_ACLS = ("private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
               "bucket-owner-read", "bucket-owner-full-control")
SSE_KINDS = ("AES256", "aws:kms", "aws:kms:dsse")
CONTENT_HEADERS = ("content_type", "cache_control", "content_disposition", "content_encoding", "content_language")

STORAGE_CLASSES = frozenset(
    {"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER",
     "DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR", "SNOW", "EXPRESS_ONEZONE"}
)


class Settings(BaseModel):
    """Every tunable of a copy. Field names are ours; ``ORIGINAL_KEYS`` maps the Longbow names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # 64, not 16: with 20 ms added to every answer (bench/run.py --latency 20), 2,000 x 64 KiB took 6.15 s with 64
    # workers and 8.90 s with 16. On 127.0.0.1 without latency the two are within the noise (4.07 s against 3.87 s,
    # medians of 5, 64 using 0.24 s more CPU; another run 4.1 s against 4.9 s), and 8 x 64 MiB and 768 MiB are the
    # same once idle workers stopped polling the queue. Memory does not grow with it: ``max_memory`` caps the data
    # in flight.
    workers: int = Field(64, ge=1, le=1024, description="objects copied in parallel (MaxParallelFile)")
    # Far endpoints need more requests in flight than near ones: workers are added while more of them move more
    # objects per second (adaptive.py), up to this many (default 4 x the default 64; a --workers given is kept as
    # it is unless this is given too). At 50 ms per answer (bench/run.py --latency 50) 2,000 x 64 KiB took 6.65 s
    # with 64 workers and 4.96 s with 128.
    max_workers: int | None = Field(None, ge=1, le=1024, description="workers at most, when more help (ours)")
    threads: int = Field(4, ge=1, le=256, description="parts in parallel within one object (MaxThread)")
    # The same for the parts of one object (adaptive.py, on bytes per second): default 4 x the default 4.
    max_threads: int | None = Field(None, ge=1, le=256, description="parts in parallel at most, when more help")
    # 8 MiB, not the original's 5 MB: on one 768 MiB object (bench/run.py, medians of 3, 4 threads) 5 MiB parts took
    # 8.55 s, 8 MiB 7.50 s, 16 MiB 7.36 s; the destination's CPU per byte falls with fewer parts. 8 MiB keeps most of
    # that gain at half of 16 MiB's memory bound (16 x 4 x 8 MiB = 512 MiB), and is the AWS CLI's part size too.
    chunk_size: int = Field(8 * MIB, ge=5 * MIB, le=5 * GIB, description="part size (ChunkSize)")
    # 64 MiB, not the original's 5 MB: a single-part source up to this size streams in one PUT checked end to
    # end against its own MD5 (no client hashing); 8 x 64 MiB copied 1.2x faster with 2.6x less client CPU than
    # as 13-part uploads (bench/run.py). A failed attempt re-sends at most 64 MiB; set it lower for slow links.
    resumable_threshold: int = Field(
        64 * MIB, ge=0, le=5 * GIB, description="at or under: one GET + one PUT (ResumableThreshold)"
    )
    max_memory: int = Field(
        512 * MIB, ge=5 * MIB, description="object data in flight at most (when under workers x threads x chunk)"
    )
    storage_class: str | None = Field(None, description="destination storage class (StorageClass)")
    max_retries: int = Field(10, ge=0, le=1000, description="attempts per object and per part (MaxRetry)")
    job_timeout: float = Field(3600.0, gt=0, description="seconds one object may run before it yields (JobTimeout)")
    clean_unfinished_upload: bool = Field(False, description="abort unfinished uploads first (CleanUnfinishedUpload)")
    log_level: str = Field("WARNING", description="LoggingLevel")
    ignore_file: Path | None = None
    # filters (planner/filters.py): "- PATTERN" excludes, "+ PATTERN" includes; the last matching rule decides
    filters: tuple[str, ...] = ()
    min_size: int | None = Field(None, ge=0)
    max_size: int | None = Field(None, ge=0)
    min_age: float | None = Field(None, ge=0, description="seconds")
    max_age: float | None = Field(None, ge=0, description="seconds")
    files_from: Path | None = None
    # mirror (sync --delete): remove what the destination holds and the source does not, after every copy succeeded
    delete: bool = False
    max_delete: int | None = Field(None, ge=0, description="delete nothing when more than this many would go")
    state: Path | None = None
    from_profile: str | None = None
    to_profile: str | None = None
    from_endpoint: str | None = None
    to_endpoint: str | None = None
    from_addressing_style: Literal["auto", "path", "virtual"] = "auto"
    to_addressing_style: Literal["auto", "path", "virtual"] = "auto"
    # Access: who pays, who signs, which keys (see endpoints.client.carried_parameters).
    from_request_payer: bool = Field(False, description="every request to the source carries x-amz-request-payer")
    to_request_payer: bool = Field(False, description="every request to the destination carries x-amz-request-payer")
    from_no_sign_request: bool = Field(False, description="read the source with anonymous (unsigned) requests")
    sse_c_key: Path | None = Field(None, description="file with the 256-bit SSE-C key the destination's objects "
                                   "are written with")
    from_sse_c_key: Path | None = Field(None, description="file with the 256-bit SSE-C key of the source's objects")
    # What is written: ACL, encryption, metadata and content headers, on streamed and server-side copies alike.
    acl: str | None = Field(None, description="canned ACL of every write, e.g. bucket-owner-full-control")
    sse: str | None = Field(None, description="server-side encryption of every write: AES256, aws:kms or "
                            "aws:kms:dsse")
    sse_kms_key_id: str | None = Field(None, description="the KMS key of --sse aws:kms / aws:kms:dsse")
    metadata: dict[str, str] = Field(default_factory=dict, description="user metadata added to every object")
    metadata_directive: Literal["COPY", "REPLACE"] = Field(
        "COPY", description="COPY: the source's metadata and content headers, with --metadata and the content "
        "options on top; REPLACE: only what the options give")
    content_type: str | None = None
    cache_control: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None
    expires: str | None = Field(None, description="the Expires header of every object (an HTTP date or ISO 8601)")
    giant_threshold: int = Field(GIB, ge=5 * MIB, description="send: an object over this size becomes one multipart "
                                 "upload whose parts are separate jobs, for any worker")
    giant_part_size: int = Field(64 * MIB, ge=5 * MIB, le=5 * GIB, description="part size of giant objects (grown "
                                 "past 10,000 parts)")
    from_inventory: str | None = Field(None, description="plan from this S3 Inventory manifest.json (s3:// or a "
                                       "path) instead of listing the source")
    to_inventory: str | None = Field(None, description="the destination's S3 Inventory manifest, instead of its "
                                     "listing")
    all_versions: bool = Field(False, description="copy every version of every key, oldest first, delete markers "
                               "included, into a versioned destination")
    bwlimit: int | None = Field(None, gt=0, description="bytes per second this process moves through itself, at "
                                "most (e.g. 50MiB); server-side copies do not count")
    tps_limit: float | None = Field(None, gt=0, description="requests per second to each endpoint, at most")
    max_duration: float | None = Field(None, gt=0, description="stop taking new objects after this long (a "
                                       "maintenance window); the next run continues")
    max_transfer: int | None = Field(None, gt=0, description="stop taking new objects once this many bytes moved")
    copy_object_lock: bool = Field(False, description="write the source's Object Lock retention and legal hold")
    restore_days: int | None = Field(None, ge=1, description="ask S3 to restore archived (GLACIER, DEEP_ARCHIVE) "
                                     "source objects for this many days; a later run copies them")
    restore_tier: Literal["Standard", "Bulk", "Expedited"] = Field("Standard", description="the restore tier")
    from_region: str | None = None
    to_region: str | None = None
    # cluster mode
    job_type: str = Field("PUT", description="PUT: stored credentials write the destination; GET: read the source")
    queue: str | None = Field(None, description="sqlite:///PATH, sqs://NAME or an SQS URL (sqs_queue_name)")
    ledger: str | None = Field(None, description="sqlite:///PATH or dynamodb://TABLE (table_queue_name)")
    ssm_parameter_bucket: str | None = None
    ssm_parameter_credentials: str | None = None
    ssm_parameter_ignore_list: str | None = None
    des_bucket_default: str | None = None
    des_prefix_default: str = ""
    # versioning (the original's switches)
    jobsender_compare_version_id: bool = Field(
        False, description="send: list source versions and compare with the versionId in the ledger"
    )
    get_object_with_version_id: bool = Field(False, description="every GET names the job's versionId")
    update_version_id: bool = Field(False, description="read and record the source versionId before a job starts")
    verify_md5_twice: bool = Field(False, description="re-read and check parts sent by an earlier attempt")
    server_side_copy: bool = Field(True, description="CopyObject inside S3 when the destination can read the source")
    copy_tags: bool = Field(True, description="copy each object's tags (one GetObjectTagging per tagged object)")
    original_key_mapping: bool = Field(
        False, description="bucket pairs and S3 events map keys as the original did (PurePosixPath: '//' "
        "collapsed, '.' segments dropped) instead of verbatim")
    check_source_etag: bool = Field(
        True, description="the bytes of a single-part source must have the MD5 its ETag names (off only for a "
        "service whose unencrypted ETags are not MD5s)")
    compare: Literal["size", "newer"] | None = Field(
        None, description="size: copy what is missing or of another size (the original's rule); newer: also "
        "what was modified at the source after its destination copy was written (aws s3 sync's rule). Default: "
        "size between buckets, newer when a side is a local folder (a file edited in place keeps its size)")
    follow_symlinks: bool = Field(
        True, description="a local source's symbolic links are read as the files and folders they point to "
        "(as aws s3 sync does); off: they are left out, each reported as skipped")
    # Server-side copies: one CopyObject up to the cutoff (S3's limit is 5 GiB; one request was 1.5x faster than
    # 64 MiB UploadPartCopy parts on a 768 MiB object, as rclone's --s3-copy-cutoff also assumes), resumable
    # UploadPartCopy parts above it. A part costs no memory here, so the parts are bigger than streamed ones.
    copy_cutoff: int = Field(
        5 * GIB, ge=5 * MIB, le=5 * GIB, description="server-side copies over this size use UploadPartCopy"
    )
    copy_part_size: int = Field(
        64 * MIB, ge=5 * MIB, le=5 * GIB, description="part size of server-side multipart copies (UploadPartCopy)"
    )
    list_width: int = Field(8, ge=1, le=64, description="key ranges listed and compared at once when planning")

    @field_validator("job_type")
    @classmethod
    def _job_type(cls, value: str) -> str:
        upper = value.strip().upper()
        if upper not in {"PUT", "GET"}:
            raise ValueError(f"JobType must be PUT or GET, not {value!r}")
        return upper

    @field_validator("des_prefix_default")
    @classmethod
    def _des_prefix(cls, value: str) -> str:
        return (value or "").strip("/")

    @field_validator("storage_class")
    @classmethod
    def _storage_class(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        upper = value.strip().upper()
        if upper not in STORAGE_CLASSES:
            raise ValueError(f"unknown storage class {value!r} (one of {', '.join(sorted(STORAGE_CLASSES))})")
        return upper

    @field_validator("compare", mode="before")
    @classmethod
    def _compare(cls, value: Any) -> str | None:
        return None if value is None else _one_of(value, ("size", "newer"))

    @field_validator("acl", mode="before")
    @classmethod
    def _acl(cls, value: Any) -> str | None:
        return None if value is None else _one_of(value, CANNED_ACLS)

    @field_validator("sse", mode="before")
    @classmethod
    def _sse(cls, value: Any) -> str | None:
        if value is None:
            return None
        text = str(value).strip()
        for kind in SSE_KINDS:
            if text.lower() == kind.lower():
                return kind
        raise ValueError(f"must be AES256, aws:kms or aws:kms:dsse, not {value!r}")

    @field_validator("restore_tier", mode="before")
    @classmethod
    def _tier(cls, value: Any) -> str:
        return str(value).strip().capitalize()

    @field_validator("metadata_directive", mode="before")
    @classmethod
    def _directive(cls, value: Any) -> str:
        return str(value).strip().upper()

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata(cls, value: Any) -> dict[str, str]:
        return parse_metadata(value)

    @field_validator("expires", mode="before")
    @classmethod
    def _expires(cls, value: Any) -> str | None:
        return None if value is None else http_date(value)

    @model_validator(mode="after")
    def _encryption_is_coherent(self) -> Settings:
        if self.sse_kms_key_id and self.sse not in ("aws:kms", "aws:kms:dsse"):
            raise ValueError("--sse-kms-key-id (sse_kms_key_id) needs --sse aws:kms or aws:kms:dsse")
        if self.sse and self.sse_c_key:
            raise ValueError("--sse and --sse-c-key are two encryptions of the destination: give one")
        return self

    @field_validator("from_addressing_style", "to_addressing_style", mode="before")
    @classmethod
    def _addressing_style(cls, value: Any) -> str:
        return _one_of(value, ("auto", "path", "virtual"))

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        upper = value.strip().upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return upper

    @field_validator("from_endpoint", "to_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"an endpoint must be an http:// or https:// URL, not {value!r}")
        return value.rstrip("/")

    @property
    def worker_ceiling(self) -> int:
        """The most workers a process runs: ``max_workers``; without it, ``workers`` when that was given (a number
        asked for is kept), else four times the default (at most 1024)."""
        return _ceiling(self.workers, self.max_workers, "workers" in self.model_fields_set, 1024)

    @property
    def thread_ceiling(self) -> int:
        """The most parts of one object in flight, by the same rule (at most 64)."""
        return _ceiling(self.threads, self.max_threads, "threads" in self.model_fields_set, 64)

    @property
    def memory_budget(self) -> int:
        """Bytes of object data allowed in flight at once: workers x threads x chunk size, at most max_memory."""
        return min(self.workers * self.threads * self.chunk_size, self.max_memory)


def _ceiling(start: int, ceiling: int | None, start_given: bool, limit: int) -> int:
    if ceiling is not None:
        return max(start, ceiling)
    return start if start_given else max(start, min(limit, 4 * start))


def _one_of(value: Any, choices: tuple[str, ...]) -> str:
    text = str(value).strip().lower()
    if text not in choices:
        raise ValueError(f"must be {', '.join(choices[:-1])} or {choices[-1]}, not {value!r}")
    return text


_SIZE_FIELDS = {"chunk_size", "resumable_threshold", "copy_cutoff", "copy_part_size", "max_memory", "min_size",
                "max_size", "max_transfer", "bwlimit", "giant_threshold", "giant_part_size"}
_DURATION_FIELDS = {"min_age", "max_age", "max_duration"}
_BOOL_FIELDS = {"clean_unfinished_upload", "jobsender_compare_version_id", "get_object_with_version_id",
                "update_version_id", "verify_md5_twice", "server_side_copy", "copy_tags",
                "check_source_etag", "original_key_mapping", "delete", "follow_symlinks",
                "from_request_payer", "to_request_payer", "from_no_sign_request", "copy_object_lock", "all_versions"}
_INT_FIELDS = {"workers", "max_workers", "threads", "max_threads", "max_retries", "list_width", "max_delete",
               "restore_days"}

# Original Longbow key -> (our field, unit of a bare number for sizes).
ORIGINAL_KEYS: dict[str, str] = {
    "MaxParallelFile": "workers",
    "MaxThread": "threads",
    "ChunkSize": "chunk_size",
    "ResumableThreshold": "resumable_threshold",
    "StorageClass": "storage_class",
    "MaxRetry": "max_retries",
    "JobTimeout": "job_timeout",
    "CleanUnfinishedUpload": "clean_unfinished_upload",
    "LoggingLevel": "log_level",
    "JobType": "job_type",
    "sqs_queue_name": "queue",
    "sqs_queue": "queue",  # the original jobsender Lambda's name for sqs_queue_name
    "table_queue_name": "ledger",
    "ssm_parameter_bucket": "ssm_parameter_bucket",
    "ssm_parameter_credentials": "ssm_parameter_credentials",
    "ssm_parameter_ignore_list": "ssm_parameter_ignore_list",
    "Des_bucket_default": "des_bucket_default",
    "Des_prefix_default": "des_prefix_default",
    "JobsenderCompareVersionId": "jobsender_compare_version_id",
    "GetObjectWithVersionId": "get_object_with_version_id",
    "UpdateVersionId": "update_version_id",
    "ifVerifyMD5Twice": "verify_md5_twice",
}
# Original keys that belong to other commands (cluster, Lambda, versioning); accepted and left to them.
FOREIGN_ORIGINAL_KEYS = frozenset(
    {"src_bucket", "src_prefix", "des_bucket", "des_prefix", "sqs_queue_name_dlq",
     "JobsenderQueueBusy", "DynamoDBCapacity"}
)
# Original keys s3migrate has no use for: said once in a warning (a user may rely on them), never an error.
UNUSED_ORIGINAL_KEYS: dict[str, str] = {
    "LocalProfileMode": "credentials come from --from-profile/--to-profile, the environment or SSM",
    "checkip_url": "s3migrate does not look up its public IP address",
}


def _warn_unused(key: str, source: str) -> None:
    logging.getLogger("s3migrate.config").warning(
        "%s in %s is an original Longbow setting that s3migrate does not use (%s); ignored",
        key, source, UNUSED_ORIGINAL_KEYS[key])


def _normalise(key: str, value: Any, *, source: str) -> tuple[str, Any] | None:
    """Turn one (key, value) from any source into (field, typed value); None for keys to ignore."""
    original = key in ORIGINAL_KEYS
    field = ORIGINAL_KEYS.get(key) or key.strip().lower().replace("-", "_")
    if field not in Settings.model_fields:
        if key in FOREIGN_ORIGINAL_KEYS:
            return None
        if key in UNUSED_ORIGINAL_KEYS:
            _warn_unused(key, source)
            return None
        raise ConfigError(f"unknown setting {key!r} in {source}")
    if value is None:
        return None
    try:
        if field == "bwlimit" and isinstance(value, str):
            value = value.strip().removesuffix("/s")  # 50MiB/s reads as a rate
        if field == "tps_limit" and isinstance(value, str):
            return field, float(value.strip())
        if field in _SIZE_FIELDS:
            # The original INI gives ChunkSize/ResumableThreshold in MiB.
            return field, parse_size(value, bare_unit=MIB if original else 1)
        if field in _BOOL_FIELDS:
            return field, parse_bool(value)
        if field in _DURATION_FIELDS:
            return field, parse_duration(value)
        if field == "filters":
            rules = [value] if isinstance(value, str) else list(value)
            return field, tuple(filter_rule(str(rule)) for rule in rules)
        if field in _INT_FIELDS and isinstance(value, str):
            return field, int(value.strip())
        if field == "job_timeout" and isinstance(value, str):
            return field, float(value.strip())
    except ValueError as exc:
        raise ConfigError(f"{_as_written(key, value, source)}: not a number") from exc
    except ConfigError as exc:
        raise ConfigError(f"{_as_written(key, value, source)}: {exc}") from exc
    return field, value


def _as_written(key: str, value: Any, source: str) -> str:
    """Where a value came from, as the user wrote it: ``--min-age soon``, ``ChunkSize = 1 in FILE``."""
    if source.startswith("--"):
        return " ".join(f"{source} {item}" for item in value) if isinstance(value, tuple) else f"{source} {value}"
    if source.startswith("environment variable"):
        return f"{source}={value}"
    return f"{key} = {value} in {source}"


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML or INI config file (sections are flattened; original Longbow INI files work as they are)."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
        flat: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, dict):
                flat.update(value)
            else:
                flat[key] = value
        return flat
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep the original key case
    try:
        if not text.lstrip().startswith("["):
            text = "[s3migrate]\n" + text
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise ConfigError(f"{path}: invalid INI: {exc.message.splitlines()[0]}") from exc
    return {key: value for section in parser.sections() for key, value in parser.items(section)}


ENV_PREFIX = "S3MIGRATE_"


def _prefixed_field(key: str) -> str | None:
    """``S3MIGRATE_FROM_ENDPOINT`` -> ``from_endpoint``: every setting without an original name has one."""
    if not key.startswith(ENV_PREFIX):
        return None
    name = key[len(ENV_PREFIX):].lower()
    return name if name in Settings.model_fields else None


def load_settings(
    cli: Mapping[str, Any],
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Merge defaults < config file < environment (original names) < flags into validated Settings.

    A value that does not validate is reported as the user wrote it: ``ChunkSize = 1 in FILE``, ``environment
    variable MaxThread``, ``--chunk-size``, with sizes in units."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    if config_file is not None:
        for key, value in read_config_file(config_file).items():
            item = _normalise(key, value, source=str(config_file))
            if item:
                values[item[0]] = item[1]
                origins[item[0]] = f"{key} = {value} in {config_file}"
    for key, value in (env if env is not None else os.environ).items():
        if key in UNUSED_ORIGINAL_KEYS:
            _warn_unused(key, f"environment variable {key}")
            continue
        name = key if key in ORIGINAL_KEYS else _prefixed_field(key)
        if name:
            item = _normalise(name, value, source=f"environment variable {key}")
            if item:
                values[item[0]] = item[1]
                origins[item[0]] = f"environment variable {key}={value}"
    for key, value in cli.items():
        if value is None:
            continue
        item = _normalise(key, value, source=f"--{key.replace('_', '-')}")
        if item:
            values[item[0]] = item[1]
            origins[item[0]] = _as_written(key, value, f"--{key.replace('_', '-')}")
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first["loc"]:  # a rule across settings
            raise ConfigError(_explain("", first)) from None
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        where = origins.get(field, "--" + field.replace("_", "-"))
        raise ConfigError(f"{where}: {_explain(field, first)}") from None


def _explain(field: str, error: Any) -> str:
    """pydantic's message, with a size bound in units (``at least 5.0 MiB``, not ``5242880``)."""
    message = str(error["msg"]).removeprefix("Value error, ")
    context = error.get("ctx") or {}
    if field in _SIZE_FIELDS:
        for bound, words in (("ge", "at least"), ("gt", "more than"), ("le", "at most"), ("lt", "less than")):
            if bound in context:
                return f"must be {words} {format_size(int(context[bound]))}"
    return message
