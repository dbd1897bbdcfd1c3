"""Built-in classification metrics, each equal to scikit-learn's.

Two families, one class each:

**Confusion-matrix metrics** (:class:`ConfusionMetric`): ``aibench.accuracy``,
``aibench.balanced_accuracy``, ``aibench.precision``, ``aibench.recall``,
``aibench.f1``, ``aibench.mcc`` and ``aibench.cohen_kappa`` take one predicted label per
sample (ints or strings). Their state is a :class:`Confusion`: a k x k count matrix
(rows: reference label, columns: predicted label, labels sorted) that each batch adds
to with ``numpy.bincount`` over the codes ``reference * k + prediction``: one bincount
per batch, or, for integer labels in a small range (no sort needed), one per block of
32768 rows, which keeps the codes in cache and halves the time on large batches. The
label set grows when a later batch, or a merged shard, brings labels not seen before. Each metric is a pure function of the
matrix, :meth:`ConfusionMetric.from_confusion`, so an evaluator given several of them
accumulates **one** matrix and derives every score from it::

    matrix, labels = confusion_matrix(predictions, references)  # or a Confusion, batch by batch
    f1.from_confusion(matrix, labels, average="macro")           # {"aibench.f1": ...}
    mcc.from_confusion(matrix, labels)                            # {"aibench.mcc": ...}
    confusion_scores(matrix, labels)                              # every metric, default params

(``isinstance(component, ConfusionMetric)`` tells an evaluator which metrics can share
the matrix; each metric's own state also exposes it as ``state.confusion``.) A matrix
may hold labels no sample has (zero row and column): every metric ignores them, so one
matrix serves metrics whose ``labels`` params differ.

**Score metrics** (:class:`ScoreMetric`): ``aibench.roc_auc``,
``aibench.average_precision``, ``aibench.log_loss`` and ``aibench.top_k_accuracy`` take
per-class scores or probabilities, shape (n, k), one column per class. They need all
the data, so their state concatenates batches, and merging concatenates shards. The
class of each column comes from the ``classes`` param, else from the ``classes`` input
(the column order the reader found, e.g. a CSV header), else it is the sorted labels of
the references when they are exactly k, else 0..k-1 when the references are integers
in that range. Two classes may also come as shape (n,): the score of the second class.

Conventions (also in each metric's description):

* Zero division, as scikit-learn's default ``zero_division="warn"`` (which returns 0):
  the precision of a class never predicted, the recall of a class never true, and the
  F1 of a class neither predicted nor true are 0 and count in macro averages; a
  weighted average whose weights are all zero is the unweighted mean. Balanced accuracy
  averages over the classes present in the references only. MCC is 0 when undefined
  (one class only, or constant predictions), as in scikit-learn; Cohen's kappa is 0
  when undefined (scikit-learn 1.9 returns NaN, unless ``replace_undefined_by`` is
  given), because a leaderboard cannot rank NaN. Nothing here warns.
* Per-class outputs (``per_class: true`` for precision, recall, f1) are named
  ``<id>_<class key>``, e.g. ``aibench.f1_cat``, next to the primary ``aibench.f1``.
  A host writes output ``<id><suffix>`` under column ``<manifest key><suffix>``
  (``f1_cat`` for key ``f1``). The class key is the label itself when it is made of
  ``A-Za-z0-9_`` only (``3``, ``cat``, ``no_finding``); otherwise its other characters
  become ``_`` and a 6-hex-digit hash of the label is appended (``New York`` ->
  ``New_York_<hash>``), so a key never depends on which other labels a submission
  holds and two labels never share a key. See :func:`class_key`.
* Ties in scores: ROC AUC counts a tied positive/negative pair as one half, average
  precision takes tied scores as one threshold (both as scikit-learn); top-k accuracy
  breaks ties between classes in favour of the later column, as scikit-learn's
  ``argsort(kind="mergesort")[:, ::-1]``.
* Log loss clips probabilities to ``[eps, 1 - eps]`` with ``eps`` the machine epsilon
  of the predictions' float type (2.2e-16 for float64), as scikit-learn >= 1.5 does;
  rows are used as given, not renormalised.

numpy is imported when a metric is computed, not when the plugin loads, so that loading
the built-ins stays cheap.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .._components import InputSpec, MetricInfo
from .._markers import hookimpl
from .._metric import MetricState, Scores

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Array = NDArray[Any]
else:
    Array = Any

__all__ = [
    "Confusion",
    "ConfusionMetric",
    "ScoreMetric",
    "class_key",
    "confusion_matrix",
    "confusion_scores",
]

MAX_LABELS = 10_000
"""The most labels a confusion matrix holds (10,000 labels: an 800 MB matrix)."""


# --------------------------------------------------------------------------- params

def _schema(**properties: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": dict(properties), "additionalProperties": False}


_LABEL_LIST = {"type": "array", "items": {"type": ["integer", "string"]}, "minItems": 1, "uniqueItems": True}
_AVERAGE = {
    "enum": ["macro", "micro", "weighted"], "default": "macro",
    "description": "How per-class scores are combined, as in scikit-learn: 'macro' is the unweighted mean over "
                   "classes, 'weighted' weighs each class by its number of references, 'micro' pools the counts "
                   "of every class (micro precision = recall = F1 = accuracy when every label counts).",
}
_LABELS = {
    "anyOf": [_LABEL_LIST, {"type": "null"}], "default": None,
    "description": "The classes to score, in this order, like scikit-learn's labels=: samples of other classes "
                   "still count as false positives or false negatives. Default null: every label seen in the "
                   "predictions or references, sorted.",
}
_PER_CLASS = {
    "type": "boolean", "default": False,
    "description": "Also return each class's score, as outputs named '<id>_<class key>' (see class_key).",
}
_CLASSES = {
    "anyOf": [_LABEL_LIST, {"type": "null"}], "default": None,
    "description": "The class of each column of the predictions, in column order. Default null: the column order "
                   "the reader gives, else the sorted labels of the references when there are as many as columns, "
                   "else 0..k-1 for integer references.",
}

_SCORE_INPUTS = {
    "predictions": InputSpec("score", dtype="float", shape="n,k",
                             description="One column per class; with two classes also shape n, the score of "
                                         "the second class."),
    "references": InputSpec("label", shape="n"),
    "classes": InputSpec("label", shape="k", description="Optional: the class of each column, in order."),
}
_PROBABILITY_INPUTS = {
    **_SCORE_INPUTS,
    "predictions": InputSpec("probability", dtype="float", shape="n,k",
                             description="Per-class probabilities; with two classes also shape n, the "
                                         "probability of the second class."),
}


class _Params:
    """Validates a metric's params against its schema and fills in the defaults."""

    def __init__(self, info: MetricInfo) -> None:
        self.info = info
        properties = info.params_schema.get("properties", {})
        self.defaults = {name: spec["default"] for name, spec in properties.items() if "default" in spec}

    @cached_property
    def _validator(self) -> Any:
        import jsonschema_rs

        return jsonschema_rs.validator_for(dict(self.info.params_schema))

    def __getstate__(self) -> dict[str, Any]:  # the compiled validator does not pickle
        return {"info": self.info, "defaults": self.defaults}

    def __call__(self, params: Mapping[str, Any]) -> dict[str, Any]:
        given = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
        problems = [f"{'/'.join(map(str, e.instance_path)) or 'params'}: {e.message}"
                    for e in self._validator.iter_errors(given)]
        if problems:
            raise ValueError(f"{self.info.id}: invalid params {dict(params)!r}: {'; '.join(problems)}")
        return {**self.defaults, **given}


