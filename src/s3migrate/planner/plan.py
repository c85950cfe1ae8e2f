"""PLAN: list both sides, pair them, decide. Pure and streaming: it writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from s3migrate.jobs.job import Job
from s3migrate.planner.ignore import IgnoreRules
from s3migrate.planner.join import join
from s3migrate.planner.listing import list_latest_versions, list_objects
from s3migrate.planner.mapping import KeyMapping
from s3migrate.planner.strategy import Action, Decision, SizeOnly, Strategy


@dataclass
class PlanStats:
    listed: int = 0
    ignored: int = 0
    skipped: int = 0
    to_copy: int = 0
    bytes_to_copy: int = 0
    largest: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)  # (key, reason), the first few copies

    def add(self, decision: Decision, keep_examples: int) -> None:
        if decision.action is Action.COPY:
            self.to_copy += 1
            self.bytes_to_copy += decision.src.size
            self.largest = max(self.largest, decision.src.size)
            if len(self.examples) < keep_examples:
                self.examples.append((decision.src.key, decision.reason))
        else:
            self.skipped += 1


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

    def decisions(self) -> Iterator[Decision]:
        m = self.mapping
        pairs = join(
            lambda: (list_latest_versions if self.list_versions else list_objects)(
                self.src_client, m.src_bucket, m.src_list_prefix, m.src_cut, f"source s3://{m.src_bucket}"
            ),
            lambda: list_objects(
                self.dst_client, m.dst_bucket, m.dst_list_prefix, m.dst_cut, f"destination s3://{m.dst_bucket}"
            ),
        )
        for src, dst in pairs:
            self.stats.listed += 1
            if self.ignore and self.ignore.ignores(m.src_bucket, m.src_key(src.key)):
                self.stats.ignored += 1
                continue
            decision = self.strategy.decide(src, dst)
            self.stats.add(decision, self.keep_examples)
            yield decision

    def jobs(self) -> Iterator[Job]:
        for decision in self.decisions():
            if decision.action is Action.COPY:
                yield self.job_for(decision)

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
