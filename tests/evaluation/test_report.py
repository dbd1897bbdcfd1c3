"""The detailed results page: escaping, self-containment, the chart, reporters in isolation,
and a real render in headless Chromium."""

from __future__ import annotations

import re
import struct
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from aibench_plugins.core.kinds import ComponentInfo
from aibench_plugins.core.host import PluginHost
from aibench_plugins.core.markers import hookimpl
from aibench_plugins import Reporter, Section
from aibench_plugins.evaluation.page import collect_sections, render_detailed_results
from aibench_plugins.default_plugins import report_sections
from chromium import chromium_args

HOSTILE = "<script>alert(1)</script>"


def _provenance(metric: str) -> dict[str, Any]:
    return {"metric_id": metric, "metric_version": "2", "plugin": "aibench.classification",
            "distribution": "aibench-plugins", "distribution_version": "0.1.0",
            "params_sha256": "ab" * 32, "aibench_version": "0.1.0"}


BOUNDS = {"aibench.balanced_accuracy": [0.0, 1.0], "aibench.mae": [0.0, None], "aibench.rmse": [0.0, None],
          "aibench.r2": [None, 1.0], "aibench.pearson": [-1.0, 1.0]}


def _column(key: str, metric: str, split: str, value: float | None, title: str | None = None) -> dict[str, Any]:
    return {"key": key, "title": title or key, "sorting": "desc", "precision": 3, "hidden": False,
            "value": value, "metric": metric, "split": split, "provenance": _provenance(metric),
            "bounds": BOUNDS.get(metric)}


def _report(**extra: Any) -> dict[str, Any]:
    """A report document (schemas/aibench-report.schema.json) as aibench run writes it."""
    return {
        "report_version": 1, "producer": "aibench run", "run": {"run_id": "r1"}, "status": "finished",
        "message": "scored & ranked", "measurements": [], "concepts": [],
        "platform": "codabench", "phase": {"number": 1, "name": "Development"},
        "columns": [{"key": "accuracy", "title": HOSTILE, "sorting": "desc", "precision": 4, "value": 0.91234},
                    {"key": "f1", "title": "F1", "sorting": "desc", "precision": 2, "value": None}],
        "plugin_columns": [
            _column("balanced_accuracy", "aibench.balanced_accuracy", "all", 0.8766, "Balanced accuracy"),
            _column("balanced_accuracy_public", "aibench.balanced_accuracy", "public", 0.9),
            _column("balanced_accuracy_private", "aibench.balanced_accuracy", "private", 0.85),
            _column("mae", "aibench.mae", "all", 12.5),
            _column("mae_public", "aibench.mae", "public", 3.25),
            _column("rmse", "aibench.rmse", "all", None),
        ],
        "plugin_failures": [{"component": "aibench.rmse", "kind": "metric", "plugin": "aibench.regression",
                             "message": f"boom {HOSTILE}", "required": True, "key": "rmse"}],
        "check_problems": [{"check": "aibench.required_files", "message": "missing predictions.csv",
                            "file": None, "line": None, "item": None, "fix": "add it", "severity": "warning"}],
        "manifest_sha256": "cd" * 32,
    } | extra


CONCEPTS = [{"label": "setosa", "definition": "Iris setosa", "parent": None},
            {"label": "versicolor", "definition": "Iris <versicolor>", "parent": "iris"}]


def test_hostile_text_is_escaped() -> None:
    page = render_detailed_results(_report(concepts=CONCEPTS))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "boom &lt;script&gt;" in page
    assert "Iris &lt;versicolor&gt;" in page
    assert "scored &amp; ranked" in page


def test_page_is_self_contained() -> None:
    page = render_detailed_results(_report(concepts=CONCEPTS),
                                   sections=[Section("x", "Extra", "<p>extra</p>")])
    assert page.startswith("<!DOCTYPE html>")
    for forbidden in ("http://", "https://", "<script", "<link", "@import", "url("):
        assert forbidden not in page.lower(), forbidden


def test_values_are_formatted_and_missing_ones_read_na() -> None:
    page = render_detailed_results(_report())
    assert "0.9123" in page and "0.877" in page and "12.500" in page
    assert re.search(r'<td class="num">n/a</td>', page)  # f1 (original) and rmse (plugin) have no value
    nan = render_detailed_results({"columns": [{"key": "k", "title": "K", "precision": 2, "value": float("nan")}]})
    assert '<td class="num">n/a</td>' in nan


