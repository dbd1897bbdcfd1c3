"""Each submission's predictions read with the manifest's tables and aligned on the reference
ids, as ``aibench run`` reads them, into the phase's :class:`~.cases.CaseColumn` s.

The cases are the reference rows of the chosen split (``all`` by default) of the first
submission's reference data; every other submission must be scored against the same ids
(else :class:`LeaderboardError`: the runs used different reference data). A submission whose
predictions cannot be read, or miss or repeat ids, is skipped with the reason, as its own
columns failed in its run. Ranking metrics (one row per query and item) have no per-case layout
here and are left out with a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cases import CaseColumn, column_for
from .sources import Entry, LeaderboardError, PhaseSource, Skipped

if TYPE_CHECKING:
    from ..components.analysis import MetricData
    from ..manifest.plan import MetricEntry

__all__ = ["read_columns"]


def read_columns(source: PhaseSource, split: str = "all", keys: Sequence[str] = ()) -> list[CaseColumn]:
    """The phase's metric columns over ``split`` (each metric entry that has the split; only
    ``keys`` when given), for the submissions of ``source`` that can be read. Unreadable
    submissions move from ``source.entries`` to ``source.skipped``.

    :raises LeaderboardError: no metric, an unknown key, no readable submission, or submissions
        scored against different reference ids.
    """
    from ..core.kinds import Kind

    plan = source.plan
    registry = source.host.registry(Kind.METRIC)
    entries = [m for m in plan.metrics if split in m.splits and m.use in registry]
    if split != "all" and split not in plan.splits:
        raise LeaderboardError(f"--split {split!r}: the manifest declares no such split (it has "
                               f"{', '.join(['all', *plan.splits]) or 'all'})")
    ranking = [m for m in entries if registry.get(m.use).component.info.inputs["predictions"].kind == "ranking"]
    if ranking:
        source.notes.append("ranking metrics (" + ", ".join(m.key for m in ranking) + ") are left out: their cases are "
                            "queries of several rows, which this analysis does not resample")
        entries = [m for m in entries if m not in ranking]
    chosen = {m.column_key(split): m for m in entries}
    unknown = [k for k in keys if k not in chosen]
    if unknown:
        raise LeaderboardError(f"no metric column {', '.join(map(repr, unknown))} over split {split!r} in the manifest; "
                               f"its columns are {', '.join(chosen) or 'none'}")
    if keys:
        chosen = {k: chosen[k] for k in keys}
    if not chosen:
        raise LeaderboardError(f"the manifest's phase has no metric over split {split!r} to analyse (Organiser: add "
                               "metrics to aibench.json)")
    per_submission: list[tuple[Entry, dict[str, MetricData]]] = []
    reference_ids: Any = None
    for entry in list(source.entries):
        try:
            data = {key: _metric_data(source, entry, metric, split, registry) for key, metric in chosen.items()}
        except _Unreadable as why:
            source.entries.remove(entry)
            source.skipped.append(Skipped(entry.name, str(why)))
            continue
        ids = next(iter(data.values())).ids
        if reference_ids is None:
            reference_ids = ids
        elif len(ids) != len(reference_ids) or not (ids == reference_ids).all():
            raise LeaderboardError(f"{entry.name} was scored against other reference ids than "
                                   f"{per_submission[0][0].name} ({len(ids)} and {len(reference_ids)} cases): the runs "
                                   "used different reference data; analyse runs of one version of the bundle "
                                   "(--run picks runs)")
        per_submission.append((entry, data))
    if not per_submission:
        raise LeaderboardError("no submission could be read: " + "; ".join(f"{s.name}: {s.reason}"
                                                                            for s in source.skipped))
    return [column_for(key, metric.title(split), metric.precision, [data[key] for _, data in per_submission])
            for key, metric in chosen.items()]


class _Unreadable(Exception):
    pass


def _metric_data(source: PhaseSource, entry: Entry, metric: MetricEntry, split: str, registry: Any) -> MetricData:
    """One metric's aligned inputs for one submission, over ``split`` (the evaluation session's reading)."""
    from ..components.analysis import MetricData
    from ..data.readers import ReadError, TableSpec, align, read_table

    plan = source.plan
    tables = {}
    for role in ("predictions", "references"):
        decl = plan.tables.get(metric.inputs[role])
        if decl is None:
            raise LeaderboardError(f"metric {metric.key!r} reads table {metric.inputs[role]!r}, which the manifest "
                                   "does not declare under data")
        folder = entry.predictions_dir if decl.source == "submission" else entry.reference_dir
        try:
            tables[role] = read_table(folder, TableSpec(decl.file, id=decl.id, columns=list(decl.columns),
                                                        **(decl.layout | decl.meaning)))
        except ReadError as error:
            owner = "the participant's" if decl.source == "submission" else "the organiser's (reference data)"
            raise _Unreadable(f"{decl.name} table: {error} ({owner} to fix)") from None
    predicted, expected, report = align(tables["predictions"], tables["references"])
    if not report.ok:
        raise _Unreadable("its predictions do not match the reference ids: " + "; ".join(report.messages()))
    mask = _split_mask(plan, split, plan.tables[metric.inputs["references"]], tables["references"],
                       report.reference_rows, entry.reference_dir)
    ids = tables["references"].ids[report.reference_rows]
    separators = [plan.tables[metric.inputs[r]].separator for r in ("predictions", "references")]
    predicted, expected = (_label_sets(v, s) for v, s in zip((predicted, expected), separators))
    if mask is not None:
        ids, predicted, expected = ids[mask], _select(predicted, mask), _select(expected, mask)
    component = registry.get(metric.use).component
    return MetricData(metric.key, metric.label, component.info, metric.params, component, ids, predicted, expected,
                      metric.output)


def _split_mask(plan: Any, split: str, decl: Any, references: Any, rows: Any, reference_dir: Path) -> Any:
    """The rows of ``split`` among the aligned rows (``None``: every row), as the session selects them."""
    import numpy as np

    from ..data.readers import ReadError, TableSpec, read_table
    from ..data.ids import read_ids_file

    spec = plan.splits.get(split) if split != "all" else None
    if spec is None:
        return None
    ids = np.asarray(references.ids)[rows].astype(str)
    try:
        if "ids" in spec:
            return np.isin(ids, [str(i) for i in spec["ids"]])
        if "ids_file" in spec:
            return np.isin(ids, read_ids_file(reference_dir, spec["ids_file"]))
        table = read_table(reference_dir, TableSpec(decl.file, id=decl.id, columns=[spec["column"]], **decl.layout))
        values = np.asarray(table.column(spec["column"]))[rows]
    except ReadError as error:
        raise LeaderboardError(f"split {split!r}: {error} (the organiser's to fix)") from None
    return values.astype(str) == str(spec["value"])


def _label_sets(values: Any, separator: str | None) -> Any:
    if separator is None:
        return values
    return [[] if v is None or v == "" or (isinstance(v, float) and v != v) else str(v).split(separator)
            for v in values]


def _select(values: Any, mask: Any) -> Any:
    if isinstance(values, list):
        return [v for v, keep in zip(values, mask) if keep]
    return values[mask]
