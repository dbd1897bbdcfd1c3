"""Statistics for evaluation: confidence intervals and seeded, reproducible bootstraps.

The public API (what other rooms and plugins use; nothing else here is promised)::

    Interval(low, high, method, confidence, replicates, estimate=None, note="")
    proportion_interval(successes, n, *, confidence=0.95, method="wilson")   # or "clopper_pearson"
    metric_interval(metric, rows=None, *, confidence=0.95, method="auto", n_boot=10_000, seed=0)
    metric_replicates(metric, rows=None, *, n_boot=10_000, seed=0)           # ndarray (n_boot,)
    case_weights(n_cases, n_boot, seed, chunk=256)                           # multinomial count vectors
    percentile_interval(replicates, *, confidence=0.95)
    bca_interval(replicates, estimate, jackknife, *, confidence=0.95, jackknife_weights=None)
    confusion_replicates(matrix, labels, [(component, params), ...], *, n_boot, seed)
    ConfusionBootstrap, MeanBootstrap                                        # fast-path protocols

``metric`` is an :class:`~aibench_plugins.components.analysis.MetricData`. Fast paths: a
confusion-matrix metric is bootstrapped by multinomial draws of its matrix, a mean of per-row
values by the binned bootstrap; any other metric by resampling rows (see :mod:`.engine`). A metric
opts in to a fast path by implementing one of the two protocols (:mod:`.fastpaths`).

numpy only; scipy is used when installed (Clopper-Pearson's beta quantiles) and never needed.
Normal quantiles come from :class:`statistics.NormalDist`.
"""

from __future__ import annotations

from .engine import confusion_replicates, metric_interval, metric_replicates
from .fastpaths import ConfusionBootstrap, MeanBootstrap, fast_path
from .intervals import Interval, bca_interval, percentile_interval, proportion_interval
from .resampling import case_weights

__all__ = [
    "ConfusionBootstrap",
    "Interval",
    "MeanBootstrap",
    "bca_interval",
    "case_weights",
    "confusion_replicates",
    "fast_path",
    "metric_interval",
    "metric_replicates",
    "percentile_interval",
    "proportion_interval",
]
