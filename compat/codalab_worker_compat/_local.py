"""The local executor: runs a process on this machine, at the paths it expects.

v2 processes expect ``/app/program``, ``/app/input`` ... and cwd ``/app/program``; v1 processes
get the worker's host paths (``docs/codalab-contract.md`` §1 item 4, §4.5, §5.3). A spec's
``mounts`` list all it may see (the contract of ``_executor``); ``isolation`` picks how that is
provided (``ProcessResult.isolation`` says which was used):

* ``bwrap``: bubblewrap, as tight as it allows while organisers keep their own tools. The
  process runs as uid/gid 65534 (``SANDBOX_UID``) in its own user namespace (no capabilities; the
  files it writes belong to the caller on the host, so no host folder is chmod-ed), with its own
  pid, ipc, uts and (unless ``network=True``) network namespace: only loopback, so nothing on
  the host's 127.0.0.1 or outside is reachable. Its root is a tmpfs holding the host's top-level
  entries **read-only** (programs, libraries, the caller's virtualenv), a new ``/proc``, a new
  ``/dev`` (``null``, ``zero``, ``random``, ``tty``, ``shm``...; no disk, loop or console device)
  with the host's GPU nodes (``/dev/nvidia*``, ``/dev/dri``), a private tmpfs ``/tmp``, an empty
  ``/run`` (the host's sockets, the Docker daemon's first, would accept connections through a
  read-only mount: a way to root), ``/dev/null`` over ``/etc/shadow``, ``/etc/gshadow`` and a
  ``DOCKER_HOST`` socket elsewhere, a
  tmpfs at the top-level folder of each container path that is not inside a hidden path (``/app``:
  nothing is created on the host, and the host's own ``/app`` is hidden), a tmpfs over each of
  ``spec.hidden`` (the run folder, the bundle, other runs: bwrap creates the mount points in it),
  then each mount at its container path, ``--ro-bind`` for ``spec.read_only`` and ``/app/data``,
  ``--bind`` (writable) for the others, and ``HOME``. So a participant's process can write only
  its output, shared and temp folders and its own ``/tmp`` and ``HOME``; it reads this machine's
  files that root may read, except the hidden ones (``TRUST_BWRAP`` says what is not covered).
* ``none`` (result ``path-rewrite``): container paths (longest first, whole path components) in
  the argv, the cwd and ``spec.env`` values are replaced by their host folders. Paths hard-coded
  in the program's own files are NOT rewritten; ``message`` carries that warning. There is **no
  sandbox**: the process runs as this user, sees everything and has the network
  (``TRUST_NONE``); the v1 run folder is then a folder of symlinks to the parts.
* a spec without mounts (not one of the runner's) runs as a plain subprocess (``none``).
* ``auto``: ``bwrap`` if ``bwrap`` is on PATH and a one-time probe (cached per process) works.

Environment: ``PATH`` (the host's, else a default), ``HOME`` (a fresh empty folder beside
``spec.stdout``, removed when the process ends, like a container's), ``LANG=C.UTF-8``,
``PYTHONUNBUFFERED=1`` (the workers set it), then ``spec.env``; nothing else of ``os.environ`` is inherited. stdin is ``/dev/null``; the
process leads its own session and process group.

Limits, as measured on Linux as root (``ProcessResult.limits_applied`` says, per process, which
were applied and how; a limit this executor cannot apply refuses the process, never passes
silently: see :meth:`LocalExecutor.limit_refusals`):

* ``time_limit_s``: enforced while the caller is in ``wait()`` (or calls ``kill()``): SIGTERM to
  the group, SIGKILL after ``KILL_GRACE_S``; reason ``timeout``, ``exit_code`` ``None``.
* ``memory_mb``: a memory cgroup of its own per process where this host lets us create one
  (:mod:`._cgroup`), with no swap: past the limit the kernel OOM-kills a process (exit 137 under
  bwrap and for the killed main process, reason ``oom`` from the cgroup's ``oom_kill`` count).
  Else ``RLIMIT_AS``, the *address space*, not resident memory. An allocation beyond it
  fails (Python: ``MemoryError``) rather than the kernel killing the process, so reason ``oom``
  means: a non-zero exit with an out-of-memory line at the end of stderr. A death by signal only
  gets a hint in ``message``. Programs that reserve address space (threads, OpenBLAS, CUDA, JVM,
  Go) fail far below their real use: numpy needs about 256 MB on 2 cores; never set it for GPUs.
* ``pids``: a pids cgroup of its own per process where this host lets us create one
  (:mod:`._cgroup`: cgroup v1's controller, or a delegated v2 subtree): every process and
  thread the program starts counts, bwrap's 2 included, a refused fork is said in ``message``,
  and whatever is left in the cgroup is killed at the end. Else ``RLIMIT_NPROC``: it counts *all*
  the user's processes, and the kernel never applies it to root, so as root without such a
  cgroup a ``pids`` limit is refused (``--executor docker`` applies it as the container's
  ``pids_limit``).
* ``cpus``: pinned (``sched_setaffinity``) to the first ``ceil(cpus)`` allowed cores; not throttled.
* ``gpus``, ``shm_mb``: refused: every process here sees the host's GPUs and ``/dev/shm``.

Peak memory (``ProcessResult.peak_memory_mb``, measured here on the host, outside the process):
each process gets a memory cgroup of its own where this host lets us make one (``measure_memory``,
on by default; without a ``memory_mb`` limit it limits nothing), and its peak is read before the
cgroup is removed (v1 ``memory.max_usage_in_bytes``, v2 ``memory.peak``): the memory charged to
the process and all its descendants after it joined (resident memory and the page cache of the
files they read or wrote first), bwrap's own included. Else it is the ``ru_maxrss`` that
``os.wait4`` reports for the child: the largest resident set of the waited process and of the
descendants it waited for (one that was not waited for, a daemon, is not covered), and, because
Linux carries the high-water mark of the forked copy of the caller across ``exec``, never less
than this Python process's own resident size when it started the child: an upper bound for a
small program run by a large caller (``peak_memory_source`` says which was used).

Logs: stdout and stderr go through two pipes to :class:`~._logs.CappedLog` files (``log_cap``:
head and tail kept, the cut said in a line), copied by one thread per process; nothing of a log
is ever read whole (the out-of-memory check reads the last 64 KiB of stderr).

Nothing is left behind: on exit, timeout or ``kill()`` the process group gets SIGKILL. Without
bwrap a descendant that starts its own session escapes it, but not the process's cgroups (memory,
and pids where set), whose processes are killed at the end too; under bwrap (``--unshare-pid
--die-with-parent``) the whole pid namespace ends with the group, or with this Python process if
it dies (without bwrap, a process outlives a killed caller). One gap is bwrap's own: the init of
the sandbox's pid namespace asks for its parent's death signal just after bwrap clones it, so a
caller killed in those few milliseconds leaves that init, and what it starts, running. A process killed by a signal has
``exit_code`` 128+N and ``signal`` N; under bwrap only the 128+N is known (bwrap reports it so).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import functools
import glob
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final, Literal

from ._executor import (
    FinishedProcess,
    ProcessResult,
    ProcessSpec,
    ResourceLimits,
    RunningProcess,
    limit_refusal,
)
from ._cgroup import ProcessCgroup, cgroup_probe
from ._logs import CappedLog, LogCap, LogPump, read_tail
from ._errors import InvalidValue

Isolation = Literal["auto", "bwrap", "none"]
Reason = Literal["exited", "timeout", "oom", "killed", "error"]

KILL_GRACE_S: Final = 2.0
DEFAULT_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
READ_ONLY: Final = frozenset({"/app/data"})
#: the user (and group) a process runs as under bubblewrap, inside its own user namespace
SANDBOX_UID: Final = 65534
#: host files covered by /dev/null under bubblewrap (readable to root, whom the sandbox user maps to)
MASKED: Final = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-")
#: the host's system folders a sandboxed process sees, read-only (programs, libraries, settings)
SYSTEM_FOLDERS: Final = ("/bin", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/sbin", "/sys", "/usr")
OOM_MARKERS: Final = ("MemoryError", "Unable to allocate", "Cannot allocate memory", "bad_alloc",
                      "can't allocate memory", "out of memory", "pthread_create failed")
REWRITE_WARNING: Final = (
    "WARNING: bubblewrap is not used ({why}), so container paths ({paths}) were rewritten to host paths "
    "in the command, the working directory and the extra environment only. Paths hard-coded in "
    "the program's own files (e.g. open('/app/input/ref/...')) are NOT rewritten and will fail; "
    "install bubblewrap (apt-get install bubblewrap) for faithful /app paths.")


TRUST_BWRAP: Final = (
    "the local executor ran participant code under bubblewrap: as uid 65534 with no capabilities, {network}, "
    "seeing read-only only this machine's system folders ({system}) and the software folders of its PATH and "
    "Python ({software}), its own mounts, a private /tmp and HOME (the run folder, the bundle and other runs "
    "hidden, the reference data only in the scoring step), writing only its output, shared and temp folders. "
    "It does NOT protect against: a kernel exploit (the kernel is shared), exhausting CPU or disk (no CPU quota, "
    "no disk quota; memory and processes only where limits are set, see each process's limits), reading what "
    "root may read inside those visible folders (the sandbox user maps to the caller outside its namespace), "
    "and side channels. For untrusted submissions use --executor docker (DockerExecutor), never the local executor")
TRUST_NONE: Final = (
    "NO SANDBOX: the local executor ran participant code {how}, as this process's own user, with NONE of the "
    "protections: it could read the reference labels, rewrite the scoring program and the scores, write anywhere "
    "this user may (as root: the whole machine) and use the network. Only run code you wrote yourself this way; "
    "install bubblewrap (apt-get install bubblewrap) for the local sandbox, and use --executor docker for "
    "untrusted submissions")


def _base_env(home: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH") or DEFAULT_PATH, "HOME": home,
            "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _bwrap_argv(spec: ProcessSpec, *, network: bool = False, home: str | None = None) -> list[str]:
    """The bwrap command line that runs ``spec`` with its mounts (see the module docstring).

    Order matters (later mounts cover earlier ones): the host's system folders read-only,
    ``/dev``, a new ``/proc``, a tmpfs ``/tmp`` and ``/run``, :func:`software_folders` read-only
    (nothing else of the host: not ``/root``, ``/home``, ``/srv``, ``/work``..., where other copies
    of a bundle may lie), ``/dev/null`` over the host's password hashes,
    a tmpfs at the top-level folder of each container-only path (``/app``), a tmpfs (folders)
    or ``/dev/null`` (files) over each ``spec.hidden`` path, then each mount at its container
    path, read-only for ``spec.read_only`` and ``/app/data``, ``home`` writable, and the sandbox's
    own root remounted read-only.
    """
    tops = _tops(spec)
    argv = [shutil.which("bwrap") or "bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    if not network:
        argv.append("--unshare-net")
    for path in SYSTEM_FOLDERS:
        if path in tops or not os.path.lexists(path):
            continue
        argv += ["--symlink", os.readlink(path), path] if os.path.islink(path) else ["--ro-bind", path, path]
    # A new /dev (null, zero, random, tty, shm...) plus the GPUs; a private /tmp; an empty /run: the
    # host's sockets (the Docker daemon's above all) accept connections through a read-only mount.
    argv += ["--dev", "/dev", *_gpu_devices(), "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/run"]
    for path in software_folders():  # after /tmp and /run: a venv may lie under /tmp
        if not any(_under(path, top) for top in tops):
            argv += ["--ro-bind", path, path]
    if network and os.path.isdir("/run/systemd/resolve"):
        argv += ["--ro-bind", "/run/systemd/resolve", "/run/systemd/resolve"]
    argv += [a for secret in _masked() for a in ("--ro-bind", os.devnull, secret)]
    for top in sorted(tops - {"/tmp"}):
        argv += ["--tmpfs", top]
    for hidden in sorted(map(str, spec.hidden)):
        if any(_under(hidden, top) for top in tops | {"/tmp", "/run"}) or not os.path.lexists(hidden):
            continue  # already hidden by a tmpfs
        argv += ["--tmpfs", hidden] if os.path.isdir(hidden) and not os.path.islink(hidden) else \
            ["--ro-bind", os.devnull, hidden]
    read_only = set(spec.read_only) | READ_ONLY
    for cpath in sorted(spec.mounts, key=lambda c: (c.count("/"), c)):
        argv += ["--ro-bind" if cpath in read_only else "--bind", str(spec.mounts[cpath]), cpath]
    if home is not None:
        argv += ["--bind", home, home]
    # the sandbox's own root (a tmpfs holding the mount points) read-only: nothing is written
    # outside the writable mounts
    return [*argv, "--remount-ro", "/", "--chdir", spec.cwd, "--", *spec.argv]


@functools.cache
def software_folders() -> tuple[str, ...]:
    """The host folders outside :data:`SYSTEM_FOLDERS` that a sandboxed program needs to run:
    this Python's prefixes (a venv and its base) and, for each ``PATH`` entry, its prefix
    (``~/.pyenv`` for ``~/.pyenv/shims``, ``<venv>`` for ``<venv>/bin``; the entry alone when
    that prefix is a top-level folder). Real paths, existing folders, nested ones dropped."""
    found = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    for entry in (os.environ.get("PATH") or DEFAULT_PATH).split(os.pathsep):
        if not os.path.isabs(entry):
            continue
        real = os.path.realpath(entry)
        parent = os.path.dirname(real)
        found.add(parent if os.path.basename(real) in ("bin", "sbin", "shims") and parent.count("/") >= 2 else real)
    kept = sorted(p for p in found if os.path.isdir(p) and p != "/"
                  and not any(_under(p, system) for system in SYSTEM_FOLDERS))
    return tuple(p for p in kept if not any(_under(p, other) for other in kept if other != p))


@functools.cache
def bwrap_probe() -> tuple[bool, str]:
    """Whether bwrap works here with the options the executor uses (run once per process):
    user, pid, network namespaces and the mounts of a process with a read-only input."""
    if shutil.which("bwrap") is None:
        return False, "bwrap is not on PATH (apt-get install bubblewrap)"
    with tempfile.TemporaryDirectory(prefix="codalab-bwrap-probe-") as folder:
        (Path(folder) / "in").mkdir()
        (Path(folder) / "out").mkdir()
        probe = ProcessSpec("probe", ("true",), "/codalab-probe/x", Path(os.devnull), Path(os.devnull),
                            {"/codalab-probe/x": Path(folder) / "out", "/codalab-probe/in": Path(folder) / "in"},
                            read_only=frozenset({"/codalab-probe/in"}), hidden=frozenset({Path(folder)}))
        try:
            done = subprocess.run(_bwrap_argv(probe, home=folder), stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError) as error:
            return False, f"bwrap probe failed: {error}"
    return done.returncode == 0, (done.stderr.strip() or f"bwrap probe exited {done.returncode}")


def _rewrite(spec: ProcessSpec) -> ProcessSpec:
    """``spec`` with container paths replaced by host folders in argv, cwd and env values."""
    order = sorted(spec.mounts, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w./-])(" + "|".join(map(re.escape, order)) + r")(?![\w.-])")

    def sub(text: str) -> str:
        return pattern.sub(lambda m: str(spec.mounts[m.group(1)]), text)

    return dataclasses.replace(spec, argv=tuple(map(sub, spec.argv)), cwd=sub(spec.cwd), mounts={},
                               env={k: sub(v) for k, v in spec.env.items()}, read_only=frozenset())


def _gpu_devices() -> list[str]:
    """``--dev-bind`` arguments for the host's GPU device nodes (NVIDIA, DRI), if any."""
    found = sorted(glob.glob("/dev/nvidia*")) + (["/dev/dri"] if os.path.isdir("/dev/dri") else [])
    return [a for device in found for a in ("--dev-bind", device, device)]


