"""The prediction step re-run on perturbed inputs, in a wrapped bundle: from the ingestion
program, which re-runs, to the scoring program, which gives the re-runs to the robustness checker.

**Ingestion** (:func:`run_perturbed`, called by :mod:`.ingest` after the original command
succeeded, only when ``wrap.json`` records perturbations): for each perturbation and severity, a
copy of the input data folder (``$input``) with the declared file perturbed
(:mod:`aibench_plugins.data.perturbations`), in a temporary folder; the original command run again
with its ``$input`` argument replaced by that copy and its ``$output`` argument by
``$output/.aibench_perturbed/<name>-<severity>/``, with a time limit of what is left of the phase's
(the worker's alarm covers the whole prediction step, so every re-run must fit in it: the
organiser sizes ``execution_time_limit`` for 1 + the number of runs). A re-run that crashes or
hangs is recorded in its folder (``RUN_STATUS_FILE``) and in ``.aibench_perturbed/runs.json``; the
original run's exit status and output are never changed. numpy is imported only here.

**Scoring** (:func:`take_perturbed_runs`, called by :mod:`.main` before the original scoring
program starts): ``input/res/.aibench_perturbed`` travels from the prediction step to scoring as
the measurements file does (:mod:`.measurements` says why ``input/res`` is the only way); it is
moved out of ``input/res`` into a temporary folder, so the original scoring program sees the
participant's files as it would unwrapped, and each run's folder becomes
``EvaluationSession.perturbed_runs``. A folder whose ``runs.json`` is not ours (not written by
the wrapped ingestion for this manifest) is left where it is, unread.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core.lifetime import die_with_parent
from .child import say

__all__ = ["PERTURBED_DIR", "RUNS_FILE", "WRITTEN_BY", "replace_paths", "run_perturbed", "take_perturbed_runs"]

PERTURBED_DIR = ".aibench_perturbed"
RUNS_FILE = "runs.json"
WRITTEN_BY = ("aibench wrapped ingestion program: the prediction step re-run on perturbed inputs, for the wrapped "
              "scoring program, which moves this folder out of input/res before the original scoring program "
              "starts; not a participant's folder")
#: seconds of the phase's time limit the re-runs leave unused, for the worker's own steps
MARGIN_S = 5.0


def replace_paths(command: Sequence[str], replacements: Mapping[str, str]) -> list[str]:
    """``command`` with each argument that is, or starts with, a path of ``replacements`` (followed
    by ``/``) given the new path instead; other arguments unchanged."""
    out = []
    for argument in command:
        for old, new in replacements.items():
            if argument == old or argument.startswith(old.rstrip("/") + "/"):
                argument = new + argument[len(old):]
                break
        out.append(argument)
    return out


def run_perturbed(plan_json: Mapping[str, Any], manifest_sha256: str, inputs: Path, output: Path,
                  command: Sequence[str], deadline: float) -> None:
    """Re-run ``command`` once per run of the recorded plan (module docstring), until ``deadline``
    (``time.monotonic()``). Never raises: what fails is recorded and said on stderr."""
    from ..data.perturbations import RUN_STATUS_FILE, PerturbationError, PerturbationPlan, perturb_folder

    plan = PerturbationPlan.from_json(plan_json)
    home = output / PERTURBED_DIR
    home.mkdir(exist_ok=True)
    record: dict[str, Any] = {"written_by": WRITTEN_BY, "manifest_sha256": manifest_sha256, "runs": {}}
    scratch = Path(tempfile.mkdtemp(prefix="aibench-perturbed-"))
    try:
        for run in plan.runs:
            target = home / run.run_name
            target.mkdir()
            left = deadline - time.monotonic()
            if left < 1:
                status: dict[str, Any] = {"exit_code": None, "timed_out": True, "elapsed_s": 0.0,
                                          "message": "not run: no time was left of the phase's execution time limit"}
            else:
                try:
                    copy = perturb_folder(inputs, scratch / run.run_name, plan.inputs, run, plan.seed)
                except PerturbationError as error:
                    say(f"input perturbations not run: {error}")
                    record["error"] = str(error)
                    shutil.rmtree(target)
                    break
                argv = replace_paths(command, {str(inputs): str(copy), str(output): str(target)})
                status = _run_with_limit(argv, left)
                shutil.rmtree(copy, ignore_errors=True)
            (target / RUN_STATUS_FILE).write_text(json.dumps(status) + "\n", encoding="utf-8")
            record["runs"][run.run_name] = status
            say(f"perturbed run {run.run_name}: exit code {status['exit_code']}"
                + (" (stopped at the time limit)" if status["timed_out"] else "") + f", {status['elapsed_s']:.2f} s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        (home / RUNS_FILE).write_text(json.dumps(record) + "\n", encoding="utf-8")


def _run_with_limit(argv: Sequence[str], limit_s: float) -> dict[str, Any]:
    """Run ``argv`` in a session of its own, killed with everything it started after ``limit_s``."""
    started = time.monotonic()
    runtime = os.getpid()
    try:
        process = subprocess.Popen(list(argv), start_new_session=True,
                                   preexec_fn=lambda: die_with_parent(runtime, signal.SIGKILL))
    except OSError as error:
        return {"exit_code": 127, "timed_out": False, "elapsed_s": 0.0, "message": f"cannot start: {error}"}
    try:
        code = process.wait(timeout=limit_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            process.kill()
        code, timed_out = process.wait(), True
    elapsed = round(time.monotonic() - started, 3)
    message = f"stopped after {limit_s:.0f} s (what was left of the phase's time limit)" if timed_out else ""
    return {"exit_code": code if code >= 0 else 128 - code, "timed_out": timed_out, "elapsed_s": elapsed,
            "message": message}


def take_perturbed_runs(predictions: Path, manifest_sha256: str) -> tuple[dict[str, Path], str | None]:
    """The re-runs' folders, moved out of ``predictions`` (``input/res``) into a temporary folder,
    by run name; and a sentence for the log when something stays or is not ours (module docstring)."""
    home = predictions / PERTURBED_DIR
    if home.is_symlink() or not home.is_dir():
        return {}, None
    try:
        with open(home / RUNS_FILE, "rb") as handle:
            record = json.loads(handle.read(1 << 20))
    except (OSError, ValueError):
        record = None
    if not (isinstance(record, dict) and record.get("written_by") == WRITTEN_BY
            and record.get("manifest_sha256") == manifest_sha256 and isinstance(record.get("runs"), dict)):
        return {}, f"input/res/{PERTURBED_DIR} is not the wrapped ingestion's: left where it is, unread"
    target = Path(tempfile.mkdtemp(prefix="aibench-perturbed-runs-")) / PERTURBED_DIR
    note = None
    try:
        shutil.move(str(home), str(target))
    except OSError as error:  # a read-only input/res: copied, and it stays where the scorer can see it
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(home, target, symlinks=True)
        note = (f"input/res/{PERTURBED_DIR} stays in input/res, where the scoring program can see it: "
                f"{error.strerror or error} (the folder is read-only here)")
    runs = {str(name): target / str(name) for name in record["runs"]
            if "/" not in str(name) and (target / str(name)).is_dir() and not (target / str(name)).is_symlink()}
    return runs, note
