"""The complexity plan of a phase, built on the host (``aibench run``, ``aibench wrap``) from the
manifest and the plugin host: what :func:`aibench_plugins.complexity.measure` runs in the
prediction step (:mod:`aibench_plugins.complexity.plan` says the format and how it travels).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..complexity.plan import ComplexityPlan, PlanEntry, budget_for
from ..core.kinds import Kind

if TYPE_CHECKING:
    from ..core.host import PluginHost
    from ..manifest.loading import Manifest

__all__ = ["complexity_plan", "meter_modules"]


def complexity_plan(manifest: Manifest, host: PluginHost, phase_key: str | None,
                    time_limit_s: float) -> ComplexityPlan | None:
    """The plan of the phase whose ``phases`` key is ``phase_key``, whose execution time limit is
    ``time_limit_s``; ``None`` when none of its complexity entries runs in the prediction step (an
    entry whose meter is not registered is left out: validation reports it)."""
    registry = host.registry(Kind.COMPLEXITY)
    entries = []
    for entry in manifest.plan(phase_key).complexity:
        if entry.use not in registry:
            continue
        meter = registry.get(entry.use).component
        info = meter.info
        cls = type(meter)
        entries.append(PlanEntry(entry.key, entry.use, f"{cls.__module__}:{cls.__qualname__}", dict(entry.params),
                                 entry.seed, tuple(getattr(info, "accepts", ("model", "callable"))),
                                 tuple(getattr(info, "needs", ())), str(getattr(info, "runs_in", "prediction"))))
    if not any(e.runs_in == "prediction" for e in entries):
        return None
    return ComplexityPlan(manifest.sha256, tuple(entries), budget_for(time_limit_s), float(time_limit_s))


def meter_modules(plan: ComplexityPlan | None) -> list[str]:
    """The modules of the plan's prediction-side meters, each once, in plan order: what the
    prediction step imports (and a wrapped ingestion program's lib carries)."""
    if plan is None:
        return []
    return list(dict.fromkeys(e.module for e in plan.prediction_entries))
