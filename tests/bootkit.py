"""Helpers for the bootstrap tests: a MetricData built by hand (as the host builds it), the naive
row bootstrap the fast paths are checked against, and a third-party mean metric."""

from __future__ import annotations

from typing import Any

import numpy as np

from aibench_plugins import MetricInfo
from aibench_plugins.components.analysis import MetricData


def metric_data(component: Any, predictions: Any, references: Any, params: dict[str, Any] | None = None,
                key: str | None = None, output: str | None = None) -> MetricData:
    info = component.info
    return MetricData(key=key or info.id.split(".")[-1], label=key or info.id, info=info, params=params or {},
                      component=component, ids=np.arange(len(references)), predictions=predictions,
                      references=references, output=output)


def naive_replicates(metric: MetricData, n_boot: int, seed: int) -> np.ndarray:
    """Rows drawn with replacement, the metric's own compute on each resample (the baseline)."""
    rng = np.random.default_rng(seed)
    n = len(metric.ids)
    return np.array([metric.compute(rng.integers(0, n, n)) for _ in range(n_boot)])


class MeanErrorState:
    """A third-party metric (mean of prediction - reference, the bias), no base class."""

    info = MetricInfo(id="thirdparty.mean_error", direction="minimize", description="Mean of p - r.")

    def __init__(self, **params: Any) -> None:
        self.values: list[np.ndarray] = []

    def update(self, **inputs: Any) -> None:
        self.values.append(np.asarray(inputs["predictions"], float) - np.asarray(inputs["references"], float))

    def compute(self) -> dict[str, float]:
        return {self.info.id: float(np.mean(np.concatenate(self.values)))}


class MeanError:
    """Its factory; with ``fast=True`` it opts in to the mean path by the two protocol methods."""

    info = MeanErrorState.info

    def __call__(self, **params: Any) -> MeanErrorState:
        return MeanErrorState(**params)


class FastMeanError(MeanError):
    def mean_terms(self, predictions: Any, references: Any, /, **params: Any) -> np.ndarray:
        return np.asarray(predictions, float) - np.asarray(references, float)

    def from_means(self, means: np.ndarray, /, **params: Any) -> np.ndarray:
        return np.asarray(means)
