"""The confusion matrix that the confusion-matrix metrics share: :class:`Confusion`
accumulates one over batches and shards, :func:`confusion_matrix` counts one in a pass.

It is a k x k count matrix (rows: reference label, columns: predicted label, labels
sorted) that each batch adds to with ``numpy.bincount`` over the codes ``reference * k
+ prediction``: one bincount per batch, or, for integer labels in a small range (no
sort needed), one per block of 32768 rows, which keeps the codes in cache and halves
the time on large batches. The label set grows when a later batch, or a merged shard,
brings labels not seen before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aibench_plugins import MetricInputError
from .labels import Array, label_arrays, same_family

__all__ = ["MAX_LABELS", "Confusion", "confusion_matrix"]

MAX_LABELS = 10_000
"""The most labels a confusion matrix holds (10,000 labels: an 800 MB matrix)."""


def _count(predictions: Any, references: Any) -> tuple[Array, Array]:
    """(labels, matrix) of one batch: a bincount over the codes reference * k + prediction
    (one per block of rows for small integer labels, one in all for other labels)."""
    import numpy as np

    predicted, truth = label_arrays(predictions, references)
    if truth.size == 0:
        return truth, np.zeros((0, 0), dtype=np.int64)
    if predicted.dtype.kind in "biu" and truth.dtype.kind in "biu":
        counted = _count_integers(predicted, truth)
        if counted is not None:
            return counted
    labels, truth_codes, predicted_codes = _encode_labels(predicted, truth)
    k = len(labels)
    truth_codes *= k
    truth_codes += predicted_codes
    return labels, np.bincount(truth_codes, minlength=k * k).reshape(k, k)


def _encode_labels(predicted: Array, truth: Array) -> tuple[Array, Array, Array]:
    """(sorted labels, code of each reference, code of each prediction) for any labels
    (strings, floats, wide integers). A binary search among the few distinct labels,
    O(n log k), costs far less than sorting the rows: the labels of the first rows are
    the guess, and the labels that the guess misses are added (one more search)."""
    import numpy as np

    try:
        labels = np.unique(np.concatenate([truth[:_BLOCK], predicted[:_BLOCK]]))
        for _ in range(2):
            truth_codes, truth_missed = _lookup(labels, truth)
            predicted_codes, predicted_missed = _lookup(labels, predicted)
            if not (truth_missed.any() or predicted_missed.any()):
                return labels, truth_codes, predicted_codes
            labels = np.union1d(labels, np.concatenate([truth[truth_missed], predicted[predicted_missed]]))
            _check_size(len(labels))
    except TypeError as error:  # object arrays of numbers and strings
        raise MetricInputError(f"labels of mixed types cannot be ordered: {error}") from error
    raise MetricInputError("labels hold values equal to no label, such as NaN")


def _lookup(labels: Array, values: Array) -> tuple[Array, Array]:
    """Index of each value in the sorted ``labels``, and where the value is not there."""
    import numpy as np

    at = np.searchsorted(labels, values)
    np.minimum(at, len(labels) - 1, out=at)
    return at, labels[at] != values


_IDS = 256  # integer labels in [0, 256), the usual class ids, are their own codes
_BLOCK = 1 << 15  # rows per bincount: a block's codes stay in cache


def _count_integers(predicted: Array, truth: Array) -> tuple[Array, Array] | None:
    """The fast path for integer labels in a small range: no sort, the codes are
    (reference - low) * span + (prediction - low), and the labels of the range that no
    sample has are dropped from the span x span counts afterwards. It tries [0, 256)
    first, which needs no separate pass to find the range; None when the range is too
    wide (the caller searches the labels instead)."""
    import numpy as np

    if not (np.can_cast(predicted.dtype, np.intp) and np.can_cast(truth.dtype, np.intp)):
        return None  # uint64
    low, counts = 0, _count_in_range(predicted, truth, 0, _IDS)
    if counts is None:
        low = min(int(predicted.min()), int(truth.min()))
        span = max(int(predicted.max()), int(truth.max())) - low + 1
        if span * span > max(_IDS * _IDS, 2 * len(truth)) or abs(low) * (span + 1) >= 2**62:
            return None
        counts = _count_in_range(predicted, truth, low, span)
        assert counts is not None
    seen = np.flatnonzero(counts.any(axis=0) | counts.any(axis=1))
    _check_size(len(seen))
    labels = (seen + low).astype(predicted.dtype if predicted.dtype == truth.dtype else np.int64)
    return labels, counts[np.ix_(seen, seen)]


def _count_in_range(predicted: Array, truth: Array, low: int, span: int) -> Array | None:
    """span x span counts of the labels in [low, low + span), None if a label is outside.

    The rows go by blocks of ``_BLOCK``: range check, codes and bincount of a block
    work on data in cache, so each row is read from memory once. (One bincount over the
    codes of all rows costs twice as much on 10 million rows: it writes, then reads
    twice, an 8-byte code per row.)"""
    import numpy as np

    counts = np.zeros(span * span, dtype=np.int64)
    scratch = np.empty(min(len(truth), _BLOCK), dtype=np.intp)
    offset, factor = low * (span + 1), np.intp(span)  # an intp factor: uint8 labels times 256 do not wrap
    for start in range(0, len(truth), _BLOCK):
        t, p = truth[start:start + _BLOCK], predicted[start:start + _BLOCK]
        codes = scratch[:len(t)]
        if low == 0 and span == _IDS:  # one pass: negative labels are huge as unsigned
            np.bitwise_or(t, p, out=codes)
            if codes.view(np.uintp).max() >= span:
                return None
        elif min(int(t.min()), int(p.min())) < low or max(int(t.max()), int(p.max())) >= low + span:
            return None
        np.multiply(t, factor, out=codes)
        np.add(codes, p, out=codes)
        if offset:
            codes -= offset
        block = np.bincount(codes)
        counts[:len(block)] += block
    return counts.reshape(span, span)


def _check_size(k: int) -> int:
    if k > MAX_LABELS:
        raise MetricInputError(f"{k} distinct labels: more than the {MAX_LABELS} a confusion matrix holds "
                         f"(are these labels, or ids or scores?)")
    return k


class Confusion:
    """A confusion matrix accumulated over batches and shards: the state every
    confusion-matrix metric shares.

    ``matrix[i, j]`` counts the samples whose reference is ``labels[i]`` and whose
    prediction is ``labels[j]``; ``labels`` is sorted and holds every label seen so far
    (plus the ``labels`` given here, which appear even if no sample has them).
    """

    def __init__(self, labels: Sequence[Any] | None = None) -> None:
        self._fixed = None if labels is None else list(labels)
        self.reset()

    def reset(self) -> None:
        self._labels: Array | None = None
        self._matrix: Array | None = None
        if self._fixed is not None:
            import numpy as np

            fixed = np.unique(np.asarray(self._fixed))
            self._add(fixed, np.zeros((len(fixed), len(fixed)), dtype=np.int64))

    @property
    def labels(self) -> Array:
        import numpy as np

        return self._labels if self._labels is not None else np.zeros(0, dtype=np.int64)

    @property
    def matrix(self) -> Array:
        import numpy as np

        return self._matrix if self._matrix is not None else np.zeros((0, 0), dtype=np.int64)

    @property
    def samples(self) -> int:
        return int(self._matrix.sum()) if self._matrix is not None else 0

    def update(self, predictions: Any, references: Any) -> None:
        """Count one batch of predicted and reference labels (1-d, same length)."""
        labels, matrix = _count(predictions, references)
        if len(labels):
            self._add(labels, matrix)

    def merge(self, other: Confusion) -> None:
        """Add another accumulation (a shard) to this one."""
        if other._labels is not None and other._matrix is not None:
            self._add(other._labels, other._matrix)

    def _add(self, labels: Array, matrix: Array) -> None:
        import numpy as np

        if self._labels is None or self._matrix is None:
            self._labels, self._matrix = labels, matrix.astype(np.int64)  # a copy
            return
        same_family(self._labels, labels, "batches")
        if len(labels) == len(self._labels) and np.array_equal(labels, self._labels):
            self._matrix += matrix
            return
        union = np.union1d(self._labels, labels)
        _check_size(len(union))
        grown = np.zeros((len(union), len(union)), dtype=np.int64)
        for some, counts in ((self._labels, self._matrix), (labels, matrix)):
            at = np.searchsorted(union, some)
            grown[np.ix_(at, at)] += counts
        self._labels, self._matrix = union, grown


def confusion_matrix(predictions: Any, references: Any, labels: Sequence[Any] | None = None) -> tuple[Array, Array]:
    """``(matrix, labels)`` of one pass over the data: ``matrix[i, j]`` counts the samples
    whose reference is ``labels[i]`` and prediction ``labels[j]``. ``labels`` is the
    sorted union of the labels seen and of ``labels`` (which appear even if absent from
    the data; unlike scikit-learn's ``labels=``, no sample is dropped: each metric's
    ``labels`` param selects classes itself)."""
    confusion = Confusion(labels)
    confusion.update(predictions, references)
    return confusion.matrix, confusion.labels
