"""aibench wrap of a code-submission bundle with complexity meters (issue 13): the wrapped
ingestion program gives the original command the plan and the lib, the organiser's ingestion
program measures, and the wrapped scoring program takes the file out of input/res before the
original scorer runs."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from complexitykit import DIGITS_GOOD, acme_meters_builtin, calls_of, measured_bundle, read_json
from wrapkit import VENV_BIN, edit_manifest, runtime_report, scoring_output, stderr_of_scoring, wrap

from aibench_plugins import WrapRefused
from aibench_plugins.complexity.file import COMPLEXITY_FILE
from aibench_plugins.run.runner import run_bundle
from aibench_plugins.wrap.wrapping import wrap_bundle

__all__ = ["acme_meters_builtin"]


@pytest.mark.usefixtures("acme_meters_builtin")
def test_the_wrapped_bundle_measures_in_the_prediction_step_and_the_scorer_never_sees_the_file(
        tmp_path: Path) -> None:
    wrapped = wrap(measured_bundle(tmp_path), tmp_path / "wrapped.zip")
    with zipfile.ZipFile(wrapped) as archive:
        record = json.loads(archive.read("ingestion_program/_aibench/wrap.json"))
        lib = zipfile.ZipFile(archive.open("ingestion_program/_aibench/lib.zip")).namelist()
        scoring = json.loads(archive.read("scoring_program/_aibench/wrap.json"))
    assert [e["import"] for e in record["complexity"]["entries"]] == ["acme_meters:Calls"]
    assert record["complexity"]["time_limit_s"] == 30 and scoring["complexity"] is None
    assert {"acme_meters.py", "aibench_plugins/complexity/measure.py", "pluggy/__init__.py"} <= set(lib)
    report = _run(wrapped, tmp_path / "run", "none")  # input/ writable, as on the workers
    assert report.ok, report.result.message
    prediction = next(s.output_dir for s in report.result.steps if s.step == "prediction")
    measured = calls_of(read_json(prediction / COMPLEXITY_FILE))  # the worker carries it to input/res
    assert measured["calls"] == 5 and measured["reference.calls"] == 3
    listing = read_json(scoring_output(report) / "res_listing.json")
    assert COMPLEXITY_FILE not in listing and "predictions.csv" in listing
    assert runtime_report(report)["wrapped"]["complexity_file"] == {"entries": ["calls"], "kept": None}
    hardened = _run(wrapped, tmp_path / "bwrap", "auto")  # input/ read-only where the sandbox has one
    assert hardened.ok, hardened.result.message
    taken = runtime_report(hardened)["wrapped"]["complexity_file"]
    assert taken["entries"] == ["calls"]
    if COMPLEXITY_FILE in read_json(scoring_output(hardened) / "res_listing.json"):
        assert "stays in input/res" in taken["kept"] and taken["kept"] in stderr_of_scoring(hardened)


def _run(bundle: Path, work: Path, isolation: str) -> Any:
    """The wrapped bundle run as a worker runs it (no aibench on the host side; this venv's python3)."""
    previous = os.environ["PATH"]
    os.environ["PATH"] = f"{VENV_BIN}:{previous}"
    try:
        return run_bundle(bundle, DIGITS_GOOD, work_dir=work, ledger_path=work.parent / f"{work.name}.db",
                          use_plugins=False, isolation=isolation)  # type: ignore[arg-type]
    finally:
        os.environ["PATH"] = previous


@pytest.mark.usefixtures("acme_meters_builtin")
def test_no_measure_with_prediction_side_meters_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WrapRefused, match="--no-measure"):
        wrap_bundle(measured_bundle(tmp_path), tmp_path / "wrapped.zip", measure_ingestion=False)


@pytest.mark.usefixtures("acme_meters_builtin")
def test_a_scoring_side_meter_alone_gives_the_ingestion_no_plan(tmp_path: Path) -> None:
    bundle = measured_bundle(tmp_path)
    edit_manifest(bundle, complexity=[{"use": "acme.host_side", "key": "wall"}])
    wrapped = wrap(bundle, tmp_path / "wrapped.zip")
    with zipfile.ZipFile(wrapped) as archive:
        record = json.loads(archive.read("ingestion_program/_aibench/wrap.json"))
        lib = zipfile.ZipFile(archive.open("ingestion_program/_aibench/lib.zip")).namelist()
    assert record["complexity"] is None and "acme_meters.py" not in lib
