"""Regression metrics equal scikit-learn and scipy, and do not depend on batching or sharding."""

from __future__ import annotations

import math
import pickle
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn import metrics as sk

from aibench_plugins import Kind, PluginHost
from aibench_plugins.default_plugins import regression
from aibench_plugins.default_plugins.regression import CHUNK, StatefulMetric, average_ranks
from aibench_plugins.testing import MetricCheck, parametrize_with_checks

SETTINGS = settings(max_examples=50, deadline=None)


def _scipy(function: Callable[..., object]) -> Callable[[np.ndarray, np.ndarray], float]:
    """scipy's correlation, or None where scipy warns (constant or nearly constant input)."""

    def reference(t: np.ndarray, p: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                return float(function(p, t).statistic)  # type: ignore[attr-defined]
            except (stats.ConstantInputWarning, stats.NearConstantInputWarning, RuntimeWarning):
                return math.nan

    return reference


REFERENCES: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "aibench.mae": sk.mean_absolute_error,
    "aibench.mse": sk.mean_squared_error,
    "aibench.rmse": sk.root_mean_squared_error,
    "aibench.r2": sk.r2_score,
    "aibench.mape": sk.mean_absolute_percentage_error,
    "aibench.pearson": _scipy(stats.pearsonr),
    "aibench.spearman": _scipy(stats.spearmanr),
}
METRICS = {m.info.id: m for m in (regression.mae, regression.mse, regression.rmse, regression.r2, regression.mape,
                                   regression.pearson, regression.spearman)}
IDS = list(METRICS)


def close(a: float, b: float, *, rel: float = 1e-9, abs_: float = 1e-11) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


# Values with ties and constants (small integers), and general floats.
any_value = st.one_of(st.integers(-5, 5).map(float), st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False))
# Well-conditioned values: multiples of 1/8, so that sharded co-moments agree to 1e-9.
eighths = st.integers(-2000, 2000).map(lambda v: v / 8)


@st.composite
def pairs(draw: st.DrawFn, values: st.SearchStrategy[float] = any_value, min_size: int = 1,
          max_size: int = 60) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(min_size, max_size))
    references = np.array(draw(st.lists(values, min_size=n, max_size=n)))
    predictions = np.array(draw(st.lists(values, min_size=n, max_size=n)))
    if draw(st.booleans()):  # a prediction close to the reference, or equal to it
        predictions = np.where(np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))), references,
                               references + predictions / 100)
    return predictions, references


def check_reference(metric_id: str, predictions: np.ndarray, references: np.ndarray) -> None:
    got = METRICS[metric_id].compute(predictions=predictions, references=references)
    if metric_id in ("aibench.pearson", "aibench.spearman", "aibench.r2") and len(references) < 2:
        assert math.isnan(got)  # scipy raises, scikit-learn warns and returns NaN
        return
    if metric_id == "aibench.r2" and np.all(references == references[0]):
        # scikit-learn's convention, applied to exactly constant references (its rounding may miss them)
        assert got == (1.0 if np.array_equal(predictions, references) else 0.0)
        return
    expected = REFERENCES[metric_id](references, predictions)
    if metric_id in ("aibench.pearson", "aibench.spearman") and math.isnan(expected):
        if np.all(references == references[0]) or np.all(predictions == predictions[0]):
            assert math.isnan(got)
        # else scipy only warned that the input is nearly constant: both results are ill-conditioned
        return
    assert close(got, float(expected)), (metric_id, got, expected)


@SETTINGS
@given(data=pairs())
def test_equals_scikit_learn_and_scipy(data: tuple[np.ndarray, np.ndarray]) -> None:
    for metric_id in IDS:
        check_reference(metric_id, *data)


