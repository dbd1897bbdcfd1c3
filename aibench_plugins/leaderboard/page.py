"""The analysed leaderboard as one self-contained HTML5 page (``aibench leaderboard --html FILE``):
inline CSS and inline SVG only, no script, nothing fetched, every piece of text escaped.

From the leaderboard document alone (:func:`render_page`): per ranking a table (score and its
interval, rank, median rank and its interval, tier) and a **blob plot** (challengeR's
``stability``: one column per submission in rank order, one row per rank; a dot's area is the
share of bootstrap samples giving the submission that rank; the black tick is the median rank and
the black line its interval); the **significance map** (row submission significantly better than
column submission: dark cell); when the runs' reports carry fairness analyses, **per-group
bars** with their intervals (aggregates over groups of at least the entry's minimum size only);
and for each Pareto-rank entry of the manifest's efficiency section, the **score-versus-cost
chart**: one dot per submission (cost across, on a log scale when the costs span more than a
factor of 30; score up), the front (rank 1) drawn dark and joined by its staircase, the
dominated submissions light, with a table of the ranks (and why a submission has none).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["blob_plot", "group_bars", "pareto_chart", "render_page", "significance_map"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-variant-numeric:tabular-nums}
th{background:#f3f3f3}figure{margin:1em 0}figcaption{font-size:.9em;color:#444;margin-bottom:.4em}
svg text{font-size:11px;fill:#222}.blob{fill:#3b6ea8;fill-opacity:.75}.median{stroke:#000;stroke-width:2}
.interval{stroke:#000;stroke-width:1.2}.grid{stroke:#eee}.better{fill:#1f5f99}.notbetter{fill:#e8eef5}
.self{fill:#bbb}.bar{fill:#3b6ea8}.whisker{stroke:#000;stroke-width:1.2}.note{color:#555;font-size:.9em}
.front{fill:#1f5f99;stroke:#fff}.dominated{fill:#b8c7d9;stroke:#fff}.front-line{fill:none;stroke:#1f5f99;stroke-width:1.5}
.axis{stroke:#888}
"""


