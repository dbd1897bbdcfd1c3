"""Issue 11 item 12, end to end: ``aibench run`` scores real metrics on the table shapes of the
real bundles that could not take one (files without a header line, whitespace-separated
matrices, one-hot rows, references with missing values), and refuses a malformed file of each
shape with its line, column, what was expected and whose fix it is; ``aibench validate`` checks
the new declaration fields. Item 14: a metric without ``splits`` gives its overall column.

Each bundle is a copy of ``bundles/iris-v2`` (its scoring program still scores
``predictions.csv``) with another ``aibench.json`` and extra reference files; each submission
is the good iris submission plus the files of the shape under test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
IRIS, GOOD = REPO / "bundles" / "iris-v2", REPO / "examples" / "submissions" / "iris-v2" / "good"


def aibench(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"AIBENCH_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *args], capture_output=True, text=True, env=env)


def run(tmp_path: Path, manifest: dict[str, Any], reference: dict[str, str], submitted: dict[str, str],
        *, refused: bool = False) -> dict[str, Any]:
    """``aibench run --json`` of iris-v2 with ``manifest`` and extra reference and submission files;
    ``refused``: the bundle's own reference data is malformed, so the run stops before anything runs
    (the static checks ``aibench validate`` shares)."""
    bundle, submission = tmp_path / "bundle", tmp_path / "submission"
    shutil.copytree(IRIS, bundle)
    shutil.copytree(GOOD, submission)
    (bundle / "aibench.json").write_text(json.dumps({"schema_version": 1, **manifest}))
    for name, text in reference.items():
        (bundle / "reference_data" / name).write_text(text)
    for name, text in submitted.items():
        (submission / name).write_text(text)
    result = aibench(tmp_path, "run", str(bundle), str(submission), "--json")
    assert result.stdout, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    if refused:
        assert result.returncode == 1 and report["status"] == "error" and "nothing ran" in report["message"], report
        return report
    assert result.returncode == 0 and report["status"] == "finished", report
    assert report["columns"][0]["value"] == pytest.approx(0.955556)  # the original score, untouched
    return report


def values(report: dict[str, Any]) -> dict[str, Any]:
    return {c["key"]: c["value"] for c in report["plugin_columns"]}


def failure(report: dict[str, Any]) -> str:
    [found] = report["plugin_failures"]
    return str(found["message"])


def refusal(report: dict[str, Any]) -> str:
    """The one problem of a run refused for its reference data: its message and whose fix it is."""
    [found] = [p for p in report["problems"] if p["severity"] == "error"]
    return f"{found['message']} {found['fix']}"


def headerless(name: str, table: str = "reference", **extra: Any) -> dict[str, Any]:
    return {"from": "submission" if table == "submission" else "reference", "file": name, "format": "csv",
            "id": None, **extra}


def metric(use: str, key: str, predictions: str, references: str, **extra: Any) -> dict[str, Any]:
    return {"use": use, "key": key, "inputs": {"predictions": predictions, "references": references}, **extra}


TRUTH = ["cat", "dog", "dog", "bird", "cat", "bird"]
GUESS = ["cat", "dog", "cat", "bird", "cat", "dog"]
LABELS = {"truth": headerless("truth.txt", names=["label"], columns=["label"]),
          "guess": headerless("guess.txt", "submission", names=["label"], columns=["label"])}


# -- one label per line, no header ------------------------------------------------------------


def test_files_without_a_header_take_a_metric(tmp_path: Path) -> None:
    from sklearn.metrics import accuracy_score, f1_score

    report = run(tmp_path, {"data": LABELS, "metrics": [
        metric("aibench.accuracy", "acc", "guess", "truth"),
        metric("aibench.f1", "f1", "guess", "truth", params={"average": "macro"})]},
        {"truth.txt": "\n".join(TRUTH) + "\n"}, {"guess.txt": "\n".join(GUESS) + "\n"})
    assert values(report) == pytest.approx({"acc": accuracy_score(TRUTH, GUESS),
                                            "f1": f1_score(TRUTH, GUESS, average="macro")})


def test_a_reference_line_with_two_fields_is_the_organisers_to_fix(tmp_path: Path) -> None:
    truth = TRUTH[:2] + ["dog,cat"] + TRUTH[3:]
    report = run(tmp_path, {"data": LABELS, "metrics": [metric("aibench.accuracy", "acc", "guess", "truth")]},
                 {"truth.txt": "\n".join(truth) + "\n"}, {"guess.txt": "\n".join(GUESS) + "\n"}, refused=True)
    message = refusal(report)
    assert "truth.txt:3: line 3 has 2 fields, line 1 has 1" in message, message
    assert "give every line the 1 fields of line 1, separated by commas" in message
    assert "Organiser:" in message


# -- whitespace-separated matrices ------------------------------------------------------------

PROBABILITIES = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.25, 0.5, 0.25], [0.6, 0.3, 0.1]])
CLASSES = [0, 1, 2, 1, 2]


def _matrix(rows: np.ndarray) -> str:
    """Rows as a scorer's numpy.savetxt writes them, with the odd tab and leading space of real files."""
    lines = [" ".join(f"{v:.2f}" for v in row) for row in rows]
    lines[1] = "  " + lines[1].replace(" ", "\t", 1)
    return "\n".join(lines) + "\n"


