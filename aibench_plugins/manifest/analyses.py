"""The checks of the manifest's ``fairness``, ``robustness`` and ``complexity`` entries that need
more than the schema: what each entry's ``columns`` and ``thresholds`` name must be a summary its component
gives (with "did you mean"), ``{metric}`` in a summary must name a metric of the phase, column
keys must not clash with the metrics' columns, the bundle's leaderboard or each other, a
threshold has exactly one bound, and ``min_group_size`` is at least 1 and given only to a
component that needs groups. Unknown component ids and params are checked with every other
kind's (:func:`~aibench_plugins.manifest.loading.semantic_problems`).

Every problem is the organiser's to fix; each says where (the JSON pointer), what was expected
and how to fix it, before anything runs (``aibench validate``, ``aibench run``, ``aibench wrap``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..core.kinds import Kind, SummarySpec
from ..core.problems import did_you_mean, pointer
from .plan import column_key, default_splits

if TYPE_CHECKING:
    from ..core.host import PluginHost
    from ..core.kinds import AnalysisInfo

__all__ = ["analysis_problems", "summary_direction", "summary_problem"]

#: the sections whose entries name summaries: the analyses, and the complexity meters (whose
#: measurements are summaries); the meters' other checks are :mod:`.complexity`'s
SECTIONS = (("fairness", Kind.FAIRNESS), ("robustness", Kind.ROBUSTNESS), ("complexity", Kind.COMPLEXITY))
OWNER = "the organiser's to fix"
Add = Callable[..., None]


def analysis_problems(doc: Mapping[str, Any], host: PluginHost, original: set[str], add: Add,
                      is_broken: Callable[[str], bool]) -> None:
    """Every problem of the document's fairness and robustness entries, at the top level and in
    each phase override, each against the metrics of the phase it runs in (a phase that overrides
    ``metrics`` but not ``fairness`` runs the top-level entries on its own metrics). Reported
    through ``add(pointer, message, **extra)``, each problem once."""
    seen: set[tuple[str, str]] = set()

    def once(at: str, message: str, **extra: Any) -> None:
        if (at, message) not in seen:
            seen.add((at, message))
            add(at, message, **extra)

    splits = default_splits(doc)
    scopes: list[tuple[str | None, Mapping[str, Any]]] = [(None, {})]
    if isinstance(doc.get("phases"), Mapping):
        scopes += [(str(k), v) for k, v in doc["phases"].items() if isinstance(v, Mapping)]
    for phase, override in scopes:
        metrics_at = pointer("phases", str(phase)) if phase is not None and "metrics" in override else ""
        metrics = (override if metrics_at else doc).get("metrics")
        metrics = metrics if isinstance(metrics, list) else []
        sections: list[tuple[str, Kind, str, Any, str]] = []
        for section, kind in SECTIONS:
            inside = phase is not None and section in override
            if phase is not None and not inside and not metrics_at:
                continue  # the top-level entries on the top-level metrics: checked once, at the top level
            base = pointer("phases", str(phase)) if inside else ""
            where = f" in phase {phase!r}" if phase is not None and not inside else ""
            sections.append((section, kind, base, (override if inside else doc).get(section), where))
        _scope_problems(sections, metrics, splits, host, original, once, is_broken)


def _scope_problems(sections: Sequence[tuple[str, Kind, str, Any, str]], metrics: Sequence[Any],
                    splits: tuple[str, ...], host: PluginHost, original: set[str], add: Add,
                    is_broken: Callable[[str], bool]) -> None:
    """The problems of one phase's analyses (``sections``: section, kind, base pointer, entries,
    and `` in phase 'k'`` when they are the top-level entries run on that phase's own metrics)."""
    metric_keys = [str(m["key"]) for m in metrics if isinstance(m, Mapping) and isinstance(m.get("key"), str)]
    metric_sorts = _metric_sorts(metrics, host)
    taken: dict[str, str] = {}
    for metric in metrics:
        if isinstance(metric, Mapping) and isinstance(metric.get("key"), str):
            chosen = metric.get("splits", splits)
            for split in (chosen if isinstance(chosen, list) else splits):
                taken.setdefault(column_key(metric["key"], str(split)), "a metric's column")
    entry_keys: dict[str, str] = {}
    for section, kind, base, entries, where in sections:
        if not isinstance(entries, list):
            continue
        registry = host.registry(kind)
        for index, entry in enumerate(entries):
            at = f"{base}/{section}/{index}"
            if not isinstance(entry, Mapping):
                continue
            use = entry.get("use")
            info = registry.get(use).component.info if isinstance(use, str) and use in registry \
                and not is_broken(f"{at}/use") else None
            key = entry.get("key")
            if isinstance(key, str) and not is_broken(f"{at}/key"):
                if key in entry_keys:
                    add(f"{at}/key", f"entry key {key!r} is used twice among the phase's fairness, robustness and "
                                     f"complexity entries (first at {entry_keys[key]}).", expected="a key of its own",
                        found=repr(key), fix=f"rename one of them ({OWNER})")
                entry_keys.setdefault(key, at)
            _group_size_problems(entry, at, info, add)
            context = _Context(info, metric_keys, metric_sorts, where)
            for position, column in enumerate(entry.get("columns") or [] if isinstance(entry.get("columns"), list)
                                              else []):
                here = f"{at}/columns/{position}"
                if isinstance(column, Mapping) and not is_broken(here):
                    _column_problems(column, here, context, taken, original, add)
            for position, threshold in enumerate(entry.get("thresholds") or []
                                                 if isinstance(entry.get("thresholds"), list) else []):
                here = f"{at}/thresholds/{position}"
                if isinstance(threshold, Mapping) and not is_broken(here):
                    _threshold_problems(threshold, here, context, add)


