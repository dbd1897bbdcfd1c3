"""The typed manifest: what one phase asks for, resolved once.

A :class:`~aibench_plugins.manifest.loading.Manifest` that passed validation is read through
:meth:`Manifest.plan <aibench_plugins.manifest.loading.Manifest.plan>`, which returns a
:class:`PhasePlan`: the phase's override applied section by section, each metric's splits
defaulted (``all``, then every split the manifest declares), its tables named, its column keys with the
split suffix (``<key>_<split>``, ``<key>`` for ``all``), the limits and the plugins' time
limit. Nothing outside the manifest modules reads the raw document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["DEFAULT_MIN_GROUP_SIZE", "DEFAULT_PLUGIN_TIME_LIMIT_S", "EFFICIENCY_FORMULAS", "AnalysisColumn",
           "AnalysisEntry", "CheckEntry", "EfficiencyEntry", "EfficiencyTerm", "MetricEntry", "PhasePlan", "TableDecl", "Threshold", "column_key", "default_splits"]

DEFAULT_PLUGIN_TIME_LIMIT_S = 60.0
#: the ``min_group_size`` of an analysis whose component needs groups, when its entry gives none
DEFAULT_MIN_GROUP_SIZE = 30
#: decimal places of an analysis column when its entry gives no ``precision``
DEFAULT_ANALYSIS_PRECISION = 4
ALL = "all"


def default_splits(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The splits a metric without ``splits`` is computed on: ``all`` (its overall column,
    keyed by the metric's ``key``), then every declared split in declaration order. A metric
    that lists ``splits`` gets exactly those (``all`` only if listed)."""
    splits = document.get("splits")
    declared = tuple(str(s) for s in splits if s != ALL) if isinstance(splits, Mapping) else ()
    return (ALL, *declared)


def column_key(key: str, split: str) -> str:
    """The leaderboard key of a metric's column for one split: ``<key>`` for ``all``, else ``<key>_<split>``."""
    return key if split == ALL else f"{key}_{split}"


@dataclass(frozen=True)
class TableDecl:
    """A table the manifest declares under ``data``.

    ``source`` is ``submission`` (read from ``input/res``) or ``reference`` (``input/ref``).
    ``columns`` is ``("*",)`` for ``"columns": "*"`` (every column but the id). ``names``,
    ``header`` and ``delimiter`` say how a CSV/TSV file is laid out; ``read_as`` and
    ``missing`` what its rows mean (see ``docs/manifest.md``, "Tables").
    """

    name: str
    file: str
    id: str | None
    columns: tuple[str, ...]
    source: Literal["submission", "reference"]
    format: str | None = None
    separator: str | None = None
    names: tuple[str, ...] | None = None
    header: bool = True
    delimiter: str | None = None
    read_as: str | None = None
    missing: str | None = None

    @classmethod
    def of(cls, name: str, spec: Mapping[str, Any]) -> TableDecl:
        source = spec.get("from", "submission" if name == "predictions" else "reference")
        columns = spec.get("columns", ())
        names = spec.get("names")
        return cls(name, str(spec["file"]), spec.get("id"), (columns,) if isinstance(columns, str) else tuple(columns),
                   "submission" if source == "submission" else "reference", spec.get("format"), spec.get("separator"),
                   tuple(names) if names is not None else None, bool(spec.get("header", names is None)),
                   spec.get("delimiter"), spec.get("read_as"), spec.get("missing"))

    @property
    def layout(self) -> dict[str, Any]:
        """How the file is laid out, as keyword arguments of ``TableSpec`` (``format``, ``names``,
        ``header``, ``delimiter``): what reading any of its columns needs."""
        return {"format": self.format, "names": self.names, "header": self.header, "delimiter": self.delimiter}

    @property
    def meaning(self) -> dict[str, Any]:
        """What its value columns' rows mean, as keyword arguments of ``TableSpec`` (``read_as``,
        ``missing``): for reading the value columns only, not the split columns."""
        return {"read_as": self.read_as, "missing": self.missing}


