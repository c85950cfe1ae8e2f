"""``s3migrate sync``: PLAN + SEND + WORK in one process over the embedded SQLite queue and ledger.

Kill it at any moment and run it again: the plan is recomputed from both listings (the destination is
the source of truth), and unfinished multipart uploads recorded in the ledger are resumed.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from s3migrate.config import Settings
from s3migrate.endpoints.client import Endpoint, make_s3_client
from s3migrate.endpoints.failures import translate_endpoint_error
from s3migrate.endpoints.location import S3Location
from s3migrate.engine.budget import ByteBudget
from s3migrate.engine.copier import ObjectCopier
from s3migrate.engine.options import TransferOptions
from s3migrate.engine.server_side import clients_share_service
from s3migrate.errors import EndpointError, StateError
from s3migrate.ledger.base import Ledger
from s3migrate.ledger.sqlite import SqliteLedger
from s3migrate.planner.ignore import IgnoreRules
from s3migrate.planner.mapping import KeyMapping
from s3migrate.planner.plan import Planner, PlanStats
from s3migrate.planner.strategy import SizeAndVersion, comparison
from s3migrate.progress.tracker import Snapshot, Tracker
from s3migrate.queues.sqlite import SqliteQueue
from s3migrate.sqlite_db import Database
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

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failures else 0


def endpoints_from(settings: Settings, src_url: str, dst_url: str) -> tuple[Endpoint, Endpoint]:
    src = Endpoint(S3Location.parse(src_url), settings.from_profile, settings.from_region, settings.from_endpoint,
                   addressing_style=settings.from_addressing_style)
    dst = Endpoint(S3Location.parse(dst_url), settings.to_profile, settings.to_region, settings.to_endpoint,
                   addressing_style=settings.to_addressing_style)
    return src, dst


STATE_DIR = Path(".s3migrate")  # where a sync keeps its state files, under the directory it runs in


def default_state_path(src: Endpoint, dst: Endpoint, base: Path | None = None) -> Path:
    """One state file per (source, destination) pair, under ./.s3migrate/."""
    identity = "\n".join(
        [src.endpoint_url or "aws", str(src.location), dst.endpoint_url or "aws", str(dst.location)]
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:10]
    return (base or STATE_DIR) / f"{src.bucket}--{dst.bucket}-{digest}.db"


def check_both_listable(src: Endpoint, dst: Endpoint) -> None:
    """Both checks at once (a far endpoint costs a connection, a TLS handshake and a LIST each); a failing
    source is reported before a failing destination."""
    with ThreadPoolExecutor(2, thread_name_prefix="s3migrate-preflight") as pool:
        checks = [pool.submit(check_listable, src, "source"), pool.submit(check_listable, dst, "destination")]
    for check in checks:
        check.result()


def check_listable(endpoint: Endpoint, where: str) -> None:
    """Fail fast, with one clear line, when a bucket cannot be listed (missing, denied, unreachable)."""
    client = make_s3_client(endpoint, max_attempts=2, connect_timeout=5, read_timeout=15, retry_mode="standard")
    try:
        client.list_objects_v2(Bucket=endpoint.bucket, Prefix=endpoint.location.prefix, MaxKeys=1)
    except Exception as exc:
        raise translate_endpoint_error(exc, f"{where} {endpoint.describe()}") from None


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

    def __init__(self, settings: Settings, src_url: str, dst_url: str) -> None:
        self.settings = settings
        self.src, self.dst = endpoints_from(settings, src_url, dst_url)
        self.ignore = IgnoreRules.from_file(settings.ignore_file) if settings.ignore_file else IgnoreRules()
        self.state_path = settings.state or default_state_path(self.src, self.dst)
        self.tracker = Tracker()
        self.cancelled = threading.Event()
        self._worker: Worker | None = None
        self._queue: SqliteQueue | None = None
        pool = settings.workers * settings.threads + settings.workers + 4
        self.src_client = make_s3_client(self.src, max_pool_connections=pool)
        self.dst_client = make_s3_client(self.dst, max_pool_connections=pool)
        self.same_service = clients_share_service(self.src_client, self.src.endpoint_url, self.dst_client,
                                                  self.dst.endpoint_url)
        if self.same_service:
            KeyMapping.folders(self.src.location, self.dst.location).check_not_inside_source(self.ignore)

    def preflight(self) -> None:
        check_both_listable(self.src, self.dst)

    def planner(self, ledger: Ledger | None = None) -> Planner:
        mapping = KeyMapping.folders(self.src.location, self.dst.location)
        planner = Planner(self.src_client, self.dst_client, mapping, self.ignore, list_width=self.settings.list_width,
                          strategy=comparison(self.settings.compare))
        if self.settings.jobsender_compare_version_id:
            recorded = dict(ledger.destination_keys(self.dst.bucket)) if ledger is not None else {}
            planner.strategy = SizeAndVersion(recorded, mapping.dst_key, planner.strategy)
            planner.list_versions = True
        return planner

    def dry_run(self) -> PlanStats:
        self.preflight()
        ledger = SqliteLedger(Database(self.state_path)) if self.state_path.exists() else None
        planner = self.planner(ledger)
        try:
            for _ in planner.decisions():
                pass
        finally:
            if ledger is not None:
                ledger.close()
        return planner.stats

    def cancel(self) -> None:
        """Stop taking work; parts in flight finish, unfinished uploads stay resumable."""
        self.cancelled.set()
        if self._worker is not None:
            self._worker.cancelled.set()
        if self._queue is not None:
            self._queue.wake_receivers()

    def run(self, confirm: Callable[[PlanStats], bool] | None = None) -> SyncReport:
        self.preflight()
        with exclusive(self.state_path):
            db = Database(self.state_path, owned=True)  # under exclusive(): no other process writes to it
            queue = self._queue = SqliteQueue(db)
            ledger = SqliteLedger(db)
            try:
                return self._run(queue, ledger, confirm)
            finally:
                queue.close()
                ledger.close()

    def _run(self, queue: SqliteQueue, ledger: SqliteLedger, confirm: Callable[[PlanStats], bool] | None) -> SyncReport:
        settings = self.settings
        queue.purge()  # leftovers of an interrupted run: the new plan recreates whatever is still missing
        if settings.clean_unfinished_upload:
            self._abort_unfinished_uploads()
        planner = self.planner(ledger)
        budget = ByteBudget(settings.memory_budget)
        copier = ObjectCopier(
            self.src_client, self.dst_client, TransferOptions.from_settings(settings), budget,
            part_workers=settings.workers * settings.threads,
            same_service=self.same_service,
        )
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
            worker.run(finished=planned.is_set)
            planned.wait()
        finally:
            copier.close()
        if producer_error:
            raise producer_error[0]
        snapshot = self.tracker.snapshot()
        return SyncReport(
            plan=planner.stats,
            progress=snapshot,
            interrupted=self.cancelled.is_set(),
            state_path=self.state_path,
            failures=snapshot.failures,
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
