"""End to end through ``aibench run`` (the scoring side of issue 13, C2): the digits code-submission
bundle with the scoring-side meter ``aibench.prediction_step`` reads the executor's wall time of the
prediction step; a weighted sum over it is an efficiency column; both are in ``--json``, in
report.json (valid against its schema) and on the page; the original scores are untouched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from aibench_plugins.evaluation.report import report_problems

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "bundles" / "digits-ingestion-v2"
GOOD = REPO / "examples" / "submissions" / "digits-ingestion-v2" / "good"


def test_the_prediction_step_meter_reads_the_executor_and_gives_columns(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLE, bundle)
    manifest = json.loads((bundle / "aibench.json").read_text())
    manifest["complexity"] = [{"use": "aibench.prediction_step", "key": "step", "label": "Prediction step",
                               "columns": [{"summary": "wall_time", "key": "step_time", "precision": 3}]}]
    manifest["efficiency"] = [{"key": "step_cost", "formula": "weighted_ratios",
                               "terms": [{"measurement": "step.wall_time", "weight": 2}]}]
    (bundle / "aibench.json").write_text(json.dumps(manifest))
    env = os.environ | {"AIBENCH_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "aibench_plugins", "run", str(bundle), str(GOOD), "--json"],
                          capture_output=True, text=True, env=env, timeout=600)
    report: dict[str, Any] = json.loads(done.stdout)
    assert done.returncode == 0 and report["status"] == "finished", done.stderr
    columns = {c["key"]: c for c in report["plugin_columns"]}
    step = report["complexity"]["entries"][0]
    wall = next(m for m in step["measurements"] if m["name"] == "wall_time")
    assert wall["measured_by"] == "executor" and wall["value"] > 0 and "executor" in wall["trust"]
    assert columns["step_time"]["value"] == wall["value"]
    # a measurement without a reference has no ratio: the efficiency column fails with the reason
    failures = {f["key"]: f for f in report["plugin_failures"]}
    assert columns["step_cost"]["value"] is None and "no reference value" in failures["step_cost"]["message"]
    assert not failures["step_cost"]["required"] and {c["key"]: c["value"] for c in report["columns"]}["accuracy"] is not None
    document = json.loads((Path(report["work_dir"]) / "report.json").read_text()) \
        if (Path(report["work_dir"]) / "report.json").is_file() else report["report"]
    assert report_problems(document) == [] and document["complexity"] == report["complexity"]
    page = Path(report["detailed_results"]).read_text()
    assert 'id="section-complexity"' in page and "Prediction step" in page
