"""``aibench rerun RUN_ID`` (aibench_plugins.run.rerun, cli/rerun.py): a recorded run of
bundles/iris-v2 run again gives identical scores; in another image (docker) it says the image
differs while the scores stay equal; a changed submission or a tampered scoring program is
refused with the hashes; an unknown run id is a clear error; the --json shape."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aibench_plugins.core.errors import RerunRefused, UnknownRunError
from aibench_plugins.run.hashing import sha256_of_path
from aibench_plugins.run.ledger import Ledger
from aibench_plugins.run.rerun import compare_scores, rerun
from aibench_plugins.run.runner import run_bundle

REPO = Path(__file__).resolve().parents[2]
BUNDLES, SUBMISSIONS = REPO / "bundles", REPO / "examples" / "submissions"
IRIS, GOOD = BUNDLES / "iris-v2", SUBMISSIONS / "iris-v2" / "good"
#: the image the docker run records, and another one the engine has (compat/images)
IMAGE, OTHER_IMAGE = "codalab-compat/py312:bookworm", "codalab-compat/py312-aibench:bookworm"


def aibench(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"AIBENCH_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def copies(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of bundles/iris-v2 and of its good submission, to change after the run."""
    shutil.copytree(IRIS, tmp_path / "iris")
    shutil.copytree(GOOD, tmp_path / "good")
    return tmp_path / "iris", tmp_path / "good"


