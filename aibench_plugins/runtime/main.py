"""The wrapped scoring program's main: ``run.py score INPUT OUTPUT -- COMMAND`` (a wrapped
ingestion program's ``run.py ingest OUTPUT -- COMMAND`` is :mod:`.ingest`).

Scoring, in order:

0. the wrapped ingestion's measurements are taken out of ``input/res`` (:mod:`.measurements`),
   and so are the complexity meters' (``.aibench_complexity.json``,
   :mod:`aibench_plugins.complexity.file`, for the session's ``complexity_file``), so that the
   original command sees the participant's files as it would unwrapped;
1. the manifest's submission checks run on the predictions (``input/res`` without the
   worker's ``metadata``, a :class:`~aibench_plugins.data.views.FolderView` read by the rules
   ``aibench run`` reads an upload by); an ``error`` problem refuses the submission: the
   original command does not run, no scores are written, the exit status is 1;
2. the original command runs unchanged (:mod:`.child`); when it fails, or writes no
   scores the platform can read, its exit status and output are left exactly as they are;
3. the metrics run on ``input/res`` and ``input/ref``, each isolated with a time limit; with
   more than one usable core they start with the original command, in a process of their
   own (:mod:`.background`), and their result is used only if the original succeeds;
4. their values are merged into the scores file (:mod:`.merge`); a value no worker's score
   field can store is a failure of its column (:mod:`aibench_plugins.evaluation.score_fields`);
5. ``detailed_results.html`` and ``aibench/report.json`` are written to the output.

A plugin that fails is recorded and shown; unless the manifest marks it required the
submission keeps its original scores. When something required fails, the scores files are
moved to ``output/aibench/`` (kept, but found by no worker) and the exit status is 1, so
the submission fails the same way on every worker (§12). An error of the runtime itself
after the original command succeeded never costs the original scores.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.capture import capture_fds
from ..core.isolate import current_plugin_log, plugin_log
from .background import Metrics, usable_cores
from .child import ChildResult, Original, say
from .measurements import (
    MEASUREMENTS_FILE,
    IngestionFile,
    Measurement,
    read_prediction_measurements,
    take_ingestion_measurements,
)
from ..manifest.wraprecord import WrapRecord
from .perturbed_runs import take_perturbed_runs

if TYPE_CHECKING:
    from codalab_worker_compat import Worker

    from ..data.views import FolderView
    from ..evaluation.session import EvaluationSession

REPORT_DIR = "aibench"
PLUGIN_LOG, METRICS_LOG = "plugins.log", "metrics.log"


def run(argv: Sequence[str], home: str) -> int:
    """Dispatch ``argv`` (after ``run.py``); ``home`` is the ``_aibench`` folder."""
    split = list(argv).index("--")
    head, command = list(argv[:split]), list(argv[split + 1:])
    if head[:1] == ["ingest"]:
        from .ingest import run as ingest

        return ingest(argv, home)
    if head[:1] == ["score"] and len(head) == 3:
        return _score(Path(home), Path(head[1]), Path(head[2]), command)
    say(f"usage: run.py score INPUT OUTPUT -- COMMAND... | ingest OUTPUT -- COMMAND... (got {head})")
    return 2


class _Scoring:
    """The state of one scoring run of a wrapped program."""

    def __init__(self, home: Path, inputs: Path, output: Path, command: list[str]) -> None:
        self.home, self.inputs, self.output, self.command = home, inputs, output, command
        self.started = time.monotonic()
        self.record = WrapRecord.load(home)
        self.host: Any = None
        self.concepts: list[Any] = []
        self.columns: list[dict[str, Any]] = []
        self.measurements: list[dict[str, Any]] = []
        self.ingestion = IngestionFile([])
        self.perturbed_runs: dict[str, Path] = {}  # the prediction step re-run on perturbed inputs
        self.complexity_file: Any = None  # what the prediction step's complexity meters measured
        self.wrapped: dict[str, Any] = {
            "original_command": self.record.original_commands[-1],
            "runtime": {"aibench_version": self.record.aibench_version, "python": platform.python_version(),
                        "vendored": list(self.record.vendored)},
        }
        self.report: dict[str, Any] = {}

    def run(self) -> int:
        """Score; plugin code's output goes to ``aibench/plugins.log`` (head and tail kept), never
        to the program's streams, which are the platform's log."""
        with plugin_log(self._report_file(PLUGIN_LOG)):
            return self._run()

    def _report_file(self, name: str) -> Path | None:
        """``output/aibench/<name>``, or ``None`` when the folder cannot be made."""
        try:
            (self.output / REPORT_DIR).mkdir(exist_ok=True)
        except OSError:
            return None
        return self.output / REPORT_DIR / name

    def _run(self) -> int:
        from ..evaluation.session import Evaluation

        evaluation = Evaluation()
        self._take_ingestion_measurements()  # before the original starts: it must not see the file
        self._take_perturbed_runs()  # nor the re-runs' folder
        self._take_complexity_file()  # nor the complexity meters' measurements
        beside = usable_cores() > 1
        # Without checks to pass first, the original starts at once and the plugins load beside it.
        original = Original(self.command) if beside and not self._declares_checks() else None
        plugins = self._load_plugins(evaluation)
        if plugins is not None:
            evaluation = plugins.result
        if plugins is not None and original is None:
            refusal = self._checks(plugins, evaluation)
            if refusal:
                return self._finish("failed", refusal, evaluation, exit_code=1)
        metrics = self._start_metrics(plugins, evaluation) if beside else None
        try:
            child = (original or Original(self.command)).wait()
            if child.message:
                say(child.message)
            self._measure(child)
            if child.exit_code != 0:
                say(f"the scoring program exited with code {child.exit_code}: its output is left as it is and the "
                    "plugins did not run")
                self._write_report("failed", f"the scoring program exited with code {child.exit_code}", evaluation,
                                   html=False)
                return child.exit_code
            try:
                return self._after_original(plugins, evaluation, metrics)
            except Exception as error:  # noqa: BLE001 - the original scores are never lost to a runtime bug
                say(f"internal error after the scoring program succeeded; the original scores stand:\n"
                    f"{traceback.format_exc()}")
                return self._finish("finished", f"aibench runtime error: {type(error).__name__}: {error}",
                                    evaluation, exit_code=0)
        finally:
            if metrics is not None:
                metrics.cancel()
            for folder in {p.parent.parent for p in self.perturbed_runs.values()}:  # the temporary copy
                shutil.rmtree(folder, ignore_errors=True)

    # -- steps --------------------------------------------------------------------------

    def _take_ingestion_measurements(self) -> None:
        """The wrapped ingestion's measurements, taken out of ``input/res`` (:mod:`.measurements`)."""
        try:
            self.ingestion = take_ingestion_measurements(self.inputs / "res", self.record.manifest_sha256)
        except Exception as error:  # noqa: BLE001 - measurements never change the outcome
            say(f"the ingestion's measurements could not be read: {type(error).__name__}: {error}")
            return
        if self.ingestion.kept:
            say(self.ingestion.kept)

    def _take_perturbed_runs(self) -> None:
        """The wrapped ingestion's re-runs on perturbed inputs, moved out of ``input/res``
        (:mod:`.perturbed_runs`), for the robustness checker."""
        try:
            self.perturbed_runs, note = take_perturbed_runs(self.inputs / "res", self.record.manifest_sha256)
        except Exception as error:  # noqa: BLE001 - the re-runs never change the outcome
            note = f"the perturbed runs could not be taken: {type(error).__name__}: {error}"
        if note:
            say(note)

    def _take_complexity_file(self) -> None:
        """The complexity meters' measurements of the prediction step, taken out of ``input/res``
        (:mod:`aibench_plugins.complexity.file`), for the session."""
        from ..complexity.file import take_complexity_file

        try:
            self.complexity_file, note = take_complexity_file(self.inputs / "res", self.record.manifest_sha256)
        except Exception as error:  # noqa: BLE001 - the measurements never change the outcome
            note = f"the complexity measurements could not be taken: {type(error).__name__}: {error}"
        if note:
            say(note)
        if self.complexity_file is not None:
            self.wrapped["complexity_file"] = {"entries": [e.key for e in self.complexity_file.entries],
                                               "kept": self.complexity_file.kept}

    def _load_plugins(self, evaluation: Any) -> EvaluationSession | None:
        """The evaluation session of the manifest and its plugins; ``None`` (recorded in
        ``evaluation``) when they cannot load."""
        from ..evaluation.session import EvaluationSession, PluginFailure
        from ..core.errors import RuntimeRecordError
        from ..core.host import PluginHost
        from ..manifest.loading import Manifest

        try:
            data = (self.home / "aibench.json").read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if digest != self.record.manifest_sha256:
                raise RuntimeRecordError("_aibench/aibench.json changed after 'aibench wrap' checked it; wrap the bundle "
                                 "again")
            manifest = Manifest(json.loads(data), "aibench.json", digest)
            host = PluginHost(raise_failures=False, strict=False, check_schemas=False)
            with capture_fds(current_plugin_log()):  # a plugin printing at import
                host.load_builtins(host_side=False)
                host.load_requested(manifest.plugin_requests)
                host.freeze()
        except Exception as error:  # noqa: BLE001 - recorded; the original still runs
            required = bool(self.record.required)
            evaluation.failures.append(PluginFailure("aibench runtime", "runtime", None,
                                                     f"{type(error).__name__}: {error}", required))
            say(f"the plugins cannot run: {type(error).__name__}: {error}")
            return None
        self.host = host
        # the workers that may run this bundle, whose score fields every value must fit
        platforms = ("v1", "codabench") if self.record.bundle_platform == "v1" else ("codabench", "ai4mediabench")
        session = EvaluationSession(manifest, host, self.record.manifest_phase, platforms=platforms)  # records the plugins that failed
        session.perturbed_runs = dict(self.perturbed_runs)
        session.complexity_file = self.complexity_file
        self.concepts = manifest.concepts
        return session

    def _checks(self, session: EvaluationSession, evaluation: Any) -> str | None:
        """The session's checks on the participant's files; the refusal, or ``None``."""
        from ..evaluation.session import PluginFailure

        try:
            with _predictions_view(self.inputs / "res", worker_metadata=self._prediction_step_ran(),
                                   measurements=self.ingestion.ours,
                                   complexity=self.complexity_file is not None) as view:
                session.before_scoring(view, self.inputs / "ref")
        except Exception as error:  # noqa: BLE001 - no fork left (pids limit), an unreadable folder: recorded
            required = any(e.required for e in session.plan.checks)
            evaluation.failures.append(PluginFailure("aibench checks", "check", None,
                                                     f"the checks could not run: {type(error).__name__}: {error}",
                                                     required))
        for problem in evaluation.problems:
            say(f"check: {problem}")
        return session.refusal()

    def _prediction_step_ran(self) -> bool:
        """Whether a worker's prediction step ran before this scoring (and wrote ``input/res/metadata``):
        always on a v2 worker (the ``/app`` layout; Codabench runs one even for a converted v1
        scoring-only phase, §5.3), on v1 unless the phase is scoring-only."""
        return self.record.predicts or self.inputs.is_relative_to("/app")

    def _declares_checks(self) -> bool:
        """Whether the manifest has submission checks for this program's phase (read cheaply,
        before anything loads; a manifest that cannot be read counts as having some)."""
        try:
            document = json.loads((self.home / "aibench.json").read_bytes())
            phase = (document.get("phases") or {}).get(self.record.manifest_phase or "", {})
            return bool(phase.get("checks", document.get("checks")))
        except (OSError, ValueError, AttributeError):
            return True

    def _collect_metrics(self, metrics: Metrics | None, session: EvaluationSession, evaluation: Any) -> None:
        """The metrics' columns and failures into ``evaluation``; stopped at the time budget."""
        from ..evaluation.session import PluginFailure

        def failed(message: str) -> None:
            evaluation.failures.append(PluginFailure("aibench runtime", "runtime", None, message,
                                                     bool(self.record.required)))

        limit = self.record.time_limit_s
        within = f"the phase's time limit ({limit} s, less a margin of {_margin(limit):g} s)"
        budget = self._budget_s()
        if metrics is None:
            if not evaluation.failed_required:
                failed("the metrics could not start: no process could be forked")
        elif budget <= 0:
            metrics.cancel()
            failed(f"no time was left for the metrics within {within}")
        else:
            wait = session.metrics_time_limit_s
            found = metrics.result(min(wait, budget))
            if found is not None:
                evaluation.columns += found[0]
                evaluation.failures += found[1]
                evaluation.analyses += found[2]
                evaluation.complexity = found[3]
            elif budget < wait and str(metrics.error).startswith("the metrics did not finish"):
                failed(f"the metrics were stopped to stay within {within}")
            else:
                failed(str(metrics.error))

    def _budget_s(self) -> float:
        """Seconds left for the plugins before the phase's time limit, less a margin: a worker
        that enforces the limit (AI4Media-Bench, v1) would fail the whole submission, §12."""
        limit = self.record.time_limit_s
        return limit - _margin(limit) - (time.monotonic() - self.started)

    def _start_metrics(self, session: EvaluationSession | None, evaluation: Any) -> Metrics | None:
        """The session's ``after scoring`` stage, started now in a process of their own
        (:mod:`.background`), or ``None`` when the image lacks what they need."""
        if session is None or _missing_modules(("numpy", "pandas")) or evaluation.failed_required:
            return None
        before = len(session.result.columns), len(session.result.failures), len(session.result.analyses)
        # what the scoring-side complexity meters read: the worker's and the ingestion's measurements
        # of the prediction step, known before the original scorer ends
        session.step_measurements = [*read_prediction_measurements(self.inputs / "res",
                                                                   trust_worker_metadata=self.record.predicts),
                                     *self.ingestion.measurements]
        session.prediction_step_ran = self._prediction_step_ran()

        def compute() -> tuple[list[Any], list[Any], list[Any], Any]:
            found = session.after_scoring(self.inputs / "res", self.inputs / "ref")
            return (found.columns[before[0]:], found.failures[before[1]:], found.analyses[before[2]:],
                    found.complexity)

        try:
            return Metrics(compute, self._report_file(METRICS_LOG))
        except OSError as error:  # no process left to fork (a pids limit): the metrics run after the original
            say(f"the metrics cannot run in a process of their own ({error})")
            return None

    def _after_original(self, plugins: EvaluationSession | None, evaluation: Any, metrics: Metrics | None) -> int:
        from codalab_worker_compat import read_scores

        from ..evaluation.session import PluginFailure
        from .merge import merge_scores, scores_file, withhold_scores

        platform_name: Worker = "v1" if self.record.bundle_platform == "v1" else "codabench"
        path = scores_file(self.output, self.record.bundle_platform)
        original = read_scores(self.output, platform_name) if path is not None else None
        if original is None or original.outcome != "ok":
            why = "wrote no scores file" if original is None else f"wrote scores the platform cannot read " \
                                                                  f"({original.error})"
            say(f"the scoring program {why}: its output is left as it is and the plugins did not run")
            self._write_report("failed", f"the scoring program {why}", evaluation, html=False)
            return 0
        self.columns = [{**c, "value": _float(original.scores.get(str(c["key"])))} for c in self.record.columns]
        missing = _missing_modules(("numpy", "pandas"))
        if plugins is not None and missing:
            evaluation.failures.append(PluginFailure(
                "aibench runtime", "runtime", None, f"this image has no {' and no '.join(missing)}: the metrics need "
                "numpy and pandas (codalab/codalab-legacy:py312 has both); use such an image in competition.yaml",
                bool(self.record.required)))
        elif plugins is not None:
            self._collect_metrics(metrics or self._start_metrics(plugins, evaluation), plugins, evaluation)
        for failure in evaluation.failures:
            say(f"plugin failure: {failure.component}" + (f" [{failure.key}]" if failure.key else "")
                + f": {failure.message}" + (" (required)" if failure.required else " (not required)"))
        for flag in evaluation.flags:
            say(f"{'threshold failed' if flag.action == 'fail' else 'flag'}: {flag.message}")
        failure = evaluation.failure()
        if failure:
            moved = withhold_scores(self.output, self.output / REPORT_DIR)
            message = (f"{failure}; the scores ({', '.join(moved)}) are kept in {REPORT_DIR}/ where no worker "
                       "reads them")
            return self._finish("failed", message, evaluation, exit_code=1)
        additions = {c.key: c.value for c in evaluation.columns if c.value is not None}
        merge = merge_scores(self.output, additions, self.record.bundle_platform)
        for key, why in merge.refused.items():
            say(f"score {key!r} not added: {why}")
        if merge.error:
            say(f"plugin scores not added: {merge.error}")
        self.wrapped["merge"] = {"file": merge.file, "written": sorted(merge.written), "refused": merge.refused,
                                 "error": merge.error}
        say(f"added {len(merge.written)} plugin score(s) to {merge.file}")
        return self._finish("finished", "", evaluation, exit_code=0)

    # -- report -------------------------------------------------------------------------

    def _measure(self, child: ChildResult) -> None:
        found = read_prediction_measurements(self.inputs / "res", trust_worker_metadata=self.record.predicts)
        found += self.ingestion.measurements
        found += [Measurement("scoring program wall time", round(child.elapsed_s, 3), "s", "scoring", "scoring"),
                  Measurement("scoring program peak memory", round(child.peak_rss_mb, 1), "MiB", "scoring",
                              "scoring")]
        self.measurements = [m.to_json() for m in found]

    def _finish(self, status: str, message: str, evaluation: Any, *, exit_code: int) -> int:
        if message:
            say(message)
        self._write_report(status, message, evaluation, html=True)
        return exit_code

    def _write_report(self, status: str, message: str, evaluation: Any, *, html: bool) -> None:
        """``aibench/report.json`` (the report document, as ``aibench run`` writes it) always; the page
        too unless the original output is left untouched."""
        from ..evaluation.report import report_document

        log = current_plugin_log()
        phases = ", ".join(str(p.get("name") or p.get("number")) for p in self.record.phases)
        self.report = report_document(
            producer="wrapped runtime", status=status, message=message,
            platform=f"{self.record.bundle_platform} bundle (wrapped)", phase={"number": None, "name": phases},
            manifest_sha256=self.record.manifest_sha256, columns=self.columns, evaluation=evaluation,
            measurements=self.measurements, concepts=self.concepts, wrapped=self.wrapped,
            plugin_output={"log": f"{REPORT_DIR}/{PLUGIN_LOG}", "bytes": log.written, "cut_bytes": log.cut,
                           "tail": log.tail_text(2048)})
        try:
            folder = self.output / REPORT_DIR
            folder.mkdir(exist_ok=True)
            (folder / "report.json").write_text(json.dumps(self.report, indent=2, default=str) + "\n",
                                                encoding="utf-8")
            if html:
                self._write_page(folder)
        except Exception as error:  # noqa: BLE001 - a report failure must not change the outcome
            say(f"could not write the detailed results: {type(error).__name__}: {error}")

    def _write_page(self, folder: Path) -> None:
        """``detailed_results.html``, unless the scoring program wrote a page of its own: the
        worker shows ``detailed_results.html`` or else the first ``*.html`` (§5.7), so then ours
        goes to ``aibench/`` and theirs stays the one shown."""
        from ..evaluation.page import collect_sections, render_detailed_results

        sections = collect_sections(self.host, self.report) if self.host is not None else []
        page = render_detailed_results(self.report, sections=sections)
        # an empty page is not the scorer's: the v1 worker creates output/detailed_results.html empty
        # before the scoring program runs (codalab-contract.md §4.8), and it uploads that file
        own = [p.name for p in self.output.glob("*.html") if p.stat().st_size > 0]
        target = folder / "detailed_results.html" if own else self.output / "detailed_results.html"
        if own:
            say(f"the scoring program wrote {own[0]}: the aibench page is {REPORT_DIR}/detailed_results.html")
        target.write_text(page, encoding="utf-8")


