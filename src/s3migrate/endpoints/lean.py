"""A lean path for the calls that move bytes or keys: GetObject, PutObject, UploadPart, CopyObject, ListObjectsV2.

botocore spends about 1.9 ms of CPU on each call here (validation, serialisation, a dozen event hooks,
endpoint rules, response parsing), which is what bounds small-object copies. This path signs the request
itself (``endpoints.sigv4``, with botocore's credentials and the bucket URL botocore's endpoint rules build),
sends it on kept-alive sockets that botocore's urllib3 pool opens (same TLS settings; the HTTP framing is
``endpoints.wire``) and reads the few response fields the engine uses: a 64 KiB GET+PUT pair costs about
0.6 ms of CPU here, against 1.7 ms through urllib3 and several ms through botocore.

It only takes the happy path:
- a 4xx answer (access denied, no such key, precondition failed, bad digest) is parsed by botocore's own
  parser and raised as the same ClientError botocore would raise, without a second request;
- a 5xx/429 answer or a connection error is handed to the full botocore client, which sends the request
  again under its retry policy, as its own retry would have;
- a redirect (another region) hands the bucket to botocore for good, with its redirect handling;
- an argument this path does not know sends the call through botocore.
``S3MIGRATE_LEAN_REQUESTS=0`` turns the lean path off.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit
from xml.etree import ElementTree

from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from urllib3.exceptions import HTTPError

from s3migrate import __version__
from s3migrate.endpoints.sigv4 import canonical_query, sign
from s3migrate.endpoints.store import Abilities
from s3migrate.endpoints.wire import Origin, Response, StaleConnection, WireError, exchange

log = logging.getLogger(__name__)

# PutObject/UploadPart arguments this path sends as headers; any other argument goes through botocore.
_REQUEST_HEADERS = {
    "ContentMD5": "Content-MD5",
    "ContentType": "Content-Type",
    "ContentEncoding": "Content-Encoding",
    "ContentDisposition": "Content-Disposition",
    "ContentLanguage": "Content-Language",
    "CacheControl": "Cache-Control",
    "WebsiteRedirectLocation": "x-amz-website-redirect-location",
    "StorageClass": "x-amz-storage-class",
    "ChecksumCRC32": "x-amz-checksum-crc32",
    "ChecksumCRC32C": "x-amz-checksum-crc32c",
    "ChecksumCRC64NVME": "x-amz-checksum-crc64nvme",
    "ChecksumSHA1": "x-amz-checksum-sha1",
    "ChecksumSHA256": "x-amz-checksum-sha256",
    "Tagging": "x-amz-tagging",
    "ACL": "x-amz-acl",
    "ServerSideEncryption": "x-amz-server-side-encryption",
    "SSEKMSKeyId": "x-amz-server-side-encryption-aws-kms-key-id",
    "Expires": "Expires",  # an HTTP date (config.http_date)
    "ObjectLockMode": "x-amz-object-lock-mode",
    "ObjectLockRetainUntilDate": "x-amz-object-lock-retain-until-date",  # ISO 8601 (_header_value)
    "ObjectLockLegalHoldStatus": "x-amz-object-lock-legal-hold",
    "IfMatch": "If-Match",
    "Range": "Range",
}
_RESPONSE_FIELDS = {
    "etag": "ETag",
    "x-amz-version-id": "VersionId",
    "content-type": "ContentType",
    "content-encoding": "ContentEncoding",
    "content-disposition": "ContentDisposition",
    "content-language": "ContentLanguage",
    "content-range": "ContentRange",
    "cache-control": "CacheControl",
    "x-amz-website-redirect-location": "WebsiteRedirectLocation",
    "x-amz-server-side-encryption": "ServerSideEncryption",
    "x-amz-server-side-encryption-customer-algorithm": "SSECustomerAlgorithm",
    "x-amz-storage-class": "StorageClass",
    "x-amz-checksum-type": "ChecksumType",
    "x-amz-checksum-crc32": "ChecksumCRC32",
    "x-amz-checksum-crc32c": "ChecksumCRC32C",
    "x-amz-checksum-crc64nvme": "ChecksumCRC64NVME",
    "x-amz-checksum-sha1": "ChecksumSHA1",
    "x-amz-checksum-sha256": "ChecksumSHA256",
    "x-amz-tagging-count": "TagCount",
    "x-amz-object-lock-mode": "ObjectLockMode",
    "x-amz-object-lock-legal-hold": "ObjectLockLegalHoldStatus",
}
_OPERATIONS = {"get_object": "GetObject", "put_object": "PutObject", "upload_part": "UploadPart",
               "copy_object": "CopyObject", "list_objects_v2": "ListObjectsV2"}
_UNSIGNED_HEADERS = {"User-Agent": f"s3migrate/{__version__}", "Accept-Encoding": "identity"}
_COPY_ARGS = {"Bucket", "Key", "CopySource", "MetadataDirective", "TaggingDirective", "CopySourceIfMatch",
              "StorageClass"}
_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_GET_ARGS = {"Bucket", "Key", "VersionId", "IfMatch", "Range", "ChecksumMode"}
_PUT_ARGS = {"Bucket", "Key", "Body", "Metadata", *_REQUEST_HEADERS} - {"IfMatch", "Range"}
_PART_ARGS = {"Bucket", "Key", "Body", "UploadId", "PartNumber", "ContentMD5", *(
    name for name in _REQUEST_HEADERS if name.startswith("Checksum"))}


class _Declined(Exception):
    """The lean path cannot or should not serve this call; botocore does."""


def botocore_only(bucket: object) -> bool:
    """Buckets whose requests need what only botocore does: S3 Express directory buckets (``--x-s3``: session
    authentication) and access point or Multi-Region Access Point ARNs (SigV4a, ARN endpoints)."""
    name = str(bucket or "")
    return name.endswith("--x-s3") or name.startswith("arn:")


class StreamedBody:
    """A PUT body read from another response as it is sent (``Body=StreamedBody(source, length)``).

    It cannot be replayed, so a PUT that carries one never falls back to botocore: a failure is raised
    as it is, and the engine retries the whole copy from a new GET."""

    def __init__(self, source: Any, length: int, block: int = 1 << 20) -> None:
        self.source, self.length, self.block = source, length, block
        self.sent = 0

    def __iter__(self) -> Any:
        while self.sent < self.length:
            chunk = self.source.read(min(self.block, self.length - self.sent))
            if not chunk:
                raise ConnectionError(f"source body ended after {self.sent} of {self.length} bytes")
            self.sent += len(chunk)
            yield chunk


def finish_body(body: Any, *, drained: bool) -> None:
    """Give a streamed GET's connection back to the pool when its body was read to the end, else close it."""
    if drained and hasattr(body, "release_conn"):
        body.release_conn()
    elif hasattr(body, "close"):
        body.close()


