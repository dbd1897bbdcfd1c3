"""Cgroups for the local executor: ``pids`` and ``memory_mb`` applied by the kernel (to root
too, and to resident memory), where this host lets this process create cgroups.

RLIMIT_NPROC never applies to root and RLIMIT_AS limits address space, not memory; the kernel's
pids and memory controllers do what the limits mean. :func:`cgroup_probe` looks (once per
process and controller) for a writable hierarchy: cgroup v1's controller
(``/sys/fs/cgroup/<controller>/<this process's cgroup>``), else cgroup v2 where the controller is
enabled for children of this process's cgroup (a delegated subtree). It creates and removes a
probe cgroup to be sure. Each process then gets its own ``aibench-<hex>`` cgroup per controller:
``pids.max``; ``memory.limit_in_bytes`` and ``memory.memsw.limit_in_bytes`` (v1) or
``memory.max`` and ``memory.swap.max`` 0 (v2): no swap. The child joins them before it executes
(so bwrap and everything it starts count); the end kills whatever is left in them (a descendant
that left the process group too) and removes them.

With ``measure=True`` a process gets a memory cgroup even without a ``memory_mb`` limit (no limit
written): the executor reads its peak (:meth:`ProcessCgroup.peak_mb`: v1
``memory.max_usage_in_bytes``, v2 ``memory.peak``) before removing it. It counts what the process
and its descendants are charged after joining (resident memory, and the page cache of the files
they read or wrote first), not the pages the child shared with the caller when it was forked.
"""

from __future__ import annotations

import functools
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Final

CGROUP_ROOT: Final = Path("/sys/fs/cgroup")
V2_ROOTS: Final = (CGROUP_ROOT, CGROUP_ROOT / "unified")


