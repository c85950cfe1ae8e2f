"""Cluster mode: ``send`` (the jobsender) and ``work`` (a worker) over any queue and ledger backend.

The control plane (SQS, DynamoDB, SSM) uses the process's own AWS identity and the standard botocore
settings (profiles, regions, ``AWS_ENDPOINT_URL_SQS`` ...). Object access follows the original ``JobType``:
with PUT the worker's identity reads the source and the stored credentials write the destination; with GET
it is the other way round. Stored credentials come from an SSM SecureString
(``{"aws_access_key_id", "aws_secret_access_key", "region", "endpoint_url"?}``), or a profile, or the environment.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from s3migrate.config import Settings
from s3migrate.endpoints.client import Credentials, Endpoint, make_s3_client
from s3migrate.endpoints.failures import describe
from s3migrate.endpoints.location import S3Location
from s3migrate.engine.budget import ByteBudget
from s3migrate.engine.copier import ObjectCopier
from s3migrate.engine.options import TransferOptions
from s3migrate.engine.server_side import clients_share_service
from s3migrate.errors import ConfigError, EndpointError, S3MigrateError
from s3migrate.jobs.codec import decode_message
from s3migrate.jobs.layout import PartLayout
from s3migrate.ledger.base import Ledger
from s3migrate.ledger.dynamodb import DynamoLedger
from s3migrate.ledger.sqlite import SqliteLedger
from s3migrate.planner.ignore import IgnoreRules
from s3migrate.planner.mapping import KeyMapping, parse_pairs, read_pairs_file
from s3migrate.planner.plan import Planner, PlanStats
from s3migrate.planner.strategy import SizeAndVersion, comparison
from s3migrate.progress.tracker import Tracker
from s3migrate.queues.base import WorkQueue
from s3migrate.queues.sqlite import SqliteQueue
from s3migrate.queues.sqs import SqsQueue
from s3migrate.sqlite_db import Database
from s3migrate.sync import check_both_listable
from s3migrate.worker.loop import Worker, WorkerSettings
from s3migrate.worker.sender import send_jobs

log = logging.getLogger(__name__)


class QueueBusyError(S3MigrateError):
    """The queue still has work; the original jobsender refused to send in that case too."""


def _aws_client(service: str, connections: int = 10) -> Any:
    """SQS, DynamoDB and SSM clients: botocore's standard retries, and a connection for each worker thread (a
    smaller pool makes every thread past it open and drop a connection per call, with a warning each time)."""
    config = Config(retries={"mode": "standard"}, max_pool_connections=max(10, connections))
    try:
        return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]
    except BotoCoreError as exc:
        raise EndpointError(f"{service}: {describe(exc)} (set AWS_DEFAULT_REGION or a profile)") from None


def _sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///PATH`` URL. Its folder must exist (a typo must not start a new, empty ledger
    elsewhere); query strings are not understood, so they are refused rather than made part of the name."""
    raw = url[len("sqlite:///"):]
    if "?" in raw or "#" in raw:
        raise ConfigError(f"{url}: a sqlite:/// URL takes a path only, no query string or fragment")
    if not raw:
        raise ConfigError(f"{url}: no path after sqlite:///")
    path = Path(raw)
    if not path.parent.is_dir():
        raise ConfigError(f"{url}: the folder {path.parent} does not exist")
    return path


def open_queue(url: str, connections: int = 10, *, create: bool = True) -> WorkQueue:
    """``sqlite:///PATH`` | ``sqs://NAME`` | ``https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`` | a bare name (SQS).
    ``connections``: threads that will use it at once. ``create``: False for read-only commands."""
    if url.startswith("sqlite:///"):
        return SqliteQueue(Database(_sqlite_path(url), create=create), max_receives=0)
    if url.startswith("sqs://"):
        return SqsQueue.open(_aws_client("sqs", connections), url[len("sqs://"):])
    if url.startswith(("https://", "http://")) or "://" not in url:
        return SqsQueue.open(_aws_client("sqs", connections), url)
    raise ConfigError(f"unknown queue {url!r} (use sqlite:///PATH, sqs://NAME or an SQS queue URL)")


def open_ledger(url: str, connections: int = 10, *, create: bool = True) -> Ledger:
    """``sqlite:///PATH`` | ``dynamodb://TABLE`` | a bare table name (DynamoDB). ``connections``: threads that
    will use it at once. ``create``: False for read-only commands."""
    if url.startswith("sqlite:///"):
        return SqliteLedger(Database(_sqlite_path(url), create=create))
    table = url[len("dynamodb://"):] if url.startswith("dynamodb://") else url
    if "://" in table or not table:
        raise ConfigError(f"unknown ledger {url!r} (use sqlite:///PATH or dynamodb://TABLE)")
    client = _aws_client("dynamodb", connections)
    try:
        client.describe_table(TableName=table)
    except ClientError as exc:
        raise EndpointError(f"DynamoDB table {table!r}: {describe(exc)}") from None
    except BotoCoreError as exc:
        raise EndpointError(f"DynamoDB table {table!r}: {describe(exc)}") from None
    return DynamoLedger(client, table)


