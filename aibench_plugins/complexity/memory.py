"""Peak memory of a window of this process: resident set (RSS) and CUDA allocations.

:class:`PeakMemory` opens a window (``with PeakMemory() as window:`` or ``start()`` /
``stop()``) and :meth:`PeakMemory.stop` gives a :class:`MemoryPeak`:

* **RSS**: the process's resident-set high-water mark during the window. On entry the kernel's
  mark is reset by writing ``5`` to ``/proc/self/clear_refs`` (Linux 4.0+; it changes nothing
  else), on exit ``VmHWM`` is read from ``/proc/self/status``. When the reset is refused (no
  ``/proc``, a read-only procfs, an older kernel: checked by reading ``VmHWM`` back) the number
  is the **peak since the process started**, ``status`` ``estimated`` with that reason: an
  upper bound of the window's. It is the whole process's: interpreter, libraries, every model
  loaded; ``rss_start_mib`` (``VmRSS`` on entry) lets a reader see the window's own growth.
  Windows do not nest: a window opened inside another resets the mark the outer one reads, and
  the outer one then says so (``estimated``, the reason naming the inner reset).
* **CUDA**: when torch is imported and ``torch.cuda.is_available()``: on entry
  ``torch.cuda.reset_peak_memory_stats(device)`` for every device, on exit
  ``torch.cuda.max_memory_allocated(device)`` (after ``synchronize``), in MiB, summed over the
  devices (each in ``details``). Without CUDA it is ``unavailable`` with the reason. The CUDA
  path is tested with a fake ``torch.cuda`` object; it was **not checked on a GPU**.

MiB are 2**20 bytes.
"""

from __future__ import annotations

import platform
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from ..components.complexity import MeasuredBy, Measurement, Status
from ..core.errors import UsageError

__all__ = ["MemoryPeak", "PeakMemory"]

MIB = 2**20
#: how far VmHWM may sit above VmRSS right after a reset that took effect (pages touched between the two reads)
_RESET_SLACK_KB = 1024
#: resets of the high-water mark in this process so far: a window sees whether another reset it meanwhile
_resets = 0


@dataclass(frozen=True)
class MemoryPeak:
    """What a :class:`PeakMemory` window measured.

    :param rss_mib: peak resident set during the window (MiB), or since the process started
        when ``rss_status`` is ``estimated`` (``rss_reason`` says why); ``None`` when unreadable.
    :param rss_start_mib: resident set when the window opened.
    :param cuda_mib: peak CUDA memory allocated by torch during the window, summed over the
        devices (``cuda_devices``: each device's); ``None`` with ``cuda_status`` ``unavailable``.
    """

    rss_mib: float | None
    rss_status: Status
    rss_reason: str
    rss_start_mib: float | None
    cuda_mib: float | None
    cuda_status: Status
    cuda_reason: str
    cuda_devices: Mapping[str, float] = field(default_factory=dict)
    torch_version: str = ""

    def measurements(self, measured_by: MeasuredBy, *, step: str = "prediction",
                     reference: MemoryPeak | None = None) -> tuple[Measurement, Measurement]:
        """``peak_rss`` and ``cuda.max_allocated`` (MiB), with ``reference``'s values as their
        ``reference`` when given."""
        rss = Measurement(
            "peak_rss", self.rss_mib, "MiB", measured_by, step, tool="/proc/self/status VmHWM",
            tool_version=f"linux {platform.release()}", status=self.rss_status, reason=self.rss_reason,
            reference=None if reference is None else reference.rss_mib,
            details={"rss_start_mib": self.rss_start_mib,
                     **({} if reference is None else {"reference_rss_start_mib": reference.rss_start_mib})})
        cuda = Measurement(
            "cuda.max_allocated", self.cuda_mib, "MiB", measured_by, step, tool="torch.cuda.max_memory_allocated",
            tool_version=self.torch_version, status=self.cuda_status, reason=self.cuda_reason,
            reference=None if reference is None else reference.cuda_mib, details={"devices": dict(self.cuda_devices)})
        return rss, cuda


