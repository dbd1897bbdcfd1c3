"""The charts of the detailed results page: one horizontal bar chart (inline SVG) per metric
entry of the manifest, one bar per split, titled with the organiser's label.

Scales follow the metric's declared ``bounds`` (``plugin_columns[].bounds`` of the report
document): a bounded metric is drawn on its bounds (accuracy on 0..1, Pearson on -1..1); an end
left open (MAE's upper end, R²'s lower end) or a metric without bounds gets an axis from the
values, rounded to a readable number and always holding 0. Each bar starts at 0 (or at the
axis end nearest to it), so a negative value (an R² below 0) is drawn to the left of the zero
line. Every piece of text is escaped; nothing is fetched.

The same module draws the charts the built-in sections share: :func:`render_interval_bars`
(values with their confidence intervals, on one scale or each on its own) and
:func:`render_line_chart` (a value per category, one line per series, with a dashed baseline:
the degradation of a score by severity, say).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

__all__ = ["Axis", "IntervalBar", "LineSeries", "axis_for", "chart_title", "render_charts", "render_interval_bars",
           "render_table",
           "render_line_chart"]

LABEL_W, BAR_W, VALUE_W, ROW_H = 110, 260, 120, 28  # geometry, in SVG user units
_NICE = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


@dataclass(frozen=True)
class Axis:
    """The value range a chart draws, and where each end comes from (``bounds`` or ``values``)."""

    low: float
    high: float
    low_from: str
    high_from: str

    def x(self, value: float) -> float:
        """The SVG x of ``value`` (clamped to the axis)."""
        clamped = min(max(value, self.low), self.high)
        return LABEL_W + (clamped - self.low) / (self.high - self.low) * BAR_W

    def describe(self) -> str:
        """The scale in words, for the chart's caption."""
        if self.low_from == self.high_from == "bounds":
            why = "the metric's bounds"
        elif self.low_from == self.high_from == "values":
            why = "from the scores: the metric declares no bounds"
        else:
            open_end = "above" if self.high_from == "values" else "below"
            why = f"the metric is unbounded {open_end}: that end follows the scores"
        return f"scale {_g(self.low)} to {_g(self.high)} ({why})"


def axis_for(bounds: Any, values: Sequence[float]) -> Axis:
    """The axis of a chart of ``values`` for a metric with ``bounds`` (``[low, high]``, either
    ``None`` for an open end, or ``None`` for no bounds at all; anything else counts as none)."""
    low_bound, high_bound = _bounds(bounds)
    data = [*values, 0.0]
    low = low_bound if low_bound is not None else _nice(min(data), up=False)
    high = high_bound if high_bound is not None else _nice(max(data), up=True)
    low, high = min([low, *values]), max([high, *values])  # a value outside its bounds still shows
    if not high > low:
        high = low + 1.0
    return Axis(low, high, "bounds" if low_bound is not None else "values",
                "bounds" if high_bound is not None else "values")


def chart_title(group: Sequence[Mapping[str, Any]]) -> str:
    """The organiser's label of a metric entry, from its columns' titles: the ``all`` split's
    title is the label itself, the others are ``"<label> (<split>)"``."""
    for column in group:
        if column.get("split") == "all" and column.get("title"):
            return str(column["title"])
    for column in group:
        title, suffix = str(column.get("title") or ""), f" ({column.get('split')})"
        if title.endswith(suffix) and len(title) > len(suffix):
            return title[:-len(suffix)]
    return str(group[0].get("title") or group[0].get("key") or group[0].get("metric"))


def render_charts(columns: Sequence[Mapping[str, Any]]) -> str:
    """One ``<figure>`` per metric entry (columns of the same metric and parameters), in order. A
    second column of the same metric, parameters and split (two summaries of one analysis entry,
    both on ``all``) starts a figure of its own: one figure never holds two bars of one split."""
    groups: dict[tuple[str, str, int], list[Mapping[str, Any]]] = {}
    seen: dict[tuple[str, str, str], int] = {}
    for column in columns:
        provenance = column.get("provenance")
        provenance = provenance if isinstance(provenance, Mapping) else {}
        entry = (str(column.get("metric")), str(provenance.get("params_sha256")))
        split = (*entry, str(column.get("split")))
        seen[split] = seen.get(split, -1) + 1
        groups.setdefault((*entry, seen[split]), []).append(column)
    if not groups:
        return '<p class="empty">No plugin scores to chart.</p>'
    return "\n".join(_figure(group) for group in groups.values())


