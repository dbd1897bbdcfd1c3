"""One submission through a bundle's phase, step by step, as a worker would run it.

v2 workers (§5.2) always run a prediction step, then a scoring step; each process
sees the fixed ``/app/...`` layout of §5.3 with ``/app/program`` as working directory.
The v1 worker (§4.1) runs the prediction step only for phases that are not
scoring-only, and gives each process host paths with the run directory as working
directory (§4.2, §4.5). What differs between the worker versions comes from
:data:`RULES` and is listed in :attr:`RunResult.rules_applied`.

What each process may see and write (issue 9) is stated in its ``ProcessSpec`` (the contract in
``_executor``): only the folders the worker gives that step (§4.2, §4.5, §5.3), nothing above
them, and the run folder, the bundle and ``hide`` hidden. The prediction step never gets the
reference data, except where the platform itself gives it to the ingestion program (v1
``$hidden``, v2 ``ingestion_only_during_scoring``): modelled, and warned about (``_trust``). Every
host-side copy, read or write in a folder a participant's process could write goes through
``_safefs`` (no link followed, no special file read). Where this is stricter than the workers:

* the workers copy predictions and result submissions following links, and write the worker's
  ``output/metadata`` through a link (as root, on the worker host): here such a run fails, and
  its message tells the participant which entry to replace by a regular file;
* the v1 worker mounts the whole run folder writable (``-v RUN:RUN``) and the reference data
  into every ingestion container: here each part is its own mount (inputs and programs
  read-only), the run folder exists only as their parent, and ``$hidden`` is mounted only for an
  ingestion command that names it;
* the workers mount ``/app/program`` and ``/app/input`` writable (§5.5): read-only here.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import yaml

from ._archive import ArchiveError, unpack
from ._bundle import Bundle, BundleError, Phase
from ._checks import unpack_part
from ._command import CommandError, split_command, substitute, variables
from ._executor import Executor, ProcessResult, ProcessSpec, ResourceLimits, RunningProcess
from ._metadata import MetadataError, ProgramMetadata, read_metadata
from ._platforms import RULES, Worker, WorkerRules
from ._safefs import UnsafeEntry, check_tree, copy_tree, write_file
from ._trust import phase_exposure, v1_hidden_warning
from ._unpack_limits import DEFAULT_LIMITS, UnpackLimits
from ._scores import LeaderboardRow, ScoresResult, map_to_columns, read_scores
from ._errors import CompatError

Step = Literal["prediction", "scoring"]
Status = Literal["finished", "failed"]
V2_MAX_TIME_LIMIT = 600  # MAX_EXECUTION_TIME_LIMIT on the default queue (§5.1)
LINK_FIX = ("Participant: leave only regular files and folders there (replace each link by a copy of the file, "
            "and write nothing but files)")


@dataclass
class StepResult:
    """The processes of one step and where their output went."""

    step: Step
    output_dir: Path
    processes: list[ProcessResult] = field(default_factory=list)
    logs: dict[str, Path] = field(default_factory=dict)


@dataclass
class RunResult:
    """The outcome of a run, as the platform would show it.

    ``status`` is ``finished`` or ``failed``; ``message`` is the platform's own failure
    text when it failed. ``row`` is the leaderboard row (``None`` when no scores reached
    the site).
    """

    worker: Worker
    phase: Phase
    status: Status = "finished"
    message: str = ""
    steps: list[StepResult] = field(default_factory=list)
    scores: ScoresResult | None = None
    row: LeaderboardRow | None = None
    warnings: list[str] = field(default_factory=list)
    rules_applied: list[str] = field(default_factory=list)
    time_limit_s: int = 0
    #: the scoring step's input folder (``ref/``, ``res/``), kept for what runs after scoring
    scoring_input: Path | None = None

    def fail(self, message: str) -> RunResult:
        if self.status != "failed":
            self.status, self.message = "failed", message
        return self


@dataclass(frozen=True)
class ReplacedPrediction:
    """What a caller's own prediction step did in place of the phase's programs (``run_submission``'s
    ``prediction``): its ``name`` (for the rules applied), the run's failure message (``""`` when it
    wrote its predictions into the step's output folder) and its log files."""

    name: str
    failure: str = ""
    logs: Mapping[str, Path] = field(default_factory=dict)


