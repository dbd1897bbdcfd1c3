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

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["BinnedMean", "bin_mean", "case_weights", "generator", "matrix_draws", "resample_indices"]


def generator(seed: int) -> Any:
    """The random generator of ``seed``: PCG64 from a ``SeedSequence``, or ``RandomState`` on
    numpy < 1.17."""
    import numpy as np

    if hasattr(np.random, "default_rng"):
        return np.random.default_rng(np.random.SeedSequence(int(seed)))
    return np.random.RandomState(int(seed) % 2**32)  # pragma: no cover - numpy < 1.17


def _integers(rng: Any, high: int, size: Any) -> Any:
    if hasattr(rng, "integers"):
        return rng.integers(0, high, size=size)
    return rng.randint(0, high, size=size)  # pragma: no cover - numpy < 1.17


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
        raise ValueError(f"case_weights needs n_cases, n_boot and chunk > 0, got {n_cases}, {n_boot}, {chunk}")
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
    cells = np.flatnonzero(counts.ravel())
    total = int(counts.sum())
    if total <= 0:
        raise ValueError("a bootstrap of an empty confusion matrix")
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
    """Per-row values reduced to bins: the count, mean and within-bin variance of each bin.

    ``exact`` is true when every bin holds a single value (then the binned bootstrap is the
    exact row bootstrap); ``within_share`` is the share of the total sum of squares that lies
    within bins (the only part the binned bootstrap approximates, see :func:`bin_mean`).
    ``rows`` holds the values themselves when there are no more rows than bins: then the
    replicates draw rows (the plain bootstrap, cheaper than a multinomial over as many cells).
    """

    counts: NDArray[Any]
    means: NDArray[Any]
    variances: NDArray[Any]
    n: int
    mean: float
    within_share: float
    rows: NDArray[Any] | None = None

    @property
    def exact(self) -> bool:
        return self.within_share == 0.0

    def replicate_means(self, n_boot: int, seed: int, chunk: int = 2048) -> NDArray[Any]:
        """``n_boot`` bootstrap replicates of the mean (see :func:`bin_mean`)."""
        import numpy as np

        rng = generator(seed)
        probabilities = self.counts / self.n
        out = np.empty(n_boot)
        spread = np.sqrt(self.variances)
        for start in range(0, n_boot, chunk):
            size = min(chunk, n_boot - start)
            if self.rows is not None:
                out[start:start + size] = self.rows[resample_indices(rng, self.n, size)].mean(axis=1)
                continue
            drawn = rng.multinomial(self.n, probabilities, size=size)
            total = drawn @ self.means
            if not self.exact:
                total += rng.standard_normal(size) * np.sqrt(drawn @ (spread * spread))
            out[start:start + size] = total / self.n
        return out


BINS = 512
"""Bins of the binned bootstrap of a mean: quantile bins of the per-row values."""
_EDGE_SAMPLE = 1 << 16


def bin_mean(values: Any, bins: int = BINS) -> BinnedMean:
    """Bin per-row values for the **binned bootstrap of a mean** (scales to any number of rows).

    Method (with more rows than ``bins``; otherwise the rows themselves are drawn): the rows are
    put in ``bins`` bins by value (edges at the quantiles of an evenly strided sample of 65,536
    rows; rows of equal value always share a bin). A replicate draws
    the bin counts ``N ~ Multinomial(n, cᵢ/n)``, which is *exactly* the distribution of the bin
    counts of ``n`` rows drawn with replacement, and replaces the sum of the ``Nⱼ`` values drawn
    in bin ``j`` by ``Nⱼ mⱼ + √(Nⱼ vⱼ) Z`` (``mⱼ``, ``vⱼ``: the bin's mean and variance,
    ``Z ~ N(0, 1)``): the conditional mean and variance of that sum given ``Nⱼ``, exactly.

    What it approximates, and the bound: each replicate mean has exactly the mean and variance
    of the row bootstrap's (so the interval's width is right to Monte-Carlo error), and its
    distribution is exact when every bin holds one value (few distinct values, e.g. 0/1 terms of
    an accuracy: ``within_share == 0``). Otherwise only the within-bin part is taken as normal; it
    carries the share ``within_share = Σⱼ cⱼ vⱼ / Σᵢ (xᵢ - x̄)²`` of the replicate's variance, so
    a replicate differs from an exact one with the same bin counts by a term whose standard
    deviation is ``√within_share`` times the replicate's (512 quantile bins: typically < 0.1%
    of the variance, reported in the interval's note), and only that term's non-normality is
    not reproduced.
    """
    import numpy as np

    x = np.asarray(values, dtype=np.float64).ravel()
    n = x.size
    if n == 0:
        raise ValueError("a bootstrap of a mean over no rows")
    if n <= bins:
        mean = float(x.mean())
        return BinnedMean(np.ones(n), x.copy(), np.zeros(n), n, mean, 0.0, x.copy())
    step = max(1, n // _EDGE_SAMPLE)
    edges = np.unique(np.quantile(x[::step], np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    which = np.searchsorted(edges, x, side="right")
    counts = np.bincount(which, minlength=len(edges) + 1).astype(np.float64)
    sums = np.bincount(which, weights=x, minlength=len(edges) + 1)
    keep = counts > 0
    means = np.zeros_like(sums)
    means[keep] = sums[keep] / counts[keep]
    centred = x - means[which]
    within = np.bincount(which, weights=centred * centred, minlength=len(edges) + 1)
    mean = float(sums.sum() / n)
    total_ss = float(np.sum((x - mean) ** 2))
    variances = np.zeros_like(within)
    variances[keep] = within[keep] / counts[keep]
    share = float(within.sum() / total_ss) if total_ss > 0 else 0.0
    if share < 1e-15:
        share, variances = 0.0, np.zeros_like(variances)
    return BinnedMean(counts[keep], means[keep], variances[keep], n, mean, share)
