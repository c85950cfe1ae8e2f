"""Sync strategies: given a source object and its destination counterpart, copy or skip, and why."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from s3migrate.planner.listing import ListedObject


class Action(enum.Enum):
    COPY = "copy"
    SKIP = "skip"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    src: ListedObject
    dst: ListedObject | None


class Strategy(Protocol):
    def decide(self, src: ListedObject, dst: ListedObject | None) -> Decision: ...


class SizeOnly:
    """The original comparison: same key and same size means the same object."""

    def decide(self, src: ListedObject, dst: ListedObject | None) -> Decision:
        if dst is None:
            return Decision(Action.COPY, "missing at destination", src, dst)
        if dst.size != src.size:
            return Decision(Action.COPY, f"size differs ({src.size} at source, {dst.size} at destination)", src, dst)
        return Decision(Action.SKIP, "same size", src, dst)


class SizeAndVersion:
    """JobsenderCompareVersionId: also copy when the source's latest versionId differs from the one the
    ledger recorded for the destination copy (``recorded`` maps destination key -> versionId)."""

    def __init__(self, recorded: dict[str, str | None], dst_key: Callable[[str], str]) -> None:
        self.recorded = recorded
        self.dst_key = dst_key
        self.sizes = SizeOnly()

    def decide(self, src: ListedObject, dst: ListedObject | None) -> Decision:
        decision = self.sizes.decide(src, dst)
        if decision.action is Action.COPY or not src.version_id:
            return decision
        recorded = self.recorded.get(self.dst_key(src.key))
        if recorded != src.version_id:
            return Decision(Action.COPY, f"version {src.version_id} differs from the copied {recorded}", src, dst)
        return decision
