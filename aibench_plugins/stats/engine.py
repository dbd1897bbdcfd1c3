"""Bootstrap replicates and intervals of one metric (:func:`metric_replicates`,
:func:`metric_interval`), by the fastest exact-enough path the metric allows.

Three paths (chosen by :func:`~.fastpaths.fast_path` from the metric's component):

``confusion``
    The k x k confusion matrix is counted once; each replicate is one multinomial draw of its
    ``n`` counts over the cells (exactly the matrix of ``n`` rows drawn with replacement), and the
    metric is evaluated on a batch of matrices at once. BCa's jackknife is exact and cheap: the
    leave-one-out matrices are the matrix less one count in one non-empty cell (at most k²
    distinct values, weighted by the cell counts; grouped, as below, for very many classes).
``mean``
    The per-row values are binned once and each replicate draws the bin counts (the binned
    bootstrap of :func:`~.resampling.bin_mean`, with what it approximates and its bound); the
    jackknife of a mean is closed-form, ``(S - xᵢ) / (n - 1)``, exact.
``rows``
    Any other metric: rows drawn with replacement and the metric's own ``compute`` on each
    resample. :func:`metric_interval` caps the replicates at ``2e7 / rows`` clipped to [100, 2000]
    (and says so in the interval's ``note``); BCa's acceleration comes from a grouped jackknife (20 groups
    of rows assigned at random with the seed, leave one group out), an estimate of the exact one.

``method="auto"``: for a metric that is a proportion of rows (accuracy, top-k accuracy: the
count of successes is known) with fewer than :data:`FEW` successes or failures, Wilson's
interval (the bootstrap collapses there: all rows right gives [1, 1]); otherwise BCa.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..core.errors import InvalidValueError
from .fastpaths import fast_path
from .intervals import Interval, bca_interval, percentile_interval, proportion_interval
from .methods import FEW, METHODS
from .resampling import bin_mean, generator, matrix_draws, resample_indices

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ..components.analysis import MetricData

__all__ = ["FEW", "METHODS", "ROW_BUDGET", "confusion_replicates", "metric_interval", "metric_replicates"]

ROW_BUDGET = 20_000_000
"""Row evaluations :func:`metric_interval` spends on a metric without a fast path (between
:data:`MIN_ROW_REPLICATES` and :data:`MAX_ROW_REPLICATES` replicates)."""
MIN_ROW_REPLICATES = 100
MAX_ROW_REPLICATES = 2000
JACKKNIFE_GROUPS = 20
JACKKNIFE_CELLS = 1 << 27
"""Cell evaluations above which the confusion path's jackknife is grouped instead of exact."""


def _selected(metric: MetricData, rows: Any) -> NDArray[Any] | None:
    import numpy as np

    if rows is None:
        return None
    rows = np.asarray(rows)
    index = np.flatnonzero(rows) if rows.dtype == bool else rows.astype(np.intp).ravel()
    if index.size == 0:
        raise InvalidValueError(f"metric {metric.key!r}: no rows selected for the bootstrap")
    return index


def _take(values: Any, index: NDArray[Any] | None) -> Any:
    if index is None:
        return values
    if isinstance(values, list):
        return [values[i] for i in index.tolist()]
    return values[index]


def _n_rows(metric: MetricData, index: NDArray[Any] | None) -> int:
    return len(metric.ids) if index is None else int(index.size)


class _Path(ABC):
    """One metric's bootstrap on its selected rows: estimate, replicates, jackknife."""

    note = ""
    proportion: tuple[int, int] | None = None

    def __init__(self, metric: MetricData, index: NDArray[Any] | None) -> None:
        self.metric, self.index = metric, index
        self.n = _n_rows(metric, index)
        self.output = metric.output or metric.info.primary

    def estimate(self) -> float:
        return self.metric.compute(self.index)

    @abstractmethod
    def replicates(self, n_boot: int, seed: int) -> NDArray[Any]:
        """``n_boot`` bootstrap replicates of the estimate, seeded."""

    @abstractmethod
    def jackknife(self, seed: int) -> tuple[NDArray[Any], NDArray[Any] | None]:
        """The jackknife values for BCa's acceleration, and their weights (``None``: equal)."""


