"""``aibench run``: one submission through a bundle, exactly as the platform's worker
would run it, recorded in the ledger from start to end."""

from __future__ import annotations

import signal
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._capture import CappedLog, LogCap, capture_fds, read_head, read_tail
from ._evaluate import Evaluation, evaluate_metrics, failure_summary, run_checks
from ._exceptions import AibenchError, ManifestError
from ._host import PluginHost
from ._isolate import plugin_log
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
    #: stages after the executor that failed ("<stage> failed: <error>"), and the record's own failure
    errors: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    record_error: str | None = None
    #: the plugins' output: {"log": path, "bytes": n, "cut_bytes": n, "tail": the last 2 KiB}
    plugin_output: dict[str, Any] = field(default_factory=dict)
    #: the run's limits and where each came from (``EffectiveLimits.to_json``)
    limits: dict[str, Any] = field(default_factory=dict)

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
                                      "elapsed_s": round(p.elapsed_s, 3), "message": p.message,
                                      "limits_applied": dict(p.limits_applied)}
                                     for p in s.processes],
                       "logs": {k: str(v) for k, v in s.logs.items()}} for s in result.steps],
            "work_dir": str(self.work_dir),
            "detailed_results": str(self.detailed_results) if self.detailed_results else None,
            "isolation": self.isolation,
            "executor": self.executor,
            "limits": self.limits,
            "explanations": self.explanations,
            "measurements": self.measurements(),
            "rules_applied": result.rules_applied,
            "warnings": result.warnings,
            "errors": self.errors,
            "plugin_output": self.plugin_output,
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
    paths; under bubblewrap without network unless ``network``; its warning in the result says
    what it does not protect against), ``docker`` (each process in a hardened container of ``image``, without network unless
    ``network``; raises :class:`codalab_worker_compat.DockerExecutorError` when there is no engine
    or no such image) or an executor object. ``limits`` (time, memory, CPUs, processes, GPUs) apply
    to every process, each field given overriding the manifest's ``limits`` (its phase's override
    first; see :mod:`aibench_plugins._limits`); an executor that cannot apply one refuses the run
    before anything runs (:class:`aibench_plugins._limits.LimitsRefused`). The ledger records the
    executor, the image and the ID it was pinned to.
    ``explanations`` in the report say, in a participant's words, what the executor saw (out
    of memory, a write to a read-only folder, a network attempt without network).
    """
    from codalab_worker_compat import (BundleError, DockerExecutorError, ResourceLimits, load_bundle, resolve_worker,
                                       run_submission)

    from ._hashing import sha256_of_path
    from ._ledger import Ledger
    from ._manifest import unpack_limits

    bundle = load_bundle(bundle_path)
    worker = resolve_worker(platform or ("v1" if bundle.platform == "v1" else "codabench"))
    from ._runtime.record import find_in_bundle

    record = find_in_bundle(bundle)
    wrapped = record is not None  # its plugins run inside its scoring program
    loading = CappedLog(None, LogCap(64 << 10, 64 << 10))  # a plugin that prints at import
    with capture_fds(loading):
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

    from ._limits import LimitsRefused, check_limits, effective_limits

    chosen = effective_limits(limits, plugins[0] if plugins else None, phase_key)
    runner, owned = _executor(executor, isolation, image, network)
    try:
        check_limits(runner, chosen)
    except LimitsRefused:
        with closing_executor(runner if owned else None):
            raise
    described: dict[str, Any] = runner.describe() if hasattr(runner, "describe") else {"executor": runner.name}
    with closing_executor(runner if owned else None), Ledger.open(ledger_path) as ledger:
        retention = _apply_retention(ledger)
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
        result = None
        with plugin_log(_own_file(work, PLUGIN_LOG)) as log:
            if loading.written:
                log.write(b"--- output while loading the plugins ---\n" + loading.text().encode())
            try:
                with _terminate_as_exit():
                    result = run_submission(bundle, Path(submission), runner, work, worker=worker, phase=phase,
                                            task=task, before_run=before_run, limits=chosen.limits,
                                            hide=(ledger.path.parent / "runs",),  # other runs' labels
                                            unpack_limits=unpack_limits(bundle))
                    report = _conclude(run_id, result, bundle, work, described, runner.name, record, plugins,
                                       phase_key, evaluation, log)
            except BaseException as error:
                _record_stop(ledger, run_id, error, work, result)
                if isinstance(error, Exception) and not isinstance(error, (AibenchError, BundleError,
                                                                          DockerExecutorError)):
                    raise RunError(run_id, _stop_message(error, work), work) from error
                raise
            report.plugin_output = _plugin_output(log)
            report.limits = chosen.to_json()
            report.result.warnings += retention
        _record_report(ledger, report)
    return report


class RunError(AibenchError):
    """aibench could not complete a run (a full disk, an error of its own): ``run_id`` names its
    record, closed as ``failed`` with ``message``; the traceback, when it could be written, is in
    ``<work_dir>/aibench/error.txt``."""

    def __init__(self, run_id: str, message: str, work_dir: Path) -> None:
        super().__init__(message)
        self.run_id, self.message, self.work_dir = run_id, message, work_dir


PLUGIN_LOG, ERROR_FILE = "plugins.log", "error.txt"


def _apply_retention(ledger: Any) -> list[str]:
    """The default retention of run folders (``aibench gc``), unless ``AIBENCH_GC=0``; what it
    removed or could not, as warnings. Never fails the run."""
    import os

    from ._gc import collect

    if os.environ.get("AIBENCH_GC", "1").strip() == "0":
        return []
    try:
        done = collect(ledger)
    except Exception as error:  # noqa: BLE001 - retention is housekeeping: the run goes on
        return [f"the retention of old run folders could not run: {type(error).__name__}: {error}"]
    found = [f"retention ('aibench gc'): removed {len(done.removed)} old run folder(s), "
             f"{done.freed_bytes / 2**20:.1f} MiB; their records stay"] if done.removed else []
    return found + [f"retention ('aibench gc'): could not remove {e}" for e in done.errors]


def _own_file(work: Path, name: str) -> Path | None:
    """``<work>/aibench/<name>``: aibench's own files in the run folder; ``None`` when the folder
    cannot be made (a full disk)."""
    try:
        (work / "aibench").mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return work / "aibench" / name


def _stop_message(error: BaseException, work: Path) -> str:
    from ._recording import is_disk_full

    message = f"aibench stopped: {type(error).__name__}: {error}"
    if is_disk_full(error):
        message += (f". The disk holding the run folder ({work}) is full: free space there ('aibench gc' removes "
                    "old run folders), or give the run another --work-dir")
    return message


def _record_stop(ledger: Any, run_id: str, error: BaseException, work: Path, result: Any) -> None:
    """Close the record of a run stopped by ``error`` (interrupted for a signal or Ctrl-C, else failed),
    keeping the scores the platform's steps gave when there are any; never raises."""
    from ._recording import record_end

    interrupted = isinstance(error, (KeyboardInterrupt, SystemExit))
    message = _stop_message(error, work)
    path = _own_file(work, ERROR_FILE) if not interrupted else None
    if path is not None:
        try:
            path.write_text("".join(traceback.format_exception(type(error), error, error.__traceback__)),
                            encoding="utf-8")
            message += f" (details: {path})"
        except OSError:
            pass
    values: dict[str, Any] = {"message": message}
    if result is not None:
        values["scores"] = _raw_scores(result.row)
        values["exit_codes"] = _exit_codes(result)
    record_end(ledger, run_id, "interrupted" if interrupted else "failed", work, **values)


