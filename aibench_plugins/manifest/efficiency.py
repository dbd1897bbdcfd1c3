"""The checks of the manifest's ``efficiency`` items that need more than the schema: what each term
and ``cost`` names is ``<complexity entry key>.<measurement name>``, an entry of the phase's
``complexity`` section and a measurement its meter gives (with "did you mean"); a formula from
terms (``weighted_ratios``, ``ntire``) has terms and no ``score``/``cost``; ``pareto_rank`` has a
``score`` that is a column of the phase and a ``cost``, and no terms (the leaderboard computes it
across runs); each item's column key is its own (not a metric's, an analysis', a complexity
entry's, the bundle's or another item's).

Every problem is the organiser's to fix; each says where (the JSON pointer), what was expected
and how to fix it, before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..core.kinds import Kind
from ..core.problems import did_you_mean, pointer
from .analyses import summary_names, summary_problem
from .plan import column_key, default_splits

if TYPE_CHECKING:
    from ..core.host import PluginHost

__all__ = ["efficiency_problems"]

OWNER = "the organiser's to fix"
FROM_TERMS = ("weighted_ratios", "ntire")


def efficiency_problems(doc: Mapping[str, Any], host: PluginHost, original: set[str], add: Callable[..., None],
                        is_broken: Callable[[str], bool]) -> None:
    """Every problem of the document's ``efficiency`` items, at the top level and in each phase
    that overrides ``efficiency``, ``complexity`` or ``metrics`` (each item checked against the
    complexity entries and columns of the phase it runs in), through ``add(pointer, message, **extra)``,
    each problem once."""
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
        inside = phase is not None and "efficiency" in override
        if phase is not None and not inside and not {"complexity", "metrics", "fairness", "robustness"} & set(override):
            continue  # the top-level items on the top-level sections: checked once, at the top level
        where = f" in phase {phase!r}" if phase is not None and not inside else ""

        def section(name: str, phase_override: Mapping[str, Any] = override) -> Any:
            value = phase_override[name] if name in phase_override else doc.get(name)
            return value if isinstance(value, list) else []

        items = section("efficiency")
        base = pointer("phases", str(phase)) if inside else ""
        _scope_problems(items, f"{base}/efficiency", where, section("complexity"),
                        _columns(section, splits), host, original, once, is_broken)


def _columns(section: Callable[[str], Any], splits: tuple[str, ...]) -> dict[str, str]:
    """Every column key of the phase's metrics, analyses and complexity entries -> what it is."""
    found: dict[str, str] = {}
    for metric in section("metrics"):
        if isinstance(metric, Mapping) and isinstance(metric.get("key"), str):
            chosen = metric.get("splits", splits)
            for split in (chosen if isinstance(chosen, list) else splits):
                found.setdefault(column_key(metric["key"], str(split)), "a metric's column")
    for name in ("fairness", "robustness", "complexity"):
        for entry in section(name):
            columns = entry.get("columns") if isinstance(entry, Mapping) else None
            for column in columns if isinstance(columns, list) else []:
                if isinstance(column, Mapping) and isinstance(column.get("key"), str):
                    found.setdefault(column["key"], f"a column of a {name} entry")
    return found


