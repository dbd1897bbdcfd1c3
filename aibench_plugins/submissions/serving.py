"""A participant's serving image, run by the platform with no network except the gateway's
connection: :func:`serving_container`.

The contract, per container (``with serving_container(image, work=..., limits=...) as served``):

* **Engine**: the Docker engine of this host (``DOCKER_HOST`` unset or ``unix://``), reached with
  the ``docker`` SDK. None answering: :class:`ServingStartError` with failure code ``engine``
  (platform). The image must already be on the engine (nothing is pulled): the organiser loads a
  submitted image with ``docker load -i <file>`` (or builds it); a name the engine does not know is
  failure ``image`` (participant). The container runs the image *by ID*
  (:attr:`ServingContainer.image_id`), so a tag moved mid-run changes nothing.
* **Network**: a fresh Docker network per container, ``internal`` (no masquerading, no port
  published), named ``aibench-serving-<12 hex>``, on a bridge ``aib<12 hex>``. Docker 20.10's
  internal networks still give the container a default route to the host's bridge address, and
  the host accepts what arrives there on *any* of its addresses (its LAN address, services bound
  to ``0.0.0.0``). So two ``iptables`` rules are added for that bridge (and removed afterwards),
  before the container starts: in ``INPUT``, every packet from the bridge that is not a reply to a
  connection the host opened is rejected (``icmp-net-unreachable``); in ``DOCKER-USER`` (else
  ``FORWARD``) every packet from the bridge is rejected the same way. IPv6 is off in the
  container (sysctl ``net.ipv6.conf.all.disable_ipv6=1``), and Docker's DNS on an internal network
  resolves nothing outside it. The container can therefore open no connection at all: a connect
  fails at once with ``ENETUNREACH`` ("Network is unreachable"), a name with "Temporary failure
  in name resolution". The host reaches the container on its address on that bridge:
  :attr:`ServingContainer.url` is ``http://<container ip>:<image.port>``. The rules need root and
  ``iptables`` here; without them nothing starts (failure ``engine``, platform): the container is
  never run with a route out.
* **Hardening**, as compat's Docker executor (``codalab_worker_compat._docker``): user
  65534:65534, ``cap_drop=["ALL"]``, ``no-new-privileges``, read-only root filesystem, ``/tmp`` a
  tmpfs (:data:`DEFAULT_TMP_MB`, also ``HOME``; MLServer's metrics and environments folders are
  put there by the mlserver image), log driver ``none``; ``memory_mb`` (no swap), ``cpus`` (CFS
  quota, at most the host's cores), ``pids`` and ``shm_mb`` from ``limits``, else
  :data:`DEFAULT_MEMORY_MB`, :data:`DEFAULT_CPUS`, :data:`DEFAULT_PIDS`, :data:`DEFAULT_SHM_MB`;
  ``gpus`` as an NVIDIA device request. The environment is ``HOME=/tmp``, ``LANG=C.UTF-8``,
  ``PYTHONUNBUFFERED=1`` over the image's own; nothing of this process's. ``image.command``
  replaces the image's command when given (its ENTRYPOINT is kept).
* **Nothing left behind**: the container carries compat's labels (``aibench.owner-pid``,
  ``aibench.owner-start``, ``aibench.owner-host``, ``aibench.run`` = ``label``, ``aibench.step`` =
  ``serving``, and ``aibench.deadline`` when ``limits.time_limit_s`` is set), so compat's watcher
  and reaper remove it should this process die; the network carries the same labels and is
  removed, with stale rules of bridges that are gone, by the next :func:`serving_container`
  (:func:`reap_serving_networks`). On leaving the ``with`` block, normally, on an exception or a
  ``KeyboardInterrupt``, the container is force-removed, then the rules and the network.
  ``limits.time_limit_s`` is not enforced here beyond that label: the gateway's deadlines bound
  the prediction.
* **Logs**: attached before start, stdout and stderr written as they come to
  :attr:`ServingContainer.log_paths` under ``work`` through compat's :class:`CappedLog`
  (``log_cap``); every chunk is also scanned for signs of a network attempt
  (:data:`NETWORK_SIGNS`), so a sign beyond the kept head is still seen.
* **Health** (:meth:`ServingContainer.health`, cheap enough to poll per batch: no engine call
  while the container's streams are open): a network attempt seen in its log is failure
  ``network`` (participant), whatever happened next; a container that exited is failure
  ``image`` (participant) with its exit code (and OOM when the kernel killed it) and the last
  lines of its log. ``None`` while it serves.
* **Failures at start** raise :class:`ServingStartError`, whose ``failure`` is the
  :class:`GatewayFailure` to record: ``engine`` (platform), ``image`` (participant: not on the
  engine, refused by the engine, or exited before its address was known), ``internal``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from codalab_worker_compat import CappedLog, LogCap, ResourceLimits, reap_orphans, remove_container
from codalab_worker_compat._docker import (DEFAULT_CPUS, DEFAULT_MEMORY_MB, DEFAULT_PIDS, DEFAULT_SHM_MB,
                                           DEFAULT_TMP_MB)
from codalab_worker_compat._reaper import is_orphan, process_start, start_watcher

from ..core.errors import AibenchError
from .types import GatewayFailure, ServingImage

if TYPE_CHECKING:
    import docker

__all__ = ["DEFAULT_CPUS", "DEFAULT_MEMORY_MB", "DEFAULT_PIDS", "DEFAULT_SHM_MB", "DEFAULT_TMP_MB", "NETWORK_SIGNS",
           "ServingContainer", "ServingStartError", "reap_serving_networks", "serving_container"]

NOBODY: Final = "65534:65534"
LABEL: Final = "aibench"
NETWORK_PREFIX: Final = "aibench-serving-"
BRIDGE_PREFIX: Final = "aib"
RULE_COMMENT: Final = "aibench-serving"
#: seconds a container may outlive its time limit before compat's reaper removes it
DEADLINE_GRACE_S: Final = 10
#: what a program prints when it tries the network it does not have (Python, curl, wget, requests, Node, Go)
NETWORK_SIGNS: Final = ("Network is unreachable", "ENETUNREACH", "No route to host", "EHOSTUNREACH",
                        "Temporary failure in name resolution", "Name or service not known",
                        "nodename nor servname provided", "EAI_AGAIN", "Could not resolve host",
                        "getaddrinfo failed", "Failed to resolve", "Failed to establish a new connection",
                        "unable to resolve host address", "no such host")
_SIGN = re.compile("|".join(re.escape(s) for s in NETWORK_SIGNS))
#: lines of the log a failure message quotes
TAIL_LINES: Final = 15


class ServingStartError(AibenchError):
    """The serving container could not be started; ``failure`` says why and whose fault it is
    (record it as the gateway's failure: nothing was predicted)."""

    def __init__(self, failure: GatewayFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _fail(code: Any, fault: Any, message: str) -> ServingStartError:
    return ServingStartError(GatewayFailure(code, fault, message))


def _owner_labels(label: str | None, deadline: float | None) -> dict[str, str]:
    pid = os.getpid()
    labels = {f"{LABEL}.owner-pid": str(pid), f"{LABEL}.owner-start": process_start(pid) or "",
              f"{LABEL}.owner-host": socket.gethostname(), f"{LABEL}.run": label or "", f"{LABEL}.step": "serving"}
    if deadline is not None:
        labels[f"{LABEL}.deadline"] = f"{deadline:.0f}"
    return labels


def _client() -> docker.DockerClient:
    host = os.environ.get("DOCKER_HOST", "")
    if host and not host.startswith("unix://"):
        raise _fail("engine", "platform", f"the serving container needs the Docker engine of this host (DOCKER_HOST="
                    f"{host!r} names another): its network isolation is made with iptables here. Unset DOCKER_HOST "
                    "or run aibench on the engine's host")
    try:
        import docker
    except ImportError:
        raise _fail("engine", "platform", "serving images need the docker SDK: pip install 'docker>=7'") from None
    where = host or "unix:///var/run/docker.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:  # the SDK leaks a socket it cannot connect
        try:
            probe.settimeout(5.0)
            probe.connect(where[len("unix://"):])
        except OSError as error:
            raise _fail("engine", "platform", f"no Docker engine answers at {where} ({error}); a serving image "
                        "needs one: start dockerd (compat/images/README.md)") from None
    client: docker.DockerClient | None = None
    try:
        client = docker.from_env()
        client.ping()
    except Exception as error:  # docker.errors.DockerException, requests' connection errors
        if client is not None:
            client.close()
        raise _fail("engine", "platform", f"no Docker engine answers at {where} "
                    f"({error}); a serving image needs one: start dockerd (compat/images/README.md)") from None
    return client


# --- iptables: the rules that close the internal network's way to the host ---------------------------------------

def _iptables() -> str:
    found = shutil.which("iptables") or next((p for p in ("/usr/sbin/iptables", "/sbin/iptables")
                                              if os.access(p, os.X_OK)), None)
    if found is None or os.geteuid() != 0:
        raise _fail("engine", "platform", "cannot isolate the serving container: its network is closed with iptables "
                    "rules, which need root and the iptables command on the engine's host "
                    f"({'not root' if found else 'no iptables'}). Run aibench as root there (the organiser's fix)")
    return found


def _iptables_run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool, "-w", "5", *args], capture_output=True, text=True, check=False)


