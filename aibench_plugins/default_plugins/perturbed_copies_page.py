"""The page section of ``aibench.perturbed_copies``: for each of its entries in the report's
``analyses``, the summaries per metric (clean, perturbed, relative drop, worst case) and the
flip rate, a degradation chart per metric (inline SVG: the score at each severity, one line per
perturbation, and the clean score as a dashed line), the table per perturbation and severity,
and the checker's notes. Only the report document is read; every piece of text is escaped and
nothing is fetched."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from aibench_plugins import ComponentInfo, Section

__all__ = ["COMPONENT", "DegradationSection", "degradation_chart"]

COMPONENT = "aibench.perturbed_copies"
PALETTE = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#57606a", "#e16f24", "#116329")
LEFT, PLOT_W, RIGHT, TOP, PLOT_H, BOTTOM = 64, 300, 150, 12, 170, 40  # geometry, in SVG user units


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
    """A ``<figure>`` with an inline SVG line chart: x the severities (in the table's order, the
    pooled ``all`` rows left out), y the metric on the copies, one line per perturbation, and the
    clean score as a dashed horizontal line."""
    rows = [r for r in rows if r.get("severity") != "all"]
    levels = list(dict.fromkeys(_level(r.get("severity")) for r in rows))
    names = list(dict.fromkeys(str(r.get("perturbation")) for r in rows))
    values = [v for v in (_number(r.get("score")) for r in rows) if v is not None] + (
        [clean] if clean is not None else [])
    if not levels or not values:
        return ""
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or max(abs(high) * 0.05, 0.05)
    low, high = low - pad, high + pad

    def x(level: str) -> float:
        return LEFT + (levels.index(level) + 0.5) * PLOT_W / len(levels)

    def y(value: float) -> float:
        return TOP + (high - value) / (high - low) * PLOT_H

    parts = [f'<line x1="{LEFT}" y1="{TOP + PLOT_H}" x2="{LEFT + PLOT_W}" y2="{TOP + PLOT_H}" class="axis" '
             f'stroke="#57606a"/>',
             f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + PLOT_H}" class="axis" stroke="#57606a"/>']
    parts += [f'<text class="tick" x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{_e(f"{v:.3g}")}</text>'
              for v in (low + pad, high - pad)]
    parts += [f'<text class="tick" x="{x(level):.1f}" y="{TOP + PLOT_H + 16}" text-anchor="middle">{_e(level)}</text>'
              for level in levels]
    parts.append(f'<text class="tick" x="{LEFT + PLOT_W / 2:.1f}" y="{TOP + PLOT_H + 34}" '
                 f'text-anchor="middle">severity</text>')
    if clean is not None:
        parts.append(f'<line class="clean" x1="{LEFT}" y1="{y(clean):.1f}" x2="{LEFT + PLOT_W}" y2="{y(clean):.1f}" '
                     f'stroke="#24292f" stroke-dasharray="6 4"><title>clean: {_e(_fmt(clean))}</title></line>')
        parts.append(_legend(len(names), "clean", "#24292f", dashed=True))
    for index, name in enumerate(names):
        colour = PALETTE[index % len(PALETTE)]
        points = [(x(_level(r.get("severity"))), y(v), r) for r in rows if str(r.get("perturbation")) == name
                  for v in [_number(r.get("score"))] if v is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
            parts.append(f'<polyline class="line" points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{colour}"><title>{_e(name)}, severity '
                  f'{_e(_level(r.get("severity")))}: {_e(_fmt(r.get("score")))} (n = {_e(r.get("n"))})</title></circle>'
                  for px, py, r in points]
        parts.append(_legend(index, name, colour))
    width, height = LEFT + PLOT_W + RIGHT, TOP + PLOT_H + BOTTOM
    label = f"{metric} on the perturbed copies by severity, one line per perturbation, dashed: clean"
    return (f'<figure class="degradation"><figcaption><strong>{_e(metric)}</strong> on the perturbed copies, by '
            f"severity (dashed: the clean score {_e(_fmt(clean))})</figcaption>"
            f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{_e(label)}">' + "".join(parts)
            + "</svg></figure>")


def _legend(index: int, name: str, colour: str, *, dashed: bool = False) -> str:
    top = TOP + 8 + index * 18
    left = LEFT + PLOT_W + 14
    dash = ' stroke-dasharray="6 4"' if dashed else ""
    return (f'<line x1="{left}" y1="{top}" x2="{left + 18}" y2="{top}" stroke="{colour}" stroke-width="2"{dash}/>'
            f'<text x="{left + 24}" y="{top + 4}">{_e(name)}</text>')


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
