"""``s3migrate sync``: PLAN + SEND + WORK in one process over the embedded SQLite queue and ledger.

Kill it at any moment and run it again: the plan is recomputed from both listings (the destination is
the source of truth), and unfinished multipart uploads recorded in the ledger are resumed.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from s3migrate.config import Settings
from s3migrate.endpoints.client import Endpoint
from s3migrate.endpoints.location import S3Location
from s3migrate.errors import ConfigError, EndpointError, StateError
from s3migrate.ledger.base import Ledger
from s3migrate.ledger.sqlite import SqliteLedger
from s3migrate.mirror import MirrorReport, delete_keys, destination_extras
from s3migrate.planner.ignore import IgnoreRules
from s3migrate.planner.listing import ListedObject
from s3migrate.planner.mapping import KeyMapping
from s3migrate.planner.plan import Planner, PlanStats, SingleObjectPlan
from s3migrate.planner.strategy import Action
from s3migrate.progress.tracker import Snapshot, Tracker
from s3migrate.queues.sqlite import SqliteQueue
from s3migrate.sqlite_db import Database
from s3migrate.window import EXIT_WINDOW, Window
from s3migrate.wiring import (
    build_copier,
    build_planner,
    check_both_listable,
    folder_endpoints,
    key_filter,
    open_stores,
    restore_policy,
)
from s3migrate.worker.loop import Worker, WorkerSettings
from s3migrate.worker.sender import send_jobs

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    plan: PlanStats
    progress: Snapshot
    interrupted: bool = False
    declined: bool = False
    state_path: Path | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)
    mirror: MirrorReport | None = None  # with --delete
    mirror_skipped: str | None = None  # why --delete deleted nothing this run
    left_out: list[tuple[str, str]] = field(default_factory=list)  # a local source's files skipped on purpose
    window: str | None = None  # --max-duration / --max-transfer ended the run (it continues next time)

    @property
    def exit_code(self) -> int:
        if self.window and not self.failures:
            return EXIT_WINDOW
        if self.interrupted:
            return 130
        failed_mirror = self.mirror is not None and bool(self.mirror.failed or self.mirror.refused)
        return 1 if self.failures or failed_mirror else 0


STATE_DIR = Path(".s3migrate")  # where a sync keeps its state files, under the directory it runs in


def state_file_stem(src: S3Location, dst: S3Location) -> str:
    """The readable part of a state file's name: ``SRCBUCKET-prefix--DSTBUCKET-prefix``."""

    def part(location: S3Location) -> str:
        if location.local:  # a folder: its own name
            return re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(location.bucket.rstrip("/")) or "root")[:60]
        prefix = re.sub(r"[^A-Za-z0-9._-]+", "_", location.prefix.strip("/"))[:60]
        return f"{location.bucket}-{prefix}" if prefix else location.bucket

    return f"{part(src)}--{part(dst)}"


def default_state_path(src: Endpoint, dst: Endpoint, base: Path | None = None) -> Path:
    """One state file per (source, destination) pair, under ./.s3migrate/, named so a person can tell which:
    ``SRCBUCKET-prefix--DSTBUCKET-prefix-HASH.db`` (the hash also covers the endpoints). A state file an older
    version named ``SRCBUCKET--DSTBUCKET-HASH.db`` is still used."""
    identity = "\n".join(
        [src.endpoint_url or "aws", str(src.location), dst.endpoint_url or "aws", str(dst.location)]
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:10]
    folder = base or STATE_DIR
    named = folder / f"{state_file_stem(src.location, dst.location)}-{digest}.db"
    legacy = folder / f"{src.bucket}--{dst.bucket}-{digest}.db"
    return legacy if legacy.exists() and not named.exists() else named


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """One sync per state file at a time (a second one would race the first on the same queue). The folder and
    the lock file are private to the user, as the state file is."""
    lock_path = path.with_name(path.name + ".lock")
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True)
        handle: IO[str] = os.fdopen(os.open(lock_path, os.O_CREAT | os.O_RDWR | os.O_APPEND, 0o600), "a+")
    except OSError as exc:
        raise StateError(f"cannot make the state file {path}: {exc.strerror or exc}; choose another place with "
                         "--state PATH (or run from a folder you can write)") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StateError(f"another s3migrate run is using {path}") from None
        yield
    finally:
        handle.close()


