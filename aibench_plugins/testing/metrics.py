"""Conformance checks for metrics (see :mod:`aibench_plugins.testing`)."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.kinds import ComponentInfo, InputSpec, MetricInfo
from ..core.errors import UsageError

if TYPE_CHECKING:
    import pytest

__all__ = ["METRIC_CHECKS", "N_SAMPLES", "MetricCheck", "check_metric", "make_inputs", "parametrize_with_checks"]

N_SAMPLES = 60
"""Number of samples :func:`make_inputs` generates."""

_BATCHES = (7, 23, 30)  # uneven on purpose: a per-batch mean then differs from the overall mean
_REL_TOL = 1e-9
_ABS_TOL = 1e-12


# -- running checks ------------------------------------------------------------------


class _Failed(Exception):
    """A check found a problem; the message says what and how to fix it."""


@dataclass
class _Case:
    """What one check works on: the metric, its params and inputs, the network guard."""

    metric: Any
    params: Mapping[str, Any]
    inputs: Mapping[str, Any]
    generated: bool
    network: _NetworkGuard

    @property
    def info(self) -> MetricInfo:
        info = getattr(self.metric, "info", None)
        if not isinstance(info, MetricInfo):
            raise _Failed(f"the metric's 'info' is {type(info).__name__}, expected aibench_plugins.MetricInfo")
        return info

    def state(self, factory: Any = None) -> Any:
        """A fresh state from ``factory`` (the metric by default)."""
        made = (factory if factory is not None else self.metric)(**self.params)
        for method in ("reset", "update", "compute"):
            if not callable(getattr(made, method, None)):
                raise _Failed(f"metric(**params) returned {type(made).__name__}, which has no {method}() method; "
                              "a metric is a factory of states with reset(), update(**inputs) and compute()")
        return made

    def run(self, state: Any, batches: Sequence[Mapping[str, Any]] | None = None) -> dict[str, float]:
        """Update ``state`` with each batch (all the inputs by default) and compute."""
        for batch in batches if batches is not None else [self.inputs]:
            state.update(**batch)
        return self.compute(state)

    def compute(self, state: Any) -> dict[str, float]:
        scores = state.compute()
        if not isinstance(scores, Mapping):
            raise _Failed(f"compute() returned {type(scores).__name__}, expected a mapping of output name to float "
                          f"such as {{{self.info.primary!r}: 0.5}}")
        return dict(scores)

    def batches(self) -> list[dict[str, Any]]:
        """The inputs in three uneven batches, in order."""
        n = _length(self.inputs)
        if n < len(_BATCHES):
            raise _Failed(f"the inputs hold {n} samples; the batch checks need at least {len(_BATCHES)}")
        ends = [round(n * sum(_BATCHES[: i + 1]) / sum(_BATCHES)) for i in range(len(_BATCHES))]
        starts = [0, *ends[:-1]]
        specs = self.info.inputs
        return [{name: value[a:b] if name not in specs or _per_sample(specs[name]) else value
                 for name, value in self.inputs.items()} for a, b in zip(starts, ends)]


@dataclass(frozen=True)
class MetricCheck:
    """One conformance check of a metric, callable as ``check(metric, inputs=..., params=...)``.

    Raises :class:`AssertionError` naming the metric id and the check. ``inputs`` and
    ``params`` given when calling win over those bound by :func:`parametrize_with_checks`.
    """

    name: str
    description: str
    function: Callable[[_Case], None] = dataclasses.field(repr=False)
    inputs: Mapping[str, Any] | None = dataclasses.field(default=None, repr=False)
    params: Mapping[str, Any] | None = dataclasses.field(default=None, repr=False)

    def __call__(self, metric: Any, *, inputs: Mapping[str, Any] | None = None,
                 params: Mapping[str, Any] | None = None) -> None:
        inputs = inputs if inputs is not None else self.inputs
        params = dict(params if params is not None else self.params or {})
        with_params = f" with params {params!r}" if params else ""
        where = f"metric {_metric_id(metric)!r}{with_params} failed check {self.name!r}"
        generated = inputs is None
        try:
            with _NetworkGuard() as network:
                if inputs is None:
                    info = getattr(metric, "info", None)
                    if not isinstance(info, MetricInfo):
                        raise _Failed(f"the metric's 'info' is {type(info).__name__}, "
                                      "expected aibench_plugins.MetricInfo")
                    inputs = make_inputs(info)
                self.function(_Case(metric, params, inputs, generated, network))
        except _Failed as failure:
            raise AssertionError(f"{where}: {failure}") from None
        except Exception as error:  # noqa: BLE001 - any error of the metric fails the check, with its type
            hint = ""
            if isinstance(error, _NetworkBlocked):
                hint = " (see the no_network check)"
            elif generated:
                hint = (" If the generated inputs do not suit this metric, pass your own: "
                        "check_metric(metric, inputs={'predictions': ..., 'references': ...}).")
            raise AssertionError(f"{where}: {type(error).__name__}: {str(error).rstrip('.')}.{hint}") from error


def check_metric(metric: Any, *, inputs: Mapping[str, Any] | None = None,
                 params: Mapping[str, Any] | None = None) -> None:
    """Run every check of :data:`METRIC_CHECKS` on ``metric``; raise :class:`AssertionError`
    at the first failure, naming the metric id and the check.

    :param metric: a registered metric: a factory ``metric(**params)`` of states, with
        an ``info`` attribute holding a :class:`~aibench_plugins.MetricInfo`.
    :param inputs: keyword arguments of ``update`` covering every sample (sequences
        that can be sliced, such as numpy arrays); by default :func:`make_inputs`
        generates them from ``metric.info.inputs``.
    :param params: the params the manifest would give; ``{}`` by default.
    """
    for check in METRIC_CHECKS:
        check(metric, inputs=inputs, params=params)


def parametrize_with_checks(metrics: Iterable[Any], *, inputs: Mapping[str, Any] | None = None) -> pytest.MarkDecorator:
    """A ``pytest.mark.parametrize`` over ``(metric, check)``: one test per metric and check,
    with ids such as ``acme.exact_match-json_round_trip``.

    :param metrics: metrics, or ``(metric, params)`` pairs to check a metric with given
        params (ids then read ``acme.mean_iou(num_classes=3)-bounds``).
    :param inputs: inputs for every metric; generated from each metric's info by default.

    The decorated test receives ``metric`` and ``check`` and calls ``check(metric)``.
    """
    import pytest

    values: list[tuple[Any, MetricCheck]] = []
    ids: list[str] = []
    for item in metrics:
        metric, params = item if isinstance(item, tuple) else (item, None)
        for check in METRIC_CHECKS:
            values.append((metric, dataclasses.replace(check, inputs=inputs, params=params)))
            ids.append(f"{_metric_id(metric)}{_params_label(params or {})}-{check.name}")
    return pytest.mark.parametrize(("metric", "check"), values, ids=ids)


# -- generated inputs ------------------------------------------------------------------


def make_inputs(info: MetricInfo, *, n: int = N_SAMPLES, seed: int = 0) -> dict[str, Any]:
    """Inputs for ``update``, one numpy array per input of ``info``, generated from each
    :class:`~aibench_plugins.InputSpec` kind with a fixed seed.

    Inputs have ``n`` rows, one per sample, unless their ``shape`` starts with another
    dimension: an input of shape ``k`` is one value per class (``0..k-1`` for labels), the
    same for every batch. By kind:

    * ``label``: integer classes ``0..k-1``, every class present; ``k`` is 3, or 2 when an
      input is a one-dimensional ``score`` or ``probability`` (a binary score);
    * ``labels``: a 0/1 indicator matrix ``(n, k)``;
    * ``score``: floats, ``(n, k)`` when the shape names ``k``, otherwise ``(n,)``;
    * ``probability``: rows of ``(n, k)`` summing to one, or ``(n,)`` probabilities of
      the positive class when the shape is ``n``;
    * ``value``: floats; ``ranking``: a permutation of 5 item ids per row; ``mask``:
      ``(n, 4, 4)`` label maps.

    ``dtype``, when numpy knows it, is applied (string dtypes turn labels into ``"c0"``,
    ``"c1"``, ...). When predictions and references are of the same kind, predictions
    equal the references more often in early samples than in late ones, so that a
    statistic differs from one batch to the next.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    classes = 2 if any(spec.kind in ("score", "probability") and not _per_class(spec)
                       for spec in info.inputs.values()) else 3
    generated: dict[str, Any] = {}
    for name, spec in info.inputs.items():
        value: Any
        if not _per_sample(spec):
            value = np.arange(classes) if spec.kind == "label" else rng.normal(size=classes)
        elif spec.kind == "label":
            value = rng.integers(0, classes, n)
            value[:classes] = np.arange(classes)
        elif spec.kind == "labels":
            value = rng.integers(0, 2, (n, classes))
        elif spec.kind == "score":
            value = rng.normal(size=(n, classes) if _per_class(spec) else n)
        elif spec.kind == "probability":
            value = rng.dirichlet(np.ones(classes), n) if _per_class(spec) else rng.uniform(size=n)
        elif spec.kind == "value":
            value = rng.normal(size=n)
        elif spec.kind == "ranking":
            value = np.array([rng.permutation(5) for _ in range(n)])
        elif spec.kind == "mask":
            value = rng.integers(0, classes, (n, 4, 4))
        else:
            raise UsageError(f"input {name!r}: cannot generate inputs of kind {spec.kind!r}; pass your own inputs")
        generated[name] = _with_dtype(value, spec.dtype)
    predicted, reference = info.inputs["predictions"], info.inputs["references"]
    if (predicted.kind, predicted.shape) == (reference.kind, reference.shape) and _per_sample(predicted):
        # Right more often early than late, so that statistics differ from batch to batch.
        right = rng.uniform(size=n) > np.linspace(0.05, 0.95, n)
        right = right.reshape((n,) + (1,) * (generated["predictions"].ndim - 1))
        generated["predictions"] = np.where(right, generated["references"], generated["predictions"])
    return generated


