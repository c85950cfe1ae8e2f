"""Summarise a py-spy ``--format raw`` profile (collapsed stacks): where the samples of busy threads go.

    python bench/profile.py PROFILE.txt [--top 25] [--match s3migrate]

Prints two tables: the functions with the most *own* samples, and the functions (from ``--match`` modules)
with the most *inclusive* samples. Idle samples (threads waiting on a lock, a socket or a queue) are left
out, so the percentages are of the CPU the process used.
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

# Frames in which a thread is waiting rather than working.
_IDLE = re.compile(
    r"\b(wait|acquire|select|poll|recv_into|readinto|sleep|_wait_for_tstate_lock|_wait_for_lock|get)\b \("
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default="s3migrate", help="module path fragment for the inclusive table")
    opts = parser.parse_args()
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in opts.profile.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        if _IDLE.search(frames[-1]):
            continue
        count = int(count_text)
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            if opts.match in frame:
                inclusive[frame] += count
    print(f"{total} busy samples\n\n## own time")
    for frame, count in own.most_common(opts.top):
        print(f"{100 * count / total:5.1f}%  {frame}")
    print(f"\n## inclusive time, frames matching {opts.match!r}")
    for frame, count in inclusive.most_common(opts.top):
        print(f"{100 * count / total:5.1f}%  {frame}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
