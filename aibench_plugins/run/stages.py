"""What ``aibench run`` does after the executor returns, stage by stage, and how it closes the
run's record. Each stage runs in :class:`~aibench_plugins.run.recording.Stages`: one that fails is
recorded in the report's ``errors`` and the others still run; the platform's scores are never lost.

Stages, in order: the plugin metrics (the evaluation session's ``after scoring``), the v1/v2
comparison of ``scores.txt``, the explanations, the leaderboard row, the report document and the
detailed results page (:func:`conclude`); then the record (:func:`record_report`), or, for a run
stopped by an error or a signal, :func:`record_stop`.
"""

from __future__ import annotations

import traceback
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.capture import CappedLog, read_head, read_tail
from .participant_page import participant_page
from .report import RunReport

if TYPE_CHECKING:
    from ..evaluation.session import EvaluationSession
    from ..core.host import PluginHost

__all__ = ["ERROR_FILE", "PLUGIN_LOG", "apply_retention", "conclude", "explain", "own_file", "plugin_output",
           "record_report", "record_stop", "stop_message", "write_report"]


def evaluate_metrics(session: EvaluationSession, predictions: Path, reference: Path) -> None:
    """The session's ``after scoring`` stage (a function of its own: a stage the tests can break)."""
    session.after_scoring(predictions, reference)


PLUGIN_LOG, ERROR_FILE = "plugins.log", "error.txt"


def apply_retention(ledger: Any) -> list[str]:
    """The default retention of run folders (``aibench gc``), unless ``AIBENCH_GC=0``; what it
    removed or could not, as warnings. Never fails the run."""
    import os

    from .gc import collect

    if os.environ.get("AIBENCH_GC", "1").strip() == "0":
        return []
    try:
        done = collect(ledger)
    except Exception as error:  # noqa: BLE001 - retention is housekeeping: the run goes on
        return [f"the retention of old run folders could not run: {type(error).__name__}: {error}"]
    found = [f"retention ('aibench gc'): removed {len(done.removed)} old run folder(s), "
             f"{done.freed_bytes / 2**20:.1f} MiB; their records stay"] if done.removed else []
    return found + [f"retention ('aibench gc'): could not remove {e}" for e in done.errors]


def own_file(work: Path, name: str) -> Path | None:
    """``<work>/aibench/<name>``: aibench's own files in the run folder; ``None`` when the folder
    cannot be made (a full disk)."""
    try:
        (work / "aibench").mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return work / "aibench" / name


def stop_message(error: BaseException, work: Path) -> str:
    from .recording import is_disk_full

    message = f"aibench stopped: {type(error).__name__}: {error}"
    if is_disk_full(error):
        message += (f". The disk holding the run folder ({work}) is full: free space there ('aibench gc' removes "
                    "old run folders), or give the run another --work-dir")
    return message


def record_stop(ledger: Any, run_id: str, error: BaseException, work: Path, result: Any) -> None:
    """Close the record of a run stopped by ``error`` (interrupted for a signal or Ctrl-C, else failed),
    keeping the scores the platform's steps gave when there are any; never raises."""
    from .recording import record_end

    interrupted = isinstance(error, (KeyboardInterrupt, SystemExit))
    message = stop_message(error, work)
    path = own_file(work, ERROR_FILE) if not interrupted else None
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


