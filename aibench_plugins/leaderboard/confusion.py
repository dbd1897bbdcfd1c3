"""The built-in confusion-matrix metrics on a batch of matrices at once, (b, k, k) -> (b,).

The same formulas and conventions as :mod:`aibench_plugins.default_plugins.classification.confusion`
(scikit-learn's: zero division gives 0; classes absent from a matrix, neither predicted nor true,
are left out of its macro average; MCC 0 when undefined; balanced accuracy over the classes present
in the references), applied along a leading batch axis, so the paired bootstrap pays one numpy pass
per chunk of samples instead of one call per sample. :func:`batched` returns ``None`` for a metric
or params it does not cover (a ``labels`` list, weighted kappa, a plugin's metric): the caller then
calls the metric's own ``from_confusion`` per sample. Tests check every covered case against
``from_confusion``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["batched"]

Batch = Callable[["NDArray[Any]"], "NDArray[Any]"]


def batched(metric_id: str, params: Mapping[str, Any], output: str) -> Batch | None:
    """The batched form of a built-in confusion-matrix metric's ``output``, or ``None``."""
    if output != metric_id or params.get("labels") is not None:
        return None
    if metric_id == "aibench.accuracy":
        return _accuracy
    if metric_id == "aibench.balanced_accuracy":
        return _balanced_accuracy
    if metric_id == "aibench.mcc":
        return _mcc
    if metric_id == "aibench.cohen_kappa" and params.get("weights") is None:
        return _kappa
    ratio = {"aibench.precision": "precision", "aibench.recall": "recall", "aibench.f1": "f1"}.get(metric_id)
    if ratio is None:
        return None
    average = str(params.get("average", "macro"))
    return lambda counts: _averaged(counts, ratio, average)


def _divide(numerator: NDArray[Any], denominator: NDArray[Any]) -> NDArray[Any]:
    import numpy as np

    out = np.zeros(np.shape(numerator), dtype=np.float64)
    return np.asarray(np.divide(numerator, denominator, out=out, where=denominator != 0), dtype=np.float64)


def _accuracy(counts: NDArray[Any]) -> NDArray[Any]:
    import numpy as np

    return np.asarray(np.trace(counts, axis1=1, axis2=2) / counts.sum(axis=(1, 2)), dtype=np.float64)


def _balanced_accuracy(counts: NDArray[Any]) -> NDArray[Any]:
    import numpy as np

    support = counts.sum(axis=2)
    present = support > 0
    recall = _divide(np.diagonal(counts, axis1=1, axis2=2), support)
    return np.asarray((recall * present).sum(axis=1) / present.sum(axis=1), dtype=np.float64)


def _ratio(kind: str, tp: NDArray[Any], predicted: NDArray[Any], actual: NDArray[Any]) -> NDArray[Any]:
    if kind == "precision":
        return _divide(tp, predicted)
    if kind == "recall":
        return _divide(tp, actual)
    return _divide(2.0 * tp, actual + predicted)


def _averaged(counts: NDArray[Any], kind: str, average: str) -> NDArray[Any]:
    import numpy as np

    tp = np.diagonal(counts, axis1=1, axis2=2).astype(np.float64)
    predicted, actual = counts.sum(axis=1).astype(np.float64), counts.sum(axis=2).astype(np.float64)
    if average == "micro":
        return _ratio(kind, tp.sum(axis=1), predicted.sum(axis=1), actual.sum(axis=1))
    present = (predicted > 0) | (actual > 0)
    per_class = _ratio(kind, tp, predicted, actual)
    if average == "weighted":
        return np.asarray((per_class * actual).sum(axis=1) / actual.sum(axis=1), dtype=np.float64)
    return np.asarray((per_class * present).sum(axis=1) / present.sum(axis=1), dtype=np.float64)


def _mcc(counts: NDArray[Any]) -> NDArray[Any]:
    import numpy as np

    t_sum, p_sum = counts.sum(axis=2).astype(np.float64), counts.sum(axis=1).astype(np.float64)
    correct = np.trace(counts, axis1=1, axis2=2).astype(np.float64)
    samples = p_sum.sum(axis=1)
    cov_ytyp = correct * samples - (t_sum * p_sum).sum(axis=1)
    cov_ypyp = samples**2 - (p_sum * p_sum).sum(axis=1)
    cov_ytyt = samples**2 - (t_sum * t_sum).sum(axis=1)
    denominator = cov_ypyp * cov_ytyt
    return _divide(cov_ytyp, np.sqrt(denominator))


def _kappa(counts: NDArray[Any]) -> NDArray[Any]:
    """Unweighted kappa: 1 - observed / expected disagreement; absent classes add nothing to either."""
    import numpy as np

    matrix = counts.astype(np.float64)
    sum0, sum1 = matrix.sum(axis=1), matrix.sum(axis=2)
    total = sum0.sum(axis=1)
    expected = sum0[:, :, None] * sum1[:, None, :] / total[:, None, None]
    disagree = 1.0 - np.eye(matrix.shape[1])
    denominator = (disagree * expected).sum(axis=(1, 2))
    observed = (disagree * matrix).sum(axis=(1, 2))
    return np.where(denominator == 0, 0.0, 1.0 - _divide(observed, denominator))
