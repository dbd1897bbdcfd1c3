"""``aibench run``: one submission through a bundle, exactly as the platform's worker
would run it, recorded in the ledger from start to end."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._evaluate import Evaluation, evaluate_metrics, failure_summary, run_checks
from ._exceptions import ManifestError
from ._host import PluginHost
from ._manifest import Manifest

if TYPE_CHECKING:
    from codalab_worker_compat import Executor, ResourceLimits

REPORT_VERSION = 1


@dataclass
class RunReport:
    """What ``aibench run`` prints: the run's record, its leaderboard row and where its
    outputs and logs are."""

    run_id: str
    result: Any  # codalab_worker_compat.RunResult
    columns: list[dict[str, Any]]
    work_dir: Path
    isolation: str
    evaluation: Evaluation | None = None
    manifest_sha256: str | None = None
    detailed_results: Path | None = None
    executor: dict[str, Any] = field(default_factory=lambda: {"executor": "local"})
    explanations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.result.status == "finished")

    def measurements(self) -> list[dict[str, Any]]:
        """The wall time of each process, measured by the executor on the host (trustworthy: the
        participant's code runs inside the process, never in the executor)."""
        from ._runtime.measurements import Measurement

        return [Measurement(f"{p.name} wall time", round(p.elapsed_s, 3), "s", "executor", s.step).to_json()
                for s in self.result.steps for p in s.processes]

    def to_json(self) -> dict[str, Any]:
        """The documented ``aibench run --json`` shape (docs/cli.md)."""
        result = self.result
        return {
            "report_version": REPORT_VERSION,
            "run_id": self.run_id,
            "status": result.status,
            "message": result.message,
            "platform": result.worker,
            "phase": {"number": result.phase.number, "name": result.phase.name},
            "time_limit_s": result.time_limit_s,
            "columns": self.columns,
            "plugin_columns": [c.to_json() for c in self.evaluation.columns] if self.evaluation else [],
            "plugin_failures": [f.to_json() for f in self.evaluation.failures] if self.evaluation else [],
            "check_problems": [p.to_json() for p in self.evaluation.problems] if self.evaluation else [],
            "manifest_sha256": self.manifest_sha256,
            "scores_file": result.scores.file if result.scores is not None else None,
            "steps": [{"step": s.step, "output_dir": str(s.output_dir),
                       "processes": [{"name": p.name, "exit_code": p.exit_code, "reason": p.reason,
                                      "elapsed_s": round(p.elapsed_s, 3), "message": p.message}
                                     for p in s.processes],
                       "logs": {k: str(v) for k, v in s.logs.items()}} for s in result.steps],
            "work_dir": str(self.work_dir),
            "detailed_results": str(self.detailed_results) if self.detailed_results else None,
            "isolation": self.isolation,
            "executor": self.executor,
            "explanations": self.explanations,
            "measurements": self.measurements(),
            "rules_applied": result.rules_applied,
            "warnings": result.warnings,
        }


def run_bundle(bundle_path: str | Path, submission: str | Path, *, phase: int | None = None,
               task: int | None = None, platform: str | None = None, ledger_path: str | Path | None = None,
               work_dir: str | Path | None = None,
               isolation: Literal["auto", "bwrap", "none"] = "auto", use_plugins: bool = True,
               executor: Literal["local", "docker"] | Executor = "local", image: str | None = None,
               network: bool = False, limits: ResourceLimits | None = None) -> RunReport:
    """Run ``submission`` through ``bundle_path`` and record it in the ledger.

    ``platform`` is ``v1``, ``v2`` (current Codabench), ``codabench`` or
    ``ai4mediabench``; by default the bundle's own (v1 bundles on v1, v2 bundles on
    Codabench). The run is recorded as ``running`` before anything executes; a run
    whose process is killed shows as ``interrupted`` the next time the ledger opens.
    With ``use_plugins`` and an ``aibench.json`` in the bundle, its checks run before
    and its metrics after the platform's steps. Raises
    :class:`codalab_worker_compat.BundleError` when the bundle cannot be run and
    :class:`ManifestError` when its manifest has problems.

    ``executor`` is ``local`` (processes on this machine, ``isolation`` says how they get their
    paths), ``docker`` (each process in a hardened container of ``image``, without network unless
    ``network``; raises :class:`codalab_worker_compat.DockerExecutorError` when there is no engine
    or no such image) or an executor object. ``limits`` (memory, CPUs, processes, GPUs) apply to
    every process. The ledger records the executor, the image and the ID it was pinned to.
    ``explanations`` in the report say, in a participant's words, what the executor saw (out
    of memory, a write to a read-only folder, a network attempt without network).
    """
    from codalab_worker_compat import ResourceLimits, load_bundle, resolve_worker, run_submission

    from ._hashing import sha256_of_path
    from ._ledger import Ledger
    from ._manifest import unpack_limits

    bundle = load_bundle(bundle_path)
    worker = resolve_worker(platform or ("v1" if bundle.platform == "v1" else "codabench"))
    from ._runtime.record import find_in_bundle

    record = find_in_bundle(bundle)
    wrapped = record is not None  # its plugins run inside its scoring program
    plugins = _load_plugins(bundle, bundle_path) if use_plugins and not wrapped else None
    phase_key = _phase_key(bundle, phase, plugins[0]) if plugins else None
    evaluation = Evaluation() if plugins else None
    before_run = None
    if plugins:
        manifest, host = plugins

        def before_run(submission_dir: Path, reference_dir: Path | None) -> str | None:
            assert evaluation is not None
            run_checks(manifest, host, submission_dir, reference_dir, phase=phase_key, evaluation=evaluation)
            errors = [p for p in evaluation.problems if p.severity == "error"]
            if errors:
                listed = "\n".join(f"  {p}" for p in errors)
                return f"the submission was refused before scoring by the bundle's checks:\n{listed}"
            if evaluation.failed_required:
                return f"a required check failed: {failure_summary(evaluation.failed_required)}"
            return None

    runner, owned = _executor(executor, isolation, image, network)
    described: dict[str, Any] = runner.describe() if hasattr(runner, "describe") else {"executor": runner.name}
    with closing_executor(runner if owned else None), Ledger.open(ledger_path) as ledger:
        run_id = ledger.start_run(
            bundle_path=str(Path(bundle_path).resolve()), bundle_sha256=sha256_of_path(bundle_path),
            submission_path=str(Path(submission).resolve()), submission_sha256=sha256_of_path(submission),
            platform=worker, executor=runner.name, image=described.get("image"), image_id=described.get("image_id"),
            executor_details={k: v for k, v in described.items() if k not in ("executor", "image", "image_id")},
            manifest_sha256=plugins[0].sha256 if plugins else None)
        if hasattr(runner, "run_label"):
            runner.run_label = run_id
        work = Path(work_dir) if work_dir is not None else ledger.path.parent / "runs" / run_id
        ledger.update_run(run_id, outputs={"work_dir": str(work)})
        try:
            with _terminate_as_exit():
                result = run_submission(bundle, Path(submission), runner, work, worker=worker, phase=phase,
                                        task=task, before_run=before_run, limits=limits or ResourceLimits(),
                                        unpack_limits=unpack_limits(bundle))
                if plugins and evaluation is not None and result.status == "finished" and result.scoring_input:
                    evaluate_metrics(plugins[0], plugins[1], result.scoring_input / "res",
                                     result.scoring_input / "ref", phase=phase_key, evaluation=evaluation)
                    if evaluation.failed_required:
                        result.fail(f"a required plugin failed: {failure_summary(evaluation.failed_required)}")
        except BaseException as error:
            ledger.finish_run(run_id, "interrupted" if isinstance(error, (KeyboardInterrupt, SystemExit))
                              else "failed", message=f"aibench stopped: {type(error).__name__}: {error}")
            raise
        if wrapped:
            result.rules_applied.append("wrapped bundle (aibench wrap): its plugins run inside its scoring program, "
                                        "as on the platform; aibench run adds none")
        result.warnings += _portability_warnings(result)
        explanations = explain(result, runner.name)
        columns = _columns(bundle.columns, result.row)
        if record is not None:  # the columns aibench wrap added are filled by the plugins in the scoring program
            original = {str(c["key"]) for c in record.columns}
            columns = [c | {"source": "scoring program" if c["key"] in original else "plugin (wrapped runtime)"}
                       for c in columns]
        scores = {c["key"]: c["value"] for c in columns} if result.row is not None else None
        if scores is not None and evaluation is not None:
            scores |= {c.key: c.value for c in evaluation.columns}
        message = result.message + "".join(f" (aibench: {e})" for e in explanations if result.status == "failed")
        ledger.finish_run(
            run_id, result.status, message=message, phase_number=result.phase.number,
            phase_name=result.phase.name,
            exit_codes={s.step: {p.name: p.exit_code for p in s.processes} for s in result.steps},
            scores=scores,
            logs={f"{s.step} {name}": str(path) for s in result.steps for name, path in s.logs.items()},
            outputs={"work_dir": str(work)} | {f"{s.step} output": str(s.output_dir) for s in result.steps})
    isolation_used = next((p.isolation for s in result.steps for p in s.processes if p.isolation), "none")
    report = RunReport(run_id, result, columns, work, isolation_used, evaluation,
                       plugins[0].sha256 if plugins else None, executor=described, explanations=explanations)
    if plugins:
        report.detailed_results = _write_detailed_results(report, plugins[0], plugins[1], work)
    elif wrapped:
        page = next((s.output_dir / "detailed_results.html" for s in result.steps if s.step == "scoring"), None)
        report.detailed_results = page if page is not None and page.is_file() else None
    return report


def _executor(executor: str | Executor, isolation: Literal["auto", "bwrap", "none"], image: str | None,
              network: bool) -> tuple[Executor, bool]:
    """The executor object, and whether this run made it (and must close it)."""
    from codalab_worker_compat import DockerExecutor, LocalExecutor

    if not isinstance(executor, str):
        return executor, False
    if executor == "local":
        if image is not None or network:
            raise ValueError("image and network apply to the docker executor only (executor='docker')")
        return LocalExecutor(isolation=isolation), False
    if executor == "docker":
        if not image:
            raise ValueError("the docker executor needs an image, e.g. codalab-compat/py312:bookworm (make images)")
        return DockerExecutor(image, network=network), True
    raise ValueError(f"executor must be local or docker, not {executor!r}")


@contextmanager
def closing_executor(executor: Any) -> Iterator[None]:
    """Close ``executor`` (its engine connection) at the end, when there is one."""
    try:
        yield
    finally:
        if executor is not None:
            executor.close()


#: what a program prints when it writes to a read-only folder, or reaches for a network it lacks
_READ_ONLY_MARKERS = ("Read-only file system",)
_NETWORK_MARKERS = ("Network is unreachable", "Temporary failure in name resolution", "Name or service not known",
                    "No address associated with hostname", "Could not resolve host", "nodename nor servname")


def explain(result: Any, executor: str) -> list[str]:
    """What the executor saw, in a participant's words: out of memory, a process that could not
    start, the process-count limit, and (in containers) writes to read-only folders and network
    attempts without network. The platform's own message stays as it is."""
    found: list[str] = []
    for step in result.steps:
        for process in step.processes:
            where = f"{step.step} step, {process.name}"
            if process.reason == "oom":
                found.append(f"{where}: {process.message}")
            elif process.reason == "error":
                found.append(f"{where}: could not start: {process.message}")
            found += [f"{where}: {sentence.rstrip('.')}." for sentence in process.message.split(". ")
                      if "process-count limit" in sentence]
            if executor != "docker":
                continue
            tail = _tail(step.logs.get(f"{process.name} stderr"))
            if any(marker in tail for marker in _READ_ONLY_MARKERS):
                found.append(f"{where}: tried to write to a read-only folder. Only /app/output (and /app/shared "
                             "while scoring) and /tmp are writable in the docker executor's containers; the code, "
                             "the input data and the reference data are read-only. Write results to /app/output and "
                             "scratch files to /tmp.")
            if any(marker in tail for marker in _NETWORK_MARKERS):
                found.append(f"{where}: tried to use the network, which the docker executor turns off (only "
                             "loopback). Ship what the code needs inside the submission, or run with --network "
                             "when the competition allows downloads.")
    return found


def _tail(path: Path | None, size: int = 65536) -> str:
    if path is None:
        return ""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, 2) - size))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _write_detailed_results(report: RunReport, manifest: Manifest, host: PluginHost, work: Path) -> Path:
    """``detailed_results.html`` of the run, with the sections of every registered reporter."""
    from ._report import collect_sections, render_detailed_results

    data = report.to_json()
    sections = collect_sections(host, data, manifest.document)
    path = work / "detailed_results.html"
    path.write_text(render_detailed_results(data, sections=sections, manifest=manifest.document), encoding="utf-8")
    return path