class TimeLimitExceeded(CompatError):
    """The step ran past the phase's execution time limit."""


def run_submission(bundle: Bundle, submission: Path, executor: Executor, work_dir: Path, *,
                   worker: Worker, phase: int | None = None, task: int | None = None,
                   limits: ResourceLimits = ResourceLimits(),
                   before_run: Callable[[Path, Path | None], str | None] | None = None,
                   hide: Sequence[Path] = (),
                   unpack_limits: UnpackLimits = DEFAULT_LIMITS,
                   ingestion_env: Mapping[str, str] | None = None,
                   after_prediction: Callable[[Path], None] | None = None,
                   prediction: Callable[[Path, Path | None, Path], ReplacedPrediction | None] | None = None
                   ) -> RunResult:
    """Run ``submission`` (a zip or a folder) through a phase of ``bundle`` in ``work_dir``.

    A v2 phase with several tasks runs each task as its own child submission on
    Codabench (§5.2); here one task runs, chosen by ``task`` (required then).

    ``before_run(submission_dir, reference_dir)`` is called once the submission and the
    bundle's parts are unpacked; a message it returns refuses the submission before anything
    runs (aibench's submission checks use it; no platform does this). ``unpack_limits`` bound
    what unpacking the submission and each of the bundle's parts may write (no platform has
    them); a submission over them fails the run, a bundle part raises :class:`BundleError`.

    ``hide``: host paths no process of the run may see (e.g. the folder holding other runs), on top
    of ``work_dir`` and the bundle, which are always hidden (``ProcessSpec.hidden``). An executor
    with a ``trust_warning(isolation)`` method (the local one) has its text added to the warnings
    whenever participant code ran.

    ``ingestion_env``: environment variables added to the ingestion program's processes in the
    prediction step (no platform has this; aibench gives its complexity plan this way), each value
    with the worker's variables substituted as in a command (``$ingestion_program``, ``$output``);
    a ``PYTHONPATH`` given is put before the one the worker sets (v1). ``after_prediction(output)``
    is called with the prediction step's output folder once that step ended, before the scoring
    step receives it as ``input/res`` (aibench takes its own files out there).

    ``prediction(submission_dir, input_data_dir, output_dir)`` is called when the prediction step
    starts (no platform has this; aibench's gateway of API-integrated submissions uses it): ``None``
    lets the phase's programs run as the platform would; a :class:`ReplacedPrediction` means it wrote
    the predictions into ``output_dir`` instead (the reference data is never given to it), and its
    ``failure``, when not empty, fails the run with that message.

    Never raises for a failing submission or program: the failure is in the result,
    worded as the platform words it. Raises :class:`BundleError` when the bundle itself
    cannot be run here (no such phase, programs that are dataset keys on a server).
    """
    rules = RULES[worker]
    work_dir = Path(os.path.abspath(work_dir))  # mount points are absolute paths
    chosen = _choose_task(_choose_phase(bundle, phase), task, bundle)
    limit = chosen.execution_time_limit or rules.default_time_limit
    if worker != "v1":
        limit = min(limit, V2_MAX_TIME_LIMIT)
    result = RunResult(worker, chosen, time_limit_s=limit)
    result.rules_applied += _describe(rules, limit)
    result.warnings += phase_exposure(bundle, chosen)
    work_dir.mkdir(parents=True, exist_ok=True)
    parts = _unpack_parts(bundle, chosen, submission, work_dir, worker, result, unpack_limits)
    if parts is None:
        return result
    if before_run is not None:
        refusal = before_run(parts.submission, parts.reference_data)
        if refusal:
            return result.fail(refusal)
    hidden = frozenset(Path(os.path.abspath(p)) for p in (work_dir, bundle.path, *hide))
    run = _Run(bundle, chosen, rules, executor, work_dir, parts, limits, limit, result, hidden,
               dict(ingestion_env or {}), after_prediction, prediction)
    try:
        run.execute()
    except UnsafeEntry as error:
        result.fail(error.message)
    except TimeLimitExceeded:
        own = limits.time_limit_s
        if own is not None and own < limit:  # the caller's (aibench's) limit, below the phase's
            result.fail(f"Execution Time Limit exceeded: a process ran past the time limit of {own:g} s per "
                        f"process set by aibench (limits.time_limit_s; the phase allows {limit} s)")
            return result
        result.fail(_time_limit_message(worker, limit))
        if not rules.enforces_time_limit:
            result.warnings.append(
                f"Codabench c7dbc75 does not enforce the time limit while a container runs (§12): there the "
                f"run would go on until Celery's soft limit ({limit} s + 20 min). aibench stopped it at {limit} s.")
    result.warnings += run.trust_warnings()
    return result


