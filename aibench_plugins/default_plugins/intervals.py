"""The robustness checker ``aibench.bootstrap_ci``: a confidence interval for each leaderboard
metric, and its reporter, a page section with the intervals drawn as error bars (the page's interval bars).

Manifest entry (``robustness`` section)::

    {"use": "aibench.bootstrap_ci", "key": "ci", "seed": 0,
     "columns": [{"summary": "ci_low.accuracy", "key": "accuracy_low"},
                 {"summary": "ci_high.accuracy", "key": "accuracy_high"}],
     "params": {"metrics": ["accuracy"], "confidence": 0.95, "method": "auto", "n_boot": 10000}}

Summaries ``ci_low.<metric key>`` and ``ci_high.<metric key>`` (sorted as the metric), each with
the interval as ``low``/``high``; one table per metric (estimate, low, high, method, replicates,
rows) and notes saying how each interval was made. The intervals come from
:func:`aibench_plugins.stats.metric_interval` over the ``all`` split, seeded with the entry's
``seed``: the same submission gets the same intervals, and every submission of a phase is
resampled alike (the same seed, the same cases). Confusion-matrix metrics and means of per-row
values get 10,000 replicates cheaply; other metrics are resampled row by row with fewer
replicates, which the notes say.

References: B. Efron (1987), Better bootstrap confidence intervals, JASA 82(397):171-185;
E. B. Wilson (1927), Probable inference, the law of succession, and statistical inference,
JASA 22(158):209-212; C. J. Clopper, E. S. Pearson (1934), The use of confidence or fiducial
limits illustrated in the case of the binomial, Biometrika 26(4):404-413.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from aibench_plugins import (
    AnalysisContext,
    AnalysisInfo,
    AnalysisResult,
    ComponentInfo,
    IntervalBar,
    InvalidParamsError,
    MetricData,
    Register,
    Section,
    Summary,
    SummarySpec,
    hookimpl,
    render_interval_bars,
)
from aibench_plugins.stats import FEW, METHODS

__all__ = ["BootstrapCI", "BootstrapCISection"]

ID = "aibench.bootstrap_ci"
COLUMNS = ["metric", "estimate", "low", "high", "confidence", "method", "replicates", "rows"]

_PARAMS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "metrics": {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True,
                    "description": "The manifest keys of the metrics to give intervals for; default: every metric "
                                   "of the phase."},
        "confidence": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "default": 0.95,
                       "description": "The nominal coverage of each interval."},
        "method": {"enum": list(METHODS), "default": "auto",
                   "description": "'auto': Wilson's interval for a proportion of rows (accuracy, top-k accuracy) "
                                  f"with fewer than {FEW} successes or failures, BCa otherwise; "
                                  "'percentile' or 'bca' (bootstrap); 'wilson' or 'clopper_pearson' (proportion "
                                  "metrics only)."},
        "n_boot": {"type": "integer", "minimum": 100, "maximum": 1_000_000, "default": 10_000,
                   "description": "Bootstrap replicates (metrics without a fast path get fewer, said in the notes)."},
    },
}


class BootstrapCI:
    """Bootstrap (or, for proportions, Wilson/Clopper-Pearson) intervals for the phase's metrics."""

    info = AnalysisInfo(
        id=ID,
        description="A confidence interval for each metric of the phase: seeded bootstrap (BCa or percentile; "
                    "multinomial draws of the confusion matrix for confusion-matrix metrics, a binned bootstrap "
                    "for means of per-row values), Wilson or Clopper-Pearson for proportions near 0 or 1.",
        params_schema=_PARAMS,
        summaries=(SummarySpec("ci_low.{metric}", "metric", "The lower end of the metric's confidence interval."),
                   SummarySpec("ci_high.{metric}", "metric", "The upper end of the metric's confidence interval.")),
    )

    def analyse(self, context: AnalysisContext, **params: Any) -> AnalysisResult:
        from aibench_plugins import stats

        keys = _chosen(context.metrics, params.get("metrics"))
        confidence = float(params.get("confidence", 0.95))
        method = str(params.get("method", "auto"))
        n_boot = int(params.get("n_boot", 10_000))
        summaries: list[Summary] = []
        tables: list[Mapping[str, Any]] = []
        notes = [f"{confidence:.0%} intervals over the 'all' split, method '{method}', up to {n_boot} bootstrap "
                 f"replicates, seed {context.seed} (the same for every submission)."]
        for key in keys:
            metric = context.metrics[key]
            try:
                interval = stats.metric_interval(metric, confidence=confidence, method=method, n_boot=n_boot,
                                                 seed=context.seed)
            except ValueError as error:
                notes.append(_sentence(f"{metric.label}: no interval ({error})"))
                continue
            described = f"{interval.confidence:.0%} {_METHOD_NAMES.get(interval.method, interval.method)} interval"
            summaries += [Summary(f"ci_low.{key}", interval.low, interval.low, interval.high,
                                  _sentence(f"Lower end of the {described} of {metric.label}")),
                          Summary(f"ci_high.{key}", interval.high, interval.low, interval.high,
                                  _sentence(f"Upper end of the {described} of {metric.label}"))]
            tables.append({"title": f"{metric.label}: {described}", "columns": COLUMNS,
                           "rows": [[key, _number(interval.estimate), interval.low, interval.high,
                                     interval.confidence, interval.method,
                                     interval.replicates if interval.replicates is not None else 0,
                                     len(metric.ids)]]})
            if interval.note:
                notes.append(_sentence(f"{metric.label}: {interval.note}"))
        return AnalysisResult(summaries=summaries, tables=tables, notes=notes)


