"""The page section of ``aibench.input_perturbations``: degradation per severity, from the report
document alone (its items of ``analyses``).

Per entry: the summaries (clean, perturbed, relative drop, flip rate, mCE), one inline-SVG line
chart per metric (x: severity 1 to 5, y: the metric; one line per corruption, the clean score as
a dashed line), and the tables as the checker gave them. Every text is escaped; nothing is fetched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from aibench_plugins import ComponentInfo, Section

COMPONENT_ID = "aibench.input_perturbations"
W, H, LEFT, BOTTOM, TOP, RIGHT = 440, 230, 48, 28, 12, 140
#: line colours, one per corruption (cycled), readable on white and by most colour-blind readers
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442", "#999999")


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
    parts += [_table(t) for t in tables]
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
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(severity: float) -> float:
        return LEFT + (severity - 1) / 4 * plot_w

    def y(value: float) -> float:
        return TOP + (high - value) / (high - low) * plot_h

    shapes = [f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>',
              f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}"/>']
    shapes += [f'<text class="tick" x="{x(s):.1f}" y="{H - 10}" text-anchor="middle">{s}</text>' for s in range(1, 6)]
    shapes += [f'<text class="tick" x="{LEFT - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{_e(f"{v:.3g}")}</text>'
               for v in (low, high)]
    if clean is not None:
        shapes.append(f'<line x1="{LEFT}" y1="{y(clean):.1f}" x2="{LEFT + plot_w}" y2="{y(clean):.1f}" '
                      f'stroke="#444" stroke-dasharray="4 3"><title>clean: {_e(_fmt(clean))}</title></line>')
    for index, (name, points) in enumerate(lines.items()):
        colour = COLOURS[index % len(COLOURS)]
        points = sorted(points)
        path = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in points)
        shapes.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}">'
                      f"<title>{_e(name)}</title></polyline>")
        shapes += [f'<circle cx="{x(s):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"><title>{_e(name)} severity {s}: '
                   f"{_e(_fmt(v))}</title></circle>" for s, v in points]
        shapes.append(f'<text x="{LEFT + plot_w + 8}" y="{TOP + 12 + index * 17}" style="fill:{colour}">'
                      f"{_e(name)}</text>")
    caption = (f"<figcaption><strong>{_e(metric)} by severity</strong> <span class=\"scale\">(one line per "
               f"corruption; dashed: the clean score; scale {low:.3g} to {high:.3g})</span></figcaption>")
    return (f'<figure>{caption}<svg viewBox="0 0 {W} {H}" role="img" aria-label="{_e(metric)} by severity per '
            f'corruption">{"".join(shapes)}</svg></figure>')


def _table(table: Mapping[str, Any]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in table.get("columns") or [])
    body = "".join("<tr>" + "".join(f'<td class="num">{_e(_fmt(v))}</td>' if _number(v) is not None or v is None
                                    else f"<td>{_e(v)}</td>" for v in row) + "</tr>"
                   for row in table.get("rows") or [] if isinstance(row, Sequence))
    return (f"<h4>{_e(table.get('title') or '')}</h4><div class=\"scroll\"><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


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
