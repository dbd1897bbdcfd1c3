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
    exact = stats.metric_interval(metric_data(mae, np.repeat([0.0, 1.0, 3.0], 10_000), np.zeros(30_000)),
                                  n_boot=500)
    assert exact.note == ""
    assert stats.metric_interval(metric_data(mae, *_values(5000)), n_boot=500).note == ""  # rows drawn
    approximate = stats.metric_interval(metric_data(mae, *_values(20_000)), n_boot=500)
    assert "binned bootstrap of a mean" in approximate.note and "within-bin share" in approximate.note


def test_the_binned_mean_keeps_heavy_tails_exact() -> None:
    """Squared errors of a t(3) distribution: the variance lies in a few extreme rows, which the
    tail draws one by one; the replicate sd is the exact bootstrap's (the sd of the mean) to
    Monte-Carlo error, and the within-bin share stays small."""
    from aibench_plugins.stats.resampling import bin_mean

    rng = np.random.default_rng(3)
    values = rng.standard_t(3, size=200_000) ** 2
    binned = bin_mean(values)
    assert 0 < binned.within_share < 0.001
    replicates = binned.replicate_means(8000, seed=1)
    assert replicates.std() == pytest.approx(values.std() / np.sqrt(values.size), rel=0.05)
    assert replicates.mean() == pytest.approx(values.mean(), abs=0.1 * replicates.std())
    skewness = float(np.mean((replicates - replicates.mean()) ** 3) / replicates.std() ** 3)
    assert skewness > 0.08  # kept (about 0.15 here), not made normal (0 ± 0.027 for 8000 replicates)


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
    assert interval.method == "wilson" and "997 of 1000 rows, fewer than 20 failures" in interval.note
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


def test_label_lists_are_resampled_as_rows() -> None:
    from aibench_plugins.default_plugins.multilabel import jaccard

    rng = np.random.default_rng(4)
    truth = [sorted({str(v) for v in rng.integers(0, 4, 2)}) for _ in range(120)]
    predicted = [row if rng.random() < 0.7 else ["0"] for row in truth]
    metric = metric_data(jaccard, predicted, truth)
    interval = stats.metric_interval(metric, n_boot=300, seed=0)
    assert interval.low <= interval.estimate <= interval.high  # type: ignore[operator]
    assert interval.estimate == pytest.approx(jaccard.compute(predictions=predicted, references=truth))
    subset = stats.metric_interval(metric, np.arange(60), n_boot=300, seed=0)
    assert subset.estimate == pytest.approx(jaccard.compute(predictions=predicted[:60], references=truth[:60]))


def test_confusion_replicates_share_one_set_of_draws() -> None:
    predicted, truth = _labels(500, seed=3)
    matrix, labels = accuracy.confusion_of(predicted, truth)
    shared = stats.confusion_replicates(matrix, labels, [(accuracy, {}), (f1, {"average": "weighted"})],
                                        n_boot=700, seed=9)
    alone = stats.metric_replicates(metric_data(f1, predicted, truth, {"average": "weighted"}), n_boot=700, seed=9)
    assert np.array_equal(shared[1]["aibench.f1"], alone)
    assert np.array_equal(shared[0]["aibench.accuracy"],
                          stats.metric_replicates(metric_data(accuracy, predicted, truth), n_boot=700, seed=9))


@pytest.mark.parametrize("component", [accuracy, mae, r2], ids=lambda c: c.info.id)
def test_without_numpy_generator_the_randomstate_fallback_works(component: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """numpy < 1.17 has no Generator: the room falls back to RandomState, reproducibly."""
    inputs = _labels(300) if component is accuracy else _values(300)
    metric = metric_data(component, *inputs)
    modern = stats.metric_interval(metric, n_boot=300, seed=2)
    monkeypatch.delattr(np.random, "default_rng")
    old = stats.metric_interval(metric, n_boot=300, seed=2)
    assert old == stats.metric_interval(metric, n_boot=300, seed=2)
    assert old.estimate == modern.estimate and old != modern
    width = modern.high - modern.low
    assert abs(old.low - modern.low) < 0.3 * width and abs(old.high - modern.high) < 0.3 * width
    weights = np.vstack(list(stats.case_weights(10, 20, seed=1)))
    assert weights.shape == (20, 10) and (weights.sum(axis=1) == 10).all()


def test_a_per_class_output_gets_the_confusion_path() -> None:
    predicted, truth = _labels(400, seed=6, k=3, right=0.7)
    metric = metric_data(f1, predicted, truth, {"per_class": True}, output="aibench.f1_2")
    fast = stats.metric_replicates(metric, n_boot=3000, seed=1)
    naive = naive_replicates(metric, 1000, seed=2)
    assert fast.std() == pytest.approx(naive.std(), rel=0.1)
    interval = stats.metric_interval(metric, n_boot=2000)
    assert interval.estimate == pytest.approx(f1.from_confusion(*accuracy.confusion_of(predicted, truth),
                                                                per_class=True)["aibench.f1_2"])