# --------------------------------------------------------------------------- labels

_KEY = re.compile(r"[A-Za-z0-9_]+")


def class_key(label: Any) -> str:
    """The name of a class in output names and column keys: the label's text when it is
    made of ``A-Za-z0-9_`` only, else that text with other runs of characters replaced
    by ``_`` (at most 24 characters) plus ``_`` and the first 6 hex digits of the
    SHA-256 of the text.

    >>> class_key(3), class_key("cat"), class_key("New York")
    ('3', 'cat', 'New_York_815eca')
    """
    text = str(label.item() if hasattr(label, "item") else label)
    if _KEY.fullmatch(text):
        return text
    slug = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")[:24]
    digest = hashlib.sha256(text.encode()).hexdigest()[:6]
    return f"{slug}_{digest}" if slug else digest


def _family(array: Array) -> str:
    kind = array.dtype.kind
    return "number" if kind in "biuf" else "string" if kind in "US" else "object"


def _same_family(a: Array, b: Array, what: str) -> None:
    if {_family(a), _family(b)} == {"number", "string"}:
        raise ValueError(f"{what} mix numbers and strings ({a.dtype} and {b.dtype}): labels must be all numbers "
                         f"or all strings (read both files with the same column types)")


def _label_arrays(predictions: Any, references: Any) -> tuple[Array, Array]:
    import numpy as np

    predicted, truth = np.asarray(predictions), np.asarray(references)
    for name, array in (("predictions", predicted), ("references", truth)):
        if array.ndim != 1:
            raise ValueError(f"expected one label per sample, shape (n,), but {name} have shape {array.shape}: "
                             f"give labels, not per-class scores")
    if predicted.shape != truth.shape:
        raise ValueError(f"predictions have shape {predicted.shape} but references have shape {truth.shape}")
    _same_family(predicted, truth, "predictions and references")
    return predicted, truth


def _positions(labels: Array, wanted: Array) -> Array:
    """Index in ``labels`` of each of ``wanted``, -1 where absent."""
    import numpy as np

    if len(labels) == 0:
        return np.full(len(wanted), -1)
    _same_family(labels, wanted, "the labels (or classes) and the data")
    order = np.argsort(labels, kind="stable")
    at = np.minimum(np.searchsorted(labels, wanted, sorter=order), len(labels) - 1)
    found = labels[order[at]] == wanted
    return np.where(found, order[at], -1)


# --------------------------------------------------------------------------- confusion matrix

def _count(predictions: Any, references: Any) -> tuple[Array, Array]:
    """(labels, matrix) of one batch: a bincount over the codes reference * k + prediction
    (one per block of rows for small integer labels, one in all for other labels)."""
    import numpy as np

    predicted, truth = _label_arrays(predictions, references)
    if truth.size == 0:
        return truth, np.zeros((0, 0), dtype=np.int64)
    if predicted.dtype.kind in "biu" and truth.dtype.kind in "biu":
        counted = _count_integers(predicted, truth)
        if counted is not None:
            return counted
    labels, truth_codes, predicted_codes = _encode_labels(predicted, truth)
    k = len(labels)
    truth_codes *= k
    truth_codes += predicted_codes
    return labels, np.bincount(truth_codes, minlength=k * k).reshape(k, k)