def _rules(bridge: str, forward_chain: str) -> list[list[str]]:
    comment = ["-m", "comment", "--comment", f"{RULE_COMMENT}:{bridge}"]
    reject = ["-j", "REJECT", "--reject-with", "icmp-net-unreachable"]
    return [["INPUT", "-i", bridge, "-m", "conntrack", "!", "--ctstate", "ESTABLISHED,RELATED", *comment, *reject],
            [forward_chain, "-i", bridge, *comment, *reject]]


def _close_bridge(tool: str, bridge: str) -> list[list[str]]:
    """Insert the rules for ``bridge``; the rules inserted (to delete later)."""
    chain = "DOCKER-USER" if _iptables_run(tool, "-n", "-L", "DOCKER-USER").returncode == 0 else "FORWARD"
    added: list[list[str]] = []
    for rule in _rules(bridge, chain):
        done = _iptables_run(tool, "-I", rule[0], "1", *rule[1:])
        if done.returncode != 0:
            _open_bridge(tool, added)
            raise _fail("engine", "platform", f"cannot isolate the serving container: iptables refused the rule "
                        f"{' '.join(rule)!r}: {done.stderr.strip()}")
        added.append(rule)
    return added


def _open_bridge(tool: str, rules: list[list[str]]) -> None:
    for rule in rules:
        _iptables_run(tool, "-D", *rule)


