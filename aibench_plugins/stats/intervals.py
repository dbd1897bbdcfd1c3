"""Confidence intervals: the :class:`Interval` record, intervals from bootstrap replicates
(percentile and BCa) and intervals for a proportion (Wilson and Clopper-Pearson).

Quantiles of the normal distribution come from :class:`statistics.NormalDist` (no scipy);
the beta quantiles of Clopper-Pearson from :mod:`.beta` (scipy when installed, else a
numpy bisection on the regularised incomplete beta function).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..core.errors import InvalidValueError
from .beta import beta_quantile

if TYPE_CHECKING:
    from statistics import NormalDist

__all__ = ["Interval", "bca_interval", "percentile_interval", "proportion_interval", "z_quantile"]



@lru_cache(maxsize=1)
def _normal() -> NormalDist:
    from statistics import NormalDist

    return NormalDist()


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval.

    :param low: lower bound. :param high: upper bound.
    :param method: how it was made: ``percentile``, ``bca``, ``wilson``, ``clopper_pearson``.
    :param confidence: its nominal coverage (0.95).
    :param replicates: the bootstrap replicates it rests on (``None`` for the closed-form
        proportion intervals).
    :param estimate: the statistic on the full data, when known.
    :param note: a sentence on how it was made when that matters to a reader (a capped
        number of replicates, an approximation); empty otherwise.
    """

    low: float
    high: float
    method: str
    confidence: float
    replicates: int | None
    estimate: float | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def z_quantile(probability: float) -> float:
    """The standard normal quantile (``statistics.NormalDist().inv_cdf``); ±inf at 0 and 1."""
    if probability <= 0.0:
        return -math.inf
    if probability >= 1.0:
        return math.inf
    return _normal().inv_cdf(probability)


def _check_confidence(confidence: float) -> float:
    if not 0.0 < float(confidence) < 1.0:
        raise InvalidValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    return float(confidence)


