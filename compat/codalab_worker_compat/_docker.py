"""The Docker executor: each process in its own container, hardened beyond what the platforms do.

Install with ``pip install codalab-worker-compat[docker]`` (the ``docker`` SDK >= 7, imported only
when a :class:`DockerExecutor` is made). It talks to the engine at ``base_url`` (default: the
``DOCKER_HOST`` environment, else ``/var/run/docker.sock``); Podman works through its
Docker-compatible socket, as Codabench uses it.

The contract, per process (``ProcessSpec`` -> ``start()`` -> ``wait``/``kill`` -> ``ProcessResult``):

* **Image**: resolved once, when the executor is made, to its ID (``sha256:...``) and its
  ``RepoDigests`` (empty for a locally built or imported image); every container runs *by ID*,
  so a tag moved mid-run changes nothing. :attr:`DockerExecutor.image_id` and
  :meth:`DockerExecutor.describe` give them for the run record. The image's ENTRYPOINT is kept
  and ``argv`` is its command, as the platforms do (``docs/codalab-contract.md`` §5.4).
* **Paths**: exactly ``spec.mounts``, each host folder at its container path (``/app/...`` for
  v2, cwd ``/app/program``; the v1 worker's host paths for v1, cwd the run folder): the
  ``_executor`` visibility contract. Nothing is derived from ``argv`` or ``env`` and nothing
  above a mount is mounted, so a v1 command naming ``$program/..`` reaches no other folder.
  ``/``, top-level and system folders (``/usr``, ``/etc``, ...) are never mounted writable:
  such a spec fails to start. The v1 run folder itself exists only inside the container (Docker
  creates it as the parent of the mounts, on the read-only root): the v1 worker mounts it
  writable (§4.5), here a program writes only to ``output``, ``temp``, the shared folder and
  ``/tmp``.
* **Read-only**: the root filesystem; ``/tmp`` is a tmpfs (``tmp_mb``, exec allowed, also ``HOME``;
  Docker gives it the mode of the image's own ``/tmp``, 1777 in Debian images);
  every mount in ``spec.read_only`` and ``/app/data``. Only the rest (``/app/output``,
  ``/app/shared``; for v1 ``output``, ``temp`` and the shared folder) is writable.
* **User**: 65534:65534 (nobody) when this host process runs as root, else the host's uid:gid.
  As root, the executor opens the writable host folders to that user (``a+rwX``, symlinks not
  followed; files the container writes belong to 65534 on the host). Read-only inputs are not
  touched: they must be world-readable, as the runner unpacks them (0644 and 0755).
* **Privileges**: ``cap_drop=["ALL"]``, ``security_opt=["no-new-privileges"]``.
* **Network**: ``network_mode="none"`` (only ``lo``) unless ``network=True`` (the default bridge).
* **Limits**: ``spec.limits`` fields, else the executor's defaults: ``memory_mb`` (4096) as
  ``mem_limit`` with ``memswap_limit`` equal (no swap), ``cpus`` (2, at most the host's cores) as
  ``nano_cpus`` (CFS quota, a throttle, not pinning), ``pids`` (512) as ``pids_limit``,
  ``shm_mb`` (256) as ``shm_size``, ``gpus`` as a device request: a count (``-1``: all) or
  device ids with ``capabilities=[["gpu"]]`` for the NVIDIA toolkit, or with
  ``gpu_driver="cdi"`` a CDI request (``nvidia.com/gpu=all`` for a count, as Codabench sends).
  An engine with no GPU runtime fails at start ("could not select device driver"): reason
  ``error``, "no GPU runtime on this host ...".
* **Environment**: ``HOME=/tmp``, ``LANG=C.UTF-8``, ``PYTHONUNBUFFERED=1``, then ``spec.env``,
  over the image's own ``ENV`` (its ``PATH``); nothing of this process's environment.
* **Logs**: attached before start with stdout and stderr kept apart, written as they come to
  ``spec.stdout`` and ``spec.stderr`` through :class:`~._logs.CappedLog` (``log_cap``: head and
  tail kept on disk, the cut said in a line); the engine keeps no copy (log driver ``none``).
  Nothing reads a whole log: the process-count check reads the last 64 KiB of stderr.
* **Time**: ``limits.time_limit_s`` is enforced while the caller is in ``wait()``: the container
  is killed (SIGKILL) and removed; reason ``timeout``, ``exit_code`` ``None``, ``signal`` 9.
  ``kill()`` does the same with reason ``killed``. The container also carries its deadline
  (label ``aibench.deadline``, Unix time: start + limit + ``DEADLINE_GRACE_S``), which
  :func:`reap_orphans` enforces even while its owner lives: a container outlives neither its
  owner nor its deadline by more than the time until the next reaping (any ``aibench`` command).
* **Peak memory** (``ProcessResult.peak_memory_mb``, taken on the host): the container's memory
  cgroup, found when it starts (cgroup v1 ``/sys/fs/cgroup/memory/docker/<id>`` with the
  ``cgroupfs`` driver, ``system.slice/docker-<id>.scope`` with ``systemd``, v2 the same under
  ``/sys/fs/cgroup``, else the one ``/proc/<its pid>/cgroup`` names, if it names the container),
  whose peak (v1 ``memory.max_usage_in_bytes``, v2 ``memory.peak``, else the largest
  ``memory.current`` seen) is read every ``MEMORY_SAMPLE_S`` while it runs: the engine removes the
  cgroup the moment the container ends, so growth in its last interval can be missed. Where no
  cgroup of it is readable here (an engine on another machine, or in another cgroup namespace)
  the engine's stats API is asked every ``STATS_SAMPLE_S`` instead (``memory_stats.max_usage``
  on v1, else the largest ``usage`` seen). ``None``, with the reason in ``peak_memory_source``,
  when the container ended before anything was read. The figure is the memory charged to the
  container: resident memory and the page cache of the files it read or wrote first.
* **Limits applied**: ``ProcessResult.limits_applied`` names each limit given to the container
  (``time_limit_s``, ``memory_mb``, ``cpus``, ``pids``, ``shm_mb``, ``gpus``), defaults included.
* **Outcome**: ``exit_code`` is the container's exit status (137 after a SIGKILL). Reason
  ``oom`` comes from ``State.OOMKilled`` in inspect, never from the exit code: a shell whose child
  was OOM-killed exits 0, and that run is still ``oom``. ``elapsed_s`` is the engine's
  ``FinishedAt - StartedAt``. ``isolation`` is ``docker``. When the end of stderr shows failed
  forks ("Resource temporarily unavailable", "can't fork", ...), ``message`` says that the
  process-count limit was reached.
* **Nothing left behind**: each container is named ``aibench-<step>-<12 hex>``, labelled
  (``aibench.owner-pid``, ``aibench.owner-start``, ``aibench.owner-host``, ``aibench.run``,
  ``aibench.step``) and force-removed (with its anonymous volumes) once it ends, is killed, or
  fails to start (a failed start leaves a "Created" container in Docker). A host process killed
  with SIGKILL cannot clean up: a watcher (:func:`~._reaper.watch`, one detached process per
  owner, started with the first executor) removes its containers within a second of its death;
  :func:`reap_orphans`, run whenever an executor is made, and :func:`~._reaper.reap_quick`, run
  by every ``aibench`` command, remove those whose owner on this host is gone or whose deadline
  has passed (should the watcher itself have been killed).

What the platforms do differently (§5.5, §12): Codabench c7dbc75 runs containers as the image's
user (root), with the network on unless the worker disables it, no memory, CPU, PIDs or shm
limit, a writable root filesystem and writable ``/app/program``, ``/app/input`` mounts (only
``/app/data`` read-only), 14 capabilities dropped rather than all, ``userns_mode=host``, and
the image by name (pulled). AI4Media-Bench (= Codabench 2023-10) only adds
``no-new-privileges``. The v1 worker (§4.5) mounts the whole run folder writable (``-v RUN:RUN``,
so a program may write beside its code and into its inputs), the shared folder, and the reference
data (``-v HIDDEN:HIDDEN``) into every ingestion container, as root on the bridge network; here
only the parts, inputs read-only, and the reference data only for an ingestion command naming
``$hidden``. A program that writes beside its own code or downloads at run time works
there and fails here: write to ``/app/output`` or ``/tmp``, and pass ``network=True`` when the
competition allows downloads.
"""

