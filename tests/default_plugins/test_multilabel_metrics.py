"""Multi-label metrics equal scikit-learn on indicator matrices and on label sets, and do not
depend on batching or sharding."""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk
from sklearn.preprocessing import MultiLabelBinarizer

from aibench_plugins import Kind, PluginHost
from aibench_plugins.default_plugins import multilabel
from aibench_plugins.testing import MetricCheck, parametrize_with_checks

SETTINGS = settings(max_examples=50, deadline=None)
AVERAGES = {"aibench.multilabel_f1": ["macro", "micro", "samples", "weighted"],
            "aibench.jaccard": ["samples", "macro", "micro", "weighted"]}
METRICS = {m.info.id: m for m in (multilabel.multilabel_f1, multilabel.jaccard, multilabel.hamming_loss,
                                   multilabel.subset_accuracy)}
CONFIGS = [(metric_id, {"average": average, "zero_division": zd})
           for metric_id, averages in AVERAGES.items() for average in averages for zd in ("skip", 0, 1)]
CONFIGS += [("aibench.hamming_loss", {}), ("aibench.subset_accuracy", {})]


def close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def _skipped(scores: np.ndarray, undefined: np.ndarray, weights: np.ndarray | None = None) -> float:
    """An average leaving out the undefined (0/0) entries, as sklearn's zero_division=np.nan."""
    kept = ~undefined
    if not kept.any():
        return math.nan
    w = None if weights is None else weights[kept]
    return float(np.average(scores[kept], weights=None if w is None or w.sum() == 0 else w))


def reference(metric_id: str, t: np.ndarray, p: np.ndarray, average: str = "macro",
              zero_division: int | str = 0) -> float:
    """scikit-learn's score; jaccard_score has no zero_division=np.nan, so its "skip" is
    built from scikit-learn's per-label scores (per-sample ones: from the definition)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined scores warn
        if metric_id == "aibench.hamming_loss":
            return float(sk.hamming_loss(t, p)) if t.shape[1] else 0.0
        if metric_id == "aibench.subset_accuracy":
            return float(sk.accuracy_score(t, p))
        if metric_id == "aibench.multilabel_f1":
            zd = np.nan if zero_division == "skip" else zero_division
            return float(sk.f1_score(t, p, average=average, zero_division=zd))
        if zero_division != "skip":
            return float(sk.jaccard_score(t, p, average=average, zero_division=zero_division))
        if average == "samples":  # |T ∩ P| / |T ∪ P| per sample
            union = (t | p).sum(axis=1)
            return _skipped((t & p).sum(axis=1) / np.maximum(union, 1), union == 0)
        if average == "micro":
            return math.nan if not (t | p).any() else float(sk.jaccard_score(t, p, average="micro"))
        per_label = sk.jaccard_score(t, p, average=None, zero_division=0)
        weights = t.sum(axis=0) if average == "weighted" else None
        return _skipped(per_label, (t | p).sum(axis=0) == 0, weights)


@st.composite
def matrices(draw: st.DrawFn, max_n: int = 25, min_k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(predictions, references) indicator matrices, with empty rows and absent labels likely."""
    n, k = draw(st.integers(1, max_n)), draw(st.integers(min_k, 5))
    density = draw(st.sampled_from([0.0, 0.2, 0.5, 0.9]))
    cells = st.lists(st.floats(0, 1).map(lambda u: u < density), min_size=n * k, max_size=n * k)
    t = np.array(draw(cells), dtype=bool).reshape(n, k)
    p = np.array(draw(cells), dtype=bool).reshape(n, k)
    if draw(st.booleans()):  # often right
        keep = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        p[keep] = t[keep]
    return p.astype(np.int64), t.astype(np.int64)


def as_sets(matrix: np.ndarray) -> list[set[str]]:
    return [{f"label{j}" for j in np.flatnonzero(row)} for row in matrix]


def run(metric_id: str, params: dict, batches: list[tuple[object, object]]) -> float:
    state = METRICS[metric_id](**params)
    for p, t in batches:
        state.update(predictions=p, references=t)
    return state.compute()[metric_id]


@settings(max_examples=30, deadline=None)  # 26 scikit-learn calls per example
@given(data=matrices(min_k=2))  # scikit-learn reads one column as binary, not multi-label
def test_indicator_matrices_equal_scikit_learn(data: tuple[np.ndarray, np.ndarray]) -> None:
    p, t = data
    for metric_id, params in CONFIGS:
        got = run(metric_id, params, [(p, t)])
        expected = reference(metric_id, t.astype(bool), p.astype(bool), **params)
        assert close(got, expected), (metric_id, params, got, expected)


