"""Complexity meters' library: the complexity room's public face.

What an organiser's ingestion program calls (:func:`measure` on the participant's model,
:func:`measure_block` around a block of code, :func:`hardware`), and the helpers meter authors
build on: parameters, MACs and FLOPs, peak memory, latency and the time ratio to a reference,
energy. Names are imported on first use, by module, so that ``import aibench_plugins.complexity``
in an ingestion program costs only what the call needs (no torch for a plain callable); the
modules behind them are not API.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "measure": ("BlockReport", "ComplexityReport", "measure", "measure_block"),
    "hardware": ("hardware",),
    "counting": ("BACKENDS", "DEFAULT_TOLERANCE", "PTFLOPS_MISSING", "CountCheck", "CountingError", "ParameterCount",
                 "count_flops", "count_macs", "count_parameters", "cross_check", "ptflops_version"),
    "memory": ("MemoryPeak", "PeakMemory"),
    "timing": ("TIMING_DEFAULTS", "TIMING_TOOL", "TIMING_TOOL_VERSION", "LatencyStats", "TimeRatio", "measure_latency",
               "time_ratio", "workload_device"),
    "energy": ("EnergyCounter", "EnergyReading", "EnergyWindow", "NvmlCounter", "RaplCounter", "default_counters",
               "measure_energy", "open_energy_window"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "BACKENDS",
    "BlockReport",
    "ComplexityReport",
    "CountCheck",
    "CountingError",
    "DEFAULT_TOLERANCE",
    "EnergyCounter",
    "EnergyReading",
    "EnergyWindow",
    "LatencyStats",
    "MemoryPeak",
    "NvmlCounter",
    "PTFLOPS_MISSING",
    "ParameterCount",
    "PeakMemory",
    "RaplCounter",
    "TIMING_DEFAULTS",
    "TIMING_TOOL",
    "TIMING_TOOL_VERSION",
    "TimeRatio",
    "count_flops",
    "count_macs",
    "count_parameters",
    "cross_check",
    "default_counters",
    "hardware",
    "measure",
    "measure_block",
    "measure_energy",
    "measure_latency",
    "open_energy_window",
    "ptflops_version",
    "time_ratio",
    "workload_device",
]

if TYPE_CHECKING:
    from .measure import BlockReport as BlockReport, ComplexityReport as ComplexityReport, measure as measure, measure_block as measure_block  # noqa: F401
    from .hardware import hardware as hardware  # noqa: F401
    from .counting import BACKENDS as BACKENDS, DEFAULT_TOLERANCE as DEFAULT_TOLERANCE, PTFLOPS_MISSING as PTFLOPS_MISSING, CountCheck as CountCheck, CountingError as CountingError, ParameterCount as ParameterCount, count_flops as count_flops, count_macs as count_macs, count_parameters as count_parameters, cross_check as cross_check, ptflops_version as ptflops_version  # noqa: F401
    from .memory import MemoryPeak as MemoryPeak, PeakMemory as PeakMemory  # noqa: F401
    from .timing import TIMING_DEFAULTS as TIMING_DEFAULTS, TIMING_TOOL as TIMING_TOOL, TIMING_TOOL_VERSION as TIMING_TOOL_VERSION, LatencyStats as LatencyStats, TimeRatio as TimeRatio, measure_latency as measure_latency, time_ratio as time_ratio, workload_device as workload_device  # noqa: F401
    from .energy import EnergyCounter as EnergyCounter, EnergyReading as EnergyReading, EnergyWindow as EnergyWindow, NvmlCounter as NvmlCounter, RaplCounter as RaplCounter, default_counters as default_counters, measure_energy as measure_energy, open_energy_window as open_energy_window  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


class _Face(types.ModuleType):
    """This package, whose ``hardware`` is the function :func:`hardware` even once its module
    ``hardware`` is imported: the import system sets a package's attribute to each submodule it
    imports, which here would hide the function of the same name."""

    def __setattr__(self, name: str, value: Any) -> None:
        if _MODULE_OF.get(name) == name and isinstance(value, types.ModuleType):
            return  # the function stays, or is fetched on first use (__getattr__)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Face
