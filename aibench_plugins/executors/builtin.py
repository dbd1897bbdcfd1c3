"""The built-in executors, registered like any plugin's: ``local`` (processes on this machine,
bubblewrap when it works) and ``docker`` (each process in a hardened container).

Both come from ``codalab_worker_compat``; this module only gives them the executor contract
(:class:`aibench_plugins.HostExecutor`): a description for the run record, run labels, the
limits they cannot apply, and closing. A third-party executor (Ray, Kubernetes) registers
the same way and is chosen with ``aibench run --executor ID``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aibench_plugins import ExecutorInfo, UsageError, hookimpl


class _Local:
    """compat's :class:`~codalab_worker_compat.LocalExecutor` with the executor contract."""

    name = "local"

    def __init__(self, executor: Any) -> None:
        self._executor = executor

    def start(self, spec: Any) -> Any:
        return self._executor.start(spec)

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "isolation": self._executor.isolation, "network": self._executor.network}

    def label(self, run_id: str) -> None:
        """Local processes carry no labels."""

    def limit_refusals(self, limits: Any) -> list[str]:
        return list(self._executor.limit_refusals(limits))

    def trust_warning(self, isolation: str) -> str:
        """What it does not protect against (compat's runner adds it to the run's warnings)."""
        return str(self._executor.trust_warning(isolation))

    def close(self) -> None:
        """Nothing to release."""


class _Docker:
    """compat's :class:`~codalab_worker_compat.DockerExecutor` with the executor contract."""

    name = "docker"

    def __init__(self, executor: Any) -> None:
        self._executor = executor

    def start(self, spec: Any) -> Any:
        return self._executor.start(spec)

    def describe(self) -> dict[str, Any]:
        return dict(self._executor.describe())

    def label(self, run_id: str) -> None:
        self._executor.run_label = run_id

    def limit_refusals(self, limits: Any) -> list[str]:
        return list(self._executor.limit_refusals(limits))

    def close(self) -> None:
        self._executor.close()


class LocalExecutorPlugin:
    """``local``: the platforms' steps as processes on this machine."""

    info = ExecutorInfo(
        id="local", options=("isolation", "network"),
        description="Processes on this machine; mounts through bubblewrap when it works. For organisers "
                    "testing their own bundles: use docker for untrusted code.")

    def create(self, options: Mapping[str, Any]) -> _Local:
        from codalab_worker_compat import LocalExecutor

        return _Local(LocalExecutor(isolation=options.get("isolation") or "auto", network=bool(options.get("network"))))


class DockerExecutorPlugin:
    """``docker``: each process in a hardened container of ``image``."""

    info = ExecutorInfo(
        id="docker", options=("image", "network"),
        description="Each process in its own hardened container (read-only inputs, no network unless asked, "
                    "memory, CPU and process limits); the image is pinned to its ID.")

    def create(self, options: Mapping[str, Any]) -> _Docker:
        from codalab_worker_compat import DockerExecutor

        if not options.get("image"):
            raise UsageError("the docker executor needs an image, e.g. codalab-compat/py312:bookworm (make images)")
        return _Docker(DockerExecutor(str(options["image"]), network=bool(options.get("network"))))


@hookimpl
def aibench_register_executors(register: Any) -> None:
    register(LocalExecutorPlugin())
    register(DockerExecutorPlugin())