def _score(home: Path, inputs: Path, output: Path, command: list[str]) -> int:
    return _Scoring(home, inputs, output, command).run()


def _predictions_view(predictions: Path, *, worker_metadata: bool = True, measurements: bool = False,
                      complexity: bool = False) -> FolderView:
    """``input/res`` as the participant's files (a :class:`~aibench_plugins.data.views.FolderView`:
    links the readers follow only into ``input/res``, as ``aibench run`` reads a submission),
    without the wrapped ingestion's measurements file when it is still there (``measurements``),
    nor the complexity meters' (``complexity``), and, when a prediction step ran (``worker_metadata``), without the ``metadata`` the worker
    wrote after it. Without a prediction step (a v1 scoring-only phase) a ``metadata`` there is
    the participant's own, and is checked as ``aibench run`` checks it."""
    from ..data.views import FolderView  # not at start-up: the original may start before anything loads

    from ..complexity.file import COMPLEXITY_FILE

    hidden = (["metadata"] if worker_metadata else []) + ([MEASUREMENTS_FILE] if measurements else []) \
        + ([COMPLEXITY_FILE] if complexity else [])
    return FolderView(predictions, hidden=hidden)


def _margin(limit: float) -> float:
    """What the runtime leaves unused of a time limit: a tenth, at least 5 s."""
    return max(5.0, 0.1 * limit)


def _missing_modules(names: Sequence[str]) -> list[str]:
    import importlib.util

    return [name for name in names if importlib.util.find_spec(name) is None]


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