from __future__ import annotations

import os
import re
import socket
import stat
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from ._executor import FinishedProcess, ProcessResult, ProcessSpec, RunningProcess
from ._logs import CappedLog, LogCap, read_tail
from ._reaper import is_orphan, process_start, start_watcher
from ._errors import CompatError, InvalidValue

if TYPE_CHECKING:
    import docker

Reason = Literal["exited", "timeout", "oom", "killed", "error"]
GpuDriver = Literal["nvidia", "cdi"]

DEFAULT_MEMORY_MB: Final = 4096
DEFAULT_CPUS: Final = 2.0
DEFAULT_PIDS: Final = 512
DEFAULT_SHM_MB: Final = 256
DEFAULT_TMP_MB: Final = 1024
NOBODY: Final = "65534:65534"
ALWAYS_READ_ONLY: Final = frozenset({"/app/data"})
LABEL: Final = "aibench"
STOP_WAIT_S: Final = 30
#: seconds a container may outlive its time limit before :func:`reap_orphans` removes it
DEADLINE_GRACE_S: Final = 10
#: seconds between two reads of a container's memory cgroup, and of the engine's stats API
MEMORY_SAMPLE_S: Final = 0.02
STATS_SAMPLE_S: Final = 0.5
CGROUP_ROOT: Final = Path("/sys/fs/cgroup")
NO_GPU_MESSAGE: Final = ("no GPU runtime on this host: the Docker engine could not select a device driver for the "
                         "GPU request ({detail}). Install the NVIDIA Container Toolkit (or use gpu_driver='cdi' on "
                         "an engine with CDI, Docker 25+), or run without GPUs")


