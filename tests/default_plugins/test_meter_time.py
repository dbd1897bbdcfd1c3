"""The built-in meter ``aibench.time``: the time ratio doubles when the work per query doubles,
its measurements carry their units, references and interval, and without a reference the ratio
is unavailable with the reason.

No assertion here reads an absolute time. The workloads are a compute loop of fixed size, the
slow one running it twice; the ratio compares them interleaved in rounds a few milliseconds long,
so a loaded machine slows both sides alike and the tolerances hold on a busy CI runner.
"""

from __future__ import annotations

import importlib
import json
import time
from typing import Any

import pytest

from aibench_plugins import (ComplexityResult, Hardware, InvalidParamsError, Kind, Measurement, MeterContext,
                             PluginHost, Workload)
from aibench_plugins.default_plugins.complexity.time import NAMES, NO_REFERENCE, TimeMeter

QUICK = {"min_duration_s": 0.3, "min_queries": 256, "throughput_queries": 64, "replicates": 500}


def loop(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def workload(name: str, repeats: int, size: int = 300) -> Workload:
    def predict(query: int) -> int:
        return sum(loop(query) for _ in range(repeats))

    return Workload(name, predict, [size] * 8)


def measure(sub: Workload | None, ref: Workload | None, **params: Any) -> ComplexityResult:
    return TimeMeter().measure(MeterContext(sub, ref, Hardware(), seed=1), **{**QUICK, **params})


def test_twice_the_work_reads_twice_the_ratio() -> None:
    same = measure(workload("submission", 1), workload("reference", 1)).measurement("time.ratio")
    twice = measure(workload("submission", 2), workload("reference", 1)).measurement("time.ratio")
    assert same is not None and twice is not None and same.value is not None and twice.value is not None
    assert same.value == pytest.approx(1.0, rel=0.2)
    assert twice.value / same.value == pytest.approx(2.0, rel=0.2)
    assert twice.low is not None and twice.high is not None and twice.low <= twice.value <= twice.high


def test_measurements_carry_units_references_and_provenance() -> None:
    result = measure(workload("submission", 1), workload("reference", 1))
    assert [m.name for m in result.measurements] == list(NAMES)
    units = {m.name: m.unit for m in result.measurements}
    assert units == {"time.ratio": "ratio", "time.ratio.low": "ratio", "time.ratio.high": "ratio",
                     "latency.first": "ms", "latency.p50": "ms", "latency.p90": "ms", "latency.p99": "ms",
                     "throughput": "queries/s"}
    ratio, low, high = (result.measurement(name) for name in ("time.ratio", "time.ratio.low", "time.ratio.high"))
    assert ratio and low and high and (low.value, high.value) == (ratio.low, ratio.high)
    for m in result.measurements:
        assert m.status == "measured" and m.measured_by == "ingestion" and m.step == "prediction"
        assert m.tool == "time.perf_counter_ns" and m.tool_version.startswith("Python ")
        assert m.value is not None and m.value > 0
        assert m.name.startswith("time.ratio") or m.reference is not None and m.reference > 0
        assert Measurement.from_json(json.loads(json.dumps(m.to_json()))) == m
    p50, p90, p99 = (result.measurement(f"latency.p{p}") for p in (50, 90, 99))
    assert p50 and p90 and p99 and p50.value <= p90.value <= p99.value  # type: ignore[operator]
    ratio = result.measurement("time.ratio")
    assert ratio is not None and ratio.details["rounds"] >= 10 and ratio.details["queries"] >= 256
    assert ratio.details["threads"] == (1 if "torch" in __import__("sys").modules else None)
    assert result.tables[0]["title"] == "Latency" and len(result.tables[0]["rows"]) == 5


def test_without_a_reference_the_ratio_is_unavailable_with_the_reason() -> None:
    result = measure(workload("submission", 1), None)
    ratio = result.measurement("time.ratio")
    assert ratio is not None and ratio.status == "unavailable" and ratio.value is None
    assert ratio.reason == NO_REFERENCE
    assert NO_REFERENCE == "no reference workload: the ingestion program's call to measure() gives none"
    p90 = result.measurement("latency.p90")
    assert p90 is not None and p90.status == "measured" and p90.value and p90.reference is None


def test_a_passed_deadline_or_no_workload_gives_unavailable_measurements() -> None:
    late = TimeMeter().measure(MeterContext(workload("submission", 1), None, Hardware(),
                                            deadline=time.monotonic() - 1))
    assert {m.status for m in late.measurements} == {"unavailable"}
    assert "time bound" in late.measurements[0].reason
    block = TimeMeter().measure(MeterContext(None, None, Hardware()))
    assert {m.status for m in block.measurements} == {"unavailable"} and "no workload" in block.measurements[0].reason


def test_a_short_run_is_flagged() -> None:
    result = measure(workload("submission", 1), workload("reference", 1), min_queries=10**9, min_duration_s=0.05,
                     max_duration_s=0.05)
    ratio = result.measurement("time.ratio")
    assert ratio is not None and ratio.flagged and "stopped at max_duration_s" in ratio.reason


def test_unknown_params_are_refused() -> None:
    with pytest.raises(InvalidParamsError, match="aibench.time does not take rounds"):
        measure(workload("submission", 1), None, rounds=3)


def test_registered_and_recreated_from_its_import_path() -> None:
    host = PluginHost(strict=True)
    host.register_plugin(importlib.import_module("aibench_plugins.default_plugins.complexity"), "aibench.complexity")
    meter = host.registry(Kind.COMPLEXITY).get("aibench.time").component
    again = getattr(importlib.import_module(type(meter).__module__), type(meter).__qualname__)()
    assert again.info == meter.info and again.info.runs_in == "prediction"
    assert again.info.summary_spec("latency.p99") is not None and again.info.summary_spec("time.ratio") is not None
