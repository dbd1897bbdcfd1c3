"""``aws-batch``: each process of a run as one AWS Batch job, its inputs and outputs through S3.

Install with ``pip install 'aibench-plugins[aws]'`` (``boto3``, imported only when the executor is
made). Chosen with ``aibench run --executor aws-batch --executor-param job_queue=... ...`` or the
manifest's ``executor`` section (``{"use": "aws-batch", "params": {...}}``).

**Options** (:attr:`AwsBatchExecutorPlugin.info`): ``image`` (the job's image: give it pinned,
``repo@sha256:...``; the run records whether it is), ``job_queue`` (name or ARN, required),
``bucket`` (required; the staging bucket), ``prefix`` (key prefix, default ``aibench``),
``region`` (default: boto3's), ``endpoint_url`` (an emulator such as moto; default: the standard
``AWS_ENDPOINT_URL``, else AWS), ``job_definition`` (an existing definition to use instead of
registering one: its image, resources and timeout are its own, the command and the limits are
given at submission), ``poll_interval_s`` (seconds between two ``describe_jobs``, default 5),
``keep_staging`` (keep the staged S3 objects, default off), ``attempt_grace_s`` (seconds added to
the time limit for Batch's backstop timeout, default 300) and ``url_expiry_s`` (lifetime of the
presigned URLs, default 43200: it must cover the time in the queue plus the run) and
``queue_timeout_s`` (a job not running this long after its submission is terminated, an
infrastructure error; default 3600).

**Credentials** come only from boto3's default chain (environment, shared files, SSO, instance
or task roles). This module never reads, copies or records them: the job gets presigned URLs,
never a key (Codabench's rule); the job definition holds only the image, the bootstrap program
and the resources; :meth:`_AwsBatch.describe` holds no secret. A presigned URL carries the access
key *id* and, with temporary credentials, the session token: URLs live only in S3 (the task file,
deleted afterwards) and in the job's ``containerOverrides`` on Batch, never on this host's disk.

**One process** (:meth:`_AwsBatch.start`):

1. Every mount of ``spec.mounts`` (read-only and writable) is packed as ``tar.gz`` and uploaded
   to ``s3://bucket/prefix/<run>/<process>/in/<n>.tar.gz``; a task file (``task.json``: argv,
   cwd, env, time limit, the mounts with their presigned GET and, for writable ones, PUT URLs,
   the PUT URLs of stdout, stderr and the result) is uploaded beside them.
2. A job definition is registered, or reused when one of the same content is active: its name is
   ``aibench-<16 hex of a SHA-256 of the content>`` (image, command, resources, timeout), so a run
   of many processes registers each shape once. Its command is ``python3 -c <bootstrap>``
   (:mod:`aibench_plugins.executors.batch_bootstrap`, standard library only; the images have
   ``python3``); ``resourceRequirements``: ``VCPU`` from ``limits.cpus`` (default 1), ``MEMORY``
   from ``limits.memory_mb`` (default 2048 MiB), ``GPU`` from an integer ``limits.gpus``;
   ``linuxParameters.sharedMemorySize`` from ``limits.shm_mb``; ``retryStrategy.attempts`` 1
   (a participant's program never runs twice); ``timeout.attemptDurationSeconds`` the time limit
   plus ``attempt_grace_s``, at least 60 (AWS's minimum), so Batch's timeout is a backstop.
3. The job is submitted with ``AIBENCH_TASK_URL`` (the task file's GET URL) as its only
   environment override, and tags ``aibench.run`` and ``aibench.step``.
4. The bootstrap enforces the time limit itself, from the program's start, precisely; then it
   uploads the writable mounts, the logs and the result (exit code, reason, elapsed, peak memory).
5. :meth:`_BatchJob.wait` polls ``describe_jobs``; once the job is ``SUCCEEDED`` or ``FAILED`` the
   job's changes to the writable mounts are brought to their host folders (:func:`_unpack`: files
   written, created or removed by the job; archives unpacked with tarfile's ``data`` filter: no
   absolute paths, no links leaving the folder, no devices), the logs written to
   ``spec.stdout``/``spec.stderr`` (capped like the docker executor's), and the staged objects
   deleted unless ``keep_staging``.

**Outcome**: the result file decides (moto's ``describe_jobs`` has no ``container.exitCode``, and
Batch's is the bootstrap's). Without one: a ``FAILED`` job whose ``statusReason`` speaks of its
attempt duration, or whose attempt lasted its ``attemptDurationSeconds``, is ``timeout``
(moto gives no ``statusReason`` then); ``OutOfMemoryError`` in the reasons is ``oom``; anything
else, and a job Batch no longer knows, is ``error`` with an "infrastructure error" message naming
the job and what Batch said. :meth:`_BatchJob.kill` is ``terminate_job``; reason ``killed``.

**Not like the docker executor**: processes of one step running at once (ingestion and the
participant's program) are separate jobs, maybe on separate machines: each sees the folders as
they were when it started, never the other's writes as they happen; their changes are brought
back when each ends. The job has the compute environment's network (it must reach
S3), so ``network`` is not an option and participant code can reach the network unless the
compute environment's VPC prevents it; the ``pids`` limit and GPU device ids cannot be applied
(:meth:`_AwsBatch.limit_refusals`); peak memory is the bootstrap's ``ru_maxrss`` of the program's
processes, measured inside the job. moto stores but does not apply ``MEMORY``/``GPU``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import shutil
import tarfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from aibench_plugins import ExecutorInfo, UsageError

from .failure import not_started

__all__ = ["AwsBatchExecutorPlugin", "BOOTSTRAP", "MIN_ATTEMPT_S", "STAGE_GRACE_S", "bootstrap_command",
           "job_definition"]

#: AWS Batch's smallest ``timeout.attemptDurationSeconds``
MIN_ATTEMPT_S: Final = 60
DEFAULT_CPUS: Final = 1.0
DEFAULT_MEMORY_MB: Final = 2048
#: the in-job program's source (standard library only)
BOOTSTRAP: Final = (Path(__file__).with_name("batch_bootstrap.py")).read_text(encoding="utf-8")
TERMINAL: Final = ("SUCCEEDED", "FAILED")
QUEUED: Final = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING")
_STOP_WAIT_S: Final = 120.0
#: seconds of running a caller waiting the whole time limit gets more, for the job's downloads and uploads
STAGE_GRACE_S: Final = 60.0
_DESCRIBE_TRIES: Final = 5


def bootstrap_command() -> list[str]:
    """The job definition's command: the bootstrap run by the image's ``python3``."""
    return ["python3", "-c", BOOTSTRAP]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "process"


def job_definition(image: str, limits: Any, *, attempt_grace_s: float) -> dict[str, Any]:
    """The ``register_job_definition`` arguments (all but the name) for a process with ``limits``
    (a ``ResourceLimits``); see the module docstring. Limits it cannot express are refused
    earlier (:meth:`_AwsBatch.limit_refusals`)."""
    cpus = limits.cpus if limits.cpus is not None else DEFAULT_CPUS
    memory = limits.memory_mb if limits.memory_mb is not None else DEFAULT_MEMORY_MB
    requirements = [{"type": "VCPU", "value": f"{cpus:g}"}, {"type": "MEMORY", "value": str(int(memory))}]
    if isinstance(limits.gpus, int) and limits.gpus > 0:
        requirements.append({"type": "GPU", "value": str(limits.gpus)})
    properties: dict[str, Any] = {"image": image, "command": bootstrap_command(), "resourceRequirements": requirements}
    if limits.shm_mb is not None:
        properties["linuxParameters"] = {"sharedMemorySize": int(limits.shm_mb)}
    definition: dict[str, Any] = {"type": "container", "containerProperties": properties,
                                  "retryStrategy": {"attempts": 1}}
    if limits.time_limit_s is not None:
        attempt = max(MIN_ATTEMPT_S, math.ceil(limits.time_limit_s + attempt_grace_s))
        definition["timeout"] = {"attemptDurationSeconds": attempt}
    return definition


def _applied(limits: Any, definition: Mapping[str, Any] | None) -> dict[str, str]:
    """How each limit is applied (``ProcessResult.limits_applied``)."""
    found: dict[str, str] = {}
    if limits.time_limit_s is not None:
        attempt = (definition or {}).get("timeout", {}).get("attemptDurationSeconds")
        found["time_limit_s"] = (f"{limits.time_limit_s:g} s wall clock from the program's start: its processes are "
                                 "killed by the job's bootstrap" + (f"; Batch's attemptDurationSeconds {attempt} s "
                                                                    "is the backstop" if attempt else ""))
    if limits.memory_mb is not None:
        found["memory_mb"] = f"{limits.memory_mb} MiB (Batch resourceRequirements MEMORY: the container's hard limit)"
    if limits.cpus is not None:
        found["cpus"] = f"{limits.cpus:g} vCPUs (Batch resourceRequirements VCPU)"
    if limits.gpus is not None:
        found["gpus"] = f"{limits.gpus} (Batch resourceRequirements GPU)"
    if limits.shm_mb is not None:
        found["shm_mb"] = f"{limits.shm_mb} MiB /dev/shm (Batch linuxParameters.sharedMemorySize)"
    return found


def _boto3() -> Any:
    try:
        import boto3  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise UsageError("the aws-batch executor needs boto3: pip install 'aibench-plugins[aws]'") from None
    return boto3


def _pack(folder: Path) -> bytes:
    """``folder``'s content as a ``tar.gz`` (names relative to it; links kept as links)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
            archive.add(entry, arcname=entry.name)
    return buffer.getvalue()