class DockerExecutorError(CompatError):
    """The executor cannot be used: no ``docker`` SDK, no engine answering, or no such image."""


@dataclass(frozen=True)
class _Bind:
    target: str  # the path inside the container
    source: str  # the host folder
    read_only: bool


def _client(base_url: str | None) -> docker.DockerClient:
    try:
        import docker
    except ImportError as error:
        raise DockerExecutorError("the docker executor needs the docker SDK: "
                                  "pip install 'codalab-worker-compat[docker]'") from error
    try:
        client = docker.DockerClient(base_url=base_url) if base_url else docker.from_env()
        client.ping()
    except Exception as error:  # docker.errors.DockerException, requests' connection errors
        raise DockerExecutorError(f"no Docker engine answers at {base_url or os.environ.get('DOCKER_HOST') or 'unix:///var/run/docker.sock'}: {error}. "
                                  "Start dockerd (see compat/images/README.md)") from error
    return client


def reap_orphans(client: docker.DockerClient | None = None, *, base_url: str | None = None) -> list[str]:
    """Remove (force, with volumes) every container labelled by aibench on this host whose owner
    process is gone (dead, or its pid reused) or whose deadline (label ``aibench.deadline``) has
    passed; return their names. Containers of other hosts sharing the engine, and of live owners
    within their deadline, are left alone."""
    own = client is None
    client = client or _client(base_url)
    removed = []
    try:
        host, now = socket.gethostname(), time.time()
        for summary in client.api.containers(all=True, filters={"label": [f"{LABEL}.owner-host={host}"]}):
            if not is_orphan(summary.get("Labels") or {}, now):
                continue
            try:
                client.api.remove_container(summary["Id"], force=True, v=True)
            except Exception:  # already gone (removed by someone else meanwhile)
                continue
            removed.append(str((summary.get("Names") or [summary["Id"]])[0]).lstrip("/"))
    finally:
        if own:
            client.close()
    return removed


def _slug(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", name).strip("-.").lower() or "process"


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _binds(spec: ProcessSpec) -> list[_Bind]:
    """The mounts of ``spec``, exactly (see the module docstring): each host folder of
    ``mounts`` at its container path, read-only when in ``read_only`` or ``/app/data``.
    Nothing is derived from ``argv`` or ``env``, and nothing above a mount is mounted."""
    read_only = set(spec.read_only) | ALWAYS_READ_ONLY
    return [_Bind(target, os.path.realpath(host), target in read_only)
            for target, host in sorted(spec.mounts.items())]


#: host folders never mounted writable nor opened to the container user
_SYSTEM: Final = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin",
                  "/sys", "/usr", "/var/lib", "/var/run", "/snap")


def _protected(path: str) -> bool:
    """``/``, a top-level folder, a system folder or the home folder itself."""
    real = os.path.realpath(path)
    return (real.count("/") < 2 or any(_under(real, s) for s in _SYSTEM)
            or real == os.path.realpath(os.path.expanduser("~")))


def _open_to(path: str) -> None:
    """Make the writable folder ``path`` and what it holds writable for any user (a+rwX), so
    that uid 65534 can write there; system folders are never touched. No link is followed, even
    one a running container swaps in meanwhile (a v2 program and ingestion container share
    ``/app/output``): the walk holds folder descriptors (``os.fwalk``), and each entry is opened
    with ``O_NOFOLLOW`` and changed through its descriptor (``fchmod``)."""
    if _protected(path) or not os.path.isdir(path) or os.path.islink(path):
        raise InvalidValue(f"cannot start: refusing to open {path!r} to the container user")
    for _, _, files, folder in os.fwalk(path, follow_symlinks=False):
        _fix_mode(".", folder)
        for name in files:  # each folder is fixed when fwalk enters it
            _fix_mode(name, folder)


