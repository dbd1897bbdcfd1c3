"""The complexity section of the detailed results page: a table per entry (value with its interval,
unit, reference, status and reason, tool, who measured it and the trust text), flagged values
marked, efficiency scores (the Pareto rank said to be the leaderboard's), the hardware; escaped."""

from __future__ import annotations

from typing import Any

from aibench_plugins import ComplexityResult, Hardware, Measurement
from aibench_plugins.default_plugins.complexity_page import ComplexitySection
from aibench_plugins.evaluation.complexity import ComplexityRecord, ComplexityReport, EfficiencyValue
from aibench_plugins.evaluation.page import render_detailed_results
from aibench_plugins.evaluation.report import report_document, report_problems
from aibench_plugins.evaluation.session import Evaluation


def _report() -> dict[str, Any]:
    result = ComplexityResult((
        Measurement("time.ratio", 1.52, "ratio", "ingestion", "prediction", tool="time.perf_counter",
                    tool_version="3.11", low=1.41, high=1.63),
        Measurement("flops", 4e6, "FLOP", "ingestion", "prediction", tool="ptflops", tool_version="0.7.5",
                    flagged=True, reason="<b>counters disagree</b>"),
        Measurement("energy", None, "J", "ingestion", "prediction", status="unavailable",
                    reason="no RAPL or NVML counter here")))
    evaluation = Evaluation(complexity=ComplexityReport(
        Hardware(cpu_model="AMD EPYC 7B13", cpu_count=2),
        [ComplexityRecord("time", "aibench.time", "aibench.complexity", "Relative time", "prediction",
                          tuple(result.measurements), notes=("interleaved R S R S",)),
         ComplexityRecord("macs", "aibench.macs", "aibench.complexity", "MACs", "prediction",
                          error="the ingestion program did not call aibench_plugins.complexity.measure(...)")],
        [EfficiencyValue("front", "Front", "pareto_rank", None, computed_by="leaderboard", score="accuracy",
                         cost="time.time.ratio", cost_value=1.52)]))
    return report_document(producer="aibench run", status="finished", message="", platform="codabench",
                           phase={"number": 1, "name": "p"}, manifest_sha256=None, columns=[], evaluation=evaluation)


def test_the_section_shows_each_measurement_with_its_trust_and_marks_flags() -> None:
    report = _report()
    assert report_problems(report) == []
    section = ComplexitySection().render(report)
    assert section is not None and section.id == "complexity"
    html = section.body
    assert "1.52 [1.41, 1.63]" in html and "ptflops 0.7.5" in html and "⚠ flagged" in html
    assert "&lt;b&gt;counters disagree&lt;/b&gt;" in html and "<b>counters" not in html
    assert "unavailable: no RAPL or NVML counter here" in html
    assert "participant code could forge it" in html
    assert "did not call aibench_plugins.complexity.measure" in html
    assert "computed by the leaderboard" in html and "AMD EPYC 7B13" in html
    page = render_detailed_results(report, sections=[section])
    assert page.count('id="section-complexity"') == 1 and "⚠ flagged" in page


def test_no_complexity_no_section() -> None:
    report = report_document(producer="aibench run", status="finished", message="", platform="codabench",
                             phase={}, manifest_sha256=None, columns=[], evaluation=Evaluation())
    assert report["complexity"] is None and ComplexitySection().render(report) is None
