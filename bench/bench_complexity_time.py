"""The time ratio's stability: the built-in meter aibench.time on a digits-size PyTorch model
against the organiser's reference, measured again and again in the same run.

- **same model**: the submission's model against the reference, ``--repeats`` times (10); the
  ratios must vary by less than 10% (max/min - 1; the coefficient of variation is shown too),
  while the raw p50 latency of the same model, the baseline a ratio is meant to beat, is shown
  varying with the machine's load over the same measurements;
- **twice as slow**: the same model run twice per query, against the same reference, as many
  times: the median of its ratios over the median of the same model's must be 2 within 15%;
- each measurement's wall time (target: 1 to 3 s with the meter's defaults);
- the pooled ratio (median over all queries of each side) is shown beside the meter's ratio
  (median over rounds of each round's ratio): the reason the meter uses the latter.

The models: the scikit-learn digits (8x8 images, 64 features, 10 classes) through an MLP, the
reference 64-64-10, the submission 64-128-64-10; weights untrained (they do not change the time),
queries one image each (batch 1). ``--load N`` starts N busy-looping processes for the duration,
to show the ratio holding on a loaded machine.

Run: .venv/bin/python bench/bench_complexity_time.py [--repeats 10] [--load 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import statistics
import sys
import time
from typing import Any


def _busy(stop: Any) -> None:
    while not stop.is_set():
        for _ in range(100_000):
            pass


def _workloads() -> tuple[Any, Any, Any]:
    import torch
    from sklearn.datasets import load_digits

    from aibench_plugins import Workload

    torch.manual_seed(0)
    images = torch.tensor(load_digits().data[:256], dtype=torch.float32) / 16.0
    queries = [row.unsqueeze(0) for row in images]

    def mlp(*sizes: int) -> Any:
        layers: list[Any] = []
        for a, b in zip(sizes, sizes[1:]):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        return torch.nn.Sequential(*layers[:-1]).eval()

    class Twice(torch.nn.Module):
        """The same model made twice as slow: every query runs it twice."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: Any) -> Any:
            self.model(x)
            return self.model(x)

    def workload(name: str, model: Any) -> Workload:
        def predict(query: Any) -> Any:
            with torch.inference_mode():
                return model(query)

        return Workload(name, predict, queries, model)

    submission = mlp(64, 128, 64, 10)
    return (workload("submission", submission), workload("submission", Twice(submission)),
            workload("reference", mlp(64, 64, 10)))


def _measure(meter: Any, submission: Any, reference: Any, seed: int) -> dict[str, Any]:
    from aibench_plugins import Hardware, MeterContext

    started = time.perf_counter()
    result = meter.measure(MeterContext(submission, reference, Hardware(), seed=seed))
    elapsed = time.perf_counter() - started
    ratio = result.measurement("time.ratio")
    p50 = result.measurement("latency.p50")
    return {"ratio": ratio.value, "low": ratio.low, "high": ratio.high, "pooled": ratio.details["pooled_ratio"],
            "rounds": ratio.details["rounds"], "queries": ratio.details["queries"], "p50_ms": p50.value,
            "reference_p50_ms": p50.reference, "seconds": elapsed}


def _spread(values: list[float]) -> tuple[float, float]:
    return max(values) / min(values) - 1, statistics.pstdev(values) / statistics.fmean(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--load", type=int, default=0, help="busy-looping processes running meanwhile")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    from aibench_plugins.default_plugins.complexity.time import TimeMeter

    same_model, twice_model, reference = _workloads()
    meter = TimeMeter()
    stop = multiprocessing.Event()
    loaders = [multiprocessing.Process(target=_busy, args=(stop,), daemon=True) for _ in range(args.load)]
    for process in loaders:
        process.start()
    try:
        same = [_measure(meter, same_model, reference, seed) for seed in range(args.repeats)]
        twice = [_measure(meter, twice_model, reference, seed) for seed in range(args.repeats)]
    finally:
        stop.set()
        for process in loaders:
            process.join()

    ratio_spread, ratio_cv = _spread([r["ratio"] for r in same])
    pooled_spread, pooled_cv = _spread([r["pooled"] for r in same])
    raw_spread, raw_cv = _spread([r["p50_ms"] for r in same])
    quotient = statistics.median(r["ratio"] for r in twice) / statistics.median(r["ratio"] for r in same)
    seconds = [r["seconds"] for r in same + twice]
    checks = {
        "same model: ratios vary by < 10% (max/min - 1)": ratio_spread < 0.10,
        "twice as slow: ratio x2 within 15%": abs(quotient / 2 - 1) < 0.15,
        "one measurement takes 1 to 3 s (median)": 1.0 <= statistics.median(seconds) <= 3.0,
    }
    result = {
        "benchmark": "complexity_time", "repeats": args.repeats, "load": args.load,
        "machine": f"{platform.node()} {platform.machine()}, {multiprocessing.cpu_count()} CPUs, Python "
                   f"{platform.python_version()}, torch {torch.__version__}",
        "same": same, "twice": twice,
        "same_ratio_spread": ratio_spread, "same_ratio_cv": ratio_cv,
        "same_pooled_spread": pooled_spread, "same_pooled_cv": pooled_cv,
        "same_raw_p50_spread": raw_spread, "same_raw_p50_cv": raw_cv,
        "twice_over_same": quotient, "seconds_median": statistics.median(seconds),
        "checks": checks, "pass": all(checks.values()),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if result["pass"] else 1
    print(f"aibench.time stability ({result['machine']}; {args.load} busy processes)")
    print(f"{'run':<16}{'ratio':>8}{'low':>8}{'high':>8}{'pooled':>8}{'p50 ms':>9}{'ref p50':>9}{'rounds':>8}"
          f"{'s':>6}")
    for label, rows in (("same", same), ("twice", twice)):
        for i, r in enumerate(rows):
            print(f"{label + ' ' + str(i + 1):<16}{r['ratio']:>8.3f}{r['low']:>8.3f}{r['high']:>8.3f}"
                  f"{r['pooled']:>8.3f}{r['p50_ms']:>9.4f}{r['reference_p50_ms']:>9.4f}{r['rounds']:>8}"
                  f"{r['seconds']:>6.2f}")
    print(f"same model, {args.repeats} measurements: time.ratio max/min-1 {ratio_spread:.2%}, CV {ratio_cv:.2%}; "
          f"pooled ratio {pooled_spread:.2%} (CV {pooled_cv:.2%}); raw p50 ms {raw_spread:.2%} (CV {raw_cv:.2%})")
    print(f"twice as slow: median ratio {statistics.median(r['ratio'] for r in twice):.3f} over the same model's "
          f"{statistics.median(r['ratio'] for r in same):.3f} = {quotient:.3f} (target 2 within 15%)")
    print(f"one measurement: median {statistics.median(seconds):.2f} s (min {min(seconds):.2f}, max "
          f"{max(seconds):.2f})")
    for name, ok in checks.items():
        print(f"  {'yes' if ok else 'NO '}  {name}")
    print("PASS: every target met" if result["pass"] else
          "FAIL: " + ", ".join(name for name, ok in checks.items() if not ok))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
