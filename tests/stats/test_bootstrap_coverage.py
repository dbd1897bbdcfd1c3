"""Coverage: on many datasets simulated from a known population, the nominal 95% interval covers
the true value about 95% of the time.

With S simulated datasets the coverage estimate has binomial standard deviation
sqrt(0.95 * 0.05 / S) (0.0069 for S = 1000); the tests accept 3 of those (±0.021), so a correct
interval fails with probability about 0.3% (the seeds are fixed: the outcome is deterministic).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from bootkit import FastMeanError, metric_data

from aibench_plugins import stats
from aibench_plugins.default_plugins.classification.confusion import accuracy

SIMULATIONS = 1000
TOLERANCE = 3 * math.sqrt(0.95 * 0.05 / SIMULATIONS)


def _coverage(truth: float, draw: Any, component: Any, method: str) -> float:
    rng = np.random.default_rng(2024)
    covered = 0
    for s in range(SIMULATIONS):
        predictions, references = draw(rng)
        interval = stats.metric_interval(metric_data(component, predictions, references), method=method,
                                         n_boot=1000, seed=s)
        covered += interval.low <= truth <= interval.high
    return covered / SIMULATIONS


@pytest.mark.parametrize("method", ["bca", "percentile"])
def test_an_accuracy_interval_covers_the_true_rate(method: str) -> None:
    p, n = 0.7, 150

    def draw(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        truth = rng.integers(0, 2, n)
        return np.where(rng.random(n) < p, truth, 1 - truth), truth

    assert abs(_coverage(p, draw, accuracy, method) - 0.95) < TOLERANCE


def test_a_mean_interval_covers_the_true_mean() -> None:
    mu, n = 1.0, 200

    def draw(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return rng.normal(mu, 2.0, n), np.zeros(n)

    assert abs(_coverage(mu, draw, FastMeanError(), "bca") - 0.95) < TOLERANCE


@pytest.mark.parametrize(("p", "n"), [(0.02, 200), (0.005, 1000), (0.5, 40)])
def test_proportion_intervals_cover_exactly(p: float, n: int) -> None:
    """The coverage of Wilson and Clopper-Pearson computed exactly, summing binomial probabilities:
    Clopper-Pearson is never below nominal; Wilson is near it on average (within 0.03 here)."""
    pmf = [math.comb(n, x) * p**x * (1 - p) ** (n - x) for x in range(n + 1)]
    for method, check in (("clopper_pearson", lambda c: c >= 0.95), ("wilson", lambda c: abs(c - 0.95) < 0.03)):
        coverage = math.fsum(pmf[x] for x in range(n + 1)
                             if stats.proportion_interval(x, n, method=method).low <= p
                             <= stats.proportion_interval(x, n, method=method).high)
        assert check(coverage), (method, coverage)
