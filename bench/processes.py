"""Benchmark: ``work --processes N`` against one process, over the same queue.

Two SeaweedFS servers (two accounts, so every byte passes through the client), N x 64 KiB objects sent to a
``sqlite:///`` queue and ledger with ``s3migrate send``, then copied by ``s3migrate work --exit-when-idle 1`` with
1, 2, ... processes. Prints wall time, the CPU of the worker processes (children included) and the objects per
CPU second: what a machine with more cores would multiply.

    python bench/processes.py [--objects 3000] [--processes 1,2] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.seaweed import SeaweedServer  # noqa: E402

from run import compile_bytecode, empty_bucket, exit_on_sigterm, profiles_env, servers_cpu  # noqa: E402


def main() -> int:
    exit_on_sigterm()
    compile_bytecode()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=3000)
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--runs", type=int, default=3)
    opts = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="s3migrate-processes-"))
    src = SeaweedServer(root / "src", "AKPROCSRC", "processes-source-secret").start()
    dst = SeaweedServer(root / "dst", "AKPROCDST", "processes-destination-secret").start()
    try:
        src.client().create_bucket(Bucket="p-src")
        dst.client().create_bucket(Bucket="p-dst")
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: src.client().put_object(Bucket="p-src", Key=f"o/{i:05d}", Body=os.urandom(65536)),
                          range(opts.objects)))
        env = profiles_env(root, src, dst, ("bsrc", "bdst"))
        common = ["--from-profile", "bsrc", "--to-profile", "bdst", "--from-endpoint", src.endpoint_url,
                  "--to-endpoint", dst.endpoint_url]
        counts = [int(n) for n in opts.processes.split(",")]
        results: dict[int, list[tuple[float, float, float]]] = {n: [] for n in counts}
        for _ in range(opts.runs):
            for n in counts:  # in turns, so the machine's drift touches each alike
                empty_bucket(dst.client(), "p-dst")
                state = root / "q.db"
                for leftover in root.glob("q.db*"):
                    leftover.unlink()
                cluster = ["--queue", f"sqlite:///{state}", "--ledger", f"sqlite:///{state}"]
                subprocess.run([sys.executable, "-m", "s3migrate", "send", "s3://p-src/o", "s3://p-dst/o", *cluster,
                                *common], env=env, check=True, stdout=subprocess.DEVNULL)
                before_servers = servers_cpu(src, dst)
                before = os.times()
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "s3migrate", "work", *cluster, *common, "--processes", str(n),
                                "--exit-when-idle", "1"], env=env, check=True, stdout=subprocess.DEVNULL)
                wall = time.perf_counter() - started - 1.0  # less the idle second it waits before it ends
                after = os.times()
                cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
                results[n].append((wall, cpu, servers_cpu(src, dst) - before_servers))
        print("| processes | wall s (median) | objects/s | workers' CPU s | servers' CPU s | objects per CPU s |")
        print("|---|---|---|---|---|---|")
        for n, runs in results.items():
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            server = statistics.median(r[2] for r in runs)
            print(f"| {n} | {wall:.2f} | {opts.objects / wall:.0f} | {cpu:.2f} | {server:.2f} | "
                  f"{opts.objects / cpu:.0f} |", flush=True)
    finally:
        src.stop()
        dst.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
