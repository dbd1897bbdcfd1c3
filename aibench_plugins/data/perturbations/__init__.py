"""Perturbations of the inputs a code submission's ingestion program feeds the model.

Image corruptions under their ImageNet-C names at severities 1-5 (:mod:`.images`), Gaussian
noise on tabular features scaled to each feature's sd (:mod:`.tabular`), and text perturbations
that need no model (:mod:`.text`); each example seeded by the entry's seed and a stable hash of its
id (:mod:`.seeding`), so every submission sees the same perturbed inputs whatever the row order.
:mod:`.spec` reads the manifest's declaration, :mod:`.files` writes a perturbed copy of the input
data folder. numpy is imported when a perturbation is applied, never at import.
"""

from __future__ import annotations

from ...core.errors import PerturbationError
from .files import perturb_folder, perturb_in_place, perturb_rows
from .seeding import example_rng, example_seed
from .spec import (
    COMPONENT_ID,
    RUN_STATUS_FILE,
    InputsSpec,
    PerturbationPlan,
    PerturbationRun,
    declared_plan,
    known_names,
)

__all__ = ["COMPONENT_ID", "RUN_STATUS_FILE", "InputsSpec", "PerturbationError", "PerturbationPlan", "PerturbationRun",
           "declared_plan", "example_rng", "example_seed", "known_names", "perturb_folder", "perturb_in_place",
           "perturb_rows"]
