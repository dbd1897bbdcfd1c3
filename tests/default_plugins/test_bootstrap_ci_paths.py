"""aibench.bootstrap_ci end to end: a copy of bundles/iris-v2 with a robustness entry, through
``aibench run`` (the leaderboard row's ci_low/ci_high columns, report.json's analyses, the page
section in headless Chromium) and through the wrapped bundle's runtime (stats vendored; the same
intervals), and the columns declared in the wrapped competition.yaml.

The interval is checked against an independent computation: scipy.stats.bootstrap (BCa, paired
resampling of the rows) with scikit-learn's f1_score on the bundle's own files.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import zipfile
from html import unescape
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from chromium import chromium_args
from wrapkit import SUBMISSIONS, bundle_copy, edit_manifest, run_as_platform, runtime_report, scoring_output

from aibench_plugins.evaluation.report import report_problems

GOOD = SUBMISSIONS / "iris-v2" / "good"
ENTRY = {"use": "aibench.bootstrap_ci", "key": "ci", "label": "95% intervals", "seed": 3,
         "columns": [{"summary": "ci_low.macro_f1", "key": "macro_f1_low", "label": "Macro F1 (low)"},
                     {"summary": "ci_high.macro_f1", "key": "macro_f1_high", "label": "Macro F1 (high)"}],
         "params": {"n_boot": 5000}}
PROBE = """<script>
const pre = document.createElement("pre"); pre.id = "probe";
const section = document.getElementById("section-bootstrap-ci");
pre.textContent = JSON.stringify({
  sections: [...document.querySelectorAll("main > section")].map(s => s.id),
  text: section ? section.innerText : "",
  bars: section ? [...section.querySelectorAll("g.interval > line:first-of-type")].map(
    l => l.getBoundingClientRect().width) : []});
