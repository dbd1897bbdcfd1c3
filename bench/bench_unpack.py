"""Cost of the unpack limits, against a plain ``ZipFile.extractall`` in the same run.

Unpacking with limits (issue 9 item 6) checks the zip's directory (entries, depth, declared
sizes and ratios, file/folder clashes) before writing, then streams each member counting the
bytes written. Target: under 5% over ``extractall`` of the same zip, on the largest example
submission and on a realistic larger one built here (2,000 CSV files, about 80 MB).

The ratio is the median, over the runs, of each run's time over the baseline's time in the same
round. Rows: ``extractall`` (the baseline: what the workers do), ``extract with limits`` (compat's
extraction with the default limits, the same work plus the limits) and, for information,
``unpack()`` (the whole call: the limits plus the worker's modes and the portability warnings).

Run: make bench   (or .venv/bin/python bench/bench_unpack.py [--runs N] [--json])
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from codalab_worker_compat import DEFAULT_LIMITS, unpack
from codalab_worker_compat._archive import _extract, _Unpacking
from codalab_worker_compat._unpack_limits import Budget

REPO = Path(__file__).resolve().parents[1]
SUBMISSIONS = REPO / "examples" / "submissions"
TARGET_RATIO = 1.05


def largest_example(scratch: Path) -> Path:
    """The largest example submission folder, zipped as a participant uploads it."""
    folders = [p for p in SUBMISSIONS.glob("*/*") if p.is_dir()]
    largest = max(folders, key=lambda f: sum(p.stat().st_size for p in f.rglob("*") if p.is_file()))
    path = scratch / f"{largest.parent.name}-{largest.name}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in largest.rglob("*") if p.is_file()):
            archive.write(file, file.relative_to(largest).as_posix())
    return path


def realistic(scratch: Path, files: int = 2000, rows: int = 2000) -> Path:
    """Predictions split over many CSV files (ids, a label, a probability), deflated."""
    rng = random.Random(0)
    path = scratch / "large-submission.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for index in range(files):
            lines = "".join(f"{index}-{row},{rng.choice('abcde')},{rng.random():.6f}\n" for row in range(rows))
            archive.writestr(f"predictions/part-{index:05d}.csv", "id,label,proba\n" + lines)
    return path


def _extractall(source: Path, target: Path) -> None:
    with zipfile.ZipFile(source) as archive:
        archive.extractall(target)


def _with_limits(source: Path, target: Path) -> None:
    _extract(source, target, "codabench", [], _Unpacking(Budget(DEFAULT_LIMITS), "participant", "submission"))


def _unpack(source: Path, target: Path) -> None:
    unpack(source, target, "codabench")


CASES: dict[str, Callable[[Path, Path], None]] = {
    "extractall (baseline)": _extractall,
    "extract with limits": _with_limits,
    "unpack() (limits + modes + warnings)": _unpack,
}


def measure(source: Path, runs: int, scratch: Path) -> dict[str, list[float]]:
    """Wall time of each case in ms, runs interleaved (the order rotating) so machine noise hits
    all alike; the target folder is removed and the disk synced between runs (not timed)."""
    times: dict[str, list[float]] = {name: [] for name in CASES}
    names = list(CASES)
    for run in range(runs + 1):
        for name in names[run % len(names):] + names[:run % len(names)]:  # each case takes each place in turn
            case, target = CASES[name], scratch / "out"
            os.sync()  # the previous case's writes are not flushed during this one
            start = time.perf_counter()
            case(source, target)
            elapsed = (time.perf_counter() - start) * 1000
            shutil.rmtree(target)
            if run:  # the first round warms the page cache
                times[name].append(elapsed)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs on the large zip (the small one gets 50x)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_unpack_") as folder:
        scratch = Path(folder)
        for source, runs in ((largest_example(scratch), args.runs * 50), (realistic(scratch), args.runs)):
            with zipfile.ZipFile(source) as archive:
                infos = archive.infolist()
            times = measure(source, runs, scratch)
            base = times["extractall (baseline)"]
            # the ratio of each round (cases run back to back), then the median: drift of the machine cancels
            rows = [{"case": name, "median_ms": round(statistics.median(s), 2), "min_ms": round(min(s), 2),
                     "ratio": round(statistics.median(t / b for t, b in zip(s, base)), 3)} for name, s in times.items()]
            results.append({"zip": source.name, "members": len(infos), "zip_bytes": source.stat().st_size,
                            "uncompressed_bytes": sum(i.file_size for i in infos), "runs": runs, "rows": rows,
                            "pass": rows[1]["ratio"] < TARGET_RATIO})
    result = {"benchmark": "unpack", "machine": f"{platform.node()} {platform.machine()}, "
              f"Python {platform.python_version()}", "zips": results, "target_ratio": TARGET_RATIO,
              "pass": all(r["pass"] for r in results)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"unpack limits ({result['machine']})")
        for zipped in results:
            print(f"\n{zipped['zip']}: {zipped['members']} members, {zipped['zip_bytes'] / 1e6:.2f} MB zipped, "
                  f"{zipped['uncompressed_bytes'] / 1e6:.2f} MB unpacked; {zipped['runs']} runs each, interleaved")
            print(f"{'case':<40}{'median ms':>11}{'min ms':>10}{'ratio':>8}")
            for row in zipped["rows"]:
                print(f"{row['case']:<40}{row['median_ms']:>11}{row['min_ms']:>10}{row['ratio']:>8}")
        worst = max(z["rows"][1]["ratio"] for z in results)
        verdict = "PASS" if result["pass"] else "FAIL"
        print(f"\n{verdict}: extracting with the limits costs at most {(worst - 1) * 100:+.1f}% over extractall "
              f"(target < {(TARGET_RATIO - 1) * 100:.0f}%)")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
