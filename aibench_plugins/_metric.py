"""Metrics from functions: the common case of a metric plugin.

>>> from aibench_plugins import metric
>>> @metric(id="acme.exact_match", direction="maximize", bounds=(0.0, 1.0))
... def exact_match(*, predictions, references):
...     return sum(p == r for p, r in zip(predictions, references)) / len(references)
>>> exact_match.info.id
'acme.exact_match'
>>> exact_match.compute(predictions=[1, 2], references=[1, 3])
0.5
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._components import EMPTY_PARAMS, MetricInfo

MetricFunction = Callable[..., float]


@dataclass(frozen=True)
class FunctionMetric:
    """A metric computed by one call of a function over whole prediction and
    reference arrays. ``params`` from the manifest are passed as keyword arguments."""

    info: MetricInfo
    function: MetricFunction

    def compute(self, *, predictions: Any, references: Any, **params: Any) -> float:
        """The score of ``predictions`` against ``references``."""
        return float(self.function(predictions=predictions, references=references, **params))

    def __call__(self, *, predictions: Any, references: Any, **params: Any) -> float:
        return self.compute(predictions=predictions, references=references, **params)


def metric(
    *,
    id: str,
    direction: Literal["maximize", "minimize"],
    description: str | None = None,
    version: str = "1",
    bounds: tuple[float | None, float | None] | None = None,
    params_schema: Mapping[str, Any] | None = None,
    citation: str = "",
) -> Callable[[MetricFunction], FunctionMetric]:
    """Turn ``function(*, predictions, references, **params) -> float`` into a metric.

    ``description`` defaults to the first paragraph of the function's docstring.
    """

    def decorate(function: MetricFunction) -> FunctionMetric:
        doc = (function.__doc__ or "").strip().split("\n\n")[0]
        info = MetricInfo(
            id=id, direction=direction, description=" ".join((description or doc).split()), version=version,
            bounds=bounds, params_schema=dict(params_schema or EMPTY_PARAMS), citation=citation,
        )
        return FunctionMetric(info, function)

    return decorate
