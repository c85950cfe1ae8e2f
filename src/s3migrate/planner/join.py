"""Pair every source object with its destination counterpart.

Normally a streaming merge-join of two sorted listings: memory does not grow with the number of keys.
If either side turns out not to be sorted (some S3-compatible services), the rest of the source is looked
up in a destination index spilled to a temporary SQLite file. Pairs already produced stay valid: an exact
key match is a real match, and a key reported missing at worst causes a redundant copy.
"""

from __future__ import annotations

import logging
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from s3migrate.planner.listing import K, ListedObject, UnsortedListingError, checked_sorted

log = logging.getLogger(__name__)

Pair = tuple[ListedObject, ListedObject | None]


def join(
    src_listing: Callable[[], Iterator[ListedObject]],
    dst_listing: Callable[[], Iterator[ListedObject]],
) -> Iterator[Pair]:
    src_iter = iter(src_listing())
    dst_iter = checked_sorted(dst_listing(), "destination")
    previous: str | None = None
    pending: ListedObject | None = None
    dst = next(dst_iter, None)  # the first key cannot be out of order
    for src in src_iter:
        if previous is not None and src.key <= previous:
            pending = src
            break
        previous = src.key
        try:
            while dst is not None and dst.key < src.key:
                dst = next(dst_iter, None)
        except UnsortedListingError:
            pending = src
            break
        yield src, (dst if dst is not None and dst.key == src.key else None)
    else:
        return
    log.warning("a listing is not in key order; continuing with a destination index on disk")
    yield from _lookup_join(src_iter, pending, dst_listing)


def _lookup_join(
    src_iter: Iterator[ListedObject],
    first: ListedObject | None,
    dst_listing: Callable[[], Iterator[ListedObject]],
) -> Iterator[Pair]:
    with tempfile.TemporaryDirectory(prefix="s3migrate-index-") as tmp:
        conn = sqlite3.connect(str(Path(tmp) / "index.db"))
        try:
            conn.execute("CREATE TABLE dst (key TEXT PRIMARY KEY, size INTEGER, etag TEXT, modified TEXT)")
            batch: list[tuple[str, int, str | None, str | None]] = []
            for obj in dst_listing():
                batch.append((obj.key, obj.size, obj.etag, obj.last_modified))
                if len(batch) >= 5000:
                    conn.executemany("INSERT OR REPLACE INTO dst VALUES (?, ?, ?, ?)", batch)
                    batch.clear()
            conn.executemany("INSERT OR REPLACE INTO dst VALUES (?, ?, ?, ?)", batch)
            conn.commit()

            def lookup(src: ListedObject) -> Pair:
                row = conn.execute("SELECT size, etag, modified FROM dst WHERE key = ?", (src.key,)).fetchone()
                return src, (ListedObject(src.key, row[0], row[1], last_modified=row[2]) if row else None)

            if first is not None:
                yield lookup(first)
            for src in src_iter:
                yield lookup(src)
        finally:
            conn.close()


def outer_join(src: Iterator[K], dst: Iterator[K]) -> Iterator[tuple[K | None, K | None]]:
    """Every key of either side once, paired (a merge of two sorted listings, of objects or of version
    histories; an unsorted listing is an error here, since a verdict must never rest on a guess)."""
    s_iter, d_iter = checked_sorted(src, "source"), checked_sorted(dst, "destination")
    s, d = next(s_iter, None), next(d_iter, None)
    while s is not None or d is not None:
        if d is None or (s is not None and s.key < d.key):
            yield s, None
            s = next(s_iter, None)
        elif s is None or d.key < s.key:
            yield None, d
            d = next(d_iter, None)
        else:
            yield s, d
            s, d = next(s_iter, None), next(d_iter, None)
