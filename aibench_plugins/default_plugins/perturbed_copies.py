"""The robustness checker ``aibench.perturbed_copies``: degradation on hidden perturbed copies
("twins") of the test inputs, for prediction submissions.

The organiser mixes perturbed copies of test inputs into the inputs participants predict, under
ids that do not tell which rows are copies, and ships, hidden in the reference data, a table
mapping each copy to its original: the copy's id, its original's id, the perturbation's name
and, optionally, its severity (declared under the manifest's ``data`` with
``"from": "reference"``). The leaderboard's own score is computed on the originals only (a
split of the original ids, or the scoring program); this checker sees every row (the ``all``
split) and gives, for each chosen metric:

* ``clean.{metric}``: the metric over the originals (every row that is not a copy);
* ``perturbed.{metric}``: the metric over the copies, each scored against its original's
  reference (a perturbed copy keeps its original's truth: a copy whose own reference differs
  is refused, the organiser's to fix);
* ``relative_drop.{metric}``: ``(clean - perturbed) / |clean|`` for a metric to maximise,
  ``(perturbed - clean) / |clean|`` for one to minimise, so a degradation is positive
  (``None`` when the clean score is 0);
* ``worst_case.{metric}``: HELM's per-instance worst case: for each original, the worst of the
  predictions of the original and of its copies, then the metric over those predictions against
  the originals' references, beside ``clean.{metric}``. *The worst prediction* is the one with the
  largest error, ties going to the first in the order original, then its copies in the table's
  row order: for labels the error is 0 (right) or 1 (wrong), so it is the original's prediction
  when it is wrong, else the first wrong copy's, else the original's; for sets of labels
  (multi-label) the size of the symmetric difference with the true set; for real values
  (regression) the absolute error (summed over columns). For scores and probabilities there is
  no per-example error without the metric's class order, so ``worst_case`` is ``None`` (a note
  says so);
* ``flip_rate``: the share of copies whose prediction differs from their original's (labels:
  another label; sets: another set; real values: ``|a - b| > tolerance``; per-class scores or
  probabilities, shape ``(n, k)``: another arg-max class), on the predictions of the metric
  ``flip_metric`` (default: the first chosen metric).

Its table (one for all metrics) gives, per metric, perturbation and severity, the number of
copies, the metric on them, the relative drop against ``clean.{metric}`` and the flip rate;
rows with severity ``all`` pool the severities of a perturbation that has several. The same
numbers are given as :class:`GroupStat` (``{"perturbation": ..., "severity": ...}``). Nothing
per sample leaves the checker.

Errors (:class:`~aibench_plugins.DataError`) say what is wrong, where, and whose fix it is: a
column the table lacks, a copy whose original id is not among the scored ids, a copy id the
scored ids lack, a copy listed twice, or also as an original.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aibench_plugins import (AnalysisContext, AnalysisInfo, AnalysisResult, DataError, GroupStat, InvalidParamsError,
                             MetricData, MetricInputError, Register, Summary, SummarySpec, hookimpl)

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["PerturbedCopies", "Twins", "perturbed_copies", "read_twins"]

UNSUPPORTED_KINDS = ("ranking", "mask")
"""Prediction kinds whose rows are not one prediction per id: never analysed."""

PARAMS_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "table": {"type": "string", "minLength": 1, "default": "perturbations",
                  "description": "The name, under the manifest's data, of the table mapping each copy to its "
                                 "original (declared with \"from\": \"reference\")."},
        "columns": {
            "type": "object", "additionalProperties": False, "default": {},
            "description": "The table's columns (its id column is the copy's id).",
            "properties": {
                "original": {"type": "string", "minLength": 1, "default": "original_id",
                             "description": "The id of the copy's original."},
                "perturbation": {"type": "string", "minLength": 1, "default": "perturbation",
                                 "description": "The perturbation's name."},
                "severity": {"type": ["string", "null"], "minLength": 1, "default": None,
                             "description": "The perturbation's severity (optional; null: none)."},
            },
        },
        "metrics": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "uniqueItems": True,
                    "description": "Manifest metric keys to analyse; default every metric of the phase whose "
                                   "predictions are one per id."},
        "flip_metric": {"type": "string", "minLength": 1,
                        "description": "The metric whose predictions the flip rate compares; default the first."},
        "tolerance": {"type": "number", "minimum": 0, "default": 0,
                      "description": "Real-valued predictions flip when they differ by more than this."},
    },
}

_ORGANISER = "the organiser's to fix"
_PARTICIPANT = "the participant's to fix"


@dataclass(frozen=True)
class Twins:
    """The mapping table, read: per copy (in the table's row order) its id, its original's id,
    its perturbation and its severity (``None`` without a severity column); ids as text."""

    table: str
    file: str
    copy_ids: NDArray[Any]
    original_ids: NDArray[Any]
    perturbations: NDArray[Any]
    severities: NDArray[Any] | None


def id_strings(values: Any) -> NDArray[Any]:
    """Ids as text, integers written without ``.0`` (so ``3``, ``3.0`` and ``"3"`` meet)."""
    import numpy as np

    array = np.asarray(values)
    if array.dtype.kind in "OUT" and _all_text(array):
        return array.astype(object)
    if array.dtype.kind in "iub":
        return array.astype(str).astype(object)
    if array.dtype.kind == "f":
        return np.array([str(int(v)) if float(v).is_integer() else str(v) for v in array], dtype=object)
    return np.array(["" if v is None else str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
                     for v in array], dtype=object)


def _all_text(array: NDArray[Any]) -> bool:
    """Whether every value is a string (pandas' type inference, one pass in C)."""
    return bool(_pandas().api.types.infer_dtype(array, skipna=False) == "string")


def _pandas() -> Any:
    """pandas, imported on first use (it has no type information: every value is Any); the host
    reads every table with it, so it is there wherever a table was read."""
    import importlib

    return importlib.import_module("pandas")


def _listed(values: Sequence[Any], limit: int = 5) -> str:
    shown = ", ".join(repr(str(v)) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def read_twins(context: AnalysisContext, table: str, columns: Mapping[str, Any]) -> Twins:
    """The mapping table ``table`` with the ``columns`` (``original``, ``perturbation``,
    ``severity``) of the params, checked: every column present, each copy listed once and never
    as an original. Raises :class:`DataError` (the organiser's to fix)."""
    import numpy as np
    pd = _pandas()

    read = context.table(table)
    file = str(getattr(read, "file", table))
    where = f"the perturbation table {table!r} ({file})"
    have = [str(c) for c in read.frame.columns]
    wanted = {role: columns.get(role) for role in ("original", "perturbation", "severity")}
    for role, name in wanted.items():
        if name is not None and name not in have:
            raise DataError(f"aibench.perturbed_copies: {where} has no column {name!r} (params.columns.{role}); it has "
                            f"{', '.join(map(repr, have))}. Name one of them in params.columns.{role}, or add the "
                            f"column to the file and to data.{table}.columns in aibench.json ({_ORGANISER}).")
    copies = id_strings(read.ids)
    originals = id_strings(read.column(wanted["original"]))
    repeated = pd.Index(copies, dtype=object).duplicated()
    if repeated.any():
        raise DataError(f"aibench.perturbed_copies: {where} lists the copy id(s) "
                        f"{_listed(sorted(set(copies[repeated].tolist())))} "
                        f"more than once; each copy has one original: keep one row per copy ({_ORGANISER}).")
    chained = pd.Index(copies, dtype=object).isin(pd.Index(originals, dtype=object).unique())  # hashed, not np.isin
    if chained.any():
        raise DataError(f"aibench.perturbed_copies: {where} lists the id(s) {_listed(list(copies[chained]))} both as a "
                        f"copy and as an original; a copy's original must be an unperturbed input: map each copy to "
                        f"the original it was made from ({_ORGANISER}).")
    blank = np.array([o == "" for o in originals])
    if blank.any():
        raise DataError(f"aibench.perturbed_copies: {where} has no {wanted['original']!r} for the copy id(s) "
                        f"{_listed(list(copies[blank]))}; give every copy its original's id ({_ORGANISER}).")
    perturbations = np.array([str(v) for v in read.column(wanted["perturbation"])], dtype=object)
    severities = None
    if wanted["severity"] is not None:
        severities = _severities(read.column(wanted["severity"]))
    return Twins(table, file, copies, originals, perturbations, severities)


def _severities(values: Any) -> NDArray[Any]:
    """The severity column as Python values (:func:`_severity`), whole numbers at once."""
    import numpy as np

    array = np.asarray(values)
    if array.dtype.kind in "iu":
        return np.array(array.tolist(), dtype=object)
    if array.dtype.kind == "f" and np.isfinite(array).all() and (array == np.round(array)).all():
        return np.array(array.astype(np.int64).tolist(), dtype=object)
    found = np.empty(len(array), dtype=object)
    found[:] = [_severity(v) for v in array]
    return found


def _severity(value: Any) -> Any:
    """A severity as a number when it is one (``2`` stays ``2``, ``"high"`` stays text)."""
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        if math.isnan(number):
            return None
        return int(number) if number.is_integer() else number
    return str(value)


@dataclass(frozen=True)
class _Rows:
    """Where the twins are among one metric's aligned rows."""

    copies: NDArray[Any]     # row of each copy, table order
    originals: NDArray[Any]  # row of each copy's original
    clean: NDArray[Any]      # every row that is not a copy, in row order


def _locate(metric: MetricData, twins: Twins) -> _Rows:
    import numpy as np
    pd = _pandas()

    ids = pd.Index(id_strings(metric.ids), dtype=object)  # object: no conversion to Arrow strings
    copies, originals = ids.get_indexer(twins.copy_ids), ids.get_indexer(twins.original_ids)
    where = f"the perturbation table {twins.table!r} ({twins.file})"
    lacking = twins.copy_ids[copies < 0].tolist()
    if lacking:
        raise DataError(
            f"aibench.perturbed_copies: the copy id(s) {_listed(lacking)} of {where} ({len(lacking)} of "
            f"{len(twins.copy_ids)} copies) are not among the ids metric {metric.key!r} scores (the reference ids "
            f"with a prediction). If the submission has no prediction for them: predict every row of the test inputs, the "
            f"perturbed ones included ({_PARTICIPANT}). If the metric's references have no row for them: give every "
            f"copy a reference row holding its original's truth ({_ORGANISER}).")
    unknown = sorted(set(twins.original_ids[originals < 0].tolist()))
    if unknown:
        raise DataError(
            f"aibench.perturbed_copies: {where} maps copies to the original id(s) {_listed(unknown)}, which are not in "
            f"the data metric {metric.key!r} scores (the reference ids with a prediction). Every copy's original must "
            f"be a test input of the reference data ({_ORGANISER}).")
    copies, originals = copies.astype(np.int64), originals.astype(np.int64)
    keep = np.ones(len(ids), dtype=bool)
    keep[copies] = False
    return _Rows(copies, originals, np.flatnonzero(keep))


def _kind(metric: MetricData) -> str:
    return metric.info.inputs["predictions"].kind


def _values(values: Any, rows: Any) -> Any:
    import numpy as np

    if isinstance(values, list):
        return [values[int(i)] for i in rows]
    return np.asarray(values)[rows]


def _differs(kind: str, a: Any, b: Any, tolerance: float) -> NDArray[Any]:
    """Per row, whether prediction ``a`` differs from ``b`` (see the module docstring)."""
    import numpy as np

    if isinstance(a, list) or kind == "labels":
        return np.array([set(x) != set(y) for x, y in zip(a, b)], dtype=bool)
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 2 and kind in ("score", "probability"):
        return np.asarray(np.argmax(a, axis=1) != np.argmax(b, axis=1), dtype=bool)
    if a.dtype.kind in "fc" or b.dtype.kind in "fc" or kind in ("value", "score", "probability"):
        distance = np.abs(a.astype(float) - b.astype(float))
        return np.asarray((distance.reshape(len(distance), -1) > tolerance).any(axis=1), dtype=bool)
    return np.asarray((a != b).reshape(len(a), -1).any(axis=1), dtype=bool)


def _errors(kind: str, predictions: Any, references: Any) -> NDArray[Any] | None:
    """Per row, the error the worst case maximises; ``None`` where there is none (scores)."""
    import numpy as np

    if kind == "labels" or isinstance(predictions, list):
        return np.array([len(set(p) ^ set(r)) for p, r in zip(predictions, references)], dtype=float)
    if kind == "label":
        return np.asarray(np.asarray(predictions) != np.asarray(references), dtype=float)
    if kind == "value":
        error = np.abs(np.asarray(predictions, dtype=float) - np.asarray(references, dtype=float))
        return np.asarray(error.reshape(len(error), -1).sum(axis=1), dtype=float)
    return None


def _check_references(metric: MetricData, rows: _Rows, twins: Twins) -> None:
    """A copy keeps its original's truth: refuse copies whose own reference differs."""
    import numpy as np

    own, original = _values(metric.references, rows.copies), _values(metric.references, rows.originals)
    if isinstance(own, list):
        differ = np.array([set(a) != set(b) for a, b in zip(own, original)], dtype=bool)
    elif np.asarray(own).dtype.kind in "fc":
        differ = ~np.isclose(np.asarray(own, dtype=float), np.asarray(original, dtype=float), equal_nan=True)
        differ = differ.reshape(len(differ), -1).any(axis=1)
    else:
        differ = (np.asarray(own) != np.asarray(original)).reshape(len(rows.copies), -1).any(axis=1)
    if differ.any():
        raise DataError(
            f"aibench.perturbed_copies: {int(differ.sum())} copies of the perturbation table {twins.table!r} have a "
            f"reference (metric {metric.key!r}) other than their original's, e.g. copy "
            f"{twins.copy_ids[np.flatnonzero(differ)[0]]!r} of {twins.original_ids[np.flatnonzero(differ)[0]]!r}. A "
            f"perturbed copy keeps its original's truth: give each copy its original's reference ({_ORGANISER}).")


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def relative_drop(clean: float | None, perturbed: float | None, direction: str) -> float | None:
    """``(clean - perturbed) / |clean|`` (maximise) or ``(perturbed - clean) / |clean|`` (minimise):
    positive when the copies score worse; ``None`` when either is missing or ``clean`` is 0."""
    if clean is None or perturbed is None or clean == 0:
        return None
    sign = 1.0 if direction == "maximize" else -1.0
    return sign * (clean - perturbed) / abs(clean)


def _score(metric: MetricData, rows: NDArray[Any], reference_rows: NDArray[Any]) -> float | None:
    """The metric on the predictions of ``rows`` against the references of ``reference_rows``."""
    if len(rows) == 0:
        return None
    return _finite(metric.compute(rows, references=_values(metric.references, reference_rows)))


def worst_case(metric: MetricData, rows: _Rows) -> float | None:
    """HELM's per-instance worst case (module docstring), or ``None`` for score predictions."""
    import numpy as np

    kind = _kind(metric)
    owners = np.concatenate([rows.clean, rows.originals])
    candidates = np.concatenate([rows.clean, rows.copies])
    errors = _errors(kind, _values(metric.predictions, candidates), _values(metric.references, owners))
    if errors is None:
        return None
    order = np.arange(len(candidates))
    chosen = np.lexsort((order, -errors, owners))  # per owner: largest error first, then table order
    first = np.ones(len(chosen), dtype=bool)
    first[1:] = owners[chosen][1:] != owners[chosen][:-1]
    picked = chosen[first]
    return _finite(metric.compute(predictions=_values(metric.predictions, candidates[picked]),
                                  references=_values(metric.references, owners[picked])))


def _cells(twins: Twins) -> list[tuple[str, Any, NDArray[Any]]]:
    """(perturbation, severity, mask over the copies) per cell, sorted; ``all`` pools severities."""
    import numpy as np

    cells: list[tuple[str, Any, NDArray[Any]]] = []
    for name in sorted(set(twins.perturbations)):
        of_name = twins.perturbations == name
        if twins.severities is None:
            cells.append((name, None, of_name))
            continue
        levels = sorted(set(twins.severities[of_name]), key=_severity_order)
        cells += [(name, level, of_name & _equal(twins.severities, level)) for level in levels]
        if len(levels) > 1:
            cells.append((name, "all", of_name))
    return cells


def _equal(values: NDArray[Any], value: Any) -> NDArray[Any]:
    """Elementwise ``values == value`` over an object array (``None`` included)."""
    import numpy as np

    found = np.zeros(len(values), dtype=bool)
    found[:] = values == value
    return found


def _severity_order(value: Any) -> tuple[int, float, str]:
    if value is None:
        return (0, 0.0, "")
    if isinstance(value, (int, float)):
        return (1, float(value), "")
    return (2, 0.0, str(value))


class PerturbedCopies:
    """Degradation on hidden perturbed copies of the test inputs (see the module docstring)."""

    info = AnalysisInfo(
        id="aibench.perturbed_copies",
        description="""Degradation on hidden perturbed copies of the test inputs (prediction submissions): clean
            vs perturbed score, relative drop, prediction flip rate and HELM's per-instance worst case, per
            perturbation and severity.""",
        params_schema=PARAMS_SCHEMA,
        summaries=(
            SummarySpec("clean.{metric}", "metric", "The metric over the original (unperturbed) inputs."),
            SummarySpec("perturbed.{metric}", "metric", "The metric over every perturbed copy."),
            SummarySpec("relative_drop.{metric}", "minimize",
                        "(clean - perturbed) / |clean|, signed so that a degradation is positive."),
            SummarySpec("worst_case.{metric}", "metric",
                        "The metric over the worst prediction of each original and its copies (HELM)."),
            SummarySpec("flip_rate", "minimize", "The share of copies whose prediction differs from their original's."),
        ),
    )

    def analyse(self, context: AnalysisContext, **params: Any) -> AnalysisResult:
        """The degradation of one submission on the copies of ``params['table']``."""
        params = _checked(params)
        metrics = _chosen(context, params)
        twins = read_twins(context, params["table"], params["columns"])
        summaries: list[Summary] = []
        groups: list[GroupStat] = []
        rows_out: list[list[Any]] = []
        notes: list[str] = []
        cells = _cells(twins)
        flip_key = params.get("flip_metric") or metrics[0].key
        flip_metric = context.metrics[flip_key]
        located: list[tuple[Any, _Rows]] = []  # metrics reading the same tables have the same ids

        def locate(metric: MetricData) -> _Rows:
            import numpy as np

            for ids, rows in located:
                if len(ids) == len(metric.ids) and np.array_equal(ids, metric.ids):
                    return rows
            located.append((metric.ids, _locate(metric, twins)))
            return located[-1][1]

        flip_rows = locate(flip_metric)
        flips = _differs(_kind(flip_metric), _values(flip_metric.predictions, flip_rows.copies),
                         _values(flip_metric.predictions, flip_rows.originals), float(params["tolerance"]))
        for metric in metrics:
            rows = locate(metric)
            _check_references(metric, rows, twins)
            clean = _score(metric, rows.clean, rows.clean)
            perturbed = _score(metric, rows.copies, rows.originals)
            worst = worst_case(metric, rows)
            if worst is None:
                notes.append(f"worst_case.{metric.key} is not computed: its predictions are {_kind(metric)}s, which "
                             "have no per-example error without the metric's class order.")
            summaries += [
                Summary(f"clean.{metric.key}", clean, description=f"{metric.label} on the original inputs"),
                Summary(f"perturbed.{metric.key}", perturbed, description=f"{metric.label} on the perturbed copies"),
                Summary(f"relative_drop.{metric.key}", relative_drop(clean, perturbed, metric.direction),
                        description=f"relative drop of {metric.label} from the originals to the copies"),
                Summary(f"worst_case.{metric.key}", worst,
                        description=f"{metric.label} over each original's worst prediction among it and its copies"),
            ]
            for name, level, mask in cells:
                try:  # a metric undefined on a few copies (one class only, say) leaves its cell empty
                    score = _score(metric, rows.copies[mask], rows.originals[mask])
                except MetricInputError as error:
                    score = None
                    notes.append(f"{metric.key} on {name}{'' if level is None else f' severity {level}'}: not "
                                 f"computed ({error}).")
                flip = float(flips[mask].mean()) if mask.any() else None
                rows_out.append([metric.key, name, level, int(mask.sum()), score,
                                 relative_drop(clean, score, metric.direction), flip])
                groups.append(GroupStat({"perturbation": name, "severity": "" if level is None else str(level)},
                                        int(mask.sum()), metric.key, score))
        summaries.append(Summary("flip_rate", float(flips.mean()) if len(flips) else None,
                                 description=f"share of copies whose prediction ({flip_key}) differs from their "
                                             "original's"))
        uncovered = len(flip_rows.clean) - len(set(flip_rows.originals.tolist()))
        if uncovered:
            notes.append(f"{uncovered} of {len(flip_rows.clean)} original inputs have no perturbed copy; they count in "
                         "the clean and worst-case scores as they are.")
        notes.append(f"{len(twins.copy_ids)} perturbed copies of {len(set(twins.original_ids.tolist()))} originals; "
                     "worst case: per original, the prediction with the largest error among it and its copies.")
        table = {"title": "Degradation by perturbation and severity",
                 "columns": ["metric", "perturbation", "severity", "n", "score", "relative_drop", "flip_rate"],
                 "rows": rows_out}
        return AnalysisResult(summaries=summaries, groups=groups, tables=[table], notes=notes)


def _checked(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` checked against the schema (when jsonschema_rs is installed: on the host; in a
    wrapped runtime ``aibench wrap`` checked them), with the defaults filled in."""
    try:
        import jsonschema_rs
    except ImportError:
        validator = None
    else:
        validator = jsonschema_rs.validator_for(dict(PARAMS_SCHEMA))
    problems = [f"{'/'.join(map(str, e.instance_path)) or 'params'}: {e.message}"
                for e in (validator.iter_errors(dict(params)) if validator is not None else ())]
    if problems:
        raise InvalidParamsError(f"aibench.perturbed_copies: invalid params {dict(params)!r}: {'; '.join(problems)} "
                                 f"({_ORGANISER}, in the robustness entry of aibench.json)")
    defaults = {"original": "original_id", "perturbation": "perturbation", "severity": None}
    return {"table": "perturbations", "tolerance": 0, **params,
            "columns": {**defaults, **dict(params.get("columns") or {})}}


def _chosen(context: AnalysisContext, params: Mapping[str, Any]) -> list[MetricData]:
    """The metrics to analyse: ``params['metrics']`` in order, or every one with one prediction per id."""
    available = list(context.metrics)
    named = list(params.get("metrics") or [])
    flip = params.get("flip_metric")
    for key in [*named, *([flip] if flip else [])]:
        if key not in context.metrics:
            raise DataError(f"aibench.perturbed_copies: params names the metric {key!r}, which is not among the "
                            "phase's metrics whose inputs could be read "
                            f"({', '.join(map(repr, available)) or 'none'}). "
                            f"Name a manifest metric key ({_ORGANISER}); if it is one, its own failure says why it "
                            "could not be read.")
    chosen = [context.metrics[k] for k in named] or [m for m in context.metrics.values()
                                                     if _kind(m) not in UNSUPPORTED_KINDS]
    refused = [m.key for m in chosen if _kind(m) in UNSUPPORTED_KINDS]
    if refused:
        raise DataError(f"aibench.perturbed_copies: the metric(s) {', '.join(map(repr, refused))} take "
                        f"{_kind(context.metrics[refused[0]])} predictions, not one prediction per id: leave them out "
                        f"of params.metrics ({_ORGANISER}).")
    if not chosen:
        raise DataError("aibench.perturbed_copies: no metric with one prediction per id could be analysed (metrics "
                        f"whose inputs could be read: {', '.join(map(repr, available)) or 'none'}); each metric's own "
                        "failure says why (for ids without a prediction: predict every row of the test inputs, the "
                        f"perturbed copies included, {_PARTICIPANT}).")
    return chosen


perturbed_copies = PerturbedCopies()


@hookimpl
def aibench_register_robustness_checkers(register: Register) -> None:
    register(perturbed_copies)


@hookimpl
def aibench_register_reporters(register: Register) -> None:
    from .perturbed_copies_page import DegradationSection

    register(DegradationSection())