def _masked() -> list[str]:
    """Host files covered by ``/dev/null``: the password hashes, and the Docker socket that
    ``DOCKER_HOST`` names when it lies outside ``/run`` and ``/tmp`` (both hidden anyway)."""
    found = [secret for secret in MASKED if os.path.isfile(secret)]
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        socket_path = os.path.realpath(host.removeprefix("unix://"))
        if os.path.exists(socket_path) and not any(_under(socket_path, t) for t in ("/run", "/tmp")):
            found.append(socket_path)
    return found


def _tops(spec: ProcessSpec) -> set[str]:
    """The top-level folders covered by a tmpfs under bwrap: that of each container path not
    inside a ``hidden`` path (``/app``; v1 paths lie inside the hidden run folder)."""
    hidden = [str(h) for h in spec.hidden]
    return {"/" + c.split("/")[1] for c in spec.mounts if not any(_under(c, h) for h in hidden)}


def _host_path(path: str, spec: ProcessSpec) -> str | None:
    """Where the process's ``path`` lies on the host under bwrap (``None``: hidden by a tmpfs;
    ``/`` for a folder that bwrap creates empty as the parent of a mount)."""
    mounts, path = spec.mounts, os.path.normpath(path)
    if not mounts:  # no sandbox: host paths are the paths
        return path
    for cpath in sorted(mounts, key=len, reverse=True):
        if _under(path, cpath):
            return str(mounts[cpath]) + path[len(cpath):]
    if any(_under(cpath, path) for cpath in mounts):
        return "/"
    if any(_under(path, c) for c in _tops(spec) | {str(h) for h in spec.hidden}):
        return None
    visible = (*software_folders(), *SYSTEM_FOLDERS)  # what _bwrap_argv shows of the host
    return path if any(_under(path, v) for v in visible) else None