def _conclude(run_id: str, result: Any, bundle: Any, work: Path, described: dict[str, Any], executor: str,
              record: Any, plugins: tuple[Manifest, PluginHost] | None, phase_key: int | str | None,
              evaluation: Evaluation | None, log: CappedLog) -> RunReport:
    """Everything after the executor returned, each stage in :class:`Stages`: one that fails is
    recorded in ``report.errors`` and the others still run; the platform's scores are never lost."""
    from ._recording import Stages

    stages = Stages()
    if plugins and evaluation is not None and result.status == "finished" and result.scoring_input:
        def metrics() -> bool:
            assert plugins is not None and evaluation is not None
            evaluate_metrics(plugins[0], plugins[1], result.scoring_input / "res", result.scoring_input / "ref",
                             phase=phase_key, evaluation=evaluation)
            if evaluation.failed_required:
                result.fail(f"a required plugin failed: {failure_summary(evaluation.failed_required)}")
            return True

        if not stages.run("the plugin metrics", metrics, False) and any(
                e.get("required") for e in plugins[0].section("metrics", phase_key)):
            result.fail(f"a required plugin could not run: {stages.errors[-1]}")
    if record is not None:
        result.rules_applied.append("wrapped bundle (aibench wrap): its plugins run inside its scoring program, "
                                    "as on the platform; aibench run adds none")
    portability: list[str] = stages.run("the v1/v2 comparison of scores.txt", lambda: _portability_warnings(result),
                                        [])
    result.warnings += portability
    explanations: list[str] = stages.run("the explanations", lambda: explain(result, executor), [])
    columns: list[dict[str, Any]] = stages.run("the leaderboard row", lambda: _row_columns(bundle, result, record),
                                               [])
    isolation_used = next((p.isolation for s in result.steps for p in s.processes if p.isolation), "none")
    report = RunReport(run_id, result, columns, work, isolation_used, evaluation,
                       plugins[0].sha256 if plugins else None, executor=described, explanations=explanations)
    report.errors, report.tracebacks = stages.errors, stages.tracebacks
    report.plugin_output = _plugin_output(log)
    report.detailed_results = stages.run("the detailed results page", lambda: _page(report, plugins, record), None)
    return report