def _encode_labels(predicted: Array, truth: Array) -> tuple[Array, Array, Array]:
    """(sorted labels, code of each reference, code of each prediction) for any labels
    (strings, floats, wide integers). A binary search among the few distinct labels,
    O(n log k), costs far less than sorting the rows: the labels of the first rows are
    the guess, and the labels that the guess misses are added (one more search)."""
    import numpy as np

    try:
        labels = np.unique(np.concatenate([truth[:_BLOCK], predicted[:_BLOCK]]))
        for _ in range(2):
            truth_codes, truth_missed = _lookup(labels, truth)
            predicted_codes, predicted_missed = _lookup(labels, predicted)
            if not (truth_missed.any() or predicted_missed.any()):
                return labels, truth_codes, predicted_codes
            labels = np.union1d(labels, np.concatenate([truth[truth_missed], predicted[predicted_missed]]))
            _check_size(len(labels))
    except TypeError as error:  # object arrays of numbers and strings
        raise ValueError(f"labels of mixed types cannot be ordered: {error}") from error
    raise ValueError("labels hold values equal to no label, such as NaN")


def _lookup(labels: Array, values: Array) -> tuple[Array, Array]:
    """Index of each value in the sorted ``labels``, and where the value is not there."""
    import numpy as np

    at = np.searchsorted(labels, values)
    np.minimum(at, len(labels) - 1, out=at)
    return at, labels[at] != values


_IDS = 256  # integer labels in [0, 256), the usual class ids, are their own codes
_BLOCK = 1 << 15  # rows per bincount: a block's codes stay in cache


def _count_integers(predicted: Array, truth: Array) -> tuple[Array, Array] | None:
    """The fast path for integer labels in a small range: no sort, the codes are
    (reference - low) * span + (prediction - low), and the labels of the range that no
    sample has are dropped from the span x span counts afterwards. It tries [0, 256)
    first, which needs no separate pass to find the range; None when the range is too
    wide (the caller searches the labels instead)."""
    import numpy as np

    if not (np.can_cast(predicted.dtype, np.intp) and np.can_cast(truth.dtype, np.intp)):
        return None  # uint64
    low, counts = 0, _count_in_range(predicted, truth, 0, _IDS)
    if counts is None:
        low = min(int(predicted.min()), int(truth.min()))
        span = max(int(predicted.max()), int(truth.max())) - low + 1
        if span * span > max(_IDS * _IDS, 2 * len(truth)) or abs(low) * (span + 1) >= 2**62:
            return None
        counts = _count_in_range(predicted, truth, low, span)
        assert counts is not None
    seen = np.flatnonzero(counts.any(axis=0) | counts.any(axis=1))
    _check_size(len(seen))
    labels = (seen + low).astype(predicted.dtype if predicted.dtype == truth.dtype else np.int64)
    return labels, counts[np.ix_(seen, seen)]


def _count_in_range(predicted: Array, truth: Array, low: int, span: int) -> Array | None:
    """span x span counts of the labels in [low, low + span), None if a label is outside.

    The rows go by blocks of ``_BLOCK``: range check, codes and bincount of a block
    work on data in cache, so each row is read from memory once. (One bincount over the
    codes of all rows costs twice as much on 10 million rows: it writes, then reads
    twice, an 8-byte code per row.)"""
    import numpy as np

    counts = np.zeros(span * span, dtype=np.int64)
    scratch = np.empty(min(len(truth), _BLOCK), dtype=np.intp)
    offset, factor = low * (span + 1), np.intp(span)  # an intp factor: uint8 labels times 256 do not wrap
    for start in range(0, len(truth), _BLOCK):
        t, p = truth[start:start + _BLOCK], predicted[start:start + _BLOCK]
        codes = scratch[:len(t)]
        if low == 0 and span == _IDS:  # one pass: negative labels are huge as unsigned
            np.bitwise_or(t, p, out=codes)
            if codes.view(np.uintp).max() >= span:
                return None
        elif min(int(t.min()), int(p.min())) < low or max(int(t.max()), int(p.max())) >= low + span:
            return None
        np.multiply(t, factor, out=codes)
        np.add(codes, p, out=codes)
        if offset:
            codes -= offset
        block = np.bincount(codes)
        counts[:len(block)] += block
    return counts.reshape(span, span)


def _check_size(k: int) -> int:
    if k > MAX_LABELS:
        raise ValueError(f"{k} distinct labels: more than the {MAX_LABELS} a confusion matrix holds "
                         f"(are these labels, or ids or scores?)")
    return k


class Confusion:
    """A confusion matrix accumulated over batches and shards: the state every
    confusion-matrix metric shares.

    ``matrix[i, j]`` counts the samples whose reference is ``labels[i]`` and whose
    prediction is ``labels[j]``; ``labels`` is sorted and holds every label seen so far
    (plus the ``labels`` given here, which appear even if no sample has them).
    """

    def __init__(self, labels: Sequence[Any] | None = None) -> None:
        self._fixed = None if labels is None else list(labels)
        self.reset()

    def reset(self) -> None:
        self._labels: Array | None = None
        self._matrix: Array | None = None
        if self._fixed is not None:
            import numpy as np

            fixed = np.unique(np.asarray(self._fixed))
            self._add(fixed, np.zeros((len(fixed), len(fixed)), dtype=np.int64))

    @property
    def labels(self) -> Array:
        import numpy as np

        return self._labels if self._labels is not None else np.zeros(0, dtype=np.int64)

    @property
    def matrix(self) -> Array:
        import numpy as np

        return self._matrix if self._matrix is not None else np.zeros((0, 0), dtype=np.int64)

    @property
    def samples(self) -> int:
        return int(self._matrix.sum()) if self._matrix is not None else 0

    def update(self, predictions: Any, references: Any) -> None:
        """Count one batch of predicted and reference labels (1-d, same length)."""
        labels, matrix = _count(predictions, references)
        if len(labels):
            self._add(labels, matrix)

    def merge(self, other: Confusion) -> None:
        """Add another accumulation (a shard) to this one."""
        if other._labels is not None and other._matrix is not None:
            self._add(other._labels, other._matrix)

    def _add(self, labels: Array, matrix: Array) -> None:
        import numpy as np

        if self._labels is None or self._matrix is None:
            self._labels, self._matrix = labels, matrix.astype(np.int64)  # a copy
            return
        _same_family(self._labels, labels, "batches")
        if len(labels) == len(self._labels) and np.array_equal(labels, self._labels):
            self._matrix += matrix
            return
        union = np.union1d(self._labels, labels)
        _check_size(len(union))
        grown = np.zeros((len(union), len(union)), dtype=np.int64)
        for some, counts in ((self._labels, self._matrix), (labels, matrix)):
            at = np.searchsorted(union, some)
            grown[np.ix_(at, at)] += counts
        self._labels, self._matrix = union, grown


