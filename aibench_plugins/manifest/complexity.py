"""The checks of the manifest's ``complexity`` entries beyond their columns and thresholds (which
:mod:`.analyses` checks as the analyses'): a meter that runs in the prediction step
(``runs_in="prediction"``) measures inside the organiser's ingestion program, when it calls
``aibench_plugins.complexity.measure``, so

* every phase of the bundle it applies to must run an ingestion program in the prediction step
  (a code submission): not a result-submission phase, not a v1 scoring-only phase, not an
  ingestion program that runs only during scoring;
* its class must be importable by name and constructible without arguments: the prediction step
  re-creates it from ``type(meter).__module__`` and ``__qualname__``.

Every problem is the organiser's to fix (or the meter author's, for the second), before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..core.kinds import Kind
from ..core.problems import pointer

if TYPE_CHECKING:
    from codalab_worker_compat import Bundle

    from ..core.host import PluginHost
    from .loading import Manifest

__all__ = ["complexity_problems", "prediction_phase_problem"]

OWNER = "the organiser's to fix"


def complexity_problems(manifest: Manifest, host: PluginHost, bundle: Bundle | None, add: Callable[..., None],
                        is_broken: Callable[[str], bool]) -> None:
    """Every problem of the document's complexity entries (module docstring), through
    ``add(pointer, message, **extra)``, each once."""
    doc = manifest.document
    registry = host.registry(Kind.COMPLEXITY)
    seen: set[tuple[str, str]] = set()

    def once(at: str, message: str, **extra: Any) -> None:
        if (at, message) not in seen:
            seen.add((at, message))
            add(at, message, **extra)

    scopes: list[tuple[str | None, str, Any]] = [(None, "", doc.get("complexity"))]
    if isinstance(doc.get("phases"), Mapping):
        scopes += [(str(k), pointer("phases", str(k)), v.get("complexity")) for k, v in doc["phases"].items()
                   if isinstance(v, Mapping) and "complexity" in v]
    for key, base, entries in scopes:
        if not isinstance(entries, list):
            continue
        for index, entry in enumerate(entries):
            at = f"{base}/complexity/{index}"
            use = entry.get("use") if isinstance(entry, Mapping) else None
            if not isinstance(use, str) or use not in registry or is_broken(f"{at}/use"):
                continue
            meter = registry.get(use).component
            if getattr(meter.info, "runs_in", "prediction") != "prediction":
                continue
            problem = _importable(meter)
            if problem is not None:
                once(f"{at}/use", f"{use} runs in the prediction step, which re-creates it by name, but {problem}.",
                     expected="a meter class defined at the top level of a module, constructible without arguments",
                     found=f"{type(meter).__module__}:{type(meter).__qualname__}",
                     fix="the meter's author's to fix: define the class at module level, with no required arguments",
                     plugin=registry.get(use).plugin)
            if bundle is None:
                continue
            for phase in bundle.phases:
                if _scope_of(manifest, phase) != key:
                    continue
                why = prediction_phase_problem(phase, bundle.platform)
                if why is not None:
                    once(f"{at}/use", f"{use} measures in the prediction step, inside the organiser's ingestion "
                                      f"program, but phase {phase.number} {why}.",
                         expected="a phase whose ingestion program runs in the prediction step (a code submission)",
                         found=f"phase {phase.number}" + (f" ({phase.name})" if phase.name else ""),
                         fix="give the phase an ingestion program that calls aibench_plugins.complexity.measure on "
                             "the participant's model, or move the entry to a 'phases' override of the code-submission "
                             f"phases, or remove it ({OWNER})")


def prediction_phase_problem(phase: Any, platform: str) -> str | None:
    """Why no ingestion program runs in ``phase``'s prediction step, or ``None`` when one does."""
    programs = phase.tasks or (phase.programs,)
    if not all(p.get("ingestion_program") for p in programs):
        return "has no ingestion program (a result submission's predictions are not made by a model aibench can measure)"
    if phase.ingestion_only_during_scoring:
        return "runs its ingestion program only during scoring (ingestion_only_during_scoring)"
    if platform == "v1" and phase.scoring_only:
        return "is a v1 scoring-only phase: there is no prediction step"
    return None


def _scope_of(manifest: Manifest, phase: Any) -> str | None:
    """The ``phases`` key whose ``complexity`` applies to ``phase``, or ``None`` (the top level)."""
    key = manifest.phase_for(phase.number, phase.name)
    overrides = manifest.document.get("phases") or {}
    if key is not None and isinstance(overrides.get(key), Mapping) and "complexity" in overrides[key]:
        return key
    return None


def _importable(meter: Any) -> str | None:
    """Why the prediction step could not re-create ``meter`` from its class's name, or ``None``."""
    import importlib
    import inspect

    cls = type(meter)
    if "<locals>" in cls.__qualname__:
        return f"its class {cls.__qualname__} is defined inside a function"
    try:
        target: Any = importlib.import_module(cls.__module__)
        for part in cls.__qualname__.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError):
        return f"{cls.__module__}:{cls.__qualname__} cannot be imported by that name"
    if target is not cls:
        return f"{cls.__module__}:{cls.__qualname__} names another object than its class"
    try:
        required = [p.name for p in inspect.signature(cls).parameters.values()
                    if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    except (TypeError, ValueError):
        required = []
    if required:
        return f"its class {cls.__qualname__} needs arguments to be constructed ({', '.join(required)})"
    return None
