"""Streaming listings of one side, with a check that S3 really returned keys in sorted order."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from s3migrate.errors import EndpointError, translate_endpoint_error


@dataclass(frozen=True)
class ListedObject:
    """One listed object; ``key`` is relative to the listed prefix."""

    key: str
    size: int
    etag: str | None = None
    version_id: str | None = None
    storage_class: str | None = None


class UnsortedListingError(EndpointError):
    """The service returned keys out of order, so a merge-join cannot be used."""


def list_objects(client: Any, bucket: str, prefix: str, cut: int, where: str) -> Iterator[ListedObject]:
    """Every object under ``prefix`` in listing order, the first ``cut`` characters of each key removed."""
    paginator = client.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": 1000}):
            for item in page.get("Contents", ()):
                yield ListedObject(
                    key=item["Key"][cut:],
                    size=int(item["Size"]),
                    etag=item.get("ETag"),
                    storage_class=item.get("StorageClass"),
                )
    except EndpointError:
        raise
    except Exception as exc:
        raise translate_endpoint_error(exc, where) from None


def checked_sorted(objects: Iterator[ListedObject], where: str) -> Iterator[ListedObject]:
    """Pass objects through, raising UnsortedListingError at the first key out of order.
    (Python compares str by code point, which is the UTF-8 byte order S3 lists in.)"""
    previous: str | None = None
    for obj in objects:
        if previous is not None and obj.key <= previous:
            raise UnsortedListingError(f"{where}: listing is not in key order ({previous!r} then {obj.key!r})")
        previous = obj.key
        yield obj


def list_latest_versions(client: Any, bucket: str, prefix: str, cut: int, where: str) -> Iterator[ListedObject]:
    """The latest version of every object under ``prefix`` (ListObjectVersions); deleted keys are skipped.

    Slower than ListObjectsV2 and needs ListBucketVersions, which is why it is only used when asked for."""
    paginator = client.get_paginator("list_object_versions")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Versions", ()):
                if not item.get("IsLatest"):
                    continue
                version = item.get("VersionId")
                yield ListedObject(
                    key=item["Key"][cut:],
                    size=int(item["Size"]),
                    etag=item.get("ETag"),
                    version_id=None if version in (None, "null") else str(version),
                    storage_class=item.get("StorageClass"),
                )
    except EndpointError:
        raise
    except Exception as exc:
        raise translate_endpoint_error(exc, where) from None
