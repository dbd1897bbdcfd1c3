"""The robust-twins-v2 example end to end (issue 12): ``aibench run`` on the bundle with its two
example submissions gives the degradation on the hidden perturbed twins in the leaderboard row
(its columns), in report.json's ``analyses`` and on the detailed results page (rendered by
headless Chromium), the numbers equal to an independent computation from the bundle's own files
(pandas), the clean score equal to the scoring program's, and the same numbers for two runs of
the same submission."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from wrapkit import BUNDLES, SUBMISSIONS

from chromium import chromium_args

BUNDLE = BUNDLES / "robust-twins-v2"
COLUMNS = ("perturbed_accuracy", "accuracy_drop", "worst_case_accuracy", "flip_rate")


def aibench(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"AIBENCH_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def run(home: Path, submission: str) -> dict[str, Any]:
    done = aibench(home, "run", str(BUNDLE), str(SUBMISSIONS / "robust-twins-v2" / submission), "--json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found: dict[str, Any] = json.loads(done.stdout)
    return found


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    home = tmp_path_factory.mktemp("home")
    return {"robust": run(home, "robust"), "brittle": run(home, "brittle"), "brittle again": run(home, "brittle")}


def expected(submission: str) -> dict[str, float]:
    """The numbers from the bundle's files, computed here with pandas alone."""
    ref = BUNDLE / "reference_data"
    labels = pd.read_csv(ref / "labels.csv").set_index("id")["label"]
    predicted = pd.read_csv(SUBMISSIONS / "robust-twins-v2" / submission / "predictions.csv").set_index("id")["label"]
    twins = pd.read_csv(ref / "perturbations.csv")
    originals = [line.strip() for line in (ref / "original_ids.txt").read_text().split()]
    clean = float((predicted[originals] == labels[originals]).mean())
    copies = twins.assign(pred=predicted[twins["id"]].to_numpy(), orig_pred=predicted[twins["original_id"]].to_numpy(),
                          truth=labels[twins["original_id"]].to_numpy())
    perturbed = float((copies["pred"] == copies["truth"]).mean())
    all_right = (copies["pred"] == copies["truth"]).groupby(copies["original_id"]).all()
    worst = float(((predicted[originals] == labels[originals]) & all_right[originals].to_numpy()).mean())
    cells = copies.assign(right=copies["pred"] == copies["truth"]).groupby(["perturbation", "severity"])["right"].mean()
    return {"clean": clean, "perturbed_accuracy": perturbed, "accuracy_drop": (clean - perturbed) / clean,
            "worst_case_accuracy": worst, "flip_rate": float((copies["pred"] != copies["orig_pred"]).mean()),
            **{f"{p}/{s}": float(v) for (p, s), v in cells.items()}}


def plugin_values(report: dict[str, Any]) -> dict[str, Any]:
    return {c["key"]: c["value"] for c in report["report"]["plugin_columns"]}


@pytest.mark.parametrize("submission", ["robust", "brittle"])
def test_degradation_in_the_leaderboard_row_matches_pandas(runs: dict[str, dict[str, Any]], submission: str) -> None:
    report = runs[submission]
    want = expected(submission)
    values = plugin_values(report)
    for key in COLUMNS:
        assert values[key] == pytest.approx(want[key], abs=1e-12), key
    assert values["accuracy_clean"] == pytest.approx(want["clean"])
    original = {c["key"]: c["value"] for c in report["report"]["columns"]}
    assert original["accuracy"] == pytest.approx(want["clean"])  # the scoring program scores only originals
    assert not report["report"]["plugin_failures"]
    columns = {c["key"]: c for c in report["report"]["plugin_columns"]}
    assert columns["accuracy_drop"]["sorting"] == "asc" and columns["worst_case_accuracy"]["sorting"] == "desc"
    assert columns["flip_rate"]["metric"] == "aibench.perturbed_copies"