@dataclass(frozen=True)
class MetricEntry:
    """One entry of ``metrics``, with its defaults filled in."""

    use: str
    key: str
    label: str
    splits: tuple[str, ...]
    inputs: Mapping[str, str]
    params: Mapping[str, Any] = field(default_factory=dict)
    output: str | None = None
    sort: str | None = None
    precision: int = 2
    hidden: bool = False
    required: bool = False

    def column_key(self, split: str) -> str:
        return column_key(self.key, split)

    @property
    def column_keys(self) -> tuple[str, ...]:
        """Its columns' keys, one per split, in split order."""
        return tuple(self.column_key(split) for split in self.splits)

    def title(self, split: str) -> str:
        """The column title (36 characters at most, as Codabench allows)."""
        return (self.label if split == ALL else f"{self.label} ({split})")[:36]

    @classmethod
    def of(cls, entry: Mapping[str, Any], splits: tuple[str, ...]) -> MetricEntry:
        inputs = entry.get("inputs") or {}
        return cls(str(entry["use"]), str(entry["key"]), str(entry.get("label", entry["key"])),
                   tuple(entry.get("splits", splits)),
                   {name: str(inputs.get(name, name)) for name in ("predictions", "references")},
                   dict(entry.get("params", {})), entry.get("output"), entry.get("sort"),
                   int(entry.get("precision", 2)), bool(entry.get("hidden", False)),
                   bool(entry.get("required", False)))


@dataclass(frozen=True)
class CheckEntry:
    """One entry of ``checks``."""

    use: str
    params: Mapping[str, Any] = field(default_factory=dict)
    required: bool = False
    severity: Literal["error", "warning"] = "error"

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> CheckEntry:
        return cls(str(entry["use"]), dict(entry.get("params", {})), bool(entry.get("required", False)),
                   "warning" if entry.get("severity") == "warning" else "error")


@dataclass(frozen=True)
class AnalysisColumn:
    """One ``columns`` item of a fairness or robustness entry: the summary ``summary`` of the
    analysis as the leaderboard column ``key``. ``sorting`` ``None``: the summary's direction."""

    summary: str
    key: str
    label: str
    precision: int = DEFAULT_ANALYSIS_PRECISION
    sorting: Literal["asc", "desc"] | None = None
    hidden: bool = False

    @property
    def title(self) -> str:
        """The column title (36 characters at most, as Codabench allows)."""
        return self.label[:36]

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> AnalysisColumn:
        sorting = item.get("sorting")
        return cls(str(item["summary"]), str(item["key"]), str(item.get("label", item["key"])),
                   int(item.get("precision", DEFAULT_ANALYSIS_PRECISION)),
                   sorting if sorting in ("asc", "desc") else None, bool(item.get("hidden", False)))


@dataclass(frozen=True)
class Threshold:
    """One ``thresholds`` item: the summary ``summary`` must stay at or above ``value``
    (``bound`` ``min``) or at or below it (``max``); crossing it flags the submission
    (``action`` ``flag``) or fails it (``fail``, its original scores kept)."""

    summary: str
    bound: Literal["min", "max"]
    value: float
    action: Literal["flag", "fail"] = "flag"

    def crossed(self, value: float) -> bool:
        """Whether ``value`` is on the wrong side of the threshold."""
        return value < self.value if self.bound == "min" else value > self.value

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> Threshold:
        bound: Literal["min", "max"] = "min" if "min" in item else "max"
        return cls(str(item["summary"]), bound, float(item[bound]), "fail" if item.get("action") == "fail" else "flag")


