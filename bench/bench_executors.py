"""The Docker executor against the local executor, step by step, in the same run.

The digits-ingestion-v2 bundle and its good submission (Codabench rules, no plugins) run through
``run_submission`` with each executor, runs interleaved. Each process is timed from ``start()``
to the moment ``wait()`` returns its result, so the Docker figures include creating, attaching,
starting, inspecting and removing the container. The local executor (bubblewrap when it works)
is the baseline. Target: under 750 ms extra per process in a container.

Run: make bench   (or .venv/bin/python bench/bench_executors.py [--runs N] [--image IMAGE] [--json])
Needs a Docker engine and the image (make images).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundles" / "digits-ingestion-v2"
SUBMISSION = REPO / "examples" / "submissions" / "digits-ingestion-v2" / "good"
TARGET_EXTRA_MS = 750.0


class _Timed:
    """A started process whose ``wait`` records the wall time since ``start``."""

    def __init__(self, process: Any, name: str, started: float, times: dict[str, float]) -> None:
        self.process, self.name, self.started, self.times = process, name, started, times

    def wait(self, timeout: float | None = None) -> Any:
        result = self.process.wait(timeout)
        if result is not None and self.name not in self.times:
            self.times[self.name] = (time.perf_counter() - self.started) * 1000
        return result

    def kill(self) -> Any:
        return self.process.kill()


class TimingExecutor:
    """Wraps an executor; ``times`` maps each process name to its wall time in ms."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.times = inner, inner.name, {}  # type: dict[str, float]

    def start(self, spec: Any) -> _Timed:
        started = time.perf_counter()
        return _Timed(self.inner.start(spec), spec.name, started, self.times)


def one_run(executor: Any, bundle: Any) -> dict[str, float]:
    from codalab_worker_compat import run_submission

    timed = TimingExecutor(executor)
    with tempfile.TemporaryDirectory(prefix="aibench-bench-") as work:
        started = time.perf_counter()
        result = run_submission(bundle, SUBMISSION, timed, Path(work), worker="codabench")
        total = (time.perf_counter() - started) * 1000
    if result.status != "finished":
        raise SystemExit(f"{executor.name}: the run failed: {result.message}")
    return {**{f"{name} ({'prediction' if 'ingestion' in name else 'scoring'} step)": ms
               for name, ms in timed.times.items()}, "whole run (unpack, both steps, scores)": total}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--image", default=os.environ.get("AIBENCH_TEST_IMAGE", "codalab-compat/py312:bookworm"))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    from codalab_worker_compat import DockerExecutor, LocalExecutor, load_bundle

    bundle = load_bundle(BUNDLE)
    setup_started = time.perf_counter()
    docker = DockerExecutor(args.image)
    setup_ms = (time.perf_counter() - setup_started) * 1000
    local = LocalExecutor()
    samples: dict[str, dict[str, list[float]]] = {"local": {}, "docker": {}}
    try:
        for executor in (local, docker):  # warm-up: page cache, bwrap probe, the engine's image layers
            one_run(executor, bundle)
        for _ in range(args.runs):
            for executor in (local, docker):
                for case, ms in one_run(executor, bundle).items():
                    samples[executor.name].setdefault(case, []).append(ms)
    finally:
        docker.close()
    rows = []
    for case in samples["local"]:
        base, cont = statistics.median(samples["local"][case]), statistics.median(samples["docker"][case])
        rows.append({"case": case, "local_ms": round(base, 1), "docker_ms": round(cont, 1),
                     "extra_ms": round(cont - base, 1), "ratio": round(cont / base, 2)})
    per_process = [r for r in rows if "step" in r["case"] and "whole" not in r["case"]]
    worst = max(r["extra_ms"] for r in per_process)
    result = {"benchmark": "executors", "runs": args.runs, "image": args.image, "image_id": docker.image_id,
              "executor_setup_ms": round(setup_ms, 1),
              "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
                         f"Python {platform.python_version()}",
              "rows": rows, "target_extra_ms": TARGET_EXTRA_MS, "pass": worst < TARGET_EXTRA_MS}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"executors: local vs docker ({args.runs} runs each, interleaved, medians; {result['machine']}; "
              f"image {args.image})")
        print(f"{'case':<46}{'local ms':>10}{'docker ms':>11}{'extra ms':>10}{'ratio':>8}")
        for row in rows:
            print(f"{row['case']:<46}{row['local_ms']:>10}{row['docker_ms']:>11}{row['extra_ms']:>10}"
                  f"{row['ratio']:>8}")
        print(f"DockerExecutor() set-up (engine ping, image ID, orphan reaping): {setup_ms:.1f} ms, once per run")
        verdict = "PASS" if result["pass"] else "FAIL"
        print(f"{verdict}: at most {worst} ms extra per process in a container (target < {TARGET_EXTRA_MS:g} ms)")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