def _mount_problem(mounts: Mapping[str, Path]) -> str | None:
    """Why ``mounts`` cannot be provided (a bad container path, a missing host folder)."""
    for cpath, host in mounts.items():
        if not cpath.startswith("/") or os.path.normpath(cpath) != cpath or cpath == "/":
            return f"cannot start: mount point {cpath!r} is not a normalised absolute path"
        if not host.exists():
            return f"cannot start: the host folder {host} to mount at {cpath} does not exist"
    return None


def _start_problem(spec: ProcessSpec, path: str) -> str | None:
    """Why ``spec`` cannot start (no program, no working directory), else ``None``; ``path`` is
    the process's PATH. Paths are looked up as the process will see them (``_host_path``)."""
    if not spec.argv:
        return "cannot start: the command is empty"
    program, cwd = spec.argv[0], _host_path(spec.cwd, spec)
    if not cwd or not os.path.isdir(cwd):
        return f"cannot start {program!r}: working directory {spec.cwd!r} does not exist"
    if "/" in program:
        found = _host_path(os.path.join(spec.cwd, program), spec)
        if not found or not os.path.isfile(found):
            return f"cannot start {program!r}: no such file (cwd {spec.cwd!r})"
        return None if os.access(found, os.X_OK) else f"cannot start {program!r}: not executable"
    for folder in path.split(":"):
        found = _host_path(os.path.join(folder or ".", program), spec)
        if found and os.path.isfile(found) and os.access(found, os.X_OK):
            return None
    return f"cannot start {program!r}: executable file not found in PATH ({path})"


