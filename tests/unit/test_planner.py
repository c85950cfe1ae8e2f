from collections.abc import Iterator

from hypothesis import given
from hypothesis import strategies as st

from s3migrate.planner.ignore import IgnoreRules
from s3migrate.planner.join import join
from s3migrate.planner.listing import ListedObject
from s3migrate.planner.strategy import Action, SizeOnly


def objs(*items: tuple[str, int]) -> list[ListedObject]:
    return [ListedObject(k, s) for k, s in items]


def pairs(src: list[ListedObject], dst: list[ListedObject]) -> dict[str, int | None]:
    def lister(items: list[ListedObject]) -> "callable[[], Iterator[ListedObject]]":  # type: ignore[valid-type]
        return lambda: iter(items)

    return {s.key: (d.size if d else None) for s, d in join(lister(src), lister(dst))}


def test_merge_join_pairs_by_key() -> None:
    got = pairs(objs(("a", 1), ("b", 2), ("d", 4)), objs(("b", 2), ("c", 3), ("d", 5), ("e", 1)))
    assert got == {"a": None, "b": 2, "d": 5}


def test_unsorted_destination_falls_back_to_an_index() -> None:
    got = pairs(objs(("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5)), objs(("a", 1), ("c", 3), ("b", 9), ("d", 4)))
    assert got["a"] == 1 and got["c"] == 3
    # "b" was passed before the disorder showed: reported missing (a redundant copy), never paired wrongly
    assert got["b"] is None
    # after the disorder is seen, the rest is looked up in the spilled index
    assert got["d"] == 4 and got["e"] is None


def test_unsorted_source_still_finds_every_match() -> None:
    got = pairs(objs(("b", 2), ("a", 1), ("c", 3)), objs(("a", 1), ("b", 2), ("c", 3)))
    assert got["a"] == 1 and got["c"] == 3


keys = st.text(alphabet="ab/é +%", min_size=1, max_size=6)


@given(st.dictionaries(keys, st.integers(0, 3)), st.dictionaries(keys, st.integers(0, 3)), st.booleans())
def test_join_never_pairs_wrong_objects(src: dict[str, int], dst: dict[str, int], shuffle_dst: bool) -> None:
    src_list = objs(*sorted(src.items()))
    dst_items = sorted(dst.items(), reverse=shuffle_dst)
    got = pairs(src_list, objs(*dst_items))
    assert set(got) == set(src)
    for key, size in got.items():
        assert size is None or size == dst[key]
        if not shuffle_dst:
            assert size == dst.get(key)


def test_size_only_strategy() -> None:
    strategy = SizeOnly()
    a = ListedObject("k", 5)
    assert strategy.decide(a, None).action is Action.COPY
    assert strategy.decide(a, ListedObject("k", 6)).action is Action.COPY
    assert "size differs" in strategy.decide(a, ListedObject("k", 6)).reason
    assert strategy.decide(a, ListedObject("k", 5)).action is Action.SKIP


def test_ignore_rules_match_bucket_slash_key() -> None:
    rules = IgnoreRules(["your_src_bucket/exact.mp4", "b/your_*", "*.jpg", "*/readme.md", "# comment", "", "b/x?"])
    assert rules.ignores("your_src_bucket", "exact.mp4")
    assert rules.ignores("b", "your_file/deep")
    assert rules.ignores("any", "deep/dir/pic.jpg")
    assert rules.ignores("any", "dir/readme.md")
    assert rules.ignores("b", "x1") and not rules.ignores("b", "x12")
    assert not rules.ignores("b", "keep.txt")
    assert not IgnoreRules([])


def test_original_pair_mapping_keeps_the_whole_source_key() -> None:
    from s3migrate.planner.mapping import KeyMapping, parse_pairs

    text = '[{"src_bucket": "src1", "src_prefix": "data", "des_bucket": "dst1", "des_prefix": "p"}]'
    (pair,) = parse_pairs(text, "t")
    assert pair.src_list_prefix == "data" and pair.dst_list_prefix == "p/data"
    assert pair.dst_key(pair.src_key("data/x")[pair.src_cut:]) == "p/data/x"
    flat = KeyMapping.original_pair("src1", "", "dst1", "")
    assert flat.dst_key("a/b") == "a/b"


def test_size_and_version_strategy() -> None:
    from s3migrate.planner.strategy import SizeAndVersion

    strategy = SizeAndVersion({"p/k": "v1"}, lambda key: "p/" + key)
    same = ListedObject("k", 5, version_id="v1")
    assert strategy.decide(same, ListedObject("k", 5)).action is Action.SKIP
    newer = ListedObject("k", 5, version_id="v2")
    decision = strategy.decide(newer, ListedObject("k", 5))
    assert decision.action is Action.COPY and "v2" in decision.reason
    assert strategy.decide(ListedObject("k", 5), ListedObject("k", 5)).action is Action.SKIP  # unversioned


def test_a_destination_the_source_listing_includes_is_refused() -> None:
    import pytest

    from s3migrate.endpoints.location import S3Location
    from s3migrate.errors import ConfigError
    from s3migrate.planner.mapping import KeyMapping

    def folders(src: str, dst: str) -> KeyMapping:
        return KeyMapping.folders(S3Location.parse(src), S3Location.parse(dst))

    with pytest.raises(ConfigError, match="inside the source"):
        folders("s3://aaa/data", "s3://aaa/data/backup").check_not_inside_source(IgnoreRules())
    with pytest.raises(ConfigError, match="inside the source"):
        folders("s3://aaa", "s3://aaa/copy").check_not_inside_source(IgnoreRules())
    with pytest.raises(ConfigError, match="same place"):
        folders("s3://aaa/data/", "s3://aaa/data").check_not_inside_source(IgnoreRules())
    with pytest.raises(ConfigError, match="same place"):
        KeyMapping.original_pair("aaa", "data", "aaa", "").check_not_inside_source(IgnoreRules())
    with pytest.raises(ConfigError, match="inside the source"):
        KeyMapping.original_pair("aaa", "", "aaa", "backup").check_not_inside_source(IgnoreRules())
    # Not overlapping: another bucket, a sibling prefix that merely starts alike, the source inside the destination.
    folders("s3://aaa/data", "s3://bbb/data").check_not_inside_source(IgnoreRules())
    folders("s3://aaa/data", "s3://aaa/data2").check_not_inside_source(IgnoreRules())
    folders("s3://aaa/data/sub", "s3://aaa/data").check_not_inside_source(IgnoreRules())
    # Left out of the source by an ignore rule: allowed.
    folders("s3://aaa/data", "s3://aaa/data/backup").check_not_inside_source(IgnoreRules(["aaa/data/backup/*"]))


def test_newer_copies_same_size_objects_modified_after_their_copy() -> None:
    from s3migrate.planner.strategy import SizeOrNewer, comparison

    strategy = SizeOrNewer()

    def decide(src_time: str | None, dst_time: str | None, dst_size: int = 5) -> Action:
        return strategy.decide(ListedObject("k", 5, last_modified=src_time),
                               ListedObject("k", dst_size, last_modified=dst_time)).action

    assert decide("2026-01-02T00:00:01.000Z", "2026-01-02T00:00:00.000Z") is Action.COPY
    assert decide("2026-01-02T00:00:00Z", "2026-01-02T00:00:00.000Z") is Action.SKIP  # equal: not newer
    assert decide("2026-01-01T23:59:59Z", "2026-01-02T00:00:00+00:00") is Action.SKIP  # the copy is later
    assert decide("2026-01-02T01:00:00+01:00", "2026-01-02T00:00:30Z") is Action.SKIP  # offsets are honoured
    assert decide("2026-01-02T00:00:01", "2026-01-02T00:00:00Z") is Action.COPY  # naive: UTC
    assert decide(None, "2026-01-02T00:00:00Z") is Action.SKIP
    assert decide("garbage", "2026-01-02T00:00:00Z") is Action.SKIP
    assert decide("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", dst_size=4) is Action.COPY  # size still rules
    assert strategy.decide(ListedObject("k", 5), None).action is Action.COPY
    assert isinstance(comparison("newer"), SizeOrNewer) and isinstance(comparison("size"), SizeOnly)