def _figure(group: Sequence[Mapping[str, Any]]) -> str:
    values = [v for v in (_number(c.get("value")) for c in group) if v is not None]
    axis = axis_for(group[0].get("bounds"), values)
    title = chart_title(group)
    height = ROW_H * len(group) + 24
    zero = axis.x(0.0)
    rows = []
    for index, column in enumerate(group):
        y = 4 + index * ROW_H
        value, text = _number(column.get("value")), _text(column)
        rows.append(f'<text x="{LABEL_W - 8}" y="{y + 18}" text-anchor="end">{_e(column.get("split"))}</text>')
        end = zero
        if value is not None:
            end = axis.x(value)
            left, width = min(zero, end), abs(end - zero)
            rows.append(f'<rect class="bar{" negative" if value < 0 else ""}" x="{left:.1f}" y="{y + 4}" '
                        f'width="{width:.1f}" height="{ROW_H - 8}" rx="3">'
                        f'<title>{_e(column.get("title"))}: {_e(text)}</title></rect>')
        rows.append(f'<text class="value" x="{max(zero, end) + 6:.1f}" y="{y + 18}">{_e(text)}</text>')
    bottom = height - 6
    ticks = [(axis.low, "start"), (axis.high, "end")] + ([(0.0, "middle")] if axis.low < 0 < axis.high else [])
    rows += [f'<text class="tick" x="{axis.x(v):.1f}" y="{bottom}" text-anchor="{anchor}">{_e(_g(v))}</text>'
             for v, anchor in ticks]
    description = next((str(c["description"]) for c in group if c.get("description")), "")
    caption = (f'<figcaption><strong>{_e(title)}</strong> <span class="scale">({_e(axis.describe())})</span>'
               + (f'<br><span class="description">{_e(description)}</span>' if description else "")
               + "</figcaption>")
    return (f'<figure>{caption}<svg viewBox="0 0 {LABEL_W + BAR_W + VALUE_W} {height}" role="img" '
            f'aria-label="{_e(title)} by split, {_e(axis.describe())}">'
            f'<line x1="{zero:.1f}" y1="0" x2="{zero:.1f}" y2="{height - 20}" class="axis"/>'
            + "".join(rows) + "</svg></figure>")


