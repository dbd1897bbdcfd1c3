"""Running the original command of a wrapped program as the worker would have run it:
same argv, working directory, environment (an ingestion program's gets the complexity plan and
the runtime's lib more, :mod:`.ingest`) and standard streams; signals the worker
sends (``docker stop``: SIGTERM) are passed on to it, and it gets SIGTERM too when the
runtime itself ends without passing one on (killed with SIGKILL: Linux ``PR_SET_PDEATHSIG``)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.lifetime import die_with_parent

#: the signals a worker's ``docker stop`` or a terminal sends, passed on to the original command
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


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


class Original:
    """The original command, started at construction; :meth:`wait` runs it to its end."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        self._started = time.monotonic()
        self._failed: ChildResult | None = None
        self._previous: dict[int, Any] = {}
        try:
            runtime = os.getpid()
            self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
                list(command), env=dict(env) if env is not None else None,
                preexec_fn=lambda: die_with_parent(runtime, signal.SIGTERM))
        except OSError as error:
            self._process = None
            code = 126 if isinstance(error, PermissionError) else 127
            self._failed = ChildResult(code, 0.0, 0.0, f"cannot start {command[0]!r}: {error.strerror or error}")
            return
        process = self._process

        def forward(signum: int, frame: object) -> None:
            process.send_signal(signum)

        self._previous = {s: signal.signal(s, forward) for s in FORWARDED}

    def wait(self) -> ChildResult:
        """See :class:`ChildResult`."""
        if self._process is None:
            assert self._failed is not None
            return self._failed
        try:
            status = self._process.wait()
        finally:
            for number, handler in self._previous.items():
                signal.signal(number, handler)
        elapsed = time.monotonic() - self._started
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        code = status if status >= 0 else 128 - status
        return ChildResult(code, elapsed, peak_kib / 1024, "" if status >= 0 else f"ended by signal {-status}")


def run_original(command: Sequence[str], env: Mapping[str, str] | None = None) -> ChildResult:
    """Run ``command`` to its end (with ``env`` as its whole environment when given, else this
    process's); see :class:`ChildResult`."""
    return Original(command, env).wait()


def say(message: str) -> None:
    """A line of the runtime's own on the program's stderr (the platform's log)."""
    sys.stderr.write(f"[aibench] {message}\n")
    sys.stderr.flush()
