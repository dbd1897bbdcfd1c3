"""The three bootstrap paths of aibench_plugins.stats: which metric gets which, that the fast ones
give the distribution of naive row resampling, reproducibility, row selection, and the choice of
method."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from bootkit import FastMeanError, MeanError, metric_data, naive_replicates
from scipy import stats as scipy_stats

from aibench_plugins import stats
from aibench_plugins.default_plugins.classification.confusion import (
    accuracy,
    balanced_accuracy,
    cohen_kappa,
    f1,
    mcc,
    precision,
    recall,
)
from aibench_plugins.default_plugins.classification.scores import log_loss, roc_auc, top_k_accuracy
from aibench_plugins.default_plugins.regression import mae, mape, mse, r2, rmse
from aibench_plugins.stats.engine import MAX_ROW_REPLICATES


def _labels(n: int, seed: int = 0, k: int = 3, right: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    return np.where(rng.random(n) < right, truth, rng.integers(0, k, n)), truth


def _values(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=n)
    return truth + rng.standard_t(4, size=n) * 0.5, truth


def _probabilities(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    scores = rng.random((n, 3)) + 0.3 * np.eye(3)[truth]
    return scores / scores.sum(axis=1, keepdims=True), truth


@pytest.mark.parametrize(("component", "path"), [
    (accuracy, "confusion"), (balanced_accuracy, "confusion"), (precision, "confusion"), (recall, "confusion"),
    (f1, "confusion"), (mcc, "confusion"), (cohen_kappa, "confusion"), (mae, "mean"), (mse, "mean"),
    (rmse, "mean"), (mape, "mean"), (log_loss, "mean"), (top_k_accuracy, "mean"), (r2, "rows"), (roc_auc, "rows"),
    (MeanError(), "rows"), (FastMeanError(), "mean"),
], ids=lambda v: v if isinstance(v, str) else v.info.id)
def test_each_metric_gets_its_path(component: Any, path: str) -> None:
    assert stats.fast_path(component, None, component.info.primary) == path


def test_a_per_class_output_of_a_mean_metric_is_not_the_mean_path() -> None:
    assert stats.fast_path(mae, "aibench.mae_other", "aibench.mae") == "rows"


CONFUSION_CASES = [(accuracy, {}), (balanced_accuracy, {}), (f1, {"average": "macro"}),
                   (precision, {"average": "weighted"}), (recall, {"average": "micro"}), (mcc, {}),
                   (cohen_kappa, {"weights": "quadratic"})]


@pytest.mark.parametrize(("component", "params"), CONFUSION_CASES, ids=[c.info.id for c, _ in CONFUSION_CASES])
def test_the_confusion_path_has_the_distribution_of_row_resampling(component: Any, params: dict[str, Any]) -> None:
    predicted, truth = _labels(300, seed=1, k=4, right=0.6)
    metric = metric_data(component, predicted, truth, params)
    fast = stats.metric_replicates(metric, n_boot=4000, seed=5)
    naive = naive_replicates(metric, 1500, seed=6)
    assert fast.shape == (4000,)
    sd = naive.std()
    assert abs(fast.mean() - naive.mean()) < 0.15 * sd
    assert fast.std() == pytest.approx(sd, rel=0.08)
    assert scipy_stats.ks_2samp(fast, naive).pvalue > 0.001


MEAN_CASES = [(mae, "values"), (rmse, "values"), (mse, "values"), (log_loss, "probabilities"),
              (top_k_accuracy, "probabilities")]


@pytest.mark.parametrize(("component", "data"), MEAN_CASES, ids=[c.info.id for c, _ in MEAN_CASES])
def test_the_mean_path_has_the_distribution_of_row_resampling(component: Any, data: str) -> None:
    predictions, references = _values(3000, seed=2) if data == "values" else _probabilities(3000, seed=2)
    params = {"k": 1} if component is top_k_accuracy else {}
    metric = metric_data(component, predictions, references, params)
    fast = stats.metric_replicates(metric, n_boot=4000, seed=7)
    naive = naive_replicates(metric, 1500, seed=8)
    sd = naive.std()
    assert abs(fast.mean() - naive.mean()) < 0.15 * sd
    assert fast.std() == pytest.approx(sd, rel=0.08)
    assert scipy_stats.ks_2samp(fast, naive).pvalue > 0.001


def test_the_binned_mean_is_exact_for_few_values_and_says_what_it_approximates() -> None:
    exact = stats.metric_interval(metric_data(mae, np.repeat([0.0, 1.0, 3.0], 1000), np.zeros(3000)), n_boot=500)
    assert exact.note == ""
    approximate = stats.metric_interval(metric_data(mae, *_values(5000)), n_boot=500)
    assert "binned bootstrap of a mean" in approximate.note and "within-bin share" in approximate.note


@pytest.mark.parametrize("component", [accuracy, mcc, mae, log_loss, r2], ids=lambda c: c.info.id)
def test_the_same_seed_gives_the_same_numbers_and_another_seed_others(component: Any) -> None:
    if component in (accuracy, mcc):
        inputs = _labels(400)
    elif component is log_loss:
        inputs = _probabilities(400)
    else:
        inputs = _values(400)
    metric = metric_data(component, *inputs)
    first = stats.metric_replicates(metric, n_boot=300, seed=11)
    assert np.array_equal(first, stats.metric_replicates(metric, n_boot=300, seed=11))
    assert not np.array_equal(first, stats.metric_replicates(metric, n_boot=300, seed=12))
    assert stats.metric_interval(metric, n_boot=300, seed=11) == stats.metric_interval(metric, n_boot=300, seed=11)


@pytest.mark.parametrize("component", [f1, rmse, r2], ids=lambda c: c.info.id)
def test_rows_select_as_a_mask_or_an_index(component: Any) -> None:
    inputs = _labels(500) if component is f1 else _values(500)
    metric = metric_data(component, *inputs)
    mask = np.arange(500) % 3 == 0
    subset = metric_data(component, inputs[0][mask], inputs[1][mask])
    by_mask = stats.metric_interval(metric, mask, n_boot=400, seed=3)
    by_index = stats.metric_interval(metric, np.flatnonzero(mask), n_boot=400, seed=3)
    alone = stats.metric_interval(subset, n_boot=400, seed=3)
    assert by_mask == by_index == alone
    assert by_mask.estimate == pytest.approx(component.compute(predictions=inputs[0][mask],
                                                               references=inputs[1][mask]))


def test_auto_takes_wilson_for_a_proportion_with_few_failures() -> None:
    truth = np.arange(1000) % 2
    predicted = truth.copy()
    predicted[:3] = 1 - predicted[:3]  # 3 failures
    interval = stats.metric_interval(metric_data(accuracy, predicted, truth))
    assert interval.method == "wilson"
    assert (interval.low, interval.high) == (stats.proportion_interval(997, 1000).low,
                                             stats.proportion_interval(997, 1000).high)
    assert stats.metric_interval(metric_data(accuracy, *_labels(1000)), n_boot=500).method == "bca"
    hits = stats.metric_interval(metric_data(top_k_accuracy, *_probabilities(500), {"k": 3}))
    assert hits.method == "wilson" and hits.high == 1.0  # k = 3 classes: every row is a hit


def test_explicit_proportion_methods() -> None:
    metric = metric_data(accuracy, *_labels(400))
    correct = int((metric.predictions == metric.references).sum())
    assert stats.metric_interval(metric, method="clopper_pearson") == stats.proportion_interval(
        correct, 400, method="clopper_pearson")
    with pytest.raises(ValueError, match="not a proportion of rows"):
        stats.metric_interval(metric_data(mae, *_values(100)), method="wilson")
    with pytest.raises(ValueError, match="unknown interval method 'normal'"):
        stats.metric_interval(metric, method="normal")


def test_a_metric_without_fast_path_is_capped_and_says_so() -> None:
    interval = stats.metric_interval(metric_data(r2, *_values(200)), n_boot=10_000, method="percentile")
    assert interval.replicates == MAX_ROW_REPLICATES
    assert "row resampling" in interval.note and f"{MAX_ROW_REPLICATES} replicates of the 10000" in interval.note
    assert stats.metric_replicates(metric_data(r2, *_values(50)), n_boot=30).shape == (30,)


def test_a_third_party_metric_opts_in_by_two_methods() -> None:
    predictions, references = _values(800)
    slow = stats.metric_interval(metric_data(MeanError(), predictions, references), n_boot=2000, seed=1)
    fast = stats.metric_interval(metric_data(FastMeanError(), predictions, references), n_boot=2000, seed=1)
    assert fast.estimate == pytest.approx(slow.estimate)
    assert fast.replicates == 2000 and "row resampling" not in fast.note
    width = slow.high - slow.low
    assert abs(fast.low - slow.low) < 0.1 * width and abs(fast.high - slow.high) < 0.1 * width


def test_a_resample_where_the_metric_is_undefined_is_nan_not_an_error() -> None:
    truth = np.array([0] * 19 + [1])
    scores = np.linspace(0, 1, 20)
    replicates = stats.metric_replicates(metric_data(roc_auc, scores, truth), n_boot=60, seed=0)
    assert np.isnan(replicates).any() and np.isfinite(replicates).any()
