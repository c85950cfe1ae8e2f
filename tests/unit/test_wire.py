"""The lean path's HTTP/1.1 framing against a scripted server: every way an answer can be framed or broken."""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from urllib3.connection import HTTPConnection

from s3migrate.endpoints.wire import Origin, StaleConnection, WireError, exchange


@dataclass
class Script:
    """One scripted answer: raw bytes to send, then whether to close the connection."""

    raw: bytes
    close_after: bool = False


@dataclass
class ScriptedServer:
    """Answers each request with the next script; records request heads, bodies and connections."""

    scripts: queue.Queue[Script] = field(default_factory=queue.Queue)
    requests: list[tuple[bytes, bytes]] = field(default_factory=list)
    connections: int = 0
    sock: socket.socket = field(default_factory=lambda: socket.create_server(("127.0.0.1", 0)))

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        with conn:
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                self.requests.append((head, reader.read(length)))
                script = self.scripts.get(timeout=5)
                conn.sendall(script.raw)
                if script.close_after:
                    return


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    threading.Thread(target=scripted.serve, daemon=True).start()
    yield scripted
    scripted.sock.close()


def origin_for(server: ScriptedServer) -> Origin:
    return Origin(lambda: HTTPConnection("127.0.0.1", server.port, timeout=5), read_timeout=5, limit=4)


def answer(status: str, headers: list[str], body: bytes = b"") -> bytes:
    return (f"HTTP/1.1 {status}\r\n" + "".join(f"{h}\r\n" for h in headers) + "\r\n").encode() + body


def test_length_framed_bodies_read_in_pieces_reuse_one_connection(server: ScriptedServer) -> None:
    origin = origin_for(server)
    for _ in range(3):
        server.scripts.put(Script(answer("200 OK", ["Content-Length: 10", "ETag: \"abc\""], b"0123456789")))
        response = exchange(origin, "GET", "/b/k", {"Host": "x"}, b"")
        assert response.status == 200 and response.headers.get("etag") == '"abc"'
        assert response.headers["ETag"] == '"abc"' and "Etag" in response.headers
        assert response.read(4) + response.read(4) + response.read(100) == b"0123456789"
        assert response.done and response.read(1) == b""
    assert server.connections == 1


def test_request_head_and_body_arrive_as_sent(server: ScriptedServer) -> None:
    origin = origin_for(server)
    big = bytes(range(256)) * 8192  # 2 MiB: sent after the head, not in the same buffer
    for body in (b"small body", big):
        server.scripts.put(Script(answer("200 OK", ["Content-Length: 0"])))
        response = exchange(origin, "PUT", "/b/a%20key?partNumber=1", {"Host": "h", "Content-Length": str(len(body))},
                            body)
        assert response.status == 200 and response.done
        head, received = server.requests[-1]
        assert head.startswith(b"PUT /b/a%20key?partNumber=1 HTTP/1.1\r\nHost: h\r\n") and received == body
    streamed = [b"ab", b"cd", b"ef"]
    server.scripts.put(Script(answer("200 OK", ["Content-Length: 0"])))
    exchange(origin, "PUT", "/b/s", {"Host": "h", "Content-Length": "6"}, iter(streamed), stream_body=True)
    assert server.requests[-1][1] == b"abcdef"
    assert server.connections == 1


def test_chunked_body_with_extensions_and_trailers(server: ScriptedServer) -> None:
    origin = origin_for(server)
    body = b"5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"
    for _ in range(2):
        server.scripts.put(Script(answer("200 OK", ["Transfer-Encoding: chunked"], body)))
        response = exchange(origin, "GET", "/", {}, b"")
        assert response.read(3) == b"hel"
        assert response.read(None) == b"lo 0123456789"
        assert response.done
    assert server.connections == 1


def test_close_delimited_body_is_read_to_the_end_and_not_reused(server: ScriptedServer) -> None:
    origin = origin_for(server)
    server.scripts.put(Script(answer("200 OK", ["Server: old"], b"until the end"), close_after=True))
    response = exchange(origin, "GET", "/", {}, b"")
    assert response.read(None) == b"until the end" and response.done
    server.scripts.put(Script(answer("200 OK", ["Content-Length: 2"], b"ok")))
    assert exchange(origin, "GET", "/", {}, b"").read(None) == b"ok"
    assert server.connections == 2