def _plugin_output(log: CappedLog) -> dict[str, Any]:
    return {"log": str(log.path) if log.path else None, "bytes": log.written, "cut_bytes": log.cut,
            "tail": log.tail_text(2048)}


def _row_columns(bundle: Any, result: Any, record: Any) -> list[dict[str, Any]]:
    columns = _columns(bundle.columns, result.row)
    if record is not None:  # the columns aibench wrap added are filled by the plugins in the scoring program
        original = {str(c["key"]) for c in record.columns}
        columns = [c | {"source": "scoring program" if c["key"] in original else "plugin (wrapped runtime)"}
                   for c in columns]
    return columns


def _page(report: RunReport, plugins: tuple[Manifest, PluginHost] | None, record: Any) -> Path | None:
    if plugins:
        return _write_detailed_results(report, plugins[0], plugins[1], report.work_dir)
    if record is not None:
        page = next((s.output_dir / "detailed_results.html" for s in report.result.steps if s.step == "scoring"), None)
        return page if page is not None and page.is_file() and not page.is_symlink() else None
    return None


def _record_report(ledger: Any, report: RunReport) -> None:
    """The run's final record, as complete as the ledger takes (:func:`record_end`); a failure
    to write it becomes ``report.record_error``."""
    from ._recording import record_end

    result = report.result
    if report.tracebacks:
        path = _own_file(report.work_dir, ERROR_FILE)
        try:
            if path is not None:
                path.write_text("\n".join(report.tracebacks), encoding="utf-8")
                report.errors = [*report.errors[:-1], f"{report.errors[-1]} (details: {path})"]
        except OSError:
            pass
    scores = ({c["key"]: c["value"] for c in report.columns} if report.columns else _raw_scores(result.row)) \
        if result.row is not None else None
    if scores is not None and report.evaluation is not None:
        scores |= {c.key: c.value for c in report.evaluation.columns}
    message = result.message + "".join(f" (aibench: {e})" for e in report.explanations if result.status == "failed")
    message += "".join(f" (aibench: {e})" for e in report.errors)
    report.record_error = record_end(
        ledger, report.run_id, result.status, report.work_dir, message=message.strip(),
        phase_number=result.phase.number, phase_name=result.phase.name, exit_codes=_exit_codes(result),
        scores=scores,
        logs={f"{s.step} {name}": str(path) for s in result.steps for name, path in s.logs.items()},
        outputs={"work_dir": str(report.work_dir)} | {f"{s.step} output": str(s.output_dir) for s in result.steps})
    if report.record_error:
        report.errors.append(report.record_error)


def _exit_codes(result: Any) -> dict[str, dict[str, int | None]]:
    return {s.step: {p.name: p.exit_code for p in s.processes} for s in result.steps}


def _raw_scores(row: Any) -> dict[str, float | None] | None:
    """The leaderboard row's values as numbers, without the bundle's columns (a fallback)."""
    if row is None:
        return None
    values: dict[str, float | None] = {}
    for key, value in dict(getattr(row, "values", {}) or {}).items():
        try:
            values[str(key)] = float(value) if value is not None else None
        except (TypeError, ValueError, ArithmeticError):
            values[str(key)] = None
    return values


def _executor(executor: str | Executor, isolation: Literal["auto", "bwrap", "none"], image: str | None,
              network: bool) -> tuple[Executor, bool]:
    """The executor object, and whether this run made it (and must close it)."""
    from codalab_worker_compat import DockerExecutor, LocalExecutor

    if not isinstance(executor, str):
        return executor, False
    if executor == "local":
        if image is not None:
            raise ValueError("image applies to the docker executor only (executor='docker')")
        return LocalExecutor(isolation=isolation, network=network), False
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
    return read_tail(path, size)


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
    if scores_txt is None or scores_txt.is_symlink() or not scores_txt.is_file():  # never follow a link (issue 9)
        return []
    data, more = read_head(scores_txt, MAX_COMPARED_BYTES)
    found = [f"scores.txt line {d.line} {d.text!r}: v1 reads {d.v1}, v2 reads {d.v2}"
             for d in compare_lines(data.decode("utf-8", "replace"))]
    if more:
        found.append(f"scores.txt is larger than {MAX_COMPARED_BYTES} bytes: only its beginning was compared "
                     "between v1 and v2")
    return found


#: how much of scores.txt the v1/v2 comparison reads (a real one is a few lines)
MAX_COMPARED_BYTES = 1 << 20


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
