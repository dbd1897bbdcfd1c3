"""Built-in classification metrics, each equal to scikit-learn's.

Two families, one class and one module each:

**Confusion-matrix metrics** (:class:`ConfusionMetric`, module :mod:`.confusion`):
``aibench.accuracy``, ``aibench.balanced_accuracy``, ``aibench.precision``,
``aibench.recall``, ``aibench.f1``, ``aibench.mcc`` and ``aibench.cohen_kappa`` take one
predicted label per sample (ints or strings). Their state is a :class:`Confusion`
(module :mod:`.matrix`), a k x k count matrix, and each metric is a pure function of
it, so one matrix serves them all (:func:`confusion_scores`).

**Score metrics** (:class:`ScoreMetric`, module :mod:`.scores`): ``aibench.roc_auc``,
``aibench.average_precision``, ``aibench.log_loss`` and ``aibench.top_k_accuracy`` take
per-class scores or probabilities, shape (n, k), one column per class.

Module :mod:`.labels` holds what both share: class keys, label arrays, input checks.
This module is the plugin ``aibench.classification``: it registers every metric.

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

from typing import Any

from aibench_plugins import hookimpl
from .confusion import (
    CONFUSION_METRICS,
    F1,
    Accuracy,
    BalancedAccuracy,
    CohenKappa,
    ConfusionMetric,
    ConfusionState,
    MatthewsCorrcoef,
    Precision,
    Recall,
    accuracy,
    balanced_accuracy,
    cohen_kappa,
    confusion_scores,
    f1,
    mcc,
    precision,
    recall,
)
from .labels import class_key
from .matrix import MAX_LABELS, Confusion, confusion_matrix
from .scores import (
    SCORE_METRICS,
    AveragePrecision,
    LogLoss,
    RocAuc,
    ScoreMetric,
    ScoreState,
    TopKAccuracy,
    average_precision,
    log_loss,
    roc_auc,
    top_k_accuracy,
)

__all__ = [
    "Confusion",
    "ConfusionMetric",
    "ScoreMetric",
    "class_key",
    "confusion_matrix",
    "confusion_scores",
]


@hookimpl
def aibench_register_metrics(register: Any) -> None:
    for each in (*CONFUSION_METRICS, *SCORE_METRICS):
        register(each)
