"""The runner of the complexity kind (:mod:`aibench_plugins.components.complexity` is its contract),
``after scoring``, and the phase's efficiency scores.

For each entry of the phase's ``complexity`` section, in manifest order:

1. a meter that runs in the prediction step (``runs_in="prediction"``) gave its result there: it
   is read from what the prediction step wrote (``session.complexity_file``, read through
   :func:`prediction_entries`); every measurement read back is ``measured_by="ingestion"``,
   ``step="prediction"`` (participant code could forge it), whatever the file says;
2. a meter that runs on the scoring side (``runs_in="scoring"``) runs now, in a forked child with
   the plan's plugin time limit, on the host's measurements of the steps
   (``MeterContext.step_measurements``: ``session.step_measurements``);
3. an entry with no result is a :class:`~aibench_plugins.evaluation.session.PluginFailure` of kind
   ``complexity`` keyed by the entry's key, whose message says why and whose fix it is (the
   ingestion program did not call ``aibench_plugins.complexity.measure``; a result submission has
   no prediction step to measure; the meter's own error); required as for every kind;
4. the measurements are the entry's summaries: its ``columns`` and ``thresholds`` go through the
   same code as the analyses' (:func:`~aibench_plugins.evaluation.analyses.entry_outcome`).

Then each ``efficiency`` item (:func:`efficiency_values`): ``weighted_ratios`` and ``ntire`` become
columns; ``pareto_rank`` gives no column here: the leaderboard computes it across runs.

The original scores are never touched. The result is the session's ``result.complexity``, a
:class:`ComplexityReport` (``report.json``'s ``complexity``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..components.analysis import Flag, Summary
from ..components.complexity import ComplexityResult, Hardware, Measurement, MeterContext
from ..components.metric import Provenance, params_sha256
from ..core.isolate import call_isolated
from ..core.kinds import Kind
from ..manifest.plan import AnalysisEntry, EfficiencyEntry
from .analyses import MAX_NOTE_CHARS, MAX_NOTES, entry_outcome, failed_columns, publishable_table
from .results import PluginColumn, PluginFailure
from .score_fields import unstorable

if TYPE_CHECKING:
    from ..core.host import PluginHost
    from ..manifest.plan import PhasePlan
    from .session import EvaluationSession

__all__ = ["NO_MEASURE_CALL", "RESULT_SUBMISSION", "ComplexityRecord", "ComplexityReport", "EfficiencyValue",
           "FileEntry", "PredictionSide", "efficiency_values", "planned_complexity_columns", "prediction_entries",
           "prediction_side_from_json", "run_complexity"]

#: why a prediction-side entry has no result when the prediction step ran but measured nothing
NO_MEASURE_CALL = ("the prediction step measured nothing for this entry: the ingestion program did not call "
                   "aibench_plugins.complexity.measure(...) (or measure_block) on the participant's model "
                   "(the organiser's to fix: call it in the ingestion program, after predicting)")
#: why it has none when there was no prediction step
RESULT_SUBMISSION = ("a result submission has no prediction step to measure: this meter measures the participant's "
                     "model while the organiser's ingestion program runs it (a code submission)")
#: the efficiency item's column metric id: ``aibench.efficiency.<formula>``
EFFICIENCY_ID = "aibench.efficiency"


# -- what the prediction step wrote -----------------------------------------------------

@dataclass(frozen=True)
class FileEntry:
    """One entry of the prediction step's complexity file: ``result`` or ``error``."""

    key: str
    use: str
    result: ComplexityResult | None
    error: str | None = None
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class PredictionSide:
    """What the prediction step's meters measured: the hardware and one item per entry that ran."""

    hardware: Hardware | None
    entries: tuple[FileEntry, ...] = ()


def prediction_side_from_json(data: Mapping[str, Any]) -> PredictionSide:
    """The prediction side of a parsed ``.aibench_complexity.json`` (``hardware``, ``entries``: the
    format of :mod:`aibench_plugins.complexity.file`); entries that cannot be read are left out."""
    entries = []
    for item in data.get("entries") or ():
        if not isinstance(item, Mapping) or not isinstance(item.get("key"), str):
            continue
        result = item.get("result")
        elapsed = item.get("elapsed_s")
        entries.append(FileEntry(item["key"], str(item.get("use")),
                                 ComplexityResult.from_json(result) if isinstance(result, Mapping) else None,
                                 str(item["error"]) if item.get("error") is not None else None,
                                 _finite(elapsed) or 0.0))
    hardware = data.get("hardware")
    return PredictionSide(Hardware.from_json(hardware) if isinstance(hardware, Mapping) else None, tuple(entries))