@dataclass(frozen=True)
class AnalysisEntry:
    """One entry of ``fairness``, ``robustness`` or ``complexity`` (``kind``), with its defaults
    filled in (a complexity meter's entry has the same fields: its columns and thresholds name
    measurements, which are summaries).

    ``min_group_size`` is what the entry gives (``None`` when it gives none): the runner
    defaults it to :data:`DEFAULT_MIN_GROUP_SIZE` for a component whose ``info.needs`` has
    ``groups`` (:meth:`group_minimum`)."""

    kind: Literal["fairness", "robustness", "complexity"]
    use: str
    key: str
    label: str
    required: bool = False
    seed: int = 0
    min_group_size: int | None = None
    columns: tuple[AnalysisColumn, ...] = ()
    thresholds: tuple[Threshold, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def column_keys(self) -> tuple[str, ...]:
        return tuple(column.key for column in self.columns)

    def group_minimum(self, needs: tuple[str, ...]) -> int | None:
        """The minimum group size that applies: the entry's, else 30 when the component needs groups."""
        if self.min_group_size is not None:
            return self.min_group_size
        return DEFAULT_MIN_GROUP_SIZE if "groups" in needs else None

    @classmethod
    def of(cls, kind: Literal["fairness", "robustness", "complexity"], entry: Mapping[str, Any]) -> AnalysisEntry:
        size = entry.get("min_group_size")
        return cls(kind, str(entry["use"]), str(entry["key"]), str(entry.get("label", entry["key"])),
                   bool(entry.get("required", False)), int(entry.get("seed", 0)),
                   int(size) if size is not None else None,
                   tuple(AnalysisColumn.of(c) for c in entry.get("columns", ())),
                   tuple(Threshold.of(t) for t in entry.get("thresholds", ())), dict(entry.get("params", {})))


#: the efficiency formulas: computed on the scoring side (``weighted_ratios``, ``ntire``) or
#: across runs by the leaderboard (``pareto_rank``)
EFFICIENCY_FORMULAS = ("weighted_ratios", "ntire", "pareto_rank")


@dataclass(frozen=True)
class EfficiencyTerm:
    """One term of an efficiency score: the measurement ``measurement`` (``<complexity entry
    key>.<measurement name>``) weighted by ``weight``."""

    measurement: str
    weight: float = 1.0

    @property
    def entry(self) -> str:
        """The complexity entry's key."""
        return self.measurement.partition(".")[0]

    @property
    def name(self) -> str:
        """The measurement's name within its entry (``time.ratio``, ``params``)."""
        return self.measurement.partition(".")[2]


@dataclass(frozen=True)
class EfficiencyEntry:
    """One item of ``efficiency``: a score the organiser declares from the complexity
    measurements, as the leaderboard column ``key``.

    ``weighted_ratios``: the sum of ``weight x ratio`` over the terms; ``ntire``: the sum of
    ``weight x exp(2 x ratio)`` (NTIRE ESR 2025); a term's ratio is its measurement divided by the
    reference's, or the value itself when its unit is ``ratio``. ``pareto_rank``: the rank of the
    submission's ``score`` (a column key) against its ``cost`` (``<entry>.<measurement>``) among the
    leaderboard's runs, computed by the leaderboard, not the scoring step."""

    key: str
    label: str
    formula: Literal["weighted_ratios", "ntire", "pareto_rank"]
    terms: tuple[EfficiencyTerm, ...] = ()
    score: str | None = None
    cost: str | None = None
    precision: int = DEFAULT_ANALYSIS_PRECISION
    sorting: Literal["asc", "desc"] | None = None
    hidden: bool = False
    required: bool = False

    @property
    def title(self) -> str:
        """The column title (36 characters at most, as Codabench allows)."""
        return self.label[:36]

    @property
    def by_leaderboard(self) -> bool:
        """Whether the leaderboard computes it across runs (``pareto_rank``), not the scoring step."""
        return self.formula == "pareto_rank"

    @property
    def sort(self) -> Literal["asc", "desc"]:
        """Its column's sort: the item's ``sorting``, else ``asc`` (a lower cost, a better rank)."""
        return self.sorting or "asc"

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> EfficiencyEntry:
        formula = item.get("formula")
        sorting = item.get("sorting")
        return cls(str(item["key"]), str(item.get("label", item["key"])),
                   formula if formula in ("weighted_ratios", "ntire", "pareto_rank") else "weighted_ratios",
                   tuple(EfficiencyTerm(str(t["measurement"]), float(t.get("weight", 1.0)))
                         for t in item.get("terms", ())),
                   str(item["score"]) if item.get("score") is not None else None,
                   str(item["cost"]) if item.get("cost") is not None else None,
                   int(item.get("precision", DEFAULT_ANALYSIS_PRECISION)),
                   sorting if sorting in ("asc", "desc") else None, bool(item.get("hidden", False)),
                   bool(item.get("required", False)))


@dataclass(frozen=True)
class PhasePlan:
    """What the manifest asks for one phase (``phase_key``: the ``phases`` key applied, or ``None``)."""

    phase_key: str | None
    metrics: tuple[MetricEntry, ...]
    checks: tuple[CheckEntry, ...]
    tables: Mapping[str, TableDecl]
    splits: Mapping[str, Mapping[str, Any]]
    concepts: tuple[Mapping[str, Any], ...]
    limits: Mapping[str, Any]
    required_plugins: tuple[str, ...] = ()
    #: where ``limits`` comes from in the document: ``("phases", key, "limits")`` or ``("limits",)``
    limits_at: tuple[str, ...] = ("limits",)
    fairness: tuple[AnalysisEntry, ...] = ()
    robustness: tuple[AnalysisEntry, ...] = ()
    #: the ``complexity`` entries (kind ``complexity``): the meters, run in the prediction step or on
    #: the scoring side as each meter's info says (``runs_in``)
    complexity: tuple[AnalysisEntry, ...] = ()
    #: the ``efficiency`` items: scores the organiser declares from the complexity measurements
    efficiency: tuple[EfficiencyEntry, ...] = ()
    #: the ``executor`` section (``{"use": id, "params": {...}}``), ``None`` when the phase has none;
    #: where it comes from in the document: ``("phases", key, "executor")`` or ``("executor",)``
    executor: Mapping[str, Any] | None = None
    executor_at: tuple[str, ...] = ("executor",)
    #: the ``submissions`` section (API-integrated submissions: the gateway's settings), ``None`` when
    #: the phase takes none; where it comes from: ``("phases", key, "submissions")`` or ``("submissions",)``
    submissions: Mapping[str, Any] | None = None
    submissions_at: tuple[str, ...] = ("submissions",)

    @property
    def analyses(self) -> tuple[AnalysisEntry, ...]:
        """The fairness entries, then the robustness ones: the order they run and are reported in."""
        return (*self.fairness, *self.robustness)

    @property
    def plugin_time_limit_s(self) -> float:
        """How long one plugin call may take (``limits.plugin_time_limit_s``, default 60 s)."""
        return float(self.limits.get("plugin_time_limit_s", DEFAULT_PLUGIN_TIME_LIMIT_S))

    @property
    def split_columns(self) -> tuple[str, ...]:
        """The reference columns splits select on (``{"column": ..., "value": ...}`` splits)."""
        return tuple(sorted({str(s["column"]) for s in self.splits.values() if "column" in s}))

    @property
    def column_keys(self) -> tuple[str, ...]:
        """Every plugin column key of the phase, in manifest order: the metrics', then the analyses'."""
        return (*(key for metric in self.metrics for key in metric.column_keys),
                *(key for entry in self.analyses for key in entry.column_keys))

    @property
    def concept_labels(self) -> list[str]:
        return [str(c["label"]) for c in self.concepts]

    @property
    def requires_something(self) -> bool:
        """Whether a failure of some plugin of this phase fails the submission."""
        return bool(self.required_plugins) or any(m.required for m in self.metrics) or any(
            c.required for c in self.checks) or any(a.required or any(t.action == "fail" for t in a.thresholds)
                                                    for a in (*self.analyses, *self.complexity)) or any(
            e.required for e in self.efficiency)

    def without(self, missing: set[str]) -> PhasePlan:
        """The plan without the entries whose component is in ``missing`` (a plugin that did not load)."""
        return PhasePlan(self.phase_key, tuple(m for m in self.metrics if m.use not in missing),
                         tuple(c for c in self.checks if c.use not in missing), self.tables, self.splits,
                         self.concepts, self.limits, self.required_plugins, self.limits_at,
                         tuple(a for a in self.fairness if a.use not in missing),
                         tuple(a for a in self.robustness if a.use not in missing),
                         tuple(a for a in self.complexity if a.use not in missing), self.efficiency,
                         self.executor, self.executor_at, self.submissions, self.submissions_at)

    def settings(self) -> tuple[Any, ...]:
        """What a scoring program's runtime must know of the phase (phases sharing a program must agree)."""
        return (self.metrics, self.checks, tuple(sorted((k, repr(v)) for k, v in self.limits.items())),
                self.fairness, self.robustness, self.complexity, self.efficiency)


def plan(document: Mapping[str, Any], phase_key: str | None) -> PhasePlan:
    """The :class:`PhasePlan` of a validated manifest ``document`` for the ``phases`` key ``phase_key``."""
    override: Mapping[str, Any] = {}
    if phase_key is not None:
        override = (document.get("phases") or {}).get(phase_key) or {}

    def section(name: str, empty: Any) -> Any:
        return override[name] if name in override else document.get(name, empty)

    splits = default_splits(document)
    return PhasePlan(
        phase_key,
        tuple(MetricEntry.of(e, splits) for e in section("metrics", [])),
        tuple(CheckEntry.of(e) for e in section("checks", [])),
        {name: TableDecl.of(name, spec) for name, spec in (document.get("data") or {}).items()},
        dict(document.get("splits") or {}),
        tuple(document.get("concepts") or ()),
        dict(section("limits", None) or {}),
        tuple(str(p["id"]) for p in document.get("plugins", []) if p.get("required")),
        ("phases", str(phase_key), "limits") if "limits" in override else ("limits",),
        tuple(AnalysisEntry.of("fairness", e) for e in section("fairness", [])),
        tuple(AnalysisEntry.of("robustness", e) for e in section("robustness", [])),
        tuple(AnalysisEntry.of("complexity", e) for e in section("complexity", [])),
        tuple(EfficiencyEntry.of(e) for e in section("efficiency", [])),
        dict(section("executor", None)) if section("executor", None) else None,
        ("phases", str(phase_key), "executor") if "executor" in override else ("executor",),
        dict(section("submissions", None)) if section("submissions", None) else None,
        ("phases", str(phase_key), "submissions") if "submissions" in override else ("submissions",),
    )
