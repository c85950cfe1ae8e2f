"""The original ignore list: shell wildcards (``*``, ``?``) matched against ``bucket/key``."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from pathlib import Path

from s3migrate.errors import ConfigError


class IgnoreRules:
    """``*`` matches across ``/`` (as in the original, which used fnmatch on ``bucket/key``)."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self.patterns = [p.strip() for p in patterns if p.strip() and not p.strip().startswith("#")]
        self._regex = (
            re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in self.patterns)) if self.patterns else None
        )

    @classmethod
    def from_file(cls, path: Path) -> IgnoreRules:
        try:
            return cls(path.read_text(encoding="utf-8").splitlines())
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read ignore file {path}: {exc}") from None

    def ignores(self, bucket: str, key: str) -> bool:
        return self._regex is not None and self._regex.match(f"{bucket}/{key}") is not None

    def __bool__(self) -> bool:
        return bool(self.patterns)
