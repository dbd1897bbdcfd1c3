"""Per-example seeds: every submission sees the same perturbed input, whatever the row order.

The seed of example ``id`` is ``(seed + adler32(id as UTF-8)) mod 2**32``, as Dynabench seeds
its perturbations (``docs/perturbations.md``): a stable hash (never Python's ``hash()``, which is
salted per process), so the same entry seed and id give the same draws on every machine, in every
run, and the draws of one row never depend on the others. The generator is numpy's
``RandomState``, whose stream numpy keeps fixed across versions (NEP 19), where ``Generator``'s
may change.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["example_rng", "example_seed"]


def example_seed(seed: int, example_id: str) -> int:
    """``(seed + adler32(example_id)) mod 2**32``."""
    return (int(seed) + zlib.adler32(str(example_id).encode("utf-8"))) % (2 ** 32)


def example_rng(seed: int, example_id: str) -> np.random.RandomState:
    """The generator of one example (:func:`example_seed`)."""
    import numpy as np

    return np.random.RandomState(example_seed(seed, example_id))