def ssm_parameter(name: str, *, decrypt: bool = False) -> str:
    try:
        response = _aws_client("ssm").get_parameter(Name=name, WithDecryption=decrypt)
    except (ClientError, BotoCoreError) as exc:
        raise ConfigError(f"SSM parameter {name!r}: {describe(exc)}") from None
    return str(response["Parameter"]["Value"])


def stored_credentials(settings: Settings) -> tuple[Credentials, str | None, str | None] | None:
    """The other account's keys, region and endpoint from the SSM SecureString, if one is configured. The keys
    reload themselves from the parameter (about once a minute), so rotating it needs no restart."""
    if not settings.ssm_parameter_credentials:
        return None
    name = settings.ssm_parameter_credentials

    def read() -> tuple[Credentials, dict[str, Any]]:
        text = ssm_parameter(name, decrypt=True)
        try:
            data = json.loads(text)
            keys = Credentials(str(data["aws_access_key_id"]), str(data["aws_secret_access_key"]),
                               data.get("aws_session_token"), reload=lambda: read()[0])
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ConfigError(
                f"SSM parameter {name!r} is not "
                '{"aws_access_key_id": ..., "aws_secret_access_key": ..., "region": ...}'
            ) from None
        return keys, data

    keys, data = read()
    return keys, data.get("region"), data.get("endpoint_url")


def account_endpoints(settings: Settings, src_bucket: str = "source", dst_bucket: str = "destination") -> tuple[
    Endpoint, Endpoint
]:
    """How to reach the source and destination accounts, following JobType and the stored credentials."""
    src = Endpoint(S3Location(src_bucket), settings.from_profile, settings.from_region, settings.from_endpoint,
                   addressing_style=settings.from_addressing_style)
    dst = Endpoint(S3Location(dst_bucket), settings.to_profile, settings.to_region, settings.to_endpoint,
                   addressing_style=settings.to_addressing_style)
    stored = stored_credentials(settings)
    if stored is not None:
        keys, region, endpoint_url = stored
        if settings.job_type == "PUT":
            dst = replace(dst, profile=None, region=region or dst.region,
                          endpoint_url=endpoint_url or dst.endpoint_url, credentials=keys)
        else:
            src = replace(src, profile=None, region=region or src.region,
                          endpoint_url=endpoint_url or src.endpoint_url, credentials=keys)
    return src, dst


def bucket_pairs(settings: Settings, pairs_file: Path | None, src_url: str | None, dst_url: str | None) -> list[
    KeyMapping
]:
    if pairs_file is not None and src_url:
        raise ConfigError("give either --pairs or SRC DST, not both")
    if pairs_file is not None:
        return read_pairs_file(pairs_file, posix=settings.original_key_mapping)
    if src_url and dst_url:
        return [KeyMapping.folders(S3Location.parse(src_url), S3Location.parse(dst_url))]
    if src_url:
        raise ConfigError("DST is missing")
    if settings.ssm_parameter_bucket:
        name = settings.ssm_parameter_bucket
        return parse_pairs(ssm_parameter(name), f"SSM parameter {name}", posix=settings.original_key_mapping)
    raise ConfigError("nothing to send: give --pairs PAIRS.json, SRC DST, or ssm_parameter_bucket")


def ignore_rules(settings: Settings) -> IgnoreRules:
    patterns: list[str] = []
    if settings.ignore_file:
        patterns += IgnoreRules.from_file(settings.ignore_file).patterns
    if settings.ssm_parameter_ignore_list:
        patterns += ssm_parameter(settings.ssm_parameter_ignore_list).splitlines()
    return IgnoreRules(patterns)


@dataclass
class SendReport:
    stats: list[tuple[KeyMapping, PlanStats]] = field(default_factory=list)
    jobs: int = 0
    bytes: int = 0
    largest: int = 0
    worker_memory: int = 0
    stopped: bool = False  # cancelled (a deadline) before every pair was compared to the end


def _drop_test_event(queue: WorkQueue) -> bool:
    """True when the only message left is an ``s3:TestEvent`` (it is removed): it does not make the queue busy."""
    messages = queue.receive(1, visibility_timeout=10)
    for message in messages:
        try:
            if decode_message(message.body, ("-", "")).ignored == "s3:TestEvent":
                queue.ack(message.receipt)
                return True
        except S3MigrateError:
            pass
        queue.change_visibility(message.receipt, 0)
    return False


