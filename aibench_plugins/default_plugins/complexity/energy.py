"""The built-in meter ``aibench.energy``: energy in joules from the hardware's counters.

RAPL (powercap sysfs: CPU packages and their DRAM) and NVML's total-energy counter (NVIDIA GPUs,
Volta and newer; older GPUs: power x time, ``estimated``), over windows of at least
``min_window_s`` (the workload repeated until the window is long enough), an idle window's power
subtracted. Every measurement says ``measured``, ``estimated`` or ``unavailable`` with the reason:
never a silent estimate. How: :mod:`aibench_plugins.complexity.energy`, docs/complexity.md.

Measurements: ``energy`` (joules per query of a model or callable workload, ``J/query``; joules
of a block, ``J``), with the reference's per query as ``reference``, and ``power`` (W, net of
idle, over the active window).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aibench_plugins import (ComplexityInfo, ComplexityResult, InvalidParamsError, Measurement, MeterContext,
                             SummarySpec, Workload)
from aibench_plugins.complexity import (EnergyCounter, EnergyReading, EnergyWindow, NvmlCounter, RaplCounter,
                                       measure_energy, open_energy_window)

__all__ = ["EnergyMeter"]

PARAMS: Mapping[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "powercap_root": {"type": "string", "minLength": 1, "default": "/sys/class/powercap",
                          "description": "Where the powercap (RAPL) sysfs tree is."},
        "rapl": {"type": "boolean", "default": True, "description": "Read the CPU's RAPL counters."},
        "nvml": {"type": "boolean", "default": True, "description": "Read the NVIDIA GPUs' NVML counters."},
        "min_window_s": {"type": "number", "exclusiveMinimum": 0, "default": 1.0,
                         "description": "Seconds at least of each window (the counters update every 1-100 ms)."},
        "idle": {"type": "boolean", "default": True,
                 "description": "Subtract the idle power, measured in the same process before the active window."},
        "queries": {"type": "integer", "minimum": 1, "default": 256,
                    "description": "Queries in one run of a workload (cycled); the run is repeated to fill the "
                                   "window, energy is reported per query."},
    },
}
_DEFAULTS = {name: spec["default"] for name, spec in PARAMS["properties"].items()}
CounterFactory = Callable[[Mapping[str, Any]], Sequence[EnergyCounter]]


def counters_for(params: Mapping[str, Any]) -> list[EnergyCounter]:
    """The counters the params name: RAPL at ``powercap_root``, NVML through ``pynvml``."""
    counters: list[EnergyCounter] = []
    if params["rapl"]:
        counters.append(RaplCounter(params["powercap_root"]))
    if params["nvml"]:
        counters.append(NvmlCounter())
    return counters


class EnergyMeter:
    """``aibench.energy``: a workload's energy per query, or a block's energy.

    :param counters: makes the counters from the entry's params (default :func:`counters_for`);
        tests give fakes. The prediction step constructs the meter without arguments.
    """

    info = ComplexityInfo(
        id="aibench.energy",
        description="Energy in joules from RAPL (CPU packages and DRAM, powercap sysfs) and NVML's total-energy "
                    "counter (NVIDIA GPUs), over windows of at least 1 s, idle power subtracted; measured, estimated "
                    "(power x time) or unavailable, always with the reason.",
        params_schema=PARAMS,
        summaries=(SummarySpec("energy", "minimize", "joules per query (a block: joules), idle subtracted"),
                   SummarySpec("power", "minimize", "watts above idle over the active window")),
        runs_in="prediction",
        accepts=("model", "callable", "block"),
    )

    def __init__(self, counters: CounterFactory | None = None) -> None:
        self._counters = counters or counters_for

    def _params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params) - set(PARAMS["properties"]))
        if unknown:
            raise InvalidParamsError(f"aibench.energy does not take {', '.join(unknown)}; it takes "
                                     f"{', '.join(PARAMS['properties'])}.")
        return {**_DEFAULTS, **params}

    def measure(self, context: MeterContext, **params: Any) -> ComplexityResult:
        """The submission's energy per query (and the reference's, when there is one).

        :raises InvalidParamsError: a parameter the schema does not know.
        """
        options = self._params(params)
        if context.submission is None:
            reason = "no workload: measure a block with measure_block(), a model or callable with measure()"
            return ComplexityResult(tuple(_measurement(context, name, None, unit, status="unavailable", reason=reason)
                                          for name, unit in (("energy", "J/query"), ("power", "W"))))
        reading = self._workload(context.submission, options, context.deadline)
        reference = None if context.reference is None else self._workload(context.reference, options,
                                                                           context.deadline)
        return _result(context, reading, reference, "J/query", options["queries"])

    def _workload(self, workload: Workload, options: Mapping[str, Any], deadline: float | None) -> EnergyReading:
        predict, queries, count = workload.predict, workload.queries, options["queries"]

        def run() -> None:
            for i in range(count):
                predict(queries[i % len(queries)])

        return measure_energy(run, counters=self._counters(options), min_window_s=options["min_window_s"],
                              idle=options["idle"], deadline=deadline)

    def open(self, context: MeterContext, **params: Any) -> _Block:
        """Start measuring a block (an idle window of ``min_window_s`` first).

        :raises InvalidParamsError: a parameter the schema does not know.
        """
        options = self._params(params)
        window = open_energy_window(counters=self._counters(options), min_window_s=options["min_window_s"],
                                    idle=options["idle"])
        return _Block(context, window)


class _Block:
    """An open block window of :class:`EnergyMeter`."""

    def __init__(self, context: MeterContext, window: EnergyWindow) -> None:
        self._context, self._window = context, window

    def close(self) -> ComplexityResult:
        return _result(self._context, self._window.close(), None, "J", None)


def _measurement(context: MeterContext, name: str, value: float | None, unit: str, **fields: Any) -> Measurement:
    return Measurement(name=name, value=value, unit=unit, measured_by=context.measured_by, step="prediction",
                       **fields)


def _result(context: MeterContext, reading: EnergyReading, reference: EnergyReading | None, unit: str,
            queries: int | None) -> ComplexityResult:
    per = queries or 1
    tool = "+".join(reading.sources)
    version = "; ".join(reading.tools)
    common = {"status": reading.status, "reason": reading.reason, "flagged": reading.flagged, "tool": tool,
              "tool_version": version}
    if reading.joules is None:
        measurements = (_measurement(context, "energy", None, unit, **common),
                        _measurement(context, "power", None, "W", **common))
        return ComplexityResult(measurements, notes=(f"Energy {reading.status}: {reading.reason}.",))
    details = {"window_s": reading.window_s, "idle_window_s": reading.idle_window_s, "idle_watts": reading.idle_watts,
               "repeats": reading.repeats, "queries_per_run": queries, "gross_joules_per_run": reading.gross_joules,
               "domains": {k: dict(v) for k, v in reading.domains.items()}, "sources": list(reading.sources)}
    ref_energy = None if reference is None or reference.joules is None else reference.joules / per
    ref_power = None if reference is None else reference.watts
    measurements = (
        _measurement(context, "energy", reading.joules / per, unit, reference=ref_energy, details=details, **common),
        _measurement(context, "power", reading.watts, "W", reference=ref_power,
                     details={"window_s": reading.window_s, "idle_watts": reading.idle_watts}, **common),
    )
    rows = [[label, round(v["active_j"], 4), round(v["idle_j"], 4), round(v["net_j"], 4)]
            for label, v in reading.domains.items()]
    table = {"title": "Energy by domain (J over the active window)", "columns": ["domain", "active", "idle", "net"],
             "rows": rows}
    note = (f"Energy {reading.status} by {tool} over {reading.window_s:.2f} s ({reading.repeats} runs), idle "
            + (f"{reading.idle_watts:.2f} W subtracted." if reading.idle_watts is not None else "not subtracted."))
    return ComplexityResult(measurements, (table,), (note,))
METERS = (EnergyMeter,)
