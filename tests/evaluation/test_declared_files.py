"""A declared predictions file that is not there (issue 11, item 9): the message says whose
fix it is, through ``aibench run`` and through the wrapped runtime alike (the evaluation core).

* the organiser's manifest names ``submission.csv`` while the scoring program reads the
  submission's only CSV file, ``predictions.csv``: the participant is not told to rename a
  correct file; once the scoring program scored it, the organiser is told the manifest is wrong;
* the participant misnamed the file (``preds.csv``) and the scoring program cannot read it: the
  warning tells the participant to rename it, and the organiser is told nothing;
* the file is inside an extra top-level folder: "move it to the root of the zip";
* the same problem found by several checks is reported once.

Real parts: the iris-v2 bundle copied and edited, submissions written as folders or real zips,
``aibench run`` in-process with the local executor, the wrapped bundle run as a worker runs it.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from wrapkit import SUBMISSIONS, bundle_copy, edit_manifest, run_as_platform, runtime_report, wrap

from aibench_plugins.evaluation.report import REPORT_FILE, plugin_results, report_problems
from aibench_plugins.run.runner import run_bundle

GOOD = SUBMISSIONS / "iris-v2" / "good"
ACCURACY = 0.9555555555555556
WAYS = ["aibench run", "wrapped runtime"]


def _submission(tmp_path: Path, layout: dict[str, str], *, as_zip: bool = False) -> Path:
    """A submission holding the good predictions under each name of ``layout`` (name -> ``good``)
    or the given text."""
    folder = tmp_path / "submission"
    for name, content in layout.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        if content == "good":
            shutil.copy(GOOD / "predictions.csv", folder / name)
        else:
            (folder / name).write_text(content)
    if not as_zip:
        return folder
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name in layout:
            zipped.write(folder / name, name)
    return archive


def _document(way: str, bundle: Path, submission: Path, work: Path) -> dict[str, Any]:
    if way == "aibench run":
        run_bundle(bundle, submission, work_dir=work, ledger_path=work.parent / "ledger.db")
        document = json.loads((work / REPORT_FILE).read_text())
    else:
        report = run_as_platform(wrap(bundle, work.parent / "wrapped.zip"), submission, work)
        document = runtime_report(report)
    assert report_problems(document) == [], way
    return dict(document)


def _both(bundle: Path, submission: Path, tmp_path: Path) -> dict[str, dict[str, Any]]:
    found = {way: _document(way, bundle, submission, tmp_path / f"way{index}") for index, way in enumerate(WAYS)}
    assert plugin_results(found["aibench run"]) == plugin_results(found["wrapped runtime"])
    return found


def _iris(tmp_path: Path, file: str = "predictions.csv", *, table_checks: bool = True) -> Path:
    bundle = bundle_copy("iris-v2", tmp_path)
    manifest = json.loads((bundle / "aibench.json").read_text())
    checks = [{"use": "aibench.required_files", "params": {"files": [file], "allow_others": False}}]
    if table_checks:
        checks += [{"use": "aibench.table_schema", "params": {"file": file, "id": "id", "columns": {"label": "str"}}},
                   {"use": "aibench.label_set", "params": {"file": file, "id": "id", "column": "label",
                                                           "labels": ["setosa", "versicolor", "virginica"]}}]
    data = {**manifest["data"], "predictions": {**manifest["data"]["predictions"], "file": file}}
    edit_manifest(bundle, checks=checks, data=data)
    return bundle


@pytest.mark.parametrize("way", WAYS)
def test_manifest_that_misnames_the_file_is_told_to_the_organiser_not_the_participant(
        tmp_path: Path, way: str) -> None:
    bundle = _iris(tmp_path, "submission.csv")

    document = _document(way, bundle, GOOD, tmp_path / "run")

    assert document["status"] == "finished", document["message"]
    assert {c["key"]: c["value"] for c in document["columns"]}["accuracy"] == pytest.approx(ACCURACY, abs=1e-9)
    [problem] = document["check_problems"]
    assert problem["severity"] == "warning"
    assert problem["check"] == "aibench.required_files, aibench.table_schema, aibench.label_set"
    assert problem["fix"].startswith("if the scoring program cannot read it, rename it")
    assert "the submission is right" in problem["fix"]
    told = [f for f in document["plugin_failures"] if f["kind"] == "check"]
    assert len(told) == 1 and "aibench.json names the wrong file" in told[0]["message"]
    assert "Fix (the organiser's): write 'predictions.csv'" in told[0]["message"]
    metrics = [f for f in document["plugin_failures"] if f["kind"] == "metric"]
    assert metrics and all("set data.predictions.file to 'predictions.csv'" in f["message"] for f in metrics)
    assert not any("Rename it" in f["message"] or "rename" in f["message"] for f in document["plugin_failures"])


def test_both_paths_agree_on_a_misnamed_manifest(tmp_path: Path) -> None:
    found = _both(_iris(tmp_path, "submission.csv"), GOOD, tmp_path)

    assert {d["status"] for d in found.values()} == {"finished"}


@pytest.mark.parametrize("way", WAYS)
def test_participant_who_misnamed_the_file_is_told_to_rename_it(tmp_path: Path, way: str) -> None:
    submission = _submission(tmp_path, {"preds.csv": "good"})

    document = _document(way, _iris(tmp_path), submission, tmp_path / "run")

    assert document["status"] == "failed"  # the scoring program could not read it
    [problem] = document["check_problems"]
    assert "the submission's only CSV file, 'preds.csv'" in problem["message"]
    assert "rename it to 'predictions.csv'" in problem["fix"]
    assert not any(f["kind"] == "check" for f in document["plugin_failures"])  # nobody blames the organiser


@pytest.mark.parametrize("way", WAYS)
def test_file_inside_an_extra_top_level_folder_gets_move_it_to_the_root(tmp_path: Path, way: str) -> None:
    submission = _submission(tmp_path, {"my-results/predictions.csv": "good"}, as_zip=True)

    document = _document(way, _iris(tmp_path), submission, tmp_path / "run")

    assert document["status"] == "failed"
    [problem] = document["check_problems"]  # once, and no "unexpected file: remove it"
    assert problem["severity"] == "error"
    assert "'my-results/predictions.csv' is inside the folder 'my-results'" in problem["message"]
    assert problem["fix"].startswith("move it to the root of the zip")


def test_the_same_problem_found_by_several_checks_is_reported_once_on_both_paths(tmp_path: Path) -> None:
    submission = _submission(tmp_path, {"notes.txt": "my predictions are elsewhere\n"})

    found = _both(_iris(tmp_path), submission, tmp_path)

    for way, document in found.items():
        missing = [p for p in document["check_problems"] if "no file matches" in p["message"]]
        assert len(missing) == 1, (way, document["check_problems"])
        assert missing[0]["check"] == "aibench.required_files, aibench.table_schema, aibench.label_set"
        assert missing[0]["fix"] == "add a file named 'predictions.csv' at the root of the submission zip"
        assert document["status"] == "failed" and document["message"].count("no file matches") == 1
