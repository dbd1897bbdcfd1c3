"""Running a manifest's checks and metrics on one submission.

Checks run on the submission as the participant uploaded it, before scoring. Metrics
run after the original scoring program, on what it received: the predictions
(``input/res``) and the reference data (``input/ref``). Tables are read once; each
metric runs in a forked child with the manifest's plugin time limit, so one that
raises, crashes or hangs is recorded as failed and nothing else is lost. Each metric
gives one leaderboard column per split, keyed ``<key>_<split>`` (``<key>`` for all
ids), with provenance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ._check import SubmissionProblem
from ._components import Kind
from ._host import PluginHost
from ._isolate import Outcome, call_isolated
from ._manifest import Manifest
from ._metric import MetricResult, Provenance, params_sha256
from ._version import __version__

DEFAULT_PLUGIN_TIME_LIMIT_S = 60.0


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


def run_checks(manifest: Manifest, host: PluginHost, submission: Path, reference: Path | None, *,
               phase: int | str | None = None, evaluation: Evaluation | None = None) -> Evaluation:
    """Run the phase's submission checks; problems of ``error`` checks refuse the submission."""
    evaluation = evaluation if evaluation is not None else Evaluation()
    limit = _time_limit(manifest, phase)
    concepts = [c["label"] for c in manifest.document.get("concepts", [])]
    for entry in manifest.section("checks", phase):
        registration = host.registry(Kind.CHECK).get(entry["use"])
        params = dict(entry.get("params", {}))
        check = registration.component

        def call(check: Any = check, params: dict[str, Any] = params) -> list[SubmissionProblem]:
            import inspect

            # Opt-in context, by keyword: only checks that declare these parameters get them.
            declared = inspect.signature(check.function).parameters
            context = {"reference": reference, "concepts": concepts or None}
            return list(check.run(submission, **params, **{k: v for k, v in context.items() if k in declared}))

        outcome = call_isolated(call, timeout_s=limit, label=f"check {entry['use']}")
        if not outcome.ok:
            evaluation.failures.append(PluginFailure(entry["use"], "check", registration.plugin,
                                                     f"the check itself failed: {outcome.error}",
                                                     bool(entry.get("required", False)),
                                                     traceback=outcome.traceback))
            continue
        severity = entry.get("severity", "error")
        evaluation.problems += [replace(problem, severity=severity) for problem in outcome.value]
    return evaluation


