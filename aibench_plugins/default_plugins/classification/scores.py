"""Score metrics: ``aibench.roc_auc``, ``aibench.average_precision``,
``aibench.log_loss`` and ``aibench.top_k_accuracy`` take per-class scores or
probabilities, shape (n, k), one column per class.

They need all the data, so their state concatenates batches, and merging concatenates
shards. The class of each column comes from the ``classes`` param, else from the
``classes`` input (the column order the reader found, e.g. a CSV header), else it is
the sorted labels of the references when they are exactly k, else 0..k-1 when the
references are integers in that range. Two classes may also come as shape (n,): the
score of the second class.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from aibench_plugins import InputSpec, MetricFactory, MetricInfo, MetricInputError, Scores, object_schema
from .labels import Array, check_inputs, label_list_param, positions

__all__ = [
    "SCORE_METRICS",
    "AveragePrecision",
    "LogLoss",
    "RocAuc",
    "ScoreMetric",
    "ScoreState",
    "TopKAccuracy",
    "average_precision",
    "log_loss",
    "roc_auc",
    "top_k_accuracy",
]

_CLASSES = label_list_param(
    "The class of each column of the predictions, in column order. Default null: the column order the reader "
    "gives, else the sorted labels of the references when there are as many as columns, else 0..k-1 for integer "
    "references.")

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


class ScoreMetric(MetricFactory):
    """A metric computed from per-class scores and reference labels, over all the data
    at once. Calling it with params gives a fresh state (:class:`ScoreState`);
    :meth:`from_scores` computes its scores directly. Subclasses set ``info`` and
    implement ``_scores``."""

    def __call__(self, **params: Any) -> ScoreState:
        return ScoreState(self, self.check_params(params))

    def from_scores(self, predictions: Any, references: Any, **params: Any) -> Scores:
        """Every score of this metric from all the predictions (n, k) and references (n,)."""
        scores, codes, checked = self._prepared(predictions, references, params)
        return self._scores(scores, codes, **checked)

    def _prepared(self, predictions: Any, references: Any, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """(scores, class codes of the references, params without ``classes``), inputs checked."""
        import numpy as np

        params = self.check_params(params)
        scores, truth = _score_arrays(predictions, references)
        if len(truth) == 0:
            raise MetricInputError(f"{self.info.id}: no samples to score")
        k = 2 if scores.ndim == 1 else scores.shape[1]
        classes = _resolve_classes(params.pop("classes"), truth, k)
        codes = _encode(truth, classes)
        if not np.isfinite(scores).all():
            raise MetricInputError(f"{self.info.id}: predictions hold NaN or infinite scores")
        return scores, codes, params

    @abstractmethod
    def _scores(self, scores: Array, codes: Array, **params: Any) -> dict[str, float]:
        ...


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
        check_inputs(self.metric.info, inputs, ("predictions", "references"))
        scores, truth = _score_arrays(inputs["predictions"], inputs["references"])
        if self.predictions and scores.shape[1:] != self.predictions[0].shape[1:]:
            raise MetricInputError(f"{self.metric.info.id}: predictions of shape {scores.shape} after batches of shape "
                             f"(n,{','.join(map(str, self.predictions[0].shape[1:]))})")
        self._set_classes(inputs.get("classes"))
        self.predictions.append(scores)
        self.references.append(truth)

    def _set_classes(self, classes: Any) -> None:
        if classes is None:
            return
        given = [c.item() if hasattr(c, "item") else c for c in classes]
        if self.classes is not None and given != self.classes:
            raise MetricInputError(f"{self.metric.info.id}: classes {given} after classes {self.classes}")
        self.classes = given

    def merge(self, other: ScoreState) -> None:
        self._set_classes(other.classes)
        self.predictions.extend(other.predictions)
        self.references.extend(other.references)

    def compute(self) -> Scores:
        import numpy as np

        if not self.predictions:
            raise MetricInputError(f"{self.metric.info.id}: compute() before any update()")
        params = dict(self.params)
        if self.classes is not None:
            if params.get("classes") is not None and list(params["classes"]) != self.classes:
                raise MetricInputError(f"{self.metric.info.id}: the classes param {params['classes']} differs from the "
                                 f"column order of the predictions {self.classes}")
            params["classes"] = self.classes
        return self.metric.from_scores(np.concatenate(self.predictions), np.concatenate(self.references), **params)


def _score_arrays(predictions: Any, references: Any) -> tuple[Array, Array]:
    import numpy as np

    scores, truth = np.asarray(predictions), np.asarray(references)
    if scores.dtype.kind not in "fbiu":
        raise MetricInputError(f"predictions must be numbers (per-class scores), got dtype {scores.dtype}")
    if scores.dtype.kind != "f":
        scores = scores.astype(np.float64)
    if truth.ndim != 1 or scores.ndim not in (1, 2) or len(scores) != len(truth):
        raise MetricInputError(f"predictions have shape {scores.shape} but references have shape {truth.shape}: "
                         f"expected (n, k) scores, or (n,) for two classes, and (n,) labels")
    return scores, truth


def _resolve_classes(classes: Sequence[Any] | None, truth: Array, k: int) -> Array:
    """The class of each of the k columns (see the module docstring)."""
    import numpy as np

    if classes is not None:
        given = np.asarray(classes)
        if len(given) != k or len(np.unique(given)) != k:
            raise MetricInputError(f"{len(given)} classes {list(classes)} for predictions with {k} columns "
                             f"(classes must be distinct, one per column)")
        return given
    present = np.unique(truth)
    if len(present) == k:
        return present
    if truth.dtype.kind in "biu" and present.min() >= 0 and present.max() < k:
        return np.arange(k)
    raise MetricInputError(f"the references hold {len(present)} classes but the predictions have {k} columns: give the "
                     f"'classes' param, the class of each column in order")


def _encode(truth: Array, classes: Array) -> Array:
    """Column index of each reference label."""
    import numpy as np

    at = positions(classes, truth)
    if (at < 0).any():
        missing = sorted(set(truth[at < 0].tolist()))
        raise MetricInputError(f"references hold labels {missing[:5]} that are not among the classes "
                         f"{classes.tolist()}")
    return at


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

    @abstractmethod
    def _binary(self, score: Array, positive: Array) -> float:
        ...

    @abstractmethod
    def _defined(self, positives: int, negatives: int) -> bool:
        ...

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
            raise MetricInputError(f"{self.info.id} is undefined: no class has both positive and negative references "
                             f"(references hold {len(np.unique(codes))} class(es))")
        if params["average"] == "weighted":
            return {self.info.id: float(np.average(values, weights=weights))}
        return {self.info.id: float(np.mean(values))}


def _one_vs_rest_params(scores: str) -> dict[str, Any]:
    """The params of a one-vs-rest metric whose per-class values are ``scores``."""
    return object_schema(
        average={"enum": ["macro", "weighted"], "default": "macro",
                 "description": f"Mean of the {scores}, unweighted ('macro') or weighted by the number of "
                                f"references of each class ('weighted')."},
        classes=_CLASSES,
    )


_UNDEFINED_CLASSES = ("A class with {what} in the references has no score and is left out of the average "
                      "(scikit-learn returns NaN or raises).")


class RocAuc(_OneVsRestMetric):
    info = MetricInfo(
        id="aibench.roc_auc", direction="maximize", bounds=(0.0, 1.0), inputs=_SCORE_INPUTS,
        params_schema=_one_vs_rest_params("one-vs-rest AUCs"),
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
        params_schema=_one_vs_rest_params("per-class average precisions"),
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
        params_schema=object_schema(classes=_CLASSES),
        description="Mean negative log-likelihood of the reference class (cross-entropy; scikit-learn log_loss). "
                    "Probabilities are clipped to [eps, 1 - eps], eps the machine epsilon of their float type "
                    "(2.2e-16 for float64), and used as given (rows are not renormalised).",
    )

    def _scores(self, scores: Array, codes: Array, **params: Any) -> dict[str, float]:
        import numpy as np

        return {self.info.id: float(np.mean(self._terms(scores, codes)))}

    def mean_terms(self, predictions: Any, references: Any, /, **params: Any) -> Array:
        """-log p of each row's reference class (clipped): log loss is their mean (the bootstrap's
        mean path, ``aibench_plugins.stats.MeanBootstrap``)."""
        scores, codes, _ = self._prepared(predictions, references, params)
        return self._terms(scores, codes)

    def from_means(self, means: Array, /, **params: Any) -> Array:
        return means

    def _terms(self, scores: Array, codes: Array) -> Array:
        import numpy as np

        if scores.min() < 0 or scores.max() > 1:
            raise MetricInputError(f"{self.info.id}: probabilities must lie in [0, 1], got values in "
                             f"[{scores.min()}, {scores.max()}]")
        if scores.ndim == 1:
            probability = np.where(codes == 1, scores, 1 - scores)
        else:
            probability = scores[np.arange(len(codes)), codes]
        eps = np.finfo(scores.dtype).eps
        probability = np.clip(probability, eps, 1 - eps).astype(np.float64)
        return -np.log(probability)


class TopKAccuracy(ScoreMetric):
    info = MetricInfo(
        id="aibench.top_k_accuracy", direction="maximize", bounds=(0.0, 1.0), inputs=_SCORE_INPUTS,
        params_schema=object_schema(
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

        return {self.info.id: float(np.mean(self._hits(scores, codes, params["k"])))}

    def mean_terms(self, predictions: Any, references: Any, /, **params: Any) -> Array:
        """1.0 where the reference class is among the top k, else 0.0: top-k accuracy is their
        mean (the bootstrap's mean path, ``aibench_plugins.stats.MeanBootstrap``)."""
        import numpy as np

        scores, codes, checked = self._prepared(predictions, references, params)
        return self._hits(scores, codes, checked["k"]).astype(np.float64)

    def from_means(self, means: Array, /, **params: Any) -> Array:
        return means

    def _hits(self, scores: Array, codes: Array, k: int) -> Array:
        import numpy as np

        if scores.ndim == 1:
            if k >= 2:
                return np.ones(len(codes), dtype=bool)
            threshold = 0.5 if scores.min() >= 0 and scores.max() <= 1 else 0.0
            hits = (scores > threshold) == (codes == 1)
        else:
            own = scores[np.arange(len(codes)), codes][:, None]
            later = np.arange(scores.shape[1])[None, :] > codes[:, None]
            ahead = np.count_nonzero((scores > own) | ((scores == own) & later), axis=1)
            hits = ahead < k
        return np.asarray(hits)


roc_auc = RocAuc()
average_precision = AveragePrecision()
log_loss = LogLoss()
top_k_accuracy = TopKAccuracy()

SCORE_METRICS: tuple[ScoreMetric, ...] = (roc_auc, average_precision, log_loss, top_k_accuracy)
