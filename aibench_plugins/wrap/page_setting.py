"""``enable_detailed_results`` in a wrapped bundle, and which page participants will see.

Codabench shows a scoring run's ``detailed_results.html`` only with ``enable_detailed_results:
true`` (default false, ``codalab-contract.md`` §3.2). With it on, both real v2 workers
(Codabench c7dbc75, AI4Media-Bench bce3d35) watch for the page every 5 s while scoring runs and
stop only at their next look after it ends (§5.7), so **every scoring step takes up to 5 s
longer** (4 to 5 s measured, docs/wrap.md), whatever the bundle does. That is the organiser's
choice: wrap keeps the bundle's setting, and turns it on only when asked (``--detailed-results``).

The worker shows ``output/detailed_results.html``, else the first ``*.html`` at the top of
``output/`` (glob order). The runtime writes the plugins' page as ``detailed_results.html``
unless the scoring program wrote a page of its own there, in which case the plugins' page goes
to ``output/aibench/detailed_results.html`` and the scorer's page is the one participants see.
v1 has no switch: its worker uploads the page of every scoring run.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..core.errors import WrapRefused

COST = ("both real v2 workers look for the page every 5 s while scoring runs and stop only at their next look after "
        "it ends, so each scoring step takes up to 5 s longer (4 to 5 s measured on Codabench c7dbc75 and "
        "AI4Media-Bench bce3d35; docs/wrap.md)")
_SETTING = re.compile(r"^(enable_detailed_results[ \t]*:[ \t]*)([^#\n]*?)([ \t]*(#.*)?)$", re.MULTILINE)
_PAGE_NAME = re.compile(r"""["']([^"'\n]{0,200}?\.html?)["']""")
_SCANNED_BYTES = 2 * 1024 * 1024


@dataclass
class PageSetting:
    """The wrapped spec's text and what it means for the page participants see."""

    text: str
    platform: str
    before: Any
    enabled: bool
    changed: bool
    scorer_pages: list[str]
    shown: str
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"platform": self.platform, "before": self.before, "enabled": self.enabled, "changed": self.changed,
                "cost": COST if self.enabled and self.platform == "v2" else None,
                "scorer_pages": self.scorer_pages, "participants_see": self.shown}


def detailed_results_setting(text: str, bundle: Any, *, turn_on: bool, scorer_pages: list[str]) -> PageSetting:
    """``text`` (the competition.yaml) with ``enable_detailed_results`` kept, or turned on when
    ``turn_on``; raises :class:`WrapRefused` when the line cannot be edited in place."""
    if bundle.platform != "v2":
        warnings = ["--detailed-results has no effect on a v1 bundle: the v1 site has no such setting and shows the "
                    "page of every scoring run"] if turn_on else []
        return PageSetting(text, "v1", None, True, False, scorer_pages, _shown(True, scorer_pages), warnings)
    before = bundle.spec.get("enable_detailed_results")
    enabled = before is True
    changed = False
    if turn_on and not enabled:
        text, enabled, changed = _turn_on(text), True, True
    return PageSetting(text, "v2", before, enabled, changed, scorer_pages, _shown(enabled, scorer_pages))


def _turn_on(text: str) -> str:
    matches = list(_SETTING.finditer(text))
    if not matches:
        edited = f"{text}{'' if text.endswith(chr(10)) or not text else chr(10)}enable_detailed_results: true\n"
    else:
        last = matches[-1]  # YAML keeps the last of duplicate keys
        edited = text[:last.start(2)] + "true" + text[last.end(2):]
    try:
        wanted = {**_load(text), "enable_detailed_results": True}
        if _load(edited) == wanted:
            return edited
    except yaml.YAMLError:
        pass
    raise WrapRefused(["--detailed-results: competition.yaml's enable_detailed_results cannot be set in place (it is "
                       "not a plain top-level line); set 'enable_detailed_results: true' by hand, then wrap without "
                       "--detailed-results"])


def _load(text: str) -> Any:
    """The spec as the site reads it (v2: a safe load, aliases bounded)."""
    from codalab_worker_compat._yaml import load

    return load(text, yaml.SafeLoader)


def _shown(enabled: bool, scorer_pages: list[str]) -> str:
    if not enabled:
        return ("no page: Codabench shows detailed results only with enable_detailed_results: true; the plugins' page "
                "is still written to each scoring output (detailed_results.html), which organisers can download. "
                "Wrap with --detailed-results to show it (" + COST + ")")
    if scorer_pages:
        names = ", ".join(scorer_pages)
        return (f"the scoring program's own page: it mentions {names}, and when it writes one at the top of output/ "
                "the worker shows output/detailed_results.html, else the first *.html there; the plugins' page then "
                "goes to output/aibench/detailed_results.html (in the scoring output, not shown to participants)")
    return "the plugins' page (detailed_results.html, written by the wrapped runtime)"


def html_pages_mentioned(program: Path) -> list[str]:
    """The ``*.html`` file names quoted in a program's text files (a folder or a zip); the pages
    its scorer may write. ``_aibench/`` is not read."""
    found: set[str] = set()
    for name, data in _text_files(program):
        if name.split("/")[0] == "_aibench":
            continue
        found |= {Path(m).name for m in _PAGE_NAME.findall(data.decode("utf-8", errors="replace"))}
    return sorted(found)


def _text_files(program: Path) -> list[tuple[str, bytes]]:
    files: list[tuple[str, bytes]] = []
    if program.is_dir():
        for path in sorted(p for p in program.rglob("*") if p.is_file()):
            if path.stat().st_size <= _SCANNED_BYTES:
                files.append((path.relative_to(program).as_posix(), path.read_bytes()))
    elif zipfile.is_zipfile(program):
        with zipfile.ZipFile(program) as archive:
            for info in archive.infolist():
                if not info.is_dir() and info.file_size <= _SCANNED_BYTES:
                    files.append((info.filename, archive.read(info)))
    return [(name, data) for name, data in files if b"\0" not in data[:4096]]