def _stale_rules(tool: str) -> None:
    """Delete aibench-serving rules whose bridge is gone (their owner died before removing them)."""
    for chain in ("INPUT", "DOCKER-USER", "FORWARD"):
        listed = _iptables_run(tool, "-S", chain)
        for line in listed.stdout.splitlines() if listed.returncode == 0 else []:
            found = re.search(rf'--comment "?{RULE_COMMENT}:({BRIDGE_PREFIX}[0-9a-f]+)', line)
            if found and not Path("/sys/class/net", found.group(1)).exists() and line.startswith("-A "):
                _iptables_run(tool, "-D", *line[3:].replace('"', "").split())


def reap_serving_networks(client: docker.DockerClient) -> list[str]:
    """Remove this host's serving networks whose owner is gone or whose deadline has passed
    (their containers first, through compat's :func:`reap_orphans`), and iptables rules of bridges
    that are gone; return the networks' names. Never raises for what is already gone."""
    import docker.errors

    reap_orphans(client)
    removed: list[str] = []
    now = time.time()
    for network in client.api.networks(filters={"label": [f"{LABEL}.owner-host={socket.gethostname()}"]}):
        if not str(network.get("Name", "")).startswith(NETWORK_PREFIX) or not is_orphan(network.get("Labels") or {},
                                                                                          now):
            continue
        try:
            client.api.remove_network(network["Id"])
        except docker.errors.APIError:
            continue  # still in use (a container of a live owner) or gone meanwhile
        removed.append(str(network["Name"]))
    if os.geteuid() == 0 and shutil.which("iptables"):
        _stale_rules(_iptables())
    return removed