class LocalExecutor:
    """Runs processes on this machine (see the module docstring for isolation and limits).

    :param isolation: how mounts are provided: ``bwrap``, ``none`` (path rewriting) or ``auto``.
    :param network: under bwrap, share the host's network (default: a new network namespace,
        only loopback, so no host or outside service is reachable). Path rewriting cannot
        take the network away.
    :param log_cap: how much of each stream's log is kept on disk (head and tail).
    """

    name: str = "local"

    def __init__(self, isolation: Isolation = "auto", *, network: bool = False,
                 log_cap: LogCap = LogCap(), measure_memory: bool = True) -> None:
        if isolation not in ("auto", "bwrap", "none"):
            raise InvalidValue(f"isolation must be auto, bwrap or none, not {isolation!r}")
        self.isolation: Isolation = isolation
        self.network = network
        self.log_cap = log_cap
        self.measure_memory = measure_memory

    def trust_warning(self, isolation: str) -> str:
        """What this executor does not protect against, for a run whose participant code ran
        with ``isolation`` (a ``ProcessResult.isolation``); the runner adds it to the run's
        warnings whenever participant code ran."""
        if isolation == "bwrap":
            return TRUST_BWRAP.format(network="with the host's network (network=True)" if self.network
                                      else "without network (only its own loopback)",
                                      system=", ".join(p for p in SYSTEM_FOLDERS if os.path.lexists(p)),
                                      software=", ".join(software_folders()) or "none")
        why = "isolation='none' was asked" if self.isolation == "none" else bwrap_probe()[1]
        return TRUST_NONE.format(how=f"with container paths rewritten (no bubblewrap: {why})"
                                 if isolation == "path-rewrite" else "without a sandbox")

    def limit_refusals(self, limits: ResourceLimits) -> list[str]:
        """Why each limit of ``limits`` that this executor cannot apply is refused (empty: all
        can be applied): ``gpus`` and ``shm_mb`` always, ``pids`` as root."""
        docker = "--executor docker applies it (the container's cgroup)"
        refused = []
        if limits.gpus is not None:
            refused.append(limit_refusal(self.name, "gpus", limits.gpus, "its processes see every GPU of the host "
                                         "and cannot be given or denied some", docker))
        if limits.shm_mb is not None:
            refused.append(limit_refusal(self.name, "shm_mb", limits.shm_mb, "its processes share the host's "
                                         "/dev/shm", docker))
        if limits.pids is not None and os.geteuid() == 0 and cgroup_probe("pids")[0] is None:
            refused.append(limit_refusal(self.name, "pids", limits.pids, f"{cgroup_probe('pids')[2]}, and RLIMIT_NPROC "
                                         "is never applied to root by the kernel",
                                         docker + ", or run aibench as a non-root user"))
        return refused

    def isolation_for(self, spec: ProcessSpec) -> str:
        """What ``spec`` gets: ``bwrap``, ``path-rewrite``, or ``none`` (it has no mounts)."""
        if not spec.mounts:
            return "none"
        if self.isolation == "none" or (self.isolation == "auto" and not bwrap_probe()[0]):
            return "path-rewrite"
        return "bwrap"

    def start(self, spec: ProcessSpec) -> RunningProcess:
        """Start ``spec``; a process that cannot start comes back finished with reason ``error``
        (its ``message`` is also appended to ``spec.stderr``)."""
        # HOME beside the logs (in the run folder: a host killed mid-run leaves it there, for the
        # run's retention to remove, not in TMPDIR)
        spec.stdout.parent.mkdir(parents=True, exist_ok=True)
        mode, notes = self.isolation_for(spec), []
        home = tempfile.mkdtemp(prefix=f".home-{spec.name.replace(' ', '_').replace('/', '_')}-",
                                dir=spec.stdout.parent)
        problem = _mount_problem(spec.mounts)
        if mode == "path-rewrite":
            why = "isolation='none'" if self.isolation == "none" else bwrap_probe()[1]
            notes.append(REWRITE_WARNING.format(why=why, paths=", ".join(sorted(spec.mounts))))
            spec = _rewrite(spec)
        env = {**_base_env(home), **spec.env}
        problem = problem or _start_problem(spec, env["PATH"])
        if problem is None and mode == "bwrap" and not bwrap_probe()[0]:
            problem = f"cannot start: isolation 'bwrap' does not work here: {bwrap_probe()[1]}"
        limits, cores = spec.limits, None
        refused = self.limit_refusals(limits)
        problem = problem or ("cannot start: " + " ".join(refused) if refused else None)
        if limits.cpus is not None:
            cores = set(sorted(os.sched_getaffinity(0))[:max(1, math.ceil(limits.cpus))])
        if problem is not None:
            return _failed(spec, problem, notes, mode, home)
        cgroup = None
        try:
            argv = _bwrap_argv(spec, network=self.network, home=home) if mode == "bwrap" else list(spec.argv)
            if limits.pids is not None or limits.memory_mb is not None:
                try:
                    cgroup = ProcessCgroup(limits.pids, limits.memory_mb, measure=self.measure_memory)
                except OSError:
                    if not self.measure_memory or limits.memory_mb is not None:
                        raise
                    cgroup = ProcessCgroup(limits.pids, None)  # measuring never stops a start
            elif self.measure_memory and cgroup_probe("memory")[0] is not None:
                cgroup = _measuring_cgroup()
            logs = (CappedLog(spec.stdout, self.log_cap), CappedLog(spec.stderr, self.log_cap))
        except OSError as error:
            if cgroup is not None:
                cgroup.close()
            return _failed(spec, f"cannot start {spec.argv[0]!r}: {error}", notes, mode, home)
        pipes = [os.pipe(), os.pipe()]
        try:
            started = time.monotonic()
            popen = subprocess.Popen(argv, cwd=None if mode == "bwrap" else spec.cwd, env=env,
                                     stdin=subprocess.DEVNULL, stdout=pipes[0][1], stderr=pipes[1][1],
                                     start_new_session=True,
                                     preexec_fn=_limiter(limits, cores, cgroup, die_with=os.getpid() if mode == "bwrap" else None))
        except (OSError, subprocess.SubprocessError) as error:
            for fd in (*pipes[0], *pipes[1]):
                os.close(fd)
            for log in logs:
                log.close()
            if cgroup is not None:
                cgroup.close()
            return _failed(spec, f"cannot start {spec.argv[0]!r}: {error}", notes, mode, home)
        for _, write in pipes:
            os.close(write)
        pump = LogPump((pipes[0][0], pipes[1][0]), logs, name=f"logs-{spec.name}-{popen.pid}")
        return _LocalProcess(spec, popen, mode, notes, home, started, pump, _applied(limits, cores, cgroup), cgroup)


