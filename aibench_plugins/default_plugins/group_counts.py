"""Counts by group in one pass, for the fairness checker: the confusion matrix of every group of
rows from one ``numpy.bincount`` over the combined codes ``(group * k + reference) * k +
prediction``, and the binary rates (selection rate, true and false positive rates) that
fairlearn's parity measures compare, read off those matrices.

Integer labels in a small range are their own codes (no sort); other labels (strings, wide
integers) are looked up among the few distinct ones (a binary search). The rows go by blocks of
32768 so that each block's codes stay in cache, as the confusion matrix of the classification
metrics does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aibench_plugins import MetricInputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["BinaryCounts", "binary_counts", "confusion_by_group"]

_BLOCK = 1 << 15
_MAX_CELLS = 1 << 26  # groups x k x k counts held at once (512 MB of int64)


def _label_codes(predicted: NDArray[Any], truth: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], int]:
    """(labels, reference codes, prediction codes, offset): codes are positions among the labels
    after subtracting ``offset`` (integer labels: the smallest one; other labels: 0)."""
    import numpy as np

    if predicted.dtype.kind in "biu" and truth.dtype.kind in "biu" and len(truth):
        low = min(int(predicted.min()), int(truth.min()))
        high = max(int(predicted.max()), int(truth.max()))
        if high - low < 1024:
            return np.arange(low, high + 1), truth, predicted, low
    try:
        labels = np.unique(np.concatenate([truth, predicted]))
    except TypeError as error:
        raise MetricInputError(f"labels of mixed types cannot be ordered: {error}") from error
    t, p = np.searchsorted(labels, truth), np.searchsorted(labels, predicted)
    return labels, t, p, 0


def confusion_by_group(codes: NDArray[Any], n_groups: int, predictions: Any,
                       references: Any) -> tuple[NDArray[Any], NDArray[Any]]:
    """``(matrices, labels)``: ``matrices[g]`` is the confusion matrix (rows: references, columns:
    predictions, over ``labels``, sorted) of the rows whose group code is ``g``, all from one pass.
    Labels that no row has are left out."""
    import numpy as np

    predicted, truth = np.asarray(predictions), np.asarray(references)
    if predicted.ndim != 1 or truth.shape != predicted.shape or len(codes) != len(truth):
        raise MetricInputError(f"group counts need one predicted and one reference label per row (got shapes "
                               f"{predicted.shape} and {truth.shape} for {len(codes)} rows)")
    labels, t, p, offset = _label_codes(predicted, truth)
    k = len(labels)
    if n_groups * k * k > _MAX_CELLS:
        raise MetricInputError(f"{n_groups} groups x {k} labels: too many confusion-matrix cells to count by group")
    counts = np.zeros(n_groups * k * k, dtype=np.int64)
    scratch = np.empty(min(len(truth), _BLOCK), dtype=np.intp)
    shift = np.intp(offset * (k + 1))
    for start in range(0, len(truth), _BLOCK):
        g, tb, pb = codes[start:start + _BLOCK], t[start:start + _BLOCK], p[start:start + _BLOCK]
        block = scratch[:len(g)]
        np.multiply(g, k, out=block)
        np.add(block, tb, out=block)
        np.multiply(block, k, out=block)
        np.add(block, pb, out=block)
        if shift:
            np.subtract(block, shift, out=block)
        counted = np.bincount(block)
        counts[:len(counted)] += counted
    matrices = counts.reshape(n_groups, k, k)
    seen = np.flatnonzero(matrices.any(axis=(0, 1)) | matrices.any(axis=(0, 2)))
    if len(seen) < k:
        matrices, labels = matrices[:, seen][:, :, seen], labels[seen]
    return matrices, labels


class BinaryCounts:
    """Per group: rows ``n``, actual positives ``positives``, predicted positives ``selected``, true
    positives ``true_positives`` (arrays over groups, int64; a label other than the positive one
    is negative: one-vs-rest for more than two classes)."""

    def __init__(self, n: NDArray[Any], positives: NDArray[Any], selected: NDArray[Any],
                 true_positives: NDArray[Any]) -> None:
        self.n, self.positives, self.selected, self.true_positives = n, positives, selected, true_positives

    @property
    def false_positives(self) -> NDArray[Any]:
        import numpy as np

        return np.asarray(self.selected - self.true_positives)

    @property
    def negatives(self) -> NDArray[Any]:
        import numpy as np

        return np.asarray(self.n - self.positives)

    def rates(self) -> dict[str, NDArray[Any]]:
        """``selection_rate``, ``true_positive_rate``, ``false_positive_rate`` per group; a rate
        whose denominator is 0 is 0, as fairlearn's (scikit-learn's normalised confusion matrix)."""
        return {"selection_rate": _ratio(self.selected, self.n),
                "true_positive_rate": _ratio(self.true_positives, self.positives),
                "false_positive_rate": _ratio(self.false_positives, self.negatives)}

    def take(self, which: Any) -> BinaryCounts:
        """The counts of the groups ``which`` (an index or a mask)."""
        return BinaryCounts(self.n[which], self.positives[which], self.selected[which], self.true_positives[which])


def _ratio(numerator: Any, denominator: Any) -> Any:
    import numpy as np

    out = np.zeros(np.shape(numerator), dtype=np.float64)
    return np.divide(numerator, denominator, out=out, where=np.asarray(denominator) != 0, dtype=np.float64)


def binary_counts(matrices: NDArray[Any], labels: NDArray[Any], positive: Any) -> BinaryCounts:
    """The :class:`BinaryCounts` of each group's confusion matrix for the ``positive`` label (found
    among ``labels`` by its text, so ``"1"`` finds the label 1; a label absent from ``labels`` is
    never predicted nor true: every count of it is 0)."""
    import numpy as np

    n = matrices.sum(axis=(1, 2))
    where = [i for i, label in enumerate(labels.tolist()) if str(label) == str(positive)]
    if not where:
        zero = np.zeros_like(n)
        return BinaryCounts(n, zero, zero.copy(), zero.copy())
    at = int(where[0])
    return BinaryCounts(n, matrices[:, at, :].sum(axis=1), matrices[:, :, at].sum(axis=1), matrices[:, at, at].copy())
