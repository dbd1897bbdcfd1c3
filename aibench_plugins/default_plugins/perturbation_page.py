"""The page section of ``aibench.input_perturbations``: degradation per severity, from the report
document alone (its items of ``analyses``).

Per entry: the summaries (clean, perturbed, relative drop, flip rate, mCE), one line chart per
metric (the page's line chart) (x: severity 1 to 5, y: the metric; one line per corruption, the clean score as
a dashed line), and the tables as the checker gave them. Every text is escaped; nothing is fetched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from aibench_plugins import ComponentInfo, LineSeries, Section, render_line_chart, render_table

COMPONENT_ID = "aibench.input_perturbations"
SEVERITIES = tuple(str(s) for s in range(1, 6))  #: the x of every chart: the schema's severities


class InputPerturbationsSection:
    """Degradation under the declared input perturbations: summaries, a chart per metric, tables."""

    info = ComponentInfo(id="aibench.input_perturbations_section",
                         description="The degradation of the scores under input perturbations, per severity.")

    def render(self, report: Mapping[str, Any]) -> Section | None:
        items = [a for a in report.get("analyses") or [] if isinstance(a, Mapping)
                 and a.get("component") == COMPONENT_ID]
        if not items:
            return None
        return Section("input-perturbations", "Robustness to input perturbations",
                       "\n".join(_entry(item) for item in items), covers=(COMPONENT_ID,))


def _entry(item: Mapping[str, Any]) -> str:
    label = item.get("label") or item.get("key") or COMPONENT_ID
    summaries = [s for s in item.get("summaries") or [] if isinstance(s, Mapping)]
    tables = [t for t in item.get("tables") or [] if isinstance(t, Mapping)]
    rows = "".join(f"<tr><td><code>{_e(s.get('name'))}</code></td><td class=\"num\">{_e(_fmt(s.get('value')))}</td>"
                   f"<td>{_e(s.get('description') or '')}</td></tr>" for s in summaries)
    parts = [f"<h3>{_e(label)}</h3>",
             f'<div class="scroll"><table><thead><tr><th>Summary</th><th>Value</th><th></th></tr></thead>'
             f"<tbody>{rows}</tbody></table></div>"]
    degradation = next((t for t in tables if str(t.get("title", "")).startswith("Degradation")), None)
    if degradation is not None:
        parts += [_chart(degradation, metric) for metric in _metrics(degradation)]
    parts += [render_table(t) for t in tables]
    notes = [n for n in item.get("notes") or [] if isinstance(n, str)]
    if notes:
        parts.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    return "\n".join(parts)


def _metrics(table: Mapping[str, Any]) -> list[str]:
    columns = [str(c) for c in table.get("columns") or []]
    return [c for c in columns[3:] if not c.startswith("drop ") and c != "flip rate"]


def _series(table: Mapping[str, Any], metric: str) -> tuple[float | None, dict[str, list[tuple[int, float]]]]:
    columns = [str(c) for c in table.get("columns") or []]
    at = columns.index(metric)
    clean: float | None = None
    lines: dict[str, list[tuple[int, float]]] = {}
    for row in table.get("rows") or []:
        if not isinstance(row, Sequence) or len(row) <= at:
            continue
        value = _number(row[at])
        if row[0] == "clean":
            clean = value
        elif value is not None and isinstance(row[1], int):
            lines.setdefault(str(row[0]), []).append((row[1], value))
    return clean, lines


def _chart(table: Mapping[str, Any], metric: str) -> str:
    clean, lines = _series(table, metric)
    values = [v for points in lines.values() for _, v in points] + ([clean] if clean is not None else [])
    if not values:
        return f'<p class="empty">No perturbed run of {_e(metric)} completed.</p>'
    low, high = min(values), max(values)
    if 0 <= low and high <= 1:
        low, high = 0.0, 1.0
    elif high == low:
        low, high = low - 1, high + 1
    series = [LineSeries(name, tuple((str(s), v) for s, v in sorted(points))) for name, points in lines.items()]
    return render_line_chart(f"{metric} by severity", series, SEVERITIES, x_label="severity", baseline=clean,
                             baseline_label="clean", y_range=(low, high),
                             description="One line per corruption; dashed: the clean score.",
                             aria_label=f"{metric} by severity per corruption")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _fmt(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "n/a" if value is None or isinstance(value, float) else str(value)
    return str(int(number)) if isinstance(value, int) else f"{number:.4f}"


def _e(value: Any) -> str:
    return escape(str(value), quote=True)
