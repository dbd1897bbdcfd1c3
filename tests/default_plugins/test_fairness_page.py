"""The page section of aibench.group_fairness, and the interval bars of evaluation/chart.py, on a
report built from a real analysis (the report's ``analyses`` item as the contract states it)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aibench_plugins.components.analysis import AnalysisContext, MetricData
from aibench_plugins.data.formats import read_table
from aibench_plugins.data.tables import TableSpec
from aibench_plugins.default_plugins.classification import balanced_accuracy
from aibench_plugins.default_plugins.fairness import group_fairness
from aibench_plugins.default_plugins.fairness_page import FairnessSection
from aibench_plugins.evaluation.chart import IntervalBar, render_interval_bars


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, Any]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, Any]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_interval_bars_draw_each_bar_its_whisker_and_n() -> None:
    svg = render_interval_bars("accuracy by sex", [IntervalBar("F", 0.7, 0.65, 0.75, n=400, flag=True),
                                                   IntervalBar("M <b>", 0.9, 0.87, 0.93, n=500)],
                               bounds=[0.0, 1.0], reference=0.8)
    tags = _tags(svg)
    assert [t for t, _ in tags].count("rect") == 2
    assert [t for t, a in tags if a.get("class") == "interval"] == ["g", "g"]
    assert "n=400" in svg and "[0.6500, 0.7500]" in svg and "M &lt;b&gt;" in svg and "<b>" not in svg
    assert any(a.get("class") == "bar flagged" for _, a in tags)
    widths = [float(a["width"]) for t, a in tags if t == "rect"]
    assert abs(widths[1] / widths[0] - 0.9 / 0.7) < 0.01
    assert any(a.get("class") == "reference" for _, a in tags)


def _report(tmp_path: Path) -> dict[str, Any]:
    rng = np.random.default_rng(4)
    n = 1500
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(n)], "label": rng.integers(0, 2, n),
                          "sex": rng.choice(["F", "M"], n), "band": rng.choice(["a", "b"], n)})
    frame.loc[:9, "band"] = "tiny"
    frame.to_csv(tmp_path / "labels.csv", index=False)
    table = read_table(tmp_path, TableSpec("labels.csv", id="id", columns=["label", "sex", "band"]))
    truth = frame["label"].to_numpy()
    pred = np.where(rng.random(n) < 0.2, 1 - truth, truth)
    metric = MetricData("bacc", "Balanced accuracy", balanced_accuracy.info, {}, balanced_accuracy,
                        frame["id"].to_numpy(), pred, truth)
    context = AnalysisContext({"bacc": metric}, tmp_path, lambda name: table, min_group_size=30)
    result = group_fairness.analyse(context, attributes=["sex", "band"], n_boot=0)
    item = {"kind": "fairness", "component": "aibench.group_fairness", "plugin": "aibench.fairness",
            "key": "fairness", "label": "Fairness <test>", "min_group_size": 30, "dropped_groups": 0,
            "summaries": [s.to_json() for s in result.summaries], "groups": [g.to_json() for g in result.groups],
            "tables": list(result.tables), "notes": list(result.notes),
            "flags": [{"summary": "demographic_parity_difference", "value": 0.2, "threshold": 0.1, "bound": "max",
                       "action": "flag", "message": "over the organiser's threshold"}]}
    # defence in depth: a group below the minimum that a report holds anyway is not drawn
    item["groups"].append({"group": {"band": "tiny"}, "n": 10, "measure": "bacc", "value": 0.1, "low": None,
                           "high": None})
    return {"analyses": [item, {"kind": "robustness", "component": "aibench.bootstrap_ci", "groups": []}],
            "plugin_columns": [{"key": "bacc", "bounds": [0.0, 1.0]}]}


def test_section_shows_bars_flags_table_and_never_a_small_group(tmp_path: Path) -> None:
    section = FairnessSection().render(_report(tmp_path))
    assert section is not None and section.id == "fairness"
    body = section.body
    assert "tiny" not in body
    assert "Fairness &lt;test&gt;" in body and "<test>" not in body
    assert "FLAG" in body and "demographic_parity_difference" in body
    assert "bacc by sex" in body and "bacc by band" in body and "selection_rate by sex" in body
    assert "Disparities" in body and "worst_group.bacc" in body
    assert "Only groups of at least 30 rows are shown" in body
    assert "1 group(s) with fewer than 30 rows were left out" in body
    assert [t for t, _ in _tags(body)].count("svg") >= 4


def test_no_fairness_item_no_section() -> None:
    assert FairnessSection().render({"analyses": []}) is None
    assert FairnessSection().render({}) is None


def test_two_summary_columns_of_one_entry_get_a_chart_each() -> None:
    from aibench_plugins.evaluation.chart import render_charts

    provenance = {"params_sha256": "same"}
    columns = [{"key": "worst_group_bacc", "title": "Worst-group bal. acc.", "metric": "aibench.group_fairness",
                "split": "all", "value": 0.66, "provenance": provenance},
               {"key": "dp_difference", "title": "Demographic parity diff.", "metric": "aibench.group_fairness",
                "split": "all", "value": 0.26, "provenance": provenance},
               {"key": "f1", "title": "F1", "metric": "aibench.f1", "split": "all", "value": 0.8,
                "provenance": provenance},
               {"key": "f1_public", "title": "F1 (public)", "metric": "aibench.f1", "split": "public", "value": 0.7,
                "provenance": provenance}]
    html = render_charts(columns)
    assert html.count("<figure>") == 3  # one per fairness summary, one for F1 with its two splits
    assert "Worst-group bal. acc." in html and "Demographic parity diff." in html
