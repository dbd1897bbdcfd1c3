"""challengeR's ranking stability (Wiesenfarth et al., Sci Rep 11:2369, 2021), vectorised.

* **Bootstrap** of the test cases: each sample draws ``n`` cases with replacement (seeded
  ``numpy.random.default_rng(seed)``), the same samples for every submission (paired); every
  column and then every ranking function is re-applied to each sample (:func:`bootstrap_values`).
* **Rank distributions**: each submission's rank over the samples, ties ``min``: median and the
  ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles (numpy's default, R's type 7),
  and the count of each rank (the blob plot).
* **Kendall's tau** (tau-b, :func:`scipy.stats.kendalltau`) of each sample's ranking against the
  full-data ranking; samples where every submission ties are excluded (counted).
* **Pairwise tests**: one-sided Wilcoxon signed-rank tests paired by case
  (:func:`scipy.stats.wilcoxon` with ``method="asymptotic"``, continuity correction and zeros
  dropped: R's ``wilcox.test(paired=TRUE, exact=FALSE)`` as challengeR calls it), direction by the
  metric, for a single-column ranking whose metric has per-case values; otherwise the paired
  bootstrap test ``p = (1 + #{d_b <= 0}) / (B + 1)`` on the ranking's score difference ``d_b``.
  A pair whose per-case values are all equal has p = 1. Holm's correction over all
  ``s (s - 1)`` ordered pairs (challengeR's ``significanceMap`` default), at ``alpha``.
* **Paired-bootstrap differences**: for each ordered pair, the interval of the score difference
  (oriented so that positive means the row's submission is better) over the samples.
* **Tiers** (statistically tied groups): submissions in full-data rank order; the best starts
  tier 1 and leads it; each next submission joins the current tier unless the tier's leader is
  significantly better than it (Holm-adjusted p < alpha), in which case it starts a new tier and
  leads it. So a tier never holds a submission its leader significantly beats.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .cases import CaseColumn
from .ranking import Ranking

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["bootstrap_values", "holm", "kendall_taus", "pairwise", "rank_summary", "tiers",
           "wilcoxon_pvalues"]

Progress = Callable[[int], None]


def bootstrap_values(columns: Sequence[CaseColumn], n_boot: int, seed: int, *, chunk: int = 256,
                     progress: Progress | None = None) -> NDArray[Any]:
    """Every column of every submission on each bootstrap sample: shape (n_boot, submissions, columns)."""
    import numpy as np

    from ..stats import case_weights

    n = columns[0].n_cases
    out = np.empty((n_boot, len(columns[0].values), len(columns)))
    done = 0
    for weights in case_weights(n, n_boot, seed, chunk):
        for j, column in enumerate(columns):
            out[done:done + len(weights), :, j] = column.replicates(weights)
        done += len(weights)
        if progress is not None:
            progress(len(weights))
    return out


def rank_summary(ranks: NDArray[Any], confidence: float) -> dict[str, Any]:
    """Median, interval and counts of each submission's ranks ``ranks`` (b, s)."""
    import numpy as np

    tail = (1 - confidence) / 2
    low, median, high = np.quantile(ranks, [tail, 0.5, 1 - tail], axis=0)
    s = ranks.shape[1]
    counts = np.stack([np.bincount(ranks[:, i].astype(np.int64), minlength=s + 1)[1:] for i in range(s)])
    return {"median": median, "low": low, "high": high, "counts": counts}


def kendall_taus(ranks: NDArray[Any], full: NDArray[Any]) -> tuple[NDArray[Any], int]:
    """Kendall's tau-b of each sample's ranks against the full ranking, and how many samples were
    excluded because every submission ties there (or in the full ranking)."""
    import numpy as np
    from scipy.stats import kendalltau  # type: ignore[import-untyped]

    if np.all(full == full[0]):
        return np.empty(0), len(ranks)
    taus = []
    for row in ranks:
        if np.all(row == row[0]):
            continue
        taus.append(kendalltau(row, full).statistic)
    return np.asarray(taus, dtype=np.float64), len(ranks) - len(taus)


