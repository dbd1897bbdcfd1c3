"""Built-in regression metrics, as mergeable states of sufficient statistics.

Every metric takes ``predictions`` and ``references`` of kind ``value``: one real
number per sample, as anything ``numpy.asarray(x, dtype=float)`` accepts (a list, an
array of shape ``(n,)`` or ``(n, 1)``, a pandas Series). NaN and infinite inputs are
rejected, naming the input and the first offending index.

A state reads each batch once, in cache-sized chunks, and keeps only sums, counts and
co-moments (combined with the parallel formula of Chan, Golub and LeVeque), so that
``update`` costs about one pass over the data, a state holds a few numbers whatever
the data size, and ``merge`` of shards gives the result of one pass up to rounding.
Spearman's correlation needs the ranks of all the data: its state keeps the values.

Conventions are scikit-learn's and scipy's, which the tests check on random inputs:

* ``aibench.r2`` is ``1 - SS_res / SS_tot``; with constant references it is 1.0 for
  exact predictions and 0.0 otherwise (scikit-learn's ``force_finite``), and NaN for
  fewer than two samples. Constant means exactly equal values: where scikit-learn's
  rounding makes ``SS_tot`` tiny but not zero (``[0.1, 0.1, 0.1]``), it returns a huge
  negative number and this metric returns the convention.
* ``aibench.mape`` divides by ``max(|reference|, eps)``, ``eps`` the float64 machine
  epsilon, and is a fraction (not a percentage), as in scikit-learn.
* ``aibench.pearson`` and ``aibench.spearman`` are NaN, as scipy's, when either input is
  constant or there are fewer than two samples; ties get average ranks.

The states derive from :class:`~aibench_plugins.components.stateful.MetricStateBase` and the
metrics are :class:`~aibench_plugins.components.stateful.StatefulMetric` factories (re-exported
here). numpy is imported when a metric is used, not when the plugin loads.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from aibench_plugins import InputSpec, MetricInfo, MetricInputError, MetricStateBase, StatefulMetric, hookimpl

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

__all__ = [
    "MeanOfRows",
    "MetricStateBase",
    "StatefulMetric",
    "mae",
    "mape",
    "mse",
    "pearson",
    "r2",
    "rmse",
    "spearman",
]

CHUNK = 1 << 15
"""Samples per chunk: two inputs and two work buffers of this many floats stay in the
CPU cache, so a batch is read from memory once whatever the statistics. Sums of
products use ``einsum``, not BLAS ``dot``, whose threads cost more than they save on
chunks this small."""


# -- regression states ------------------------------------------------------------------------

_VALUES = {
    "predictions": InputSpec("value", "float64", "n", "Predicted value of each sample."),
    "references": InputSpec("value", "float64", "n", "True value of each sample."),
}


def _pair(metric_id: str, predictions: Any, references: Any) -> tuple[FloatArray, FloatArray]:
    """Both inputs as 1-D float64 arrays of equal length."""
    import numpy as np

    arrays = []
    for name, value in (("predictions", predictions), ("references", references)):
        try:
            arrays.append(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError) as error:
            raise MetricInputError(f"{metric_id}: {name} must be numbers ({error})") from None
    p, r = arrays
    if p.shape != r.shape:
        raise MetricInputError(f"{metric_id}: predictions have shape {p.shape} but references have shape {r.shape}")
    if p.ndim == 2 and p.shape[1] == 1:
        p, r = p[:, 0], r[:, 0]
    if p.ndim != 1:
        raise MetricInputError(f"{metric_id}: expected one value per sample, shape (n,); got shape {p.shape}")
    return p, r


def _reject_non_finite(metric_id: str, p: FloatArray, r: FloatArray) -> None:
    """Raise naming the first NaN or infinite input (called only when a sum is not finite)."""
    import numpy as np

    for name, values in (("predictions", p), ("references", r)):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise MetricInputError(f"{metric_id}: {name} hold {bad.size} NaN or infinite value(s), the first at index "
                             f"{bad[0]} ({values[bad[0]]}); every value must be a finite number")


def _chunks(n: int) -> Iterator[slice]:
    for start in range(0, n, CHUNK):
        yield slice(start, min(start + CHUNK, n))


class _RegressionState(MetricStateBase):
    """Update = validate, then accumulate chunk by chunk into a batch state that is merged
    into this one only when it is finite, so a rejected batch leaves the state unchanged."""

    info: ClassVar[MetricInfo]

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.reset()

    def update(self, **inputs: Any) -> None:
        import numpy as np

        p, r = _pair(self.info.id, *self._inputs(inputs))
        if p.size == 0:
            return
        batch = type(self)(**self.params)
        work = np.empty(min(p.size, CHUNK)), np.empty(min(p.size, CHUNK))
        with np.errstate(all="ignore"):  # NaN and infinity are detected below, from the sums
            for part in _chunks(p.size):
                size = part.stop - part.start
                batch._accumulate(p[part], r[part], work[0][:size], work[1][:size])
        if not batch._finite():
            _reject_non_finite(self.info.id, p, r)
        self._merge(batch)

    def compute(self) -> dict[str, float]:
        if self._count() == 0:
            raise MetricInputError(f"{self.info.id}: compute() before any sample was given to update()")
        return self._scores(self._value())

    @abstractmethod
    def _accumulate(self, p: FloatArray, r: FloatArray, work: FloatArray, work2: FloatArray) -> None:
        """Add one chunk; ``work`` and ``work2`` are scratch buffers of the chunk's size."""
        ...

    @abstractmethod
    def _count(self) -> int:
        ...

    @abstractmethod
    def _finite(self) -> bool:
        ...

    @abstractmethod
    def _value(self) -> float:
        ...


