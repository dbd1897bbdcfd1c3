"""The metric API: declarative info, a small stateful protocol, and a decorator for
the common case.

A registered metric is a *factory*: calling it with the manifest's params returns a
fresh :class:`MetricState`, which accumulates batches with ``update`` and produces
scores with ``compute``. States that implement ``merge`` can be computed on shards
and combined (sharded scoring); a state's result must not depend on how the data
was split into batches.

>>> from aibench_plugins import metric
>>> @metric(id="acme.exact_match", direction="maximize", bounds=(0.0, 1.0))
... def exact_match(*, predictions, references):
...     return sum(p == r for p, r in zip(predictions, references)) / len(references)
>>> state = exact_match()
>>> state.update(predictions=[1, 2], references=[1, 3])
>>> state.compute()
{'acme.exact_match': 0.5}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from ..core.kinds import EMPTY_PARAMS, InputSpec, MetricInfo
from ..core.errors import MetricInputError

Scores = Mapping[str, float]


@runtime_checkable
class MetricState(Protocol):
    """One metric computation in progress.

    ``update`` takes keyword arguments only, named as the metric's ``info.inputs``
    (``predictions`` and ``references`` at least). ``compute`` returns every output
    named in ``info.outputs`` (the first is the primary one) and may be called more
    than once. Optional: ``merge(other)`` adds another state's accumulation to this
    one, for sharded scoring.
    """

    def reset(self) -> None: ...

    def update(self, **inputs: Any) -> None: ...

    def compute(self) -> Scores: ...


class Metric(Protocol):
    """What a plugin registers: a factory of states, with declarative info."""

    info: MetricInfo

    def __call__(self, **params: Any) -> MetricState: ...


@dataclass(frozen=True)
class Provenance:
    """Where a score comes from: enough to explain why it changed."""

    metric_id: str
    metric_version: str
    plugin: str
    distribution: str
    distribution_version: str | None
    params_sha256: str
    aibench_version: str


@dataclass(frozen=True)
class MetricResult:
    """Scores of one metric on one submission (or one split of it), with provenance."""

    scores: Scores
    primary: str
    provenance: Provenance
    per_sample: tuple[float, ...] | None = None

    @property
    def value(self) -> float:
        """The primary score."""
        return self.scores[self.primary]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["scores"] = dict(self.scores)
        return data


def params_sha256(params: Mapping[str, Any]) -> str:
    """A stable hash of a params object (sorted keys, compact JSON)."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class _ConcatState:
    """State of a function metric: concatenate every batch, call the function at compute
    (the ``cat`` reduction). Merging concatenates shards in order."""

    def __init__(self, metric: FunctionMetric, params: Mapping[str, Any]) -> None:
        self._metric = metric
        self._params = dict(params)
        self._batches: dict[str, list[Any]] = {}

    def reset(self) -> None:
        self._batches = {}

    def update(self, **inputs: Any) -> None:
        for name, value in inputs.items():
            self._batches.setdefault(name, []).append(value)

    def merge(self, other: _ConcatState) -> None:
        for name, values in other._batches.items():
            self._batches.setdefault(name, []).extend(values)

    def compute(self) -> Scores:
        import numpy as np

        if not self._batches:
            raise MetricInputError(f"{self._metric.info.id}: compute() before any update()")
        inputs = {name: np.concatenate([np.asarray(v) for v in values]) for name, values in self._batches.items()}
        value = self._metric.function(**inputs, **self._params)
        outputs = self._metric.info.output_names
        if isinstance(value, Mapping):
            return {name: float(value[name]) for name in outputs}
        return {outputs[0]: float(value)}


@dataclass(frozen=True)
class FunctionMetric:
    """A metric computed by one call of a function over all the data."""

    info: MetricInfo
    function: Callable[..., float | Scores]

    def __call__(self, **params: Any) -> _ConcatState:
        return _ConcatState(self, params)

    def __reduce__(self) -> tuple[Any, ...]:
        # ``@metric`` replaces the function by this object under the function's name, so
        # pickle it by that name when it resolves to this very object.
        module, name = self.function.__module__, self.function.__qualname__
        if _lookup(module, name) is self:
            return _lookup, (module, name)
        return FunctionMetric, (self.info, self.function)

    def compute(self, *, predictions: Any, references: Any, **params: Any) -> float:
        """The primary score of one call (a convenience for tests and notebooks)."""
        state = self(**params)
        state.update(predictions=predictions, references=references)
        return state.compute()[self.info.output_names[0]]


def _lookup(module: str, qualname: str) -> Any:
    import importlib

    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part, None)
    return target


def metric(
    *,
    id: str,
    direction: Literal["maximize", "minimize"],
    description: str | None = None,
    version: str = "1",
    bounds: tuple[float | None, float | None] | None = None,
    params_schema: Mapping[str, Any] | None = None,
    inputs: Mapping[str, InputSpec] | None = None,
    outputs: tuple[str, ...] = (),
    citation: str = "",
) -> Callable[[Callable[..., float | Scores]], FunctionMetric]:
    """Turn ``function(*, predictions, references, **params) -> float`` into a metric.

    ``description`` defaults to the first paragraph of the function's docstring. A
    function returning several scores returns a mapping with every name in ``outputs``.
    """

    def decorate(function: Callable[..., float | Scores]) -> FunctionMetric:
        doc = (function.__doc__ or "").strip().split("\n\n")[0]
        info = MetricInfo(
            id=id, direction=direction, description=" ".join((description or doc).split()), version=version,
            bounds=bounds, params_schema=dict(params_schema or EMPTY_PARAMS), citation=citation,
            inputs=dict(inputs) if inputs is not None else default_inputs(), outputs=outputs,
        )
        return FunctionMetric(info, function)

    return decorate


def default_inputs() -> dict[str, InputSpec]:
    """Default inputs: predicted and reference labels."""
    return {"predictions": InputSpec("label"), "references": InputSpec("label")}

