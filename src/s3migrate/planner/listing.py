"""Streaming listings of one side, with a check that S3 really returned keys in sorted order."""

from __future__ import annotations

import collections
import heapq
import itertools
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from s3migrate.endpoints.failures import translate_endpoint_error
from s3migrate.errors import EndpointError


@dataclass(frozen=True)
class ListedObject:
    """One listed object; ``key`` is relative to the listed prefix."""

    key: str
    size: int
    etag: str | None = None
    version_id: str | None = None
    storage_class: str | None = None
    last_modified: str | None = None  # as listed (ISO 8601); parsed only by the strategy that compares it


def iso_text(value: Any) -> str | None:
    """botocore's parsed LastModified (a datetime) as the listing's ISO 8601 text."""
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


class UnsortedListingError(EndpointError):
    """The service returned keys out of order, so a merge-join cannot be used."""


T = TypeVar("T")
_DONE = object()
Row = tuple[str, int, str | None, str | None, str | None]  # key, size, ETag, storage class, LastModified
FANOUT_WIDTH = 8  # sub-prefixes listed at once in a deep keyspace


class Prefetch(Generic[T]):
    """Runs ``source`` in a thread from the moment it is made, ``depth`` items ahead of the consumer, so
    listings proceed while earlier pages are compared. Errors surface in order; ``close`` stops it."""

    def __init__(self, source: Iterator[T], depth: int = 4) -> None:
        self._items: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, args=(source,), name="s3migrate-lister", daemon=True)
        self._thread.start()

    def _produce(self, source: Iterator[T]) -> None:
        try:
            for item in source:
                if not offer(self._items, item, self._stop):
                    return
            offer(self._items, _DONE, self._stop)
        except BaseException as exc:  # handed to the consumer
            offer(self._items, exc, self._stop)

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._items.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()


def offer(items: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Queue ``item`` for a consumer unless it has gone (``stop``): a producer thread then ends instead of
    blocking forever on a full queue."""
    while not stop.is_set():
        try:
            items.put(item, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False


def prefetched(source: Iterator[T], depth: int = 4) -> Iterator[T]:
    pages = Prefetch(source, depth)
    try:
        yield from pages
    finally:
        pages.close()


def _pages(client: Any, bucket: str, prefix: str) -> Iterator[list[Row]]:
    """ListObjectsV2 pages, each parsed by the store (``ObjectStore.list_objects_page``)."""
    token: str | None = None
    while True:
        page = client.list_objects_page(bucket, prefix, token)
        yield page.objects
        token = page.next_token
        if not token:
            return


def _level(client: Any, bucket: str, prefix: str) -> Iterator[tuple[str, Row | None]]:
    """One level under ``prefix`` (delimiter "/"), in key order: (key, row) for an object, (prefix, None)
    for a sub-prefix. Within a page S3 sorts objects and prefixes separately; merged they are in order."""
    token: str | None = None
    while True:
        page = client.list_objects_page(bucket, prefix, token, delimiter="/")
        objects = ((row[0], row) for row in page.objects)
        prefixes = ((sub, None) for sub in page.prefixes)
        yield from heapq.merge(objects, prefixes, key=lambda entry: entry[0])
        token = page.next_token
        if not token:
            return


def fanout_pages(client: Any, bucket: str, prefix: str, width: int = FANOUT_WIDTH) -> Iterator[list[Row]]:
    """A deep keyspace listed ``width`` sub-prefixes at a time, in key order.

    The level under ``prefix`` is listed with a delimiter (descending while it is a single sub-prefix); each
    sub-prefix is listed whole, in its own thread, up to ``width`` ahead of the consumer. Every key under a
    sub-prefix sorts between that prefix and the entry after it, so the sub-listings concatenate in order.
    A flat keyspace is one level of objects: the same pages as a plain listing."""
    level = _level(client, bucket, prefix)
    first = next(level, None)
    second = next(level, None)
    while first is not None and first[1] is None and second is None:  # a single sub-prefix: go down
        level = _level(client, bucket, first[0])
        first, second = next(level, None), next(level, None)
    entries = itertools.chain([e for e in (first, second) if e is not None], level)
    ahead: collections.deque[tuple[str, Row | None, Prefetch[list[Row]] | None]] = collections.deque()
    running = 0
    try:
        while True:
            while running < width and len(ahead) < width * 1000:
                entry = next(entries, None)
                if entry is None:
                    break
                name, row = entry
                listing = Prefetch(_pages(client, bucket, name)) if row is None else None
                running += listing is not None
                ahead.append((name, row, listing))
            if not ahead:
                return
            batch: list[Row] = []
            while ahead and ahead[0][2] is None:  # objects of this level, up to the next sub-prefix
                row = ahead.popleft()[1]
                assert row is not None
                batch.append(row)
            if batch:
                yield batch
                continue
            _, _, listing = ahead.popleft()
            assert listing is not None
            try:
                yield from listing
            finally:
                listing.close()
                running -= 1
    finally:
        for _, _, listing in ahead:
            if listing is not None:
                listing.close()


def list_objects(
    client: Any, bucket: str, prefix: str, cut: int, where: str, fanout: int = FANOUT_WIDTH
) -> Iterator[ListedObject]:
    """Every object under ``prefix`` in listing order, the first ``cut`` characters of each key removed.
    With a store that lists ranges and ``fanout`` > 1, deep keyspaces are listed ``fanout`` sub-prefixes at a time."""
    if fanout > 1 and client.abilities.ranged_listing:
        source = fanout_pages(client, bucket, prefix, fanout)
    else:
        source = _pages(client, bucket, prefix)
    try:
        for page in prefetched(source):
            for key, size, etag, storage_class, modified in page:
                yield ListedObject(key[cut:], size, etag, storage_class=storage_class, last_modified=modified)
    except EndpointError:
        raise
    except Exception as exc:
        raise translate_endpoint_error(exc, where) from None


class Keyed(Protocol):
    """Anything listed by key: an object, or a key's version history."""

    @property
    def key(self) -> str: ...


K = TypeVar("K", bound=Keyed)


def checked_sorted(objects: Iterator[K], where: str) -> Iterator[K]:
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
                    last_modified=iso_text(item.get("LastModified")),
                )
    except EndpointError:
        raise
    except Exception as exc:
        raise translate_endpoint_error(exc, where) from None