@SETTINGS
@given(data=pairs(eighths), cuts=st.lists(st.floats(0, 1), max_size=3))
def test_batches_and_shards_equal_one_pass(data: tuple[np.ndarray, np.ndarray], cuts: list[float]) -> None:
    predictions, references = data
    bounds = [0, *sorted(round(c * len(references)) for c in cuts), len(references)]
    parts = [slice(a, b) for a, b in zip(bounds, bounds[1:])]
    for metric_id, metric in METRICS.items():
        whole = metric()
        whole.update(predictions=predictions, references=references)
        batched = metric()
        shards = []
        for part in parts:
            batched.update(predictions=predictions[part], references=references[part])
            shard = metric()
            shard.update(predictions=predictions[part], references=references[part])
            shards.append(shard)
        merged = shards[-1]  # merge in reverse order: the order of shards does not matter
        for shard in reversed(shards[:-1]):
            merged.merge(shard)
        expected = whole.compute()[metric_id]
        assert close(batched.compute()[metric_id], expected), metric_id
        assert close(merged.compute()[metric_id], expected), metric_id


BEST = {"aibench.mae": 0.0, "aibench.mse": 0.0, "aibench.rmse": 0.0, "aibench.mape": 0.0, "aibench.r2": 1.0,
        "aibench.pearson": 1.0, "aibench.spearman": 1.0}


@SETTINGS
@given(data=pairs(min_size=2), cuts=st.lists(st.integers(0, 60), max_size=2))
def test_perfect_predictions_reach_the_declared_bound(data: tuple[np.ndarray, np.ndarray], cuts: list[int]) -> None:
    _, references = data
    assume(not np.all(references == references[0]))  # correlations are NaN on constant input
    bounds = [0, *sorted(min(c, len(references)) for c in cuts), len(references)]
    for metric_id, metric in METRICS.items():
        info = metric.info
        assert info.bounds is not None
        best = info.bounds[1] if info.direction == "maximize" else info.bounds[0]
        assert BEST[metric_id] == best
        state = metric()
        for a, b in zip(bounds, bounds[1:]):
            state.update(predictions=references[a:b].copy(), references=references[a:b])
        assert state.compute()[metric_id] == best, metric_id  # exactly, also after batching


@pytest.mark.parametrize("metric_id", IDS)
def test_many_chunks_equal_references(metric_id: str) -> None:
    """Inputs longer than a chunk are combined chunk by chunk (Chan's formula for co-moments)."""
    rng = np.random.default_rng(7)
    references = 1000 + rng.normal(size=3 * CHUNK + 17)
    predictions = 0.5 * references + rng.normal(size=references.size)
    got = METRICS[metric_id].compute(predictions=predictions, references=references)
    assert close(got, float(REFERENCES[metric_id](references, predictions)))


def test_constant_references_follow_scikit_learn() -> None:
    constant = np.full(5, 3.0)
    assert regression.r2.compute(predictions=constant, references=constant) == 1.0
    assert regression.r2.compute(predictions=constant + 1, references=constant) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert sk.r2_score(constant, constant + 1) == 0.0 and sk.r2_score(constant, constant) == 1.0
    # [0.1, 0.1, 0.1] is constant although its mean rounds to 0.10000000000000002: the convention holds
    tenths = np.full(3, 0.1)
    assert regression.r2.compute(predictions=tenths + 1, references=tenths) == 0.0
    assert math.isnan(regression.pearson.compute(predictions=[1.0, 2.0, 3.0], references=constant[:3]))
    assert math.isnan(regression.spearman.compute(predictions=constant[:3], references=[1.0, 2.0, 3.0]))


def test_constant_references_across_shards() -> None:
    """Constant in each shard but not overall is not constant; constant everywhere is."""
    metric = regression.r2
    a, b = metric(), metric()
    a.update(predictions=[1.0, 2.0], references=[1.0, 1.0])
    b.update(predictions=[2.0, 2.5], references=[2.0, 2.0])
    a.merge(b)
    assert a.compute()["aibench.r2"] == pytest.approx(sk.r2_score([1, 1, 2, 2], [1, 2, 2, 2.5]), rel=1e-12)
    c, d = metric(), metric()
    c.update(predictions=[1.0], references=[4.0])
    d.update(predictions=[4.0], references=[4.0])
    c.merge(d)
    assert c.compute()["aibench.r2"] == 0.0


def test_one_sample() -> None:
    assert regression.mae.compute(predictions=[2.0], references=[3.5]) == 1.5
    assert regression.rmse.compute(predictions=[2.0], references=[3.5]) == 1.5
    for metric in (regression.r2, regression.pearson, regression.spearman):
        assert math.isnan(metric.compute(predictions=[2.0], references=[3.5]))


