"""Progress: one aggregator (Tracker) and renderers for terminals and logs."""

from s3migrate.progress.tracker import Snapshot, Tracker

__all__ = ["Snapshot", "Tracker"]