def _measuring_cgroup() -> ProcessCgroup | None:
    """A memory cgroup without a limit, to measure the peak; ``None`` (the peak then comes from
    ``wait4``) when it cannot be made: measuring never stops a process from starting."""
    try:
        return ProcessCgroup(None, None, measure=True)
    except OSError:
        return None


def _failed(spec: ProcessSpec, message: str, notes: list[str], mode: str, home: str) -> FinishedProcess:
    """The finished ``error`` process for ``spec``; ``message`` also goes to its stderr log."""
    shutil.rmtree(home, ignore_errors=True)
    try:
        spec.stderr.parent.mkdir(parents=True, exist_ok=True)
        with open(spec.stderr, "a", encoding="utf-8") as err:
            err.write(message + "\n")
    except OSError:
        pass
    return FinishedProcess(ProcessResult(spec.name, None, 0.0, "error", None,
                                   " ".join([message + ".", *notes]), mode))


def _applied(limits: ResourceLimits, cores: set[int] | None, cgroup: ProcessCgroup | None) -> dict[str, str]:
    """How each limit that is set is applied (``ProcessResult.limits_applied``)."""
    applied = {}
    if limits.time_limit_s is not None:
        applied["time_limit_s"] = (f"{limits.time_limit_s:g} s wall clock: SIGTERM to the process group, SIGKILL "
                                   f"{KILL_GRACE_S:g} s later")
    if limits.memory_mb is not None and cgroup is not None and cgroup.memory:
        applied["memory_mb"] = (f"{limits.memory_mb} MiB of memory, no swap (a memory cgroup of its own: "
                                f"OOM-killed past it)")
    elif limits.memory_mb is not None:
        applied["memory_mb"] = (f"{limits.memory_mb} MiB of address space (RLIMIT_AS, not resident memory: "
                                f"an allocation beyond it fails)")
    if limits.pids is not None and cgroup is not None and cgroup.pids:
        applied["pids"] = f"{limits.pids} processes and threads (a pids cgroup of its own)"
    elif limits.pids is not None:
        applied["pids"] = f"{limits.pids} processes of this user, all of them counted (RLIMIT_NPROC)"
    if limits.cpus is not None and cores:
        applied["cpus"] = (f"{limits.cpus:g}: pinned to {len(cores)} core{'s' if len(cores) > 1 else ''} "
                           f"{','.join(map(str, sorted(cores)))} (sched_setaffinity; not throttled)")
    return applied