class StreamInterrupted(ConnectionError):
    """A streamed PUT failed on the way (connection, throttling or a server error): copy again."""


class S3Store:
    """The S3 ObjectStore: one botocore client, with the lean request path in front of GET, PUT, UploadPart,
    CopyObject and ListObjectsV2 where it can serve them. Every other attribute is the client's own."""

    def __init__(self, client: Any, *, lean: bool = True, headers: dict[str, str] | None = None,
                 pace: Callable[[], None] | None = None) -> None:
        """``headers``: sent with every lean request, as the client's own event hooks add them to botocore's
        (``x-amz-request-payer``). ``pace``: called before every lean request (``--tps-limit``), as botocore's
        requests call it from the client's ``before-send`` hook."""
        self._client = client
        self._pace = pace
        self._extra_headers = dict(headers or {})
        self._bases: dict[str, _BucketURL] = {}
        self._declined_buckets: set[str] = set()
        self._lock = threading.Lock()
        self.lean_active = False
        if lean:
            try:
                self._set_up_lean(client)
                self.lean_active = True  # off for good once the lean path failed in a way it should not
            except AttributeError:
                log.debug("botocore internals differ; lean requests off")

    @property
    def abilities(self) -> Abilities:
        """Every S3 call is here (botocore serves what the lean path does not); only a streamed PUT needs the
        lean path, which can be off (``S3MIGRATE_LEAN_REQUESTS=0``, other botocore internals, or after a fault)."""
        return Abilities(streamed_put=self.lean_active, ranged_listing=True, server_side_copy=True, versions=True,
                         checksums=True)

    def _set_up_lean(self, client: Any) -> None:
        """The botocore internals the lean path uses, checked now (an AttributeError leaves it off)."""
        signer = client._request_signer
        self._credentials = signer._credentials
        self._region = signer._region_name
        session = client._endpoint.http_session
        self._session = session
        self._read_timeout = session._timeout.read_timeout
        self._pool_limit = int(client.meta.config.max_pool_connections)
        self._origins: dict[str, Origin | None] = {}
        client._endpoint.http_session._manager.connection_from_url  # noqa: B018  # the internals _bucket_url uses
        client._endpoint.http_session._proxy_config.proxy_url_for  # noqa: B018
        client.generate_presigned_url  # noqa: B018

    def _failed(self, operation: str, exc: Exception) -> None:
        """An exception the lean path should never raise (a bug, or botocore internals that changed): this and
        every later call of this client go through botocore. Said once."""
        with self._lock:
            if not self.lean_active:
                return
            self.lean_active = False
        log.warning("the lean request path failed on %s (%s: %s); botocore serves this client from now on",
                    operation, type(exc).__name__, exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    # -- the three calls ---------------------------------------------------------------------------------

    def get_object(self, **args: Any) -> dict[str, Any]:
        """The ``Body`` streams from the connection, as botocore's does: a whole-object read (``verify
        --deep``) never holds the object in memory, and a copy can stream it into a PUT."""
        return self._lean_or_full("get_object", args, _GET_ARGS, self._get)

    def list_objects_page(
        self, bucket: str, prefix: str, token: str | None = None, delimiter: str = "", start_after: str = ""
    ) -> ListPage:
        """One ListObjectsV2 page (1,000 keys), parsed for what planning needs: key, size, ETag, storage
        class (and the common prefixes with a delimiter). botocore's parser spends most of a plan's CPU
        (dates, shapes); this reads four fields."""
        args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "EncodingType": "url", "MaxKeys": 1000}
        if token:
            args["ContinuationToken"] = token
        if delimiter:
            args["Delimiter"] = delimiter
        if start_after:
            args["StartAfter"] = start_after
        if self.lean_active and bucket not in self._declined_buckets and not botocore_only(bucket):
            query = {"list-type": "2", "prefix": prefix, "encoding-type": "url", "max-keys": "1000"}
            if token:
                query["continuation-token"] = token
            if delimiter:
                query["delimiter"] = delimiter
            if start_after:
                query["start-after"] = start_after
            try:
                _, data = self._send("ListObjectsV2", "GET", {"Bucket": bucket, "Key": ""}, query, {}, b"")
                return _parse_list_page(data)
            except ClientError:
                raise
            except (_Declined, OSError, HTTPError):
                pass
            except Exception as exc:
                self._failed("ListObjectsV2", exc)
        response = self._client.list_objects_v2(**args)  # botocore decodes the url-encoded keys itself
        contents = response.get("Contents", ())
        return ListPage(
            [(str(o["Key"]), int(o["Size"]), o.get("ETag"), o.get("StorageClass"),
              o["LastModified"].isoformat() if o.get("LastModified") else None) for o in contents],
            response.get("NextContinuationToken") if response.get("IsTruncated") else None,
            [str(p["Prefix"]) for p in response.get("CommonPrefixes", ())],
        )

    def copy_object(self, **args: Any) -> dict[str, Any]:
        return self._lean_or_full("copy_object", args, _COPY_ARGS, self._copy)

    def put_object(self, **args: Any) -> dict[str, Any]:
        return self._lean_or_full("put_object", args, _PUT_ARGS, self._put)

    def upload_part(self, **args: Any) -> dict[str, Any]:
        return self._lean_or_full("upload_part", args, _PART_ARGS, self._put)

    def _lean_or_full(
        self,
        operation: str,
        args: dict[str, Any],
        known: set[str],
        lean: Callable[[str, dict[str, Any]], dict[str, Any]],
    ) -> dict[str, Any]:
        streamed = isinstance(args.get("Body"), StreamedBody)
        bucket = args.get("Bucket")
        if streamed or (self.lean_active and args.keys() <= known and bucket not in self._declined_buckets
                        and not botocore_only(bucket)):
            try:
                if not self.lean_active:
                    raise _Declined
                return lean(_OPERATIONS[operation], args)
            except ClientError:
                raise  # S3's own answer, parsed by botocore's parser
            except (_Declined, OSError, HTTPError) as exc:  # not for the lean path, or the network: botocore's turn
                if streamed:  # the body cannot be sent twice
                    raise StreamInterrupted(f"streamed {operation} of {args.get('Key')} failed") from exc
            except Exception as exc:
                self._failed(operation, exc)
                if streamed:
                    raise StreamInterrupted(f"streamed {operation} of {args.get('Key')} failed") from exc
        result: dict[str, Any] = getattr(self._client, operation)(**args)
        return result

    # -- requests ----------------------------------------------------------------------------------------

    def _get(self, operation: str, args: dict[str, Any]) -> dict[str, Any]:
        response, _ = self._send(operation, "GET", args, *_get_request(args), b"", preload=False)
        result = _parse_headers(response.headers)
        result["Body"] = response  # read(amt), release_conn(), close(), as botocore's StreamingBody
        result["ContentLength"] = int(response.headers.get("Content-Length", -1))
        return result

    def _put(self, operation: str, args: dict[str, Any]) -> dict[str, Any]:
        body = args["Body"]
        if not isinstance(body, bytes | bytearray | memoryview | StreamedBody):
            raise _Declined
        query: dict[str, str] = {}
        if "UploadId" in args:
            query = {"partNumber": str(args["PartNumber"]), "uploadId": str(args["UploadId"])}
        headers = {header: _header_value(args[name]) for name, header in _REQUEST_HEADERS.items() if args.get(name)}
        for key, value in (args.get("Metadata") or {}).items():
            headers[f"x-amz-meta-{key}"] = value
        headers["Content-Length"] = str(body.length if isinstance(body, StreamedBody) else len(body))
        response, _ = self._send(operation, "PUT", args, query, headers, body)
        return _parse_headers(response.headers)

    def _copy(self, operation: str, args: dict[str, Any]) -> dict[str, Any]:
        source = args["CopySource"]
        if not isinstance(source, dict):
            raise _Declined
        header = quote(f"{source['Bucket']}/{source['Key']}", safe="/~")
        if source.get("VersionId"):
            header += f"?versionId={quote(str(source['VersionId']), safe='')}"
        headers = {"x-amz-copy-source": header}
        for name, value in (("MetadataDirective", "x-amz-metadata-directive"),
                            ("TaggingDirective", "x-amz-tagging-directive"),
                            ("CopySourceIfMatch", "x-amz-copy-source-if-match"),
                            ("StorageClass", "x-amz-storage-class")):
            if args.get(name):
                headers[value] = str(args[name])
        response, data = self._send(operation, "PUT", args, {}, headers, b"")
        root = ElementTree.fromstring(data) if data.strip() else None
        if root is None or root.tag.endswith("Error"):  # S3 may fail a copy after its 200 status line
            raise self._client_error(operation, 500, response.headers, data or b"<Error><Code>InternalError</Code>"
                                     b"<Message>empty CopyObject response</Message></Error>")
        result = _parse_headers(response.headers)
        result["CopyObjectResult"] = {"ETag": root.findtext(f"{_S3_NS}ETag") or root.findtext("ETag")}
        result["CopySourceVersionId"] = response.headers.get("x-amz-copy-source-version-id")
        return result

    def _send(
        self, operation: str, method: str, args: dict[str, Any], query: dict[str, str], headers: dict[str, str],
        body: Any, *, preload: bool = True,
    ) -> tuple[Any, bytes]:
        bucket = str(args["Bucket"])
        key = str(args["Key"])
        where = self._bucket_url(bucket)
        origin = where.origin
        credentials = self._credentials.get_frozen_credentials() if self._credentials else None
        if origin is None or credentials is None:  # a proxy (botocore's proxy handling) or no credentials
            raise _Declined
        path = where.path + ("/" + quote(key, safe="/~") if key else "/")
        if self._extra_headers:
            headers = {**headers, **self._extra_headers}
        if self._pace is not None:
            self._pace()
        query_text = canonical_query(query)
        target = f"{path}?{query_text}" if query_text else path
        url = where.origin_name + target  # for log lines
        signed = sign(method, where.host, path, query_text, headers, credentials.access_key,
                      credentials.secret_key, self._region, credentials.token)
        signed.update(_UNSIGNED_HEADERS)
        if method == "PUT" and "Content-Length" not in signed:
            signed["Content-Length"] = "0"
        streamed = isinstance(body, StreamedBody)
        response = self._exchange(origin, url, method, target, signed, body, streamed)
        status = response.status
        try:
            data = response.read() if preload or not 200 <= status < 300 else b""
        except WireError as exc:
            log.debug("lean %s %s: %s; retrying through botocore", method, url, exc)
            raise _Declined from None
        if 200 <= status < 300:
            return response, data
        if status in (301, 307) or (status == 400 and b"AuthorizationHeaderMalformed" in data):
            with self._lock:
                self._declined_buckets.add(bucket)  # another region: botocore's redirect handling takes over
            raise _Declined
        if 400 <= status < 500 and status != 429:
            raise self._client_error(operation, status, response.headers, data)
        raise _Declined  # throttled or a server error: botocore retries it

    def _exchange(self, origin: Origin, url: str, method: str, target: str, headers: dict[str, str], body: Any,
                  streamed: bool) -> Response:
        """One request on a kept-alive connection; a connection the server had closed meanwhile is replaced
        once (a streamed body cannot be sent twice: the engine copies again). Any other failure goes to botocore,
        which sends the request again under its retry policy."""
        for _ in range(2):
            try:
                return exchange(origin, method, target, headers, body, stream_body=streamed)
            except StaleConnection as exc:
                reason: Exception = exc
                if streamed:
                    break
            except (OSError, ValueError) as exc:  # a connection problem, or a header HTTP cannot carry
                reason = exc
                break
        log.debug("lean %s %s: %s; retrying through botocore", method, url, reason)
        raise _Declined

    def _bucket_url(self, bucket: str) -> _BucketURL:
        """Where a bucket's requests go, worked out once per bucket: the URL botocore's endpoint rules build for
        it (addressing style, region, partition), and the connections to its origin, opened by botocore's urllib3
        pool (TLS settings, CA bundle and socket options exactly as botocore's own requests get them)."""
        where = self._bases.get(bucket)
        if where is not None:
            return where
        marker = "s3migrate-lean-marker"
        presigned = self._client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": marker})
        base = presigned.split("?", 1)[0][: -len(marker) - 1]
        parts = urlsplit(base)
        origin_name = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            if origin_name not in self._origins:
                origin = None
                if not self._session._proxy_config.proxy_url_for(base):
                    pool = self._session._manager.connection_from_url(base)
                    self._session._setup_ssl_cert(pool, base, self._session._verify)
                    origin = Origin(pool._new_conn, self._read_timeout, self._pool_limit)
                self._origins[origin_name] = origin
            where = _BucketURL(origin_name, parts.path, _host(parts), self._origins[origin_name])
            self._bases[bucket] = where
        return where

    def _client_error(self, operation: str, status: int, headers: Any, body: bytes) -> Exception:
        """The ClientError botocore would raise for this answer, from botocore's own parser."""
        model = self._client.meta.service_model.operation_model(operation)
        parsed = create_parser("rest-xml").parse(
            {"headers": headers, "status_code": status, "body": body}, model.output_shape
        )
        code = parsed.get("Error", {}).get("Code") or str(status)
        error: Exception = self._client.exceptions.from_code(code)(parsed, operation)
        return error

