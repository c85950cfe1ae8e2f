"""``s3://bucket/prefix`` locations with ``aws s3 sync`` folder semantics."""

from __future__ import annotations

import re
from dataclasses import dataclass

from s3migrate.errors import ConfigError

# Permissive on purpose: S3-compatible services (and legacy AWS buckets) allow more than today's AWS rules.
_BUCKET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$")


@dataclass(frozen=True)
class S3Location:
    """A bucket and a folder-like prefix ('' or ending in '/')."""

    bucket: str
    prefix: str = ""

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
        return f"s3://{self.bucket}/{self.prefix}"
