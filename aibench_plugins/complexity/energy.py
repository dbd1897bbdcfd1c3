"""Energy from the hardware's own counters: thin native readers of RAPL (Linux powercap sysfs,
CPU packages and their DRAM) and of NVML's total-energy counter (NVIDIA GPUs), the library under
the built-in meter ``aibench.energy``.

::

    RaplCounter(root="/sys/class/powercap")       # intel-rapl:N packages and their dram subdomains
    NvmlCounter(nvml=None, poll_s=0.1)             # nvidia-ml-py's pynvml, or an object like it
    measure_energy(run, *, counters=None, min_window_s=1.0, idle=True) -> EnergyReading
    open_energy_window(*, counters=None, min_window_s=1.0, idle=True) -> EnergyWindow   # .close()

How a reading is taken:

* **Counters, not models.** A counter that cannot be read here says why (:meth:`EnergyCounter.probe`);
  with none readable the reading is ``unavailable`` with every reason, never a silent estimate.
  NVML's power x time integration (on GPUs older than Volta, whose total-energy counter is
  ``NOT_SUPPORTED``) makes the reading ``estimated``, and its reason says so.
* **Windows of at least** ``min_window_s`` (1 s): the counters update every 1 ms (RAPL) to
  20-100 ms (NVML), so a short window reads mostly rounding. :func:`measure_energy` runs the
  workload once untimed, then repeats it until the window is long enough, and divides by the
  repeats; a block (:func:`open_energy_window`) cannot be repeated, and a block shorter than the
  window is flagged.
* **Idle subtracted.** Before the active window the counters are read over an idle window as long
  as the active one is expected to be (a block: ``min_window_s``): the machine's idle power
  times the active window's duration is subtracted, domain by domain. Idle comes first because
  a GPU keeps its clocks up for a while after work, which would inflate a baseline taken after.
* **Wrap-around.** RAPL's ``energy_uj`` wraps at ``max_energy_range_uj``: a reading below the
  previous one adds the range. :func:`measure_energy` reads the counters after every run, so a
  window may wrap any number of times as long as one run does not last a whole wrap period
  (minutes at full power); a block is read at its two ends only, and must be shorter than that.
  NVML's counter is 64-bit millijoules and does not wrap in practice.

Everything is in joules. Readers take their root, module object and clock as parameters, so
tests run them on a fake sysfs tree and a fake NVML (tests/complexity/test_energy.py).
"""

from __future__ import annotations

import importlib
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from ..core.errors import InvalidValueError, UsageError

__all__ = ["EnergyCounter", "EnergyReading", "EnergyWindow", "NvmlCounter", "RaplCounter", "default_counters",
           "measure_energy", "open_energy_window"]

Clock = Callable[[], float]
EnergyStatus = Literal["measured", "estimated", "unavailable"]


