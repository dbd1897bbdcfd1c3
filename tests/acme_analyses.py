"""A test-only plugin of two analyses (tests/analysiskit.py installs it as the ``acme-analyses``
distribution; in-process tests register this module directly).

``acme.group_gap`` (a fairness checker, needs groups) reads the ``groups`` table (``id``, and the
attribute column ``params.attribute``, default ``group``) and gives, for every metric of the phase,
one :class:`GroupStat` per group (every group, small ones too: the host must drop them), the gap
between the best and the worst group of at least ``min_group_size`` rows (``gap.<metric>``) and the
worst such group's value (``worst_group.<metric>``). ``params.fault`` makes it misbehave on purpose:
``raise``, ``hang``, ``crash``, ``invalid`` (returns a dict), ``nan`` (every summary not finite),
``omit`` (gives no ``worst_group.*``), ``huge`` (a gap no leaderboard can store),
``group_not_mapping`` and ``table_of_garbage`` (results of an odd shape).

``acme.overall`` (a robustness checker, needs nothing) gives ``score.<metric>``, each metric on
every row, ``constant`` (``params.value``, default 0.5) and, with ``params.compare`` a metric key,
``agreement.<run>``: the share of that metric's predictions each perturbed run left unchanged.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aibench_plugins import AnalysisInfo, AnalysisResult, GroupStat, Summary, SummarySpec, hookimpl

FAULTS = ["raise", "hang", "crash", "invalid", "nan", "omit", "huge", "group_not_mapping", "table_of_garbage"]


class GroupGap:
    """The gap between groups of a sensitive attribute, per metric (a test plugin)."""

    info = AnalysisInfo(
        id="acme.group_gap", description="Per-group metric values and the gap between the best and worst group.",
        needs=("groups",),
        summaries=(SummarySpec("gap.{metric}", "minimize", "Best group minus worst group."),
                   SummarySpec("worst_group.{metric}", "metric", "The worst group's value."),
                   SummarySpec("groups_published", "maximize", "How many groups are large enough.")),
        params_schema={"type": "object", "additionalProperties": False,
                       "properties": {"attribute": {"type": "string"}, "fault": {"enum": FAULTS}}})

    def analyse(self, context: Any, attribute: str = "group", fault: str | None = None) -> Any:
        import numpy as np

        if fault == "raise":
            raise RuntimeError("acme.group_gap was told to fail")
        if fault == "hang":
            while True:
                time.sleep(1)
        if fault == "crash":
            os._exit(3)
        if fault == "invalid":
            return {"gap": 0.1}
        if fault == "group_not_mapping":
            return AnalysisResult(groups=[GroupStat("A", 28, "mcc", 0.5)])  # type: ignore[arg-type]
        if fault == "table_of_garbage":
            return AnalysisResult(tables=[{"title": "t", "columns": 5, "rows": []}])
        table = context.table("groups")
        of_id = dict(zip(np.asarray(table.ids).astype(str), np.asarray(table.column(attribute)).astype(str)))
        minimum = context.min_group_size or 1
        summaries, groups = [], []
        large = 0
        for key, metric in context.metrics.items():
            labels = np.array([of_id[str(i)] for i in metric.ids])
            values = {}
            for name in sorted(set(labels)):
                rows = labels == name
                value = metric.compute(rows)
                groups.append(GroupStat({attribute: name}, int(rows.sum()), key, value))
                if rows.sum() >= minimum:
                    values[name] = value
            large = len(values)
            found = list(values.values())
            worst = (min(found) if metric.direction == "maximize" else max(found)) if found else None
            gap = max(found) - min(found) if found else None
            if fault == "nan":
                gap = worst = float("nan")
            if fault == "huge":
                gap = 1e300
            summaries.append(Summary(f"gap.{key}", gap))
            if fault != "omit":
                summaries.append(Summary(f"worst_group.{key}", worst))
        summaries.append(Summary("groups_published", float(large)))
        return AnalysisResult(summaries=summaries, groups=groups,
                              tables=[{"title": "Groups", "columns": ["group", "n"],
                                       "rows": [[g.group[attribute], g.n] for g in groups]}],
                              notes=[f"{len(groups)} group statistics computed"])


class Overall:
    """Each metric on every row, as a robustness checker (a test plugin)."""

    info = AnalysisInfo(
        id="acme.overall", description="Each metric on every row, and a constant.",
        summaries=(SummarySpec("score.{metric}", "metric"), SummarySpec("constant", "maximize"),
                   SummarySpec("agreement.*", "maximize", "Share of predictions a perturbed run left unchanged.")),
        params_schema={"type": "object", "additionalProperties": False,
                       "properties": {"value": {"type": "number"}, "compare": {"type": "string"}}})

    def analyse(self, context: Any, value: float = 0.5, compare: str | None = None) -> Any:
        import numpy as np

        summaries = [Summary(f"score.{key}", metric.compute()) for key, metric in context.metrics.items()]
        if compare is not None:  # the metric ``compare``'s predictions in each perturbed run
            own = np.asarray(context.metrics[compare].predictions)
            for name, folder in sorted(context.perturbed_runs.items()):
                other = np.asarray(context.read_predictions(folder, compare))
                summaries.append(Summary(f"agreement.{name}", float(np.mean(own == other))))
        return AnalysisResult(summaries=[*summaries, Summary("constant", value)],
                              notes=[f"seed {context.seed}", f"perturbed runs: {sorted(context.perturbed_runs)}"])


@hookimpl
def aibench_register_fairness_checkers(register: Any) -> None:
    register(GroupGap())


@hookimpl
def aibench_register_robustness_checkers(register: Any) -> None:
    register(Overall())
