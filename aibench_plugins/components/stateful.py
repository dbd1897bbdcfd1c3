"""Plumbing the built-in metrics share: a factory base and a state base.

A built-in metric is a :class:`MetricFactory`: it has ``info``, calling it with params
checks them against ``info.params_schema`` (every problem listed, naming the metric)
and returns a fresh state, ``.compute(predictions=, references=, **params)`` returns
the primary score of one call, and it pickles (the compiled schema validator is left
out and rebuilt on first use). :class:`StatefulMetric` is the factory of a state
class derived from :class:`MetricStateBase`, which keeps the params (defaults filled
in), checks ``update``'s input names and the params of merged states.

>>> from aibench_plugins.default_plugins.regression import mae
>>> state = mae()
>>> state.update(predictions=[1.0, 2.0], references=[1.0, 4.0])
>>> state.compute()
{'aibench.mae': 1.0}
>>> mae.compute(predictions=[1.0, 2.0], references=[1.0, 4.0])
1.0

jsonschema_rs is imported when params are first checked, not when a plugin loads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ..core.kinds import MetricInfo
from ..core.errors import InvalidParamsError, UsageError

if TYPE_CHECKING:
    from .metric import MetricState

__all__ = ["MetricFactory", "MetricStateBase", "StatefulMetric", "describe", "object_schema", "param_defaults"]


def describe(text: str) -> str:
    """A description written as an indented block, on one line."""
    return " ".join(text.split())


def object_schema(**properties: Mapping[str, Any]) -> dict[str, Any]:
    """The params schema of a metric taking ``properties`` and nothing else."""
    return {"type": "object", "properties": dict(properties), "additionalProperties": False}


def param_defaults(info: MetricInfo) -> dict[str, Any]:
    """The default of each param of ``info.params_schema`` that declares one."""
    properties = info.params_schema.get("properties", {})
    return {name: spec["default"] for name, spec in properties.items() if "default" in spec}


class MetricFactory(ABC):
    """What the built-in metrics share: ``info``, params checked against its schema when
    a state is made, the one-call ``compute``, and pickling. Subclasses set ``info`` and
    implement ``__call__``, calling :meth:`check_params`."""

    info: MetricInfo

    @cached_property
    def _validator(self) -> Any:
        """The compiled params schema; ``None`` where jsonschema_rs is not installed: in the
        runtime of a wrapped bundle, whose params ``aibench wrap`` validated."""
        try:
            import jsonschema_rs
        except ImportError:
            return None
        return jsonschema_rs.validator_for(dict(self.info.params_schema))

    def check_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` (tuples as lists) with the schema's defaults filled in; raise
        :class:`~aibench_plugins.InvalidParamsError` listing every way they break ``info.params_schema``."""
        given = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
        validator = self._validator
        problems = [f"{'/'.join(map(str, e.instance_path)) or 'params'}: {e.message}"
                    for e in (validator.iter_errors(given) if validator is not None else ())]
        if problems:
            raise InvalidParamsError(f"{self.info.id}: invalid params {dict(params)!r}: {'; '.join(problems)}")
        return {**param_defaults(self.info), **given}

    @abstractmethod
    def __call__(self, **params: Any) -> MetricState:
        ...

    def compute(self, *, predictions: Any, references: Any, **params: Any) -> float:
        """The primary score of one call (a convenience for tests and notebooks)."""
        state = self(**params)
        state.update(predictions=predictions, references=references)
        return state.compute()[self.info.primary]

    def __getstate__(self) -> dict[str, Any]:  # the compiled validator does not pickle
        return {name: value for name, value in self.__dict__.items() if name != "_validator"}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.info.id}>"


class MetricStateBase(ABC):
    """Plumbing shared by the built-in states: input names, params, merge checks.

    A subclass sets :attr:`info` and implements ``reset``, ``update``, ``compute`` and
    ``_merge``; :attr:`params` are the keyword arguments the factory was called with,
    defaults included (two states merge only when their params are equal).
    """

    info: ClassVar[MetricInfo]

    def __init__(self, **params: Any) -> None:
        """Keep ``params`` with the defaults of ``info.params_schema`` filled in."""
        declared = self.info.params_schema.get("properties", {})
        unknown = sorted(set(params) - set(declared))
        if unknown:
            raise UsageError(f"{self.info.id}: unknown param{'s' if len(unknown) > 1 else ''} "
                            f"{', '.join(map(repr, unknown))}; it takes {', '.join(declared) or 'no params'}")
        self.params: dict[str, Any] = param_defaults(self.info)
        self.params.update(params)

    @abstractmethod
    def reset(self) -> None:
        ...

    @abstractmethod
    def update(self, **inputs: Any) -> None:
        ...

    @abstractmethod
    def compute(self) -> dict[str, float]:
        ...

    def merge(self, other: MetricStateBase) -> None:
        """Add ``other``'s accumulation (a state of the same metric and params) to this one."""
        if type(other) is not type(self):
            raise UsageError(f"{self.info.id}: cannot merge a {type(other).__name__} into a {type(self).__name__}")
        if other.params != self.params:
            raise InvalidParamsError(f"{self.info.id}: cannot merge states with different params "
                             f"({other.params} into {self.params})")
        self._merge(other)

    @abstractmethod
    def _merge(self, other: Any) -> None:
        ...

    def _inputs(self, inputs: Mapping[str, Any]) -> tuple[Any, Any]:
        """``predictions`` and ``references`` from ``update``'s keyword arguments."""
        expected = set(self.info.inputs)
        unknown, missing = sorted(set(inputs) - expected), sorted(expected - set(inputs))
        if unknown or missing:
            problem = (f"unexpected input{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}"
                       if unknown else f"missing input{'s' if len(missing) > 1 else ''} "
                                       f"{', '.join(map(repr, missing))}")
            raise UsageError(f"{self.info.id}: update() {problem}; it takes {', '.join(sorted(expected))}")
        return inputs["predictions"], inputs["references"]

    def _scores(self, value: float) -> dict[str, float]:
        return {self.info.primary: float(value)}

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"<{self.info.id}({shown}) state>"


StateT = TypeVar("StateT", bound=MetricStateBase)


class StatefulMetric(MetricFactory, Generic[StateT]):
    """A registered metric built from a state class: ``metric(**params)`` checks the
    params against ``info.params_schema`` and returns a fresh state, given the params
    as they were passed (the state fills in the defaults)."""

    def __init__(self, state: type[StateT]) -> None:
        self.state = state
        self.info = state.info

    def __call__(self, **params: Any) -> StateT:
        self.check_params(params)
        return self.state(**params)

    def __repr__(self) -> str:
        return f"<metric {self.info.id}>"