@dataclass
class _Parts:
    submission: Path
    scoring_program: Path
    ingestion_program: Path | None
    reference_data: Path | None
    input_data: Path | None


def _unpack_parts(bundle: Bundle, phase: Phase, submission: Path, work_dir: Path, worker: Worker,
                  result: RunResult, limits: UnpackLimits) -> _Parts | None:
    scratch = work_dir / "bundle"
    unpacked: dict[str, Path | None] = {}
    for name in ("scoring_program", "ingestion_program", "reference_data", "input_data"):
        target = phase.programs.get(name)
        if target is None:
            unpacked[name] = None
            continue
        # the same unpacking as the static checks (_checks), so that they see what the run sees
        unpacked[name], warnings = unpack_part(bundle, target, scratch, worker, limits=limits,
                                               part=f"{name} {target!r}", destination=scratch / name)
        result.warnings += [f"{name}: {w}" for w in warnings]
    if unpacked["scoring_program"] is None:
        raise BundleError(f"phase {phase.number} has no scoring program", file=bundle.spec_name)
    try:
        if submission.is_dir():  # unpack copies a folder following links: refuse links first
            check_tree(submission, "the submission folder", LINK_FIX)
        result.warnings += [f"submission: {w}" for w in unpack(submission, work_dir / "submission", worker,
                                                               limits=limits)]
    except (ArchiveError, UnsafeEntry) as error:
        result.fail(str(error))
        return None
    return _Parts(work_dir / "submission", unpacked["scoring_program"], unpacked["ingestion_program"],
                  unpacked["reference_data"], unpacked["input_data"])


