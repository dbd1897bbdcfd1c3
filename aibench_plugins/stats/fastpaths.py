"""How a metric opts in to a fast bootstrap: two small protocols that a metric *component*
(the registered factory, ``MetricData.component``) implements.

The built-ins implement them: the confusion-matrix metrics of
``aibench_plugins.default_plugins.classification`` (accuracy, balanced accuracy, precision,
recall, F1, MCC, Cohen's kappa) are :class:`ConfusionBootstrap`; MAE, MSE, RMSE, MAPE, log loss
and top-k accuracy are :class:`MeanBootstrap`. A third-party metric opts in by defining the same
methods (no registration, no base class: the check is structural, ``isinstance`` of these
``runtime_checkable`` protocols); any other metric is bootstrapped by resampling rows and calling
its own ``compute`` (slower, so fewer replicates; see :mod:`.engine`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["ConfusionBootstrap", "MeanBootstrap", "fast_path"]


@runtime_checkable
class ConfusionBootstrap(Protocol):
    """A metric that is a function of the k x k confusion matrix (rows: references, columns:
    predictions)."""

    def confusion_of(self, predictions: Any, references: Any) -> tuple[NDArray[Any], NDArray[Any]]:
        """``(matrix, labels)`` of the rows given."""
        ...

    def from_confusion_batch(self, matrices: NDArray[Any], matrix_labels: Any = None, /,
                             **params: Any) -> Mapping[str, NDArray[Any]]:
        """Every output of the metric (as ``compute`` names them) on each matrix of a batch of
        shape ``(b, k, k)``: arrays of shape ``(b,)``, equal to the metric on each matrix alone.
        A matrix may have empty rows and columns (a class absent from a resample)."""
        ...


@runtime_checkable
class MeanBootstrap(Protocol):
    """A metric that is ``finish(mean of one value per row)``: MAE (|p - r|), MSE, RMSE
    (``finish = sqrt``), log loss (-log p of the true class), top-k accuracy (0/1 hits)."""

    def mean_terms(self, predictions: Any, references: Any, /, **params: Any) -> NDArray[Any]:
        """The per-row values, shape ``(n,)``, whose mean the metric finishes."""
        ...

    def from_means(self, means: NDArray[Any], /, **params: Any) -> NDArray[Any]:
        """The metric's primary output from means of ``mean_terms`` (element-wise; identity for
        a plain mean)."""
        ...


def fast_path(component: Any, output: str | None = None, primary: str | None = None) -> str:
    """``"confusion"``, ``"mean"`` or ``"rows"``: the bootstrap a metric gets. The mean path
    serves only the primary output (a ``MeanBootstrap`` metric has one number per row)."""
    if isinstance(component, ConfusionBootstrap):
        return "confusion"
    if isinstance(component, MeanBootstrap) and (output is None or output == primary):
        return "mean"
    return "rows"
