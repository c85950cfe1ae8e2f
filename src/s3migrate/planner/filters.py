"""Which source objects a run considers at all, as ``aws s3 sync`` and rclone filter them.

- ``--exclude PATTERN`` / ``--include PATTERN``, repeatable, matched against the key relative to SRC with shell
  wildcards (``*`` also matches ``/``, ``?`` one character, ``[seq]``). Every key is included to begin with; the
  rules are applied in the order given and the last one that matches decides (``--exclude "*" --include
  "*.jpg"`` keeps only JPEGs).
- ``--min-size`` / ``--max-size``: sizes, bounds included.
- ``--min-age`` / ``--max-age``: how long ago the object was last modified (``90s``, ``30m``, ``12h``, ``7d``,
  ``2w``): ``--min-age 7d`` leaves out what changed in the last week, ``--max-age 1d`` keeps only that day's.
- ``--files-from FILE``: only these keys (relative to SRC, one a line; blank lines and ``#`` comments skipped).

A filtered-out key is neither copied nor, in a mirror, deleted. The original's ``--ignore-file`` (patterns over
``bucket/key``) is separate and keeps its meaning.
"""

from __future__ import annotations

import datetime
import fnmatch
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from s3migrate.config import filter_rule
from s3migrate.errors import ConfigError
from s3migrate.planner.listing import ListedObject


@dataclass(frozen=True)
class FilterRule:
    include: bool
    pattern: str
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(fnmatch.translate(self.pattern)))

    def matches(self, key: str) -> bool:
        return self.regex.match(key) is not None

    @classmethod
    def parse(cls, text: str) -> FilterRule:
        """``- PATTERN`` (exclude) or ``+ PATTERN`` (include), as the settings keep them."""
        checked = filter_rule(text)
        return cls(checked[0] == "+", checked[2:])


@dataclass(frozen=True)
class KeyFilter:
    rules: tuple[FilterRule, ...] = ()
    min_size: int | None = None
    max_size: int | None = None
    min_age: float | None = None  # seconds
    max_age: float | None = None
    files: frozenset[str] | None = None
    now: float = field(default_factory=time.time)

    def __bool__(self) -> bool:
        return bool(self.rules) or self.files is not None or any(
            v is not None for v in (self.min_size, self.max_size, self.min_age, self.max_age))

    def excludes(self, obj: ListedObject) -> str | None:
        """Why ``obj`` (its key relative to SRC) is left out, or None when it is considered."""
        if self.files is not None and obj.key not in self.files:
            return "not in --files-from"
        included = True
        for rule in self.rules:
            if rule.matches(obj.key):
                included = rule.include
        if not included:
            return "excluded by a filter"
        if self.min_size is not None and obj.size < self.min_size:
            return "smaller than --min-size"
        if self.max_size is not None and obj.size > self.max_size:
            return "larger than --max-size"
        if self.min_age is not None or self.max_age is not None:
            age = self._age(obj)
            if age is None:
                return None  # no LastModified listed: age filters cannot apply (never seen on S3)
            if self.min_age is not None and age < self.min_age:
                return "newer than --min-age"
            if self.max_age is not None and age > self.max_age:
                return "older than --max-age"
        return None

    def _age(self, obj: ListedObject) -> float | None:
        if not obj.last_modified:
            return None
        try:
            when = datetime.datetime.fromisoformat(obj.last_modified.replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        return self.now - when.timestamp()


def read_files_from(path: Path) -> frozenset[str]:
    """Keys relative to SRC, one a line; blank lines and ``#`` comments skipped; a leading ``/`` dropped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read --files-from {path}: {exc}") from None
    return frozenset(line.strip().lstrip("/") for line in lines if line.strip() and not line.lstrip().startswith("#"))


def rules_in_order(argv: Iterable[str]) -> list[str]:
    """``--exclude``/``--include`` values in the order they were typed (click groups each option's values)."""
    rules: list[str] = []
    tokens = list(argv)
    for i, token in enumerate(tokens):
        for flag, sign in (("--exclude", "-"), ("--include", "+")):
            if token == flag and i + 1 < len(tokens):
                rules.append(f"{sign} {tokens[i + 1]}")
            elif token.startswith(flag + "="):
                rules.append(f"{sign} {token[len(flag) + 1:]}")
    return rules
