"""Sync strategies: given a source object and its destination counterpart, copy or skip, and why."""

from __future__ import annotations

import enum
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
