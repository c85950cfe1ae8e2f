"""Benchmark: the lean path's transport (``wire.py`` framing, ``sigv4.py`` signing) against awscrt's S3 client
(aws-cli v2's: signing, connection pool and checksums in C, outside the GIL), request for request.

One SeaweedFS server on 127.0.0.1. Each engine GETs every object of a dataset into memory and PUTs it back under
another key, with the same number of requests in flight; the figure to read is the client's CPU (this process,
every thread, native ones included) per object and per GiB, and the wall time beside it.

    python bench/transport.py [--runs 3] [--small 2000] [--large 8] [--in-flight 32]

awscrt is not a dependency of s3migrate: ``pip install awscrt`` (the ``[bench]`` extra has it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.seaweed import SeaweedServer  # noqa: E402

from s3migrate.endpoints.lean import S3Store  # noqa: E402

MIB = 1024 * 1024
BUCKET = "transport"


class LeanEngine:
    """s3migrate's lean path, as the engine calls it: ``S3Store.get_object`` / ``put_object``."""

    name = "wire.py (lean path)"

    def __init__(self, server: SeaweedServer, in_flight: int) -> None:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3", endpoint_url=server.endpoint_url, aws_access_key_id=server.access_key,
            aws_secret_access_key=server.secret_key, region_name="us-east-1",
            config=Config(max_pool_connections=in_flight, s3={"addressing_style": "path"}))
        self.store = S3Store(client)
        assert self.store.lean_active
        self.pool = ThreadPoolExecutor(in_flight)

    def get(self, key: str) -> bytes:
        body = self.store.get_object(Bucket=BUCKET, Key=key)["Body"]
        data: bytes = body.read()
        return data

    def put(self, key: str, data: bytes) -> None:
        self.store.put_object(Bucket=BUCKET, Key=key, Body=data)

    def run(self, jobs: list[Callable[[], None]]) -> None:
        for future in [self.pool.submit(job) for job in jobs]:
            future.result()

    def close(self) -> None:
        self.pool.shutdown()


class CrtEngine:
    """awscrt's S3Client: requests made asynchronously, bodies delivered to Python callbacks."""

    name = "awscrt S3Client"

    def __init__(self, server: SeaweedServer, in_flight: int) -> None:
        from awscrt.auth import AwsCredentialsProvider
        from awscrt.s3 import S3Client, S3RequestTlsMode

        self.host = f"127.0.0.1:{server.s3_port}"
        self.client = S3Client(
            region="us-east-1", tls_mode=S3RequestTlsMode.DISABLED,
            credential_provider=AwsCredentialsProvider.new_static(server.access_key, server.secret_key),
            part_size=64 * MIB, multipart_upload_threshold=1 << 40,  # one request per object, as the lean path
            max_active_connections_override=in_flight)
        self.slots = threading.Semaphore(in_flight)

    def _request(self, method: str, key: str, body: bytes | None, on_body: Callable[..., None] | None) -> Any:
        import io

        from awscrt.http import HttpHeaders, HttpRequest
        from awscrt.s3 import S3RequestType

        headers = HttpHeaders([("Host", self.host)])
        stream = None
        if body is not None:
            headers.add("Content-Length", str(len(body)))
            stream = io.BytesIO(body)
        request = HttpRequest(method, f"/{BUCKET}/{key}", headers, stream)
        kind = S3RequestType.GET_OBJECT if method == "GET" else S3RequestType.PUT_OBJECT
        return self.client.make_request(type=kind, request=request, on_body=on_body)

    def get(self, key: str) -> bytes:
        chunks: list[bytes] = []
        on_body = lambda chunk, offset, **kwargs: chunks.append(bytes(chunk))  # noqa: E731
        self._request("GET", key, None, on_body).finished_future.result()
        return b"".join(chunks)

    def put(self, key: str, data: bytes) -> None:
        self._request("PUT", key, data, None).finished_future.result()

    def run(self, jobs: list[Callable[[], None]]) -> None:
        # The CRT runs the requests on its own event loop threads; a thread per request in flight waits for each.
        with ThreadPoolExecutor(32) as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()

    def close(self) -> None:
        pass