# --- the logs -----------------------------------------------------------------------------------------------------

class _LogReader:
    """Copies the attached streams to the capped logs and scans every chunk for a network sign."""

    def __init__(self, attached: Any, out: CappedLog, err: CappedLog) -> None:
        self.attached, self.out, self.err = attached, out, err
        self.sign: str | None = None  # the first log line showing a network attempt
        self._carry = {1: b"", 2: b""}
        self.thread = threading.Thread(target=self._run, name="serving-logs", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from docker.utils.socket import frames_iter

        try:
            for stream, data in frames_iter(self.attached, False):  # type: ignore[no-untyped-call]
                (self.err if stream == 2 else self.out).write(bytes(data))
                if self.sign is None:
                    self._scan(int(stream), bytes(data))
        except (OSError, ValueError):
            pass  # the socket was closed under us (removal); what came is written
        finally:
            self.out.close()
            self.err.close()

    def _scan(self, stream: int, data: bytes) -> None:
        text = (self._carry.get(stream, b"") + data).decode("utf-8", "replace")
        found = _SIGN.search(text)
        if found is not None:
            start = text.rfind("\n", 0, found.start()) + 1
            end = text.find("\n", found.end())
            self.sign = text[start:end if end >= 0 else len(text)].strip()[:500]
        self._carry[stream] = data[-512:]

    @property
    def open(self) -> bool:
        return self.thread.is_alive()

    def stop(self, close: bool) -> None:
        """Wait for the streams to end (the engine ends them when the container ends or is
        removed); with ``close``, then close the connection (shut down first if it is still read)."""
        self.thread.join(5.0)
        if close:
            if self.thread.is_alive():
                _shutdown(self.attached)
                self.thread.join(5.0)
            _close_socket(self.attached)


def _shutdown(attached: Any) -> None:
    raw = getattr(attached, "_sock", None)
    try:
        if raw is not None:
            raw.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _close_socket(attached: Any) -> None:
    """Close the attach connection: its response, the socket file and the socket itself (a
    socket with a file open is only closed once both are)."""
    for item in (getattr(attached, "_response", None), attached, getattr(attached, "_sock", None)):
        try:
            if item is not None:
                item.close()
        except (OSError, ValueError):
            pass


def _tail_lines(text: str, lines: int = TAIL_LINES) -> str:
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join("    " + line[:300] for line in kept) if kept else "    (nothing)"


# --- the container ------------------------------------------------------------------------------------------------

class ServingContainer:
    """A serving container started by :func:`serving_container` (see the module docstring).

    ``url``: ``http://<container ip>:<port>``, reachable from this host only; ``container_id``,
    ``name``; ``image`` as given and ``image_id`` (``sha256:...``); ``network`` (its name) and
    ``bridge``; ``log_paths`` (stdout, stderr); ``limits_applied`` (each limit, how).
    """

    def __init__(self, *, api: Any, image: ServingImage, image_id: str, repo_digests: list[str], container_id: str,
                 name: str, network: str, bridge: str, ip: str, log_paths: tuple[Path, Path],
                 limits_applied: dict[str, str], reader: _LogReader) -> None:
        self._api, self._reader = api, reader
        self.image, self.image_id, self.repo_digests = image, image_id, repo_digests
        self.container_id, self.name, self.network, self.bridge, self.ip = container_id, name, network, bridge, ip
        self.url = f"http://{ip}:{image.port}"
        self.log_paths, self.limits_applied = log_paths, limits_applied
        self.exit_code: int | None = None
        self.oom_killed = False
        self._exited: dict[str, Any] | None = None

    def health(self) -> GatewayFailure | None:
        """``None`` while the container serves; failure ``network`` once its log shows a network
        attempt, ``image`` once it has exited (see the module docstring)."""
        sign = self._reader.sign
        if sign is not None:
            return GatewayFailure("network", "participant", self._network_message(sign))
        if self._reader.open and self._exited is None:
            return None  # its streams close when it ends
        state = self._state()
        if state is None:
            return None
        self._reader.stop(False)  # the streams closed: all of the log is in
        if self._reader.sign is not None:
            return GatewayFailure("network", "participant", self._network_message(self._reader.sign))
        return GatewayFailure("image", "participant", self._exit_message(state))

    def _state(self) -> dict[str, Any] | None:
        """The container's final state once it has ended, else ``None``."""
        if self._exited is not None:
            return self._exited
        import docker.errors

        try:
            state = dict(self._api.inspect_container(self.container_id)["State"])
        except docker.errors.NotFound:
            state = {"Running": False, "ExitCode": None, "gone": True}
        except docker.errors.APIError:
            return None
        if state.get("Running") or state.get("Status") in ("created", "restarting"):
            return None
        self._exited = state
        self.exit_code = state.get("ExitCode")
        self.oom_killed = bool(state.get("OOMKilled"))
        return state

    def _network_message(self, sign: str) -> str:
        return (f"the serving container of image {self.image.image!r} tried to reach the network (its log: {sign!r}). "
                f"A serving container has no network: only the gateway's connection to its port {self.image.port} "
                "reaches it, and every connection it opens fails. Bake what it downloads at start (model weights, "
                "tokenizers, packages, ...) into the image when you build it, and load them from the image's files")

    def _exit_message(self, state: dict[str, Any]) -> str:
        if state.get("gone"):
            head = f"the serving container of image {self.image.image!r} is gone (removed by someone else)"
        else:
            head = f"the serving container of image {self.image.image!r} exited with code {state.get('ExitCode')}"
            if state.get("OOMKilled"):
                memory = self.limits_applied.get("memory_mb", "its memory limit")
                head += f", killed for using more memory than allowed ({memory})"
        out, err = (_tail_from(path) for path in self.log_paths)
        log = err if err.strip() else out
        return (f"{head}, so it cannot serve {self.image.protocol} on port {self.image.port}. The end of its log:\n"
                f"{_tail_lines(log)}\nIts command must keep serving until the gateway is done: run the image "
                f"yourself with `docker run --network none --read-only --tmpfs /tmp --user 65534:65534 "
                f"{self.image.image}` and fix what it prints")

    def describe(self) -> dict[str, Any]:
        """What the run record stores: the image as given, its ID and digests, the container,
        its network (internal, closed by iptables), user, limits and url; the exit code once known."""
        return {"executor": "docker", "image": self.image.image, "image_id": self.image_id,
                "repo_digests": list(self.repo_digests), "container": self.name, "network": self.network,
                "network_isolation": "internal Docker network; iptables rejects every connection the container "
                                     f"opens (bridge {self.bridge}); IPv6 off",
                "user": NOBODY, "read_only_root": True, "cap_drop": ["ALL"], "url": self.url,
                "port": self.image.port, "command": list(self.image.command) or None,
                "limits_applied": dict(self.limits_applied), "exit_code": self.exit_code,
                "oom_killed": self.oom_killed, "log_paths": [str(p) for p in self.log_paths]}


def _tail_from(path: Path, size: int = 16384) -> str:
    from codalab_worker_compat import read_tail

    return read_tail(path, size)


def _host_config(api: Any, network: str, limits: ResourceLimits, tmp_mb: int) -> tuple[Any, dict[str, str]]:
    memory = limits.memory_mb if limits.memory_mb is not None else DEFAULT_MEMORY_MB
    cpus = min(limits.cpus if limits.cpus is not None else DEFAULT_CPUS, float(os.cpu_count() or 1))
    pids = limits.pids if limits.pids is not None else DEFAULT_PIDS
    shm = limits.shm_mb if limits.shm_mb is not None else DEFAULT_SHM_MB
    options: dict[str, Any] = {
        "network_mode": network, "read_only": True,
        "tmpfs": {"/tmp": f"rw,exec,nosuid,nodev,size={tmp_mb}m,mode=1777"},
        "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"], "shm_size": f"{shm}m",
        "log_config": {"Type": "none", "Config": {}}, "sysctls": {"net.ipv6.conf.all.disable_ipv6": "1"},
        "mem_limit": f"{memory}m", "memswap_limit": f"{memory}m", "nano_cpus": int(cpus * 1e9), "pids_limit": pids,
    }
    applied = {"memory_mb": f"{memory} MiB of memory, no swap (the container's memory cgroup: OOM-killed past it)",
               "cpus": f"{cpus:g} cores of CPU time (the container's CFS quota, a throttle)",
               "pids": f"{pids} processes and threads (the container's pids cgroup)",
               "shm_mb": f"{shm} MiB /dev/shm (shm_size)", "tmp_mb": f"{tmp_mb} MiB /tmp (tmpfs)"}
    if limits.gpus is not None:
        import docker.types

        gpus = limits.gpus
        request = (docker.types.DeviceRequest(count=gpus, capabilities=[["gpu"]]) if isinstance(gpus, int) else
                   docker.types.DeviceRequest(device_ids=list(gpus), capabilities=[["gpu"]]))
        options["device_requests"] = [request]
        applied["gpus"] = f"{gpus} (an NVIDIA device request)"
    if limits.time_limit_s is not None:
        applied["time_limit_s"] = (f"{limits.time_limit_s:g} s: the container's aibench.deadline label (compat's "
                                   f"reaper removes it {DEADLINE_GRACE_S} s past it); the gateway's deadlines bound "
                                   "the prediction")
    return api.create_host_config(**options), applied


