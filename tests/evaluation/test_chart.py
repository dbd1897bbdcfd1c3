"""The shared charts of evaluation/chart.py that the built-in sections draw with: the interval
bars on scales of their own (the bootstrap intervals) and the line chart (the degradation by
severity), read back as SVG elements."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from aibench_plugins import IntervalBar, LineSeries, render_interval_bars, render_line_chart
from aibench_plugins.evaluation.chart import BAR_W, LABEL_W, PLOT_H, PLOT_LEFT, PLOT_TOP, PLOT_W


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, Any]]] = []
        self.titles: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_title = tag == "title"

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.titles.append(data)
            self._in_title = False


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def test_bars_on_their_own_scales_put_each_interval_on_its_own_axis() -> None:
    svg = render_interval_bars("Intervals", [IntervalBar("balanced_accuracy", 0.9, 0.8, 1.0, bounds=[0.0, 1.0]),
                                             IntervalBar("mae", 12.0, 10.0, 16.0, n=45, bounds=[0.0, None]),
                                             IntervalBar("no interval", 0.5)], own_scales=True)
    parsed = _parse(svg)
    ticks = [float(t) for t in svg.split('class="tick"')[1:] for t in [t.split(">", 1)[1].split("<", 1)[0]]]
    assert ticks == [0.7, 1.0, 7.0, 19.0]  # padded by half the span; the upper bound holds accuracy's
    whiskers = [a for t, a in parsed.tags if t == "line" and a.get("x2") and a.get("y1") == a.get("y2")
                and a.get("class") is None]
    assert [float(w["x1"]) for w in whiskers] == pytest.approx([LABEL_W + BAR_W * 0.1 / 0.3,
                                                                LABEL_W + BAR_W * 3 / 12], abs=0.06)
    assert [t for t, a in parsed.tags if a.get("class") == "interval"] == ["g", "g"]
    assert [t for t, a in parsed.tags if a.get("class") == "estimate"] == ["circle", "circle"]
    assert not [t for t, _ in parsed.tags if t == "rect"]  # a dot on its own scale, never a bar from 0
    assert "12.0000 [10.0000, 16.0000] n=45" in svg and "0.5000" in svg
    svg_tag = next(a for t, a in parsed.tags if t == "svg")
    assert svg_tag["role"] == "img" and "own scale" in svg_tag["aria-label"]
    assert '<g transform="translate(' in svg  # the long label is given room on the left


def test_the_line_chart_draws_a_line_per_series_and_the_baseline() -> None:
    series = [LineSeries("blur <b>", (("3", 0.6), ("1", 0.8)), ("n = 40", "n = 41")),
              LineSeries("noise", (("2", 0.7),))]
    svg = render_line_chart("accuracy by severity", series, ("1", "2", "3"), x_label="severity", baseline=0.9,
                            baseline_label="clean", baseline_class="clean", y_range=(0.0, 1.0),
                            aria_label="accuracy, one line per perturbation", figure_class="degradation")
    parsed = _parse(svg)
    assert svg.startswith('<figure class="degradation">') and "<b>" not in svg and "blur &lt;b&gt;" in svg
    svg_tag = next(a for t, a in parsed.tags if t == "svg")
    assert (svg_tag["role"], svg_tag["aria-label"]) == ("img", "accuracy, one line per perturbation")
    lines = [a for t, a in parsed.tags if t == "polyline"]
    assert len(lines) == 2 and all(a["class"] == "line" for a in lines)

    def x(index: int) -> float:
        return PLOT_LEFT + (index + 0.5) * PLOT_W / 3

    def y(value: float) -> float:
        return PLOT_TOP + (1.0 - value) * PLOT_H

    first = [float(v) for p in lines[0]["points"].split() for v in p.split(",")]
    assert first == pytest.approx([x(0), y(0.8), x(2), y(0.6)], abs=0.06)  # in the x labels' order
    assert len([t for t, _ in parsed.tags if t == "circle"]) == 3
    assert "blur <b>, severity 1: 0.8000 (n = 41)" in parsed.titles
    clean = next(a for t, a in parsed.tags if t == "line" and a.get("class") == "clean")
    assert float(clean["y1"]) == pytest.approx(y(0.9), abs=0.06) and clean["stroke-dasharray"]
    assert "clean: 0.9000" in parsed.titles


def test_the_line_chart_scales_to_the_values_and_says_when_there_are_none() -> None:
    svg = render_line_chart("mae", [LineSeries("a", (("low", 2.0), ("high", 4.0)))])
    ticks = [t.split(">", 1)[1].split("<", 1)[0] for t in svg.split('class="tick"')[1:]]
    assert ticks[:2] == ["2", "4"] and ticks[2:] == ["low", "high"]  # x from the points when none are given
    assert "scale 1.84 to 4.16" in svg
    assert render_line_chart("mae", []) == '<p class="empty">mae: no values to chart.</p>'
