"""The detailed results page (``detailed_results.html``) CodaLab and Codabench show beside
the leaderboard.

:func:`render_detailed_results` turns a report document (``report.json``, the shape of
``schemas/aibench-report.schema.json``, the same on both paths) into
one self-contained HTML5 document: inline CSS and inline SVG only, no script, no external
resource, every piece of text escaped. Reporter components (``aibench_register_reporters``)
add :class:`Section` s; :func:`collect_sections` calls each one in isolation, so a reporter
that raises, crashes or hangs becomes a failure section and never breaks the page.

The thresholds the analyses crossed (``analyses[].flags``) are listed near the top, before the
scores. Each analysis (``analyses[]``) gets the section of the reporter that covers its component
(:attr:`Section.covers`; a reporter with the component's id covers it), placed after the plugin
scores; an analysis no reporter covers gets a generic section (its summaries, its groups with
their sizes, its tables, notes and flags), so that a third-party analysis is readable without one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from html import escape
from typing import TYPE_CHECKING, Any

from ..core.kinds import Kind
from ..core.isolate import call_isolated
from ..components.reporter import Reporter, Section
from .._version import __version__
from .chart import render_charts

if TYPE_CHECKING:
    from ..core.host import PluginHost

__all__ = ["Reporter", "Section", "collect_sections", "render_detailed_results"]

DEFAULT_REPORTER_TIME_LIMIT_S = 30.0


def collect_sections(host: PluginHost, report: Mapping[str, Any], *,
                     timeout_s: float | None = DEFAULT_REPORTER_TIME_LIMIT_S) -> list[Section]:
    """Every registered reporter's section, in id order; each reporter runs in a forked child with
    ``timeout_s``, and one that fails or returns something else than a Section or None gives a
    failure section naming it."""
    sections: list[Section] = []
    analysed = {str(a.get("component")) for a in report.get("analyses") or [] if isinstance(a, Mapping)}
    for registration in host.registry(Kind.REPORTER):
        reporter = registration.component
        rid = registration.id

        def call(reporter: Any = reporter) -> Any:
            return reporter.render(report)

        outcome = call_isolated(call, timeout_s=timeout_s, label=f"reporter {rid}")
        if outcome.ok and (outcome.value is None or isinstance(outcome.value, Section)):
            section = outcome.value
            if section is not None and rid in analysed and rid not in section.covers:
                section = replace(section, covers=(*section.covers, rid))
            if section is not None:
                sections.append(section)
            continue
        error = outcome.error if not outcome.ok else f"render() returned {type(outcome.value).__name__}, not a Section"
        sections.append(Section(f"failed-{rid}", f"{rid} (reporter failed)",
                                f"<p>Reporter <code>{_e(rid)}</code> of plugin <code>{_e(registration.plugin)}"
                                f"</code> failed: {_e(error)}</p>", failed=True))
    return sections


def render_detailed_results(report: Mapping[str, Any], *, sections: Sequence[Section] = ()) -> str:
    """The detailed results page of one run, as one self-contained HTML5 document, from the
    report document alone.

    Participants see the scores, the charts (titled with the organiser's labels, scaled by each
    metric's bounds), what failed and what the checks found; a refused submission's page states
    each problem once, in the problems table. What only organisers need (provenance, who measured
    what and whether it can be trusted, what plugin code printed, plugin tracebacks) is in one
    collapsed section at the end (``<details>``, closed)."""
    plugin_columns: list[Mapping[str, Any]] = list(report.get("plugin_columns") or [])
    problems = _unique(report.get("check_problems") or [])
    refused = _refused(report, problems)
    analyses = [a for a in report.get("analyses") or [] if isinstance(a, Mapping)]
    complexity = report.get("complexity")
    metered = [e for e in (complexity.get("entries") or [] if isinstance(complexity, Mapping) else [])
               if isinstance(e, Mapping)]
    flags = _flags([*analyses, *metered])
    parts: list[tuple[str, str, str, bool]] = [flags] if flags else []  # (id, title, body html, failed)
    parts += [("problems", "Submission check problems", _problems(problems), True)] if refused else [
        ("scores", "Scores", _original_scores(report.get("columns") or []), False),
        ("plugin-scores", "Plugin scores", _plugin_scores(plugin_columns), False),
        ("chart", "Plugin scores by split", render_charts(plugin_columns), False),
        *_analysis_parts(analyses, sections),
        ("failures", "Plugin failures", _failures(report.get("plugin_failures") or []), False),
        ("problems", "Submission check problems", _problems(problems), False),
    ]
    parts += [(f"section-{s.id}", s.title, s.body, s.failed) for s in sections if not s.covers]
    concepts = report.get("concepts") or []
    if concepts:
        parts.append(("concepts", "Concepts", _concepts(concepts), False))
    links = [(i, t) for i, t, _, _ in parts] + [("organiser", ORGANISER_TITLE)]
    nav = " ".join(f'<a href="#{_e(i)}">{_e(t)}</a>' for i, t in links)
    failed_class = ' class="failed"'
    body = "\n".join(f'<section id="{_e(i)}"{failed_class if failed else ""}><h2>{_e(t)}</h2>\n{html}</section>'
                     for i, t, html, failed in parts)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>Detailed results</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            f"{_header(report, refused, len(problems))}\n<nav>{nav}</nav>\n<main>\n{body}\n"
            f"{_organiser(report, plugin_columns)}\n</main>\n"
            f"<footer>Generated by aibench {_e(__version__)}</footer>\n</body>\n</html>\n")


def _flags(analyses: Sequence[Mapping[str, Any]]) -> tuple[str, str, str, bool] | None:
    """The part listing every threshold the analyses crossed, ``fail`` ones first; ``None`` when none was."""
    found = [(a, f) for a in analyses for f in a.get("flags") or [] if isinstance(f, Mapping)]
    if not found:
        return None
    found.sort(key=lambda pair: pair[1].get("action") != "fail")
    items = "".join(
        f'<li class="{"fail" if f.get("action") == "fail" else "flag"}"><strong>'
        f'{_e("fails the submission" if f.get("action") == "fail" else "flag")}</strong> '
        f'<code>{_e(a.get("key"))}</code>: {_e(f.get("message"))}</li>' for a, f in found)
    failing = any(f.get("action") == "fail" for _, f in found)
    return ("flags", "Flags", f'<ul class="flags">{items}</ul>', failing)


def _analysis_parts(analyses: Sequence[Mapping[str, Any]], sections: Sequence[Section]
                    ) -> list[tuple[str, str, str, bool]]:
    """Each analysis' section: the reporters' that cover its component, once each, in the order of
    the analyses; a generic one (:func:`_analysis`) for an analysis no reporter covers."""
    parts: list[tuple[str, str, str, bool]] = []
    placed: set[int] = set()
    for analysis in analyses:
        component = str(analysis.get("component"))
        covering = [(i, s) for i, s in enumerate(sections) if component in s.covers]
        if not covering:
            title = f"{analysis.get('label') or analysis.get('key')} ({analysis.get('kind')}, {component})"
            parts.append((f"analysis-{analysis.get('key')}", title, _analysis(analysis), False))
        for index, section in covering:
            if index not in placed:
                placed.add(index)
                parts.append((f"section-{section.id}", section.title, section.body, section.failed))
    parts += [(f"section-{s.id}", s.title, s.body, s.failed) for i, s in enumerate(sections)
              if s.covers and i not in placed]
    return parts


def _analysis(analysis: Mapping[str, Any]) -> str:
    """The generic section of an analysis: its summaries, groups (with their sizes), tables, notes
    and flags, and how many groups were left out as too small (never which)."""
    def bounds(item: Mapping[str, Any]) -> str:
        low, high = _number(item.get("low")), _number(item.get("high"))
        return f"[{_fmt(low)}, {_fmt(high)}]" if low is not None or high is not None else ""

    summaries = [(s.get("name"), _fmt(s.get("value")), bounds(s), s.get("description") or "")
                 for s in analysis.get("summaries") or [] if isinstance(s, Mapping)]
    groups = [(", ".join(f"{k}={v}" for k, v in (g.get("group") or {}).items()) or "all rows", g.get("measure"),
               g.get("n"), _fmt(g.get("value")), bounds(g)) for g in analysis.get("groups") or []
              if isinstance(g, Mapping)]
    html = [_table(("Summary", "Value", "Interval", "Description"), summaries, numeric=(1,),
                   empty="The analysis gave no summary.")]
    if groups:
        html.append("<h3>Groups</h3>" + _table(("Group", "Measure", "n", "Value", "Interval"), groups, numeric=(2, 3)))
    minimum, dropped = analysis.get("min_group_size"), analysis.get("dropped_groups") or 0
    if minimum is not None:
        html.append(f'<p class="scale">Groups of fewer than {_e(minimum)} rows are not shown'
                    + (f" ({_e(dropped)} group statistics left out)." if dropped else ".") + "</p>")
    for table in analysis.get("tables") or []:
        if isinstance(table, Mapping):
            rows = [tuple(_fmt(c) if _number(c) is not None and not isinstance(c, int) else c for c in row)
                    for row in table.get("rows") or [] if isinstance(row, list)]
            html.append(f"<h3>{_e(table.get('title') or 'Table')}</h3>"
                        + _table(tuple(str(c) for c in table.get("columns") or []), rows))
    notes = [n for n in analysis.get("notes") or [] if isinstance(n, str)]
    if notes:
        html.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    flags = [f for f in analysis.get("flags") or [] if isinstance(f, Mapping)]
    if flags:
        html.append("<h3>Thresholds crossed</h3>" + _table(
            ("Summary", "Value", "Threshold", "Action", "Message"),
            [(f.get("summary"), _fmt(f.get("value")), f"{f.get('bound')} {f.get('threshold')}", f.get("action"),
              f.get("message")) for f in flags], numeric=(1,)))
    return "\n".join(html)


#: the summary of the collapsed section for organisers
ORGANISER_TITLE = "For organisers"


def _organiser(report: Mapping[str, Any], columns: Sequence[Mapping[str, Any]]) -> str:
    """The collapsed section for organisers: provenance, measurements and their trust, plugin
    output, plugin tracebacks. Closed by default: participants see its title only."""
    parts = [("Provenance", _provenance(report, columns))]
    if report.get("measurements"):
        parts.append(("Measurements and who took them", _measurements(report["measurements"])))
    output = report.get("plugin_output")
    if isinstance(output, Mapping) and output.get("bytes"):
        parts.append(("Plugin output", _plugin_output(output)))
    tracebacks = _tracebacks(report.get("plugin_failures") or [])
    if tracebacks:
        parts.append(("Plugin tracebacks", tracebacks))
    inner = "".join(f"<h3>{_e(title)}</h3>\n{html}\n" for title, html in parts)
    return (f'<section id="organiser" class="organiser"><details>'
            f"<summary><h2>{_e(ORGANISER_TITLE)}</h2> <span>provenance, trust, plugin output and errors "
            f"(participants do not need it)</span></summary>\n{inner}</details></section>")


def _tracebacks(failures: Iterable[Mapping[str, Any]]) -> str:
    """Each failing plugin's traceback (``plugin_failures[].traceback``), bounded."""
    found = []
    for failure in failures:
        text = failure.get("traceback")
        if isinstance(text, str) and text.strip():
            where = str(failure.get("component")) + (f" [{failure['key']}]" if failure.get("key") else "")
            found.append(f"<h4><code>{_e(where)}</code> ({_e(failure.get('plugin'))})</h4>"
                         f"<pre>{_e(_bounded(text, MAX_TRACEBACK_CHARS))}</pre>")
    return "\n".join(found)


#: the longest traceback the page shows (the report caps them at 16 KiB)
MAX_TRACEBACK_CHARS = 16 * 1024


def _refused(report: Mapping[str, Any], problems: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the submission was refused by the checks: it failed, and a check found an error."""
    return report.get("status") == "failed" and any(p.get("severity") == "error" for p in problems)


def _unique(problems: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``problems`` without repeats (the same problem, where and fix, from several checks)."""
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for problem in problems:
        same = tuple(str(problem.get(k)) for k in ("severity", "message", "file", "line", "item", "fix"))
        if same not in seen:
            seen.add(same)
            kept.append(problem)
    return kept


# -- parts of the page ----------------------------------------------------------------

def _header(report: Mapping[str, Any], refused: bool = False, problems: int = 0) -> str:
    """Platform, phase, status and the message; a refusal's message (the problems again) is said
    in one sentence, the problems themselves being listed once, below."""
    phase = report.get("phase") or {}
    phase_text = (" ".join(str(phase[k]) for k in ("number", "name") if phase.get(k) is not None)
                  if isinstance(phase, Mapping) else str(phase))
    status = str(report.get("status") or "unknown")
    kind = status if status in ("finished", "failed") else "other"
    message = report.get("message")
    if refused:
        message = (f"The submission was refused before scoring: the bundle's checks found "
                   f"{'a problem' if problems == 1 else f'{problems} problems'}, listed below with how to fix "
                   f"{'it' if problems == 1 else 'each'}.")
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
svg .bar{fill:#0969da}svg .bar.negative{fill:#bc4c00}svg .axis{stroke:#8c959f}svg text{fill:#1f2328}
svg .tick{fill:#57606a;font-size:11px}
.scale,.description{color:#57606a}
.organiser summary{cursor:pointer}.organiser summary h2{display:inline;border:0;margin:0;padding:0}
.organiser summary span{color:#57606a;font-size:.9em}
h3{font-size:1.05em;margin:1em 0 .4em}h4{font-size:.95em;margin:.8em 0 .3em}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;padding:8px;border-radius:6px;font-size:.85em}
.empty{color:#57606a;font-style:italic;margin:0}
ul.flags{margin:0;padding-left:1.2em}ul.flags li{margin:.2em 0}ul.flags li.fail strong{color:#cf222e}
ul.flags li.flag strong{color:#9a6700}
footer{color:#57606a;font-size:.85em;padding-bottom:24px}
@media (max-width:600px){body{font-size:14px}section{padding:10px}th,td{padding:4px 6px}svg{font-size:19px}}
"""