def confusion_matrix(predictions: Any, references: Any, labels: Sequence[Any] | None = None) -> tuple[Array, Array]:
    """``(matrix, labels)`` of one pass over the data: ``matrix[i, j]`` counts the samples
    whose reference is ``labels[i]`` and prediction ``labels[j]``. ``labels`` is the
    sorted union of the labels seen and of ``labels`` (which appear even if absent from
    the data; unlike scikit-learn's ``labels=``, no sample is dropped: each metric's
    ``labels`` param selects classes itself)."""
    confusion = Confusion(labels)
    confusion.update(predictions, references)
    return confusion.matrix, confusion.labels


# --------------------------------------------------------------------------- metric base classes

def _check_inputs(info: MetricInfo, inputs: Mapping[str, Any], required: Iterable[str]) -> None:
    unknown = sorted(set(inputs) - set(info.inputs))
    if unknown:
        raise TypeError(f"{info.id}: unexpected inputs {unknown}; it takes {sorted(info.inputs)}")
    missing = [name for name in required if name not in inputs]
    if missing:
        raise TypeError(f"{info.id}: missing inputs {missing}")


class _BuiltinMetric:
    """What the built-in metrics share: ``info``, params checked against its schema
    (defaults filled in) when a state is made, and the one-call ``compute``."""

    info: MetricInfo

    @cached_property
    def _params(self) -> _Params:
        return _Params(self.info)

    def __call__(self, **params: Any) -> MetricState:
        raise NotImplementedError

    def compute(self, *, predictions: Any, references: Any, **params: Any) -> float:
        """The primary score of one call (a convenience for tests and notebooks)."""
        state = self(**params)
        state.update(predictions=predictions, references=references)
        return state.compute()[self.info.primary]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.info.id}>"


class ConfusionMetric(_BuiltinMetric):
    """A metric computed from a confusion matrix. Calling it with params gives a fresh
    state (:class:`ConfusionState`); :meth:`from_confusion` computes its scores from a
    matrix directly. Subclasses set ``info`` and implement ``_scores``."""

    def __call__(self, **params: Any) -> ConfusionState:
        return ConfusionState(self, self._params(params))

    def from_confusion(self, matrix: Any, matrix_labels: Any = None, /, **params: Any) -> Scores:
        """Every score of this metric from a confusion matrix (rows: references, columns:
        predictions) whose rows and columns are ``matrix_labels`` (default 0..k-1), with
        this metric's ``params`` (a ``labels`` param selects among ``matrix_labels``)."""
        import numpy as np

        counts = np.asarray(matrix)
        if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
            raise ValueError(f"{self.info.id}: a confusion matrix is square, got shape {counts.shape}")
        names = np.arange(len(counts)) if matrix_labels is None else np.asarray(matrix_labels)
        if names.shape != (len(counts),):
            raise ValueError(f"{self.info.id}: {len(names)} labels for a {len(counts)}x{len(counts)} matrix")
        if counts.sum() == 0:
            raise ValueError(f"{self.info.id}: no samples to score")
        return self._scores(counts, names, **self._params(params))

    def _scores(self, matrix: Array, matrix_labels: Array, /, **params: Any) -> dict[str, float]:
        raise NotImplementedError


class ConfusionState:
    """The state of a confusion-matrix metric: a :class:`Confusion` and the params.
    States of different confusion-matrix metrics merge into each other."""

    def __init__(self, metric: ConfusionMetric, params: Mapping[str, Any]) -> None:
        self.metric = metric
        self.params = dict(params)
        self.confusion = Confusion()

    def reset(self) -> None:
        self.confusion.reset()

    def update(self, **inputs: Any) -> None:
        _check_inputs(self.metric.info, inputs, ("predictions", "references"))
        self.confusion.update(inputs["predictions"], inputs["references"])

    def merge(self, other: ConfusionState) -> None:
        self.confusion.merge(other.confusion)

    def compute(self) -> Scores:
        return self.metric.from_confusion(self.confusion.matrix, self.confusion.labels, **self.params)


class ScoreMetric(_BuiltinMetric):
    """A metric computed from per-class scores and reference labels, over all the data
    at once. Calling it with params gives a fresh state (:class:`ScoreState`);
    :meth:`from_scores` computes its scores directly. Subclasses set ``info`` and
    implement ``_scores``."""

    def __call__(self, **params: Any) -> ScoreState:
        return ScoreState(self, self._params(params))

    def from_scores(self, predictions: Any, references: Any, **params: Any) -> Scores:
        """Every score of this metric from all the predictions (n, k) and references (n,)."""
        import numpy as np

        params = self._params(params)
        scores, truth = _score_arrays(predictions, references)
        if len(truth) == 0:
            raise ValueError(f"{self.info.id}: no samples to score")
        k = 2 if scores.ndim == 1 else scores.shape[1]
        classes = _resolve_classes(params.pop("classes"), truth, k)
        codes = _encode(truth, classes)
        if not np.isfinite(scores).all():
            raise ValueError(f"{self.info.id}: predictions hold NaN or infinite scores")
        return self._scores(scores, codes, **params)

    def _scores(self, scores: Array, codes: Array, **params: Any) -> dict[str, float]:
        raise NotImplementedError