_METHOD_NAMES = {"bca": "BCa bootstrap", "percentile": "percentile bootstrap", "wilson": "Wilson",
                 "clopper_pearson": "Clopper-Pearson"}


def _chosen(metrics: Mapping[str, MetricData], wanted: Any) -> list[str]:
    if wanted is None:
        return list(metrics)
    import difflib

    unknown = [key for key in wanted if key not in metrics]
    if unknown:
        near = [m for key in unknown for m in difflib.get_close_matches(key, list(metrics), n=1)]
        hint = f" (did you mean {', '.join(map(repr, near))}?)" if near else ""
        raise InvalidParamsError(
            f"{ID}: params.metrics names {', '.join(map(repr, unknown))}{hint}, which the phase's metrics do not hold "
            f"(they are: {', '.join(map(repr, metrics)) or 'none'}, a metric whose inputs could not be read being "
            f"left out). Fix (organiser): list manifest metric keys of this phase in the robustness entry's "
            f"params.metrics, or leave it out for every metric.")
    return list(wanted)


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else float("nan")


# -- the reporter ---------------------------------------------------------------------------------

class BootstrapCISection:
    """The page section of ``aibench.bootstrap_ci``: each metric's interval as an error bar around
    its estimate (each on its own scale, from the interval, within the metric's bounds), then the
    table and the notes."""

    info = ComponentInfo(id="aibench.bootstrap_ci_section",
                         description="Confidence intervals of aibench.bootstrap_ci, as error bars and a table.")

    def render(self, report: Mapping[str, Any]) -> Section | None:
        items = [a for a in report.get("analyses") or () if isinstance(a, Mapping) and a.get("component") == ID]
        if not items:
            return None
        bounds = _bounds_by_key(report.get("plugin_columns") or ())
        body = "".join(_item(item, bounds) for item in items)
        return Section("bootstrap-ci", "Confidence intervals", body, covers=(ID,))


def _rows(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for table in item.get("tables") or ():
        columns = list(table.get("columns") or ())
        if columns[:len(COLUMNS)] != COLUMNS:
            continue
        rows += [dict(zip(columns, row)) for row in table.get("rows") or ()]
    return rows


def _item(item: Mapping[str, Any], bounds: Mapping[str, Any]) -> str:
    rows = _rows(item)
    title = f"<h3>{_e(item.get('label') or item.get('key'))}</h3>"
    if not rows:
        return title + '<p class="empty">No interval could be computed.</p>' + _notes(item)
    bars = [IntervalBar(str(r["metric"]), _finite(r["estimate"]), _finite(r["low"]), _finite(r["high"]),
                        n=r["rows"] if isinstance(r["rows"], int) else None, bounds=bounds.get(str(r["metric"])))
            for r in rows]
    figure = render_interval_bars("Confidence intervals by metric", bars, own_scales=True,
                                  description="Each bar spans the interval, the dot is the score.")
    head = "".join(f"<th>{_e(c)}</th>" for c in ("Metric", "Score", "Low", "High", "Method", "Replicates", "Rows"))
    body = "".join(
        f'<tr><td><code>{_e(r["metric"])}</code></td><td class="num">{_f(r["estimate"])}</td>'
        f'<td class="num">{_f(r["low"])}</td><td class="num">{_f(r["high"])}</td><td>{_e(r["method"])}</td>'
        f'<td class="num">{_e(r["replicates"] or "—")}</td><td class="num">{_e(r["rows"])}</td></tr>' for r in rows)
    table = f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    return title + figure + table + _notes(item)


def _notes(item: Mapping[str, Any]) -> str:
    notes = [str(n) for n in item.get("notes") or ()]
    return ("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>") if notes else ""


def _bounds_by_key(columns: Sequence[Any]) -> dict[str, Any]:
    return {str(c.get("key")): c.get("bounds") for c in columns if isinstance(c, Mapping) and c.get("key")}


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _f(value: Any) -> str:
    number = _finite(value)
    return "n/a" if number is None else f"{number:.4f}"


def _e(value: Any) -> str:
    return escape("n/a" if value is None else str(value), quote=True)


@hookimpl
def aibench_register_robustness_checkers(register: Register) -> None:
    register(BootstrapCI())


@hookimpl
def aibench_register_reporters(register: Register) -> None:
    register(BootstrapCISection())
