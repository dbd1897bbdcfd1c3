"""aibench run's re-runs of the prediction step on perturbed inputs (run/perturbed.py), through
compat's real runner and the local executor (bubblewrap)."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

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