def holm(pvalues: NDArray[Any]) -> NDArray[Any]:
    """Holm's step-down adjusted p-values (R's ``p.adjust(method = "holm")``): sorted ascending,
    ``p_(k)`` becomes ``max_{j <= k} min(1, (m - j + 1) p_(j))``. NaN counts as 1."""
    import numpy as np

    p = np.where(np.isnan(pvalues), 1.0, np.asarray(pvalues, dtype=np.float64)).ravel()
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out.reshape(np.shape(pvalues))


@functools.cache
def _normal_approximation() -> str:
    """scipy's name for the normal approximation of the signed-rank statistic: ``asymptotic``
    (scipy >= 1.13), ``approx`` before (Debian 12 ships scipy 1.10)."""
    from scipy.stats import wilcoxon

    try:
        wilcoxon([1.0, 2.0, 3.0], method="asymptotic")
    except ValueError:
        return "approx"
    return "asymptotic"


def wilcoxon_pvalues(per_case: NDArray[Any], higher_better: bool, *, chunk: int = 256,
                     progress: Progress | None = None) -> NDArray[Any]:
    """``p[i, j]``: the one-sided Wilcoxon signed-rank p-value that submission ``i`` is better than
    ``j``, paired by case (module docstring); the diagonal is NaN."""
    import numpy as np
    from scipy.stats import wilcoxon

    s = per_case.shape[1]
    sign = 1.0 if higher_better else -1.0
    p = np.full((s, s), np.nan)
    first, second = np.triu_indices(s, k=1)
    for start in range(0, len(first), chunk):
        i, j = first[start:start + chunk], second[start:start + chunk]
        d = sign * (per_case[:, i] - per_case[:, j])
        moving = (d != 0).any(axis=0)
        greater, less = np.ones(len(i)), np.ones(len(i))
        if moving.any():
            with warnings.catch_warnings():  # the pairs without any difference are left out above
                warnings.simplefilter("ignore", RuntimeWarning)
                for out, alternative in ((greater, "greater"), (less, "less")):
                    out[moving] = wilcoxon(d[:, moving], axis=0, zero_method="wilcox", correction=True,
                                           alternative=alternative, method=_normal_approximation()).pvalue
        p[i, j], p[j, i] = greater, less
        if progress is not None:
            progress(len(i))
    return p


def pairwise(scores: NDArray[Any], higher_first: bool, confidence: float) -> dict[str, NDArray[Any]]:
    """From the (b, s) bootstrap scores of a ranking: ``low``/``high`` of the difference ``i - j``
    (positive: ``i`` better) and the one-sided paired-bootstrap p-value that ``i`` is better."""
    import numpy as np

    sign = 1.0 if higher_first else -1.0
    b, s = scores.shape
    tail = (1 - confidence) / 2
    low, high, p = (np.full((s, s), np.nan) for _ in range(3))
    for i in range(s):
        d = sign * (scores[:, i:i + 1] - scores)
        low[i], high[i] = np.quantile(d, [tail, 1 - tail], axis=0)
        p[i] = (1 + (d <= 0).sum(axis=0)) / (b + 1)
        low[i, i] = high[i, i] = p[i, i] = np.nan
    return {"low": low, "high": high, "p": p}


def tiers(order: Sequence[int], significant: NDArray[Any]) -> list[list[int]]:
    """Statistically tied groups (module docstring): ``order`` is the submissions best first,
    ``significant[i, j]`` whether ``i`` is significantly better than ``j``."""
    groups: list[list[int]] = []
    leader = -1
    for index in order:
        if not groups or significant[leader, index]:
            groups.append([index])
            leader = index
        else:
            groups[-1].append(index)
    return groups


def score_interval(scores: NDArray[Any], confidence: float) -> tuple[NDArray[Any], NDArray[Any]]:
    """The percentile interval of each submission's bootstrap scores (b, s)."""
    import numpy as np

    tail = (1 - confidence) / 2
    low, high = np.quantile(scores, [tail, 1 - tail], axis=0)
    return low, high


def per_case_of(ranking: Ranking, columns: Sequence[CaseColumn]) -> CaseColumn | None:
    """The column whose per-case values the Wilcoxon tests compare for ``ranking``, when it ranks by
    one column and that column's metric has per-case values."""
    if ranking.kind != "metric":
        return None
    column = next(c for c in columns if c.key == ranking.columns[0])
    return column if column.per_case is not None else None
