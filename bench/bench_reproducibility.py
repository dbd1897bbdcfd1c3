"""The reproducibility record's cost (aibench_plugins.run.reproducibility), measured in the same run
against the run it is part of, on bundles/iris-v2 with examples/submissions/iris-v2/good.

Figures, each the median of ``--rounds`` rounds:

- **run**: ``run_bundle`` wall time, local executor (the baseline: what a run costs anyway);
- **record (local)** and **record (docker)**: :func:`collect` alone, hashes given (the runner took
  them anyway for the ledger's columns): plugin versions, seeds, hardware, and for docker the
  engine's version through the SDK (one API call);
- **hash bundle alone**: ``sha256_of_path(bundle)``, what the runner did before the record;
- **hash bundle + parts**: ``sha256_of_path_and_parts(bundle, programs)``, the bundle's hash and
  each program's and data folder's in one pass, what it does now (the parts cost no second read).

Target: the record under 50 ms, and the one-pass hash within 20 % of the bundle's hash alone.

Run: .venv/bin/python bench/bench_reproducibility.py [--rounds 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "compat")]
BUNDLE = REPO / "bundles" / "iris-v2"
SUBMISSION = REPO / "examples" / "submissions" / "iris-v2" / "good"
TARGET_S = 0.050


def median_s(rounds: int, call: Callable[[], Any]) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from codalab_worker_compat import load_bundle

    from aibench_plugins.manifest.limits import effective_limits
    from aibench_plugins.run.hashing import sha256_of_path, sha256_of_path_and_parts
    from aibench_plugins.run.reproducibility import collect, hash_inputs, program_parts
    from aibench_plugins.run.runner import run_bundle

    bundle = load_bundle(BUNDLE)
    parts = program_parts(bundle, None, None)
    programs = hash_inputs(BUNDLE, parts)[1]

    def record(executor: str) -> Callable[[], Any]:
        return lambda: collect(
            bundle=bundle, bundle_path=BUNDLE, bundle_sha256="0" * 64, programs=programs, submission_path=SUBMISSION,
            submission_sha256="0" * 64, manifest_sha256=None, platform="codabench", phase=None, task=None,
            use_plugins=False, executor=executor, described={"executor": executor}, options={},
            limits=effective_limits(None, None, None), host=None, plan=None)

    with tempfile.TemporaryDirectory(prefix="aibench-bench-repro-") as scratch:
        ledger = Path(scratch) / "ledger.sqlite3"
        figures = {
            "run": median_s(args.rounds, lambda: run_bundle(BUNDLE, SUBMISSION, ledger_path=ledger)),
            "record (local)": median_s(args.rounds, record("local")),
            "record (docker)": median_s(args.rounds, record("docker")),
            "hash bundle alone": median_s(args.rounds, lambda: sha256_of_path(BUNDLE)),
            "hash bundle + parts": median_s(args.rounds, lambda: sha256_of_path_and_parts(BUNDLE, parts.values())),
        }
    base = figures["run"]
    if args.json:
        print(json.dumps({"rounds": args.rounds, "median_s": figures, "target_s": TARGET_S}, indent=2))
        return 0
    print(f"reproducibility record, bundles/iris-v2, median of {args.rounds} rounds")
    print(f"{'FIGURE':<22}{'MEDIAN':>12}{'OF THE RUN':>12}")
    for name, value in figures.items():
        print(f"{name:<22}{value * 1000:>9.2f} ms{value / base:>11.1%}")
    worst = max(figures["record (local)"], figures["record (docker)"])
    print(f"record: {worst * 1000:.1f} ms at most, target {TARGET_S * 1000:.0f} ms: "
          + ("met" if worst < TARGET_S else "NOT met"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