def _limiter(limits: ResourceLimits, cores: set[int] | None,
             cgroup: ProcessCgroup | None = None, *, die_with: int | None = None) -> Callable[[], None] | None:
    """The preexec function that joins the cgroups and applies the rlimits and the affinity in
    the child, if any (an rlimit only where no cgroup applies the limit), and, given the caller's
    pid ``die_with``, makes the child end with the caller (see :func:`_die_with_parent`)."""
    memory = None if limits.memory_mb is None or (cgroup and cgroup.memory) else limits.memory_mb << 20
    nproc = None if cgroup is not None and cgroup.pids else limits.pids
    rlimits = [(kind, value) for kind, value in ((resource.RLIMIT_AS, memory),
                                                 (resource.RLIMIT_NPROC, nproc)) if value is not None]
    if not rlimits and not cores and cgroup is None and die_with is None:
        return None

    def apply() -> None:
        if die_with is not None:
            _die_with_parent(die_with)
        if cgroup is not None:
            cgroup.join()
        for kind, value in rlimits:
            hard = resource.getrlimit(kind)[1]
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(kind, (value, value))
        if cores:
            os.sched_setaffinity(0, cores)
    return apply


_PR_SET_PDEATHSIG: Final = 1
_libc: ctypes.CDLL | None = None
if sys.platform.startswith("linux"):  # loaded before any fork: the child only calls it
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        _libc = None


