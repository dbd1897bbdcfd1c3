"""Every built-in submission check on the three paths a submission takes: ``aibench run``, the
wrapped bundle under the local executor, the wrapped bundle in real Docker containers. A good
submission finishes with the original scores and the plugin columns; a bad one is refused with
the check's own message, the original scorer never running (issue 11, item 1: the wrapped
runtime refused every good submission, its view of ``input/res`` being links its reader refused).

One bundle (iris-v2, copied) declares all eight checks; each bad submission breaks exactly one of
them. The wrapped bundle is shared by every case (module fixtures). In Docker one submission
that breaks every check at once is refused with all eight messages, on both v2 workers' rules.
v1 rules (wine-v1, on v1 and after Codabench converts it) and both v2 platforms' rules are
covered for the data checks under the local executor too.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from codalab_worker_compat import RunResult, load_bundle, run_submission
from wrapkit import (
    SUBMISSIONS,
    bundle_copy,
    edit_manifest,
    run_as_platform,
    scoring_output,
    stderr_of_scoring,
    wrap,
)

from aibench_plugins.run.runner import run_bundle

PY_IMAGE = os.environ.get("AIBENCH_TEST_IMAGE", "codalab-compat/py312:bookworm")
IRIS_GOOD = SUBMISSIONS / "iris-v2" / "good"
WINE_GOOD = SUBMISSIONS / "wine-v1" / "good"
SPECIES = ["setosa", "versicolor", "virginica"]
PROBABILITIES = [f"p_{s}" for s in SPECIES]
FILE = {"file": "predictions.csv", "id": "id"}

#: every built-in check, as the bundle declares it
CHECKS: dict[str, dict[str, Any]] = {
    "aibench.required_files": {"files": ["predictions.csv"], "allow_others": False},
    "aibench.size_limit": {"max_file_mb": 0.05},
    "aibench.table_schema": {**FILE, "columns": {"label": "str", "rank": "int"}},
    "aibench.ids": {**FILE, "reference_file": "labels.csv"},
    "aibench.finite": {**FILE, "columns": ["score"]},
    "aibench.value_range": {**FILE, "columns": {"confidence": {"min": 0, "max": 1}}},
    "aibench.label_set": {**FILE, "column": "label", "labels": SPECIES},
    "aibench.probabilities": {**FILE, "columns": PROBABILITIES},
}

Rows = list[dict[str, str]]


def _comment(rows: Rows, folder: Path) -> None:
    for row in rows:
        row["comment"] = "x" * 2000  # 45 rows of 2 kB: over the 0.05 MiB limit


def _drop_row(rows: Rows, folder: Path) -> None:
    del rows[3]


def _set(column: str, value: str) -> Callable[[Rows, Path], None]:
    def change(rows: Rows, folder: Path) -> None:
        rows[5][column] = value

    return change


def _stray(rows: Rows, folder: Path) -> None:
    (folder / "notes.txt").write_text("my notes\n")


def _unbalanced(rows: Rows, folder: Path) -> None:
    rows[7].update(p_setosa="0.5", p_versicolor="0.1", p_virginica="0.1")


#: the fault that breaks each check, and a piece of the check's message about it
FAULTS: dict[str, tuple[Callable[[Rows, Path], None], str]] = {
    "aibench.required_files": (_stray, "notes.txt: unexpected file"),
    "aibench.size_limit": (_comment, "file is 0.1 MiB, over the 0.05 MiB limit"),
    "aibench.table_schema": (_set("rank", "first"), "column 'rank' holds 'first', not an int"),
    "aibench.ids": (_drop_row, "has no prediction: 'iris-044'"),
    "aibench.finite": (_set("score", "inf"), "column 'score' is inf"),
    "aibench.value_range": (_set("confidence", "1.5"), "column 'confidence' is 1.5, above the maximum 1"),
    "aibench.label_set": (_set("label", "daisy"), "label 'daisy' is not an allowed label"),
    "aibench.probabilities": (_unbalanced, "the probabilities sum to 0.7, not 1"),
}


def _write_submission(folder: Path, faults: list[str]) -> Path:
    """iris's good predictions with the columns the checks read, and the faults of ``faults``."""
    with (IRIS_GOOD / "predictions.csv").open(newline="") as handle:
        rows = [dict(row) for row in csv.DictReader(handle)]
    for number, row in enumerate(rows):
        row.update(rank=str(number + 1), score=f"{0.5 + number / 100:.2f}", confidence="0.9")
        row.update({p: ("0.8" if p == f"p_{row['label']}" else "0.1") for p in PROBABILITIES})
    folder.mkdir(parents=True)
    for check in faults:
        FAULTS[check][0](rows, folder)
    with (folder / "predictions.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("checks")


@pytest.fixture(scope="module")
def checked_bundle(made: Path) -> Path:
    bundle = bundle_copy("iris-v2", made)
    edit_manifest(bundle, checks=[{"use": use, "params": params} for use, params in CHECKS.items()])
    return bundle


@pytest.fixture(scope="module")
def wrapped(checked_bundle: Path, made: Path) -> Path:
    return wrap(checked_bundle, made / "iris-checked.zip")


@pytest.fixture(scope="module")
def good(made: Path) -> Path:
    return _write_submission(made / "good", [])


@pytest.fixture(scope="module")
def bad(made: Path) -> Callable[[str], Path]:
    def submission(check: str) -> Path:
        folder = made / f"bad-{check}"
        return folder if folder.exists() else _write_submission(folder, [check])

    return submission


@pytest.fixture(scope="module")
def plain(checked_bundle: Path, good: Path, made: Path) -> Any:
    """``aibench run`` of the good submission: the original scores and the plugin columns."""
    report = run_bundle(checked_bundle, good, work_dir=made / "plain", ledger_path=made / "plain.db")
    assert report.ok, report.result.message
    return report


def _expected_scores(plain: Any) -> dict[str, float]:
    original = json.loads((scoring_output(plain) / "scores.json").read_text())
    return dict(original) | {c.key: c.value for c in plain.evaluation.columns}


# -- aibench run and the wrapped bundle under the local executor -----------------------------


@pytest.mark.parametrize("check", list(CHECKS))
def test_aibench_run_passes_the_good_submission(check: str, plain: Any) -> None:
    assert plain.evaluation is not None and not plain.evaluation.problems
    assert plain.columns[0]["key"] == "accuracy" and plain.columns[0]["value"] == pytest.approx(0.9555555555555556)
    assert all(c.value is not None for c in plain.evaluation.columns)


@pytest.mark.parametrize("check", list(CHECKS))
def test_aibench_run_refuses_the_bad_submission_with_the_checks_message(
        check: str, checked_bundle: Path, bad: Callable[[str], Path], tmp_path: Path) -> None:
    report = run_bundle(checked_bundle, bad(check), work_dir=tmp_path / "run", ledger_path=tmp_path / "l.db")
    assert not report.ok
    assert report.evaluation is not None
    assert {p.check for p in report.evaluation.problems if p.severity == "error"} == {check}
    assert FAULTS[check][1] in report.result.message, report.result.message


@pytest.fixture(scope="module")
def wrapped_good(wrapped: Path, good: Path, made: Path) -> Any:
    return run_as_platform(wrapped, good, made / "wrapped-good")


@pytest.mark.parametrize("check", list(CHECKS))
def test_wrapped_bundle_passes_the_good_submission_with_the_original_scores(
        check: str, wrapped_good: Any, plain: Any) -> None:
    assert wrapped_good.ok, stderr_of_scoring(wrapped_good)
    report = json.loads((scoring_output(wrapped_good) / "aibench" / "report.json").read_text())
    assert report["check_problems"] == [] and report["status"] == "finished"
    scores = json.loads((scoring_output(wrapped_good) / "scores.json").read_text())
    assert scores == _expected_scores(plain)


@pytest.mark.parametrize("check", list(CHECKS))
def test_wrapped_bundle_refuses_the_bad_submission_with_the_checks_message(
        check: str, wrapped: Path, bad: Callable[[str], Path], tmp_path: Path) -> None:
    report = run_as_platform(wrapped, bad(check), tmp_path / "run")
    assert not report.ok
    stderr = stderr_of_scoring(report)
    assert "refused before scoring by the bundle's checks" in stderr and f"[{check}]" in stderr
    assert FAULTS[check][1] in stderr, stderr
    assert not (scoring_output(report) / "scores.json").exists()  # the original scorer never ran
    problems = json.loads((scoring_output(report) / "aibench" / "report.json").read_text())["check_problems"]
    assert {p["check"] for p in problems} == {check}


@pytest.mark.parametrize("platform", ["codabench", "ai4mediabench"])
def test_wrapped_data_checks_on_each_v2_platforms_rules(platform: str, wrapped: Path, good: Path,
                                                        bad: Callable[[str], Path], plain: Any,
                                                        tmp_path: Path) -> None:
    passed = run_as_platform(wrapped, good, tmp_path / "good", platform=platform)
    assert passed.ok, stderr_of_scoring(passed)
    assert json.loads((scoring_output(passed) / "scores.json").read_text()) == _expected_scores(plain)
    refused = run_as_platform(wrapped, bad("aibench.ids"), tmp_path / "bad", platform=platform)
    assert not refused.ok and "[aibench.ids]" in stderr_of_scoring(refused)


WINE_CHECKS = [{"use": "aibench.table_schema", "params": {**FILE, "columns": {"label": "str"}}},
               {"use": "aibench.ids", "params": {**FILE, "reference_file": "labels.csv"}},
               {"use": "aibench.label_set", "params": {**FILE, "column": "label",
                                                        "labels": ["class_0", "class_1", "class_2"]}}]


@pytest.mark.parametrize("platform", ["v1", "codabench"])
def test_wrapped_v1_bundle_data_checks_on_v1_and_after_codabench_converts_it(platform: str, made: Path,
                                                                            tmp_path: Path) -> None:
    out = made / "wine-checked.zip"
    if not out.exists():
        bundle = bundle_copy("wine-v1", made)
        edit_manifest(bundle, checks=WINE_CHECKS)
        wrap(bundle, out)
    passed = run_as_platform(out, WINE_GOOD, tmp_path / "good", platform=platform)
    assert passed.ok, stderr_of_scoring(passed)
    values = {c["key"]: c["value"] for c in passed.columns}
    assert values["accuracy"] is not None and all(v is not None for v in values.values()), values
    bad = tmp_path / "bad"
    bad.mkdir()
    text = (WINE_GOOD / "predictions.csv").read_text().replace(",class_1\n", ",class_9\n", 1)
    (bad / "predictions.csv").write_text(text)
    refused = run_as_platform(out, bad, tmp_path / "refused", platform=platform)
    stderr = stderr_of_scoring(refused)
    assert not refused.ok and "[aibench.label_set]" in stderr and "'class_9'" in stderr, stderr


# -- the wrapped bundle in Docker -----------------------------------------------------------


@pytest.fixture(scope="module")
def executor() -> Iterator[object]:
    try:
        from codalab_worker_compat import DockerExecutor

        docker_executor = DockerExecutor(PY_IMAGE)
    except Exception as error:  # noqa: BLE001 - any reason there is no engine or image fails these tests
        pytest.fail(f"these tests need a Docker engine and the image {PY_IMAGE} (make images; .ci/run does both): "
                    f"{error}")
    yield docker_executor
    docker_executor.close()


@pytest.fixture(scope="module")
def in_docker(executor: object, wrapped: Path, good: Path, made: Path) -> Callable[[str, str], RunResult]:
    """The wrapped bundle's run in Docker of the good submission or of one breaking every check
    (``all-bad``), on a worker's rules; each run once, shared by every check's case."""
    runs: dict[tuple[str, str], RunResult] = {}

    def run(which: str, worker: str) -> RunResult:
        if (which, worker) not in runs:
            submission = good if which == "good" else made / "all-bad"
            if not submission.exists():
                _write_submission(submission, list(CHECKS))
            runs[which, worker] = run_submission(load_bundle(wrapped), submission, executor,  # type: ignore[arg-type]
                                                 made / f"docker-{which}-{worker}", worker=worker)  # type: ignore[arg-type]
        return runs[which, worker]

    return run


def _docker_output(result: RunResult) -> Path:
    return next(s.output_dir for s in result.steps if s.step == "scoring")


@pytest.mark.parametrize("worker", ["codabench", "ai4mediabench"])
@pytest.mark.parametrize("check", list(CHECKS))
def test_wrapped_bundle_in_docker_passes_the_good_submission_with_the_original_scores(
        check: str, worker: str, in_docker: Callable[[str, str], RunResult], plain: Any) -> None:
    result = in_docker("good", worker)
    assert result.status == "finished", result.message
    assert json.loads((_docker_output(result) / "scores.json").read_text()) == _expected_scores(plain)
    assert json.loads((_docker_output(result) / "aibench" / "report.json").read_text())["check_problems"] == []


@pytest.mark.parametrize("worker", ["codabench", "ai4mediabench"])
@pytest.mark.parametrize("check", list(CHECKS))
def test_wrapped_bundle_in_docker_refuses_the_bad_submission_with_the_checks_message(
        check: str, worker: str, in_docker: Callable[[str, str], RunResult]) -> None:
    result = in_docker("all-bad", worker)
    assert result.status == "failed"
    assert not (_docker_output(result) / "scores.json").exists()
    problems = json.loads((_docker_output(result) / "aibench" / "report.json").read_text())["check_problems"]
    mine = [p for p in problems if p["check"] == check]
    assert mine and any(FAULTS[check][1] in _problem_text(p) for p in mine), problems


def _problem_text(problem: dict[str, Any]) -> str:
    where = f"{problem['file']}: " if problem.get("file") else ""
    return f"{where}{problem['message']} {problem.get('item') or ''} {problem.get('fix') or ''}"