class CrtFileEngine(CrtEngine):
    """awscrt with the bodies kept out of Python: each GET lands in a file in RAM (``recv_filepath``) and the PUT
    sends that file (``send_filepath``), as aws-cli v2 does between S3 and disk."""

    name = "awscrt S3Client, bodies via /dev/shm files"

    def __init__(self, server: SeaweedServer, in_flight: int) -> None:
        super().__init__(server, in_flight)
        self.folder = Path(tempfile.mkdtemp(prefix="s3migrate-crt-", dir="/dev/shm" if Path("/dev/shm").is_dir()
                                            else None))

    def _file_request(self, method: str, key: str, path: Path, size: int) -> Any:
        from awscrt.http import HttpHeaders, HttpRequest
        from awscrt.s3 import S3RequestType

        headers = HttpHeaders([("Host", self.host)])
        if method == "PUT":
            headers.add("Content-Length", str(size))
        request = HttpRequest(method, f"/{BUCKET}/{key}", headers)
        if method == "GET":
            return self.client.make_request(type=S3RequestType.GET_OBJECT, request=request,
                                            recv_filepath=str(path))
        return self.client.make_request(type=S3RequestType.PUT_OBJECT, request=request, send_filepath=str(path))

    def copy_via_file(self, key: str, size: int) -> None:
        path = self.folder / key.replace("/", "_")
        self._file_request("GET", key, path, size).finished_future.result()
        assert path.stat().st_size == size
        self._file_request("PUT", f"copy/{key}", path, size).finished_future.result()
        path.unlink()

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def measure(engine: Any, keys: list[str], size: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) to GET each object and PUT it back as ``copy/KEY``."""

    def copy(key: str) -> Callable[[], None]:
        def job() -> None:
            if isinstance(engine, CrtFileEngine):
                engine.copy_via_file(key, size)
                return
            data = engine.get(key)
            assert len(data) == size, (key, len(data))
            engine.put(f"copy/{key}", data)
        return job

    cpu, wall = time.process_time(), time.perf_counter()
    engine.run([copy(key) for key in keys])
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--small", type=int, default=2000, help="objects of 64 KiB")
    parser.add_argument("--large", type=int, default=8, help="objects of 64 MiB")
    parser.add_argument("--in-flight", type=int, default=32)
    opts = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="s3migrate-transport-"))
    server = SeaweedServer(root / "s3", "AKTRANSPORT", "transport-bench-secret").start()
    try:
        client = server.client()
        client.create_bucket(Bucket=BUCKET)
        datasets = {"64 KiB": ([f"small/{i:05d}" for i in range(opts.small)], 64 * 1024),
                    "64 MiB": ([f"large/{i:03d}" for i in range(opts.large)], 64 * MIB)}
        for keys, size in datasets.values():
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda key, size=size: client.put_object(Bucket=BUCKET, Key=key,
                                                                       Body=os.urandom(size)), keys))
        print("| objects | engine | wall s | client CPU s | CPU per object (GET + PUT) | CPU per GiB copied |")
        print("|---|---|---|---|---|---|")
        for label, (keys, size) in datasets.items():
            for engine_class in (LeanEngine, CrtEngine, CrtFileEngine):
                engine = engine_class(server, opts.in_flight)
                measure(engine, keys[: max(1, len(keys) // 10)], size)  # warm: connections, first signatures
                runs = [measure(engine, keys, size) for _ in range(opts.runs)]
                engine.close()
                wall = statistics.median(r[0] for r in runs)
                cpu = statistics.median(r[1] for r in runs)
                gib = len(keys) * size / 1024**3
                print(f"| {len(keys)} x {label} | {engine.name} | {wall:.2f} | {cpu:.2f} | "
                      f"{cpu / len(keys) * 1000:.2f} ms | {cpu / gib:.2f} s |", flush=True)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
