"""botocore's model files, parsed once per version of them instead of once per run.

Building the first S3 client parses about 1.8 MB of JSON (the S3 model, its endpoint rules, the partitions):
about 0.1 s of every run's start, a fifth of the fixed cost that short runs pay and the Go tools do not. The parsed data
is kept with ``marshal`` under the user's cache directory (loading it takes about a tenth of parsing the JSON, and
a fifth of unpickling the OrderedDicts botocore parses it into), keyed by the file's path, size, mtime, botocore's
and Python's versions, so an upgrade misses and parses again. The data has plain dicts on every run, the first
one included; they keep order as OrderedDicts do, and botocore's model only iterates them. The directory is used
only when it belongs to this user and nobody else may write to it; any problem with it means parsing as before,
never a failure.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import botocore
from botocore.loaders import JSONFileLoader

log = logging.getLogger(__name__)

_EXTENSIONS = (".json", ".json.gz")  # botocore's JSONFileLoader tries them in this order


def default_directory() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "s3migrate" / "botocore-models"


def private_directory(path: Path) -> bool:
    """Create ``path`` (mode 0700) if needed; True when it is ours and writable by no one else."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


class CachedJSONFileLoader(JSONFileLoader):
    """A JSONFileLoader that keeps what it parsed in ``directory`` (see the module's docstring)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def load_file(self, file_path: str) -> Any:
        for extension in _EXTENSIONS:
            source = file_path + extension
            try:
                info = os.stat(source)
            except OSError:
                continue
            key = f"{source}|{info.st_size}|{info.st_mtime_ns}|{botocore.__version__}|{sys.version}"
            cached = self._directory / (hashlib.sha256(key.encode()).hexdigest()[:40] + ".marshal")
            try:
                with open(cached, "rb") as handle:
                    return marshal.loads(handle.read())
            except FileNotFoundError:
                pass
            except Exception as exc:  # a torn or foreign file: parse the source again and replace it
                log.debug("model cache %s unusable: %s", cached, exc)
            parsed = super().load_file(file_path)
            if parsed is None:
                return None
            data = _plain(parsed)  # the same kind of data on the first run as on the cached ones
            self._store(cached, data)
            return data
        return None

    def _store(self, cached: Path, data: Any) -> None:
        """Write to a private temporary file, then rename: readers never see half a file."""
        try:
            fd, temporary = tempfile.mkstemp(dir=self._directory, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(marshal.dumps(data))
                os.replace(temporary, cached)
            except BaseException:
                os.unlink(temporary)
                raise
        except Exception as exc:
            log.debug("cannot write model cache %s: %s", cached, exc)


def _plain(value: Any) -> Any:
    """JSON as marshal can write it: OrderedDicts become dicts (same order)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def cached_file_loader() -> JSONFileLoader | None:
    """The caching loader, or None when there is no private cache directory to keep it in."""
    directory = default_directory()
    return CachedJSONFileLoader(directory) if private_directory(directory) else None
