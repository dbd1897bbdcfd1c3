"""The robustness checker ``aibench.input_perturbations``: how a code submission's scores degrade
when the inputs its ingestion program feeds the model are perturbed.

The organiser declares the perturbations (``params``, :mod:`aibench_plugins.data.perturbations`);
``aibench run`` and the wrapped ingestion re-run the prediction step once per perturbation and
severity, and the host gives this checker each re-run's ``input/res`` as
``context.perturbed_runs["gaussian_noise-3"]``. For every metric of the phase (or those in
``params.metrics``) it gives:

* ``clean.{metric}``: the metric on the original run;
* ``perturbed.{metric}``: its mean over the perturbed runs that completed;
* ``relative_drop.{metric}``: ``(clean - perturbed) / |clean|`` for a metric to maximise,
  ``(perturbed - clean) / |clean|`` for one to minimise (a degradation is positive);
* ``flip_rate``: the share of rows whose prediction (of the first metric, or ``params.flip_metric``)
  differs from the clean run's, averaged over the completed runs (argmax for probabilities);
* ``failed_runs``: how many perturbed runs crashed, timed out or wrote no readable predictions; a
  failed run counts for its own perturbation only, never for the clean scores;
* ``mce`` and ``relative_mce`` when ``params.reference_errors`` gives the reference model's errors
  (ImageNet-C, Hendrycks & Dietterich 2019): with ``E = 1 - value`` for a metric to maximise
  (``value`` for one to minimise) of ``params.error_metric`` (default: the first metric),
  ``CE_c = sum_s E(c, s) / sum_s E_ref(c, s)`` over the declared severities of corruption ``c``,
  ``mce = mean_c CE_c``; ``relative_mce`` uses ``E(c, s) - E_clean`` and the reference's
  ``clean`` error. Either is ``None`` when a run of a declared corruption failed (an mCE over fewer
  corruptions is not comparable between submissions).

Its tables: one row per corruption and severity (status, each metric, its drop, the flip rate), and
the CE per corruption when mCE applies. The page section is :mod:`.perturbation_page`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aibench_plugins import AnalysisContext, AnalysisInfo, AnalysisResult, MetricData, ReadError, Register, Summary, \
    SummarySpec, hookimpl
from aibench_plugins.data import RUN_STATUS_FILE, PerturbationError, PerturbationPlan, PerturbationRun, \
    perturbation_names

COMPONENT_ID = "aibench.input_perturbations"
MAX_STATUS_BYTES = 64 * 1024

PARAMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["inputs", "perturbations"],
    "additionalProperties": False,
    "properties": {
        "inputs": {
            "type": "object", "required": ["file", "id", "kind"], "additionalProperties": False,
            "properties": {
                "file": {"type": "string", "minLength": 1}, "id": {"type": "string", "minLength": 1},
                "kind": {"enum": ["image", "tabular", "text"]},
                "columns": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "shape": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": 3},
                "range": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}}},
        "perturbations": {
            "type": "array", "minItems": 1,
            "items": {"type": "object", "required": ["name"], "additionalProperties": False,
                      "properties": {"name": {"enum": sorted({n for k in ("image", "tabular", "text")
                                                              for n in perturbation_names(k)})},
                                     "severities": {"type": "array", "minItems": 1,
                                                    "items": {"type": "integer", "minimum": 1, "maximum": 5}}}}},
        "metrics": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "flip_metric": {"type": "string"},
        "error_metric": {"type": "string"},
        "reference_errors": {
            "type": "object",
            "properties": {"clean": {"type": "number"}},
            "additionalProperties": {
                "oneOf": [{"type": "object", "additionalProperties": {"type": "number"}},
                          {"type": "array", "items": {"type": "number"}, "minItems": 5, "maxItems": 5}]}},
    },
}


class InputPerturbations:
    """Clean vs perturbed scores of a code submission, per corruption and severity, the relative
    drop, the flip rate and (with the reference model's errors) mCE (module docstring)."""

    info = AnalysisInfo(
        id=COMPONENT_ID,
        description="Degradation of a code submission's scores when its inputs are perturbed (ImageNet-C "
                    "corruptions, tabular noise, text typos), per corruption and severity, with flip rate and mCE.",
        params_schema=PARAMS_SCHEMA,
        summaries=(SummarySpec("clean.{metric}", "metric", "the metric on the original inputs"),
                   SummarySpec("perturbed.{metric}", "metric", "its mean over the perturbed runs that completed"),
                   SummarySpec("relative_drop.{metric}", "minimize", "relative degradation (positive: worse)"),
                   SummarySpec("flip_rate", "minimize", "share of predictions that change under perturbation"),
                   SummarySpec("failed_runs", "minimize", "perturbed runs that crashed, hung or wrote nothing"),
                   SummarySpec("mce", "minimize", "mean corruption error relative to the reference model"),
                   SummarySpec("relative_mce", "minimize", "relative mCE (errors above the clean error)")),
        needs=("perturbed_runs",),
    )

    def analyse(self, context: AnalysisContext, **params: Any) -> AnalysisResult:
        plan = PerturbationPlan.from_entry({"params": params, "seed": context.seed})
        keys = _metric_keys(context, params.get("metrics"), "metrics")
        flip_key = _metric_keys(context, [params["flip_metric"]], "flip_metric")[0] if "flip_metric" in params \
            else keys[0]
        runs = [_one_run(context, run, keys, flip_key) for run in plan.runs]
        clean = {k: context.metrics[k].compute() for k in keys}
        done = [r for r in runs if r["status"] == "ok"]
        summaries = []
        for key in keys:
            metric = context.metrics[key]
            mean = _mean([r["values"][key] for r in done])
            summaries += [Summary(f"clean.{key}", clean[key], description=f"{metric.label} on the original inputs"),
                          Summary(f"perturbed.{key}", mean,
                                  description=f"{metric.label}, mean over {len(done)} perturbed run(s)"),
                          Summary(f"relative_drop.{key}", _drop(clean[key], mean, metric.direction),
                                  description=f"relative degradation of {metric.label}")]
        summaries += [Summary("flip_rate", _mean([r["flip"] for r in done]),
                              description=f"share of {context.metrics[flip_key].label} predictions that change"),
                      Summary("failed_runs", float(len(runs) - len(done)))]
        tables = [_runs_table(runs, keys, clean, context)]
        notes = [f"{r['run']}: {r['message']}" for r in runs if r["status"] != "ok"]
        if "reference_errors" in params:
            error_key = _metric_keys(context, [params["error_metric"]], "error_metric")[0] \
                if "error_metric" in params else keys[0]
            found = _mce(plan, runs, params["reference_errors"], context.metrics[error_key], clean[error_key])
            summaries += [Summary("mce", found["mce"], description=f"mCE of {context.metrics[error_key].label} "
                                                                    "errors against the reference model"),
                          Summary("relative_mce", found["relative_mce"])]
            tables.append(found["table"])
            notes += found["notes"]
        return AnalysisResult(summaries=summaries, tables=tables, notes=notes)


def _metric_keys(context: AnalysisContext, wanted: Any, field: str) -> list[str]:
    keys = list(context.metrics) if wanted is None else [str(k) for k in wanted]
    unknown = [k for k in keys if k not in context.metrics]
    if unknown or not keys:
        raise PerturbationError(f"params.{field} names {', '.join(unknown) or 'no metric'}, not a metric of the phase "
                                f"(its metrics: {', '.join(context.metrics) or 'none could be read'}). Organiser: "
                                "name metric keys of the manifest")
    return keys


def _one_run(context: AnalysisContext, run: PerturbationRun, keys: Sequence[str], flip_key: str) -> dict[str, Any]:
    """One perturbed run's values, or why it has none (``status`` ``ok``, ``failed``, ``missing``)."""
    found: dict[str, Any] = {"run": run.run_name, "name": run.name, "severity": run.severity, "values": {},
                             "flip": None, "status": "ok", "message": ""}
    folder = context.perturbed_runs.get(run.run_name)
    if folder is None:
        return found | {"status": "missing", "message": "the prediction step was not re-run for it"}
    why = _run_failure(Path(folder))
    if why:
        return found | {"status": "failed", "message": why}
    if context.read_predictions is None:
        raise PerturbationError("the host gives no read_predictions: this version of aibench cannot read the "
                                "perturbed runs' predictions")
    try:
        predictions = {k: context.read_predictions(Path(folder), k) for k in keys}
    except ReadError as error:
        return found | {"status": "failed", "message": f"its predictions cannot be read: {error}"}
    found["values"] = {k: context.metrics[k].compute(predictions=predictions[k]) for k in keys}
    found["flip"] = _flip_rate(context.metrics[flip_key], predictions[flip_key])
    return found


def _run_failure(folder: Path) -> str:
    """Why the re-run in ``folder`` failed, from its status file ('' when it completed)."""
    path = folder / RUN_STATUS_FILE
    if not path.is_file() or path.is_symlink():
        return ""
    try:
        with open(path, "rb") as handle:
            status = json.loads(handle.read(MAX_STATUS_BYTES))
    except (OSError, ValueError):
        return ""
    if not isinstance(status, Mapping):
        return ""
    if status.get("timed_out"):
        return f"the re-run was stopped at its time limit ({status.get('message') or 'time limit'})"
    code = status.get("exit_code")
    if code not in (0, None):
        return f"the re-run exited with code {code}" + (f" ({status['message']})" if status.get("message") else "")
    return ""


def _labels(values: Any) -> Any:
    import numpy as np

    if isinstance(values, list):
        return np.array([repr(sorted(map(str, v))) if isinstance(v, (list, tuple, set)) else str(v) for v in values])
    array = np.asarray(values)
    if array.ndim == 2:
        return array.argmax(axis=1)
    return array.astype(str) if array.dtype.kind in "OUS" else array


def _flip_rate(metric: MetricData, perturbed: Any) -> float | None:
    clean, other = _labels(metric.predictions), _labels(perturbed)
    if len(clean) == 0 or len(clean) != len(other):
        return None
    return float((clean != other).mean())


def _mean(values: Sequence[float | None]) -> float | None:
    numbers = [v for v in values if v is not None and math.isfinite(v)]
    return sum(numbers) / len(numbers) if numbers else None


def _drop(clean: float, perturbed: float | None, direction: str) -> float | None:
    if perturbed is None or clean == 0 or not math.isfinite(clean):
        return None
    change = (clean - perturbed) if direction == "maximize" else (perturbed - clean)
    return change / abs(clean)


def _error(value: float | None, direction: str) -> float | None:
    if value is None:
        return None
    return 1.0 - value if direction == "maximize" else value


def _runs_table(runs: Sequence[Mapping[str, Any]], keys: Sequence[str], clean: Mapping[str, float],
                context: AnalysisContext) -> dict[str, Any]:
    columns = ["corruption", "severity", "status"]
    for key in keys:
        columns += [key, f"drop {key}"]
    rows: list[list[Any]] = [["clean", 0, "ok", *[x for k in keys for x in (clean[k], 0.0)], 0.0]]
    for run in runs:
        row: list[Any] = [run["name"], run["severity"], run["status"]]
        for key in keys:
            value = run["values"].get(key)
            row += [value, _drop(clean[key], value, context.metrics[key].direction)]
        rows.append([*row, run["flip"]])
    return {"title": "Degradation per corruption and severity", "id": "degradation",
            "columns": [*columns, "flip rate"], "rows": rows}


def _reference(errors: Mapping[str, Any], name: str, severity: int) -> float | None:
    given = errors.get(name)
    if isinstance(given, Mapping):
        value = given.get(str(severity))
    elif isinstance(given, list) and len(given) == 5:
        value = given[severity - 1]
    else:
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _mce(plan: PerturbationPlan, runs: Sequence[Mapping[str, Any]], errors: Mapping[str, Any], metric: MetricData,
         clean_value: float) -> dict[str, Any]:
    """CE per corruption, mCE and relative mCE (module docstring)."""
    clean_error, reference_clean = _error(clean_value, metric.direction), errors.get("clean")
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for run in runs:
        by_name.setdefault(str(run["name"]), []).append(run)
    rows: list[list[Any]] = []
    ces: list[float | None] = []
    relatives: list[float | None] = []
    notes: list[str] = []
    for name, items in by_name.items():
        refs = [_reference(errors, name, int(r["severity"])) for r in items]
        mine = [_error(r["values"].get(metric.key), metric.direction) if r["status"] == "ok" else None for r in items]
        if any(x is None for x in refs):
            notes.append(f"mCE: reference_errors gives no error of {name} at every declared severity; it is left out")
            continue
        ce = rce = None
        if all(x is not None for x in mine):
            own = [float(x) for x in mine if x is not None]
            theirs = [float(x) for x in refs if x is not None]
            ce = sum(own) / sum(theirs) if sum(theirs) > 0 else None
            if isinstance(reference_clean, (int, float)) and clean_error is not None:
                above = sum(r - float(reference_clean) for r in theirs)
                rce = sum(m - clean_error for m in own) / above if above > 0 else None
        else:
            notes.append(f"mCE: a run of {name} failed; mce is not given (it would not compare with other submissions)")
        ces.append(ce)
        relatives.append(rce)
        rows.append([name, ce, rce])
    mce = _complete_mean(ces)
    relative = _complete_mean(relatives)
    table = {"title": f"Corruption error against the reference model ({metric.label})", "id": "mce",
             "columns": ["corruption", "CE", "relative CE"], "rows": [*rows, ["mean", mce, relative]]}
    return {"mce": mce, "relative_mce": relative, "table": table, "notes": notes}


def _complete_mean(values: Sequence[float | None]) -> float | None:
    """The mean, or ``None`` when there is none or one is missing."""
    numbers = [v for v in values if v is not None]
    return sum(numbers) / len(numbers) if numbers and len(numbers) == len(values) else None


@hookimpl
def aibench_register_robustness_checkers(register: Register) -> None:
    register(InputPerturbations())


@hookimpl
def aibench_register_reporters(register: Register) -> None:
    from .perturbation_page import InputPerturbationsSection

    register(InputPerturbationsSection())
