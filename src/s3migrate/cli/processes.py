"""``work --processes N``: N worker processes over the same queue and ledger, for machines with more cores than one
Python process can use (the GIL lets one process use about one core of Python, which on small objects is the
signing, framing and bookkeeping around each copy).

The first process is the one the user started; it starts N - 1 more with the same arguments. Each is a whole
``work`` (its own threads, inbox, heartbeat and summary line), so a job is never shared or lost between them: the
queue hands each message to one of them at a time, as it would to processes on different machines. A stop signal
is passed on to every child; the exit code is the worst of all of them (failed objects beat a stopped window).
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Sequence

CHILD_FLAG = "--processes=1"


def arguments_without_processes(argv: Sequence[str]) -> list[str]:
    """The command line again, without its ``--processes`` option (in either spelling)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--processes":
            skip = True
            continue
        if arg.startswith("--processes="):
            continue
        out.append(arg)
    return out


def start_children(count: int) -> list[subprocess.Popen[bytes]]:
    """``count`` more ``work`` processes with this one's arguments; their output goes where this one's does."""
    args = [sys.executable, "-m", "s3migrate", *arguments_without_processes(sys.argv[1:]), CHILD_FLAG]
    return [subprocess.Popen(args, stdin=subprocess.DEVNULL) for _ in range(count)]


def pass_on_stop(children: list[subprocess.Popen[bytes]]) -> None:
    """Send the stop signal this process got to every child still running."""
    for child in children:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                child.send_signal(signal.SIGTERM)


def worst_exit(own: int, children: list[subprocess.Popen[bytes]]) -> int:
    """Wait for every child; the code that says the most: 2 (usage/config), 1 (failed objects), 130 (stopped),
    3 (window), 0."""
    codes = [own, *(child.wait() for child in children)]
    for code in (2, 1, 130, 3):
        if code in codes:
            return code
    return max(codes)
