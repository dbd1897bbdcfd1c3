"""The energy readers (aibench_plugins.complexity.energy) on a fake powercap tree and a fake NVML
whose counters a fake clock advances: the arithmetic (windows, repeats, idle subtracted domain by
domain), RAPL's wrap-around, the domains counted and those left out, NVML's counter and its power
x time fallback (``estimated``), and ``unavailable`` with the reasons when nothing can be read."""

from __future__ import annotations

import pathlib
import sys
from pathlib import Path
from typing import Any

import pytest

from aibench_plugins import InvalidValueError, UsageError
from aibench_plugins.complexity import NvmlCounter, RaplCounter, measure_energy, open_energy_window

RANGE_UJ = 50_000_000  # 50 J: small, so that a test wraps it


class Machine:
    """A fake clock and the counters it advances: ``run`` is 0.25 s of work, ``sleep`` idles."""

    def __init__(self, root: Path, *, start_j: float = 0.0, gpu: bool = False,
                 idle_w: dict[str, float] | None = None, busy_w: dict[str, float] | None = None) -> None:
        self.t = 0.0
        self.run_s = 0.25
        self.busy = False
        self.idle_w = idle_w or {"package-0": 10.0, "package-0/dram": 2.0, "gpu0": 20.0}
        self.busy_w = busy_w or {"package-0": 30.0, "package-0/dram": 3.0, "gpu0": 100.0}
        self.files = {"package-0": root / "intel-rapl:0", "package-0/dram": root / "intel-rapl:0" / "intel-rapl:0:1"}
        self.uj = {label: int(start_j * 1e6) for label in self.files}
        self.gpu_mj = 0
        for label, path in self.files.items():
            path.mkdir(parents=True, exist_ok=True)
            (path / "name").write_text("package-0\n" if label == "package-0" else "dram\n")
            (path / "max_energy_range_uj").write_text(f"{RANGE_UJ}\n")
        self._write()
        # left out: the core subdomain (inside the package's count), psys (the platform), the MMIO duplicate
        for extra, name in ((root / "intel-rapl:0" / "intel-rapl:0:0", "core"), (root / "intel-rapl:1", "psys"),
                            (root / "intel-rapl-mmio:0", "package-0")):
            extra.mkdir(parents=True)
            (extra / "name").write_text(name + "\n")
            (extra / "energy_uj").write_text("123456789\n")
            (extra / "max_energy_range_uj").write_text(f"{RANGE_UJ}\n")
        self.gpu = gpu

    def _write(self) -> None:
        for label, path in self.files.items():
            (path / "energy_uj").write_text(f"{self.uj[label]}\n")

    def advance(self, seconds: float, busy: bool) -> None:
        self.busy = busy
        watts = self.busy_w if busy else self.idle_w
        for label in self.uj:
            self.uj[label] = (self.uj[label] + round(watts[label] * seconds * 1e6)) % RANGE_UJ
        self.gpu_mj += round(watts["gpu0"] * seconds * 1e3)
        self.t += seconds
        self._write()

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.advance(seconds, busy=False)

    def run(self) -> None:
        self.advance(self.run_s, busy=True)


class FakeNvml:
    """The part of pynvml the reader calls, on a :class:`Machine`'s GPU."""

    NVML_ERROR_NOT_SUPPORTED = 3

    class NVMLError(Exception):
        def __init__(self, value: int) -> None:
            super().__init__(f"NVML error {value}")
            self.value = value

    def __init__(self, machine: Machine, *, counter: bool = True, init_error: bool = False) -> None:
        self.machine, self.counter, self.init_error = machine, counter, init_error

    def nvmlInit(self) -> None:
        if self.init_error:
            raise self.NVMLError(9)

    def nvmlSystemGetDriverVersion(self) -> str:
        return "550.54"

    def nvmlDeviceGetCount(self) -> int:
        return 1

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> bytes:
        return b"Tesla P100" if not self.counter else b"NVIDIA H100"

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: int) -> int:
        if not self.counter:
            raise self.NVMLError(self.NVML_ERROR_NOT_SUPPORTED)
        return self.machine.gpu_mj

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        watts = self.machine.busy_w if self.machine.busy else self.machine.idle_w
        return round(watts["gpu0"] * 1000)


def reading(machine: Machine, counters: list[Any], **options: Any) -> Any:
    return measure_energy(machine.run, counters=counters, clock=machine.clock, sleep=machine.sleep, **options)


