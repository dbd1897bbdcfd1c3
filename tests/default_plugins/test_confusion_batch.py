"""The vectorised batch path of the confusion-matrix metrics (the bootstrap's) equals the scalar
path matrix by matrix, for every metric and params, empty classes included."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from aibench_plugins import MetricInputError
from aibench_plugins.default_plugins.classification import ConfusionMetric
from aibench_plugins.default_plugins.classification.confusion import CONFUSION_METRICS, accuracy, cohen_kappa, f1


def _params(metric: ConfusionMetric) -> list[dict[str, Any]]:
    properties = (metric.info.params_schema or {}).get("properties", {})
    if "average" in properties:
        return [{"average": a, "per_class": pc, "labels": labels} for a in ("macro", "micro", "weighted")
                for pc in (False, True) for labels in (None, [0, 3, 7], [9])]
    if "weights" in properties:
        return [{"weights": w, "labels": labels} for w in (None, "linear", "quadratic")
                for labels in (None, [3, 0, 7], [6, 3])]
    return [{}]


def _matrices(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 6))
    matrices = rng.integers(0, 4, size=(8, k, k)) * (rng.random((8, k, k)) < 0.7)
    matrices[:2, int(rng.integers(0, k))] = 0  # a class never true
    matrices[2:4, :, int(rng.integers(0, k))] = 0  # a class never predicted
    return matrices[matrices.sum(axis=(1, 2)) > 0]


@pytest.mark.parametrize("metric", CONFUSION_METRICS, ids=lambda m: m.info.id)
def test_the_batch_equals_the_scalar_path(metric: ConfusionMetric) -> None:
    for seed in range(25):
        matrices = _matrices(seed)
        labels = np.arange(matrices.shape[1]) * 3
        for params in _params(metric):
            batch = metric.from_confusion_batch(matrices, labels, **params)
            for i, matrix in enumerate(matrices):
                one = metric.from_confusion(matrix, labels, **params)
                for name, value in one.items():
                    assert batch[name][i] == pytest.approx(value, abs=1e-12), (params, name, matrix)
                for name in set(batch) - set(one):  # a per-class output of a class absent here
                    assert np.isnan(batch[name][i])


def test_string_labels_and_per_class_names() -> None:
    matrices = np.array([[[5, 1], [2, 4]], [[0, 0], [3, 9]]])
    batch = f1.from_confusion_batch(matrices, np.array(["cat", "dog"]), per_class=True)
    assert set(batch) == {"aibench.f1", "aibench.f1_cat", "aibench.f1_dog"}
    assert batch["aibench.f1_cat"][0] == pytest.approx(f1.from_confusion(matrices[0], ["cat", "dog"],
                                                                         per_class=True)["aibench.f1_cat"])


def test_a_batch_of_wrong_shape_or_empty_matrices_is_refused() -> None:
    with pytest.raises(MetricInputError, match=r"shape \(b, k, k\)"):
        accuracy.from_confusion_batch(np.ones((2, 3)))
    with pytest.raises(MetricInputError, match="no samples to score"):
        cohen_kappa.from_confusion_batch(np.zeros((1, 2, 2)))
    with pytest.raises(MetricInputError, match="3 labels for 2x2"):
        accuracy.from_confusion_batch(np.ones((1, 2, 2)), [1, 2, 3])


def test_a_third_party_subclass_without_a_batch_path_is_looped() -> None:
    from aibench_plugins import MetricInfo

    class Errors(ConfusionMetric):
        info = MetricInfo(id="acme.errors", direction="minimize", description="Off-diagonal count.")

        def _scores(self, matrix: Any, matrix_labels: Any, /, **params: Any) -> dict[str, float]:
            return {self.info.id: float(matrix.sum() - np.trace(matrix))}

    assert Errors().from_confusion_batch(np.array([[[1, 2], [3, 4]], [[5, 0], [0, 1]]]))["acme.errors"].tolist() == \
        [5.0, 0.0]