def _per_sample(spec: InputSpec) -> bool:
    """Whether the input has one row per sample (its shape, when given, starts with ``n``)."""
    return spec.shape is None or spec.shape.split(",")[0].strip() == "n"


def _per_class(spec: InputSpec) -> bool:
    return spec.kind in ("score", "probability") and (spec.shape is None and spec.kind == "probability"
                                                      or spec.shape is not None and "k" in spec.shape)


def _with_dtype(value: Any, dtype: str | None) -> Any:
    import numpy as np

    if dtype is None:
        return value
    try:
        target = np.dtype(dtype)
    except TypeError:
        return value
    if target.kind in "USO":
        return np.array([f"c{v}" for v in value.ravel()], dtype=target).reshape(value.shape)
    return value.astype(target)


def _perfect(case: _Case) -> dict[str, Any] | None:
    """The inputs with predictions equal to the references (converted when the kinds
    differ: labels become one-hot rows of scores), or ``None`` when no conversion is known."""
    import numpy as np

    info = case.info
    predicted, reference = info.inputs["predictions"], info.inputs["references"]
    references = case.inputs["references"]
    if predicted.kind == reference.kind:
        return {**case.inputs, "predictions": references}
    if reference.kind != "label" or predicted.kind not in ("score", "probability"):
        return None
    labels = np.asarray(references)
    if labels.dtype.kind not in "iub":
        return None
    predictions = np.asarray(case.inputs["predictions"])
    if predictions.ndim == 1:
        return {**case.inputs, "predictions": labels.astype(float)}
    if predictions.ndim != 2 or labels.max(initial=0) >= predictions.shape[1]:
        return None
    return {**case.inputs, "predictions": np.eye(predictions.shape[1])[labels]}