def test_the_brittle_model_degrades_more(runs: dict[str, dict[str, Any]]) -> None:
    robust, brittle = plugin_values(runs["robust"]), plugin_values(runs["brittle"])
    assert 0 < robust["accuracy_drop"] < brittle["accuracy_drop"]
    assert robust["flip_rate"] < brittle["flip_rate"]
    assert brittle["worst_case_accuracy"] < robust["worst_case_accuracy"]


def test_the_organisers_threshold_flags_the_brittle_model_only(runs: dict[str, dict[str, Any]]) -> None:
    [flag] = runs["brittle"]["report"]["analyses"][0]["flags"]
    assert (flag["summary"], flag["bound"], flag["threshold"], flag["action"]) == ("relative_drop.accuracy", "max",
                                                                                   0.1, "flag")
    assert flag["value"] == pytest.approx(expected("brittle")["accuracy_drop"])
    assert runs["robust"]["report"]["analyses"][0]["flags"] == []
    assert runs["brittle"]["report"]["status"] == "finished"


def test_report_analyses_hold_the_table_per_perturbation_and_severity(runs: dict[str, dict[str, Any]]) -> None:
    [item] = runs["brittle"]["report"]["analyses"]
    assert (item["kind"], item["component"], item["key"]) == ("robustness", "aibench.perturbed_copies", "twins")
    summaries = {s["name"]: s["value"] for s in item["summaries"]}
    want = expected("brittle")
    assert summaries["relative_drop.accuracy"] == pytest.approx(want["accuracy_drop"])
    assert {"clean.macro_f1", "perturbed.macro_f1", "worst_case.macro_f1"} <= set(summaries)
    [table] = item["tables"]
    rows = {(r[0], r[1], r[2]): r for r in table["rows"]}
    for perturbation in ("gaussian_noise", "feature_dropout"):
        for severity in (1, 2, 3):
            row = rows["accuracy", perturbation, severity]
            assert row[3] == 60 and row[4] == pytest.approx(want[f"{perturbation}/{severity}"])
    # noise hurts more as it grows: the severities order the scores of the brittle model
    noise = [rows["accuracy", "gaussian_noise", s][4] for s in (1, 2, 3)]
    assert noise[0] > noise[2]


def test_same_numbers_for_two_runs_of_the_same_submission(runs: dict[str, dict[str, Any]]) -> None:
    first, again = runs["brittle"]["report"], runs["brittle again"]["report"]
    assert first["analyses"] == again["analyses"]
    assert plugin_values(runs["brittle"]) == plugin_values(runs["brittle again"])
    assert runs["brittle"]["run_id"] != runs["brittle again"]["run_id"]


PROBE = """<script>
const section = document.querySelector("#section-perturbed-copies");
const out = {title: section ? section.querySelector("h2").textContent : null,
             text: section ? section.innerText : "",
             charts: section ? [...section.querySelectorAll("figure.degradation")].map(f => ({
               caption: f.querySelector("figcaption").innerText,
               lines: f.querySelectorAll("polyline.line").length,
               points: f.querySelectorAll("circle").length,
               clean: f.querySelector("line.clean") ? f.querySelector("line.clean").getBBox().width : 0})) : []};
const pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"""


