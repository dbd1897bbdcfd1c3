"""What one perturbed re-run of the prediction step costs on the digits robustness bundle, against
the original prediction step measured in the same run.

- ``aibench run`` (host path): one ``run_submission`` of the brittle submission through the local
  executor (bubblewrap), prediction and scoring, as the baseline; then the re-runs of
  ``run/perturbed.py`` (prediction step only, input file perturbed), per re-run;
- wrapped ingestion: ``run.py ingest`` without perturbations (the original alone) as the baseline,
  then with the bundle's 21 declared runs, the extra time per re-run;
- perturbing the file alone (``perturb_folder``, 100 images), per run.

Run: .venv/bin/python bench/bench_perturbations.py [--runs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundles" / "digits-robustness-v2"
SUBMISSION = REPO / "examples" / "submissions" / "digits-robustness-v2" / "brittle"


def _plan(runs: int) -> Any:
    from aibench_plugins.data.perturbations import PerturbationPlan

    entry = json.loads((BUNDLE / "aibench.json").read_text())["robustness"][0]
    plan = PerturbationPlan.from_entry(entry)
    return PerturbationPlan(plan.key, plan.seed, plan.inputs, plan.runs[:runs])


def host_path(scratch: Path, runs: int) -> dict[str, float]:
    from codalab_worker_compat import LocalExecutor, load_bundle, run_submission

    from aibench_plugins.run.perturbed import rerun_perturbed

    bundle, executor = load_bundle(BUNDLE), LocalExecutor("bwrap")
    started = time.perf_counter()
    run_submission(bundle, SUBMISSION, executor, scratch / "original", worker="codabench")
    original = time.perf_counter() - started
    plan = _plan(runs)
    started = time.perf_counter()
    found = rerun_perturbed(plan, bundle, SUBMISSION, executor, scratch / "perturbed", worker="codabench")
    total = time.perf_counter() - started
    assert len(found.folders) == len(plan.runs), found.warnings
    return {"original_s": original, "per_rerun_s": total / len(plan.runs), "runs": len(plan.runs)}


def wrapped_ingestion(scratch: Path, runs: int) -> dict[str, float]:
    from aibench_plugins.manifest.wraprecord import WrapRecord
    from aibench_plugins.runtime import BOOTSTRAP
    from aibench_plugins.wrap.vendor import vendor_ingestion, zip_lib

    def once(name: str, plan: Any) -> float:
        home = scratch / name / "ingestion_program" / "_aibench"
        shutil.copytree(BUNDLE / "ingestion_program", home.parent)
        home.mkdir()
        vendor_ingestion(scratch / name / "lib", perturbations=plan is not None)
        zip_lib(scratch / name / "lib", home / "lib.zip")
        shutil.copyfile(BOOTSTRAP, home / "run.py")
        WrapRecord("ingestion", "v2", ["python3 ingestion.py"], "0", "a" * 64, time_limit_s=600,
                   perturbations=plan.to_json() if plan is not None else None).write(home)
        output = scratch / name / "output"
        output.mkdir()
        inputs = str(BUNDLE / "input_data")
        started = time.perf_counter()
        subprocess.run([sys.executable, str(home / "run.py"), "ingest", str(output), inputs, "--", sys.executable,
                        str(home.parent / "ingestion.py"), inputs, str(output), str(SUBMISSION)],
                       check=True, capture_output=True)
        return time.perf_counter() - started

    plan = _plan(runs)
    original = once("plain", None)
    perturbed = once("perturbed", plan)
    return {"original_s": original, "per_rerun_s": (perturbed - original) / len(plan.runs), "runs": len(plan.runs)}


def perturb_only(scratch: Path, runs: int) -> dict[str, float]:
    from aibench_plugins.data.perturbations import perturb_folder

    plan = _plan(runs)
    started = time.perf_counter()
    for run in plan.runs:
        perturb_folder(BUNDLE / "input_data", scratch / "copies" / run.run_name, plan.inputs, run, plan.seed)
    return {"per_run_s": (time.perf_counter() - started) / len(plan.runs), "runs": len(plan.runs)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-perturb-") as folder:
        scratch = Path(folder)
        results = {"host": host_path(scratch / "host", args.runs),
                   "wrapped": wrapped_ingestion(scratch / "wrapped", args.runs),
                   "perturb": perturb_only(scratch / "perturb", args.runs)}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"digits-robustness-v2, brittle submission, {args.runs} runs; Python {platform.python_version()}")
    print(f"{'path':<34}{'original (s)':>14}{'per re-run (s)':>16}{'ratio':>8}")
    for name, label in (("host", "aibench run (bwrap)"), ("wrapped", "wrapped ingestion (run.py ingest)")):
        r = results[name]
        print(f"{label:<34}{r['original_s']:>14.3f}{r['per_rerun_s']:>16.3f}{r['per_rerun_s'] / r['original_s']:>8.2f}")
    print(f"{'perturbing test.csv alone':<34}{'':>14}{results['perturb']['per_run_s']:>16.3f}")


if __name__ == "__main__":
    main()
