"""The Job the ``kubernetes`` executor submits for one process: a pure function of the
:class:`~codalab_worker_compat.ProcessSpec` and the executor's settings (no client, no cluster), so
that the exact manifest can be checked against the official schema in the tests.

Why each field is what it is (EvalAI's code-upload Job, ``docs/executors.md`` §1.3 iii, §2.4,
hardened like the Docker executor):

* one ``batch/v1`` Job per process, ``backoffLimit: 0`` and ``restartPolicy: Never``: a failed
  program is a result, never retried behind the organiser's back (EvalAI uses 1);
* ``activeDeadlineSeconds`` = the time limit + :data:`START_BUFFER_S` (EvalAI's
  ``ACTIVE_DEADLINE_BUFFER_SECONDS``): the cluster's hard backstop, which also covers scheduling
  and the image pull; the time limit itself is enforced from the container's start by the
  executor's cooperative deadline (:mod:`._process`);
* ``ttlSecondsAfterFinished``: the cluster removes a finished Job and its pod even when nobody
  deletes it (this host died); the executor deletes it itself once it has read the log;
* resources: ``requests`` = ``limits`` for ``cpu`` and ``memory`` (Guaranteed QoS: a limit the
  program is measured against, not a best effort), ``nvidia.com/gpu`` as a limit (extended
  resources take only whole counts, and requests default to the limit);
* no service-account token (``automountServiceAccountToken: false``), no service links in the
  environment, the runtime's default seccomp profile, uid/gid 65534 (``runAsNonRoot``),
  ``allowPrivilegeEscalation: false``, every capability dropped, a read-only root filesystem with
  an ``emptyDir`` at ``/tmp`` (also ``HOME``) and a memory-backed one at ``/dev/shm``;
* the image by digest only (``name@sha256:...``): a moved tag changes nothing mid-run;
* ``args`` (not ``command``): the image's ENTRYPOINT is kept and argv is its command, as the
  Docker executor and the platforms do;
* the mounts: every host folder of ``spec.mounts`` must lie under ``volume_root``, the place where
  the volume claim ``volume_claim`` is mounted on this host; each becomes a ``subPath`` mount of
  that claim, read-only when the spec says so (and always ``/app/data``);
* labels: ``aibench.managed``, ``aibench.job`` (on the pod too, to find it without relying on
  the controller's own labels), ``aibench.run-id``, ``aibench.step``, ``aibench.network``
  (``none`` unless the network was allowed: what the documented NetworkPolicy selects), and the
  owner (``aibench.owner-host``, ``-pid``, ``-start``) so that Jobs of a crashed host process are
  found and deleted (:func:`aibench_plugins.executors.kubernetes.reap_orphan_jobs`).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ...core.errors import InvalidValueError

__all__ = ["DIGEST_RE", "JobSettings", "Placement", "START_BUFFER_S", "TTL_AFTER_FINISHED_S", "build_job",
           "job_name", "label_value", "placements"]

#: seconds the cluster's hard deadline (``activeDeadlineSeconds``) adds to the time limit, for
#: scheduling and the image pull (EvalAI's default buffer)
START_BUFFER_S: Final = 300
#: seconds a finished Job stays before the cluster's TTL controller removes it (and its pod)
TTL_AFTER_FINISHED_S: Final = 600
NOBODY: Final = 65534
CONTAINER: Final = "step"
ALWAYS_READ_ONLY: Final = frozenset({"/app/data"})
#: ``name@sha256:<64 hex>``: the only image reference the executor accepts
DIGEST_RE: Final = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._/:-]*)@(?P<digest>sha256:[0-9a-f]{64})$")
_LABEL_BAD: Final = re.compile(r"[^A-Za-z0-9_.-]+")


def label_value(text: str) -> str:
    """``text`` as a valid label value: at most 63 characters of ``[A-Za-z0-9_.-]``, starting and
    ending with an alphanumeric one (empty when nothing is left)."""
    cleaned = _LABEL_BAD.sub("-", text)[:63]
    return cleaned.strip("-_.")


def _dns_label(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or "step"


@dataclass(frozen=True)
class JobSettings:
    """What every Job of one executor shares (the executor's options and defaults)."""

    image: str  #: ``name@sha256:...``
    namespace: str
    volume_claim: str | None
    volume_root: Path | None
    network: bool
    memory_mb: int
    cpus: float
    tmp_mb: int
    shm_mb: int
    owner_host: str
    owner_pid: str
    owner_start: str


@dataclass(frozen=True)
class Placement:
    """One mount: the claim's ``sub_path`` at ``target`` in the container."""

    target: str
    sub_path: str
    read_only: bool


def placements(spec: Any, settings: JobSettings) -> list[Placement]:
    """The volume mounts of ``spec`` (its ``mounts``, exactly; nothing derived from argv or env).

    :raises InvalidValueError: a mount that the pod cannot reach: no volume claim configured, or a host
        folder outside ``volume_root``; the message says what the organiser can do.
    """
    if not spec.mounts:
        return []
    if settings.volume_claim is None or settings.volume_root is None:
        raise InvalidValueError(
            f"cannot start {spec.name!r} on Kubernetes: it needs {len(spec.mounts)} host folder(s) "
            f"({', '.join(sorted(str(p) for p in spec.mounts.values()))}) and the executor has no shared volume: "
            "give the options volume_claim (a PersistentVolumeClaim the pods mount) and volume_root (where the "
            "same storage is mounted on this machine), and a work folder under volume_root (aibench run "
            "--work-dir); see docs/executors-kubernetes.md (the organiser's fix)")
    root = os.path.realpath(settings.volume_root)
    read_only = set(spec.read_only) | ALWAYS_READ_ONLY
    found = []
    for target, host in sorted(spec.mounts.items()):
        real = os.path.realpath(host)
        if not target.startswith("/") or os.path.normpath(target) != target or target == "/":
            raise InvalidValueError(f"cannot start {spec.name!r}: mount point {target!r} is not a normalised absolute path")
        if not os.path.isdir(real):
            raise InvalidValueError(f"cannot start {spec.name!r}: the host folder {host} to mount at {target} does "
                                    "not exist")
        if real != root and not real.startswith(root.rstrip("/") + "/"):
            raise InvalidValueError(
                f"cannot start {spec.name!r} on Kubernetes: the folder {real} (mounted at {target}) is not under "
                f"volume_root {root}, so the pod cannot see it through the claim {settings.volume_claim!r}: run "
                f"with a work folder under {root} (aibench run --work-dir {root}/...) or set volume_root to "
                "where the claim's storage is mounted here (the organiser's fix)")
        found.append(Placement(target, os.path.relpath(real, root) if real != root else "", target in read_only))
    return found


def _quantity_cpu(cpus: float) -> str:
    return f"{max(1, round(cpus * 1000))}m"


def build_job(spec: Any, settings: JobSettings, *, name: str, run_id: str,
              mounts: list[Placement]) -> tuple[dict[str, Any], dict[str, str]]:
    """The Job manifest (a ``batch/v1`` Job as JSON) for ``spec``, and how each limit is applied
    (``ProcessResult.limits_applied``). ``limits.pids`` and GPU device ids or ``-1`` must have been
    refused before (:meth:`KubernetesExecutor.limit_refusals`)."""
    limits = spec.limits
    memory = limits.memory_mb if limits.memory_mb is not None else settings.memory_mb
    cpus = limits.cpus if limits.cpus is not None else settings.cpus
    shm = limits.shm_mb if limits.shm_mb is not None else settings.shm_mb
    resources: dict[str, dict[str, str]] = {
        "requests": {"cpu": _quantity_cpu(cpus), "memory": f"{memory}Mi"},
        "limits": {"cpu": _quantity_cpu(cpus), "memory": f"{memory}Mi"}}
    applied = {"memory_mb": f"{memory} MiB (resources requests = limits memory {memory}Mi: the container's "
                            "memory cgroup, OOM-killed past it)",
               "cpus": f"{cpus:g} cores (resources requests = limits cpu {_quantity_cpu(cpus)}: a CFS quota, a "
                       "throttle)",
               "shm_mb": f"{shm} MiB /dev/shm (a memory-backed emptyDir)"}
    if isinstance(limits.gpus, int) and limits.gpus > 0:
        resources["limits"]["nvidia.com/gpu"] = str(limits.gpus)
        applied["gpus"] = f"{limits.gpus} (resources limits nvidia.com/gpu: the NVIDIA device plugin's count)"
    elif limits.gpus == 0:
        applied["gpus"] = "0 (no nvidia.com/gpu asked)"
    job_spec: dict[str, Any] = {"backoffLimit": 0, "ttlSecondsAfterFinished": TTL_AFTER_FINISHED_S}
    if limits.time_limit_s is not None:
        deadline = math.ceil(limits.time_limit_s) + START_BUFFER_S
        job_spec["activeDeadlineSeconds"] = deadline
        applied = {"time_limit_s": f"{limits.time_limit_s:g} s wall clock from the container's start: the Job is "
                                   f"deleted (its pod killed) by the executor; activeDeadlineSeconds {deadline} "
                                   "as the cluster's backstop (scheduling and pull included)", **applied}
    labels = {"aibench.managed": "true", "aibench.job": name, "aibench.run-id": label_value(run_id),
              "aibench.step": label_value(spec.name), "aibench.network": "allowed" if settings.network else "none",
              "aibench.owner-host": label_value(settings.owner_host), "aibench.owner-pid": settings.owner_pid,
              "aibench.owner-start": label_value(settings.owner_start)}
    labels = {key: value for key, value in labels.items() if value}
    env = {"HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", **spec.env}
    volume_mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}, {"name": "shm", "mountPath": "/dev/shm"}]
    for mount in mounts:
        entry: dict[str, Any] = {"name": "work", "mountPath": mount.target, "readOnly": mount.read_only}
        if mount.sub_path:
            entry["subPath"] = mount.sub_path
        volume_mounts.append(entry)
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": f"{settings.tmp_mb}Mi"}},
                                     {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{shm}Mi"}}]
    if mounts:
        volumes.append({"name": "work", "persistentVolumeClaim": {"claimName": settings.volume_claim}})
    container: dict[str, Any] = {
        "name": CONTAINER, "image": settings.image, "args": list(spec.argv), "workingDir": spec.cwd,
        "env": [{"name": key, "value": value} for key, value in env.items()],
        "resources": resources, "volumeMounts": volume_mounts,
        "securityContext": {"runAsNonRoot": True, "runAsUser": NOBODY, "runAsGroup": NOBODY,
                            "allowPrivilegeEscalation": False, "privileged": False,
                            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
        "terminationMessagePolicy": "FallbackToLogsOnError", "imagePullPolicy": "IfNotPresent"}
    job_spec["template"] = {
        "metadata": {"labels": labels},
        "spec": {"restartPolicy": "Never", "automountServiceAccountToken": False, "enableServiceLinks": False,
                 "securityContext": {"runAsNonRoot": True, "runAsUser": NOBODY, "runAsGroup": NOBODY,
                                     "fsGroup": NOBODY, "seccompProfile": {"type": "RuntimeDefault"}},
                 "containers": [container], "volumes": volumes}}
    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": name, "namespace": settings.namespace, "labels": labels,
                        "annotations": {"aibench.owner-host": settings.owner_host, "aibench.step": spec.name,
                                        "aibench.run-id": run_id}},
           "spec": job_spec}
    return job, applied


def job_name(step: str, token: str) -> str:
    """``aibench-<step>-<token>``, a valid DNS-1123 label of at most 63 characters (Job names
    become a label value on their pods)."""
    return f"aibench-{_dns_label(step)[:30].strip('-')}-{token}"[:63].rstrip("-")

