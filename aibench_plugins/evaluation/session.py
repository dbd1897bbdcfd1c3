"""The one evaluation session: a manifest's plugins on one submission, the same for
``aibench run`` (on the host) and a wrapped bundle's runtime (on the platform's worker).

A :class:`EvaluationSession` takes the manifest's plan for the phase and the plugin host. Its
:meth:`~EvaluationSession.before_scoring` runs the kinds whose stage is ``before scoring``
(submission checks, on the submission as the participant uploaded it) and says whether the
submission is refused; :meth:`~EvaluationSession.after_scoring` runs the kinds whose stage is
``after scoring`` (metrics, on ``input/res`` and ``input/ref`` as the original scoring program
received them). Which kinds run at which stage is the table of kinds (:data:`KINDS`); the
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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..components.check import SubmissionProblem
from ..core.kinds import KINDS, Kind, Stage
from ..core.isolate import Outcome, call_isolated
from ..components.metric import MetricResult, Provenance, params_sha256
from ..manifest.plan import DEFAULT_PLUGIN_TIME_LIMIT_S, CheckEntry, MetricEntry, PhasePlan
from .._version import __version__
from .score_fields import SCORE_FIELDS, unstorable

if TYPE_CHECKING:
    from ..core.host import PluginHost
    from ..manifest.loading import Manifest

__all__ = ["DEFAULT_PLUGIN_TIME_LIMIT_S", "RUNNERS", "Evaluation", "EvaluationSession", "PluginColumn",
           "PluginFailure", "failure_summary", "planned_columns"]


@dataclass(frozen=True)
class PluginColumn:
    """A leaderboard column a plugin adds beside the original ones."""

    key: str
    title: str
    sorting: str
    precision: int
    hidden: bool
    value: float | None
    metric: str
    split: str
    provenance: Provenance | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PluginFailure:
    """A component that could not give its result, and whether that fails the submission."""

    component: str
    kind: str
    plugin: str | None
    message: str
    required: bool
    key: str | None = None
    traceback: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("traceback")
        return data


@dataclass
class Evaluation:
    """Everything the manifest's plugins produced for one submission."""

    columns: list[PluginColumn] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    problems: list[SubmissionProblem] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        """A check of severity ``error`` found a problem: the submission is refused before scoring."""
        return any(p.severity == "error" for p in self.problems)

    @property
    def failed_required(self) -> list[PluginFailure]:
        return [f for f in self.failures if f.required]

    def to_json(self) -> dict[str, Any]:
        """The plugin part of the report document (``plugin_columns``, ``plugin_failures``, ``check_problems``)."""
        return {"plugin_columns": [c.to_json() for c in self.columns],
                "plugin_failures": [f.to_json() for f in self.failures],
                "check_problems": [p.to_json() for p in self.problems]}