def test_chart_has_one_bar_per_plugin_value_and_scales() -> None:
    report = _report()
    page = render_detailed_results(report)
    values = [c["value"] for c in report["plugin_columns"] if c["value"] is not None]
    assert page.count('<rect class="bar"') == len(values)
    assert page.count("<svg") == 3  # one chart per metric
    assert "(scale 0 to 1 (the metric&#x27;s bounds))" in page
    assert "(scale 0 to 15 (the metric is unbounded above: that end follows the scores))" in page
    widths = [float(w) for w in re.findall(r'<rect class="bar" x="[\d.]+" y="\d+" width="([\d.]+)"', page)]
    assert widths[3] == pytest.approx(12.5 / 15 * 260, abs=0.1)  # mae 12.5 on a 0..15 axis (a round end)
    assert widths[0] == pytest.approx(0.8766 * 260, abs=0.1)  # balanced accuracy is scaled to [0, 1]


def test_sections_failures_problems_concepts_and_provenance() -> None:
    page = render_detailed_results(_report(concepts=CONCEPTS))
    assert "Failed the run" in page and "<td>yes</td>" in page
    assert "missing predictions.csv" in page and "add it" in page
    assert "<h2>Concepts</h2>" in page and "setosa" in page
    assert "ab" * 32 in page and "cd" * 32 in page and "aibench-plugins 0.1.0" in page
    assert "aibench.mae v2" in page
    assert "<h2>Concepts</h2>" not in render_detailed_results(_report())
    empty = render_detailed_results({})
    assert "No plugin metric ran." in empty and "n/a" in empty


class _Raising:
    info = ComponentInfo(id="acme.broken")

    def render(self, report: Mapping[str, Any]) -> Section | None:
        raise RuntimeError(f"bad reporter {HOSTILE}")


class _WrongType:
    info = ComponentInfo(id="acme.wrong")

    def render(self, report: Mapping[str, Any]) -> Any:
        return "<p>not a section</p>"


class _Plugin:
    @hookimpl
    def aibench_register_reporters(self, register: Any) -> None:
        register(_Raising())
        register(_WrongType())


def _host() -> PluginHost:
    host = PluginHost(strict=False)
    host.register_plugin(report_sections, "aibench.report_sections")
    host.register_plugin(_Plugin(), "acme")
    host.freeze()
    return host


def test_builtin_reporter_satisfies_the_protocol() -> None:
    assert isinstance(report_sections.SplitOverview(), Reporter)
    assert report_sections.SplitOverview().render({"plugin_columns": []}) is None


def test_raising_reporter_gives_a_failure_section_and_the_page_renders() -> None:
    host = _host()
    sections = collect_sections(host, _report(concepts=CONCEPTS))
    by_id = {s.id: s for s in sections}
    assert set(by_id) == {"failed-acme.broken", "failed-acme.wrong", "split-overview"}
    broken = by_id["failed-acme.broken"]
    assert broken.failed and "RuntimeError: bad reporter &lt;script&gt;" in broken.body
    assert "returned str, not a Section" in by_id["failed-acme.wrong"].body
    overview = by_id["split-overview"].body
    assert "<th>public</th>" in overview and "0.900" in overview and "—" in overview
    page = render_detailed_results(_report(concepts=CONCEPTS), sections=sections)
    assert "acme.broken (reporter failed)" in page and "Metrics across splits" in page
    assert "<script" not in page


def test_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    sections = collect_sections(_host(), _report(concepts=CONCEPTS))
    page = tmp_path / "detailed_results.html"
    page.write_text(render_detailed_results(_report(concepts=CONCEPTS), sections=sections), encoding="utf-8")
    png = tmp_path / "page.png"
    shot = subprocess.run([*chromium_args(tmp_path), f"--screenshot={png}", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert png.is_file(), f"no screenshot (exit {shot.returncode}): {shot.stderr[-2000:]}"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1200, 1600)
    assert len(data) > 10_000
    dom = subprocess.run([*chromium_args(tmp_path), "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout
    for expected in ("Detailed results", "Plugin scores by split", "Metrics across splits", "Provenance",
                     "acme.broken (reporter failed)", "0.9123", "0.877", "12.500", "codabench"):
        assert expected in text, expected
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>alert" not in text
    assert text.count('<rect class="bar"') == 5


def test_the_sample_report_is_a_valid_report_document() -> None:
    """Issue 10: the page and reporters read the report document; the schema describes it."""
    from aibench_plugins.evaluation.report import report_problems

    assert report_problems(_report(concepts=CONCEPTS)) == []
    assert report_problems({**_report(), "plugin_columns": [{"key": 1}]})


def test_a_huge_message_is_shown_bounded() -> None:
    page = render_detailed_results({**_report(), "status": "failed", "message": "M" * 5_000_000 + "END"})
    assert len(page) < 200_000 and "characters cut" in page and "END" in page
