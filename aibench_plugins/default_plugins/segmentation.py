"""Built-in semantic segmentation metrics, from label maps.

Inputs of kind ``mask``: integer (or boolean) class maps, either one array of any
shape, such as ``(n, h, w)`` (predictions and references of equal shape), or a list
of ``(h, w)`` arrays whose sizes may differ from image to image (pairs of equal
shape). Pixels are pooled over the whole data set: the state is one confusion matrix
(reference class by predicted class) accumulated with ``numpy.bincount``, so batches
and shards add up exactly.

Classes are ``0 .. num_classes - 1``; without ``num_classes``, ``max(labels) + 1``;
without either, every value seen (up to 4095). Reference pixels equal to
``ignore_index`` (often 255) are left out, with the prediction at the same place.
Other values are errors: a reference outside the classes, a negative value, or a
prediction outside the classes when they are given.

``labels`` lists the classes averaged (default: all); other classes still count as
mistakes for them, as scikit-learn's ``labels``. A class absent from both the
references and the predictions has IoU and Dice 0/0: by default it is left out of the
mean (``zero_division: skip``, the Cityscapes and mmsegmentation convention, and
scikit-learn's default of averaging over the classes present), or it scores 0 or 1.
The scores equal scikit-learn's ``jaccard_score`` (IoU) and ``f1_score`` (Dice) on
the flattened maps with the same ``labels``, ``average`` and ``zero_division``
(``np.nan`` for ``skip``).

Each averaged class's score comes from :meth:`per_class`, or, with ``per_class: true``,
as extra outputs ``<id>_<class>`` (``aibench.iou_3``), the naming of the classification
metrics' per-class outputs; NaN for a class left out.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from aibench_plugins import InputSpec, MetricInfo, MetricInputError, MetricStateBase, StatefulMetric, hookimpl
from .multilabel import combine, per_class_ratios

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    IntArray = npt.NDArray[np.int64]

__all__ = ["dice", "iou"]

MAX_INFERRED_CLASSES = 4096
"""Without ``num_classes`` or ``labels``, a value at or above this is an error (a
stray value would otherwise make a huge confusion matrix)."""

_INPUTS = {
    "predictions": InputSpec("mask", "int", "n,h,w", "Predicted class of each pixel: an (n, h, w) array or a list "
                                                     "of (h, w) arrays."),
    "references": InputSpec("mask", "int", "n,h,w", "True class of each pixel, or ignore_index, in the same form."),
}

_SCHEMA = {
    "type": "object",
    "properties": {
        "num_classes": {"type": "integer", "minimum": 1,
                        "description": "Number of classes: values 0 .. num_classes - 1."},
        "labels": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1, "uniqueItems": True,
                   "description": "The classes averaged (default: all); e.g. [1] for the foreground IoU of a "
                                  "binary task."},
        "ignore_index": {"type": ["integer", "null"], "default": None,
                         "description": "Reference value of pixels left out of the score (often 255)."},
        "average": {"enum": ["macro", "micro", "weighted"], "default": "macro",
                    "description": "Mean over classes (macro), weighted by reference pixels (weighted: "
                                   "frequency-weighted IoU), or pooled over classes (micro), as scikit-learn."},
        "zero_division": {"enum": ["skip", 0, 1], "default": "skip",
                          "description": "Score of a class absent from references and predictions: left out of "
                                         "the mean (skip), 0 or 1."},
        "per_class": {"type": "boolean", "default": False,
                      "description": "Also return each averaged class's score, as outputs named '<id>_<class>' "
                                     "(aibench.iou_3); NaN for a class left out (zero_division skip)."},
    },
    "additionalProperties": False,
}


class _SegmentationState(MetricStateBase):
    """A confusion matrix of pixels: rows are reference classes, columns predicted ones."""

    info: ClassVar[MetricInfo]

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        labels: list[int] | None = self.params.get("labels")
        classes: int | None = self.params.get("num_classes")
        if classes is None and labels is not None:
            classes = max(labels) + 1
        if classes is not None and labels is not None and max(labels) >= classes:
            raise MetricInputError(f"{self.info.id}: labels {labels} name a class at or above num_classes {classes}")
        self.num_classes = classes
        self.labels = labels
        self.ignore_index: int | None = self.params["ignore_index"]
        self.reset()

    def reset(self) -> None:
        import numpy as np

        size = self.num_classes or 0
        self.confusion: IntArray = np.zeros((size, size), dtype=np.int64)

    def update(self, **inputs: Any) -> None:
        import numpy as np

        predictions, references = self._inputs(inputs)
        pairs = list(_pairs(self.info.id, predictions, references))
        p = np.concatenate([a.ravel() for a, _ in pairs]) if pairs else np.zeros(0, dtype=np.int64)
        r = np.concatenate([b.ravel() for _, b in pairs]) if pairs else np.zeros(0, dtype=np.int64)
        if self.ignore_index is not None:
            kept = r != self.ignore_index
            p, r = p[kept], r[kept]
        if p.size == 0:
            return
        size = self._classes(p, r)
        counts = np.bincount(r.astype(np.int64) * size + p, minlength=size * size).reshape(size, size)
        self._add(counts)

    def _classes(self, p: Any, r: Any) -> int:
        """The number of classes after this batch, checking its values."""
        for name, values in (("references", r), ("predictions", p)):
            low, high = int(values.min()), int(values.max())
            if low < 0:
                raise MetricInputError(f"{self.info.id}: {name} hold the value {low}; classes are non-negative"
                                 + ("" if name == "predictions" or self.ignore_index is None
                                    else f" (ignore_index is {self.ignore_index})"))
            if self.num_classes is not None and high >= self.num_classes:
                raise MetricInputError(f"{self.info.id}: {name} hold the value {high}, but the classes are "
                                 f"0..{self.num_classes - 1}"
                                 + (f" and ignore_index is {self.ignore_index}"
                                    if name == "references" and self.ignore_index is not None else "")
                                 + ("" if name == "references" else "; predict one of the classes"))
            if self.num_classes is None and high >= MAX_INFERRED_CLASSES:
                raise MetricInputError(f"{self.info.id}: {name} hold the value {high}; give num_classes (or "
                                 "ignore_index for a void label) so that stray values are caught")
        if self.num_classes is not None:
            return self.num_classes
        return max(int(self.confusion.shape[0]), int(p.max()) + 1, int(r.max()) + 1)

    def _add(self, counts: IntArray) -> None:
        import numpy as np

        size = max(self.confusion.shape[0], counts.shape[0])
        if self.confusion.shape[0] < size:
            grown = np.zeros((size, size), dtype=np.int64)
            grown[: self.confusion.shape[0], : self.confusion.shape[0]] = self.confusion
            self.confusion = grown
        self.confusion[: counts.shape[0], : counts.shape[0]] += counts

    def _merge(self, other: _SegmentationState) -> None:
        self._add(other.confusion)

    def _counts(self) -> tuple[IntArray, IntArray, IntArray, IntArray]:
        """The averaged classes, and their true positive, false positive and false negative pixels."""
        import numpy as np

        size = self.confusion.shape[0]
        classes = np.arange(size) if self.labels is None else np.asarray(self.labels, dtype=np.int64)
        tp = np.diag(self.confusion)[classes]
        return classes, tp, self.confusion.sum(axis=0)[classes] - tp, self.confusion.sum(axis=1)[classes] - tp

    def compute(self) -> dict[str, float]:
        if not self.confusion.any():
            raise MetricInputError(f"{self.info.id}: compute() before any pixel was given to update()"
                             + ("" if self.ignore_index is None else f" (besides ignore_index {self.ignore_index})"))
        _, tp, fp, fn = self._counts()
        numerator, denominator = self._ratio(tp, fp, fn)
        scores = self._scores(combine(numerator, denominator, average=self.params["average"],
                                      zero_division=self.params["zero_division"], support=tp + fn))
        if self.params["per_class"]:
            scores.update({f"{self.info.id}_{c}": value for c, value in self.per_class().items()})
        return scores

    def per_class(self) -> dict[int, float]:
        """Each averaged class's score; NaN (``skip``), 0 or 1 for a class absent from both inputs."""
        classes, tp, fp, fn = self._counts()
        scores = per_class_ratios(*self._ratio(tp, fp, fn), self.params["zero_division"])
        return {int(c): float(s) for c, s in zip(classes, scores)}

    @abstractmethod
    def _ratio(self, tp: IntArray, fp: IntArray, fn: IntArray) -> tuple[IntArray, IntArray]:
        ...