class _Run:
    """The state of one run: directories, deadline, and the steps."""

    def __init__(self, bundle: Bundle, phase: Phase, rules: WorkerRules, executor: Executor, work: Path,
                 parts: _Parts, limits: ResourceLimits, limit: int, result: RunResult,
                 hidden: frozenset[Path] = frozenset(), ingestion_env: Mapping[str, str] | None = None,
                 after_prediction: Callable[[Path], None] | None = None,
                 prediction: Callable[[Path, Path | None, Path], ReplacedPrediction | None] | None = None) -> None:
        self.bundle, self.phase, self.rules, self.executor = bundle, phase, rules, executor
        self.work, self.parts, self.limits, self.result = work, parts, limits, result
        self.limit, self.hidden = limit, hidden
        self._v1_parts: dict[Step, dict[str, Path]] = {}
        self.v2 = rules.app_paths
        self.env = {"PYTHONUNBUFFERED": "1"} | ({"http_proxy": "", "https_proxy": ""} if self.v2 else {})
        self.ingestion_env = dict(ingestion_env or {})
        self.after_prediction = after_prediction
        self.prediction = prediction

    def execute(self) -> None:
        if self.rules.always_predicts or not self.phase.scoring_only:
            predictions = self._prediction_step()
            if predictions is None:
                return
            if self.after_prediction is not None:
                self.after_prediction(predictions)
        else:
            predictions = self.parts.submission
            self.result.rules_applied.append("v1 scoring-only phase: no prediction step; input/res is the "
                                             "submission itself (§4.1)")
        self._scoring_step(predictions)

    # -- prediction ---------------------------------------------------------------------

    def _prediction_step(self) -> Path | None:
        step = StepResult("prediction", self._fresh("prediction/output"))
        self.result.steps.append(step)
        submission = self.parts.submission
        if self.prediction is not None:
            replaced = self.prediction(submission, self.parts.input_data, step.output_dir)
            if replaced is not None:
                return self._replaced(step, replaced)
        metadata = self._metadata(submission, "submission")
        ingestion = self.parts.ingestion_program if not self.phase.ingestion_only_during_scoring else None
        started: list[tuple[str, ProgramMetadata | None, Sequence[str]]] = []
        if metadata is None:
            # v2 copies a result submission into output/ (§5.3); v1 renames program/ to output/ and
            # runs its ingestion program only for code (§4.4). Either way: no link followed.
            step.output_dir.rmdir()
            copy_tree(submission, step.output_dir, "the submission", LINK_FIX)
            if not self.v2:
                ingestion = None
        elif not metadata.commands and ingestion is None:
            self.result.warnings.append(
                "the submission holds a metadata file without a command: the worker treats it as code, runs "
                "nothing and the predictions are empty (§4.4, §5.3, §8 item 14); remove 'metadata' from "
                "result submissions")
        else:
            started.append(("program", metadata, metadata.commands))
        if ingestion is not None:
            ingestion_metadata = self._metadata(ingestion, "ingestion program")
            if ingestion_metadata is None or not ingestion_metadata.commands:
                self.result.fail("Program directory missing 'metadata.yaml/metadata'" if self.v2 and
                                 ingestion_metadata is None else "ingestion program metadata has no command")
                return None
            started.append(("ingestion", ingestion_metadata, ingestion_metadata.commands))
        if self.v2 and not started and metadata is not None:
            # Nothing ran, so nothing created output/: the worker cannot write output/metadata.
            # Read in compute_worker.py (c7dbc75 and 2023-10), not yet run on the real workers.
            self.result.fail(
                "Bad or empty zip file (the prediction step ran nothing, so it uploaded no predictions; "
                "its log says 'Metadata file not found')" if self.rules.worker == "codabench" else
                "the worker raises FileNotFoundError writing output/metadata: the submission stays in "
                "'Scoring' and never finishes")
            return None
        self._run_processes(step, started, concurrent=self.rules.concurrent_ingestion)
        if not self._write_output_metadata(step):
            return None
        if self.rules.prediction_exit_fails and any(_exit_code(p) not in (0, None) for p in step.processes):
            failed = next(p for p in step.processes if _exit_code(p) not in (0, None))
            self.result.fail(f"{failed.name} exited with code {_exit_code(failed)} (v1 fails a run on any non-zero "
                             f"exit code, §4.10)")
            return None
        return step.output_dir

    def _replaced(self, step: StepResult, replaced: ReplacedPrediction) -> Path | None:
        self.result.rules_applied.append(f"the prediction step is {replaced.name} (no platform has this): the "
                                         "phase's programs did not run")
        step.logs.update(replaced.logs)
        if replaced.failure:
            self.result.fail(replaced.failure)
            return None
        return step.output_dir if self._write_output_metadata(step) else None

    # -- scoring ------------------------------------------------------------------------

    def _scoring_step(self, predictions: Path) -> None:
        step = StepResult("scoring", self._fresh("scoring/output"))
        self.result.steps.append(step)
        inputs = self._fresh("scoring/input")
        copy_tree(predictions, inputs / "res", "the submission" if predictions == self.parts.submission else
                  "the prediction output (" + ("/app/output" if self.v2 else "$output") + ")", LINK_FIX)
        if self.parts.reference_data is not None:
            shutil.copytree(self.parts.reference_data, inputs / "ref")
        else:
            (inputs / "ref").mkdir()
        if not self.v2:
            for extra in ("history", "scores"):  # §4.2: extra v1 scoring inputs
                (inputs / extra).mkdir()
                (inputs / extra / "metadata").write_text("")
            (inputs / "coopetition").mkdir()
        metadata = self._metadata(self.parts.scoring_program, "scoring program")
        started: list[tuple[str, ProgramMetadata | None, Sequence[str]]] = []
        if metadata is None or not metadata.commands:
            self.result.warnings.append("the scoring program has no metadata command: the worker skips it (§5.4)")
        else:
            started.append(("program", metadata, metadata.commands))
        if self.phase.ingestion_only_during_scoring and self.parts.ingestion_program is not None:
            ingestion = self._metadata(self.parts.ingestion_program, "ingestion program")
            if ingestion is not None and ingestion.commands:
                started.append(("ingestion", ingestion, ingestion.commands))  # gather order: program first
        self._scoring_inputs = self.result.scoring_input = inputs
        self._run_processes(step, started, concurrent=self.rules.concurrent_ingestion)
        if not self.v2 and not self._write_output_metadata(step):
            return
        codes = [_exit_code(p) for p in step.processes if p.name.startswith("scoring program")]
        exit_code = next((c for c in codes if c not in (0, None)), codes[-1] if codes else None)
        if self.rules.scorer_exit_fails and exit_code not in (0, None):
            # c7dbc75 first PATCHes "program_rc=N, async=[...]", then the message the site keeps.
            self.result.fail(f"Child task failed or non-zero return code (program_rc={exit_code})" if self.v2 else
                             f"scoring program exited with code {exit_code} (§4.10)")
        check_tree(step.output_dir, "the scoring output", "Organiser: the scoring program must write regular files "
                   "only" + (" (participant code imported by the ingestion program runs in this step too)"
                             if any("ingestion" in p.name for p in step.processes) else ""))
        scores = read_scores(step.output_dir, self.rules.worker, scorer_exit_code=exit_code)
        self.result.scores = scores
        if scores.outcome == "failed":
            self.result.fail(scores.error or "no scores")
        if self.result.status == "failed":
            return  # v2 workers raise before push_output: no output/metadata, no scoring result
        if self.v2 and not self._write_output_metadata(step):
            return
        row = self.result.row = map_to_columns(scores, self.bundle.columns, self.rules.worker)
        self.result.warnings += row.warnings
        if row.outcome == "failed":
            self.result.fail(row.error or "scores could not be stored")
        elif row.outcome != "ok":
            self.result.warnings.append(f"the run finishes but no score reaches the leaderboard: {row.error}")

    # -- processes ----------------------------------------------------------------------

    def _run_processes(self, step: StepResult, started: Sequence[tuple[str, ProgramMetadata | None, Sequence[str]]],
                       *, concurrent: bool) -> None:
        deadline = time.monotonic() + self.limit
        specs: list[list[ProcessSpec]] = [self._specs(step, role, commands) for role, _, commands in started]
        if concurrent:
            running = [(self.executor.start(chain[0]), chain[1:]) for chain in specs if chain]
            self._wait_all(step, running, deadline)
        else:
            for chain in specs:
                if chain:
                    self._wait_all(step, [(self.executor.start(chain[0]), chain[1:])], deadline)

    def _wait_all(self, step: StepResult, running: Sequence[tuple[RunningProcess, Sequence[ProcessSpec]]],
                  deadline: float) -> None:
        """Wait for each process chain (v1 list commands run in sequence) until the deadline."""
        pending = list(running)
        try:
            while pending:
                process, rest = pending[0]
                remaining = deadline - time.monotonic()
                outcome = process.wait(timeout=max(remaining, 0.0))
                if outcome is None or outcome.reason == "timeout":  # the step's deadline or the executor's limit
                    timed_out = [outcome] if outcome is not None else []
                    timed_out += [replace(p.kill(), reason="timeout") for p, _ in pending[len(timed_out):]]
                    pending.clear()
                    step.processes += timed_out
                    raise TimeLimitExceeded
                pending.pop(0)
                step.processes.append(outcome)
                if rest:
                    pending.append((self.executor.start(rest[0]), rest[1:]))
                    if not self.v2:  # the v1 alarm is set per command (§4.6, §7)
                        deadline = time.monotonic() + self.limit
        except BaseException:  # time limit, or the host process is being stopped: leave nothing running
            step.processes += [process.kill() for process, _ in pending]
            raise

    def _specs(self, step: StepResult, role: str, commands: Sequence[str]) -> list[ProcessSpec]:
        kind: Literal["program", "ingestion"] = "ingestion" if role == "ingestion" else "program"
        label = {"prediction": {"program": "submission", "ingestion": "ingestion program"},
                 "scoring": {"program": "scoring program", "ingestion": "ingestion program"}}[step.step][kind]
        specs = []
        for index, command in enumerate(commands):
            name = label if len(commands) == 1 else f"{label} #{index + 1}"
            logs = self.work / "logs"
            logs.mkdir(exist_ok=True)
            stem = f"{step.step}_{label.replace(' ', '_')}" + (f"_{index + 1}" if len(commands) > 1 else "")
            stdout, stderr = logs / f"{stem}_stdout.txt", logs / f"{stem}_stderr.txt"
            step.logs[f"{name} stdout"], step.logs[f"{name} stderr"] = stdout, stderr
            table = self._variables(kind, step.step)
            if not self.v2 and kind == "program":
                command = command.strip()  # the v1 worker strips program commands, not ingestion ones
            try:
                argv = split_command(substitute(command, table), self.rules.worker)
            except CommandError as error:
                argv = ["/bin/false"]
                self.result.warnings.append(f"{name}: {error}")
            hidden = not self.v2 and kind == "ingestion" and "$hidden" in command
            if hidden and self.parts.reference_data is not None:
                self.result.warnings.append(v1_hidden_warning(self.phase))
            mounts, cwd, env = self._layout(kind, step, v1_hidden=hidden)
            if kind == "ingestion" and step.step == "prediction" and self.ingestion_env:
                env = self._with_ingestion_env(env, table)
            specs.append(ProcessSpec(name, tuple(argv), cwd, stdout, stderr, mounts, env, self._limits(),
                                     self._read_only(mounts), self.hidden))
        return specs

    def _with_ingestion_env(self, env: dict[str, str], table: Sequence[tuple[str, str]]) -> dict[str, str]:
        """``env`` with the caller's ``ingestion_env`` (values substituted; a ``PYTHONPATH`` first)."""
        added = {name: substitute(value, table) for name, value in self.ingestion_env.items()}
        if "PYTHONPATH" in added and env.get("PYTHONPATH"):
            added["PYTHONPATH"] = f"{added['PYTHONPATH']}:{env['PYTHONPATH']}"
        return env | added

    def _variables(self, role: Literal["program", "ingestion"], step: Step) -> list[tuple[str, str]]:
        if self.v2:
            return variables(self.rules.worker, role=role, step=step,
                             ingestion_only_during_scoring=self.phase.ingestion_only_during_scoring)
        return variables(self.rules.worker, role=role, step=step, run_dir=self._v1_run_dir(role, step),
                         hidden_dir=self.parts.reference_data, shared_dir=self._fresh_keep("shared"))

    def _layout(self, role: str, step: StepResult, *,
                v1_hidden: bool = False) -> tuple[dict[str, Path], str, dict[str, str]]:
        """Mounts, working directory and environment of a process (§4.5, §5.3, §5.5): only the
        folders the worker gives that container, at the paths it uses."""
        if not self.v2:
            return self._v1_layout(role, step, v1_hidden)
        mounts: dict[str, Path] = {"/app/output": step.output_dir, "/app/data": self._fresh_keep("data")}
        if self.parts.input_data is not None and (step.step == "prediction" or
                                                  self.phase.ingestion_only_during_scoring):
            mounts["/app/input_data"] = self.parts.input_data
        if step.step == "prediction":
            if role == "ingestion":
                mounts["/app/program"] = self.parts.ingestion_program or self.parts.submission
                mounts["/app/ingested_program"] = self.parts.submission
            else:
                mounts["/app/program"] = self.parts.submission
        else:
            mounts["/app/input"] = self._scoring_inputs
            mounts["/app/shared"] = self._fresh_keep("shared")
            if role == "ingestion":
                mounts["/app/program"] = self.parts.ingestion_program or self.parts.scoring_program
                mounts["/app/ingested_program"] = self._scoring_inputs / "res"
            else:
                mounts["/app/program"] = self.parts.scoring_program
        return mounts, "/app/program", dict(self.env)

    def _v1_layout(self, role: str, step: StepResult,
                   v1_hidden: bool) -> tuple[dict[str, Path], str, dict[str, str]]:
        """v1 (§4.2, §4.5): the run folder's parts and the shared folder at the worker's host paths;
        the reference data only for an ingestion command that names ``$hidden``."""
        run_dir = self._v1_run_dir(role, step.step)
        env = dict(self.env)
        if role == "ingestion":
            env["PYTHONPATH"] = f"$PYTHONPATH:{run_dir / 'program'}"  # literal: no shell (§4.5)
        mounts = {str(run_dir / name): source for name, source in self._v1_parts[step.step].items()}
        mounts[str(self._fresh_keep("shared"))] = self._fresh_keep("shared")
        if v1_hidden and self.parts.reference_data is not None:  # -v HIDDEN:HIDDEN, ingestion only (§4.5)
            mounts[str(self.parts.reference_data)] = self.parts.reference_data
        return mounts, str(run_dir), env

    def _v1_run_dir(self, role: str, step: Step) -> Path:
        """The v1 run directory: program/, input/, output/, temp/ side by side (§4.2). Each is
        its own mount (``_v1_parts``); on the host the run directory holds symlinks to them, for
        the local executor without a sandbox (path rewriting), which shows host paths as they are."""
        run = self.work / f"v1-{step}" / "run"
        if step not in self._v1_parts:
            stepdir = self.work / step
            parts = {"program": self.parts.submission, "input": self.parts.input_data or self._fresh_keep("empty-input")}
            if step == "prediction" and self.parts.ingestion_program is not None:
                parts["ingestion_program"] = self.parts.ingestion_program
            if step == "scoring":
                parts = {"program": self.parts.scoring_program, "input": self._scoring_inputs}
            parts |= {"output": stepdir / "output", "temp": self._fresh(f"{step}/temp")}
            if run.exists():
                shutil.rmtree(run)
            run.mkdir(parents=True)
            for name, source in parts.items():
                _link(source, run / name)
            self._v1_parts[step] = {name: source.resolve() for name, source in parts.items()}
        return run

    def _limits(self) -> ResourceLimits:
        """Each process's limits: the caller's, with a time limit no longer than the phase's (the
        runner enforces the step's deadline too; the executor's limit also bounds a container
        whose host process dies)."""
        own = self.limits.time_limit_s
        return replace(self.limits, time_limit_s=self.limit if own is None else min(own, self.limit))

    def _read_only(self, mounts: dict[str, Path]) -> frozenset[str]:
        """What a process only reads (executors mount it read-only): every mount but the output,
        shared and (v1) temp folders."""
        if self.v2:
            return frozenset(mounts) - {"/app/output", "/app/shared"}
        writable = {str(self.work / "shared")} | {c for c in mounts if c.endswith(("/run/output", "/run/temp"))}
        return frozenset(mounts) - writable

    def trust_warnings(self) -> list[str]:
        """The executor's ``trust_warning`` for each isolation that participant code ran under
        (every prediction-step process, and ingestion during scoring, which imports it)."""
        describe = getattr(self.executor, "trust_warning", None)
        if describe is None:
            return []
        isolations = [p.isolation for s in self.result.steps for p in s.processes
                      if s.step == "prediction" or "ingestion" in p.name]
        return [describe(i) for i in dict.fromkeys(isolations)]

    # -- helpers ------------------------------------------------------------------------

    def _metadata(self, folder: Path, what: str) -> ProgramMetadata | None:
        try:
            metadata = read_metadata(folder, self.rules.worker)
        except MetadataError as error:
            self.result.warnings.append(f"{what}: {error}")
            return None
        if metadata is not None:
            self.result.warnings += [f"{what}: {w}" for w in metadata.warnings]
        return metadata

    def _write_output_metadata(self, step: StepResult) -> bool:
        """The worker's own ``output/metadata`` (§4.8 appended on v1; §5.8 written on v2, and
        a run fails when the program already wrote one)."""
        path = step.output_dir / "metadata"
        program = [p for p in step.processes if "ingestion" not in p.name]
        ingestion = [p for p in step.processes if "ingestion" in p.name]
        record: dict[str, object] = {
            "exitCode": _exit_code(program[-1]) if program else None,
            "elapsedTime": sum(p.elapsed_s for p in (program or ingestion)) if program or ingestion or not self.v2
            else None,
            "ingestionExitCode": _exit_code(ingestion[-1]) if ingestion else None,
        }
        if self.v2:
            record["ingestionElapsedTime"] = sum(p.elapsed_s for p in ingestion) if ingestion else None
            if os.path.lexists(path):
                self.result.fail("Error, the output directory already contains a metadata file. This file is used "
                                 "to store exitCode and other data, do not write to this file manually.")
                return False
        # Never through a link (the workers would follow it, as root on their host): refused instead.
        write_file(path, yaml.safe_dump(record), append=not self.v2, what=f"the {step.step} output",
                   fix="The worker writes its exit codes into output/metadata. Participant: do not create "
                       "'metadata' in the output folder (as a link or otherwise)")
        return True

    def _fresh(self, name: str) -> Path:
        path = self.work / name
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def _fresh_keep(self, name: str) -> Path:
        path = self.work / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def _exit_code(process: ProcessResult) -> int | None:
    """The exit code the worker records: a command that cannot start exits 126 (not executable)
    or 127 (not found) under ``docker run``, as the executor's ``error`` result does not say."""
    if process.reason != "error":
        return process.exit_code
    return 126 if "not executable" in process.message else 127