def _load_plugins(bundle: Any, bundle_path: str | Path) -> tuple[Manifest, PluginHost] | None:
    """The bundle's manifest and its plugins, or ``None`` when it has no aibench.json.
    A manifest with problems refuses the run (:class:`ManifestError`, every problem listed)."""
    if not bundle.exists("aibench.json"):
        return None
    from ._validate import validate_bundle

    report = validate_bundle(bundle_path)
    if not report.ok or report.manifest is None or report.host is None:
        raise ManifestError(report.errors)
    return report.manifest, report.host


def _phase_key(bundle: Any, phase: int | None, manifest: Manifest) -> int | str | None:
    """The manifest's ``phases`` key for the phase that runs (its number, else its name)."""
    chosen = next((p for p in bundle.phases if phase is None or p.number == phase), None)
    if chosen is None:
        return phase
    overrides = manifest.document.get("phases", {})
    if str(chosen.number) not in overrides and chosen.name in overrides:
        return str(chosen.name)
    return int(chosen.number)


def _portability_warnings(result: Any) -> list[str]:
    """Each scores.txt line that v1 and v2 workers would read differently (§8.1-3): the same
    bundle would score differently on CodaLab and on Codabench."""
    from codalab_worker_compat import compare_lines

    scoring = next((s for s in result.steps if s.step == "scoring"), None)
    scores_txt = scoring.output_dir / "scores.txt" if scoring is not None else None
    if scores_txt is None or not scores_txt.is_file():
        return []
    return [f"scores.txt line {d.line} {d.text!r}: v1 reads {d.v1}, v2 reads {d.v2}"
            for d in compare_lines(scores_txt.read_text(errors="replace"))]


def _columns(columns: Any, row: Any) -> list[dict[str, Any]]:
    values = row.values if row is not None else {}
    out = []
    for column in columns:
        value = values.get(column.key)
        out.append({"key": column.key, "title": column.title, "sorting": column.sorting,
                    "precision": column.precision, "value": _number(value)})
    return out


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


@contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit while a run executes, so its processes are stopped and
    its record is closed as interrupted."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