class PeakMemory:
    """A window measuring peak memory (module docstring). ``proc_self`` is the process's procfs
    directory and ``cuda`` a ``torch.cuda``-like object (``None``: ``torch.cuda`` when torch is
    imported); tests give fakes. A window is used once."""

    def __init__(self, *, proc_self: Path = Path("/proc/self"), cuda: Any = None) -> None:
        self._proc = proc_self
        self._cuda = cuda
        self._started = False
        self._stopped = False
        self._reset_ok = False
        self._reset_reason = ""
        self._generation = 0
        self._rss_start: float | None = None
        self._cuda_devices: list[int] = []
        self._cuda_reason = ""
        self.result: MemoryPeak | None = None

    def __enter__(self) -> PeakMemory:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def start(self) -> PeakMemory:
        """Reset the high-water marks and open the window."""
        global _resets
        if self._started:
            raise UsageError("this PeakMemory window was already started: open a new one for each window")
        self._started = True
        self._cuda_devices, self._cuda_reason = self._cuda_start()
        self._rss_start = _kib_to_mib(self._status_kb("VmRSS"))
        try:
            (self._proc / "clear_refs").write_text("5")
        except OSError as error:
            self._reset_reason = f"the high-water mark could not be reset ({error.strerror or error})"
        else:
            hwm, rss = self._status_kb("VmHWM"), self._status_kb("VmRSS")
            if hwm is None or rss is None:
                self._reset_reason = "VmHWM cannot be read back after the reset"
            elif hwm - rss > _RESET_SLACK_KB:
                self._reset_reason = ("the kernel did not reset the high-water mark (writing 5 to clear_refs needs "
                                      "Linux 4.0 or later)")
            else:
                self._reset_ok = True
                _resets += 1
        self._generation = _resets
        return self

    def stop(self) -> MemoryPeak:
        """Close the window and read the peaks; also kept as :attr:`result`."""
        if not self._started:
            raise UsageError("PeakMemory.stop() before start(): open the window first")
        if self._stopped and self.result is not None:
            return self.result
        self._stopped = True
        cuda_mib, cuda_status, cuda_devices = self._cuda_stop()
        hwm = self._status_kb("VmHWM")
        status: Status = "measured"
        reason = ""
        if hwm is None:
            hwm = _ru_maxrss_kb()
            status, reason = "estimated", f"{self._reset_reason or 'VmHWM cannot be read'}: peak since process start"
        elif not self._reset_ok:
            status, reason = "estimated", f"{self._reset_reason}: peak since process start"
        elif _resets != self._generation:
            status, reason = "estimated", ("another window reset the high-water mark during this one: the peak is "
                                           "since that reset, not since this window opened")
        self.result = MemoryPeak(
            rss_mib=_kib_to_mib(hwm), rss_status=status if hwm is not None else "unavailable",
            rss_reason=reason if hwm is not None else "neither /proc/self/status nor getrusage gives the peak here",
            rss_start_mib=self._rss_start, cuda_mib=cuda_mib, cuda_status=cuda_status,
            cuda_reason=self._cuda_reason, cuda_devices=cuda_devices, torch_version=_torch_version())
        return self.result

    # --- RSS

    def _status_kb(self, key: str) -> int | None:
        try:
            text = (self._proc / "status").read_text()
        except OSError:
            return None
        match = re.search(rf"^{key}:\s*(\d+)\s*kB", text, re.MULTILINE)
        return int(match.group(1)) if match else None

    # --- CUDA

    def _cuda_api(self) -> tuple[Any, str]:
        if self._cuda is not None:
            return self._cuda, ""
        torch = sys.modules.get("torch")
        if torch is None:
            return None, "torch is not imported in this process: no CUDA memory to read"
        return torch.cuda, ""

    def _cuda_start(self) -> tuple[list[int], str]:
        cuda, reason = self._cuda_api()
        if cuda is None:
            return [], reason
        try:
            if not cuda.is_available():
                return [], "no CUDA device here (torch.cuda.is_available() is False)"
            devices = list(range(int(cuda.device_count())))
            for device in devices:
                cuda.synchronize(device)
                cuda.reset_peak_memory_stats(device)
        except Exception as error:  # a broken driver: the measurement is unavailable, with what CUDA said
            return [], f"torch.cuda failed: {type(error).__name__}: {error}"
        return devices, ""

    def _cuda_stop(self) -> tuple[float | None, Status, dict[str, float]]:
        if not self._cuda_devices:
            return None, "unavailable", {}
        cuda, _ = self._cuda_api()
        try:
            per_device: dict[str, float] = {}
            for device in self._cuda_devices:
                cuda.synchronize(device)
                per_device[f"cuda:{device}"] = round(int(cuda.max_memory_allocated(device)) / MIB, 3)
        except Exception as error:  # the device failed during the window
            self._cuda_reason = f"torch.cuda failed: {type(error).__name__}: {error}"
            return None, "unavailable", {}
        if len(per_device) > 1:
            self._cuda_reason = f"summed over {len(per_device)} devices (each device's peak in details)"
        return round(sum(per_device.values()), 3), "measured", per_device


def _kib_to_mib(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 3)


def _ru_maxrss_kb() -> int | None:
    """The process's peak RSS since it started, in KiB (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    try:
        import resource  # POSIX only

        peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    except (ImportError, OSError, ValueError):
        return None
    return peak // 1024 if sys.platform == "darwin" else peak


def _torch_version() -> str:
    torch = sys.modules.get("torch")
    return str(torch.__version__) if torch is not None else ""
