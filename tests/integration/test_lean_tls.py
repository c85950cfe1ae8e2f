"""The lean path over HTTPS: its sockets verify the server as botocore would (CA bundle, hostname), on a real server
behind a TLS relay with a test CA."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from botocore.exceptions import SSLError

from s3migrate.endpoints.client import Credentials, Endpoint, make_s3_client
from s3migrate.endpoints.lean import S3Store
from s3migrate.endpoints.location import S3Location
from tests.conftest import Account
from tests.integration.test_lean import md5_of

pytestmark = [pytest.mark.integration,
              pytest.mark.not_on("moto", "it puts a TLS front before the SeaweedFS server's own port")]


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class TlsRelay:
    """Terminates TLS with a test CA's certificate for 127.0.0.1 and relays the bytes to a plain-HTTP server."""

    def __init__(self, upstream_port: int, context: ssl.SSLContext) -> None:
        self.upstream_port, self.context = upstream_port, context
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.handshakes = 0

    def serve(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(raw,), daemon=True).start()

    def _relay(self, raw: socket.socket) -> None:
        try:
            client = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()  # a client that refused our certificate
            return
        self.handshakes += 1
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)


@pytest.fixture(scope="module")
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_endpoint(accounts: tuple[Account, Account], test_ca: trustme.CA) -> Iterator[tuple[str, TlsRelay]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca.issue_cert("127.0.0.1").configure_cert(context)
    relay = TlsRelay(accounts[0].server.s3_port, context)
    threading.Thread(target=relay.serve, daemon=True).start()
    yield f"https://127.0.0.1:{relay.port}", relay
    relay.listener.close()


def tls_client(account: Account, bucket: str, url: str, max_attempts: int = 10) -> S3Store:
    server = account.server
    client = make_s3_client(Endpoint(S3Location.parse(f"s3://{bucket}"), endpoint_url=url,
                                     credentials=Credentials(server.access_key, server.secret_key)),
                            max_attempts=max_attempts)
    assert isinstance(client, S3Store) and client.lean_active
    return client


def test_lean_requests_over_tls_verify_against_the_ca_bundle(
    accounts: tuple[Account, Account], buckets: tuple[str, str], tls_endpoint: tuple[str, TlsRelay],
    test_ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, relay = tls_endpoint
    bundle = tmp_path / "ca.pem"
    test_ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("AWS_CA_BUNDLE", str(bundle))
    bucket = buckets[0]
    client = tls_client(accounts[0], bucket, url)
    data = os.urandom(300_000)
    for i in range(5):
        client.put_object(Bucket=bucket, Key=f"tls/{i}", Body=data, ContentMD5=md5_of(data))
        body = client.get_object(Bucket=bucket, Key=f"tls/{i}")["Body"]
        assert body.read() == data
    page = client.list_objects_page(bucket, "tls/")
    assert [key for key, *_ in page.objects] == [f"tls/{i}" for i in range(5)]
    # Every request went over the lean path's kept-alive TLS connection(s), none through botocore's pool.
    assert relay.handshakes <= 2
    origin = client._origins[url]
    assert origin is not None and origin._idle


def test_a_server_outside_the_ca_bundle_is_refused(
    accounts: tuple[Account, Account], buckets: tuple[str, str], tls_endpoint: tuple[str, TlsRelay],
) -> None:
    url, relay = tls_endpoint
    client = tls_client(accounts[0], buckets[0], url, max_attempts=1)  # botocore would retry the refusal
    with pytest.raises(SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        client.put_object(Bucket=buckets[0], Key="never", Body=b"x", ContentMD5=md5_of(b"x"))
    assert relay.handshakes == 0