@contextmanager
def serving_container(image: ServingImage, *, work: Path, limits: ResourceLimits, label: str | None = None,
                      log_cap: LogCap = LogCap(), tmp_mb: int = DEFAULT_TMP_MB) -> Iterator[ServingContainer]:
    """Start ``image`` in a hardened container on its own closed network and yield it; remove
    the container, its iptables rules and its network on leaving, however it is left (see the
    module docstring). Logs go to ``work/serving.stdout.log`` and ``work/serving.stderr.log``.

    :raises ServingStartError: when it cannot start (its ``failure``: ``engine``, ``image`` or ``internal``).
    """
    import docker.errors

    client = _client()
    api = client.api
    network_id: str | None = None
    container_id: str | None = None
    rules: list[list[str]] = []
    tool = ""
    reader: _LogReader | None = None
    attached: Any = None
    try:
        try:
            found = client.images.get(image.image)
        except docker.errors.ImageNotFound:
            raise _fail("image", "participant", f"the serving image {image.image!r} is not on the Docker engine. "
                        "Nothing is pulled: the organiser loads a submitted image with `docker load -i <image.tar>` "
                        "(made by the participant with `docker save -o image.tar <name>`) before the run, and "
                        "endpoint.json's \"image\" must name it exactly (name:tag or sha256:ID)") from None
        except docker.errors.APIError as error:
            raise _fail("image", "participant", f"the Docker engine cannot read the serving image {image.image!r}: "
                        f"{error}") from None
        tool = _iptables()
        reap_serving_networks(client)
        start_watcher()
        suffix = uuid.uuid4().hex[:12]
        network, bridge, name = NETWORK_PREFIX + suffix, BRIDGE_PREFIX + suffix, f"{LABEL}-serving-{suffix}"
        deadline = None if limits.time_limit_s is None else time.time() + limits.time_limit_s + DEADLINE_GRACE_S
        labels = _owner_labels(label, deadline)
        try:
            network_id = str(api.create_network(network, driver="bridge", internal=True, labels=labels,
                                                options={"com.docker.network.bridge.name": bridge,
                                                         "com.docker.network.bridge.enable_ip_masquerade": "false"},
                                                check_duplicate=True)["Id"])
        except docker.errors.APIError as error:  # e.g. no address pool left
            raise _fail("engine", "platform", f"the Docker engine cannot create the serving container's network "
                        f"{network}: {getattr(error, 'explanation', None) or error}") from None
        rules = _close_bridge(tool, bridge)
        config, applied = _host_config(api, network, limits, tmp_mb)
        env = {"HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
        try:
            created = api.create_container(str(found.id), command=list(image.command) or None, environment=env,
                                           user=NOBODY, labels=labels, name=name, host_config=config,
                                           stdin_open=False, tty=False)
        except docker.errors.APIError as error:
            raise _fail("image", "participant", f"the Docker engine refused a container of the serving image "
                        f"{image.image!r}: {getattr(error, 'explanation', None) or error}") from None
        container_id = str(created["Id"])
        work.mkdir(parents=True, exist_ok=True)
        paths = (work / "serving.stdout.log", work / "serving.stderr.log")
        attached = api.attach_socket(container_id, params={"stdout": 1, "stderr": 1, "stream": 1})
        reader = _LogReader(attached, CappedLog(paths[0], log_cap), CappedLog(paths[1], log_cap))
        try:
            api.start(container_id)
        except docker.errors.APIError as error:
            detail = str(getattr(error, "explanation", None) or error)
            raise _fail("image", "participant", f"the serving container of image {image.image!r} cannot start: "
                        f"{detail}. Check its ENTRYPOINT/CMD (or endpoint.json's \"command\")") from None
        settings = api.inspect_container(container_id)
        ip = str(((settings.get("NetworkSettings") or {}).get("Networks") or {}).get(network, {}).get("IPAddress")
                 or "")
        served = ServingContainer(api=api, image=image, image_id=str(found.id),
                                  repo_digests=list(found.attrs.get("RepoDigests") or []), container_id=container_id,
                                  name=name, network=network, bridge=bridge, ip=ip or "0.0.0.0", log_paths=paths,
                                  limits_applied=applied, reader=reader)
        if not ip:  # it ended before its address could be read: report it now, as health() would
            for _ in range(100):
                failure = served.health()
                if failure is not None:
                    raise ServingStartError(failure)
                time.sleep(0.05)
            raise _fail("internal", "platform", f"the serving container {name} has no address on {network}")
        yield served
        served._state()
    finally:
        if container_id is not None:
            _remove_container(api, container_id)
        if reader is not None:
            reader.stop(True)
        elif attached is not None:
            _close_socket(attached)
        if rules:
            _open_bridge(tool, rules)
        if network_id is not None:
            _remove_network(api, network_id)
        client.close()


def _remove_container(api: Any, container: str) -> None:
    """compat's removal, which never raises here: what is left carries the labels the reaper reads."""
    import docker.errors

    try:
        remove_container(api, container)
    except docker.errors.APIError:
        pass


def _remove_network(api: Any, network: str) -> None:
    import docker.errors

    for attempt in range(5):
        try:
            api.remove_network(network)
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError:
            if attempt == 4:
                return  # left to reap_serving_networks (its owner label)
            time.sleep(0.2 * (attempt + 1))
