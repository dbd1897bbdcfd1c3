"""The built-in complexity meters, registered through the same hook as an organiser's own
(docs/complexity.md). Each meter's module is imported when the hook runs.

(Minimal version written by helper B for ``aibench.time`` and ``aibench.energy``; helper C1's
registers every built-in meter.)
"""

from __future__ import annotations

from typing import Any

from aibench_plugins import hookimpl


@hookimpl
def aibench_register_complexity_meters(register: Any) -> None:
    from .energy import EnergyMeter
    from .time import TimeMeter

    register(TimeMeter())
    register(EnergyMeter())
