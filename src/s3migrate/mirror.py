"""Mirror (``sync --delete``): remove what the destination holds under its prefix and the source does not.

It runs only after every copy of the run succeeded, from fresh listings of both sides (what the copies left
behind, not what the plan saw). Keys the filters or the ignore list leave out are neither copied nor deleted.
``--max-delete N`` deletes nothing when more than N would go. Every deletion is recorded in the state file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from s3migrate.endpoints.failures import describe
from s3migrate.planner.filters import KeyFilter
from s3migrate.planner.ignore import IgnoreRules
from s3migrate.planner.join import outer_join
from s3migrate.planner.listing import ListedObject, list_objects
from s3migrate.planner.mapping import KeyMapping

log = logging.getLogger(__name__)
DELETE_BATCH = 1000  # DeleteObjects' limit


@dataclass
class MirrorReport:
    extras: list[ListedObject] = field(default_factory=list)  # at the destination only (relative keys)
    deleted: list[str] = field(default_factory=list)  # destination keys
    failed: list[tuple[str, str]] = field(default_factory=list)  # (destination key, reason)
    refused: str | None = None  # why nothing was deleted (--max-delete)


def destination_extras(src_client: Any, dst_client: Any, mapping: KeyMapping, key_filter: KeyFilter | None,
                       ignore: IgnoreRules) -> Iterator[ListedObject]:
    """Destination objects under the prefix with no source counterpart, that the filters let through."""
    m = mapping
    pairs = outer_join(
        list_objects(src_client, m.src_bucket, m.src_list_prefix, m.src_cut, f"source s3://{m.src_bucket}"),
        list_objects(dst_client, m.dst_bucket, m.dst_list_prefix, m.dst_cut, f"destination s3://{m.dst_bucket}"),
    )
    for src, dst in pairs:
        if src is not None or dst is None:
            continue
        if key_filter and key_filter.excludes(dst) is not None:
            continue
        if ignore and ignore.ignores(m.src_bucket, m.src_key(dst.key)):
            continue
        yield dst


def delete_keys(dst_client: Any, bucket: str, keys: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """DeleteObjects in batches; returns (deleted, [(key, reason)]) as S3 reported them, key by key."""
    deleted: list[str] = []
    failed: list[tuple[str, str]] = []
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start:start + DELETE_BATCH]
        try:
            response = dst_client.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": False})
        except Exception as exc:
            failed += [(key, describe(exc)) for key in batch]
            continue
        deleted += [str(item["Key"]) for item in response.get("Deleted", [])]
        failed += [(str(e.get("Key")), f"{e.get('Code')}: {e.get('Message')}") for e in response.get("Errors", [])]
    return deleted, failed
