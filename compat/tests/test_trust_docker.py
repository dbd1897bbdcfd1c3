"""Issue 9, item 3, with the Docker executor: each container gets only the folders the worker
gives its step. The v1 worker's run folder used to be mounted whole (read-only) into every
container, and any folder a v1 command named was mounted writable: ``$program/..`` let
participant code rewrite the scoring program. Real Docker engine, the Python image of
compat/images; the hostile submissions are built in ``tmp_path``.
"""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from codalab_worker_compat import DockerExecutor, RunResult, Worker, load_bundle, run_submission
from dockerimages import containers, python_image
from hostile import code_submission, v1_scoring_bundle, v2_scoring_bundle
from test_runner import step
from test_trust_local import HOSTILE
from test_trust_runner import SNOOP


@pytest.fixture
def executor() -> Iterator[DockerExecutor]:
    label = f"test-{uuid.uuid4().hex}"
    with DockerExecutor(python_image(), run_label=label) as made:
        yield made
    assert containers(f"aibench.run={label}") == [], "a container was left behind"


def run(bundle: Path, submission: Path, work: Path, worker: Worker, executor: DockerExecutor) -> RunResult:
    return run_submission(load_bundle(bundle), submission, executor, work, worker=worker)


def test_v1_parent_of_program_is_not_mounted(tmp_path: Path, executor: DockerExecutor) -> None:
    work = tmp_path / "work"
    submission = code_submission(tmp_path / "sub", SNOOP, f"python3 $program/run.py $output {work} $program/..")
    result = run(v1_scoring_bundle(tmp_path / "bundle"), submission, work, "v1", executor)
    assert result.status == "finished", result.message
    log = step(result, "prediction").logs["submission stdout"].read_text()
    assert '"found": [], "wrote": []' in log, log
    assert result.row is not None and result.row.values["accuracy"] == Decimal("0.25")
    assert "SystemExit" not in (work / "bundle" / "scoring_program" / "score.py").read_text()


def test_v2_prediction_container_reaches_nothing(tmp_path: Path, executor: DockerExecutor) -> None:
    work = tmp_path / "work"
    sentinel = f"aibench-sentinel-{uuid.uuid4().hex}"
    submission = code_submission(tmp_path / "sub", HOSTILE, f"python3 run.py {work} 9 {sentinel} /nonexistent")
    result = run(v2_scoring_bundle(tmp_path / "bundle"), submission, work, "codabench", executor)
    assert result.status == "finished", result.message
    log = step(result, "prediction").logs["submission stdout"].read_text()
    attempts = json.loads([line for line in log.splitlines() if line.startswith("{")][-1])
    assert {k: v for k, v in attempts.items() if v == "ok"} == {}, attempts
    assert attempts["root listing"] == []
    assert result.row is not None and result.row.values["accuracy"] == Decimal("0.25")
    assert not Path("/etc", sentinel).exists() and not Path("/root", sentinel).exists()
    assert not [w for w in result.warnings if "bubblewrap" in w or "NO SANDBOX" in w]


def test_opening_a_writable_folder_follows_no_link(tmp_path: Path) -> None:
    """Before a container runs as 65534, its writable folders are opened to it (a+rwX): a link in
    them (to a private host file, or to a folder) keeps its target's mode."""
    from codalab_worker_compat._docker import _open_to

    private = tmp_path / "private.txt"
    private.write_text("secret")
    private.chmod(0o600)
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o700)
    output = tmp_path / "run" / "output"
    (output / "sub").mkdir(parents=True)
    (output / "sub" / "own.txt").write_text("x")
    (output / "link").symlink_to(private)
    (output / "sub" / "dirlink").symlink_to(outside, target_is_directory=True)
    _open_to(str(output))
    assert stat.S_IMODE(private.stat().st_mode) == 0o600 and stat.S_IMODE(outside.stat().st_mode) == 0o700
    assert stat.S_IMODE((output / "sub" / "own.txt").stat().st_mode) == 0o666
    assert stat.S_IMODE((output / "sub").stat().st_mode) == 0o777