class _Context:
    """What the checks of one entry's columns and thresholds need."""

    def __init__(self, info: AnalysisInfo | None, metric_keys: Sequence[str], metric_sorts: Mapping[str, str],
                 where: str) -> None:
        self.info, self.metric_keys, self.metric_sorts, self.where = info, metric_keys, metric_sorts, where


def _group_size_problems(entry: Mapping[str, Any], at: str, info: AnalysisInfo | None, add: Add) -> None:
    size = entry.get("min_group_size")
    if not isinstance(size, int) or isinstance(size, bool):
        return
    if size < 1:
        add(f"{at}/min_group_size", f"min_group_size {size} publishes groups of any size: sensitive attributes are "
                                    "personal data, so a group below a minimum size is never shown.",
            expected="an integer of at least 1 (default 30)", found=repr(size),
            fix=f"set it to 1 or more, or remove it to keep the default of 30 ({OWNER})")
    elif info is not None and "groups" not in info.needs:
        add(f"{at}/min_group_size", f"{info.id} does not need groups (its needs: "
                                    f"{', '.join(info.needs) or 'none'}), so min_group_size would do nothing.",
            expected="no min_group_size", found=repr(size), fix=f"remove 'min_group_size' ({OWNER})")


def _column_problems(column: Mapping[str, Any], at: str, context: _Context, taken: dict[str, str],
                     original: set[str], add: Add) -> None:
    summary, key = column.get("summary"), column.get("key")
    if isinstance(summary, str) and context.info is not None:
        _summary(summary, f"{at}/summary", context, add)
    if isinstance(key, str):
        if key in taken:
            add(f"{at}/key", f"column key {key!r} is already {taken[key]}{context.where}.",
                expected="a column key of its own", found=repr(key), fix=f"choose another key ({OWNER})")
        elif key in original:
            add(f"{at}/key", f"column key {key!r} is already a column of the bundle's leaderboard.",
                expected="a key the original scoring program does not write", found=repr(key),
                fix=f"choose another key, for example {('aibench_' + key)[:36]!r}; plugin scores never replace "
                    f"original ones ({OWNER})")
        taken.setdefault(key, f"the column of {at}")
    sorting = column.get("sorting")
    if isinstance(summary, str) and context.info is not None and sorting in ("asc", "desc"):
        implied = summary_direction(context.info, summary, context.metric_sorts)
        if implied is not None and implied != sorting:
            add(f"{at}/sorting", f"sorting {sorting!r} ranks the wrong end first: {summary!r} of "
                                 f"{context.info.id} is better when {'higher' if implied == 'desc' else 'lower'}.",
                expected=repr(implied), found=repr(sorting), fix=f"remove 'sorting' or set it to {implied!r}",
                severity="warning")


