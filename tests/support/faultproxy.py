"""A small reverse proxy that injects S3 faults: 503 SlowDown, 500, latency, connection resets (also mid-body),
and the lies and quirks found beyond SeaweedFS: a short body under a matching Content-Length, a byte flipped in
flight, and an SSE-KMS bucket (ETags that are not MD5s, with the encryption header).

It forwards every request unchanged (Host and Expect headers included, so SigV4 signatures stay valid)
and counts requests per rule, which is how tests count re-sent parts. The SSE-KMS mode (for a destination)
rewrites answers only: ETag headers, and the ETags in the bodies of ListObjects, CompleteMultipartUpload and
CopyObject. ListParts keeps the server's part ETags, because clients send them back in a signed
CompleteMultipartUpload body that a proxy cannot change; reads pinned by If-Match need the real ETag, so a
source is never put behind this mode.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"}

_ERROR_BODIES = {
    503: ("SlowDown", "Please reduce your request rate."),
    500: ("InternalError", "We encountered an internal error. Please try again."),
    403: ("AccessDenied", "Access Denied"),
    404: ("NoSuchKey", "The specified key does not exist."),
}


@dataclass
class Rule:
    """Match requests by method and a regex over ``path?query``; ``times`` limits how often it fires."""

    method: str | None = None
    pattern: str = ".*"
    status: int | None = None  # answer with this error status instead of forwarding
    delay: float = 0.0  # seconds before forwarding
    reset: bool = False  # close the connection without answering
    reset_mid_body: bool = False  # forward, then cut the response body halfway
    short_body: int = 0  # forward, then answer this many bytes fewer, with a Content-Length that matches
    flip_byte: bool = False  # forward, then flip one bit in the middle of the response body
    times: int | None = None  # fire at most this many times (None: always)
    every: int = 1  # fire on every n-th match
    fired: int = 0
    matched: int = 0

    def matches(self, method: str, target: str) -> bool:
        return (self.method is None or self.method == method) and re.search(self.pattern, target) is not None

    def take(self) -> bool:
        self.matched += 1
        if self.times is not None and self.fired >= self.times:
            return False
        if self.matched % self.every:
            return False
        self.fired += 1
        return True


@dataclass
class FaultProxy:
    upstream: str  # http://127.0.0.1:PORT
    rules: list[Rule] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # "METHOD kind" -> requests seen
    paths: dict[str, int] = field(default_factory=dict)  # "METHOD /bucket/key" -> requests seen
    sse: str = ""  # "aws:kms" or "aws:kms:dsse": answer as a bucket with that default encryption (ETags no MD5s)
    # Answer 403 AccessDenied to any request without this header and value, as a requester-pays bucket does.
    require_header: tuple[str, str] | None = None
    headers: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # (method, path, headers) seen
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def count(self, method: str, target: str) -> None:
        kind = "part" if "partNumber=" in target else "object"
        path = f"{method} {unquote(target.split('?', 1)[0])}"
        with self._lock:
            key = f"{method} {kind}"
            self.counts[key] = self.counts.get(key, 0) + 1
            self.paths[path] = self.paths.get(path, 0) + 1

    def pick(self, method: str, target: str) -> list[Rule]:
        with self._lock:
            return [rule for rule in self.rules if rule.matches(method, target) and rule.take()]

    def opaque_etag(self, etag: str) -> str:
        """The ETag an SSE-KMS bucket would show for an object or part: stable, not its MD5 (``-N`` kept)."""
        text = etag.strip().strip('"')
        head, dash, count = text.partition("-")
        return '"' + hashlib.sha256(b"kms:" + head.encode()).hexdigest()[:32] + dash + count + '"'

    def _encrypted_body(self, data: bytes) -> bytes:
        return re.sub(rb"<ETag>(?:&quot;|&#34;|\")?([0-9a-fA-F]{32}(?:-\d+)?)(?:&quot;|&#34;|\")?</ETag>",
                      lambda m: b"<ETag>&quot;" + self.opaque_etag(m.group(1).decode()).strip('"').encode()
                      + b"&quot;</ETag>", data)

    def start(self) -> FaultProxy:
        proxy = self
        upstream = urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.count(self.command, self.path)
                with proxy._lock:
                    proxy.headers.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                required = proxy.require_header
                if required and self.headers.get(required[0]) != required[1]:
                    rules = [Rule(status=403)]
                else:
                    rules = proxy.pick(self.command, self.path)
                for rule in rules:
                    if rule.delay:
                        time.sleep(rule.delay)
                    if rule.reset:
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    if rule.status:
                        code, message = _ERROR_BODIES.get(rule.status, ("Error", "injected"))
                        payload = (
                            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                            f"<Message>{message}</Message></Error>"
                        ).encode()
                        self.send_response(rule.status)
                        self.send_header("Content-Type", "application/xml")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                conn = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port, timeout=120)
                try:
                    conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for name, value in self.headers.items():
                        if name.lower() not in _HOP_BY_HOP:
                            conn.putheader(name, value)
                    conn.endheaders(body or None)
                    response = conn.getresponse()
                    data = response.read()
                finally:
                    conn.close()
                headers = response.getheaders()
                if proxy.sse and response.status < 300:
                    listing = self.command == "GET" and re.search(r"[?&](list-type|versions|prefix)", self.path)
                    completed = self.command == "POST" and "uploadId=" in self.path
                    copied = self.command == "PUT" and "x-amz-copy-source" in self.headers
                    if listing or completed or copied:  # XML answers; never object data, never ListParts
                        data = proxy._encrypted_body(data)
                    headers = [(n, proxy.opaque_etag(v) if n.lower() == "etag" else v) for n, v in headers
                               if n.lower() != "x-amz-server-side-encryption"]
                    headers.append(("x-amz-server-side-encryption", proxy.sse))
                if response.status < 300 and self.command != "HEAD":
                    cut = max((rule.short_body for rule in rules), default=0)
                    if cut and data:
                        data = data[: max(0, len(data) - cut)]
                    if any(rule.flip_byte for rule in rules) and data:
                        middle = len(data) // 2
                        data = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]
                self.send_response_only(response.status, response.reason)
                head = self.command == "HEAD"
                for name, value in headers:
                    if name.lower() not in _HOP_BY_HOP and (head or name.lower() != "content-length"):
                        self.send_header(name, value)
                if not head:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if any(rule.reset_mid_body for rule in rules) and len(data) > 1:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients that hang up (killed on purpose by the tests) are not errors here

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="faultproxy", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
