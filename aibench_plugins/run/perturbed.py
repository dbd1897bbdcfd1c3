"""``aibench run``: the prediction step re-run on perturbed inputs (code submissions).

When the phase declares an ``aibench.input_perturbations`` robustness entry, after the platform's
steps have run the submission as they always do (that run, its scores and its record are never
changed), the submission runs again once per perturbation and severity, each in a run folder of
its own (``<run folder>/perturbed/<name>-<severity>/``), through the same compat runner, executor,
limits and phase time limit as the original. Each re-run's input data is the phase's, unpacked for
it, with the declared file perturbed before anything runs (compat's ``before_run``); its scoring
step is skipped (:class:`PredictionOnly`: only the prediction step's ``output`` is used). The
output folders become ``EvaluationSession.perturbed_runs`` for the robustness checker. A re-run
that crashes, hangs past the time limit or writes nothing is recorded in its folder
(:data:`~aibench_plugins.data.perturbations.RUN_STATUS_FILE`) and counts for that perturbation only.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import PerturbationError
from ..data.perturbations import RUN_STATUS_FILE, PerturbationPlan, declared_plan, perturb_in_place

if TYPE_CHECKING:
    from codalab_worker_compat import Bundle, ProcessResult, ProcessSpec, RunningProcess, RunResult

    from ..evaluation.session import EvaluationSession

__all__ = ["PERTURBED_DIR", "PerturbedRuns", "PredictionOnly", "perturbation_plan", "rerun_for_session",
           "rerun_perturbed"]

PERTURBED_DIR = "perturbed"


@dataclass
class PerturbedRuns:
    """What the re-runs gave: each run's ``input/res`` by name, and what each cost (seconds)."""

    folders: dict[str, Path] = field(default_factory=dict)
    elapsed_s: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def perturbation_plan(session: EvaluationSession) -> PerturbationPlan | None:
    """The phase's declared perturbations (``None``: none). :raises PerturbationError: malformed."""
    manifest = session.manifest
    key = session.plan.phase_key
    phases = manifest.document.get("phases") or {}
    prefix = f"/phases/{key}/robustness" if key is not None and "robustness" in phases.get(key, {}) else "/robustness"
    return declared_plan(manifest.section("robustness", key), prefix)


class PredictionOnly:
    """The run's executor, starting every process but the scoring program's (a perturbed re-run
    needs only the prediction step's output); anything else is the executor's own."""

    def __init__(self, executor: Any) -> None:
        self._executor = executor

    def start(self, spec: ProcessSpec) -> RunningProcess:
        if spec.name.startswith("scoring program"):
            from codalab_worker_compat import FinishedProcess, ProcessResult

            return FinishedProcess(ProcessResult(spec.name, 0, 0.0, message="not run: a perturbed re-run needs only "
                                                                            "the prediction step"))
        started: RunningProcess = self._executor.start(spec)
        return started

    def __getattr__(self, name: str) -> Any:
        return getattr(self._executor, name)


def rerun_for_session(session: EvaluationSession | None, result: RunResult, bundle: Bundle, submission: Path,
                      executor: Any, work: Path, **options: Any) -> PerturbedRuns | None:
    """The re-runs of a finished run whose phase declares perturbations, into
    ``session.perturbed_runs``; ``None`` when there is nothing to re-run. A declaration that cannot
    be read is a warning of the run (the checker's own failure says it too); never raises for it."""
    if session is None or result.status != "finished":
        return None
    try:
        plan = perturbation_plan(session)
    except PerturbationError as error:
        result.warnings.append(f"input perturbations not run: {error}")
        return None
    if plan is None:
        return None
    phase = result.phase
    if not phase.programs.get("ingestion_program") or phase.ingestion_only_during_scoring:
        why = "it has no ingestion program" if not phase.programs.get("ingestion_program") else \
            "its ingestion program runs only during scoring (ingestion_only_during_scoring)"
        result.warnings.append(f"input perturbations not run: phase {phase.number} declares "
                               f"aibench.input_perturbations but {why}; perturbations re-run the ingestion program "
                               "of the prediction step. Organiser: give the phase one, or remove the entry")
        return None
    try:
        found = rerun_perturbed(plan, bundle, submission, executor, work, **options)
    except Exception as error:  # noqa: BLE001 - the original run, its scores and its record stand
        result.warnings.append(f"input perturbations: the re-runs stopped: {type(error).__name__}: {error}")
        return None
    session.perturbed_runs = dict(found.folders)
    result.warnings += found.warnings
    return found


def rerun_perturbed(plan: PerturbationPlan, bundle: Bundle, submission: Path, executor: Any, work: Path,
                    **options: Any) -> PerturbedRuns:
    """Run ``submission`` again once per run of ``plan``, under ``work/perturbed/`` (module
    docstring); ``options`` are those of the original ``run_submission`` (worker, phase, task,
    limits, hide, unpack_limits). Never raises for a re-run that fails."""
    from codalab_worker_compat import run_submission

    found = PerturbedRuns()
    runner = PredictionOnly(executor)
    for run in plan.runs:
        folder = work / PERTURBED_DIR / run.run_name
        problem: list[str] = []

        def perturb(submission_dir: Path, reference: Path | None, _run: Any = run, _folder: Path = folder,
                    _problem: list[str] = problem) -> str | None:
            data = _folder / "bundle" / "input_data"  # where compat unpacks the phase's input_data
            try:
                if not data.is_dir():
                    raise PerturbationError("the phase has no input_data: there is nothing to perturb. Organiser: "
                                            "give the phase input_data, or remove the aibench.input_perturbations "
                                            "entry")
                perturb_in_place(data, plan.inputs, _run, plan.seed)
            except PerturbationError as error:
                _problem.append(str(error))
                return f"the inputs could not be perturbed: {error}"
            return None

        started = time.monotonic()
        result = run_submission(bundle, submission, runner, folder, before_run=perturb, **options)
        found.elapsed_s[run.run_name] = round(time.monotonic() - started, 3)
        if problem:  # the organiser's declaration: the same for every run, said once
            found.warnings.append(f"input perturbations not run: {problem[0]}")
            break
        output = _prediction_output(result)
        if output is None:
            found.warnings.append(f"perturbed run {run.run_name}: no prediction output ({result.message})")
            continue
        _write_status(output, result)
        found.folders[run.run_name] = output
    return found


def _prediction_output(result: RunResult) -> Path | None:
    step = next((s for s in result.steps if s.step == "prediction"), None)
    return step.output_dir if step is not None and step.output_dir.is_dir() else None


def _write_status(output: Path, result: RunResult) -> None:
    """How the re-run's prediction step ended, beside its output (written by aibench on the host)."""
    step = next(s for s in result.steps if s.step == "prediction")
    timed_out = any(p.reason == "timeout" for p in step.processes)
    codes = [p.exit_code for p in step.processes if p.exit_code not in (0, None)]
    failed = [p for p in step.processes if p.reason in ("oom", "error", "killed")]
    code = codes[0] if codes else (1 if failed else 0)
    message = "; ".join(p.message for p in step.processes if p.message)[:500]
    if timed_out:
        message = result.message or message
    status = {"exit_code": code, "timed_out": timed_out, "message": message,
              "elapsed_s": round(sum(p.elapsed_s for p in step.processes), 3)}
    path = output / RUN_STATUS_FILE
    if path.is_symlink() or path.exists():  # the participant's, not ours: replaced (a link is not followed)
        path.unlink()
    path.write_text(json.dumps(status) + "\n", encoding="utf-8")