def prediction_entries(session: EvaluationSession) -> tuple[Hardware | None, dict[str, list[Any]]] | None:
    """The prediction step's hardware and its items by entry key, from ``session.complexity_file``
    (any object with ``hardware`` and ``entries`` of ``key``, ``use``, ``result``, ``error``,
    ``elapsed_s``: :class:`PredictionSide`, or the complexity file's own reader); ``None`` when the
    prediction step wrote nothing."""
    found = getattr(session, "complexity_file", None)
    if found is None:
        return None
    by_key: dict[str, list[Any]] = {}
    for item in getattr(found, "entries", ()) or ():
        by_key.setdefault(str(getattr(item, "key", "")), []).append(item)
    hardware = getattr(found, "hardware", None)
    return (hardware if isinstance(hardware, Hardware) else None), by_key


# -- records -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ComplexityRecord:
    """What one complexity entry gave: an item of ``report.json``'s ``complexity.entries``.
    ``error``: why it has no measurements (its failure is also in ``plugin_failures``)."""

    key: str
    use: str
    plugin: str | None
    label: str
    runs_in: str
    measurements: tuple[Measurement, ...] = ()
    notes: tuple[str, ...] = ()
    tables: tuple[Mapping[str, Any], ...] = ()
    error: str | None = None
    flags: tuple[Flag, ...] = ()
    elapsed_s: float | None = None

    @property
    def component(self) -> str:
        return self.use

    def measurement(self, name: str) -> Measurement | None:
        return next((m for m in self.measurements if m.name == name), None)

    def summary(self, name: str) -> Summary | None:
        found = self.measurement(name)
        return found.summary() if found is not None else None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "use": self.use, "plugin": self.plugin, "label": self.label, "runs_in": self.runs_in,
                "measurements": [m.to_json() for m in self.measurements], "notes": list(self.notes),
                "tables": [dict(t) for t in self.tables], "error": self.error,
                "flags": [f.to_json() for f in self.flags], "elapsed_s": self.elapsed_s}


@dataclass(frozen=True)
class EfficiencyValue:
    """One ``efficiency`` item's value for this submission (``report.json``'s ``complexity.efficiency``).

    ``terms``: each term's measurement, weight and ratio (``None``: unavailable). ``computed_by``:
    ``scoring`` (here), or ``leaderboard`` for ``pareto_rank``, whose ``cost_value`` is this
    submission's cost (its rank needs the other runs)."""

    key: str
    label: str
    formula: str
    value: float | None
    terms: tuple[tuple[str, float, float | None], ...] = ()
    error: str | None = None
    computed_by: str = "scoring"
    score: str | None = None
    cost: str | None = None
    cost_value: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "formula": self.formula, "value": self.value,
                "terms": [{"measurement": m, "weight": w, "ratio": r} for m, w, r in self.terms],
                "error": self.error, "computed_by": self.computed_by, "score": self.score, "cost": self.cost,
                "cost_value": self.cost_value}


@dataclass
class ComplexityReport:
    """Everything the complexity section gave: the hardware the prediction step ran on, each
    entry's record, and the efficiency values."""

    hardware: Hardware | None = None
    entries: list[ComplexityRecord] = field(default_factory=list)
    efficiency: list[EfficiencyValue] = field(default_factory=list)

    def entry(self, key: str) -> ComplexityRecord | None:
        return next((e for e in self.entries if e.key == key), None)

    def measurement(self, reference: str) -> Measurement | None:
        """The measurement ``<entry key>.<name>``, or ``None``."""
        key, _, name = reference.partition(".")
        entry = self.entry(key)
        return entry.measurement(name) if entry is not None else None

    @property
    def flags(self) -> list[Flag]:
        return [flag for entry in self.entries for flag in entry.flags]

    def to_json(self) -> dict[str, Any]:
        return {"hardware": self.hardware.to_json() if self.hardware is not None else None,
                "entries": [e.to_json() for e in self.entries], "efficiency": [v.to_json() for v in self.efficiency]}


# -- the runner --------------------------------------------------------------------------

def run_complexity(session: EvaluationSession, predictions: Path, reference: Path | None) -> None:
    """Run the phase's complexity entries and efficiency items into ``session.result`` (module docstring)."""
    entries, items = session.plan.complexity, session.plan.efficiency
    if not entries and not items:
        return
    side = prediction_entries(session)
    report = ComplexityReport(side[0] if side is not None else None)
    session.result.complexity = report
    for entry in entries:
        report.entries.append(_run_entry(session, entry, side))
    for value in efficiency_values(report, items):
        report.efficiency.append(value)
        item = next(i for i in items if i.key == value.key)
        if value.computed_by != "scoring":
            continue
        stored = value.value
        why = value.error
        if stored is not None and why is None:
            refused = unstorable(stored, session.platforms)
            if refused is not None:
                why, stored = f"{item.key} is {stored:.12g}, which {refused}", None
        if why is not None:
            session.result.failures.append(PluginFailure(f"{EFFICIENCY_ID}.{item.formula}", "efficiency", None,
                                                         why, item.required, item.key))
        session.result.columns.append(efficiency_column(item, stored))


