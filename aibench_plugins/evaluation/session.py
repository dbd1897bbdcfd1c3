"""The one evaluation session: a manifest's plugins on one submission, the same for
``aibench run`` (on the host) and a wrapped bundle's runtime (on the platform's worker).

A :class:`EvaluationSession` takes the manifest's plan for the phase and the plugin host. Its
:meth:`~EvaluationSession.before_scoring` runs the kinds whose stage is ``before scoring``
(submission checks, on the submission as the participant uploaded it) and says whether the
submission is refused; :meth:`~EvaluationSession.after_scoring` runs the kinds whose stage is
``after scoring`` (metrics, on ``input/res`` and ``input/ref`` as the original scoring program
received them, then the fairness and robustness checkers on what the metrics read:
:mod:`.analyses`). Which kinds run at which stage is the table of kinds (:data:`KINDS`); the
runner of each is :data:`RUNNERS`. Both return the one :class:`Evaluation` result.

Tables are read once and each pair joined once; each component runs in a forked child with the
plan's plugin time limit, so one that raises, crashes or hangs is recorded as failed and
nothing else is lost. Each metric gives one leaderboard column per split, keyed
``<key>_<split>`` (``<key>`` for all ids), with provenance. The surroundings differ only in
what is around the session: the executor and the ledger on the host, the scores-file merge on
the worker.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..components.check import SubmissionProblem
from ..data.ids import read_ids_file
from ..core.kinds import KINDS, Kind, Stage
from ..core.isolate import Outcome, call_isolated
from ..core.registry import component_description
from ..components.metric import MetricResult, Provenance, params_sha256
from ..manifest.plan import DEFAULT_PLUGIN_TIME_LIMIT_S, AnalysisEntry, CheckEntry, MetricEntry, PhasePlan
from .._version import __version__
from .results import TRACEBACK_LIMIT_BYTES, PluginColumn, PluginFailure, cap_traceback, label_sets
from .score_fields import SCORE_FIELDS, unstorable

if TYPE_CHECKING:
    from ..complexity.file import ComplexityFile
    from ..core.host import PluginHost
    from ..components.analysis import Flag
    from ..components.complexity import Measurement
    from ..manifest.loading import Manifest
    from .analyses import AnalysisRecord
    from .complexity import ComplexityReport
    from .problems import Misnamed

__all__ = ["DEFAULT_PLUGIN_TIME_LIMIT_S", "RUNNERS", "TRACEBACK_LIMIT_BYTES", "Evaluation", "EvaluationSession",
           "PluginColumn", "PluginFailure", "cap_traceback", "failure_summary", "planned_columns"]


@dataclass
class Evaluation:
    """Everything the manifest's plugins produced for one submission. ``analyses``: what each
    fairness and robustness entry that ran gave, after the privacy filter (:mod:`.analyses`).
    ``complexity``: what the complexity entries and efficiency items gave (:mod:`.complexity`),
    ``None`` when the phase has none."""

    columns: list[PluginColumn] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    problems: list[SubmissionProblem] = field(default_factory=list)
    analyses: list[AnalysisRecord] = field(default_factory=list)
    complexity: ComplexityReport | None = None

    @property
    def refused(self) -> bool:
        """A check of severity ``error`` found a problem: the submission is refused before scoring."""
        return any(p.severity == "error" for p in self.problems)

    @property
    def failed_required(self) -> list[PluginFailure]:
        return [f for f in self.failures if f.required]

    @property
    def flags(self) -> list[Flag]:
        """Every threshold crossed, of every analysis then every complexity entry, in order (``flag``
        and ``fail``)."""
        return [flag for record in self.analyses for flag in record.flags] + (
            self.complexity.flags if self.complexity is not None else [])

    @property
    def failed_thresholds(self) -> list[Flag]:
        """The ``fail`` thresholds crossed: each fails the submission (its original scores are kept)."""
        return [flag for flag in self.flags if flag.action == "fail"]

    def failure(self) -> str | None:
        """Why the plugins fail the submission (a required plugin failed, an organiser's ``fail``
        threshold was crossed), in the words both paths show; ``None`` when they do not."""
        reasons = []
        if self.failed_required:
            reasons.append(f"a required plugin failed: {failure_summary(self.failed_required)}")
        if self.failed_thresholds:
            reasons.append("a threshold of the organiser was crossed: "
                           + "; ".join(flag.message for flag in self.failed_thresholds))
        return "; ".join(reasons) or None

    def to_json(self) -> dict[str, Any]:
        """The plugin part of the report document (``plugin_columns``, ``plugin_failures``,
        ``check_problems``, ``analyses``, ``complexity``)."""
        return {"plugin_columns": [c.to_json() for c in self.columns],
                "plugin_failures": [f.to_json() for f in self.failures],
                "check_problems": [p.to_json() for p in self.problems],
                "analyses": [a.to_json() for a in self.analyses],
                "complexity": self.complexity.to_json() if self.complexity is not None else None}




class EvaluationSession:
    """A manifest's plugins on one submission for one phase (see the module docstring).

    ``required`` means one thing everywhere (docs/manifest.md, "required"): a component's
    failure fails the submission when its manifest entry says ``"required": true`` *or* the
    manifest's ``plugins`` entry of the plugin that registered it does. Every plugin the
    manifest names that did not load (failed or missing) is recorded as a failure of kind
    ``plugin``, with its traceback; entries whose component is not registered (its plugin did
    not load; the runtime loads plugins without raising, and ``aibench validate`` lets an
    optional plugin be absent) are left out of the plan and recorded as failures, required
    when the entry or its plugin is.

    ``platforms`` are the platforms whose leaderboards the scores may go to (by default every
    one); a metric value that one of their score fields cannot store is a failure of its column
    (:mod:`.score_fields`). ``aibench run`` narrows it to the run's worker before scoring.

    ``perturbed_runs`` (perturbation name -> the ``input/res`` of the prediction step re-run on
    inputs perturbed that way; empty by default) is what the analyses get as
    ``AnalysisContext.perturbed_runs``: whoever re-runs the prediction step fills it before
    :meth:`after_scoring`.

    ``complexity_file`` is what the prediction step's complexity meters measured
    (:class:`~aibench_plugins.complexity.file.ComplexityFile`, ``None``: nothing, or a file that is
    not ours): whoever ran the prediction step takes it out of its output and sets it before
    :meth:`after_scoring` (``aibench run``, the wrapped runtime).

    ``step_measurements`` are the host's measurements of the steps (the executor's, the worker's
    ``metadata``): what the scoring-side complexity meters read (``MeterContext.step_measurements``).
    ``prediction_step_ran``: whether a prediction step ran (``False``: a result submission, whose
    prediction-side meters have nothing to measure; ``None``: not known). Both are set by whoever
    ran the steps, before :meth:`after_scoring`.
    """

    def __init__(self, manifest: Manifest, host: PluginHost, phase_key: str | None = None, *,
                 platforms: Sequence[str] = tuple(SCORE_FIELDS)) -> None:
        self.manifest, self.host = manifest, host
        self.platforms: Sequence[str] = tuple(platforms)
        self.result = Evaluation()
        self.perturbed_runs: dict[str, Path] = {}
        self.complexity_file: ComplexityFile | None = None
        self._tables: dict[tuple[Path, Path], _Tables] = {}
        self.step_measurements: list[Measurement] = []
        self.prediction_step_ran: bool | None = None
        full = manifest.plan(phase_key)
        self.required_plugins = frozenset(full.required_plugins)
        named = {request.id for request in manifest.plugin_requests}
        not_loaded = [r for r in host.failed() if r.id in named]
        self.result.failures += [PluginFailure(r.id, "plugin", r.id, r.reason or r.status,
                                               r.required or r.id in self.required_plugins, None, r.traceback)
                                 for r in not_loaded]
        entries: list[CheckEntry | MetricEntry | AnalysisEntry] = [*full.checks, *full.metrics, *full.analyses,
                                                                    *full.complexity]
        missing = {e.use for e in entries if e.use not in host.registry(_kind_of(e))}
        for entry in entries:
            if entry.use in missing and entry.use not in host.registry(_kind_of(entry)):
                kind = _kind_of(entry)
                provider = host.provider_of(entry.use, kind)
                plugin = provider.record.id if provider is not None else None
                why = (f"its plugin {plugin!r} did not load: {provider.record.reason or provider.record.status}"
                       if provider is not None else "its plugin did not load")
                self.result.failures.append(PluginFailure(entry.use, kind.value, plugin, why,
                                                          self.is_required(entry.required, plugin),
                                                          None if isinstance(entry, CheckEntry) else entry.key))
        self.plan: PhasePlan = full.without(missing) if missing else full
        self.misnamed: list[Misnamed] = []

    def is_required(self, entry_required: bool, plugin: str | None) -> bool:
        """Whether a failure fails the submission: the entry, or its plugin, is marked required."""
        return entry_required or (plugin is not None and plugin in self.required_plugins)

    def before_scoring(self, submission: Path, reference: Path | None) -> str | None:
        """Run the ``before scoring`` kinds on the submission; the refusal message, or ``None``.

        Problems several checks found are reported once (:func:`~.problems.merge_identical`); a
        declared file that is missing while the submission holds one file of its kind under
        another name does not refuse the submission when nothing else does: the scoring program
        tells who is wrong (:func:`~.problems.defer_misnamed`)."""
        from .problems import defer_misnamed, merge_identical

        self._run("before scoring", submission, reference)
        self.result.problems, self.misnamed = defer_misnamed(merge_identical(self.result.problems), submission)
        return self.refusal()

    def after_scoring(self, predictions: Path, reference: Path) -> Evaluation:
        """Run the ``after scoring`` kinds on ``input/res`` and ``input/ref``; the result so far.
        Both paths keep what it gives only once the scoring program scored the submission (the
        runtime may start it beside the scoring program), so a file the checks expected under
        another name was the manifest's mistake: it is recorded as a failure for the organiser."""
        from .problems import misnamed_message

        for misnamed in self.misnamed:
            first = misnamed.checks.split(", ")[0]
            plugin = self.host.registry(Kind.CHECK).get(first).plugin if first in self.host.registry(Kind.CHECK) \
                else None
            self.result.failures.append(PluginFailure(misnamed.checks, "check", plugin, misnamed_message(misnamed),
                                                      False))
        self.misnamed = []
        self._run("after scoring", predictions, reference)
        return self.result

    def refusal(self) -> str | None:
        """Why the submission is refused before scoring (an ``error`` problem of a check, or a
        required check that failed), in the words both paths show; ``None`` when it is not."""
        errors = [p for p in self.result.problems if p.severity == "error"]
        if errors:
            listed = "\n".join(f"  {p}" for p in errors)
            return f"the submission was refused before scoring by the bundle's checks:\n{listed}"
        if self.result.failed_required:
            return f"a required check failed: {failure_summary(self.result.failed_required)}"
        return None

    def failure(self) -> str | None:
        """Why the submission fails after scoring (a required plugin failed, an organiser's ``fail``
        threshold was crossed), or ``None`` (:meth:`Evaluation.failure`)."""
        return self.result.failure()

    def tables(self, predictions: Path, reference: Path) -> _Tables:
        """The declared tables of ``predictions`` (input/res) and ``reference`` (input/ref), each
        read once for the metrics and the analyses alike."""
        if (predictions, reference) not in self._tables:
            self._tables[predictions, reference] = _Tables(self.plan, predictions, reference)
        return self._tables[predictions, reference]

    @property
    def requires_metrics(self) -> bool:
        """Whether a failure of the ``after scoring`` stage fails the submission: one of the phase's
        metrics or analyses is required (see :meth:`is_required`), or an analysis has a ``fail``
        threshold."""
        registry = self.host.registry(Kind.METRIC)
        if any(self.is_required(m.required, registry.get(m.use).plugin) for m in self.plan.metrics):
            return True
        if any(e.required for e in self.plan.efficiency):
            return True
        return any(self.is_required(a.required, self.host.registry(_kind_of(a)).get(a.use).plugin)
                   or any(t.action == "fail" for t in a.thresholds) for a in (*self.plan.analyses,
                                                                               *self.plan.complexity))

    @property
    def runs_after_scoring(self) -> bool:
        """Whether anything runs after scoring (the runtime then starts the metrics)."""
        return any(_entries(self.plan, row.kind) for row in KINDS.values() if row.stage == "after scoring")

    @property
    def runs_before_scoring(self) -> bool:
        return any(_entries(self.plan, row.kind) for row in KINDS.values() if row.stage == "before scoring")

    @property
    def metrics_time_limit_s(self) -> float:
        """How long all the metrics and analyses may take: each metric column's and each analysis'
        plugin time limit, plus reading time."""
        calls = sum(len(m.column_keys) for m in self.plan.metrics) + len(self.plan.analyses) + len(
            self.plan.complexity)
        return calls * self.plan.plugin_time_limit_s + 600

    def _run(self, stage: Stage, submission: Path, reference: Path | None) -> None:
        for row in KINDS.values():
            if row.stage == stage and row.kind in RUNNERS:
                RUNNERS[row.kind](self, submission, reference)


