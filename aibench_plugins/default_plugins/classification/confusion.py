"""Confusion-matrix metrics: ``aibench.accuracy``, ``aibench.balanced_accuracy``,
``aibench.precision``, ``aibench.recall``, ``aibench.f1``, ``aibench.mcc`` and
``aibench.cohen_kappa`` take one predicted label per sample (ints or strings).

Their state is a :class:`~.matrix.Confusion`. Each metric is a pure function of the
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
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any

from aibench_plugins import MetricFactory, MetricInfo, MetricInputError, Scores, object_schema
from .labels import Array, check_inputs, class_key, label_list_param, positions
from .matrix import Confusion

__all__ = [
    "CONFUSION_METRICS",
    "Accuracy",
    "BalancedAccuracy",
    "CohenKappa",
    "ConfusionMetric",
    "ConfusionState",
    "F1",
    "MatthewsCorrcoef",
    "Precision",
    "Recall",
    "accuracy",
    "balanced_accuracy",
    "cohen_kappa",
    "confusion_scores",
    "f1",
    "mcc",
    "precision",
    "recall",
]

_AVERAGE = {
    "enum": ["macro", "micro", "weighted"], "default": "macro",
    "description": "How per-class scores are combined, as in scikit-learn: 'macro' is the unweighted mean over "
                   "classes, 'weighted' weighs each class by its number of references, 'micro' pools the counts "
                   "of every class (micro precision = recall = F1 = accuracy when every label counts).",
}
_LABELS = label_list_param(
    "The classes to score, in this order, like scikit-learn's labels=: samples of other classes still count as "
    "false positives or false negatives. Default null: every label seen in the predictions or references, sorted.")
_PER_CLASS = {
    "type": "boolean", "default": False,
    "description": "Also return each class's score, as outputs named '<id>_<class key>' (see class_key).",
}


class ConfusionMetric(MetricFactory):
    """A metric computed from a confusion matrix. Calling it with params gives a fresh
    state (:class:`ConfusionState`); :meth:`from_confusion` computes its scores from a
    matrix directly. Subclasses set ``info`` and implement ``_scores``."""

    def __call__(self, **params: Any) -> ConfusionState:
        return ConfusionState(self, self.check_params(params))

    def from_confusion(self, matrix: Any, matrix_labels: Any = None, /, **params: Any) -> Scores:
        """Every score of this metric from a confusion matrix (rows: references, columns:
        predictions) whose rows and columns are ``matrix_labels`` (default 0..k-1), with
        this metric's ``params`` (a ``labels`` param selects among ``matrix_labels``)."""
        import numpy as np

        counts = np.asarray(matrix)
        if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
            raise MetricInputError(f"{self.info.id}: a confusion matrix is square, got shape {counts.shape}")
        names = np.arange(len(counts)) if matrix_labels is None else np.asarray(matrix_labels)
        if names.shape != (len(counts),):
            raise MetricInputError(f"{self.info.id}: {len(names)} labels for a {len(counts)}x{len(counts)} matrix")
        if counts.sum() == 0:
            raise MetricInputError(f"{self.info.id}: no samples to score")
        return self._scores(counts, names, **self.check_params(params))

    @abstractmethod
    def _scores(self, matrix: Array, matrix_labels: Array, /, **params: Any) -> dict[str, float]:
        ...

    # -- the batch path (the bootstrap's: aibench_plugins.stats.ConfusionBootstrap) ---------------

    def confusion_of(self, predictions: Any, references: Any) -> tuple[Array, Array]:
        """``(matrix, labels)`` of one pass over ``predictions`` and ``references``."""
        from .matrix import confusion_matrix

        return confusion_matrix(predictions, references)

    def from_confusion_batch(self, matrices: Any, matrix_labels: Any = None, /, **params: Any) -> dict[str, Array]:
        """Every output of this metric on each matrix of a batch ``(b, k, k)``, as arrays ``(b,)``:
        equal to :meth:`from_confusion` on each matrix (per-class outputs of a class absent from
        one matrix are NaN there, where :meth:`from_confusion` leaves the output out). Vectorised
        for the built-ins; a subclass without ``_batch_scores`` is looped over."""
        import numpy as np

        counts = np.asarray(matrices)
        if counts.ndim != 3 or counts.shape[1] != counts.shape[2]:
            raise MetricInputError(f"{self.info.id}: a batch of confusion matrices has shape (b, k, k), "
                                   f"got {counts.shape}")
        k = counts.shape[1]
        names = np.arange(k) if matrix_labels is None else np.asarray(matrix_labels)
        if names.shape != (k,):
            raise MetricInputError(f"{self.info.id}: {len(names)} labels for {k}x{k} matrices")
        if (counts.sum(axis=(1, 2)) == 0).any():
            raise MetricInputError(f"{self.info.id}: no samples to score in a matrix of the batch")
        return self._batch_scores(counts, names, **self.check_params(params))

    def _batch_scores(self, matrices: Array, matrix_labels: Array, /, **params: Any) -> dict[str, Array]:
        import numpy as np

        rows = [self._scores(matrix, matrix_labels, **params) for matrix in matrices]
        names = list(dict.fromkeys(name for row in rows for name in row))
        return {name: np.array([row.get(name, np.nan) for row in rows], dtype=np.float64) for name in names}


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
        check_inputs(self.metric.info, inputs, ("predictions", "references"))
        self.confusion.update(inputs["predictions"], inputs["references"])

    def merge(self, other: ConfusionState) -> None:
        self.confusion.merge(other.confusion)

    def compute(self) -> Scores:
        return self.metric.from_confusion(self.confusion.matrix, self.confusion.labels, **self.params)


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

    at = positions(labels, wanted)
    found = np.flatnonzero(at >= 0)
    out = np.zeros((len(wanted), len(wanted)), dtype=matrix.dtype)
    out[np.ix_(found, found)] = matrix[np.ix_(at[found], at[found])]
    return out


