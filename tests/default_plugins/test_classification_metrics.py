"""The built-in classification metrics equal scikit-learn's on random data (ties, one
class, classes only predicted or absent, all wrong, perfect), whatever the batches and
shards the data comes in; one confusion matrix gives every confusion-matrix metric."""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from aibench_plugins import Kind, PluginHost
from aibench_plugins.default_plugins import classification as clf

CONFUSION_IDS = [m.info.id for m in clf.CONFUSION_METRICS]
SCORE_IDS = [m.info.id for m in clf.SCORE_METRICS]
METRICS = {m.info.id: m for m in (*clf.CONFUSION_METRICS, *clf.SCORE_METRICS)}
POOLS = {"ints": [0, 1, 2, 3, 4, 5, 6],  # class ids in [0, 256): the fast path
         "signed": [-1, 1, -7, 3, 2, 0, 5],  # ints in a narrow range: the shifted path
         "wide": [10**12, 0, -(10**12), 7, 1, 2, 3],  # ints in a wide range: the sorting path
         "strings": ["ant", "bee", "cat", "dog", "elk", "fox", "gnu"]}
ABSENT = {"ints": 99, "signed": 99, "wide": 99, "strings": "zzz"}  # a label no sample has
CASES = ["random", "noisy", "perfect", "all-wrong", "only-predicted"]
EXAMPLES = settings(max_examples=50, deadline=None)