def _entries(plan: PhasePlan, kind: Kind) -> Sequence[Any]:
    return {Kind.METRIC: plan.metrics, Kind.CHECK: plan.checks, Kind.FAIRNESS: plan.fairness,
            Kind.ROBUSTNESS: plan.robustness, Kind.COMPLEXITY: (*plan.complexity, *plan.efficiency)}.get(kind, ())


def _kind_of(entry: CheckEntry | MetricEntry | AnalysisEntry) -> Kind:
    if isinstance(entry, AnalysisEntry):
        return {"fairness": Kind.FAIRNESS, "robustness": Kind.ROBUSTNESS}.get(entry.kind, Kind.COMPLEXITY)
    return Kind.METRIC if isinstance(entry, MetricEntry) else Kind.CHECK


def _run_checks(session: EvaluationSession, submission: Path, reference: Path | None) -> None:
    """The phase's submission checks; problems of ``error`` checks refuse the submission."""
    plan, evaluation = session.plan, session.result
    concepts = plan.concept_labels
    if any("file" in entry.params for entry in plan.checks):
        _warm_table_readers()
    for entry in plan.checks:
        registration = session.host.registry(Kind.CHECK).get(entry.use)
        check = registration.component

        def call(check: Any = check, entry: CheckEntry = entry) -> list[SubmissionProblem]:
            import inspect

            # Opt-in context, by keyword: only checks that declare these parameters get them.
            declared = inspect.signature(check.function).parameters
            context = {"reference": reference, "concepts": concepts or None}
            return list(check.run(submission, **entry.params, **{k: v for k, v in context.items() if k in declared}))

        outcome = call_isolated(call, timeout_s=plan.plugin_time_limit_s, label=f"check {entry.use}")
        if not outcome.ok:
            evaluation.failures.append(PluginFailure(entry.use, "check", registration.plugin,
                                                     f"the check itself failed: {outcome.error}",
                                                     session.is_required(entry.required, registration.plugin),
                                                     traceback=outcome.traceback))
            continue
        evaluation.problems += [replace(problem, severity=entry.severity) for problem in outcome.value]


