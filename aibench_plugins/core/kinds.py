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
import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from .errors import ComponentInfoError

__all__ = [
    "KINDS",
    "Accepts",
    "AnalysisInfo",
    "CheckInfo",
    "ComplexityInfo",
    "Component",
    "ComponentInfo",
    "ExecutorInfo",
    "InputSpec",
    "Kind",
    "KindSpec",
    "MetricInfo",
    "SummarySpec",
]

_ID = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$")
EMPTY_PARAMS: Mapping[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


class Kind(str, enum.Enum):
    """The kinds of component. Everything else about a kind (its hook, its info type, its
    manifest section, the stage that runs it) is its row of :data:`KINDS`."""

    METRIC = "metric"
    CHECK = "check"
    FAIRNESS = "fairness"
    ROBUSTNESS = "robustness"
    COMPLEXITY = "complexity"
    EXECUTOR = "executor"
    REPORTER = "reporter"

    @property
    def spec(self) -> KindSpec:
        """This kind's row of :data:`KINDS`."""
        return KINDS[self]

    @property
    def hook(self) -> str:
        """Name of the hook through which plugins register this kind."""
        return KINDS[self].hook

    @property
    def plural(self) -> str:
        """Plural noun used in messages ("metrics", "fairness checkers")."""
        return KINDS[self].plural


@dataclass(frozen=True)
class ComponentInfo:
    """Declarative description of a component.

    :param id: stable identifier, lower case, dot-separated namespaces
        (``aibench.accuracy``, ``acme.demographic_parity``); the manifest refers to
        the component by this id.
    :param description: one or two sentences shown in ``aibench plugins list`` and
        on the competition page; whitespace runs (an indented triple-quoted block) become
        single spaces.
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
        object.__setattr__(self, "description", " ".join(self.description.split()))
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
        for name in ("bounds", "outputs", "options"):
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


@dataclass(frozen=True)
class ExecutorInfo(ComponentInfo):
    """Declarative description of an executor plugin.

    :param options: the options its ``create`` accepts beyond ``limits`` (``"isolation"``,
        ``"image"``, ``"network"``); an option given to an executor that does not accept it
        is refused with a message, before anything runs.
    """

    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        _expect(self, "options", isinstance(self.options, tuple) and all(isinstance(o, str) for o in self.options),
                "a tuple of option names")


@dataclass(frozen=True)
class SummarySpec:
    """A family of summaries an analysis can give.

    ``pattern`` names them; ``{metric}`` stands for a manifest metric key (``worst_group.{metric}``
    gives ``worst_group.macro_f1``). ``direction`` is the leaderboard sort of such a column:
    ``maximize``, ``minimize``, or ``metric`` (the direction of the metric ``{metric}`` names).
    """

    pattern: str
    direction: Literal["maximize", "minimize", "metric"]
    description: str = ""

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.pattern.replace("{metric}", "*"))


@dataclass(frozen=True)
class AnalysisInfo(ComponentInfo):
    """Declarative description of a fairness or robustness checker.

    :param summaries: every family of summaries it can give; ``aibench validate`` checks each
        manifest ``columns`` entry against them (with a did-you-mean), before anything runs.
    :param needs: what it needs beyond the aligned metric inputs: ``"groups"`` (sensitive
        attributes: the host then requires ``min_group_size``), ``"perturbed_runs"`` (the
        predictions of the prediction step re-run on perturbed inputs, code submissions).
    """

    summaries: tuple[SummarySpec, ...] = ()
    needs: tuple[str, ...] = ()
    version: str = "1"

    def summary_spec(self, name: str) -> SummarySpec | None:
        """The family ``name`` belongs to, or ``None``."""
        return next((spec for spec in self.summaries if spec.matches(name)), None)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Any:
        values = dict(data)
        values["summaries"] = tuple(SummarySpec(**s) if isinstance(s, Mapping) else s
                                    for s in values.get("summaries", ()))
        values["needs"] = tuple(values.get("needs", ()))
        return cls(**values)


#: what a prediction-side complexity meter accepts: a model object, any callable, or a block of code
Accepts = Literal["model", "callable", "block"]


@dataclass(frozen=True)
class ComplexityInfo(AnalysisInfo):
    """Declarative description of a complexity meter.

    :param summaries: every family of measurement names it can give, with the leaderboard sort of
        such a column (costs are ``minimize``); ``aibench validate`` checks each manifest
        ``columns`` entry against them.
    :param runs_in: ``prediction`` (in the ingestion program's process, on the model) or
        ``scoring`` (from the host's measurements of the steps); see the module docstring.
    :param accepts: for a prediction-side meter, what it can measure: ``model`` (a
        ``torch.nn.Module``: parameters and MACs need one), ``callable``, ``block``
        (:class:`BlockMeter`); a workload it does not accept gives ``unavailable`` measurements.
    :param needs: ``reference`` when it compares against the organiser's reference workload (the
        manifest entry, or the call to ``measure``, must then give one).
    """

    runs_in: Literal["prediction", "scoring"] = "prediction"
    accepts: tuple[Accepts, ...] = ("model", "callable")

    def __post_init__(self) -> None:
        super().__post_init__()
        _expect(self, "runs_in", self.runs_in in ("prediction", "scoring"), "'prediction' or 'scoring'")
        _expect(self, "accepts", isinstance(self.accepts, tuple)
                and all(a in ("model", "callable", "block") for a in self.accepts),
                "a tuple of 'model', 'callable', 'block'")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Any:
        values = dict(data)
        values["accepts"] = tuple(values.get("accepts", ("model", "callable")))
        return super().from_json(values)


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
    if isinstance(value, (InputSpec, ComponentInfo)) or hasattr(type(value), "__dataclass_fields__"):
        return {name: _jsonable(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


Stage = Literal["before scoring", "after scoring", "report", "steps"]


@dataclass(frozen=True)
class KindSpec:
    """One row of the table of kinds: everything the host, the manifest and the evaluation
    session need to know about a kind, said once.

    :param kind: the kind.
    :param hook: the register-callback hook of :mod:`aibench_plugins.core.hookspecs`.
    :param plural: the plural noun used in messages.
    :param info: the info type a component of this kind must carry.
    :param section: the manifest section naming components of this kind (``None``: none).
    :param item_def: the ``$defs`` entry of the manifest schema describing one item of it.
    :param stage: when the host uses the kind: ``before scoring`` and ``after scoring`` (run by
        the evaluation session), ``report`` (sections of the detailed results page), ``steps``
        (the executor that runs the platform's steps: ``aibench run`` takes the manifest's
        ``executor`` section when the command line names none); ``None`` while
        nothing runs what the manifest section names. A manifest section whose kind has no stage
        is refused ("not implemented yet"), never accepted and skipped. Fairness and robustness checkers run ``after
        scoring``, after the metrics, on what the metrics read
        (:mod:`aibench_plugins.evaluation.analyses`); complexity meters run ``after scoring`` on
        what the prediction step measured (:mod:`aibench_plugins.complexity`) and what the host
        measured of the steps.
    """

    kind: Kind
    hook: str
    plural: str
    info: type[ComponentInfo]
    section: str | None = None
    item_def: str | None = None
    stage: Stage | None = None


def _rows() -> dict[Kind, KindSpec]:
    return {row.kind: row for row in (
        KindSpec(Kind.METRIC, "aibench_register_metrics", "metrics", MetricInfo, "metrics", "metric",
                 "after scoring"),
        KindSpec(Kind.CHECK, "aibench_register_checks", "checks", CheckInfo, "checks", "check", "before scoring"),
        KindSpec(Kind.FAIRNESS, "aibench_register_fairness_checkers", "fairness checkers", AnalysisInfo,
                 "fairness", "analysis", "after scoring"),
        KindSpec(Kind.ROBUSTNESS, "aibench_register_robustness_checkers", "robustness checkers", AnalysisInfo,
                 "robustness", "analysis", "after scoring"),
        KindSpec(Kind.COMPLEXITY, "aibench_register_complexity_meters", "complexity meters", ComplexityInfo,
                 "complexity", "meter", "after scoring"),
        KindSpec(Kind.EXECUTOR, "aibench_register_executors", "executors", ExecutorInfo, "executor", "executor",
                 "steps"),
        KindSpec(Kind.REPORTER, "aibench_register_reporters", "reporters", ComponentInfo, None, None, "report"),
    )}


KINDS: Mapping[Kind, KindSpec] = _rows()
"""The table of kinds, one row each, in :class:`Kind` order."""