@dataclass(frozen=True)
class IntervalBar:
    """One bar of :func:`render_interval_bars`: its label, value, interval (either end ``None``
    when there is none), the number of rows behind it (``n``), whether it is highlighted
    (``flag``: the worst group, say) and, for a chart whose bars each have a scale of their own,
    the bounds of its scale (``[low, high]``, as :func:`axis_for`; ``None``: the chart's)."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    n: int | None = None
    flag: bool = False
    bounds: Any = None


def render_interval_bars(title: str, bars: Sequence[IntervalBar], *, bounds: Any = None, description: str = "",
                         reference: float | None = None, own_scales: bool = False) -> str:
    """A ``<figure>``: one horizontal bar per item with its confidence interval drawn as a
    whisker, ``n=`` after the value, and an optional dashed ``reference`` line (the value over
    all rows). The scale follows ``bounds`` as :func:`axis_for`; bars start at 0.

    With ``own_scales`` (bars of different measures, each on a scale of its own) each bar's scale
    is its interval padded by half its width on each side, within the bar's ``bounds`` (or the
    chart's), with its ends printed under it; the value is a dot on the whisker rather than a bar
    from 0, and ``reference`` is not drawn."""
    ends = [v for b in bars for v in (_number(b.value), _number(b.low), _number(b.high)) if v is not None]
    if reference is not None and _number(reference) is not None and not own_scales:
        ends.append(float(reference))
    shared = axis_for(bounds, ends)
    row_h = ROW_H + 10 if own_scales else ROW_H
    height = row_h * len(bars) + (8 if own_scales else 24)
    zero = shared.x(max(min(0.0, shared.high), shared.low))
    rows = []
    for index, bar in enumerate(bars):
        y = 4 + index * row_h
        mid = y + ROW_H // 2
        value, low, high = _number(bar.value), _number(bar.low), _number(bar.high)
        text = "n/a" if value is None else f"{value:.4f}"
        if low is not None and high is not None:
            text += f" [{low:.4f}, {high:.4f}]"
        if bar.n is not None:
            text += f" n={bar.n}"
        rows.append(f'<text x="{LABEL_W - 8}" y="{y + 18}" text-anchor="end">{_e(bar.label)}</text>')
        axis, end = shared, zero
        if own_scales:
            end = LABEL_W + BAR_W + 2
            if low is not None and high is not None:
                axis = _around([v for v in (low, high, value) if v is not None],
                               bar.bounds if bar.bounds is not None else bounds)
                rows.append(f'<line class="axis" x1="{LABEL_W}" y1="{mid}" x2="{LABEL_W + BAR_W}" y2="{mid}" '
                            f'stroke="#ccc"/>')
                rows += [f'<text class="tick" x="{axis.x(v):.1f}" y="{y + ROW_H}" text-anchor="{anchor}">'
                         f'{_e(_g(v))}</text>' for v, anchor in ((axis.low, "start"), (axis.high, "end"))]
        elif value is not None:
            end = axis.x(value)
            left, width = min(zero, end), abs(end - zero)
            rows.append(f'<rect class="bar{" flagged" if bar.flag else ""}{" negative" if value < 0 else ""}" '
                        f'x="{left:.1f}" y="{y + 4}" width="{width:.1f}" height="{ROW_H - 8}" rx="3">'
                        f'<title>{_e(bar.label)}: {_e(text)}</title></rect>')
        if low is not None and high is not None:
            x1, x2 = axis.x(low), axis.x(high)
            colour, stroke = ("#1f5fa8", 2) if own_scales else ("currentColor", 1)
            rows.append(f'<g class="interval" stroke="{colour}" stroke-width="{stroke}" fill="none">'
                        f'<title>{_e(bar.label)}: [{low:.4f}, {high:.4f}]</title>'
                        f'<line x1="{x1:.1f}" y1="{mid}" x2="{x2:.1f}" y2="{mid}"/>'
                        f'<line x1="{x1:.1f}" y1="{mid - 5}" x2="{x1:.1f}" y2="{mid + 5}"/>'
                        f'<line x1="{x2:.1f}" y1="{mid - 5}" x2="{x2:.1f}" y2="{mid + 5}"/></g>')
            end = max(end, x2)
            if own_scales and value is not None:
                rows.append(f'<circle class="estimate{" flagged" if bar.flag else ""}" cx="{axis.x(value):.1f}" '
                            f'cy="{mid}" r="4" fill="#1f5fa8"><title>{_e(bar.label)}: {_e(text)}</title></circle>')
        rows.append(f'<text class="value" x="{max(zero, end) + 6:.1f}" y="{y + 18}">{_e(text)}</text>')
    if own_scales:
        scale, lines = "each bar on its own scale around its interval, its ends printed under it", ""
    else:
        scale = shared.describe()
        lines = f'<line x1="{zero:.1f}" y1="0" x2="{zero:.1f}" y2="{height - 20}" class="axis"/>'
        if reference is not None and _number(reference) is not None:
            x = shared.x(float(reference))
            rows.append(f'<line class="reference" x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 20}" '
                        f'stroke-dasharray="4 3" stroke="currentColor"><title>all rows: {_e(_g(reference))}</title>'
                        f'</line>')
        bottom = height - 6
        ticks = [(shared.low, "start"), (shared.high, "end")] + (
            [(0.0, "middle")] if shared.low < 0 < shared.high else [])
        rows += [f'<text class="tick" x="{shared.x(v):.1f}" y="{bottom}" text-anchor="{anchor}">{_e(_g(v))}</text>'
                 for v, anchor in ticks]
    caption = (f'<figcaption><strong>{_e(title)}</strong> <span class="scale">({_e(scale)})</span>'
               + (f'<br><span class="description">{_e(description)}</span>' if description else "")
               + "</figcaption>")
    shift = _label_room([bar.label for bar in bars])
    body = lines + "".join(rows)
    if shift:
        body = f'<g transform="translate({shift} 0)">{body}</g>'
    return (f'<figure>{caption}<svg viewBox="0 0 {LABEL_W + BAR_W + VALUE_W + 90 + shift} {height}" role="img" '
            f'aria-label="{_e(title)}, {_e(scale)}">{body}</svg></figure>')


def _around(values: Sequence[float], bounds: Any) -> Axis:
    """The axis of one bar on a scale of its own: the span of ``values`` padded by half of it on
    each side (1 % of the value when there is no span), kept within ``bounds``."""
    low, high = min(values), max(values)
    pad = (high - low) * 0.5 or max(abs(high), 1.0) * 0.01
    start, stop, low_from, high_from = low - pad, high + pad, "values", "values"
    lower, upper = _bounds(bounds)
    if lower is not None and lower <= low and lower > start:
        start, low_from = lower, "bounds"
    if upper is not None and upper >= high and upper < stop:
        stop, high_from = upper, "bounds"
    if not stop > start:
        stop = start + 1.0
    return Axis(start, stop, low_from, high_from)


def _label_room(labels: Sequence[str]) -> int:
    """How far to move a chart right so that its longest label (about 7 units a character at the
    page's 13px) fits left of the bars: 0 for labels that fit, at most 160."""
    longest = max((len(label) for label in labels), default=0)
    return int(min(max(0.0, longest * 7.2 + 12 - LABEL_W), 160.0))


#: line colours, one per series (cycled): the Okabe-Ito colours readable on white, by most
#: colour-blind readers too
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#999999")
PLOT_LEFT, PLOT_W, PLOT_RIGHT, PLOT_TOP, PLOT_H, PLOT_BOTTOM = 64, 300, 150, 12, 170, 40  # line charts' geometry


@dataclass(frozen=True)
class LineSeries:
    """One line of :func:`render_line_chart`: its name (the legend's) and its points, each an x
    label of the chart and a value; ``notes`` (one per point, or none) are said after the value in
    each point's tooltip (``"n = 40"``)."""

    name: str
    points: tuple[tuple[str, float], ...]
    notes: tuple[str, ...] = ()


def render_line_chart(title: str, series: Sequence[LineSeries], x_labels: Sequence[str] = (), *,
                      x_label: str = "", y_label: str = "", baseline: float | None = None,
                      baseline_label: str = "baseline", baseline_class: str = "baseline",
                      y_range: tuple[float, float] | None = None, description: str = "",
                      aria_label: str | None = None, figure_class: str | None = None) -> str:
    """A ``<figure>`` with a line chart: x the categories ``x_labels`` evenly spaced, in their order
    (an x of a point that they lack follows them), y the values, one line with dots per series,
    each in a colour of :data:`PALETTE` and named in the legend, and an optional dashed
    horizontal ``baseline`` (the clean score, say). The y scale is ``y_range`` with its ends
    printed, or else the values' range padded by 8 % with the lowest and highest value printed.
    Every point says its series, x and value in its tooltip."""
    levels = list(dict.fromkeys([*x_labels, *(x for line in series for x, _ in line.points)]))
    values = [v for line in series for _, v in line.points if _number(v) is not None]
    if baseline is not None and _number(baseline) is not None:
        values.append(float(baseline))
    if not levels or not values:
        return f'<p class="empty">{_e(title)}: no values to chart.</p>'
    if y_range is not None and y_range[1] > y_range[0]:
        low, high = y_range
        ticks = [low, high]
    else:
        ticks = [min(values), max(values)]
        pad = (ticks[1] - ticks[0]) * 0.08 or max(abs(ticks[1]) * 0.05, 0.05)
        low, high = ticks[0] - pad, ticks[1] + pad

    def x(level: str) -> float:
        return PLOT_LEFT + (levels.index(level) + 0.5) * PLOT_W / len(levels)

    def y(value: float) -> float:
        return PLOT_TOP + (high - min(max(value, low), high)) / (high - low) * PLOT_H

    bottom, right = PLOT_TOP + PLOT_H, PLOT_LEFT + PLOT_W
    parts = [f'<line x1="{PLOT_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" class="axis" stroke="#57606a"/>',
             f'<line x1="{PLOT_LEFT}" y1="{PLOT_TOP}" x2="{PLOT_LEFT}" y2="{bottom}" class="axis" stroke="#57606a"/>']
    parts += [f'<text class="tick" x="{PLOT_LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{_e(f"{v:.3g}")}</text>'
              for v in ticks]
    parts += [f'<text class="tick" x="{x(level):.1f}" y="{bottom + 16}" text-anchor="middle">{_e(level)}</text>'
              for level in levels]
    if x_label:
        parts.append(f'<text class="tick" x="{PLOT_LEFT + PLOT_W / 2:.1f}" y="{bottom + 34}" '
                     f'text-anchor="middle">{_e(x_label)}</text>')
    if y_label:
        middle = PLOT_TOP + PLOT_H / 2
        parts.append(f'<text class="tick" x="14" y="{middle:.1f}" text-anchor="middle" '
                     f'transform="rotate(-90 14 {middle:.1f})">{_e(y_label)}</text>')
    for index, line in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        notes = [*line.notes, *[""] * len(line.points)]
        points = sorted(((levels.index(level), level, float(v), note) for (level, v), note
                         in zip(line.points, notes) if _number(v) is not None), key=lambda p: p[0])
        path = " ".join(f"{x(level):.1f},{y(v):.1f}" for _, level, v, _ in points)
        if points:
            parts.append(f'<polyline class="line" points="{path}" fill="none" stroke="{colour}" stroke-width="2">'
                         f'<title>{_e(line.name)}</title></polyline>')
        where = f"{x_label} " if x_label else ""
        parts += [f'<circle cx="{x(level):.1f}" cy="{y(v):.1f}" r="4" fill="{colour}"><title>'
                  f'{_e(f"{line.name}, {where}{level}: {v:.4f}" + (f" ({note})" if note else ""))}</title></circle>'
                  for _, level, v, note in points]
        parts.append(_legend(index, line.name, colour))
    if baseline is not None and _number(baseline) is not None:
        at = y(float(baseline))
        parts.append(f'<line class="{_e(baseline_class)}" x1="{PLOT_LEFT}" y1="{at:.1f}" x2="{right}" y2="{at:.1f}" '
                     f'stroke="#24292f" stroke-dasharray="6 4"><title>{_e(baseline_label)}: '
                     f'{_e(f"{baseline:.4f}")}</title></line>')
        parts.append(_legend(len(series), baseline_label, "#24292f", dashed=True))
    scale = f"scale {low:.3g} to {high:.3g}"
    caption = (f'<figcaption><strong>{_e(title)}</strong> <span class="scale">({_e(scale)})</span>'
               + (f'<br><span class="description">{_e(description)}</span>' if description else "")
               + "</figcaption>")
    label = aria_label or f"{title}, one line per series, {scale}"
    opening = f'<figure class="{_e(figure_class)}">' if figure_class else "<figure>"
    return (f'{opening}{caption}<svg viewBox="0 0 {PLOT_LEFT + PLOT_W + PLOT_RIGHT} {bottom + PLOT_BOTTOM}" '
            f'role="img" aria-label="{_e(label)}">' + "".join(parts) + "</svg></figure>")


def render_table(table: Mapping[str, Any], *, number_format: str = ".4f") -> str:
    """An aggregate table of an analysis or a complexity meter (``{"title", "columns", "rows"}``,
    rows being lists of numbers or short strings) as a titled HTML table: numbers right-aligned
    (``class="num"``), integers as they are, other numbers with ``number_format``, a missing or
    non-finite number as ``n/a``; everything escaped. ``""`` for a table without columns or rows."""
    columns = [str(c) for c in table.get("columns") or []]
    rows = [r for r in table.get("rows") or [] if isinstance(r, (list, tuple))]
    if not columns or not rows:
        return ""

    def cell(value: Any) -> str:
        if isinstance(value, str):
            return f"<td>{_e(value)}</td>"
        number = _number(value)
        if number is None:
            return '<td class="num">n/a</td>'
        shown = str(value) if isinstance(value, int) else format(number, number_format)
        return f'<td class="num">{_e(shown)}</td>'

    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return (f'<h4>{_e(table.get("title") or "")}</h4><div class="scroll"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _legend(index: int, name: str, colour: str, *, dashed: bool = False) -> str:
    top, left = PLOT_TOP + 8 + index * 18, PLOT_LEFT + PLOT_W + 14
    dash = ' stroke-dasharray="6 4"' if dashed else ""
    return (f'<line x1="{left}" y1="{top}" x2="{left + 18}" y2="{top}" stroke="{colour}" stroke-width="2"{dash}/>'
            f'<text x="{left + 24}" y="{top + 4}">{_e(name)}</text>')


def _bounds(bounds: Any) -> tuple[float | None, float | None]:
    if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
        return None, None
    low, high = (_number(b) for b in bounds)
    if low is not None and high is not None and not high > low:
        return None, None
    return low, high


def _nice(value: float, *, up: bool) -> float:
    """A round number at or beyond ``value`` (away from 0): 12.5 -> 15, -0.37 -> -0.4."""
    if value == 0:
        return 0.0
    size = abs(value)
    scale = 10.0 ** math.floor(math.log10(size))
    away = (value > 0) == up
    steps = [n * scale for n in _NICE]
    found = next((s for s in steps if s >= size * (1 - 1e-12)), steps[-1]) if away else \
        next((s for s in reversed(steps) if s <= size * (1 + 1e-12)), steps[0])
    return math.copysign(found, value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _text(column: Mapping[str, Any]) -> str:
    number, precision = _number(column.get("value")), column.get("precision")
    if number is None:
        return "n/a"
    places = precision if isinstance(precision, int) and not isinstance(precision, bool) and precision >= 0 else 4
    return f"{number:.{places}f}"


def _g(value: float) -> str:
    return f"{value:.6g}"


def _e(value: Any) -> str:
    return escape("n/a" if value is None else str(value), quote=True)