@dataclass(frozen=True)
class _BucketURL:
    origin_name: str  # scheme://host:port
    path: str  # the bucket's path prefix: "/bucket" (path style) or "" (virtual-hosted)
    host: str  # the Host header, which the signature covers
    origin: Origin | None  # None: through a proxy, left to botocore


@dataclass(frozen=True)
class ListPage:
    objects: list[tuple[str, int, str | None, str | None, str | None]]  # key, size, ETag, storage class, LastModified
    next_token: str | None  # None: the last page
    prefixes: list[str] = field(default_factory=list)  # CommonPrefixes, with a delimiter


def _parse_list_page(data: bytes) -> ListPage:
    root = ElementTree.fromstring(data)
    objects = []
    for item in root.iter(f"{_S3_NS}Contents"):
        etag = item.findtext(f"{_S3_NS}ETag")
        objects.append((unquote_plus(item.findtext(f"{_S3_NS}Key") or ""), int(item.findtext(f"{_S3_NS}Size") or 0),
                        etag, item.findtext(f"{_S3_NS}StorageClass"), item.findtext(f"{_S3_NS}LastModified")))
    truncated = (root.findtext(f"{_S3_NS}IsTruncated") or "").lower() == "true"
    prefixes = [unquote_plus(p.findtext(f"{_S3_NS}Prefix") or "") for p in root.iter(f"{_S3_NS}CommonPrefixes")]
    return ListPage(objects, root.findtext(f"{_S3_NS}NextContinuationToken") if truncated else None, prefixes)