class ScoreState:
    """The state of a score metric: every batch, concatenated at compute (and merged by
    concatenation)."""

    def __init__(self, metric: ScoreMetric, params: Mapping[str, Any]) -> None:
        self.metric = metric
        self.params = dict(params)
        self.reset()

    def reset(self) -> None:
        self.predictions: list[Array] = []
        self.references: list[Array] = []
        self.classes: list[Any] | None = None

    def update(self, **inputs: Any) -> None:
        _check_inputs(self.metric.info, inputs, ("predictions", "references"))
        scores, truth = _score_arrays(inputs["predictions"], inputs["references"])
        if self.predictions and scores.shape[1:] != self.predictions[0].shape[1:]:
            raise ValueError(f"{self.metric.info.id}: predictions of shape {scores.shape} after batches of shape "
                             f"(n,{','.join(map(str, self.predictions[0].shape[1:]))})")
        self._set_classes(inputs.get("classes"))
        self.predictions.append(scores)
        self.references.append(truth)

    def _set_classes(self, classes: Any) -> None:
        if classes is None:
            return
        given = [c.item() if hasattr(c, "item") else c for c in classes]
        if self.classes is not None and given != self.classes:
            raise ValueError(f"{self.metric.info.id}: classes {given} after classes {self.classes}")
        self.classes = given

    def merge(self, other: ScoreState) -> None:
        self._set_classes(other.classes)
        self.predictions.extend(other.predictions)
        self.references.extend(other.references)

    def compute(self) -> Scores:
        import numpy as np

        if not self.predictions:
            raise ValueError(f"{self.metric.info.id}: compute() before any update()")
        params = dict(self.params)
        if self.classes is not None:
            if params.get("classes") is not None and list(params["classes"]) != self.classes:
                raise ValueError(f"{self.metric.info.id}: the classes param {params['classes']} differs from the "
                                 f"column order of the predictions {self.classes}")
            params["classes"] = self.classes
        return self.metric.from_scores(np.concatenate(self.predictions), np.concatenate(self.references), **params)


def _score_arrays(predictions: Any, references: Any) -> tuple[Array, Array]:
    import numpy as np

    scores, truth = np.asarray(predictions), np.asarray(references)
    if scores.dtype.kind not in "fbiu":
        raise ValueError(f"predictions must be numbers (per-class scores), got dtype {scores.dtype}")
    if scores.dtype.kind != "f":
        scores = scores.astype(np.float64)
    if truth.ndim != 1 or scores.ndim not in (1, 2) or len(scores) != len(truth):
        raise ValueError(f"predictions have shape {scores.shape} but references have shape {truth.shape}: "
                         f"expected (n, k) scores, or (n,) for two classes, and (n,) labels")
    return scores, truth


def _resolve_classes(classes: Sequence[Any] | None, truth: Array, k: int) -> Array:
    """The class of each of the k columns (see the module docstring)."""
    import numpy as np

    if classes is not None:
        given = np.asarray(classes)
        if len(given) != k or len(np.unique(given)) != k:
            raise ValueError(f"{len(given)} classes {list(classes)} for predictions with {k} columns "
                             f"(classes must be distinct, one per column)")
        return given
    present = np.unique(truth)
    if len(present) == k:
        return present
    if truth.dtype.kind in "biu" and present.min() >= 0 and present.max() < k:
        return np.arange(k)
    raise ValueError(f"the references hold {len(present)} classes but the predictions have {k} columns: give the "
                     f"'classes' param, the class of each column in order")


def _encode(truth: Array, classes: Array) -> Array:
    """Column index of each reference label."""
    import numpy as np

    at = _positions(classes, truth)
    if (at < 0).any():
        missing = sorted(set(truth[at < 0].tolist()))
        raise ValueError(f"references hold labels {missing[:5]} that are not among the classes "
                         f"{classes.tolist()}")
    return at


# --------------------------------------------------------------------------- helpers

def _divide(numerator: Array, denominator: Array) -> Array:
    """numerator / denominator, 0 where the denominator is 0 (zero_division=0)."""
    import numpy as np

    out = np.zeros(np.shape(numerator), dtype=np.float64)
    return np.divide(numerator, denominator, out=out, where=denominator != 0, dtype=np.float64)


def _present(matrix: Array) -> Array:
    """Indices of the labels some sample has, as reference or prediction."""
    import numpy as np

    return np.flatnonzero(matrix.any(axis=0) | matrix.any(axis=1))


def _submatrix(matrix: Array, labels: Array, wanted: Array) -> Array:
    """The matrix restricted to ``wanted`` labels in that order (zero rows for labels
    absent from ``labels``): scikit-learn's ``confusion_matrix(labels=wanted)``."""
    import numpy as np

    at = _positions(labels, wanted)
    found = np.flatnonzero(at >= 0)
    out = np.zeros((len(wanted), len(wanted)), dtype=matrix.dtype)
    out[np.ix_(found, found)] = matrix[np.ix_(at[found], at[found])]
    return out


# --------------------------------------------------------------------------- confusion-matrix metrics

class Accuracy(ConfusionMetric):
    info = MetricInfo(
        id="aibench.accuracy", direction="maximize", bounds=(0.0, 1.0),
        description="Fraction of predictions equal to the reference label (scikit-learn accuracy_score).",
    )

    def _scores(self, matrix: Array, matrix_labels: Array, /, **params: Any) -> dict[str, float]:
        import numpy as np

        return {self.info.id: float(np.trace(matrix) / matrix.sum())}


