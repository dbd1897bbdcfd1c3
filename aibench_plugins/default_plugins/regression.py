"""Built-in regression metrics."""

from __future__ import annotations

from typing import Any

from .._markers import hookimpl
from .._metric import metric


def _errors(predictions: Any, references: Any) -> Any:
    import numpy as np

    predictions = np.asarray(predictions, dtype=float)
    references = np.asarray(references, dtype=float)
    if references.shape != predictions.shape:
        raise ValueError(f"predictions have shape {predictions.shape} but references have shape {references.shape}")
    return predictions - references


@metric(id="aibench.mae", direction="minimize", bounds=(0.0, None))
def mae(*, predictions: Any, references: Any) -> float:
    """Mean absolute error."""
    import numpy as np

    return float(np.mean(np.abs(_errors(predictions, references))))


@metric(id="aibench.mse", direction="minimize", bounds=(0.0, None))
def mse(*, predictions: Any, references: Any) -> float:
    """Mean squared error."""
    import numpy as np

    return float(np.mean(np.square(_errors(predictions, references))))


@metric(id="aibench.rmse", direction="minimize", bounds=(0.0, None))
def rmse(*, predictions: Any, references: Any) -> float:
    """Root mean squared error."""
    import numpy as np

    return float(np.sqrt(np.mean(np.square(_errors(predictions, references)))))


@metric(id="aibench.r2", direction="maximize", bounds=(None, 1.0))
def r2(*, predictions: Any, references: Any) -> float:
    """Coefficient of determination; 1 - SS_res / SS_tot, and 0 when the references are constant
    and the predictions are not exact, as in scikit-learn."""
    import numpy as np

    references = np.asarray(references, dtype=float)
    residual = float(np.sum(np.square(_errors(predictions, references))))
    total = float(np.sum(np.square(references - references.mean())))
    if total == 0.0:
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total


@hookimpl
def aibench_register_metrics(register: Any) -> None:
    for each in (mae, mse, rmse, r2):
        register(each)