def _fix_mode(name: str, folder: int) -> None:
    """a+rw (and a+x for folders and executables) on ``name`` in the folder descriptor ``folder``;
    a link, or anything that cannot be opened without following one, is left alone."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=folder)
    except OSError:
        return  # ELOOP (a link), gone meanwhile, or a socket: nothing to open for the container user
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            return
        bits = stat.S_IMODE(mode)
        wanted = bits | 0o666 | (0o111 if stat.S_ISDIR(mode) or bits & 0o111 else 0)
        if wanted != bits:
            os.fchmod(fd, wanted)
    finally:
        os.close(fd)


def _elapsed(state: Mapping[str, Any], fallback: float) -> float:
    def parse(text: str) -> datetime:
        head, _, fraction = text.rstrip("Z").partition(".")
        return datetime.fromisoformat(f"{head}.{(fraction + '000000')[:6]}+00:00")

    try:
        seconds = (parse(state["FinishedAt"]) - parse(state["StartedAt"])).total_seconds()
    except (KeyError, ValueError, TypeError):
        return fallback
    return seconds if 0 <= seconds < 10 * 365 * 86400 else fallback


class DockerExecutor:
    """Runs each process in its own hardened container (see the module docstring).

    :param image: an image name or ID present on the engine; resolved once to its ID.
    :param network: give containers the default bridge network (off: only ``lo``).
    :param memory_mb, cpus, pids, shm_mb: defaults for limits a spec leaves ``None``.
    :param tmp_mb: size of the ``/tmp`` tmpfs.
    :param gpu_driver: how ``limits.gpus`` is requested: ``nvidia`` (``capabilities=[["gpu"]]``) or ``cdi``.
    :param user: the container user; default 65534:65534 as root, else this process's uid:gid.
    :param run_label: stored in each container's ``aibench.run`` label (a run id).
    :param base_url: the engine's socket (default: ``DOCKER_HOST`` or the standard socket).
    :param reap: remove orphaned aibench containers of this host now (:func:`reap_orphans`), and
        start this process's watcher.
    :param log_cap: how much of each stream's log is kept on disk (head and tail).
    :raises DockerExecutorError: when the SDK is missing, no engine answers or the image is unknown.
    """

    name: str = "docker"

    def __init__(self, image: str, *, network: bool = False, memory_mb: int | None = DEFAULT_MEMORY_MB,
                 cpus: float | None = DEFAULT_CPUS, pids: int | None = DEFAULT_PIDS, shm_mb: int = DEFAULT_SHM_MB,
                 tmp_mb: int = DEFAULT_TMP_MB, gpu_driver: GpuDriver = "nvidia", user: str | None = None,
                 run_label: str = "", base_url: str | None = None, reap: bool = True,
                 log_cap: LogCap = LogCap()) -> None:
        if gpu_driver not in ("nvidia", "cdi"):
            raise InvalidValue(f"gpu_driver must be nvidia or cdi, not {gpu_driver!r}")
        self.client = _client(base_url)
        try:
            import docker.errors

            try:
                found = self.client.images.get(image)
            except docker.errors.ImageNotFound:
                raise DockerExecutorError(
                    f"no image {image!r} on this Docker engine: build it (make images, compat/images/README.md) "
                    f"or pull it (docker pull {image})") from None
            self.reaped = reap_orphans(self.client) if reap else []
        except BaseException:
            self.client.close()
            raise
        self.image = image
        self.image_id: str = str(found.id)
        self.repo_digests: list[str] = list(found.attrs.get("RepoDigests") or [])
        self.network, self.memory_mb, self.cpus, self.pids = network, memory_mb, cpus, pids
        self.shm_mb, self.tmp_mb, self.gpu_driver = shm_mb, tmp_mb, gpu_driver
        self.user = user or (NOBODY if os.geteuid() == 0 else f"{os.getuid()}:{os.getgid()}")
        self.run_label, self.log_cap = run_label, log_cap
        self._owner = (str(os.getpid()), process_start(os.getpid()) or "", socket.gethostname())
        self.watcher = start_watcher() if reap else None

    def describe(self) -> dict[str, Any]:
        """What the run record stores: the image as given, its ID and digests, and the settings."""
        return {"executor": self.name, "image": self.image, "image_id": self.image_id,
                "repo_digests": list(self.repo_digests), "network": self.network, "user": self.user,
                "memory_mb": self.memory_mb, "cpus": self.cpus, "pids": self.pids, "shm_mb": self.shm_mb,
                "tmp_mb": self.tmp_mb, "gpu_driver": self.gpu_driver}

    def close(self) -> None:
        """Close the connection to the engine (running containers are not affected)."""
        self.client.close()

    def __enter__(self) -> DockerExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, spec: ProcessSpec) -> RunningProcess:
        """Start ``spec`` in a new container; a process that cannot start (no such command,
        no GPU runtime, a missing mount folder) comes back finished with reason ``error``, its
        container removed, and its ``message`` appended to ``spec.stderr``."""
        import docker.errors

        problem = None if spec.argv else "cannot start: the command is empty"
        problem = problem or (None if spec.cwd.startswith("/") else
                              f"cannot start: the working directory {spec.cwd!r} is not an absolute path")
        for target, host in spec.mounts.items():
            if not target.startswith("/") or os.path.normpath(target) != target or target == "/":
                problem = problem or f"cannot start: mount point {target!r} is not a normalised absolute path"
            elif not Path(host).is_dir():
                problem = problem or f"cannot start: the host folder {host} to mount at {target} does not exist"
        if problem is not None:
            return FinishedProcess(_failed(spec, problem, []))
        notes: list[str] = []
        try:
            binds = _binds(spec)
            for bind in binds:
                if not bind.read_only and _protected(bind.source):
                    raise InvalidValue(f"cannot start: refusing to mount the system folder {bind.source} writable "
                                     f"(at {bind.target})")
            if self.user == NOBODY and os.geteuid() == 0:
                for bind in binds:
                    if not bind.read_only:
                        _open_to(bind.source)
        except (ValueError, OSError) as error:
            return FinishedProcess(_failed(spec, str(error), []))
        config, applied = self._host_config(spec, binds, notes)
        name = f"{LABEL}-{_slug(spec.name)}-{uuid.uuid4().hex[:12]}"
        labels = {f"{LABEL}.owner-pid": self._owner[0], f"{LABEL}.owner-start": self._owner[1],
                  f"{LABEL}.owner-host": self._owner[2], f"{LABEL}.run": self.run_label,
                  f"{LABEL}.step": spec.name}
        if spec.limits.time_limit_s is not None:  # creation + start take a few seconds at most
            labels[f"{LABEL}.deadline"] = f"{time.time() + spec.limits.time_limit_s + DEADLINE_GRACE_S:.0f}"
            applied = {"time_limit_s": f"{spec.limits.time_limit_s:g} s wall clock: the container is killed and "
                                       f"removed (if this process dies: by its watcher at once, else by the next "
                                       f"aibench command from {DEADLINE_GRACE_S} s past the deadline)", **applied}
        env = {"HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", **spec.env}
        api, container, attached = self.client.api, None, None
        try:
            created = api.create_container(self.image_id, command=list(spec.argv), working_dir=spec.cwd,
                                           environment=env, user=self.user, labels=labels, name=name,
                                           host_config=config, stdin_open=False, tty=False)
            container = str(created["Id"])
            attached = api.attach_socket(container, params={"stdout": 1, "stderr": 1, "stream": 1})
            out, err = CappedLog(spec.stdout, self.log_cap), CappedLog(spec.stderr, self.log_cap)
            try:
                started = time.monotonic()
                api.start(container)
            except BaseException:
                out.close()
                err.close()
                raise
            memory = _MemorySampler(api, container, _memory_file(api, container))
        except docker.errors.APIError as error:
            _close_socket(attached)
            if container is not None:
                remove_container(api, container)
            return FinishedProcess(_failed(spec, _start_message(spec, error), notes))
        except BaseException:
            _close_socket(attached)
            if container is not None:
                remove_container(api, container)
            raise
        return _DockerProcess(self, spec, container, name, attached, out, err, started, notes, applied, memory)

    def limit_refusals(self, limits: Any) -> list[str]:
        """The limits this executor cannot apply: none (an engine without a GPU runtime fails
        the start of a process asking for GPUs, with :data:`NO_GPU_MESSAGE`)."""
        return []

    def _host_config(self, spec: ProcessSpec, binds: list[_Bind],
                     notes: list[str]) -> tuple[Any, dict[str, str]]:
        """The container's host config, and how each limit is applied (``limits_applied``)."""
        import docker.types

        limits = spec.limits
        memory = limits.memory_mb if limits.memory_mb is not None else self.memory_mb
        cpus = limits.cpus if limits.cpus is not None else self.cpus
        pids = limits.pids if limits.pids is not None else self.pids
        shm = limits.shm_mb if limits.shm_mb is not None else self.shm_mb
        host_cpus = os.cpu_count() or 1
        if cpus is not None and cpus > host_cpus:
            notes.append(f"cpus {cpus:g} capped to the host's {host_cpus} cores.")
            cpus = float(host_cpus)
        options: dict[str, Any] = {
            "binds": [f"{b.source}:{b.target}:{'ro' if b.read_only else 'rw'}" for b in binds],
            "network_mode": "bridge" if self.network else "none",
            "read_only": True,
            "tmpfs": {"/tmp": f"rw,exec,nosuid,nodev,size={self.tmp_mb}m,mode=1777"},
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "shm_size": f"{shm}m",
            "log_config": {"Type": "none", "Config": {}},
        }
        applied = {"shm_mb": f"{shm} MiB /dev/shm (shm_size)"}
        if memory is not None:
            options["mem_limit"] = options["memswap_limit"] = f"{memory}m"
            applied["memory_mb"] = (f"{memory} MiB of memory, no swap (the container's memory cgroup: OOM-killed "
                                    "past it)")
        if cpus is not None:
            options["nano_cpus"] = int(cpus * 1e9)
            applied["cpus"] = f"{cpus:g} cores of CPU time (the container's CFS quota, a throttle)"
        if pids is not None:
            options["pids_limit"] = pids
            applied["pids"] = f"{pids} processes and threads (the container's pids cgroup)"
        if limits.gpus is not None:
            options["device_requests"] = [self._gpu_request(limits.gpus, docker.types.DeviceRequest)]
            applied["gpus"] = f"{limits.gpus} (a {self.gpu_driver} device request)"
        return self.client.api.create_host_config(**options), applied

    def _gpu_request(self, gpus: int | tuple[str, ...], request: Any) -> Any:
        if self.gpu_driver == "cdi":
            if isinstance(gpus, int):
                ids = ["nvidia.com/gpu=all"] if gpus < 0 else [f"nvidia.com/gpu={i}" for i in range(gpus)]
            else:
                ids = [g if "=" in g else f"nvidia.com/gpu={g}" for g in gpus]
            return request(driver="cdi", device_ids=ids)
        if isinstance(gpus, int):
            return request(count=gpus, capabilities=[["gpu"]])
        return request(device_ids=list(gpus), capabilities=[["gpu"]])


