"""Start-up cost of aibench_plugins, against bare ``python -c pass`` in the same run.

What a scoring worker pays before it scores anything: importing aibench_plugins,
validating the example manifest (schema and component params), and loading the
built-in plugins. Target: under 150 ms more than the bare interpreter.

Run: make bench   (or .venv/bin/python bench/bench_startup.py [--runs N] [--json])
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "bundles" / "iris-v2" / "aibench.json"
TARGET_EXTRA_MS = 150.0

STARTUP = f"""
from pathlib import Path
from aibench_plugins import PluginHost, parse_manifest
from aibench_plugins.manifest.loading import semantic_problems
manifest, problems = parse_manifest(Path({str(MANIFEST)!r}).read_bytes())
host = PluginHost()
host.load_builtins()
host.load_requested(manifest.plugin_requests)
host.freeze()
problems += semantic_problems(manifest, host, None, problems)
assert not problems, problems
"""

CASES = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "import + validate manifest + load built-ins": [sys.executable, "-c", STARTUP],
    "aibench --help": [sys.executable, "-m", "aibench_plugins", "--help"],
}


def measure(runs: int) -> dict[str, list[float]]:
    """Wall time of each case in ms, runs interleaved so machine noise hits all alike.

    Bytecode is compiled first, as ``pip install`` does for a deployed worker: with
    ``PYTHONDONTWRITEBYTECODE`` set (as on this machine) an editable checkout would
    otherwise recompile every module on every start.
    """
    import compileall

    for package in ("aibench_plugins", "compat/codalab_worker_compat"):
        compileall.compile_dir(str(REPO / package), quiet=1)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for command in CASES.values():  # warm the bytecode caches once
        subprocess.run(command, check=True, capture_output=True)
    for _ in range(runs):
        for name, command in CASES.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times[name].append((time.perf_counter() - start) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    times = measure(args.runs)
    baseline = statistics.median(times["python -c pass (baseline)"])
    rows = []
    for name, samples in times.items():
        median = statistics.median(samples)
        rows.append({"case": name, "median_ms": round(median, 1), "min_ms": round(min(samples), 1),
                     "extra_ms": round(median - baseline, 1), "ratio": round(median / baseline, 2)})
    startup_extra = rows[1]["extra_ms"]
    result = {"benchmark": "startup", "runs": args.runs, "machine": f"{platform.node()} {platform.machine()}, "
              f"Python {platform.python_version()}", "rows": rows, "target_extra_ms": TARGET_EXTRA_MS,
              "pass": startup_extra < TARGET_EXTRA_MS}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"start-up ({args.runs} runs each, interleaved; {result['machine']})")
        print(f"{'case':<46}{'median ms':>10}{'min ms':>9}{'extra ms':>10}{'ratio':>8}")
        for row in rows:
            print(f"{row['case']:<46}{row['median_ms']:>10}{row['min_ms']:>9}{row['extra_ms']:>10}{row['ratio']:>8}")
        verdict = "PASS" if result["pass"] else "FAIL"
        print(f"{verdict}: start-up costs {startup_extra} ms over bare python (target < {TARGET_EXTRA_MS:g} ms)")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