class SyncRun:
    """One ``sync`` invocation. Build it, then call :meth:`dry_run` or :meth:`run`."""

    def __init__(self, settings: Settings, src_url: str, dst_url: str, *,
                 single: tuple[str, str] | None = None) -> None:
        """``single``: (source key, destination key) of ``cp``, one object under the SRC and DST folders."""
        self.settings = settings
        self.single = single
        self.src, self.dst = folder_endpoints(settings, src_url, dst_url)
        self.ignore = IgnoreRules.from_file(settings.ignore_file) if settings.ignore_file else IgnoreRules()
        self.state_path = settings.state or default_state_path(self.src, self.dst)
        self.tracker = Tracker()
        self.cancelled = threading.Event()
        self._worker: Worker | None = None
        self._queue: SqliteQueue | None = None
        # A local folder's listing leaves out this run's own state folder (it changes while it is read).
        self.stores = open_stores(settings, self.src, self.dst,
                                  hidden=frozenset({os.path.abspath(self.state_path.parent)}))
        self.src_client, self.dst_client = self.stores.src_client, self.stores.dst_client
        if self.stores.same_service and single is None:
            KeyMapping.folders(self.src.location, self.dst.location).check_not_inside_source(self.ignore)
        elif self.stores.same_service and single is not None and self.src.bucket == self.dst.bucket \
                and single[0] == single[1]:
            raise ConfigError(f"the source and the destination are the same object (s3://{self.src.bucket}/"
                              f"{single[0]})")

    def preflight(self) -> None:
        check_both_listable(self.src, self.dst)

    def planner(self, ledger: Ledger | None = None) -> Planner | SingleObjectPlan:
        if self.single is not None:
            return SingleObjectPlan(self.src_client, self.src.bucket, self.single[0], self.dst.bucket, self.single[1],
                                    restore=restore_policy(self.settings))
        mapping = KeyMapping.folders(self.src.location, self.dst.location)
        return build_planner(self.settings, self.stores, mapping, self.ignore, ledger)

    def source_is_an_object(self) -> bool:
        """Whether SRC, taken as a folder, is really one object's key (then ``cp`` is what was meant)."""
        if self.src.location.local:
            return os.path.isfile(self.src.bucket)
        key = self.src.location.prefix.rstrip("/")
        if not key:
            return False
        try:
            self.src_client.head_object(Bucket=self.src.bucket, Key=key)
        except Exception:
            return False
        return True

    def dry_run(self, planned: list[tuple[str, int, str]] | None = None) -> PlanStats:
        """Plan only. ``planned`` collects every copy the plan makes: (relative key, size, reason)."""
        self.preflight()
        ledger = SqliteLedger(Database(self.state_path, create=False)) if self.state_path.exists() else None
        planner = self.planner(ledger)
        try:
            for decision in planner.decisions():
                if planned is not None and decision.action is Action.COPY:
                    planned.append((decision.src.key, decision.src.size, decision.reason))
        finally:
            if ledger is not None:
                ledger.close()
        return planner.stats

    def extras(self) -> list[ListedObject]:
        """What ``--delete`` would remove: destination objects under the prefix the source does not have."""
        mapping = KeyMapping.folders(self.src.location, self.dst.location)
        return list(destination_extras(self.src_client, self.dst_client, mapping, key_filter(self.settings),
                                       self.ignore))

    def _mirror(self, ledger: SqliteLedger, report: SyncReport) -> None:
        """--delete, once every copy of the run succeeded: fresh listings, --max-delete, then DeleteObjects."""
        if report.interrupted or report.declined:
            report.mirror_skipped = "the run did not finish"
            return
        if report.failures:
            failed = len(report.failures)
            report.mirror_skipped = f"{failed} {'object' if failed == 1 else 'objects'} failed to copy"
            return
        mirror = report.mirror = MirrorReport(extras=self.extras())
        unreadable = self.listing_problems()[0]
        if unreadable:  # what could not be listed would look like something to delete
            report.mirror_skipped = f"{len(unreadable)} {'path' if len(unreadable) == 1 else 'paths'} of the source " \
                                    "could not be read"
            report.mirror = None
            return
        limit = self.settings.max_delete
        if limit is not None and len(mirror.extras) > limit:
            mirror.refused = f"{len(mirror.extras)} objects would be deleted, more than --max-delete {limit}"
            return
        mapping = KeyMapping.folders(self.src.location, self.dst.location)
        sizes = {mapping.dst_key(o.key): o.size for o in mirror.extras}
        mirror.deleted, mirror.failed = delete_keys(self.dst_client, self.dst.bucket, list(sizes))
        ledger.record_deletions(self.dst.bucket, [(key, sizes.get(key, 0)) for key in mirror.deleted])

    def listing_problems(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """What a local source's last listing could not offer as objects: (failed, skipped), each (path, why)."""
        problems = self.stores.source_problems()
        failed = [(p.path, p.reason) for p in problems if not p.skipped]
        skipped = [(p.path, p.reason) for p in problems if p.skipped]
        return failed, skipped

    def cancel(self) -> None:
        """Stop taking work; parts in flight finish, unfinished uploads stay resumable."""
        self.cancelled.set()
        if self._worker is not None:
            self._worker.cancelled.set()
        if self._queue is not None:
            self._queue.wake_receivers()

    def run(self, confirm: Callable[[PlanStats], bool] | None = None,
            on_copy_start: Callable[[], None] | None = None) -> SyncReport:
        """Plan, (ask,) copy. ``on_copy_start`` runs once copying begins: after the question, so a progress
        display started there never draws over it, and rate and ETA count from there."""
        self.preflight()
        with exclusive(self.state_path):
            db = Database(self.state_path, owned=True)  # under exclusive(): no other process writes to it
            queue = self._queue = SqliteQueue(db)
            ledger = SqliteLedger(db)
            try:
                window = Window(self.tracker, self.cancel, max_duration=self.settings.max_duration,
                                max_transfer=self.settings.max_transfer)
                with window:
                    report = self._run(queue, ledger, confirm, on_copy_start)
                report.window = window.reason
                if self.settings.delete:
                    self._mirror(ledger, report)
                return report
            finally:
                queue.close()
                ledger.close()

    def _run(self, queue: SqliteQueue, ledger: SqliteLedger, confirm: Callable[[PlanStats], bool] | None,
             on_copy_start: Callable[[], None] | None = None) -> SyncReport:
        settings = self.settings
        queue.purge()  # leftovers of an interrupted run: the new plan recreates whatever is still missing
        if settings.clean_unfinished_upload:
            self._abort_unfinished_uploads()
        planner = self.planner(ledger)
        copier = build_copier(settings, self.stores)
        worker = Worker(
            queue, ledger, copier,
            # Idle workers are woken by the queue itself (work, returns, the end, cancel): no need to poll.
            WorkerSettings.from_settings(settings, receive_wait=2.0),
            self.tracker,
        )
        self._worker = worker
        if self.cancelled.is_set():
            worker.cancelled.set()
        producer_error: list[BaseException] = []
        planned = threading.Event()

        def produce() -> None:
            try:
                send_jobs(planner.jobs(), ledger, queue, self.tracker, self.cancelled)
            except BaseException as exc:
                producer_error.append(exc)
                self.cancel()
            finally:
                self.tracker.planning_finished()
                planned.set()
                queue.sender_done()

        try:
            if confirm is not None:
                produce()
                if producer_error:
                    raise producer_error[0]
                if not confirm(planner.stats):
                    queue.purge()
                    return SyncReport(planner.stats, self.tracker.snapshot(), declined=True,
                                      state_path=self.state_path)
            else:
                threading.Thread(target=produce, name="s3migrate-planner", daemon=True).start()
            self.tracker.copying_started()
            if on_copy_start is not None:
                on_copy_start()
            worker.run(finished=planned.is_set)
            planned.wait()
        finally:
            copier.close()
        if producer_error:
            raise producer_error[0]
        snapshot = self.tracker.snapshot()
        unlisted, left_out = self.listing_problems()
        return SyncReport(
            plan=planner.stats,
            progress=snapshot,
            interrupted=self.cancelled.is_set(),
            state_path=self.state_path,
            failures=snapshot.failures + unlisted,
            left_out=left_out,
        )

    def _abort_unfinished_uploads(self) -> None:
        """CleanUnfinishedUpload: abort every unfinished upload under the destination prefix."""
        client: Any = self.dst_client
        try:
            paginator = client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.dst.bucket, Prefix=self.dst.location.prefix):
                for upload in page.get("Uploads", []):
                    log.warning("aborting unfinished upload of %s", upload["Key"])
                    client.abort_multipart_upload(
                        Bucket=self.dst.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
        except Exception as exc:
            raise EndpointError(f"destination {self.dst.describe()}: cannot clean unfinished uploads: {exc}") from None
