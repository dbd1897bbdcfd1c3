"""What the host records of each plugin, and what the manifest asks of one: plain data that
the errors, the host and the CLI share (it imports nothing of aibench_plugins)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["PluginRecord", "PluginRequest", "Status"]

Status = Literal["loaded", "failed", "missing", "skipped"]


@dataclass
class PluginRecord:
    """What happened to one plugin: the row of ``aibench plugins list``.

    ``status`` is ``loaded``, ``failed`` (import or registration raised; ``reason``
    says why), ``missing`` (not installed or wrong version) or ``skipped``
    (installed but not named in the manifest, so never imported).
    """

    id: str
    distribution: str
    version: str | None
    status: Status
    reason: str = ""
    builtin: bool = False
    required: bool = False
    entry_point: str | None = None
    kinds: list[str] = field(default_factory=list)
    provides: dict[str, list[str]] = field(default_factory=dict)
    hooks: list[str] = field(default_factory=list)
    traceback: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape (see docs/cli.md)."""
        data = asdict(self)
        data.pop("traceback")
        return data


@dataclass(frozen=True)
class PluginRequest:
    """A plugin the manifest names: its id, PEP 508 requirement and whether it is required."""

    id: str
    requirement: str | None = None
    required: bool = False