class Accuracy(ConfusionMetric):
    info = MetricInfo(
        id="aibench.accuracy", direction="maximize", bounds=(0.0, 1.0),
        description="Fraction of predictions equal to the reference label (scikit-learn accuracy_score).",
    )

    def _scores(self, matrix: Array, matrix_labels: Array, /, **params: Any) -> dict[str, float]:
        import numpy as np

        return {self.info.id: float(np.trace(matrix) / matrix.sum())}

    def _batch_scores(self, matrices: Array, matrix_labels: Array, /, **params: Any) -> dict[str, Array]:
        import numpy as np

        return {self.info.id: np.einsum("bii->b", matrices) / matrices.sum(axis=(1, 2))}

    def proportion_of(self, matrix: Any, matrix_labels: Any = None, /, **params: Any) -> tuple[int, int]:
        """``(correct, n)``: accuracy is a proportion of rows (for Wilson's and Clopper-Pearson's intervals)."""
        import numpy as np

        counts = np.asarray(matrix)
        return int(np.trace(counts)), int(counts.sum())


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

    def _batch_scores(self, matrices: Array, matrix_labels: Array, /, **params: Any) -> dict[str, Array]:
        import numpy as np

        support = matrices.sum(axis=2)
        present = support > 0
        recall = _divide(np.einsum("bii->bi", matrices), support)
        return {self.info.id: recall.sum(axis=1) / present.sum(axis=1)}


class _PerClassMetric(ConfusionMetric):
    """Precision, recall and F1: a ratio of per-class counts, averaged (scikit-learn's
    precision_recall_fscore_support with zero_division=0)."""

    @abstractmethod
    def _ratio(self, tp: Array, predicted: Array, actual: Array) -> Array:
        ...

    def _scores(self, matrix: Array, matrix_labels: Array, /, **params: Any) -> dict[str, float]:
        import numpy as np

        tp_all, predicted_all, actual_all = np.diag(matrix), matrix.sum(axis=0), matrix.sum(axis=1)
        if params["labels"] is None:
            at = _present(matrix)
            names = matrix_labels[at]
            tp, predicted, actual = tp_all[at], predicted_all[at], actual_all[at]
        else:  # counts over every label, then the classes asked for (absent ones count 0)
            names = np.asarray(params["labels"])
            at = positions(matrix_labels, names)
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

    def _batch_scores(self, matrices: Array, matrix_labels: Array, /, **params: Any) -> dict[str, Array]:
        import numpy as np

        tp, predicted, actual = np.einsum("bii->bi", matrices), matrices.sum(axis=1), matrices.sum(axis=2)
        if params["labels"] is None:
            names, present = matrix_labels, (predicted > 0) | (actual > 0)
        else:
            names = np.asarray(params["labels"])
            at = positions(matrix_labels, names)
            tp, predicted, actual = (np.where(at >= 0, counts[:, at], 0) for counts in (tp, predicted, actual))
            present = np.ones(tp.shape, dtype=bool)
        per_class = np.where(present, self._ratio(tp, predicted, actual), 0.0)
        classes = present.sum(axis=1)
        average = params["average"]
        if average == "micro":
            value = self._ratio(tp.sum(axis=1), predicted.sum(axis=1), actual.sum(axis=1))
        else:
            value = per_class.sum(axis=1) / classes
            if average == "weighted":
                support = actual.sum(axis=1)
                weighted = _divide((per_class * actual).sum(axis=1), support)
                value = np.where(support > 0, weighted, value)
        scores = {self.info.id: value}
        if params["per_class"]:
            for column in np.flatnonzero(present.any(axis=0)):
                scores[f"{self.info.id}_{class_key(names[column].item())}"] = np.where(
                    present[:, column], per_class[:, column], np.nan)
        return scores


