"""The analyses on the detailed results page (issue 12): the thresholds crossed are listed near the
top, before the scores (a ``fail`` first); each analysis gets the section of the reporter that
covers its component, placed after the plugin scores, or a generic section (summaries, groups with
their sizes, tables, notes, flags) when no reporter covers it; the page stays self-contained.

Real parts: the page rendered in headless Chromium (what it shows is ``innerText``, read by a probe
added to a copy of the page), reporters run by :func:`collect_sections` in forked children.
"""

from __future__ import annotations

import json
import re
import subprocess
from html import unescape
from pathlib import Path
from typing import Any

from chromium import chromium_args

from aibench_plugins import ComponentInfo, PluginHost, Section, hookimpl
from aibench_plugins.evaluation.page import collect_sections, render_detailed_results
from aibench_plugins.evaluation.report import report_problems

PROBE = """<script>
const pre = document.createElement("pre"); pre.id = "probe";
pre.textContent = JSON.stringify({text: document.body.innerText,
  sections: [...document.querySelectorAll("main > section")].map(s => s.id)});
document.body.appendChild(pre);
</script>"""


def _flag(summary: str, action: str, value: float, threshold: float, bound: str = "max") -> dict[str, Any]:
    return {"summary": summary, "value": value, "threshold": threshold, "bound": bound, "action": action,
            "message": f"Fairness: {summary} is {value:g}, above the maximum of {threshold:g} that the organiser set "
                       f"(a '{action}' threshold)"}


def _analysis(component: str, key: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "fairness", "component": component, "plugin": "acme", "key": key, "label": key.title(),
            "min_group_size": 10, "dropped_groups": 2,
            "summaries": [{"name": "gap.f1", "value": 0.125, "low": 0.05, "high": 0.2, "description": "Best - worst"}],
            "groups": [{"group": {"sex": "F", "age": "<30>"}, "n": 41, "measure": "f1", "value": 0.75, "low": None,
                        "high": None}],
            "tables": [{"title": "Rates", "columns": ["group", "n", "rate"], "rows": [["F", 41, 0.3333333]]}],
            "notes": ["computed on <all> rows"], "flags": []} | extra


def _report(analyses: list[dict[str, Any]]) -> dict[str, Any]:
    return {"report_version": 1, "producer": "aibench run", "status": "finished", "message": "",
            "platform": "codabench", "phase": {"number": 0, "name": "Dev"}, "manifest_sha256": None,
            "columns": [{"key": "accuracy", "title": "Accuracy", "sorting": "desc", "precision": 4, "value": 0.5}],
            "plugin_columns": [], "plugin_failures": [], "check_problems": [], "measurements": [], "concepts": [],
            "analyses": analyses}


def _rendered(tmp_path: Path, page: str) -> dict[str, Any]:
    probe = tmp_path / "probed.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = subprocess.run([*chromium_args(tmp_path), "--dump-dom", probe.as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    start = dom.stdout.index('<pre id="probe">') + len('<pre id="probe">')
    found: dict[str, Any] = json.loads(unescape(dom.stdout[start:dom.stdout.index("</pre>", start)]))
    return found


def _self_contained(page: str) -> None:
    assert "<script" not in page and "<link" not in page and "<iframe" not in page and "<img" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "url(" not in page and "@import" not in page


def test_flags_come_first_and_an_analysis_without_reporter_gets_a_generic_section(tmp_path: Path) -> None:
    analyses = [_analysis("acme.gap", "fairness", flags=[_flag("gap.f1", "flag", 0.125, 0.1),
                                                           _flag("ratio", "fail", 0.5, 0.8)])]
    report = _report(analyses)
    assert report_problems(report) == []
    page = render_detailed_results(report)
    _self_contained(page)
    shown = _rendered(tmp_path, page)

    assert shown["sections"][:2] == ["flags", "scores"]
    assert shown["sections"].index("analysis-fairness") > shown["sections"].index("plugin-scores")
    text = shown["text"]
    start = text.index("For organisers\nFlags\n") + len("For organisers\nFlags\n")  # after the navigation
    listed = text[start:text.index("\nScores\n", start)].splitlines()
    assert listed == ["fails the submission fairness: Fairness: ratio is 0.5, above the maximum of 0.8 that the "
                      "organiser set (a 'fail' threshold)",
                      "flag fairness: Fairness: gap.f1 is 0.125, above the maximum of 0.1 that the organiser set "
                      "(a 'flag' threshold)"]
    assert "Fairness (fairness, acme.gap)" in text
    assert "gap.f1\t0.1250\t[0.0500, 0.2000]\tBest - worst" in text
    assert "sex=F, age=<30>\tf1\t41\t0.7500" in text  # escaped in the page, shown as written
    assert "Groups of fewer than 10 rows are not shown (2 group statistics left out)." in text
    assert "F\t41\t0.3333" in text and "computed on <all> rows" in text
    assert "<30>" not in page and "&lt;30&gt;" in page


def test_a_reporter_with_the_component_id_covers_its_analysis(tmp_path: Path) -> None:
    class GapReporter:
        info = ComponentInfo(id="acme.gap")

        def render(self, report: Any) -> Section | None:
            items = [a for a in report["analyses"] if a["component"] == "acme.gap"]
            return Section("acme-gap", "Gap between groups", f"<p>{len(items)} gap analyses</p>") if items else None

    class OtherReporter:  # covers acme.other by saying so
        info = ComponentInfo(id="acme.pages")

        def render(self, report: Any) -> Section:
            return Section("acme-other", "Other analysis", "<p>other</p>", covers=("acme.other",))

    class Plugin:
        @staticmethod
        @hookimpl
        def aibench_register_reporters(register: Any) -> None:
            register(GapReporter())
            register(OtherReporter())

    host = PluginHost(strict=True)
    host.register_plugin(Plugin, "acme")
    host.freeze()
    report = _report([_analysis("acme.gap", "fairness"), _analysis("acme.third", "third"),
                      _analysis("acme.other", "other")])
    sections = collect_sections(host, report)
    assert {s.id: s.covers for s in sections} == {"acme-gap": ("acme.gap",), "acme-other": ("acme.other",)}

    shown = _rendered(tmp_path, render_detailed_results(report, sections=sections))
    order = shown["sections"]
    assert order[order.index("plugin-scores"):order.index("failures")] == [
        "plugin-scores", "chart", "section-acme-gap", "analysis-third", "section-acme-other"]
    assert "analysis-fairness" not in order and "analysis-other" not in order
    assert "1 gap analyses" in shown["text"] and "Third (fairness, acme.third)" in shown["text"]


def test_a_page_without_analyses_has_no_flags_and_no_analysis_section() -> None:
    page = render_detailed_results(_report([]))
    assert 'id="flags"' not in page and 'id="analysis-' not in page
