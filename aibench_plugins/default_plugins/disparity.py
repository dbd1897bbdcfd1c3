"""The disparities of the fairness checker, fairlearn's way: the difference and the ratio of a
value over groups (``between_groups`` or ``to_overall``, as ``MetricFrame.difference`` and
``MetricFrame.ratio``), and bootstrap replicates of the binary rates of each group (a multinomial
draw of its four cells per replicate; numpy only, numpy 1.16+). Every function works on the last
axis, so one call serves a value per group and ``(n_boot, groups)`` replicates alike."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .group_counts import BinaryCounts

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["difference", "pooled_rate", "ratio", "rate_replicates", "safe_divide"]


def difference(values: Any, overall: Any, reference: str) -> Any:
    """fairlearn's ``difference``: max - min over the groups, or max |group - overall| (last axis)."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    if reference == "to_overall":
        over = np.asarray(overall, dtype=np.float64)
        over = over[..., None] if over.ndim else over
        result = np.abs(values - over).max(axis=-1)
    else:
        result = values.max(axis=-1) - values.min(axis=-1)
    return float(result) if np.ndim(result) == 0 else result


def ratio(values: Any, overall: Any, reference: str) -> Any:
    """fairlearn's ``ratio``: min / max over the groups, or min of (group / overall, inverted when over 1)."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if reference == "to_overall":
            over = np.asarray(overall, dtype=np.float64)
            over = over[..., None] if over.ndim else over
            ratios = values / over
            ratios = np.where(ratios > 1, 1 / ratios, ratios)
            result = ratios.min(axis=-1)
        else:
            result = values.min(axis=-1) / values.max(axis=-1)
    return float(result) if np.ndim(result) == 0 else result


def pooled_rate(counts: BinaryCounts, name: str) -> float:
    import numpy as np

    pooled = BinaryCounts(*(np.array([x.sum()]) for x in (counts.n, counts.positives, counts.selected,
                                                          counts.true_positives)))
    return float(pooled.rates()[name][0])


def rate_replicates(counts: BinaryCounts, n_boot: int, seed: int) -> dict[str, NDArray[Any]]:
    """Bootstrap replicates of each group's rates, (n_boot, groups), and of the pooled rates: the
    rows of each group resampled within it (one multinomial draw of its four cells: TP, FN, FP,
    TN, per replicate; numpy only)."""
    import numpy as np

    rng = np.random.RandomState(seed)  # numpy 1.16+; the same draws for every submission of one size
    tp, positives, selected, n = counts.true_positives, counts.positives, counts.selected, counts.n
    cells = np.stack([tp, positives - tp, selected - tp, n - positives - selected + tp], axis=1).astype(np.float64)
    draws = np.zeros((n_boot, len(n), 4), dtype=np.int64)
    for g in range(len(n)):
        if n[g] > 0:
            draws[:, g, :] = rng.multinomial(int(n[g]), cells[g] / n[g], size=n_boot)
    r_tp, r_fn, r_fp, r_tn = (draws[..., i] for i in range(4))
    total = {"selected": r_tp + r_fp}
    out = {"selected": (r_tp + r_fp).astype(np.float64),
           "selection_rate": safe_divide(r_tp + r_fp, n[None, :]),
           "true_positive_rate": safe_divide(r_tp, r_tp + r_fn), "false_positive_rate": safe_divide(r_fp, r_fp + r_tn)}
    sums = [x.sum(axis=1) for x in (r_tp, r_fn, r_fp, r_tn)]
    out["overall.selection_rate"] = safe_divide(total["selected"].sum(axis=1), n.sum())
    out["overall.true_positive_rate"] = safe_divide(sums[0], sums[0] + sums[1])
    out["overall.false_positive_rate"] = safe_divide(sums[2], sums[2] + sums[3])
    return out


def safe_divide(numerator: Any, denominator: Any) -> Any:
    """numerator / denominator as floats, 0 where the denominator is 0 (fairlearn's rates)."""
    import numpy as np

    num, den = np.broadcast_arrays(np.asarray(numerator, dtype=np.float64), np.asarray(denominator, dtype=np.float64))
    out = np.zeros(num.shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out if out.ndim else float(out)