def _die_with_parent(parent: int) -> None:
    """In the forked child, before ``exec``: SIGKILL when the caller ``parent`` ends, and end now if
    it already has. bwrap's own ``--die-with-parent`` takes effect only once bwrap has started; a
    caller killed in between would leave the sandbox running. The signal follows the thread that
    started the child, which is the thread that waits for it (:class:`~._runner` waits in the
    thread that starts)."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


def _wait_group_gone(pgid: int, timeout: float = 2.0) -> None:
    """Wait (at most ``timeout`` s) until no live process is left in the group ``pgid``: under
    bwrap the sandbox's processes die with its pid namespace, asynchronously, after SIGKILL."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        alive = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                fields = Path(f"/proc/{entry}/stat").read_bytes().rpartition(b")")[2].split()
            except OSError:
                continue
            if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
                alive = True
                break
        if not alive:
            return
        time.sleep(0.01)


class _LocalProcess:
    """A started process; see ``RunningProcess``. Not safe to share between threads."""

    def __init__(self, spec: ProcessSpec, popen: subprocess.Popen[bytes], isolation: str,
                 notes: list[str], home: str, started: float, pump: LogPump, applied: dict[str, str],
                 cgroup: ProcessCgroup | None = None) -> None:
        self.spec, self.popen, self.isolation = spec, popen, isolation
        self.notes, self.home, self.started = notes, home, started
        self.pump, self.applied, self.cgroup = pump, applied, cgroup
        limit = spec.limits.time_limit_s
        self.deadline = None if limit is None else started + limit
        self.result: ProcessResult | None = None

    @property
    def pid(self) -> int:
        """The process id, also its process group and session id (bwrap's, under bwrap)."""
        return self.popen.pid

    def wait(self, timeout: float | None = None) -> ProcessResult | None:
        """The result once the process has ended; ``None`` if still running after ``timeout``
        seconds. Past the time limit the process group is killed and the reason is ``timeout``."""
        if self.result is not None:
            return self.result
        end = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        pause = 0.002
        while not self._exited():
            now = time.monotonic()
            if self.deadline is not None and now >= self.deadline:
                return self._stop("timeout")
            if end is not None and now >= end:
                return None
            time.sleep(min([pause] + [t - now for t in (end, self.deadline) if t is not None]))
            pause = min(pause * 2, 0.05)
        return self._finish("exited", None)

    def kill(self) -> ProcessResult:
        """Stop the process group (SIGTERM, then SIGKILL); idempotent: later calls return the
        same result, and a process that already ended keeps its own result."""
        if self.result is None and (self.wait(0) is None):
            return self._stop("killed")
        assert self.result is not None
        return self.result

    def _exited(self) -> bool:
        try:  # WNOWAIT: the zombie keeps the process group id from being reused until _finish
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except OSError:
            pass

    def _stop(self, reason: Reason) -> ProcessResult:
        self._signal_group(signal.SIGTERM)
        end = time.monotonic() + KILL_GRACE_S
        while not self._exited() and time.monotonic() < end:
            time.sleep(0.01)
        return self._finish(reason, signal.SIGTERM if self._exited() else signal.SIGKILL)

    def _finish(self, reason: Reason, sig: int | None) -> ProcessResult:
        self._signal_group(signal.SIGKILL)  # whatever of the group is left
        reaped, maxrss_mb = self._reap()
        code: int | None = reaped
        _wait_group_gone(self.pid)
        elapsed = time.monotonic() - self.started
        pids_hit = oom_killed = False
        peak, source = (maxrss_mb, "wait4 ru_maxrss of the child and the descendants it waited for (at least the "
                                   "caller's resident size when it was forked)") if maxrss_mb is not None else \
            (None, "the child was reaped elsewhere: no wait4 figure")
        if self.cgroup is not None:  # whatever left the process group dies with the cgroup
            pids_hit, oom_killed = self.cgroup.pids_hit(), self.cgroup.oom_killed()
            cgroup_peak, why = self.cgroup.peak_mb()
            if cgroup_peak is not None:
                peak, source = cgroup_peak, why
            elif "memory" in self.cgroup.folders:
                source = f"{source} ({why})"
            self.cgroup.close()
        self.pump.finish()  # the logs are complete (tail written) before stderr's end is read
        shutil.rmtree(self.home, ignore_errors=True)
        limits, notes = self.spec.limits, list(self.notes)
        if reason != "exited":  # the executor ended it: no exit code of its own
            code = None
            notes.insert(0, f"time limit of {limits.time_limit_s:g} s exceeded: process group killed."
                         if reason == "timeout" else "stopped by the caller: process group killed.")
        else:
            assert code is not None
            if code < 0:  # a signal, reported as a shell or docker would (137 = SIGKILL)
                sig, code = -code, 128 - code
            if oom_killed:
                reason = "oom"
                notes.insert(0, f"out of memory: the program used more than its memory limit of {limits.memory_mb} MB "
                                "and the kernel killed it (its memory cgroup)"
                                + (f"; it still exited {code}, because its main process survived the kill."
                                   if code == 0 else "."))
            elif limits.memory_mb is not None and code != 0 and not (self.cgroup and self.cgroup.memory):
                if any(marker in self._stderr_tail() for marker in OOM_MARKERS):
                    reason = "oom"
                    notes.insert(0, f"out of memory: the program failed to allocate beyond "
                                    f"memory_mb={limits.memory_mb} (an address-space limit, RLIMIT_AS).")
                elif code in (134, 135, 137, 139):
                    notes.insert(0, f"exit code {code} (a signal): possibly the memory_mb="
                                    f"{limits.memory_mb} address-space limit; this cannot tell.")
        if pids_hit:
            notes.insert(0 if reason == "exited" else 1, f"the process-count limit of {limits.pids} was reached: "
                                                          "starting more processes or threads failed.")
        self.result = ProcessResult(self.spec.name, code, elapsed, reason, sig, " ".join(notes), self.isolation,
                                    dict(self.applied), None if peak is None else round(peak, 1), source)
        return self.result

    def _reap(self) -> tuple[int, float | None]:
        """Wait for the child (``os.wait4``): its exit status as ``Popen`` gives it (``-N`` for a
        signal), and its ``ru_maxrss`` in MiB (``None`` when it was reaped elsewhere)."""
        if self.popen.returncode is None:
            try:
                _, status, usage = os.wait4(self.pid, 0)
            except ChildProcessError:  # reaped by someone else (a SIGCHLD handler)
                return self.popen.wait(), None
            self.popen.returncode = os.waitstatus_to_exitcode(status)
            return self.popen.returncode, usage.ru_maxrss / 1024  # KiB on Linux
        return self.popen.returncode, None

    def _stderr_tail(self) -> str:
        return read_tail(self.spec.stderr)