def _memory_file(api: Any, container: str) -> Path | None:
    """The file holding the running ``container``'s memory peak on this host (see the module
    docstring), ``None`` when none is readable here."""
    scope = f"docker-{container}.scope"
    found = _peak_file([CGROUP_ROOT / "memory/docker" / container, CGROUP_ROOT / "memory/system.slice" / scope,
                        CGROUP_ROOT / "docker" / container, CGROUP_ROOT / "system.slice" / scope])
    if found is not None:
        return found
    try:  # another driver or cgroup parent: where its main process is
        pid = int(api.inspect_container(container)["State"].get("Pid") or 0)
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines() if pid > 0 else []
    except Exception:  # the engine's errors, a pid of another namespace (no such file)
        lines = []
    folders = []
    for line in lines:  # "4:memory:/docker/<id>" (v1), "0::/system.slice/docker-<id>.scope" (v2)
        _, controllers, path = line.split(":", 2)
        if container in path and ("memory" in controllers.split(",") or controllers == ""):
            folders.append(CGROUP_ROOT / ("memory" if controllers else "") / path.lstrip("/"))
    return _peak_file(folders)


def _peak_file(folders: list[Path]) -> Path | None:
    for folder in folders:
        for name in ("memory.max_usage_in_bytes", "memory.peak", "memory.current"):
            if (folder / name).is_file():
                return folder / name
    return None


