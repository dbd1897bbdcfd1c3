"""The detailed results page as participants and organisers see it, rendered in real headless
Chromium (issue 11, items 11, 15 and 17): chart titles are the organiser's labels, scales follow
each metric's bounds (negative R² drawn to the left of zero), provenance, trust and plugin
tracebacks sit in a closed organiser section, a refusal states each problem once, and a metric's
description is shown.

What Chromium rendered is read by a probe script added to a *copy* of the page (the page itself
has no script): ``innerText`` (what is rendered: the content of a closed ``<details>`` is not),
the titles of the charts and the rendered geometry of each bar (``getBBox``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from aibench_plugins.evaluation.chart import BAR_W, LABEL_W, axis_for
from aibench_plugins.evaluation.page import render_detailed_results
from aibench_plugins.evaluation.report import report_problems

from chromium import chromium_args

TRACEBACK = ('Traceback (most recent call last):\n  File "/app/program/_aibench/acme/metrics.py", line 12, in rmse\n'
             '    raise ValueError("the reference has <3> rows")\nValueError: the reference has <3> rows\n')
PROBE = """<script>
const out = {text: document.body.innerText, figures: []};
for (const figure of document.querySelectorAll("figure")) {
  const line = figure.querySelector("line.axis");
  out.figures.push({title: (figure.querySelector("figcaption strong") || figure.querySelector("figcaption")).textContent,
                    caption: figure.querySelector("figcaption").innerText,
                    zero: line ? line.getBBox().x : null,
                    bars: [...figure.querySelectorAll("rect.bar")].map(r => {
                      const box = r.getBBox(); return {x: box.x, width: box.width,
                      label: r.querySelector("title").textContent};})});
}
const details = document.querySelector("#organiser details");
out.organiser = details ? {open: details.open, summary: details.querySelector("summary").innerText,
                 pre_rendered: [...details.querySelectorAll("pre")].map(p => p.checkVisibility())} : null;
const pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"""


def _provenance(metric: str, params: str = "ab") -> dict[str, Any]:
    return {"metric_id": metric, "metric_version": "2", "plugin": "aibench.regression",
            "distribution": "aibench-plugins", "distribution_version": "0.1.0",
            "params_sha256": params * 32, "aibench_version": "0.1.0"}


def _column(label: str, key: str, metric: str, split: str, value: float | None, bounds: Any,
            description: str | None = None) -> dict[str, Any]:
    column = {"key": key if split == "all" else f"{key}_{split}",
              "title": label if split == "all" else f"{label} ({split})", "sorting": "desc", "precision": 3,
              "hidden": False, "value": value, "metric": metric, "split": split,
              "provenance": _provenance(metric), "bounds": bounds}
    if description is not None:
        column["description"] = description
    return column


def _report(**extra: Any) -> dict[str, Any]:
    return {
        "report_version": 1, "producer": "aibench run", "run": {"run_id": "r1"}, "status": "finished",
        "message": "", "platform": "codabench", "phase": {"number": 1, "name": "Development"},
        "manifest_sha256": "cd" * 32, "concepts": [],
        "columns": [{"key": "accuracy", "title": "Accuracy", "sorting": "desc", "precision": 4, "value": 0.5}],
        "plugin_columns": [
            _column("Balanced accuracy", "bacc", "aibench.balanced_accuracy", "all", 0.8766, [0.0, 1.0]),
            _column("Balanced accuracy", "bacc", "aibench.balanced_accuracy", "public", 0.9, [0.0, 1.0]),
            _column("Mean abs. error", "mae", "aibench.mae", "all", 12.5, [0.0, None],
                    "Mean absolute error between predicted and true values."),
            _column("Mean abs. error", "mae", "aibench.mae", "public", 3.25, [0.0, None],
                    "Mean absolute error between predicted and true values."),
            _column("Coefficient R2", "r2", "aibench.r2", "all", -0.5, [None, 1.0]),
            _column("Coefficient R2", "r2", "aibench.r2", "public", 0.25, [None, 1.0]),
            _column("Error acme", "acme", "acme.rmse", "all", None, None),
        ],
        "plugin_failures": [{"component": "acme.rmse", "kind": "metric", "plugin": "acme", "key": "acme",
                             "message": "ValueError: the reference has <3> rows", "required": False,
                             "traceback": TRACEBACK}],
        "check_problems": [],
        "measurements": [{"name": "program wall time", "value": 1.5, "unit": "s", "measured_by": "executor",
                          "step": "prediction", "trust": "host-measured: participant code cannot change it"}],
    } | extra


def _rendered(tmp_path: Path, report: dict[str, Any]) -> dict[str, Any]:
    """What headless Chromium rendered of the page of ``report`` (see the module docstring)."""
    page = render_detailed_results(report)
    assert "<script" not in page
    probe = tmp_path / "probed.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = subprocess.run([*chromium_args(tmp_path), "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    start = dom.stdout.index('<pre id="probe">') + len('<pre id="probe">')
    found: dict[str, Any] = json.loads(_unescape(dom.stdout[start:dom.stdout.index("</pre>", start)]))
    return found


def _unescape(text: str) -> str:
    from html import unescape

    return unescape(text)


def test_the_hand_built_reports_are_valid_report_documents() -> None:
    """The optional fields the page reads (bounds, description, traceback) are in the schema."""
    for report in (_report(), _refusal()):
        problems = report_problems(report)
        assert all("description" in p or "traceback" in p for p in problems), problems


def test_charts_are_titled_with_labels_and_scaled_by_bounds(tmp_path: Path) -> None:
    shown = _rendered(tmp_path, _report())
    figures = {f["title"]: f for f in shown["figures"]}
    assert list(figures) == ["Balanced accuracy", "Mean abs. error", "Coefficient R2", "Error acme"]
    assert not any("aibench." in f["caption"] for f in shown["figures"])  # no metric id in a title
    bacc = figures["Balanced accuracy"]  # bounded: 0..1, each bar its share of the axis
    assert bacc["zero"] == pytest.approx(LABEL_W)
    assert [b["width"] / BAR_W for b in bacc["bars"]] == pytest.approx([0.8766, 0.9], abs=1e-3)
    mae = figures["Mean abs. error"]  # unbounded above: the axis follows the largest score
    largest = max(b["width"] for b in mae["bars"]) / BAR_W
    assert 0.5 < largest < 1.0 and "unbounded above" in mae["caption"]
    r2 = figures["Coefficient R2"]  # unbounded below: -0.5 drawn left of the zero line
    negative, positive = r2["bars"]
    assert LABEL_W < r2["zero"] < LABEL_W + BAR_W
    assert negative["width"] > 10 and negative["x"] + negative["width"] == pytest.approx(r2["zero"], abs=0.2)
    assert positive["x"] == pytest.approx(r2["zero"], abs=0.2)
    assert negative["width"] / positive["width"] == pytest.approx(2.0, rel=1e-2)  # |-0.5| vs 0.25
    assert figures["Error acme"]["bars"] == []  # a failed metric: no bar, "n/a"


def test_axes_follow_bounds_and_values() -> None:
    assert (axis_for([0.0, 1.0], [0.2]).low, axis_for([0.0, 1.0], [0.2]).high) == (0.0, 1.0)
    assert (axis_for([-1.0, 1.0], [0.3]).low, axis_for([-1.0, 1.0], [0.3]).high) == (-1.0, 1.0)
    assert axis_for([0.0, None], [9.65e45]).high == pytest.approx(1e46)
    assert (axis_for([None, 1.0], [-3.7]).low, axis_for([None, 1.0], [-3.7]).high) == (-4.0, 1.0)
    assert (axis_for(None, [-2.0, 7.0]).low, axis_for(None, [-2.0, 7.0]).high) == (-2.0, 8.0)
    assert (axis_for("junk", []).low, axis_for("junk", []).high) == (0.0, 1.0)


def test_description_is_shown_under_the_chart_title(tmp_path: Path) -> None:
    shown = _rendered(tmp_path, _report())
    mae = next(f for f in shown["figures"] if f["title"] == "Mean abs. error")
    assert "Mean absolute error between predicted and true values." in mae["caption"]
    assert shown["text"].count("Mean absolute error between predicted and true values.") == 1


def test_provenance_trust_and_tracebacks_are_in_a_closed_organiser_section(tmp_path: Path) -> None:
    report = _report()
    page = render_detailed_results(report)
    assert "ValueError: the reference has &lt;3&gt; rows" in page and "metrics.py&quot;, line 12" in page
    shown = _rendered(tmp_path, report)
    organiser = shown["organiser"]
    assert organiser is not None, "no organiser section"
    assert organiser["open"] is False and organiser["summary"].startswith("For organisers")
    assert organiser["pre_rendered"] and set(organiser["pre_rendered"]) == {False}  # not rendered
    text = shown["text"]
    for hidden in ("Traceback (most recent call last)", "Params sha256", "host-measured", "Provenance"):
        assert hidden not in text, hidden
    assert "For organisers" in text and "ValueError: the reference has <3> rows" in text  # the failure's message


def _refusal() -> dict[str, Any]:
    problems = [{"check": "aibench.required_files", "message": "no file matches 'predictions.csv'", "file": None,
                 "line": None, "item": None, "severity": "error",
                 "fix": "add a file named like 'predictions.csv' at the root of the submission zip (found: preds.csv)"},
                {"check": "aibench.required_files", "message": "unexpected file", "file": "preds.csv", "line": None,
                 "item": None, "fix": "remove it; the submission may only hold predictions.csv", "severity": "error"}]
    message = ("the submission was refused before scoring by the bundle's checks:\n"
               "  submission: no file matches 'predictions.csv' Fix: add a file named like 'predictions.csv' at the "
               "root of the submission zip (found: preds.csv) [aibench.required_files]\n"
               "  preds.csv: unexpected file Fix: remove it; the submission may only hold predictions.csv "
               "[aibench.required_files]")
    return _report(status="failed", message=message, check_problems=[*problems, problems[1]], plugin_columns=[],
                   plugin_failures=[], columns=[{"key": "accuracy", "title": "Accuracy", "sorting": "desc",
                                                 "precision": 4, "value": None}])


def test_a_refusal_page_states_each_problem_once(tmp_path: Path) -> None:
    shown = _rendered(tmp_path, _refusal())
    text = shown["text"]
    for said in ("no file matches 'predictions.csv'", "unexpected file", "(found: preds.csv)",
                 "the submission may only hold predictions.csv"):
        assert text.count(said) == 1, (said, text)
    assert "refused before scoring" in text
    for noise in ("No plugin metric ran.", "No plugin failed.", "No plugin scores to chart."):
        assert noise not in text