def _finite_replicates(replicates: Any) -> Any:
    import numpy as np

    values = np.asarray(replicates, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise InvalidValueError("no finite bootstrap replicate: the statistic is undefined on every resample")
    return values


def percentile_interval(replicates: Any, *, confidence: float = 0.95, estimate: float | None = None,
                        note: str = "") -> Interval:
    """Efron's percentile interval: the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``
    quantiles of the replicates (linear interpolation, numpy's default, as scipy). Non-finite
    replicates (a statistic undefined on some resample) are left out."""
    import numpy as np

    confidence = _check_confidence(confidence)
    values = _finite_replicates(replicates)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return Interval(float(low), float(high), "percentile", confidence, int(np.size(replicates)), estimate, note)


def bca_interval(replicates: Any, estimate: float, jackknife: Any, *, confidence: float = 0.95,
                 jackknife_weights: Any = None, note: str = "") -> Interval:
    """The bias-corrected and accelerated interval (Efron 1987; Efron and Tibshirani 1993, §14.3).

    The bias correction ``z0 = Φ⁻¹(p)`` with ``p`` the share of replicates below ``estimate``,
    ties counting one half (as ``scipy.stats.bootstrap``); the acceleration
    ``a = Σ w d³ / (6 (Σ w d²)^1.5)``, ``d = mean(θ₍ᵢ₎) - θ₍ᵢ₎``, from the leave-one-out (or
    leave-one-group-out) values ``jackknife`` with multiplicities ``jackknife_weights``
    (default 1 each). The bounds are the replicates' quantiles at
    ``Φ(z0 + (z0 + z_α) / (1 - a (z0 + z_α)))``. Falls back to the percentile interval (and
    says so in ``note``) when every replicate lies on one side of ``estimate``, or when the
    acceleration is so large that ``1 - a (z0 + z_α) <= 0``.
    """
    import numpy as np

    confidence = _check_confidence(confidence)
    values = _finite_replicates(replicates)
    below = np.count_nonzero(values < estimate) + 0.5 * np.count_nonzero(values == estimate)
    share = below / values.size
    if share <= 0.0 or share >= 1.0:
        fallback = "BCa undefined (every replicate on one side of the estimate): percentile interval"
        return percentile_interval(replicates, confidence=confidence, estimate=estimate,
                                   note="; ".join(n for n in (note, fallback) if n))
    z0 = z_quantile(share)
    a = acceleration(jackknife, jackknife_weights)
    alpha = (1.0 - confidence) / 2.0
    levels = []
    for tail in (alpha, 1.0 - alpha):
        z = z_quantile(tail)
        denominator = 1.0 - a * (z0 + z)
        if denominator <= 0.0:  # an acceleration so large that the correction folds over
            fallback = f"BCa undefined (acceleration {a:.3g} too large): percentile interval"
            return percentile_interval(replicates, confidence=confidence, estimate=estimate,
                                       note="; ".join(n for n in (note, fallback) if n))
        levels.append(_normal().cdf(z0 + (z0 + z) / denominator))
    low, high = np.quantile(values, levels)
    return Interval(float(low), float(high), "bca", confidence, int(np.size(replicates)), estimate, note)


def acceleration(jackknife: Any, weights: Any = None) -> float:
    """BCa's acceleration from jackknife values (weighted by multiplicities); 0 when they are
    all equal."""
    import numpy as np

    theta = np.asarray(jackknife, dtype=np.float64).ravel()
    if weights is None:
        theta = theta[np.isfinite(theta)]
        if theta.size == 0:
            return 0.0
        d = theta.mean() - theta
        squares = d * d
        second, third = float(squares.sum()), float(squares @ d)
    else:
        w = np.asarray(weights, dtype=np.float64).ravel()
        keep = np.isfinite(theta) & (w > 0)
        theta, w = theta[keep], w[keep]
        if theta.size == 0:
            return 0.0
        d = np.average(theta, weights=w) - theta
        squares = w * d * d
        second, third = float(squares.sum()), float(squares @ d)
    if second <= 0.0:
        return 0.0
    return third / (6.0 * math.pow(second, 1.5))


def proportion_interval(successes: int, n: int, *, confidence: float = 0.95, method: str = "wilson") -> Interval:
    """An interval for a binomial proportion ``successes / n``.

    ``wilson``: Wilson's score interval (1927), ``(p + z²/2n ± z √(p(1-p)/n + z²/4n²)) / (1 + z²/n)``;
    near-nominal coverage on average, never outside [0, 1].
    ``clopper_pearson``: the exact interval (1934), beta quantiles
    ``B(α/2; x, n-x+1)`` and ``B(1-α/2; x+1, n-x)`` (0 when x = 0, 1 when x = n); coverage at
    least nominal for every p, so wider.
    """
    confidence = _check_confidence(confidence)
    successes, n = int(successes), int(n)
    if n <= 0 or not 0 <= successes <= n:
        raise InvalidValueError(f"a proportion needs 0 <= successes <= n and n > 0, got {successes} of {n}")
    alpha = 1.0 - confidence
    if method == "wilson":
        z = z_quantile(1.0 - alpha / 2.0)
        p = successes / n
        centre = p + z * z / (2 * n)
        spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        scale = 1 + z * z / n
        low, high = (centre - spread) / scale, (centre + spread) / scale
        low = 0.0 if successes == 0 else max(0.0, low)
        high = 1.0 if successes == n else min(1.0, high)
    elif method == "clopper_pearson":
        low = 0.0 if successes == 0 else beta_quantile(alpha / 2.0, successes, n - successes + 1)
        high = 1.0 if successes == n else beta_quantile(1.0 - alpha / 2.0, successes + 1, n - successes)
    else:
        raise InvalidValueError(f"unknown proportion interval method {method!r}: expected 'wilson' or 'clopper_pearson'")
    return Interval(float(low), float(high), method, confidence, None, successes / n)