def test_connection_close_and_http_1_0_answers_are_not_reused(server: ScriptedServer) -> None:
    origin = origin_for(server)
    server.scripts.put(Script(answer("200 OK", ["Content-Length: 1", "Connection: close"], b"a"), close_after=True))
    assert exchange(origin, "GET", "/", {}, b"").read(None) == b"a"
    server.scripts.put(Script(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb", close_after=True))
    assert exchange(origin, "GET", "/", {}, b"").read(None) == b"b"
    server.scripts.put(Script(answer("200 OK", ["Content-Length: 1"], b"c")))
    assert exchange(origin, "GET", "/", {}, b"").read(None) == b"c"
    assert server.connections == 3


def test_interim_answers_are_skipped_and_headers_folded_and_joined(server: ScriptedServer) -> None:
    origin = origin_for(server)
    raw = (b"HTTP/1.1 100 Continue\r\n\r\n" +
           answer("201 Created", ["X-Amz-Meta-A: one", "x-amz-meta-a: two", "X-Long: first", "\tsecond",
                                  "Content-Length: 0"]))
    server.scripts.put(Script(raw))
    response = exchange(origin, "PUT", "/", {"Content-Length": "0"}, b"")
    assert response.status == 201
    assert response.headers["x-amz-meta-a"] == "one, two" and response.headers["x-long"] == "first second"


def test_no_body_answers(server: ScriptedServer) -> None:
    origin = origin_for(server)
    server.scripts.put(Script(answer("204 No Content", [])))
    server.scripts.put(Script(answer("304 Not Modified", ["Content-Length: 99"])))
    assert exchange(origin, "GET", "/", {}, b"").done
    assert exchange(origin, "GET", "/", {}, b"").done
    assert server.connections == 1


def test_truncated_body_fails_and_drops_the_connection(server: ScriptedServer) -> None:
    origin = origin_for(server)
    server.scripts.put(Script(answer("200 OK", ["Content-Length: 10"], b"01234"), close_after=True))
    response = exchange(origin, "GET", "/", {}, b"")
    with pytest.raises(WireError, match="5 bytes of the body unread"):
        response.read(None)
    assert response.done
    server.scripts.put(Script(answer("200 OK", ["Transfer-Encoding: chunked"], b"a\r\nabc"), close_after=True))
    with pytest.raises(WireError, match="chunked body ended early"):
        exchange(origin, "GET", "/", {}, b"").read(None)


def test_garbage_and_early_close_are_wire_errors(server: ScriptedServer) -> None:
    origin = origin_for(server)
    server.scripts.put(Script(b"SSH-2.0-OpenSSH\r\n\r\n", close_after=True))
    with pytest.raises(WireError, match="not an HTTP answer"):
        exchange(origin, "GET", "/", {}, b"")
    server.scripts.put(Script(b"", close_after=True))
    with pytest.raises(WireError, match="closed before an answer"):
        exchange(origin, "GET", "/", {}, b"")
    server.scripts.put(Script(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n", close_after=True))
    with pytest.raises(WireError, match="inside the answer's headers"):
        exchange(origin, "GET", "/", {}, b"")
    for bad in ("many", "-5", "+5", "0x5", "5_0", "\u0665"):
        server.scripts.put(Script(answer("200 OK", [f"Content-Length: {bad}"]), close_after=True))
        with pytest.raises(WireError, match="bad or conflicting Content-Length"):
            exchange(origin, "GET", "/", {}, b"")


def test_differing_content_lengths_are_refused_and_identical_ones_read(server: ScriptedServer) -> None:
    """RFC 9110 8.6: a list of identical values may be read as one; differing values are an error (a body
    framed by one of them is how responses get smuggled)."""
    origin = origin_for(server)
    server.scripts.put(Script(answer("200 OK", ["Content-Length: 3", "Content-Length: 3"], b"abc")))
    assert exchange(origin, "GET", "/", {}, b"").read(None) == b"abc"
    server.scripts.put(Script(answer("200 OK", ["Content-Length: 3", "Content-Length: 5"], b"abcde"),
                              close_after=True))
    with pytest.raises(WireError, match="conflicting"):
        exchange(origin, "GET", "/", {}, b"")
    server.scripts.put(Script(answer("200 OK", ["Content-Length: 3, 4"], b"abcd"), close_after=True))
    with pytest.raises(WireError, match="conflicting"):
        exchange(origin, "GET", "/", {}, b"")


@pytest.mark.parametrize("size", [b"+5", b"0x5", b"5_0", b" 5", b"-1", b"g"])
def test_chunk_sizes_are_hex_digits_only(server: ScriptedServer, size: bytes) -> None:
    origin = origin_for(server)
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\nhello\r\n0\r\n\r\n"
    server.scripts.put(Script(raw, close_after=True))
    response = exchange(origin, "GET", "/", {}, b"")
    with pytest.raises(WireError, match="bad chunk size"):
        response.read(None)


@pytest.mark.parametrize("line", [b"Bad Name: x", b"(x): y", b"X\x01: y"])
def test_answer_header_names_must_be_tokens(server: ScriptedServer, line: bytes) -> None:
    origin = origin_for(server)
    server.scripts.put(Script(b"HTTP/1.1 200 OK\r\n" + line + b"\r\nContent-Length: 0\r\n\r\n",
                              close_after=True))
    with pytest.raises(WireError, match="bad header line"):
        exchange(origin, "GET", "/", {}, b"")


def test_abandoned_body_closes_its_connection(server: ScriptedServer) -> None:
    origin = origin_for(server)
    server.scripts.put(Script(answer("200 OK", ["Content-Length: 10"], b"0123456789")))
    response = exchange(origin, "GET", "/", {}, b"")
    assert response.read(2) == b"01"
    response.release_conn()  # not read to the end: the rest is still on the socket
    assert response.done
    server.scripts.put(Script(answer("200 OK", ["Content-Length: 1"], b"x")))
    assert exchange(origin, "GET", "/", {}, b"").read(None) == b"x"
    assert server.connections == 2


def test_idle_connection_closed_by_the_server_is_replaced(server: ScriptedServer) -> None:
    origin = origin_for(server)
    server.scripts.put(Script(answer("200 OK", ["Content-Length: 1"], b"a"), close_after=True))  # no "close" header
    assert exchange(origin, "GET", "/", {}, b"").read(None) == b"a"
    server.scripts.put(Script(answer("200 OK", ["Content-Length: 1"], b"b")))
    threading.Event().wait(0.1)  # the server's FIN has arrived: the idle check sees it
    assert exchange(origin, "GET", "/", {}, b"").read(None) == b"b"
    assert server.connections == 2


def test_reused_connection_closed_in_flight_is_reported_stale(server: ScriptedServer,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    origin = origin_for(server)
    server.scripts.put(Script(answer("200 OK", ["Content-Length: 1"], b"a"), close_after=True))
    assert exchange(origin, "GET", "/", {}, b"").read(None) == b"a"
    threading.Event().wait(0.1)
    monkeypatch.setattr("s3migrate.endpoints.wire.Connection.alive", lambda self: True)  # the close races the check
    with pytest.raises(StaleConnection):
        exchange(origin, "GET", "/", {}, b"")


def test_unsendable_headers_are_refused_before_anything_is_sent(server: ScriptedServer) -> None:
    origin = origin_for(server)
    for name, value in [("X-Amz-Meta-A", "one\r\nInjected: yes"), ("X-Amz-Meta-A", "bell\x07"),
                        ("X-Amz-Meta-A", "nul\x00"), ("X-Amz-Meta-A", "del\x7f"), ("X Amz", "v"), ("X:A", "v"),
                        ("", "v"), ("X-(A)", "v")]:
        with pytest.raises(ValueError, match="cannot be sent"):
            exchange(origin, "GET", "/", {name: value}, b"")
    assert server.requests == []
    server.scripts.put(Script(answer("200 OK", ["Content-Length: 0"])))
    exchange(origin, "GET", "/", {"X-Amz-Meta-A": "tab\tinside"}, b"").read(None)  # HTAB is allowed (RFC 9110 5.5)
    assert b"X-Amz-Meta-A: tab\tinside\r\n" in server.requests[-1][0]
    with pytest.raises(UnicodeEncodeError):
        exchange(origin, "GET", "/", {"X-Amz-Meta-A": "\u2603"}, b"")


def test_connection_refused_is_a_wire_error() -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    origin = Origin(lambda: HTTPConnection("127.0.0.1", port, timeout=2), read_timeout=2, limit=1)
    with pytest.raises(WireError, match="cannot connect"):
        exchange(origin, "GET", "/", {}, b"")
