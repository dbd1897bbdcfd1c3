"""The page section of ``aibench.perturbed_copies``: for each of its entries in the report's
``analyses``, the summaries per metric (clean, perturbed, relative drop, worst case) and the
flip rate, a degradation chart per metric (the page's line chart: the score at each severity, one line
per perturbation, and the clean score as a dashed line), the table per perturbation and severity,
and the checker's notes. Only the report document is read; every piece of text is escaped and
nothing is fetched."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from aibench_plugins import ComponentInfo, LineSeries, Section, render_line_chart

__all__ = ["COMPONENT", "DegradationSection", "degradation_chart"]

COMPONENT = "aibench.perturbed_copies"


class DegradationSection:
    """The degradation on hidden perturbed copies, one block per ``aibench.perturbed_copies`` entry."""

    info = ComponentInfo(id="aibench.perturbed_copies_section",
                         description="Degradation on hidden perturbed copies: summaries, a chart per metric "
                                     "(score per severity per perturbation, the clean line) and the table.")

    def render(self, report: Mapping[str, Any]) -> Section | None:
        items = [a for a in report.get("analyses") or [] if isinstance(a, Mapping) and a.get("component") == COMPONENT]
        if not items:
            return None
        return Section("perturbed-copies", "Robustness on perturbed copies", "\n".join(_entry(a) for a in items),
                       covers=(COMPONENT,))  # the page puts it where the analyses go, with no generic section


def _entry(item: Mapping[str, Any]) -> str:
    summaries = {str(s.get("name")): s.get("value") for s in item.get("summaries") or [] if isinstance(s, Mapping)}
    tables = [t for t in item.get("tables") or [] if isinstance(t, Mapping)]
    table = tables[0] if tables else {"columns": [], "rows": []}
    columns = [str(c) for c in table.get("columns") or []]
    rows = [dict(zip(columns, r)) for r in table.get("rows") or [] if isinstance(r, Sequence)]
    metrics = list(dict.fromkeys(str(r.get("metric")) for r in rows)) or sorted(
        {n.split(".", 1)[1] for n in summaries if n.startswith("clean.")})
    head = f"<h3>{_e(item.get('label') or item.get('key'))}</h3>"
    overview = _overview(metrics, summaries)
    charts = "".join(degradation_chart(m, [r for r in rows if str(r.get("metric")) == m],
                                       _number(summaries.get(f"clean.{m}"))) for m in metrics)
    notes = "".join(f"<p class=\"note\">{_e(n)}</p>" for n in item.get("notes") or [])
    return head + overview + charts + _table(columns, rows) + notes


def _overview(metrics: Sequence[str], summaries: Mapping[str, Any]) -> str:
    head = "".join(f"<th>{_e(t)}</th>" for t in ("Metric", "Clean", "Perturbed", "Relative drop", "Worst case"))
    body = "".join(
        f"<tr><td><code>{_e(m)}</code></td>"
        + "".join(f'<td class="num">{_e(_fmt(summaries.get(f"{measure}.{m}"), percent=measure == "relative_drop"))}'
                  "</td>" for measure in ("clean", "perturbed", "relative_drop", "worst_case"))
        + "</tr>" for m in metrics)
    flip = summaries.get("flip_rate")
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
            f"<p>Prediction flip rate (copies whose prediction differs from their original's): "
            f"<strong>{_e(_fmt(flip, percent=True))}</strong></p>")


def _table(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    titles = {"metric": "Metric", "perturbation": "Perturbation", "severity": "Severity", "n": "Copies",
              "score": "Score", "relative_drop": "Relative drop", "flip_rate": "Flip rate"}
    head = "".join(f"<th>{_e(titles.get(c, c))}</th>" for c in columns)

    def cell(column: str, value: Any) -> str:
        if column in ("metric", "perturbation", "severity"):
            return f"<td>{_e('—' if value is None else value)}</td>"
        if column == "n":
            return f'<td class="num">{_e(value)}</td>'
        return f'<td class="num">{_e(_fmt(value, percent=column in ("relative_drop", "flip_rate")))}</td>'

    body = "".join("<tr>" + "".join(cell(c, r.get(c)) for c in columns) + "</tr>" for r in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def degradation_chart(metric: str, rows: Sequence[Mapping[str, Any]], clean: float | None) -> str:
    """A ``<figure>`` with a line chart (:func:`aibench_plugins.render_line_chart`): x the
    severities (in the table's order, the pooled ``all`` rows left out), y the metric on the
    copies, one line per perturbation, and the clean score as a dashed horizontal line."""
    rows = [r for r in rows if r.get("severity") != "all"]
    levels = list(dict.fromkeys(_level(r.get("severity")) for r in rows))
    names = list(dict.fromkeys(str(r.get("perturbation")) for r in rows))
    scored = [(r, v) for r in rows for v in [_number(r.get("score"))] if v is not None]
    if not levels or not (scored or clean is not None):
        return ""
    series = [LineSeries(name, tuple((_level(r.get("severity")), v) for r, v in scored
                                     if str(r.get("perturbation")) == name),
                         tuple(f"n = {r.get('n')}" for r, _ in scored if str(r.get("perturbation")) == name))
              for name in names]
    return render_line_chart(
        f"{metric} on the perturbed copies, by severity", series, levels, x_label="severity", baseline=clean,
        baseline_label="clean", baseline_class="clean", figure_class="degradation",
        description=f"One line per perturbation; dashed: the clean score {_fmt(clean)}.",
        aria_label=f"{metric} on the perturbed copies by severity, one line per perturbation, dashed: clean")


def _level(value: Any) -> str:
    return "—" if value is None else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _fmt(value: Any, *, percent: bool = False) -> str:
    number = _number(value)
    if number is None:
        return "n/a"
    return f"{number * 100:.1f} %" if percent else f"{number:.4f}"


def _e(value: Any) -> str:
    return escape("n/a" if value is None else str(value), quote=True)
