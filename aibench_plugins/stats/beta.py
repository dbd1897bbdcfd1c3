"""Quantiles of the beta distribution, for the Clopper-Pearson interval, with scipy optional.

:func:`beta_quantile` uses ``scipy.special.betaincinv`` when scipy is installed; otherwise it
bisects on :func:`regularized_beta`, the regularised incomplete beta function ``I_x(a, b)``
evaluated by its continued fraction (modified Lentz; Press et al., *Numerical Recipes*, §6.4),
to a relative tolerance of 1e-12 (the tests check both against each other).
"""

from __future__ import annotations

import math

from ..core.errors import InvalidValueError

__all__ = ["beta_quantile", "regularized_beta"]

_TINY = 1e-300
_EPS = 1e-15


def _continued_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of ``I_x(a, b)`` (converges fast for ``x < (a + 1) / (a + b + 2)``;
    it needs about ``√max(a, b)`` terms)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 1_000_000):
        m2 = 2 * m
        even = m * (b - m) * x / ((qam + m2) * (a + m2))
        odd = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        for numerator in (even, odd):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            step = c * d
            h *= step
        if abs(step - 1.0) < _EPS:
            break
    return h


def regularized_beta(x: float, a: float, b: float) -> float:
    """``I_x(a, b)``, the beta distribution's CDF at ``x`` (``a, b > 0``), without scipy."""
    if a <= 0 or b <= 0:
        raise InvalidValueError(f"beta parameters must be positive, got a={a}, b={b}")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _continued_fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _continued_fraction(1.0 - x, b, a) / b


def _bisect(probability: float, a: float, b: float) -> float:
    low, high = 0.0, 1.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        if regularized_beta(middle, a, b) < probability:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * max(middle, 1e-300):
            break
    return 0.5 * (low + high)


def beta_quantile(probability: float, a: float, b: float, *, use_scipy: bool = True) -> float:
    """The ``probability`` quantile of Beta(a, b): scipy's ``betaincinv`` when installed (and
    ``use_scipy``), else bisection on :func:`regularized_beta`."""
    if not 0.0 <= probability <= 1.0:
        raise InvalidValueError(f"probability must lie in [0, 1], got {probability}")
    if use_scipy:
        try:
            from scipy.special import betaincinv  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            pass
        else:
            return float(betaincinv(a, b, probability))
    if probability == 0.0:
        return 0.0
    if probability == 1.0:
        return 1.0
    return _bisect(probability, float(a), float(b))
