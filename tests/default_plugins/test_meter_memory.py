"""The built-in meter aibench.memory, called as the prediction step calls it:
meter.measure(MeterContext(...)) on real torch models and callables, and as a block meter."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from aibench_plugins import BlockMeter, InvalidParamsError, Meter, MeterContext, Workload
from aibench_plugins.complexity import hardware
from aibench_plugins.default_plugins.complexity.memory import METERS, MemoryMeter

needs_procfs_reset = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux procfs only")


def hungry(mib: int) -> Any:
    """A callable that needs ``mib`` MiB resident while it runs."""
    def predict(query: Any) -> int:
        block = bytearray(mib * 2**20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        return len(block)

    return predict


def test_info_and_protocols() -> None:
    meter = METERS[0]()
    assert isinstance(meter, Meter) and isinstance(meter, BlockMeter)
    assert meter.info.id == "aibench.memory" and "block" in meter.info.accepts
    assert [s.pattern for s in meter.info.summaries] == ["peak_rss", "cuda.max_allocated"]


@needs_procfs_reset
def test_a_callable_and_its_reference() -> None:
    calls: list[int] = []

    def counted(query: Any) -> Any:
        calls.append(query)
        return hungry(48)(query)

    context = MeterContext(Workload("submission", counted, [1, 2, 3]), Workload("reference", hungry(8), [1]),
                           hardware())
    result = MemoryMeter().measure(context, queries=5)
    rss, cuda = result.measurement("peak_rss"), result.measurement("cuda.max_allocated")
    assert rss is not None and cuda is not None
    assert calls == [1, 2, 3, 1, 2]  # the queries cycled
    assert (rss.unit, rss.status, rss.measured_by, rss.step) == ("MiB", "measured", "ingestion", "prediction")
    assert rss.value is not None and rss.reference is not None
    assert rss.value - rss.details["rss_start_mib"] >= 44
    assert rss.reference - rss.details["reference_rss_start_mib"] < 30
    assert rss.details["queries"] == 5
    assert (cuda.status, cuda.value, cuda.unit) == ("unavailable", None, "MiB")
    assert cuda.reason


@needs_procfs_reset
def test_a_torch_model_without_cuda() -> None:
    import torch
    model = torch.nn.Linear(256, 256)

    def predict(query: Any) -> Any:
        with torch.inference_mode():
            return model(query)

    result = MemoryMeter().measure(MeterContext(Workload("submission", predict, [torch.randn(8, 256)], model=model),
                                                None, hardware()))
    rss, cuda = result.measurements
    assert rss.status == "measured" and rss.value is not None and rss.reference is None
    assert rss.details["queries"] == 16
    if not torch.cuda.is_available():
        assert cuda.status == "unavailable" and cuda.reason == ("no CUDA device here (torch.cuda.is_available() is "
                                                                "False)")
        assert cuda.tool_version == torch.__version__


def test_the_deadline_cuts_the_queries_short_with_a_note() -> None:
    context = MeterContext(Workload("submission", lambda q: q, [0]), None, hardware(), deadline=time.monotonic())
    result = MemoryMeter().measure(context, queries=1000)
    rss = result.measurement("peak_rss")
    assert rss is not None and rss.details["queries"] == 1
    assert result.notes == ("the submission workload predicted 1 of 1000 queries before the deadline",)


def test_no_queries_is_unavailable() -> None:
    result = MemoryMeter().measure(MeterContext(Workload("submission", lambda q: q, []), None, hardware()))
    assert all(m.status == "unavailable" and "no queries" in m.reason for m in result.measurements)


def test_params_are_checked() -> None:
    context = MeterContext(Workload("submission", lambda q: q, [0]), None, hardware())
    for bad in ({"queries": 0}, {"queries": True}, {"repeats": 3}):
        with pytest.raises(InvalidParamsError):
            MemoryMeter().measure(context, **bad)


@needs_procfs_reset
def test_block_window() -> None:
    context = MeterContext(None, None, hardware(), measured_by="ingestion")
    window = MemoryMeter().open(context)
    hungry(40)(None)
    result = window.close()
    rss, cuda = result.measurement("peak_rss"), result.measurement("cuda.max_allocated")
    assert rss is not None and cuda is not None
    assert rss.status == "measured" and rss.value is not None and rss.value - rss.details["rss_start_mib"] >= 36
    assert cuda.status == "unavailable"


def test_a_callable_workload_does_not_import_torch() -> None:
    """torch costs a few hundred MiB resident: a meter measuring a plain callable must not load it."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from aibench_plugins import MeterContext, Workload\n"
            "from aibench_plugins.complexity import hardware\n"
            "from aibench_plugins.default_plugins.complexity import macs, memory, params\n"
            "context = MeterContext(Workload('submission', lambda q: q, [1]), None, hardware())\n"
            "for meter in (memory.MemoryMeter(), params.ParamsMeter(), macs.MacsMeter()):\n"
            "    meter.measure(context)\n"
            "print('torch' in sys.modules, 'ptflops' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