def _run_entry(session: EvaluationSession, entry: AnalysisEntry,
               side: tuple[Hardware | None, dict[str, list[Any]]] | None) -> ComplexityRecord:
    registration = session.host.registry(Kind.COMPLEXITY).get(entry.use)
    info = registration.component.info
    runs_in = str(getattr(info, "runs_in", "prediction"))
    required = session.is_required(entry.required, registration.plugin)
    elapsed: float | None = None
    traceback = None
    if runs_in == "scoring":
        context = MeterContext(None, None, side[0] if side is not None and side[0] is not None else Hardware(),
                               measured_by="scoring", seed=entry.seed,
                               step_measurements=tuple(session.step_measurements))

        def measure() -> Any:
            return registration.component.measure(context, **entry.params)

        outcome = call_isolated(measure, timeout_s=session.plan.plugin_time_limit_s,
                                label=f"complexity {entry.use} [{entry.key}]")
        result, error, traceback = (outcome.value, None, None) if outcome.ok else (None, outcome.error,
                                                                                   outcome.traceback)
        if result is not None and error is None:
            error = _invalid(result)
        error = f"the meter failed: {error}" if error is not None else None
        measurements = _measurements(result, None) if error is None else ()
    else:
        items = side[1].get(entry.key, []) if side is not None else []
        item = next((i for i in items if getattr(i, "result", None) is not None and getattr(i, "block", None) is None),
                    next((i for i in items if getattr(i, "result", None) is not None), items[0] if items else None))
        result = getattr(item, "result", None)
        elapsed = _finite(getattr(item, "elapsed_s", None))
        if item is None:
            error = (RESULT_SUBMISSION if session.prediction_step_ran is False else NO_MEASURE_CALL)
        elif result is None or not isinstance(result, ComplexityResult):
            error = f"the meter failed in the prediction step: {getattr(item, 'error', None) or 'it gave no result'}"
        else:
            error = None
        measurements = _measurements(result, "prediction") if error is None else ()
    if error is not None:
        session.result.failures.append(PluginFailure(info.id, "complexity", registration.plugin, error, required,
                                                     entry.key, traceback))
        session.result.columns += failed_columns(session, entry, registration)
        return ComplexityRecord(entry.key, entry.use, registration.plugin, entry.label, runs_in, error=error,
                                elapsed_s=elapsed)
    assert isinstance(result, ComplexityResult)
    record = ComplexityRecord(entry.key, entry.use, registration.plugin, entry.label, runs_in, measurements,
                              tuple(str(n)[:MAX_NOTE_CHARS] for n in list(result.notes)[:MAX_NOTES]),
                              tuple(publishable_table(t) for t in result.tables if isinstance(t, Mapping)),
                              elapsed_s=elapsed)
    return replace(record, flags=entry_outcome(session, "complexity", entry, registration, record, required))


def _invalid(result: Any) -> str | None:
    """Why ``result`` is not a :class:`ComplexityResult` the host can use, or ``None``."""
    if not isinstance(result, ComplexityResult):
        return f"measure() returned {type(result).__name__}, not a ComplexityResult"
    if not all(isinstance(m, Measurement) and isinstance(m.name, str) for m in result.measurements):
        return "measure() returned measurements that are not all Measurement with a name"
    return None


def _measurements(result: Any, step: str | None) -> tuple[Measurement, ...]:
    """The result's measurements, each number finite or ``None``; a prediction-side one is
    ``measured_by="ingestion"``, ``step="prediction"`` whatever it says (participant code could forge it)."""
    found = []
    for m in getattr(result, "measurements", ()) or ():
        value = _finite(m.value)
        status = m.status if m.status in ("measured", "estimated", "unavailable") else "unavailable"
        reason = str(m.reason or "")
        if value is None and m.value is not None and status != "unavailable":
            status, reason = "unavailable", (reason + "; " if reason else "") + f"not a finite number ({m.value!r})"
        who = m.measured_by if m.measured_by in ("worker", "executor", "ingestion", "scoring") else "scoring"
        found.append(replace(m, name=str(m.name), value=value, unit=str(m.unit), low=_finite(m.low),
                             high=_finite(m.high), reference=_finite(m.reference), status=status, reason=reason,
                             measured_by="ingestion" if step == "prediction" else who,
                             step="prediction" if step == "prediction" else str(m.step),
                             details=_details(m.details)))
    return tuple(found)