def _digests(folder: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of each regular file under ``folder`` (links not followed)."""
    found = {}
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if path.is_file() and not path.is_symlink():
            found[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _unpack(data: bytes, folder: Path, staged: Mapping[str, str]) -> None:
    """Bring the job's changes to ``folder``: the archive holds the folder as the job left it,
    ``staged`` the files it was given (:func:`_digests` when staged). A file the job left as it was
    given is not written back, a file it removed is removed here (unless changed here meanwhile),
    every other entry is extracted over the folder. Two jobs of one step sharing a writable folder
    (ingestion and program) thus each bring their own changes, not their stale copy of the other's.
    Extraction uses tarfile's ``data`` filter: the archive was made in the job, next to a program we
    do not trust (no absolute paths, no links leaving the folder, no devices)."""
    folder.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive:
            name = member.name[2:] if member.name.startswith("./") else member.name
            seen.add(name)
            if member.isfile() and name in staged:
                content = archive.extractfile(member)
                if content is not None and hashlib.sha256(content.read()).hexdigest() == staged[name]:
                    continue
            archive.extract(member, folder, filter="data")
    for name, digest in staged.items():
        path = folder / name
        if name not in seen and path.is_file() and not path.is_symlink() \
                and hashlib.sha256(path.read_bytes()).hexdigest() == digest:
            path.unlink()


class _AwsBatch:
    """The executor (see the module docstring); made by :class:`AwsBatchExecutorPlugin`."""

    name = "aws-batch"

    def __init__(self, options: Mapping[str, Any]) -> None:
        for required in ("job_queue", "bucket"):
            if not options.get(required):
                raise UsageError(f"the aws-batch executor needs the option {required} (--executor-param "
                                 f"{required}=..., or the manifest's executor params): the organiser's to give")
        if not options.get("image") and not options.get("job_definition"):
            raise UsageError("the aws-batch executor needs an image (e.g. an ECR image pinned by digest, "
                             "repo@sha256:...) or an existing job_definition: the organiser's to give")
        boto3 = _boto3()
        from botocore.config import Config  # type: ignore[import-untyped,unused-ignore]

        self.image = str(options.get("image") or "")
        self.job_queue, self.bucket = str(options["job_queue"]), str(options["bucket"])
        self.prefix = str(options.get("prefix") or "aibench").strip("/")
        self.existing = str(options.get("job_definition") or "")
        self.endpoint_url = str(options.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL") or "") or None
        self.poll_interval_s = float(options.get("poll_interval_s") or 5.0)
        self.keep_staging = bool(options.get("keep_staging"))
        grace = options.get("attempt_grace_s")
        self.attempt_grace_s = float(grace) if grace is not None else 300.0
        self.url_expiry_s = int(options.get("url_expiry_s") or 43200)
        self.queue_timeout_s = float(options.get("queue_timeout_s") or 3600.0)
        session = boto3.session.Session(region_name=options.get("region") or None)
        self.region = session.region_name
        config = Config(signature_version="s3v4", retries={"mode": "standard"})
        self.s3 = session.client("s3", endpoint_url=self.endpoint_url, config=config)
        self.batch = session.client("batch", endpoint_url=self.endpoint_url)
        self.run_label = ""
        self.run_key = f"run-{uuid.uuid4().hex[:12]}"
        self._definitions: dict[str, str] = {}
        self._check()

    def _check(self) -> None:
        """Before any run: the queue exists, and so does ``job_definition`` when given (its timeout
        read); boto3's errors (no credentials, no endpoint) become a :class:`UsageError`."""
        try:
            queues = self.batch.describe_job_queues(jobQueues=[self.job_queue]).get("jobQueues", [])
            if self.existing:
                self._definition(None)
        except UsageError:
            raise
        except Exception as error:  # botocore's NoCredentialsError, EndpointConnectionError, ClientError
            raise UsageError(f"the aws-batch executor cannot reach AWS Batch ({type(error).__name__}: {error}); "
                             "credentials come from the environment, the shared files or an instance role, "
                             "the endpoint from the option endpoint_url or AWS_ENDPOINT_URL") from None
        if not queues:
            raise UsageError(f"the aws-batch executor found no job queue {self.job_queue!r} (option job_queue) in "
                             f"region {self.region}: create it, or fix the name: the organiser's to fix")

    def describe(self) -> dict[str, Any]:
        """What the run record stores: where the jobs ran and the image; no credential."""
        return {"executor": self.name, "image": self.image or None,
                "image_pinned": "@sha256:" in self.image,
                "image_id": self.image.partition("@")[2] if "@sha256:" in self.image else None,
                "job_queue": self.job_queue,
                "job_definition": self.existing or None, "bucket": self.bucket, "prefix": self.prefix,
                "region": self.region, "endpoint_url": self.endpoint_url}

    def label(self, run_id: str) -> None:
        """Tag the jobs with ``run_id`` and stage under it."""
        self.run_label = run_id
        self.run_key = f"{_slug(run_id)}-{uuid.uuid4().hex[:8]}"

    def limit_refusals(self, limits: Any) -> list[str]:
        from codalab_worker_compat._executor import limit_refusal

        found = []
        if limits.pids is not None:
            found.append(limit_refusal(self.name, "pids", limits.pids, "AWS Batch has no process-count limit "
                                       "(ulimit nproc counts per user, across containers)",
                                       "use the docker executor, or unset it"))
        if limits.gpus is not None and not (isinstance(limits.gpus, int) and limits.gpus >= 0):
            found.append(limit_refusal(self.name, "gpus", limits.gpus, "AWS Batch takes a number of GPUs, not "
                                       "'all' or device ids", "give a number of GPUs"))
        return found

    def close(self) -> None:
        """Nothing held but HTTP connections; running jobs are not affected."""

    def _definition(self, limits: Any) -> tuple[str, dict[str, Any] | None]:
        """The job definition for ``limits``: registered or reused (its content hash in its name)."""
        if self.existing:
            if self.existing not in self._definitions:  # its timeout, to tell Batch's timeouts apart
                found = self.batch.describe_job_definitions(jobDefinitions=[self.existing]).get("jobDefinitions", [])
                if not found:
                    found = [d for d in self.batch.describe_job_definitions(
                        jobDefinitionName=self.existing, status="ACTIVE").get("jobDefinitions", [])]
                if not found:
                    raise UsageError(f"the job definition {self.existing!r} (option job_definition) is not on AWS "
                                     "Batch: register it, or leave the option out: the organiser's to fix")
                latest = max(found, key=lambda d: int(d.get("revision", 0)))
                self._definitions[self.existing] = json.dumps(latest.get("timeout") or {})
            return self.existing, {"timeout": json.loads(self._definitions[self.existing])}
        content = job_definition(self.image, limits, attempt_grace_s=self.attempt_grace_s)
        digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
        name = f"aibench-{digest}"
        if name not in self._definitions:
            active = self.batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")
            found = [d for d in active.get("jobDefinitions", []) if d.get("status") == "ACTIVE"]
            if found:
                self._definitions[name] = str(max(found, key=lambda d: int(d["revision"]))["jobDefinitionArn"])
            else:
                self._definitions[name] = str(self.batch.register_job_definition(
                    jobDefinitionName=name, **content)["jobDefinitionArn"])
        return self._definitions[name], content

    def _url(self, method: str, key: str) -> str:
        return str(self.s3.generate_presigned_url(method, Params={"Bucket": self.bucket, "Key": key},
                                                  ExpiresIn=self.url_expiry_s))

    def start(self, spec: Any) -> Any:
        """Stage, register and submit (module docstring); a process that cannot start comes back
        finished with reason ``error`` and the message appended to ``spec.stderr``."""
        problem = None if spec.argv else "cannot start: the command is empty"
        for target, host in spec.mounts.items():
            if not str(target).startswith("/") or os.path.normpath(target) != target or target == "/":
                problem = problem or f"cannot start: mount point {target!r} is not a normalised absolute path"
            elif not Path(host).is_dir():
                problem = problem or f"cannot start: the host folder {host} to mount at {target} does not exist"
        if problem is not None:
            return not_started(spec, problem, "aws-batch")
        key = f"{self.prefix}/{self.run_key}/{_slug(spec.name)}-{uuid.uuid4().hex[:8]}"
        try:
            definition, content = self._definition(spec.limits)
            task: dict[str, Any] = {"argv": list(spec.argv), "cwd": spec.cwd, "env": dict(spec.env),
                                    "time_limit_s": spec.limits.time_limit_s, "mounts": []}
            outputs: list[tuple[str, Path, dict[str, str]]] = []
            for index, (target, host) in enumerate(sorted(spec.mounts.items())):
                source = f"{key}/in/{index}.tar.gz"
                self.s3.put_object(Bucket=self.bucket, Key=source, Body=_pack(Path(host)))
                writable = target not in spec.read_only and target != "/app/data"
                mount = {"path": target, "read_only": not writable, "get": self._url("get_object", source)}
                if writable:
                    output = f"{key}/out/{index}.tar.gz"
                    mount["put"] = self._url("put_object", output)
                    outputs.append((output, Path(host), _digests(Path(host))))
                task["mounts"].append(mount)
            for name in ("stdout", "stderr", "result"):
                task[name] = self._url("put_object", f"{key}/{name}")
            self.s3.put_object(Bucket=self.bucket, Key=f"{key}/task.json", Body=json.dumps(task).encode())
            submit: dict[str, Any] = {
                "jobName": f"aibench-{_slug(spec.name)}-{uuid.uuid4().hex[:12]}", "jobQueue": self.job_queue,
                "jobDefinition": definition,
                "containerOverrides": {"environment": [{"name": "AIBENCH_TASK_URL",
                                                        "value": self._url("get_object", f"{key}/task.json")}]},
                "tags": {"aibench.run": self.run_label or self.run_key, "aibench.step": _slug(spec.name)},
            }
            if self.existing:  # its own image and timeout; the bootstrap and the limits given here
                requirements = job_definition(self.image or "x", spec.limits, attempt_grace_s=self.attempt_grace_s)
                submit["containerOverrides"].update(
                    command=bootstrap_command(),
                    resourceRequirements=requirements["containerProperties"]["resourceRequirements"])
                if "timeout" in requirements:
                    submit["timeout"] = requirements["timeout"]
                    content = requirements
            job = str(self.batch.submit_job(**submit)["jobId"])
        except Exception as error:  # botocore's ClientError, connection errors: the service refused
            self._clean(key)
            return not_started(spec, f"infrastructure error: AWS Batch or S3 refused the job "
                                                 f"({type(error).__name__}: {error})", "aws-batch")
        return _BatchJob(self, spec, job, key, outputs, _applied(spec.limits, content),
                         (content or {}).get("timeout", {}).get("attemptDurationSeconds"))

    def _clean(self, key: str) -> None:
        """Delete the staged objects under ``key`` (unless ``keep_staging``); failures are ignored."""
        if self.keep_staging:
            return
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=key + "/")
            for page in pages:
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
        except Exception:  # botocore's errors: staging left behind is not the run's failure
            pass