class EvaluationSession:
    """A manifest's plugins on one submission for one phase (see the module docstring).

    Entries whose component is not registered (its plugin did not load; the runtime loads
    plugins without raising) are left out of the plan and recorded as failures, required when
    the entry is.

    ``platforms`` are the platforms whose leaderboards the scores may go to (by default every
    one); a metric value that one of their score fields cannot store is a failure of its column
    (:mod:`.score_fields`). ``aibench run`` narrows it to the run's worker before scoring.
    """

    def __init__(self, manifest: Manifest, host: PluginHost, phase_key: str | None = None, *,
                 platforms: Sequence[str] = tuple(SCORE_FIELDS)) -> None:
        self.manifest, self.host = manifest, host
        self.platforms: Sequence[str] = tuple(platforms)
        self.result = Evaluation()
        full = manifest.plan(phase_key)
        missing = {e.use for e in full.metrics if e.use not in host.registry(Kind.METRIC)} | {
            e.use for e in full.checks if e.use not in host.registry(Kind.CHECK)}
        entries: list[CheckEntry | MetricEntry] = [*full.checks, *full.metrics]
        for entry in entries:
            if entry.use in missing:
                kind = "metric" if isinstance(entry, MetricEntry) else "check"
                self.result.failures.append(PluginFailure(entry.use, kind, None, "its plugin did not load",
                                                          entry.required,
                                                          entry.key if isinstance(entry, MetricEntry) else None))
        self.plan: PhasePlan = full.without(missing) if missing else full

    def before_scoring(self, submission: Path, reference: Path | None) -> str | None:
        """Run the ``before scoring`` kinds on the submission; the refusal message, or ``None``."""
        self._run("before scoring", submission, reference)
        return self.refusal()

    def after_scoring(self, predictions: Path, reference: Path) -> Evaluation:
        """Run the ``after scoring`` kinds on ``input/res`` and ``input/ref``; the result so far."""
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
        """Why the submission fails after scoring (a required plugin failed), or ``None``."""
        failed = self.result.failed_required
        return f"a required plugin failed: {failure_summary(failed)}" if failed else None

    @property
    def runs_after_scoring(self) -> bool:
        """Whether anything runs after scoring (the runtime then starts the metrics)."""
        return any(_entries(self.plan, row.kind) for row in KINDS.values() if row.stage == "after scoring")

    @property
    def runs_before_scoring(self) -> bool:
        return any(_entries(self.plan, row.kind) for row in KINDS.values() if row.stage == "before scoring")

    @property
    def metrics_time_limit_s(self) -> float:
        """How long all the metrics may take: each column's plugin time limit, plus reading time."""
        return len(self.plan.column_keys) * self.plan.plugin_time_limit_s + 600

    def _run(self, stage: Stage, submission: Path, reference: Path | None) -> None:
        for row in KINDS.values():
            if row.stage == stage:
                RUNNERS[row.kind](self, submission, reference)


def _entries(plan: PhasePlan, kind: Kind) -> Sequence[Any]:
    return plan.metrics if kind is Kind.METRIC else plan.checks if kind is Kind.CHECK else ()


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
                                                     f"the check itself failed: {outcome.error}", entry.required,
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
        from ..data.readers import ReadError, TableSpec, read_table

        if (name, split_source) not in self._read:
            decl = self.plan.tables[name]
            columns = list(self.plan.split_columns) if split_source else list(decl.columns)
            try:
                self._read[name, split_source] = read_table(
                    self.predictions if decl.source == "submission" else self.reference,
                    TableSpec(decl.file, id=decl.id, columns=columns, format=decl.format))  # type: ignore[arg-type]
            except ReadError as error:
                self._read[name, split_source] = error
        return self._read[name, split_source]

    def join(self, predictions: str, references: str) -> Any:
        from ..data.readers import align

        if (predictions, references) not in self.joined:
            self.joined[predictions, references] = align(self.get(predictions), self.get(references))
        return self.joined[predictions, references]


def _run_metrics(session: EvaluationSession, predictions: Path, reference: Path | None) -> None:
    """Compute the phase's metrics on ``predictions`` (input/res) against ``reference`` (input/ref)."""
    if not session.plan.metrics or reference is None:
        return
    tables = _Tables(session.plan, predictions, reference)
    for entry in session.plan.metrics:
        _run_metric(session, entry, tables)


