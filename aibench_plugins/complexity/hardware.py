"""Where a measurement runs: :func:`hardware` reads the fingerprint that says whether two runs'
timings compare (evaluation.md §4.5, step 4).

Contract: cheap (a few small files under ``/proc`` and ``/sys``, no subprocess) and it never
raises: a field it cannot read is ``None``. It does **not** import torch: importing torch costs
about a second and a few hundred MiB of resident memory, which would show in the peak-memory
meter's numbers for a workload that never used torch. The torch fields (``torch``, ``threads``,
the GPU through ``torch.cuda``) are read when torch is already imported in the process (a
``torch.nn.Module`` workload has imported it); otherwise ``torch`` is the installed
distribution's version, read from its metadata, and ``threads`` the ``OMP_NUM_THREADS`` the
process runs with, if set. The GPU's model, driver and CUDA come from ``torch.cuda`` when torch
is imported and sees a device, and from NVML (``nvidia-ml-py``, imported as ``pynvml``) when that
is installed; the driver also from ``/proc/driver/nvidia/version``.

>>> hw = hardware()
>>> hw.python is not None and hw.platform is not None
True
"""

from __future__ import annotations

import os
import platform
import re
import sys
from pathlib import Path
from typing import Any

from ..components.complexity import Hardware

__all__ = ["hardware"]

#: cgroup v2 and v1 memory limits: the container's share, which is what a process may use
_CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
#: a v1 "no limit" reads as a huge number near 2**63
_NO_LIMIT = 1 << 60


def hardware(*, proc: Path = Path("/proc")) -> Hardware:
    """The fingerprint of the machine this process runs on; never raises (``None`` for what
    cannot be read). ``proc`` is the procfs root (tests give a fake one)."""
    gpu_model, gpu_driver, cuda = _gpu(proc)
    return Hardware(
        cpu_model=_quiet(_cpu_model, proc),
        cpu_count=_quiet(_cpu_count),
        threads=_quiet(_threads),
        memory_mb=_quiet(_memory_mb, proc),
        gpu_model=gpu_model,
        gpu_driver=gpu_driver,
        cuda=cuda,
        torch=_quiet(_torch_version),
        python=_quiet(platform.python_version),
        platform=_quiet(platform.platform),
    )


def _quiet(read: Any, *args: Any) -> Any:
    try:
        return read(*args)
    except Exception:  # a fingerprint field that cannot be read is None: hardware() never raises
        return None


def _cpu_model(proc: Path) -> str | None:
    text = (proc / "cpuinfo").read_text(errors="replace")
    # x86 "model name"; arm64 "Hardware" / "CPU part" lines vary; s390/ppc "cpu" / "processor"
    for key in ("model name", "Hardware", "cpu model", "cpu"):
        match = re.search(rf"^{re.escape(key)}\s*:\s*(.+?)\s*$", text, re.MULTILINE)
        if match and match.group(1):
            return match.group(1)
    return platform.processor() or None


def _cpu_count() -> int | None:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))  # the CPUs this process may run on (a container's cpuset)
    return os.cpu_count()


def _threads() -> int | None:
    torch = sys.modules.get("torch")
    if torch is not None:
        return int(torch.get_num_threads())
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() else None


def _memory_mb(proc: Path) -> float | None:
    """Total memory in MiB: the machine's ``MemTotal``, or the cgroup's limit when that is lower."""
    match = re.search(r"^MemTotal:\s*(\d+)\s*kB", (proc / "meminfo").read_text(), re.MULTILINE)
    total = int(match.group(1)) * 1024 if match else None
    for path in _CGROUP_LIMITS:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < _NO_LIMIT:
            total = int(text) if total is None else min(total, int(text))
        break
    return None if total is None else round(total / 2**20, 1)


def _torch_version() -> str | None:
    torch = sys.modules.get("torch")
    if torch is not None:
        return str(torch.__version__)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return None


def _gpu(proc: Path) -> tuple[str | None, str | None, str | None]:
    model = driver = cuda = None
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available():
                model = str(torch.cuda.get_device_name(0))
                cuda = torch.version.cuda
        except Exception:  # a broken CUDA install: the fingerprint says what NVML or /proc can
            pass
    try:
        nvml_model, driver, nvml_cuda = _nvml()
        model = model or nvml_model
        cuda = cuda or nvml_cuda
    except Exception:  # no nvidia-ml-py, no driver, no device: nothing from NVML
        pass
    if driver is None:
        driver = _quiet(_proc_driver, proc)
    return model, driver, cuda


def _nvml() -> tuple[str | None, str | None, str | None]:
    import pynvml  # type: ignore[import-not-found,unused-ignore]  # nvidia-ml-py; absent on most CPU machines

    pynvml.nvmlInit()
    try:
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        count = pynvml.nvmlDeviceGetCount()
        model = _text(pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(0))) if count else None
        version = int(pynvml.nvmlSystemGetCudaDriverVersion())  # 12040 for CUDA 12.4
        cuda = f"{version // 1000}.{version % 1000 // 10}" if version else None
        return model, driver, cuda
    finally:
        pynvml.nvmlShutdown()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _proc_driver(proc: Path) -> str | None:
    match = re.search(r"Kernel Module\s+([0-9.]+)", (proc / "driver" / "nvidia" / "version").read_text())
    return match.group(1) if match else None