def _pairs(metric_id: str, predictions: Any, references: Any) -> Iterator[tuple[IntArray, IntArray]]:
    """(prediction, reference) integer arrays of equal shape, per image or for the batch."""
    import numpy as np

    if isinstance(predictions, (list, tuple)) or isinstance(references, (list, tuple)):
        if len(predictions) != len(references):
            raise MetricInputError(f"{metric_id}: {len(predictions)} predicted maps but {len(references)} reference maps")
        items = [(np.asarray(p), np.asarray(r), f"[{i}]") for i, (p, r) in enumerate(zip(predictions, references))]
    else:
        items = [(np.asarray(predictions), np.asarray(references), "")]
    for p, r, where in items:
        if p.shape != r.shape:
            raise MetricInputError(f"{metric_id}: predictions{where} have shape {p.shape} but references{where} have "
                             f"shape {r.shape}")
        for name, a in (("predictions", p), ("references", r)):
            if a.dtype.kind not in "biu":
                raise MetricInputError(f"{metric_id}: {name}{where} hold {a.dtype} values; label maps hold integer "
                                 "class ids (convert with .astype(int) after checking the values)")
        yield p.astype(np.int64, copy=False), r.astype(np.int64, copy=False)


class IoUState(_SegmentationState):
    info = MetricInfo(
        id="aibench.iou", direction="maximize", bounds=(0.0, 1.0), inputs=_INPUTS, params_schema=_SCHEMA,
        description="""Mean intersection over union (Jaccard index) of label maps: per class,
            TP / (TP + FP + FN) over all pixels, averaged over classes; classes absent from both
            references and predictions are left out by default. Equals scikit-learn's jaccard_score on
            the flattened maps.""",
        citation="Everingham, M., Van Gool, L., Williams, C. K. I., Winn, J., & Zisserman, A. (2010). The "
                 "PASCAL Visual Object Classes (VOC) Challenge. IJCV, 88(2), 303-338.",
    )

    def _ratio(self, tp: IntArray, fp: IntArray, fn: IntArray) -> tuple[IntArray, IntArray]:
        return tp, tp + fp + fn


class DiceState(_SegmentationState):
    info = MetricInfo(
        id="aibench.dice", direction="maximize", bounds=(0.0, 1.0), inputs=_INPUTS, params_schema=_SCHEMA,
        description="""Mean Dice coefficient (F1) of label maps: per class, 2 TP / (2 TP + FP +
            FN) over all pixels, averaged over classes; classes absent from both references and
            predictions are left out by default. Equals scikit-learn's f1_score on the flattened maps.""",
        citation="Dice, L. R. (1945). Measures of the amount of ecologic association between species. "
                 "Ecology, 26(3), 297-302.",
    )

    def _ratio(self, tp: IntArray, fp: IntArray, fn: IntArray) -> tuple[IntArray, IntArray]:
        return 2 * tp, 2 * tp + fp + fn


iou = StatefulMetric(IoUState)
dice = StatefulMetric(DiceState)


@hookimpl
def aibench_register_metrics(register: Any) -> None:
    for each in (iou, dice):
        register(each)

