"""The one place S3 clients are built, so retry, pool and checksum policy is decided once."""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import botocore.loaders
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.credentials import CredentialProvider, RefreshableCredentials
from botocore.exceptions import BotoCoreError
from botocore.handlers import add_expect_header

from s3migrate.endpoints.failures import describe
from s3migrate.endpoints.lean import wrap
from s3migrate.endpoints.location import S3Location
from s3migrate.errors import EndpointError
from s3migrate.pacing import TokenBucket

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Credentials:
    """Explicit keys for the other account (from an SSM SecureString), instead of a profile. ``reload`` reads
    them again (from SSM): clients then re-read them about once a minute, so rotated keys reach a running fleet."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    reload: Callable[[], Credentials] | None = field(default=None, repr=False, compare=False, hash=False)


RELOAD_EVERY = 60.0  # seconds between reads of reloadable keys (botocore refreshes them ahead of their expiry)


class _ReloadedKeys(CredentialProvider):
    """Keys that botocore refreshes by calling ``Credentials.reload``. botocore starts a refresh when fewer than
    15 minutes remain (advisory, off the request path when it can), so an expiry 16 minutes ahead makes it
    re-read the keys about once a minute."""

    METHOD = "s3migrate-reloaded"
    CANONICAL_NAME = "s3migrate-reloaded"

    def __init__(self, keys: Credentials) -> None:
        super().__init__()
        self.keys = keys

    def _metadata(self, keys: Credentials) -> dict[str, Any]:
        expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=15, seconds=RELOAD_EVERY)
        return {"access_key": keys.access_key_id, "secret_key": keys.secret_access_key,
                "token": keys.session_token, "expiry_time": expiry.isoformat()}

    def _refresh(self) -> dict[str, Any]:
        assert self.keys.reload is not None
        try:
            self.keys = self.keys.reload()
        except Exception as exc:  # keep the keys we have; the next refresh tries again
            log.warning("could not read the stored credentials again: %s", describe(exc))
        return self._metadata(self.keys)

    def load(self) -> RefreshableCredentials:
        return RefreshableCredentials.create_from_metadata(self._metadata(self.keys), self._refresh, self.METHOD)


@dataclass(frozen=True)
class Endpoint:
    """A bucket location plus how to reach it (profile, region, S3-compatible endpoint URL)."""

    location: S3Location
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    credentials: Credentials | None = field(default=None, repr=False)
    addressing_style: str = "auto"  # auto | path | virtual (see addressing_style())
    request_payer: bool = False  # every request carries x-amz-request-payer: requester
    unsigned: bool = False  # anonymous requests to a public bucket: no credentials looked up, nothing signed
    sse_c_key: bytes | None = field(default=None, repr=False)  # SSE-C: every object request carries this key

    @property
    def bucket(self) -> str:
        return self.location.bucket

    def describe(self) -> str:
        if self.location.local:
            return str(self.location)
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"{self.location}{where}"


# Services that answer only virtual-hosted requests (``BUCKET.ENDPOINT``): Aliyun OSS, and Tencent COS for buckets
# made since 2024.
_VIRTUAL_HOSTED_ONLY = (".aliyuncs.com", ".myqcloud.com")


def addressing_style(endpoint: Endpoint) -> str | None:
    """How requests name the bucket. ``path`` (``ENDPOINT/BUCKET``) for S3-compatible endpoints, which MinIO,
    Ceph, SeaweedFS and GCS answer and which needs no DNS name per bucket; ``virtual`` for the services that
    refuse it; botocore's own rules (None) for AWS. ``--from/--to-addressing-style`` overrides the choice."""
    if endpoint.addressing_style in ("path", "virtual"):
        return endpoint.addressing_style
    if not endpoint.endpoint_url:
        return None
    host = (urlsplit(endpoint.endpoint_url).hostname or "").lower()
    return "virtual" if host.endswith(_VIRTUAL_HOSTED_ONLY) else "path"


def make_s3_client(
    endpoint: Endpoint,
    *,
    max_pool_connections: int = 32,
    max_attempts: int = 10,
    connect_timeout: float = 10.0,
    read_timeout: float = 60.0,
    retry_mode: str = "standard",
    tps_limit: float | None = None,
) -> Any:
    """An S3 client for one endpoint.

    - Retries use botocore's ``standard`` mode (exponential backoff with jitter, throttling errors included),
      so a SlowDown/503 storm slows each request down instead of failing the copy; the engine retries parts
      and jobs on top. ``adaptive`` mode was measured too: its client-side token bucket cut a copy of 40
      small objects under a 50% SlowDown storm from 6.7 s to 83 s, so it is not the default.
    - Integrity is carried by Content-MD5 on every PUT/UploadPart, which the server verifies and which the
      SigV4 signature covers, so botocore's extra CRC32 and SHA-256 payload hashes are switched off: each
      byte is hashed once, by us.
    - S3-compatible endpoints get path-style addressing, except services that refuse it (:func:`addressing_style`).
    - No ``Expect: 100-continue``: botocore sends the body anyway when the 100 is slower than one second,
      and a late 100 then desynchronises the connection (seen with SeaweedFS under load: a 60 s read
      timeout per affected request). rclone and s5cmd do not use it either.
    - GetObject, PutObject and UploadPart take a lean path on the happy path (``endpoints.lean``).
    """
    s3_options: Any = {"payload_signing_enabled": False}
    signing: Any = {"signature_version": UNSIGNED} if endpoint.unsigned else {}
    style = addressing_style(endpoint)
    if style:
        s3_options["addressing_style"] = style
    retries: Any = {"mode": retry_mode, "max_attempts": max_attempts}
    config = Config(
        retries=retries,
        max_pool_connections=max_pool_connections,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        tcp_keepalive=True,
        s3=s3_options,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        user_agent_extra="s3migrate",
        **signing,
    )
    try:
        session, lock = _session(endpoint.profile, endpoint.credentials)
        with lock:  # a botocore session is not safe to build clients from in two threads at once
            region = endpoint.region or session.get_config_variable("region") or "us-east-1"
            client = session.create_client("s3", region_name=region, endpoint_url=endpoint.endpoint_url,
                                           config=config)
    except BotoCoreError as exc:
        raise EndpointError(f"{endpoint.describe()}: {describe(exc)}") from None
    client.meta.events.unregister("before-call.s3", add_expect_header)
    _cache_endpoint_resolution(client)
    client.meta.events.register("before-parse.s3.ListObjectVersions", keep_version_order)
    carried = carried_parameters(endpoint)
    if carried:
        client.meta.events.register_first("before-parameter-build.s3", functools.partial(_carry, carried))
    pace = None
    if tps_limit:  # every request to this endpoint, botocore's and the lean path's, takes a token first
        bucket = TokenBucket(tps_limit, burst=1.0)
        pace = functools.partial(bucket.acquire, 1)
        client.meta.events.register("before-send.s3", lambda **_: pace())
    return wrap(client, lean=not (endpoint.unsigned or endpoint.sse_c_key),
                headers={"x-amz-request-payer": "requester"} if endpoint.request_payer else None, pace=pace)