class BalancedAccuracy(ConfusionMetric):
    info = MetricInfo(
        id="aibench.balanced_accuracy", direction="maximize", bounds=(0.0, 1.0),
        description="Mean per-class recall over the classes present in the references; classes only predicted "
                    "are ignored (scikit-learn balanced_accuracy_score).",
        citation="K. H. Brodersen, C. S. Ong, K. E. Stephan, J. M. Buhmann (2010). The balanced accuracy and its "
                 "posterior distribution. ICPR 2010.",
    )

    def _scores(self, matrix: Array, matrix_labels: Array, /, **params: Any) -> dict[str, float]:
        import numpy as np

        support = matrix.sum(axis=1)
        present = support > 0
        return {self.info.id: float(np.mean(np.diag(matrix)[present] / support[present]))}


class _PerClassMetric(ConfusionMetric):
    """Precision, recall and F1: a ratio of per-class counts, averaged (scikit-learn's
    precision_recall_fscore_support with zero_division=0)."""

    def _ratio(self, tp: Array, predicted: Array, actual: Array) -> Array:
        raise NotImplementedError

    def _scores(self, matrix: Array, matrix_labels: Array, /, **params: Any) -> dict[str, float]:
        import numpy as np

        tp_all, predicted_all, actual_all = np.diag(matrix), matrix.sum(axis=0), matrix.sum(axis=1)
        if params["labels"] is None:
            at = _present(matrix)
            names = matrix_labels[at]
            tp, predicted, actual = tp_all[at], predicted_all[at], actual_all[at]
        else:  # counts over every label, then the classes asked for (absent ones count 0)
            names = np.asarray(params["labels"])
            at = _positions(matrix_labels, names)
            tp, predicted, actual = (np.where(at >= 0, counts[at], 0) for counts in (tp_all, predicted_all, actual_all))
        per_class = self._ratio(tp, predicted, actual)
        average = params["average"]
        if average == "micro":
            value = self._ratio(tp.sum(keepdims=True), predicted.sum(keepdims=True), actual.sum(keepdims=True))[0]
        elif average == "weighted" and actual.sum() > 0:
            value = np.average(per_class, weights=actual)
        else:
            value = np.mean(per_class)
        scores = {self.info.id: float(value)}
        if params["per_class"]:
            scores.update({f"{self.info.id}_{class_key(name)}": float(v) for name, v in zip(names.tolist(), per_class)})
        return scores


_PER_CLASS_PARAMS = _schema(average=_AVERAGE, labels=_LABELS, per_class=_PER_CLASS)
_ZERO_DIVISION = "A class with {what} scores 0, as scikit-learn's zero_division default."


class Precision(_PerClassMetric):
    info = MetricInfo(
        id="aibench.precision", direction="maximize", bounds=(0.0, 1.0), params_schema=_PER_CLASS_PARAMS,
        description="Precision (true positives / predicted positives) per class, averaged over classes "
                    "(scikit-learn precision_score). " + _ZERO_DIVISION.format(what="no prediction"),
    )

    def _ratio(self, tp: Array, predicted: Array, actual: Array) -> Array:
        return _divide(tp, predicted)


class Recall(_PerClassMetric):
    info = MetricInfo(
        id="aibench.recall", direction="maximize", bounds=(0.0, 1.0), params_schema=_PER_CLASS_PARAMS,
        description="Recall (true positives / actual positives) per class, averaged over classes "
                    "(scikit-learn recall_score). " + _ZERO_DIVISION.format(what="no reference sample"),
    )

    def _ratio(self, tp: Array, predicted: Array, actual: Array) -> Array:
        return _divide(tp, actual)


class F1(_PerClassMetric):
    info = MetricInfo(
        id="aibench.f1", direction="maximize", bounds=(0.0, 1.0), params_schema=_PER_CLASS_PARAMS,
        description="F1 score (harmonic mean of precision and recall, 2TP / (2TP + FP + FN)) per class, averaged "
                    "over classes (scikit-learn f1_score). "
                    + _ZERO_DIVISION.format(what="neither predictions nor references"),
    )

    def _ratio(self, tp: Array, predicted: Array, actual: Array) -> Array:
        import numpy as np

        return _divide(2.0 * tp, np.add(actual, predicted, dtype=np.float64))


class MatthewsCorrcoef(ConfusionMetric):
    info = MetricInfo(
        id="aibench.mcc", direction="maximize", bounds=(-1.0, 1.0),
        description="Matthews correlation coefficient, multiclass (R_K) form (scikit-learn matthews_corrcoef); "
                    "0 when undefined (a single class, or constant predictions).",
        citation="B. W. Matthews (1975). Comparison of the predicted and observed secondary structure of T4 phage "
                 "lysozyme. Biochimica et Biophysica Acta 405(2):442-451. J. Gorodkin (2004). Comparing two "
                 "K-category assignments by a K-category correlation coefficient. Comput. Biol. Chem. 28:367-374.",
    )

    def _scores(self, matrix: Array, matrix_labels: Array, /, **params: Any) -> dict[str, float]:
        import numpy as np

        t_sum = matrix.sum(axis=1, dtype=np.float64)
        p_sum = matrix.sum(axis=0, dtype=np.float64)
        n_correct = np.trace(matrix, dtype=np.float64)
        n_samples = p_sum.sum()
        cov_ytyp = n_correct * n_samples - np.dot(t_sum, p_sum)
        cov_ypyp = n_samples**2 - np.dot(p_sum, p_sum)
        cov_ytyt = n_samples**2 - np.dot(t_sum, t_sum)
        denominator = cov_ypyp * cov_ytyt
        return {self.info.id: 0.0 if denominator == 0 else float(cov_ytyp / np.sqrt(denominator))}


