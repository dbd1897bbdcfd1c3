"""The built-in meter ``aibench.energy``: joules per query of a workload (and the reference's), a
block's joules, and ``unavailable`` with the reason here, where there is no RAPL and no GPU. The
counter is a fake whose energy grows with the work done (0.5 J a query) on top of a constant
idle power, so the numbers are exact whatever this machine's speed."""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from aibench_plugins import Hardware, InvalidParamsError, Kind, Measurement, MeterContext, PluginHost, Workload
from aibench_plugins.default_plugins.complexity.energy import EnergyMeter


class WorkCounter:
    """10 W of idle power plus the joules the workload adds."""

    name = "fake"
    tool = "fake counter"
    tool_version = "1"
    estimated = ""

    def __init__(self) -> None:
        self.work_j = 0.0

    def probe(self) -> str | None:
        return None

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def read(self) -> dict[str, float]:
        return {"board": 10.0 * time.monotonic() + self.work_j}

    def delta(self, before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
        return {k: after[k] - before[k] for k in after}


def workload(name: str, counter: WorkCounter, joules: float) -> Workload:
    def predict(query: Any) -> None:
        counter.work_j += joules

    return Workload(name, predict, [0, 1, 2])


QUICK = {"min_window_s": 0.05, "queries": 8}


def test_joules_per_query_idle_subtracted_with_the_reference() -> None:
    counter = WorkCounter()
    meter = EnergyMeter(counters=lambda params: [counter])
    context = MeterContext(workload("submission", counter, 0.5), workload("reference", counter, 0.25), Hardware())
    result = meter.measure(context, **QUICK)
    energy, power = result.measurement("energy"), result.measurement("power")
    assert energy is not None and power is not None
    assert energy.status == "measured" and energy.unit == "J/query" and energy.measured_by == "ingestion"
    assert energy.value == pytest.approx(0.5, rel=1e-3) and energy.reference == pytest.approx(0.25, rel=1e-3)
    assert energy.tool == "fake" and energy.tool_version == "fake counter 1"
    assert energy.details["queries_per_run"] == 8 and energy.details["idle_watts"] == pytest.approx(10.0, rel=1e-3)
    assert power.unit == "W" and power.value is not None and power.value > 0
    assert Measurement.from_json(json.loads(json.dumps(energy.to_json()))) == energy
    assert result.tables[0]["columns"] == ["domain", "active", "idle", "net"]


def test_a_block() -> None:
    counter = WorkCounter()
    meter = EnergyMeter(counters=lambda params: [counter])
    window = meter.open(MeterContext(None, None, Hardware()), min_window_s=0.05)
    counter.work_j += 3.0
    time.sleep(0.06)
    result = window.close()
    energy = result.measurement("energy")
    assert energy is not None and energy.unit == "J" and energy.value == pytest.approx(3.0, rel=1e-3)
    assert not energy.flagged


def test_here_energy_is_unavailable_with_the_reason(tmp_path: Path) -> None:
    meter = EnergyMeter()
    context = MeterContext(Workload("submission", lambda q: None, [0]), None, Hardware())
    result = meter.measure(context, powercap_root=str(tmp_path / "powercap"), nvml=False, **QUICK)
    energy = result.measurement("energy")
    assert energy is not None and energy.status == "unavailable" and energy.value is None
    assert energy.reason.startswith(f"no RAPL: {tmp_path / 'powercap'} does not exist")
    assert result.notes[0].startswith("Energy unavailable: no RAPL")
    none = meter.measure(context, rapl=False, nvml=False, **QUICK).measurement("energy")
    assert none is not None and none.status == "unavailable"


@pytest.mark.skipif(Path("/sys/class/powercap").exists(), reason="this machine has a powercap tree")
def test_on_this_machine_the_defaults_read_unavailable() -> None:
    result = EnergyMeter().measure(MeterContext(Workload("submission", lambda q: None, [0]), None, Hardware()),
                                   **QUICK)
    energy = result.measurement("energy")
    assert energy is not None and energy.status == "unavailable"
    assert "no RAPL: /sys/class/powercap does not exist" in energy.reason and "no NVML" in energy.reason


def test_no_workload_and_unknown_params() -> None:
    result = EnergyMeter().measure(MeterContext(None, None, Hardware()))
    assert {m.status for m in result.measurements} == {"unavailable"}
    with pytest.raises(InvalidParamsError, match="aibench.energy does not take window"):
        EnergyMeter().measure(MeterContext(None, None, Hardware()), window=2)


def test_registered_as_a_block_meter() -> None:
    from aibench_plugins import BlockMeter

    host = PluginHost(strict=True)
    host.register_plugin(importlib.import_module("aibench_plugins.default_plugins.complexity"), "aibench.complexity")
    meter = host.registry(Kind.COMPLEXITY).get("aibench.energy").component
    assert isinstance(meter, BlockMeter) and "block" in meter.info.accepts
    assert type(getattr(importlib.import_module(type(meter).__module__), type(meter).__qualname__)()) is EnergyMeter
