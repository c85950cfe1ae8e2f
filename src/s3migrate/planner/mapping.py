"""How source keys map to destination keys, for the two layouts users have.

- Folder mapping (the ``SRC DST`` form, like ``aws s3 sync``): ``s3://a/data/x`` -> ``s3://b/copy/x``.
- Original bucket-pair mapping (``--pairs``, the Longbow layout): ``src_prefix`` is a plain listing prefix and
  the destination key is ``des_prefix/`` + the whole source key (the key unchanged when ``des_prefix`` is '').

Either way the planner lists ``src_list_prefix`` and ``dst_list_prefix`` and joins on the *relative* key,
which is the source key minus ``src_cut`` characters and the destination key minus ``dst_cut``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s3migrate.endpoints.location import S3Location
from s3migrate.errors import ConfigError
from s3migrate.jobs.codec import posix_key
from s3migrate.planner.ignore import IgnoreRules


@dataclass(frozen=True)
class KeyMapping:
    src_bucket: str
    src_list_prefix: str
    src_cut: int
    dst_bucket: str
    dst_list_prefix: str
    dst_cut: int
    posix: bool = False  # the original's PurePosixPath destination keys (original pairs only)

    @classmethod
    def folders(cls, src: S3Location, dst: S3Location) -> KeyMapping:
        return cls(src.bucket, src.prefix, len(src.prefix), dst.bucket, dst.prefix, len(dst.prefix))

    @classmethod
    def original_pair(cls, src_bucket: str, src_prefix: str, des_bucket: str, des_prefix: str,
                      *, posix: bool = False) -> KeyMapping:
        """``src_prefix`` "/" means the whole bucket, as in the original."""
        src_prefix = "" if src_prefix == "/" else src_prefix
        des_prefix = des_prefix.strip("/")
        head = f"{des_prefix}/" if des_prefix else ""
        return cls(src_bucket, src_prefix, 0, des_bucket, head + src_prefix, len(head), posix)

    def src_key(self, relative: str) -> str:
        return self.src_list_prefix[: self.src_cut] + relative

    def dst_key(self, relative: str) -> str:
        if self.posix:
            return posix_key(self.dst_list_prefix[: self.dst_cut], self.src_key(relative))
        return self.dst_list_prefix[: self.dst_cut] + relative

    def reshapes(self, relative: str) -> bool:
        """Whether the original's key rule gives this key another destination than the listing pairs it with."""
        return self.posix and self.dst_key(relative) != self.dst_list_prefix[: self.dst_cut] + relative

    def describe(self) -> str:
        return f"s3://{self.src_bucket}/{self.src_list_prefix} -> s3://{self.dst_bucket}/{self.dst_list_prefix}"

    def check_not_inside_source(self, ignore: IgnoreRules) -> None:
        """For two buckets of one service: refuse a destination that the source listing includes. Every run
        would then copy its own copies again (``s3://a/data`` -> ``s3://a/data/backup`` makes
        ``data/backup/backup/...`` next time), or copy every object onto itself. An ignore rule that leaves the
        destination out of the source makes it safe."""
        if self.src_bucket != self.dst_bucket or not self.dst_list_prefix.startswith(self.src_list_prefix):
            return
        src = f"s3://{self.src_bucket}/{self.src_list_prefix}"
        dst = f"s3://{self.dst_bucket}/{self.dst_list_prefix}"
        if self.dst_list_prefix == self.src_list_prefix and self.src_cut == self.dst_cut:
            raise ConfigError(f"the source and the destination are the same place ({src})")
        if ignore.ignores(self.dst_bucket, self.dst_list_prefix + "s3migrate-probe"):
            return
        raise ConfigError(f"the destination {dst} is inside the source {src}: every run would copy its own copies "
                          "again; choose a destination outside the source, or leave it out with an --ignore-file "
                          f"pattern such as {self.dst_bucket}/{self.dst_list_prefix}*")


def parse_pairs(text: str, source: str, *, posix: bool = False) -> list[KeyMapping]:
    """The original bucket-pair JSON: ``[{"src_bucket", "src_prefix", "des_bucket", "des_prefix"}, ...]``."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not JSON: {exc.msg} (line {exc.lineno})") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{source}: expected a list of bucket pairs")
    pairs = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise ConfigError(f"{source}: pair {i + 1} is not an object")
        try:
            src_bucket, des_bucket = str(item["src_bucket"]), str(item["des_bucket"])
        except KeyError as exc:
            raise ConfigError(f"{source}: pair {i + 1} has no {exc.args[0]!r}") from None
        for bucket in (src_bucket, des_bucket):
            S3Location.parse(f"s3://{bucket}")  # validates the name
        src_prefix = str(item.get("src_prefix") or "")
        des_prefix = str(item.get("des_prefix") or "")
        pairs.append(KeyMapping.original_pair(src_bucket, src_prefix, des_bucket, des_prefix, posix=posix))
    return pairs


def read_pairs_file(path: Path, *, posix: bool = False) -> list[KeyMapping]:
    try:
        return parse_pairs(path.read_text(encoding="utf-8"), str(path), posix=posix)
    except OSError as exc:
        raise ConfigError(f"cannot read bucket pairs {path}: {exc.strerror}") from None
