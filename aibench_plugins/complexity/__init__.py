"""Complexity meters' library: the complexity room's public face.

Minimal version written by helper A (counting, memory, hardware) so that its meters import
through the public face; helper C1's version (measure, measure_block, the plan, the file,
timing and energy) replaces it at merge, with the names below added to its ``_EXPORTS``.
Names are imported on first use, by module, so that ``import aibench_plugins.complexity`` costs
only what the call needs (no torch for a plain callable).
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "hardware": ("hardware",),
    "counting": ("BACKENDS", "DEFAULT_TOLERANCE", "PTFLOPS_MISSING", "CountCheck", "CountingError", "ParameterCount",
                 "count_flops", "count_macs", "count_parameters", "cross_check", "ptflops_version"),
    "memory": ("MemoryPeak", "PeakMemory"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)

if TYPE_CHECKING:
    from .counting import (BACKENDS as BACKENDS, DEFAULT_TOLERANCE as DEFAULT_TOLERANCE,
                           PTFLOPS_MISSING as PTFLOPS_MISSING, CountCheck as CountCheck, CountingError as CountingError,
                           ParameterCount as ParameterCount, count_flops as count_flops, count_macs as count_macs,
                           count_parameters as count_parameters, cross_check as cross_check,
                           ptflops_version as ptflops_version)
    from .hardware import hardware as hardware
    from .memory import MemoryPeak as MemoryPeak, PeakMemory as PeakMemory


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
    """This package, whose ``hardware`` is the function even once its module ``hardware`` is
    imported (the import system sets a package's attribute to each submodule it imports)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if _MODULE_OF.get(name) == name and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Face
