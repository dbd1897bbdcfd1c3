"""The driver of ``aibench rescore``: the stored submissions fanned out on Ray, one task per
submission, admitted by fair share, recorded in the ledger as each ends, resumable.

The driver is the one process that writes the ledger: each task records its run in a ledger of
its own on its node and returns the record (:mod:`aibench_plugins.rescore.tasks`); the driver
imports it as the task ends (:meth:`aibench_plugins.run.ledger.Ledger.import_run`), so a cluster
of several machines never shares a SQLite file over the network, and a driver killed half-way
has recorded every run that ended before. Starting it again with the same bundle, manifest,
executor and options (the same re-score id, :mod:`aibench_plugins.rescore.resume`) runs only
what is not done. What the driver itself records (never a submission's own outcome):

* ``interrupted``: the task was lost to the infrastructure past Ray's retries (a worker or node
  died, the task was cancelled) or the driver was stopped (Ctrl-C): run again on resume;
* ``failed``: aibench refused the run before recording it (``LimitsRefused``, a bundle error),
  with the reason: the same refusal would come again, so it is not run again.

The driver does no placement: Ray does (:mod:`aibench_plugins.rescore.fairshare` says why the
driver still decides *when* a task is given to Ray). Its own work per task is small (a spec
out, a record in); that is what the per-task overhead in ``bench/bench_rescore_ray.py`` measures.
"""

from __future__ import annotations

import math
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import InvalidValueError, UsageError
from .fairshare import FairShare
from .resume import completed_runs, rescore_id
from .submissions import Found, Submission, safe_name
from .summary import Change, changes, previous_runs
from .tasks import TaskOutcome, TaskResources, TaskSpec, remote_options, run_one

if TYPE_CHECKING:
    from ..run.ledger import Ledger, RunRecord

__all__ = ["RAY_MISSING", "RescoreOptions", "RescoreResult", "bundle_with_manifest", "ray_cluster", "run_rescore"]

RAY_MISSING = ("aibench rescore runs on Ray, which is not installed here: pip install 'aibench-plugins[ray]' "
               "(on every machine of the cluster)")


@dataclass(frozen=True)
class RescoreOptions:
    """How to run every submission: ``run_bundle``'s options (phase, platform, executor and its
    options), what each Ray task reserves, the cap per participant (``None``: none), the re-score's
    ``name`` (its id; default: :func:`aibench_plugins.rescore.resume.rescore_id`) and where the
    runs' folders go (``work_root``; default ``<ledger's folder>/rescore/<id>/runs``; for a cluster
    of several machines, a path every node can write, or each node keeps its own)."""

    phase: int | None = None
    platform: str | None = None
    executor: str = "local"
    image: str | None = None
    network: bool = False
    isolation: str = "auto"
    executor_options: Mapping[str, Any] = field(default_factory=dict)
    resources: TaskResources | None = None
    per_participant: int | None = 2
    name: str | None = None
    work_root: Path | None = None

    def identity(self) -> dict[str, Any]:
        """What the re-score id depends on besides the bundle: what changes a run's outcome."""
        return {"phase": self.phase, "platform": self.platform, "image": self.image, "network": self.network,
                "isolation": self.isolation, "executor_options": dict(self.executor_options)}


@dataclass
class RescoreResult:
    """What a re-score did: its id, every submission, the runs recorded now (``ran``), those
    already done by an earlier start (``resumed``), what was left out, the changes against the
    previous scores, and how long it took."""

    rescore_id: str
    bundle: Path
    submissions: list[Submission]
    ran: list[RunRecord]
    resumed: list[RunRecord]
    left_out: list[str]
    changes: list[Change]
    elapsed_s: float
    resources: TaskResources
    ledger: Path
    stopped: bool = False

    @property
    def counts(self) -> dict[str, int]:
        """How many submissions' runs of this re-score ended in each status."""
        counts: dict[str, int] = {}
        for change in self.changes:
            status = change.new.status if change.new is not None else "not run"
            counts[status] = counts.get(status, 0) + 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {"rescore_version": 1, "rescore_id": self.rescore_id, "bundle": str(self.bundle),
                "ledger": str(self.ledger), "submissions": len(self.submissions), "ran": len(self.ran),
                "resumed": len(self.resumed), "counts": self.counts, "left_out": self.left_out,
                "elapsed_s": round(self.elapsed_s, 3), "resources": self.resources.to_json(),
                "stopped": self.stopped, "changes": [c.to_json() for c in self.changes]}


