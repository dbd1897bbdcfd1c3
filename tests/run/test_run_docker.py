"""``aibench run --executor docker``: the example bundles in hardened containers of the
py312-like image (compat/images, ``make images``), the fault submissions of
examples/submissions/digits-ingestion-v2 each ending with the right status and a reason a
participant understands, the pinned image in the ledger, and nothing left behind (no container,
no temporary folder). Without a Docker engine or the image these tests fail, never skip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BUNDLES, SUBMISSIONS = REPO / "bundles", REPO / "examples" / "submissions"
sys.path.insert(0, str(REPO / "compat" / "tests"))

from dockerimages import containers, python_image  # noqa: E402

LIMIT_S = 6  # the digits bundle's 30 s, shortened so that the hanging faults end sooner


@pytest.fixture(scope="module")
def image() -> str:
    return python_image()


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """digits-ingestion-v2 with an execution time limit of LIMIT_S seconds."""
    bundle = tmp_path_factory.mktemp("bundle") / "digits"
    shutil.copytree(BUNDLES / "digits-ingestion-v2", bundle)
    spec = bundle / "competition.yaml"
    spec.write_text(spec.read_text().replace("execution_time_limit: 30", f"execution_time_limit: {LIMIT_S}"))
    return bundle


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private TMPDIR, checked empty afterwards: the run leaves no temporary folder."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)
    yield folder
    assert list(folder.iterdir()) == []


def run(tmp_path: Path, bundle: Path, submission: str, image: str, **options: Any) -> Any:
    from aibench_plugins.run.runner import run_bundle

    return run_bundle(bundle, SUBMISSIONS / "digits-ingestion-v2" / submission, ledger_path=tmp_path / "ledger.sqlite3",
                      work_dir=tmp_path / "work", executor="docker", image=image, **options)


# submission -> (status, text in the platform's message, text in an explanation or None)
FAULTS = {
    "good": ("finished", "", None),
    "loop-forever": ("failed", f"Execution Time Limit exceeded. Limit was {LIMIT_S} seconds", None),
    "memory-hog": ("failed", "program_rc=1", "out of memory: the program used more than its memory limit of 256 MB"),
    "fork-bomb": ("failed", f"Execution Time Limit exceeded. Limit was {LIMIT_S} seconds",
                  "the process-count limit of 64 was reached"),
    "network": ("failed", "program_rc=1", "tried to use the network, which the docker executor turns off"),
    "write-outside-output": ("failed", "program_rc=1", "tried to write to a read-only folder"),
}


@pytest.mark.parametrize("submission", sorted(FAULTS))
def test_fault_submissions_in_docker(tmp_path: Path, digits: Path, image: str, private_tmp: Path,
                                     submission: str) -> None:
    from codalab_worker_compat import ResourceLimits

    from aibench_plugins.run.ledger import Ledger

    status, message, explanation = FAULTS[submission]
    report = run(tmp_path, digits, submission, image, limits=ResourceLimits(memory_mb=256, pids=64))
    result = report.result
    assert result.status == status, (result.message, report.explanations)
    assert message in result.message
    if explanation is None:
        assert report.explanations == []
    else:
        assert any(explanation in e for e in report.explanations), report.explanations
    reasons = {p.name: p.reason for s in result.steps for p in s.processes}
    expected_reason = {"loop-forever": "timeout", "fork-bomb": "timeout", "memory-hog": "oom"}.get(submission, "exited")
    assert reasons["ingestion program"] == expected_reason
    assert containers(f"aibench.run={report.run_id}") == []
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        record = ledger.get(report.run_id)
    assert (record.status, record.executor, record.image) == (status, "docker", image)
    assert record.image_id is not None and record.image_id.startswith("sha256:")
    assert record.executor_details["network"] is False and record.executor_details["user"] == "65534:65534"
    if explanation is not None:
        assert explanation in (record.message or "")


def test_good_submission_scores_the_same_in_docker_and_locally(tmp_path: Path, image: str) -> None:
    from aibench_plugins.run.runner import run_bundle

    bundle, submission = BUNDLES / "digits-ingestion-v2", SUBMISSIONS / "digits-ingestion-v2" / "good"
    local = run_bundle(bundle, submission, ledger_path=tmp_path / "l.sqlite3", work_dir=tmp_path / "local")
    docker = run_bundle(bundle, submission, ledger_path=tmp_path / "d.sqlite3", work_dir=tmp_path / "docker",
                        executor="docker", image=image)
    assert local.ok and docker.ok
    values = {c["key"]: c["value"] for c in docker.columns}
    assert values["accuracy"] == {c["key"]: c["value"] for c in local.columns}["accuracy"] == pytest.approx(0.86)
    assert [c.value for c in docker.evaluation.columns] == [c.value for c in local.evaluation.columns]
    assert docker.isolation == "docker" and docker.executor["image_id"].startswith("sha256:")


def test_cli_json_and_history(tmp_path: Path, image: str) -> None:
    env = os.environ | {"AIBENCH_HOME": str(tmp_path)}
    cli = [sys.executable, "-m", "aibench_plugins"]
    done = subprocess.run([*cli, "run", str(BUNDLES / "iris-v2"), str(SUBMISSIONS / "iris-v2" / "good"), "--json",
                           "--executor", "docker", "--image", image, "--memory-mb", "512"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "finished" and report["isolation"] == "docker" and report["explanations"] == []
    executor = report["executor"]
    assert (executor["executor"], executor["image"], executor["network"]) == ("docker", image, False)
    assert executor["image_id"].startswith("sha256:") and executor["repo_digests"] == []
    peaks = [m for m in report["measurements"] if m["name"].endswith(" peak memory")]
    assert len(peaks) == sum(len(s["processes"]) for s in report["steps"]) > 0
    for peak in peaks:  # each container's peak, read by the executor on the host from its cgroup
        assert (peak["measured_by"], peak["unit"], peak["status"]) == ("executor", "MiB", "measured"), peak
        assert 1 < peak["value"] <= 512 and "the container's memory cgroup" in peak["tool"], peak
    history = json.loads(subprocess.run([*cli, "history", "--json"], capture_output=True, text=True, env=env).stdout)
    (record,) = history["runs"]
    assert (record["executor"], record["image"], record["image_id"]) == ("docker", image, executor["image_id"])
    table = subprocess.run([*cli, "history"], capture_output=True, text=True, env=env).stdout
    assert "docker@" + executor["image_id"].removeprefix("sha256:")[:12] in table


def test_cli_refuses_what_cannot_run(tmp_path: Path) -> None:
    env = os.environ | {"AIBENCH_HOME": str(tmp_path)}
    cli = [sys.executable, "-m", "aibench_plugins", "run", str(BUNDLES / "iris-v2"), str(SUBMISSIONS / "iris-v2" / "good")]
    # without --image: the bundle's image when the engine has it, else the stand-in, said (test_images_docker.py)
    missing = subprocess.run([*cli, "--executor", "docker"], capture_output=True, text=True, env=env)
    assert missing.returncode == 0 and "choose with --image IMAGE" in missing.stdout, missing.stderr
    local = subprocess.run([*cli, "--executor", "local", "--gpus", "1"], capture_output=True, text=True,
                           env=env)  # --network works locally
    assert local.returncode == 2 and "apply to --executor docker" in local.stderr
    # without --executor the manifest's executor section could be docker's: the local one refuses the limit
    chosen = subprocess.run([*cli, "--gpus", "1"], capture_output=True, text=True, env=env)
    assert chosen.returncode == 1 and "gpus from --gpus" in chosen.stderr and "Traceback" not in chosen.stderr
    unknown = subprocess.run([*cli, "--executor", "docker", "--image", "aibench-test/no-such-image:1"],
                             capture_output=True, text=True, env=env)
    assert unknown.returncode == 1 and "no image 'aibench-test/no-such-image:1' on this Docker engine" in unknown.stderr