document.body.appendChild(pre);
</script>"""


def _aibench(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *map(str, args)], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "AIBENCH_GC": "0"}, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("ci")
    bundle = bundle_copy("iris-v2", root)
    edit_manifest(bundle, robustness=[ENTRY])
    printed = _aibench("run", bundle, GOOD, "--json", "--ledger", root / "json.db", "--work-dir", root / "json")
    text = _aibench("run", bundle, GOOD, "--ledger", root / "text.db", "--work-dir", root / "text")
    wrapped = root / "wrapped.zip"
    done = _aibench("wrap", bundle, "-o", wrapped)
    assert done.returncode == 0, done.stdout + done.stderr
    return {"bundle": bundle, "printed": printed, "text": text, "work": root / "json", "wrapped": wrapped,
            "platform": run_as_platform(wrapped, GOOD, root / "platform")}


def _labels(path: Path) -> dict[str, str]:
    with path.open(newline="") as handle:
        return {row["id"]: row["label"] for row in csv.DictReader(handle)}


def _scipy_interval(bundle: Path) -> tuple[float, float]:
    from scipy import stats as scipy_stats
    from sklearn.metrics import f1_score

    truth = _labels(bundle / "reference_data" / "labels.csv")
    predicted = _labels(GOOD / "predictions.csv")
    ids = sorted(truth)
    y, p = np.array([truth[i] for i in ids]), np.array([predicted[i] for i in ids])
    result = scipy_stats.bootstrap((y, p), lambda a, b: f1_score(a, b, average="macro"), paired=True,
                                   vectorized=False, n_resamples=3000, method="BCa",
                                   random_state=np.random.default_rng(0))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def test_the_leaderboard_row_has_the_interval_columns(runs: dict[str, Any]) -> None:
    done = runs["printed"]
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)["report"]
    assert report_problems(report) == []
    columns = {c["key"]: c for c in report["plugin_columns"]}
    low, high, score = (columns[k]["value"] for k in ("macro_f1_low", "macro_f1_high", "macro_f1"))
    assert columns["macro_f1_low"]["metric"] == "aibench.bootstrap_ci" and columns["macro_f1_low"]["split"] == "all"
    assert low < score <= high <= 1.0
    scipy_low, scipy_high = _scipy_interval(runs["bundle"])
    assert low == pytest.approx(scipy_low, abs=0.03) and high == pytest.approx(scipy_high, abs=0.03)
    printed = runs["text"]
    assert printed.returncode == 0, printed.stderr
    rows = [line for line in printed.stdout.splitlines() if "aibench.bootstrap_ci" in line]
    assert [line.split()[-3] for line in rows] == ["macro_f1_low", "macro_f1_high"], printed.stdout
    assert f"{low:.4f}" in rows[0] and rows[0].startswith("Macro F1 (low)")


def test_report_json_holds_every_metric_interval(runs: dict[str, Any]) -> None:
    report = json.loads((runs["work"] / "report.json").read_text())
    [analysis] = report["analyses"]
    assert (analysis["kind"], analysis["component"], analysis["key"]) == ("robustness", "aibench.bootstrap_ci", "ci")
    names = [s["name"] for s in analysis["summaries"]]
    assert names == [f"ci_{end}.{key}" for key in ("balanced_accuracy", "macro_f1", "mcc") for end in ("low", "high")]
    rows = [table["rows"][0] for table in analysis["tables"]]
    assert [(r[0], r[5], r[6], r[7]) for r in rows] == [(k, "bca", 5000, 45)
                                                        for k in ("balanced_accuracy", "macro_f1", "mcc")]
    assert "seed 3" in analysis["notes"][0]


def test_the_page_draws_the_intervals(runs: dict[str, Any], tmp_path: Path) -> None:
    page = (runs["work"] / "detailed_results.html").read_text()
    assert "<script" not in page
    probe = tmp_path / "probed.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = subprocess.run([*chromium_args(tmp_path), "--dump-dom", probe.as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    start = dom.stdout.index('<pre id="probe">') + len('<pre id="probe">')
    shown = json.loads(unescape(dom.stdout[start:dom.stdout.index("</pre>", start)]))
    assert "section-bootstrap-ci" in shown["sections"] and "analysis-ci" not in shown["sections"]
    assert len(shown["bars"]) == 3 and all(width > 5 for width in shown["bars"]), shown["bars"]
    assert "95% intervals" in shown["text"] and "macro_f1" in shown["text"] and "bca" in shown["text"]


def test_the_wrapped_runtime_gives_the_same_intervals(runs: dict[str, Any]) -> None:
    platform = runs["platform"]
    assert platform.ok, platform
    ours = json.loads((runs["work"] / "report.json").read_text())
    assert runtime_report(platform)["analyses"] == ours["analyses"]
    scores = json.loads((scoring_output(platform) / "scores.json").read_text())
    expected = {c["key"]: c["value"] for c in ours["plugin_columns"]}
    assert scores["macro_f1_low"] == pytest.approx(expected["macro_f1_low"])
    assert scores["macro_f1_high"] == pytest.approx(expected["macro_f1_high"])
    with zipfile.ZipFile(runs["wrapped"]) as archive:
        assert _vendored_stats(archive)
        spec = yaml.safe_load(archive.read("competition.yaml"))
    declared = {c["key"]: c for board in spec["leaderboards"] for c in board["columns"]}
    assert declared["macro_f1_low"]["sorting"] == "desc" and declared["macro_f1_high"]["title"] == "Macro F1 (high)"


def _vendored_stats(archive: zipfile.ZipFile) -> bool:
    """The vendored lib is itself a zip inside the bundle (scoring_program/_aibench/lib.zip)."""
    import io

    with zipfile.ZipFile(io.BytesIO(archive.read("scoring_program/_aibench/lib.zip"))) as lib:
        return "aibench_plugins/stats/engine.py" in lib.namelist()


def test_validate_refuses_bad_params_at_their_pointer(tmp_path: Path) -> None:
    bundle = bundle_copy("iris-v2", tmp_path)
    edit_manifest(bundle, robustness=[{**ENTRY, "params": {"n_boot": 5, "method": "wald"}}])
    done = _aibench("validate", bundle)
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "/robustness/0/params" in out, out
    assert "n_boot" in out and "wald" in out and "Traceback" not in out
