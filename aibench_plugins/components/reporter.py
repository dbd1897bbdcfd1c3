"""The contract of a reporter: a component that adds a :class:`Section` to the detailed
results page, from the report document alone (``docs/report.md``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..core.kinds import ComponentInfo

__all__ = ["Reporter", "Section"]


@dataclass(frozen=True)
class Section:
    """A part of the page a reporter contributes. ``body`` is HTML inserted as is: the
    reporter escapes its own text (``html.escape``) and uses no script or external resource.

    ``covers``: the ids of the analysis components (fairness and robustness checkers) whose
    items of the report's ``analyses`` this section renders; the page places it with the
    analyses and shows no generic section for them. A reporter registered under the id of the
    analysis component it renders covers that component without saying so."""

    id: str
    title: str
    body: str
    failed: bool = False
    covers: tuple[str, ...] = ()


@runtime_checkable
class Reporter(Protocol):
    """A component giving one section of the page, or ``None`` when it has nothing to say."""

    @property
    def info(self) -> ComponentInfo: ...

    def render(self, report: Mapping[str, Any]) -> Section | None:
        """The section for ``report``, the report document (``schemas/aibench-report.schema.json``)."""