def _warm_table_readers() -> None:
    """Import pandas here, once, before the checks fork: a check given a ``file`` reads a table
    (every built-in data check does), and a child that imports pandas itself spends about 0.7 s
    on it, on the critical path before the original scorer starts. Without pandas nothing is done
    (the checks then say what they lack)."""
    from ..data.tables import import_pandas

    try:
        import_pandas()
    except ImportError:
        pass


class _Tables:
    """The declared tables, each read once, and each (predictions, references) pair joined once."""

    def __init__(self, plan: PhasePlan, predictions: Path, reference: Path) -> None:
        self.plan, self.predictions, self.reference = plan, predictions, reference
        self._read: dict[tuple[str, bool], Any] = {}
        self.joined: dict[tuple[str, str], Any] = {}

    def get(self, name: str, *, split_source: bool = False) -> Any:
        """The table ``name`` (a ReadError when it cannot be read), or its split columns (``split_source``)."""
        from ..core.errors import TableSpecError
        from ..data.readers import ReadError, TableSpec, read_table

        if (name, split_source) not in self._read:
            decl = self.plan.tables[name]
            columns = list(self.plan.split_columns) if split_source else list(decl.columns)
            options = decl.layout | ({} if split_source else decl.meaning)
            try:
                self._read[name, split_source] = read_table(
                    self.predictions if decl.source == "submission" else self.reference,
                    TableSpec(decl.file, id=decl.id, columns=columns, **options))
            except ReadError as error:
                self._read[name, split_source] = _owned(error, decl.source)
            except TableSpecError as error:  # a declaration the schema lets through but that cannot be read
                self._read[name, split_source] = ReadError(str(error), file=decl.file, kind="invalid",
                                                           fix="correct the table's declaration under /data in "
                                                               "aibench.json (the organiser's to fix)")
        return self._read[name, split_source]

    def join(self, predictions: str, references: str) -> Any:
        from ..data.readers import align

        if (predictions, references) not in self.joined:
            self.joined[predictions, references] = align(self.get(predictions), self.get(references))
        return self.joined[predictions, references]


