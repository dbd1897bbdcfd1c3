"""The resource limits of ``aibench run``: the manifest's ``limits`` (the phase's override when it
has one), each field overridden by the command line's flag when given, and a refusal when the
executor cannot apply one.

Precedence, field by field (``time_limit_s``, ``memory_mb``, ``cpus``, ``pids``, ``gpus``): the
command line (``--memory-mb`` ...; the person running aibench decides, e.g. an organiser trying a
tighter limit), then the manifest's ``limits`` for the phase: ``phases.<phase>.limits`` when the
phase has one (it replaces the top-level section whole, as every phase override does), else the
top-level ``limits``. ``plugin_time_limit_s`` is the plugins' own and is not a process limit. Each limit is
applied to every process of every step (the participant's program, the ingestion program, the
scoring program); ``time_limit_s`` per process, on top of the phase's own execution time limit.
With ``--no-plugins`` and for a wrapped bundle (``aibench wrap``) the manifest is not read, as on
the platform: only the flags apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from ..core.errors import LimitsRefused

if TYPE_CHECKING:
    from codalab_worker_compat import ResourceLimits

    from ..components.executor import HostExecutor
    from .plan import PhasePlan

#: the manifest's limits that apply to processes
PROCESS_LIMITS = ("time_limit_s", "memory_mb", "cpus", "pids", "gpus")
_FLAGS = {"time_limit_s": "--time-limit-s", "memory_mb": "--memory-mb", "cpus": "--cpus", "pids": "--pids",
          "gpus": "--gpus"}


@dataclass(frozen=True)
class EffectiveLimits:
    """The limits of a run and where each came from (``limits.pids`` -> ``aibench.json /limits/pids``)."""

    limits: ResourceLimits
    sources: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """``{"memory_mb": {"value": 1024, "source": "aibench.json /limits/memory_mb"}, ...}``."""
        return {name: {"value": _plain(getattr(self.limits, name)), "source": source}
                for name, source in self.sources.items()}


def effective_limits(given: ResourceLimits | None, plan: PhasePlan | None, file: str | None) -> EffectiveLimits:
    """The run's limits: ``given`` (the command line) over those of the phase's ``plan`` (read
    from the manifest ``file``)."""
    from codalab_worker_compat import ResourceLimits

    from ..core.problems import pointer

    given = given or ResourceLimits()
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if plan is not None:
        for name in PROCESS_LIMITS:
            if plan.limits.get(name) is not None:
                values[name], sources[name] = plan.limits[name], f"{file} {pointer(*plan.limits_at, name)}"
    for item in fields(given):
        value = getattr(given, item.name)
        if value is not None:
            values[item.name], sources[item.name] = value, _FLAGS.get(item.name, item.name)
    return EffectiveLimits(ResourceLimits(**values), sources)


def check_limits(executor: HostExecutor, chosen: EffectiveLimits) -> None:
    """Raise :class:`LimitsRefused` when ``executor`` cannot apply one of ``chosen``'s limits."""
    refusals: list[str] = executor.limit_refusals(chosen.limits)
    if refusals:
        refused = {name: source for name, source in chosen.sources.items()
                   if any(f"the {name} limit" in r for r in refusals)}
        raise LimitsRefused(refusals, refused)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
