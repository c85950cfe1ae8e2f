"""PLAN: list both sides, pair them, decide. Pure and streaming: it writes nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from s3migrate.endpoints.failures import http_status, names_missing_object, translate_endpoint_error
from s3migrate.errors import EndpointError
from s3migrate.jobs.job import Job
from s3migrate.planner.archive import ARCHIVED_CLASSES, RestorePolicy, archived_reason
from s3migrate.planner.filters import KeyFilter
from s3migrate.planner.history import chain_jobs, compare_history, history_pairs
from s3migrate.planner.ignore import IgnoreRules
from s3migrate.planner.join import Pair, join
from s3migrate.planner.listing import (
    FANOUT_WIDTH,
    ListedObject,
    iso_text,
    list_latest_versions,
    list_objects,
)
from s3migrate.planner.mapping import KeyMapping
from s3migrate.planner.ranges import Side, parallel_pairs
from s3migrate.planner.strategy import Action, Decision, SizeOnly, Strategy

log = logging.getLogger(__name__)


@dataclass
class PlanStats:
    listed: int = 0
    ignored: int = 0
    filtered: int = 0  # left out by --exclude/--include, sizes, ages or --files-from
    skipped: int = 0
    to_copy: int = 0
    bytes_to_copy: int = 0
    largest: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)  # (key, reason), the first few copies
    left: int = 0  # to copy, but left as they are: archived, or another history (Action.LEFT)
    left_examples: list[tuple[str, str]] = field(default_factory=list)  # (key, reason), the first few

    def add(self, decision: Decision, keep_examples: int) -> None:
        if decision.action is Action.COPY:
            self.to_copy += 1
            self.bytes_to_copy += decision.src.size
            self.largest = max(self.largest, decision.src.size)
            if len(self.examples) < keep_examples:
                self.examples.append((decision.src.key, decision.reason))
        elif decision.action is Action.LEFT:
            self.left += 1
            if len(self.left_examples) < keep_examples:
                self.left_examples.append((decision.src.key, decision.reason))
        else:
            self.skipped += 1


def head_listed(client: Any, bucket: str, key: str, where: str) -> ListedObject | None:
    """One object as a listing would show it (key, size, ETag, storage class, LastModified), from a HEAD; None
    when it does not exist."""
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        if names_missing_object(exc) or http_status(exc) == 404:
            return None
        raise translate_endpoint_error(exc, where) from None
    return ListedObject(key, int(head.get("ContentLength", 0)), head.get("ETag"), None,
                        head.get("StorageClass"), iso_text(head.get("LastModified")))


@dataclass
class Planner:
    """Plans one source/destination mapping (folders, or an original bucket pair)."""

    src_client: Any
    dst_client: Any
    mapping: KeyMapping
    ignore: IgnoreRules = field(default_factory=IgnoreRules)
    strategy: Strategy = field(default_factory=SizeOnly)
    stats: PlanStats = field(default_factory=PlanStats)
    keep_examples: int = 10
    list_versions: bool = False  # list the source's latest versions (JobsenderCompareVersionId)
    list_width: int = FANOUT_WIDTH  # key ranges planned at once (1: one listing per side, in order)
    key_filter: KeyFilter | None = None  # --exclude/--include, sizes, ages, --files-from
    restore: RestorePolicy = field(default_factory=RestorePolicy)  # archived objects: report, or ask for restores
    all_versions: bool = False  # --all-versions: every version of every key, oldest first (planner/history.py)
    # --from-inventory / --to-inventory: a side's objects from an S3 Inventory instead of a listing (in key order)
    source_listing: Callable[[], Iterator[ListedObject]] | None = None
    destination_listing: Callable[[], Iterator[ListedObject]] | None = None

    def pairs(self) -> Iterator[Pair]:
        """Source objects with their destination counterparts: over key ranges in parallel when both stores
        can list ranges and the service lists in key order, else one ordered merge-join."""
        m = self.mapping
        src_where, dst_where = f"source s3://{m.src_bucket}", f"destination s3://{m.dst_bucket}"
        both_ranged = all(client.abilities.ranged_listing for client in (self.src_client, self.dst_client))
        inventories = self.source_listing is not None or self.destination_listing is not None
        if self.list_width > 1 and both_ranged and not self.list_versions and not inventories:
            ranged = parallel_pairs(
                Side(self.src_client, m.src_bucket, m.src_list_prefix, m.src_cut, src_where, 0),
                Side(self.dst_client, m.dst_bucket, m.dst_list_prefix, m.dst_cut, dst_where, 1),
                self.list_width,
                m.src_list_prefix[m.src_cut :],
            )
            if ranged is not None:
                return ranged
            log.warning("%s: a listing is not in key order; planning without key ranges", m.describe())
        width = self.list_width
        return join(
            self.source_listing or (lambda: (
                list_latest_versions(self.src_client, m.src_bucket, m.src_list_prefix, m.src_cut, src_where)
                if self.list_versions
                else list_objects(self.src_client, m.src_bucket, m.src_list_prefix, m.src_cut, src_where, width)
            )),
            self.destination_listing or (
                lambda: list_objects(self.dst_client, m.dst_bucket, m.dst_list_prefix, m.dst_cut, dst_where, width)),
        )

    def decisions(self) -> Iterator[Decision]:
        if self.all_versions:
            yield from self._history_decisions()
            return
        m = self.mapping
        key_filter = self.key_filter if self.key_filter else None  # an empty filter costs nothing per object
        to_folder = self.dst_client.abilities.filesystem
        for src, dst in self.pairs():
            if not self._considered(src, key_filter):
                continue
            if m.reshapes(src.key):  # the listing paired it with the verbatim key: look at its own destination
                dst_key = m.dst_key(src.key)
                dst = head_listed(self.dst_client, m.dst_bucket, dst_key, f"destination s3://{m.dst_bucket}/{dst_key}")
            if to_folder and src.size == 0 and src.key.endswith("/"):
                decision = Decision(Action.SKIP, "a folder marker (an empty key ending in /), not a file", src, dst)
            else:
                decision = self.strategy.decide(src, dst)
            if decision.action is Action.COPY and src.storage_class in ARCHIVED_CLASSES:
                why = archived_reason(self.src_client, m.src_bucket, m.src_key(src.key), src.storage_class,
                                      self.restore)
                if why is not None:
                    decision = Decision(Action.LEFT, why, src, dst)
            self.stats.add(decision, self.keep_examples)
            yield decision

    def _considered(self, src: ListedObject, key_filter: KeyFilter | None) -> bool:
        """Count a listed source object, and whether the ignore list and the filters leave it in the plan."""
        self.stats.listed += 1
        if self.ignore and self.ignore.ignores(self.mapping.src_bucket, self.mapping.src_key(src.key)):
            self.stats.ignored += 1
            return False
        if key_filter is not None and key_filter.excludes(src) is not None:
            self.stats.filtered += 1
            return False
        return True

    def _history_decisions(self) -> Iterator[Decision]:
        """One decision per key: copy its missing versions as a chain, skip it, or leave a diverged history."""
        m = self.mapping
        for src, dst in history_pairs(self.src_client, self.dst_client, m):
            if src is None:
                continue
            listed = src.as_listed()
            if not self._considered(listed, self.key_filter or None):
                continue
            compared = compare_history(self.dst_client, m, src, dst)
            have = dst.as_listed() if dst is not None else None
            if compared.diverged:
                decision = Decision(Action.LEFT, f"another history: {compared.diverged}", listed, have)
            elif not compared.to_copy:
                decision = Decision(Action.SKIP, f"the same {len(src.versions)} versions", listed, have)
            else:
                chain = tuple(chain_jobs(m, compared))
                shown = replace(listed, size=sum(job.size for job in chain))
                decision = Decision(Action.COPY, f"{len(chain)} of {len(src.versions)} versions to copy", shown,
                                    have, chain)
            self.stats.add(decision, self.keep_examples)
            yield decision

    def jobs(self) -> Iterator[Job | list[Job]]:
        """The jobs to send: one per object, or (--all-versions) one list per key, its versions in order."""
        for decision in self.decisions():
            if decision.action is Action.COPY:
                yield list(decision.chain) if decision.chain else self.job_for(decision)

    def job_for(self, decision: Decision) -> Job:
        src = decision.src
        m = self.mapping
        return Job(
            src_bucket=m.src_bucket,
            src_key=m.src_key(src.key),
            dst_bucket=m.dst_bucket,
            dst_key=m.dst_key(src.key),
            size=src.size,
            version_id=src.version_id,
            etag=src.etag,
        )


@dataclass
class SingleObjectPlan:
    """The plan of ``cp``: one named source object to one destination key, always copied (as ``aws s3 cp``)
    through the same SEND and WORK as ``sync`` (resumable, verified). A missing source is one line, exit 2."""

    src_client: Any
    src_bucket: str
    src_key: str
    dst_bucket: str
    dst_key: str
    stats: PlanStats = field(default_factory=PlanStats)
    restore: RestorePolicy = field(default_factory=RestorePolicy)

    def decisions(self) -> Iterator[Decision]:
        where = f"source s3://{self.src_bucket}/{self.src_key}"
        src = head_listed(self.src_client, self.src_bucket, self.src_key, where)
        if src is None:
            raise EndpointError(f"{where}: no such object")
        decision = Decision(Action.COPY, "named on the command line", src, None)
        why = archived_reason(self.src_client, self.src_bucket, self.src_key, src.storage_class, self.restore)
        if why is not None:
            decision = Decision(Action.LEFT, why, src, None)
        self.stats.listed += 1
        self.stats.add(decision, keep_examples=1)
        yield decision

    def jobs(self) -> Iterator[Job]:
        for decision in self.decisions():
            if decision.action is not Action.COPY:
                continue
            yield Job(self.src_bucket, self.src_key, self.dst_bucket, self.dst_key, decision.src.size,
                      etag=decision.src.etag)
