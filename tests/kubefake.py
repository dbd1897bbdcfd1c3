"""A local server that speaks the Kubernetes API for exactly the calls the ``kubernetes`` executor
makes, on 127.0.0.1, for its tests (not a cluster: no scheduler, no kubelet, no admission).

Calls served (JSON, as the API server answers them): create, read (``/status`` too), list (by label
selector, equality only) and delete Jobs (``batch/v1``); list Pods by label selector; read a Pod's
log. Every Job POSTed is kept as it came (:attr:`FakeKube.created`) and validated against the
official OpenAPI schema of :data:`SCHEMA_VERSION` with ``kubernetes_validate`` (strict: unknown
fields refused); an invalid one is answered 422 like the API server would.

What happens to a Job is its *scenario* (the ``aibench.step`` label -> :attr:`FakeKube.scenarios`,
else :attr:`FakeKube.default`), played lazily from the Job's age whenever it is read: ``exit0``,
``exit3`` (fails with exit status 3), ``deadline`` (the cluster's ``activeDeadlineSeconds``
passes while it runs), ``oom`` (container ``OOMKilled``), ``lost`` (the pod disappears, the Job
fails without a container state: a node lost or an eviction), ``vanish`` (the Job itself is
deleted by someone else), ``unschedulable`` (the pod stays Pending until the deadline), ``hang``
(runs until deleted), ``pull`` (``ErrImagePull``). The controller's behaviour modelled is the
one of Kubernetes 1.30 with ``backoffLimit: 0``: one pod, the Job ``Failed`` as soon as it fails.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate  # type: ignore[import-untyped]

SCHEMA_VERSION = "1.30.0"
#: seconds of a scenario: the pod is Pending, then Running at RUNNING_AT, then it ends at END_AT
RUNNING_AT, END_AT = 0.1, 0.4


def _now(offset: float = 0.0) -> str:
    return datetime.fromtimestamp(time.time() + offset, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


@dataclass
class _Job:
    body: dict[str, Any]
    scenario: str
    created: float
    pod_name: str
    deleted_pod: bool = False
    log: bytes = b""
    #: scenario ``docker``: the container's state, set by its thread (``running``, ``code``, ``oom``)
    docker: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakeKube:
    """The fake API server's state; :func:`serve` runs it."""

    default: str = "exit0"
    scenarios: dict[str, str] = field(default_factory=dict)
    validate: bool = True
    #: answer every create with this (code, reason, message) instead (an RBAC refusal, a quota)
    refuse_create: tuple[int, str, str] | None = None
    #: every Job body POSTed, as it came
    created: list[dict[str, Any]] = field(default_factory=list)
    #: every request: (method, path with query, Authorization header)
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    #: (job name, propagationPolicy) of every delete
    deletes: list[tuple[str, str]] = field(default_factory=list)
    jobs: dict[tuple[str, str], _Job] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    #: scenario ``docker``: image reference -> the local image that stands for it
    images: dict[str, str] = field(default_factory=dict)
    #: scenario ``docker``: claim name -> the host folder that is its storage
    claims: dict[str, Path] = field(default_factory=dict)
    #: what to close when the server stops (the executors made on it: their connection pools)
    to_close: list[Any] = field(default_factory=list)

    # -- the model of the job controller and kubelet --------------------------------------

    def add_job(self, namespace: str, body: dict[str, Any], scenario: str | None = None) -> dict[str, Any]:
        """Store ``body`` as a new Job (the API server's defaults added) and return it."""
        name = body["metadata"]["name"]
        labels = body["metadata"].get("labels") or {}
        chosen = scenario or self.scenarios.get(labels.get("aibench.step", ""), self.default)
        stored = json.loads(json.dumps(body))
        stored["metadata"].update(namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=_now(),
                                  resourceVersion="1")
        stored["status"] = {}
        job = _Job(stored, chosen, time.monotonic(), f"{name}-{uuid.uuid4().hex[:5]}",
                   log=f"log of {name}\nline two\n".encode())
        self.jobs[(namespace, name)] = job
        if chosen == "docker":
            job.log = b""
            threading.Thread(target=_kubelet, args=(self, job), daemon=True).start()
        return dict(stored)

    def _play(self, job: _Job) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The Job and its pod (``None``: none) at the Job's age, per its scenario."""
        age = time.monotonic() - job.created
        body, scenario = job.body, job.scenario
        template = body["spec"]["template"]
        uid = body["metadata"]["uid"]
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": job.pod_name, "namespace": body["metadata"]["namespace"],
                            "labels": {**template["metadata"]["labels"], "job-name": body["metadata"]["name"],
                                       "batch.kubernetes.io/job-name": body["metadata"]["name"],
                                       "controller-uid": uid},
                            "creationTimestamp": body["metadata"]["creationTimestamp"]},
               "spec": template["spec"], "status": {"phase": "Pending", "conditions": []}}
        status: dict[str, Any] = {"startTime": body["metadata"]["creationTimestamp"], "active": 1}
        waiting = {"name": "step", "ready": False, "restartCount": 0, "image": template["spec"]["containers"][0]["image"],
                   "state": {"waiting": {"reason": "ContainerCreating"}}}
        pod["status"]["containerStatuses"] = [waiting]

        def failed(reason: str, message: str) -> None:
            status.pop("active", None)
            status.update(failed=1, conditions=[{"type": "Failed", "status": "True", "reason": reason,
                                                 "message": message, "lastTransitionTime": _now()}])

        def terminated(code: int, reason: str) -> None:
            pod["status"]["phase"] = "Succeeded" if code == 0 else "Failed"
            waiting["state"] = {"terminated": {"exitCode": code, "reason": reason, "startedAt": _now(-0.3),
                                               "finishedAt": _now()}}

        if scenario == "docker":
            return self._docker(job, body, pod, status, waiting)
        if scenario == "unschedulable":
            pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                            "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}]
            del pod["status"]["containerStatuses"]
            if age >= END_AT:
                failed("DeadlineExceeded", "Job was active longer than specified deadline")
                return {**body, "status": status}, None
            return {**body, "status": status}, pod
        if scenario == "pull":
            waiting["state"] = {"waiting": {"reason": "ErrImagePull", "message": "manifest unknown"}}
            return {**body, "status": status}, pod
        if age >= RUNNING_AT:
            pod["status"]["phase"] = "Running"
            waiting["state"] = {"running": {"startedAt": _now()}}
        if age < END_AT or scenario == "hang":
            return {**body, "status": status}, pod
        if scenario == "exit0":
            terminated(0, "Completed")
            status.pop("active", None)
            status.update(succeeded=1, completionTime=_now(),
                          conditions=[{"type": "Complete", "status": "True", "lastTransitionTime": _now()}])
        elif scenario == "exit3":
            terminated(3, "Error")
            failed("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        elif scenario == "oom":
            terminated(137, "OOMKilled")
            failed("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        elif scenario == "deadline":
            failed("DeadlineExceeded", "Job was active longer than specified deadline")
            return {**body, "status": status}, None  # the controller deletes the active pod
        elif scenario == "lost":
            failed("BackoffLimitExceeded", "Job has reached the specified backoff limit")
            return {**body, "status": status}, None
        elif scenario == "vanish":
            self.jobs.pop((body["metadata"]["namespace"], body["metadata"]["name"]), None)
            return {**body, "status": status}, None
        return {**body, "status": status}, pod

    def _docker(self, job: _Job, body: dict[str, Any], pod: dict[str, Any], status: dict[str, Any],
                container: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        state = dict(job.docker)
        if "error" in state:
            container["state"] = {"waiting": {"reason": "CreateContainerError", "message": state["error"]}}
        elif "code" in state:
            code = int(state["code"])
            pod["status"]["phase"] = "Succeeded" if code == 0 else "Failed"
            container["state"] = {"terminated": {"exitCode": code, "reason": "OOMKilled" if state["oom"] else
                                                 ("Completed" if code == 0 else "Error"),
                                                 "startedAt": state["started"], "finishedAt": state["finished"]}}
            status.pop("active", None)
            if code == 0:
                status.update(succeeded=1, conditions=[{"type": "Complete", "status": "True"}])
            else:
                status.update(failed=1, conditions=[{"type": "Failed", "status": "True",
                                                     "reason": "BackoffLimitExceeded"}])
        elif state.get("running"):
            pod["status"]["phase"] = "Running"
            container["state"] = {"running": {"startedAt": state["started"]}}
        return {**body, "status": status}, pod

    def snapshot(self, namespace: str) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
        return [self._play(job) for (ns, _), job in list(self.jobs.items()) if ns == namespace]

    def job_names(self) -> list[str]:
        with self.lock:
            return sorted(name for _, name in self.jobs)


def _kubelet(fake: FakeKube, job: _Job) -> None:
    """Scenario ``docker``: run the pod's container with the local Docker engine, as a kubelet
    would: the claim's ``subPath`` mounts as binds of its folder, the security context as Docker
    options, no network (the NetworkPolicy's effect); the log merged, as Kubernetes keeps it."""
    import docker

    pod = job.body["spec"]["template"]["spec"]
    spec = pod["containers"][0]
    claims = {v["name"]: fake.claims[v["persistentVolumeClaim"]["claimName"]]
              for v in pod["volumes"] if "persistentVolumeClaim" in v}
    binds = [f"{claims[m['name']] / m.get('subPath', '')}:{m['mountPath']}:{'ro' if m.get('readOnly') else 'rw'}"
             for m in spec["volumeMounts"] if m["name"] in claims]
    user = spec["securityContext"]
    limits = spec["resources"]["limits"]
    client = docker.from_env()
    container = None
    try:
        container = client.containers.create(
            fake.images[spec["image"]], command=spec["args"], working_dir=spec["workingDir"],
            environment={e["name"]: e["value"] for e in spec["env"]}, user=f"{user['runAsUser']}:{user['runAsGroup']}",
            read_only=True, tmpfs={"/tmp": "rw,exec,size=256m,mode=1777"}, volumes=binds, network_mode="none",
            mem_limit=limits["memory"].replace("Mi", "m"), memswap_limit=limits["memory"].replace("Mi", "m"),
            nano_cpus=int(limits["cpu"].rstrip("m")) * 1_000_000, cap_drop=["ALL"],
            security_opt=["no-new-privileges"], labels={"aibench-kubefake": job.body["metadata"]["name"]})
        container.start()
        job.docker.update(running=True, started=_now(), id=container.id)
        code = int(container.wait()["StatusCode"])
        oom = bool(client.api.inspect_container(str(container.id))["State"].get("OOMKilled"))
        job.log = container.logs(stdout=True, stderr=True)
        job.docker.update(code=code, oom=oom, finished=_now())
    except Exception as error:  # noqa: BLE001 - the fake's kubelet reports what Docker said
        job.docker["error"] = str(error)
    finally:
        if container is not None:
            container.remove(force=True)
        client.close()


def _live_log(job: _Job) -> bytes:
    """The pod's log now: a running docker-scenario container's is asked of the engine."""
    if not job.docker.get("id") or "code" in job.docker:
        return job.log
    import docker

    client = docker.from_env()
    try:
        return bytes(client.api.logs(job.docker["id"], stdout=True, stderr=True))
    except Exception:  # noqa: BLE001 - it ended meanwhile
        return job.log
    finally:
        client.close()


def _kill(container: str) -> None:
    import docker

    client = docker.from_env()
    try:
        client.api.kill(container)
    except Exception:  # noqa: BLE001 - it ended meanwhile
        pass
    finally:
        client.close()


def _matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        pass

    def _send(self, code: int, payload: Any, content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null") if length else None
        with fake.lock:
            fake.requests.append((method, self.path, self.headers.get("Authorization", "")))
            jobs = re.fullmatch(r"/apis/batch/v1/namespaces/([^/]+)/jobs(?:/([^/]+))?(/status)?", parts.path)
            pods = re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods(?:/([^/]+)/log)?", parts.path)
            if jobs and method == "POST" and not jobs.group(2):
                self._create(fake, jobs.group(1), body)
            elif jobs and method == "GET" and jobs.group(2):
                found = [j for j, _ in fake.snapshot(jobs.group(1)) if j["metadata"]["name"] == jobs.group(2)]
                if found:
                    self._send(200, found[0])
                else:
                    self._send(404, _status(404, "NotFound", f'jobs.batch "{jobs.group(2)}" not found'))
            elif jobs and method == "GET":
                items = [j for j, _ in fake.snapshot(jobs.group(1))
                         if _matches(j["metadata"].get("labels") or {}, query.get("labelSelector", ""))]
                self._send(200, {"kind": "JobList", "apiVersion": "batch/v1", "metadata": {"resourceVersion": "1"},
                                 "items": items})
            elif jobs and method == "DELETE" and jobs.group(2):
                policy = query.get("propagationPolicy") or (body or {}).get("propagationPolicy") or ""
                fake.deletes.append((jobs.group(2), policy))
                gone = fake.jobs.pop((jobs.group(1), jobs.group(2)), None)
                if gone is not None and gone.docker.get("id") and "code" not in gone.docker:
                    _kill(gone.docker["id"])  # the garbage collector deletes the pod: its container ends
                if gone is None:
                    self._send(404, _status(404, "NotFound", f'jobs.batch "{jobs.group(2)}" not found'))
                else:
                    self._send(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                     "details": {"name": jobs.group(2), "group": "batch", "kind": "jobs"}})
            elif pods and method == "GET" and not pods.group(2):
                items = [p for _, p in fake.snapshot(pods.group(1))
                         if p is not None and _matches(p["metadata"]["labels"], query.get("labelSelector", ""))]
                self._send(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
                                 "items": items})
            elif pods and method == "GET":
                logs = [_live_log(job) for (ns, _), job in fake.jobs.items()
                        if ns == pods.group(1) and job.pod_name == pods.group(2)]
                if logs:
                    self._send(200, logs[0], "text/plain")
                else:
                    self._send(404, _status(404, "NotFound", f'pods "{pods.group(2)}" not found'))
            else:
                self._send(404, _status(404, "NotFound", f"the fake serves no {method} {parts.path}"))

    def _create(self, fake: FakeKube, namespace: str, body: Any) -> None:
        fake.created.append(body)
        if fake.refuse_create is not None:
            self._send(fake.refuse_create[0], _status(*fake.refuse_create))
            return
        if fake.validate:
            try:
                kubernetes_validate.validate(body, SCHEMA_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                self._send(422, _status(422, "Invalid", f"Job is invalid: {error.message}"))
                return
        name = body["metadata"]["name"]
        if (namespace, name) in fake.jobs:
            self._send(409, _status(409, "AlreadyExists", f'jobs.batch "{name}" already exists'))
            return
        self._send(201, fake.add_job(namespace, body))

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._route("DELETE")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeKube

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client closing its pooled connection (ConnectionResetError) is no error of the fake


@contextmanager
def serve(fake: FakeKube | None = None) -> Iterator[FakeKube]:
    """Run a :class:`FakeKube` on 127.0.0.1 (a free port) until the block ends; ``fake.url`` is
    its address."""
    fake = fake or FakeKube()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        for item in fake.to_close:
            item.close()
        server.shutdown()
        server.server_close()
        thread.join(5)


def kubeconfig(url: str, token: str, namespace: str = "default") -> str:
    """A kubeconfig (YAML is JSON) for the fake at ``url`` with a bearer ``token``."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": url}}],
        "users": [{"name": "fake-user", "user": {"token": token}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake-user", "namespace": namespace}}]})


DIGEST = "sha256:" + "ab" * 32
IMAGE = f"registry.example/aibench/py312@{DIGEST}"
TOKEN = "SECRET-k8s-token-4f1c9a"


def write_kubeconfig(folder: Path, url: str, token: str = TOKEN) -> Path:
    """A kubeconfig file for the fake at ``url`` in ``folder`` (kept outside the folders a test scans
    for the token)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kubeconfig"
    path.write_text(kubeconfig(url, token))
    return path


def make_executor(fake: FakeKube, tmp_path: Path, **options: Any) -> Any:
    """The ``kubernetes`` executor as the registry makes it, on the fake, with a shared volume at
    ``tmp_path/volume`` (claim ``aibench-work``) and fast polling."""
    from aibench_plugins.executors.kubernetes import KubernetesExecutorPlugin

    volume = tmp_path / "volume"
    volume.mkdir(exist_ok=True)
    config = write_kubeconfig(tmp_path / "credentials", fake.url)
    given = {"image": IMAGE, "kubeconfig": str(config), "volume_claim": "aibench-work", "volume_root": str(volume),
             "poll_s": 0.02, **options}
    executor = KubernetesExecutorPlugin().create(given)
    executor.watch = False  # one detached watcher per test would outlive the test; tested on its own
    fake.to_close.append(executor)
    return executor


def step_spec(tmp_path: Path, name: str = "scoring", **changes: Any) -> Any:
    """A v2-like ProcessSpec whose folders lie under ``tmp_path/volume/run``."""
    from codalab_worker_compat import ProcessSpec, ResourceLimits

    run = tmp_path / "volume" / "run"
    folders = {"/app/program": run / "program", "/app/input": run / "input", "/app/output": run / "output"}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    values: dict[str, Any] = {
        "name": name, "argv": ("python", "/app/program/score.py"), "cwd": "/app/program",
        "stdout": run / "logs" / f"{name}.stdout", "stderr": run / "logs" / f"{name}.stderr",
        "mounts": folders, "read_only": frozenset({"/app/program", "/app/input"}),
        "limits": ResourceLimits(time_limit_s=30)}
    values.update(changes)
    return ProcessSpec(**values)