def _owned(error: Any, source: str) -> Any:
    """A ReadError whose fix says whose it is: a reference table's (input/ref) is the organiser's;
    a submitted file that is unreadable or not of the declared shape is the participant's. A
    missing file or column is left as it is (the manifest may be what misnames it)."""
    from ..data.readers import ReadError

    kinds = ("unreadable", "invalid", "too_large") if source == "submission" else \
        ("unreadable", "invalid", "too_large", "missing_column")
    if error.kind not in kinds or not error.fix or "to fix" in error.fix:
        return error
    owner = "the organiser's to fix (reference data)" if source == "reference" else "the participant's to fix"
    return ReadError(error.message, file=error.file, line=error.line, item=error.item, fix=f"{error.fix} ({owner})",
                     kind=error.kind, missing_columns=error.missing_columns, found_columns=error.found_columns,
                     column_fixes=error.column_fixes, size=error.size)


def _run_metrics(session: EvaluationSession, predictions: Path, reference: Path | None) -> None:
    """Compute the phase's metrics on ``predictions`` (input/res) against ``reference`` (input/ref)."""
    if not session.plan.metrics or reference is None:
        return
    tables = session.tables(predictions, reference)
    for entry in session.plan.metrics:
        _run_metric(session, entry, tables)


def _run_metric(session: EvaluationSession, entry: MetricEntry, tables: _Tables) -> None:
    from ..data.readers import ReadError
    from .problems import read_failure

    plan, evaluation = session.plan, session.result
    registration = session.host.registry(Kind.METRIC).get(entry.use)
    info = registration.component.info
    described = component_description(registration.component)
    record = session.host.records.get(registration.plugin)
    provenance = Provenance(info.id, info.version, registration.plugin, record.distribution if record else "?",
                            record.version if record else None, params_sha256(entry.params), __version__)

    def failed(split: str, message: str, traceback: str | None = None) -> None:
        evaluation.failures.append(PluginFailure(info.id, "metric", registration.plugin, message,
                                                 session.is_required(entry.required, registration.plugin),
                                                 entry.column_key(split), traceback))
        evaluation.columns.append(_column(entry, info, split, None, provenance, described))

    names = entry.inputs
    loaded = {name: tables.get(table) for name, table in names.items()}
    problem: ReadError | str | None = next((t for t in loaded.values() if isinstance(t, ReadError)), None)
    ranking = info.inputs["predictions"].kind == "ranking"
    if problem is None and not ranking:
        predicted, expected, report = tables.join(names["predictions"], names["references"])
        if not report.ok:
            problem = "; ".join(report.messages())
        predicted = label_sets(predicted, plan.tables[names["predictions"]].separator)
        expected = label_sets(expected, plan.tables[names["references"]].separator)
    if problem is not None:
        message = read_failure(problem, plan.tables, tables.predictions) if isinstance(problem, ReadError) else problem
        for split in entry.splits:
            failed(split, message)
        return
    split_table = tables.get(names["references"], split_source=True) if plan.split_columns else loaded["references"]
    for split in entry.splits:
        if isinstance(split_table, ReadError):
            failed(split, str(split_table))
            continue
        try:  # an ids_file the reference data lacks fails this split's column, with the organiser's fix
            if ranking:  # rows (query, item, score) and (query, item, relevance), selected by query id
                chosen_ids = _split_ids(plan.splits.get(split), split_table, tables.reference)
                inputs = {name: _rows(loaded[name], chosen_ids) for name in ("predictions", "references")}
            else:
                mask = _split_mask(plan.splits.get(split), split_table, report.reference_rows, tables.reference)
                inputs = {"predictions": _select(predicted, mask), "references": _select(expected, mask)}
        except ReadError as error:
            failed(split, f"split {split!r}: {error} (Organiser: {error.fix})")
            continue

        def compute(inputs: dict[str, Any] = inputs) -> dict[str, float]:
            state = registration.component(**entry.params)
            state.update(**inputs)
            return dict(state.compute())

        outcome = call_isolated(compute, timeout_s=plan.plugin_time_limit_s,
                                label=f"metric {info.id} [{entry.column_key(split)}]")
        output = entry.output or info.primary
        outcome = _storable(outcome, output, session.platforms)
        if outcome.ok and output in outcome.value:
            result = MetricResult(outcome.value, output, provenance)
            column = _column(entry, info, split, result.value, provenance, described)
            if not ranking and plan.tables[names["references"]].missing == "skip":
                column = replace(column, skipped_references=_skipped(plan.splits.get(split), split_table, report,
                                                                     tables.reference))
            evaluation.columns.append(column)
        else:
            failed(split, outcome.error if not outcome.ok else f"compute() gave no output {output!r}",
                   outcome.traceback)