class _ConfusionPath(_Path):
    def __init__(self, metric: MetricData, index: NDArray[Any] | None) -> None:
        import numpy as np

        super().__init__(metric, index)
        component = metric.component
        self.matrix, self.labels = component.confusion_of(_take(metric.predictions, index),
                                                          _take(metric.references, index))
        self.matrix = np.asarray(self.matrix, dtype=np.int64)
        proportion_of = getattr(component, "proportion_of", None)
        if proportion_of is not None:
            self.proportion = proportion_of(self.matrix, self.labels, **dict(metric.params))

    def _scores(self, matrices: NDArray[Any]) -> NDArray[Any]:
        import numpy as np

        outputs = self.metric.component.from_confusion_batch(matrices, self.labels, **dict(self.metric.params))
        return np.asarray(outputs[self.output], dtype=np.float64)

    def estimate(self) -> float:
        return float(self._scores(self.matrix[None])[0])

    def replicates(self, n_boot: int, seed: int) -> NDArray[Any]:
        import numpy as np

        return np.concatenate([self._scores(batch) for batch in matrix_draws(self.matrix, n_boot, seed)])

    def jackknife(self, seed: int) -> tuple[NDArray[Any], NDArray[Any] | None]:
        """Exact: one leave-one-out matrix per non-empty cell, weighted by its count (by batches of
        at most 2**22 cells); when that exceeds :data:`JACKKNIFE_CELLS` cell evaluations (many
        classes), a grouped jackknife on the matrix: each cell's count split at random into
        :data:`JACKKNIFE_GROUPS` groups (multinomially, with the seed), leave one group out."""
        import numpy as np

        if self.n < 2:
            return np.zeros(0), None
        flat = self.matrix.ravel()
        cells = np.flatnonzero(flat)
        if len(cells) * flat.size > JACKKNIFE_CELLS:
            return self._grouped_jackknife(seed), None
        step = max(1, (1 << 22) // flat.size)
        values = []
        for start in range(0, len(cells), step):
            part = cells[start:start + step]
            left_out = np.repeat(flat[None], len(part), axis=0)
            left_out[np.arange(len(part)), part] -= 1
            values.append(self._scores(left_out.reshape((len(part), *self.matrix.shape))))
        return np.concatenate(values), flat[cells]

    def _grouped_jackknife(self, seed: int) -> NDArray[Any]:
        import numpy as np

        groups = min(self.n, JACKKNIFE_GROUPS)
        rng = generator(seed + 1)
        flat = self.matrix.ravel()
        split = np.zeros((groups, flat.size), dtype=np.int64)
        for cell in np.flatnonzero(flat):
            split[:, cell] = rng.multinomial(int(flat[cell]), np.full(groups, 1.0 / groups))
        left_out = (flat[None] - split)
        keep = left_out.sum(axis=1) > 0
        return self._scores(left_out[keep].reshape((int(keep.sum()), *self.matrix.shape)))


class _MeanPath(_Path):
    def __init__(self, metric: MetricData, index: NDArray[Any] | None) -> None:
        import numpy as np

        super().__init__(metric, index)
        self.terms = np.asarray(metric.component.mean_terms(_take(metric.predictions, index),
                                                            _take(metric.references, index), **dict(metric.params)),
                                dtype=np.float64).ravel()
        self.binned = bin_mean(self.terms)
        if not self.binned.exact:
            self.note = (f"binned bootstrap of a mean ({len(self.binned.counts)} bins, the {len(self.binned.tail)} "
                         f"extreme rows drawn one by one; within-bin share of the variance "
                         f"{self.binned.within_share:.2g}, taken as normal)")
        probe = np.array([0.0, 0.25, 1.0])
        if np.array_equal(self.finish(probe), probe):
            hits = np.count_nonzero(self.terms == 1.0)
            if hits + np.count_nonzero(self.terms == 0.0) == self.terms.size:
                self.proportion = (int(hits), int(self.terms.size))

    def finish(self, means: Any) -> NDArray[Any]:
        import numpy as np

        finished = self.metric.component.from_means(np.asarray(means, dtype=np.float64), **dict(self.metric.params))
        return np.asarray(finished, dtype=np.float64)

    def estimate(self) -> float:
        return float(self.finish(self.binned.mean))

    def replicates(self, n_boot: int, seed: int) -> NDArray[Any]:
        return self.finish(self.binned.replicate_means(n_boot, seed))

    def jackknife(self, seed: int) -> tuple[NDArray[Any], NDArray[Any] | None]:
        import numpy as np

        if self.n < 2:
            return np.zeros(0), None
        return self.finish((self.terms.sum() - self.terms) / (self.n - 1)), None


class _RowPath(_Path):
    def _rows(self) -> NDArray[Any]:
        import numpy as np

        return np.arange(self.n) if self.index is None else self.index

    def _compute(self, rows: NDArray[Any]) -> float:
        try:
            return self.metric.compute(rows)
        except Exception:  # a resample on which the metric is undefined (one class only, ...)
            return float("nan")

    def replicates(self, n_boot: int, seed: int) -> NDArray[Any]:
        import numpy as np

        rows, rng = self._rows(), generator(seed)
        out = np.empty(n_boot)
        for b in range(n_boot):
            out[b] = self._compute(rows[resample_indices(rng, self.n, 1)[0]])
        return out

    def jackknife(self, seed: int) -> tuple[NDArray[Any], NDArray[Any] | None]:
        import numpy as np

        groups = min(self.n, JACKKNIFE_GROUPS)
        if groups < 2:
            return np.zeros(0), None
        rows = self._rows()
        assignment = generator(seed + 1).permutation(self.n) % groups
        values = np.array([self._compute(rows[assignment != g]) for g in range(groups)])
        return values, None


_PATHS: dict[str, type[_ConfusionPath | _MeanPath | _RowPath]] = {
    "confusion": _ConfusionPath, "mean": _MeanPath, "rows": _RowPath}


def _path(metric: MetricData, rows: Any) -> _Path:
    kind = fast_path(metric.component, metric.output, metric.info.primary)
    return _PATHS[kind](metric, _selected(metric, rows))


def metric_replicates(metric: MetricData, rows: Any = None, *, n_boot: int = 10_000, seed: int = 0) -> NDArray[Any]:
    """``n_boot`` bootstrap replicates of ``metric`` (its chosen output) on ``rows`` (an index or
    boolean mask over the aligned rows; ``None``: all), by its fastest path (module docstring).
    The same ``seed`` gives the same replicates; a replicate on which the metric is undefined is
    NaN."""
    if n_boot <= 0:
        raise InvalidValueError(f"n_boot must be positive, got {n_boot}")
    return _path(metric, rows).replicates(int(n_boot), int(seed))


def metric_interval(metric: MetricData, rows: Any = None, *, confidence: float = 0.95, method: str = "auto",
                    n_boot: int = 10_000, seed: int = 0) -> Interval:
    """A ``confidence`` interval for ``metric`` on ``rows``.

    ``method``: ``auto`` (module docstring), ``percentile``, ``bca``, or ``wilson`` /
    ``clopper_pearson`` for a metric that is a proportion of rows (accuracy, top-k accuracy);
    ``n_boot`` replicates (fewer for a metric without a fast path, said in ``note``).
    """
    if method not in METHODS:
        raise InvalidValueError(f"unknown interval method {method!r}: expected one of {', '.join(METHODS)}")
    if n_boot <= 0:
        raise InvalidValueError(f"n_boot must be positive, got {n_boot}")
    path = _path(metric, rows)
    if method in ("wilson", "clopper_pearson") or (method == "auto" and _few(path.proportion)):
        if path.proportion is None:
            raise InvalidValueError(f"metric {metric.key!r} ({metric.info.id}) is not a proportion of rows: method "
                             f"{method!r} needs one (use 'auto', 'percentile' or 'bca')")
        successes, n = path.proportion
        interval = proportion_interval(successes, n, confidence=confidence,
                                       method="wilson" if method == "auto" else method)
        if method != "auto":
            return interval
        return replace(interval, note=f"Wilson's interval: {successes} of {n} rows, fewer than {FEW} "
                                      f"{'successes' if successes < FEW else 'failures'} (the bootstrap collapses)")
    note = path.note
    if isinstance(path, _RowPath):
        cap = min(MAX_ROW_REPLICATES, max(MIN_ROW_REPLICATES, ROW_BUDGET // max(path.n, 1)))
        if n_boot > cap:
            note = (f"row resampling with the metric's own compute: {cap} replicates of the {n_boot} asked "
                    f"(capped at {ROW_BUDGET:.0e} / rows, clipped to [{MIN_ROW_REPLICATES}, {MAX_ROW_REPLICATES}])")
            n_boot = cap
    estimate = path.estimate()
    replicates = path.replicates(int(n_boot), int(seed))
    if method == "percentile":
        return percentile_interval(replicates, confidence=confidence, estimate=estimate, note=note)
    jackknife, weights = path.jackknife(int(seed))
    return bca_interval(replicates, estimate, jackknife, confidence=confidence, jackknife_weights=weights, note=note)


def _few(proportion: tuple[int, int] | None) -> bool:
    if proportion is None:
        return False
    successes, n = proportion
    return min(successes, n - successes) < FEW


def confusion_replicates(matrix: Any, labels: Any, metrics: Any, *, n_boot: int = 10_000,
                         seed: int = 0) -> list[dict[str, NDArray[Any]]]:
    """Replicates of several confusion-matrix metrics from **one** set of matrix draws:
    ``metrics`` is a sequence of ``(component, params)`` (each a :class:`~.fastpaths.ConfusionBootstrap`);
    returns, for each, every output's ``n_boot`` replicates (the draws of
    :func:`metric_replicates` with the same seed)."""
    import numpy as np

    metrics = [(component, dict(params)) for component, params in metrics]
    parts: list[dict[str, list[Any]]] = [{} for _ in metrics]
    for batch in matrix_draws(matrix, int(n_boot), int(seed)):
        for (component, params), collected in zip(metrics, parts):
            for name, values in component.from_confusion_batch(batch, labels, **params).items():
                collected.setdefault(name, []).append(values)
    return [{name: np.concatenate(values) for name, values in collected.items()} for collected in parts]
