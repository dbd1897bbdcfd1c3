"""The batched confusion-matrix metrics equal each metric's own ``from_confusion``, matrix by matrix,
absent classes and undefined cases included; what they do not cover falls back to it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from aibench_plugins.default_plugins.classification import confusion as C
from aibench_plugins.leaderboard.confusion import batched

CASES = [(C.accuracy, {}), (C.balanced_accuracy, {}), (C.mcc, {}), (C.cohen_kappa, {}),
         *((metric, {"average": average}) for metric in (C.precision, C.recall, C.f1)
           for average in ("macro", "micro", "weighted"))]


def matrices() -> np.ndarray:
    rng = np.random.default_rng(5)
    counts = rng.poisson(2.0, (300, 4, 4))
    counts[::3, 2, :] = 0
    counts[::3, :, 2] = 0  # class 2 absent: left out of macro averages
    counts[1::5, :, 1:] = 0  # one predicted class only: MCC and kappa undefined (0)
    counts[2::7, 3, :] = 0  # class 3 predicted, never true
    counts[counts.sum(axis=(1, 2)) == 0, 0, 0] = 1
    return counts


@pytest.mark.parametrize(("metric", "params"), CASES, ids=[f"{m.info.id}-{p}" for m, p in CASES])
def test_batched_metric_equals_from_confusion_on_each_matrix(metric: Any, params: dict[str, Any]) -> None:
    counts = matrices()
    function = batched(metric.info.id, params, metric.info.id)
    assert function is not None
    expected = [metric.from_confusion(m, np.arange(4), **params)[metric.info.id] for m in counts]
    assert function(counts) == pytest.approx(np.array(expected), abs=1e-12)


def test_uncovered_metrics_and_params_fall_back_to_from_confusion() -> None:
    assert batched("aibench.f1", {"labels": [0, 1]}, "aibench.f1") is None
    assert batched("aibench.cohen_kappa", {"weights": "quadratic"}, "aibench.cohen_kappa") is None
    assert batched("aibench.f1", {"per_class": True}, "aibench.f1_3") is None
    assert batched("acme.custom", {}, "acme.custom") is None
