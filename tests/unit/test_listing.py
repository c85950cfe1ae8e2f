"""Listings: the deep-keyspace fan-out yields exactly a plain listing's keys, in the same order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3migrate.endpoints.lean import ListPage
from s3migrate.endpoints.store import Abilities
from s3migrate.planner.listing import ListedObject, fanout_pages, list_objects, prefetched


class FakeBucket:
    """ListObjectsV2 semantics over an in-memory key set: sorted, paginated, StartAfter, CommonPrefixes with a
    delimiter. The continuation token is the last entry returned."""

    abilities = Abilities(streamed_put=False, ranged_listing=True, server_side_copy=False, versions=False,
                          checksums=False)

    def __init__(self, keys: set[str] | list[str], page_size: int = 3) -> None:
        self.keys, self.page_size, self.calls = sorted(keys), page_size, 0

    def list_objects_page(
        self, bucket: str, prefix: str, token: str | None = None, delimiter: str = "", start_after: str = ""
    ) -> ListPage:
        self.calls += 1
        after = token or start_after
        entries: list[tuple[str, bool]] = []
        for key in self.keys:
            if not key.startswith(prefix):
                continue
            rest = key[len(prefix):]
            if delimiter and delimiter in rest:
                common = prefix + rest[: rest.index(delimiter) + len(delimiter)]
                if common > after and (not entries or entries[-1] != (common, True)):
                    entries.append((common, True))
            elif key > after:
                entries.append((key, False))
        chunk = entries[: self.page_size]
        more = len(entries) > self.page_size
        return ListPage([(k, len(k), None, None, None) for k, is_prefix in chunk if not is_prefix],
                        chunk[-1][0] if more else None, [k for k, is_prefix in chunk if is_prefix])


segment = st.sampled_from(["a", "b", "a.b", "a-", "z", "é", "0", "a b"])
key = st.lists(segment, min_size=1, max_size=4).map("/".join)


@settings(max_examples=200)
@given(keys=st.sets(key, max_size=40), prefix=st.sampled_from(["", "a", "a/", "a/b/"]), width=st.integers(1, 4))
def test_fanout_lists_what_a_plain_listing_lists(keys: set[str], prefix: str, width: int) -> None:
    bucket = FakeBucket(keys)
    listed = [row[0] for page in fanout_pages(bucket, "b", prefix, width) for row in page]
    assert listed == sorted(k for k in keys if k.startswith(prefix))


def test_list_objects_uses_the_fanout_and_cuts_the_prefix() -> None:
    keys = {f"data/{d:02d}/{i:03d}" for d in range(5) for i in range(7)} | {"data/top", "other/x"}
    objects = list(list_objects(FakeBucket(keys, page_size=4), "b", "data/", len("data/"), "source"))
    assert objects[0] == ListedObject(key="00/000", size=len("data/00/000"))
    assert [o.key for o in objects] == sorted(k[len("data/"):] for k in keys if k.startswith("data/"))


def test_prefetch_passes_errors_through_in_order() -> None:
    def source() -> object:
        yield 1
        yield 2
        raise RuntimeError("listing failed")

    seen = []
    with pytest.raises(RuntimeError, match="listing failed"):
        for item in prefetched(source()):  # type: ignore[arg-type]
            seen.append(item)
    assert seen == [1, 2]
