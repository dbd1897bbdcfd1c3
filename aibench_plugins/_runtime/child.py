"""Running the original command of a wrapped program as the worker would have run it:
same argv, working directory, environment and standard streams; signals the worker
sends (``docker stop``: SIGTERM) are passed on to it."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ChildResult:
    """How the original command ended.

    ``exit_code`` is what the worker would have recorded for it: its own status, 128+N when
    a signal N ended it, 127/126 when it could not start (as ``docker run`` reports).
    ``peak_rss_mb`` is the largest resident set of the command or any process it waited
    for (``getrusage(RUSAGE_CHILDREN)``).
    """

    exit_code: int
    elapsed_s: float
    peak_rss_mb: float
    message: str = ""


def run_original(command: Sequence[str]) -> ChildResult:
    """Run ``command`` to its end; see :class:`ChildResult`."""
    started = time.monotonic()
    try:
        process = subprocess.Popen(list(command))
    except OSError as error:
        code = 126 if isinstance(error, PermissionError) else 127
        return ChildResult(code, 0.0, 0.0, f"cannot start {command[0]!r}: {error.strerror or error}")

    def forward(signum: int, frame: object) -> None:
        process.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        status = process.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    elapsed = time.monotonic() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    code = status if status >= 0 else 128 - status
    return ChildResult(code, elapsed, peak_kib / 1024, "" if status >= 0 else f"ended by signal {-status}")


def say(message: str) -> None:
    """A line of the runtime's own on the program's stderr (the platform's log)."""
    sys.stderr.write(f"[aibench] {message}\n")
    sys.stderr.flush()
