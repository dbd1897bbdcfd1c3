"""Gaussian noise on numeric tabular features, scaled to each feature's spread.

Feature ``j`` of a row gets ``N(0, (f_s * sd_j)^2)`` added, where ``sd_j`` is the population
standard deviation of column ``j`` over the whole declared file (so it does not depend on the row
order) and ``f_s`` the fraction of the severity: :data:`TABULAR_NOISE_SD`. A constant column
(``sd_j = 0``) is left as it is. With a declared ``range`` the values are clipped to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...core.errors import PerturbationError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["TABULAR_NOISE_SD", "TABULAR_PERTURBATIONS", "feature_scales", "gaussian_noise"]

#: the noise's sd as a fraction of each feature's sd, at severities 1..5
TABULAR_NOISE_SD = (0.1, 0.2, 0.3, 0.5, 1.0)
TABULAR_PERTURBATIONS = ("gaussian_noise",)


def feature_scales(matrix: NDArray[Any]) -> NDArray[Any]:
    """Each column's population standard deviation (``ddof=0``) over all rows."""
    import numpy as np

    scales: NDArray[Any] = np.asarray(matrix, dtype=float).std(axis=0)
    return scales


def gaussian_noise(row: NDArray[Any], scales: NDArray[Any], severity: int, rng: np.random.RandomState,
                   value_range: tuple[float, float] | None = None) -> NDArray[Any]:
    """One row with noise of sd ``TABULAR_NOISE_SD[severity - 1] * scales`` added (module docstring)."""
    import numpy as np

    if severity not in (1, 2, 3, 4, 5):
        raise PerturbationError(f"severity {severity!r} of gaussian_noise: severities are 1 to 5")
    sd = TABULAR_NOISE_SD[severity - 1] * scales
    noisy: NDArray[Any] = np.asarray(row, dtype=float) + rng.normal(size=len(scales)) * sd
    if value_range is not None:
        noisy = np.clip(noisy, value_range[0], value_range[1]).astype(float)
    return noisy