def test_a_rerun_of_a_recorded_run_gives_identical_scores(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    first = run_bundle(IRIS, GOOD, ledger_path=ledger)
    again = rerun(first.run_id[:8], ledger)
    assert again.identical and again.scores_equal and not again.facts and not again.changed_inputs
    assert [s.key for s in again.scores][:2] == ["accuracy", "balanced_accuracy"] and len(again.scores) == 10
    assert all(s.abs_delta == 0 for s in again.scores)
    assert again.outcome["status"] == {"old": "finished", "new": "finished", "equal": True}
    assert again.rerun.id != first.run_id and again.rerun.reproducibility["rerun_of"] == first.run_id
    with Ledger.open(ledger) as opened:  # the re-run is an ordinary run of the ledger
        assert [r.id for r in opened.runs(None)] == [again.rerun.id, first.run_id]


def test_a_rerun_in_another_image_says_the_image_differs_and_the_scores_stay_equal(tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.sqlite3"
    first = run_bundle(IRIS, GOOD, ledger_path=ledger_path, executor="docker", image=IMAGE)
    recorded = first.reproducibility["image"]
    assert recorded["given"] == IMAGE and recorded["id"].startswith("sha256:")
    assert first.reproducibility["engine"]["engine"]["version"]  # the Docker engine's own
    pinned = rerun(first.run_id, ledger_path)
    assert pinned.identical and pinned.facts == []
    assert pinned.rerun.image == recorded["id"] == pinned.rerun.image_id  # run again pinned to the recorded ID
    other = rerun(first.run_id, ledger_path, image=OTHER_IMAGE).to_json()
    [image] = [f for f in other["facts"] if f["fact"] == "image.id"]
    assert image["old"] == recorded["id"] and image["new"] != recorded["id"]
    assert other["differing"][0] == "image" and other["scores_equal"] and other["image_override"] == OTHER_IMAGE
    cli = aibench(tmp_path, "rerun", first.run_id[:8], "--image", OTHER_IMAGE)
    assert cli.returncode == 0, cli.stderr  # the scores are the same: exit 0, the image said
    assert f"in image {OTHER_IMAGE} (--image)" in cli.stdout
    assert "recorded facts that differ (image" in cli.stdout and recorded["id"] in cli.stdout
    assert "result: identical; recorded facts differ: image" in cli.stdout
    assert "NO" not in cli.stdout.split()


def test_a_changed_submission_is_refused_with_both_hashes(tmp_path: Path) -> None:
    bundle, submission = copies(tmp_path)
    first = run_bundle(bundle, submission, ledger_path=tmp_path / "ledger.sqlite3")
    recorded = sha256_of_path(submission)
    predictions = submission / "predictions.csv"
    predictions.write_text(predictions.read_text() + "\n")
    with pytest.raises(RerunRefused) as refused:
        rerun(first.run_id, tmp_path / "ledger.sqlite3")
    [problem] = refused.value.problems
    assert problem == {"input": "submission", "path": str(submission), "expected": recorded,
                       "found": sha256_of_path(submission),
                       "fix": "the participant's: the submission file changed since the run"}
    assert recorded in str(refused.value) and "--allow-changed-inputs" in str(refused.value)
    cli = aibench(tmp_path, "rerun", first.run_id, "--json")
    assert cli.returncode == 2 and json.loads(cli.stdout)["problems"] == [problem]
    allowed = rerun(first.run_id, tmp_path / "ledger.sqlite3", allow_changed_inputs=True)
    assert allowed.changed_inputs == [problem] and allowed.identical  # a trailing newline changes no score
    assert [f.fact for f in allowed.facts] == ["inputs.submission"]


def test_a_tampered_scoring_program_is_detected(tmp_path: Path) -> None:
    bundle, submission = copies(tmp_path)
    first = run_bundle(bundle, submission, ledger_path=tmp_path / "ledger.sqlite3")
    scorer = next((bundle / "scoring_program").glob("*.py"))
    scorer.write_text(scorer.read_text() + "\n# edited after the run\n")
    with pytest.raises(RerunRefused) as refused:
        rerun(first.run_id, tmp_path / "ledger.sqlite3")
    changed = {p["input"]: p for p in refused.value.problems}
    assert set(changed) == {"bundle", "scoring_program"}
    assert changed["scoring_program"]["path"] == str(bundle / "scoring_program")
    assert changed["scoring_program"]["found"] == sha256_of_path(bundle / "scoring_program")
    assert changed["scoring_program"]["expected"] == first.reproducibility["inputs"]["programs"]["scoring_program"][
        "sha256"]


def test_a_missing_input_is_a_clear_error_naming_its_path(tmp_path: Path) -> None:
    bundle, submission = copies(tmp_path)
    first = run_bundle(bundle, submission, ledger_path=tmp_path / "ledger.sqlite3")
    shutil.rmtree(submission)
    with pytest.raises(RerunRefused, match=f"its submission is no longer at {submission}"):
        rerun(first.run_id, tmp_path / "ledger.sqlite3")


def test_an_unknown_run_id_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UnknownRunError):
        rerun("deadbeef", tmp_path / "ledger.sqlite3")
    cli = aibench(tmp_path, "rerun", "deadbeef")
    assert cli.returncode == 2 and "Traceback" not in cli.stderr
    assert cli.stderr.startswith("Error: no run has id 'deadbeef'") and "aibench history" in cli.stderr
    as_json = json.loads(aibench(tmp_path, "rerun", "deadbeef", "--json").stdout)
    assert as_json["status"] == "error" and as_json["run_id"] == "deadbeef"


def test_a_run_recorded_without_a_record_is_refused(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:  # as an aibench before schema 5 recorded it
        run_id = ledger.start_run(bundle_path=str(IRIS), submission_path=str(GOOD), platform="codabench")
        ledger.finish_run(run_id, "finished", scores={"accuracy": 0.9})
    with pytest.raises(RerunRefused, match="has no reproducibility record"):
        rerun(run_id, tmp_path / "ledger.sqlite3")


def test_the_json_shape(tmp_path: Path) -> None:
    first = run_bundle(IRIS, GOOD, ledger_path=tmp_path / "ledger.sqlite3")
    data: dict[str, Any] = rerun(first.run_id, tmp_path / "ledger.sqlite3").to_json()
    assert set(data) == {"rerun_version", "status", "identical", "scores_equal", "original", "rerun", "tolerance",
                         "image_override", "scores", "outcome", "facts", "differing", "changed_inputs", "warnings",
                         "work_dir"}
    assert data["status"] == "identical" and data["original"] == first.run_id
    assert set(data["scores"][0]) == {"key", "old", "new", "equal", "abs_delta", "rel_delta", "ignored"}
    assert set(data["outcome"]) == {"status", "exit_codes", "message"}


def test_scores_compare_exactly_by_default_and_within_a_tolerance() -> None:
    exact = {s.key: s for s in compare_scores({"a": 1.0, "b": 2.0, "c": math.nan, "d": "x", "gone": 1.0},
                                              {"a": 1.0, "b": 2.0 + 1e-12, "c": math.nan, "d": "x", "new": 3.0})}
    assert exact["a"].equal and exact["c"].equal and exact["d"].equal
    assert not exact["b"].equal and exact["b"].abs_delta == pytest.approx(1e-12)
    assert exact["b"].rel_delta == pytest.approx(5e-13)
    assert not exact["gone"].equal and exact["gone"].new is None and not exact["new"].equal
    assert compare_scores({"b": 2.0}, {"b": 2.0 + 1e-12}, tolerance=1e-9)[0].equal
    assert not compare_scores({"b": 2.0}, {"b": 2.1}, tolerance=1e-9)[0].equal
    [timing] = compare_scores({"duration": 0.015}, {"duration": 0.011}, ignore=["duration"])
    assert not timing.equal and timing.ignored


def test_different_scores_are_shown_with_their_deltas_and_exit_1(tmp_path: Path) -> None:
    bundle, submission = copies(tmp_path)
    first = run_bundle(bundle, submission, ledger_path=tmp_path / "ledger.sqlite3")
    predictions = submission / "predictions.csv"
    lines = predictions.read_text().splitlines()
    wrong = "versicolor" if lines[1].endswith("virginica") else "virginica"
    predictions.write_text("\n".join([lines[0], lines[1].rsplit(",", 1)[0] + "," + wrong, *lines[2:]]) + "\n")
    cli = aibench(tmp_path, "rerun", first.run_id[:8], "--allow-changed-inputs")
    assert cli.returncode == 1, cli.stderr
    [accuracy] = [line.split() for line in cli.stdout.splitlines() if line.startswith("accuracy ")]
    assert accuracy[-1] == "NO" and float(accuracy[3]) < 0 and float(accuracy[1]) > float(accuracy[2])
    assert "changed input (submission)" in cli.stderr and "inputs.submission" in cli.stdout
    assert "result: DIFFERENT (recorded facts that differ, a possible reason: inputs)" in cli.stdout


def test_an_image_for_a_run_without_one_is_a_usage_error(tmp_path: Path) -> None:
    from aibench_plugins.core.errors import UsageError

    first = run_bundle(IRIS, GOOD, ledger_path=tmp_path / "ledger.sqlite3")
    with pytest.raises(UsageError, match="ran on the local executor, which runs no image"):
        rerun(first.run_id, tmp_path / "ledger.sqlite3", image=OTHER_IMAGE)
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        assert len(ledger.runs(None)) == 1  # nothing ran
