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
import traceback
from collections.abc import Callable
from typing import Any

Result = tuple[list[Any], list[Any]]  # (PluginColumn list, PluginFailure list)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity; a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class Metrics:
    """``compute()`` (returning columns and failures) run in a forked process, started now.

    ``result(timeout_s)`` waits for it; ``None`` with ``error`` set when it failed, crashed or
    ran out of time (then it is killed). ``cancel()`` kills it. Never leaves the process behind.
    """

    def __init__(self, compute: Callable[[], Result]) -> None:
        context = multiprocessing.get_context("fork")
        self._receiver, sender = context.Pipe(duplex=False)

        def child() -> None:
            try:
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
