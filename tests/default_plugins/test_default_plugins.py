"""Built-in metrics equal scikit-learn's; built-in checks fire with actionable messages."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as sk

from aibench_plugins import Kind, PluginHost


@pytest.fixture(scope="module")
def host() -> PluginHost:
    h = PluginHost(strict=True)
    h.load_builtins()
    return h


def component(host: PluginHost, kind: Kind, id: str):  # noqa: ANN201
    return host.registry(kind).get(id).component


CASES = {
    "random": (np.random.default_rng(0).integers(0, 4, 500), np.random.default_rng(1).integers(0, 4, 500)),
    "strings": (np.array(["cat", "dog", "dog", "bird"]), np.array(["cat", "cat", "dog", "fish"])),
    "one-class": (np.zeros(10, dtype=int), np.zeros(10, dtype=int)),
    "all-wrong": (np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0])),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
@pytest.mark.parametrize(
    ("id", "params", "reference"),
    [
        ("aibench.accuracy", {}, sk.accuracy_score),
        ("aibench.balanced_accuracy", {}, sk.balanced_accuracy_score),
        ("aibench.f1", {"average": "macro"}, lambda t, p: sk.f1_score(t, p, average="macro", zero_division=0)),
        ("aibench.f1", {"average": "micro"}, lambda t, p: sk.f1_score(t, p, average="micro", zero_division=0)),
        ("aibench.f1", {"average": "weighted"}, lambda t, p: sk.f1_score(t, p, average="weighted", zero_division=0)),
    ],
    ids=["accuracy", "balanced_accuracy", "f1-macro", "f1-micro", "f1-weighted"],
)
def test_classification_equals_scikit_learn(host: PluginHost, case: str, id: str, params: dict, reference) -> None:
    truth, predicted = CASES[case]
    with warnings.catch_warnings():  # scikit-learn warns about labels absent from one side
        warnings.simplefilter("ignore")
        expected = reference(truth, predicted)
    got = component(host, Kind.METRIC, id).compute(predictions=predicted, references=truth, **params)
    assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("id", "reference"),
    [("aibench.mae", sk.mean_absolute_error), ("aibench.mse", sk.mean_squared_error),
     ("aibench.rmse", lambda t, p: np.sqrt(sk.mean_squared_error(t, p))), ("aibench.r2", sk.r2_score)],
    ids=["mae", "mse", "rmse", "r2"],
)
def test_regression_equals_scikit_learn(host: PluginHost, id: str, reference) -> None:
    rng = np.random.default_rng(3)
    truth = rng.normal(size=1000)
    predicted = truth + rng.normal(scale=0.3, size=1000)
    got = component(host, Kind.METRIC, id).compute(predictions=predicted, references=truth)
    assert got == pytest.approx(reference(truth, predicted), rel=1e-12)


def test_shape_mismatch_is_a_clear_error(host: PluginHost) -> None:
    with pytest.raises(ValueError, match=r"predictions have shape \(2,\) but references have shape \(3,\)"):
        component(host, Kind.METRIC, "aibench.mae").compute(predictions=[1, 2], references=[1, 2, 3])


def test_metric_infos_declare_direction_and_bounds(host: PluginHost) -> None:
    for registration in host.registry(Kind.METRIC):
        info = registration.component.info
        assert info.direction in ("maximize", "minimize") and info.description
        assert info.to_json()["id"] == info.id


def test_required_files_check(host: PluginHost, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    check = component(host, Kind.CHECK, "aibench.required_files")
    problems = check.run(tmp_path, files=["predictions.csv"], allow_others=False)
    assert [str(p) for p in problems] == [
        "predictions.csv: no file matches 'predictions.csv' (found: notes.txt) Fix: add a file named "
        "'predictions.csv' at the root of the submission zip [aibench.required_files]",
        "notes.txt: unexpected file Fix: remove it; the submission may only hold predictions.csv "
        "[aibench.required_files]",
    ]
    (tmp_path / "predictions.csv").write_text("id,label\n")
    assert check.run(tmp_path, files=["predictions.csv"]) == []


def test_size_limit_reads_metadata_only(host: PluginHost, tmp_path: Path) -> None:
    big = tmp_path / "predictions.csv"
    with big.open("wb") as handle:  # a sparse 2 GiB file: the check must not read it
        handle.truncate(2 * 1024**3)
    check = component(host, Kind.CHECK, "aibench.size_limit")
    [per_file, total] = check.run(tmp_path, max_file_mb=100, max_total_mb=500)
    assert per_file.file == "predictions.csv" and "2048.0 MiB, over the 100 MiB limit" in per_file.message
    assert "over the 500 MiB limit" in total.message


def test_required_files_caps_the_problems_it_lists(host: PluginHost, tmp_path: Path) -> None:
    """Issue 9 item 12: stray files give 20 problems and one summary (100,000 of them gave a 12 MB
    message); 5,000 show it as well."""
    (tmp_path / "predictions.csv").write_text("id,label\n")
    stray = tmp_path / "junk"
    stray.mkdir()
    for index in range(5_000):
        (stray / str(index)).touch()
    check = component(host, Kind.CHECK, "aibench.required_files")
    problems = check.run(tmp_path, files=["predictions.csv"], allow_others=False)
    assert len(problems) == 21
    assert all(p.message == "unexpected file" for p in problems[:20])
    assert problems[20].message == "... and 4980 more unexpected files (5000 in all)"
    assert "only the first 20 problems are listed (max_problems)" in str(problems[20])
    assert sum(len(str(p)) for p in problems) < 10_000
    assert len(check.run(tmp_path, files=["predictions.csv"], allow_others=False, max_problems=3)) == 4
