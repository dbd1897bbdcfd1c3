"""The contract of the analysis kinds: fairness checkers and robustness checkers.

An *analysis* runs after scoring, once per entry of the manifest's ``fairness`` or
``robustness`` section, on what the phase's metrics see: each metric's predictions and
references aligned on ids (the ``all`` split), and the hidden reference data. It returns an
:class:`AnalysisResult` of **aggregates only**: summaries (single numbers, of which the
entry's ``columns`` become leaderboard columns), statistics per group of rows, flags, and
tables for the report. Nothing per sample leaves an analysis: sensitive attributes are
personal data, and the host drops every :class:`GroupStat` over fewer rows than the entry's
``min_group_size`` before anything is written (report, page, ``--json``, leaderboard, logs).

The host, not the component, turns the entry's ``thresholds`` into flags or failures and the
entry's ``columns`` into leaderboard columns, so every analysis gets them the same way.

>>> from aibench_plugins.components.analysis import AnalysisInfo, SummarySpec
>>> info = AnalysisInfo(id="acme.gap", summaries=(SummarySpec("gap.{metric}", "minimize"),))
>>> info.summary_spec("gap.macro_f1").direction
'minimize'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from ..core.kinds import AnalysisInfo, MetricInfo, SummarySpec

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["Analysis", "AnalysisContext", "AnalysisInfo", "AnalysisResult", "Flag", "GroupStat", "MetricData",
           "Summary", "SummarySpec"]

Direction = Literal["maximize", "minimize"]


@dataclass(frozen=True)
class MetricData:
    """One of the phase's metrics as an analysis sees it: its manifest entry's key and label, the
    metric's info and params, and its inputs aligned on ids over the ``all`` split.

    ``predictions`` and ``references`` are what the metric's ``update`` receives (numpy arrays,
    or lists of label lists for multi-label); row ``i`` of both is id ``ids[i]``.
    """

    key: str
    label: str
    info: MetricInfo
    params: Mapping[str, Any]
    component: Any
    ids: NDArray[Any]
    predictions: Any
    references: Any
    output: str | None = None

    @property
    def direction(self) -> Direction:
        assert self.info.direction is not None
        return self.info.direction

    def compute(self, rows: Any = None, *, predictions: Any = None, references: Any = None) -> float:
        """The metric's primary (or chosen) output on ``rows`` (an index or boolean mask over the
        aligned rows; ``None``: all), with ``predictions``/``references`` replacing the aligned ones
        when given (already of the selected rows' length when ``rows`` is given too)."""
        predicted = self.predictions if predictions is None else predictions
        expected = self.references if references is None else references
        if rows is not None:
            if predictions is None:
                predicted = _take(predicted, rows)
            if references is None:
                expected = _take(expected, rows)
        state = self.component(**self.params)
        state.update(predictions=predicted, references=expected)
        return float(state.compute()[self.output or self.info.primary])


def _take(values: Any, rows: Any) -> Any:
    import numpy as np

    if isinstance(values, list):
        index = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows)
        return [values[i] for i in index]
    return values[rows]


@dataclass(frozen=True)
class AnalysisContext:
    """What the host gives an analysis.

    :param metrics: the phase's metrics by manifest key, in manifest order (a metric whose
        inputs could not be read is absent: its own column already failed).
    :param reference_dir: ``input/ref``, the hidden reference data.
    :param table: any table the manifest declares under ``data``, by name, read once
        (raises :class:`~aibench_plugins.data.readers.ReadError`).
    :param seed: the entry's ``seed`` (default 0): the same submission gives the same numbers.
    :param min_group_size: the entry's minimum group size (``None`` when the kind does not need groups).
    :param perturbed_runs: perturbation name -> the ``input/res`` of the prediction step re-run
        on inputs perturbed that way (code submissions; empty otherwise).
    :param read_predictions: ``read_predictions(folder, key)``: the predictions of metric ``key``
        read from another ``input/res`` folder (a perturbed run) as the metric's own are read, aligned
        on the same ids as ``metrics[key]`` (raises ``ReadError`` when unreadable or when ids differ).
    """

    metrics: Mapping[str, MetricData]
    reference_dir: Path
    table: Callable[[str], Any]
    seed: int = 0
    min_group_size: int | None = None
    perturbed_runs: Mapping[str, Path] = field(default_factory=dict)
    read_predictions: Callable[[Path, str], Any] | None = None


@dataclass(frozen=True)
class Summary:
    """One number an analysis gives; the entry's ``columns`` choose which become leaderboard
    columns. ``low``/``high``: its confidence interval, when it has one."""

    name: str
    value: float | None
    low: float | None = None
    high: float | None = None
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GroupStat:
    """An aggregate over one group of rows: the only per-group output an analysis may give.

    ``group`` maps attribute to value (``{"sex": "F", "age": "30-39"}``; ``{}`` for all rows);
    ``measure`` is a manifest metric key or a base rate (``selection_rate``, ``true_positive_rate``).
    The host drops it when ``n`` is below the entry's ``min_group_size``.
    """

    group: Mapping[str, str]
    n: int
    measure: str
    value: float | None
    low: float | None = None
    high: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "group": dict(self.group)}


@dataclass(frozen=True)
class Flag:
    """A threshold of the entry crossed: ``action`` ``flag`` is shown; ``fail`` fails the submission
    (its original scores are kept). The host makes these from the entry's ``thresholds``."""

    summary: str
    value: float
    threshold: float
    bound: Literal["min", "max"]
    action: Literal["flag", "fail"]
    message: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AnalysisResult:
    """What an analysis gives: aggregates only (see the module docstring).

    ``tables`` are further aggregate tables for the report and the page (each a mapping with
    ``title``, ``columns`` and ``rows``, rows being lists of numbers or short strings);
    ``notes`` are sentences for the page (never a per-sample value).
    """

    summaries: Sequence[Summary] = ()
    groups: Sequence[GroupStat] = ()
    tables: Sequence[Mapping[str, Any]] = ()
    notes: Sequence[str] = ()

    def summary(self, name: str) -> Summary | None:
        return next((s for s in self.summaries if s.name == name), None)


@runtime_checkable
class Analysis(Protocol):
    """What a fairness or robustness plugin registers."""

    @property
    def info(self) -> AnalysisInfo: ...

    def analyse(self, context: AnalysisContext, **params: Any) -> AnalysisResult:
        """The analysis of one submission, with the manifest entry's ``params``."""
