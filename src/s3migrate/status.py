"""``s3migrate status``: what the ledger (and the queue) says, like the original's analysis tool."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from s3migrate.ledger.base import JobState, Ledger
from s3migrate.queues.base import QueueCounts, WorkQueue


@dataclass
class StatusReport:
    objects: dict[str, int]
    bytes: dict[str, int]
    retries: int
    slowest: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    throughput: list[dict[str, Any]] = field(default_factory=list)  # bytes completed per minute
    queue: dict[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_status(ledger: Ledger, queue: WorkQueue | None = None, *, top: int = 10) -> StatusReport:
    records = list(ledger.records())
    objects = Counter(r.state.value for r in records)
    sizes: Counter[str] = Counter()
    per_minute: Counter[int] = Counter()
    for record in records:
        sizes[record.state.value] += record.size
        if record.state is JobState.DONE and record.end_time:
            per_minute[int(record.end_time // 60) * 60] += record.size
    done = [r for r in records if r.state is JobState.DONE and r.total_spent_time is not None]
    slowest = sorted(done, key=lambda r: r.total_spent_time or 0, reverse=True)[:top]
    failed = [r for r in records if r.state is JobState.FAILED]
    counts: QueueCounts | None = queue.counts() if queue is not None else None
    return StatusReport(
        objects={state.value: objects.get(state.value, 0) for state in JobState},
        bytes={state.value: sizes.get(state.value, 0) for state in JobState},
        retries=sum(max(r.try_times - 1, 0) for r in records),
        slowest=[{"key": r.key, "size": r.size, "seconds": r.total_spent_time, "tries": r.try_times}
                 for r in slowest],
        failed=[{"key": r.key, "error": r.last_error, "tries": r.try_times} for r in failed[:100]],
        throughput=[{"minute": minute, "bytes": per_minute[minute]} for minute in sorted(per_minute)[-60:]],
        queue={"visible": counts.visible, "in_flight": counts.in_flight, "dead_letters": counts.dead}
        if counts else None,
    )