class _SumState(_RegressionState):
    """A mean of one per-sample quantity: a count and a sum."""

    def reset(self) -> None:
        self.n = 0
        self.total = 0.0

    def _merge(self, other: _SumState) -> None:
        self.n += other.n
        self.total += other.total

    def _count(self) -> int:
        return self.n

    def _finite(self) -> bool:
        return math.isfinite(self.total)

    def _value(self) -> float:
        return self.total / self.n


class _MeanState(_SumState):
    """A mean of one per-row value, finished by :meth:`finish` (identity; RMSE: square root):
    the bootstrap's mean path (:class:`MeanOfRows`)."""

    @staticmethod
    @abstractmethod
    def terms(p: FloatArray, r: FloatArray) -> FloatArray:
        """The per-row values whose mean the metric is."""

    @staticmethod
    def finish(means: FloatArray) -> FloatArray:
        return means


class MAEState(_MeanState):
    info = MetricInfo(
        id="aibench.mae", direction="minimize", bounds=(0.0, None), version="2", inputs=_VALUES,
        description="Mean absolute error, mean of |prediction - reference|.",
    )

    def _accumulate(self, p: FloatArray, r: FloatArray, work: FloatArray, work2: FloatArray) -> None:
        import numpy as np

        np.subtract(p, r, out=work)
        np.abs(work, out=work)
        self.n += p.size
        self.total += float(np.add.reduce(work))

    @staticmethod
    def terms(p: FloatArray, r: FloatArray) -> FloatArray:
        import numpy as np

        return np.abs(p - r)


class MSEState(_MeanState):
    info = MetricInfo(
        id="aibench.mse", direction="minimize", bounds=(0.0, None), version="2", inputs=_VALUES,
        description="Mean squared error, mean of (prediction - reference)².",
    )

    def _accumulate(self, p: FloatArray, r: FloatArray, work: FloatArray, work2: FloatArray) -> None:
        import numpy as np

        np.subtract(p, r, out=work)
        self.n += p.size
        self.total += float(np.einsum("i,i->", work, work))

    @staticmethod
    def terms(p: FloatArray, r: FloatArray) -> FloatArray:
        d = p - r
        return d * d


class RMSEState(MSEState):
    info = MetricInfo(
        id="aibench.rmse", direction="minimize", bounds=(0.0, None), version="2", inputs=_VALUES,
        description="Root mean squared error, the square root of the mean squared error over all samples.",
    )

    def _value(self) -> float:
        return math.sqrt(self.total / self.n)

    @staticmethod
    def finish(means: FloatArray) -> FloatArray:
        import numpy as np

        return np.sqrt(means)


class MAPEState(_MeanState):
    info = MetricInfo(
        id="aibench.mape", direction="minimize", bounds=(0.0, None), inputs=_VALUES,
        description="""Mean absolute percentage error, as a fraction: mean of
            |prediction - reference| / max(|reference|, eps), eps the float64 machine epsilon
            (scikit-learn's convention: a zero reference gives a very large error, not infinity).""",
    )

    def _accumulate(self, p: FloatArray, r: FloatArray, work: FloatArray, work2: FloatArray) -> None:
        import numpy as np

        np.subtract(p, r, out=work)
        np.abs(work, out=work)
        np.abs(r, out=work2)
        np.maximum(work2, np.finfo(np.float64).eps, out=work2)
        np.divide(work, work2, out=work)
        self.n += p.size
        self.total += float(np.add.reduce(work))

    @staticmethod
    def terms(p: FloatArray, r: FloatArray) -> FloatArray:
        import numpy as np

        return np.abs(p - r) / np.maximum(np.abs(r), np.finfo(np.float64).eps)


