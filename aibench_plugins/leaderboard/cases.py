"""Per-case results: each analysed leaderboard column as a function of case weights.

A bootstrap sample of the test cases is a vector ``w`` of counts (how often each case was
drawn, summing to ``n``). Every column here computes its metric, for every submission at once,
on a batch of such vectors (:meth:`CaseColumn.replicates`); the same vectors serve every
submission, so differences between submissions are paired. Three methods, fastest first:

``per_case``
    the metric is a (transformed) mean of per-case values: accuracy (correctness 0/1), MAE
    (absolute error), MSE (squared error), RMSE (the square root of the weighted mean squared
    error). One matrix product gives every replicate of every submission. The per-case values
    are also what the Wilcoxon signed-rank tests compare.
``confusion``
    a confusion-matrix metric (:class:`~aibench_plugins.default_plugins.classification.ConfusionMetric`:
    balanced accuracy, precision, recall, F1, MCC, Cohen's kappa): each case is one cell of the
    submission's matrix; a replicate's weighted matrix is one sparse product, and the metric's own
    ``from_confusion_batch`` computes its value on the whole batch of matrices at once
    (vectorised for the built-ins, equal to ``from_confusion`` matrix by matrix).
``recompute``
    any other metric: the component recomputed on the resampled rows (``np.repeat`` of the cases
    by their counts), once per replicate and submission. Slow; the analysis says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ..components.analysis import MetricData

__all__ = ["CaseColumn", "ConfusionColumn", "Method", "PerCaseColumn", "RecomputeColumn", "column_for"]

Method = Literal["per_case", "confusion", "recompute"]
Direction = Literal["maximize", "minimize"]

#: metrics that are means of per-case values: id -> (per-case value, transform of the mean)
_MEANS: dict[str, tuple[str, str | None]] = {
    "aibench.accuracy": ("correct", None),
    "aibench.mae": ("absolute_error", None),
    "aibench.mse": ("squared_error", None),
    "aibench.rmse": ("squared_error", "sqrt"),
}


@dataclass
class CaseColumn(ABC):
    """One leaderboard column of the phase, over the same ``n_cases`` cases for every submission.

    ``key``/``label``: the manifest column's; ``metric``: the component id; ``values``: its value
    on the full data per submission (the metric's own ``compute``, as ``aibench run`` gives it).
    """

    key: str
    label: str
    metric: str
    direction: Direction
    precision: int
    values: NDArray[Any]
    n_cases: int
    method: Method = "recompute"
    #: (n_cases, n_submissions) per-case values for the paired tests; ``None`` when the metric has none
    per_case: NDArray[Any] | None = None
    per_case_name: str | None = None

    @abstractmethod
    def replicates(self, weights: NDArray[Any]) -> NDArray[Any]:
        """The metric on each weighted sample: ``weights`` (b, n_cases) -> (b, n_submissions)."""

    def describe(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "metric": self.metric, "direction": self.direction,
                "precision": self.precision, "method": self.method, "per_case": self.per_case_name,
                "values": [float(v) for v in self.values]}


@dataclass
class PerCaseColumn(CaseColumn):
    """A mean of per-case values, optionally transformed (``sqrt`` for RMSE)."""

    transform: str | None = None

    def replicates(self, weights: NDArray[Any]) -> NDArray[Any]:
        import numpy as np

        assert self.per_case is not None
        means = (weights @ self.per_case) / weights.sum(axis=1, keepdims=True)
        return np.asarray(np.sqrt(means) if self.transform == "sqrt" else means, dtype=np.float64)


@dataclass
class ConfusionColumn(CaseColumn):
    """A confusion-matrix metric: ``cells[:, s]`` is the cell (reference code * k + predicted
    code) of each case in submission ``s``'s matrix, whose labels are ``labels[s]``."""

    cells: NDArray[Any] | None = None
    labels: Sequence[NDArray[Any]] = ()
    score: Callable[[NDArray[Any], NDArray[Any]], float] | None = None
    #: the metric on a batch of matrices at once (``ConfusionMetric.from_confusion_batch``)
    batch: Callable[[NDArray[Any], NDArray[Any]], NDArray[Any]] | None = None
    _onehot: Any = field(default=None, repr=False)

    def replicates(self, weights: NDArray[Any]) -> NDArray[Any]:
        import numpy as np

        assert self.cells is not None and self.score is not None
        sizes = [len(labels) ** 2 for labels in self.labels]
        starts = np.concatenate([[0], np.cumsum(sizes)])
        if self._onehot is None:
            from scipy import sparse  # type: ignore[import-untyped]

            n, count = self.cells.shape
            columns = (self.cells + starts[:-1][None, :]).ravel()
            rows = np.repeat(np.arange(n), count)
            self._onehot = sparse.csc_matrix((np.ones(len(rows)), (rows, columns)), shape=(n, int(starts[-1])))
        counts = np.asarray((self._onehot.T @ weights.T).T)  # (b, sum of k^2)
        out = np.empty((len(weights), len(self.labels)))
        for s, labels in enumerate(self.labels):
            k = len(labels)
            block = counts[:, starts[s]:starts[s + 1]].reshape(len(weights), k, k)
            if self.batch is not None:
                out[:, s] = self.batch(block, labels)
                continue
            for b in range(len(weights)):
                out[b, s] = self.score(block[b], labels)
        return out


@dataclass
class RecomputeColumn(CaseColumn):
    """Any metric, recomputed on the resampled rows (the slow path)."""

    data: Sequence[MetricData] = ()

    def replicates(self, weights: NDArray[Any]) -> NDArray[Any]:
        import numpy as np

        out = np.empty((len(weights), len(self.data)))
        cases = np.arange(self.n_cases)
        for b, w in enumerate(weights):
            rows = np.repeat(cases, w.astype(np.int64))
            for s, data in enumerate(self.data):
                out[b, s] = data.compute(rows)
        return out


def column_for(key: str, label: str, precision: int, data: Sequence[MetricData]) -> CaseColumn:
    """The fastest exact :class:`CaseColumn` for one metric column, from each submission's
    :class:`MetricData` (inputs aligned on the same reference ids, in the same order)."""
    import numpy as np

    first = data[0]
    info = first.info
    values = np.array([d.compute() for d in data], dtype=np.float64)
    common: dict[str, Any] = {"key": key, "label": label, "metric": info.id, "direction": first.direction,
                              "precision": precision, "values": values, "n_cases": len(first.ids)}
    output = first.output or info.primary
    if info.id in _MEANS and output == info.primary:
        name, transform = _MEANS[info.id]
        per_case = np.column_stack([_per_case(d, name) for d in data])
        return PerCaseColumn(**common, method="per_case", per_case=per_case, per_case_name=name,
                             transform=transform)
    from ..default_plugins.classification import ConfusionMetric

    if isinstance(first.component, ConfusionMetric):
        cells, labels = zip(*(_cells(d) for d in data))
        component, params = first.component, dict(first.params)

        def score(matrix: NDArray[Any], matrix_labels: NDArray[Any]) -> float:
            return float(component.from_confusion(matrix, matrix_labels, **params)[output])

        def batch(matrices: NDArray[Any], matrix_labels: NDArray[Any]) -> NDArray[Any]:
            return component.from_confusion_batch(matrices, matrix_labels, **params)[output]

        return ConfusionColumn(**common, method="confusion", cells=np.column_stack(cells), labels=list(labels),
                               score=score, batch=batch)
    return RecomputeColumn(**common, method="recompute", data=list(data))


def _per_case(data: MetricData, name: str) -> NDArray[Any]:
    import numpy as np

    if name == "correct":
        predicted, truth = _labels(data)
        return np.asarray(predicted == truth, dtype=np.float64)
    error = np.asarray(data.predictions, dtype=np.float64) - np.asarray(data.references, dtype=np.float64)
    return np.asarray(np.abs(error) if name == "absolute_error" else error * error, dtype=np.float64)


def _labels(data: MetricData) -> tuple[NDArray[Any], NDArray[Any]]:
    from ..default_plugins.classification.labels import label_arrays

    return label_arrays(data.predictions, data.references)


def _cells(data: MetricData) -> tuple[NDArray[Any], NDArray[Any]]:
    """Each case's cell in the submission's confusion matrix, and the matrix's labels (sorted)."""
    import numpy as np

    predicted, truth = _labels(data)
    labels, codes = np.unique(np.concatenate([truth, predicted]), return_inverse=True)
    codes = codes.reshape(-1)
    n = len(truth)
    return codes[:n] * len(labels) + codes[n:], labels
