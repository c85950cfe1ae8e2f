"""Sync strategies: given a source object and its destination counterpart, copy or skip, and why."""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from s3migrate.jobs.job import Job
from s3migrate.planner.listing import ListedObject


class Action(enum.Enum):
    COPY = "copy"
    SKIP = "skip"
    # To copy, but left as it is, with the reason: archived and not restored (a later run copies it), or a
    # destination history that is not the beginning of the source's (--all-versions).
    LEFT = "left"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    src: ListedObject
    dst: ListedObject | None
    chain: tuple[Job, ...] = ()  # --all-versions: the versions of this key to copy, oldest first


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


class SizeOrNewer:
    """``--compare newer`` (aws s3 sync's rule): also copy an object of the same size whose source was modified
    after the destination's copy was written, so content overwritten since the last run is copied again. A
    copy's LastModified is the time it was written, so an unchanged object stays skipped."""

    def __init__(self) -> None:
        self.sizes = SizeOnly()

    def decide(self, src: ListedObject, dst: ListedObject | None) -> Decision:
        decision = self.sizes.decide(src, dst)
        if decision.action is Action.COPY or dst is None:
            return decision
        src_time, dst_time = _epoch(src.last_modified), _epoch(dst.last_modified)
        if src_time is not None and dst_time is not None and src_time > dst_time:
            return Decision(Action.COPY, f"newer at source ({src.last_modified} > {dst.last_modified})", src, dst)
        return decision


def _epoch(text: str | None) -> float | None:
    """A listing's LastModified (``2024-05-01T12:00:00.000Z``) in seconds; None when absent or unreadable."""
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:  # S3 lists UTC
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def comparison(name: str) -> Strategy:
    """The strategy for ``--compare``: ``size`` (the original's) or ``newer``."""
    return SizeOrNewer() if name == "newer" else SizeOnly()


class SizeAndVersion:
    """JobsenderCompareVersionId: also copy when the source's latest versionId differs from the one the
    ledger recorded for the destination copy (``recorded`` maps destination key -> versionId)."""

    def __init__(self, recorded: dict[str, str | None], dst_key: Callable[[str], str],
                 base: Strategy | None = None) -> None:
        self.recorded = recorded
        self.dst_key = dst_key
        self.sizes = base or SizeOnly()

    def decide(self, src: ListedObject, dst: ListedObject | None) -> Decision:
        decision = self.sizes.decide(src, dst)
        if decision.action is Action.COPY or not src.version_id:
            return decision
        recorded = self.recorded.get(self.dst_key(src.key))
        if recorded != src.version_id:
            return Decision(Action.COPY, f"version {src.version_id} differs from the copied {recorded}", src, dst)
        return decision
