"""Seeded bootstrap resamples: case weights, multinomial draws of a confusion matrix, and
the binned draws of a mean.

Every draw comes from ``numpy.random.default_rng(numpy.random.SeedSequence(seed))`` (PCG64):
the same seed gives the same numbers on every machine with the same numpy, and different
submissions scored with one seed see the same resamples of the cases (a paired bootstrap).
Draws are consumed in replicate order, so how they are chunked changes nothing. numpy older
than 1.17 (no ``Generator``) falls back to ``RandomState(seed)``: reproducible too, other numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.errors import InvalidValueError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["BinnedMean", "bin_mean", "case_weights", "generator", "matrix_draws", "resample_indices"]


def generator(seed: int) -> Any:
    """The random generator of ``seed``: PCG64 from a ``SeedSequence``, or ``RandomState`` on
    numpy < 1.17."""
    import numpy as np

    if hasattr(np.random, "default_rng"):
        return np.random.default_rng(np.random.SeedSequence(int(seed)))
    return np.random.RandomState(int(seed) % 2**32)


def _integers(rng: Any, high: int, size: Any, dtype: Any = None) -> Any:
    import numpy as np

    dtype = np.int64 if dtype is None else dtype
    if hasattr(rng, "integers"):
        return rng.integers(0, high, size=size, dtype=dtype)
    return rng.randint(0, high, size=size, dtype=dtype)


def resample_indices(rng: Any, n: int, count: int) -> NDArray[Any]:
    """``count`` resamples of ``n`` row indices with replacement, shape ``(count, n)``."""
    import numpy as np

    return np.asarray(_integers(rng, n, (count, n)))


def case_weights(n_cases: int, n_boot: int, seed: int, chunk: int = 256) -> Iterator[NDArray[Any]]:
    """The bootstrap resamples of ``n_cases`` cases as multinomial count vectors: arrays of shape
    ``(chunk, n_cases)`` (the last one shorter), ``n_boot`` rows in all, each row summing to
    ``n_cases``; row ``b`` counts how often each case is drawn in replicate ``b``.

    The same ``(n_cases, n_boot, seed)`` give the same vectors whatever ``chunk`` (draws are
    consumed in replicate order), so scoring every submission with them is a paired bootstrap.
    A weighted statistic ``Σ wᵢ xᵢ / n`` on row ``b`` is replicate ``b`` of the mean.
    """
    import numpy as np

    if n_cases <= 0 or n_boot <= 0 or chunk <= 0:
        raise InvalidValueError(f"case_weights needs n_cases, n_boot and chunk > 0, got {n_cases}, {n_boot}, {chunk}")
    rng = generator(seed)
    offsets = None
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        drawn = resample_indices(rng, n_cases, size)
        if offsets is None or len(offsets) != size:
            offsets = (np.arange(size) * n_cases)[:, None]
        counts = np.bincount((drawn + offsets).ravel(), minlength=size * n_cases)
        yield counts.reshape(size, n_cases)


def matrix_draws(matrix: Any, n_boot: int, seed: int, chunk: int = 2048) -> Iterator[NDArray[Any]]:
    """Bootstrap replicates of a count matrix (a confusion matrix), ``(chunk, *matrix.shape)``
    at a time: each replicate is one multinomial draw of the ``n`` counts over the cells with
    the observed cell frequencies, which is exactly the distribution of the matrix of ``n`` rows
    drawn with replacement. Only the non-empty cells are drawn (the others stay 0)."""
    import numpy as np

    counts = np.asarray(matrix, dtype=np.int64)
    chunk = max(1, min(chunk, (1 << 22) // max(counts.size, 1)))  # a batch holds at most 2**22 cells
    cells = np.flatnonzero(counts.ravel())
    total = int(counts.sum())
    if total <= 0:
        raise InvalidValueError("a bootstrap of an empty confusion matrix")
    probabilities = counts.ravel()[cells] / total
    rng = generator(seed)
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        drawn = rng.multinomial(total, probabilities, size=size)
        out = np.zeros((size, counts.size), dtype=np.int64)
        out[:, cells] = drawn
        yield out.reshape((size, *counts.shape))


@dataclass(frozen=True)
class BinnedMean:
    """Per-row values reduced for the binned bootstrap of a mean (:func:`bin_mean`): the count,
    mean and within-bin variance of each bin of the bulk, and the values of the extreme rows
    (``tail``), which replicates draw one by one.

    ``within_share`` is the share of the total sum of squares that lies within the bins (the only
    part the binned bootstrap approximates; 0 when the bootstrap is exact: every bin holds a
    single value, or every row is in ``tail``).
    """

    counts: NDArray[Any]
    means: NDArray[Any]
    variances: NDArray[Any]
    tail: NDArray[Any]
    n: int
    mean: float
    within_share: float

    @property
    def exact(self) -> bool:
        return self.within_share == 0.0

    def replicate_means(self, n_boot: int, seed: int, chunk: int = 1024) -> NDArray[Any]:
        """``n_boot`` bootstrap replicates of the mean (see :func:`bin_mean`)."""
        import numpy as np

        rng = generator(seed)
        bins = len(self.counts)
        probabilities = np.append(self.counts, float(len(self.tail))) / self.n
        spread = self.variances
        out = np.empty(n_boot)
        for start in range(0, n_boot, chunk):
            size = min(chunk, n_boot - start)
            drawn = rng.multinomial(self.n, probabilities, size=size)
            total = drawn[:, :bins] @ self.means
            if not self.exact:
                total += rng.standard_normal(size) * np.sqrt(drawn[:, :bins] @ spread)
            if len(self.tail):
                in_tail = drawn[:, bins]
                picked = self.tail[_integers(rng, len(self.tail), int(in_tail.sum()), np.int32)]
                total += np.bincount(np.repeat(np.arange(size), in_tail), weights=picked, minlength=size)
            out[start:start + size] = total / self.n
        return out


BINS = 512
"""Bins of the bulk in the binned bootstrap of a mean: quantile bins of the per-row values."""
TAIL = 2048
"""Rows at each end of the values that the binned bootstrap draws one by one (exactly)."""
EXACT_ROWS = 4 * TAIL
"""Up to this many rows, every row is drawn one by one: the plain bootstrap."""
_EDGE_SAMPLE = 1 << 16


def bin_mean(values: Any, bins: int = BINS) -> BinnedMean:
    """Reduce per-row values for the **binned bootstrap of a mean** (scales to any number of rows).

    Method. Up to :data:`EXACT_ROWS` rows, a replicate draws the rows themselves (the plain
    bootstrap). Beyond, the :data:`TAIL` lowest and the :data:`TAIL` highest values form the tail,
    and the other rows (the bulk) go into ``bins`` bins by value (edges at the quantiles of an
    evenly strided sample of 65,536 rows; equal values always share a bin). A replicate draws the
    counts of the bins and of the tail, ``N ~ Multinomial(n, c/n)``, which is *exactly* the
    distribution of those counts for ``n`` rows drawn with replacement; draws the tail's ``N_t``
    rows one by one (exact); and replaces the sum of the ``N_j`` values drawn in bin ``j`` by
    ``N_j m_j + sqrt(N_j v_j) Z`` (``m_j``, ``v_j``: the bin's mean and variance, ``Z ~ N(0, 1)``),
    the exact conditional mean and variance of that sum given ``N_j``.

    What it approximates, and the bound: each replicate mean has exactly the mean and variance of
    the row bootstrap's, and its distribution is exact when each bin holds a single value (few
    distinct values, e.g. 0/1 terms of an accuracy: ``within_share == 0``). Otherwise only the sum
    within the bins is taken as normal given the counts; it carries the share
    ``within_share = sum_j c_j v_j / sum_i (x_i - mean)²`` of the replicate's variance, so a
    replicate differs from an exact one with the same counts by a term whose standard deviation is
    ``sqrt(within_share)`` times the replicate's, and only that term's departure from normality
    (a sum of about ``n / bins`` values of one narrow bin, so close to normal) is not reproduced.
    The extremes, which dominate the variance of heavy-tailed values (squared errors), are exact:
    with the tail, ``within_share`` is about 4e-4 to 5e-3 for absolute, squared (t(5)) and log-loss
    errors on 3 million rows (it is reported in the interval's note).
    """
    import numpy as np

    x = np.asarray(values, dtype=np.float64).ravel()
    n = x.size
    if n == 0:
        raise InvalidValueError("a bootstrap of a mean over no rows")
    if not np.isfinite(x).all():
        raise InvalidValueError(f"the per-row values hold {int(np.count_nonzero(~np.isfinite(x)))} NaN or infinite "
                         f"value(s): their mean has no interval")
    mean = float(x.mean())
    if n <= EXACT_ROWS:
        empty = np.zeros(0)
        return BinnedMean(empty, empty, empty, x.copy(), n, mean, 0.0)
    order = np.argpartition(x, (TAIL, n - TAIL - 1))
    tail = np.concatenate([x[order[:TAIL]], x[order[n - TAIL:]]])
    bulk = x[order[TAIL:n - TAIL]]
    step = max(1, bulk.size // _EDGE_SAMPLE)
    edges = np.unique(np.quantile(bulk[::step], np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    which = np.searchsorted(edges, bulk, side="right")
    counts = np.bincount(which, minlength=len(edges) + 1).astype(np.float64)
    sums = np.bincount(which, weights=bulk, minlength=len(edges) + 1)
    keep = counts > 0
    means = np.zeros_like(sums)
    means[keep] = sums[keep] / counts[keep]
    centred = bulk - means[which]
    within = np.bincount(which, weights=centred * centred, minlength=len(edges) + 1)
    deviation = x - mean
    total_ss = float(deviation @ deviation)
    variances = np.zeros_like(within)
    variances[keep] = within[keep] / counts[keep]
    share = float(within.sum() / total_ss) if total_ss > 0 else 0.0
    if share < 1e-15:
        share, variances = 0.0, np.zeros_like(variances)
    return BinnedMean(counts[keep], means[keep], variances[keep], tail, n, mean, share)