def _stats_peak_mb(stats: Mapping[str, Any]) -> float | None:
    """The memory figure (MiB) of one answer of the engine's stats API: ``max_usage`` (cgroup v1:
    the peak so far), else ``usage`` (v2: now); ``None`` when it has none (the container ended)."""
    memory = stats.get("memory_stats") or {}
    value = memory.get("max_usage") or memory.get("usage")
    return value / (1 << 20) if isinstance(value, (int, float)) and value > 0 else None


class _MemorySampler:
    """Reads a running container's memory peak until it ends (see the module docstring): a
    daemon thread reading ``file`` (its cgroup) every :data:`MEMORY_SAMPLE_S`, or the engine's
    stats API every :data:`STATS_SAMPLE_S` when ``file`` is ``None``."""

    def __init__(self, api: Any, container: str, file: Path | None) -> None:
        self.api, self.container, self.file = api, container, file
        self.peak: float | None = None
        self.error = ""
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"memory-{container[:12]}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                value = self._read()
            except Exception as error:  # the cgroup is gone (the container ended), the engine's errors
                if self.file is not None or self.peak is None:
                    self.error = str(error)
                if self.file is not None:
                    return
                value = None
            if value is not None:
                self.peak = value if self.peak is None else max(self.peak, value)
            self.stopping.wait(MEMORY_SAMPLE_S if self.file is not None else STATS_SAMPLE_S)

    def _read(self) -> float | None:
        if self.file is not None:
            return int(self.file.read_text().split()[0]) / (1 << 20)
        return _stats_peak_mb(self.api.stats(self.container, stream=False, one_shot=True))

    def stop(self) -> tuple[float | None, str]:
        """Stop sampling; the peak in MiB and how it was read, or ``None`` and why not."""
        self.stopping.set()
        self.thread.join(10.0)
        if self.file is not None:
            how = f"the container's memory cgroup ({self.file}), read every {MEMORY_SAMPLE_S:g} s while it ran"
        else:
            how = (f"the Docker engine's stats API (memory_stats), asked every {STATS_SAMPLE_S:g} s while it ran: "
                   "no memory cgroup of the container is readable on this host")
        if self.peak is None:
            return None, (f"no memory figure: the container ended before its memory was first read ({how}"
                          + (f"; {self.error}" if self.error else "") + ")")
        return self.peak, how


