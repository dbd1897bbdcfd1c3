"""The wrapped runtime's complexity stage (issue 13, C2): in the scoring step on the worker, the
scoring-side meter ``aibench.prediction_step`` reads the worker's ``elapsedTime`` of the prediction
step (``input/res/metadata``); the record comes back from the process the metrics run in, into the
runtime's report.json (valid), and its column is merged into the scores file (as the scores file writes numbers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wrapkit import SUBMISSIONS, bundle_copy, edit_manifest, run_as_platform, runtime_report, stderr_of_scoring, wrap

from aibench_plugins.evaluation.report import report_problems


def test_the_wrapped_runtime_reads_the_worker_measurement_of_the_prediction_step(tmp_path: Path) -> None:
    bundle = bundle_copy("digits-ingestion-v2", tmp_path)
    edit_manifest(bundle, complexity=[{"use": "aibench.prediction_step", "key": "step",
                                       "columns": [{"summary": "wall_time", "key": "step_time"}]}])
    report = run_as_platform(wrap(bundle, tmp_path / "wrapped.zip"), SUBMISSIONS / "digits-ingestion-v2" / "good",
                             tmp_path / "work", platform="codabench")
    assert report.ok, stderr_of_scoring(report)
    document = runtime_report(report)
    assert report_problems(document) == []
    (entry,) = document["complexity"]["entries"]
    wall = next(m for m in entry["measurements"] if m["name"] == "wall_time")
    assert wall["measured_by"] == "worker" and wall["value"] >= 0
    row = {c["key"]: c["value"] for c in report.columns}
    assert row["step_time"] == pytest.approx(wall["value"], rel=1e-6) and row["accuracy"] is not None
