"""Bootstrap confidence intervals on 10 million rows: the fast paths of aibench_plugins.stats
against naive row resampling measured in the same run.

- naive: draw n row indices with replacement, score the resample with the metric's own compute
  (a few replicates, timed one by one; the cost of 10,000 is extrapolated from their mean);
- confusion fast path: the confusion matrix counted once, then 10,000 multinomial draws of it,
  every confusion-matrix metric (accuracy, balanced accuracy, precision/recall/F1 in macro, micro
  and weighted averages, MCC, Cohen's kappa) evaluated on each batch of matrices; target < 0.5 s
  after the matrix is built;
- mean fast path: MAE and log loss by the binned bootstrap (per-row values binned once, then
  10,000 multinomial draws of the bin counts), the binning included; target >= 20x faster than
  naive row resampling.

Run: .venv/bin/python bench/bench_bootstrap.py [--rows N] [--naive 3] [--replicates 10000] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def _metric(component: Any, predictions: Any, references: Any, params: dict[str, Any] | None = None) -> Any:
    from aibench_plugins.components.analysis import MetricData

    return MetricData(key=component.info.id.split(".")[-1], label=component.info.id, info=component.info,
                      params=params or {}, component=component, ids=np.arange(len(references)),
                      predictions=predictions, references=references)


def _naive(metrics: list[Any], rows: int, replicates: int) -> float:
    """Seconds per replicate of naive row resampling, all ``metrics`` scored on each resample."""
    rng = np.random.default_rng(1)
    costs = []
    for _ in range(replicates):
        started = time.perf_counter()
        index = rng.integers(0, rows, rows)
        for metric in metrics:
            metric.compute(index)
        costs.append(time.perf_counter() - started)
    return float(np.mean(costs))


def _naive_matrix(cases: list[Any], predicted: Any, truth: Any, replicates: int) -> float:
    """Seconds per replicate of the best naive bootstrap of many confusion-matrix metrics: draw the
    rows, count one matrix of the resample, every metric from it."""
    from aibench_plugins.default_plugins.classification import confusion_matrix

    rng = np.random.default_rng(1)
    costs = []
    for _ in range(replicates):
        started = time.perf_counter()
        index = rng.integers(0, len(truth), len(truth))
        matrix, labels = confusion_matrix(predicted[index], truth[index])
        for metric, params in cases:
            metric.from_confusion(matrix, labels, **params)
        costs.append(time.perf_counter() - started)
    return float(np.mean(costs))


def confusion(rows: int, naive: int, replicates: int) -> list[dict[str, Any]]:
    from aibench_plugins.default_plugins.classification import confusion_matrix
    from aibench_plugins.default_plugins.classification.confusion import (
        accuracy,
        balanced_accuracy,
        cohen_kappa,
        f1,
        mcc,
        precision,
        recall,
    )
    from aibench_plugins.stats import confusion_replicates, metric_interval

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 10, rows)
    predicted = np.where(rng.random(rows) < 0.7, truth, rng.integers(0, 10, rows))
    cases = [(accuracy, {}), (balanced_accuracy, {}), (mcc, {}), (cohen_kappa, {})] + [
        (metric, {"average": average}) for metric in (precision, recall, f1) for average in ("macro", "micro",
                                                                                            "weighted")]
    per_replicate = _naive([_metric(accuracy, predicted, truth)], rows, naive)
    per_replicate_all = _naive_matrix(cases, predicted, truth, naive)
    build, (matrix, labels) = timed(lambda: confusion_matrix(predicted, truth))
    fast, values = timed(lambda: confusion_replicates(matrix, labels, cases, n_boot=replicates, seed=0))
    assert all(len(next(iter(v.values()))) == replicates for v in values)
    one, _ = timed(lambda: confusion_replicates(matrix, labels, [(accuracy, {})], n_boot=replicates, seed=0))
    interval, _ = timed(lambda: metric_interval(_metric(f1, predicted, truth, {"average": "macro"}),
                                                n_boot=replicates, seed=0))
    naive_all = per_replicate_all * replicates
    return [
        _row("naive row resampling, accuracy", per_replicate, None, None, "per replicate (mean of "
             f"{naive})"),
        _row(f"naive, all {len(cases)} metrics (one matrix)", per_replicate_all, None, None,
             f"per replicate (mean of {naive})"),
        _row("confusion matrix, counted once", build, None, None, "one pass"),
        _row(f"{replicates:,} replicates, accuracy", one, per_replicate * replicates, 0.5, "naive extrapolated",
             absolute=True),
        _row(f"{replicates:,} replicates, all {len(cases)} metrics", fast, naive_all, 0.5, "naive extrapolated",
             absolute=True),
        _row("metric_interval BCa, macro F1 (matrix incl.)", interval, naive_all, None, "naive extrapolated"),
    ]


def means(rows: int, naive: int, replicates: int) -> list[dict[str, Any]]:
    from aibench_plugins.default_plugins.classification.scores import log_loss
    from aibench_plugins.default_plugins.regression import mae
    from aibench_plugins.stats import metric_interval, metric_replicates

    rng = np.random.default_rng(2)
    truth = rng.normal(size=rows)
    predicted = truth + rng.standard_t(5, size=rows) * 0.5
    out = []
    metric = _metric(mae, predicted, truth)
    per_replicate = _naive([metric], rows, naive)
    fast, _ = timed(lambda: metric_replicates(metric, n_boot=replicates, seed=0))
    out.append(_row("naive row resampling, MAE", per_replicate, None, None, f"per replicate (mean of {naive})"))
    out.append(_row(f"{replicates:,} replicates, MAE (binning incl.)", fast, per_replicate * replicates, 1 / 20,
                    "naive extrapolated"))
    interval, _ = timed(lambda: metric_interval(metric, n_boot=replicates, seed=0))
    out.append(_row("metric_interval BCa, MAE", interval, per_replicate * replicates, 1 / 20, "naive extrapolated"))
    del truth, predicted
    labels = rng.integers(0, 3, rows)
    scores = rng.random((rows, 3)) + 0.5 * np.eye(3)[labels]
    scores /= scores.sum(axis=1, keepdims=True)
    metric = _metric(log_loss, scores, labels)
    per_replicate = _naive([metric], rows, naive)
    fast, _ = timed(lambda: metric_replicates(metric, n_boot=replicates, seed=0))
    out.append(_row("naive row resampling, log loss", per_replicate, None, None, f"per replicate (mean of {naive})"))
    out.append(_row(f"{replicates:,} replicates, log loss", fast, per_replicate * replicates, 1 / 20,
                    "naive extrapolated"))
    return out


def _row(case: str, seconds: float, baseline: float | None, target: float | None, against: str,
         absolute: bool = False) -> dict[str, Any]:
    """``target``: a ratio to the baseline (``absolute``: seconds) that must not be exceeded."""
    ratio = None if baseline is None else seconds / baseline
    measured = seconds if absolute else ratio
    return {"case": case, "seconds": round(seconds, 4), "baseline": against,
            "baseline_s": None if baseline is None else round(baseline, 2),
            "speedup": None if ratio is None else round(1 / ratio, 1), "target": target, "absolute": absolute,
            "pass": target is None or (measured is not None and measured <= target)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--naive", type=int, default=3, help="naive replicates timed")
    parser.add_argument("--replicates", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = confusion(args.rows, args.naive, args.replicates) + means(args.rows, args.naive, args.replicates)
    result = {"benchmark": "bootstrap", "rows": args.rows, "replicates": args.replicates,
              "machine": f"{platform.node()} {platform.machine()}, Python {platform.python_version()}, "
                         f"numpy {np.__version__}",
              "results": rows, "pass": all(r["pass"] for r in rows)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"bootstrap on {args.rows:,} rows ({result['machine']})")
        print(f"{'case':<48}{'s':>9}  {'baseline':<28}{'base s':>10}{'speedup':>10}{'target':>8}  ok")
        for r in rows:
            target = "-" if r["target"] is None else (
                f"<{r['target']:g}s" if r["absolute"] else f">={1 / r['target']:g}x")
            print(f"{r['case']:<48}{r['seconds']:>9}  {r['baseline']:<28}{r['baseline_s'] or '-':>10}"
                  f"{r['speedup'] or '-':>10}{target:>8}  {'yes' if r['pass'] else 'NO'}")
        print("PASS: every target met" if result["pass"] else
              "FAIL: " + ", ".join(r["case"] for r in rows if not r["pass"]))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
