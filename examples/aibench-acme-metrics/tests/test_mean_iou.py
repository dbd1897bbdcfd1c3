from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from aibench_acme_metrics import MeanIoU
from aibench_plugins.testing import MetricCheck, check_metric, parametrize_with_checks

# One 2 x 2 image: reference class 0 at the top left, class 1 elsewhere.
PREDICTED = [[[0, 0], [1, 1]]]
REFERENCE = [[[0, 1], [1, 1]]]


@parametrize_with_checks([(MeanIoU, {"num_classes": 3}), (MeanIoU, {"num_classes": 3, "ignore_index": 0})])
def test_conforms_to_the_aibench_metric_checks(metric: Any, check: MetricCheck) -> None:
    check(metric)


def test_passes_the_kit_on_realistic_images() -> None:
    rng = np.random.default_rng(7)
    reference = rng.integers(0, 19, (12, 64, 128))
    reference[:, :4] = 255  # unlabelled band at the top of every image
    predicted = np.where(rng.uniform(size=reference.shape) < 0.8, reference, rng.integers(0, 19, reference.shape))
    predicted[:, :4] = 0
    check_metric(MeanIoU, inputs={"predictions": predicted, "references": reference}, params={"num_classes": 19})


def test_known_values() -> None:
    state = MeanIoU(num_classes=2)
    state.update(predictions=PREDICTED, references=REFERENCE)

    # class 0: 1 pixel in common, 2 in the union; class 1: 2 in common, 3 in the union
    assert state.compute() == {"acme.mean_iou": pytest.approx((1 / 2 + 2 / 3) / 2),
                               "acme.pixel_accuracy": pytest.approx(3 / 4)}


def test_classes_absent_from_both_are_left_out() -> None:
    two, five = MeanIoU(num_classes=2), MeanIoU(num_classes=5)
    for state in (two, five):
        state.update(predictions=PREDICTED, references=REFERENCE)

    assert two.compute() == five.compute()


def test_ignored_pixels_count_nowhere() -> None:
    state = MeanIoU(num_classes=2, ignore_index=255)
    state.update(predictions=[[[0, 0], [1, 1], [7, 0]]], references=[[[0, 1], [1, 1], [255, 255]]])

    assert state.compute()["acme.pixel_accuracy"] == pytest.approx(3 / 4)


def test_agrees_with_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 6, (4, 16, 16))
    predicted = np.where(rng.uniform(size=reference.shape) < 0.6, reference, rng.integers(0, 6, reference.shape))
    state = MeanIoU(num_classes=6)
    state.update(predictions=predicted, references=reference)

    scores = state.compute()

    assert scores["acme.mean_iou"] == pytest.approx(
        metrics.jaccard_score(reference.ravel(), predicted.ravel(), average="macro", labels=range(6)))
    assert scores["acme.pixel_accuracy"] == pytest.approx(metrics.accuracy_score(reference.ravel(), predicted.ravel()))


def test_class_ids_out_of_range_are_explained() -> None:
    with pytest.raises(ValueError, match=r"predictions hold class id 4, outside 0..2 \(num_classes=3"):
        MeanIoU(num_classes=3).update(predictions=[[0, 4]], references=[[0, 1]])


def test_shapes_must_match() -> None:
    with pytest.raises(ValueError, match=r"predictions have shape \(1, 3\) but references have shape \(1, 2\)"):
        MeanIoU(num_classes=3).update(predictions=[[0, 1, 2]], references=[[0, 1]])