class _BatchJob:
    """A submitted job; see ``RunningProcess``. Not safe to share between threads."""

    def __init__(self, executor: _AwsBatch, spec: Any, job: str, key: str,
                 outputs: list[tuple[str, Path, dict[str, str]]],
                 applied: dict[str, str], attempt_s: int | None) -> None:
        self.executor, self.spec, self.job, self.key, self.outputs = executor, spec, job, key, outputs
        self.applied, self.attempt_s = applied, attempt_s
        self.started = time.monotonic()
        self.result: Any = None
        self.killed = False
        self.ran = False

    def _describe(self) -> dict[str, Any] | None:
        jobs = self.executor.batch.describe_jobs(jobs=[self.job]).get("jobs", [])
        return dict(jobs[0]) if jobs else None

    def wait(self, timeout: float | None = None) -> Any:
        """The result once the job has ended; ``None`` if it still runs after ``timeout`` seconds
        *of running*: the time the job spends queued on Batch (``SUBMITTED`` to ``STARTING``: the
        scheduler, an instance starting, the image pull) does not count, as on the platforms,
        whose time limits count the container's run. A caller waiting at least the process's time
        limit (the runner waits the step's limit) gets :data:`STAGE_GRACE_S` more, for the job to
        download its inputs first and upload its outputs after the bootstrap stopped the program
        at the limit, so that the result says ``timeout`` with its logs rather than being killed.
        ``describe_jobs`` failing :data:`_DESCRIBE_TRIES` times in a row ends the job (terminated)
        with an infrastructure error; once is retried at the next poll (throttling). A job still
        queued ``queue_timeout_s`` after its submission is terminated: an infrastructure error
        (no compute environment of the queue has the resources asked, or none is enabled)."""
        return self._poll(timeout, queued_counts=False)

    def _poll(self, timeout: float | None, *, queued_counts: bool) -> Any:
        """:meth:`wait`; with ``queued_counts`` every second counts (wall clock, no grace)."""
        if self.result is not None:
            return self.result
        limit = self.spec.limits.time_limit_s
        allowed = None if timeout is None else max(timeout, 0.0) + (
            STAGE_GRACE_S if limit is not None and timeout > 0 and timeout >= limit and not queued_counts else 0.0)
        last = time.monotonic()
        counted = 0.0
        failures = 0
        while True:
            try:
                found = self._describe()
                failures = 0
            except Exception as error:  # botocore's errors: retried, then said, not raised
                failures += 1
                if failures >= _DESCRIBE_TRIES:
                    try:
                        self.executor.batch.terminate_job(jobId=self.job, reason="aibench lost track of the job")
                    except Exception:  # botocore's errors: the service is unreachable
                        pass
                    return self._finish(None, f"infrastructure error: describe_jobs failed {failures} times for "
                                              f"Batch job {self.job} (last: {type(error).__name__}: {error}); "
                                              "the job was terminated")
                found = {"status": "UNKNOWN"}
            if found is None or found.get("status") in TERMINAL:
                return self._finish(found, "")
            now = time.monotonic()
            status = str(found.get("status"))
            self.ran = self.ran or status == "RUNNING"
            if not self.ran and status in QUEUED and now - self.started > self.executor.queue_timeout_s:
                try:
                    self.executor.batch.terminate_job(jobId=self.job, reason="aibench: queued too long")
                except Exception:  # botocore's errors: said below all the same
                    pass
                return self._finish(None, f"infrastructure error: the Batch job {self.job} was still {status} "
                                          f"{self.executor.queue_timeout_s:g} s after its submission (option "
                                          "queue_timeout_s) and was terminated: does a compute environment of "
                                          f"the queue {self.executor.job_queue!r} have the vCPUs, memory and GPUs "
                                          "asked, and is it enabled?")
            if queued_counts or found.get("status") == "RUNNING":
                counted += now - last
            last = now
            if allowed is not None and counted >= allowed:
                return None
            pause = self.executor.poll_interval_s
            if allowed is not None and (queued_counts or found.get("status") == "RUNNING"):
                pause = min(pause, max(allowed - counted, 0.0))
            if allowed is not None and allowed <= 0:
                return None
            time.sleep(pause)

    def kill(self) -> Any:
        """``terminate_job``, then wait for it to stop; a job that already ended keeps its result."""
        if self.result is not None or self.wait(0) is not None:
            return self.result
        self.killed = True
        try:
            self.executor.batch.terminate_job(jobId=self.job, reason="stopped by the caller (aibench)")
        except Exception:  # botocore's errors: it ended meanwhile
            pass
        if self._poll(_STOP_WAIT_S, queued_counts=True) is None:  # Batch did not stop it in time: said, not waited for
            from codalab_worker_compat import ProcessResult

            self.executor._clean(self.key)
            self.result = ProcessResult(self.spec.name, None, time.monotonic() - self.started, "killed", 9,
                                        f"stopped by the caller: terminate_job sent to Batch job {self.job}, "
                                        f"which had not stopped {_STOP_WAIT_S:g} s later.", "aws-batch",
                                        dict(self.applied))
        return self.result

    def _get(self, name: str) -> bytes | None:
        try:
            body = self.executor.s3.get_object(Bucket=self.executor.bucket, Key=f"{self.key}/{name}")["Body"]
            return bytes(body.read())
        except Exception:  # NoSuchKey: the bootstrap did not upload it
            return None

    def _finish(self, job: Mapping[str, Any] | None, problem: str) -> Any:
        from codalab_worker_compat import ProcessResult
        from codalab_worker_compat._logs import CappedLog

        spec = self.spec
        record = self._get("result") if not problem else None
        result: dict[str, Any] = json.loads(record) if record else {}
        for name, path in (("stdout", spec.stdout), ("stderr", spec.stderr)):
            data = self._get(name) if not problem else None
            log = CappedLog(Path(path))
            try:
                log.write(data or b"")
            finally:
                log.close()
        notes: list[str] = []
        for output, host, staged in self.outputs if result else []:
            data = self._get(output[len(self.key) + 1:])
            if data is None:
                notes.append(f"the job uploaded no content for {host}.")
                continue
            try:
                _unpack(data, host, staged)
            except (tarfile.TarError, OSError) as error:
                notes.append(f"the job's output for {host} was refused ({error}).")
        self.executor._clean(self.key)
        elapsed = float(result.get("elapsed_s") or (time.monotonic() - self.started))
        status = "" if job is None else str(job.get("status"))
        said = " ".join(str(x) for x in [(job or {}).get("statusReason"),
                                         *[a.get("statusReason") for a in (job or {}).get("attempts", [])],
                                         *[(a.get("container") or {}).get("reason")
                                           for a in (job or {}).get("attempts", [])]] if x)
        if result:
            reason = str(result.get("reason") or "exited")
            message = " ".join([str(result.get("message") or ""), *notes]).strip()
            code = result.get("exit_code")
            sig = result.get("signal")
            if reason == "exited" and "OutOfMemoryError" in said:
                reason = "oom"
            peak = result.get("peak_memory_mb")
            self.result = ProcessResult(
                spec.name, code if isinstance(code, int) else None, elapsed, reason,  # type: ignore[arg-type]
                sig if isinstance(sig, int) else None, message, "aws-batch", dict(self.applied),
                float(peak) if isinstance(peak, (int, float)) else None,
                "ru_maxrss of the program's processes, read by the job's bootstrap inside the job"
                if peak is not None else "the job reported no memory figure")
            return self.result
        attempts = (job or {}).get("attempts") or []
        ran_s = None
        if attempts and attempts[-1].get("startedAt") and attempts[-1].get("stoppedAt"):
            ran_s = (int(attempts[-1]["stoppedAt"]) - int(attempts[-1]["startedAt"])) / 1000
        if self.killed:
            self.result = ProcessResult(spec.name, None, ran_s or elapsed, "killed", 9,
                                        f"stopped by the caller: Batch job {self.job} terminated.", "aws-batch",
                                        dict(self.applied))
        elif status == "FAILED" and ("attempt duration" in said.lower() or "attemptDurationSeconds" in said
                                   or (self.attempt_s is not None and ran_s is not None and ran_s >= self.attempt_s)):
            self.result = ProcessResult(spec.name, None, ran_s or elapsed, "timeout", 9,
                                        f"Batch's attemptDurationSeconds ({self.attempt_s} s) was exceeded: the "
                                        f"job (Batch job {self.job}) was stopped before it reported.", "aws-batch",
                                        dict(self.applied))
        elif "OutOfMemoryError" in said:
            self.result = ProcessResult(spec.name, None, ran_s or elapsed, "oom", 9,
                                        f"out of memory: Batch says {said}", "aws-batch", dict(self.applied))
        else:
            what = problem or (f"the Batch job {self.job} is unknown to AWS Batch (deleted, or older than Batch keeps "
                               "jobs) and left no results" if job is None else
                               f"the Batch job {self.job} ended {status} without reporting its result"
                               + (f" (Batch says: {said})" if said else "")
                               + ": its bootstrap did not run to its end (image without python3, no route to S3, "
                                 "expired URLs?)")
            message = what if what.startswith("infrastructure error") else f"infrastructure error: {what}"
            with open(spec.stderr, "a", encoding="utf-8") as err:
                err.write(message + "\n")
            self.result = ProcessResult(spec.name, None, elapsed, "error", None, message + ".", "aws-batch",
                                        dict(self.applied))
        return self.result


class AwsBatchExecutorPlugin:
    """``aws-batch``: each process as an AWS Batch job, inputs and outputs through S3."""

    info = ExecutorInfo(
        id="aws-batch",
        options=("image", "job_queue", "job_definition", "bucket", "prefix", "region", "endpoint_url",
                 "poll_interval_s", "keep_staging", "attempt_grace_s", "url_expiry_s", "queue_timeout_s"),
        description="Each process as one AWS Batch job (resources, GPU count and timeout in its job definition, "
                    "one attempt); inputs and outputs through S3 with presigned URLs, so the job holds no "
                    "credentials. Needs boto3: pip install 'aibench-plugins[aws]'.")

    def create(self, options: Mapping[str, Any]) -> _AwsBatch:
        """A ready executor; see the module docstring for the options. A missing option is a
        :class:`~aibench_plugins.UsageError`; credentials come from boto3's default chain."""
        return _AwsBatch(options)