# -- the checks --------------------------------------------------------------------------


def _check_json_round_trip(case: _Case) -> None:
    info = case.info
    try:
        text = json.dumps(info.to_json())
    except TypeError as error:
        raise _Failed(f"info.to_json() is not JSON-serialisable ({error}); params_schema, bounds and inputs "
                      "must hold plain JSON values") from None
    back = type(info).from_json(json.loads(text))
    if back != info:
        changed = [f.name for f in dataclasses.fields(info) if getattr(back, f.name) != getattr(info, f.name)]
        details = ", ".join(f"{name}={getattr(info, name)!r} came back as {getattr(back, name)!r}" for name in changed)
        raise _Failed(f"info changes through JSON in {', '.join(changed)}: {details}; use lists, dicts, strings "
                      "and numbers only (no tuples or sets inside params_schema)")
    import jsonschema_rs

    try:
        validator = jsonschema_rs.validator_for(dict(info.params_schema))
    except Exception as error:  # noqa: BLE001 - any compilation error
        raise _Failed(f"params_schema is not a valid JSON Schema: {error}") from None
    errors = [error.message for error in validator.iter_errors(dict(case.params))]
    if errors:
        raise _Failed(f"params {dict(case.params)!r} do not match info.params_schema: {'; '.join(errors)}")


def _check_direction(case: _Case) -> None:
    if getattr(case.info, "direction", None) not in ("maximize", "minimize"):
        raise _Failed("info.direction must be 'maximize' or 'minimize', so the leaderboard sorts the right way")


