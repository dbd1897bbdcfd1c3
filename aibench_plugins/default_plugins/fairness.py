"""The built-in fairness checker ``aibench.group_fairness``: every metric of the phase per group of
a sensitive attribute (and per intersection of attributes), with the group's size and a confidence
interval; the worst group, the difference and the ratio between groups; and the group-fairness
measures of fairlearn (selection rate, demographic parity difference and ratio, equalized odds
difference, equal opportunity difference) and of AIF360 (``disparate_impact_ratio``,
``statistical_parity_difference``).

The numbers equal fairlearn's on the same data (``MetricFrame.by_group``, ``group_min``,
``difference`` and ``ratio`` with either method, and its disparity functions):
tests/default_plugins/test_fairness.py checks them to 1e-12. Privacy: a group with fewer rows
than the entry's ``min_group_size`` is left out of every disparity, worst group, ratio and
difference, and is never returned (a note gives only how many were left out); nothing per row
is returned. How each number is computed: docs/fairness.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from aibench_plugins import (AnalysisContext, AnalysisInfo, AnalysisResult, GroupStat, InvalidParamsError, MetricData,
                             Summary, SummarySpec, hookimpl)
from aibench_plugins.data import Grouping, group_rows
from .classification import ConfusionMetric
from . import disparity
from .group_counts import BinaryCounts, binary_counts, confusion_by_group

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["GroupFairness", "MEASURES", "group_fairness"]

RATES = ("selection_rate", "true_positive_rate", "false_positive_rate")
MEASURES = ("selection_rate", "demographic_parity_difference", "demographic_parity_ratio",
            "equalized_odds_difference", "equal_opportunity_difference", "disparate_impact_ratio",
            "statistical_parity_difference")
_DIRECTION: dict[str, Literal["maximize", "minimize"]] = {
    "demographic_parity_difference": "minimize", "demographic_parity_ratio": "maximize",
    "equalized_odds_difference": "minimize", "equal_opportunity_difference": "minimize",
    "disparate_impact_ratio": "maximize", "statistical_parity_difference": "maximize"}
_DESCRIPTION = {
    "demographic_parity_difference": "largest minus smallest selection rate over the groups (fairlearn)",
    "demographic_parity_ratio": "smallest over largest selection rate over the groups (fairlearn)",
    "equalized_odds_difference": "the larger of the true- and false-positive-rate differences (fairlearn, "
                                 "agg='worst_case')",
    "equal_opportunity_difference": "true-positive-rate difference between the groups (fairlearn)",
    "disparate_impact_ratio": "selection rate of the unprivileged over that of the privileged (AIF360); with no "
                              "declared privileged group, the lowest group's over the highest's",
    "statistical_parity_difference": "selection rate of the unprivileged minus that of the privileged (AIF360); "
                                     "with no declared privileged group, the lowest group's minus the highest's",
}

_PARAMS: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["attributes"],
    "properties": {
        "attributes": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1,
                       "uniqueItems": True,
                       "description": "The sensitive attributes: columns of `table`, in the hidden reference data."},
        "table": {"type": "string", "minLength": 1, "default": "references",
                  "description": "The table under `data` holding the attributes, joined on ids to each metric's "
                                 "rows: `references` (default) or a table declared with \"from\": \"reference\"."},
        "intersections": {"type": "boolean", "default": False,
                          "description": "Also evaluate the intersection of all the attributes (every combination "
                                         "of values present), as fairlearn's several sensitive_features."},
        "metrics": {"anyOf": [{"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True},
                              {"type": "null"}], "default": None,
                    "description": "Manifest metric keys to disaggregate (default null: all)."},
        "positive_label": {"type": ["integer", "string", "boolean", "null"], "default": None,
                           "description": "The favourable label for the binary rates (selection rate, TPR, FPR). "
                                          "Default null: 1, which needs labels in {0, 1}; other labels are "
                                          "negative (one-vs-rest)."},
        "rates_metric": {"type": ["string", "null"], "default": None,
                         "description": "The metric key whose labels give the binary rates (default: the first "
                                        "confusion-matrix metric)."},
        "privileged_group": {"anyOf": [{"type": "object", "additionalProperties": {"type": "string"},
                                        "minProperties": 1}, {"type": "null"}], "default": None,
                             "description": "AIF360's privileged group, as attribute -> value (for example "
                                            "{\"sex\": \"M\"}): disparate_impact_ratio and "
                                            "statistical_parity_difference then compare the other rows to it."},
        "reference": {"enum": ["between_groups", "to_overall"], "default": "between_groups",
                      "description": "Differences and ratios between the groups (max - min, min / max) or of "
                                     "each group to all rows (fairlearn's method=)."},
        "confidence": {"anyOf": [{"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                                 {"type": "null"}], "default": 0.95,
                       "description": "Level of the confidence intervals; null: none."},
        "n_boot": {"type": "integer", "minimum": 0, "maximum": 100000, "default": 1000,
                   "description": "Bootstrap replicates of the intervals (0: none)."},
        "measures": {"type": "array", "items": {"enum": list(MEASURES)}, "uniqueItems": True,
                     "default": list(MEASURES), "description": "The group-fairness measures to give."},
    },
}

INFO = AnalysisInfo(
    id="aibench.group_fairness", needs=("groups",), params_schema=_PARAMS,
    description="Every metric per group of sensitive attributes held in the hidden reference data (and per "
                "intersection), with group sizes and confidence intervals; worst group, difference and ratio "
                "between groups; demographic parity, equalized odds, equal opportunity (fairlearn) and the "
                "disparate impact ratio (AIF360). Groups under the minimum size are never shown.",
    summaries=(SummarySpec("worst_group.{metric}", "metric", "The metric in the worst group."),
               SummarySpec("difference.{metric}", "minimize", "Largest difference of the metric between groups."),
               SummarySpec("ratio.{metric}", "maximize", "Smallest ratio of the metric between groups."),
               *(SummarySpec(name, direction, _DESCRIPTION[name]) for name, direction in _DIRECTION.items())),
)


@dataclass
class _Disparity:
    """A worst group, difference or ratio over the groups of one grouping."""

    value: float | None
    low: float | None = None
    high: float | None = None
    worst: str = ""


def _defaults(params: Mapping[str, Any]) -> dict[str, Any]:
    given = dict(params)
    unknown = sorted(set(given) - set(_PARAMS["properties"]))
    if unknown or "attributes" not in given:
        raise InvalidParamsError(f"aibench.group_fairness: params {unknown or ['attributes (missing)']} are not what "
                                 f"it takes ({', '.join(_PARAMS['properties'])}); the organiser's to fix in "
                                 f"aibench.json")
    defaults = {k: v["default"] for k, v in _PARAMS["properties"].items() if "default" in v}
    return {**defaults, **given}


class GroupFairness:
    """``aibench.group_fairness`` (see the module docstring)."""

    info = INFO

    def analyse(self, context: AnalysisContext, **params: Any) -> AnalysisResult:
        """The fairness of one submission: summaries, per-group statistics (only groups of at least
        ``context.min_group_size`` rows), the disparity table and notes."""
        p = _defaults(params)
        minimum = context.min_group_size if context.min_group_size is not None else 30
        metrics = _chosen(context.metrics, p["metrics"])
        table = context.table(p["table"])
        run = _Run(p, minimum, context.seed)
        for metric in metrics.values():
            groupings = run.groupings(table, metric, p["table"])
            for grouping in groupings:
                run.metric(metric, grouping)
        rates_metric = _rates_metric(metrics, p["rates_metric"])
        wants_rates = bool(set(p["measures"]))
        if wants_rates and rates_metric is not None:
            for grouping in run.groupings(table, rates_metric, p["table"]):
                run.rates(rates_metric, grouping)
        elif wants_rates:
            run.notes.append("No metric of the phase takes one label per row: the group-fairness measures (selection "
                             "rate, demographic parity, equalized odds, equal opportunity, disparate impact) are not "
                             "computed.")
        return run.result(metrics)


def _chosen(metrics: Mapping[str, MetricData], keys: Sequence[str] | None) -> dict[str, MetricData]:
    if keys is None:
        return dict(metrics)
    unknown = [k for k in keys if k not in metrics]
    if unknown:
        raise InvalidParamsError(f"aibench.group_fairness: params.metrics names {unknown}, which the phase does not "
                                 f"score (its metric keys: {', '.join(metrics) or 'none'}); the organiser's to fix "
                                 f"in aibench.json")
    return {k: metrics[k] for k in keys}


def _rates_metric(metrics: Mapping[str, MetricData], key: str | None) -> MetricData | None:
    if key is not None:
        if key not in metrics or not _is_label_metric(metrics[key]):
            raise InvalidParamsError(f"aibench.group_fairness: params.rates_metric {key!r} is not a metric of the "
                                     f"phase that takes one label per row (label metrics: "
                                     f"{', '.join(k for k, m in metrics.items() if _is_label_metric(m)) or 'none'})")
        return metrics[key]
    return next((m for m in metrics.values() if _is_label_metric(m)), None)


def _is_label_metric(metric: MetricData) -> bool:
    import numpy as np

    return isinstance(metric.component, ConfusionMetric) and not isinstance(metric.predictions, list) \
        and np.ndim(metric.predictions) == 1


class _Run:
    """The state of one analysis: groupings and confusion matrices computed once, and what is given."""

    def __init__(self, params: Mapping[str, Any], minimum: int, seed: int) -> None:
        self.p, self.minimum, self.seed = params, minimum, seed
        self.intervals = params["confidence"] is not None and params["n_boot"] > 0
        self._groupings: list[tuple[Any, list[Grouping]]] = []
        self._matrices: dict[tuple[int, int, int], tuple[NDArray[Any], NDArray[Any]]] = {}
        self.groups: list[GroupStat] = []
        self.rows: list[list[Any]] = []  # the disparity table
        self.disparities: dict[str, list[_Disparity]] = {}  # summary name -> one per grouping
        self.notes: list[str] = []
        self.dropped: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
        self.undefined: dict[str, int] = {}

    def groupings(self, table: Any, metric: MetricData, table_name: str) -> list[Grouping]:
        import numpy as np

        for ids, found in self._groupings:
            if ids is metric.ids or (len(ids) == len(metric.ids) and np.array_equal(ids, metric.ids)):
                return found
        found = group_rows(table, metric.ids, self.p["attributes"], intersections=self.p["intersections"],
                           table_name=table_name)
        self._groupings.append((metric.ids, found))
        for grouping in found:
            for code in np.flatnonzero(grouping.sizes < self.minimum).tolist():
                self.dropped.add((grouping.attributes, grouping.values[code]))
        return found

    def kept(self, grouping: Grouping) -> NDArray[Any]:
        import numpy as np

        return np.flatnonzero(grouping.sizes >= self.minimum)

    def matrices(self, metric: MetricData, grouping: Grouping) -> tuple[NDArray[Any], NDArray[Any]]:
        key = (id(metric.predictions), id(metric.references), id(grouping))
        if key not in self._matrices:
            self._matrices[key] = confusion_by_group(grouping.codes, len(grouping), metric.predictions,
                                                     metric.references)
        return self._matrices[key]

    # -- one metric over one grouping ---------------------------------------------------------------

    def metric(self, metric: MetricData, grouping: Grouping) -> None:
        import numpy as np

        kept = self.kept(grouping)
        values = np.full(len(kept), np.nan)
        if _is_label_metric(metric):
            matrices, labels = self.matrices(metric, grouping)
            output = metric.output or metric.info.primary
            for i, code in enumerate(kept.tolist()):
                values[i] = metric.component.from_confusion(matrices[code], labels, **metric.params)[output]
            overall = metric.component.from_confusion(matrices.sum(axis=0), labels, **metric.params)[output]
        else:
            order = np.argsort(grouping.codes, kind="stable")
            starts = np.concatenate([[0], np.cumsum(grouping.sizes)])
            for i, code in enumerate(kept.tolist()):
                values[i] = self._compute(metric, order[starts[code]:starts[code + 1]])
            overall = self._compute(metric, None)
        replicates = self._replicates(metric, grouping, kept) if self.intervals else None
        self._overall(GroupStat({}, len(grouping.codes), metric.key, _finite(overall),
                                *self._overall_interval(metric, grouping)))
        for i, code in enumerate(kept.tolist()):
            low, high = self._interval(metric, grouping, code, None if replicates is None else replicates[:, i])
            self.groups.append(GroupStat(grouping.group(code), int(grouping.sizes[code]), metric.key,
                                         _finite(values[i]), low, high))
        defined = ~np.isnan(values)
        if (~defined).any():
            self.undefined[metric.key] = self.undefined.get(metric.key, 0) + int((~defined).sum())
        if replicates is not None:
            replicates = replicates[:, defined]
        self._disparities(metric.key, grouping, kept[defined], values[defined], _finite(overall), metric.direction,
                          replicates)

    def _overall_interval(self, metric: MetricData, grouping: Grouping) -> tuple[float | None, float | None]:
        """The interval of the metric over all rows: multinomial draws of the summed group matrices
        for a confusion-matrix metric, else the stats room's ``metric_interval``."""
        if not self.intervals or any(g.measure == metric.key and not g.group for g in self.groups):
            return None, None
        from aibench_plugins.stats import confusion_replicates, metric_interval

        try:
            if _is_label_metric(metric) and hasattr(metric.component, "from_confusion_batch"):
                matrices, labels = self.matrices(metric, grouping)
                found = confusion_replicates(matrices.sum(axis=0), labels, [(metric.component, metric.params)],
                                             n_boot=self.p["n_boot"], seed=self.seed)
                return self._percentile(found[0][metric.output or metric.info.primary])
            interval = metric_interval(metric, confidence=self.p["confidence"], method="percentile",
                                       n_boot=self.p["n_boot"], seed=self.seed)
        except (ValueError, ArithmeticError):
            return None, None
        return _finite(interval.low), _finite(interval.high)

    def _overall(self, stat: GroupStat) -> None:
        if not any(g.measure == stat.measure and not g.group for g in self.groups):
            self.groups.append(stat)

    def _compute(self, metric: MetricData, rows: Any) -> float:
        from aibench_plugins import MetricInputError

        try:
            value = metric.compute(rows)
        except (MetricInputError, ValueError, ZeroDivisionError):
            return math.nan
        return value if math.isfinite(value) else math.nan

    def _replicates(self, metric: MetricData, grouping: Grouping, kept: NDArray[Any]) -> NDArray[Any] | None:
        """(n_boot, kept groups) bootstrap replicates of the metric in each group, resampled within
        the group (the stats room): for a confusion-matrix metric, multinomial draws of the group's
        matrix (no pass over the rows); otherwise the metric's own replicates on the group's rows.
        ``None`` for a metric without one."""
        import numpy as np

        from aibench_plugins.stats import confusion_replicates, metric_replicates

        n_boot, columns = self.p["n_boot"], []
        try:
            if _is_label_metric(metric) and hasattr(metric.component, "from_confusion_batch"):
                matrices, labels = self.matrices(metric, grouping)
                output = metric.output or metric.info.primary
                for code in kept.tolist():
                    found = confusion_replicates(matrices[code], labels, [(metric.component, metric.params)],
                                                 n_boot=n_boot, seed=self.seed + code)
                    columns.append(found[0][output])
            else:
                columns = [metric_replicates(metric, grouping.codes == code, n_boot=n_boot, seed=self.seed + code)
                           for code in kept.tolist()]
        except (ValueError, ArithmeticError, KeyError):
            return None
        return np.stack(columns, axis=1) if columns else None

    def _interval(self, metric: MetricData, grouping: Grouping, code: int,
                  replicates: NDArray[Any] | None) -> tuple[float | None, float | None]:
        """The group's interval: the percentile interval of its replicates (or, for a metric
        without replicates here, the stats room's ``metric_interval`` on the group's rows)."""
        if not self.intervals:
            return None, None
        from aibench_plugins.stats import metric_interval

        if replicates is not None:
            return self._percentile(replicates)
        try:
            interval = metric_interval(metric, grouping.codes == code, confidence=self.p["confidence"],
                                       n_boot=self.p["n_boot"], seed=self.seed + code)
        except (ValueError, ArithmeticError):
            return None, None
        return _finite(interval.low), _finite(interval.high)

    # -- the binary rates and the parity measures -----------------------------------------------------

    def rates(self, metric: MetricData, grouping: Grouping) -> None:
        import numpy as np

        matrices, labels = self.matrices(metric, grouping)
        positive = self._positive(labels)
        if positive is None:
            return
        counts = binary_counts(matrices, labels, positive)
        if not any(str(label) == str(positive) for label in labels.tolist()):
            note = (f"The positive label {positive!r} is in neither the predictions nor the references of "
                    f"{metric.key}: every rate is 0. Check params.positive_label.")
            if note not in self.notes:
                self.notes.append(note)
        kept = self.kept(grouping)
        rates = counts.rates()
        overall = BinaryCounts(*(np.array([x.sum()]) for x in (counts.n, counts.positives, counts.selected,
                                                               counts.true_positives))).rates()
        for name in RATES:
            self._overall(GroupStat({}, int(counts.n.sum()), name, float(overall[name][0])))
            for code in kept.tolist():
                low, high = self._proportion(name, counts, code)
                self.groups.append(GroupStat(grouping.group(code), int(grouping.sizes[code]), name,
                                             float(rates[name][code]), low, high))
        replicates = disparity.rate_replicates(counts, self.p["n_boot"], self.seed) if self.intervals else None
        self._parity(grouping, counts, kept, replicates)

    def _positive(self, labels: NDArray[Any]) -> Any:
        given = self.p["positive_label"]
        if given is not None:
            return given
        values = set(labels.tolist())
        if values <= {0, 1}:
            return 1
        message = ("The labels are not 0 and 1 and no positive_label is declared: the group-fairness measures "
                   "(selection rate, demographic parity, equalized odds, equal opportunity, disparate impact) are "
                   "not computed. Declare params.positive_label in the fairness entry.")
        if message not in self.notes:
            self.notes.append(message)
        return None

    def _proportion(self, name: str, counts: BinaryCounts, code: int) -> tuple[float | None, float | None]:
        if not self.intervals:
            return None, None
        from aibench_plugins.stats import proportion_interval

        successes, n = {"selection_rate": (counts.selected, counts.n),
                        "true_positive_rate": (counts.true_positives, counts.positives),
                        "false_positive_rate": (counts.false_positives, counts.negatives)}[name]
        if int(n[code]) == 0:
            return None, None
        interval = proportion_interval(int(successes[code]), int(n[code]), confidence=self.p["confidence"])
        return _finite(interval.low), _finite(interval.high)

    def _parity(self, grouping: Grouping, counts: BinaryCounts, kept: NDArray[Any],
                replicates: dict[str, NDArray[Any]] | None) -> None:
        import numpy as np

        if not len(kept):
            return
        rates = counts.rates()
        overall = {name: float(disparity.pooled_rate(counts, name)) for name in RATES}

        def reps(name: str) -> NDArray[Any] | None:
            return None if replicates is None else replicates[name][:, kept]

        def overall_reps(name: str) -> NDArray[Any] | None:
            return None if replicates is None else replicates[f"overall.{name}"]

        measures = set(self.p["measures"])
        selection = self._spread("selection_rate", grouping, kept, rates["selection_rate"][kept],
                                 overall["selection_rate"], reps("selection_rate"), overall_reps("selection_rate"))
        tpr = self._spread("true_positive_rate", grouping, kept, rates["true_positive_rate"][kept],
                           overall["true_positive_rate"], reps("true_positive_rate"),
                           overall_reps("true_positive_rate"))
        fpr = self._spread("false_positive_rate", grouping, kept, rates["false_positive_rate"][kept],
                           overall["false_positive_rate"], reps("false_positive_rate"),
                           overall_reps("false_positive_rate"))
        found: dict[str, _Disparity] = {
            "demographic_parity_difference": selection[0], "demographic_parity_ratio": selection[1],
            "equal_opportunity_difference": tpr[0],
            "equalized_odds_difference": _larger(tpr, fpr, reps, overall_reps, self),
        }
        found.update(self._aif360(grouping, counts, kept, replicates))
        for name, found_one in found.items():
            if name in measures:
                self._record(name, grouping, found_one)

    def _spread(self, name: str, grouping: Grouping, kept: NDArray[Any], values: NDArray[Any], overall: float,
                replicates: NDArray[Any] | None, overall_replicates: NDArray[Any] | None
                ) -> tuple[_Disparity, _Disparity]:
        """(difference, ratio) of one rate over the kept groups, fairlearn's way."""
        difference = disparity.difference(values, overall, self.p["reference"])
        ratio = disparity.ratio(values, overall, self.p["reference"])
        d, r = _Disparity(difference), _Disparity(ratio)
        if replicates is not None and overall_replicates is not None:
            d.low, d.high = self._percentile(disparity.difference(replicates, overall_replicates, self.p["reference"]))
            r.low, r.high = self._percentile(disparity.ratio(replicates, overall_replicates, self.p["reference"]))
        return d, r

    def _aif360(self, grouping: Grouping, counts: BinaryCounts, kept: NDArray[Any],
                replicates: dict[str, NDArray[Any]] | None) -> dict[str, _Disparity]:
        """AIF360's statistical parity difference and disparate impact: unprivileged minus (over)
        privileged selection rate; the privileged group is the declared one (the other kept rows
        are the unprivileged), else the group of highest rate (and the unprivileged the lowest)."""
        import numpy as np

        declared = self.p["privileged_group"]
        selected, n = counts.selected[kept].astype(np.float64), counts.n[kept].astype(np.float64)
        if declared is not None:
            if set(declared) != set(grouping.attributes):
                return {}
            match = [i for i, code in enumerate(kept.tolist()) if grouping.group(code) == dict(declared)]
            if not match:
                note = (f"The declared privileged group is not among the groups of {grouping.name} with at least "
                        f"{self.minimum} rows: disparate_impact_ratio and statistical_parity_difference are not "
                        f"computed.")
                if note not in self.notes:
                    self.notes.append(note)
                return {}
            at = match[0]
            rest = np.ones(len(kept), dtype=bool)
            rest[at] = False

            def split(sel: Any, tot: Any) -> tuple[Any, Any]:
                return (disparity.safe_divide(sel[..., at], tot[..., at]),
                        disparity.safe_divide(sel[..., rest].sum(axis=-1), tot[..., rest].sum(axis=-1)))
        else:
            def split(sel: Any, tot: Any) -> tuple[Any, Any]:
                rate = disparity.safe_divide(sel, tot)
                return rate.max(axis=-1), rate.min(axis=-1)
        privileged, unprivileged = split(selected, n)
        spd = _Disparity(float(unprivileged - privileged))
        dir_ = _Disparity(float(unprivileged / privileged) if privileged else None)
        if replicates is not None:
            rep_sel, rep_n = replicates["selected"][:, kept], counts.n[kept].astype(np.float64)[None, :]
            privileged_r, unprivileged_r = split(rep_sel, np.broadcast_to(rep_n, rep_sel.shape))
            spd.low, spd.high = self._percentile(unprivileged_r - privileged_r)
            dir_.low, dir_.high = self._percentile(disparity.safe_divide(unprivileged_r, privileged_r))
        return {"statistical_parity_difference": spd, "disparate_impact_ratio": dir_}

    # -- disparities of a metric ---------------------------------------------------------------------

    def _disparities(self, key: str, grouping: Grouping, kept: NDArray[Any], values: NDArray[Any],
                     overall: float | None, direction: str, replicates: NDArray[Any] | None) -> None:
        import numpy as np

        if not len(kept):
            return
        worst_at = int(np.argmin(values) if direction == "maximize" else np.argmax(values))
        worst = _Disparity(float(values[worst_at]), worst=grouping.label(int(kept[worst_at])))
        reference = self.p["reference"]
        difference = _Disparity(disparity.difference(values, overall, reference) if overall is not None else None)
        ratio = _Disparity(disparity.ratio(values, overall, reference) if overall is not None else None)
        if replicates is not None:
            worst.low, worst.high = self._percentile(replicates[:, worst_at])
            if self.p["reference"] == "between_groups":
                difference.low, difference.high = self._percentile(
                    disparity.difference(replicates, None, "between_groups"))
                ratio.low, ratio.high = self._percentile(disparity.ratio(replicates, None, "between_groups"))
        for name, each in (("worst_group", worst), ("difference", difference), ("ratio", ratio)):
            self._record(f"{name}.{key}", grouping, each)

    def _record(self, name: str, grouping: Grouping, item: _Disparity) -> None:
        item.value = _finite(item.value)
        self.disparities.setdefault(name, []).append(item)
        self.rows.append([grouping.name, name, item.value, item.low, item.high,
                          item.worst or "", int((grouping.sizes >= self.minimum).sum())])

    def _percentile(self, replicates: Any) -> tuple[float | None, float | None]:
        import numpy as np

        values = np.asarray(replicates, dtype=np.float64)
        values = values[np.isfinite(values)]
        if not len(values):
            return None, None
        alpha = (1 - self.p["confidence"]) / 2
        low, high = np.quantile(values, [alpha, 1 - alpha])
        return float(low), float(high)

    # -- the result ---------------------------------------------------------------------------------

    def result(self, metrics: Mapping[str, MetricData]) -> AnalysisResult:
        summaries = []
        for name, found in self.disparities.items():
            worst = _worst_of(name, found, metrics)
            description = _summary_description(name, worst)
            summaries.append(Summary(name, worst.value, worst.low, worst.high, description))
        notes = list(self.notes)
        if self.dropped:
            notes.insert(0, f"{len(self.dropped)} group(s) with fewer than {self.minimum} rows were left out of every "
                            f"disparity and are not shown.")
        for key, count in self.undefined.items():
            notes.append(f"{key} is undefined in {count} group(s) (for example a single class): they are left out of "
                         f"its disparities.")
        notes.append(f"Differences and ratios: {self.p['reference'].replace('_', ' ')} (fairlearn's method=); "
                     f"several groupings: the worst of them.")
        table = {"title": "Disparities", "columns": ["grouping", "measure", "value", "low", "high", "worst group",
                                                     "groups compared"], "rows": self.rows}
        return AnalysisResult(summaries=summaries, groups=self.groups, tables=[table], notes=notes)