class CohenKappa(ConfusionMetric):
    info = MetricInfo(
        id="aibench.cohen_kappa", direction="maximize", bounds=(-1.0, 1.0),
        params_schema=_schema(
            weights={"enum": [None, "linear", "quadratic"], "default": None,
                     "description": "Disagreement weights, as scikit-learn: null (every disagreement counts 1), "
                                    "'linear' or 'quadratic' in the distance between the positions of the two "
                                    "labels in the sorted label set (or in 'labels'); quadratic kappa is the usual "
                                    "score of ordinal tasks."},
            labels={**_LABELS, "description": "The classes to score, in this order, like scikit-learn's labels=: "
                                              "samples with another label on either side are left out. Default "
                                              "null: every label seen, sorted."},
        ),
        description="Cohen's kappa: agreement between predictions and references beyond chance "
                    "(scikit-learn cohen_kappa_score); 0 when undefined (e.g. both use one and the same class), "
                    "where scikit-learn returns NaN.",
        citation="J. Cohen (1960). A coefficient of agreement for nominal scales. Educational and Psychological "
                 "Measurement 20(1):37-46.",
    )

    def _scores(self, matrix: Array, matrix_labels: Array, /, **params: Any) -> dict[str, float]:
        import numpy as np

        if params["labels"] is None:
            at = _present(matrix)
            confusion = matrix[np.ix_(at, at)].astype(np.float64)
        else:
            confusion = _submatrix(matrix, matrix_labels, np.asarray(params["labels"])).astype(np.float64)
        n_classes = len(confusion)
        sum0, sum1 = confusion.sum(axis=0), confusion.sum(axis=1)
        total = sum0.sum()
        if total == 0:
            return {self.info.id: 0.0}
        expected = np.outer(sum0, sum1) / total
        if params["weights"] is None:
            w_mat = np.ones((n_classes, n_classes))
            np.fill_diagonal(w_mat, 0)
        else:
            position = np.arange(n_classes, dtype=np.float64)
            distance = position[None, :] - position[:, None]
            w_mat = np.abs(distance) if params["weights"] == "linear" else distance**2
        denominator = np.sum(w_mat * expected)
        if denominator == 0:
            return {self.info.id: 0.0}
        return {self.info.id: float(1 - np.sum(w_mat * confusion) / denominator)}


# --------------------------------------------------------------------------- score metrics