def _check_no_network(case: _Case) -> None:
    try:
        case.run(case.state())
    except _NetworkBlocked:
        pass
    if case.network.attempts:
        raise _Failed(f"update() or compute() opened a network connection ({'; '.join(case.network.attempts)}). "
                      "Scoring workers run offline: ship the data the metric needs inside the package, "
                      "or take it from params")


def _check_outputs(case: _Case) -> None:
    declared = case.info.output_names
    scores = case.run(case.state())
    missing = [name for name in declared if name not in scores]
    if missing:
        raise _Failed(f"compute() returned no {', '.join(map(repr, missing))} (declared outputs: "
                      f"{', '.join(map(repr, declared))}; returned: {', '.join(map(repr, scores)) or 'nothing'})")
    extra = [name for name in scores if name not in declared]
    if extra:
        raise _Failed(f"compute() returned undeclared outputs {', '.join(map(repr, extra))}; "
                      f"list them in MetricInfo.outputs (declared: {', '.join(map(repr, declared))})")
    for name in declared:
        value = scores[name]
        if not isinstance(value, float):
            raise _Failed(f"output {name!r} is {value!r} of type {type(value).__name__}, expected a float; "
                          "return float(value)")
        if not math.isfinite(value):
            raise _Failed(f"output {name!r} is {value!r}, expected a finite float")


def _check_deterministic(case: _Case) -> None:
    first = case.run(case.state())
    second = case.run(case.state())
    if not _same(first, second, exact=True):
        raise _Failed(f"two fresh states given the same inputs computed {first} and then {second}; "
                      "results must not depend on randomness or global state (seed any generator from params)")
    state = case.state()
    once = case.run(state)
    again = case.compute(state)
    if not _same(once, again, exact=True):
        raise _Failed(f"calling compute() twice on one state gave {once} and then {again}; "
                      "compute() must not change the state")
    state.reset()
    after_reset = case.run(state)
    if not _same(once, after_reset, exact=True):
        raise _Failed(f"after reset() and the same update() the state computed {after_reset} instead of {once}; "
                      "reset() must return the state to its freshly created condition")


def _check_batch_split(case: _Case) -> None:
    batches = case.batches()
    whole = case.run(case.state())
    split = case.run(case.state(), batches)
    if not _same(whole, split):
        raise _Failed(f"the inputs in 1 batch gave {whole}, but in {len(batches)} batches of "
                      f"{', '.join(str(_length(b)) for b in batches)} samples gave {split}; update() must accumulate "
                      "(counts, sums, concatenation), never overwrite the state or average per batch")


def _check_shard_merge(case: _Case) -> None:
    if not callable(getattr(case.state(), "merge", None)):
        return  # merge is optional
    shards = case.batches()
    whole = case.run(case.state())
    states = []
    for shard in shards:
        state = case.state()
        state.update(**shard)
        states.append(state)
    for other in states[1:]:
        states[0].merge(other)
    merged = case.compute(states[0])
    if not _same(whole, merged):
        raise _Failed(f"the inputs in 1 state gave {whole}, but {len(shards)} shards of "
                      f"{', '.join(str(_length(s)) for s in shards)} samples merged with merge() gave {merged}; "
                      "merge(other) must add other's accumulation to this state")


def _check_bounds(case: _Case) -> None:
    info = case.info
    if info.bounds is None:
        return
    low, high = info.bounds
    primary = info.primary
    score = case.run(case.state())[primary]
    if (low is not None and score < low - _ABS_TOL) or (high is not None and score > high + _ABS_TOL):
        raise _Failed(f"output {primary!r} is {score!r}, outside the declared bounds {info.bounds}")
    best = high if info.direction == "maximize" else low
    perfect = _perfect(case)
    if best is None or perfect is None:
        return
    state = case.state()
    state.update(**perfect)
    reached = case.compute(state)[primary]
    if not math.isclose(reached, best, rel_tol=_REL_TOL, abs_tol=_ABS_TOL):
        raise _Failed(f"with predictions equal to the references, output {primary!r} is {reached!r}, but the metric "
                      f"declares direction {info.direction!r} and bounds {info.bounds}, so a perfect submission "
                      f"should score {best!r}; fix the bounds, the direction or the computation")


