"""The catalogue of registered components: what each one is, said without running it.

One :class:`ComponentSummary` per registered component (metric, check, executor...), built from
its registration, its info and its plugin's record: the rows of ``aibench plugins list`` and the
page of ``aibench plugins show ID``. The description is :func:`component_description` (the first
paragraph of the docstring), the same text ``report.json`` and the detailed results page show.
Params come from the component's params schema, with defaults: the schema's ``default``, else the
default of the function's (or class's) keyword parameter of that name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .kinds import AnalysisInfo, Kind, MetricInfo
from .registry import Registration, component_description

if TYPE_CHECKING:
    from .host import PluginHost

__all__ = ["NO_DEFAULT", "ComponentSummary", "ParamSummary", "catalog", "nearest_ids", "summarize"]

NO_DEFAULT = "(required)"
"""What :attr:`ParamSummary.default_text` says of a required param without a default."""


@dataclass(frozen=True)
class ParamSummary:
    """One property of a component's params schema.

    :param name: the key in the manifest's ``params``.
    :param type: the schema's ``type`` (``"integer"``, ``"integer|null"``), its ``enum`` values, or ``""``.
    :param required: the schema lists it under ``required``.
    :param has_default: a default is known (``default`` may be ``None``, JSON ``null``).
    :param default: the schema's ``default``, else the keyword parameter's default.
    :param description: the schema's ``description``.
    """

    name: str
    type: str
    required: bool
    has_default: bool
    default: Any
    description: str

    @property
    def default_text(self) -> str:
        """The default as JSON text, :data:`NO_DEFAULT` when required without one, ``"-"`` otherwise."""
        import json

        if self.has_default:
            return json.dumps(self.default, default=repr)
        return NO_DEFAULT if self.required else "-"


@dataclass(frozen=True)
class ComponentSummary:
    """A registered component, described (``plugins show``'s page; ``--json`` is :meth:`to_json`).

    ``direction``, ``bounds``, ``metric_version``, ``outputs`` and ``inputs`` are set for metrics
    only (``None`` / empty otherwise). ``inputs`` maps each input name to its kind
    (``label``, ``probability``...). ``summaries`` (each ``pattern``, ``direction``,
    ``description``) and ``needs`` are set for fairness and robustness checkers only.
    """

    id: str
    kind: str
    plugin: str
    distribution: str
    version: str | None
    description: str
    params: tuple[ParamSummary, ...] = ()
    direction: str | None = None
    bounds: tuple[float | None, float | None] | None = None
    metric_version: str | None = None
    outputs: tuple[str, ...] = ()
    inputs: Mapping[str, str] = field(default_factory=dict)
    summaries: tuple[Mapping[str, str], ...] = ()
    needs: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: tuples become lists, a default JSON cannot hold becomes its ``repr``."""
        import json

        data = asdict(self)
        data["params"] = [{**asdict(p), "default": json.loads(json.dumps(p.default, default=repr))}
                          for p in self.params]
        data["bounds"] = list(self.bounds) if self.bounds is not None else None
        data["outputs"] = list(self.outputs)
        data["inputs"] = dict(self.inputs)
        data["summaries"] = [dict(s) for s in self.summaries]
        data["needs"] = list(self.needs)
        return data


def summarize(registration: Registration, host: PluginHost) -> ComponentSummary:
    """The summary of one registration of ``host``."""
    component, info = registration.component, registration.component.info
    record = host.records.get(registration.plugin)
    metric = isinstance(info, MetricInfo)
    analysis = isinstance(info, AnalysisInfo)
    return ComponentSummary(
        id=registration.id, kind=registration.kind.value, plugin=registration.plugin,
        distribution=record.distribution if record else "?", version=record.version if record else None,
        description=component_description(component),
        params=params_of(info.params_schema, _keyword_defaults(component)),
        direction=info.direction if metric else None, bounds=info.bounds if metric else None,
        metric_version=info.version if metric else None, outputs=info.output_names if metric else (),
        inputs={name: spec.kind for name, spec in info.inputs.items()} if metric else {},
        summaries=tuple({"pattern": s.pattern, "direction": s.direction, "description": s.description}
                        for s in info.summaries) if analysis else (),
        needs=tuple(info.needs) if analysis else (),
    )


def catalog(host: PluginHost) -> list[ComponentSummary]:
    """Every component of ``host``, by kind (in :class:`Kind` order), then by id."""
    return [summarize(registration, host) for kind in Kind for registration in host.registry(kind)]


def params_of(schema: Mapping[str, Any], keyword_defaults: Mapping[str, Any] | None = None) -> tuple[ParamSummary, ...]:
    """The params a schema describes, in the schema's order."""
    keyword_defaults = keyword_defaults or {}
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    found = []
    for name, spec in properties.items():
        spec = spec if isinstance(spec, Mapping) else {}
        has_default = "default" in spec or name in keyword_defaults
        default = spec["default"] if "default" in spec else keyword_defaults.get(name)
        found.append(ParamSummary(str(name), _type_text(spec), name in required, has_default, default,
                                  " ".join(str(spec.get("description", "")).split())))
    return tuple(found)


def nearest_ids(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` candidates closest to ``word``, closest first: those ``word`` begins or that
    hold it, then the similar ones (:mod:`difflib`)."""
    import difflib

    candidates = sorted(set(candidates))
    lowered = word.lower()
    containing = [c for c in candidates if lowered and lowered in c.lower() and c != word]
    similar = difflib.get_close_matches(word, candidates, n=n, cutoff=0.5)
    tails = difflib.get_close_matches(lowered.rsplit(".", 1)[-1], [c.rsplit(".", 1)[-1] for c in candidates],
                                      n=n, cutoff=0.6)
    by_tail = [c for t in tails for c in candidates if c.rsplit(".", 1)[-1] == t]
    ordered = list(dict.fromkeys([*sorted(containing, key=len), *similar, *by_tail]))
    return ordered[:n]


def _type_text(spec: Mapping[str, Any]) -> str:
    if "enum" in spec:
        return " | ".join(_json(v) for v in spec["enum"])
    kind = spec.get("type", "")
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind)
    if kind == "array" and isinstance(spec.get("items"), Mapping) and spec["items"].get("type"):
        return f"array of {_type_text(spec['items'])}"
    return str(kind)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, default=repr)


def _keyword_defaults(component: Any) -> dict[str, Any]:
    """The defaults of the keyword parameters the component's params arrive as: the decorated
    function's (``@metric``, ``@check``), else the class's ``__init__``."""
    target: Callable[..., Any] | None = getattr(component, "function", None)
    if target is None and isinstance(getattr(component, "info", None), AnalysisInfo):
        target = getattr(component, "analyse", None)  # an analysis: its params arrive as analyse()'s keywords
    if target is None and isinstance(component, type):
        target = component
    if target is None:
        return {}
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return {}
    return {name: p.default for name, p in signature.parameters.items()
            if p.default is not inspect.Parameter.empty and p.kind is not inspect.Parameter.VAR_KEYWORD}