def keep_version_order(response_dict: dict[str, Any], customized_response_dict: dict[str, Any],
                        **_: Any) -> None:
    """ListObjectVersions answers each key's versions and delete markers interleaved, newest first; botocore
    parses them into two lists, losing that order, which LastModified (whole seconds) cannot always restore.
    The document order is kept as ``VersionOrder``: [(key, version id, is a delete marker)]."""
    body = response_dict.get("body")
    if not isinstance(body, bytes) or response_dict.get("status_code", 200) >= 300:
        return
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return
    order = []
    for element in root:
        name = element.tag.rpartition("}")[2]
        if name in ("Version", "DeleteMarker"):
            key = next((child.text for child in element if child.tag.endswith("Key")), None)
            version = next((child.text for child in element if child.tag.endswith("VersionId")), None)
            order.append((key or "", version or "null", name == "DeleteMarker"))
    customized_response_dict["VersionOrder"] = order


def carried_parameters(endpoint: Endpoint) -> dict[str, Any]:
    """What every request to this side carries, where its operation takes it: RequestPayer, and the SSE-C key
    (GET, HEAD, PUT, the multipart calls). Kept in the client's memory only: never logged or stored."""
    carried: dict[str, Any] = {}
    if endpoint.request_payer:
        carried["RequestPayer"] = "requester"
    if endpoint.sse_c_key is not None:  # encoded here, with its MD5, so botocore's own SSE-C handler leaves it
        carried["SSECustomerAlgorithm"] = "AES256"
        carried["SSECustomerKey"] = base64.b64encode(endpoint.sse_c_key).decode("ascii")
        carried["SSECustomerKeyMD5"] = base64.b64encode(
            hashlib.md5(endpoint.sse_c_key, usedforsecurity=False).digest()).decode("ascii")
    return carried


def _carry(carried: dict[str, Any], params: dict[str, Any], model: Any, **_: Any) -> None:
    members = model.input_shape.members if model.input_shape is not None else {}
    for name, value in carried.items():
        if name in members and name not in params:
            params[name] = value


@functools.cache
def _session(profile: str | None, keys: Credentials | None) -> tuple[botocore.session.Session, threading.Lock]:
    """One botocore session per profile and key pair, shared by the clients built from it (the run's client and
    its short-timeout preflight client): a session costs about 13 ms to build and resolves its credentials
    once. boto3 adds nothing used here, and costs a tenth of a second to import."""
    session = botocore.session.Session(profile=profile)
    if profile:
        session.get_scoped_config()  # an unknown profile fails here, with botocore's message
    if keys and keys.reload is not None:
        session.get_component("credential_provider").insert_before("env", _ReloadedKeys(keys))
    elif keys:
        session.set_credentials(keys.access_key_id, keys.secret_access_key, keys.session_token)
    session.register_component("data_loader", _shared_loader())
    return session, threading.Lock()


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    """One model loader for every client in the process: botocore caches the parsed S3 model per loader,
    and each session would otherwise parse the same JSON again (about 0.1 s per client)."""
    return botocore.loaders.create_loader()


@functools.cache
def _unused_endpoint_params() -> frozenset[str]:
    """Parameters the S3 endpoint ruleset declares but never reads (``Key``, ``Prefix`` in botocore 1.3x+)."""
    ruleset = _shared_loader().load_service_model("s3", "endpoint-rule-set-1")
    text = json.dumps(ruleset)
    return frozenset(
        name for name in ruleset.get("parameters", {}) if f'"ref": "{name}"' not in text and name in {"Key", "Prefix"}
    )


def _cache_endpoint_resolution(client: Any) -> None:
    """botocore resolves the endpoint ruleset on every call and caches by *all* parameters, object keys
    included, so every new key misses the cache (about 20% of the client CPU per small object here).
    Dropping the parameters the ruleset never reads makes the cache hit, with identical results."""
    try:
        provider = client._ruleset_resolver._provider
        resolve = provider.resolve_endpoint
    except AttributeError:  # another botocore layout: leave it alone
        return
    unused = _unused_endpoint_params()
    if not unused:
        return

    def resolve_endpoint(**params: Any) -> Any:
        for name in unused:
            params.pop(name, None)
        return resolve(**params)

    provider.resolve_endpoint = resolve_endpoint
