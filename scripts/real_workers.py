#!/usr/bin/env python3
"""Run example bundles, unwrapped and wrapped by ``aibench wrap``, through the real Codabench
workers (``shared/tools/codabench-worker``), N times each, and compare: status, original
scores, plugin columns, seconds, and the ratio wrapped/unwrapped. A development tool, not CI:
it needs what docs/security.md ("The real workers: how they were run") sets up (a Docker
engine, the local registry on 127.0.0.1:5000 with the worker image, the worker venvs, the git
snapshots of the workers). The image is worker-sci, or the one :data:`BUNDLE_IMAGES` names for a
bundle (digits-complexity-v2: worker-torch, ``compat/images/worker_torch.py --push``), or
``--image``. Do not run it at the same time as ``scripts/fault_matrix.py``.

    .venv/bin/python scripts/real_workers.py [--bundle NAME ...] [--runs 3] [--json OUT.json]
        [--wrap-arg=--detailed-results] [--no-checks] [--worker NAME=GIT_DIR@REV[:PYTHON] ...]

For each bundle (a folder under bundles/): a copy gets data checks added to its aibench.json
(``aibench.ids`` for every bundle, then ``aibench.label_set`` or ``aibench.table_schema``, see
:data:`CHECKS`; ``--no-checks`` leaves the manifest alone), the copy is wrapped with this
checkout's ``aibench wrap``, and the copy (unwrapped: the worker ignores aibench.json) and the
wrapped zip each run ``--runs`` times on each worker with the bundle's ``good`` submission
(``examples/submissions/<bundle>/good``). The unwrapped and wrapped runs alternate, so that a
load change on the machine hits both alike. "seconds" is the wall time of ``run_worker.py``
(both steps, the worker's own start included; median of the runs); the table also shows the
scoring step alone (the worker's task wall time) and both steps together ("steps s": what a
submission costs the worker; the wall time also holds this tool's own per-run work, such as zipping
the bundle's programs as the site's upload does once per bundle). The JSON holds every run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO.parent / "shared" / "tools" / "codabench-worker"
if not TOOL.is_dir():
    TOOL = Path("/work/shared/tools/codabench-worker")
IMAGE = "127.0.0.1:5000/aibench/worker-sci:bookworm"
#: bundles that need another image than IMAGE (built by compat/images/worker_torch.py --push)
BUNDLE_IMAGES = {"digits-complexity-v2": "127.0.0.1:5000/aibench/worker-torch:bookworm"}
WORKERS = ("codabench-c7dbc75=/work/.mirror/codalab+codabench/repo@c7dbc75",
           "ai4mb-bce3d35=/work/.mirror/AIMultimediaLab+AI4Media-Bench/repo@bce3d35:/tmp/platforms-ai4m-venv/bin/python")
TOOL_PYTHON = "/tmp/platforms-cw-venv/bin/python"
#: The data checks added to each bundle's aibench.json (every one reads the submission's files).
CHECKS: dict[str, list[dict[str, Any]]] = {
    "iris-v2": [
        {"use": "aibench.ids", "params": {"file": "predictions.csv", "id": "id", "reference_file": "labels.csv"}},
        {"use": "aibench.label_set", "params": {"file": "predictions.csv", "id": "id", "column": "label",
                                                "labels": ["setosa", "versicolor", "virginica"]}},
    ],
    "digits-ingestion-v2": [
        {"use": "aibench.ids", "params": {"file": "predictions.csv", "id": "id", "reference_file": "labels.csv"}},
        {"use": "aibench.table_schema", "params": {"file": "predictions.csv", "id": "id", "columns": {"label": "int"}}},
    ],
    "digits-complexity-v2": [
        {"use": "aibench.ids", "params": {"file": "predictions.csv", "id": "id", "reference_file": "labels.csv"}},
        {"use": "aibench.table_schema", "params": {"file": "predictions.csv", "id": "id", "columns": {"label": "int"}}},
    ],
    "fairness-v2": [
        {"use": "aibench.ids", "params": {"file": "predictions.csv", "id": "id", "reference_file": "labels.csv"}},
        {"use": "aibench.label_set", "params": {"file": "predictions.csv", "id": "id", "column": "approved",
                                                "labels": [0, 1]}},
    ],
}


def prepare(name: str, scratch: Path, add_checks: bool, wrap_args: list[str],
            chosen: str = "good") -> tuple[Path, Path, Path, list[str]]:
    """The bundle copy (checks added), its wrapped zip, the submission zip (the bundle's ``chosen``
    example submission), and the wrap command."""
    bundle = scratch / name
    shutil.copytree(REPO / "bundles" / name, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    if add_checks:
        manifest_path = bundle / "aibench.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["checks"] = list(manifest.get("checks", [])) + CHECKS.get(name, [])
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    wrapped = scratch / f"{name}.wrapped.zip"
    command = [sys.executable, "-m", "aibench_plugins", "wrap", str(bundle), "-o", str(wrapped), *wrap_args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"aibench wrap failed for {name}:\n{done.stdout}{done.stderr}")
    submission = scratch / f"{name}.{chosen}.zip"
    folder = REPO / "examples" / "submissions" / name / chosen
    if not folder.is_dir():
        raise SystemExit(f"{folder} does not exist: give --submission one of "
                         f"{sorted(p.name for p in folder.parent.iterdir() if p.is_dir())}")
    with zipfile.ZipFile(submission, "w") as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(folder).as_posix())
    return bundle, wrapped, submission, command


def run_once(args: argparse.Namespace, worker: str, bundle: Path, submission: Path, work: Path,
             image: str = IMAGE) -> dict[str, Any]:
    """One submission through one worker: status, scores posted, seconds."""
    name, _, spec = worker.partition("=")
    git_dir, _, rest = spec.partition("@")
    rev, _, python = rest.partition(":")
    summary_path = work.with_suffix(".summary.json")
    command = [args.tool_python, str(args.tool / "run_worker.py"), "--mirror-git-dir", git_dir, "--rev", rev,
               "--bundle", str(bundle), "--submission", str(submission), "--image", image,
               "--work-dir", str(work), "--summary-out", str(summary_path)]
    if python:
        command += ["--worker-python", python]
    start = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
        rc: int | str = done.returncode
        tail = (done.stdout + done.stderr)[-2000:]
    except subprocess.TimeoutExpired:
        rc, tail = "timeout", ""
    record: dict[str, Any] = {"worker": name, "rc": rc, "seconds": round(time.monotonic() - start, 2),
                              "load_average_1min": round(os.getloadavg()[0], 1), "command": " ".join(command)}
    try:
        summary = json.loads(summary_path.read_text())
        sub = summary["submissions"][0]
        record["status"] = sub["final_status"]
        record["scores"] = sub["scores_posted"] or {}
        record["steps"] = {st["step"]: st["exit"].get("wall_seconds") for st in sub["steps"]}
        record["exceptions"] = [st["exit"].get("exception") for st in sub["steps"] if st["exit"].get("exception")]
        record["details"] = [p.get("details") for st in sub["steps"] for p in st["statuses"] if p.get("details")]
        record["scoring_stderr"] = _scoring_stderr(work)
    except (OSError, ValueError, KeyError, IndexError) as error:
        record["status"] = f"no summary ({error!r})"
        record["tail"] = tail
    shutil.rmtree(work, ignore_errors=True)
    return record


def _scoring_stderr(work: Path) -> str:
    """The end of the scoring program's stderr as the stand-in site stored it."""
    for path in sorted(work.glob("storage/submissions/*/details/*scoring*std_err*")) + \
            sorted(work.glob("storage/submissions/*/details/*stderr*")):
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if text.strip():
            return text[-1500:]
    return ""


