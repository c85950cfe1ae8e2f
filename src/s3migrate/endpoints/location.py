"""Locations with ``aws s3 sync`` folder semantics: ``s3://bucket/prefix``, or a folder on this machine."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from s3migrate.errors import ConfigError

# Permissive on purpose: S3-compatible services (and legacy AWS buckets) allow more than today's AWS rules.
_BUCKET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$")


@dataclass(frozen=True)
class S3Location:
    """A bucket and a folder-like prefix ('' or ending in '/'). For a local folder (``local``) the bucket is the
    folder's absolute path and the prefix is empty: keys are paths relative to it, with ``/``."""

    bucket: str
    prefix: str = ""
    local: bool = False

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """Parse ``s3://bucket[/prefix]``; the prefix is a folder, with or without its trailing slash."""
        if not url.startswith("s3://"):
            raise ConfigError(f"not an S3 URL: {url!r} (expected s3://BUCKET[/PREFIX])")
        rest = url[len("s3://"):]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ConfigError(f"no bucket in {url!r} (expected s3://BUCKET[/PREFIX])")
        if not _BUCKET_RE.match(bucket):
            raise ConfigError(f"invalid bucket name {bucket!r} in {url!r}")
        prefix = prefix.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return cls(bucket, prefix)

    def key_for(self, relative_key: str) -> str:
        return self.prefix + relative_key

    def relative(self, key: str) -> str:
        return key[len(self.prefix):]

    def __str__(self) -> str:
        return self.bucket if self.local else f"s3://{self.bucket}/{self.prefix}"


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def local_path(text: str) -> str | None:
    """The absolute path ``text`` names on this machine (a path, or ``file://``), or None for an s3:// URL."""
    if text.startswith("file://"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(f"{text!r} names another host; a file:// URL must name this machine (file:///PATH)")
        return os.path.abspath(unquote(parts.path))
    if _SCHEME.match(text):
        if text.startswith("s3://"):
            return None
        raise ConfigError(f"{text!r}: s3migrate reads and writes s3://BUCKET[/PREFIX] or a local folder")
    if not text:
        raise ConfigError("an empty path")
    return os.path.abspath(os.path.expanduser(text))


def parse_location(text: str) -> S3Location:
    """``s3://bucket[/prefix]``, ``file:///path`` or a path: the place ``sync`` and ``verify`` name."""
    path = local_path(text)
    return S3Location.parse(text) if path is None else S3Location(path, "", local=True)