def _details(details: Any) -> dict[str, Any]:
    if not isinstance(details, Mapping):
        return {}
    kept: dict[str, Any] = {}
    for key, value in list(details.items())[:50]:
        if isinstance(value, bool) or value is None or isinstance(value, str):
            kept[str(key)] = value if not isinstance(value, str) else value[:MAX_NOTE_CHARS]
        elif isinstance(value, numbers.Real):
            kept[str(key)] = _finite(value)
        else:
            kept[str(key)] = str(value)[:MAX_NOTE_CHARS]
    return kept


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# -- efficiency --------------------------------------------------------------------------

def term_ratio(measurement: Measurement | None) -> tuple[float | None, str | None]:
    """A term's ratio: the measurement over the reference's, or the value itself when its unit is
    ``ratio``; ``None`` and why when it is unavailable."""
    if measurement is None:
        return None, "no such measurement was given"
    if measurement.value is None:
        return None, f"{measurement.name} is unavailable" + (f" ({measurement.reason})" if measurement.reason else "")
    if measurement.unit == "ratio":
        return measurement.value, None
    if measurement.reference is None or measurement.reference == 0:
        return None, (f"{measurement.name} has no reference value to divide by (the organiser's reference workload "
                      "was not measured)" if measurement.reference is None else f"the reference's {measurement.name} "
                                                                                "is 0")
    return measurement.value / measurement.reference, None


def efficiency_values(report: ComplexityReport, items: Sequence[EfficiencyEntry]) -> list[EfficiencyValue]:
    """Each efficiency item's value from the entries' measurements (``pareto_rank``: its cost only)."""
    values = []
    for item in items:
        if item.by_leaderboard:
            cost = report.measurement(item.cost or "")
            values.append(EfficiencyValue(item.key, item.label, item.formula, None, computed_by="leaderboard",
                                          score=item.score, cost=item.cost,
                                          cost_value=cost.value if cost is not None else None))
            continue
        terms, missing = [], []
        for term in item.terms:
            ratio, why = term_ratio(report.measurement(term.measurement))
            terms.append((term.measurement, term.weight, ratio))
            if why is not None:
                missing.append(f"{term.measurement}: {why}")
        value: float | None = None
        error = None
        if missing:
            error = f"{item.label} ({item.formula}) cannot be computed: " + "; ".join(missing)
        else:
            total = sum(w * (math.exp(2 * r) if item.formula == "ntire" else r) for _, w, r in terms if r is not None)
            value = total if math.isfinite(total) else None
            error = None if value is not None else f"{item.label} ({item.formula}) is not finite"
        values.append(EfficiencyValue(item.key, item.label, item.formula, value, tuple(terms), error))
    return values


def efficiency_column(item: EfficiencyEntry, value: float | None) -> PluginColumn:
    """The leaderboard column of an efficiency item (``weighted_ratios``, ``ntire``)."""
    metric = f"{EFFICIENCY_ID}.{item.formula}"
    terms = {"terms": [[t.measurement, t.weight] for t in item.terms]}
    provenance = Provenance(metric, "1", "aibench.complexity", "aibench-plugins", __version__, params_sha256(terms),
                            __version__)
    formula = "sum of weight x ratio to the reference" if item.formula == "weighted_ratios" else \
        "sum of weight x exp(2 x ratio to the reference) (NTIRE ESR)"
    return PluginColumn(item.key, item.title, item.sort, item.precision, item.hidden, value, metric, "all",
                        provenance, description=f"{formula} over " + ", ".join(
                            f"{t.weight:g} x {t.measurement}" for t in item.terms))


def planned_complexity_columns(plan: PhasePlan, host: PluginHost) -> list[PluginColumn]:
    """The columns the phase's complexity entries and efficiency items give, without values (a
    ``pareto_rank`` item's column is the leaderboard's, not the scores file's: not among them)."""
    from ..core.registry import component_description
    from .analyses import analysis_column, metric_sorts

    sorts = metric_sorts(plan, host)
    columns = []
    registry = host.registry(Kind.COMPLEXITY)
    for entry in plan.complexity:
        if entry.use not in registry:
            continue
        registration = registry.get(entry.use)
        columns += [analysis_column(entry, column, registration.component.info, sorts,
                                    description=component_description(registration.component))
                    for column in entry.columns]
    return columns + [efficiency_column(item, None) for item in plan.efficiency if not item.by_leaderboard]
