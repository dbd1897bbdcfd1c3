"""A process-count cgroup for the local executor: ``pids`` applied to root too, where this host
lets this process create a cgroup with the ``pids`` controller.

RLIMIT_NPROC never applies to root; the kernel's pids controller does. :func:`pids_cgroup_probe`
looks (once per process) for a writable pids hierarchy: cgroup v1's ``pids`` controller
(``/sys/fs/cgroup/pids/<this process's cgroup>``), else cgroup v2 where ``pids`` is enabled for
children of this process's cgroup (a delegated subtree). It creates and removes a probe cgroup to
be sure. Each process then gets its own ``aibench-<hex>`` cgroup: its ``pids.max`` is the limit,
the child joins it before it executes (so bwrap and everything it starts are counted), the end
kills whatever is left in it (a descendant that left the process group too) and removes it.
"""

from __future__ import annotations

import functools
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Final

V1_ROOT: Final = Path("/sys/fs/cgroup/pids")
V2_ROOTS: Final = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))


def _own(kind: str) -> str | None:
    """This process's cgroup path for controller ``kind`` (``""``: the v2 unified line)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if (kind and kind in controllers.split(",")) or (not kind and controllers == ""):
            return path
    return None


def _candidates() -> list[Path]:
    found = []
    own = _own("pids")
    if own is not None and (V1_ROOT / "cgroup.procs").is_file():
        found.append(V1_ROOT / own.lstrip("/"))
    unified = _own("")
    if unified is not None:
        for root in V2_ROOTS:
            base = root / unified.lstrip("/")
            try:
                if "pids" in (base / "cgroup.subtree_control").read_text().split():
                    found.append(base)
            except OSError:
                continue
    return found


@functools.cache
def pids_cgroup_probe() -> tuple[Path | None, str]:
    """The folder under which this process may create pids cgroups, or ``None`` and why not."""
    reasons = []
    for parent in _candidates():
        probe = parent / f"aibench-probe-{uuid.uuid4().hex[:12]}"
        try:
            probe.mkdir()
            try:
                (probe / "pids.max").write_text("1\n")
            finally:
                probe.rmdir()
        except OSError as error:
            reasons.append(f"{parent}: {error.strerror or error}")
            continue
        return parent, f"pids cgroup under {parent}"
    return None, "no writable cgroup with the pids controller" + (f" ({'; '.join(reasons)})" if reasons else "")


class PidsCgroup:
    """One process's pids cgroup (see the module docstring). Create it, pass :meth:`join` to the
    child's preexec, call :meth:`close` when the process has ended.

    :raises OSError: when the cgroup cannot be created or limited.
    """

    def __init__(self, parent: Path, limit: int) -> None:
        self.path = parent / f"aibench-{uuid.uuid4().hex[:12]}"
        self.path.mkdir()
        try:
            (self.path / "pids.max").write_text(f"{limit}\n")
        except OSError:
            self.path.rmdir()
            raise
        self._procs = str(self.path / "cgroup.procs")

    def join(self) -> None:
        """Move the calling process into the cgroup (in the child, before it executes)."""
        fd = os.open(self._procs, os.O_WRONLY)
        try:
            os.write(fd, str(os.getpid()).encode())
        finally:
            os.close(fd)

    def hit(self) -> bool:
        """Whether a fork or thread was refused by the limit (``pids.events``: ``max N``)."""
        try:
            events = dict(line.split() for line in (self.path / "pids.events").read_text().splitlines())
        except (OSError, ValueError):
            return False
        return events.get("max", "0") != "0"

    def close(self) -> None:
        """Kill everything still in the cgroup, then remove it (retried for a second)."""
        end = time.monotonic() + 1.0
        while True:
            try:
                pids = [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
            except (OSError, ValueError):
                pids = []
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > end:
                    return
                time.sleep(0.01)
