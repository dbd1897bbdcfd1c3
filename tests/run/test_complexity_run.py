"""aibench run of a code-submission bundle with complexity meters (issue 13): the host gives the
ingestion program the plan and the lib, the ingestion program calls measure() on the participant's
model, and the file is taken out of the prediction output before the original scoring program runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from complexitykit import DIGITS_GOOD, acme_meters_builtin, calls_of, measured_bundle, read_json

from aibench_plugins.complexity.file import COMPLEXITY_FILE
from aibench_plugins.run.runner import run_bundle

__all__ = ["acme_meters_builtin"]


def _step(report: object, name: str) -> Path:
    return next(s.output_dir for s in report.result.steps if s.step == name)  # type: ignore[attr-defined]


@pytest.mark.usefixtures("acme_meters_builtin")
def test_the_ingestion_program_measures_and_the_scorer_never_sees_the_file(tmp_path: Path) -> None:
    bundle = measured_bundle(tmp_path)
    work = tmp_path / "run"
    report = run_bundle(bundle, DIGITS_GOOD, work_dir=work, ledger_path=tmp_path / "ledger.db")
    assert report.ok, (report.result.message, report.result.warnings)
    kept = read_json(work / "aibench" / "complexity.json")  # taken out of the prediction output, kept here
    measured = calls_of(kept)
    assert measured["calls"] == 5 and measured["reference.calls"] == 3 and 1 <= measured["outputs"] <= 5
    assert not (_step(report, "prediction") / COMPLEXITY_FILE).exists()
    listing = read_json(_step(report, "scoring") / "res_listing.json")
    assert COMPLEXITY_FILE not in listing and "predictions.csv" in listing
    stderr = (work / "logs" / "prediction_ingestion_program_stderr.txt").read_text()
    assert "complexity: 1 entries, planned True" in stderr, stderr
    assert {c["key"]: c["value"] for c in report.columns}["accuracy"] > 0.5  # the original scores stand


@pytest.mark.usefixtures("acme_meters_builtin")
def test_a_meter_that_fails_leaves_the_run_and_its_scores_as_they_are(tmp_path: Path) -> None:
    bundle = measured_bundle(tmp_path, complexity=[{"use": "acme.calls", "key": "calls"},
                                                   {"use": "acme.calls", "key": "broken", "params": {"fail": True}}])
    work = tmp_path / "run"
    report = run_bundle(bundle, DIGITS_GOOD, work_dir=work, ledger_path=tmp_path / "ledger.db")
    assert report.ok, report.result.message
    kept = read_json(work / "aibench" / "complexity.json")
    broken = next(e for e in kept["entries"] if e["key"] == "broken")
    assert broken["error"] == "RuntimeError: acme.calls was told to fail" and calls_of(kept)["calls"] == 5