def render_page(document: Mapping[str, Any]) -> str:
    """The page of a leaderboard document (shape of ``schemas/aibench-leaderboard.schema.json``)."""
    phase = document.get("phase") or {}
    title = f"Leaderboard analysis: {document.get('bundle', '')} phase {phase.get('number', '')} ({phase.get('name', '')})"
    tier_of = {name: t["tier"] for t in document.get("tiers") or [] for name in t["submissions"]}
    pareto = document.get("pareto") or []
    parts = [f"<h1>{_e(title)}</h1>",
             f"<p>{_e(len(document.get('submissions') or []))} submissions, {_e(document.get('n_cases'))} test cases "
             f"(split {_e(document.get('split', 'all'))}), {_e(document.get('replicates'))} bootstrap samples "
             f"(seed {_e(document.get('seed'))}), intervals at {_e(_pct(document.get('confidence')))}, tests at "
             f"alpha {_e(document.get('alpha'))} after Holm's correction.</p>"]
    for ranking in document.get("rankings") or []:
        parts.append(f"<h2>Ranking: {_e(ranking['name'])}</h2>")
        parts.append(_ranking_table(ranking, tier_of, pareto))
        tau = ranking.get("kendall_tau") or {}
        if tau.get("median") is not None:
            parts.append(f"<p>Kendall's tau of the bootstrap rankings against the full one: median "
                         f"{_g(tau['median'])}, mean {_g(tau['mean'])}, interval [{_g(tau['low'])}, {_g(tau['high'])}] "
                         f"over {_e(tau['n'])} samples ({_e(tau['excluded'])} excluded: every submission tied).</p>")
        parts.append(blob_plot(ranking))
    significance = document.get("significance")
    if significance:
        test = ("one-sided Wilcoxon signed-rank tests on per-case " + str(significance.get("per_case"))
                if significance.get("test") == "wilcoxon" else "one-sided paired-bootstrap tests on the score")
        parts.append(f"<h2>Significance map: {_e(significance['ranking'])}</h2><p>{_e(test)}, Holm-adjusted, "
                     f"alpha {_e(significance.get('alpha'))}. A dark cell: the row's submission is significantly "
                     "better than the column's.</p>")
        parts.append(significance_map(significance))
        parts.append(_adjacent_pairs(significance))
        parts.append("<h2>Tiers (statistically tied)</h2><ol>" + "".join(
            f"<li>{_e(', '.join(t['submissions']))}</li>" for t in document.get("tiers") or []) + "</ol>")
    for item in pareto:
        parts.append(f"<h2>Score versus cost: {_e(item['label'])}</h2>")
        parts.append(pareto_chart(item))
        parts.append(_pareto_table(item))
    fairness = document.get("fairness") or []
    if fairness:
        parts.append("<h2>Per-group results (fairness analyses of the runs)</h2>")
        parts.append(group_bars(fairness))
    skipped = document.get("skipped") or []
    if skipped:
        parts.append("<h2>Skipped</h2><ul>" + "".join(f"<li><strong>{_e(s['name'])}</strong>: {_e(s['reason'])}</li>"
                                                       for s in skipped) + "</ul>")
    for note in document.get("notes") or []:
        parts.append(f'<p class="note">{_e(note)}</p>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>" + "\n".join(parts) + "</body></html>\n")


def _adjacent_pairs(significance: Mapping[str, Any]) -> str:
    """Each submission against the next in rank order: the score difference, its paired-bootstrap
    interval, and the adjusted p-value that the first is better."""
    order = significance["order"]
    rows = "".join(
        f"<tr><td>{_e(order[i])}</td><td>{_e(order[i + 1])}</td><td>{_g(significance['difference'][i][i + 1])}</td>"
        f"<td>[{_g(significance['difference_low'][i][i + 1])}, {_g(significance['difference_high'][i][i + 1])}]</td>"
        f"<td>{_g(significance['p_adjusted'][i][i + 1])}</td>"
        f"<td>{'yes' if significance['significant'][i][i + 1] else 'no'}</td></tr>" for i in range(len(order) - 1))
    return ("<table><tr><th>Submission</th><th>Next in rank</th><th>Difference</th><th>Paired-bootstrap interval</th>"
            f"<th>Adjusted p</th><th>Significantly better</th></tr>{rows}</table>")


def _ranking_table(ranking: Mapping[str, Any], tier_of: Mapping[str, int],
                   pareto: Sequence[Mapping[str, Any]] = ()) -> str:
    def pareto_rank(item: Mapping[str, Any], submission: str) -> str:
        rank = next((p["rank"] for p in item["points"] if p["submission"] == submission), None)
        return "-" if rank is None else str(rank)

    rows = "".join(
        f"<tr><td>{_e(e['submission'])}</td><td>{_g(e['score'])}</td><td>[{_g(e['score_low'])}, {_g(e['score_high'])}]"
        f"</td><td>{_e(e['rank'])}</td><td>{_g(e['rank_median'])} [{_g(e['rank_low'])}, {_g(e['rank_high'])}]</td>"
        f"<td>{_e(tier_of.get(e['submission'], '-'))}</td>"
        + "".join(f"<td>{_e(pareto_rank(item, e['submission']))}</td>" for item in pareto) + "</tr>"
        for e in ranking["entries"])
    headers = "".join(f"<th>{_e(item['label'])}</th>" for item in pareto)
    return ("<table><tr><th>Submission</th><th>Score</th><th>Interval</th><th>Rank</th><th>Median rank [interval]</th>"
            f"<th>Tier</th>{headers}</tr>{rows}</table>")


def _pareto_table(item: Mapping[str, Any]) -> str:
    points = sorted(item["points"], key=lambda p: (p["rank"] is None, p["rank"] or 0, p["submission"]))
    rows = "".join(f"<tr><td>{_e(p['submission'])}</td><td>{_g(p['score'])}</td><td>{_g(p['cost'])}</td>"
                   f"<td>{_e(p['rank'] if p['rank'] is not None else '-')}</td><td>{_e(p['missing'] or '')}</td></tr>"
                   for p in points)
    return (f"<table class=\"pareto-table\"><tr><th>Submission</th><th>{_e(item['score']['label'])}</th>"
            f"<th>{_e(_cost_title(item))}</th><th>Pareto rank</th><th>Why no rank</th></tr>{rows}</table>")


def _cost_title(item: Mapping[str, Any]) -> str:
    cost = item["cost"]
    return f"{cost['label']} ({cost['unit']})" if cost.get("unit") else str(cost["label"])


def pareto_chart(item: Mapping[str, Any]) -> str:
    """The score-versus-cost chart of one Pareto item (module docstring)."""
    points = [p for p in item["points"] if p["rank"] is not None]
    width, height, left, right, top, bottom = 680.0, 400.0, 70.0, 150.0, 16.0, 56.0
    plot_w, plot_h = width - left - right, height - top - bottom
    caption = (f"{_e(item['label'])}: {_e(item['score']['label'])} "
               f"({'higher' if item['score']['direction'] == 'maximize' else 'lower'} is better, up) versus "
               f"{_e(_cost_title(item))} (lower is better, across). Dark: the Pareto front (rank 1), joined by its "
               "staircase; light: dominated submissions.")
    if not points:
        return f'<figure><figcaption>{caption}</figcaption><p class="note">No submission has both a score and a cost.</p></figure>'
    costs = [float(p["cost"]) for p in points]
    scores = [float(p["score"]) for p in points]
    log = min(costs) > 0 and max(costs) / min(costs) > 30
    x_axis = _scale([math.log10(c) for c in costs] if log else costs, floor=not log)
    y_axis = _scale(scores, floor=False)

    def x(cost: float) -> float:
        value = math.log10(cost) if log else cost
        return left + (value - x_axis[0]) / (x_axis[1] - x_axis[0]) * plot_w

    def y(score: float) -> float:
        value = (score - y_axis[0]) / (y_axis[1] - y_axis[0])
        return top + (1 - value if item["score"]["direction"] == "maximize" else value) * plot_h

    parts = [f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>',
             f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}"/>']
    for tick in _ticks(*x_axis, log=log):
        px = x(10 ** tick if log else tick)
        parts.append(f'<line class="grid" x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{top + plot_h}"/>')
        parts.append(f'<text x="{px:.1f}" y="{top + plot_h + 14}" text-anchor="middle">'
                     f'{_e(_g(10 ** tick if log else tick))}</text>')
    for tick in _ticks(*y_axis, log=False):
        py = y(tick)
        parts.append(f'<line class="grid" x1="{left}" y1="{py:.1f}" x2="{left + plot_w}" y2="{py:.1f}"/>')
        parts.append(f'<text x="{left - 6}" y="{py + 4:.1f}" text-anchor="end">{_e(_g(tick))}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 14}" text-anchor="middle">'
                 f'{_e(_cost_title(item))}{" (log scale)" if log else ""}</text>')
    parts.append(f'<text transform="translate(14,{top + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">'
                 f'{_e(item["score"]["label"])}</text>')
    front = sorted((p for p in points if p["rank"] == 1), key=lambda p: (float(p["cost"]), -float(p["score"])))
    if len(front) > 1:
        path = [(x(float(front[0]["cost"])), y(float(front[0]["score"])))]
        for point in front[1:]:
            px, py = x(float(point["cost"])), y(float(point["score"]))
            path += [(px, path[-1][1]), (px, py)]
        parts.append('<polyline class="front-line" points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in path) + '"/>')
    for point in sorted(points, key=lambda p: -int(p["rank"])):  # the front drawn last, on top
        px, py = x(float(point["cost"])), y(float(point["score"]))
        kind = "front" if point["rank"] == 1 else "dominated"
        parts.append(f'<circle class="{kind}" cx="{px:.1f}" cy="{py:.1f}" r="6"><title>{_e(point["submission"])}: '
                     f'{_e(item["score"]["label"])} {_e(_g(point["score"]))}, {_e(_cost_title(item))} '
                     f'{_e(_g(point["cost"]))}, Pareto rank {_e(point["rank"])}</title></circle>')
        parts.append(f'<text x="{px + 9:.1f}" y="{py + 4:.1f}">{_e(_short(point["submission"], 18))} '
                     f'({_e(point["rank"])})</text>')
    return (f'<figure><figcaption>{caption}</figcaption><svg class="pareto-chart" viewBox="0 0 {width:.0f} '
            f'{height:.0f}" width="{width:.0f}" height="{height:.0f}" role="img" aria-label="'
            f'{_e(item["score"]["label"])} versus {_e(_cost_title(item))}">' + "".join(parts) + "</svg></figure>")


def _scale(values: Sequence[float], *, floor: bool) -> tuple[float, float]:
    """An axis range holding ``values`` with a margin (from 0 when ``floor`` and all are >= 0)."""
    low, high = min(values), max(values)
    span = high - low or abs(high) or 1.0
    low, high = low - 0.08 * span, high + 0.08 * span
    if floor and min(values) >= 0:
        low = 0.0
    return low, high


def _ticks(low: float, high: float, *, log: bool) -> list[float]:
    """About five round ticks within ``[low, high]`` (decades of the exponent on a log scale)."""
    if log:
        return [float(k) for k in range(math.ceil(low), math.floor(high) + 1)] or [round((low + high) / 2, 1)]
    raw = (high - low) / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [round(first + k * step, 12) for k in range(int((high - first) / step) + 1)]


def blob_plot(ranking: Mapping[str, Any]) -> str:
    """challengeR's blob plot of one ranking's rank distributions (module docstring)."""
    entries = ranking["entries"]
    s = len(entries)
    cell = max(12.0, min(40.0, 720.0 / max(s, 1)))
    left, top, bottom = 40.0, 10.0, 80.0
    width, height = left + cell * s + 10, top + cell * s + bottom
    parts = []
    for r in range(1, s + 1):
        y = top + (r - 0.5) * cell
        parts.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{left + cell * s}" y2="{y:.1f}"/>')
        if s <= 30 or r in (1, s) or r % 5 == 0:
            parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{r}</text>')
    for i, entry in enumerate(entries):
        x = left + (i + 0.5) * cell
        counts = entry["rank_counts"]
        total = sum(counts) or 1
        for r, count in enumerate(counts, start=1):
            if count:
                radius = 0.48 * cell * math.sqrt(count / total)
                parts.append(f'<circle class="blob" cx="{x:.1f}" cy="{top + (r - 0.5) * cell:.1f}" r="{radius:.2f}">'
                             f'<title>{_e(entry["submission"])}: rank {r} in {count} of {total} samples</title></circle>')
        y_low, y_high = (top + (entry[k] - 0.5) * cell for k in ("rank_low", "rank_high"))
        y_median = top + (entry["rank_median"] - 0.5) * cell
        parts.append(f'<line class="interval" x1="{x:.1f}" y1="{y_low:.1f}" x2="{x:.1f}" y2="{y_high:.1f}"/>')
        parts.append(f'<line class="median" x1="{x - cell * 0.35:.1f}" y1="{y_median:.1f}" x2="{x + cell * 0.35:.1f}" '
                     f'y2="{y_median:.1f}"/>')
        label_y = top + cell * s + 8
        parts.append(f'<text transform="translate({x + 4:.1f},{label_y:.1f}) rotate(60)">'
                     f'{_e(_short(entry["submission"]))}</text>')
    return (f'<figure><figcaption>Blob plot of {_e(ranking["name"])}: rank (down) of each submission (across) over '
            "the bootstrap samples; a dot's area is the share of samples, the black tick the median rank, the black "
            f'line its interval.</figcaption><svg class="blob-plot" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="blob plot of {_e(ranking["name"])}">'
            + "".join(parts) + "</svg></figure>")


def significance_map(significance: Mapping[str, Any]) -> str:
    """The coloured grid: row ``i`` significantly better than column ``j`` (dark), not (light), self (grey)."""
    order = significance["order"]
    s = len(order)
    cell = max(8.0, min(28.0, 640.0 / max(s, 1)))
    left, top = 110.0, 10.0
    width, height = left + cell * s + 10, top + cell * s + 110
    parts = []
    for i, row in enumerate(significance["significant"]):
        for j, value in enumerate(row):
            kind = "self" if value is None else "better" if value else "notbetter"
            p = significance["p_adjusted"][i][j]
            tip = "" if value is None else (f"{order[i]} vs {order[j]}: adjusted p = {_g(p)}"
                                            + (" (significantly better)" if value else ""))
            parts.append(f'<rect class="{kind}" x="{left + j * cell:.1f}" y="{top + i * cell:.1f}" width="{cell - 1:.1f}" '
                         f'height="{cell - 1:.1f}"><title>{_e(tip)}</title></rect>')
        if s <= 40 or i % 5 == 0:
            parts.append(f'<text x="{left - 6}" y="{top + (i + 0.7) * cell:.1f}" text-anchor="end">'
                         f'{_e(_short(order[i]))}</text>')
            parts.append(f'<text transform="translate({left + (i + 0.4) * cell:.1f},{top + s * cell + 6:.1f}) '
                         f'rotate(60)">{_e(_short(order[i]))}</text>')
    return (f'<figure><svg class="significance-map" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
            f'height="{height:.0f}" role="img" aria-label="significance map">' + "".join(parts) + "</svg></figure>")


def group_bars(fairness: Sequence[Mapping[str, Any]]) -> str:
    """One chart per (fairness entry, measure): a bar per submission and group, with its interval."""
    charts: dict[tuple[str, str], list[tuple[str, Mapping[str, Any]]]] = {}
    labels: dict[str, str] = {}
    for item in fairness:
        labels[item["key"]] = item["label"]
        for group in item["groups"]:
            charts.setdefault((item["key"], group["measure"]), []).append((item["submission"], group))
    out = []
    for (key, measure), rows in charts.items():
        numbers = [v for _, g in rows for v in (g["value"], g["low"], g["high"]) if v is not None]
        low, high = min([0.0, *numbers]), max([0.0, *numbers]) or 1.0
        span = (high - low) or 1.0
        label_w, bar_w, row_h = 220.0, 360.0, 20.0

        def x(value: float) -> float:
            return float(label_w + (value - low) / span * bar_w)

        parts = []
        for index, (submission, group) in enumerate(rows):
            y = 4 + index * row_h
            name = ", ".join(f"{k}={v}" for k, v in group["group"].items()) or "all"
            parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_e(_short(submission, 16))} · '
                         f'{_e(_short(name, 18))} (n={_e(group["n"])})</text>')
            if group["value"] is not None:
                left_x, right_x = sorted((x(0.0), x(group["value"])))
                parts.append(f'<rect class="bar" x="{left_x:.1f}" y="{y + 3}" width="{right_x - left_x:.1f}" '
                             f'height="{row_h - 6}"><title>{_e(submission)} {_e(name)}: {_g(group["value"])}</title>'
                             "</rect>")
            if group["low"] is not None and group["high"] is not None:
                parts.append(f'<line class="whisker" x1="{x(group["low"]):.1f}" y1="{y + row_h / 2}" '
                             f'x2="{x(group["high"]):.1f}" y2="{y + row_h / 2}"/>')
        height = 8 + row_h * len(rows)
        out.append(f'<figure><figcaption>{_e(labels[key])}: {_e(measure)} per group, with its interval (scale '
                   f'{_g(low)} to {_g(high)})</figcaption><svg class="group-bars" viewBox="0 0 {label_w + bar_w + 20:.0f} '
                   f'{height:.0f}" width="{label_w + bar_w + 20:.0f}" height="{height:.0f}" role="img" '
                   f'aria-label="{_e(measure)} per group">' + "".join(parts) + "</svg></figure>")
    return "\n".join(out)


def _short(text: Any, limit: int = 14) -> str:
    value = str(text)
    return value if len(value) <= limit else value[:limit - 1] + "…"


def _pct(value: Any) -> str:
    return f"{value * 100:g} %" if isinstance(value, (int, float)) else "?"


def _g(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "n/a"
    return f"{value:.4g}"


def _e(value: Any) -> str:
    return escape("n/a" if value is None else str(value), quote=True)
