"""The detailed results page (``detailed_results.html``) CodaLab and Codabench show beside
the leaderboard.

:func:`render_detailed_results` turns a run report (the ``aibench run --json`` shape) into
one self-contained HTML5 document: inline CSS and inline SVG only, no script, no external
resource, every piece of text escaped. Reporter components (``aibench_register_reporters``)
add :class:`Section` s; :func:`collect_sections` calls each one in isolation, so a reporter
that raises, crashes or hangs becomes a failure section and never breaks the page.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ._components import ComponentInfo, Kind
from ._isolate import call_isolated
from ._version import __version__

if TYPE_CHECKING:
    from ._host import PluginHost

__all__ = ["Reporter", "Section", "collect_sections", "render_detailed_results"]

DEFAULT_REPORTER_TIME_LIMIT_S = 30.0
_LABEL_W, _BAR_W = 110, 260  # chart geometry, in SVG user units


@dataclass(frozen=True)
class Section:
    """A part of the page a reporter contributes. ``body`` is HTML inserted as is: the
    reporter escapes its own text (``html.escape``) and uses no script or external resource."""

    id: str
    title: str
    body: str
    failed: bool = False


@runtime_checkable
class Reporter(Protocol):
    """A component giving one section of the page, or ``None`` when it has nothing to say."""

    @property
    def info(self) -> ComponentInfo: ...

    def render(self, report: Mapping[str, Any], manifest: Mapping[str, Any] | None) -> Section | None: ...


def collect_sections(host: PluginHost, report: Mapping[str, Any], manifest: Mapping[str, Any] | None = None, *,
                     timeout_s: float | None = DEFAULT_REPORTER_TIME_LIMIT_S) -> list[Section]:
    """Every registered reporter's section, in id order; each reporter runs in a forked child with
    ``timeout_s``, and one that fails or returns something else than a Section or None gives a
    failure section naming it."""
    sections: list[Section] = []
    for registration in host.registry(Kind.REPORTER):
        reporter = registration.component
        rid = registration.id

        def call(reporter: Any = reporter) -> Any:
            return reporter.render(report, manifest)

        outcome = call_isolated(call, timeout_s=timeout_s, label=f"reporter {rid}")
        if outcome.ok and (outcome.value is None or isinstance(outcome.value, Section)):
            if outcome.value is not None:
                sections.append(outcome.value)
            continue
        error = outcome.error if not outcome.ok else f"render() returned {type(outcome.value).__name__}, not a Section"
        sections.append(Section(f"failed-{rid}", f"{rid} (reporter failed)",
                                f"<p>Reporter <code>{_e(rid)}</code> of plugin <code>{_e(registration.plugin)}"
                                f"</code> failed: {_e(error)}</p>", failed=True))
    return sections


def render_detailed_results(report: Mapping[str, Any], *, sections: Sequence[Section] = (),
                            manifest: Mapping[str, Any] | None = None) -> str:
    """The detailed results page of one run, as one self-contained HTML5 document."""
    plugin_columns: list[Mapping[str, Any]] = list(report.get("plugin_columns") or [])
    parts: list[tuple[str, str, str, bool]] = [  # (id, title, body html, failed)
        ("scores", "Scores", _original_scores(report.get("columns") or []), False),
        ("plugin-scores", "Plugin scores", _plugin_scores(plugin_columns), False),
        ("chart", "Plugin scores by split", _chart(plugin_columns), False),
        ("failures", "Plugin failures", _failures(report.get("plugin_failures") or []), False),
        ("problems", "Submission check problems", _problems(report.get("check_problems") or []), False),
    ]
    if report.get("measurements"):
        parts.append(("measurements", "Measurements", _measurements(report["measurements"]), False))
    output = report.get("plugin_output")
    if isinstance(output, Mapping) and output.get("bytes"):
        parts.append(("plugin-output", "Plugin output", _plugin_output(output), False))
    parts += [(f"section-{s.id}", s.title, s.body, s.failed) for s in sections]
    concepts = (manifest or {}).get("concepts") or []
    if concepts:
        parts.append(("concepts", "Concepts", _concepts(concepts), False))
    parts.append(("provenance", "Provenance", _provenance(report, plugin_columns), False))
    nav = " ".join(f'<a href="#{_e(i)}">{_e(t)}</a>' for i, t, _, _ in parts)
    failed_class = ' class="failed"'
    body = "\n".join(f'<section id="{_e(i)}"{failed_class if failed else ""}><h2>{_e(t)}</h2>\n{html}</section>'
                     for i, t, html, failed in parts)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>Detailed results</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            f"{_header(report)}\n<nav>{nav}</nav>\n<main>\n{body}\n</main>\n"
            f"<footer>Generated by aibench {_e(__version__)}</footer>\n</body>\n</html>\n")


# -- parts of the page ----------------------------------------------------------------

def _header(report: Mapping[str, Any]) -> str:
    phase = report.get("phase") or {}
    phase_text = (" ".join(str(phase[k]) for k in ("number", "name") if phase.get(k) is not None)
                  if isinstance(phase, Mapping) else str(phase))
    status = str(report.get("status") or "unknown")
    kind = status if status in ("finished", "failed") else "other"
    message = report.get("message")
    return ("<header><h1>Detailed results</h1><dl>"
            f"<dt>Platform</dt><dd>{_e(report.get('platform') or 'n/a')}</dd>"
            f"<dt>Phase</dt><dd>{_e(phase_text or 'n/a')}</dd>"
            f'<dt>Status</dt><dd><span class="status {kind}">{_e(status)}</span></dd></dl>'
            + (f'<p class="message">{_e(_bounded(str(message)))}</p>' if message else "") + "</header>")


#: the longest text the page shows of a message (a participant's output can make one huge)
MAX_TEXT_CHARS = 64 * 1024


def _bounded(text: str, size: int = MAX_TEXT_CHARS) -> str:
    """``text``, or its head and tail with the cut said when longer than ``size`` characters."""
    if len(text) <= size:
        return text
    return f"{text[:size // 2]} [… {len(text) - size} characters cut …] {text[-size // 2:]}"


def _original_scores(columns: Iterable[Mapping[str, Any]]) -> str:
    rows = [(c.get("title") or c.get("key"), c.get("key"), _fmt(c.get("value"), c.get("precision")))
            for c in columns]
    return _table(("Score", "Key", "Value"), rows, numeric=(2,), empty="The scoring program gave no scores.")


def _plugin_scores(columns: Sequence[Mapping[str, Any]]) -> str:
    rows = [(c.get("title"), c.get("key"), _fmt(c.get("value"), c.get("precision")), c.get("metric"),
             c.get("split")) for c in columns]
    return _table(("Score", "Key", "Value", "Metric", "Split"), rows, numeric=(2,),
                  empty="No plugin metric ran.")


def _chart(columns: Sequence[Mapping[str, Any]]) -> str:
    """One horizontal bar chart (inline SVG) per metric, one bar per split with a value."""
    by_metric: dict[str, list[Mapping[str, Any]]] = {}
    for column in columns:
        by_metric.setdefault(str(column.get("metric")), []).append(column)
    if not by_metric:
        return '<p class="empty">No plugin scores to chart.</p>'
    figures = []
    for metric, group in by_metric.items():
        values = [v for v in (_number(c.get("value")) for c in group) if v is not None]
        unit = bool(values) and all(0.0 <= v <= 1.0 for v in values)
        top = 1.0 if unit else max([abs(v) for v in values] + [0.0]) or 1.0
        label_w, bar_w, row_h = _LABEL_W, _BAR_W, 28
        height = row_h * len(group) + 8
        rows = []
        for index, column in enumerate(group):
            y = 4 + index * row_h
            value = _number(column.get("value"))
            text = _fmt(column.get("value"), column.get("precision"))
            rows.append(f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end">{_e(column.get("split"))}</text>')
            width = 0.0 if value is None else max(0.0, value) / top * bar_w
            if value is not None:
                rows.append(f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{width:.1f}" height="{row_h - 8}" '
                            f'rx="3"><title>{_e(column.get("key"))}: {_e(text)}</title></rect>')
            rows.append(f'<text class="value" x="{label_w + width + 6:.1f}" y="{y + 18}">{_e(text)}</text>')
        scale = "scale 0 to 1" if unit else f"scale 0 to {top:g}"
        figures.append(f'<figure><figcaption><code>{_e(metric)}</code> ({scale})</figcaption>'
                       f'<svg viewBox="0 0 {label_w + bar_w + 90} {height}" '
                       f'role="img" aria-label="{_e(metric)} by split">'
                       f'<line x1="{label_w}" y1="0" x2="{label_w}" y2="{height}" class="axis"/>'
                       + "".join(rows) + "</svg></figure>")
    return "\n".join(figures)


def _failures(failures: Iterable[Mapping[str, Any]]) -> str:
    rows = [(f.get("component"), f.get("key") or "", f.get("message"),
             "yes" if f.get("required") else "no") for f in failures]
    return _table(("Component", "Key", "Message", "Failed the run"), rows, empty="No plugin failed.")


def _problems(problems: Iterable[Mapping[str, Any]]) -> str:
    rows = []
    for p in problems:
        where = str(p.get("file") or "submission") + (f":{p['line']}" if p.get("line") is not None else "")
        rows.append((p.get("severity"), p.get("check"), where, p.get("message"), p.get("item") or "",
                     p.get("fix") or ""))
    return _table(("Severity", "Check", "Where", "Problem", "Id", "Fix"), rows,
                  empty="The submission checks found no problem.")


def _concepts(concepts: Iterable[Mapping[str, Any]]) -> str:
    rows = [(c.get("label"), c.get("definition") or "", c.get("parent") or "") for c in concepts]
    return _table(("Label", "Definition", "Parent"), rows)


def _measurements(measurements: Iterable[Mapping[str, Any]]) -> str:
    """Each number with who measured it: host-side ones can be trusted, in-container ones not."""
    rows = [(m.get("name"), m.get("step"), f"{_fmt(m.get('value'), 3)} {m.get('unit') or ''}".strip(),
             m.get("measured_by"), m.get("trust")) for m in measurements]
    return _table(("Measurement", "Step", "Value", "Measured by", "Trust"), rows, numeric=(2,))


def _plugin_output(output: Mapping[str, Any]) -> str:
    """The end of what plugin code printed (the run keeps its head and tail in a log)."""
    cut = int(output.get("cut_bytes") or 0)
    where = f" The log, <code>{_e(output['log'])}</code>, keeps its first and last MiB" if output.get("log") else ""
    return (f"<p>Plugin code wrote {int(output.get('bytes') or 0)} bytes to its standard output and error"
            + (f" ({cut} bytes cut)" if cut else "") + f".{where}. Its end:</p>"
            f"<pre>{_e(str(output.get('tail') or '')[-2048:])}</pre>")


def _provenance(report: Mapping[str, Any], columns: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for column in columns:
        prov = column.get("provenance") or {}
        distribution = " ".join(str(prov[k]) for k in ("distribution", "distribution_version") if prov.get(k))
        metric = f"{prov.get('metric_id') or column.get('metric')} v{prov.get('metric_version') or '?'}"
        rows.append((column.get("key"), metric, distribution, _short_sha(prov.get("params_sha256")),
                     prov.get("aibench_version")))
    table = _table(("Key", "Metric, version", "Plugin distribution", "Params sha256", "aibench"), rows,
                   raw=(3,), empty="No plugin column.")
    return (f"{table}<dl><dt>Manifest sha256</dt><dd><code>{_e(report.get('manifest_sha256') or 'n/a')}</code></dd>"
            f"<dt>aibench version</dt><dd>{_e(__version__)}</dd></dl>")


# -- helpers ------------------------------------------------------------------------

def _e(value: Any) -> str:
    return escape("n/a" if value is None else str(value), quote=True)


def _short_sha(digest: Any) -> str:
    """The first 12 hex digits of a digest, the whole one in a tooltip."""
    return f'<code title="{_e(digest)}">{_e(str(digest)[:12])}…</code>' if digest else "n/a"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _fmt(value: Any, precision: Any = None) -> str:
    """``value`` with ``precision`` decimal places; ``n/a`` when missing or not finite."""
    number = _number(value)
    if number is None:
        return "n/a"
    places = precision if isinstance(precision, int) and not isinstance(precision, bool) and precision >= 0 else 4
    return f"{number:.{places}f}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, numeric: Sequence[int] = (),
           raw: Sequence[int] = (), empty: str = "Nothing to show.") -> str:
    """An escaped table (cells at ``raw`` indexes are HTML already) in a scrolling wrapper."""
    if not rows:
        return f'<p class="empty">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)

    def cell(i: int, value: Any) -> str:
        text = str(value) if i in raw else _e(value)
        return f'<td class="num">{text}</td>' if i in numeric else f"<td>{text}</td>"

    body = "".join("<tr>" + "".join(cell(i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


_CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#f6f8fa}
header,nav,main,footer{max-width:960px;margin:0 auto;padding:0 16px}
header{padding-top:16px}
h1{font-size:1.6em;margin:.2em 0}
h2{font-size:1.2em;margin:0 0 .6em;border-bottom:1px solid #d0d7de;padding-bottom:.3em}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;margin:.5em 0}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
.status{padding:1px 8px;border-radius:10px;background:#6e7781;color:#fff;font-weight:600}
.status.finished{background:#1a7f37}.status.failed{background:#cf222e}
.message{white-space:pre-wrap;background:#fff;border-left:4px solid #0969da;padding:8px 12px;margin:.5em 0}
nav{display:flex;flex-wrap:wrap;gap:4px 14px;padding-top:8px;padding-bottom:8px;font-size:.9em}
nav a{color:#0969da;text-decoration:none}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:14px 16px;margin:14px 0}
section.failed{border-color:#cf222e;background:#fff5f5}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.92em}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #eaeef2;vertical-align:top}
td{overflow-wrap:break-word;max-width:28em}
th{background:#f6f8fa;font-weight:600;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font:.88em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
figure{margin:0 0 12px}figcaption{font-size:.9em;margin-bottom:4px}
svg{width:100%;max-width:520px;height:auto;font-size:13px;font-family:inherit}
svg .bar{fill:#0969da}svg .axis{stroke:#8c959f}svg text{fill:#1f2328}
.empty{color:#57606a;font-style:italic;margin:0}
footer{color:#57606a;font-size:.85em;padding-bottom:24px}
@media (max-width:600px){body{font-size:14px}section{padding:10px}th,td{padding:4px 6px}svg{font-size:19px}}
"""