def run_send(
    settings: Settings, pairs: list[KeyMapping], *, force: bool = False, cancelled: threading.Event | None = None
) -> SendReport:
    """The jobsender: refuse while the queue is busy, then plan every pair and enqueue what is missing.

    ``cancelled`` stops it between jobs (what was sent stays sent; the next run compares again)."""
    if not settings.queue or not settings.ledger:
        raise ConfigError("--queue and --ledger are required (or sqs_queue_name / table_queue_name)")
    queue, ledger = open_queue(settings.queue), open_ledger(settings.ledger)
    try:
        counts = queue.counts()
        if counts.busy and not force:
            only_one = counts.visible + counts.in_flight == 1 and counts.visible == 1
            if not (only_one and _drop_test_event(queue)):
                raise QueueBusyError(
                    f"the queue still has {counts.visible} waiting and {counts.in_flight} in-flight jobs; "
                    "wait for the workers or pass --force"
                )
        ignore = ignore_rules(settings)
        report = SendReport()
        tracker = Tracker()
        for mapping in pairs:
            if cancelled is not None and cancelled.is_set():
                report.stopped = True
                break
            src, dst = account_endpoints(settings, mapping.src_bucket, mapping.dst_bucket)
            src = replace(src, location=S3Location(mapping.src_bucket, mapping.src_list_prefix))
            dst = replace(dst, location=S3Location(mapping.dst_bucket, mapping.dst_list_prefix))
            src_client, dst_client = make_s3_client(src), make_s3_client(dst)
            if clients_share_service(src_client, src.endpoint_url, dst_client, dst.endpoint_url):
                mapping.check_not_inside_source(ignore)
            check_both_listable(src, dst)
            planner = Planner(src_client, dst_client, mapping, ignore, list_width=settings.list_width,
                              strategy=comparison(settings.compare))
            if settings.jobsender_compare_version_id:
                recorded = dict(ledger.destination_keys(mapping.dst_bucket))
                planner.strategy = SizeAndVersion(recorded, mapping.dst_key, planner.strategy)
                planner.list_versions = True
            report.jobs += send_jobs(planner.jobs(), ledger, queue, tracker, cancelled)
            report.stopped = cancelled is not None and cancelled.is_set()
            report.stats.append((mapping, planner.stats))
            report.bytes += planner.stats.bytes_to_copy
            report.largest = max(report.largest, planner.stats.largest)
        part = PartLayout.for_size(report.largest, settings.chunk_size).part_size if report.largest else 0
        report.worker_memory = max(min(settings.workers * settings.threads * max(part, settings.chunk_size),
                                       settings.max_memory), part)
        return report
    finally:
        queue.close()
        ledger.close()


@dataclass
class WorkRun:
    """One ``work`` process: N worker threads over the queue until stopped or idle."""

    settings: Settings
    exit_when_idle: float | None = None
    tracker: Tracker = field(default_factory=Tracker)
    cancelled: threading.Event = field(default_factory=threading.Event)
    _worker: Worker | None = None

    def cancel(self) -> None:
        self.cancelled.set()
        if self._worker is not None:
            self._worker.cancelled.set()

    def run(self) -> Tracker:
        settings = self.settings
        if not settings.queue or not settings.ledger:
            raise ConfigError("--queue and --ledger are required (or sqs_queue_name / table_queue_name)")
        threads = settings.workers + 2  # the workers, the heartbeat, the metrics
        queue, ledger = open_queue(settings.queue, threads), open_ledger(settings.ledger, threads)
        copier = build_copier(settings)
        worker = Worker(
            queue, ledger, copier,
            WorkerSettings.from_settings(settings, receive_wait=10.0 if isinstance(queue, SqsQueue) else 0.2),
            self.tracker,
        )
        self._worker = worker
        if self.cancelled.is_set():
            worker.cancelled.set()
        started = time.monotonic()
        try:
            worker.run(finished=lambda: False, idle_timeout=self.exit_when_idle)
        finally:
            copier.close()
            queue.close()
            ledger.close()
        log.info("worker stopped after %.0fs", time.monotonic() - started)
        return self.tracker


def build_copier(settings: Settings) -> ObjectCopier:
    """The object copier of a cluster worker (``work`` or the Lambda worker), with its clients and budget."""
    src, dst = account_endpoints(settings)
    pool = settings.workers * settings.threads + settings.workers + 4
    src_client = make_s3_client(src, max_pool_connections=pool)
    dst_client = make_s3_client(dst, max_pool_connections=pool)
    return ObjectCopier(
        src_client, dst_client, TransferOptions.from_settings(settings), ByteBudget(settings.memory_budget),
        part_workers=settings.workers * settings.threads,
        same_service=clients_share_service(src_client, src.endpoint_url, dst_client, dst.endpoint_url),
    )