def ignoring_warnings(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """scikit-learn warns about zero division and absent labels; pytest makes warnings errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def assert_same_scores(got: dict[str, float], expected: dict[str, float]) -> None:
    assert list(got) == list(expected)
    for name in expected:
        assert got[name] == pytest.approx(expected[name], abs=1e-12, rel=0), name


# --------------------------------------------------------------------------- data


@st.composite
def labelled(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, str]:
    """(references, predictions, pool) over one to five classes."""
    pool = draw(st.sampled_from(sorted(POOLS)))
    classes = POOLS[pool][: draw(st.integers(1, 5))]
    n = draw(st.integers(1, 40))
    truth = draw(st.lists(st.sampled_from(classes), min_size=n, max_size=n))
    case = draw(st.sampled_from(CASES))
    if case == "perfect":
        predicted = list(truth)
    elif case == "all-wrong":
        predicted = [POOLS[pool][(POOLS[pool].index(t) + 1) % 6] for t in truth]
    elif case in ("noisy", "only-predicted"):  # mostly right; only-predicted errs to a label no reference has
        wrong = POOLS[pool][6] if case == "only-predicted" else None
        flips = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        others = draw(st.lists(st.sampled_from(classes), min_size=n, max_size=n))
        predicted = [(wrong if wrong is not None else o) if f else t for t, f, o in zip(truth, flips, others)]
    else:
        predicted = draw(st.lists(st.sampled_from(classes), min_size=n, max_size=n))
    return np.array(truth), np.array(predicted), pool


def draw_params(draw: st.DrawFn, metric_id: str, truth: np.ndarray, predicted: np.ndarray, pool: str) -> dict[str, Any]:
    """Random params of a confusion-matrix metric, with a labels param that may hold a
    class no sample has, or leave out classes some samples have."""
    properties = METRICS[metric_id].info.params_schema["properties"]
    params: dict[str, Any] = {}
    if "average" in properties:
        params["average"] = draw(st.sampled_from(["macro", "micro", "weighted"]))
        params["per_class"] = draw(st.booleans())
    if "weights" in properties:
        params["weights"] = draw(st.sampled_from([None, "linear", "quadratic"]))
    if "labels" in properties and draw(st.booleans()):
        candidates = sorted({*truth.tolist(), *predicted.tolist(), ABSENT[pool]})
        params["labels"] = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=len(candidates),
                                         unique=True))
    return params


def sklearn_confusion_scores(metric_id: str, truth: np.ndarray, predicted: np.ndarray,
                             params: dict[str, Any]) -> dict[str, float]:
    if metric_id == "aibench.accuracy":
        return {metric_id: sk.accuracy_score(truth, predicted)}
    if metric_id == "aibench.balanced_accuracy":
        return {metric_id: ignoring_warnings(sk.balanced_accuracy_score, truth, predicted)}
    if metric_id == "aibench.mcc":
        return {metric_id: ignoring_warnings(sk.matthews_corrcoef, truth, predicted)}
    labels = params.get("labels")
    if metric_id == "aibench.cohen_kappa":
        try:
            kappa = ignoring_warnings(sk.cohen_kappa_score, truth, predicted, labels=labels,
                                      weights=params.get("weights"))
        except ValueError:  # scikit-learn wants a label of `labels` among the references
            assume(False)
        return {metric_id: 0.0 if np.isnan(kappa) else kappa}  # undefined: 0 here, NaN there
    function = {"aibench.precision": sk.precision_score, "aibench.recall": sk.recall_score,
                "aibench.f1": sk.f1_score}[metric_id]
    scores = {metric_id: ignoring_warnings(function, truth, predicted, average=params.get("average", "macro"),
                                           labels=labels, zero_division=0)}
    if params.get("per_class"):
        per_class = ignoring_warnings(function, truth, predicted, average=None, labels=labels, zero_division=0)
        names = labels if labels is not None else sorted({*truth.tolist(), *predicted.tolist()})
        scores.update({f"{metric_id}_{clf.class_key(name)}": value for name, value in zip(names, per_class)})
    return scores


def split(data: st.DataObject, n: int, parts: int) -> list[slice]:
    """``parts`` consecutive slices covering range(n); some may be empty."""
    cuts = sorted(data.draw(st.lists(st.integers(0, n), min_size=parts - 1, max_size=parts - 1)))
    bounds = [0, *cuts, n]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:])]


# --------------------------------------------------------------------------- confusion-matrix metrics


@pytest.mark.parametrize("metric_id", CONFUSION_IDS)
@EXAMPLES
@given(data=st.data())
def test_confusion_metric_equals_scikit_learn(metric_id: str, data: st.DataObject) -> None:
    truth, predicted, pool = data.draw(labelled())
    params = draw_params(data.draw, metric_id, truth, predicted, pool)
    expected = sklearn_confusion_scores(metric_id, truth, predicted, params)
    state = METRICS[metric_id](**params)
    state.update(predictions=predicted, references=truth)
    assert_same_scores(dict(state.compute()), expected)
    assert METRICS[metric_id].compute(predictions=predicted, references=truth, **params) == state.compute()[metric_id]


@EXAMPLES
@given(data=st.data())
def test_confusion_metrics_ignore_batches_and_shards(data: st.DataObject) -> None:
    """Labels first seen in a later batch or shard grow the matrix; the scores do not move."""
    truth, predicted, pool = data.draw(labelled())
    order = data.draw(st.sampled_from(["as drawn", "by label"]))  # by label: each batch brings new labels
    if order == "by label":
        at = np.argsort(truth, kind="stable")
        truth, predicted = truth[at], predicted[at]
    for metric in clf.CONFUSION_METRICS:
        params = draw_params(data.draw, metric.info.id, truth, predicted, pool)
        whole = metric(**params)
        whole.update(predictions=predicted, references=truth)
        expected = dict(whole.compute())

        batched = metric(**params)
        for part in split(data, len(truth), data.draw(st.integers(1, 5))):
            batched.update(predictions=predicted[part], references=truth[part])
        assert_same_scores(dict(batched.compute()), expected)

        shards = []
        for part in split(data, len(truth), data.draw(st.integers(1, 4))):
            shard = metric(**params)
            for piece in split(data, part.stop - part.start, 2):
                shard.update(predictions=predicted[part][piece], references=truth[part][piece])
            shards.append(shard)
        merged = metric(**params)
        for shard in shards:
            merged.merge(shard)
        assert_same_scores(dict(merged.compute()), expected)


@EXAMPLES
@given(data=st.data())
def test_one_confusion_matrix_gives_every_metric(data: st.DataObject) -> None:
    truth, predicted, pool = data.draw(labelled())
    matrix, labels = clf.confusion_matrix(predicted, truth)
    # a matrix shared with metrics whose labels params name other classes holds zero rows for them
    padded, padded_labels = clf.confusion_matrix(predicted, truth, labels=[ABSENT[pool]])
    assert padded.sum() == matrix.sum() == len(truth) and len(padded_labels) == len(labels) + 1
    defaults = {}
    for metric in clf.CONFUSION_METRICS:
        params = draw_params(data.draw, metric.info.id, truth, predicted, pool)
        state = metric(**params)
        state.update(predictions=predicted, references=truth)
        expected = dict(state.compute())
        assert_same_scores(dict(metric.from_confusion(matrix, labels, **params)), expected)
        assert_same_scores(dict(metric.from_confusion(padded, padded_labels, **params)), expected)
        assert_same_scores(dict(metric.from_confusion(state.confusion.matrix, state.confusion.labels, **params)),
                           expected)
        defaults.update(metric.from_confusion(matrix, labels))
    assert_same_scores(clf.confusion_scores(matrix, labels), defaults)


def test_confusion_matrix_layout() -> None:
    matrix, labels = clf.confusion_matrix(["cat", "dog", "dog"], ["cat", "cat", "dog"], labels=["eel"])
    assert labels.tolist() == ["cat", "dog", "eel"]
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]  # rows: references, columns: predictions


@pytest.mark.parametrize(
    ("truth", "predicted"),
    [([-5, 10**9, 7, 7], [7, 10**9, -5, 3]),  # a wide range of ints: the general (sort) path
     ([-1, 1, 1, -1], [1, 1, -1, -1]),  # the shifted path
     ([2000, 2003, 2001, 2003], [2003, 2003, 2000, 2001]),
     (np.array([True, False, True]), np.array([True, True, False])),
     (np.array([1, 2, 3], dtype=np.uint8), np.array([3, 2, 1], dtype=np.int16))],
    ids=["wide-ints", "minus-one-one", "years", "bools", "mixed-int-dtypes"],
)
def test_unusual_integer_labels(truth: list[Any], predicted: list[Any]) -> None:
    for metric_id, params in [("aibench.accuracy", {}), ("aibench.mcc", {}), ("aibench.cohen_kappa", {}),
                              ("aibench.f1", {"average": "macro", "per_class": True})]:
        got = METRICS[metric_id](**params)
        got.update(predictions=predicted[:2], references=truth[:2])
        got.update(predictions=predicted[2:], references=truth[2:])
        expected = sklearn_confusion_scores(metric_id, np.asarray(truth), np.asarray(predicted), params)
        assert_same_scores(dict(got.compute()), expected)


def test_per_class_outputs_fit_column_keys() -> None:
    state = clf.precision(per_class=True)
    state.update(predictions=["cat", "New York", "cat"], references=["cat", "cat", "New York"])
    assert list(state.compute()) == ["aibench.precision", "aibench.precision_New_York_815eca",
                                     "aibench.precision_cat"]
    assert clf.class_key(3) == "3" and clf.class_key(np.int64(-1)) == clf.class_key(-1) != clf.class_key("_1")
    assert clf.class_key("a b") != clf.class_key("a_b") == "a_b"


# --------------------------------------------------------------------------- score metrics


@st.composite
def scored(draw: st.DrawFn, max_classes: int = 5) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """(references, probabilities (n, k), classes), every class among the references,
    scores with many ties (small integer weights, normalised)."""
    pool = POOLS[draw(st.sampled_from(sorted(POOLS)))]
    k = draw(st.integers(2, max_classes))
    classes = sorted(pool[:k])
    n = draw(st.integers(k, 40))
    truth = draw(st.permutations(classes + draw(st.lists(st.sampled_from(classes), min_size=n - k,
                                                         max_size=n - k))))
    codes = np.array([classes.index(t) for t in truth])
    case = draw(st.sampled_from(["random", "random", "perfect", "all-wrong"]))
    if case == "random":
        weights = np.array(draw(st.lists(st.lists(st.integers(0, 3), min_size=k, max_size=k),
                                         min_size=n, max_size=n)), dtype=float)
        weights[weights.sum(axis=1) == 0] = 1
    else:
        weights = np.eye(k)[codes if case == "perfect" else (codes + 1) % k]
    return np.array(truth), weights / weights.sum(axis=1, keepdims=True), classes


def sklearn_score(metric_id: str, truth: np.ndarray, scores: np.ndarray, classes: list[Any],
                  params: dict[str, Any]) -> float:
    k = len(classes)
    positive = truth == classes[-1]
    if metric_id == "aibench.roc_auc":
        if k == 2:
            return ignoring_warnings(sk.roc_auc_score, positive, scores[:, -1])
        return ignoring_warnings(sk.roc_auc_score, truth, scores, multi_class="ovr", labels=classes, **params)
    if metric_id == "aibench.average_precision":
        if k == 2:
            return ignoring_warnings(sk.average_precision_score, positive, scores[:, -1])
        return ignoring_warnings(sk.average_precision_score, truth, scores, **params)
    if metric_id == "aibench.log_loss":
        return ignoring_warnings(sk.log_loss, truth, scores, labels=classes)
    return ignoring_warnings(sk.top_k_accuracy_score, truth, scores, labels=classes, **params)


SCORE_PARAMS = [("aibench.roc_auc", {"average": "macro"}), ("aibench.roc_auc", {"average": "weighted"}),
                ("aibench.average_precision", {"average": "macro"}),
                ("aibench.average_precision", {"average": "weighted"}), ("aibench.log_loss", {}),
                ("aibench.top_k_accuracy", {"k": 1}), ("aibench.top_k_accuracy", {"k": 2}),
                ("aibench.top_k_accuracy", {"k": 3})]


@pytest.mark.parametrize(("metric_id", "params"), SCORE_PARAMS,
                         ids=[f"{i.split('.')[1]}-{next(iter(p.values()), '')}" for i, p in SCORE_PARAMS])
@EXAMPLES
@given(data=scored())
def test_score_metric_equals_scikit_learn(metric_id: str, params: dict[str, Any],
                                          data: tuple[np.ndarray, np.ndarray, list[Any]]) -> None:
    truth, scores, classes = data
    if metric_id == "aibench.top_k_accuracy" and len(classes) == 2:  # scikit-learn takes one column then
        scores = scores[:, 1]
        expected = ignoring_warnings(sk.top_k_accuracy_score, truth, scores, labels=classes, **params)
    else:
        expected = sklearn_score(metric_id, truth, scores, classes, params)
    got = METRICS[metric_id].compute(predictions=scores, references=truth, **params)
    assert got == pytest.approx(expected, abs=1e-12, rel=0)


@pytest.mark.parametrize("metric_id", ["aibench.roc_auc", "aibench.average_precision", "aibench.log_loss"])
@EXAMPLES
@given(data=scored(max_classes=2))
def test_two_classes_as_one_score_column(metric_id: str, data: tuple[np.ndarray, np.ndarray, list[Any]]) -> None:
    truth, scores, classes = data
    column = np.round(scores[:, 1], 1)  # more ties
    positive = truth == classes[1]
    expected = {"aibench.roc_auc": lambda: sk.roc_auc_score(positive, column),
                "aibench.average_precision": lambda: sk.average_precision_score(positive, column),
                "aibench.log_loss": lambda: sk.log_loss(truth, column, labels=classes)}[metric_id]
    got = METRICS[metric_id].compute(predictions=column, references=truth, classes=classes)
    assert got == pytest.approx(ignoring_warnings(expected), abs=1e-12, rel=0)
    assert METRICS[metric_id].compute(predictions=np.c_[1 - column, column], references=truth) == \
        pytest.approx(got, abs=1e-12, rel=0)


@pytest.mark.parametrize(("metric_id", "params"), SCORE_PARAMS,
                         ids=[f"{i.split('.')[1]}-{next(iter(p.values()), '')}" for i, p in SCORE_PARAMS])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_score_metrics_ignore_batches_and_shards(metric_id: str, params: dict[str, Any], data: st.DataObject) -> None:
    truth, scores, classes = data.draw(scored())
    metric = METRICS[metric_id]
    expected = dict(metric.from_scores(scores, truth, **params))
    batched = metric(**params)
    for part in split(data, len(truth), data.draw(st.integers(1, 5))):
        batched.update(predictions=scores[part], references=truth[part], classes=classes)  # the reader's order
    assert dict(batched.compute()) == expected
    merged = metric(**params, classes=classes)
    for part in split(data, len(truth), data.draw(st.integers(1, 4))):
        shard = metric(**params, classes=classes)
        shard.update(predictions=scores[part], references=truth[part])
        merged.merge(shard)
    assert dict(merged.compute()) == expected


def test_columns_follow_the_classes_param() -> None:
    truth = np.array(["b", "a", "c", "a"])
    scores = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.5, 0.1, 0.4]])
    shuffled = [2, 0, 1]  # columns in the order c, a, b
    for metric in clf.SCORE_METRICS:
        assert metric.compute(predictions=scores[:, shuffled], references=truth, classes=["c", "a", "b"]) == \
            pytest.approx(metric.compute(predictions=scores, references=truth), abs=1e-15)


def test_classes_default_to_column_index_for_integer_references() -> None:
    """References without class 2 still score predictions with three columns."""
    truth = np.array([0, 1, 0, 1])
    scores = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4], [0.1, 0.2, 0.7]])
    assert clf.top_k_accuracy.compute(predictions=scores, references=truth, k=1) == 0.5
    assert clf.roc_auc.compute(predictions=scores, references=truth) == pytest.approx(
        np.mean([sk.roc_auc_score(truth == j, scores[:, j]) for j in (0, 1)]))  # class 2: no positive, left out


# --------------------------------------------------------------------------- every metric


@pytest.fixture(scope="module")
def host() -> PluginHost:
    h = PluginHost(strict=True)
    h.load_builtins()
    return h


def test_every_metric_is_registered_with_documented_params(host: PluginHost) -> None:
    registered = {r.component.info.id: r.component for r in host.registry(Kind.METRIC)}
    assert set(METRICS) <= set(registered)
    for metric_id, metric in METRICS.items():
        info = registered[metric_id].info
        assert registered[metric_id] is metric and info.description and info.direction and info.bounds
        assert info.params_schema["additionalProperties"] is False
        for name, spec in info.params_schema["properties"].items():
            assert "default" in spec and spec.get("description"), (metric_id, name)


@pytest.mark.parametrize("metric_id", CONFUSION_IDS + SCORE_IDS)
def test_perfect_predictions_reach_the_bound(metric_id: str) -> None:
    truth = np.array(["a", "b", "c", "a", "b", "c", "c"])
    metric = METRICS[metric_id]
    low, high = metric.info.bounds  # type: ignore[misc]
    best = high if metric.info.direction == "maximize" else low
    if metric_id in CONFUSION_IDS:
        predictions: Any = truth
    else:
        predictions = np.eye(3)[np.searchsorted(["a", "b", "c"], truth)]
    assert metric.compute(predictions=predictions, references=truth) == pytest.approx(best, abs=1e-12)


@pytest.mark.parametrize("metric_id", CONFUSION_IDS + SCORE_IDS)
def test_states_pickle(metric_id: str) -> None:
    metric = METRICS[metric_id]
    state = metric()
    if metric_id in CONFUSION_IDS:
        state.update(predictions=[1, 2, 2], references=[1, 2, 1])
    else:
        state.update(predictions=[[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]], references=[1, 0, 1])
    assert pickle.loads(pickle.dumps(state)).compute() == state.compute()
    assert pickle.loads(pickle.dumps(metric)).info == metric.info


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="mix numbers and strings"):
        clf.accuracy.compute(predictions=["1", "2"], references=[1, 2])
    state = clf.f1()
    state.update(predictions=[1, 2], references=[1, 2])
    with pytest.raises(ValueError, match="batches mix numbers and strings"):
        state.update(predictions=["a"], references=["a"])
    with pytest.raises(ValueError, match=r"predictions have shape \(2,\) but references have shape \(3,\)"):
        clf.mcc.compute(predictions=[1, 2], references=[1, 2, 3])
    with pytest.raises(ValueError, match=r"one label per sample.*predictions have shape \(1, 2\).*not per-class scores"):
        clf.accuracy.compute(predictions=[[0.1, 0.9]], references=[1])
    with pytest.raises(ValueError, match=r"aibench.f1: invalid params .*\"binary\" is not one of"):
        clf.f1(average="binary")
    with pytest.raises(ValueError, match=r"aibench.accuracy: invalid params .*'labels' was unexpected"):
        clf.accuracy(labels=[1, 2])
    with pytest.raises(TypeError, match=r"aibench.mcc: unexpected inputs \['scores'\]"):
        clf.mcc().update(predictions=[1], references=[1], scores=[1])
    with pytest.raises(ValueError, match="no samples to score"):
        clf.accuracy().compute()
    with pytest.raises(ValueError, match="compute\\(\\) before any update"):
        clf.roc_auc().compute()
    with pytest.raises(ValueError, match="give the 'classes' param"):
        clf.log_loss.compute(predictions=[[0.5, 0.5, 0.0]], references=["a"])
    with pytest.raises(ValueError, match=r"labels \['z'\] that are not among the classes"):
        clf.log_loss.compute(predictions=[[0.5, 0.5]], references=["z"], classes=["a", "b"])
    with pytest.raises(ValueError, match="undefined: no class has both"):
        clf.roc_auc.compute(predictions=[[0.5, 0.5]], references=[1])
    with pytest.raises(ValueError, match=r"probabilities must lie in \[0, 1\]"):
        clf.log_loss.compute(predictions=[[1.5, -0.5]], references=[0])


def test_float_and_object_labels() -> None:
    truth, predicted = np.array([0.0, 1.0, 1.0, 2.0]), np.array([0.0, 0.0, 1.0, 2.0])
    assert clf.f1.compute(predictions=predicted, references=truth) == pytest.approx(
        sk.f1_score(truth, predicted, average="macro"), abs=1e-12)
    as_objects = np.array(["a", "b", "b"], dtype=object)
    assert clf.accuracy.compute(predictions=as_objects, references=np.array(["a", "a", "b"])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="equal to no label, such as NaN"):
        clf.accuracy.compute(predictions=[np.nan, 1.0], references=[1.0, 1.0])
    with pytest.raises(ValueError, match="labels of mixed types cannot be ordered"):
        clf.accuracy.compute(predictions=np.array([1, "a"], dtype=object), references=np.array([1, 1], dtype=object))
