"""Pareto ranks of score versus cost: the efficiency entries of the manifest whose ``formula`` is
``pareto_rank``, computed over the phase's submissions (one submission alone has no rank).

An entry names a ``score`` (a leaderboard column: a metric column of the analysis, else a column
of the run's report) and a ``cost``: a measurement of a complexity entry,
``<complexity entry key>.<measurement name>`` (``macs.macs``, ``time.time.ratio``), read from the
``complexity`` section of each run's report.json, or else any column or measurement of the report
of that name::

    "efficiency": [{"key": "pareto_macs", "label": "Pareto rank (accuracy vs MACs)",
                    "formula": "pareto_rank", "score": "acc", "cost": "macs.macs"}]

(``score`` and ``cost`` may also sit in the entry's ``params``.) The score is read in its
column's direction (a column to minimise, an error, counts lower-better; default: higher is
better); the cost is always lower-better. Submission ``a`` **dominates** ``b`` when ``a`` is at
least as good on both and strictly better on one; rank 1 is the front (dominated by none), rank
2 the front of what remains, and so on (non-dominated sorting, as NSGA-II's). Two submissions
with equal score and cost share their rank. A submission whose score or cost is missing or not
finite has no rank (``None``) and the reason; it dominates nothing.

:func:`pareto_specs` reads the entries from the manifest document (defensively: a section that is
not a list of objects gives no entry), :func:`analyse_pareto` gives the leaderboard document's
``pareto`` items, :func:`pareto_ranks` the sorting alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .sources import LeaderboardError

if TYPE_CHECKING:
    from .cases import CaseColumn
    from .sources import Entry

__all__ = ["ParetoSpec", "analyse_pareto", "pareto_ranks", "pareto_specs", "report_value"]

Direction = Literal["maximize", "minimize"]


@dataclass(frozen=True)
class ParetoSpec:
    """One ``pareto_rank`` entry: its ``key`` and ``label``, the ``score`` and ``cost`` it reads,
    and the score's direction when the entry declares it (``None``: the column's)."""

    key: str
    label: str
    score: str
    cost: str
    score_direction: Direction | None = None
    #: the label of the manifest's column for the cost's measurement, when it has one
    cost_label: str | None = None


def pareto_specs(manifest: Mapping[str, Any]) -> list[ParetoSpec]:
    """The ``pareto_rank`` entries of the manifest document's ``efficiency`` section.

    :raises LeaderboardError: an entry without a key, a score or a cost, naming it.
    """
    section = manifest.get("efficiency")
    if isinstance(section, Mapping):  # {"entries": [...]} or {key: entry}
        section = section.get("entries", list(section.values()))
    if not isinstance(section, list):
        return []
    out = []
    for index, item in enumerate(section):
        if not isinstance(item, Mapping) or item.get("formula") != "pareto_rank":
            continue
        raw = item.get("params")
        params: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        key = item.get("key")
        score, cost = item.get("score", params.get("score")), item.get("cost", params.get("cost"))
        direction = item.get("score_direction", params.get("score_direction"))
        where = f"aibench.json efficiency/{index} ({key or 'no key'})"
        for name, value in (("key", key), ("score", score), ("cost", cost)):
            if not isinstance(value, str) or not value:
                raise LeaderboardError(f"{where}: a pareto_rank entry needs \"{name}\" (a column or measurement name), "
                                       f"got {value!r} (Organiser: see docs/leaderboard.md, Pareto ranks)")
        if direction not in (None, "maximize", "minimize"):
            raise LeaderboardError(f"{where}: score_direction must be maximize or minimize, got {direction!r}")
        label = item.get("label") if isinstance(item.get("label"), str) and item.get("label") else key
        out.append(ParetoSpec(str(key), str(label), str(score), str(cost), direction, _column_label(manifest, cost)))
    return out


def _column_label(manifest: Mapping[str, Any], cost: str) -> str | None:
    """The label of the complexity entry's column for ``<entry key>.<measurement>``, if it has one."""
    entry_key, _, name = cost.partition(".")
    section = manifest.get("complexity")
    for entry in section if isinstance(section, list) else []:
        if isinstance(entry, Mapping) and entry.get("key") == entry_key:
            for column in entry.get("columns") or []:
                if isinstance(column, Mapping) and column.get("summary") == name:
                    return str(column.get("label") or column.get("key") or name)
    return None


def pareto_ranks(scores: Sequence[float | None], costs: Sequence[float | None], *,
                 higher_score_better: bool = True) -> list[int | None]:
    """The Pareto rank of each (score, cost) point: 1 for the front, then the fronts of what is
    left; ``None`` for a point with a missing or non-finite value."""
    if len(scores) != len(costs):
        raise LeaderboardError(f"pareto_ranks: {len(scores)} scores for {len(costs)} costs")
    sign = 1.0 if higher_score_better else -1.0
    points = {i: (sign * float(s), float(c)) for i, (s, c) in enumerate(zip(scores, costs))
              if s is not None and c is not None and _finite(s) and _finite(c)}
    ranks: list[int | None] = [None] * len(scores)
    left, rank = set(points), 1
    while left:
        front = {i for i in left if not any(_dominates(points[j], points[i]) for j in left if j != i)}
        for i in front:
            ranks[i] = rank
        left -= front
        rank += 1
    return ranks


