"""Built-in multi-label metrics: each sample has a set of labels (zero, one or more).

Inputs of kind ``labels``, in either of two forms (``predictions`` and ``references``
of one batch use the same form, and so do all the batches of one state):

* an **indicator matrix**: anything with a two-dimensional ``shape`` (a numpy array,
  a DataFrame), ``n`` samples by ``k`` labels, holding 0/1 or booleans; column ``j``
  is label ``j`` (or ``labels[j]`` when the ``labels`` param is given);
* **label sets**: any other sequence with one collection of labels per sample
  (``[{"cat", "dog"}, set(), {"dog"}]``; lists and tuples work as sets, duplicates
  count once). A plain Python list of lists is always read as label sets, never as a
  matrix: pass ``numpy.array(rows)`` for an indicator matrix.

With label sets the labels are those seen in either input (scikit-learn's
``MultiLabelBinarizer`` fitted on both), unless the ``labels`` param lists them: then
a label outside the list is an error. A label that no sample has, predicted or true,
only exists when the ``labels`` param (or a matrix column) declares it.

The state keeps, per label, true positive, false positive and false negative counts,
and per-sample sums, so shards merge exactly. Scores equal scikit-learn's
``f1_score``, ``jaccard_score``, ``hamming_loss`` and ``accuracy_score`` on the
binarised inputs with the same ``zero_division``: the score of a label (or a sample)
that is 0/0 because it is absent from both inputs. The default, ``"skip"``, leaves it
out of the average (scikit-learn's ``zero_division=np.nan``), so that a perfect
submission scores 1; ``0`` is scikit-learn's default, ``1`` counts it as right. When
everything is left out (no label anywhere) the score is NaN.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, ClassVar

from aibench_plugins import (
    InputSpec, MetricInfo, MetricInputError, MetricStateBase, StatefulMetric, hookimpl, object_schema
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    IntArray = npt.NDArray[np.int64]
    FloatArray = npt.NDArray[np.float64]

__all__ = ["combine", "hamming_loss", "jaccard", "multilabel_f1", "per_class_ratios", "subset_accuracy"]

_INPUTS = {
    "predictions": InputSpec("labels", None, "n,k", "Predicted labels of each sample: a 0/1 indicator matrix "
                                                    "(n, k) or one collection of labels per sample."),
    "references": InputSpec("labels", None, "n,k", "True labels of each sample, in the same form."),
}

_LABELS = {
    "type": "array", "items": {"type": ["string", "integer"]}, "minItems": 1, "uniqueItems": True,
    "description": "Every label, in column order for an indicator matrix. With label sets, a label "
                   "outside this list is an error; without it the labels are those seen in the data.",
}
_ZERO_DIVISION = {
    "enum": ["skip", 0, 1], "default": "skip",
    "description": "Score of a label or sample absent from both inputs (0/0): left out of the average "
                   "(skip), or 0 or 1 (scikit-learn's default is 0).",
}


def _schema(average: list[str] | None = None, default: str | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"labels": _LABELS}
    if average is not None:
        properties["average"] = {"enum": average, "default": default,
                                 "description": "How per-label (macro, weighted: weighted by true count), "
                                                "pooled (micro) or per-sample (samples) scores are combined, "
                                                "as in scikit-learn."}
        properties["zero_division"] = _ZERO_DIVISION
    return object_schema(**properties)


class _MultilabelState(MetricStateBase):
    """Per-label counts and per-sample sums shared by every multi-label metric."""

    info: ClassVar[MetricInfo]

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        labels = self.params.get("labels")
        self.labels: list[Hashable] | None = None if labels is None else list(labels)
        self.average: str = self.params.get("average", "macro")
        self.zero_division: int | str = self.params.get("zero_division", "skip")
        self.reset()

    def reset(self) -> None:
        import numpy as np

        self.form: str | None = None  # "matrix" or "sets", fixed by the first batch
        self.index: dict[Hashable, int] = {} if self.labels is None else {label: i for i, label in
                                                                          enumerate(self.labels)}
        size = 0 if self.labels is None else len(self.labels)
        self.tp, self.fp, self.fn = (np.zeros(size, dtype=np.int64) for _ in range(3))
        self.n = 0
        self.exact = 0
        self.empty = 0  # samples with no label in either input
        self.sample_f1 = 0.0  # sums over the other samples
        self.sample_jaccard = 0.0

    # -- accumulation ---------------------------------------------------------------------

    def update(self, **inputs: Any) -> None:
        predictions, references = self._inputs(inputs)
        forms = _form(predictions), _form(references)
        if forms[0] != forms[1]:
            raise MetricInputError(f"{self.info.id}: predictions are {_FORM_NAMES[forms[0]]} but references are "
                             f"{_FORM_NAMES[forms[1]]}; give both in the same form")
        form = forms[0]
        if self.form is not None and form != self.form:
            raise MetricInputError(f"{self.info.id}: this batch holds {_FORM_NAMES[form]} but earlier batches held "
                             f"{_FORM_NAMES[self.form]}; give every batch in the same form")
        if form == "matrix":
            counts = self._matrix_counts(predictions, references)
        else:
            counts = self._set_counts(predictions, references)
        if counts is None:
            return
        self.form = form
        self._add(*counts)

    def _matrix_counts(self, predictions: Any, references: Any) -> tuple[Any, ...] | None:
        import numpy as np

        p, t = (_indicator(self.info.id, name, value)
                for name, value in (("predictions", predictions), ("references", references)))
        if p.shape != t.shape:
            raise MetricInputError(f"{self.info.id}: predictions have shape {p.shape} but references have shape {t.shape}")
        k = p.shape[1]
        if self.labels is not None and k != len(self.labels):
            raise MetricInputError(f"{self.info.id}: the indicator matrices have {k} columns but the labels param "
                             f"lists {len(self.labels)} labels")
        if self.form == "matrix" and k != self.tp.size:
            raise MetricInputError(f"{self.info.id}: this batch has {k} label columns but earlier batches had "
                             f"{self.tp.size}")
        if p.shape[0] == 0:
            return None
        both = p & t
        per_label = (both.sum(axis=0), (p & ~t).sum(axis=0), (~p & t).sum(axis=0))
        return (*per_label, both.sum(axis=1), p.sum(axis=1), t.sum(axis=1), k)

    def _set_counts(self, predictions: Any, references: Any) -> tuple[Any, ...] | None:
        import numpy as np

        p_sets, t_sets = (_label_sets(self.info.id, name, value)
                          for name, value in (("predictions", predictions), ("references", references)))
        if len(p_sets) != len(t_sets):
            raise MetricInputError(f"{self.info.id}: {len(p_sets)} predictions but {len(t_sets)} references")
        if not p_sets:
            return None
        index = self.index if self.labels is not None else dict(self.index)
        columns: tuple[list[int], list[int], list[int]] = ([], [], [])
        for predicted, true in zip(p_sets, t_sets):
            for label in predicted | true:
                if label not in index:
                    if self.labels is not None:
                        raise MetricInputError(f"{self.info.id}: label {label!r} is not in the labels param "
                                         f"({', '.join(map(repr, self.labels))})")
                    index[label] = len(index)
            columns[0].extend(index[label] for label in predicted & true)
            columns[1].extend(index[label] for label in predicted - true)
            columns[2].extend(index[label] for label in true - predicted)
        k = len(index)
        self.index = index
        per_label = (np.bincount(np.asarray(c, dtype=np.int64), minlength=k) for c in columns)
        tp = np.fromiter((len(a & b) for a, b in zip(p_sets, t_sets)), dtype=np.int64, count=len(p_sets))
        n_p = np.fromiter(map(len, p_sets), dtype=np.int64, count=len(p_sets))
        n_t = np.fromiter(map(len, t_sets), dtype=np.int64, count=len(t_sets))
        return (*per_label, tp, n_p, n_t, k)

    def _add(self, tp: IntArray, fp: IntArray, fn: IntArray, sample_tp: IntArray, sample_p: IntArray,
             sample_t: IntArray, k: int) -> None:
        import numpy as np

        self._grow(k)
        self.tp[: tp.size] += tp
        self.fp[: fp.size] += fp
        self.fn[: fn.size] += fn
        self.n += sample_tp.size
        size = sample_p + sample_t
        scored = size > 0
        self.empty += int(np.count_nonzero(~scored))
        self.exact += int(np.count_nonzero(size == 2 * sample_tp))
        tp, size = sample_tp[scored].astype(np.float64), size[scored]
        self.sample_f1 += float(np.sum(2 * tp / size))
        self.sample_jaccard += float(np.sum(tp / (size - tp)))

    def _grow(self, k: int) -> None:
        import numpy as np

        if k > self.tp.size:
            extra = np.zeros(k - self.tp.size, dtype=np.int64)
            self.tp, self.fp, self.fn = (np.concatenate([a, extra]) for a in (self.tp, self.fp, self.fn))

    def _merge(self, other: _MultilabelState) -> None:
        import numpy as np

        if other.form is None:
            return
        if self.form is not None and other.form != self.form:
            raise MetricInputError(f"{self.info.id}: cannot merge a state of {_FORM_NAMES[other.form]} into one of "
                             f"{_FORM_NAMES[self.form]}")
        if other.form == "matrix":
            if self.form == "matrix" and other.tp.size != self.tp.size:
                raise MetricInputError(f"{self.info.id}: cannot merge a state of {other.tp.size} labels into one of "
                                 f"{self.tp.size}")
            columns = np.arange(other.tp.size)
        else:
            for label in other.index:
                self.index.setdefault(label, len(self.index))
            columns = np.array([self.index[label] for label in other.index], dtype=np.int64)
        self.form = other.form
        self._grow(max(len(self.index), other.tp.size))
        for mine, theirs in ((self.tp, other.tp), (self.fp, other.fp), (self.fn, other.fn)):
            mine[columns] += theirs
        self.n += other.n
        self.exact += other.exact
        self.empty += other.empty
        self.sample_f1 += other.sample_f1
        self.sample_jaccard += other.sample_jaccard

    # -- scores -----------------------------------------------------------------------------

    def compute(self) -> dict[str, float]:
        if self.n == 0:
            raise MetricInputError(f"{self.info.id}: compute() before any sample was given to update()")
        return self._scores(self._value())

    @abstractmethod
    def _value(self) -> float:
        ...

    def _averaged(self, numerator: IntArray, denominator: IntArray, sample_sum: float) -> float:
        """``numerator / denominator`` per label, combined as ``self.average`` says."""
        if self.average == "samples":
            if self.zero_division == "skip":
                scored = self.n - self.empty
                return sample_sum / scored if scored else math.nan
            return (sample_sum + float(self.zero_division) * self.empty) / self.n
        return combine(numerator, denominator, average=self.average, zero_division=self.zero_division,
                       support=self.tp + self.fn)


def per_class_ratios(numerator: IntArray, denominator: IntArray, zero_division: int | str) -> FloatArray:
    """``numerator / denominator`` per class; ``zero_division`` (NaN for ``"skip"``) where 0/0."""
    import numpy as np

    fill = math.nan if zero_division == "skip" else float(zero_division)
    scores = np.full(numerator.shape, fill)
    np.divide(numerator, denominator, out=scores, where=denominator > 0)
    return scores


def combine(numerator: IntArray, denominator: IntArray, *, average: str, zero_division: int | str,
            support: IntArray) -> float:
    """Per-class ratios combined as scikit-learn does: their mean (``macro``), their mean
    weighted by ``support`` (``weighted``; unweighted when every support is 0), or the
    ratio of the sums (``micro``). A 0/0 ratio scores ``zero_division``, or is left out
    (``"skip"``); NaN when every one is left out."""
    import numpy as np

    if average == "micro":
        numerator, denominator = numerator.sum(keepdims=True), denominator.sum(keepdims=True)
    scores = per_class_ratios(numerator, denominator, zero_division)
    weights = support if average == "weighted" else np.ones(scores.shape, dtype=np.int64)
    kept = ~np.isnan(scores)
    if not kept.any():
        return math.nan
    scores, weights = scores[kept], weights[kept]
    if weights.sum() == 0:
        weights = np.ones(scores.shape, dtype=np.int64)
    return float(np.average(scores, weights=weights))


_FORM_NAMES = {"matrix": "an indicator matrix", "sets": "label sets"}


def _form(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return "matrix" if isinstance(shape, tuple) and len(shape) == 2 else "sets"


def _indicator(metric_id: str, name: str, value: Any) -> Any:
    """A boolean (n, k) array from a 0/1 or boolean matrix."""
    import numpy as np

    array = np.asarray(value)
    if array.dtype == np.bool_:
        return array
    if array.dtype.kind not in "iuf" or not np.isin(array, (0, 1)).all():
        found = np.unique(array[~np.isin(array, (0, 1))])[:5] if array.dtype.kind in "iuf" else array.dtype
        raise MetricInputError(f"{metric_id}: {name} is a matrix, read as a 0/1 label indicator matrix, but it holds "
                         f"{found}; give 0/1 or booleans, or label sets as a list of sets")
    return array.astype(bool)


def _label_sets(metric_id: str, name: str, value: Any) -> list[frozenset[Hashable]]:
    sets = []
    for i, labels in enumerate(value):
        if isinstance(labels, (str, bytes)) or not hasattr(labels, "__iter__"):
            raise MetricInputError(f"{metric_id}: {name}[{i}] is {labels!r}; each sample needs a collection of labels, "
                             f"such as {{{labels!r}}}")
        try:
            sets.append(frozenset(label.item() if hasattr(label, "item") else label for label in labels))
        except TypeError as error:
            raise MetricInputError(f"{metric_id}: {name}[{i}] holds a label that cannot be a set member: {error}") from None
    return sets


class MultilabelF1State(_MultilabelState):
    info = MetricInfo(
        id="aibench.multilabel_f1", direction="maximize", bounds=(0.0, 1.0), inputs=_INPUTS,
        params_schema=_schema(["macro", "micro", "samples", "weighted"], "macro"),
        description="""F1 score of multi-label predictions, 2 TP / (2 TP + FP + FN), averaged
            over labels (macro, weighted by true count), pooled (micro) or averaged over samples
            (samples), as scikit-learn's f1_score.""",
    )

    def _value(self) -> float:
        return self._averaged(2 * self.tp, 2 * self.tp + self.fp + self.fn, self.sample_f1)