def _own() -> dict[str, str]:
    """This process's cgroup per v1 controller, and ``""`` for the v2 unified hierarchy."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return {}
    found: dict[str, str] = {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            found[controller] = path
    return found


def _candidates(controller: str) -> list[tuple[Path, int]]:
    """Folders where ``controller`` cgroups might be made, with the cgroup version."""
    own, found = _own(), []
    v1 = CGROUP_ROOT / controller
    if controller in own and (v1 / "cgroup.procs").is_file():
        found.append((v1 / own[controller].lstrip("/"), 1))
    if "" in own:
        for root in V2_ROOTS:
            base = root / own[""].lstrip("/")
            try:
                if controller in (base / "cgroup.subtree_control").read_text().split():
                    found.append((base, 2))
            except OSError:
                continue
    return found


@functools.cache
def cgroup_probe(controller: str) -> tuple[Path | None, int, str]:
    """Where ``controller`` (``pids``, ``memory``) cgroups can be made, the version, and a word on
    it; ``None``, 0 and why not when nowhere."""
    reasons = []
    for parent, version in _candidates(controller):
        probe = parent / f"aibench-probe-{uuid.uuid4().hex[:12]}"
        limit = "pids.max" if controller == "pids" else ("memory.limit_in_bytes" if version == 1 else "memory.max")
        try:
            probe.mkdir()
            try:
                (probe / limit).write_text("67108864\n" if controller == "memory" else "1\n")
            finally:
                probe.rmdir()
        except OSError as error:
            reasons.append(f"{parent}: {error.strerror or error}")
            continue
        return parent, version, f"cgroup v{version} {controller} controller under {parent}"
    return None, 0, (f"no writable cgroup with the {controller} controller"
                     + (f" ({'; '.join(reasons)})" if reasons else ""))


class ProcessCgroup:
    """One process's cgroups (see the module docstring). Create it, pass :meth:`join` to the
    child's preexec, call :meth:`close` when the process has ended. A limit whose controller
    :func:`cgroup_probe` did not find is not applied here (``pids``/``memory`` say which were).

    :param measure: make the memory cgroup even without ``memory_mb``, to measure the peak.
    :raises OSError: when a cgroup cannot be created or limited (nothing is left then).
    """

    def __init__(self, pids: int | None, memory_mb: int | None, *, measure: bool = False) -> None:
        self.folders: dict[str, Path] = {}
        self.limited: set[str] = set()
        name = f"aibench-{uuid.uuid4().hex[:12]}"
        try:
            for controller, value in (("pids", pids), ("memory", memory_mb)):
                parent, version, _ = cgroup_probe(controller)
                if parent is None or (value is None and not (measure and controller == "memory")):
                    continue
                folder = parent / name
                if folder not in self.folders.values():  # v2: one cgroup for both controllers
                    folder.mkdir()
                self.folders[controller] = folder
                if value is None:
                    continue
                self.limited.add(controller)
                if controller == "pids":
                    (folder / "pids.max").write_text(f"{value}\n")
                elif version == 1:
                    (folder / "memory.limit_in_bytes").write_text(f"{value << 20}\n")
                    if (folder / "memory.memsw.limit_in_bytes").exists():
                        (folder / "memory.memsw.limit_in_bytes").write_text(f"{value << 20}\n")
                else:
                    (folder / "memory.max").write_text(f"{value << 20}\n")
                    if (folder / "memory.swap.max").exists():
                        (folder / "memory.swap.max").write_text("0\n")
        except OSError:
            self.close()
            raise
        self._procs = [str(f / "cgroup.procs") for f in dict.fromkeys(self.folders.values())]

    @property
    def pids(self) -> bool:
        """Whether the pids limit is applied by a cgroup."""
        return "pids" in self.limited

    @property
    def memory(self) -> bool:
        """Whether the memory limit is applied by a cgroup (a measuring-only cgroup is not)."""
        return "memory" in self.limited

    def peak_mb(self) -> tuple[float | None, str]:
        """The memory cgroup's peak in MiB and the file it was read from (v1
        ``memory.max_usage_in_bytes``, v2 ``memory.peak``; before :meth:`close`), or ``None``
        and why not."""
        folder = self.folders.get("memory")
        if folder is None:
            return None, "the process has no memory cgroup"
        reasons = []
        for file in ("memory.max_usage_in_bytes", "memory.peak"):
            try:
                text = (folder / file).read_text().strip()
            except FileNotFoundError:
                continue
            except OSError as error:
                reasons.append(f"{file}: {error.strerror or error}")
                continue
            try:
                return int(text) / (1 << 20), f"the process's memory cgroup ({file})"
            except ValueError:
                reasons.append(f"{file}: not a number ({text[:40]!r})")
        return None, (f"its memory cgroup {folder} has no readable peak (memory.max_usage_in_bytes, memory.peak"
                      + (f": {'; '.join(reasons)})" if reasons else ", a v2 kernel older than 5.19)"))

    def join(self) -> None:
        """Move the calling process into the cgroups (in the child, before it executes)."""
        for procs in self._procs:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, str(os.getpid()).encode())
            finally:
                os.close(fd)

    def _counter(self, controller: str, files: tuple[str, ...], key: str) -> bool:
        """Whether the counter ``key`` of the first of ``files`` that has it is not 0."""
        folder = self.folders.get(controller)
        if folder is None:
            return False
        for file in files:
            try:
                lines = (folder / file).read_text().splitlines()
            except OSError:
                continue
            for line in lines:
                name, _, value = line.partition(" ")
                if name == key:
                    return value.strip() != "0"
        return False

    def pids_hit(self) -> bool:
        """Whether a fork or thread was refused by the pids limit."""
        return self.pids and self._counter("pids", ("pids.events",), "max")

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the cgroup for its memory limit."""
        return self.memory and self._counter("memory", ("memory.oom_control", "memory.events"), "oom_kill")

    def close(self) -> None:
        """Kill everything still in the cgroups, then remove them (retried for a second)."""
        for folder in dict.fromkeys(self.folders.values()):
            end = time.monotonic() + 1.0
            while folder.exists():
                try:
                    pids = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
                except (OSError, ValueError):
                    pids = []
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                try:
                    folder.rmdir()
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > end:
                        break
                    time.sleep(0.01)
