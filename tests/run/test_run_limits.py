"""``aibench run`` applies the manifest's ``limits`` (issue 9 item 7): a 3 s ``time_limit_s``
stops a model that trains for 20 s, a 1024 MB ``memory_mb`` stops one holding 1.5 GB, under the
local executor (bwrap) and the Docker executor; the phase's override and the command line's
flags take precedence, in that order reversed; the text and ``--json`` reports say which limits
were applied to each process and where they came from; a limit the executor cannot apply
refuses the run before anything runs. The hostile submissions are written in each test.
Fails, never skips, without bwrap, Docker or the image of compat/images."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "compat" / "tests"))

from dockerimages import python_image  # noqa: E402

SLOW = "import time\n\nclass Model:\n    def fit(self, X, y):\n        time.sleep(20)\n\n" \
       "    def predict(self, X):\n        return [0 for _ in X]\n"
HOG = "class Model:\n    def fit(self, X, y):\n        self.held = [b'\\x01' * (64 << 20) for _ in range(24)]\n\n" \
      "    def predict(self, X):\n        return [0 for _ in X]\n"


def aibench(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"AIBENCH_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def bundle_with(tmp_path: Path, limits: dict[str, Any], phase_limits: dict[str, Any] | None = None) -> Path:
    """The digits bundle (phase time limit 30 s) with ``limits`` in its aibench.json."""
    bundle = tmp_path / "bundle"
    shutil.copytree(REPO / "bundles" / "digits-ingestion-v2", bundle)
    manifest = json.loads((bundle / "aibench.json").read_text())
    manifest["limits"] = limits
    if phase_limits is not None:
        manifest["phases"] = {"0": {"limits": phase_limits}}
    (bundle / "aibench.json").write_text(json.dumps(manifest))
    return bundle


def submission(tmp_path: Path, code: str) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "model.py").write_text(code)
    return folder


def run_json(tmp_path: Path, bundle: Path, sub: Path, *args: str) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    done = aibench(tmp_path / "home", "run", str(bundle), str(sub), "--json", *args)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout), time.monotonic() - started


def processes(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for step in report["steps"] for p in step["processes"]]


EXECUTORS = {"local": (), "docker": ("--executor", "docker", "--image", "IMAGE")}


@pytest.fixture(params=sorted(EXECUTORS))
def executor_args(request: pytest.FixtureRequest) -> tuple[str, ...]:
    if request.param == "docker":
        return tuple(python_image() if a == "IMAGE" else a for a in EXECUTORS["docker"])
    return ()


def test_manifest_time_limit_of_3_s_stops_a_20_s_step(tmp_path: Path, executor_args: tuple[str, ...]) -> None:
    code, report, took = run_json(tmp_path, bundle_with(tmp_path, {"time_limit_s": 3}), submission(tmp_path, SLOW),
                                  *executor_args)
    assert code == 1 and report["status"] == "failed"
    assert "time limit of 3 s per process set by aibench" in report["message"] and "phase allows 30 s" in report["message"]
    assert took < 15, f"the run took {took:.1f} s"
    ingestion = processes(report)[0]
    assert ingestion["reason"] == "timeout" and ingestion["elapsed_s"] < 8
    assert ingestion["limits_applied"]["time_limit_s"].startswith("3 s wall clock")
    assert report["limits"]["time_limit_s"] == {"value": 3, "source": "aibench.json /limits/time_limit_s"}


def test_manifest_memory_limit_of_1024_mb_stops_a_step_holding_1_5_gb(tmp_path: Path,
                                                                       executor_args: tuple[str, ...]) -> None:
    code, report, _ = run_json(tmp_path, bundle_with(tmp_path, {"memory_mb": 1024}), submission(tmp_path, HOG),
                               *executor_args)
    assert code == 1 and report["status"] == "failed"
    ingestion = processes(report)[0]
    assert ingestion["reason"] == "oom", ingestion
    assert "1024" in ingestion["limits_applied"]["memory_mb"]
    assert report["limits"]["memory_mb"] == {"value": 1024, "source": "aibench.json /limits/memory_mb"}
    assert any("out of memory" in e for e in report["explanations"])


def test_phase_override_and_flags_take_precedence(tmp_path: Path) -> None:
    """The command line's flags over the manifest's limits, field by field; a phase's ``limits``
    replaces the top-level section, as every phase override of the manifest does."""
    bundle = bundle_with(tmp_path, {"time_limit_s": 20, "memory_mb": 2048}, phase_limits={"time_limit_s": 10})
    code, report, _ = run_json(tmp_path, bundle, submission(tmp_path, SLOW), "--time-limit-s", "2")
    assert code == 1 and "time limit of 2 s per process" in report["message"]
    assert report["limits"] == {"time_limit_s": {"value": 2.0, "source": "--time-limit-s"}}
    shutil.rmtree(tmp_path / "home")
    code, report, _ = run_json(tmp_path, bundle, tmp_path / "submission")
    assert report["limits"] == {"time_limit_s": {"value": 10, "source": "aibench.json /phases/0/limits/time_limit_s"}}
    assert "time limit of 10 s per process" in report["message"]


def test_text_report_lists_the_limits_applied_to_each_process(tmp_path: Path) -> None:
    done = aibench(tmp_path / "home", "run", str(bundle_with(tmp_path, {"time_limit_s": 3, "memory_mb": 1024})),
                   str(submission(tmp_path, SLOW)))
    assert done.returncode == 1
    assert "prediction: ingestion program exit None (timeout)" in done.stdout
    assert "    limit time_limit_s: 3 s wall clock" in done.stdout and "[aibench.json /limits/time_limit_s]" in done.stdout
    assert "    limit memory_mb: 1024 MiB of " in done.stdout  # a memory cgroup, or RLIMIT_AS without one


def test_a_limit_the_executor_cannot_apply_refuses_the_run(tmp_path: Path) -> None:
    """gpus under the local executor: refused before anything runs, naming the limit, where it
    was set, whose fix it is and which executor can apply it; no run is recorded."""
    bundle = bundle_with(tmp_path, {"gpus": 1})
    done = aibench(tmp_path / "home", "run", str(bundle), str(submission(tmp_path, SLOW)))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "the gpus limit (1) cannot be applied by the local executor" in done.stderr
    assert "--executor docker" in done.stderr and "gpus from aibench.json /limits/gpus" in done.stderr
    assert "organiser" in done.stderr
    code, report, _ = run_json(tmp_path, bundle, tmp_path / "submission")
    assert code == 1 and report["status"] == "error" and "gpus limit (1)" in report["message"]
    assert json.loads(aibench(tmp_path / "home", "history", "--json").stdout)["runs"] == []