def _start_message(spec: ProcessSpec, error: Exception) -> str:
    detail = str(getattr(error, "explanation", None) or error)
    if "could not select device driver" in detail or "Unknown runtime" in detail:
        return NO_GPU_MESSAGE.format(detail=detail)
    program = spec.argv[0] if spec.argv else ""
    if "executable file not found" in detail or "no such file or directory" in detail:
        return f"cannot start {program!r}: executable file not found in the image ({detail})"
    if "permission denied" in detail:
        return f"cannot start {program!r}: not executable ({detail})"
    return f"cannot start {program!r}: the Docker engine refused the container: {detail}"


def _failed(spec: ProcessSpec, message: str, notes: list[str]) -> ProcessResult:
    try:
        spec.stderr.parent.mkdir(parents=True, exist_ok=True)
        with open(spec.stderr, "a", encoding="utf-8") as err:
            err.write(message + "\n")
    except OSError:
        pass
    return ProcessResult(spec.name, None, 0.0, "error", None, " ".join([message + ".", *notes]), "docker")


def _close_socket(attached: Any) -> None:
    if attached is None:
        return
    response = getattr(attached, "_response", None)
    raw = getattr(attached, "_sock", attached)
    for item in (response, raw):
        try:
            if item is not None:
                item.close()
        except (OSError, ValueError):
            pass


def remove_container(api: Any, container: str) -> None:
    """Force-remove ``container`` (through the low-level docker ``APIClient`` ``api``) and its anonymous
    volumes; already gone is fine, a removal in progress too; an engine error raises after 3 tries."""
    import docker.errors

    for attempt in range(3):
        try:
            api.remove_container(container, force=True, v=True)
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as error:
            if "already in progress" in str(error):
                return
            if attempt == 2:
                raise
            time.sleep(0.2)


def _frames(attached: Any) -> Iterator[tuple[int, bytes]]:
    from docker.utils.socket import frames_iter

    for stream, data in frames_iter(attached, False):  # type: ignore[no-untyped-call]
        yield int(stream), bytes(data)