def _threshold_problems(threshold: Mapping[str, Any], at: str, context: _Context, add: Add) -> None:
    bounds = [b for b in ("min", "max") if b in threshold]
    if len(bounds) != 1:
        found = "both 'min' and 'max'" if bounds else "neither 'min' nor 'max'"
        add(at, f"a threshold bounds its summary on one side: this one gives {found}.",
            expected="exactly one of 'min' and 'max'", found=found,
            fix="give \"min\": <lowest allowed value> or \"max\": <highest allowed value>; for both bounds write two "
                f"thresholds ({OWNER})")
    summary = threshold.get("summary")
    if isinstance(summary, str) and context.info is not None:
        _summary(summary, f"{at}/summary", context, add)


def _summary(name: str, at: str, context: _Context, add: Add) -> None:
    assert context.info is not None
    found = summary_problem(context.info, name, context.metric_keys)
    if found is not None:
        message, expected, fix = found
        add(at, message.rstrip(".") + f"{context.where}.", expected=expected, found=repr(name), fix=f"{fix} ({OWNER})")


def summary_problem(info: AnalysisInfo, name: str, metric_keys: Sequence[str]) -> tuple[str, str, str] | None:
    """Why ``name`` is no summary ``info``'s component gives on a phase whose metric keys are
    ``metric_keys`` (message, expected, fix), or ``None`` when it is one."""
    filled = summary_names(info, metric_keys)
    matching = [spec for spec in info.summaries if spec.matches(name)]
    if any("{metric}" not in spec.pattern for spec in matching):
        return None
    named: list[str] = []
    for spec in matching:
        keys = _metric_parts(spec, name)
        if keys is not None and all(key in metric_keys for key in keys):
            return None
        named += [key for key in keys or () if key not in metric_keys]
    suggestion = did_you_mean(name, filled)
    listed = ", ".join(map(repr, filled[:12])) + (", ..." if len(filled) > 12 else "") or "none"
    fix = f"did you mean {suggestion!r}?" if suggestion else f"'aibench plugins show {info.id}' lists its summaries"
    if matching and named:
        metric = named[0]
        near = did_you_mean(metric, metric_keys)
        return (f"{name!r} names {metric!r} as its metric, which is no metric key of the phase "
                f"({', '.join(map(repr, metric_keys)) or 'it has no metrics'}).",
                f"a summary of {info.id} on a metric of the phase: {listed}",
                f"did you mean {name.replace(metric, near)!r}?" if near else fix)
    return (f"{info.id} gives no summary {name!r}.", f"one of its summaries: {listed}", fix)


def summary_names(info: AnalysisInfo, metric_keys: Sequence[str]) -> list[str]:
    """Every summary name ``info``'s component can give on a phase with ``metric_keys``."""
    names: list[str] = []
    for spec in info.summaries:
        names += [spec.pattern.replace("{metric}", key) for key in metric_keys] if "{metric}" in spec.pattern \
            else [spec.pattern]
    return list(dict.fromkeys(names))


def _metric_parts(spec: SummarySpec, name: str) -> list[str] | None:
    """The metric keys ``{metric}`` stands for in ``name`` (``None`` when it does not match)."""
    parts = spec.pattern.split("{metric}")
    found = re.fullmatch("(.+?)".join(_glob(part) for part in parts), name)
    return list(found.groups()) if found else None


def _glob(text: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


def summary_direction(info: AnalysisInfo, name: str, metric_sorts: Mapping[str, str]) -> str | None:
    """The leaderboard sort (``asc``/``desc``) of summary ``name``: its family's direction, or for a
    ``metric`` family the sort of the metric ``{metric}`` names (``metric_sorts``: key -> sort);
    ``None`` when unknown."""
    spec = info.summary_spec(name)
    if spec is None:
        return None
    if spec.direction != "metric":
        return "desc" if spec.direction == "maximize" else "asc"
    for key in _metric_parts(spec, name) or ():
        if key in metric_sorts:
            return metric_sorts[key]
    return None


def _metric_sorts(metrics: Sequence[Any], host: PluginHost) -> dict[str, str]:
    registry = host.registry(Kind.METRIC)
    sorts: dict[str, str] = {}
    for metric in metrics:
        if isinstance(metric, Mapping) and isinstance(metric.get("key"), str) and isinstance(metric.get("use"), str) \
                and metric["use"] in registry:
            sort = metric.get("sort")
            sorts[metric["key"]] = sort if sort in ("asc", "desc") else registry.get(metric["use"]).component.info.sort
    return sorts
