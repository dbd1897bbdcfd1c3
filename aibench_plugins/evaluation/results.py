"""What the evaluation session gives for one submission, item by item: a leaderboard column a
plugin adds (:class:`PluginColumn`) and a component that could not give its result
(:class:`PluginFailure`), shared by the metrics' runner (:mod:`.session`) and the analyses'
(:mod:`.analyses`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from ..components.metric import Provenance

__all__ = ["TRACEBACK_LIMIT_BYTES", "PluginColumn", "PluginFailure", "cap_traceback", "label_sets"]


@dataclass(frozen=True)
class PluginColumn:
    """A leaderboard column a plugin adds beside the original ones."""

    key: str
    title: str
    sorting: str
    precision: int
    hidden: bool
    value: float | None
    metric: str
    split: str
    provenance: Provenance | None = None
    #: reference rows of this split left out because their reference value is missing
    #: (a references table declared ``missing: skip``); ``None`` when the table does not skip
    skipped_references: int | None = None
    #: the first paragraph of the metric's docstring (:func:`~aibench_plugins.core.registry.component_description`)
    description: str | None = None
    #: the metric's ``(low, high)`` bounds (either ``None`` when open), ``None`` when it declares none;
    #: the page scales its chart by them
    bounds: tuple[float | None, float | None] | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["bounds"] = list(self.bounds) if self.bounds is not None else None
        if data["skipped_references"] is None:
            del data["skipped_references"]
        return data


TRACEBACK_LIMIT_BYTES = 16 * 1024
"""The most of a failure's formatted traceback kept in the report (UTF-8 bytes)."""


def cap_traceback(text: str | None, limit: int = TRACEBACK_LIMIT_BYTES) -> str | None:
    """``text`` cut to at most ``limit`` UTF-8 bytes: its first lines (``Traceback (most recent
    call last):`` and the outer frames) and its end (the innermost frames, the plugin's own, and
    the exception), with a line saying how much was left out between them."""
    if text is None:
        return None
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    marker = "\n... ({} bytes of the traceback left out) ...\n"
    room = limit - len(marker.format(len(data)).encode())
    head, tail = data[: room // 4], data[len(data) - (room - room // 4):]
    cut = len(data) - len(head) - len(tail)
    return (head.decode("utf-8", "ignore") + marker.format(cut) + tail.decode("utf-8", "ignore"))


@dataclass(frozen=True)
class PluginFailure:
    """A component that could not give its result, and whether that fails the submission.

    ``traceback`` is the formatted exception of the plugin's code (its frames last), capped
    at :data:`TRACEBACK_LIMIT_BYTES`; ``None`` when nothing raised (a time limit, a value
    that is not finite, a plugin that is not installed). It is for organisers: the page
    shows it only in its organiser section.
    """

    component: str
    kind: str
    plugin: str | None
    message: str
    required: bool
    key: str | None = None
    traceback: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "traceback", cap_traceback(self.traceback))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def label_sets(values: Any, separator: str | None) -> Any:
    """Values of a table whose ``separator`` is set, as one list of labels per row (multi-label)."""
    if separator is None:
        return values
    def labels(value: Any) -> list[str]:
        empty = value is None or value == "" or (isinstance(value, float) and math.isnan(value))
        return [] if empty else str(value).split(separator)

    return [labels(value) for value in values]