def _dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """``a`` (score to maximise, cost to minimise) is at least as good as ``b`` on both, better on one."""
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def analyse_pareto(specs: Sequence[ParetoSpec], entries: Sequence[Entry],
                   columns: Sequence[CaseColumn] = ()) -> list[dict[str, Any]]:
    """One item per spec: the score and cost of each submission (in ``entries`` order), its rank,
    the front, and why a submission has no rank. A score that is an analysed metric column is its
    full-data value; anything else is read from the run's report.json (:func:`report_value`)."""
    by_key = {c.key: (i, c) for i, c in enumerate(columns)}
    out = []
    for spec in specs:
        scores: list[float | None] = []
        costs: list[float | None] = []
        reasons: list[str | None] = []
        direction = spec.score_direction
        score_label, cost_label, cost_unit = spec.score, spec.cost_label or spec.cost, None
        for index, entry in enumerate(entries):
            if spec.score in by_key:
                column = by_key[spec.score][1]
                score: float | None = float(column.values[index])
                direction = direction or column.direction
                score_label = column.label
            else:
                found = report_value(entry.report, spec.score)
                score = found.value if found else None
                if found:
                    direction = direction or found.direction
                    score_label = found.label or score_label
            found_cost = report_value(entry.report, spec.cost)
            cost = found_cost.value if found_cost else None
            if found_cost:
                cost_label = spec.cost_label or found_cost.label or cost_label
                cost_unit = cost_unit or found_cost.unit
            why = None
            if not _finite(score):
                why = (f"no score {spec.score!r} in its report" if entry.report else "its run has no report.json")
            elif not _finite(cost):
                why = (f"no cost {spec.cost!r} in its report (its run measured none: is the complexity meter that "
                       "gives it declared, and did the ingestion program call aibench_plugins.complexity.measure?)"
                       if entry.report else "its run has no report.json")
            scores.append(score if _finite(score) else None)
            costs.append(cost if _finite(cost) else None)
            reasons.append(why)
        direction = direction or "maximize"
        ranks = pareto_ranks(scores, costs, higher_score_better=direction == "maximize")
        points: list[dict[str, Any]] = [{"submission": e.name, "score": s, "cost": c, "rank": r, "missing": why}
                                        for e, s, c, r, why in zip(entries, scores, costs, ranks, reasons)]
        out.append({"key": spec.key, "label": spec.label,
                    "score": {"key": spec.score, "label": score_label, "direction": direction},
                    "cost": {"key": spec.cost, "label": cost_label, "unit": cost_unit, "direction": "minimize"},
                    "points": points, "front": sorted(p["submission"] for p in points if p["rank"] == 1)})
    return out


@dataclass(frozen=True)
class Found:
    """A value read from a report, with what the report says of it."""

    value: float | None
    direction: Direction | None = None
    label: str | None = None
    unit: str | None = None


def report_value(report: Mapping[str, Any] | None, key: str) -> Found | None:
    """The value named ``key`` in a run's report.json: ``<entry key>.<measurement name>`` of an
    entry of the ``complexity`` section first, then a leaderboard column (the original scores'
    ``columns``, the ``plugin_columns``, then a column of the ``complexity`` or ``efficiency``
    sections), else a measurement of that name (``measurements``, then those of the
    ``complexity`` section). ``None``: the report has none."""
    if not isinstance(report, Mapping):
        return None
    entry_key, dot, name = key.partition(".")
    if dot and name:
        for item in _objects(report.get("complexity")):
            if item.get("key") == entry_key and isinstance(item.get("measurements"), list):
                for measurement in item["measurements"]:
                    if isinstance(measurement, Mapping) and measurement.get("name") == name:
                        return _found(measurement)
    for section in ("columns", "plugin_columns"):
        for item in report.get(section) or []:
            if isinstance(item, Mapping) and item.get("key") == key:
                return _found(item)
    for section in ("complexity", "efficiency"):
        for item in _objects(report.get(section)):
            if item.get("key") == key and "value" in item and not isinstance(item.get("value"), (Mapping, list)):
                return _found(item)
    for section in ("measurements", "complexity"):
        for item in _objects(report.get(section) if section == "complexity" else report.get(section) or []):
            if item.get("name") == key and "value" in item:
                return _found(item)
    return None


def _found(item: Mapping[str, Any]) -> Found:
    value = item.get("value")
    sorting = item.get("sorting")
    direction: Direction | None = "maximize" if sorting == "desc" else "minimize" if sorting == "asc" else None
    label = item.get("title") or item.get("label")
    unit = item.get("unit")
    return Found(float(value) if value is not None and _finite(value) else None, direction, str(label) if label else None,
                 str(unit) if unit else None)


def _objects(value: Any, depth: int = 0) -> Iterator[Mapping[str, Any]]:
    """Every object inside ``value`` (lists and objects walked, a few levels deep), outermost first."""
    if depth > 6:
        return
    if isinstance(value, Mapping):
        yield value
        for inner in value.values():
            if isinstance(inner, (Mapping, list)):
                yield from _objects(inner, depth + 1)
    elif isinstance(value, list):
        for inner in value:
            yield from _objects(inner, depth + 1)
