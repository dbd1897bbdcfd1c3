"""Wrapped against original scoring, in the same image and the same run.

A v2 bundle is generated with a scoring program written the way organisers write them
(pandas reads the files, scikit-learn computes accuracy) on ``--rows`` predictions, and a
manifest with three built-in metric plugins (balanced accuracy, macro F1, MCC). It is
wrapped with ``aibench wrap``; the scoring step of both bundles runs through the hardened
Docker executor in the py312-like image (``make images``), alternating, ``--runs`` times.
The figure is the median scoring-container wall time of the wrapped bundle over the
original's (target: under 1.15x). With two usable cores the runtime computes the metrics
beside the original command; the same bundle in a container limited to one CPU shows the
cost when they run after it. The iris example's scorer (standard library only, 40 ms)
is shown too: there the runtime's fixed cost (importing numpy and pandas) dominates.

Run: make bench   (or .venv/bin/python bench/bench_wrap.py [--rows N] [--runs N] [--json])
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
IMAGE = os.environ.get("AIBENCH_TEST_IMAGE", "codalab-compat/py312:bookworm")

SCORER = '''\
import json, os, sys
import pandas as pd
from sklearn.metrics import accuracy_score

input_dir, output_dir = sys.argv[1], sys.argv[2]
truth = pd.read_csv(os.path.join(input_dir, "ref", "labels.csv"))
predicted = pd.read_csv(os.path.join(input_dir, "res", "predictions.csv"))
merged = truth.merge(predicted, on="id", suffixes=("_true", "_pred"))
with open(os.path.join(output_dir, "scores.json"), "w") as handle:
    json.dump({"accuracy": accuracy_score(merged["label_true"], merged["label_pred"])}, handle)
'''

SPEC = """\
version: 2
title: Wrap benchmark
docker_image: codalab/codalab-legacy:py312
tasks:
  - index: 0
    name: Scoring
    scoring_program: scoring_program
    reference_data: reference_data
phases:
  - index: 0
    name: Development
    execution_time_limit: 600
    tasks: [0]
leaderboards:
  - title: Results
    key: main
    columns:
      - title: Accuracy
        key: accuracy
        index: 0
        sorting: desc
"""

MANIFEST = {
    "schema_version": 1,
    "data": {"predictions": {"file": "predictions.csv", "id": "id", "columns": ["label"]},
             "references": {"file": "labels.csv", "id": "id", "columns": ["label"]}},
    "metrics": [{"use": "aibench.balanced_accuracy", "key": "balanced_accuracy"},
                {"use": "aibench.f1", "key": "macro_f1", "params": {"average": "macro"}},
                {"use": "aibench.mcc", "key": "mcc"}],
}


def make_bundle(root: Path, rows: int) -> tuple[Path, Path]:
    import numpy as np

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 10, rows)
    predicted = np.where(rng.random(rows) < 0.8, truth, rng.integers(0, 10, rows))
    bundle, submission = root / "bundle", root / "submission"
    (bundle / "scoring_program").mkdir(parents=True)
    (bundle / "reference_data").mkdir()
    submission.mkdir()
    (bundle / "competition.yaml").write_text(SPEC)
    (bundle / "aibench.json").write_text(json.dumps(MANIFEST))
    (bundle / "scoring_program" / "score.py").write_text(SCORER)
    (bundle / "scoring_program" / "metadata.yaml").write_text("command: python3 score.py /app/input /app/output\n")
    ids = [f"s{i}" for i in range(rows)]
    (bundle / "reference_data" / "labels.csv").write_text(
        "id,label\n" + "".join(f"{i},{v}\n" for i, v in zip(ids, truth)))
    (submission / "predictions.csv").write_text("id,label\n" + "".join(f"{i},{v}\n" for i, v in zip(ids, predicted)))
    return bundle, submission


def scoring_seconds(bundle: Path, submission: Path, executor: Any, work: Path) -> float:
    from codalab_worker_compat import load_bundle, run_submission

    result = run_submission(load_bundle(bundle), submission, executor, work, worker="codabench")
    if result.status != "finished":
        raise SystemExit(f"{bundle.name}: {result.message}")
    step = next(s for s in result.steps if s.step == "scoring")
    return sum(p.elapsed_s for p in step.processes)


def compare(name: str, bundle: Path, submission: Path, executor: Any, root: Path, runs: int) -> dict[str, Any]:
    from aibench_plugins.wrap.wrapping import wrap_bundle

    wrapped = root / f"{name}-wrapped.zip"
    wrap_bundle(bundle, wrapped)
    original_times, wrapped_times = [], []
    for run in range(runs):
        original_times.append(scoring_seconds(bundle, submission, executor, root / f"{name}-o{run}"))
        wrapped_times.append(scoring_seconds(wrapped, submission, executor, root / f"{name}-w{run}"))
    original, wrapped_median = statistics.median(original_times), statistics.median(wrapped_times)
    return {"case": name, "original_s": round(original, 3), "wrapped_s": round(wrapped_median, 3),
            "ratio": round(wrapped_median / original, 3), "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from codalab_worker_compat import DockerExecutor

    executor = DockerExecutor(IMAGE, memory_mb=4096, cpus=None)
    one_cpu = DockerExecutor(IMAGE, memory_mb=4096, cpus=1.0)
    with tempfile.TemporaryDirectory(prefix="aibench-bench-wrap-") as scratch:
        root = Path(scratch)
        bundle, submission = make_bundle(root / "synthetic", args.rows)
        rows = [compare(f"pandas+sklearn scorer, {args.rows:,} rows", bundle, submission, executor, root, args.runs),
                compare("same, container limited to 1 CPU", bundle, submission, one_cpu, root, args.runs),
                compare("iris example (stdlib scorer, 45 rows)", REPO / "bundles" / "iris-v2",
                        REPO / "examples" / "submissions" / "iris-v2" / "good", executor, root, args.runs)]
    executor.close()
    one_cpu.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"wrapped vs original scoring step, Docker executor, image {IMAGE}, median of {args.runs}; "
          f"{platform.node()} ({os.cpu_count()} cores), Python {sys.version.split()[0]}")
    print(f"{'case':<44} {'original s':>10} {'wrapped s':>10} {'ratio':>7}  target")
    for row in rows:
        target = "< 1.15" if row is rows[0] else "(metrics after the scorer)" if row is rows[1] else \
            "(fixed cost shown)"
        print(f"{row['case']:<44} {row['original_s']:>10.3f} {row['wrapped_s']:>10.3f} {row['ratio']:>7.3f}  {target}")
    if rows[0]["ratio"] >= 1.15:
        print("target MISSED: the wrapped scoring step takes 1.15x the original's or more (README: Benchmarks)")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