def bundle_with_manifest(bundle: Path, manifest: Path, home: Path) -> Path:
    """A copy of the bundle folder with ``manifest`` as its ``aibench.json``, under
    ``home/rescore/bundles/<hash of both>/`` (made once; the same again on resume)."""
    from ..run.hashing import sha256_of_path

    if not bundle.is_dir():
        raise InvalidValueError(f"{bundle}: --manifest needs the bundle as a folder; unzip it first")
    if not manifest.is_file():
        raise InvalidValueError(f"{manifest}: no such manifest file (--manifest takes an aibench.json)")
    digest = rescore_id(sha256_of_path(bundle), sha256_of_path(manifest), "", {})
    target = home / "rescore" / "bundles" / digest / bundle.name
    if not target.is_dir():
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
        shutil.copytree(bundle, partial, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copyfile(manifest, partial / "aibench.json")
        try:
            partial.rename(target)
        except OSError:  # a concurrent start made it first
            shutil.rmtree(partial, ignore_errors=True)
    return target


@contextmanager
def ray_cluster(address: str | None, workers: int | None, gpus: int | None = None) -> Iterator[Any]:
    """Ray, connected: the cluster at ``address`` (``auto``, ``HOST:PORT`` or ``ray://...``), else
    a new local one of ``workers`` CPUs (default: this machine's) and ``gpus`` GPUs (default: those
    Ray finds), its node address 127.0.0.1, without dashboard or usage statistics, stopped at the
    end. Ray's token authentication stays as Ray sets it (on, by default, unless ``RAY_AUTH_MODE``
    says otherwise): Ray's own servers listen on every interface whatever the node address (Ray
    2.60 has no option to bind them to loopback), so without a token anyone who reaches this
    machine could run code on the cluster while it is up. When this process is already connected (a test, a notebook), that
    connection is used and left open.

    :raises UsageError: when Ray is not installed.
    """
    try:
        import ray
    except ImportError:
        raise UsageError(RAY_MISSING) from None
    import logging

    if ray.is_initialized():
        yield ray
        return
    saved = {name: os.environ.get(name) for name in ("RAY_AUTH_MODE", "RAY_USAGE_STATS_ENABLED")}
    if address is None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(num_cpus=workers, num_gpus=gpus, include_dashboard=False, _node_ip_address="127.0.0.1",
                 logging_level=logging.WARNING, log_to_driver=False)
    else:
        if workers is not None:
            raise UsageError("--workers sizes a local Ray cluster; with --address the cluster's own size applies")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def default_resources(limits: Any, given: TaskResources | None) -> TaskResources:
    """What each task reserves: ``given``, else from the manifest's limits (``cpus``, ``memory_mb``,
    a count of ``gpus``), else 1 CPU."""
    if given is not None:
        return given
    gpus = limits.gpus if isinstance(limits.gpus, int) and limits.gpus > 0 else (
        len(limits.gpus) if isinstance(limits.gpus, tuple) else 0)
    return TaskResources(cpus=float(limits.cpus) if limits.cpus else 1.0, memory_mb=limits.memory_mb,
                         gpus=float(gpus))


def check_feasible(ray: Any, resources: TaskResources) -> None:
    """Refuse a task that the cluster could never hold: Ray would keep it pending forever.

    :raises InvalidValueError: naming what one task asks for and what the cluster has.
    """
    total = ray.cluster_resources()
    asked = {"CPU": resources.cpus, "GPU": resources.gpus,
             "memory": float((resources.memory_mb or 0) * 1024 * 1024)}
    short = [name for name, value in asked.items() if value > 0 and float(total.get(name, 0)) + 1e-9 < value]
    if short:
        has = ", ".join(f"{name} {_amount(name, float(total.get(name, 0)))}" for name in short)
        wants = ", ".join(f"{name} {_amount(name, asked[name])}" for name in short)
        raise InvalidValueError(f"each task asks for {wants} but the Ray cluster has {has} in all: no task could "
                                "ever start. Ask for less (--cpus, --memory-mb, --gpus; the defaults come from the "
                                "manifest's limits) or join a cluster that has it (--address)")


def _amount(name: str, value: float) -> str:
    return f"{value / 1024 / 1024:.0f} MiB" if name == "memory" else f"{value:g}"


def _capacity(ray: Any, resources: TaskResources) -> int:
    """How many tasks the cluster can run at once: its CPUs (GPUs, memory) over one task's, at least 1."""
    total = ray.cluster_resources()
    slots = math.floor(float(total.get("CPU", 0)) / resources.cpus + 1e-9) if resources.cpus > 0 else 10 ** 6
    if resources.gpus > 0:
        slots = min(slots, math.floor(float(total.get("GPU", 0)) / resources.gpus + 1e-9))
    if resources.memory_mb:
        slots = min(slots, math.floor(float(total.get("memory", 0)) / (resources.memory_mb * 1024 * 1024) + 1e-9))
    return max(1, slots)


def run_rescore(bundle: str | os.PathLike[str], found: Found, *, ledger_path: str | os.PathLike[str] | None = None,
                options: RescoreOptions = RescoreOptions(), ray: Any = None,
                on_outcome: Callable[[Submission, RunRecord], None] | None = None,
                on_start: Callable[[int, int], None] | None = None) -> RescoreResult:
    """Re-score ``found``'s submissions through ``bundle`` on the Ray connection ``ray`` (the
    ``ray`` module, connected: :func:`ray_cluster`). ``on_start(to_run, already_done)`` is called
    once before the first task, ``on_outcome`` after each run is recorded (a progress bar).

    :raises ManifestError: the bundle's manifest has problems (nothing ran).
    :raises codalab_worker_compat.BundleError: the bundle cannot be run (nothing ran).
    """
    from ..run.hashing import sha256_of_path
    from ..run.ledger import Ledger
    from ..run.runner import _prepare

    clock = time.perf_counter()
    if ray is None:
        try:
            import ray
        except ImportError:
            raise UsageError(RAY_MISSING) from None
    if not ray.is_initialized():
        raise UsageError("run_rescore() needs a connected Ray: call it inside 'with ray_cluster(...)'")
    bundle_path = Path(bundle).resolve()
    prepared = _prepare(bundle_path, options.phase, True, None)  # refuses a broken bundle before anything runs
    manifest_sha = prepared.session.manifest.sha256 if prepared.session is not None else None
    resources = default_resources(prepared.limits.limits, options.resources)
    check_feasible(ray, resources)  # before the ledger is opened: nothing recorded for a refusal
    rid = options.name or rescore_id(sha256_of_path(bundle_path), manifest_sha, options.executor, options.identity())
    with Ledger.open(ledger_path) as ledger:
        work_root = options.work_root or ledger.path.parent / "rescore" / safe_name(rid) / "runs"
        done = completed_runs(ledger, rid)
        todo = [s for s in found.submissions if s.key not in done]
        resumed = [done[s.key] for s in found.submissions if s.key in done]
        if on_start is not None:
            on_start(len(todo), len(resumed))
        ran, stopped = _fan_out(ray, ledger, todo, bundle_path, rid, work_root, options, resources, on_outcome), False
        if len(ran) < len(todo) or any(r.status == "interrupted" for r in ran):
            stopped = True
        new = {**{s.key: done[s.key] for s in found.submissions if s.key in done},
               **{(r.participant or "", r.submission_sha256 or ""): r for r in ran}}
        previous = previous_runs(ledger, found.submissions, rid)
        found_changes = changes(found.submissions, previous, new)
    return RescoreResult(rid, bundle_path, found.submissions, ran, resumed, found.left_out, found_changes,
                         time.perf_counter() - clock, resources, ledger.path, stopped)


def _fan_out(ray: Any, ledger: Ledger, todo: Sequence[Submission], bundle: Path, rid: str, work_root: Path,
             options: RescoreOptions, resources: TaskResources,
             on_outcome: Callable[[Submission, RunRecord], None] | None) -> list[RunRecord]:
    """Give Ray the admitted tasks, record each as it ends; on Ctrl-C cancel those in flight and
    record them ``interrupted``."""
    share: FairShare[Submission] = FairShare(((s.participant, s) for s in todo), options.per_participant)
    remote = ray.remote(run_one).options(**remote_options(resources))
    in_flight: dict[Any, Submission] = {}
    ran: list[RunRecord] = []
    capacity, checked = _capacity(ray, resources), time.monotonic()
    try:
        while share.waiting or in_flight:
            if time.monotonic() - checked > 5:  # the cluster may have grown or shrunk
                capacity, checked = _capacity(ray, resources), time.monotonic()
            for participant, submission in share.admit(capacity):
                work = work_root / safe_name(participant) / safe_name(submission.path.stem)  # + "-<attempt>"
                spec = TaskSpec(str(bundle), str(submission.path), participant, rid, str(work), options.phase,
                                options.platform, options.executor, options.image, options.network, options.isolation,
                                dict(options.executor_options),
                                use_gpu_ids=resources.gpus > 0 and options.executor == "docker")
                in_flight[remote.remote(spec)] = submission
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
            for ref in ready:
                submission = in_flight.pop(ref)
                share.done(submission.participant)
                record = _record(ledger, ray, ref, submission, bundle, rid, options)
                ran.append(record)
                if on_outcome is not None:
                    on_outcome(submission, record)
    except KeyboardInterrupt:
        for ref, submission in in_flight.items():
            ray.cancel(ref, force=True)
            ran.append(_driver_record(ledger, submission, bundle, rid, options, "interrupted",
                                      "aibench rescore was stopped (Ctrl-C) while this ran; it runs again on resume"))
    return ran


def _record(ledger: Ledger, ray: Any, ref: Any, submission: Submission, bundle: Path, rid: str,
            options: RescoreOptions) -> RunRecord:
    """The ended task's run, into the ledger: the record it made, or one the driver makes."""
    try:
        outcome: TaskOutcome = ray.get(ref)
    except ray.exceptions.RayError as error:  # a worker or node lost past the retries, a cancelled task
        return _driver_record(ledger, submission, bundle, rid, options, "interrupted",
                              f"the Ray task was lost ({type(error).__name__}: {str(error)[:500]}); it runs "
                              "again on resume")
    if outcome.record is None:
        return _driver_record(ledger, submission, bundle, rid, options, "failed",
                              f"refused before it ran on {outcome.node}: {outcome.error}")
    ledger.import_run(outcome.record)
    return outcome.record


def _driver_record(ledger: Ledger, submission: Submission, bundle: Path, rid: str, options: RescoreOptions,
                   status: str, message: str) -> RunRecord:
    from ..run.hashing import sha256_of_path

    run_id = ledger.start_run(bundle_path=str(bundle), bundle_sha256=sha256_of_path(bundle),
                              submission_path=str(submission.path), submission_sha256=submission.sha256,
                              executor=options.executor, participant=submission.participant, rescore_id=rid)
    ledger.finish_run(run_id, status, message=message)  # type: ignore[arg-type]
    return ledger.get(run_id)
