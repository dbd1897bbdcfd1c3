"""Ranking stability (``aibench leaderboard``) for 100 submissions x 10,000 cases x 1000 bootstrap
samples, against a naive per-replicate loop measured in the same run.

- per-case metric (accuracy: correctness 0/1): the leaderboard's path (seeded count vectors, one
  matrix product per chunk of samples, vectorised ranks, rank distributions, Kendall's tau) for
  all 1000 samples; target under 60 s;
- confusion-matrix metric (macro F1): weighted matrices by one sparse product per chunk, then the
  metric's own ``from_confusion`` per sample and submission; target under 60 s;
- the naive baseline: per sample, draw the case indices, recompute every submission's metric with
  its component on the resampled rows, rank with ``scipy.stats.rankdata``; measured on a few
  samples and scaled to 1000 (ratio = naive / leaderboard);
- the pairwise one-sided Wilcoxon tests (all 4,950 pairs, both directions), for information.

Run: .venv/bin/python bench/bench_ranking.py [--submissions 100] [--cases 10000] [--replicates 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

TARGET_S = 60.0


def phase(submissions: int, cases: int, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """Ten-class truth; submission ``s`` is right with probability 0.6 + 0.3 s / submissions."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 10, cases)
    out = []
    for s in range(submissions):
        right = rng.random(cases) < 0.6 + 0.3 * s / submissions
        out.append(np.where(right, truth, (truth + rng.integers(1, 10, cases)) % 10))
    return truth, out


def columns(metric: Any, params: dict[str, Any], truth: np.ndarray, predictions: list[np.ndarray]) -> Any:
    from aibench_plugins.components.analysis import MetricData
    from aibench_plugins.leaderboard.cases import column_for

    ids = np.arange(len(truth))
    return column_for("m", "m", 4, [MetricData("m", "m", metric.info, params, metric, ids, p, truth)
                                    for p in predictions])


def leaderboard_path(column: Any, replicates: int) -> tuple[float, dict[str, Any]]:
    """The leaderboard's stability analysis of one column ranking, timed end to end."""
    from aibench_plugins.leaderboard import stability
    from aibench_plugins.leaderboard.ranking import Ranking

    ranking = Ranking("metric", ("m",), "m")
    started = time.perf_counter()
    values = stability.bootstrap_values([column], replicates, seed=0)
    full = column.values[None, :, None]
    _, rank_full = ranking.evaluate(full, ["m"], [column.direction])
    scores, ranks = ranking.evaluate(values, ["m"], [column.direction])
    summary = stability.rank_summary(ranks, 0.95)
    taus, _ = stability.kendall_taus(ranks, rank_full[0])
    low, high = stability.score_interval(scores, 0.95)
    seconds = time.perf_counter() - started
    return seconds, {"tau_median": float(np.median(taus)), "rank_high_max": float(summary["high"].max()),
                     "score_low_min": float(low.min()), "score_high_max": float(high.max())}


def naive_per_replicate(metric: Any, params: dict[str, Any], truth: np.ndarray, predictions: list[np.ndarray],
                        replicates: int) -> float:
    """Seconds per sample of the naive loop: indices drawn, each submission's metric recomputed, ranked."""
    from scipy.stats import rankdata

    rng = np.random.default_rng(0)
    n = len(truth)
    started = time.perf_counter()
    for _ in range(replicates):
        rows = rng.integers(0, n, n)
        values = []
        for predicted in predictions:
            state = metric(**params)
            state.update(predictions=predicted[rows], references=truth[rows])
            values.append(state.compute()[metric.info.primary])
        rankdata(-np.asarray(values), method="min")
    return (time.perf_counter() - started) / replicates


def wilcoxon_all_pairs(column: Any) -> float:
    from aibench_plugins.leaderboard import stability

    started = time.perf_counter()
    stability.wilcoxon_pvalues(column.per_case, True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--naive-replicates", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from aibench_plugins.default_plugins.classification import accuracy, f1

    truth, predictions = phase(args.submissions, args.cases)
    rows = []
    for name, metric, params in (("accuracy (per-case)", accuracy, {}), ("macro F1 (confusion)", f1,
                                                                         {"average": "macro"})):
        column = columns(metric, params, truth, predictions)
        seconds, check = leaderboard_path(column, args.replicates)
        naive = naive_per_replicate(metric, params, truth, predictions, args.naive_replicates) * args.replicates
        rows.append({"case": name, "method": column.method, "seconds": round(seconds, 2),
                     "naive_s": round(naive, 1), "ratio": round(naive / seconds, 1), "target_s": TARGET_S,
                     "ok": seconds < TARGET_S, **check})
        if column.per_case is not None:
            wilcoxon = wilcoxon_all_pairs(column)
    result = {"submissions": args.submissions, "cases": args.cases, "replicates": args.replicates,
              "naive_measured_on": args.naive_replicates, "wilcoxon_all_pairs_s": round(wilcoxon, 2),
              "machine": f"{platform.machine()} {platform.python_version()} numpy {np.__version__}",
              "rows": rows, "pass": all(r["ok"] for r in rows)}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if result["pass"] else 1
    print(f"ranking stability: {args.submissions} submissions x {args.cases:,} cases x {args.replicates} samples "
          f"({result['machine']}; naive measured on {args.naive_replicates} samples, scaled)")
    print(f"{'case':<24}{'method':<11}{'s':>8}{'naive s':>10}{'ratio':>8}{'target':>8}  ok   tau median")
    for r in rows:
        print(f"{r['case']:<24}{r['method']:<11}{r['seconds']:>8}{r['naive_s']:>10}{r['ratio']:>8}"
              f"{r['target_s']:>8}  {'yes' if r['ok'] else 'NO ':<4} {r['tau_median']:.3f}")
    print(f"pairwise one-sided Wilcoxon, all {args.submissions * (args.submissions - 1) // 2} pairs x 2 directions: "
          f"{result['wilcoxon_all_pairs_s']} s")
    print("PASS: every target met" if result["pass"] else "FAIL: a target was missed")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