MATRIX = {"proba": headerless("proba.txt", "submission", header=False, delimiter="whitespace", columns="*"),
          "classes": headerless("classes.txt", names=["class"], columns=["class"])}


def test_a_whitespace_matrix_takes_a_probability_metric(tmp_path: Path) -> None:
    from sklearn.metrics import log_loss, roc_auc_score

    report = run(tmp_path, {"data": MATRIX, "metrics": [
        metric("aibench.log_loss", "nll", "proba", "classes"),
        metric("aibench.roc_auc", "auc", "proba", "classes", params={"average": "macro"})]},
        {"classes.txt": "\n".join(map(str, CLASSES)) + "\n"}, {"proba.txt": _matrix(PROBABILITIES)})
    assert values(report) == pytest.approx({
        "nll": log_loss(CLASSES, PROBABILITIES, labels=[0, 1, 2]),
        "auc": roc_auc_score(CLASSES, PROBABILITIES, multi_class="ovr", average="macro")})


def test_a_ragged_submitted_matrix_is_the_participants_to_fix(tmp_path: Path) -> None:
    text = _matrix(PROBABILITIES).splitlines()
    text[3] = "0.25 0.75"
    report = run(tmp_path, {"data": MATRIX, "metrics": [metric("aibench.log_loss", "nll", "proba", "classes")]},
                 {"classes.txt": "\n".join(map(str, CLASSES)) + "\n"}, {"proba.txt": "\n".join(text) + "\n"})
    message = failure(report)
    assert "proba.txt:4: line 4 has 2 fields, line 1 has 3" in message, message
    assert "separated by spaces or tabs" in message and "the participant's to fix" in message


# -- one-hot rows -----------------------------------------------------------------------------

ONEHOT = {"onehot": headerless("solution.txt", header=False, delimiter="whitespace", columns="*", read_as="onehot"),
          "proba": MATRIX["proba"],
          "guess": {**MATRIX["proba"], "read_as": "argmax"}}


def test_one_hot_references_take_label_and_probability_metrics(tmp_path: Path) -> None:
    from sklearn.metrics import accuracy_score, log_loss

    onehot = np.eye(3, dtype=int)[CLASSES]
    report = run(tmp_path, {"data": ONEHOT, "metrics": [
        metric("aibench.accuracy", "acc", "guess", "onehot"),
        metric("aibench.log_loss", "nll", "proba", "onehot")]},
        {"solution.txt": "\n".join(" ".join(map(str, row)) for row in onehot) + "\n"},
        {"proba.txt": _matrix(PROBABILITIES)})
    assert values(report) == pytest.approx({
        "acc": accuracy_score(CLASSES, PROBABILITIES.argmax(axis=1)),
        "nll": log_loss(CLASSES, PROBABILITIES, labels=[0, 1, 2])})