@SETTINGS
@given(data=matrices())
def test_label_sets_equal_their_indicator_matrix(data: tuple[np.ndarray, np.ndarray]) -> None:
    """Label sets are binarised over the labels seen in either input, as scikit-learn's
    MultiLabelBinarizer (whose matrices the test above compares with scikit-learn)."""
    p_sets, t_sets = as_sets(data[0]), as_sets(data[1])
    binarizer = MultiLabelBinarizer().fit(p_sets + t_sets)
    p, t = binarizer.transform(p_sets), binarizer.transform(t_sets)
    for metric_id, params in CONFIGS:
        got = run(metric_id, params, [(p_sets, t_sets)])
        assert close(got, run(metric_id, params, [(p, t)])), (metric_id, params)


@SETTINGS
@given(data=matrices(), cuts=st.lists(st.floats(0, 1), max_size=3), sets=st.booleans())
def test_batches_and_shards_equal_one_pass(data: tuple[np.ndarray, np.ndarray], cuts: list[float],
                                           sets: bool) -> None:
    """Also with label sets, where each shard numbers the labels it sees in its own order."""
    p, t = data
    n = len(t)
    bounds = [0, *sorted(round(c * n) for c in cuts), n]
    parts = [slice(a, b) for a, b in zip(bounds, bounds[1:])]
    pick = (lambda m, s: as_sets(m[s])) if sets else (lambda m, s: m[s])
    for metric_id, params in CONFIGS:
        whole = run(metric_id, params, [(pick(p, slice(0, n)), pick(t, slice(0, n)))])
        batched = run(metric_id, params, [(pick(p, s), pick(t, s)) for s in parts])
        shards = []
        for s in reversed(parts):
            shard = METRICS[metric_id](**params)
            shard.update(predictions=pick(p, s), references=pick(t, s))
            shards.append(shard)
        for shard in shards[1:]:
            shards[0].merge(shard)
        assert close(batched, whole) and close(shards[0].compute()[metric_id], whole), (metric_id, params)


@SETTINGS
@given(data=matrices())
def test_perfect_predictions_reach_the_bound(data: tuple[np.ndarray, np.ndarray]) -> None:
    """With the default zero_division ("skip"), empty samples and absent labels do not count."""
    _, t = data
    for metric_id, metric in METRICS.items():
        for average in AVERAGES.get(metric_id, [None]):
            params = {"average": average} if average else {}
            got = metric.compute(predictions=t, references=t, **params)
            info = metric.info
            assert info.bounds is not None
            best = info.bounds[1] if info.direction == "maximize" else info.bounds[0]
            if metric_id in AVERAGES and not t.any():
                assert math.isnan(got)  # no label anywhere: every score is 0/0 and left out
            else:
                assert got == best, (metric_id, average)


