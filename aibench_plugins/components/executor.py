"""The contract of an executor plugin: the factory a plugin registers and the executor it
makes, with everything ``aibench run`` uses of it (no attribute is probed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ..core.kinds import ExecutorInfo

__all__ = ["ExecutorFactory", "HostExecutor"]


class HostExecutor(Protocol):
    """What ``aibench run`` uses of an executor, all of it (no attribute is probed).

    An executor plugin's component has an :class:`ExecutorInfo` and a
    ``create(options) -> HostExecutor``; ``options`` holds only names of ``info.options``.
    ``start`` is :class:`codalab_worker_compat.Executor`'s. One method is optional, the only one
    ``aibench run`` looks for: ``interpreters() -> dict[str, dict]``, process name to the
    interpreter that ran it (``{"command", "python", "executable", "version", "packages"}``, see
    :mod:`aibench_plugins.executors.interpreter`), called once after the steps; without it the
    run records ``{}``.
    """

    name: str

    def start(self, spec: Any) -> Any:
        """Start one process (a :class:`codalab_worker_compat.ProcessSpec`); see ``Executor.start``."""

    def describe(self) -> dict[str, Any]:
        """What the run record stores: ``{"executor": name, ...}`` (``image``, ``image_id`` when it has them)."""

    def label(self, run_id: str) -> None:
        """Tag what it starts from now on with the run's id (container labels), or nothing."""

    def limit_refusals(self, limits: Any) -> list[str]:
        """One message per limit of ``limits`` (a ``ResourceLimits``) it cannot apply; empty: all applied."""

    def close(self) -> None:
        """Release what it holds (an engine connection); running processes are not affected."""


class ExecutorFactory(Protocol):
    """The component an executor plugin registers."""

    @property
    def info(self) -> ExecutorInfo: ...

    def create(self, options: Mapping[str, Any]) -> HostExecutor:
        """A ready executor; ``options`` were checked against ``info.options``."""
