"""Wilson and Clopper-Pearson intervals for a proportion, against published values (Newcombe 1998,
Table I), their defining equations (computed independently here), and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from aibench_plugins.stats import proportion_interval
from aibench_plugins.stats.beta import beta_quantile, regularized_beta

# Newcombe (1998), Statistics in Medicine 17:857-872, Table I (95%): methods 3 (Wilson score) and 5 (exact)
NEWCOMBE = [
    (81, 263, (0.2553, 0.3662), (0.2527, 0.3676)),
    (15, 148, (0.0624, 0.1605), (0.0578, 0.1617)),
    (0, 20, (0.0, 0.1611), (0.0, 0.1684)),
    (1, 29, (0.0061, 0.1718), (0.0009, 0.1776)),
]


@pytest.mark.parametrize(("x", "n", "wilson", "exact"), NEWCOMBE, ids=[f"{x}_of_{n}" for x, n, *_ in NEWCOMBE])
def test_published_values(x: int, n: int, wilson: tuple[float, float], exact: tuple[float, float]) -> None:
    got = proportion_interval(x, n, method="wilson")
    assert (round(got.low, 4), round(got.high, 4)) == wilson
    got = proportion_interval(x, n, method="clopper_pearson")
    assert (round(got.low, 4), round(got.high, 4)) == exact
    assert got.replicates is None and got.estimate == x / n and got.confidence == 0.95


@pytest.mark.parametrize(("x", "n"), [(3, 10), (50, 100), (999, 1000), (7, 5000)])
def test_wilson_solves_the_score_equation(x: int, n: int) -> None:
    """Wilson's bounds are the p where |x/n - p| = z sqrt(p (1 - p) / n)."""
    z = 1.959963984540054
    got = proportion_interval(x, n, confidence=0.95)
    for p in (got.low, got.high):
        assert abs(abs(x / n - p) - z * math.sqrt(p * (1 - p) / n)) < 1e-12


def _binomial_tail(x: int, n: int, p: float, upper: bool) -> float:
    terms = range(x, n + 1) if upper else range(0, x + 1)
    return math.fsum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in terms)


@pytest.mark.parametrize(("x", "n", "confidence"), [(3, 10, 0.95), (50, 100, 0.9), (1, 40, 0.99), (39, 40, 0.95)])
def test_clopper_pearson_inverts_the_binomial_tails(x: int, n: int, confidence: float) -> None:
    got = proportion_interval(x, n, confidence=confidence, method="clopper_pearson")
    alpha = 1 - confidence
    assert abs(_binomial_tail(x, n, got.low, upper=True) - alpha / 2) < 1e-10
    assert abs(_binomial_tail(x, n, got.high, upper=False) - alpha / 2) < 1e-10


@pytest.mark.parametrize(("q", "a", "b"), [(0.025, 3, 8), (0.975, 4, 7), (0.5, 0.5, 0.5), (0.025, 1, 1000),
                                          (0.975, 9_000_000, 1_000_001), (0.001, 250, 2.5), (0.9999, 2, 30)])
def test_numpy_fallback_equals_scipy(q: float, a: float, b: float) -> None:
    ours = beta_quantile(q, a, b, use_scipy=False)
    assert ours == pytest.approx(scipy_stats.beta.ppf(q, a, b), rel=1e-10, abs=1e-14)
    assert regularized_beta(ours, a, b) == pytest.approx(q, rel=1e-9)
    assert regularized_beta(0.3, a, b) == pytest.approx(scipy_stats.beta.cdf(0.3, a, b), rel=1e-10, abs=1e-300)


def test_without_scipy_the_interval_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    with_scipy = proportion_interval(17, 90, method="clopper_pearson")
    monkeypatch.setitem(sys.modules, "scipy.special", None)  # import scipy.special raises ImportError
    without = proportion_interval(17, 90, method="clopper_pearson")
    assert without.low == pytest.approx(with_scipy.low, rel=1e-10)
    assert without.high == pytest.approx(with_scipy.high, rel=1e-10)


def test_bounds_stay_in_the_unit_interval_and_nest() -> None:
    for n in (1, 2, 5, 30):
        for x in range(n + 1):
            wilson = proportion_interval(x, n)
            exact = proportion_interval(x, n, method="clopper_pearson")
            assert 0.0 <= wilson.low <= x / n <= wilson.high <= 1.0
            assert 0.0 <= exact.low <= x / n <= exact.high <= 1.0
    assert proportion_interval(10, 10).high == 1.0 and proportion_interval(0, 10).low == 0.0
    narrow, wide = proportion_interval(30, 100, confidence=0.8), proportion_interval(30, 100, confidence=0.99)
    assert wide.low < narrow.low < narrow.high < wide.high


@pytest.mark.parametrize(("call", "message"), [
    (lambda: proportion_interval(3, 0), "n > 0"),
    (lambda: proportion_interval(11, 10), "0 <= successes <= n"),
    (lambda: proportion_interval(3, 10, method="wald"), "'wilson' or 'clopper_pearson'"),
    (lambda: proportion_interval(3, 10, confidence=1.0), "strictly between 0 and 1"),
], ids=["no-rows", "more-successes-than-rows", "unknown-method", "confidence-1"])
def test_bad_arguments_are_refused_clearly(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_many_small_cases_against_scipy() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(1, 500))
        x = int(rng.integers(0, n + 1))
        got = proportion_interval(x, n, method="clopper_pearson", confidence=0.9)
        low = 0.0 if x == 0 else scipy_stats.beta.ppf(0.05, x, n - x + 1)
        high = 1.0 if x == n else scipy_stats.beta.ppf(0.95, x + 1, n - x)
        assert (got.low, got.high) == pytest.approx((low, high), rel=1e-12)
