"""PeakMemory (aibench_plugins.complexity.memory): the RSS high-water mark of a window on this
machine's /proc, the fallbacks where it cannot be reset (fake procfs directories), nested windows,
and the CUDA path with a fake ``torch.cuda`` object (no GPU here: not checked on a GPU)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aibench_plugins import UsageError
from aibench_plugins.complexity import MemoryPeak, PeakMemory

PROC_SELF = Path("/proc/self")
needs_procfs_reset = pytest.mark.skipif(not (PROC_SELF / "clear_refs").exists(), reason="Linux procfs only")


def touch(mib: int) -> bytearray:
    block = bytearray(mib * 2**20)
    for i in range(0, len(block), 4096):  # every page resident
        block[i] = 1
    return block


@needs_procfs_reset
def test_peak_of_the_window_sees_a_block_freed_inside_it() -> None:
    with PeakMemory() as window:
        block = touch(64)
        del block
    peak = window.result
    assert peak is not None and peak.rss_status == "measured" and peak.rss_reason == ""
    assert peak.rss_start_mib is not None and peak.rss_mib is not None
    assert peak.rss_mib - peak.rss_start_mib >= 60


@needs_procfs_reset
def test_the_reset_forgets_what_came_before_the_window() -> None:
    block = touch(96)
    del block
    with PeakMemory() as window:
        pass
    peak = window.result
    assert peak is not None and peak.rss_status == "measured"
    assert peak.rss_start_mib is not None and peak.rss_mib is not None
    assert peak.rss_mib - peak.rss_start_mib < 16  # the 96 MiB freed before it are not this window's


def fake_proc(tmp_path: Path, hwm_kb: int, rss_kb: int, *, writable: bool) -> Path:
    proc = tmp_path / "self"
    proc.mkdir()
    (proc / "status").write_text(f"Name:\tpython\nVmPeak:\t 900000 kB\nVmHWM:\t{hwm_kb:>8} kB\nVmRSS:\t{rss_kb:>8} kB\n")
    if writable:
        (proc / "clear_refs").write_text("")
    else:
        (proc / "clear_refs").mkdir()  # writing it fails as a read-only procfs does (an OSError)
    return proc


def test_a_mark_that_cannot_be_reset_is_the_peak_since_process_start(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, hwm_kb=512_000, rss_kb=102_400, writable=False)
    peak = PeakMemory(proc_self=proc).start().stop()
    assert (peak.rss_mib, peak.rss_start_mib) == (500.0, 100.0)
    assert peak.rss_status == "estimated"
    assert peak.rss_reason.startswith("the high-water mark could not be reset (")
    assert peak.rss_reason.endswith("peak since process start")


def test_a_kernel_that_ignores_the_reset_is_detected(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, hwm_kb=512_000, rss_kb=102_400, writable=True)
    window = PeakMemory(proc_self=proc).start()
    assert (proc / "clear_refs").read_text() == "5"
    peak = window.stop()
    assert peak.rss_status == "estimated" and "did not reset" in peak.rss_reason
    assert "peak since process start" in peak.rss_reason


def test_a_reset_that_took_effect_is_measured(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, hwm_kb=102_400, rss_kb=102_400, writable=True)
    window = PeakMemory(proc_self=proc).start()
    (proc / "status").write_text("VmHWM:\t  204800 kB\nVmRSS:\t  110000 kB\n")  # what the window used
    peak = window.stop()
    assert (peak.rss_mib, peak.rss_status) == (200.0, "measured")


def test_without_proc_status_the_process_peak_from_getrusage(tmp_path: Path) -> None:
    peak = PeakMemory(proc_self=tmp_path / "absent").start().stop()
    assert peak.rss_status == "estimated" and peak.rss_reason.endswith("peak since process start")
    assert peak.rss_mib is not None and peak.rss_mib > 1 and peak.rss_start_mib is None


def test_an_inner_window_makes_the_outer_one_say_so(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, hwm_kb=102_400, rss_kb=102_400, writable=True)
    outer = PeakMemory(proc_self=proc).start()
    inner = PeakMemory(proc_self=proc).start()
    assert inner.stop().rss_status == "measured"
    peak = outer.stop()
    assert peak.rss_status == "estimated" and "another window reset the high-water mark" in peak.rss_reason


def test_a_window_is_used_once() -> None:
    window = PeakMemory()
    with pytest.raises(UsageError, match="before start"):
        window.stop()
    window.start()
    first = window.stop()
    assert window.stop() is first
    with pytest.raises(UsageError, match="already started"):
        window.start()


class FakeCuda:
    """The parts of torch.cuda PeakMemory uses, for two devices: allocations in MiB per device."""

    def __init__(self, available: bool = True, devices: int = 2) -> None:
        self.available, self.devices = available, devices
        self.peak = [0] * devices
        self.calls: list[tuple[str, int]] = []

    def is_available(self) -> bool:
        return self.available

    def device_count(self) -> int:
        return self.devices

    def synchronize(self, device: int) -> None:
        self.calls.append(("synchronize", device))

    def reset_peak_memory_stats(self, device: int) -> None:
        self.calls.append(("reset", device))
        self.peak[device] = 0

    def max_memory_allocated(self, device: int) -> int:
        self.calls.append(("max", device))
        return self.peak[device]


def test_cuda_max_allocated_after_a_reset_summed_over_devices() -> None:
    cuda = FakeCuda()
    cuda.peak = [999 * 2**20, 999 * 2**20]  # before the window: forgotten by the reset
    window = PeakMemory(cuda=cuda).start()
    assert ("reset", 0) in cuda.calls and ("reset", 1) in cuda.calls
    cuda.peak = [300 * 2**20, 12 * 2**20 + 2**19]
    peak = window.stop()
    assert (peak.cuda_mib, peak.cuda_status) == (312.5, "measured")
    assert peak.cuda_devices == {"cuda:0": 300.0, "cuda:1": 12.5}
    assert "summed over 2 devices" in peak.cuda_reason
    assert cuda.calls[-2:] == [("synchronize", 1), ("max", 1)]
    rss, cuda_measurement = peak.measurements("ingestion")
    assert (cuda_measurement.name, cuda_measurement.unit, cuda_measurement.value) == ("cuda.max_allocated", "MiB", 312.5)
    assert cuda_measurement.tool == "torch.cuda.max_memory_allocated"
    assert cuda_measurement.details == {"devices": {"cuda:0": 300.0, "cuda:1": 12.5}}


def test_one_cuda_device_has_no_reason() -> None:
    cuda = FakeCuda(devices=1)
    window = PeakMemory(cuda=cuda).start()
    cuda.peak = [64 * 2**20]
    peak = window.stop()
    assert (peak.cuda_mib, peak.cuda_status, peak.cuda_reason) == (64.0, "measured", "")


def test_no_cuda_device_is_unavailable_with_the_reason() -> None:
    peak = PeakMemory(cuda=FakeCuda(available=False)).start().stop()
    assert (peak.cuda_mib, peak.cuda_status) == (None, "unavailable")
    assert peak.cuda_reason == "no CUDA device here (torch.cuda.is_available() is False)"


def test_a_failing_cuda_is_unavailable_with_what_it_said() -> None:
    class Broken(FakeCuda):
        def max_memory_allocated(self, device: int) -> int:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")

    peak = PeakMemory(cuda=Broken()).start().stop()
    assert peak.cuda_status == "unavailable" and "illegal memory access" in peak.cuda_reason


def test_measurements_carry_the_reference() -> None:
    def peak(rss: float, cuda: float | None) -> MemoryPeak:
        return MemoryPeak(rss, "measured", "", rss - 10, cuda, "measured" if cuda else "unavailable", "")

    rss, cuda = peak(120.0, 40.0).measurements("ingestion", reference=peak(100.0, 20.0))
    assert (rss.name, rss.unit, rss.value, rss.reference, rss.measured_by, rss.step) == (
        "peak_rss", "MiB", 120.0, 100.0, "ingestion", "prediction")
    assert rss.details == {"rss_start_mib": 110.0, "reference_rss_start_mib": 90.0}
    assert (cuda.value, cuda.reference) == (40.0, 20.0)
    assert rss.tool == "/proc/self/status VmHWM" and rss.tool_version.startswith("linux ")
