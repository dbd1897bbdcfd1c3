"""One Ray task per submission: what runs on a node of the cluster, and what it declares.

The task (:func:`run_one`) runs :func:`aibench_plugins.run.runner.run_bundle` with the ``local``
or ``docker`` executor **on the node Ray placed it on**; the executor's own sandbox, limits and
time limit apply there as in ``aibench run`` (Ray places, the executor isolates). The run is
recorded in a ledger of the task's own in the node's temporary folder (SQLite's WAL needs its
writers on one host, never over NFS), and the task returns that record: the driver imports it
into its ledger as the task ends (:meth:`aibench_plugins.run.ledger.Ledger.import_run`). The
run's folder goes to ``work_dir``, which the driver chooses (a shared file system for a cluster
of several machines, or a node-local path whose records then name that node as ``host``).

**Retries, only for infrastructure failures.** A submission that crashes, hangs or scores badly
is a normal result: ``run_one`` returns its ``failed`` record and never raises for it, so Ray has
nothing to retry. Ray's ``max_retries`` (:func:`remote_options`) then only covers what Ray calls
system failures: the worker process or the node died under the task. ``retry_exceptions`` is
``False``, so an exception (an error of aibench itself) is not retried either: the driver records
it. A retried task starts the submission again from nothing, in a new folder.

**Resources.** ``num_cpus``, ``memory`` (bytes) and ``num_gpus`` are Ray's accounting, what the
task reserves on its node; they are not enforced limits (Ray's ``memory`` is not a cgroup). The
enforced limits are the manifest's, applied by the executor. With GPUs reserved and the docker
executor, the run gets exactly the devices Ray gave the task (``ray.get_gpu_ids()``).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..run.ledger import RunRecord

__all__ = ["TaskOutcome", "TaskResources", "TaskSpec", "remote_options", "run_one"]


@dataclass(frozen=True)
class TaskResources:
    """What one task reserves in Ray: CPUs (fractions allowed), memory in MiB, GPUs; and how
    many times Ray starts it again after a system failure (a dead worker or node)."""

    cpus: float = 1.0
    memory_mb: int | None = None
    gpus: float = 0.0
    max_retries: int = 2

    def to_json(self) -> dict[str, Any]:
        return {"cpus": self.cpus, "memory_mb": self.memory_mb, "gpus": self.gpus, "max_retries": self.max_retries}


@dataclass(frozen=True)
class TaskSpec:
    """Everything a task needs, picklable: the bundle and submission paths (as every node sees
    them), the start of the run's folder name (``work_dir``: each attempt adds ``-<8 hex>``, so an
    attempt Ray starts again never meets the folder of the one that died), whose it is, the
    re-score it belongs to, and ``run_bundle``'s options."""

    bundle: str
    submission: str
    participant: str
    rescore_id: str
    work_dir: str
    phase: int | None = None
    platform: str | None = None
    executor: str = "local"
    image: str | None = None
    network: bool = False
    isolation: str = "auto"
    executor_options: Mapping[str, Any] = field(default_factory=dict)
    use_gpu_ids: bool = False


@dataclass(frozen=True)
class TaskOutcome:
    """What a task gives back: the run's ``record`` (``None`` when aibench refused the run before
    recording it: ``error`` says why), where and when it ran (``node``; ``started``/``ended``: wall
    clock, seconds since the epoch, on that node), and the seconds ``run_bundle`` itself took."""

    record: RunRecord | None
    error: str | None
    node: str
    started: float
    ended: float
    run_s: float
    cpu_s: float = 0.0


def remote_options(resources: TaskResources) -> dict[str, Any]:
    """The options of the Ray task for ``resources`` (``.options(**...)``)."""
    options: dict[str, Any] = {"num_cpus": resources.cpus, "num_gpus": resources.gpus,
                               "max_retries": resources.max_retries, "retry_exceptions": False}
    if resources.memory_mb:
        options["memory"] = resources.memory_mb * 1024 * 1024
    return options


def run_one(spec: TaskSpec) -> TaskOutcome:
    """Run one submission (the Ray task's body; also callable directly, without Ray). Never
    raises for the submission's own failure, nor for an aibench error that refused the run:
    both are outcomes (module docstring)."""
    from codalab_worker_compat import BundleError, DockerExecutorError, ResourceLimits

    from ..core.errors import AibenchError, RunError
    from ..run.ledger import Ledger
    from ..run.runner import run_bundle

    started, clock, cpu = time.time(), time.perf_counter(), _cpu_s()
    scratch = tempfile.mkdtemp(prefix="aibench-rescore-")
    ledger_path = os.path.join(scratch, "ledger.sqlite3")
    error: str | None = None
    limits = None
    if spec.use_gpu_ids:
        import ray

        limits = ResourceLimits(gpus=tuple(str(i) for i in ray.get_gpu_ids()))
    try:
        try:
            run_bundle(spec.bundle, spec.submission, phase=spec.phase, platform=spec.platform,
                       ledger_path=ledger_path, work_dir=f"{spec.work_dir}-{uuid.uuid4().hex[:8]}", isolation=spec.isolation,  # type: ignore[arg-type]
                       executor=spec.executor, image=spec.image, network=spec.network, limits=limits,
                       executor_options=spec.executor_options or None, participant=spec.participant,
                       rescore_id=spec.rescore_id)
        except RunError as failure:  # recorded as failed in the task's ledger
            error = failure.message
        except (AibenchError, BundleError, DockerExecutorError) as failure:  # refused: maybe nothing recorded
            error = f"{type(failure).__name__}: {failure}"
        record = None
        if os.path.exists(ledger_path):
            with Ledger.open(ledger_path) as ledger:
                runs = ledger.runs(limit=1)
            record = runs[0] if runs else None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return TaskOutcome(record, error if record is None or record.status != "finished" else None,
                       socket.gethostname(), started, time.time(), time.perf_counter() - clock, _cpu_s() - cpu)


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and of the children it waited for."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
