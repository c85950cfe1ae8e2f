"""The on-disk cache of botocore's parsed model files: same data, same order, parsed once per file version,
and never used from a directory someone else can write to."""

from __future__ import annotations

import json
import os
from pathlib import Path

import botocore.loaders
import pytest

from s3migrate.endpoints.model_cache import CachedJSONFileLoader, cached_file_loader, private_directory


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every JSON file botocore's own loader parses."""
    seen: list[str] = []
    original = botocore.loaders.JSONFileLoader._load_file

    def counting(self: object, full_path: str, open_method: object) -> object:
        result = original(self, full_path, open_method)
        if result is not None:
            seen.append(full_path)
        return result

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "_load_file", counting)
    return seen


def s3_model_path() -> str:
    loader = botocore.loaders.create_loader()
    _, path = loader.load_data_with_path("s3/" + loader.determine_latest_version("s3", "service-2") + "/service-2")
    return path


def test_the_s3_model_comes_back_equal_and_in_order_without_parsing(tmp_path: Path, parses: list[str]) -> None:
    path = s3_model_path()
    parses.clear()
    first = CachedJSONFileLoader(tmp_path).load_file(path)
    assert len(parses) == 1 and len(list(tmp_path.iterdir())) == 1
    second = CachedJSONFileLoader(tmp_path).load_file(path)
    assert len(parses) == 1  # from the cache
    assert second == first
    assert type(first["shapes"]) is dict and type(second["shapes"]) is dict  # the same kind on every run
    assert list(second["shapes"]) == list(first["shapes"])
    assert list(second["operations"]["PutObject"]) == list(first["operations"]["PutObject"])


def test_a_changed_file_is_parsed_again(tmp_path: Path, parses: list[str]) -> None:
    cache, source = tmp_path / "cache", tmp_path / "model"
    cache.mkdir()
    source.with_suffix(".json").write_text(json.dumps({"version": 1}))
    loader = CachedJSONFileLoader(cache)
    assert loader.load_file(str(source)) == {"version": 1}
    source.with_suffix(".json").write_text(json.dumps({"version": 22}))  # another size (and mtime)
    assert loader.load_file(str(source)) == {"version": 22}
    assert len(parses) == 2


def test_a_torn_cache_file_is_replaced(tmp_path: Path, parses: list[str]) -> None:
    cache, source = tmp_path / "cache", tmp_path / "model"
    cache.mkdir()
    source.with_suffix(".json").write_text(json.dumps({"a": [1, 2]}))
    CachedJSONFileLoader(cache).load_file(str(source))
    (entry,) = cache.iterdir()
    entry.write_bytes(entry.read_bytes()[:3])
    assert CachedJSONFileLoader(cache).load_file(str(source)) == {"a": [1, 2]}
    assert CachedJSONFileLoader(cache).load_file(str(source)) == {"a": [1, 2]}
    assert len(parses) == 2  # the torn file was parsed around once, then replaced


def test_a_missing_file_is_none(tmp_path: Path) -> None:
    assert CachedJSONFileLoader(tmp_path).load_file(str(tmp_path / "nothing")) is None


def test_only_a_private_directory_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    assert cached_file_loader() is not None
    assert (tmp_path / "home-cache" / "s3migrate" / "botocore-models").stat().st_mode & 0o777 == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    assert not private_directory(shared)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    (tmp_path / "file").write_text("not a directory")
    assert cached_file_loader() is None
