"""A metric value that a platform's score field cannot store (issue 11, item 2): judged on its own.

Before, an MAE of 9.65e45 made the wrapped runtime refuse the whole merge (two valid columns were
lost), and ``aibench run`` only showed n/a. Now the value is a failure of its own column, naming
the value and the limit, in ``aibench run --json``, ``report.json`` and on the page, on both paths;
the columns that fit are merged. The bundle is a small regression bundle of the same shape, made
here: a scorer of its own (``rows``), ``aibench.mae`` (the huge value), ``aibench.spearman`` and
``aibench.pearson`` (values that fit).
"""

from __future__ import annotations

import html
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from wrapkit import run_as_platform, scoring_output, wrap

from aibench_plugins.evaluation.score_fields import SCORE_FIELDS, unstorable

HUGE = 9.65e46  # one prediction: the MAE over 10 rows is 9.65e45
LIMIT = "Decimal(20,10): |value| < 1e10"

COMPETITION = """\
version: 2
title: Huge errors (aibench-plugins test)
docker_image: codalab/codalab-legacy:py312
tasks:
  - index: 0
    name: Regression
    scoring_program: scoring_program
    reference_data: reference_data
phases:
  - index: 0
    name: Development
    execution_time_limit: 60
    tasks: [0]
leaderboards:
  - title: Results
    key: main
    columns:
      - title: Rows
        key: rows
        index: 0
        sorting: desc
"""

SCORER = """\
import json, os, sys
input_dir, output_dir = sys.argv[1], sys.argv[2]
with open(os.path.join(input_dir, "res", "predictions.csv")) as handle:
    rows = len(handle.read().split()) - 1
with open(os.path.join(output_dir, "scores.json"), "w") as handle:
    json.dump({"rows": rows}, handle)
"""

MANIFEST = {
    "schema_version": 1,
    "data": {"predictions": {"file": "predictions.csv", "id": "id", "columns": ["target"]},
             "references": {"file": "targets.csv", "id": "id", "columns": ["target"]}},
    "metrics": [{"use": "aibench.mae", "key": "mae", "label": "MAE"},
                {"use": "aibench.spearman", "key": "spearman", "label": "Spearman"},
                {"use": "aibench.pearson", "key": "pearson", "label": "Pearson"}],
}


def _bundle(folder: Path) -> Path:
    (folder / "scoring_program").mkdir(parents=True)
    (folder / "reference_data").mkdir()
    (folder / "competition.yaml").write_text(COMPETITION)
    (folder / "scoring_program" / "score.py").write_text(SCORER)
    (folder / "scoring_program" / "metadata.yaml").write_text("command: python3 $program/score.py $input $output\n")
    (folder / "reference_data" / "targets.csv").write_text(
        "id,target\n" + "".join(f"r{i},{i}.0\n" for i in range(10)))
    (folder / "aibench.json").write_text(json.dumps(MANIFEST))
    return folder


def _submission(folder: Path) -> Path:
    folder.mkdir(parents=True)
    values = [HUGE if i == 9 else i + 0.5 for i in range(10)]
    (folder / "predictions.csv").write_text("id,target\n" + "".join(f"r{i},{v!r}\n" for i, v in enumerate(values)))
    return folder


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("huge")
    return _bundle(root / "bundle"), _submission(root / "submission")


def _huge_failure(failures: list[dict[str, Any]]) -> dict[str, Any]:
    """The one failure, that of the mae column, naming the value and the limit."""
    assert [(f["kind"], f["key"]) for f in failures] == [("metric", "mae")], failures
    assert "9.65e+45" in failures[0]["message"] and LIMIT in failures[0]["message"], failures[0]["message"]
    return failures[0]


# -- the limits -----------------------------------------------------------------------------


@pytest.mark.parametrize("platform", list(SCORE_FIELDS))
@pytest.mark.parametrize("value, fits", [(0.9, True), (9999999999.0, True), (-9999999999.0, True), (1e-12, True),
                                         (1e10, False), (-1e10, False), (9999999999.99999999999, False),
                                         (9.65e45, False), (math.nan, False), (math.inf, False)],
                         ids=lambda v: repr(v))
def test_each_platforms_score_field_stores_what_decimal_20_10_holds(platform: str, value: float, fits: bool) -> None:
    why = unstorable(value, [platform])
    assert (why is None) == fits
    if not fits:
        assert LIMIT in str(why) and SCORE_FIELDS[platform].site in str(why)


# -- aibench run ----------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["codabench", "ai4mediabench"])
def test_aibench_run_reports_the_value_that_does_not_fit_as_its_columns_failure_and_keeps_the_others(
        platform: str, made: tuple[Path, Path], tmp_path: Path) -> None:
    bundle, submission = made
    done = subprocess.run([sys.executable, "-m", "aibench_plugins", "run", str(bundle), str(submission), "--json",
                           "--platform", platform, "--work-dir", str(tmp_path / "run"),
                           "--ledger", str(tmp_path / "ledger.db")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    printed = json.loads(done.stdout)
    assert printed["status"] == "finished"
    values = {c["key"]: c["value"] for c in printed["plugin_columns"]}
    assert values["mae"] is None and values["spearman"] == pytest.approx(1.0) and values["pearson"] is not None
    failure = _huge_failure(printed["plugin_failures"])
    assert {"v1": "CodaLab", "codabench": "Codabench", "ai4mediabench": "AI4Media-Bench"}[platform] in \
        failure["message"]
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    _huge_failure(report["plugin_failures"])
    page = html.unescape(Path(printed["detailed_results"]).read_text())
    assert "9.65e+45" in page and LIMIT in page and "No plugin failed" not in page


# -- the wrapped runtime --------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["codabench", "ai4mediabench"])
def test_wrapped_runtime_merges_the_values_that_fit_and_reports_the_one_that_does_not(
        platform: str, made: tuple[Path, Path], tmp_path: Path) -> None:
    bundle, submission = made
    out = wrap(bundle, tmp_path / "huge.zip")
    report = run_as_platform(out, submission, tmp_path / "run", platform=platform)
    assert report.ok, report.result.message
    values = {c["key"]: c["value"] for c in report.columns}
    assert values["rows"] == 10 and values["mae"] is None
    assert values["spearman"] is not None and float(values["spearman"]) == pytest.approx(1.0)
    assert values["pearson"] is not None
    output = scoring_output(report)
    scores = json.loads((output / "scores.json").read_text())
    assert set(scores) == {"rows", "spearman", "pearson"}
    document = json.loads((output / "aibench" / "report.json").read_text())
    _huge_failure(document["plugin_failures"])
    assert document["wrapped"]["merge"]["error"] is None
    assert sorted(document["wrapped"]["merge"]["written"]) == ["pearson", "spearman"]
    page = html.unescape((output / "detailed_results.html").read_text())
    assert "9.65e+45" in page and LIMIT in page and "No plugin failed" not in page