def _storable(outcome: Outcome, output: str, platforms: Sequence[str]) -> Outcome:
    """``outcome``, or a failed one when its ``output`` value is one no leaderboard of ``platforms``
    can store: not finite, or outside their score fields (:mod:`.score_fields`)."""
    if not outcome.ok or output not in outcome.value:
        return outcome
    value = outcome.value[output]
    if not math.isfinite(value):
        return Outcome(False, error=f"{output} is {value} (undefined on this data); a leaderboard stores only finite "
                                    "scores (§12)")
    why = unstorable(value, platforms)
    return outcome if why is None else Outcome(False, error=f"{output} is {value:.12g}, which {why}")


def _run_complexity(session: EvaluationSession, predictions: Path, reference: Path | None) -> None:
    from .complexity import run_complexity

    run_complexity(session, predictions, reference)


#: The runner of each kind the evaluation session runs (the kinds of KINDS whose stage is
#: ``before scoring`` or ``after scoring``); a kind's issue adds its runner here.
def _analyses_of(kind: Kind) -> Callable[[EvaluationSession, Path, Path | None], None]:
    def run(session: EvaluationSession, predictions: Path, reference: Path | None) -> None:
        from .analyses import run_analyses

        run_analyses(session, kind, predictions, reference)

    run.__name__ = f"_run_{kind.value}"
    return run