class _DockerProcess:
    """A running container; see ``RunningProcess``. Not safe to share between threads."""

    def __init__(self, executor: DockerExecutor, spec: ProcessSpec, container: str, name: str, attached: Any,
                 out: CappedLog, err: CappedLog, started: float, notes: list[str], applied: dict[str, str],
                 memory: _MemorySampler) -> None:
        self.api, self.spec, self.container, self.name = executor.client.api, spec, container, name
        self.sampler = memory
        self.attached, self.started, self.notes, self.applied = attached, started, notes, applied
        limits = spec.limits
        self.memory = limits.memory_mb if limits.memory_mb is not None else executor.memory_mb
        self.pids = limits.pids if limits.pids is not None else executor.pids
        limit = spec.limits.time_limit_s
        self.deadline = None if limit is None else started + limit
        self.result: ProcessResult | None = None
        self.reader = threading.Thread(target=self._copy, args=(out, err), name=f"logs-{name}", daemon=True)
        self.reader.start()

    def _copy(self, out: CappedLog, err: CappedLog) -> None:
        """Copy the attached streams to the capped logs until the container's streams close."""
        try:
            for stream, data in _frames(self.attached):
                (err if stream == 2 else out).write(data)
        except (OSError, ValueError):
            pass  # the socket was closed under us (kill); what came is written
        finally:
            out.close()
            err.close()

    def wait(self, timeout: float | None = None) -> ProcessResult | None:
        """The result once the container has ended; ``None`` if still running after ``timeout``
        seconds. Past the time limit the container is killed and removed (reason ``timeout``)."""
        if self.result is not None:
            return self.result
        end = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        while True:
            now = time.monotonic()
            if self.deadline is not None and now >= self.deadline:
                return self._stop("timeout")
            if not self.reader.is_alive() and not self._running():  # its streams close when it ends
                return self._finish("exited")
            if end is not None and now >= end:
                return None
            stops = [t for t in (end, self.deadline) if t is not None]
            span = None if not stops else max(min(stops) - now, 0.0)
            if self.reader.is_alive():
                self.reader.join(span)
            else:  # the streams closed but the engine says running: poll it
                time.sleep(0.05 if span is None else min(0.05, span))

    def kill(self) -> ProcessResult:
        """Kill and remove the container; idempotent, and a container that already ended
        keeps its own result."""
        if self.result is None and self.wait(0) is None:
            return self._stop("killed")
        assert self.result is not None
        return self.result

    def _running(self) -> bool:
        import docker.errors

        try:
            return bool(self.api.inspect_container(self.container)["State"]["Running"])
        except docker.errors.NotFound:
            return False

    def _stop(self, reason: Reason) -> ProcessResult:
        import docker.errors

        try:
            self.api.kill(self.container)
        except docker.errors.APIError:
            pass  # it ended meanwhile, or is gone
        return self._finish(reason)

    def _finish(self, reason: Reason) -> ProcessResult:
        import docker.errors

        state: dict[str, Any] = {}
        try:
            try:
                self.api.wait(self.container, timeout=STOP_WAIT_S)
                state = dict(self.api.inspect_container(self.container)["State"])
            except (docker.errors.APIError, OSError):
                pass
            except Exception:  # requests' read timeout on a container that will not stop
                pass
            self.reader.join(5.0)
        finally:
            peak, source = self.sampler.stop()  # before removal: the stats API still knows the container
            _close_socket(self.attached)
            self.reader.join(5.0)
            remove_container(self.api, self.container)
        elapsed = _elapsed(state, time.monotonic() - self.started)
        code: int | None = state.get("ExitCode")
        notes, sig = list(self.notes), None
        memory, pids = self.memory, self.pids
        oom = bool(state.get("OOMKilled"))
        if reason != "exited":
            code, sig = None, 9
            notes.insert(0, f"time limit of {self.spec.limits.time_limit_s:g} s exceeded: container killed and "
                            f"removed." if reason == "timeout" else "stopped by the caller: container killed and removed.")
        elif oom:
            reason = "oom"
            notes.insert(0, f"out of memory: the program used more than its memory limit of {memory} MB and the "
                            "kernel killed it (Docker reports OOMKilled)"
                            + (f"; the container still exited {code}, because its main process survived the kill."
                               if code == 0 else "."))
        elif not state:
            reason = "error"
            notes.insert(0, "the Docker engine lost the container: its outcome is unknown.")
        if pids is not None and code != 0 and self._pids_hit():
            notes.insert(1 if reason == "timeout" else 0,
                         f"the process-count limit of {pids} was reached: starting more processes or threads failed.")
        self.result = ProcessResult(self.spec.name, code, elapsed, reason, sig, " ".join(notes), "docker",
                                    dict(self.applied), None if peak is None else round(peak, 1), source)
        return self.result

    def _pids_hit(self) -> bool:
        """Whether the stderr tail shows failed forks (the pids cgroup is gone once it exits)."""
        tail = read_tail(self.spec.stderr)
        return any(m in tail for m in ("Resource temporarily unavailable", "can't fork", "Cannot fork",
                                       "BlockingIOError", "pthread_create failed", "can't start new thread"))


def docker_available(base_url: str | None = None) -> tuple[bool, str]:
    """Whether the SDK is installed and an engine answers (``True, version``) or why not."""
    try:
        client = _client(base_url)
    except DockerExecutorError as error:
        return False, str(error)
    try:
        return True, str(client.version().get("Version", "?"))
    finally:
        client.close()


__all__ = ["DEFAULT_CPUS", "DEFAULT_MEMORY_MB", "DEFAULT_PIDS", "DEFAULT_SHM_MB", "DockerExecutor",
           "DockerExecutorError", "docker_available", "reap_orphans"]
