"""The kit's :func:`score_on_bundle`: a metric through a real bundle's tables and splits, as
``aibench run`` gives them (issue 11, item 18). The generated inputs of the kit are integer labels;
``bundles/iris-v2`` has string labels and a 20-row public split. A metric with a bug only real data
shows passes every check of the kit and fails here, naming the split."""

from __future__ import annotations

import csv
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score, log_loss, roc_auc_score

from aibench_plugins import MetricInfo
from aibench_plugins.core.errors import UsageError
from aibench_plugins.core.host import PluginHost
from aibench_plugins.core.kinds import Kind
from aibench_plugins.testing import check_metric, score_on_bundle

REPO = Path(__file__).resolve().parents[2]
IRIS = REPO / "bundles" / "iris-v2"
IRIS_GOOD = REPO / "examples" / "submissions" / "iris-v2" / "good"
PROBABILITIES = REPO / "examples" / "iris-probabilities-v2"
PROBABILITIES_GOOD = REPO / "examples" / "submissions" / "iris-probabilities-v2" / "good"
CLASSES = ["setosa", "versicolor", "virginica"]


def _builtin(metric_id: str) -> Any:
    host = PluginHost(strict=True)
    host.load_builtins()
    return host.registry(Kind.METRIC).get(metric_id).component


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


def _split_ids(bundle: Path) -> dict[str, list[str]]:
    reference = bundle / "reference_data"
    ids = {"all": sorted(_rows(reference / "labels.csv"))}
    for split in ("public", "private"):
        ids[split] = (reference / f"{split}_ids.txt").read_text().split()
    return ids


@pytest.fixture
def iris(tmp_path: Path) -> Path:
    bundle = tmp_path / "iris-v2"
    shutil.copytree(IRIS, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    return bundle


def test_gives_a_builtin_metrics_values_per_split_of_iris(iris: Path) -> None:
    values = score_on_bundle(_builtin("aibench.balanced_accuracy"), iris, IRIS_GOOD)

    truth, predicted = _rows(iris / "reference_data" / "labels.csv"), _rows(IRIS_GOOD / "predictions.csv")
    expected = {split: balanced_accuracy_score([truth[i]["label"] for i in ids], [predicted[i]["label"] for i in ids])
                for split, ids in _split_ids(iris).items()}
    assert list(values) == ["all", "public", "private"]
    assert {split: v["aibench.balanced_accuracy"] for split, v in values.items()} == pytest.approx(expected)
    assert len(_split_ids(iris)["public"]) == 20


def test_takes_params_splits_and_a_zipped_submission(iris: Path, tmp_path: Path) -> None:
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.write(IRIS_GOOD / "predictions.csv", "predictions.csv")

    values = score_on_bundle(_builtin("aibench.f1"), iris, archive, params={"average": "weighted"}, splits=["public"])

    truth, predicted = _rows(iris / "reference_data" / "labels.csv"), _rows(IRIS_GOOD / "predictions.csv")
    ids = _split_ids(iris)["public"]
    assert values == {"public": {"aibench.f1": pytest.approx(
        f1_score([truth[i]["label"] for i in ids], [predicted[i]["label"] for i in ids], average="weighted"))}}


class CountingRecall:
    """Macro recall from per-class counts, with a bug the kit's integer labels cannot show:
    ``np.bincount`` needs integer labels, and the real bundle's labels are species names."""

    info = MetricInfo(id="kit.counting_recall", direction="maximize", bounds=(0.0, 1.0))

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.predictions: list[Any] = []
        self.references: list[Any] = []

    def update(self, *, predictions: Any, references: Any) -> None:
        self.predictions += list(predictions)
        self.references += list(references)

    def compute(self) -> dict[str, float]:
        predictions, references = np.asarray(self.predictions), np.asarray(self.references)
        totals = np.bincount(references)
        hits = np.bincount(references[predictions == references], minlength=len(totals))
        present = totals > 0
        return {self.info.primary: float(np.mean(hits[present] / totals[present]))}


def test_a_bug_the_generated_inputs_miss_fails_on_the_real_bundle_naming_the_split(iris: Path) -> None:
    check_metric(CountingRecall)  # every check of the kit passes on its generated integer labels

    with pytest.raises(AssertionError) as failure:
        score_on_bundle(CountingRecall, iris, IRIS_GOOD, splits=["public"])

    message = str(failure.value)
    assert message.startswith(f"metric 'kit.counting_recall' on bundle {str(iris)!r} failed on split 'public': ")
    assert "TypeError" in message and "bincount" in message  # the traceback of the metric


@pytest.mark.filterwarnings("ignore:The y_prob values do not sum to one")  # 6 decimals in the CSV
def test_probability_columns_of_the_worked_example(tmp_path: Path) -> None:
    bundle = tmp_path / "iris-probabilities-v2"
    shutil.copytree(PROBABILITIES, bundle, ignore=shutil.ignore_patterns("__pycache__"))

    values = score_on_bundle(_builtin("aibench.log_loss"), bundle, PROBABILITIES_GOOD,
                             inputs={"predictions": "probabilities"}, params={"classes": CLASSES})

    truth, predicted = _rows(bundle / "reference_data" / "labels.csv"), _rows(PROBABILITIES_GOOD / "predictions.csv")
    for split, ids in _split_ids(bundle).items():
        matrix = [[float(predicted[i][f"p_{c}"]) for c in CLASSES] for i in ids]
        assert values[split]["aibench.log_loss"] == pytest.approx(
            log_loss([truth[i]["label"] for i in ids], matrix, labels=CLASSES), rel=1e-5), split


def test_misuse_is_a_usage_error_saying_what_to_change(iris: Path) -> None:
    with pytest.raises(UsageError, match=r"unknown split 'secret': aibench.json declares all, public, private"):
        score_on_bundle(_builtin("aibench.accuracy"), iris, IRIS_GOOD, splits=["secret"])
    with pytest.raises(UsageError, match=r"/metrics/0/params/avrage"):
        score_on_bundle(_builtin("aibench.f1"), iris, IRIS_GOOD, params={"avrage": "macro"})
    (iris / "aibench.json").unlink()
    with pytest.raises(UsageError, match=r"no aibench.json next to competition.yaml"):
        score_on_bundle(_builtin("aibench.accuracy"), iris, IRIS_GOOD)


def test_roc_auc_of_the_worked_example_matches_scikit_learn(tmp_path: Path) -> None:
    values = score_on_bundle(_builtin("aibench.roc_auc"), PROBABILITIES, PROBABILITIES_GOOD,
                             inputs={"predictions": "probabilities"}, params={"classes": CLASSES}, splits=["all"])

    truth, predicted = _rows(PROBABILITIES / "reference_data" / "labels.csv"), _rows(PROBABILITIES_GOOD / "predictions.csv")
    ids = sorted(truth)
    matrix = np.array([[float(predicted[i][f"p_{c}"]) for c in CLASSES] for i in ids])
    assert values["all"]["aibench.roc_auc"] == pytest.approx(
        roc_auc_score([truth[i]["label"] for i in ids], matrix, multi_class="ovr", labels=CLASSES))