def test_mape_uses_scikit_learns_epsilon() -> None:
    got = regression.mape.compute(predictions=[1.0, 2.0], references=[0.0, 2.0])
    assert got == sk.mean_absolute_percentage_error([0.0, 2.0], [1.0, 2.0]) == 0.5 / np.finfo(float).eps


def test_spearman_ties_get_average_ranks() -> None:
    assert average_ranks([3.0, 1.0, 3.0, 2.0, 3.0]).tolist() == [4.0, 1.0, 4.0, 2.0, 4.0]
    p, r = [1.0, 1.0, 2.0, 3.0, 3.0, 3.0], [0.5, 0.7, 0.7, 0.1, 0.9, 0.9]
    assert regression.spearman.compute(predictions=p, references=r) == pytest.approx(
        stats.spearmanr(p, r).statistic, rel=1e-12)


def test_non_finite_input_is_rejected_and_leaves_the_state_unchanged() -> None:
    for metric in METRICS.values():
        state = metric()
        state.update(predictions=[1.0, 2.0, 4.0], references=[1.0, 3.0, 3.0])
        before = state.compute()
        with pytest.raises(ValueError, match=r"references hold 1 NaN or infinite value\(s\), the first at index 1"):
            state.update(predictions=[1.0, 2.0], references=[1.0, math.inf])
        assert state.compute() == before


def test_input_shapes() -> None:
    column = np.arange(4.0).reshape(4, 1)
    assert regression.mae.compute(predictions=column, references=column + 1) == 1.0
    with pytest.raises(ValueError, match=r"expected one value per sample, shape \(n,\); got shape \(2, 2\)"):
        regression.mae.compute(predictions=np.ones((2, 2)), references=np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"predictions have shape \(2,\) but references have shape \(3,\)"):
        regression.pearson.compute(predictions=[1, 2], references=[1, 2, 3])
    with pytest.raises(ValueError, match="predictions must be numbers"):
        regression.mse.compute(predictions=["a"], references=[1.0])


def test_state_protocol_errors() -> None:
    with pytest.raises(ValueError, match="compute\\(\\) before any sample"):
        regression.r2().compute()
    state = regression.r2()
    state.update(predictions=[], references=[])
    with pytest.raises(ValueError, match="compute\\(\\) before any sample"):
        state.compute()
    with pytest.raises(TypeError, match="update\\(\\) missing input 'references'"):
        state.update(predictions=[1.0])
    with pytest.raises(TypeError, match="unexpected input 'weights'"):
        state.update(predictions=[1.0], references=[1.0], weights=[1.0])
    with pytest.raises(ValueError, match="invalid params .*'k' was unexpected"):
        regression.mae(k=3)
    with pytest.raises(TypeError, match="cannot merge a MSEState into a MAEState"):
        regression.mae().merge(regression.mse())


def test_reset_and_pickle() -> None:
    state = regression.pearson()
    state.update(predictions=[1.0, 2.0, 4.0], references=[1.0, 3.0, 3.0])
    copy = pickle.loads(pickle.dumps(state))
    assert copy.compute() == state.compute()
    assert pickle.loads(pickle.dumps(regression.pearson)).compute(predictions=[1, 2, 4], references=[1, 3, 3]) \
        == state.compute()["aibench.pearson"]
    state.reset()
    with pytest.raises(ValueError):
        state.compute()


def test_infos_and_registration() -> None:
    host = PluginHost(strict=True)
    record = host.register_plugin(regression, "aibench.regression")
    assert record.status == "loaded"
    assert record.provides["metric"] == sorted(IDS)
    for metric_id in IDS:
        metric = host.registry(Kind.METRIC).get(metric_id).component
        assert isinstance(metric, StatefulMetric)
        info = metric.info
        assert info.description and info.direction in ("maximize", "minimize") and info.bounds is not None
        assert info.params_schema["additionalProperties"] is False
        assert {spec.kind for spec in info.inputs.values()} == {"value"}
        assert type(info).from_json(info.to_json()) == info


@parametrize_with_checks(list(METRICS.values()))
def test_plugin_kit_conformance(metric: StatefulMetric, check: MetricCheck) -> None:
    check(metric)
