"""Segmentation metrics equal scikit-learn's jaccard_score and f1_score on flattened label
maps, and do not depend on batching or sharding."""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from aibench_plugins import Kind, PluginHost
from aibench_plugins.default_plugins import segmentation
from aibench_plugins.default_plugins.segmentation import MAX_INFERRED_CLASSES
from aibench_plugins.testing import MetricCheck, parametrize_with_checks

SETTINGS = settings(max_examples=50, deadline=None)
METRICS = {"aibench.iou": segmentation.iou, "aibench.dice": segmentation.dice}
IGNORE = 255


def close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


@st.composite
def maps(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    """(predictions, references, num_classes): n x h x w maps, some classes absent, some
    reference pixels ignored, predictions often right."""
    n, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    classes = draw(st.integers(1, 5))
    used = draw(st.integers(1, classes))  # classes >= used are absent unless predicted
    pixels = st.lists(st.integers(0, used - 1), min_size=n * h * w, max_size=n * h * w)
    references = np.array(draw(pixels)).reshape(n, h, w)
    predictions = np.array(draw(st.lists(st.integers(0, classes - 1), min_size=n * h * w,
                                         max_size=n * h * w))).reshape(n, h, w)
    right = np.array(draw(st.lists(st.booleans(), min_size=n * h * w, max_size=n * h * w))).reshape(n, h, w)
    predictions = np.where(right, references, predictions)
    ignored = np.array(draw(st.lists(st.integers(0, 9).map(lambda v: v == 0), min_size=n * h * w,
                                     max_size=n * h * w))).reshape(n, h, w)
    references = np.where(ignored, IGNORE, references)
    return predictions.astype(np.uint8), references.astype(np.uint8), classes


def reference(metric_id: str, predictions: np.ndarray, references: np.ndarray, *, num_classes: int,
              average: str, zero_division: str | int, labels: list[int] | None = None) -> float:
    kept = references != IGNORE
    t, p = references[kept], predictions[kept]
    labels = list(range(num_classes)) if labels is None else labels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # absent classes warn
        if metric_id == "aibench.dice":
            zd = np.nan if zero_division == "skip" else zero_division
            return float(sk.f1_score(t, p, labels=labels, average=average, zero_division=zd))
        if zero_division != "skip":
            return float(sk.jaccard_score(t, p, labels=labels, average=average, zero_division=zero_division))
        # jaccard_score has no zero_division=np.nan: leave out the labels absent from t and p
        present = [c for c in labels if (t == c).any() or (p == c).any()]
        if not present:
            return math.nan
        return float(sk.jaccard_score(t, p, labels=present, average=average))


CONFIGS = [(metric_id, average, zd) for metric_id in METRICS for average in ("macro", "micro", "weighted")
           for zd in ("skip", 0, 1)]


@settings(max_examples=30, deadline=None)  # 20 scikit-learn calls per example
@given(data=maps())
def test_equals_scikit_learn_on_flattened_maps(data: tuple[np.ndarray, np.ndarray, int]) -> None:
    predictions, references, classes = data
    if (references == IGNORE).all():
        with pytest.raises(ValueError, match="before any pixel"):
            segmentation.iou.compute(predictions=predictions, references=references, num_classes=classes,
                                     ignore_index=IGNORE)
        return
    for metric_id, average, zd in CONFIGS:
        params = {"num_classes": classes, "ignore_index": IGNORE, "average": average, "zero_division": zd}
        got = METRICS[metric_id].compute(predictions=predictions, references=references, **params)
        expected = reference(metric_id, predictions, references, num_classes=classes, average=average,
                             zero_division=zd)
        assert close(got, expected), (metric_id, average, zd, got, expected)
    # averaged over a subset of the classes, e.g. the foreground of a binary task
    labels = list(range(1, classes)) or [0]
    for metric_id in METRICS:
        got = METRICS[metric_id].compute(predictions=predictions, references=references, num_classes=classes,
                                         labels=labels, ignore_index=IGNORE, zero_division=0)
        expected = reference(metric_id, predictions, references, num_classes=classes, average="macro",
                             zero_division=0, labels=labels)
        assert close(got, expected), (metric_id, labels)


@SETTINGS
@given(data=maps())
def test_inferred_classes_equal_scikit_learns_default(data: tuple[np.ndarray, np.ndarray, int]) -> None:
    """Without num_classes, absent classes are left out: scikit-learn's default labels."""
    predictions, references, _ = data
    kept = references != IGNORE
    if not kept.any():
        return
    got = segmentation.iou.compute(predictions=predictions, references=references, ignore_index=IGNORE)
    assert close(got, float(sk.jaccard_score(references[kept], predictions[kept], average="macro")))


@SETTINGS
@given(data=maps(), cut=st.integers(0, 3), lists=st.booleans())
def test_batches_and_shards_equal_one_pass(data: tuple[np.ndarray, np.ndarray, int], cut: int,
                                           lists: bool) -> None:
    predictions, references, classes = data
    if (references == IGNORE).all():
        return
    pick = (lambda a: list(a)) if lists else (lambda a: a)
    for metric_id, average, zd in CONFIGS[:3] + CONFIGS[-3:]:
        for params in ({"num_classes": classes}, {}):  # with classes given, and inferred
            params = {**params, "ignore_index": IGNORE, "average": average, "zero_division": zd}
            metric = METRICS[metric_id]
            whole = metric.compute(predictions=predictions, references=references, **params)
            batched = metric(**params)
            first, second = metric(**params), metric(**params)
            for state in (batched, first):
                state.update(predictions=pick(predictions[:cut]), references=pick(references[:cut]))
            for state in (batched, second):
                state.update(predictions=pick(predictions[cut:]), references=pick(references[cut:]))
            second.merge(first)
            assert batched.compute()[metric_id] == whole or (math.isnan(whole))
            assert close(second.compute()[metric_id], whole)


@SETTINGS
@given(data=maps())
def test_perfect_maps_reach_the_bound(data: tuple[np.ndarray, np.ndarray, int]) -> None:
    _, references, classes = data
    if (references == IGNORE).all():
        return
    perfect = np.where(references == IGNORE, 0, references)  # any value where ignored
    for metric_id, average, _ in CONFIGS:
        metric = METRICS[metric_id]
        got = metric.compute(predictions=perfect, references=references, num_classes=classes,
                             ignore_index=IGNORE, average=average)
        assert got == metric.info.bounds[1] == 1.0, (metric_id, average)  # type: ignore[index]


def test_lists_of_maps_of_different_sizes() -> None:
    rng = np.random.default_rng(1)
    predictions = [rng.integers(0, 3, (4, 6)), rng.integers(0, 3, (2, 3))]
    references = [rng.integers(0, 3, (4, 6)), rng.integers(0, 3, (2, 3))]
    got = segmentation.iou.compute(predictions=predictions, references=references, num_classes=3)
    flat_t = np.concatenate([r.ravel() for r in references])
    flat_p = np.concatenate([p.ravel() for p in predictions])
    assert got == pytest.approx(sk.jaccard_score(flat_t, flat_p, average="macro"), rel=1e-12)


def test_per_class_scores() -> None:
    references = np.array([[0, 0, 1, 1]])
    predictions = np.array([[0, 1, 1, 1]])
    state = segmentation.iou(num_classes=3)
    state.update(predictions=predictions, references=references)
    per_class = state.per_class()
    assert list(per_class) == [0, 1, 2] and per_class[0] == 0.5 and per_class[1] == pytest.approx(2 / 3)
    assert math.isnan(per_class[2])  # absent from both: left out of the mean
    assert state.compute()["aibench.iou"] == pytest.approx((0.5 + 2 / 3) / 2)
    dice = segmentation.dice(num_classes=3, zero_division=0)
    dice.update(predictions=predictions, references=references)
    assert dice.per_class() == pytest.approx({0: 2 / 3, 1: 0.8, 2: 0.0})
    outputs = segmentation.iou(num_classes=3, labels=[1, 2], per_class=True)
    outputs.update(predictions=predictions, references=references)
    scores = outputs.compute()
    assert list(scores) == ["aibench.iou", "aibench.iou_1", "aibench.iou_2"]
    assert scores["aibench.iou"] == scores["aibench.iou_1"] == pytest.approx(2 / 3)
    assert math.isnan(scores["aibench.iou_2"])


def test_input_errors() -> None:
    iou = segmentation.iou
    with pytest.raises(ValueError, match="references hold the value 5, but the classes are 0..2"):
        iou.compute(predictions=np.zeros((1, 2), dtype=int), references=np.array([[5, 0]]), num_classes=3)
    with pytest.raises(ValueError, match="predictions hold the value 255, but the classes are 0..1"):
        iou.compute(predictions=np.array([[0, 255]]), references=np.array([[255, 0]]), num_classes=2,
                    ignore_index=255)
    # a prediction where the reference is ignored is ignored too, whatever its value
    assert iou.compute(predictions=np.array([[255, 0]]), references=np.array([[255, 0]]), num_classes=2,
                       ignore_index=255) == 1.0
    with pytest.raises(ValueError, match="predictions hold the value -1"):
        iou.compute(predictions=np.array([[-1, 0]]), references=np.array([[0, 0]]))
    with pytest.raises(ValueError, match="hold float64 values; label maps hold integer class ids"):
        iou.compute(predictions=np.zeros((2, 2)), references=np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match=r"predictions\[1\] have shape \(2, 2\) but references\[1\] have shape"):
        iou.compute(predictions=[np.zeros((1, 1), int), np.zeros((2, 2), int)],
                    references=[np.zeros((1, 1), int), np.zeros((2, 3), int)])
    with pytest.raises(ValueError, match="1 predicted maps but 2 reference maps"):
        iou.compute(predictions=[np.zeros((1, 1), int)], references=[np.zeros((1, 1), int)] * 2)
    with pytest.raises(ValueError, match="give num_classes"):
        iou.compute(predictions=np.array([MAX_INFERRED_CLASSES]), references=np.array([0]))
    with pytest.raises(ValueError, match=r"labels \[4\] name a class at or above num_classes 3"):
        iou(num_classes=3, labels=[4])
    with pytest.raises(ValueError, match="before any pixel was given"):
        iou(num_classes=2).compute()
    with pytest.raises(ValueError, match="invalid params"):
        iou(num_classes=0)


def test_labels_alone_set_the_classes() -> None:
    """labels without num_classes: the classes are 0..max(labels)."""
    references = np.array([0, 1, 1, 2])
    predictions = np.array([0, 1, 2, 2])
    got = segmentation.dice.compute(predictions=predictions, references=references, labels=[2])
    assert got == pytest.approx(sk.f1_score(references, predictions, labels=[2], average="macro"))


def test_pickle() -> None:
    state = segmentation.dice(num_classes=2)
    state.update(predictions=np.array([[0, 1]]), references=np.array([[1, 1]]))
    assert pickle.loads(pickle.dumps(state)).compute() == state.compute()


def test_infos_and_registration() -> None:
    host = PluginHost(strict=True)
    record = host.register_plugin(segmentation, "aibench.segmentation")
    assert record.status == "loaded" and record.provides["metric"] == ["aibench.dice", "aibench.iou"]
    for metric_id in METRICS:
        info = host.registry(Kind.METRIC).get(metric_id).component.info
        assert info.description and info.bounds == (0.0, 1.0) and info.direction == "maximize" and info.citation
        assert info.params_schema["additionalProperties"] is False
        assert {spec.kind for spec in info.inputs.values()} == {"mask"}
        assert type(info).from_json(info.to_json()) == info


@parametrize_with_checks([*METRICS.values(), (segmentation.iou, {"num_classes": 4, "average": "weighted"}),
                          (segmentation.dice, {"labels": [1, 2], "zero_division": 0, "average": "micro"})])
def test_plugin_kit_conformance(metric: object, check: MetricCheck) -> None:
    check(metric)
