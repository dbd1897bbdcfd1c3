"""One submitted Job, watched until it ends: the state machine that turns the cluster's Job and
Pod statuses into a :class:`~codalab_worker_compat.ProcessResult`.

The executor polls (every ``poll_s``) the Job's status and its pod (found by the ``aibench.job``
label the template gives it), and decides from what the cluster says, in this order:

* the container ``terminated`` with reason ``OOMKilled`` -> reason ``oom`` (whatever the exit
  status: a shell whose child was killed may still exit 0, as with Docker);
* the Job ``Complete`` -> ``exited`` with the container's ``exitCode`` (0);
* the Job ``Failed`` with reason ``DeadlineExceeded`` (``activeDeadlineSeconds``) -> ``timeout``
  when the container had started, else ``error`` (the cluster never ran it in time: not the
  participant's fault, the message says what the pod waited for, e.g. ``Unschedulable``);
* the Job ``Failed`` otherwise: the container's ``exitCode`` when it terminated (``exited``); no
  container state (the pod was deleted, evicted, its node lost) -> ``error``, an
  infrastructure failure;
* a container waiting for a reason that never resolves by itself (``ErrImagePull``,
  ``ImagePullBackOff``, ``InvalidImageName``, ``CreateContainerConfigError``, ...) -> ``error``;
* a pod that disappears while the Job is still active (seen at :data:`LOST_POLLS` polls in a
  row), or the Job itself disappearing (404) -> ``error``: the pod or the Job was lost;
* the API not answering for :data:`API_PATIENCE_S` -> ``error``.

The **time limit** is cooperative here: counted from the first poll that sees the container
running (the pull and the scheduling are not the participant's time), the Job is deleted once it
is over (reason ``timeout``, exit ``None``, signal 9, like Docker's kill); the Job's own
``activeDeadlineSeconds`` is the cluster's backstop should this process die.

**Logs**: Kubernetes keeps one log per container, stdout and stderr interleaved. It is read once
the container ends (or when it is stopped), before the Job is deleted, and written to
``spec.stdout``; ``spec.stderr`` gets a first line saying so, then the same log, so that what is
looked for in stderr (a write to a read-only folder) is still found. Both are capped like the
Docker executor's logs (:class:`~codalab_worker_compat.CappedLog`).

**Peak memory** is not measured (``None``): the pod's cgroup is on a node this host cannot read,
and the metrics API is sampled, not a peak.

The Job is deleted (``propagationPolicy: Background``: the garbage collector removes its pod)
when the result is known; a deletion that fails is said in the message, and the Job's
``ttlSecondsAfterFinished`` removes it anyway.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any, Final

from codalab_worker_compat import CappedLog, LogCap, ProcessResult

__all__ = ["API_PATIENCE_S", "JobProcess", "LOST_POLLS", "api_message"]

#: polls in a row without the pod of a still active Job before it is taken as lost
LOST_POLLS: Final = 3
#: seconds of API errors in a row before a Job is given up as unknown
API_PATIENCE_S: Final = 30.0
_STUCK: Final = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
                           "CreateContainerError", "RunContainerError", "ErrImageNeverPull"})
_MERGED: Final = (b"[aibench kubernetes executor] Kubernetes keeps one log for stdout and stderr: this is that "
                  b"log, also in the stdout log.\n")


def api_message(error: BaseException) -> str:
    """What an API error says, without anything of the request (no header, no credential): the
    HTTP status and the API server's ``Status`` message, or the exception's type and text for a
    connection error (they name the server's address, never a token)."""
    status = getattr(error, "status", None)
    if status is not None and status != 0:
        said = ""
        try:
            said = str(json.loads(getattr(error, "body", None) or "{}").get("message") or "")
        except (ValueError, AttributeError):
            said = ""
        return f"HTTP {status} {getattr(error, 'reason', '') or ''}".rstrip() + (f": {said}" if said else "")
    return f"{type(error).__name__}: {error}"


def _data(response: Any) -> dict[str, Any]:
    """The JSON body of an ``_preload_content=False`` answer."""
    found = json.loads(response.data or b"{}")
    return found if isinstance(found, dict) else {}


def _condition(job: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return dict(condition)
    return None


def _container(pod: dict[str, Any] | None, name: str) -> dict[str, Any]:
    for status in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == name:
            return dict(status)
    return {}


def _seconds(terminated: dict[str, Any]) -> float | None:
    try:
        start = datetime.fromisoformat(str(terminated["startedAt"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(terminated["finishedAt"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    seconds = (end - start).total_seconds()
    return seconds if seconds >= 0 else None


def _pending_reason(pod: dict[str, Any] | None, container: dict[str, Any]) -> str:
    """What a pod that never ran was waiting for, in the cluster's words."""
    waiting = (container.get("state") or {}).get("waiting") or {}
    if waiting.get("reason"):
        return f"its container was waiting: {waiting['reason']}" + (f" ({waiting['message']})"
                                                                   if waiting.get("message") else "")
    for condition in ((pod or {}).get("status") or {}).get("conditions") or []:
        if condition.get("status") == "False" and condition.get("reason"):
            return f"{condition.get('type')} {condition['reason']}" + (f": {condition['message']}"
                                                                     if condition.get("message") else "")
    return "no pod was seen running" if pod is None else f"its pod was {((pod.get('status') or {}).get('phase'))}"


class _Outcome:
    def __init__(self, reason: str, code: int | None, message: str, terminated: dict[str, Any] | None = None,
                 signal: int | None = None) -> None:
        self.reason, self.code, self.message, self.terminated, self.signal = reason, code, message, terminated, signal


class JobProcess:
    """A submitted Job (see the module docstring); a ``RunningProcess``. Not safe to share
    between threads."""

    def __init__(self, batch: Any, core: Any, spec: Any, name: str, namespace: str, container: str,
                 applied: dict[str, str], poll_s: float, deadline_s: int | None, log_cap: LogCap = LogCap()) -> None:
        self.batch, self.core, self.spec, self.name, self.namespace = batch, core, spec, name, namespace
        self.container, self.applied, self.poll_s, self.hard_deadline_s = container, applied, poll_s, deadline_s
        self.log_cap = log_cap
        self.submitted = time.monotonic()
        self.running_since: float | None = None
        self.pod: dict[str, Any] | None = None  # the last pod seen
        self.missing = 0
        self.api_failing_since: float | None = None
        self.result: ProcessResult | None = None

    # -- RunningProcess ---------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> ProcessResult | None:
        """The result once the Job has ended; ``None`` if it still runs after ``timeout`` seconds.
        Past the time limit (from the container's start) the Job is deleted: reason ``timeout``."""
        if self.result is not None:
            return self.result
        end = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        limit = self.spec.limits.time_limit_s
        while True:
            outcome = self._observe()
            if outcome is not None:
                return self._finish(outcome)
            now = time.monotonic()
            if limit is not None and self.running_since is not None and now >= self.running_since + limit:
                return self._finish(_Outcome("timeout", None, f"time limit of {limit:g} s exceeded: the Job was "
                                             "deleted and its pod killed.", signal=9))
            if end is not None and now >= end:
                return None
            stops = [t for t in (end, None if limit is None or self.running_since is None
                                 else self.running_since + limit) if t is not None]
            time.sleep(max(0.0, min([self.poll_s, *[t - now for t in stops]])))

    def kill(self) -> ProcessResult:
        """Delete the Job (its pod is killed); idempotent, and a Job that already ended keeps its
        own result."""
        if self.result is None and self.wait(0) is None:
            return self._finish(_Outcome("killed", None, "stopped by the caller: the Job was deleted and its pod "
                                         "killed.", signal=9))
        assert self.result is not None
        return self.result

    # -- the state machine --------------------------------------------------------------------

    def _observe(self) -> _Outcome | None:
        try:
            job = _data(self.batch.read_namespaced_job_status(self.name, self.namespace, _preload_content=False))
            pods = _data(self.core.list_namespaced_pod(self.namespace, label_selector=f"aibench.job={self.name}",
                                                       _preload_content=False)).get("items") or []
        except Exception as error:  # kubernetes.client.ApiException, urllib3's connection errors
            if getattr(error, "status", None) == 404:
                return _Outcome("error", None, f"the Job {self.name} disappeared from the namespace "
                                f"{self.namespace} before it ended (deleted by someone else, or lost by the "
                                "cluster): an infrastructure failure, the program's outcome is unknown; run it "
                                "again.")
            now = time.monotonic()
            self.api_failing_since = self.api_failing_since or now
            if now - self.api_failing_since >= API_PATIENCE_S:
                return _Outcome("error", None, f"the Kubernetes API did not answer for {API_PATIENCE_S:g} s "
                                f"({api_message(error)}): the outcome of the Job {self.name} is unknown.")
            return None
        self.api_failing_since = None
        pod = max(pods, key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp") or ""), default=None)
        if pod is not None:
            self.pod, self.missing = pod, 0
        elif self.pod is not None:
            self.missing += 1
        container = _container(pod, self.container)
        state = container.get("state") or {}
        terminated = state.get("terminated")
        if (state.get("running") or terminated) and self.running_since is None:
            self.running_since = time.monotonic()
        if terminated and terminated.get("reason") == "OOMKilled":
            code = terminated.get("exitCode")
            memory = self.applied.get("memory_mb", "its memory limit").split(" (")[0]
            return _Outcome("oom", code, f"out of memory: the program used more than its memory limit of {memory} "
                            "and the kernel killed it (Kubernetes reports OOMKilled)"
                            + (f"; the container still exited {code}." if code == 0 else "."), terminated)
        if _condition(job, "Complete") is not None:
            return _Outcome("exited", int((terminated or {}).get("exitCode", 0)), "", terminated)
        failed = _condition(job, "Failed")
        if failed is not None:
            if failed.get("reason") == "DeadlineExceeded":
                if self.running_since is not None:
                    return _Outcome("timeout", None, f"the cluster's deadline (activeDeadlineSeconds "
                                    f"{self.hard_deadline_s}) passed: the Job was stopped and its pod killed.",
                                    signal=9)
                return _Outcome("error", None, f"the cluster never started the program before the Job's deadline "
                                f"(activeDeadlineSeconds {self.hard_deadline_s}): "
                                f"{_pending_reason(self.pod, _container(self.pod, self.container)).rstrip('.')}; an "
                                "infrastructure failure (capacity, quota, image), not the program's.")
            if terminated and terminated.get("exitCode") is not None:
                return _Outcome("exited", int(terminated["exitCode"]), "", terminated)
            return _Outcome("error", None, self._lost_message(failed))
        if pod is None and self.pod is not None and self.missing >= LOST_POLLS:
            return _Outcome("error", None, self._lost_message(None))
        waiting = state.get("waiting") or {}
        if waiting.get("reason") in _STUCK:
            return _Outcome("error", None, f"cannot start {self.spec.argv[0] if self.spec.argv else ''!r}: the "
                            f"cluster cannot run the container ({waiting['reason']}"
                            + (f": {waiting['message']}" if waiting.get("message") else "") + ").")
        if pod is not None and (pod.get("status") or {}).get("reason") == "Evicted":
            return _Outcome("error", None, self._lost_message(None))
        return None

    def _lost_message(self, failed: dict[str, Any] | None) -> str:
        said = ""
        status = (self.pod or {}).get("status") or {}
        for condition in status.get("conditions") or []:
            if condition.get("type") == "DisruptionTarget" and condition.get("status") == "True":
                said = f"{condition.get('reason')}: {condition.get('message', '')}".rstrip(": ")
        said = said or str(status.get("reason") or status.get("message") or "")
        if failed is not None and not said:
            said = f"the Job failed ({failed.get('reason')}) with no container state"
        return (f"the pod of the Job {self.name} was lost before its container ended ("
                + (said or "it was deleted, evicted, or its node was lost") +
                "): an infrastructure failure, not the program's; the outcome is unknown, run it again.")

    # -- the end ------------------------------------------------------------------------------

    def _finish(self, outcome: _Outcome) -> ProcessResult:
        notes = [outcome.message] if outcome.message else []
        logged = self._logs()
        if logged:
            notes.append(logged)
        deleted = self._delete()
        if deleted:
            notes.append(deleted)
        elapsed = _seconds(outcome.terminated or {})
        if not elapsed:  # the cluster's times are whole seconds: 0 for a short run; ours then
            elapsed = time.monotonic() - (self.running_since or self.submitted)
        self.result = ProcessResult(
            self.spec.name, outcome.code, round(elapsed, 3), outcome.reason,  # type: ignore[arg-type]
            outcome.signal, " ".join(notes), "kubernetes", dict(self.applied), None,
            "not measured: the pod's memory cgroup is on a cluster node, not readable from this host")
        return self.result

    def _logs(self) -> str:
        """Write the container's log to spec.stdout and spec.stderr; a note when it cannot be read."""
        out, err = CappedLog(self.spec.stdout, self.log_cap), CappedLog(self.spec.stderr, self.log_cap)
        err.write(_MERGED)
        note = ""
        try:
            if self.pod is None:
                return "no pod ran: no log."
            pod = str((self.pod.get("metadata") or {}).get("name"))
            response = self.core.read_namespaced_pod_log(pod, self.namespace, container=self.container,
                                                         _preload_content=False)
            try:
                for chunk in response.stream(65536):
                    out.write(chunk)
                    err.write(chunk)
            finally:
                response.release_conn()
        except Exception as error:  # ApiException (the pod is gone), connection errors
            note = f"the pod's log could not be read ({api_message(error)})."
            err.write(f"[aibench kubernetes executor] {note}\n".encode())
        finally:
            out.close()
            err.close()
        return note

    def _delete(self) -> str:
        """Delete the Job (Background propagation); a note when that fails."""
        try:
            self.batch.delete_namespaced_job(self.name, self.namespace, propagation_policy="Background",
                                             _preload_content=False)
        except Exception as error:  # ApiException, connection errors
            if getattr(error, "status", None) == 404:
                return ""
            return (f"the Job {self.name} could not be deleted ({api_message(error)}): the cluster removes it "
                    "after its ttlSecondsAfterFinished, or the next aibench run reaps it.")
        return ""