class JaccardState(_MultilabelState):
    info = MetricInfo(
        id="aibench.jaccard", direction="maximize", bounds=(0.0, 1.0), inputs=_INPUTS,
        params_schema=_schema(["samples", "macro", "micro", "weighted"], "samples"),
        description="""Jaccard index (intersection over union) of multi-label predictions,
            averaged over samples |P ∩ T| / |P ∪ T| (samples), over labels (macro, weighted) or pooled
            (micro), as scikit-learn's jaccard_score.""",
        citation="Jaccard, P. (1912). The distribution of the flora in the alpine zone. New Phytologist, "
                 "11(2), 37-50.",
    )

    def _value(self) -> float:
        return self._averaged(self.tp, self.tp + self.fp + self.fn, self.sample_jaccard)


class HammingLossState(_MultilabelState):
    info = MetricInfo(
        id="aibench.hamming_loss", direction="minimize", bounds=(0.0, 1.0), inputs=_INPUTS,
        params_schema=_schema(),
        description="""Hamming loss: the fraction of (sample, label) pairs predicted wrongly,
            as scikit-learn's hamming_loss; 0 when there is no label at all.""",
    )

    def _value(self) -> float:
        cells = self.n * self.tp.size
        return float(self.fp.sum() + self.fn.sum()) / cells if cells else 0.0


class SubsetAccuracyState(_MultilabelState):
    info = MetricInfo(
        id="aibench.subset_accuracy", direction="maximize", bounds=(0.0, 1.0), inputs=_INPUTS,
        params_schema=_schema(),
        description="""Subset accuracy (exact match ratio): the fraction of samples whose
            predicted label set equals the true one, as scikit-learn's accuracy_score on multi-label
            input.""",
    )

    def _value(self) -> float:
        return self.exact / self.n


multilabel_f1 = StatefulMetric(MultilabelF1State)
jaccard = StatefulMetric(JaccardState)
hamming_loss = StatefulMetric(HammingLossState)
subset_accuracy = StatefulMetric(SubsetAccuracyState)


@hookimpl
def aibench_register_metrics(register: Any) -> None:
    for each in (multilabel_f1, jaccard, hamming_loss, subset_accuracy):
        register(each)