def evaluate_metrics(manifest: Manifest, host: PluginHost, predictions: Path, reference: Path, *,
                     phase: int | str | None = None, evaluation: Evaluation | None = None) -> Evaluation:
    """Compute the phase's metrics on ``predictions`` (input/res) against ``reference`` (input/ref)."""
    from ._readers import ReadError, TableSpec, align, read_table

    evaluation = evaluation if evaluation is not None else Evaluation()
    entries = manifest.section("metrics", phase)
    if not entries:
        return evaluation
    data: Mapping[str, Any] = manifest.document.get("data", {})
    splits: Mapping[str, Any] = manifest.document.get("splits", {})
    limit = _time_limit(manifest, phase)
    split_columns = sorted({s["column"] for s in splits.values() if "column" in s})
    tables: dict[tuple[str, bool], Any] = {}
    joined: dict[tuple[str, str], Any] = {}

    def table(name: str, *, split_source: bool = False) -> Any:
        """The table ``name`` (read once), or its split columns (``split_source``)."""
        if (name, split_source) not in tables:
            spec = data[name]
            source = spec.get("from", "submission" if name == "predictions" else "reference")
            columns = split_columns if split_source else list(spec.get("columns", []))
            try:
                tables[name, split_source] = read_table(
                    predictions if source == "submission" else reference,
                    TableSpec(spec["file"], id=spec["id"], columns=columns, format=spec.get("format")))
            except ReadError as error:
                tables[name, split_source] = error
        return tables[name, split_source]

    for entry in entries:
        registration = host.registry(Kind.METRIC).get(entry["use"])
        info = registration.component.info
        record = host.records.get(registration.plugin)
        provenance = Provenance(info.id, info.version, registration.plugin,
                                record.distribution if record else "?", record.version if record else None,
                                params_sha256(entry.get("params", {})), __version__)
        names = {name: (entry.get("inputs") or {}).get(name, name) for name in ("predictions", "references")}
        loaded = {name: table(table_name) for name, table_name in names.items()}
        problem: ReadError | str | None = next((t for t in loaded.values() if isinstance(t, ReadError)), None)
        chosen = entry.get("splits", list(splits) or ["all"])
        ranking = info.inputs["predictions"].kind == "ranking"
        if problem is None and not ranking:
            pair = (names["predictions"], names["references"])
            if pair not in joined:  # each pair of tables is joined once, for every metric that reads it
                joined[pair] = align(loaded["predictions"], loaded["references"])
            predicted, expected, report = joined[pair]
            if not report.ok:
                problem = "; ".join(report.messages())
            predicted = _label_sets(predicted, data[names["predictions"]])
            expected = _label_sets(expected, data[names["references"]])
        if problem is not None:
            for split in chosen:
                evaluation.failures.append(PluginFailure(info.id, "metric", registration.plugin, str(problem),
                                                         bool(entry.get("required", False)), _key(entry, split)))
                evaluation.columns.append(_column(entry, info, split, None, provenance))
            continue
        split_table = table(names["references"], split_source=True) if split_columns else loaded["references"]
        for split in chosen:
            if isinstance(split_table, ReadError):
                evaluation.failures.append(PluginFailure(info.id, "metric", registration.plugin, str(split_table),
                                                         bool(entry.get("required", False)), _key(entry, split)))
                evaluation.columns.append(_column(entry, info, split, None, provenance))
                continue
            if ranking:  # rows (query, item, score) and (query, item, relevance), selected by query id
                chosen_ids = _split_ids(splits.get(split), split_table, reference)
                inputs = {name: _rows(loaded[name], chosen_ids) for name in ("predictions", "references")}
            else:
                mask = _split_mask(splits.get(split), split_table, report.reference_rows, reference)
                inputs = {"predictions": _select(predicted, mask), "references": _select(expected, mask)}

            def compute(inputs: dict[str, Any] = inputs) -> dict[str, float]:
                state = registration.component(**entry.get("params", {}))
                state.update(**inputs)
                return dict(state.compute())

            outcome = call_isolated(compute, timeout_s=limit, label=f"metric {info.id} [{_key(entry, split)}]")
            output = entry.get("output", info.primary)
            if outcome.ok and output in outcome.value and not math.isfinite(outcome.value[output]):
                outcome = Outcome(False, error=f"{output} is {outcome.value[output]} (undefined on this data); "
                                               "a leaderboard stores only finite scores (§12)")
            if outcome.ok and output in outcome.value:
                result = MetricResult(outcome.value, output, provenance)
                evaluation.columns.append(_column(entry, info, split, result.value, provenance))
            else:
                message = outcome.error if not outcome.ok else f"compute() gave no output {output!r}"
                evaluation.failures.append(PluginFailure(info.id, "metric", registration.plugin, message,
                                                         bool(entry.get("required", False)), _key(entry, split),
                                                         outcome.traceback))
                evaluation.columns.append(_column(entry, info, split, None, provenance))
    return evaluation


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


def _label_sets(values: Any, spec: Mapping[str, Any]) -> Any:
    """Values of a table whose ``separator`` is set, as one list of labels per row (multi-label)."""
    separator = spec.get("separator")
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


def _key(entry: Mapping[str, Any], split: str) -> str:
    return str(entry["key"]) if split == "all" else f"{entry['key']}_{split}"


def _column(entry: Mapping[str, Any], info: Any, split: str, value: float | None,
            provenance: Provenance | None) -> PluginColumn:
    label = str(entry.get("label", entry["key"]))
    title = label if split == "all" else f"{label} ({split})"
    sort = entry.get("sort", info.sort)
    return PluginColumn(_key(entry, split), title[:36], sort, int(entry.get("precision", 2)),
                        bool(entry.get("hidden", False)), value, info.id, split, provenance)


def planned_columns(manifest: Manifest, host: PluginHost, phase: int | str | None = None) -> list[PluginColumn]:
    """The columns the phase's metrics give, without values: what a leaderboard must declare."""
    splits = list(manifest.document.get("splits", {})) or ["all"]
    return [_column(entry, host.registry(Kind.METRIC).get(entry["use"]).component.info, split, None, None)
            for entry in manifest.section("metrics", phase) for split in entry.get("splits", splits)]


def _time_limit(manifest: Manifest, phase: int | str | None) -> float:
    limits = manifest.section("limits", phase) or {}
    return float(limits.get("plugin_time_limit_s", DEFAULT_PLUGIN_TIME_LIMIT_S))


def failure_summary(failures: Sequence[PluginFailure]) -> str:
    """One line naming every failed component, for messages."""
    return "; ".join(f"{f.component}" + (f" [{f.key}]" if f.key else "") + f": {f.message}" for f in failures)
