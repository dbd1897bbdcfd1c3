"""The complexity room: the library under the complexity meters (latency and the time ratio,
energy counters), and the API an organiser's ingestion program calls.

(Minimal face written by helper B for the meters' own names; helper C1's public face, with
``measure`` and ``measure_block``, replaces it.) Names are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .energy import (EnergyCounter, EnergyReading, EnergyWindow, NvmlCounter, RaplCounter, default_counters,
                         measure_energy, open_energy_window)
    from .timing import (TIMING_DEFAULTS, TIMING_TOOL, TIMING_TOOL_VERSION, LatencyStats, TimeRatio,
                         measure_latency, time_ratio, workload_device)

_WHERE = {"LatencyStats": "timing", "TimeRatio": "timing", "measure_latency": "timing", "time_ratio": "timing",
          "workload_device": "timing", "TIMING_DEFAULTS": "timing", "TIMING_TOOL": "timing",
          "TIMING_TOOL_VERSION": "timing", "EnergyCounter": "energy", "EnergyReading": "energy",
          "NvmlCounter": "energy", "EnergyWindow": "energy", "default_counters": "energy", "RaplCounter": "energy",
          "measure_energy": "energy", "open_energy_window": "energy"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EnergyCounter",
    "EnergyReading",
    "EnergyWindow",
    "LatencyStats",
    "NvmlCounter",
    "RaplCounter",
    "TIMING_DEFAULTS",
    "TIMING_TOOL",
    "TIMING_TOOL_VERSION",
    "TimeRatio",
    "default_counters",
    "measure_energy",
    "measure_latency",
    "open_energy_window",
    "time_ratio",
    "workload_device",
]
