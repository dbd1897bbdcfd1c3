"""The reporter of the complexity section: a section of ``detailed_results.html`` with a table per
entry of the report's ``complexity.entries`` (measurement, value with its interval, unit, the
reference's value, status and reason, tool and version, who measured it and whether that can be
trusted), flagged values marked, the entry's notes and tables, the efficiency values (and where a
``pareto_rank`` is computed: by the leaderboard), and the hardware fingerprint of the prediction step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from aibench_plugins import ComponentInfo, Section, render_table

__all__ = ["ComplexitySection"]

#: who measured -> what that means for trust (the contract's words, repeated for an old report)
TRUST = {
    "worker": "host: the platform's worker, outside the participant's container",
    "executor": "host: the executor that ran the container",
    "ingestion": "inside the participant's container: participant code could forge it",
    "scoring": "the organiser's scoring container, after the participant's run",
}
HARDWARE = (("cpu_model", "CPU"), ("cpu_count", "CPU cores"), ("threads", "Threads"), ("memory_mb", "Memory (MiB)"),
            ("gpu_model", "GPU"), ("gpu_driver", "GPU driver"), ("cuda", "CUDA"), ("torch", "torch"),
            ("python", "Python"), ("platform", "Platform"))


class ComplexitySection:
    """The page section of a report's complexity measurements and efficiency scores."""

    info = ComponentInfo(id="aibench.complexity_page",
                         description="A table per complexity entry (value, interval, unit, reference, status, tool, "
                                     "who measured it and its trust), the efficiency scores and the hardware.")

    def render(self, report: Mapping[str, Any]) -> Section | None:
        complexity = report.get("complexity")
        if not isinstance(complexity, Mapping):
            return None
        entries = [e for e in complexity.get("entries") or [] if isinstance(e, Mapping)]
        efficiency = [v for v in complexity.get("efficiency") or [] if isinstance(v, Mapping)]
        if not entries and not efficiency:
            return None
        parts = [_entry(e) for e in entries]
        if efficiency:
            parts.append(_efficiency(efficiency))
        parts.append(_hardware(complexity.get("hardware")))
        return Section("complexity", "Complexity", "\n".join(parts))


def _entry(entry: Mapping[str, Any]) -> str:
    title = f'<h3>{_e(entry.get("label") or entry.get("key"))} <code>{_e(entry.get("use"))}</code></h3>'
    if entry.get("error"):
        return f'<div class="complexity failed">{title}<p class="flags"><strong>Not measured:</strong> ' \
               f'{_e(entry.get("error"))}</p></div>'
    rows = []
    for m in entry.get("measurements") or []:
        if not isinstance(m, Mapping):
            continue
        flagged = bool(m.get("flagged"))
        status = str(m.get("status") or "measured")
        reason = f": {m.get('reason')}" if m.get("reason") else ""
        who = str(m.get("measured_by") or "")
        trust = m.get("trust") or TRUST.get(who, "")
        tool = " ".join(str(t) for t in (m.get("tool"), m.get("tool_version")) if t)
        mark = '<strong class="flagged" title="flagged: see the status">⚠ flagged</strong> ' if flagged else ""
        row_class = ' class="flagged"' if flagged else ""
        rows.append(f'<tr{row_class}><td><code>{_e(m.get("name"))}</code></td>'
                    f'<td class="num">{mark}{_e(_value(m))}</td><td>{_e(m.get("unit"))}</td>'
                    f'<td class="num">{_e(_fmt(m.get("reference")))}</td><td>{_e(status)}{_e(reason)}</td>'
                    f"<td>{_e(tool or 'n/a')}</td><td>{_e(who)}: {_e(trust)}</td></tr>")
    table = ('<div class="scroll"><table><thead><tr><th>Measurement</th><th>Value ± interval</th><th>Unit</th>'
             '<th>Reference</th><th>Status</th><th>Tool</th><th>Measured by (trust)</th></tr></thead><tbody>'
             + "".join(rows) + "</tbody></table></div>") if rows else '<p class="empty">No measurement.</p>'
    flags = [f for f in entry.get("flags") or [] if isinstance(f, Mapping)]
    flag_list = ('<ul class="flags">' + "".join(
        f'<li class="{"fail" if f.get("action") == "fail" else "flag"}"><strong>{_e(str(f.get("action")).upper())}'
        f'</strong> {_e(f.get("message"))}</li>' for f in flags) + "</ul>") if flags else ""
    tables = "".join(render_table(t, number_format=".6g") for t in entry.get("tables") or []
                     if isinstance(t, Mapping))
    notes = [n for n in entry.get("notes") or [] if isinstance(n, str)]
    note_list = ("<ul class=\"notes\">" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>") if notes else ""
    return f'<div class="complexity">{title}{flag_list}{table}{tables}{note_list}</div>'


def _value(m: Mapping[str, Any]) -> str:
    value = _num(m.get("value"))
    if value is None:
        return "unavailable"
    low, high = _num(m.get("low")), _num(m.get("high"))
    if low is not None and high is not None:
        return f"{_fmt(value)} [{_fmt(low)}, {_fmt(high)}]"
    return _fmt(value)


def _efficiency(values: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for v in values:
        terms = ", ".join(f"{t.get('weight')} × {t.get('measurement')} (ratio {_fmt(t.get('ratio'))})"
                          for t in v.get("terms") or [] if isinstance(t, Mapping))
        if v.get("computed_by") == "leaderboard":
            value = "computed by the leaderboard across runs (aibench leaderboard)"
            terms = f"score {v.get('score')} against cost {v.get('cost')} (this run's cost: " \
                    f"{_fmt(v.get('cost_value'))})"
        else:
            value = _fmt(v.get("value")) if v.get("error") is None else f"not computed: {v.get('error')}"
        rows.append(f"<tr><td><code>{_e(v.get('key'))}</code></td><td>{_e(v.get('label'))}</td>"
                    f"<td>{_e(v.get('formula'))}</td><td>{_e(value)}</td><td>{_e(terms)}</td></tr>")
    return ('<h3>Efficiency scores</h3><div class="scroll"><table><thead><tr><th>Key</th><th>Label</th><th>Formula'
            '</th><th>Value</th><th>Terms</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table></div>")


def _hardware(hardware: Any) -> str:
    if not isinstance(hardware, Mapping):
        return '<p class="scale">The hardware of the prediction step is not known (nothing was measured there).</p>'
    rows = "".join(f"<dt>{_e(label)}</dt><dd>{_e(hardware.get(key) if hardware.get(key) is not None else 'n/a')}</dd>"
                   for key, label in HARDWARE)
    return ("<h3>Hardware of the prediction step</h3><dl>" + rows + "</dl>"
            '<p class="scale">Timings compare across runs only on the same hardware; ratios to the reference '
            "measured in the same run compare across machines.</p>")


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _fmt(value: Any) -> str:
    number = _num(value)
    if number is None:
        return "n/a"
    return f"{number:.6g}"


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)
