"""``sqlite:///PATH`` URLs of queues and ledgers shared by several processes on one machine."""

from __future__ import annotations

from pathlib import Path

from s3migrate.errors import ConfigError


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///PATH`` URL. Its folder must exist (a typo must not start a new, empty ledger
    elsewhere); query strings are not understood, so they are refused rather than made part of the name."""
    raw = url[len("sqlite:///"):]
    if "?" in raw or "#" in raw:
        raise ConfigError(f"{url}: a sqlite:/// URL takes a path only, no query string or fragment")
    if not raw:
        raise ConfigError(f"{url}: no path after sqlite:///")
    path = Path(raw)
    if not path.parent.is_dir():
        raise ConfigError(f"{url}: the folder {path.parent} does not exist")
    return path