def _check_pickle(case: _Case) -> None:
    hint = ("define the metric at the top level of an importable module and keep only plain data "
            "(numbers, arrays, lists, dicts) in its state")
    state = case.state()
    expected = case.run(state)
    try:
        factory = pickle.loads(pickle.dumps(case.metric))
    except Exception as error:  # noqa: BLE001 - any pickling error
        raise _Failed(f"the metric does not pickle ({type(error).__name__}: {error}); {hint}") from None
    got = case.run(case.state(factory))
    if not _same(expected, got, exact=True):
        raise _Failed(f"the unpickled metric computed {got} instead of {expected}")
    try:
        copy = pickle.loads(pickle.dumps(state))
    except Exception as error:  # noqa: BLE001 - any pickling error
        raise _Failed(f"a state does not pickle after update() ({type(error).__name__}: {error}); {hint}") from None
    got = case.compute(copy)
    if not _same(expected, got, exact=True):
        raise _Failed(f"the unpickled state computed {got} instead of {expected}")


METRIC_CHECKS: tuple[MetricCheck, ...] = (
    MetricCheck("json_round_trip", "info is a MetricInfo, survives JSON, and the params match its params_schema",
                _check_json_round_trip),
    MetricCheck("direction", "info.direction is 'maximize' or 'minimize'", _check_direction),
    MetricCheck("outputs", "compute() returns every declared output, as a finite float, and nothing else",
                _check_outputs),
    MetricCheck("no_network", "update() and compute() open no network connection", _check_no_network),
    MetricCheck("deterministic", "fresh states, repeated compute() and reset() give the same result",
                _check_deterministic),
    MetricCheck("batch_split", "1 batch and 3 batches of the same data give the same result", _check_batch_split),
    MetricCheck("shard_merge", "3 shards merged with merge() give the result of 1 state (when merge exists)",
                _check_shard_merge),
    MetricCheck("bounds", "scores stay within info.bounds, and perfect predictions reach the best bound",
                _check_bounds),
    MetricCheck("pickle", "the metric and its states pickle and compute the same result", _check_pickle),
)
"""Every metric check, in the order :func:`check_metric` runs them."""


# -- helpers ---------------------------------------------------------------------------------


class _NetworkBlocked(ConnectionRefusedError):
    """Raised instead of opening a network connection while a check runs."""


class _NetworkGuard:
    """Within ``with``: ``socket.socket.connect``/``connect_ex``, ``socket.create_connection``
    and ``socket.getaddrinfo`` raise :class:`_NetworkBlocked`, and every attempt is
    recorded (so an attempt the metric catches is still seen). Unix sockets are allowed."""

    _PATCHED = (("socket", "connect"), ("socket", "connect_ex"), (None, "create_connection"), (None, "getaddrinfo"))

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._saved: list[tuple[object, str, Any]] = []

    def __enter__(self) -> _NetworkGuard:
        for owner_name, attribute in self._PATCHED:
            owner: object = socket.socket if owner_name else socket
            original = getattr(owner, attribute)
            self._saved.append((owner, attribute, original))
            setattr(owner, attribute, self._blocker(attribute, original, method=owner_name is not None))
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, attribute, original in reversed(self._saved):
            setattr(owner, attribute, original)
        self._saved.clear()

    def _blocker(self, attribute: str, original: Any, *, method: bool) -> Callable[..., Any]:
        def blocked(*args: Any, **kwargs: Any) -> Any:
            if method and getattr(args[0], "family", None) == getattr(socket, "AF_UNIX", object()):
                return original(*args, **kwargs)
            shown = [repr(a) for a in (args[1:] if method else args)] + [f"{k}={v!r}" for k, v in kwargs.items()]
            call = f"socket.{'socket.' if method else ''}{attribute}({', '.join(shown)})"
            self.attempts.append(call)
            raise _NetworkBlocked(f"network access is blocked while aibench checks run: {call}")

        return blocked


def _same(a: Mapping[str, float], b: Mapping[str, float], *, exact: bool = False) -> bool:
    if set(a) != set(b):
        return False
    for name, x in a.items():
        y = b[name]
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            continue
        if x != y and (exact or not math.isclose(x, y, rel_tol=_REL_TOL, abs_tol=_ABS_TOL)):
            return False
    return True


def _length(inputs: Mapping[str, Any]) -> int:
    return len(inputs["references"]) if "references" in inputs else len(next(iter(inputs.values())))


def _metric_id(metric: Any) -> str:
    info = getattr(metric, "info", None)
    return info.id if isinstance(info, ComponentInfo) else repr(metric)


def _params_label(params: Mapping[str, Any]) -> str:
    if not params:
        return ""
    return "(" + ",".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in params.items()) + ")"