_PER_CLASS_PARAMS = object_schema(average=_AVERAGE, labels=_LABELS, per_class=_PER_CLASS)
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

    def _batch_scores(self, matrices: Array, matrix_labels: Array, /, **params: Any) -> dict[str, Array]:
        import numpy as np

        t_sum = matrices.sum(axis=2, dtype=np.float64)
        p_sum = matrices.sum(axis=1, dtype=np.float64)
        n_correct = np.einsum("bii->b", matrices).astype(np.float64)
        n_samples = p_sum.sum(axis=1)
        cov_ytyp = n_correct * n_samples - np.einsum("bi,bi->b", t_sum, p_sum)
        cov_ypyp = n_samples**2 - np.einsum("bi,bi->b", p_sum, p_sum)
        cov_ytyt = n_samples**2 - np.einsum("bi,bi->b", t_sum, t_sum)
        denominator = cov_ypyp * cov_ytyt
        root = np.sqrt(np.where(denominator == 0, 1.0, denominator))
        return {self.info.id: np.where(denominator == 0, 0.0, cov_ytyp / root)}


class CohenKappa(ConfusionMetric):
    info = MetricInfo(
        id="aibench.cohen_kappa", direction="maximize", bounds=(-1.0, 1.0),
        params_schema=object_schema(
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

    def _batch_scores(self, matrices: Array, matrix_labels: Array, /, **params: Any) -> dict[str, Array]:
        import numpy as np

        if params["labels"] is None:
            confusion = matrices.astype(np.float64)
            present = confusion.any(axis=1) | confusion.any(axis=2)
        else:
            wanted = np.asarray(params["labels"])
            at = positions(matrix_labels, wanted)
            found = np.flatnonzero(at >= 0)
            confusion = np.zeros((len(matrices), len(wanted), len(wanted)))
            confusion[:, found[:, None], found[None, :]] = matrices[:, at[found][:, None], at[found][None, :]]
            present = np.ones(confusion.shape[:2], dtype=bool)
        sum0, sum1 = confusion.sum(axis=1), confusion.sum(axis=2)
        total = sum0.sum(axis=1)
        expected = sum0[:, :, None] * sum1[:, None, :] / np.where(total == 0, 1.0, total)[:, None, None]
        if params["weights"] is None:
            w_mat = 1.0 - np.eye(confusion.shape[1])[None]
        else:
            position = np.cumsum(present, axis=1) - 1.0  # a label's place among the present ones
            distance = position[:, None, :] - position[:, :, None]
            w_mat = np.abs(distance) if params["weights"] == "linear" else distance**2
        denominator = np.sum(w_mat * expected, axis=(1, 2))
        undefined = (total == 0) | (denominator == 0)
        value = 1 - np.sum(w_mat * confusion, axis=(1, 2)) / np.where(undefined, 1.0, denominator)
        return {self.info.id: np.where(undefined, 0.0, value)}


accuracy = Accuracy()
balanced_accuracy = BalancedAccuracy()
precision = Precision()
recall = Recall()
f1 = F1()
mcc = MatthewsCorrcoef()
cohen_kappa = CohenKappa()

CONFUSION_METRICS: tuple[ConfusionMetric, ...] = (accuracy, balanced_accuracy, precision, recall, f1, mcc,
                                                  cohen_kappa)


def confusion_scores(matrix: Any, labels: Any = None,
                     metrics: Iterable[ConfusionMetric] = CONFUSION_METRICS) -> dict[str, float]:
    """Every score of each of ``metrics`` (default: all the built-in confusion-matrix
    metrics, default params) from one confusion matrix. For other params, call
    ``metric.from_confusion(matrix, labels, **params)`` for each."""
    scores: dict[str, float] = {}
    for each in metrics:
        scores.update(each.from_confusion(matrix, labels))
    return scores