@runtime_checkable
class EnergyCounter(Protocol):
    """A cumulative energy counter with one or more domains (CPU package, DRAM, GPU).

    ``name`` is the source (``rapl``, ``nvml``), ``tool``/``tool_version`` what reads it.
    ``estimated`` is empty when the counter measures, else the sentence saying how its numbers are
    estimated (read after :meth:`probe`).
    """

    name: str
    tool: str
    tool_version: str
    estimated: str

    def probe(self) -> str | None:
        """``None`` when the counter can be read here, else why not (a sentence)."""

    def start(self) -> None:
        """Begin a window (a sampling counter starts sampling); a no-op for a hardware counter."""

    def stop(self) -> None:
        """End the window started by :meth:`start`."""

    def read(self) -> dict[str, float]:
        """Each domain's cumulative reading, in joules."""

    def delta(self, before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
        """Joules per domain between two readings, wrap-around undone."""


# ----------------------------------------------------------------------------------------- RAPL

_PACKAGE = re.compile(r"^intel-rapl:(\d+)$")
_SUBDOMAIN = re.compile(r"^intel-rapl:(\d+):(\d+)$")


class RaplCounter:
    """RAPL through the Linux powercap interface: each ``intel-rapl:N`` package domain (its
    ``energy_uj`` covers the cores and the uncore, not the DRAM) and its ``dram`` subdomain
    (``intel-rapl:N:M`` whose ``name`` is ``dram``). Platform domains (``psys``) and the MMIO
    duplicates (``intel-rapl-mmio``) are left out: they would count the packages twice. AMD
    processors expose their RAPL through the same files (Linux 5.8 and later).

    :param root: the powercap directory (a fake tree in tests).
    """

    name = "rapl"
    tool = "powercap sysfs"

    def __init__(self, root: str | os.PathLike[str] = "/sys/class/powercap") -> None:
        self.root = Path(root)
        self.tool_version = f"{self.root}"
        self.estimated = ""
        self._domains: dict[str, Path] | None = None
        self._ranges: dict[str, float] = {}

    def domains(self) -> dict[str, Path]:
        """Label (``package-0``, ``package-0/dram``) -> the domain's directory."""
        if self._domains is None:
            found: dict[str, Path] = {}
            for package in sorted(self.root.iterdir(), key=lambda p: p.name):
                match = _PACKAGE.match(package.name)
                if not match:
                    continue
                label = _name(package) or f"package-{match.group(1)}"
                if not label.startswith("package"):
                    continue
                found[label] = package
                for sub in sorted(package.iterdir(), key=lambda p: p.name):
                    if _SUBDOMAIN.match(sub.name) and _name(sub) == "dram":
                        found[f"{label}/dram"] = sub
            self._domains = found
        return self._domains

    def probe(self) -> str | None:
        if not self.root.is_dir():
            return (f"no RAPL: {self.root} does not exist (no powercap interface: not Linux, no RAPL driver, or not "
                    "visible in this container)")
        try:
            domains = self.domains()
        except OSError as error:
            return f"no RAPL: {self.root} cannot be listed ({error.strerror or error})"
        if not domains:
            return f"no RAPL: {self.root} has no intel-rapl:N package domain"
        try:
            self.read()
            for label, path in domains.items():
                self._ranges[label] = int((path / "max_energy_range_uj").read_text().strip()) / 1e6
        except PermissionError:
            return (f"no RAPL: the energy_uj files under {self.root} are not readable by this user (root only since "
                    "Linux 5.10, the PLATYPUS fix)")
        except (OSError, ValueError) as error:
            return f"no RAPL: a counter under {self.root} cannot be read ({error})"
        return None

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def read(self) -> dict[str, float]:
        return {label: int((path / "energy_uj").read_text().strip()) / 1e6 for label, path in self.domains().items()}

    def delta(self, before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
        out = {}
        for label, end in after.items():
            difference = end - before[label]
            if difference < 0:  # the counter wrapped at max_energy_range_uj
                difference += self._ranges[label]
            out[label] = difference
        return out


def _name(path: Path) -> str | None:
    try:
        return (path / "name").read_text().strip() or None
    except OSError:
        return None


# ----------------------------------------------------------------------------------------- NVML


class NvmlCounter:
    """NVIDIA GPUs through NVML (the ``pynvml`` module of nvidia-ml-py): each GPU's total-energy
    counter (``nvmlDeviceGetTotalEnergyConsumption``, millijoules since the driver loaded; Volta and
    newer). Where a GPU answers ``NOT_SUPPORTED`` its power (``nvmlDeviceGetPowerUsage``, mW) is
    integrated over time instead, by the trapezoid rule over samples every ``poll_s`` seconds (a
    background thread during a window) and at each read: the counter is then ``estimated``.

    :param nvml: the module object (``None``: import ``pynvml``); tests give a fake.
    :param poll_s: sampling period of the power fallback; ``None``: samples only at reads.
    :param clock: seconds, monotonic (the fallback's time axis).
    """

    name = "nvml"
    tool = "nvml"

    def __init__(self, nvml: Any = None, *, poll_s: float | None = 0.1, clock: Clock = time.monotonic) -> None:
        self._nvml = nvml
        self.poll_s = poll_s
        self.clock = clock
        self.tool_version = ""
        self.estimated = ""
        self._handles: dict[str, Any] = {}
        self._power: set[str] = set()
        self._lock = threading.Lock()
        self._integrated: dict[str, float] = {}
        self._last: dict[str, tuple[float, float]] = {}
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def probe(self) -> str | None:
        nvml = self._nvml
        if nvml is None:
            try:
                nvml = importlib.import_module("pynvml")
            except ImportError:
                return "no NVML: nvidia-ml-py (the pynvml module) is not installed"
            self._nvml = nvml
        try:
            nvml.nvmlInit()
        except Exception as error:  # NVMLError_LibraryNotFound, NVMLError_DriverNotLoaded...
            return f"no NVML: nvmlInit failed ({error}): no NVIDIA driver or GPU here"
        try:
            count = int(nvml.nvmlDeviceGetCount())
            version = getattr(nvml, "nvmlSystemGetDriverVersion", None)
            self.tool_version = f"driver {_text(version())}" if version is not None else ""
        except Exception as error:
            return f"no NVML: the GPUs cannot be listed ({error})"
        if count == 0:
            return "no NVML: no NVIDIA GPU"
        not_supported = getattr(nvml, "NVML_ERROR_NOT_SUPPORTED", 3)
        older = []
        for index in range(count):
            label = f"gpu{index}"
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            try:
                nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            except Exception as error:
                if getattr(error, "value", None) != not_supported:
                    return f"no NVML: the energy counter of GPU {index} cannot be read ({error})"
                try:
                    nvml.nvmlDeviceGetPowerUsage(handle)
                except Exception as power_error:
                    return (f"no NVML: GPU {index} supports neither the total-energy counter nor power readings "
                            f"({power_error})")
                self._power.add(label)
                older.append(f"GPU {index} ({_text(nvml.nvmlDeviceGetName(handle))})")
            self._handles[label] = handle
        if older:
            every = f"every {self.poll_s:g} s" if self.poll_s else "at each read"
            self.estimated = (f"NVML's total-energy counter is not supported on {', '.join(older)} (it needs Volta or "
                              f"newer): energy estimated as power x time from nvmlDeviceGetPowerUsage sampled {every}")
        return None

    def _sample(self) -> None:
        """Advance the power integrals to now (trapezoid from the previous sample)."""
        with self._lock:
            now = self.clock()
            for label in self._power:
                watts = self._nvml.nvmlDeviceGetPowerUsage(self._handles[label]) / 1000.0
                if label in self._last:
                    then, before = self._last[label]
                    self._integrated[label] = self._integrated.get(label, 0.0) + (now - then) * (watts + before) / 2
                self._last[label] = (now, watts)

    def start(self) -> None:
        if not self._power:
            return
        self._sample()
        if self.poll_s:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._poll, name="aibench-nvml-power", daemon=True)
            self._thread.start()

    def _poll(self) -> None:
        assert self.poll_s is not None
        while not self._stopping.wait(self.poll_s):
            self._sample()

    def stop(self) -> None:
        if self._thread is not None:
            self._stopping.set()
            self._thread.join()
            self._thread = None

    def read(self) -> dict[str, float]:
        if self._power:
            self._sample()
        out = {}
        for label, handle in self._handles.items():
            if label in self._power:
                out[label] = self._integrated.get(label, 0.0)
            else:
                out[label] = self._nvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0
        return out

    def delta(self, before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
        return {label: end - before[label] for label, end in after.items()}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def default_counters() -> list[EnergyCounter]:
    """RAPL at ``/sys/class/powercap`` and NVML through ``pynvml``."""
    return [RaplCounter(), NvmlCounter()]


# -------------------------------------------------------------------------------------- readings


@dataclass(frozen=True)
class EnergyReading:
    """What a window of the counters gave.

    :param status: ``measured`` (every counter used is a hardware counter), ``estimated`` (one
        integrates power over time), ``unavailable`` (none could be read; ``reason`` says why
        for each).
    :param reason: why it is not ``measured``, or, when ``flagged``, what to be careful of.
    :param joules: net energy of one run (the active window's, less idle power times its
        duration, over ``repeats``); ``None`` when unavailable.
    :param watts: the net power over the active window (above idle).
    :param gross_joules: the active window's energy, idle included, per run.
    :param idle_watts: the idle window's power (``None`` when ``idle`` was off).
    :param window_s: ``idle_window_s``: the windows' durations.
    :param repeats: runs in the active window.
    :param domains: per domain (``rapl:package-0``, ``rapl:package-0/dram``, ``nvml:gpu0``):
        ``active_j``, ``idle_j`` (scaled to the active window) and ``net_j`` over the window.
    :param sources: the counters used; ``tools`` their tool and version.
    :param flagged: a reading a reader should doubt (a short block, a net below zero).
    """

    status: EnergyStatus
    reason: str = ""
    joules: float | None = None
    watts: float | None = None
    gross_joules: float | None = None
    idle_watts: float | None = None
    window_s: float | None = None
    idle_window_s: float | None = None
    repeats: int = 0
    domains: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    flagged: bool = False

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "domains": {k: dict(v) for k, v in self.domains.items()}, "sources": list(self.sources),
                "tools": list(self.tools)}


def _usable(counters: Sequence[EnergyCounter] | None) -> tuple[list[EnergyCounter], list[str]]:
    usable, reasons = [], []
    for counter in default_counters() if counters is None else counters:
        why = counter.probe()
        if why is None:
            usable.append(counter)
        else:
            reasons.append(why)
    return usable, reasons


def _read(counters: Sequence[EnergyCounter]) -> list[dict[str, float]]:
    return [c.read() for c in counters]


def _window(counters: Sequence[EnergyCounter], before: list[dict[str, float]],
            after: list[dict[str, float]]) -> dict[str, float]:
    return {f"{c.name}:{label}": joules for c, b, a in zip(counters, before, after)
            for label, joules in c.delta(b, a).items()}


def _check_window(min_window_s: float) -> None:
    if not isinstance(min_window_s, (int, float)) or isinstance(min_window_s, bool) or not min_window_s > 0:
        raise InvalidValueError(f"min_window_s must be a number of seconds > 0 (got {min_window_s!r}).")


def _idle(counters: Sequence[EnergyCounter], seconds: float, clock: Clock,
          sleep: Callable[[float], Any]) -> tuple[dict[str, float], float]:
    for counter in counters:
        counter.start()
    before = _read(counters)
    started = clock()
    sleep(seconds)
    after = _read(counters)
    elapsed = clock() - started
    for counter in counters:
        counter.stop()
    return _window(counters, before, after), elapsed


def _reading(counters: Sequence[EnergyCounter], active: dict[str, float], active_s: float,
             idle: tuple[dict[str, float], float] | None, repeats: int, notes: list[str]) -> EnergyReading:
    estimated = [c.estimated for c in counters if c.estimated]
    scale = 0.0
    idle_j: dict[str, float] = {}
    if idle is not None and idle[1] > 0:
        scale = active_s / idle[1]
        idle_j = idle[0]
    domains = {label: {"active_j": joules, "idle_j": idle_j.get(label, 0.0) * scale,
                       "net_j": joules - idle_j.get(label, 0.0) * scale} for label, joules in active.items()}
    gross = sum(active.values())
    net = sum(d["net_j"] for d in domains.values())
    flags = list(notes)
    if net < 0:
        flags.append(f"the net energy is below zero ({net:.3f} J over {active_s:.2f} s): the workload's energy is "
                     "within the idle power's variation; give a longer window")
    reason = "; ".join([*estimated, *flags])
    return EnergyReading(
        status="estimated" if estimated else "measured", reason=reason, joules=net / repeats,
        watts=net / active_s if active_s > 0 else None, gross_joules=gross / repeats,
        idle_watts=None if idle is None or idle[1] <= 0 else sum(idle[0].values()) / idle[1], window_s=active_s,
        idle_window_s=None if idle is None else idle[1], repeats=repeats, domains=domains,
        sources=tuple(c.name for c in counters), tools=tuple(f"{c.tool} {c.tool_version}".strip() for c in counters),
        flagged=bool(flags))


def measure_energy(run: Callable[[], Any], *, counters: Sequence[EnergyCounter] | None = None,
                   min_window_s: float = 1.0, idle: bool = True, max_repeats: int = 1_000_000,
                   max_idle_s: float = 10.0, deadline: float | None = None, clock: Clock = time.monotonic,
                   sleep: Callable[[float], Any] = time.sleep) -> EnergyReading:
    """The energy of one call of ``run``: once untimed (warm-up, and its duration predicts the
    window), an idle window as long as the active one will be (when ``idle``), then ``run``
    repeated until the active window lasts ``min_window_s`` (or ``max_repeats`` runs, or
    ``deadline`` on ``clock`` comes), the net energy divided by the repeats. The idle window is
    at most ``max_idle_s`` (but never under ``min_window_s``): its power is what is subtracted.

    :param counters: the counters to read (default :func:`default_counters`); those whose
        :meth:`~EnergyCounter.probe` fails are left out, with their reasons.
    :raises InvalidValueError: ``min_window_s`` not above zero, ``max_repeats`` below 1.
    """
    _check_window(min_window_s)
    if not isinstance(max_repeats, int) or max_repeats < 1:
        raise InvalidValueError(f"max_repeats must be a whole number >= 1 (got {max_repeats!r}).")
    usable, reasons = _usable(counters)
    if not usable:
        return EnergyReading(status="unavailable", reason="; ".join(reasons))
    started = clock()
    run()
    one = max(clock() - started, 1e-9)
    expected = min(max_repeats, max(1, -(-min_window_s // one))) * one
    baseline = _idle(usable, min(expected, max(max_idle_s, min_window_s)), clock, sleep) if idle else None
    for counter in usable:
        counter.start()
    previous = _read(usable)
    started = clock()
    repeats = 0
    notes: list[str] = []
    active: dict[str, float] = {}
    while True:
        run()
        repeats += 1
        current = _read(usable)  # read after every run: a counter that wraps twice in a window is still right
        for label, joules in _window(usable, previous, current).items():
            active[label] = active.get(label, 0.0) + joules
        previous = current
        elapsed = clock() - started
        if elapsed >= min_window_s or repeats >= max_repeats:
            break
        if deadline is not None and clock() + elapsed / repeats > deadline:
            notes.append(f"the deadline cut the window to {elapsed:.2f} s, under the {min_window_s:g} s the counters "
                         "need")
            break
    elapsed = clock() - started
    for counter in usable:
        counter.stop()
    if elapsed < min_window_s and not notes:
        notes.append(f"the window lasted {elapsed:.2f} s ({repeats} runs, max_repeats), under the {min_window_s:g} s "
                     "the counters need")
    return _reading(usable, active, elapsed, baseline, repeats, notes)


class EnergyWindow:
    """An open energy measurement of a block of code (:func:`open_energy_window`)."""

    def __init__(self, counters: list[EnergyCounter], reasons: list[str], min_window_s: float, idle: bool,
                 clock: Clock, sleep: Callable[[float], Any]) -> None:
        self._counters, self._reasons, self.min_window_s, self._clock = counters, reasons, min_window_s, clock
        self._closed = False
        self._baseline = _idle(counters, min_window_s, clock, sleep) if counters and idle else None
        for counter in counters:
            counter.start()
        self._before = _read(counters)
        self._started = clock()

    def close(self) -> EnergyReading:
        """The energy of what ran since the window opened.

        :raises UsageError: the window was closed already.
        """
        if self._closed:
            raise UsageError("this energy window is closed already: open another one with open_energy_window().")
        self._closed = True
        if not self._counters:
            return EnergyReading(status="unavailable", reason="; ".join(self._reasons))
        after = _read(self._counters)
        elapsed = self._clock() - self._started
        for counter in self._counters:
            counter.stop()
        notes = []
        if elapsed < self.min_window_s:
            notes.append(f"the block lasted {elapsed:.2f} s, under the {self.min_window_s:g} s the counters need: a "
                         "block cannot be repeated, measure a longer one")
        return _reading(self._counters, _window(self._counters, self._before, after), elapsed, self._baseline, 1,
                        notes)


def open_energy_window(*, counters: Sequence[EnergyCounter] | None = None, min_window_s: float = 1.0,
                       idle: bool = True, clock: Clock = time.monotonic,
                       sleep: Callable[[float], Any] = time.sleep) -> EnergyWindow:
    """Start measuring the energy of a block: an idle window of ``min_window_s`` first (when
    ``idle``: its power, times the block's duration, is subtracted), then the counters are read
    until :meth:`EnergyWindow.close`.

    :raises InvalidValueError: ``min_window_s`` not above zero.
    """
    _check_window(min_window_s)
    usable, reasons = _usable(counters)
    return EnergyWindow(usable, reasons, min_window_s, idle, clock, sleep)