def _scope_problems(items: Sequence[Any], at: str, where: str, complexity: Sequence[Any], columns: Mapping[str, str],
                    host: PluginHost, original: set[str], add: Callable[..., None],
                    is_broken: Callable[[str], bool]) -> None:
    registry = host.registry(Kind.COMPLEXITY)
    entries = {str(e["key"]): e.get("use") for e in complexity
               if isinstance(e, Mapping) and isinstance(e.get("key"), str)}
    taken = dict(columns)
    for index, item in enumerate(items):
        here = f"{at}/{index}"
        if not isinstance(item, Mapping) or is_broken(here):
            continue
        formula = item.get("formula")
        terms = item.get("terms")
        if formula in FROM_TERMS:
            if not terms:
                add(here, f"the {formula!r} formula is computed from terms: this item gives none.",
                    expected="\"terms\": [{\"measurement\": \"<complexity entry key>.<measurement>\", \"weight\": 1}]",
                    found="no terms", fix=f"add its terms ({OWNER})")
            for name in ("score", "cost"):
                if name in item:
                    add(f"{here}/{name}", f"{name!r} is for the 'pareto_rank' formula; {formula!r} is computed from "
                                          "its terms.", expected=f"no {name!r}", found=repr(item[name]),
                        fix=f"remove {name!r}, or use \"formula\": \"pareto_rank\" ({OWNER})")
        elif formula == "pareto_rank":
            if terms is not None:
                add(f"{here}/terms", "the 'pareto_rank' formula ranks a score against a cost across the "
                                     "leaderboard's runs: it has no terms.", expected="no 'terms'",
                    found="terms", fix=f"remove 'terms' and give 'score' and 'cost' ({OWNER})")
            for name in ("score", "cost"):
                if name not in item:
                    add(here, f"the 'pareto_rank' formula needs {name!r}: "
                              + ("the key of the leaderboard column that is the score." if name == "score" else
                                 "the measurement that is the cost, '<complexity entry key>.<measurement name>'."),
                        expected=f"a {name!r}", found=f"no {name!r}", fix=f"add {name!r} ({OWNER})")
            score = item.get("score")
            if isinstance(score, str) and score not in columns:
                suggestion = did_you_mean(score, list(columns))
                listed = ", ".join(map(repr, list(columns)[:12])) or "none"
                add(f"{here}/score", f"score {score!r} is no column of the phase{where}.",
                    expected=f"the key of a column of the phase's metrics or analyses: {listed}", found=repr(score),
                    fix=(f"did you mean {suggestion!r}?" if suggestion else "name a metric's column key") + f" ({OWNER})")
            cost = item.get("cost")
            if isinstance(cost, str):
                _measurement(cost, f"{here}/cost", where, entries, registry, add)
        if isinstance(terms, list) and formula in FROM_TERMS:
            for position, term in enumerate(terms):
                if isinstance(term, Mapping) and isinstance(term.get("measurement"), str) \
                        and not is_broken(f"{here}/terms/{position}"):
                    _measurement(term["measurement"], f"{here}/terms/{position}/measurement", where, entries,
                                 registry, add)
        key = item.get("key")
        if isinstance(key, str):
            if key in taken:
                add(f"{here}/key", f"column key {key!r} is already {taken[key]}{where}.",
                    expected="a column key of its own", found=repr(key), fix=f"choose another key ({OWNER})")
            elif key in original:
                add(f"{here}/key", f"column key {key!r} is already a column of the bundle's leaderboard.",
                    expected="a key the original scoring program does not write", found=repr(key),
                    fix=f"choose another key, for example {('aibench_' + key)[:36]!r} ({OWNER})")
            taken.setdefault(key, f"the column of {here}")


def _measurement(name: str, at: str, where: str, entries: Mapping[str, Any], registry: Any,
                 add: Callable[..., None]) -> None:
    """``name`` must be ``<complexity entry key>.<measurement>`` of an entry of the phase whose
    meter gives that measurement."""
    entry, dot, measurement = name.partition(".")
    if not dot or not measurement:
        add(at, f"{name!r} does not say which complexity entry's measurement it is.",
            expected="'<complexity entry key>.<measurement name>', such as 'time.time.ratio'", found=repr(name),
            fix=f"prefix the measurement with its entry's key ({OWNER})")
        return
    if entry not in entries:
        suggestion = did_you_mean(entry, list(entries))
        listed = ", ".join(map(repr, entries)) or "the phase has no complexity entries"
        add(at, f"{name!r} names {entry!r}, which is no complexity entry of the phase{where}.",
            expected=f"the key of an entry of the 'complexity' section: {listed}", found=repr(name),
            fix=(f"did you mean {suggestion + '.' + measurement!r}?" if suggestion
                 else "add the complexity entry, or name one of the phase's") + f" ({OWNER})")
        return
    use = entries[entry]
    if not isinstance(use, str) or use not in registry:
        return  # an unknown meter is reported where the entry names it
    info = registry.get(use).component.info
    found = summary_problem(info, measurement, [])
    if found is not None:
        suggestion = did_you_mean(measurement, summary_names(info, []))
        listed = ", ".join(map(repr, summary_names(info, [])[:12])) or "none"
        add(at, f"{info.id} (entry {entry!r}) gives no measurement {measurement!r}{where}.",
            expected=f"one of its measurements: {listed}", found=repr(name),
            fix=(f"did you mean {entry + '.' + suggestion!r}?" if suggestion
                 else f"'aibench plugins show {info.id}' lists its measurements") + f" ({OWNER})")
