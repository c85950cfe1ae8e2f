"""One wiring for every mode: endpoints, S3 stores, planner and copier built from Settings.

``sync`` (one machine), ``send`` and ``work`` (a cluster) and both Lambda handlers build what they use here, so
pool sizes, the endpoint pair's abilities (server-side copy), the comparison strategy and the credential rules
(``JobType``, keys stored in SSM) are decided once. Queues and ledgers are opened from their URLs by their own
packages (:func:`s3migrate.queues.open.open_queue`, :func:`s3migrate.ledger.open.open_ledger`).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from s3migrate.config import Settings
from s3migrate.endpoints.client import Credentials, Endpoint, make_s3_client
from s3migrate.endpoints.control import ssm_parameter
from s3migrate.endpoints.failures import translate_endpoint_error
from s3migrate.endpoints.local import ListingProblem, LocalStore
from s3migrate.endpoints.location import S3Location, parse_location
from s3migrate.engine.budget import ByteBudget
from s3migrate.engine.copier import ObjectCopier
from s3migrate.engine.options import TransferOptions
from s3migrate.engine.server_side import clients_share_service
from s3migrate.errors import ConfigError, EndpointError
from s3migrate.ledger.base import Ledger
from s3migrate.pacing import TokenBucket
from s3migrate.planner.archive import RestorePolicy
from s3migrate.planner.filters import FilterRule, KeyFilter, read_files_from
from s3migrate.planner.history import require_versioning
from s3migrate.planner.ignore import IgnoreRules
from s3migrate.planner.inventory import inventory_listing, read_manifest
from s3migrate.planner.listing import ListedObject
from s3migrate.planner.mapping import KeyMapping, parse_pairs, read_pairs_file
from s3migrate.planner.plan import Planner
from s3migrate.planner.strategy import SizeAndVersion, comparison


def folder_endpoints(settings: Settings, src_url: str, dst_url: str) -> tuple[Endpoint, Endpoint]:
    """The ``SRC DST`` form: both sides named by the user (s3:// URLs or local folders), each with its own
    profile, region and endpoint."""
    src, dst = sides(settings, parse_location(src_url), parse_location(dst_url))
    if src.location.local and dst.location.local:
        raise ConfigError("both SRC and DST are local folders: s3migrate copies to or from S3 (use cp -r or rsync)")
    return src, dst


def sides(settings: Settings, src: S3Location, dst: S3Location) -> tuple[Endpoint, Endpoint]:
    """Both endpoints with everything the settings say about reaching each: profile, region, endpoint URL,
    addressing, requester pays, anonymous reads and SSE-C keys."""
    return (
        Endpoint(src, settings.from_profile, settings.from_region, settings.from_endpoint,
                 addressing_style=settings.from_addressing_style, request_payer=settings.from_request_payer,
                 unsigned=settings.from_no_sign_request,
                 sse_c_key=read_key_file(settings.from_sse_c_key, "from_sse_c_key")),
        Endpoint(dst, settings.to_profile, settings.to_region, settings.to_endpoint,
                 addressing_style=settings.to_addressing_style, request_payer=settings.to_request_payer,
                 sse_c_key=read_key_file(settings.sse_c_key, "sse_c_key")),
    )


def read_key_file(path: Path | None, setting: str) -> bytes | None:
    """A 256-bit SSE-C key from a file: 32 bytes, or their base64. Errors never show the file's content."""
    if path is None:
        return None
    where = f"--{setting.replace('_', '-')} ({setting}) {path}"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the key file ({exc.strerror or exc})") from None
    if len(data) == 32:
        return data
    try:
        decoded = base64.b64decode(data.strip(), validate=True)
    except ValueError:
        decoded = b""
    if len(decoded) != 32:
        raise ConfigError(f"{where}: an SSE-C key file holds 32 bytes (a 256-bit key) or their base64")
    return decoded


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
    src, dst = sides(settings, S3Location(src_bucket), S3Location(dst_bucket))
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


def check_both_listable(src: Endpoint, dst: Endpoint) -> None:
    """Both checks at once (a far endpoint costs a connection, a TLS handshake and a LIST each); a failing
    source is reported before a failing destination."""
    with ThreadPoolExecutor(2, thread_name_prefix="s3migrate-preflight") as pool:
        checks = [pool.submit(check_listable, src, "source"), pool.submit(check_listable, dst, "destination")]
    for check in checks:
        check.result()


def check_listable(endpoint: Endpoint, where: str) -> None:
    """Fail fast, with one clear line, when a bucket cannot be listed (missing, denied, unreachable)."""
    if endpoint.location.local:
        check_folder(endpoint.bucket, where)
        return
    client = make_s3_client(endpoint, max_attempts=2, connect_timeout=5, read_timeout=15, retry_mode="standard")
    try:
        client.list_objects_v2(Bucket=endpoint.bucket, Prefix=endpoint.location.prefix, MaxKeys=1)
    except Exception as exc:
        raise translate_endpoint_error(exc, f"{where} {endpoint.describe()}") from None


def check_folder(path: str, where: str) -> None:
    """A source folder must exist and be readable; a destination folder is made (as ``aws s3 sync`` does) and
    must be writable."""
    if where == "source":
        if not os.path.isdir(path):
            raise EndpointError(f"source {path}: " + ("not a folder (copy one file with s3migrate cp)"
                                                      if os.path.exists(path) else "no such folder"))
        if not os.access(path, os.R_OK | os.X_OK):
            raise EndpointError(f"source {path}: permission denied")
        return
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise EndpointError(f"destination {path}: cannot make the folder ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise EndpointError(f"destination {path}: permission denied (cannot write there)")


def make_store(endpoint: Endpoint, settings: Settings, hidden: frozenset[str] = frozenset(), **pool: Any) -> Any:
    """The ObjectStore of an endpoint: a local folder, or an S3 client (``pool``: its connection settings)."""
    if endpoint.location.local:
        return LocalStore(follow_symlinks=settings.follow_symlinks, hidden=hidden)
    return make_s3_client(endpoint, tps_limit=settings.tps_limit, **pool)


@dataclass(frozen=True)
class Stores:
    """The two S3 clients of a run, and whether they are one service (so server-side copy may work)."""

    src: Endpoint
    dst: Endpoint
    src_client: Any
    dst_client: Any
    same_service: bool

    def source_problems(self) -> list[ListingProblem]:
        """What a local source's last listing could not offer as objects (none for a bucket)."""
        return list(self.src_client.problems) if isinstance(self.src_client, LocalStore) else []


def open_stores(settings: Settings, src: Endpoint, dst: Endpoint, hidden: frozenset[str] = frozenset()) -> Stores:
    """Both stores; an S3 client gets a connection for every part in flight (workers x threads), one for each
    worker there may be, and a few to spare. ``hidden``: paths a local folder's listing leaves out (the run's state
    folder)."""
    pool = settings.workers * settings.threads + settings.worker_ceiling + 4
    src_client = make_store(src, settings, hidden, max_pool_connections=pool)
    dst_client = make_store(dst, settings, hidden, max_pool_connections=pool)
    # One request to the destination names the source: not with a local folder, SSE-C keys (each side's client
    # carries its own) or requester pays on one side only.
    possible = not (src.location.local or dst.location.local or src.sse_c_key or dst.sse_c_key) \
        and src.request_payer == dst.request_payer
    return Stores(src, dst, src_client, dst_client,
                  possible and clients_share_service(src_client, src.endpoint_url, dst_client, dst.endpoint_url))


def build_copier(settings: Settings, stores: Stores) -> ObjectCopier:
    """The object copier: the stores, the transfer options, one byte budget and one part pool for the process."""
    return ObjectCopier(
        stores.src_client, stores.dst_client, TransferOptions.from_settings(settings),
        ByteBudget(settings.memory_budget), part_workers=settings.workers * settings.threads,
        same_service=stores.same_service,
        bandwidth=TokenBucket(settings.bwlimit, burst=2.0) if settings.bwlimit else None,
    )


def worker_copier(settings: Settings) -> ObjectCopier:
    """The copier of a cluster or Lambda worker: the accounts follow JobType and the stored credentials."""
    return build_copier(settings, open_stores(settings, *account_endpoints(settings)))


def build_planner(settings: Settings, stores: Stores, mapping: KeyMapping, ignore: IgnoreRules,
                  ledger: Ledger | None) -> Planner:
    """The planner of one mapping, with the comparison asked for (and JobsenderCompareVersionId's versions)."""
    planner = Planner(stores.src_client, stores.dst_client, mapping, ignore, list_width=settings.list_width,
                      strategy=comparison(settings.compare or default_compare(stores)), key_filter=key_filter(settings),
                      restore=restore_policy(settings))
    if settings.from_inventory:
        planner.source_listing = inventory_side(settings.from_inventory, "--from-inventory", stores.src_client,
                                                mapping.src_bucket, mapping.src_list_prefix, mapping.src_cut)
    if settings.to_inventory:
        planner.destination_listing = inventory_side(settings.to_inventory, "--to-inventory", stores.dst_client,
                                                     mapping.dst_bucket, mapping.dst_list_prefix, mapping.dst_cut)
    if settings.all_versions:
        if stores.src.location.local or stores.dst.location.local:
            raise ConfigError("--all-versions copies the version histories of buckets, not of local folders")
        require_versioning(stores.dst_client, mapping.dst_bucket)
        planner.all_versions = True
        return planner
    if settings.jobsender_compare_version_id:
        recorded = dict(ledger.destination_keys(mapping.dst_bucket)) if ledger is not None else {}
        planner.strategy = SizeAndVersion(recorded, mapping.dst_key, planner.strategy)
        planner.list_versions = True
    return planner


def inventory_side(where: str, flag: str, client: Any, bucket: str, prefix: str, cut: int) -> Callable[
    [], Iterator[ListedObject]
]:
    """One side's objects from its S3 Inventory; an inventory of another bucket is refused."""
    manifest = read_manifest(where, client)
    if manifest.source_bucket and manifest.source_bucket != bucket:
        raise ConfigError(f"{flag} {where} is the inventory of bucket {manifest.source_bucket}, not of {bucket}")
    return lambda: inventory_listing(manifest, client, prefix, cut)


def restore_policy(settings: Settings) -> RestorePolicy:
    """What the plan does with archived source objects: report them, or also ask for their restore."""
    return RestorePolicy(settings.restore_days, settings.restore_tier)


def default_compare(stores: Stores) -> str:
    """``size`` between buckets (the original's rule); ``newer`` with a local folder, as aws s3 sync: a file
    edited in place often keeps its size, and a downloaded file carries its object's LastModified."""
    return "newer" if stores.src.location.local or stores.dst.location.local else "size"


def bucket_pairs(settings: Settings, pairs_file: Path | None, src_url: str | None, dst_url: str | None) -> list[
    KeyMapping
]:
    """What ``send`` compares: a pairs file, ``SRC DST``, or the pairs in ``ssm_parameter_bucket``."""
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


def key_filter(settings: Settings) -> KeyFilter:
    """The filters of the settings (``--exclude``/``--include``, sizes, ages, ``--files-from``)."""
    return KeyFilter(
        rules=tuple(FilterRule.parse(rule) for rule in settings.filters),
        min_size=settings.min_size, max_size=settings.max_size, min_age=settings.min_age, max_age=settings.max_age,
        files=read_files_from(settings.files_from) if settings.files_from else None,
    )


def ignore_rules(settings: Settings) -> IgnoreRules:
    """The ignore file and the ignore list stored in SSM, together."""
    patterns: list[str] = []
    if settings.ignore_file:
        patterns += IgnoreRules.from_file(settings.ignore_file).patterns
    if settings.ssm_parameter_ignore_list:
        patterns += ssm_parameter(settings.ssm_parameter_ignore_list).splitlines()
    return IgnoreRules(patterns)