def _tie_groups(score: Array, positive: Array) -> tuple[Array, Array]:
    """Positives and negatives at each distinct score, ascending."""
    import numpy as np

    order = np.argsort(score)
    ordered = score[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    positives = np.add.reduceat(positive[order].astype(np.int64), starts)
    sizes = np.diff(np.r_[starts, len(score)])
    return positives, sizes - positives


def _binary_auc(score: Array, positive: Array) -> float:
    """Probability that a random positive outscores a random negative, ties counting
    one half (the area under the ROC curve), in exact integer arithmetic."""
    import numpy as np

    positives, negatives = _tie_groups(score, positive)
    below = np.cumsum(negatives) - negatives
    twice_area = int(np.sum(positives * (2 * below + negatives)))
    return twice_area / (2 * int(positives.sum()) * int(negatives.sum()))


def _binary_average_precision(score: Array, positive: Array) -> float:
    """Mean over the positives of the precision at their score (thresholds at distinct
    scores, highest first): scikit-learn's step-wise area under the PR curve."""
    import numpy as np

    positives, negatives = _tie_groups(score, positive)
    sizes = positives + negatives
    at_or_above = len(score) - (np.cumsum(sizes) - sizes)
    true_at_or_above = positives.sum() - (np.cumsum(positives) - positives)
    return float(np.sum(positives * (true_at_or_above / at_or_above)) / positives.sum())


class _OneVsRestMetric(ScoreMetric):
    """A binary ranking metric, one class against the rest, averaged over classes; with
    two classes, the binary metric of the second class (as scikit-learn)."""

    def _binary(self, score: Array, positive: Array) -> float:
        raise NotImplementedError

    def _defined(self, positives: int, negatives: int) -> bool:
        raise NotImplementedError

    def _scores(self, scores: Array, codes: Array, **params: Any) -> dict[str, float]:
        import numpy as np

        if scores.ndim == 1 or scores.shape[1] == 2:
            columns = [(1, scores if scores.ndim == 1 else scores[:, 1])]
        else:
            columns = [(j, scores[:, j]) for j in range(scores.shape[1])]
        values, weights = [], []
        for j, score in columns:
            positive = codes == j
            count = int(positive.sum())
            if self._defined(count, len(codes) - count):
                values.append(self._binary(score, positive))
                weights.append(count)
        if not values:
            raise ValueError(f"{self.info.id} is undefined: no class has both positive and negative references "
                             f"(references hold {len(np.unique(codes))} class(es))")
        if params["average"] == "weighted":
            return {self.info.id: float(np.average(values, weights=weights))}
        return {self.info.id: float(np.mean(values))}


_UNDEFINED_CLASSES = ("A class with {what} in the references has no score and is left out of the average "
                      "(scikit-learn returns NaN or raises).")


class RocAuc(_OneVsRestMetric):
    info = MetricInfo(
        id="aibench.roc_auc", direction="maximize", bounds=(0.0, 1.0), inputs=_SCORE_INPUTS,
        params_schema=_schema(
            average={"enum": ["macro", "weighted"], "default": "macro",
                     "description": "Mean of the one-vs-rest AUCs, unweighted ('macro') or weighted by the "
                                    "number of references of each class ('weighted')."},
            classes=_CLASSES,
        ),
        description="Area under the ROC curve, one class against the rest, averaged over classes (scikit-learn "
                    "roc_auc_score with multi_class='ovr'; two classes: the AUC of the second class's score). "
                    "Ties count one half. Scores need not sum to one. "
                    + _UNDEFINED_CLASSES.format(what="no sample, or every sample,"),
        citation="T. Fawcett (2006). An introduction to ROC analysis. Pattern Recognition Letters 27(8):861-874.",
    )

    def _binary(self, score: Array, positive: Array) -> float:
        return _binary_auc(score, positive)

    def _defined(self, positives: int, negatives: int) -> bool:
        return positives > 0 and negatives > 0


class AveragePrecision(_OneVsRestMetric):
    info = MetricInfo(
        id="aibench.average_precision", direction="maximize", bounds=(0.0, 1.0), inputs=_SCORE_INPUTS,
        params_schema=_schema(
            average={"enum": ["macro", "weighted"], "default": "macro",
                     "description": "Mean of the per-class average precisions, unweighted ('macro') or weighted "
                                    "by the number of references of each class ('weighted')."},
            classes=_CLASSES,
        ),
        description="Average precision (area under the precision-recall curve as a step function), one class "
                    "against the rest, averaged over classes (scikit-learn average_precision_score; two classes: "
                    "the AP of the second class). Tied scores are one threshold. "
                    + _UNDEFINED_CLASSES.format(what="no sample"),
    )

    def _binary(self, score: Array, positive: Array) -> float:
        return _binary_average_precision(score, positive)

    def _defined(self, positives: int, negatives: int) -> bool:
        return positives > 0


class LogLoss(ScoreMetric):
    info = MetricInfo(
        id="aibench.log_loss", direction="minimize", bounds=(0.0, None), inputs=_PROBABILITY_INPUTS,
        params_schema=_schema(classes=_CLASSES),
        description="Mean negative log-likelihood of the reference class (cross-entropy; scikit-learn log_loss). "
                    "Probabilities are clipped to [eps, 1 - eps], eps the machine epsilon of their float type "
                    "(2.2e-16 for float64), and used as given (rows are not renormalised).",
    )

    def _scores(self, scores: Array, codes: Array, **params: Any) -> dict[str, float]:
        import numpy as np

        if scores.min() < 0 or scores.max() > 1:
            raise ValueError(f"{self.info.id}: probabilities must lie in [0, 1], got values in "
                             f"[{scores.min()}, {scores.max()}]")
        if scores.ndim == 1:
            probability = np.where(codes == 1, scores, 1 - scores)
        else:
            probability = scores[np.arange(len(codes)), codes]
        eps = np.finfo(scores.dtype).eps
        probability = np.clip(probability, eps, 1 - eps).astype(np.float64)
        return {self.info.id: float(-np.mean(np.log(probability)))}


class TopKAccuracy(ScoreMetric):
    info = MetricInfo(
        id="aibench.top_k_accuracy", direction="maximize", bounds=(0.0, 1.0), inputs=_SCORE_INPUTS,
        params_schema=_schema(
            k={"type": "integer", "minimum": 1, "default": 2,
               "description": "How many of the best-scored classes may hold the reference (scikit-learn's "
                              "default 2); k >= the number of classes scores 1."},
            classes=_CLASSES,
        ),
        description="Fraction of samples whose reference class is among the k classes with the highest scores "
                    "(scikit-learn top_k_accuracy_score). Tied classes rank the later column first. Two classes "
                    "given as one score column, k = 1: the second class is predicted when its score is above 0.5 "
                    "(above 0 if scores leave [0, 1]).",
    )

    def _scores(self, scores: Array, codes: Array, **params: Any) -> dict[str, float]:
        import numpy as np

        k = params["k"]
        if scores.ndim == 1:
            if k >= 2:
                return {self.info.id: 1.0}
            threshold = 0.5 if scores.min() >= 0 and scores.max() <= 1 else 0.0
            hits = (scores > threshold) == (codes == 1)
        else:
            own = scores[np.arange(len(codes)), codes][:, None]
            later = np.arange(scores.shape[1])[None, :] > codes[:, None]
            ahead = np.count_nonzero((scores > own) | ((scores == own) & later), axis=1)
            hits = ahead < k
        return {self.info.id: float(np.mean(hits))}


# --------------------------------------------------------------------------- the built-ins

accuracy = Accuracy()
balanced_accuracy = BalancedAccuracy()
precision = Precision()
recall = Recall()
f1 = F1()
mcc = MatthewsCorrcoef()
cohen_kappa = CohenKappa()
roc_auc = RocAuc()
average_precision = AveragePrecision()
log_loss = LogLoss()
top_k_accuracy = TopKAccuracy()

CONFUSION_METRICS: tuple[ConfusionMetric, ...] = (accuracy, balanced_accuracy, precision, recall, f1, mcc,
                                                  cohen_kappa)
SCORE_METRICS: tuple[ScoreMetric, ...] = (roc_auc, average_precision, log_loss, top_k_accuracy)


def confusion_scores(matrix: Any, labels: Any = None,
                     metrics: Iterable[ConfusionMetric] = CONFUSION_METRICS) -> dict[str, float]:
    """Every score of each of ``metrics`` (default: all the built-in confusion-matrix
    metrics, default params) from one confusion matrix. For other params, call
    ``metric.from_confusion(matrix, labels, **params)`` for each."""
    scores: dict[str, float] = {}
    for each in metrics:
        scores.update(each.from_confusion(matrix, labels))
    return scores


@hookimpl
def aibench_register_metrics(register: Any) -> None:
    for each in (*CONFUSION_METRICS, *SCORE_METRICS):
        register(each)