RUNNERS: Mapping[Kind, Callable[[EvaluationSession, Path, Path | None], None]] = {
    Kind.CHECK: _run_checks,
    Kind.METRIC: _run_metrics,
    Kind.FAIRNESS: _analyses_of(Kind.FAIRNESS),
    Kind.ROBUSTNESS: _analyses_of(Kind.ROBUSTNESS),
    Kind.COMPLEXITY: _run_complexity,
}


def _split_ids(split: Mapping[str, Any] | None, references: Any, reference_dir: Path) -> set[str] | None:
    """The ids a split selects (``None``: every id)."""
    import numpy as np

    if split is None:
        return None
    if "ids" in split:
        return {str(i) for i in split["ids"]}
    if "ids_file" in split:
        return set(read_ids_file(reference_dir, split["ids_file"]))
    ids = np.asarray(references.ids).astype(str)
    return set(ids[np.asarray(references.column(split["column"])).astype(str) == str(split["value"])])


def _rows(table: Any, ids: set[str] | None) -> Any:
    """A table's rows as a DataFrame (id column first), keeping only ``ids``."""
    frame = table.frame
    if ids is None:
        return frame
    return frame[frame.iloc[:, 0].astype(str).isin(ids)]


def _select(values: Any, mask: Any) -> Any:
    if mask is None:
        return values
    if isinstance(values, list):
        return [value for value, keep in zip(values, mask) if keep]
    return values[mask]


