"""The runner of the two analysis kinds, fairness checkers and robustness checkers
(:mod:`aibench_plugins.components.analysis` is their contract).

After the metrics, each entry of the phase's ``fairness`` then ``robustness`` section runs once:

1. its :class:`~aibench_plugins.components.analysis.AnalysisContext` is built from what the
   metrics read (every metric's predictions and references aligned on ids, the ``all`` split,
   from the session's tables already read), the declared tables (each read once, before the
   first entry forks), the entry's ``seed`` and minimum group size, the session's
   ``perturbed_runs`` and :func:`read_predictions`;
2. the component's ``analyse`` runs in a forked child with the plan's plugin time limit; one
   that raises, crashes, hangs or returns something else than an ``AnalysisResult`` is a
   :class:`~aibench_plugins.evaluation.session.PluginFailure` of kind ``fairness`` or
   ``robustness`` keyed by the entry's key (required as for metrics), and the original scores
   and the metrics' columns stand;
3. **the privacy filter** (:func:`publishable`): every ``GroupStat`` over fewer rows than the
   entry's minimum group size is dropped, only counted (``dropped_groups``), as are the rows of
   its tables whose ``n`` column is below it; values that are not finite become ``None``;
   nothing of what was dropped is written anywhere (report, page, ``--json``, scores, logs);
4. the entry's thresholds become :class:`~aibench_plugins.components.analysis.Flag` s
   (:func:`threshold_flags`): a ``fail`` one fails the submission, its original scores kept;
5. the entry's columns become :class:`~aibench_plugins.evaluation.session.PluginColumn` s
   (``metric`` the component id, ``split`` ``all``); a summary the component did not give (or
   gave as ``None``), or one no leaderboard can store, is a failure of that column alone.

The result is one :class:`AnalysisRecord` per entry that ran (``report.json``'s ``analyses``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .._version import __version__
from ..components.analysis import AnalysisContext, AnalysisResult, Flag, GroupStat, MetricData, Summary
from ..components.metric import Provenance, params_sha256
from ..core.isolate import call_isolated
from ..core.kinds import Kind
from ..core.registry import component_description
from ..manifest.analyses import summary_direction
from ..manifest.plan import AnalysisColumn, AnalysisEntry, Threshold
from .score_fields import unstorable
from .results import PluginColumn, PluginFailure, label_sets

if TYPE_CHECKING:
    from ..core.host import PluginHost
    from ..core.registry import Registration
    from ..manifest.plan import PhasePlan
    from .session import EvaluationSession, _Tables

__all__ = ["AnalysisRecord", "Summarised", "analysis_column", "entry_outcome", "failed_columns", "publishable_table", "metric_data", "metric_sorts", "planned_analysis_columns",
           "publishable", "read_predictions", "run_analyses", "threshold_flags"]

#: the longest note kept (characters), and the most notes and tables rows kept per analysis
MAX_NOTE_CHARS, MAX_NOTES, MAX_TABLE_ROWS = 2000, 50, 10_000
#: the longest string kept in a table cell or a group's value
MAX_CELL_CHARS = 200


@dataclass(frozen=True)
class AnalysisRecord:
    """What one fairness or robustness entry gave, after the privacy filter: one item of the
    report's ``analyses`` (``schemas/aibench-report.schema.json``)."""

    kind: str
    component: str
    plugin: str
    key: str
    label: str
    min_group_size: int | None
    dropped_groups: int
    summaries: tuple[Summary, ...] = ()
    groups: tuple[GroupStat, ...] = ()
    tables: tuple[Mapping[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    flags: tuple[Flag, ...] = field(default=())

    def summary(self, name: str) -> Summary | None:
        return next((s for s in self.summaries if s.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "component": self.component, "plugin": self.plugin, "key": self.key,
                "label": self.label, "min_group_size": self.min_group_size, "dropped_groups": self.dropped_groups,
                "summaries": [s.to_json() for s in self.summaries], "groups": [g.to_json() for g in self.groups],
                "tables": [dict(t) for t in self.tables], "notes": list(self.notes),
                "flags": [f.to_json() for f in self.flags]}


def run_analyses(session: EvaluationSession, kind: Kind, predictions: Path, reference: Path | None) -> None:
    """Run the phase's entries of ``kind`` (fairness or robustness) on ``predictions`` (input/res)
    against ``reference`` (input/ref), into ``session.result`` (see the module docstring)."""
    entries = session.plan.fairness if kind is Kind.FAIRNESS else session.plan.robustness
    if not entries or reference is None:
        return
    tables = session.tables(predictions, reference)
    for name in session.plan.tables:  # read once, here: each entry's child then finds them read
        tables.get(name)
    metrics = metric_data(session, tables)
    for entry in entries:
        _run_entry(session, kind, entry, tables, metrics)


def _run_entry(session: EvaluationSession, kind: Kind, entry: AnalysisEntry, tables: _Tables,
               metrics: Mapping[str, MetricData]) -> None:
    registration = session.host.registry(kind).get(entry.use)
    info = registration.component.info
    minimum = entry.group_minimum(info.needs)
    required = session.is_required(entry.required, registration.plugin)
    context = AnalysisContext(metrics=metrics, reference_dir=tables.reference, table=_table_accessor(tables),
                              seed=entry.seed, min_group_size=minimum, perturbed_runs=dict(session.perturbed_runs),
                              read_predictions=lambda folder, key: read_predictions(session, tables, folder, key))

    def analyse() -> Any:
        return registration.component.analyse(context, **entry.params)

    outcome = call_isolated(analyse, timeout_s=session.plan.plugin_time_limit_s, label=f"{kind.value} {entry.use} "
                                                                                      f"[{entry.key}]")
    result = outcome.value if outcome.ok else None
    error = outcome.error if not outcome.ok else _invalid(result)
    evaluation = session.result
    if error is not None:
        evaluation.failures.append(PluginFailure(info.id, kind.value, registration.plugin,
                                                 f"the {kind.value} checker failed: {error}", required, entry.key,
                                                 outcome.traceback))
        evaluation.columns += failed_columns(session, entry, registration)
        return
    assert isinstance(result, AnalysisResult)
    try:
        record = publishable(kind.value, entry, registration.plugin, info.id, result, minimum)
    except Exception as error:  # noqa: BLE001 - a result of an odd shape fails its entry, never the session
        evaluation.failures.append(PluginFailure(info.id, kind.value, registration.plugin,
                                                 f"the {kind.value} checker failed: its result cannot be read "
                                                 f"({type(error).__name__})", required, entry.key))
        evaluation.columns += failed_columns(session, entry, registration)
        return
    record = replace(record, flags=entry_outcome(session, kind.value, entry, registration, record, required))
    evaluation.analyses.append(record)


class Summarised(Protocol):
    """What gives an entry's summaries: an :class:`AnalysisRecord`, or a complexity meter's record
    (:mod:`.complexity`), whose measurements are summaries."""

    @property
    def component(self) -> str: ...

    def summary(self, name: str) -> Summary | None: ...


def entry_outcome(session: EvaluationSession, kind: str, entry: AnalysisEntry, registration: Registration,
                  record: Summarised, required: bool) -> tuple[Flag, ...]:
    """What an entry that gave its summaries (``record``) gives the session, the same for every kind
    whose entries name summaries (fairness, robustness, complexity): its ``columns`` (into
    ``session.result.columns``; a column whose summary is missing, has no value or cannot be stored
    is a failure of that column alone, except an unavailable complexity measurement of an entry that
    is not required), a failure for each threshold it cannot check, and the flags
    of the thresholds crossed (returned, for the record)."""
    evaluation = session.result
    component = registration.component.info.id
    flags = threshold_flags(entry, record)
    for threshold in entry.thresholds:
        summary = record.summary(threshold.summary)
        if summary is None or summary.value is None:
            evaluation.failures.append(PluginFailure(
                component, kind, registration.plugin,
                f"threshold on {threshold.summary!r} not checked: {component} gave no value for it", required,
                entry.key))
    for column in entry.columns:
        value, why = _column_value(record, column, session)
        if why is not None and (required or not _unavailable(record, column.summary)):
            evaluation.failures.append(PluginFailure(component, kind, registration.plugin, why, required, column.key))
        evaluation.columns.append(_column(entry, column, registration.component.info, registration, value, session))
    return flags


def _unavailable(record: Summarised, name: str) -> bool:
    """Whether ``name`` is a complexity measurement that could not be taken here (status
    ``unavailable``, with its reason in the report and on the page): its column stays empty, which
    is no failure of the meter unless the entry is required."""
    measurement = getattr(record, "measurement", None)
    found = measurement(name) if callable(measurement) else None
    return getattr(found, "status", None) == "unavailable"


def failed_columns(session: EvaluationSession, entry: AnalysisEntry, registration: Registration) -> list[PluginColumn]:
    """The entry's columns without values: an entry that failed still declares them."""
    info = registration.component.info
    return [_column(entry, column, info, registration, None, session) for column in entry.columns]


def _invalid(result: Any) -> str | None:
    """Why ``result`` is not an :class:`AnalysisResult` the host can use, or ``None``."""
    if not isinstance(result, AnalysisResult):
        return f"analyse() returned {type(result).__name__}, not an AnalysisResult"
    for name, items, kind in (("summaries", result.summaries, Summary), ("groups", result.groups, GroupStat)):
        if not all(isinstance(item, kind) for item in items):
            return f"analyse() returned {name} that are not all {kind.__name__}"
    if not all(isinstance(s.name, str) for s in result.summaries):
        return "analyse() returned a summary whose name is not a string"
    if not all(isinstance(g.n, numbers.Integral) and not isinstance(g.n, bool) and g.n >= 0 for g in result.groups):
        return "analyse() returned a GroupStat whose n is not a count (an integer of at least 0)"
    if not all(isinstance(g.group, Mapping) for g in result.groups):
        return "analyse() returned a GroupStat whose group is not a mapping of attribute to value"
    if not all(isinstance(t, Mapping) for t in result.tables) or not all(isinstance(n, str) for n in result.notes):
        return "analyse() returned tables that are not mappings or notes that are not strings"
    return None


def publishable(kind: str, entry: AnalysisEntry, plugin: str, component: str, result: AnalysisResult,
                min_group_size: int | None) -> AnalysisRecord:
    """The part of ``result`` that may be published: **the privacy filter**. Every ``GroupStat``
    with ``n`` below ``min_group_size`` is dropped and only counted (``dropped_groups``), as is
    every row of a table whose ``n`` column holds a number below it; numbers that are not
    finite become ``None``; notes and strings are bounded. ``min_group_size`` ``None``: the
    component needs no groups, and no group is dropped."""
    def small(n: Any) -> bool:
        return min_group_size is not None and _finite(n) is not None and float(n) < min_group_size

    groups = [g for g in result.groups if not small(g.n)]
    dropped = len(result.groups) - len(groups)
    tables = []
    for table in result.tables:
        kept, cut = _table(table, small)
        tables.append(kept)
        dropped += cut
    return AnalysisRecord(
        kind, component, plugin, entry.key, entry.label, min_group_size, dropped,
        tuple(Summary(str(s.name), _finite(s.value), _finite(s.low), _finite(s.high), _text(s.description))
              for s in result.summaries),
        tuple(GroupStat({_text(k): _text(v) for k, v in dict(g.group).items()}, int(g.n), _text(g.measure),
                        _finite(g.value), _finite(g.low), _finite(g.high)) for g in groups),
        tuple(tables), tuple(_text(n, MAX_NOTE_CHARS) for n in list(result.notes)[:MAX_NOTES]))


def _table(table: Mapping[str, Any], small: Any) -> tuple[dict[str, Any], int]:
    """A table of the result, cells sanitised, without its rows whose ``n`` column is small."""
    columns = [_text(c) for c in list(table.get("columns") or [])]
    at = columns.index("n") if "n" in columns else None
    rows, cut = [], 0
    for row in list(table.get("rows") or [])[:MAX_TABLE_ROWS]:
        cells = list(row) if isinstance(row, (list, tuple)) else [row]
        if at is not None and at < len(cells) and small(cells[at]):
            cut += 1
            continue
        rows.append([_cell(c) for c in cells])
    return {"title": _text(table.get("title") or ""), "columns": columns, "rows": rows}, cut


def publishable_table(table: Mapping[str, Any]) -> dict[str, Any]:
    """A table of a result as the report holds it (``title``, ``columns``, ``rows``), cells
    sanitised and bounded: what :func:`publishable` does to a table, with no row dropped."""
    return _table(table, lambda n: False)[0]


def _cell(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return value if isinstance(value, int) else _finite(value)
    try:
        return _finite(float(value)) if hasattr(value, "dtype") else _text(value)
    except (TypeError, ValueError):
        return _text(value)


def _finite(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` (missing, not a number, NaN or infinite)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any, limit: int = MAX_CELL_CHARS) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def threshold_flags(entry: AnalysisEntry, record: Summarised) -> tuple[Flag, ...]:
    """A :class:`Flag` for each of the entry's thresholds its summary crosses (a summary
    without a value crosses nothing; the runner records that as a failure)."""
    flags = []
    for threshold in entry.thresholds:
        summary = record.summary(threshold.summary)
        if summary is None or summary.value is None or not threshold.crossed(summary.value):
            continue
        flags.append(Flag(threshold.summary, summary.value, threshold.value, threshold.bound, threshold.action,
                          _flag_message(entry, threshold, summary.value)))
    return tuple(flags)


def _flag_message(entry: AnalysisEntry, threshold: Threshold, value: float) -> str:
    side = "below the minimum" if threshold.bound == "min" else "above the maximum"
    outcome = ("the submission fails; its original scores are kept" if threshold.action == "fail"
               else "flagged; the submission stands")
    return (f"{entry.label}: {threshold.summary} is {value:.6g}, {side} of {threshold.value:g} that the organiser "
            f"set (a '{threshold.action}' threshold): {outcome}")


def _column_value(record: Summarised, column: AnalysisColumn, session: EvaluationSession
                  ) -> tuple[float | None, str | None]:
    """A column's value, or ``None`` and why it failed (no such summary, no value, not storable)."""
    summary = record.summary(column.summary)
    if summary is None:
        return None, f"{record.component} gave no summary {column.summary!r} for column {column.key!r}"
    if summary.value is None:
        reason = f": {summary.description}" if summary.description else " (undefined on this data, or not finite)"
        return None, (f"{record.component} gave no value for {column.summary!r}{reason}; a leaderboard stores only "
                      "finite scores")
    why = unstorable(summary.value, session.platforms)
    return (summary.value, None) if why is None else (None, f"{column.summary} is {summary.value:.12g}, which {why}")


def analysis_column(entry: AnalysisEntry, column: AnalysisColumn, info: Any, metric_sorts: Mapping[str, str],
                    value: float | None = None, provenance: Provenance | None = None,
                    description: str | None = None) -> PluginColumn:
    """The leaderboard column of one ``columns`` item (its ``sorting``, else the summary's direction)."""
    sorting = column.sorting or summary_direction(info, column.summary, metric_sorts) or "desc"
    spec = info.summary_spec(column.summary)
    return PluginColumn(column.key, column.title, sorting, column.precision, column.hidden, value, info.id, "all",
                        provenance, description=(spec.description if spec is not None and spec.description
                                                 else description) or None)


def _column(entry: AnalysisEntry, column: AnalysisColumn, info: Any, registration: Registration,
            value: float | None, session: EvaluationSession) -> PluginColumn:
    record = session.host.records.get(registration.plugin)
    provenance = Provenance(info.id, info.version, registration.plugin, record.distribution if record else "?",
                            record.version if record else None, params_sha256(entry.params), __version__)
    return analysis_column(entry, column, info, metric_sorts(session.plan, session.host), value, provenance,
                           component_description(registration.component))


def metric_sorts(plan: PhasePlan, host: PluginHost) -> dict[str, str]:
    """Each metric key of the phase -> its column's sort (``asc``/``desc``)."""
    registry = host.registry(Kind.METRIC)
    return {m.key: m.sort or registry.get(m.use).component.info.sort for m in plan.metrics if m.use in registry}


def planned_analysis_columns(plan: PhasePlan, host: PluginHost) -> list[PluginColumn]:
    """The columns the phase's analyses give, without values: what a leaderboard must declare."""
    sorts = metric_sorts(plan, host)
    columns = []
    for entry in plan.analyses:
        kind = Kind.FAIRNESS if entry.kind == "fairness" else Kind.ROBUSTNESS
        registration = host.registry(kind).get(entry.use)
        columns += [analysis_column(entry, column, registration.component.info, sorts,
                                    description=component_description(registration.component))
                    for column in entry.columns]
    return columns


def metric_data(session: EvaluationSession, tables: _Tables) -> dict[str, MetricData]:
    """Every metric of the phase as an analysis sees it, by manifest key: its inputs aligned on ids
    over the ``all`` split (a metric whose inputs cannot be read, or that ranks, is left out)."""
    from ..data.readers import ReadError

    import numpy as np

    found: dict[str, MetricData] = {}
    registry = session.host.registry(Kind.METRIC)
    for entry in session.plan.metrics:
        if entry.use not in registry:
            continue
        component = registry.get(entry.use).component
        info = component.info
        names = entry.inputs
        if info.inputs["predictions"].kind == "ranking":
            continue
        if any(isinstance(tables.get(names[n]), ReadError) for n in ("predictions", "references")):
            continue
        predicted, expected, report = tables.join(names["predictions"], names["references"])
        if not report.ok:
            continue
        ids = np.asarray(tables.get(names["references"]).ids)[report.reference_rows]
        found[entry.key] = MetricData(
            entry.key, entry.label, info, dict(entry.params), component, ids,
            label_sets(predicted, session.plan.tables[names["predictions"]].separator),
            label_sets(expected, session.plan.tables[names["references"]].separator), entry.output)
    return found


def _table_accessor(tables: _Tables) -> Any:
    def table(name: str) -> Any:
        from ..data.readers import ReadError

        if name not in tables.plan.tables:
            known = ", ".join(map(repr, sorted(tables.plan.tables))) or "none"
            raise ReadError(f"no table {name!r} is declared under /data (declared: {known})", file=name,
                            kind="invalid", fix="declare it under /data in aibench.json (the organiser's to fix)")
        found = tables.get(name)
        if isinstance(found, ReadError):
            raise found
        return found

    return table


def read_predictions(session: EvaluationSession, tables: _Tables, folder: Path, key: str) -> Any:
    """The predictions of metric ``key`` read from another ``input/res`` (``folder``: a perturbed
    run) as the metric's own are read, aligned on the same ids as the metric's
    :class:`MetricData` (a ``ReadError`` when unreadable, when ids are missing or differ)."""
    import numpy as np

    from ..data.readers import ReadError, TableSpec, align, read_table

    entry = next((m for m in session.plan.metrics if m.key == key), None)
    if entry is None:
        raise ReadError(f"no metric {key!r} in the phase", file=str(folder), kind="invalid")
    decl = session.plan.tables[entry.inputs["predictions"]]
    references = tables.get(entry.inputs["references"])
    if isinstance(references, ReadError):
        raise references
    other = read_table(folder, TableSpec(decl.file, id=decl.id, columns=list(decl.columns), **decl.layout,
                                         **decl.meaning))
    predicted, _, report = align(other, references)
    _, _, own = tables.join(entry.inputs["predictions"], entry.inputs["references"])
    if not report.ok or not np.array_equal(report.reference_rows, own.reference_rows):
        raise ReadError(f"the predictions in {folder.name} do not cover the same ids as the submission's own: "
                        + "; ".join(report.messages()), file=decl.file, kind="invalid")
    return label_sets(predicted, decl.separator)