def test_the_page_shows_the_degradation(runs: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    from html import unescape

    page = Path(runs["brittle"]["detailed_results"]).read_text(encoding="utf-8")
    assert "<script" not in page
    probe = tmp_path / "probed.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = subprocess.run([*chromium_args(tmp_path), "--dump-dom", probe.as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    start = dom.stdout.index('<pre id="probe">') + len('<pre id="probe">')
    found = json.loads(unescape(dom.stdout[start:dom.stdout.index("</pre>", start)]))
    assert found["title"] == "Robustness on perturbed copies"
    assert [c["lines"] for c in found["charts"]] == [2, 2] and [c["points"] for c in found["charts"]] == [6, 6]
    assert all(c["clean"] > 0 for c in found["charts"])
    want = expected("brittle")
    assert f"{want['clean']:.4f}" in found["text"] and f"{want['flip_rate'] * 100:.1f} %" in found["text"]
    assert "gaussian_noise" in found["text"] and "feature_dropout" in found["text"]


def test_a_submission_without_the_copies_keeps_its_score_and_says_why(tmp_path: Path) -> None:
    """The participant left out the copies: the scoring program still scores the originals, the
    metrics fail naming the missing ids, and the robustness entry fails saying why, nothing lost."""
    source = SUBMISSIONS / "robust-twins-v2" / "robust" / "predictions.csv"
    originals = set((BUNDLE / "reference_data" / "original_ids.txt").read_text().split())
    lines = source.read_text().splitlines()
    submission = tmp_path / "originals-only"
    submission.mkdir()
    (submission / "predictions.csv").write_text(
        "\n".join([lines[0], *(line for line in lines[1:] if line.split(",")[0] in originals)]) + "\n")
    done = aibench(tmp_path / "home", "run", str(BUNDLE), str(submission), "--json")
    report = json.loads(done.stdout)["report"]
    assert report["status"] == "finished"
    assert {c["key"]: c["value"] for c in report["columns"]}["accuracy"] == pytest.approx(expected("robust")["clean"])
    failures = {(f["kind"], f["key"]): f["message"] for f in report["plugin_failures"]}
    assert "no prediction" in failures["metric", "accuracy_clean"] or "missing" in failures["metric", "accuracy_clean"]
    assert "no metric with one prediction per id could be analysed" in failures["robustness", "twins"]
    assert "each metric's own failure says why" in failures["robustness", "twins"]
    assert "the perturbed copies included, the participant's to fix" in failures["robustness", "twins"]
    assert report["analyses"] == []
    text = aibench(tmp_path / "home", "run", str(BUNDLE), str(submission))  # the plugin's traceback is only in
    assert "Traceback" not in text.stdout + text.stderr                      # report.json, for the organiser
    assert "no metric with one prediction per id could be analysed" in text.stdout + text.stderr


def test_make_data_regenerates_the_same_files(tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "bundles" / "robust-twins-v2"
    shutil.copytree(BUNDLE, copy)
    done = subprocess.run([sys.executable, str(copy / "make_data.py")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for name in ("public_data/train.csv", "public_data/test.csv", "reference_data/labels.csv",
                 "reference_data/perturbations.csv", "reference_data/original_ids.txt"):
        assert (copy / name).read_bytes() == (BUNDLE / name).read_bytes(), name
    for submission in ("robust", "brittle"):
        made = tmp_path / "examples" / "submissions" / "robust-twins-v2" / submission / "predictions.csv"
        assert made.read_bytes() == (SUBMISSIONS / "robust-twins-v2" / submission / "predictions.csv").read_bytes()


def test_the_wrapped_bundle_gives_the_same_analysis_and_section(runs: dict[str, dict[str, Any]],
                                                                tmp_path: Path) -> None:
    """On the platform (the wrapped bundle, no plugins on the host) the runtime computes the same
    analysis and writes the page participants see, with the degradation section."""
    from wrapkit import wrap

    wrapped = wrap(BUNDLE, tmp_path / "robust-twins-wrapped.zip")
    done = aibench(tmp_path / "home", "run", str(wrapped), str(SUBMISSIONS / "robust-twins-v2" / "brittle"),
                   "--no-plugins", "--json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout)
    output = Path(next(s["output_dir"] for s in report["steps"] if s["step"] == "scoring"))
    runtime = json.loads((output / "aibench" / "report.json").read_text())
    assert runtime["analyses"] == runs["brittle"]["report"]["analyses"]
    page = (output / "detailed_results.html").read_text(encoding="utf-8")
    assert 'id="section-perturbed-copies"' in page and page.count('<figure class="degradation">') == 2
    row = {c["key"]: c["value"] for c in report["report"]["columns"]}
    for key in COLUMNS:
        assert row[key] == pytest.approx(plugin_values(runs["brittle"])[key], abs=1e-4), key  # the scores file
