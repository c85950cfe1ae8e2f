"""Planning over key ranges: the same pairs as one ordered merge-join, whatever the keys and the cuts."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from s3migrate.endpoints.lean import ListPage
from s3migrate.errors import EndpointError
from s3migrate.planner.listing import ListedObject, UnsortedListingError
from s3migrate.planner.mapping import KeyMapping
from s3migrate.planner.plan import Planner
from s3migrate.planner.ranges import Alphabet, KeyRange, Side, cut_points, parallel_pairs
from tests.unit.test_listing import FakeBucket

text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8)


@settings(max_examples=500)
@given(low=text, high=text)
def test_a_midpoint_lies_strictly_between(low: str, high: str) -> None:
    cuts = cut_points(low, high, 1)
    assert not cuts if low >= high else all(low < cut < high for cut in cuts)


@pytest.mark.parametrize(
    ("low", "high"),
    [("", "\x7f"), ("obj-0001000", "\x7f"), ("obj-0001000", "obj-1"), ("2024/01/", "2024/02/"),
     ("x/é", "x/ö"), ("a", "b"), ("照片/0001", "照片/9"), ("照", "\U0001f600")],
)
def test_realistic_bounds_have_a_midpoint(low: str, high: str) -> None:
    cuts = cut_points(low, high, 1)
    assert len(cuts) == 1 and low < cuts[0] < high


def sides(src: FakeBucket, dst: FakeBucket, prefix: str = "") -> tuple[Side, Side]:
    return (Side(src, "s", prefix, len(prefix), "source", 0), Side(dst, "d", prefix, len(prefix), "destination", 1))


def expected(src_keys: set[str], dst_keys: set[str], prefix: str) -> dict[str, str | None]:
    return {k[len(prefix):]: (k[len(prefix):] if k in dst_keys else None) for k in src_keys if k.startswith(prefix)}


def planned(src: FakeBucket, dst: FakeBucket, width: int, prefix: str = "") -> dict[str, str | None]:
    pairs = parallel_pairs(*sides(src, dst, prefix), width, "")
    assert pairs is not None
    got: dict[str, str | None] = {}
    for s, d in pairs:
        assert s.key not in got, f"{s.key!r} planned twice"
        assert d is None or d.key == s.key
        got[s.key] = d.key if d else None
    return got


key = st.text(alphabet="ab/0z~é\x7f ", min_size=1, max_size=7)


@settings(max_examples=300, deadline=None)
@given(src=st.sets(key, max_size=60), dst=st.sets(key, max_size=60), page=st.integers(1, 4), width=st.integers(1, 5),
       prefix=st.sampled_from(["", "a", "a/"]))
def test_ranges_pair_what_one_merge_join_pairs(src: set[str], dst: set[str], page: int, width: int,
                                                prefix: str) -> None:
    assert planned(FakeBucket(src, page), FakeBucket(dst, page), width, prefix) == expected(src, dst, prefix)


class SlowBucket(FakeBucket):
    """A bucket whose listing takes a round trip, counting requests in flight."""

    def __init__(self, keys: list[str], page_size: int) -> None:
        super().__init__(keys, page_size)
        self.lock, self.in_flight, self.most = threading.Lock(), 0, 0

    def list_objects_page(self, *args: object, **kwargs: object) -> ListPage:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            time.sleep(0.002)
            return super().list_objects_page(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.mark.parametrize("layout", ["flat", "deep"])
def test_a_large_keyspace_is_listed_in_parallel_without_much_waste(layout: str) -> None:
    if layout == "flat":
        keys = [f"data/obj-{i:07d}" for i in range(3000)]
    else:
        keys = [f"data/{i % 7:02d}/{i % 13:02d}/obj-{i:07d}" for i in range(3000)]
    src, dst = SlowBucket(keys, 20), SlowBucket(keys[::3], 20)
    got = planned(src, dst, 8)
    assert got == expected(set(keys), set(keys[::3]), "")
    assert src.most >= 4 and dst.most >= 4  # ranges really ran at once
    sequential = len(keys) // 20
    assert src.calls <= 1.6 * sequential, (src.calls, sequential)  # empty and cut ranges cost little


def test_one_page_per_side_starts_no_thread() -> None:
    src, dst = FakeBucket({"a", "b"}, 10), FakeBucket({"b"}, 10)
    before = threading.active_count()
    assert planned(src, dst, 8) == {"a": None, "b": "b"}
    assert threading.active_count() == before and src.calls == dst.calls == 1


class Unsorted(FakeBucket):
    def list_objects_page(self, *args: object, **kwargs: object) -> ListPage:
        page = super().list_objects_page(*args, **kwargs)  # type: ignore[arg-type]
        return ListPage(page.objects[::-1], page.next_token, page.prefixes)


def test_an_unsorted_first_page_means_no_ranges_and_the_planner_joins_in_order() -> None:
    src, dst = Unsorted({f"k{i}" for i in range(10)}, 4), FakeBucket({"k1", "k5"}, 4)
    assert parallel_pairs(*sides(src, dst), 4, "") is None
    planner = Planner(src, dst, KeyMapping("s", "", 0, "d", "", 0))
    got = {s.key: d.key if d else None for s, d in planner.pairs()}
    assert set(got) == {f"k{i}" for i in range(10)} and got["k5"] in ("k5", None)  # the index join's promise


def test_disorder_after_the_first_page_is_an_error_naming_the_way_out() -> None:
    keys = [f"k{i:03d}" for i in range(100)]
    keys[50], keys[51] = keys[51], keys[50]

    class LateDisorder(FakeBucket):
        def __init__(self) -> None:
            super().__init__(keys, 10)
            self.keys = keys  # not sorted

    with pytest.raises(UnsortedListingError, match="--list-width 1"):
        planned(LateDisorder(), FakeBucket(set(keys), 10), 1)


def test_a_failing_range_stops_the_plan_with_the_endpoint_error() -> None:
    class Failing(FakeBucket):
        def list_objects_page(self, *args: object, **kwargs: object) -> ListPage:
            if self.calls >= 5:
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListObjectsV2")
            return super().list_objects_page(*args, **kwargs)  # type: ignore[arg-type]

    keys = {f"k{i:04d}" for i in range(500)}
    with pytest.raises(EndpointError, match="source"):
        planned(Failing(keys, 10), FakeBucket(keys, 10), 4)
    deadline = time.monotonic() + 5
    while any(t.name.startswith("s3migrate-range") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name.startswith("s3migrate-range") for t in threading.enumerate())


def test_abandoning_the_plan_ends_its_threads() -> None:
    keys = {f"k{i:05d}" for i in range(5000)}
    pairs = parallel_pairs(*sides(FakeBucket(keys, 10), FakeBucket(keys, 10)), 4, "")
    assert pairs is not None
    next(pairs)
    pairs.close()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    while any(t.name.startswith("s3migrate-range") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name.startswith("s3migrate-range") for t in threading.enumerate())


def rows(*keys: str) -> list[ListedObject]:
    return [ListedObject(key, 1) for key in keys]


def test_a_split_gives_away_only_what_is_not_listed() -> None:
    key_range = KeyRange(None, None)
    key_range.advance(0, ["k0000", "k0100"], True)
    assert key_range.split("", 3) == []  # one page is not yet worth a cut
    key_range.advance(1, ["k0050", "k0150"], True)
    uppers = key_range.split("", 3)
    assert 1 <= len(uppers) <= 3 and uppers[-1].high is None
    assert [u.low for u in uppers[1:]] == [u.high for u in uppers[:-1]] and uppers[0].low == key_range.high
    assert key_range.high is not None and key_range.high > "k0150"
    key_range.advance(0, ["z"], False)
    key_range.advance(1, [], False)
    assert key_range.split("", 1) == []  # nothing more known on either side


@settings(max_examples=300)
@given(start=text, top=text, parts=st.integers(1, 8), first=st.none() | text, pages=st.integers(1, 5),
       sample=st.lists(text, max_size=5))
def test_cut_points_increase_strictly_between_the_bounds(start: str, top: str, parts: int, first: str | None,
                                                         pages: int, sample: list[str]) -> None:
    if first is not None and first > start:
        first = None
    alphabet = Alphabet()
    alphabet.add(sample)
    points = cut_points(start, top, parts, first, pages, alphabet)
    assert len(points) <= parts
    assert all(a < b for a, b in zip([start, *points], [*points, top], strict=True)) or not points


def test_decimal_keys_are_cut_in_decimal() -> None:
    alphabet = Alphabet()
    alphabet.add([f"obj-{i:07d}" for i in range(0, 1000, 7)])
    points = cut_points("obj-0000999", "obj-\x7f", 4, first="obj-0000000", alphabet=alphabet)
    assert len(points) == 4 and all(p[4:].isdecimal() for p in points)  # no cuts in the gaps between digits
    assert "obj-0003" <= points[0] < "obj-0006" and points[-1] < "obj-01"  # a few pages, then doubling