def _chan(n_a: int, mean_a: float, n_b: int, mean_b: float) -> tuple[float, float, float]:
    """Merged mean, the difference of means, and ``n_a n_b / n`` (Chan et al. 1979)."""
    n = n_a + n_b
    delta = mean_b - mean_a
    return mean_a + delta * (n_b / n), delta, n_a * (n_b / n)


class _Constant:
    """Whether every value seen so far is equal (exactly), and to what."""

    def __init__(self) -> None:
        self.first = math.nan
        self.same = True

    def add(self, values: FloatArray, seen: int) -> None:
        if not self.same:
            return
        if seen == 0:
            self.first = float(values[0])
        self.same = bool((values == self.first).all())

    def merge(self, other: _Constant, seen: int, other_seen: int) -> None:
        if other_seen == 0:
            return
        if seen == 0:
            self.first, self.same = other.first, other.same
        else:
            self.same = self.same and other.same and self.first == other.first


class R2State(_RegressionState):
    info = MetricInfo(
        id="aibench.r2", direction="maximize", bounds=(None, 1.0), version="2", inputs=_VALUES,
        description="""Coefficient of determination, 1 - SS_res / SS_tot. With constant
            references it is 1.0 for exact predictions and 0.0 otherwise, and it is NaN for fewer than
            two samples, as in scikit-learn.""",
    )

    def reset(self) -> None:
        self.n = 0
        self.sse = 0.0
        self.mean = 0.0
        self.m2 = 0.0
        self.constant = _Constant()

    def _accumulate(self, p: FloatArray, r: FloatArray, work: FloatArray, work2: FloatArray) -> None:
        import numpy as np

        np.subtract(p, r, out=work)
        sse = float(np.einsum("i,i->", work, work))
        mean = float(np.add.reduce(r)) / r.size
        np.subtract(r, mean, out=work2)
        m2 = float(np.einsum("i,i->", work2, work2))
        self.constant.add(r, self.n)
        self._combine(r.size, sse, mean, m2)

    def _combine(self, n: int, sse: float, mean: float, m2: float) -> None:
        if self.n == 0:
            self.n, self.sse, self.mean, self.m2 = n, sse, mean, m2
            return
        self.mean, delta, weight = _chan(self.n, self.mean, n, mean)
        self.m2 += m2 + delta * delta * weight
        self.sse += sse
        self.n += n

    def _merge(self, other: R2State) -> None:
        if other.n:
            self.constant.merge(other.constant, self.n, other.n)
            self._combine(other.n, other.sse, other.mean, other.m2)

    def _count(self) -> int:
        return self.n

    def _finite(self) -> bool:
        return math.isfinite(self.sse) and math.isfinite(self.m2)

    def _value(self) -> float:
        if self.n < 2:
            return math.nan
        if self.constant.same or self.m2 == 0.0:
            return 1.0 if self.sse == 0.0 else 0.0
        return 1.0 - self.sse / self.m2


class PearsonState(_RegressionState):
    info = MetricInfo(
        id="aibench.pearson", direction="maximize", bounds=(-1.0, 1.0), inputs=_VALUES,
        description="""Pearson correlation coefficient between predictions and references;
            NaN when either is constant or there are fewer than two samples, as in scipy.""",
        citation="Pearson, K. (1895). Notes on regression and inheritance in the case of two parents. "
                 "Proceedings of the Royal Society of London, 58, 240-242.",
    )

    def reset(self) -> None:
        self.n = 0
        self.mean_p = self.mean_r = 0.0
        self.c_pr = self.m2_p = self.m2_r = 0.0
        self.constant_p, self.constant_r = _Constant(), _Constant()

    def _accumulate(self, p: FloatArray, r: FloatArray, work: FloatArray, work2: FloatArray) -> None:
        import numpy as np

        mean_p = float(np.add.reduce(p)) / p.size
        mean_r = float(np.add.reduce(r)) / r.size
        np.subtract(p, mean_p, out=work)
        np.subtract(r, mean_r, out=work2)
        moments = (float(np.einsum("i,i->", work, work2)), float(np.einsum("i,i->", work, work)),
                   float(np.einsum("i,i->", work2, work2)))
        self.constant_p.add(p, self.n)
        self.constant_r.add(r, self.n)
        self._combine(p.size, mean_p, mean_r, *moments)

    def _combine(self, n: int, mean_p: float, mean_r: float, c_pr: float, m2_p: float, m2_r: float) -> None:
        if self.n == 0:
            self.n, self.mean_p, self.mean_r, self.c_pr, self.m2_p, self.m2_r = n, mean_p, mean_r, c_pr, m2_p, m2_r
            return
        self.mean_p, delta_p, weight = _chan(self.n, self.mean_p, n, mean_p)
        self.mean_r, delta_r, _ = _chan(self.n, self.mean_r, n, mean_r)
        self.c_pr += c_pr + delta_p * delta_r * weight
        self.m2_p += m2_p + delta_p * delta_p * weight
        self.m2_r += m2_r + delta_r * delta_r * weight
        self.n += n

    def _merge(self, other: PearsonState) -> None:
        if other.n:
            self.constant_p.merge(other.constant_p, self.n, other.n)
            self.constant_r.merge(other.constant_r, self.n, other.n)
            self._combine(other.n, other.mean_p, other.mean_r, other.c_pr, other.m2_p, other.m2_r)

    def _count(self) -> int:
        return self.n

    def _finite(self) -> bool:
        return all(map(math.isfinite, (self.c_pr, self.m2_p, self.m2_r)))

    def _value(self) -> float:
        if self.n < 2 or self.constant_p.same or self.constant_r.same or self.m2_p == 0.0 or self.m2_r == 0.0:
            return math.nan
        norm = self.m2_p * self.m2_r
        # sqrt(x * x) == x exactly, so identical inputs give exactly 1; scale apart on over/underflow
        norm = math.sqrt(norm) if 0.0 < norm < math.inf else math.sqrt(self.m2_p) * math.sqrt(self.m2_r)
        return max(-1.0, min(1.0, self.c_pr / norm))


