"""Reaping aibench's containers without the ``docker`` SDK: the stdlib only, so that any command
(``aibench history`` included) can do it in milliseconds.

A container of the Docker executor is labelled with its owner (``aibench.owner-pid``,
``aibench.owner-start``: the pid's start time, ``aibench.owner-host``) and, when it has a time
limit, ``aibench.deadline`` (Unix time). It is an orphan once its owner on this host is gone
(dead, or the pid reused) or its deadline has passed; :func:`reap_quick` removes orphans
through the engine's HTTP API, :func:`watch` does it as soon as one owner dies (the Docker
executor starts it, detached, so that a SIGKILLed ``aibench run`` leaves no running container).

The engine is found at ``DOCKER_HOST`` (``unix://`` or plain ``tcp://``; TLS is not spoken here:
the SDK's :func:`~._docker.reap_orphans` covers it) or ``/var/run/docker.sock``.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import quote

LABEL: Final = "aibench"
DEFAULT_SOCKET: Final = "/var/run/docker.sock"
API: Final = "/v1.41"  # Docker 20.10+; the label filter and force removal are older still


def process_start(pid: int) -> str | None:
    """The start time of ``pid`` (clock ticks since boot, from ``/proc``), to tell a reused pid."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()
    except OSError:
        return None
    return fields[19].decode()


def owner_alive(pid_text: str, start: str) -> bool:
    """Whether the process ``pid_text`` that started at ``start`` still runs on this host."""
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = process_start(pid)
    return now is None or not start or now == start


def is_orphan(labels: Mapping[str, str], now: float) -> bool:
    """Whether a container with ``labels`` (of this host) is to be removed: its owner is gone or
    its deadline has passed."""
    if not owner_alive(labels.get(f"{LABEL}.owner-pid", ""), labels.get(f"{LABEL}.owner-start", "")):
        return True
    try:
        return now > float(labels.get(f"{LABEL}.deadline", ""))
    except ValueError:
        return False


def _address() -> tuple[int, str | tuple[str, int]] | None:
    """The engine's socket family and address, or ``None`` when there is none to try (no
    socket file, TLS)."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host or host.startswith("unix://"):
        path = host[len("unix://"):] if host else DEFAULT_SOCKET
        return (socket.AF_UNIX, path) if os.path.exists(path) else None
    if host.startswith("tcp://") and os.environ.get("DOCKER_TLS_VERIFY", "") in ("", "0"):
        name, _, port = host[len("tcp://"):].partition("/")[0].rpartition(":")
        return (socket.AF_INET, (name or "localhost", int(port or 2375)))
    return None


def _request(address: tuple[int, str | tuple[str, int]], method: str, url: str, timeout: float) -> tuple[int, bytes]:
    """One HTTP/1.0 request (no keep-alive, no chunking: the engine closes after the body);
    stdlib sockets only, as ``http.client`` alone costs ~25 ms to import."""
    family, where = address
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(where)
        sock.sendall(f"{method} {API}{url} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def reap_quick(*, owner: tuple[int, str] | None = None, timeout: float = 2.0) -> list[str]:
    """Remove this host's orphaned aibench containers (see the module docstring), or with
    ``owner`` (a pid and its start time) every container of that owner; return their names. Never raises: no engine,
    an engine that does not answer in ``timeout`` seconds, or a refusal leave things as they are."""
    try:
        address = _address()
    except ValueError:  # a DOCKER_HOST with a bad port
        return []
    if address is None:
        return []
    removed: list[str] = []
    try:
        wanted = [f"{LABEL}.owner-host={socket.gethostname()}"]
        if owner is not None:
            wanted += [f"{LABEL}.owner-pid={owner[0]}", f"{LABEL}.owner-start={owner[1]}"]
        query = "all=1&filters=" + quote(json.dumps({"label": wanted}), safe="")
        status, body = _request(address, "GET", f"/containers/json?{query}", timeout)
        if status != 200:
            return []
        now = time.time()
        for summary in json.loads(body):
            labels: dict[str, str] = summary.get("Labels") or {}
            if owner is None and not is_orphan(labels, now):
                continue
            status, _ = _request(address, "DELETE", f"/containers/{quote(summary['Id'])}?force=1&v=1", timeout)
            if status in (200, 204):
                removed.append(str((summary.get("Names") or [summary["Id"]])[0]).lstrip("/"))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        pass
    return removed


def watch(owner_pid: int, owner_start: str, poll_s: float = 0.5) -> list[str]:
    """Wait until the owner ``owner_pid`` (started at ``owner_start``) is gone, then remove its
    containers; return their names."""
    while owner_alive(str(owner_pid), owner_start):
        time.sleep(poll_s)
    return reap_quick(owner=(owner_pid, owner_start))


#: this process's watcher: (owner pid, watcher pid), reset in a forked child
_watcher: list[tuple[int, int]] = []


def start_watcher() -> int | None:
    """Start, once per process and detached (own session, stdio on ``/dev/null``, never waited
    for: it outlives this process by design), a process that removes this process's containers
    as soon as it is gone, however it ends (SIGKILL included); its pid, or ``None`` if it cannot
    start."""
    pid = os.getpid()
    if _watcher and _watcher[0][0] == pid and owner_alive(str(_watcher[0][1]), ""):
        return _watcher[0][1]
    start = process_start(pid)
    if start is None:
        return None
    null = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
    try:
        watcher = os.posix_spawn(sys.executable, [sys.executable, "-m", "codalab_worker_compat._reaper", str(pid),
                                                  start], {**os.environ, "PYTHONPATH": _path()},
                                 file_actions=null, setsid=True)
    except OSError:
        return None
    _watcher[:] = [(pid, watcher)]
    return watcher


def _path() -> str:
    here = str(Path(__file__).resolve().parents[1])
    rest = os.environ.get("PYTHONPATH", "")
    return here + (os.pathsep + rest if rest else "")


def _main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[0].isdigit():
        print("usage: python -m codalab_worker_compat._reaper OWNER_PID OWNER_START", file=sys.stderr)
        return 2
    watch(int(argv[0]), argv[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