def test_rapl_packages_and_dram_idle_subtracted(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    counter = RaplCounter(tmp_path)
    result = reading(machine, [counter])
    assert counter.probe() is None and sorted(counter.domains()) == ["package-0", "package-0/dram"]
    # warm-up 0.25 s, idle window 1 s (4 runs' worth), active window 4 runs of 0.25 s
    assert result.status == "measured" and result.reason == "" and not result.flagged
    assert result.repeats == 4 and result.window_s == 1.0 and result.idle_window_s == 1.0
    assert result.idle_watts == pytest.approx(12.0)
    assert result.gross_joules == pytest.approx((30 + 3) * 0.25)
    assert result.joules == pytest.approx((30 - 10 + 3 - 2) * 0.25)  # 5.25 J per run
    assert result.watts == pytest.approx(21.0)
    assert result.domains["rapl:package-0"] == pytest.approx({"active_j": 30.0, "idle_j": 10.0, "net_j": 20.0})
    assert result.domains["rapl:package-0/dram"] == pytest.approx({"active_j": 3.0, "idle_j": 2.0, "net_j": 1.0})
    assert result.sources == ("rapl",) and result.tools == (f"powercap sysfs {tmp_path}",)


def test_rapl_wrap_around_is_undone(tmp_path: Path) -> None:
    # the package counter starts 27.5 J below its 50 J range: warm-up (7.5 J) and idle (10 J) leave it 10 J
    # short, and the active window (30 J) wraps it
    machine = Machine(tmp_path, start_j=22.5)
    result = reading(machine, [RaplCounter(tmp_path)])
    assert machine.uj["package-0"] < 22_500_000  # it did wrap
    long = reading(Machine(tmp_path / "b"), [RaplCounter(tmp_path / "b")], min_window_s=5.0)
    assert long.domains["rapl:package-0"]["active_j"] == pytest.approx(150.0)  # three times the range: read per run
    assert result.domains["rapl:package-0"]["active_j"] == pytest.approx(30.0)
    assert result.joules == pytest.approx(5.25)


def test_idle_subtraction_can_be_turned_off(tmp_path: Path) -> None:
    result = reading(Machine(tmp_path), [RaplCounter(tmp_path)], idle=False)
    assert result.idle_watts is None and result.joules == pytest.approx(33 * 0.25)


def test_short_workloads_repeat_until_the_window_is_long_enough(tmp_path: Path) -> None:
    result = reading(Machine(tmp_path), [RaplCounter(tmp_path)], min_window_s=2.2)
    assert result.repeats == 9 and result.window_s == pytest.approx(2.25)
    assert result.joules == pytest.approx(5.25)
    capped = reading(Machine(tmp_path / "b"), [RaplCounter(tmp_path / "b")], max_repeats=2)
    assert capped.repeats == 2 and capped.flagged and "under the 1 s the counters need" in capped.reason


def test_a_net_below_zero_is_flagged(tmp_path: Path) -> None:
    machine = Machine(tmp_path, busy_w={"package-0": 5.0, "package-0/dram": 2.0, "gpu0": 0.0})
    result = reading(machine, [RaplCounter(tmp_path)])
    assert result.joules is not None and result.joules < 0 and result.flagged
    assert "net energy is below zero" in result.reason


def test_nvml_energy_counter_alongside_rapl(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    result = reading(machine, [RaplCounter(tmp_path), NvmlCounter(FakeNvml(machine))])
    assert result.status == "measured" and result.sources == ("rapl", "nvml")
    assert result.domains["nvml:gpu0"] == pytest.approx({"active_j": 100.0, "idle_j": 20.0, "net_j": 80.0})
    assert result.joules == pytest.approx(5.25 + 20.0)
    assert result.tools[1] == "nvml driver 550.54"


def test_nvml_power_times_time_is_estimated_and_says_so(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    counter = NvmlCounter(FakeNvml(machine, counter=False), poll_s=None, clock=machine.clock)
    assert counter.probe() is None
    assert "not supported on GPU 0 (Tesla P100)" in counter.estimated and "Volta" in counter.estimated
    assert "power x time" in counter.estimated
    counter.start()  # idle: 20 W sampled at t=0
    before = counter.read()
    machine.advance(2.0, busy=True)  # sampled again at t=2: 100 W
    after = counter.read()
    counter.stop()
    assert counter.delta(before, after) == {"gpu0": pytest.approx(2.0 * (20 + 100) / 2)}  # the trapezoid
    result = reading(machine, [NvmlCounter(FakeNvml(machine, counter=False), poll_s=None, clock=machine.clock)])
    assert result.status == "estimated" and "power x time" in result.reason


def test_nvml_power_is_sampled_by_a_thread_during_the_window(tmp_path: Path) -> None:
    import time

    machine = Machine(tmp_path)
    fake = FakeNvml(machine, counter=False)
    times: list[float] = []

    def clock() -> float:
        times.append(time.monotonic())
        return times[-1]

    counter = NvmlCounter(fake, poll_s=0.001, clock=clock)
    assert counter.probe() is None and "sampled every 0.001 s" in counter.estimated
    counter.start()
    before = counter.read()
    first = len(times)
    waited = time.monotonic()
    while len(times) < first + 3 and time.monotonic() - waited < 30:  # the thread samples on its own
        time.sleep(0.001)
    after = counter.read()
    counter.stop()
    assert len(times) >= first + 4
    # a constant 20 W: the trapezoids over every sample add up to 20 W times the span between the two reads
    assert counter.delta(before, after)["gpu0"] == pytest.approx(20.0 * (times[-1] - times[first - 1]))


def test_a_block_window(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    window = open_energy_window(counters=[RaplCounter(tmp_path)], clock=machine.clock, sleep=machine.sleep)
    machine.advance(1.2, busy=True)  # a block is read at its ends: under the 50 J range of this fake counter
    result = window.close()
    assert result.status == "measured" and not result.flagged and result.repeats == 1
    assert result.idle_window_s == 1.0 and result.window_s == pytest.approx(1.2)
    assert result.joules == pytest.approx(1.2 * 21)
    with pytest.raises(UsageError, match="closed already"):
        window.close()
    short = open_energy_window(counters=[RaplCounter(tmp_path)], clock=machine.clock, sleep=machine.sleep)
    machine.advance(0.5, busy=True)
    flagged = short.close()
    assert flagged.flagged and "the block lasted 0.50 s, under the 1 s" in flagged.reason
    assert flagged.joules == pytest.approx(0.5 * 21)


def test_unavailable_with_every_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    machine = Machine(tmp_path / "m")
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    result = reading(machine, [RaplCounter(tmp_path / "absent"), NvmlCounter()])
    assert result.status == "unavailable" and result.joules is None
    assert result.reason == (f"no RAPL: {tmp_path / 'absent'} does not exist (no powercap interface: not Linux, no "
                             "RAPL driver, or not visible in this container); no NVML: nvidia-ml-py (the pynvml "
                             "module) is not installed")
    broken = NvmlCounter(FakeNvml(machine, init_error=True)).probe()
    assert broken is not None and broken.startswith("no NVML: nvmlInit failed (NVML error 9)")
    (tmp_path / "empty").mkdir()
    assert RaplCounter(tmp_path / "empty").probe() == f"no RAPL: {tmp_path / 'empty'} has no intel-rapl:N package domain"
    window = open_energy_window(counters=[RaplCounter(tmp_path / "absent")])
    assert window.close().status == "unavailable"


def test_unreadable_rapl_counters_say_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Machine(tmp_path)
    real = pathlib.Path.read_text

    def refuse(self: Path, *args: Any, **kwargs: Any) -> str:
        if self.name == "energy_uj":
            raise PermissionError(13, "Permission denied")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "read_text", refuse)
    reason = RaplCounter(tmp_path).probe()
    assert reason is not None and "not readable by this user" in reason and "PLATYPUS" in reason


@pytest.mark.skipif(Path("/sys/class/powercap").exists(), reason="this machine has a powercap tree")
def test_here_rapl_is_unavailable() -> None:
    assert RaplCounter().probe() == ("no RAPL: /sys/class/powercap does not exist (no powercap interface: not Linux, "
                                     "no RAPL driver, or not visible in this container)")


def test_windows_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match="min_window_s must be a number of seconds > 0"):
        measure_energy(lambda: None, counters=[], min_window_s=0)
    with pytest.raises(InvalidValueError, match="max_repeats must be a whole number >= 1"):
        measure_energy(lambda: None, counters=[], max_repeats=0)


def test_a_long_workload_idles_at_most_max_idle_s(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    machine.run_s = 1.4  # 46.2 J a run: under the fake 50 J range between two reads
    result = reading(machine, [RaplCounter(tmp_path)], min_window_s=1.0, max_idle_s=0.5)
    # the idle window would be 1.4 s (one run); max_idle_s caps it, never under min_window_s
    assert result.repeats == 1 and result.window_s == pytest.approx(1.4) and result.idle_window_s == 1.0
    assert result.joules == pytest.approx(1.4 * 21)  # idle power times the active window is what is subtracted