def conclude(run_id: str, result: Any, bundle: Any, work: Path, described: dict[str, Any], executor: str,
             record: Any, session: EvaluationSession | None, log: CappedLog,
             gateway: dict[str, Any] | None = None) -> RunReport:
    """Everything after the executor returned, each stage in :class:`Stages`: one that fails is
    recorded in ``report.errors`` and the others still run; the platform's scores are never lost.
    ``gateway``: what the gateway of an API-integrated submission did (``RunReport.gateway``)."""
    from .recording import Stages

    stages = Stages()
    if session is not None and result.status == "finished" and result.scoring_input:
        def metrics() -> bool:
            assert session is not None
            # what the scoring-side complexity meters read: the executor's measurements of the steps
            steps = RunReport(run_id, result, [], work, "none", gateway=gateway)
            session.step_measurements = steps.step_measurements()
            session.prediction_step_ran = any(s.step == "prediction" for s in result.steps)
            evaluate_metrics(session, result.scoring_input / "res", result.scoring_input / "ref")
            if session.failure():
                result.fail(str(session.failure()))
            return True

        if not stages.run("the plugin metrics", metrics, False) and session.requires_metrics:
            result.fail(f"a required plugin could not run: {stages.errors[-1]}")
    if record is not None:
        result.rules_applied.append("wrapped bundle (aibench wrap): its plugins run inside its scoring program, "
                                    "as on the platform; aibench run adds none")
    portability: list[str] = stages.run("the v1/v2 comparison of scores.txt", lambda: _portability_warnings(result),
                                        [])
    result.warnings += portability
    explanations: list[str] = stages.run("the explanations", lambda: explain(result, executor), [])
    columns: list[dict[str, Any]] = stages.run("the leaderboard row", lambda: row_columns(bundle, result, record),
                                               [])
    isolation_used = next((p.isolation for s in result.steps for p in s.processes if p.isolation), "none")
    manifest = session.manifest if session is not None else None
    report = RunReport(run_id, result, columns, work, isolation_used, session.result if session else None,
                       manifest.sha256 if manifest else None, executor=described, explanations=explanations,
                       concepts=manifest.concepts if manifest else [], gateway=gateway)
    report.errors, report.tracebacks = stages.errors, stages.tracebacks
    report.plugin_output = plugin_output(log)
    report.detailed_results = stages.run("the detailed results page", lambda: _page(report, session, record), None)
    nothing: tuple[Path | None, str] = (None, "")
    report.participant_page, report.participant_page_note = stages.run(
        "the page participants see", lambda: participant_page(result, bundle, record is not None), nothing)
    return report


def plugin_output(log: CappedLog) -> dict[str, Any]:
    return {"log": str(log.path) if log.path else None, "bytes": log.written, "cut_bytes": log.cut,
            "tail": log.tail_text(2048)}


def row_columns(bundle: Any, result: Any, record: Any) -> list[dict[str, Any]]:
    columns = _columns(bundle.columns, result.row)
    if record is not None:  # the columns aibench wrap added are filled by the plugins in the scoring program
        original = {str(c["key"]) for c in record.columns}
        columns = [c | {"source": "scoring program" if c["key"] in original else "plugin (wrapped runtime)"}
                   for c in columns]
    return columns


def _page(report: RunReport, session: EvaluationSession | None, record: Any) -> Path | None:
    if session is not None:
        return _write_detailed_results(report, session.host, report.work_dir)
    if record is not None:
        page = next((s.output_dir / "detailed_results.html" for s in report.result.steps if s.step == "scoring"), None)
        return page if page is not None and page.is_file() and not page.is_symlink() else None
    return None


def record_report(ledger: Any, report: RunReport) -> None:
    """The run's final record, as complete as the ledger takes (:func:`record_end`); a failure
    to write it becomes ``report.record_error``."""
    from .recording import record_end

    result = report.result
    if report.tracebacks:
        path = own_file(report.work_dir, ERROR_FILE)
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
        scores=scores, interpreters=report.interpreters,
        **({"reproducibility": report.reproducibility} if report.reproducibility else {}),
        **({"gateway": report.gateway} if report.gateway else {}),
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


def _write_detailed_results(report: RunReport, host: PluginHost, work: Path) -> Path:
    """``detailed_results.html``, from the report document alone, with the sections of every
    registered reporter."""
    from ..evaluation.page import collect_sections, render_detailed_results

    path = report.detailed_results = work / "detailed_results.html"
    document = report.document()
    sections = collect_sections(host, document)
    path.write_text(render_detailed_results(document, sections=sections), encoding="utf-8")
    return path


def write_report(report: RunReport) -> None:
    """``<run folder>/report.json``: the report document once the run is recorded (so it says what
    ``aibench run --json`` embeds); a failure to write it is one more of the report's errors."""
    import json

    from ..evaluation.report import REPORT_FILE

    try:
        (report.work_dir / REPORT_FILE).write_text(json.dumps(report.document(), indent=2, default=str) + "\n",
                                                   encoding="utf-8")
    except OSError as error:
        report.errors.append(f"the report document failed: {type(error).__name__}: {error}")

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
