"""The program an AWS Batch job runs (``python3 -c <this file's source>``): standard library only,
Python 3.8+, so that any image with a ``python3`` runs it. Not imported by the host for anything
but its source (:func:`aibench_plugins.executors.aws_batch.bootstrap_command`).

Contract (the host side is :mod:`aibench_plugins.executors.aws_batch`):

* It reads one presigned GET URL from the environment variable ``AIBENCH_TASK_URL`` (given at
  ``submit_job`` in ``containerOverrides``) and downloads the task: a JSON object with ``argv``,
  ``cwd``, ``env``, ``time_limit_s``, ``mounts`` (each ``path``, ``read_only``, ``get``: a presigned
  GET URL of a ``tar.gz`` of its content, ``put``: a presigned PUT URL for writable ones) and the
  PUT URLs ``stdout``, ``stderr``, ``result``. The job therefore holds URLs, never credentials
  (Codabench's rule); the job needs no IAM role.
* It unpacks every mount at its path. Running as root (the usual case), the read-only mounts are
  owned by root and not writable by others, the writable ones are given to uid/gid 65534, and the
  program runs as 65534: it cannot change its inputs, nor read this process's environment
  (``/proc/1/environ`` is root's, mode 0400) and so never sees the task URL nor the URLs of
  the result. Not root: the program runs as the image's user and can do both (said in the result).
* The program gets a minimal environment: ``PATH`` (this process's), ``HOME=/tmp``,
  ``LANG=C.UTF-8``, ``PYTHONUNBUFFERED=1``, then the task's ``env``; nothing of the job's own
  environment (``AWS_*``, ``AIBENCH_TASK_URL``).
* ``time_limit_s`` is enforced here, from the program's start (after the downloads): its whole
  process group is killed (SIGKILL), the outputs and logs are still uploaded and the result says
  ``timeout``. Batch's ``attemptDurationSeconds`` is only the backstop.
* After the program ends it uploads each writable mount (``tar.gz``), stdout, stderr and, last,
  the result: ``{"exit_code", "reason", "signal", "elapsed_s", "peak_memory_mb", "message"}``.
  It exits with the program's exit status (1 after a signal or a failure of its own), so that
  Batch's status agrees; the host reads the result file, which Batch cannot give (moto returns no
  ``container.exitCode``).
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.request
from typing import Any

NOBODY = 65534


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=300) as answer:  # noqa: S310 - presigned https/http URLs
        return bytes(answer.read())


def _put(url: str, path: str | None, data: bytes | None = None) -> None:
    size = os.path.getsize(path) if path is not None else len(data or b"")
    body: Any = open(path, "rb") if path is not None else (data or b"")  # noqa: SIM115 - closed below
    try:
        request = urllib.request.Request(url, data=body, method="PUT",
                                         headers={"Content-Length": str(size), "Content-Type": ""})
        with urllib.request.urlopen(request, timeout=300) as answer:  # noqa: S310
            answer.read()
    finally:
        if path is not None:
            body.close()


def _own(path: str, uid: int, gid: int, read_only: bool) -> None:
    """Give everything under ``path`` to ``uid:gid`` (links untouched); ``read_only``: readable by
    all, writable by nobody but its owner (a+rX, go-w), as ``chmod -R`` would without needing it."""
    for folder, dirs, files in os.walk(path):
        for name in [folder, *(os.path.join(folder, d) for d in dirs), *(os.path.join(folder, f) for f in files)]:
            if os.path.islink(name):
                continue
            os.chown(name, uid, gid)
            if read_only:
                mode = os.stat(name).st_mode & 0o7777
                search = 0o111 if os.path.isdir(name) or mode & 0o111 else 0
                os.chmod(name, (mode | 0o444 | search) & ~0o022)


def _unpack(data: bytes, path: str) -> None:
    os.makedirs(path, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(path, filter="data")
        else:  # Python < 3.11.4: the host made this archive of its own folder
            archive.extractall(path)  # noqa: S202


def _pack(path: str, target: str) -> None:
    with tarfile.open(target, "w:gz") as archive:
        for name in sorted(os.listdir(path)) if os.path.isdir(path) else []:
            archive.add(os.path.join(path, name), arcname=name)


def _run(task: dict[str, Any], out: str, err: str, as_root: bool) -> dict[str, Any]:
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": "/tmp", "LANG": "C.UTF-8",
           "PYTHONUNBUFFERED": "1", **task["env"]}
    extra: dict[str, Any] = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if as_root else {}
    limit = task.get("time_limit_s")
    started = time.monotonic()
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        try:
            child = subprocess.Popen(task["argv"], cwd=task["cwd"], env=env, stdout=stdout, stderr=stderr,
                                     stdin=subprocess.DEVNULL, start_new_session=True, **extra)
        except OSError as error:
            stderr.write(f"cannot start {task['argv'][0]!r}: {error}\n".encode())
            return {"exit_code": None, "reason": "error", "signal": None, "elapsed_s": 0.0,
                    "message": f"cannot start {task['argv'][0]!r}: {error}"}
        try:
            code = child.wait(None if limit is None else max(limit - (time.monotonic() - started), 0.0))
            reason = "exited"
        except subprocess.TimeoutExpired:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except OSError:
                pass
            child.wait()
            code, reason = None, "timeout"
    elapsed = time.monotonic() - started
    try:  # the process group may have left children behind
        os.killpg(child.pid, signal.SIGKILL)
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    sig = -code if code is not None and code < 0 else (signal.SIGKILL if reason == "timeout" else None)
    message = f"time limit of {limit:g} s exceeded: the program's processes were killed." if reason == "timeout" else ""
    return {"exit_code": None if code is None or code < 0 else code, "reason": reason, "signal": sig,
            "elapsed_s": round(elapsed, 3), "peak_memory_mb": round(peak, 1), "message": message}


def main() -> int:
    """Run the task of ``AIBENCH_TASK_URL`` (module docstring); the exit status for Batch."""
    task = json.loads(_get(os.environ.pop("AIBENCH_TASK_URL")))
    as_root = os.geteuid() == 0
    work = "/tmp/.aibench-batch"
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o700)
    out, err = os.path.join(work, "stdout"), os.path.join(work, "stderr")
    try:
        for mount in task["mounts"]:
            _unpack(_get(mount["get"]), mount["path"])
            if as_root:
                _own(mount["path"], *((0, 0) if mount["read_only"] else (NOBODY, NOBODY)), mount["read_only"])
        os.chmod("/tmp", 0o1777)
        result = _run(task, out, err, as_root)
    except Exception as error:  # a download, an unpacking: the job's own failure, said in the result
        result = {"exit_code": None, "reason": "error", "signal": None, "elapsed_s": 0.0,
                  "message": f"the Batch job could not prepare the program: {type(error).__name__}: {error}"}
    if not as_root:
        result["message"] = (result.get("message", "") + " The job ran as a non-root user: the program ran as the "
                             "same user and could change its read-only inputs.").strip()
    for mount in task["mounts"]:
        if mount.get("put"):
            target = os.path.join(work, "output.tar.gz")
            _pack(mount["path"], target)
            _put(mount["put"], target)
    for name, path in (("stdout", out), ("stderr", err)):
        if os.path.isfile(path):
            _put(task[name], path)
    _put(task["result"], None, json.dumps(result).encode())
    shutil.rmtree(work, ignore_errors=True)
    code = result.get("exit_code")
    return code if isinstance(code, int) and 0 <= code < 256 else 1


if __name__ == "__main__":
    sys.exit(main())
