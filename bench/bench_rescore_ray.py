"""``aibench rescore`` on Ray: scaling from 1 to 2 workers, and Ray's per-task overhead against
running the same step with the local executor directly, measured in the same run.

**Scaling.** N small submissions (bundles/iris-v2, the good predictions, each a distinct file)
re-scored on a local Ray cluster of 1 CPU, then on a new one of 2 CPUs (``--per-participant 0``:
no cap; one participant per submission). Each cluster first runs one warm-up task per worker (a
Ray worker's first task imports aibench and its plugins), then the timed re-score (wall time of
:func:`aibench_plugins.rescore.driver.run_rescore`, ledger writes included)::

    efficiency = t(1 worker) / (2 * t(2 workers))        target: at least 0.8

**Per-task overhead.** The same submission's run, one at a time, ``--rounds`` times each way:

- *direct*: :func:`aibench_plugins.run.runner.run_bundle` in this process, local executor (what
  ``aibench run`` does, without the process start);
- *Ray task*: the re-score's task on a warm 1-CPU cluster, submitted and awaited by the driver,
  its record imported into the driver's ledger (what ``aibench rescore`` adds per step: the task's
  own ledger, the round trip, the import).

``overhead = median(Ray task) - median(direct)`` per step; target: under 100 ms.

Run: .venv/bin/python bench/bench_rescore_ray.py [--submissions 16] [--rounds 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "compat")]
BUNDLE = REPO / "bundles" / "iris-v2"
GOOD = REPO / "examples" / "submissions" / "iris-v2" / "good" / "predictions.csv"
TARGET_EFFICIENCY, TARGET_OVERHEAD_MS = 0.8, 100.0


def make_submissions(root: Path, count: int) -> Path:
    """``count`` distinct good submissions, one participant each."""
    text = GOOD.read_text()
    for number in range(count):
        target = root / "subs" / f"p{number:03d}" / "s"
        target.mkdir(parents=True)
        (target / "predictions.csv").write_text(text + "\n" * (number + 1))
    return root / "subs"


def _busy_cpu_s() -> float:
    """CPU seconds this machine has spent busy since boot (``/proc/stat``)."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    """CPU seconds of this process and every live descendant, with the children they waited for
    (the Ray daemons and workers of a local cluster, and the runs' processes, descend from it)."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        pid = int(entry.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        times[pid] = sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [os.getpid()]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo += children.get(pid, [])
    return total


def timed_rescore(scratch: Path, workers: int, count: int) -> dict[str, Any]:
    """Warm-up, then the timed re-score of ``count`` submissions on a new local cluster."""
    from aibench_plugins.rescore import RescoreOptions, from_folder, ray_cluster, run_rescore

    base = scratch / f"w{workers}"
    warm = make_submissions(base / "warm", workers)
    timed = make_submissions(base / "timed", count)
    options = RescoreOptions(per_participant=None)
    with ray_cluster(None, workers) as ray:
        run_rescore(BUNDLE, from_folder(warm), ledger_path=base / "warm.sqlite3", options=options, ray=ray)
        started, busy, own = time.perf_counter(), _busy_cpu_s(), _own_cpu_s()
        result = run_rescore(BUNDLE, from_folder(timed), ledger_path=base / "timed.sqlite3", options=options, ray=ray)
        elapsed = time.perf_counter() - started
        other = max(0.0, (_busy_cpu_s() - busy) - (_own_cpu_s() - own)) / (elapsed * (os.cpu_count() or 1))
    if result.counts != {"finished": count}:
        sys.exit(f"bench: the re-score on {workers} worker(s) did not finish every run: {result.counts}")
    steps = [r.ended_at for r in result.ran]
    return {"workers": workers, "elapsed_s": elapsed, "per_run_s": elapsed / count, "runs": len(steps),
            "other_load": other}


def overhead(scratch: Path, rounds: int) -> dict[str, Any]:
    """The same run ``rounds`` times directly and ``rounds`` times as a Ray task, alternately."""
    from aibench_plugins.rescore import ray_cluster
    from aibench_plugins.rescore.tasks import TaskResources, TaskSpec, remote_options, run_one
    from aibench_plugins.run.ledger import Ledger
    from aibench_plugins.run.runner import run_bundle

    submission = make_submissions(scratch / "overhead", 1) / "p000" / "s"
    direct, via_ray, cores = [], [], []
    with ray_cluster(None, 1) as ray, Ledger.open(scratch / "driver.sqlite3") as ledger:
        remote = ray.remote(run_one).options(**remote_options(TaskResources()))
        spec = TaskSpec(str(BUNDLE), str(submission), "p000", "bench", str(scratch / "runs" / "warm"))  # + "-<attempt>"
        ray.get(remote.remote(spec))  # the worker's first task imports aibench
        run_bundle(BUNDLE, submission, ledger_path=scratch / "direct.sqlite3", work_dir=scratch / "runs" / "d-warm")
        for number in range(rounds):
            started = time.perf_counter()
            run_bundle(BUNDLE, submission, ledger_path=scratch / "direct.sqlite3",
                       work_dir=scratch / "runs" / f"d{number}", participant="p000")
            direct.append(time.perf_counter() - started)
            started = time.perf_counter()
            outcome: Any = ray.get(remote.remote(TaskSpec(str(BUNDLE), str(submission), "p000", "bench",
                                                     str(scratch / "runs" / f"r{number}"))))
            via_ray.append(time.perf_counter() - started)
            if outcome.record is None or outcome.record.status != "finished":
                sys.exit(f"bench: the Ray task's run did not finish: {outcome.error}")
            ledger.import_run(outcome.record)
            cores.append(outcome.cpu_s / outcome.run_s)
    return {"direct_s": direct, "ray_s": via_ray, "cores_per_run": statistics.median(cores),
            "overhead_ms": (statistics.median(via_ray) - statistics.median(direct)) * 1000}


def busy_elsewhere(seconds: float = 2.0) -> float:
    """The share of this machine's CPU time used while this benchmark waits (other work: the
    figures below are only as good as this is near 0)."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        return sum(values), values[3] + values[4]

    total, idle = sample()
    time.sleep(seconds)
    total2, idle2 = sample()
    return 1 - (idle2 - idle) / max(1, total2 - total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=16, help="submissions re-scored per cluster size")
    parser.add_argument("--rounds", type=int, default=7, help="runs each way for the per-task overhead")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    try:
        import ray  # noqa: F401
    except ImportError:
        sys.exit("bench: Ray is not installed: pip install 'aibench-plugins[ray]'")
    scratch = Path(tempfile.mkdtemp(prefix="aibench-bench-rescore-"))
    os.environ["AIBENCH_HOME"] = str(scratch / "home")
    busy = busy_elsewhere()
    try:
        one = timed_rescore(scratch, 1, args.submissions)
        two = timed_rescore(scratch, 2, args.submissions)
        cost = overhead(scratch, args.rounds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    efficiency = one["elapsed_s"] / (2 * two["elapsed_s"])
    figures = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
               "submissions": args.submissions, "one_worker": one, "two_workers": two, "efficiency": efficiency,
               "efficiency_target": TARGET_EFFICIENCY,
               "busy_elsewhere_before": busy, "overhead": cost, "overhead_target_ms": TARGET_OVERHEAD_MS}
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"aibench rescore on Ray, {args.submissions} iris-v2 submissions, {figures['machine']}")
    print(f"  CPU busy with other work before the start: {busy:.0%} (figures are only meaningful near 0 %)")
    print(f"  {'':28} {'wall s':>8} {'s/run':>8} {'other load':>11}")
    for row in (one, two):
        print(f"  {str(row['workers']) + ' worker(s)':28} {row['elapsed_s']:8.2f} {row['per_run_s']:8.3f} "
              f"{row['other_load']:11.0%}")
    print("  (other load: the machine's CPU used by processes not of this benchmark while it ran, of all CPUs)")
    print(f"  scaling efficiency t1 / (2 t2): {efficiency:.2f} (target >= {TARGET_EFFICIENCY})")
    print(f"  cores one run keeps busy (task CPU s / wall s, processes included): {cost['cores_per_run']:.2f}")
    direct, via = statistics.median(cost["direct_s"]), statistics.median(cost["ray_s"])
    print(f"  one step, {args.rounds} rounds: direct (run_bundle, local) median {direct * 1000:.0f} ms; "
          f"Ray task median {via * 1000:.0f} ms")
    print(f"  Ray per-task overhead: {cost['overhead_ms']:.0f} ms per step (target < {TARGET_OVERHEAD_MS:.0f} ms)")


if __name__ == "__main__":
    main()
