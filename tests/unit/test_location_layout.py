import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s3migrate.endpoints.location import S3Location, parse_location
from s3migrate.errors import ConfigError
from s3migrate.jobs.layout import MAX_PART_SIZE, MAX_PARTS, MIB, MIN_PART_SIZE, PartLayout


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [("s3://a1b/data", "a1b", "data/"), ("s3://a1b/data/", "a1b", "data/"), ("s3://a1b", "a1b", ""),
     ("s3://a1b/", "a1b", ""), ("s3://a1b/x/y z", "a1b", "x/y z/")],
)
def test_parse_location(url: str, bucket: str, prefix: str) -> None:
    assert S3Location.parse(url) == S3Location(bucket, prefix)


@pytest.mark.parametrize("url", ["a/b", "s3://", "s3:///x", "http://b/x", "s3://b!d/x", "s3://-x/y"])
def test_bad_location(url: str) -> None:
    with pytest.raises(ConfigError):
        S3Location.parse(url)


@pytest.mark.parametrize(
    ("text", "path"),
    [("data", os.path.abspath("data")), ("./a/../b/", os.path.abspath("b")), ("/srv/x", "/srv/x"),
     ("file:///srv/with%20space", "/srv/with space"), ("file://localhost/srv/x", "/srv/x"),
     ("~/x", os.path.expanduser("~/x"))],
)
def test_a_path_or_file_url_is_a_local_folder(text: str, path: str) -> None:
    assert parse_location(text) == S3Location(path, "", local=True)
    assert str(parse_location(text)) == path


@pytest.mark.parametrize("text", ["ftp://h/x", "gs://b/x", "file://otherhost/x", ""])
def test_other_schemes_and_hosts_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_location(text)


def test_prefix_mapping() -> None:
    src, dst = S3Location.parse("s3://a1b/data"), S3Location.parse("s3://b1c/copy")
    assert dst.key_for(src.relative("data/x/y")) == "copy/x/y"


def test_layout_small_and_exact() -> None:
    layout = PartLayout.for_size(10 * MIB + 1, 5 * MIB)
    assert layout.count == 3
    assert [p.size for p in layout.parts()] == [5 * MIB, 5 * MIB, 1]
    assert layout.part(3).byte_range == f"bytes={10 * MIB}-{10 * MIB}"
    assert PartLayout.for_size(10 * MIB, 5 * MIB).count == 2


def test_layout_grows_past_10000_parts() -> None:
    size = 100 * 1024 * MIB  # 100 GiB at 5 MiB would need 20,480 parts
    layout = PartLayout.for_size(size, 5 * MIB)
    assert layout.count <= MAX_PARTS
    assert layout.part_size % MIB == 0 and layout.part_size >= 5 * MIB
    assert layout.part_size == 11 * MIB


def test_layout_limits() -> None:
    with pytest.raises(ValueError):
        PartLayout.for_size(6 * 1024**4, 5 * MIB)
    assert PartLayout.for_size(0, 5 * MIB).count == 1


@given(st.integers(min_value=1, max_value=5 * 1024**4), st.integers(min_value=5, max_value=512))
def test_layout_invariants(size: int, chunk_mib: int) -> None:
    layout = PartLayout.for_size(size, chunk_mib * MIB)
    parts = layout.parts() if layout.count < 50 else [layout.part(1), layout.part(layout.count)]
    assert layout.count <= MAX_PARTS
    assert MIN_PART_SIZE <= layout.part_size <= MAX_PART_SIZE
    assert layout.part(layout.count).offset + layout.part(layout.count).size == size
    assert all(p.size > 0 for p in parts)
    assert layout.fits(layout.count, layout.part(layout.count).size)
    assert not layout.fits(layout.count + 1, 1)
