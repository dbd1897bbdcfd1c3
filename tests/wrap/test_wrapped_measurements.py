"""The wrapped ingestion's measurements and what the scorer sees (issue 11, item 4).

The only way from the prediction step to the scoring step is the prediction output, which becomes
``input/res`` on every worker (``runtime/measurements.py`` says why), so the wrapped ingestion
writes ``.aibench_measurements.json`` there and the scoring runtime takes it out before the
original scorer starts. Before, a scorer listing ``input/res`` saw the file. The digits bundle's
scorer here also writes what it lists of ``input/res`` into ``output/listing.json``, and the
wrapped bundle's listing is compared with the unwrapped bundle's, on both v2 workers' rules, with
``input/`` writable as the real workers mount it (local executor without bubblewrap); with a
read-only ``input/`` (bubblewrap) the file stays, says what it is, and the runtime says why.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from wrapkit import SUBMISSIONS, VENV_BIN, bundle_copy, runtime_report, scoring_output, stderr_of_scoring, wrap

from aibench_plugins.run.runner import run_bundle
from aibench_plugins.runtime.measurements import MEASUREMENTS_FILE, WRITTEN_BY, take_ingestion_measurements

DIGITS_GOOD = SUBMISSIONS / "digits-ingestion-v2" / "good"
LISTING = """
res = os.path.join(sys.argv[1], "res")
with open(os.path.join(sys.argv[2], "listing.json"), "w") as handle:
    json.dump(sorted(os.path.relpath(os.path.join(top, name), res)
                     for top, folders, files in os.walk(res) for name in folders + files), handle)
"""


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The digits bundle whose scorer lists input/res, and its wrapped zip."""
    made = tmp_path_factory.mktemp("listing")
    bundle = bundle_copy("digits-ingestion-v2", made)
    score = bundle / "scoring_program" / "score.py"
    score.write_text(score.read_text() + LISTING)
    return bundle, wrap(bundle, made / "digits-listing.zip")


def _run(bundle: Path, work: Path, platform: str, isolation: str) -> Any:
    """The bundle run as a worker runs it (no aibench on the host side; this venv's python3)."""
    previous = os.environ["PATH"]
    os.environ["PATH"] = f"{VENV_BIN}:{previous}"
    try:
        return run_bundle(bundle, DIGITS_GOOD, platform=platform, work_dir=work, ledger_path=work.parent / "l.db",
                          use_plugins=False, isolation=isolation)  # type: ignore[arg-type]
    finally:
        os.environ["PATH"] = previous


def _listing(report: Any) -> list[str]:
    return list(json.loads((scoring_output(report) / "listing.json").read_text()))


@pytest.mark.parametrize("platform", ["codabench", "ai4mediabench"])
def test_a_scorer_listing_input_res_sees_what_it_sees_unwrapped_and_the_measurements_still_arrive(
        platform: str, bundles: tuple[Path, Path], tmp_path: Path) -> None:
    plain, wrapped = bundles
    unwrapped = _run(plain, tmp_path / "plain", platform, "none")
    report = _run(wrapped, tmp_path / "wrapped", platform, "none")
    assert unwrapped.ok and report.ok, stderr_of_scoring(report)
    assert _listing(report) == _listing(unwrapped)
    assert MEASUREMENTS_FILE not in _listing(report) and {"metadata", "predictions.csv"} <= set(_listing(report))
    measured = {(m["name"], m["measured_by"]) for m in runtime_report(report)["measurements"]}
    assert ("peak memory of the participant's run", "ingestion") in measured
    assert ("ingestion wall time", "ingestion") in measured
    assert "stays in input/res" not in stderr_of_scoring(report)


def test_where_input_res_is_read_only_the_file_stays_says_what_it_is_and_the_runtime_says_why(
        bundles: tuple[Path, Path], tmp_path: Path) -> None:
    report = _run(bundles[1], tmp_path / "run", "codabench", "bwrap")
    assert report.ok, stderr_of_scoring(report)
    assert MEASUREMENTS_FILE in _listing(report)
    assert f"{MEASUREMENTS_FILE} stays in input/res, where the scoring program can see it" in stderr_of_scoring(report)
    prediction = next(s.output_dir for s in report.result.steps if s.step == "prediction")
    content = json.loads((prediction / MEASUREMENTS_FILE).read_text())
    assert content["written_by"] == WRITTEN_BY and "not a participant's file" in content["written_by"]
    measured = {m["name"] for m in runtime_report(report)["measurements"]}
    assert "peak memory of the participant's run" in measured


@pytest.mark.parametrize("content", ['{"measured_by": "ingestion", "peak_rss_mb": 1.0}', "not json",
                                     "another manifest"], ids=["forged", "not-json", "another-manifest"])
def test_a_file_of_that_name_that_is_not_the_ingestions_is_neither_read_nor_removed(content: str,
                                                                                   tmp_path: Path) -> None:
    if content == "another manifest":
        content = json.dumps({"written_by": WRITTEN_BY, "manifest_sha256": "0" * 64, "peak_rss_mb": 1.0})
    (tmp_path / MEASUREMENTS_FILE).write_text(content)
    found = take_ingestion_measurements(tmp_path, "f" * 64)
    assert found.measurements == [] and not found.ours
    assert (tmp_path / MEASUREMENTS_FILE).read_text() == content