def _run_metric(session: EvaluationSession, entry: MetricEntry, tables: _Tables) -> None:
    from ..data.readers import ReadError

    plan, evaluation = session.plan, session.result
    registration = session.host.registry(Kind.METRIC).get(entry.use)
    info = registration.component.info
    record = session.host.records.get(registration.plugin)
    provenance = Provenance(info.id, info.version, registration.plugin, record.distribution if record else "?",
                            record.version if record else None, params_sha256(entry.params), __version__)

    def failed(split: str, message: str, traceback: str | None = None) -> None:
        evaluation.failures.append(PluginFailure(info.id, "metric", registration.plugin, message, entry.required,
                                                 entry.column_key(split), traceback))
        evaluation.columns.append(_column(entry, info, split, None, provenance))

    names = entry.inputs
    loaded = {name: tables.get(table) for name, table in names.items()}
    problem: ReadError | str | None = next((t for t in loaded.values() if isinstance(t, ReadError)), None)
    ranking = info.inputs["predictions"].kind == "ranking"
    if problem is None and not ranking:
        predicted, expected, report = tables.join(names["predictions"], names["references"])
        if not report.ok:
            problem = "; ".join(report.messages())
        predicted = _label_sets(predicted, plan.tables[names["predictions"]].separator)
        expected = _label_sets(expected, plan.tables[names["references"]].separator)
    if problem is not None:
        for split in entry.splits:
            failed(split, str(problem))
        return
    split_table = tables.get(names["references"], split_source=True) if plan.split_columns else loaded["references"]
    for split in entry.splits:
        if isinstance(split_table, ReadError):
            failed(split, str(split_table))
            continue
        if ranking:  # rows (query, item, score) and (query, item, relevance), selected by query id
            chosen_ids = _split_ids(plan.splits.get(split), split_table, tables.reference)
            inputs = {name: _rows(loaded[name], chosen_ids) for name in ("predictions", "references")}
        else:
            mask = _split_mask(plan.splits.get(split), split_table, report.reference_rows, tables.reference)
            inputs = {"predictions": _select(predicted, mask), "references": _select(expected, mask)}

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
            evaluation.columns.append(_column(entry, info, split, result.value, provenance))
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


#: The runner of each kind the evaluation session runs (the kinds of KINDS whose stage is
#: ``before scoring`` or ``after scoring``); a kind's issue adds its runner here.
RUNNERS: Mapping[Kind, Callable[[EvaluationSession, Path, Path | None], None]] = {
    Kind.CHECK: _run_checks,
    Kind.METRIC: _run_metrics,
}


def _split_ids(split: Mapping[str, Any] | None, references: Any, reference_dir: Path) -> set[str] | None:
    """The ids a split selects (``None``: every id)."""
    import numpy as np

    if split is None:
        return None
    if "ids" in split:
        return {str(i) for i in split["ids"]}
    if "ids_file" in split:
        return set((reference_dir / split["ids_file"]).read_text().split())
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


def _label_sets(values: Any, separator: str | None) -> Any:
    """Values of a table whose ``separator`` is set, as one list of labels per row (multi-label)."""
    if separator is None:
        return values
    def labels(value: Any) -> list[str]:
        empty = value is None or value == "" or (isinstance(value, float) and math.isnan(value))
        return [] if empty else str(value).split(separator)

    return [labels(value) for value in values]


def _split_mask(split: Mapping[str, Any] | None, references: Any, rows: Any, reference_dir: Path) -> Any:
    """Boolean mask over the aligned rows selecting a split (``None``: every row)."""
    import numpy as np

    if split is None:
        return None
    ids = np.asarray(references.ids)[rows].astype(str)
    if "ids" in split:
        return np.isin(ids, [str(i) for i in split["ids"]])
    if "ids_file" in split:
        listed = (reference_dir / split["ids_file"]).read_text().split()
        return np.isin(ids, listed)
    values = np.asarray(references.column(split["column"]))[rows]
    return values.astype(str) == str(split["value"])


def _column(entry: MetricEntry, info: Any, split: str, value: float | None,
            provenance: Provenance | None) -> PluginColumn:
    return PluginColumn(entry.column_key(split), entry.title(split), entry.sort or info.sort, entry.precision,
                        entry.hidden, value, info.id, split, provenance)


def planned_columns(manifest: Manifest, host: PluginHost, phase_key: str | None = None) -> list[PluginColumn]:
    """The columns the phase's metrics give, without values: what a leaderboard must declare."""
    plan = manifest.plan(phase_key)
    return [_column(entry, host.registry(Kind.METRIC).get(entry.use).component.info, split, None, None)
            for entry in plan.metrics for split in entry.splits]


def failure_summary(failures: Sequence[PluginFailure]) -> str:
    """One line naming every failed component, for messages."""
    return "; ".join(f"{f.component}" + (f" [{f.key}]" if f.key else "") + f": {f.message}" for f in failures)
