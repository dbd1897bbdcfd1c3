"""The complexity meters' overhead on the prediction step of bundles/digits-complexity-v2, measured
in the same run against the same step without them.

Each round runs ``aibench run`` (local executor) twice, alternately, with the same submission:

- **baseline**: a copy of the bundle whose ingestion program does not call
  ``aibench_plugins.complexity.measure`` and whose aibench.json has no ``complexity`` and
  ``efficiency`` sections: the prediction step as it is without the meters;
- **measured**: the bundle as it is (every meter of its manifest).

The figure compared is the prediction step's wall time as the executor measured it (the report's
``ingestion program wall time``). The *declared repeats* are the work the organiser asks the
meters to repeat: the time meter's interleaved queries of the submission and the reference, and
the energy meter's windows when it measures; they cost what the manifest declares, by design, so
they are taken apart: their seconds are the ``elapsed_s`` of those entries in the prediction
step's ``.aibench_complexity.json`` (kept by ``aibench run`` as ``aibench/complexity.json`` in the
run's folder). The overhead is::

    overhead = median(measured step) - median(baseline step) - median(declared repeats)

and its share of the baseline step is the figure; target: under 10 %. Each other entry's
``elapsed_s`` is shown too (parameters, MACs with both counters, memory, the hardware
fingerprint): the overhead is theirs plus the import of the library and the file written.

Run: .venv/bin/python bench/bench_complexity_overhead.py [--rounds 3] [--submission good] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundles" / "digits-complexity-v2"
SUBMISSIONS = REPO / "examples" / "submissions" / "digits-complexity-v2"
CALL = "    measure(model, reference, X_test, output_dir)\n"
#: the meters whose work is the repeats the manifest declares
REPEATING = ("aibench.time", "aibench.energy")
TARGET = 0.10


def baseline_bundle(scratch: Path) -> Path:
    """A copy of the bundle without the measure() call and without the complexity sections."""
    target = scratch / "baseline" / BUNDLE.name
    shutil.copytree(BUNDLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    program = target / "ingestion_program" / "ingestion.py"
    text = program.read_text()
    if text.count(CALL) != 1:
        sys.exit(f"bench: {program} no longer has the line {CALL.strip()!r} once; update CALL in this script")
    program.write_text(text.replace(CALL, "    pass  # baseline: no complexity measurement\n"))
    manifest = target / "aibench.json"
    document = json.loads(manifest.read_text())
    for section in ("complexity", "efficiency"):
        document.pop(section, None)
    manifest.write_text(json.dumps(document, indent=2) + "\n")
    return target


def run(bundle: Path, submission: Path, home: Path) -> dict[str, Any]:
    env = os.environ | {"AIBENCH_HOME": str(home)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "aibench_plugins", "run", str(bundle), str(submission), "--json"],
                          capture_output=True, text=True, env=env, timeout=900)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"bench: aibench run {bundle} {submission} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    step = next((m["value"] for m in report["measurements"] if m["name"] == "ingestion program wall time"), None)
    if step is None:
        sys.exit("bench: the run's report has no 'ingestion program wall time' measurement")
    entries: list[dict[str, Any]] = []
    work = Path(report["work_dir"])  # aibench run keeps the prediction step's file as aibench/complexity.json
    found = [p for p in (work / "aibench" / "complexity.json",) if p.is_file()] or \
        sorted(work.rglob(".aibench_complexity.json"))
    if found:
        entries = json.loads(found[0].read_text()).get("entries", [])
    return {"step_s": float(step), "run_s": wall, "entries": entries, "accuracy": next(
        (c["value"] for c in report["report"]["columns"] if c["key"] == "accuracy"), None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--submission", default="good", help="an example submission of the bundle")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    submission = SUBMISSIONS / args.submission
    with tempfile.TemporaryDirectory(prefix="aibench-bench-complexity-") as scratch_name:
        scratch = Path(scratch_name)
        plain = baseline_bundle(scratch)
        baseline: list[dict[str, Any]] = []
        measured: list[dict[str, Any]] = []
        for index in range(args.rounds):
            first, second = (plain, BUNDLE) if index % 2 == 0 else (BUNDLE, plain)  # alternate the order
            for bundle in (first, second):
                result = run(bundle, submission, scratch / "home")
                (baseline if bundle == plain else measured).append(result)
    if any(not r["entries"] for r in measured):
        sys.exit("bench: a measured run left no complexity file (aibench/complexity.json) in its work folder: the meters did not run "
                 "(is aibench_plugins.complexity importable, and does the manifest declare them?)")
    per_entry: dict[str, list[float]] = {}
    repeats = []
    for result in measured:
        total = 0.0
        for entry in result["entries"]:
            per_entry.setdefault(f"{entry['key']} ({entry['use']})", []).append(float(entry.get("elapsed_s") or 0))
            if entry["use"] in REPEATING:
                total += float(entry.get("elapsed_s") or 0)
        repeats.append(total)
    base = statistics.median(r["step_s"] for r in baseline)
    meas = statistics.median(r["step_s"] for r in measured)
    repeat_s = statistics.median(repeats)
    overhead = meas - base - repeat_s
    figures = {
        "bundle": str(BUNDLE.relative_to(REPO)), "submission": args.submission, "rounds": args.rounds,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "baseline_step_s": [r["step_s"] for r in baseline], "measured_step_s": [r["step_s"] for r in measured],
        "declared_repeats_s": repeats, "entries_elapsed_s": per_entry,
        "median_baseline_s": base, "median_measured_s": meas, "median_declared_repeats_s": repeat_s,
        "overhead_s": overhead, "overhead_share": overhead / base, "target_share": TARGET,
        "met": overhead / base < TARGET,
        "same_accuracy": len({r["accuracy"] for r in baseline + measured}) == 1,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"digits-complexity-v2, submission {args.submission}, {args.rounds} rounds (baseline and measured "
          "alternating; the prediction step's wall time as the executor measured it)")
    print(f"  baseline step (no measure()):  median {base:.3f} s  {[round(r['step_s'], 3) for r in baseline]}")
    print(f"  measured step (every meter):   median {meas:.3f} s  {[round(r['step_s'], 3) for r in measured]}")
    print(f"  declared repeats ({', '.join(REPEATING)}): median {repeat_s:.3f} s")
    for name, values in per_entry.items():
        print(f"    {name}: median {statistics.median(values):.3f} s")
    print(f"  overhead apart from the repeats: {overhead:.3f} s = {overhead / base:.1%} of the baseline step "
          f"(target < {TARGET:.0%}: {'met' if overhead / base < TARGET else 'NOT met'})")
    print(f"  the original accuracy is the same in every run: {figures['same_accuracy']}")


if __name__ == "__main__":
    main()