def _worst_of(name: str, found: Sequence[_Disparity], metrics: Mapping[str, MetricData]) -> _Disparity:
    """The worst over the groupings: the largest difference, the smallest ratio, the worst group."""
    defined = [d for d in found if d.value is not None]
    if not defined:
        return _Disparity(None)
    measure, _, key = name.partition(".")
    if measure == "worst_group":
        maximize = metrics[key].direction == "maximize"
    else:
        maximize = measure != "ratio" and name not in ("demographic_parity_ratio", "disparate_impact_ratio",
                                                       "statistical_parity_difference")
    pick = max if maximize and measure != "worst_group" else min
    if measure == "worst_group":
        pick = min if maximize else max
    return pick(defined, key=lambda d: d.value)  # type: ignore[arg-type,return-value]


def _summary_description(name: str, item: _Disparity) -> str:
    measure, _, key = name.partition(".")
    if measure == "worst_group":
        return f"{key} in its worst group ({item.worst})" if item.worst else f"{key} in its worst group"
    if measure in ("difference", "ratio"):
        return f"{measure} of {key} between groups"
    return _DESCRIPTION.get(name, "")


def _larger(tpr: tuple[_Disparity, _Disparity], fpr: tuple[_Disparity, _Disparity], reps: Any, overall_reps: Any,
            run: _Run) -> _Disparity:
    """Equalized odds difference (fairlearn's ``agg="worst_case"``): the larger of the TPR and FPR differences."""
    import numpy as np

    values = [d.value for d in (tpr[0], fpr[0]) if d.value is not None]
    result = _Disparity(max(values) if values else None)
    tr, fr = reps("true_positive_rate"), reps("false_positive_rate")
    if tr is not None and fr is not None:
        reference = run.p["reference"]
        both = np.maximum(disparity.difference(tr, overall_reps("true_positive_rate"), reference),
                          disparity.difference(fr, overall_reps("false_positive_rate"), reference))
        result.low, result.high = run._percentile(both)
    return result


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


group_fairness = GroupFairness()


@hookimpl
def aibench_register_fairness_checkers(register: Any) -> None:
    register(group_fairness)


@hookimpl
def aibench_register_reporters(register: Any) -> None:
    from .fairness_page import FairnessSection

    register(FairnessSection())
