"""What a plugin contributes: components and their declarative info.

A *component* is any object with an ``info`` attribute. The info is plain,
JSON-serialisable data the host reads without calling the component: its id, a
description, and the JSON Schema of its ``params`` (composed into the manifest
schema, so a typo in a params key fails validation before anything is scored).
Metrics carry more: the direction of improvement (required, no default), the
version of the numbers they produce, and bounds.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from ._exceptions import ComponentInfoError

__all__ = [
    "CheckInfo",
    "Component",
    "ComponentInfo",
    "InputSpec",
    "Kind",
    "MetricInfo",
]

_ID = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$")
EMPTY_PARAMS: Mapping[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


class Kind(str, enum.Enum):
    """The kinds of component, each with its registration hook and manifest section."""

    METRIC = "metric"
    CHECK = "check"
    FAIRNESS = "fairness"
    ROBUSTNESS = "robustness"
    COMPLEXITY = "complexity"
    EXECUTOR = "executor"
    REPORTER = "reporter"

    @property
    def hook(self) -> str:
        """Name of the hook through which plugins register this kind."""
        return _HOOKS[self]

    @property
    def plural(self) -> str:
        """Plural noun used in messages ("metrics", "fairness checkers")."""
        return _PLURALS[self]


_HOOKS = {
    Kind.METRIC: "aibench_register_metrics",
    Kind.CHECK: "aibench_register_checks",
    Kind.FAIRNESS: "aibench_register_fairness_checkers",
    Kind.ROBUSTNESS: "aibench_register_robustness_checkers",
    Kind.COMPLEXITY: "aibench_register_complexity_meters",
    Kind.EXECUTOR: "aibench_register_executors",
    Kind.REPORTER: "aibench_register_reporters",
}
_PLURALS = {
    Kind.METRIC: "metrics",
    Kind.CHECK: "checks",
    Kind.FAIRNESS: "fairness checkers",
    Kind.ROBUSTNESS: "robustness checkers",
    Kind.COMPLEXITY: "complexity meters",
    Kind.EXECUTOR: "executors",
    Kind.REPORTER: "reporters",
}


@dataclass(frozen=True)
class ComponentInfo:
    """Declarative description of a component.

    :param id: stable identifier, lower case, dot-separated namespaces
        (``aibench.accuracy``, ``acme.demographic_parity``); the manifest refers to
        the component by this id.
    :param description: one or two sentences shown in ``aibench plugins list`` and
        on the competition page.
    :param params_schema: JSON Schema (2020-12) of the ``params`` object the
        manifest may give; it must describe an object. The default accepts only
        an empty object.
    """

    id: str
    description: str = ""
    params_schema: Mapping[str, Any] = field(default_factory=lambda: dict(EMPTY_PARAMS))

    def __post_init__(self) -> None:
        _expect(self, "id", isinstance(self.id, str) and bool(_ID.match(self.id)),
                "a lower-case dotted identifier such as 'acme.macro_f1'")
        _expect(self, "description", isinstance(self.description, str), "a string")
        _expect(self, "params_schema",
                isinstance(self.params_schema, Mapping) and self.params_schema.get("type") == "object",
                "a JSON Schema mapping with \"type\": \"object\"")

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field; :meth:`from_json` reads it back."""
        return {name: _jsonable(getattr(self, name)) for name in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Any:
        """The info that :meth:`to_json` wrote (lists become tuples where fields are tuples)."""
        values = dict(data)
        if "inputs" in values:
            values["inputs"] = {k: InputSpec(**v) for k, v in values["inputs"].items()}
        for name in ("bounds", "outputs"):
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        return cls(**values)


InputKind = Literal["label", "labels", "score", "probability", "value", "ranking", "mask"]


@dataclass(frozen=True)
class InputSpec:
    """What a metric input holds.

    ``kind``: ``label`` (one class per sample), ``labels`` (a set per sample,
    multi-label), ``score`` (one real score per sample or per class), ``probability``
    (per-class probabilities summing to one), ``value`` (a real number, regression),
    ``ranking`` (an ordered list of item ids per query), ``mask`` (a label map per
    sample, segmentation). ``shape`` is informal (``"n"``, ``"n,k"``, ``"n,h,w"``).
    """

    kind: InputKind
    dtype: str | None = None
    shape: str | None = None
    description: str = ""


@dataclass(frozen=True)
class MetricInfo(ComponentInfo):
    """Declarative description of a metric.

    :param direction: ``"maximize"`` or ``"minimize"``; required, because a
        leaderboard sorted the wrong way is worse than no leaderboard.
    :param version: version of the *numbers*: bump it whenever scores can change.
    :param bounds: ``(low, high)`` the score can reach, or ``None`` if unbounded.
    :param citation: BibTeX or a reference, shown on the competition page.
    :param inputs: input name -> :class:`InputSpec`; ``predictions`` and ``references``
        at least.
    :param outputs: names of the scores ``compute`` returns, primary first; empty means
        one score named after the metric id.
    """

    direction: Literal["maximize", "minimize"] | None = None
    version: str = "1"
    bounds: tuple[float | None, float | None] | None = None
    citation: str = ""
    inputs: Mapping[str, InputSpec] = field(default_factory=lambda: {
        "predictions": InputSpec("label"), "references": InputSpec("label")})
    outputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        _expect(self, "id", "." in self.id, "a namespaced id such as 'acme.macro_f1' (metric ids are never bare)")
        _expect(self, "direction", self.direction in ("maximize", "minimize"), "'maximize' or 'minimize'")
        _expect(self, "version", isinstance(self.version, str) and bool(self.version), "a non-empty string")
        _expect(self, "bounds", self.bounds is None or (isinstance(self.bounds, tuple) and len(self.bounds) == 2),
                "None or a (low, high) tuple")
        _expect(self, "inputs", isinstance(self.inputs, Mapping) and {"predictions", "references"} <= set(self.inputs)
                and all(isinstance(v, InputSpec) for v in self.inputs.values()),
                "a mapping of input names to InputSpec with at least 'predictions' and 'references'")
        _expect(self, "outputs", isinstance(self.outputs, tuple) and all(isinstance(o, str) for o in self.outputs),
                "a tuple of score names")

    @property
    def output_names(self) -> tuple[str, ...]:
        """The names of the scores ``compute`` returns, primary first."""
        return self.outputs or (self.id,)

    @property
    def primary(self) -> str:
        """The primary output."""
        return self.output_names[0]

    @property
    def sort(self) -> Literal["asc", "desc"]:
        """The leaderboard sort order implied by :attr:`direction`."""
        return "desc" if self.direction == "maximize" else "asc"


@dataclass(frozen=True)
class CheckInfo(ComponentInfo):
    """Declarative description of a submission check."""


@runtime_checkable
class Component(Protocol):
    """Anything a plugin registers: an object with an ``info`` attribute."""

    @property
    def info(self) -> ComponentInfo: ...


def _expect(info: ComponentInfo, name: str, ok: bool, expected: str) -> None:
    if not ok:
        value = getattr(info, name)
        raise ComponentInfoError(
            f"{type(info).__name__}.{name} must be {expected} (got {value!r} that is a {type(value).__name__}).",
            field=name, expected=expected, found=value,
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, InputSpec):
        return {name: getattr(value, name) for name in value.__dataclass_fields__}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