def test_absent_labels_and_zero_division() -> None:
    t = np.array([[1, 0, 0], [0, 0, 0]])
    p = np.array([[1, 0, 0], [0, 0, 0]])  # label 1 and 2 absent from both; sample 1 empty in both
    f1 = multilabel.multilabel_f1
    assert f1.compute(predictions=p, references=t) == 1.0
    assert f1.compute(predictions=p, references=t, zero_division=0) == pytest.approx(1 / 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert sk.f1_score(t, p, average="macro") == pytest.approx(1 / 3)  # scikit-learn's default is 0
    assert f1.compute(predictions=p, references=t, zero_division=1) == 1.0
    assert f1.compute(predictions=p, references=t, average="samples", zero_division=0) == 0.5
    assert multilabel.jaccard.compute(predictions=p, references=t) == 1.0  # samples, skip
    # a label declared by the labels param but never seen is absent too
    assert f1.compute(predictions=[{"a"}], references=[{"a"}], labels=["a", "b"], zero_division=0) == 0.5
    assert multilabel.hamming_loss.compute(predictions=[{"a"}, set()], references=[set(), set()],
                                           labels=["a", "b"]) == 0.25


def test_no_label_at_all() -> None:
    empty = [set(), set()]
    assert math.isnan(multilabel.multilabel_f1.compute(predictions=empty, references=empty))
    f1 = multilabel.multilabel_f1
    assert f1.compute(predictions=empty, references=empty, average="samples", zero_division=1) == 1.0
    assert f1.compute(predictions=empty, references=empty, average="micro", zero_division=1) == 1.0
    assert math.isnan(f1.compute(predictions=empty, references=empty, zero_division=1))  # macro over no label
    assert multilabel.hamming_loss.compute(predictions=empty, references=empty) == 0.0
    assert multilabel.subset_accuracy.compute(predictions=empty, references=empty) == 1.0


def test_label_forms() -> None:
    sets = [{"cat", "dog"}, set(), ["dog", "dog"], ("bird",)]
    truth = [{"cat"}, {"dog"}, {"dog"}, {"bird", "cat"}]
    columns = ["bird", "cat", "dog"]
    matrix = [[0, 1, 1], [0, 0, 0], [0, 0, 1], [1, 0, 0]]
    truth_matrix = [[0, 1, 0], [0, 0, 1], [0, 0, 1], [1, 1, 0]]
    for metric_id, params in CONFIGS:
        from_sets = run(metric_id, params, [(sets, truth)])
        from_matrix = run(metric_id, {**params, "labels": columns}, [(np.array(matrix), np.array(truth_matrix))])
        from_bools = run(metric_id, params, [(np.array(matrix, dtype=bool), np.array(truth_matrix, dtype=bool))])
        assert close(from_sets, from_matrix) and close(from_sets, from_bools), metric_id
    # numpy integers and Python integers are the same label
    assert multilabel.subset_accuracy.compute(predictions=[np.array([1, 2])], references=[{1, 2}]) == 1.0


def test_input_errors() -> None:
    f1 = multilabel.multilabel_f1
    with pytest.raises(ValueError, match="predictions are label sets but references are an indicator matrix"):
        f1.compute(predictions=[{1}], references=np.array([[1]]))
    with pytest.raises(ValueError, match=r"read as a 0/1 label indicator matrix, but it holds \[2\]"):
        f1.compute(predictions=np.array([[2, 0]]), references=np.array([[1, 0]]))
    with pytest.raises(ValueError, match=r"predictions\[1\] is 'dog'; each sample needs a collection of labels"):
        f1.compute(predictions=[{"cat"}, "dog"], references=[{"cat"}, {"dog"}])
    with pytest.raises(ValueError, match="label 'fish' is not in the labels param"):
        f1.compute(predictions=[{"fish"}], references=[{"cat"}], labels=["cat", "dog"])
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        f1.compute(predictions=[{1}, {2}], references=[{1}])
    with pytest.raises(ValueError, match="the indicator matrices have 2 columns but the labels param lists 3"):
        f1.compute(predictions=np.eye(2), references=np.eye(2), labels=[1, 2, 3])
    state = f1()
    state.update(predictions=np.eye(2), references=np.eye(2))
    with pytest.raises(ValueError, match="this batch has 3 label columns but earlier batches had 2"):
        state.update(predictions=np.eye(3), references=np.eye(3))
    with pytest.raises(ValueError, match="this batch holds label sets but earlier batches held an indicator matrix"):
        state.update(predictions=[{0}], references=[{0}])
    other = f1()
    other.update(predictions=[{0}], references=[{0}])
    with pytest.raises(ValueError, match="cannot merge a state of label sets into one of an indicator matrix"):
        state.merge(other)
    with pytest.raises(ValueError, match="cannot merge states with different params"):
        f1(average="micro").merge(f1())
    with pytest.raises(ValueError, match="compute\\(\\) before any sample"):
        f1().compute()
    with pytest.raises(ValueError, match="invalid params"):
        f1(average="binary")


def test_a_failed_batch_leaves_the_state_unchanged() -> None:
    state = multilabel.multilabel_f1()
    state.update(predictions=[{"a"}], references=[{"a", "b"}])
    before = state.compute()
    with pytest.raises(ValueError):
        state.update(predictions=[{"c"}, "d"], references=[{"c"}, {"d"}])
    assert state.compute() == before and set(state.index) == {"a", "b"}


def test_pickle() -> None:
    state = multilabel.jaccard(average="macro")
    state.update(predictions=[{"a"}, {"b"}], references=[{"a", "b"}, {"b"}])
    assert pickle.loads(pickle.dumps(state)).compute() == state.compute()


def test_infos_and_registration() -> None:
    host = PluginHost(strict=True)
    record = host.register_plugin(multilabel, "aibench.multilabel")
    assert record.status == "loaded" and record.provides["metric"] == sorted(METRICS)
    for metric_id in METRICS:
        info = host.registry(Kind.METRIC).get(metric_id).component.info
        assert info.description and info.bounds == (0.0, 1.0)
        assert info.params_schema["additionalProperties"] is False
        assert {spec.kind for spec in info.inputs.values()} == {"labels"}
        assert type(info).from_json(info.to_json()) == info


@parametrize_with_checks([*METRICS.values(), (multilabel.multilabel_f1, {"average": "samples"}),
                          (multilabel.multilabel_f1, {"average": "micro", "zero_division": 0}),
                          (multilabel.jaccard, {"average": "weighted", "zero_division": 1})])
def test_plugin_kit_conformance(metric: object, check: MetricCheck) -> None:
    check(metric)
