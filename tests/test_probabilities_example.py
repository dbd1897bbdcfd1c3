"""The worked probabilities example (issue 11, item 18): ``examples/iris-probabilities-v2``, a
bundle whose submissions hold a label and one probability per class, run through ``aibench run``
with its submissions of ``examples/submissions/iris-probabilities-v2``. Log loss and ROC AUC come
from the probability columns (a second table of the same file, ``"from": "submission"``) on every
split and agree with scikit-learn; rows that are scores, not probabilities, are refused before
scoring by ``aibench.probabilities``."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "examples" / "iris-probabilities-v2"
SUBMISSIONS = REPO / "examples" / "submissions" / "iris-probabilities-v2"
CLASSES = ["setosa", "versicolor", "virginica"]


def _aibench_run(tmp_path: Path, submission: str) -> tuple[int, dict[str, Any]]:
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLE, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "aibench_plugins", "run", str(bundle), str(SUBMISSIONS / submission),
                           "--json", "--work-dir", str(tmp_path / "work"), "--ledger", str(tmp_path / "ledger.sqlite")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


def _expected() -> dict[str, float]:
    """The columns, computed here with scikit-learn from the files themselves."""
    reference = BUNDLE / "reference_data"
    truth, predicted = _rows(reference / "labels.csv"), _rows(SUBMISSIONS / "good" / "predictions.csv")
    splits = {"": sorted(truth), "_public": (reference / "public_ids.txt").read_text().split(),
              "_private": (reference / "private_ids.txt").read_text().split()}
    expected = {}
    for suffix, ids in splits.items():
        labels = [truth[i]["label"] for i in ids]
        matrix = np.array([[float(predicted[i][f"p_{c}"]) for c in CLASSES] for i in ids])
        expected[f"log_loss{suffix}"] = log_loss(labels, matrix, labels=CLASSES)
        expected[f"roc_auc{suffix}"] = roc_auc_score(labels, matrix, labels=CLASSES, multi_class="ovr")
    return expected


@pytest.mark.filterwarnings("ignore:The y_prob values do not sum to one")  # 6 decimals in the CSV
def test_the_good_submission_gets_log_loss_and_roc_auc_per_split(tmp_path: Path) -> None:
    status, result = _aibench_run(tmp_path, "good")

    assert status == 0, result.get("message")
    assert result["status"] == "finished"
    assert [c["value"] for c in result["columns"] if c["key"] == "accuracy"] == [pytest.approx(43 / 45)]
    columns = {c["key"]: c["value"] for c in result["plugin_columns"]}
    assert result["plugin_failures"] == []
    expected = _expected()
    assert {key: columns[key] for key in expected} == pytest.approx(expected, rel=1e-5)
    assert columns["balanced_accuracy"] == pytest.approx(43 / 45)
    descriptions = {c["metric"]: c["description"] for c in result["report"]["plugin_columns"]}
    assert descriptions["aibench.log_loss"].startswith("Mean negative log-likelihood of the reference class")


def test_scores_that_are_not_probabilities_are_refused_before_scoring(tmp_path: Path) -> None:
    status, result = _aibench_run(tmp_path, "scores-not-probabilities")

    assert status == 1
    assert result["status"] == "failed"
    problems = result["check_problems"]
    assert problems and {p["check"] for p in problems} == {"aibench.probabilities"}
    assert problems[0]["file"] == "predictions.csv" and "sum to 1.5, not 1" in problems[0]["message"]
    assert all(c["value"] is None for c in result["plugin_columns"])
