"""The complexity kind's stage on the scoring side (issue 13, C2): prediction-side entries read from
what the prediction step wrote (fed here as the file's content, no transport), scoring-side meters
run on the host's measurements of the steps, columns and thresholds through the analyses' code,
failures with whose fix, efficiency values, and report.json against its schema."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from aibench_plugins import ComplexityInfo, ComplexityResult, Measurement, PluginHost, SummarySpec, hookimpl
from aibench_plugins import parse_manifest
from aibench_plugins.evaluation.complexity import NO_MEASURE_CALL, RESULT_SUBMISSION, prediction_side_from_json
from aibench_plugins.evaluation.report import report_document, report_problems
from aibench_plugins.evaluation.session import EvaluationSession, planned_columns
from aibench_plugins.manifest.loading import semantic_problems


class Size:
    info = ComplexityInfo(id="acme.size", summaries=(SummarySpec("params", "minimize"),
                                                     SummarySpec("flops", "minimize"),
                                                     SummarySpec("time.ratio", "minimize")))

    def measure(self, context: Any, **params: Any) -> ComplexityResult:
        return ComplexityResult()


class Broken:
    info = ComplexityInfo(id="acme.broken_scoring", summaries=(SummarySpec("x", "minimize"),), runs_in="scoring")

    def measure(self, context: Any, **params: Any) -> ComplexityResult:
        raise RuntimeError("no counter here")


class Plugin:
    @hookimpl
    def aibench_register_complexity_meters(self, register: Any) -> None:
        register(Size())
        register(Broken())


def _host() -> PluginHost:
    host = PluginHost(strict=True)
    host.load_builtins()
    assert host.register_plugin(Plugin(), "acme-meters").status == "loaded"
    host.freeze()
    return host


def _manifest(**sections: Any) -> Any:
    doc = {"schema_version": 1, **sections}
    manifest, problems = parse_manifest(json.dumps(doc).encode())
    assert manifest is not None and not problems, problems
    return manifest


SIZE_ENTRY = {"use": "acme.size", "key": "size", "label": "Model size",
              "columns": [{"summary": "params", "key": "params"}, {"summary": "time.ratio", "key": "rel_time"}],
              "thresholds": [{"summary": "params", "max": 1000, "action": "fail"}]}
STEP_ENTRY = {"use": "aibench.prediction_step", "key": "step",
              "columns": [{"summary": "wall_time", "key": "step_time"}]}
EFFICIENCY = [{"key": "ntire", "formula": "ntire", "terms": [{"measurement": "size.time.ratio", "weight": 0.7},
                                                             {"measurement": "size.flops", "weight": 0.15},
                                                             {"measurement": "size.params", "weight": 0.15}]},
              {"key": "ratios", "formula": "weighted_ratios", "terms": [{"measurement": "size.params", "weight": 2}]},
              {"key": "pareto", "formula": "pareto_rank", "score": "params", "cost": "size.flops"}]


def _file(params: float = 500, reference: float = 1000) -> dict[str, Any]:
    result = ComplexityResult((
        Measurement("params", params, "count", "worker", "scoring", tool="torch", reference=reference),
        Measurement("flops", 4e6, "FLOP", "ingestion", "prediction", reference=2e6, flagged=True,
                    reason="ptflops and FlopCounterMode disagree by 12%"),
        Measurement("time.ratio", 1.5, "ratio", "ingestion", "prediction", low=1.4, high=1.6)),
        tables=({"title": "layers", "columns": ["layer", "params"], "rows": [["fc", 500]]},), notes=("counted once",))
    return {"written_by": "x", "manifest_sha256": "y",
            "hardware": {"cpu_model": "AMD EPYC", "cpu_count": 2, "torch": "2.13.0"},
            "entries": [{"key": "size", "use": "acme.size", "result": result.to_json(), "error": None,
                         "elapsed_s": 0.5}]}


def _session(manifest: Any, file: dict[str, Any] | None, *, predicted: bool | None = True,
             steps: tuple[Measurement, ...] = ()) -> EvaluationSession:
    host = _host()
    assert [p for p in semantic_problems(manifest, host, None) if p.severity == "error"] == []
    session = EvaluationSession(manifest, host)
    session.complexity_file = prediction_side_from_json(file) if file is not None else None
    session.prediction_step_ran = predicted
    session.step_measurements = list(steps)
    return session


def _report(evaluation: Any) -> dict[str, Any]:
    return report_document(producer="aibench run", status="finished", message="", platform="codabench",
                           phase={"number": 1, "name": "p"}, manifest_sha256=None, columns=[], evaluation=evaluation)


STEPS = (Measurement("participant program wall time", 3.25, "s", "worker", "prediction"),
         Measurement("ingestion wall time", 4.0, "s", "ingestion", "prediction"),
         Measurement("scoring wall time", 1.0, "s", "executor", "scoring"))


def test_measurements_become_columns_thresholds_and_a_valid_report(tmp_path: Path) -> None:
    manifest = _manifest(complexity=[SIZE_ENTRY, STEP_ENTRY], efficiency=EFFICIENCY)
    session = _session(manifest, _file(), steps=STEPS)
    evaluation = session.after_scoring(tmp_path, tmp_path)
    columns = {c.key: c for c in evaluation.columns}
    assert evaluation.failures == []
    assert columns["params"].value == 500 and columns["params"].sorting == "asc" and columns["params"].metric == \
        "acme.size"
    assert columns["rel_time"].value == 1.5
    assert columns["step_time"].value == 3.25  # the worker's measurement of the participant's program
    assert columns["ntire"].value == pytest.approx(0.7 * math.exp(3) + 0.15 * math.exp(4) + 0.15 * math.exp(1))
    assert columns["ratios"].value == pytest.approx(1.0)
    assert "pareto" not in columns  # computed by the leaderboard
    assert evaluation.flags == [] and evaluation.failure() is None
    report = evaluation.complexity
    assert report is not None and report.hardware is not None and report.hardware.cpu_model == "AMD EPYC"
    size = report.entry("size")
    assert size is not None
    # read back from the prediction step: whatever the file says, it was measured in the container
    assert {(m.measured_by, m.step) for m in size.measurements} == {("ingestion", "prediction")}
    step = report.entry("step")
    assert step is not None and step.measurement("wall_time").measured_by == "worker"  # type: ignore[union-attr]
    pareto = next(v for v in report.efficiency if v.key == "pareto")
    assert (pareto.computed_by, pareto.cost_value, pareto.value) == ("leaderboard", 4e6, None)
    document = _report(evaluation)
    assert report_problems(document) == []
    assert document["complexity"]["entries"][0]["measurements"][1]["flagged"] is True
    planned = [c.key for c in planned_columns(manifest, session.host)]
    assert planned == ["params", "rel_time", "step_time", "ntire", "ratios"]


def test_a_fail_threshold_fails_the_submission_and_is_listed(tmp_path: Path) -> None:
    session = _session(_manifest(complexity=[SIZE_ENTRY]), _file(params=5000))
    evaluation = session.after_scoring(tmp_path, tmp_path)
    assert [f.summary for f in evaluation.failed_thresholds] == ["params"]
    assert "a threshold of the organiser was crossed" in (evaluation.failure() or "")
    assert report_problems(_report(evaluation)) == []


@pytest.mark.parametrize(("predicted", "expected"), [(True, NO_MEASURE_CALL), (False, RESULT_SUBMISSION)])
def test_an_entry_not_measured_is_a_failure_saying_whose_fix(tmp_path: Path, predicted: bool, expected: str) -> None:
    entry = {**SIZE_ENTRY, "required": True}
    session = _session(_manifest(complexity=[entry], efficiency=EFFICIENCY[:1]), None, predicted=predicted)
    evaluation = session.after_scoring(tmp_path, tmp_path)
    failures = {(f.kind, f.key): f for f in evaluation.failures}
    assert failures["complexity", "size"].message == expected and failures["complexity", "size"].required
    assert "aibench_plugins.complexity.measure" in NO_MEASURE_CALL and "result submission" in RESULT_SUBMISSION
    assert "cannot be computed" in failures["efficiency", "ntire"].message
    assert {c.key: c.value for c in evaluation.columns} == {"params": None, "rel_time": None, "ntire": None}
    assert "a required plugin failed" in (evaluation.failure() or "")
    document = _report(evaluation)
    assert report_problems(document) == [] and document["complexity"]["entries"][0]["error"] == expected


def test_a_meter_error_is_the_message_and_other_entries_stand(tmp_path: Path) -> None:
    file = _file()
    file["entries"].append({"key": "other", "use": "acme.size", "result": None, "error": "CUDA is absent",
                            "elapsed_s": 0.1})
    manifest = _manifest(complexity=[SIZE_ENTRY, {"use": "acme.size", "key": "other"},
                                     {"use": "acme.broken_scoring", "key": "broken"}])
    evaluation = _session(manifest, file).after_scoring(tmp_path, tmp_path)
    failures = {f.key: f.message for f in evaluation.failures}
    assert "CUDA is absent" in failures["other"] and "no counter here" in failures["broken"]
    assert {c.key: c.value for c in evaluation.columns}["params"] == 500


def test_a_result_submission_gives_the_step_meter_unavailable(tmp_path: Path) -> None:
    manifest = _manifest(complexity=[STEP_ENTRY])
    evaluation = _session(manifest, None, predicted=False).after_scoring(tmp_path, tmp_path)
    step = evaluation.complexity.entry("step")  # type: ignore[union-attr]
    assert step is not None and step.measurement("wall_time").status == "unavailable"  # type: ignore[union-attr]
    # an unavailable measurement of an entry that is not required leaves its column empty, with no failure
    assert "step_time" not in {f.key for f in evaluation.failures}
    assert {c.key: c.value for c in evaluation.columns}["step_time"] is None
