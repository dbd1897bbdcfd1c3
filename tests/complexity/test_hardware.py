"""hardware() (aibench_plugins.complexity.hardware): the fingerprint on this machine, and on fake
procfs roots (an arm64 cpuinfo, no files at all: it never raises)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path


from aibench_plugins import Hardware
from aibench_plugins.complexity import hardware


def test_this_machine() -> None:
    hw = hardware()
    assert isinstance(hw, Hardware)
    assert hw.python == platform.python_version() and hw.platform == platform.platform()
    assert hw.cpu_count is not None and hw.cpu_count >= 1
    if Path("/proc/cpuinfo").exists():
        assert hw.cpu_model and hw.memory_mb is not None and hw.memory_mb > 100
    assert Hardware.from_json(hw.to_json()) == hw


def test_torch_fields_when_torch_is_imported() -> None:
    import torch

    hw = hardware()
    assert hw.torch == torch.__version__ and hw.threads == torch.get_num_threads()
    if not torch.cuda.is_available():
        assert hw.gpu_model is None and hw.cuda is None


def test_it_does_not_import_torch() -> None:
    code = ("import sys; from aibench_plugins.complexity import hardware; hw = hardware(); "
            "print('torch' in sys.modules, hw.torch is not None, hw.threads)")
    env = {**os.environ, "OMP_NUM_THREADS": "3"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.split() == ["False", "True", "3"]  # the version from the distribution's metadata


def test_arm_cpuinfo_and_cgroup_free_meminfo(tmp_path: Path) -> None:
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nBogoMIPS\t: 48.00\n\nHardware\t: BCM2835\n")
    (tmp_path / "meminfo").write_text("MemTotal:        4194304 kB\nMemFree:  1 kB\n")
    hw = hardware(proc=tmp_path)
    assert hw.cpu_model == "BCM2835"
    assert hw.memory_mb is not None and hw.memory_mb <= 4096.0


def test_nothing_readable_gives_nones_never_an_error(tmp_path: Path) -> None:
    hw = hardware(proc=tmp_path / "absent")
    assert hw.cpu_model in (None, platform.processor() or None)
    assert hw.memory_mb is None and hw.gpu_driver is None and hw.python == platform.python_version()


def test_driver_from_proc_when_nvml_is_absent(tmp_path: Path) -> None:
    driver = tmp_path / "driver" / "nvidia"
    driver.mkdir(parents=True)
    (driver / "version").write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\n")
    assert hardware(proc=tmp_path).gpu_driver == "550.54.14" or _nvml_present()  # NVML's own driver wins


def _nvml_present() -> bool:
    try:
        import pynvml  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True