def _host(parts: Any) -> str:
    """The Host header urllib3 sends (the default port left out), which the signature must cover."""
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def _get_request(args: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Query and headers of a GetObject."""
    query = {"versionId": str(args["VersionId"])} if args.get("VersionId") else {}
    headers = {_REQUEST_HEADERS[name]: str(args[name]) for name in ("IfMatch", "Range") if args.get(name)}
    if args.get("ChecksumMode"):
        headers["x-amz-checksum-mode"] = str(args["ChecksumMode"])
    return query, headers


def _header_value(value: Any) -> str:
    """A request header's text; a datetime (a retain-until date) in ISO 8601, as S3 takes it."""
    if isinstance(value, datetime.datetime):
        moment = value.astimezone(datetime.UTC)  # as botocore writes it
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _parse_headers(headers: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"ResponseMetadata": {"HTTPHeaders": dict(headers.items())}}
    metadata: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        field = _RESPONSE_FIELDS.get(lower)
        if field is not None:
            result[field] = value
        elif lower == "last-modified":  # a datetime, as botocore parses it
            with contextlib.suppress(TypeError, ValueError):
                result["LastModified"] = email.utils.parsedate_to_datetime(value)
        elif lower == "x-amz-object-lock-retain-until-date":
            with contextlib.suppress(ValueError):
                result["ObjectLockRetainUntilDate"] = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif lower.startswith("x-amz-meta-"):
            metadata[lower[len("x-amz-meta-"):]] = value
    if metadata:
        result["Metadata"] = metadata
    return result


def lean_enabled() -> bool:
    return os.environ.get("S3MIGRATE_LEAN_REQUESTS", "1").strip().lower() not in ("0", "false", "no", "off")


def wrap(client: Any, *, lean: bool = True, headers: dict[str, str] | None = None,
         pace: Callable[[], None] | None = None) -> S3Store:
    """The S3 store of a botocore client: with the lean path in front unless it is switched off (``lean``
    False: requests the lean path cannot sign or frame, unsigned or with SSE-C keys)."""
    return S3Store(client, lean=lean and lean_enabled(), headers=headers, pace=pace)