def test_a_reference_row_with_two_ones_is_the_organisers_to_fix(tmp_path: Path) -> None:
    rows = ["1 0 0", "0 1 0", "0 1 1", "0 1 0", "0 0 1"]
    report = run(tmp_path, {"data": ONEHOT, "metrics": [metric("aibench.accuracy", "acc", "guess", "onehot")]},
                 {"solution.txt": "\n".join(rows) + "\n"}, {"proba.txt": _matrix(PROBABILITIES)}, refused=True)
    message = refusal(report)
    assert "solution.txt:3: line 3 has 2 ones (columns '2', '3'); a one-hot row holds exactly one 1" in message, message
    assert "Organiser:" in message


# -- references with missing values -----------------------------------------------------------

TARGETS = {"a": "1.0", "b": "", "c": "3.0", "d": "NA", "e": "5.0", "f": "2.5"}
VALUES = {"f": 2.0, "e": 4.0, "d": 1.0, "c": 3.5, "b": 8.0, "a": 2.0}
MISSING = {"targets": {"file": "targets.csv", "id": "id", "columns": ["y"], "missing": "skip"},
           "values": {"from": "submission", "file": "values.csv", "id": "id", "columns": ["y"]}}


def _csv(rows: dict[str, Any]) -> str:
    return "id,y\n" + "".join(f"{k},{v}\n" for k, v in rows.items())


def test_missing_references_are_skipped_as_nanmean_does_and_counted(tmp_path: Path) -> None:
    report = run(tmp_path, {"data": MISSING, "splits": {"first": {"ids": ["a", "b", "c"]}}, "metrics": [
        metric("aibench.mae", "mae", "values", "targets", splits=["all", "first"])]},
        {"targets.csv": _csv(TARGETS)}, {"values.csv": _csv(VALUES)})
    ids = sorted(TARGETS)
    reference = np.array([float(TARGETS[i]) if TARGETS[i] not in ("", "NA") else np.nan for i in ids])
    guess = np.array([VALUES[i] for i in ids])
    first = np.isin(ids, ["a", "b", "c"])
    assert values(report) == pytest.approx({"mae": np.nanmean(np.abs(guess - reference)),
                                            "mae_first": np.nanmean(np.abs(guess - reference)[first])})
    skipped = {c["key"]: c["skipped_references"] for c in report["plugin_columns"]}
    assert skipped == {"mae": 2, "mae_first": 1}
    import jsonschema_rs

    document = report["report"]  # report.json's document, valid against its schema
    jsonschema_rs.validator_for(json.loads((REPO / "schemas" / "aibench-report.schema.json").read_text())
                                ).validate(document)
    assert [c["skipped_references"] for c in document["plugin_columns"]] == [2, 1]


def test_missing_error_names_the_reference_line_and_column(tmp_path: Path) -> None:
    data = {**MISSING, "targets": {**MISSING["targets"], "missing": "error"}}
    report = run(tmp_path, {"data": data, "metrics": [metric("aibench.mae", "mae", "values", "targets")]},
                 {"targets.csv": _csv(TARGETS)}, {"values.csv": _csv(VALUES)}, refused=True)
    message = refusal(report)
    assert "targets.csv:3: line 3, column 'y' (field 2) has no value (an empty cell, NA, NaN or null) (id 'b')" \
        in message, message
    assert '"missing": "skip"' in message and "Organiser:" in message


# -- aibench validate checks the declaration --------------------------------------------------


