"""aibench run's re-runs of the prediction step on perturbed inputs (run/perturbed.py), through
compat's real runner and the local executor (bubblewrap)."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

from codalab_worker_compat import LocalExecutor, ResourceLimits, load_bundle

from aibench_plugins.data.perturbations import RUN_STATUS_FILE, PerturbationPlan, perturb_rows
from aibench_plugins.run.perturbed import rerun_perturbed

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "bundles" / "digits-robustness-v2"

#: a model whose prediction for each row is a hash of the row it received: predictions.csv then
#: says exactly what input the model saw
HASHING_MODEL = '''
import hashlib


class Model:
    def fit(self, X, y):
        return self

    def predict(self, X):
        return [hashlib.sha256(repr([float(v) for v in row]).encode()).hexdigest()[:16] for row in X]
'''

#: crashes (or hangs) when the images got much brighter than clean digits (mean pixel about 4.8)
TROUBLED_MODEL = '''
import time


class Model:
    def fit(self, X, y):
        return self

    def predict(self, X):
        mean = sum(sum(row) for row in X) / sum(len(row) for row in X)
        if mean > 8:
            {action}
        return [0 for _ in X]
'''


def _plan(*runs: tuple[str, int]) -> PerturbationPlan:
    entry = next(e for e in json.loads((BUNDLE / "aibench.json").read_text())["robustness"])
    entry = {**entry, "params": {**entry["params"], "perturbations": [
        {"name": n, "severities": [s]} for n, s in runs]}}
    return PerturbationPlan.from_entry(entry)


def _submission(tmp_path: Path, source: str) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "model.py").write_text(source)
    return folder


def _rerun(plan: PerturbationPlan, submission: Path, work: Path, **limits: float) -> object:
    return rerun_perturbed(plan, load_bundle(BUNDLE), submission, LocalExecutor("bwrap"), work, worker="codabench",
                           limits=ResourceLimits(**limits))


def _labels(folder: Path) -> dict[str, str]:
    with open(folder / "predictions.csv", newline="") as handle:
        return {row["id"]: row["label"] for row in csv.DictReader(handle)}


def test_two_runs_of_one_submission_see_the_same_perturbed_inputs(tmp_path: Path) -> None:
    plan = _plan(("gaussian_noise", 3), ("contrast", 5))
    submission = _submission(tmp_path, HASHING_MODEL)
    first = _rerun(plan, submission, tmp_path / "first")
    second = _rerun(plan, submission, tmp_path / "second")
    assert set(first.folders) == set(second.folders) == {"gaussian_noise-3", "contrast-5"}  # type: ignore[attr-defined]
    with open(BUNDLE / "input_data" / "test.csv", newline="") as handle:
        clean = list(csv.reader(handle))
    for run in plan.runs:
        seen = _labels(first.folders[run.run_name])  # type: ignore[attr-defined]
        assert seen == _labels(second.folders[run.run_name])  # type: ignore[attr-defined]
        expected = {row[0]: hashlib.sha256(repr([float(v) for v in row[1:]]).encode()).hexdigest()[:16]
                    for row in perturb_rows(clean, plan.inputs, run, plan.seed)[1:]}
        assert seen == expected  # what the model received is the perturbation computed here
        clean_hashes = {row[0]: hashlib.sha256(repr([float(v) for v in row[1:]]).encode()).hexdigest()[:16]
                        for row in clean[1:]}
        assert sum(seen[k] != clean_hashes[k] for k in seen) > 50
        status = json.loads((first.folders[run.run_name] / RUN_STATUS_FILE).read_text())  # type: ignore[attr-defined]
        assert status["exit_code"] == 0 and not status["timed_out"]
    assert (BUNDLE / "input_data" / "test.csv").read_text().splitlines() == [",".join(r) for r in clean]


def test_a_crashing_perturbed_run_is_recorded_for_its_perturbation_only(tmp_path: Path) -> None:
    plan = _plan(("contrast", 1), ("brightness", 5))
    submission = _submission(tmp_path, TROUBLED_MODEL.format(action='raise RuntimeError("too bright")'))
    found = _rerun(plan, submission, tmp_path / "work")
    crashed = json.loads((found.folders["brightness-5"] / RUN_STATUS_FILE).read_text())  # type: ignore[attr-defined]
    fine = json.loads((found.folders["contrast-1"] / RUN_STATUS_FILE).read_text())  # type: ignore[attr-defined]
    assert crashed["exit_code"] == 1 and fine["exit_code"] == 0
    assert (found.folders["contrast-1"] / "predictions.csv").is_file()  # type: ignore[attr-defined]
    assert not (found.folders["brightness-5"] / "predictions.csv").exists()  # type: ignore[attr-defined]


def test_a_hanging_perturbed_run_is_stopped_at_the_time_limit(tmp_path: Path) -> None:
    plan = _plan(("brightness", 5), ("contrast", 1))
    submission = _submission(tmp_path, TROUBLED_MODEL.format(action="time.sleep(600)"))
    found = _rerun(plan, submission, tmp_path / "work", time_limit_s=3)
    hung = json.loads((found.folders["brightness-5"] / RUN_STATUS_FILE).read_text())  # type: ignore[attr-defined]
    assert hung["timed_out"] is True
    assert found.elapsed_s["brightness-5"] < 30  # type: ignore[attr-defined]
    fine = json.loads((found.folders["contrast-1"] / RUN_STATUS_FILE).read_text())  # type: ignore[attr-defined]
    assert fine["exit_code"] == 0 and not fine["timed_out"]  # the next run still runs


def test_a_file_that_is_not_there_stops_the_reruns_with_the_organisers_fix(tmp_path: Path) -> None:
    plan = _plan(("contrast", 1))
    plan = PerturbationPlan(plan.key, plan.seed, type(plan.inputs)("nope.csv", "id", "image", None, (8, 8), (0, 16)),
                            plan.runs)
    found = _rerun(plan, _submission(tmp_path, HASHING_MODEL), tmp_path / "work")
    assert found.folders == {}  # type: ignore[attr-defined]
    assert "nope.csv" in found.warnings[0] and "Organiser" in found.warnings[0]  # type: ignore[attr-defined]


# -- end to end: aibench run -------------------------------------------------------------------

def _bundle_with(tmp_path: Path, *runs: tuple[str, int]) -> Path:
    """The robustness bundle with only ``runs`` declared (fewer re-runs: a quicker test)."""
    import shutil

    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLE, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    document = json.loads((bundle / "aibench.json").read_text())
    params = document["robustness"][0]["params"]
    params["perturbations"] = [{"name": n, "severities": [s]} for n, s in runs]
    params.pop("reference_errors")
    document["robustness"][0]["columns"] = [c for c in document["robustness"][0]["columns"] if c["key"] != "mce"]
    (bundle / "aibench.json").write_text(json.dumps(document, indent=2))
    return bundle


def _run(bundle: Path, submission: Path, work: Path) -> object:
    from aibench_plugins.run.runner import run_bundle

    return run_bundle(bundle, submission, work_dir=work, ledger_path=work.parent / "ledger.db")


def _analysis(work: Path) -> dict[str, object]:
    document = json.loads((work / "report.json").read_text())
    item = next(a for a in document["analyses"] if a["component"] == "aibench.input_perturbations")
    return {s["name"]: s["value"] for s in item["summaries"]}


def test_two_aibench_runs_of_one_submission_see_the_same_perturbed_inputs(tmp_path: Path) -> None:
    bundle = _bundle_with(tmp_path, ("shot_noise", 5), ("pixelate", 3))
    submission = _submission(tmp_path, HASHING_MODEL)
    seen = []
    for name in ("first", "second"):
        report = _run(bundle, submission, tmp_path / name)
        assert report.result.status == "finished", report.result.message  # type: ignore[attr-defined]
        seen.append({run: _labels(tmp_path / name / "perturbed" / run / "prediction" / "output")
                     for run in ("shot_noise-5", "pixelate-3")})
    assert seen[0] == seen[1]
    assert seen[0]["shot_noise-5"] != seen[0]["pixelate-3"]


def test_a_crashing_perturbed_run_keeps_the_clean_scores(tmp_path: Path) -> None:
    bundle = _bundle_with(tmp_path, ("contrast", 1), ("brightness", 5))
    submission = _submission(tmp_path, TROUBLED_MODEL.format(action='raise RuntimeError("too bright")'))
    report = _run(bundle, submission, tmp_path / "work")
    assert report.result.status == "finished"  # type: ignore[attr-defined]
    values = _analysis(tmp_path / "work")
    assert values["failed_runs"] == 1 and values["clean.acc"] == values["perturbed.acc"]  # contrast-1 alone counts
    row = {c["key"]: c["value"] for c in report.columns}  # type: ignore[attr-defined]
    assert row["accuracy"] == pytest.approx(values["clean.acc"])  # the scoring program's own score stands


def test_degradation_shows_in_the_leaderboard_and_the_page(tmp_path: Path) -> None:
    """The example bundle as shipped: the brittle model wins on clean digits and loses under
    corruption; the reference model's mCE is 1 (its errors are the bundle's reference_errors)."""
    submissions = REPO / "examples" / "submissions" / "digits-robustness-v2"
    rows = {}
    for name in ("baseline", "robust", "brittle"):
        report = _run(BUNDLE, submissions / name, tmp_path / name)
        assert report.result.status == "finished", report.result.message  # type: ignore[attr-defined]
        rows[name] = {c.key: c.value for c in report.evaluation.columns}  # type: ignore[attr-defined]
        page = (tmp_path / name / "detailed_results.html").read_text()
        assert "Robustness to input perturbations" in page and page.count("<polyline") == 7
    assert rows["baseline"]["mce"] == pytest.approx(1.0)
    assert rows["robust"]["mce"] < 1 < rows["brittle"]["mce"]
    assert rows["brittle"]["acc"] > rows["robust"]["acc"]
    assert rows["brittle"]["corrupted_acc"] < rows["robust"]["corrupted_acc"]
    assert rows["brittle"]["acc_drop"] > rows["robust"]["acc_drop"] > 0
    assert 0 < rows["robust"]["flip_rate"] < rows["brittle"]["flip_rate"] < 1
