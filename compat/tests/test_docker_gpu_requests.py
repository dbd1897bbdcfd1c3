"""How the Docker executor asks the engine for GPUs (``limits.gpus`` -> a device request), checked
with fake request objects and a fake engine that records the host config: this machine has no
GPU, so the real requests are not checked on a GPU. A GPU host's engine is asked for exactly these
(the NVIDIA toolkit's ``capabilities=[["gpu"]]``, or CDI device names as Codabench sends them);
the real engine without a GPU runtime is tested in test_docker_executor.py
(test_gpu_request_without_gpu_runtime)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import docker.types
from codalab_worker_compat import DockerExecutor, ProcessSpec, ResourceLimits
from codalab_worker_compat._docker import _binds, _start_message
from codalab_worker_compat._errors import InvalidValue


class FakeRequest:
    """Records the arguments of one device request."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


class FakeApi:
    """The engine's low-level API: ``create_host_config`` gives back what it was given."""

    def create_host_config(self, **options: Any) -> dict[str, Any]:
        return options


class FakeClient:
    api = FakeApi()


def executor(driver: str = "nvidia") -> DockerExecutor:
    """A Docker executor talking to the fake engine (the constructor needs a real one)."""
    made = object.__new__(DockerExecutor)
    made.client = FakeClient()  # type: ignore[assignment]
    made.network, made.memory_mb, made.cpus, made.pids = False, 4096, 2.0, 512
    made.shm_mb, made.tmp_mb, made.gpu_driver = 256, 1024, driver  # type: ignore[assignment]
    return made


@pytest.mark.parametrize(("driver", "gpus", "expected"), [
    ("nvidia", 1, {"count": 1, "capabilities": [["gpu"]]}),
    ("nvidia", -1, {"count": -1, "capabilities": [["gpu"]]}),  # --gpus all
    ("nvidia", ("0", "2"), {"device_ids": ["0", "2"], "capabilities": [["gpu"]]}),
    ("nvidia", ("GPU-3b1e",), {"device_ids": ["GPU-3b1e"], "capabilities": [["gpu"]]}),
    ("cdi", -1, {"driver": "cdi", "device_ids": ["nvidia.com/gpu=all"]}),
    ("cdi", 2, {"driver": "cdi", "device_ids": ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]}),
    ("cdi", ("1", "nvidia.com/gpu=GPU-3b1e"), {"driver": "cdi",
                                               "device_ids": ["nvidia.com/gpu=1", "nvidia.com/gpu=GPU-3b1e"]}),
])
def test_gpu_request_arguments(driver: str, gpus: int | tuple[str, ...], expected: dict[str, Any]) -> None:
    request = executor(driver)._gpu_request(gpus, FakeRequest)
    assert request.kwargs == expected


@pytest.mark.parametrize(("driver", "gpus", "wire"), [
    ("nvidia", 1, {"Driver": "", "Count": 1, "DeviceIDs": [], "Capabilities": [["gpu"]], "Options": {}}),
    ("nvidia", ("0",), {"Driver": "", "Count": 0, "DeviceIDs": ["0"], "Capabilities": [["gpu"]], "Options": {}}),
    ("cdi", -1, {"Driver": "cdi", "Count": 0, "DeviceIDs": ["nvidia.com/gpu=all"], "Capabilities": [],
                 "Options": {}}),
])
def test_host_config_carries_the_device_request(tmp_path: Path, driver: str, gpus: int | tuple[str, ...],
                                                wire: dict[str, Any]) -> None:
    """What the engine receives: the SDK's DeviceRequest in the host config, and the limit said."""
    (tmp_path / "output").mkdir()
    spec = ProcessSpec("program", ("nvidia-smi",), "/app/output", tmp_path / "o", tmp_path / "e",
                       {"/app/output": tmp_path / "output"}, limits=ResourceLimits(gpus=gpus))
    options, applied = executor(driver)._host_config(spec, _binds(spec), [])
    (request,) = options["device_requests"]
    assert isinstance(request, docker.types.DeviceRequest) and dict(request) == wire
    assert applied["gpus"] == f"{gpus} (a {driver} device request)"


def test_no_gpus_no_device_request(tmp_path: Path) -> None:
    spec = ProcessSpec("program", ("true",), "/app/output", tmp_path / "o", tmp_path / "e")
    options, applied = executor()._host_config(spec, [], [])
    assert "device_requests" not in options and "gpus" not in applied


def test_unknown_gpu_driver_refused() -> None:
    with pytest.raises(InvalidValue, match="gpu_driver must be nvidia or cdi"):
        DockerExecutor("any-image", gpu_driver="amd")  # type: ignore[arg-type]


@pytest.mark.parametrize("detail", ['could not select device driver "" with capabilities: [[gpu]]',
                                    "Unknown runtime specified nvidia"])
def test_engine_without_gpu_runtime_message(tmp_path: Path, detail: str) -> None:
    class Refused(Exception):
        explanation = detail

    spec = ProcessSpec("program", ("nvidia-smi",), "/app/output", tmp_path / "o", tmp_path / "e")
    message = _start_message(spec, Refused())
    assert message.startswith("no GPU runtime on this host") and detail in message
