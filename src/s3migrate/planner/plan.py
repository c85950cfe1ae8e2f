"""PLAN: list both sides, pair them, decide. Pure and streaming: it writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from s3migrate.endpoints.location import S3Location
from s3migrate.jobs.job import Job
from s3migrate.planner.ignore import IgnoreRules
from s3migrate.planner.join import join
from s3migrate.planner.listing import list_objects
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
    """Plans a folder-to-folder sync: ``src.prefix + k`` is copied to ``dst.prefix + k``."""

    src_client: Any
    dst_client: Any
    src: S3Location
    dst: S3Location
    ignore: IgnoreRules = field(default_factory=IgnoreRules)
    strategy: Strategy = field(default_factory=SizeOnly)
    stats: PlanStats = field(default_factory=PlanStats)
    keep_examples: int = 10

    def decisions(self) -> Iterator[Decision]:
        pairs = join(
            lambda: list_objects(self.src_client, self.src.bucket, self.src.prefix, f"source {self.src}"),
            lambda: list_objects(self.dst_client, self.dst.bucket, self.dst.prefix, f"destination {self.dst}"),
        )
        for src, dst in pairs:
            self.stats.listed += 1
            if self.ignore and self.ignore.ignores(self.src.bucket, self.src.key_for(src.key)):
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
        return Job(
            src_bucket=self.src.bucket,
            src_key=self.src.key_for(src.key),
            dst_bucket=self.dst.bucket,
            dst_key=self.dst.key_for(src.key),
            size=src.size,
            version_id=src.version_id,
            etag=src.etag,
        )
