"""End to end: ``aibench run`` of bundles/fairness-v2 (the fairness columns, the flag of the planted
bias on the page, in ``--json`` and report.json, the original score untouched, the numbers against
fairlearn), the same bundle wrapped (``aibench wrap``, its vendored runtime scoring inside the
scoring step), and the privacy rule: a group under the minimum size, and the sensitive value of any
row, appear in no output of the run (leaderboard row, scores file, report.json, page, ``--json``,
plugin log, stdout, stderr)."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, demographic_parity_difference
from sklearn.metrics import balanced_accuracy_score

from chromium import chromium_args

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "bundles" / "fairness-v2"
SUBMISSIONS = REPO / "examples" / "submissions" / "fairness-v2"
TINY = "75+"
MINIMUM = 30


def aibench(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"AIBENCH_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def run(tmp_path: Path, name: str, bundle: Path = BUNDLE) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    result = aibench(tmp_path / "home", "run", str(bundle), str(SUBMISSIONS / name), "--json")
    assert result.stdout, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert result.returncode == 0 and report["status"] == "finished", report
    return report, result


def run_folder(tmp_path: Path) -> Path:
    (folder,) = (tmp_path / "home" / "runs").iterdir()
    return folder


def run_folder_of(tmp_path: Path, report: dict[str, Any]) -> Path:
    return tmp_path / "home" / "runs" / str(report["run_id"])


def _data(name: str) -> pd.DataFrame:
    truth = pd.read_csv(BUNDLE / "reference_data" / "labels.csv")
    groups = pd.read_csv(BUNDLE / "reference_data" / "groups.csv")
    predicted = pd.read_csv(SUBMISSIONS / name / "predictions.csv").rename(columns={"approved": "predicted"})
    return truth.merge(groups, on="id").merge(predicted, on="id")


def _expected(name: str) -> dict[str, float]:
    """The fairness columns by fairlearn, groups under the minimum left out: the worst group over
    sex, age band and their intersection, and the largest demographic parity difference."""
    data = _data(name)
    worst, dpd = [], []
    for features in (["sex"], ["age_band"], ["sex", "age_band"]):
        sizes = data.groupby(features)["id"].transform("size")
        kept = data[sizes >= MINIMUM]
        frame = MetricFrame(metrics=balanced_accuracy_score, y_true=kept["approved"], y_pred=kept["predicted"],
                            sensitive_features=kept[features])
        worst.append(frame.group_min())
        dpd.append(demographic_parity_difference(kept["approved"], kept["predicted"],
                                                 sensitive_features=kept[features]))
    return {"worst_group_bacc": min(worst), "dp_difference": max(dpd),
            "accuracy": float((data["approved"] == data["predicted"]).mean())}


def _columns(report: dict[str, Any]) -> dict[str, Any]:
    return {c["key"]: c["value"] for c in report["columns"] + report["plugin_columns"]}


def test_biased_submission_is_flagged_with_fairlearns_numbers(tmp_path: Path) -> None:
    report, result = run(tmp_path, "biased")
    expected = _expected("biased")
    columns = _columns(report)
    assert columns["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-9)  # the original score (as the platform reads it: 10 digits)
    assert columns["worst_group_bacc"] == pytest.approx(expected["worst_group_bacc"], abs=1e-9)
    assert columns["dp_difference"] == pytest.approx(expected["dp_difference"], abs=1e-9)
    assert expected["dp_difference"] > 0.1
    assert [f["summary"] for f in report["analyses"][0]["flags"]] == ["demographic_parity_difference"]  # --json
    saved = json.loads((run_folder_of(tmp_path, report) / "report.json").read_text())
    (analysis,) = saved["analyses"]
    flags = analysis["flags"]
    assert [(f["summary"], f["action"]) for f in flags] == [("demographic_parity_difference", "flag")]
    page = (run_folder_of(tmp_path, report) / "detailed_results.html").read_text()
    assert 'id="section-fairness"' in page and "FLAG" in page and "balanced_accuracy by sex x age_band" in page
    assert "demographic_parity_difference" in page
    assert "(fairness, aibench.group_fairness)" not in page  # the section covers it: no generic one
    shown = aibench(tmp_path / "home", "run", str(BUNDLE), str(SUBMISSIONS / "biased"))
    assert "flag: " in shown.stdout and "demographic_parity_difference" in shown.stdout
    # the page as a real browser reads it: the section's charts are in its DOM, one bar per group
    dom = subprocess.run([*chromium_args(tmp_path), "--dump-dom", (run_folder_of(tmp_path, report) /
                          "detailed_results.html").as_uri()], capture_output=True, text=True, timeout=120).stdout
    section = dom[dom.index('id="section-fairness"'):]
    assert section[:section.index("</section>")].count("<svg") == 15  # (2 metrics + 3 rates) x 3 groupings
    assert re.search(r'<rect class="bar[^"]*"[^>]*><title>F, 50-74: 0\.6591', section)


def test_fair_submission_is_not_flagged(tmp_path: Path) -> None:
    report, _ = run(tmp_path, "good")
    expected = _expected("good")
    assert _columns(report)["dp_difference"] == pytest.approx(expected["dp_difference"], abs=1e-9)
    assert expected["dp_difference"] < 0.1
    saved = json.loads((run_folder(tmp_path) / "report.json").read_text())
    assert saved["analyses"][0]["flags"] == []


def _outputs(folder: Path) -> dict[str, str]:
    """Every file the run wrote (not the copies of its inputs: the bundle, input/ref, input/res,
    the submission, and the submission's predictions that the prediction step copies out)."""
    inputs = ("bundle", "submission", "scoring/input", "prediction/input", "prediction/output/predictions.csv")
    return {p.relative_to(folder).as_posix(): p.read_text(errors="replace") for p in folder.rglob("*")
            if p.is_file() and not p.relative_to(folder).as_posix().startswith(inputs)}


def _assert_private(texts: dict[str, str]) -> None:
    with (BUNDLE / "reference_data" / "groups.csv").open(newline="") as handle:
        groups = list(csv.DictReader(handle))
    tiny_ids = [row["id"] for row in groups if row["age_band"] == TINY]
    assert len(tiny_ids) < MINIMUM
    for where, text in texts.items():
        assert TINY not in text, f"the tiny group's label is in {where}"
        assert not any(i in text for i in tiny_ids), f"an id of the tiny group is in {where}"
        assert not re.search(r"app-\d{5}", text), f"a row's id is in {where}"
        # no per-row sensitive values: no run of attribute values as long as a group may be small
        for values in re.findall(r"\[([^\[\]]*)\]", text):
            items = [v.strip().strip('"') for v in values.split(",")]
            assert not (len(items) >= 10 and set(items) <= {"F", "M", "18-29", "30-49", "50-74", TINY}), where


def test_tiny_group_and_row_values_appear_in_no_output(tmp_path: Path) -> None:
    report, result = run(tmp_path, "tiny-group")
    folder = run_folder(tmp_path)
    texts = _outputs(folder)
    assert {"report.json", "detailed_results.html", "aibench/plugins.log"} <= set(texts)
    texts |= {"--json stdout": result.stdout, "stderr": result.stderr}
    shown = aibench(tmp_path / "home", "run", str(BUNDLE), str(SUBMISSIONS / "tiny-group"))
    texts |= {"stdout": shown.stdout, "stderr (text run)": shown.stderr}
    _assert_private(texts)
    saved = json.loads((folder / "report.json").read_text())
    (analysis,) = saved["analyses"]
    assert all(g["n"] >= MINIMUM for g in analysis["groups"])
    assert any("3 group(s) with fewer than 30 rows were left out" in n for n in analysis["notes"])
    # every tiny-group row is wrong, yet no disparity moves: the fairlearn numbers without it
    expected = _expected("tiny-group")
    assert _columns(report)["worst_group_bacc"] == pytest.approx(expected["worst_group_bacc"], abs=1e-9)


def test_wrapped_bundle_scores_the_fairness_columns_privately(tmp_path: Path) -> None:
    wrapped = tmp_path / "fairness-v2.wrapped.zip"
    done = aibench(tmp_path / "home", "wrap", str(BUNDLE), "-o", str(wrapped))
    assert done.returncode == 0, done.stdout + done.stderr
    report, result = run(tmp_path, "tiny-group", wrapped)
    expected = _expected("tiny-group")
    columns = _columns(report)
    assert columns["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-9)
    assert columns["worst_group_bacc"] == pytest.approx(expected["worst_group_bacc"], abs=1e-4)
    assert columns["dp_difference"] == pytest.approx(expected["dp_difference"], abs=1e-4)
    folder = run_folder(tmp_path)
    texts = _outputs(folder) | {"--json stdout": result.stdout, "stderr": result.stderr}
    assert any(name.endswith("scores.json") for name in texts)
    _assert_private(texts)