def _skipped(split: Mapping[str, Any] | None, references: Any, report: Any, reference_dir: Path) -> int:
    """How many reference rows of a split were left out for a missing value (``missing: skip``)."""
    if report.skipped is None:
        return 0
    mask = _split_mask(split, references, report.skipped.rows, reference_dir)
    return report.n_skipped if mask is None else int(mask.sum())


def _split_mask(split: Mapping[str, Any] | None, references: Any, rows: Any, reference_dir: Path) -> Any:
    """Boolean mask over the aligned rows selecting a split (``None``: every row)."""
    import numpy as np

    if split is None:
        return None
    ids = np.asarray(references.ids)[rows].astype(str)
    if "ids" in split:
        return np.isin(ids, [str(i) for i in split["ids"]])
    if "ids_file" in split:
        return np.isin(ids, read_ids_file(reference_dir, split["ids_file"]))
    values = np.asarray(references.column(split["column"]))[rows]
    return values.astype(str) == str(split["value"])


def _column(entry: MetricEntry, info: Any, split: str, value: float | None,
            provenance: Provenance | None, description: str | None = None) -> PluginColumn:
    return PluginColumn(entry.column_key(split), entry.title(split), entry.sort or info.sort, entry.precision,
                        entry.hidden, value, info.id, split, provenance,
                        description=description or None, bounds=info.bounds)


def planned_columns(manifest: Manifest, host: PluginHost, phase_key: str | None = None) -> list[PluginColumn]:
    """The columns the phase's metrics and analyses give, without values: what a leaderboard must declare."""
    from .analyses import planned_analysis_columns
    from .complexity import planned_complexity_columns

    plan = manifest.plan(phase_key)
    components = {entry.use: host.registry(Kind.METRIC).get(entry.use).component for entry in plan.metrics}
    return [_column(entry, components[entry.use].info, split, None, None, component_description(components[entry.use]))
            for entry in plan.metrics for split in entry.splits] + planned_analysis_columns(plan, host) \
        + planned_complexity_columns(plan, host)


def failure_summary(failures: Sequence[PluginFailure]) -> str:
    """One line naming every failed component, for messages."""
    return "; ".join(f"{f.component}" + (f" [{f.key}]" if f.key else "") + f": {f.message}" for f in failures)
