"""The metrics of a wrapped scoring program, computed beside the original command.

Metrics read only ``input/res`` and ``input/ref``, never what the scoring program writes,
so on a machine with more than one core they run in a forked process while the original
command runs, and the scoring step lasts about as long as the longer of the two instead of
their sum. Their result is used only once the original succeeded; otherwise the process is
killed. With one usable core they run after the original, as before (no contention).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.isolate import plugin_log
from ..core.lifetime import die_with_parent
from .child import FORWARDED

#: (PluginColumn list, PluginFailure list, AnalysisRecord list, ComplexityReport or None)
Result = tuple[list[Any], list[Any], list[Any], Any]


def usable_cores() -> int:
    """Cores this process may use: its CPU affinity (a container's cpuset), lowered to a
    container's CPU quota (``docker run --cpus``: cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cpu_quota()
    return max(1, min(cores, int(quota))) if quota is not None else cores


def _cpu_quota() -> float | None:
    for path, parse in (("/sys/fs/cgroup/cpu.max", lambda t: t.split()),
                        ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", lambda t: [t.strip(), _read(
                            "/sys/fs/cgroup/cpu/cpu.cfs_period_us")])):
        try:
            quota, period = parse(_read(path))
            if quota not in ("max", "-1") and period:
                return int(quota) / int(period)
        except (OSError, ValueError):
            continue
    return None


def _read(path: str) -> str:
    with open(path, encoding="ascii") as handle:
        return handle.read()


class Metrics:
    """``compute()`` (returning columns, failures, analyses and the complexity report) run in a forked process, started now.

    ``result(timeout_s)`` waits for it; ``None`` with ``error`` set when it failed, crashed or
    ran out of time (then it is killed). ``cancel()`` kills it. Never leaves the process behind:
    it dies with the process that started it, even one killed with SIGKILL. The output of the
    plugin children it starts goes to a capped log at ``log_path`` (in memory when ``None``).
    """

    def __init__(self, compute: Callable[[], Result], log_path: Path | None = None) -> None:
        context = multiprocessing.get_context("fork")
        self._receiver, sender = context.Pipe(duplex=False)

        parent = os.getpid()

        def child() -> None:
            die_with_parent(parent)
            for number in FORWARDED:  # the runtime passes these on to the original command, not this process
                signal.signal(number, signal.SIG_DFL)
            try:
                with plugin_log(log_path):
                    message: tuple[Any, ...] = ("ok", compute())
            except BaseException as error:  # noqa: BLE001 - everything is reported to the parent
                message = ("error", f"{type(error).__name__}: {error}", traceback.format_exc())
            sender.send(message)

        # not a daemon: each metric inside still runs in a child of its own (call_isolated)
        self._process = context.Process(target=child, daemon=False, name="aibench-metrics")
        self._process.start()
        sender.close()
        self.error: str | None = None

    def result(self, timeout_s: float) -> Result | None:
        try:
            if not self._receiver.poll(timeout_s):
                self.error = f"the metrics did not finish within {timeout_s:g} s"
                return None
            message = self._receiver.recv()
        except EOFError:
            self.error = "the process computing the metrics ended without a result"
            return None
        finally:
            self.cancel()
        if message[0] == "ok":
            return tuple(message[1])
        self.error = f"{message[1]}\n{message[2]}"
        return None

    def cancel(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._receiver.close()