def original_keys(bundle: Path) -> list[str]:
    """The column keys of the unwrapped competition.yaml (the scorer's own scores)."""
    import yaml

    spec = yaml.safe_load((bundle / "competition.yaml").read_text(encoding="utf-8"))
    return [c["key"] for c in spec["leaderboards"][0]["columns"]]


def summarize(records: list[dict[str, Any]], originals: dict[str, list[str]]) -> list[dict[str, Any]]:
    """One row per bundle and worker: both variants side by side."""
    rows = []
    for (bundle, worker) in sorted({(r["bundle"], r["worker"]) for r in records}):
        row: dict[str, Any] = {"bundle": bundle, "worker": worker}
        for variant in ("unwrapped", "wrapped"):
            runs = [r for r in records if (r["bundle"], r["worker"], r["variant"]) == (bundle, worker, variant)]
            finished = [r for r in runs if r.get("status") == "Finished"]
            scores = runs[-1].get("scores", {}) if runs else {}
            keep = set(originals[bundle]) - {"duration"}
            row[variant] = {
                "finished": f"{len(finished)}/{len(runs)}",
                "original": {k: v for k, v in scores.items() if k in keep},
                "plugin": {k: v for k, v in scores.items() if k not in originals[bundle]},
                "seconds": statistics.median(r["seconds"] for r in runs) if runs else None,
                "scoring_seconds": statistics.median(r["steps"].get("scoring", 0) or 0 for r in runs
                                                     if "steps" in r) if any("steps" in r for r in runs) else None,
                "steps_seconds": statistics.median(sum(v or 0 for v in r["steps"].values()) for r in runs
                                                   if "steps" in r) if any("steps" in r for r in runs) else None,
                "all_seconds": [r["seconds"] for r in runs],
                "load_average_1min": [r.get("load_average_1min") for r in runs],
            }
        u, w = row["unwrapped"]["seconds"], row["wrapped"]["seconds"]
        row["ratio"] = round(w / u, 2) if u and w else None
        row["added_seconds"] = round(w - u, 2) if u is not None and w is not None else None
        su, sw = row["unwrapped"]["steps_seconds"], row["wrapped"]["steps_seconds"]
        row["added_steps_seconds"] = round(sw - su, 2) if su is not None and sw is not None else None
        row["same_original_scores"] = row["unwrapped"]["original"] == row["wrapped"]["original"]
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    header = ("bundle", "worker", "unwrapped", "wrapped", "original scores (same?)", "plugin columns",
              "s unwrapped", "s wrapped", "scoring step s (u/w)", "steps s (u/w)", "added by the steps s",
              "added s", "ratio")
    lines = [header]
    for row in rows:
        u, w = row["unwrapped"], row["wrapped"]
        plugin = w["plugin"]
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in plugin.items())
        lines.append((row["bundle"], row["worker"], u["finished"], w["finished"],
                      f"{w['original']} ({'yes' if row['same_original_scores'] else 'NO'})",
                      f"{len(plugin)}: {shown}" if plugin else "none",
                      f"{u['seconds']:.2f}" if u["seconds"] is not None else "-",
                      f"{w['seconds']:.2f}" if w["seconds"] is not None else "-",
                      f"{u['scoring_seconds']}/{w['scoring_seconds']}",
                      f"{u['steps_seconds']:.2f}/{w['steps_seconds']:.2f}" if u["steps_seconds"] is not None
                      and w["steps_seconds"] is not None else "-",
                      f"{row['added_steps_seconds']:+.2f}" if row["added_steps_seconds"] is not None else "-",
                      f"{row['added_seconds']:+.2f}" if row["added_seconds"] is not None else "-",
                      f"{row['ratio']}"))
    for line in lines:
        print(" | ".join(str(cell) for cell in line))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", action="append", help="a folder under bundles/ (repeatable; default: iris-v2, "
                        "digits-ingestion-v2 and fairness-v2)")
    parser.add_argument("--runs", type=int, default=3, help="runs per bundle, worker and variant (default 3)")
    parser.add_argument("--worker", action="append", help="NAME=GIT_DIR@REV[:PYTHON] (default: both v2 workers)")
    parser.add_argument("--image", help=f"the image the workers run (default {IMAGE}; for "
                        + ", ".join(f"{b}: {i}" for b, i in BUNDLE_IMAGES.items()) + ")")
    parser.add_argument("--tool", type=Path, default=TOOL)
    parser.add_argument("--tool-python", default=TOOL_PYTHON)
    parser.add_argument("--wrap-arg", action="append", default=[], help="passed to aibench wrap (repeatable)")
    parser.add_argument("--no-checks", action="store_true", help="do not add the data checks of CHECKS")
    parser.add_argument("--submission", default="good",
                        help="the example submission (a folder of examples/submissions/<bundle>/; default good)")
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--json", type=Path, help="write every run and the table's rows here")
    args = parser.parse_args(argv)
    bundles = args.bundle or ["iris-v2", "digits-ingestion-v2", "fairness-v2"]
    workers = args.worker or list(WORKERS)
    records: list[dict[str, Any]] = []
    originals: dict[str, list[str]] = {}
    wrap_commands: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="aibench-real-workers-") as scratch_name:
        scratch = Path(scratch_name)
        for name in bundles:
            image = args.image or BUNDLE_IMAGES.get(name, IMAGE)
            wrap_args = ["--image", image, *args.wrap_arg]  # the image the workers run here (checked, pycs)
            bundle, wrapped, submission, wrap_command = prepare(name, scratch, not args.no_checks, wrap_args, args.submission)
            originals[name] = original_keys(bundle)
            wrap_commands[name] = " ".join(wrap_command)
            for worker in workers:
                for run in range(args.runs):
                    for variant, path in (("unwrapped", bundle), ("wrapped", wrapped)):
                        work = scratch / "work" / f"{name}-{worker.partition('=')[0]}-{variant}-{run}"
                        record = run_once(args, worker, path, submission, work, image)
                        record.update(bundle=name, variant=variant, run=run)
                        records.append(record)
                        print(json.dumps({k: record.get(k) for k in ("bundle", "worker", "variant", "run", "status",
                                                                      "scores", "seconds", "steps")}),
                              file=sys.stderr, flush=True)
    rows = summarize(records, originals)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps({"command": " ".join([sys.executable, *sys.argv]), "wrap": wrap_commands,
                                         "checks_added": {b: CHECKS.get(b, []) for b in bundles}
                                         if not args.no_checks else {}, "rows": rows, "runs": records},
                                        indent=1) + "\n")
    ok = all(r["wrapped"]["finished"].split("/")[0] == r["wrapped"]["finished"].split("/")[1]
             and r["same_original_scores"] for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
