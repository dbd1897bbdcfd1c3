"""The executor interface: how one process of a run (an ingestion program, a
participant's program, a scoring program) is started, waited for and stopped.

The local executor implements it here; Docker, Ray and cloud executors implement the
same interface elsewhere. A process is described by what it *sees*: its argv, its
working directory and the mounts that place host folders at the paths it expects
(``/app/program`` and so on for v2 workers).

**The visibility contract** (issue 9: participant code is untrusted). A spec states exactly
what its process may see and write; executors never derive a mount from ``argv`` or ``env``:

* ``mounts`` lists *every* host folder the process may see, at the path the process uses
  (container path). v2 specs use ``/app/...``; v1 specs use the worker's host paths
  (``<run>/program``, ``<run>/input``, ``<run>/output``, ``<run>/temp``, the shared folder and,
  for an ingestion program whose command names ``$hidden``, the reference data), each mapped to
  the folder that holds its content. Nothing above a mount is given: the run folder itself is
  never mounted, so a step never reaches the reference data or another step's folders through
  a parent directory.
* ``read_only`` names the container paths of ``mounts`` the process must not change (the
  programs, the inputs, the reference data); every other mount (output, shared, temp) is
  writable. Executors honour it (``docker``: ``:ro`` binds; ``local`` under bubblewrap:
  ``--ro-bind``).
* ``hidden`` names host paths the process must not see even where an executor shows the
  host's own files (the local executor under bubblewrap shows the host read-only): the run
  folder, the bundle, other runs. An executor that shows nothing of the host (``docker``)
  has nothing to do for them.

A spec with no ``mounts`` sees host paths as they are; executors run it without a sandbox
(the runner never builds one). The local executor without bubblewrap (``path-rewrite``)
cannot enforce any of this and says so in each result's ``message``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol


@dataclass(frozen=True)
class ResourceLimits:
    """Limits on one process (``None``: no limit, or the executor's default).

    ``time_limit_s`` is wall-clock seconds from the start; ``memory_mb`` MiB; ``cpus`` cores
    (fractions allowed); ``pids`` the most processes and threads; ``gpus`` a number of GPUs
    (``-1``: all of them) or a tuple of device ids (``("0", "2")``, or CDI names such as
    ``nvidia.com/gpu=all``); ``shm_mb`` the size of ``/dev/shm``.

    Contract: an executor applies every limit that is set, or refuses to start the process
    (reason ``error``, a ``message`` naming the limit, why it cannot be applied, and which
    executor can); it never silently ignores one. ``ProcessResult.limits_applied`` says how
    each was applied.
    """

    time_limit_s: float | None = None
    memory_mb: int | None = None
    cpus: float | None = None
    pids: int | None = None
    gpus: int | tuple[str, ...] | None = None
    shm_mb: int | None = None


@dataclass(frozen=True)
class ProcessSpec:
    """One process to run.

    :param name: a short label for logs and records (``scoring``, ``ingestion``, ``program``).
    :param argv: the command, already split and with ``$``-variables substituted.
    :param cwd: the working directory *as the process sees it*.
    :param mounts: container path -> host folder: every host folder the process may see (see
        the module docstring); v1 specs use the worker's host paths as container paths.
    :param env: extra environment variables (added to a minimal base environment).
    :param stdout: host file that receives standard output.
    :param stderr: host file that receives standard error.
    :param limits: resource limits; ``time_limit_s`` is enforced by the executor.
    :param read_only: the container paths of ``mounts`` the process must not change (programs,
        inputs, reference data); executors mount them read-only, and always ``/app/data``.
    :param hidden: host paths the process must not see at all (the run folder, the bundle, other
        runs), for executors that otherwise show the host's files (see the module docstring).
    """

    name: str
    argv: tuple[str, ...]
    cwd: str
    stdout: Path
    stderr: Path
    mounts: Mapping[str, Path] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    limits: ResourceLimits = ResourceLimits()
    read_only: frozenset[str] = frozenset()
    hidden: frozenset[Path] = frozenset()


@dataclass(frozen=True)
class ProcessResult:
    """How a process ended.

    ``exit_code`` is the process's own exit status, ``None`` when it was killed by the
    executor; ``signal`` the signal that ended it, if any; ``reason`` one of
    ``exited``, ``timeout``, ``oom`` (memory limit), ``killed`` (stopped by the caller),
    ``error`` (could not start: ``message`` says why). ``limits_applied`` maps each limit
    that was set (``time_limit_s``, ``memory_mb``, ``cpus``, ``pids``, ``gpus``, ``shm_mb``,
    executor defaults included) to how the executor applied it, in words
    (``"1024 MiB of address space (RLIMIT_AS)"``); empty when nothing started.

    ``peak_memory_mb`` is the process's peak memory in MiB, measured by the executor on the host
    (outside the process, so the participant's code cannot forge it), ``None`` when it could not
    be measured; ``peak_memory_source`` says how it was measured or, when ``None``, why not. The
    local executor reads the peak of the process's own memory cgroup (cgroup v1
    ``memory.max_usage_in_bytes``, v2 ``memory.peak``; each process gets one, limited or not,
    where the host lets it make cgroups), else the ``ru_maxrss`` that ``wait4`` reports for the
    child (:mod:`._local` says what that covers); the Docker executor the container's memory
    cgroup (sampled while it runs), else the engine's stats API (:mod:`._docker`). An executor
    that cannot measure it leaves ``None``. A cgroup's
    figure is the memory charged to it: resident memory plus the page cache of the files the
    process read or wrote first.
    """

    name: str
    exit_code: int | None
    elapsed_s: float
    reason: Literal["exited", "timeout", "oom", "killed", "error"] = "exited"
    signal: int | None = None
    message: str = ""
    isolation: str = ""
    limits_applied: Mapping[str, str] = field(default_factory=dict)
    peak_memory_mb: float | None = None
    peak_memory_source: str = ""


def limit_refusal(executor: str, name: str, value: object, why: str, instead: str) -> str:
    """The message of an ``executor`` that cannot apply a limit: ``name`` (``pids``), the value
    asked, why it cannot, and what can (``instead``: another executor, or unsetting it)."""
    return f"the {name} limit ({value}) cannot be applied by the {executor} executor: {why}; {instead}."


class RunningProcess(Protocol):
    """A started process."""

    def wait(self, timeout: float | None = None) -> ProcessResult | None:
        """Wait up to ``timeout`` seconds (forever when ``None``); the result, or ``None``
        if it is still running."""

    def kill(self) -> ProcessResult:
        """Stop the process and everything it started; returns its result."""


class FinishedProcess:
    """A process that never started: ``wait()`` and ``kill()`` return its result at once (what an
    executor's ``start`` gives back for a command it cannot start, with reason ``error``; or a
    wrapper's answer for a process it chose not to run)."""

    def __init__(self, result: ProcessResult) -> None:
        self.result = result

    def wait(self, timeout: float | None = None) -> ProcessResult | None:
        return self.result

    def kill(self) -> ProcessResult:
        return self.result


class Executor(Protocol):
    """Starts processes. ``name`` identifies it in records (``local``, ``docker``...)."""

    name: str

    def start(self, spec: ProcessSpec) -> RunningProcess:
        """Start ``spec``; never raises for a program that fails to start, but returns a
        process whose result has reason ``error``."""
