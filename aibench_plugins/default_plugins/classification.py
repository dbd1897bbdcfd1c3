"""Built-in classification metrics, computed from one confusion matrix.

numpy is imported when a metric is computed, not when the plugin loads, so that
loading the built-ins stays cheap.
"""

from __future__ import annotations

from typing import Any

from .._markers import hookimpl
from .._metric import metric

_AVERAGE = {
    "type": "object",
    "properties": {
        "average": {
            "enum": ["macro", "micro", "weighted"],
            "default": "macro",
            "description": "How per-class scores are combined, as in scikit-learn.",
        }
    },
    "additionalProperties": False,
}


def confusion_matrix(predictions: Any, references: Any) -> Any:
    """Confusion matrix (rows: reference class, columns: predicted class) over the
    union of labels seen in either array, sorted."""
    import numpy as np

    references = np.asarray(references)
    predictions = np.asarray(predictions)
    if references.shape != predictions.shape:
        raise ValueError(f"predictions have shape {predictions.shape} but references have shape {references.shape}")
    labels, codes = np.unique(np.concatenate([references, predictions]), return_inverse=True)
    n = len(labels)
    truth, pred = codes[: len(references)], codes[len(references):]
    return np.bincount(truth * n + pred, minlength=n * n).reshape(n, n)


@metric(id="aibench.accuracy", direction="maximize", bounds=(0.0, 1.0))
def accuracy(*, predictions: Any, references: Any) -> float:
    """Fraction of predictions equal to the reference label."""
    import numpy as np

    cm = confusion_matrix(predictions, references)
    return float(np.trace(cm) / cm.sum())


@metric(id="aibench.balanced_accuracy", direction="maximize", bounds=(0.0, 1.0))
def balanced_accuracy(*, predictions: Any, references: Any) -> float:
    """Mean per-class recall over the classes present in the references."""
    import numpy as np

    cm = confusion_matrix(predictions, references)
    support = cm.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(cm)[present] / support[present]))


@metric(id="aibench.f1", direction="maximize", bounds=(0.0, 1.0), params_schema=_AVERAGE)
def f1(*, predictions: Any, references: Any, average: str = "macro") -> float:
    """F1 score, averaged over classes; a class with no true and no predicted sample scores 0."""
    import numpy as np

    cm = confusion_matrix(predictions, references)
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    if average == "micro":
        return float(2 * tp.sum() / (predicted.sum() + actual.sum()))
    denominator = predicted + actual
    per_class = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    if average == "weighted":
        return float(np.average(per_class, weights=actual))
    return float(per_class.mean())


@hookimpl
def aibench_register_metrics(register: Any) -> None:
    for each in (accuracy, balanced_accuracy, f1):
        register(each)
