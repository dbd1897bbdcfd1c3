"""Built-in reporters: sections of the detailed results page (``detailed_results.html``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape
from typing import Any

from aibench_plugins import ComponentInfo, Register, Section, hookimpl


class SplitOverview:
    """Each plugin metric across the splits it was computed on: one row per metric, one
    column per split, so public and private scores read side by side."""

    info = ComponentInfo(id="aibench.split_overview",
                         description="A table of each plugin metric across the splits it was computed on.")

    def render(self, report: Mapping[str, Any]) -> Section | None:
        columns = list(report.get("plugin_columns") or [])
        if not columns:
            return None
        splits: list[str] = []
        cells: dict[tuple[str, str], str] = {}
        for column in columns:
            metric, split = str(column.get("metric")), str(column.get("split"))
            if split not in splits:
                splits.append(split)
            cells[metric, split] = _fmt(column.get("value"), column.get("precision"))
        metrics = list(dict.fromkeys(str(c.get("metric")) for c in columns))
        head = "".join(f"<th>{escape(s)}</th>" for s in ["Metric", *splits])
        rows = "".join(
            f"<tr><td><code>{escape(m)}</code></td>"
            + "".join(f'<td class="num">{escape(cells.get((m, s), "—"))}</td>' for s in splits) + "</tr>"
            for m in metrics)
        body = f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'
        return Section("split-overview", "Metrics across splits", body)


def _fmt(value: Any, precision: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "n/a"
    places = precision if isinstance(precision, int) and not isinstance(precision, bool) and precision >= 0 else 4
    return f"{value:.{places}f}"


@hookimpl
def aibench_register_reporters(register: Register) -> None:
    from .complexity_page import ComplexitySection

    register(SplitOverview())
    register(ComplexitySection())
