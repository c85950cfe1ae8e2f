"""Filters as aws s3 sync and rclone users expect them: ordered rules (the last match decides), sizes, ages,
a list of keys."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from s3migrate.config import load_settings, parse_duration
from s3migrate.errors import ConfigError
from s3migrate.planner.filters import FilterRule, KeyFilter, read_files_from, rules_in_order
from s3migrate.planner.listing import ListedObject

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC).timestamp()


def obj(key: str, size: int = 10, days_old: float = 0) -> ListedObject:
    when = datetime.datetime.fromtimestamp(NOW - days_old * 86400, datetime.UTC)
    return ListedObject(key, size, last_modified=when.isoformat())


def rules(*texts: str) -> tuple[FilterRule, ...]:
    return tuple(FilterRule.parse(t) for t in texts)


def test_the_last_matching_rule_decides() -> None:
    only_jpegs = KeyFilter(rules("- *", "+ *.jpg"), now=NOW)
    assert only_jpegs.excludes(obj("a/b/photo.jpg")) is None
    assert only_jpegs.excludes(obj("a/b/notes.txt")) == "excluded by a filter"
    no_tmp_but_keep = KeyFilter(rules("- *.tmp", "+ keep/*"), now=NOW)
    assert no_tmp_but_keep.excludes(obj("x.tmp")) and not no_tmp_but_keep.excludes(obj("keep/x.tmp"))
    reversed_order = KeyFilter(rules("+ keep/*", "- *.tmp"), now=NOW)
    assert reversed_order.excludes(obj("keep/x.tmp"))  # the later exclude wins


def test_star_crosses_slashes_and_patterns_match_the_key_relative_to_src() -> None:
    f = KeyFilter(rules("- logs/*"), now=NOW)
    assert f.excludes(obj("logs/2026/12/01.gz")) and not f.excludes(obj("data/logs/x"))
    assert KeyFilter(rules("- ?.txt"), now=NOW).excludes(obj("a.txt"))
    assert not KeyFilter(rules("- ?.txt"), now=NOW).excludes(obj("ab.txt"))


def test_sizes_and_ages() -> None:
    f = KeyFilter(min_size=10, max_size=100, now=NOW)
    assert f.excludes(obj("k", 9)) == "smaller than --min-size"
    assert f.excludes(obj("k", 101)) == "larger than --max-size"
    assert f.excludes(obj("k", 10)) is None and f.excludes(obj("k", 100)) is None
    week = KeyFilter(min_age=parse_duration("7d"), now=NOW)
    assert week.excludes(obj("k", days_old=1)) == "newer than --min-age"
    assert week.excludes(obj("k", days_old=8)) is None
    day = KeyFilter(max_age=parse_duration("1d"), now=NOW)
    assert day.excludes(obj("k", days_old=0.5)) is None and day.excludes(obj("k", days_old=2)) == "older than --max-age"


def test_files_from(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_text("# wanted\na/one.txt\n/b/two.txt\n\n")
    f = KeyFilter(files=read_files_from(path), now=NOW)
    assert f.excludes(obj("a/one.txt")) is None and f.excludes(obj("b/two.txt")) is None
    assert f.excludes(obj("c/three.txt")) == "not in --files-from"
    with pytest.raises(ConfigError, match="cannot read --files-from"):
        read_files_from(tmp_path / "missing.txt")


def test_rules_keep_the_order_they_were_typed_in() -> None:
    argv = ["sync", "s3://a", "s3://b", "--exclude", "*", "--include=*.jpg", "--exclude", "raw/*"]
    assert rules_in_order(argv) == ["- *", "+ *.jpg", "- raw/*"]


def test_filter_settings_from_a_config_file_and_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "s3migrate.toml"
    path.write_text('filters = ["- *.tmp", "+ keep.tmp"]\nmin_size = "1KiB"\nmax_age = "2w"\n')
    settings = load_settings({}, path, {})
    assert settings.filters == ("- *.tmp", "+ keep.tmp") and settings.min_size == 1024
    assert settings.max_age == 14 * 86400
    with pytest.raises(ConfigError, match="not a duration"):
        load_settings({"min_age": "soon"}, None, {})
    with pytest.raises(ConfigError, match="not a filter rule"):
        load_settings({"filters": ["*.tmp"]}, None, {})
