"""Percentile and BCa intervals: a known distribution, scipy.stats.bootstrap on the same data, and
the jackknife accelerations of the fast paths against an explicit leave-one-out loop."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from bootkit import FastMeanError, metric_data
from scipy import stats as scipy_stats

from aibench_plugins import stats
from aibench_plugins.default_plugins.classification.confusion import accuracy, cohen_kappa, f1, mcc
from aibench_plugins.default_plugins.regression import rmse
from aibench_plugins.stats.engine import _path
from aibench_plugins.stats.intervals import acceleration


def test_percentile_of_a_known_distribution() -> None:
    replicates = np.random.default_rng(0).normal(3.0, 2.0, size=400_000)
    interval = stats.percentile_interval(replicates, confidence=0.9)
    assert interval.low == pytest.approx(3.0 - 1.644854 * 2.0, abs=0.02)
    assert interval.high == pytest.approx(3.0 + 1.644854 * 2.0, abs=0.02)
    assert (interval.method, interval.confidence, interval.replicates) == ("percentile", 0.9, 400_000)


def test_percentile_interpolates_as_numpy_and_drops_nan() -> None:
    replicates = np.concatenate([np.arange(101.0), [np.nan, np.inf]])
    interval = stats.percentile_interval(replicates, confidence=0.9)
    assert (interval.low, interval.high) == pytest.approx((5.0, 95.0), abs=1e-12)
    with pytest.raises(ValueError, match="no finite bootstrap replicate"):
        stats.percentile_interval([np.nan, np.nan])


def _scipy_bca(data: np.ndarray, statistic: Any, seed: int) -> tuple[float, float]:
    result = scipy_stats.bootstrap((data,), statistic, n_resamples=40_000, method="BCa", confidence_level=0.95,
                                   random_state=np.random.default_rng(seed), vectorized=True, axis=-1)
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def test_bca_of_a_skewed_mean_matches_scipy() -> None:
    values = np.random.default_rng(1).lognormal(0.0, 1.0, size=80)
    ours = stats.metric_interval(metric_data(FastMeanError(), values, np.zeros(80)), method="bca", n_boot=40_000,
                                 seed=2)
    low, high = _scipy_bca(values, np.mean, seed=3)
    width = high - low
    assert ours.method == "bca"
    assert abs(ours.low - low) < 0.03 * width and abs(ours.high - high) < 0.03 * width
    percentile = stats.metric_interval(metric_data(FastMeanError(), values, np.zeros(80)), method="percentile",
                                       n_boot=40_000, seed=2)
    assert ours.high - percentile.high > 0.05 * width  # BCa moves right of the percentile on a right skew


def test_bca_of_an_accuracy_matches_scipy() -> None:
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 2, 120)
    predicted = np.where(rng.random(120) < 0.85, truth, 1 - truth)
    ours = stats.metric_interval(metric_data(accuracy, predicted, truth), method="bca", n_boot=40_000, seed=5)
    low, high = _scipy_bca((predicted == truth).astype(float), np.mean, seed=6)
    assert ours.low == pytest.approx(low, abs=0.006) and ours.high == pytest.approx(high, abs=0.006)


def _explicit_jackknife(metric: Any) -> np.ndarray:
    n = len(metric.ids)
    return np.array([metric.compute(np.delete(np.arange(n), i)) for i in range(n)])


@pytest.mark.parametrize("component", [accuracy, f1, mcc, cohen_kappa], ids=lambda c: c.info.id)
def test_the_confusion_jackknife_is_the_leave_one_out_one(component: Any) -> None:
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 3, 90)
    predicted = np.where(rng.random(90) < 0.6, truth, rng.integers(0, 3, 90))
    metric = metric_data(component, predicted, truth)
    values, weights = _path(metric, None).jackknife(0)
    assert weights is not None and weights.sum() == 90
    assert acceleration(values, weights) == pytest.approx(acceleration(_explicit_jackknife(metric)), rel=1e-9)


def test_the_mean_jackknife_is_the_leave_one_out_one() -> None:
    rng = np.random.default_rng(8)
    truth = rng.normal(size=70)
    metric = metric_data(rmse, truth + rng.exponential(size=70), truth)
    values, weights = _path(metric, None).jackknife(0)
    assert weights is None
    assert np.allclose(values, _explicit_jackknife(metric), rtol=1e-12)


def test_bca_falls_back_to_percentile_when_it_is_undefined() -> None:
    interval = stats.bca_interval(np.ones(50), 0.5, np.linspace(0, 1, 10))
    assert interval.method == "percentile" and "BCa undefined" in interval.note


def test_acceleration_is_zero_for_a_symmetric_jackknife_and_signed_otherwise() -> None:
    assert acceleration(np.array([1.0, 2.0, 3.0])) == 0.0
    assert acceleration(np.array([2.0, 2.0])) == 0.0
    assert acceleration(np.array([0.0, 0.0, 0.0, 3.0])) < 0 < acceleration(np.array([0.0, 3.0, 3.0, 3.0]))
