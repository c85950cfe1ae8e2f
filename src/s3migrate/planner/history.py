"""``--all-versions``: every version of every key, oldest first, so a versioned destination holds the same history.

Each key's versions (ListObjectVersions: objects and delete markers, in the order they were made) are compared
with the destination's. The destination's history must be the beginning of the source's; the versions after it
are sent as one chain (one message), which a worker copies in order, one after the other, a delete marker
becoming a delete marker. Each copied version carries the source version it came from in its metadata
(``s3migrate-source-version-id``), so a later run (or verify) can pair versions whose ETags cannot be compared
(another part size, SSE-KMS), from any machine, with no ledger. A history that differs from the source's is
left as it is and reported by name: nothing is deleted or rewritten in a destination's history.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from s3migrate.endpoints.failures import translate_endpoint_error
from s3migrate.errors import ConfigError, EndpointError
from s3migrate.jobs.job import SOURCE_VERSION_METADATA, Job
from s3migrate.planner.join import outer_join
from s3migrate.planner.listing import ListedObject
from s3migrate.planner.mapping import KeyMapping

MAX_CHAIN = 500  # versions in one message (a message must stay under SQS's 256 KiB); the next run sends the rest


@dataclass(frozen=True)
class Version:
    version_id: str  # "null" for an object written before versioning was enabled
    size: int
    etag: str | None
    delete_marker: bool
    last_modified: datetime.datetime | None


@dataclass(frozen=True)
class History:
    """Every version of one key, oldest first; ``key`` relative to the listed prefix."""

    key: str
    versions: tuple[Version, ...]

    def as_listed(self) -> ListedObject:
        latest = self.versions[-1]
        return ListedObject(self.key, latest.size, latest.etag, latest.version_id)


def list_histories(client: Any, bucket: str, prefix: str, cut: int, where: str) -> Iterator[History]:
    """Each key's history under ``prefix``, in key order. S3 lists a key's versions newest first, objects and
    delete markers apart; a key's versions may span pages."""
    current: str | None = None
    versions: list[tuple[datetime.datetime | None, int, Version]] = []
    position = 0
    try:
        for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            for item, marker in _in_document_order(page):
                key = str(item["Key"])[cut:]
                if key != current:
                    if current is not None:
                        yield _history(current, versions)
                    current, versions = key, []
                position += 1
                version = Version(str(item.get("VersionId") or "null"), int(item.get("Size") or 0),
                                  item.get("ETag"), marker, item.get("LastModified"))
                versions.append((item.get("LastModified"), -position, version))
        if current is not None:
            yield _history(current, versions)
    except EndpointError:
        raise
    except Exception as exc:
        raise translate_endpoint_error(exc, where) from None


def _in_document_order(page: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
    """A page's versions and delete markers as the service listed them (by key, newest first), from the order
    the S3 client kept (endpoints.client); without it, by key, objects before markers."""
    entries = [(item, False) for item in page.get("Versions", ())]
    entries += [(item, True) for item in page.get("DeleteMarkers", ())]
    order = {(key, version, marker): index for index, (key, version, marker) in enumerate(page.get("VersionOrder", ()))}
    entries.sort(key=lambda entry: (str(entry[0]["Key"]), order.get(
        (str(entry[0]["Key"]), str(entry[0].get("VersionId") or "null"), entry[1]), 0)))
    return entries


def _history(key: str, versions: list[tuple[datetime.datetime | None, int, Version]]) -> History:
    """Oldest first: by LastModified, and for equal times by listing order reversed (S3 lists newest first)."""
    epoch = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    ordered = sorted(versions, key=lambda v: (v[0] or epoch, v[1]))
    return History(key, tuple(v[2] for v in ordered))


def same_version(dst_client: Any, dst_bucket: str, dst_key: str, src: Version, dst: Version) -> bool:
    """Whether ``dst`` is the copy of ``src``: both delete markers; or the same size and either the same plain
    ETag or the source version recorded in the copy's metadata (a HEAD, only when the ETags cannot say)."""
    if src.delete_marker or dst.delete_marker:
        return src.delete_marker and dst.delete_marker
    if src.size != dst.size:
        return False
    if _plain_md5(src.etag) and _plain_md5(src.etag) == _plain_md5(dst.etag):
        return True
    try:
        head = dst_client.head_object(Bucket=dst_bucket, Key=dst_key, VersionId=dst.version_id)
    except Exception:
        return False
    return bool((head.get("Metadata") or {}).get(SOURCE_VERSION_METADATA) == src.version_id)


_MD5_ETAG = re.compile(r'^"?([0-9a-f]{32})"?$')


def _plain_md5(etag: str | None) -> str | None:
    """A single-part ETag's MD5 (an equal one on both sides is the same content); None for anything else."""
    match = _MD5_ETAG.match((etag or "").strip().lower())
    return match.group(1) if match else None


@dataclass(frozen=True)
class HistoryDecision:
    """What a key's history needs: the source versions to copy, in order (empty: the same history), or why it
    is left alone."""

    history: History
    to_copy: tuple[Version, ...]
    diverged: str | None = None


def compare_history(dst_client: Any, mapping: KeyMapping, src: History, dst: History | None) -> HistoryDecision:
    have = dst.versions if dst is not None else ()
    if len(have) > len(src.versions):
        return HistoryDecision(src, (), f"the destination holds {len(have)} versions, the source {len(src.versions)}")
    dst_key = mapping.dst_key(src.key)
    for index, (theirs, ours) in enumerate(zip(src.versions, have, strict=False)):
        if not same_version(dst_client, mapping.dst_bucket, dst_key, theirs, ours):
            return HistoryDecision(src, (), f"the destination's version {index + 1} ({ours.version_id}) is not a "
                                            f"copy of the source's ({theirs.version_id})")
    return HistoryDecision(src, src.versions[len(have):])


def history_pairs(src_client: Any, dst_client: Any, mapping: KeyMapping) -> Iterator[tuple[History | None,
                                                                                          History | None]]:
    """Both sides' histories, paired by key (a merge-join over the two key-ordered listings)."""
    m = mapping
    return outer_join(
        list_histories(src_client, m.src_bucket, m.src_list_prefix, m.src_cut, f"source s3://{m.src_bucket}"),
        list_histories(dst_client, m.dst_bucket, m.dst_list_prefix, m.dst_cut, f"destination s3://{m.dst_bucket}"))


def chain_jobs(mapping: KeyMapping, decision: HistoryDecision) -> list[Job]:
    """The jobs of one chain: each version to copy, pinned, oldest first (at most MAX_CHAIN)."""
    key = decision.history.key
    return [Job(mapping.src_bucket, mapping.src_key(key), mapping.dst_bucket, mapping.dst_key(key), v.size,
                version_id=v.version_id, etag=v.etag, history=True, delete_marker=v.delete_marker)
            for v in decision.to_copy[:MAX_CHAIN]]


def require_versioning(client: Any, bucket: str) -> None:
    """--all-versions writes a history: the destination bucket must keep versions (else every version would
    overwrite the last, and a delete marker would delete)."""
    try:
        status = client.get_bucket_versioning(Bucket=bucket).get("Status")
    except Exception as exc:
        raise translate_endpoint_error(exc, f"destination s3://{bucket}") from None
    if status != "Enabled":
        raise ConfigError(f"--all-versions: versioning is not enabled on the destination bucket {bucket} (it is "
                          f"{status or 'off'}); enable it first, or copy the current versions without --all-versions")