def _validate(tmp_path: Path, data: dict[str, Any]) -> list[dict[str, Any]]:
    bundle = tmp_path / "bundle"
    shutil.copytree(IRIS, bundle)
    (bundle / "aibench.json").write_text(json.dumps({"schema_version": 1, "data": data, "metrics": [
        metric("aibench.accuracy", "acc", "guess", "truth")]}, indent=1))
    (bundle / "reference_data" / "truth.txt").write_text("\n".join(TRUTH) + "\n")  # validate reads it too
    result = aibench(tmp_path, "validate", str(bundle), "--json")
    problems: list[dict[str, Any]] = json.loads(result.stdout)["problems"]
    assert result.returncode == (1 if any(p["severity"] == "error" for p in problems) else 0), result.stderr
    return problems


def test_validate_accepts_every_new_field(tmp_path: Path) -> None:
    data = {"guess": headerless("guess.txt", "submission", header=False, delimiter="whitespace", columns="*",
                                read_as="argmax", missing="error"),
            "truth": headerless("truth.txt", names=["label"], columns=["label"], missing="skip")}
    assert [p for p in _validate(tmp_path, data) if p["severity"] == "error"] == []


@pytest.mark.parametrize(("table", "pointer", "message"), [
    (headerless("t.txt", delimiter="tab", columns=["a"]), "/data/truth/delimiter", "value not allowed"),
    (headerless("t.txt", names=["a"], header=True, columns=["a"]), "/data/truth/header", "value not allowed"),
    (headerless("t.txt", columns="all"), "/data/truth/columns", "value not allowed"),
    (headerless("t.txt", columns=["a"], missing="drop"), "/data/truth/missing", "value not allowed"),
    (headerless("t.txt", columns=["a"], read_as="onehot"), "/data/truth/read_as", "two or more columns"),
    (headerless("t.txt", names=["lable"], columns=["label"]), "/data/truth/names", "not one of the declared names"),
    ({**headerless("t.json", columns=["a"], delimiter=";"), "format": "json"}, "/data/truth/delimiter",
     "for CSV and TSV files"),
], ids=["delimiter-word", "names-with-header", "columns-word", "missing-word", "onehot-one-column", "names-typo",
        "delimiter-on-json"])
def test_validate_refuses_a_bad_declaration(tmp_path: Path, table: dict[str, Any], pointer: str,
                                            message: str) -> None:
    problems = _validate(tmp_path, {"guess": LABELS["guess"], "truth": table})
    assert any(p["pointer"] == pointer and message in p["message"] and p["line"] for p in problems), problems


def test_validate_refuses_skipping_rows_of_a_submission(tmp_path: Path) -> None:
    problems = _validate(tmp_path, {"guess": {**LABELS["guess"], "missing": "skip"}, "truth": LABELS["truth"]})
    [problem] = problems
    assert problem["pointer"] == "/data/guess/missing" and "read from the submission" in problem["message"]
    assert "organiser" in problem["fix"]


# -- item 14: a metric without splits -----------------------------------------------------------


def test_a_metric_without_splits_gives_its_overall_column_and_one_per_split(tmp_path: Path) -> None:
    import csv

    from sklearn.metrics import f1_score

    manifest = json.loads((IRIS / "aibench.json").read_text())
    manifest["metrics"] = [{"use": "aibench.f1", "key": "f1", "params": {"average": "macro"}},
                           {"use": "aibench.accuracy", "key": "acc", "splits": ["public"]}]
    report = run(tmp_path, {k: v for k, v in manifest.items() if k != "schema_version"}, {}, {})
    assert [c["key"] for c in report["plugin_columns"]] == ["f1", "f1_public", "f1_private", "acc_public"]

    def labels(path: Path) -> dict[str, str]:
        with path.open() as handle:
            return {row["id"]: row["label"] for row in csv.DictReader(handle)}

    truth, guess = labels(IRIS / "reference_data" / "labels.csv"), labels(GOOD / "predictions.csv")
    ids = sorted(truth)
    assert values(report)["f1"] == pytest.approx(f1_score([truth[i] for i in ids], [guess[i] for i in ids],
                                                          average="macro"))
