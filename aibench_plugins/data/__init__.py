"""Tables, formats and the alignment on ids: the data room's public face.

Check and metric authors read submissions through these names (the built-in submission checks
do); the modules behind them (:mod:`.tables`, :mod:`.formats`, :mod:`.align`) are not API.
"""

from __future__ import annotations

from .groups import Grouping, group_rows
from .perturbations import RUN_STATUS_FILE, PerturbationError, PerturbationPlan, PerturbationRun
from .perturbations import known_names as perturbation_names
from .placement import Missing, missing_file
from .readers import *  # noqa: F403 - the face re-exports the readers' names
from .readers import __all__ as _readers_all

__all__ = [*_readers_all, "RUN_STATUS_FILE", "Grouping", "Missing", "PerturbationError", "PerturbationPlan", "PerturbationRun",
           "group_rows", "missing_file", "perturbation_names"]
