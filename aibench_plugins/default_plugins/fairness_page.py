"""The reporter of ``aibench.group_fairness``: a section of ``detailed_results.html`` per fairness
entry of the report (``analyses[]`` items of this component): the flags, the summaries with their
intervals, per-group bars with intervals and ``n`` (inline SVG), the disparity table and the notes.

Defence in depth: a group with fewer rows than the item's ``min_group_size`` is not drawn even if
a report holds it (the host drops such groups before writing the report).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from aibench_plugins import ComponentInfo, IntervalBar, Section, render_interval_bars, render_table

__all__ = ["FairnessSection"]

COMPONENT = "aibench.group_fairness"
_BOUNDED = {"selection_rate", "true_positive_rate", "false_positive_rate"}


class FairnessSection:
    """The page section of every ``aibench.group_fairness`` entry of a report."""

    info = ComponentInfo(id="aibench.group_fairness_page",
                         description="Per-group bars with intervals, flags and the disparity table of each "
                                     "aibench.group_fairness entry.")

    def render(self, report: Mapping[str, Any]) -> Section | None:
        items = [a for a in report.get("analyses") or [] if isinstance(a, Mapping) and a.get("component") == COMPONENT]
        if not items:
            return None
        bounds = {str(c.get("key")): c.get("bounds") for c in report.get("plugin_columns") or []
                  if isinstance(c, Mapping)}
        # covers: the page places this section with the analyses and shows no generic one for them
        return Section("fairness", "Fairness", "\n".join(_entry(item, bounds) for item in items),
                       covers=(COMPONENT,))


def _entry(item: Mapping[str, Any], bounds: Mapping[str, Any]) -> str:
    minimum = item.get("min_group_size")
    minimum = minimum if isinstance(minimum, int) and not isinstance(minimum, bool) else 0
    groups = [g for g in item.get("groups") or [] if isinstance(g, Mapping) and _int(g.get("n")) >= minimum]
    parts = [f'<h3>{_e(item.get("label") or item.get("key"))}</h3>', _flags(item.get("flags") or []),
             _summaries(item.get("summaries") or []), _charts(groups, bounds, minimum),
             *(render_table(t) for t in item.get("tables") or [] if isinstance(t, Mapping))]
    notes = [n for n in item.get("notes") or [] if isinstance(n, str)]
    if minimum:
        notes.insert(0, f"Only groups of at least {minimum} rows are shown (min_group_size).")
    dropped = item.get("dropped_groups")
    if isinstance(dropped, int) and dropped > 0 and not any("left out" in n for n in notes):
        notes.append(f"{dropped} group statistic(s) below the minimum size were left out.")
    parts.append("<ul class=\"notes\">" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    return f'<div class="analysis fairness">{"".join(p for p in parts if p)}</div>'


def _flags(flags: Sequence[Any]) -> str:
    items = [f for f in flags if isinstance(f, Mapping)]
    if not items:
        return '<p class="flags ok">No fairness threshold of the organiser is crossed.</p>'
    rows = "".join(f'<li class="flag {_e(f.get("action"))}"><strong>{_e(str(f.get("action")).upper())}</strong> '
                   f'<code>{_e(f.get("summary"))}</code> = {_e(_fmt(f.get("value")))} '
                   f'({_e(f.get("bound"))} {_e(_fmt(f.get("threshold")))}): {_e(f.get("message"))}</li>'
                   for f in items)
    return f'<ul class="flags">{rows}</ul>'


def _summaries(summaries: Sequence[Any]) -> str:
    rows = []
    for s in summaries:
        if not isinstance(s, Mapping):
            continue
        interval = f"[{_fmt(s.get('low'))}, {_fmt(s.get('high'))}]" if _num(s.get("low")) is not None else "—"
        rows.append(f"<tr><td><code>{_e(s.get('name'))}</code></td><td class=\"num\">{_e(_fmt(s.get('value')))}</td>"
                    f"<td class=\"num\">{_e(interval)}</td><td>{_e(s.get('description') or '')}</td></tr>")
    if not rows:
        return ""
    return ('<div class="scroll"><table><thead><tr><th>Summary</th><th>Value</th><th>Interval</th><th>What</th>'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _charts(groups: Sequence[Mapping[str, Any]], bounds: Mapping[str, Any], minimum: int) -> str:
    """One chart per measure and grouping (the attributes a group names), bars sorted by value."""
    charts: dict[tuple[str, tuple[str, ...]], list[Mapping[str, Any]]] = {}
    overall: dict[str, float] = {}
    for g in groups:
        measure, group = str(g.get("measure")), g.get("group") or {}
        if not isinstance(group, Mapping):
            continue
        if not group:
            value = _num(g.get("value"))
            if value is not None:
                overall[measure] = value
            continue
        charts.setdefault((measure, tuple(group)), []).append(g)
    figures = []
    for (measure, attributes), members in charts.items():
        bars = [IntervalBar(", ".join(str(v) for v in (m.get("group") or {}).values()), _num(m.get("value")),
                            _num(m.get("low")), _num(m.get("high")), _int(m.get("n")))
                for m in members if _int(m.get("n")) >= minimum]
        scale = [0.0, 1.0] if measure in _BOUNDED else bounds.get(measure)
        figures.append(render_interval_bars(f"{measure} by {' x '.join(attributes)}", bars, bounds=scale,
                                            reference=overall.get(measure),
                                            description="Bars: the value per group; whiskers: its interval; "
                                                        "dashed line: all rows."))
    return "\n".join(figures)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _fmt(value: Any) -> str:
    number = _num(value)
    if number is None:
        return "n/a" if value is None else str(value)
    return str(value) if isinstance(value, int) else f"{number:.4f}"


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)