def _link(source: Path, target: Path) -> None:
    source.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source.resolve(), target_is_directory=True)


def _choose_phase(bundle: Bundle, phase: int | None) -> Phase:
    if not bundle.phases:
        raise BundleError("the bundle declares no phase", file=bundle.spec_name)
    if phase is None:
        return bundle.phases[0]
    for candidate in bundle.phases:
        if candidate.number == phase:
            return candidate
    numbers = ", ".join(str(p.number) for p in bundle.phases)
    raise BundleError(f"no phase {phase} in the bundle (phases: {numbers})", file=bundle.spec_name)


def _choose_task(phase: Phase, task: int | None, bundle: Bundle) -> Phase:
    if len(phase.tasks) <= 1 and task in (None, 0):
        return phase
    if task is None:
        raise BundleError(
            f"phase {phase.number} has {len(phase.tasks)} tasks; Codabench runs each as its own child "
            f"submission (§5.2): choose one with task 0..{len(phase.tasks) - 1} (aibench run --task)",
            file=bundle.spec_name)
    if not 0 <= task < len(phase.tasks):
        raise BundleError(f"phase {phase.number} has no task {task} (tasks 0..{len(phase.tasks) - 1})",
                          file=bundle.spec_name)
    return replace(phase, programs=phase.tasks[task])


def _time_limit_message(worker: Worker, limit: int) -> str:
    if worker == "v1":
        return "Execution time limit exceeded!"
    return f"Execution Time Limit exceeded. Limit was {limit} seconds"


def _describe(rules: WorkerRules, limit: int) -> list[str]:
    split = "command.split(' ')" if rules.command_split == "space" else "shlex.split"
    return [
        f"worker {rules.worker}: commands split with {split}; "
        + ("processes see /app/... with cwd /app/program (§5.3)" if rules.app_paths
           else "processes see host paths with the run directory as cwd (§4.5)"),
        f"time limit {limit} s" + ("" if rules.enforces_time_limit else " (not enforced by this worker, §12)"),
        "ingestion and program run " + ("concurrently" if rules.concurrent_ingestion else "one after the other"),
        "a non-zero scoring exit code " + ("fails the run" if rules.scorer_exit_fails else "is ignored (§12)"),
    ]