def average_ranks(values: Any) -> FloatArray:
    """Ranks from 1, tied values sharing the mean of their ranks (scipy's ``rankdata``)."""
    import numpy as np

    values = np.asarray(values)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    bounds = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1], [True])))
    starts, stops = bounds[:-1], bounds[1:]
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat((starts + stops + 1) / 2.0, stops - starts)
    return ranks


class SpearmanState(MetricStateBase):
    info = MetricInfo(
        id="aibench.spearman", direction="maximize", bounds=(-1.0, 1.0), inputs=_VALUES,
        description="""Spearman rank correlation: the Pearson correlation of the ranks, ties
            sharing their average rank; NaN when either input is constant or there are fewer than two
            samples, as in scipy. The state keeps every value (ranks need all the data).""",
        citation="Spearman, C. (1904). The proof and measurement of association between two things. "
                 "The American Journal of Psychology, 15(1), 72-101.",
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.reset()

    def reset(self) -> None:
        self.predictions: list[FloatArray] = []
        self.references: list[FloatArray] = []

    def update(self, **inputs: Any) -> None:
        import numpy as np

        p, r = _pair(self.info.id, *self._inputs(inputs))
        if not (np.isfinite(p).all() and np.isfinite(r).all()):
            _reject_non_finite(self.info.id, p, r)
        self.predictions.append(p.copy())
        self.references.append(r.copy())

    def _merge(self, other: SpearmanState) -> None:
        self.predictions.extend(other.predictions)
        self.references.extend(other.references)

    def compute(self) -> dict[str, float]:
        import numpy as np

        if not any(p.size for p in self.predictions):
            raise MetricInputError(f"{self.info.id}: compute() before any sample was given to update()")
        pearson = PearsonState()
        pearson.update(predictions=average_ranks(np.concatenate(self.predictions)),
                       references=average_ranks(np.concatenate(self.references)))
        return self._scores(pearson._value())


class MeanOfRows(StatefulMetric[Any]):
    """A metric that is a (finished) mean of one value per row: MAE, MSE, RMSE, MAPE. Besides
    being a :class:`StatefulMetric`, it gives the per-row values and the finish, the fast path of
    the bootstrap (``aibench_plugins.stats.MeanBootstrap``)."""

    def mean_terms(self, predictions: Any, references: Any, /, **params: Any) -> FloatArray:
        """The per-row values (|p - r|, (p - r)², ...), inputs checked as ``update`` checks them."""
        import numpy as np

        self.check_params(params)
        p, r = _pair(self.info.id, predictions, references)
        if not (np.isfinite(p).all() and np.isfinite(r).all()):
            _reject_non_finite(self.info.id, p, r)
        terms: FloatArray = self.state.terms(p, r)
        return terms

    def from_means(self, means: FloatArray, /, **params: Any) -> FloatArray:
        """The score from means of :meth:`mean_terms` (element-wise)."""
        finished: FloatArray = self.state.finish(means)
        return finished


mae = MeanOfRows(MAEState)
mse = MeanOfRows(MSEState)
rmse = MeanOfRows(RMSEState)
r2 = StatefulMetric(R2State)
mape = MeanOfRows(MAPEState)
pearson = StatefulMetric(PearsonState)
spearman = StatefulMetric(SpearmanState)


@hookimpl
def aibench_register_metrics(register: Any) -> None:
    for each in (mae, mse, rmse, r2, mape, pearson, spearman):
        register(each)

