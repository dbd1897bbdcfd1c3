"""Pareto ranks of score versus cost (leaderboard/pareto.py): non-dominated sorting against hand
answers, the manifest's efficiency entries read defensively, values found in report.json, the
analysis over runs recorded by ``aibench run`` in a temporary ledger (a copy of iris-v2, each
run's report given a cost as the complexity section would), and the score-versus-cost chart in
real headless Chromium."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from aibench_plugins.leaderboard.analysis import Settings, analyse
from aibench_plugins.leaderboard.loading import read_columns
from aibench_plugins.leaderboard.page import pareto_chart, render_page
from aibench_plugins.leaderboard.pareto import ParetoSpec, analyse_pareto, pareto_ranks, pareto_specs, report_value
from aibench_plugins.leaderboard.ranking import parse_rankings
from aibench_plugins.leaderboard.sources import Entry, LeaderboardError, from_ledger

from chromium import chromium_args

REPO = Path(__file__).resolve().parents[2]
IRIS = REPO / "bundles" / "iris-v2"
SCHEMA = json.loads((REPO / "schemas" / "aibench-leaderboard.schema.json").read_text())
LABELS = ("setosa", "versicolor", "virginica")
#: submission -> (share of flipped labels, its cost): alpha best and dearest, delta worst and cheapest,
#: beta between them; gamma worse and dearer than beta (dominated)
SUBMISSIONS = {"alpha": (0.0, 900.0), "beta": (0.1, 300.0), "gamma": (0.3, 400.0), "delta": (0.6, 100.0)}


def test_non_dominated_sorting_matches_hand_answers() -> None:
    """
    point  score  cost   dominated by        rank
    a      0.9    10     -                   1
    b      0.8    5      -                   1
    c      0.8    8      b (same score, dearer)  2
    d      0.7    8      b, c                 3
    e      0.9    10     - (equal to a)       1
    f      None   1      no value             None
    """
    scores = [0.9, 0.8, 0.8, 0.7, 0.9, None]
    costs = [10.0, 5.0, 8.0, 8.0, 10.0, 1.0]
    assert pareto_ranks(scores, costs) == [1, 1, 2, 3, 1, None]
    # an error to minimise: lower score is better; now d (0.7) is on the front with b
    assert pareto_ranks(scores, costs, higher_score_better=False) == [3, 1, 2, 1, 3, None]
    assert pareto_ranks([1.0, float("nan")], [1.0, 2.0]) == [1, None]
    assert pareto_ranks([], []) == []
    with pytest.raises(LeaderboardError, match="2 scores for 1 costs"):
        pareto_ranks([1.0, 2.0], [1.0])


def test_a_chain_gives_one_rank_per_point_and_a_front_of_many_shares_rank_1() -> None:
    assert pareto_ranks([3.0, 2.0, 1.0], [1.0, 2.0, 3.0]) == [1, 2, 3]
    assert pareto_ranks([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == [1, 1, 1]


def test_specs_are_read_from_the_efficiency_section_defensively() -> None:
    document = {"efficiency": [
        {"key": "ntire", "formula": "ntire", "terms": []},
        {"key": "pareto_macs", "label": "Pareto (MACs)", "formula": "pareto_rank", "score": "acc", "cost": "macs"},
        {"key": "pareto_time", "formula": "pareto_rank", "params": {"score": "mae", "cost": "time_ratio",
                                                                   "score_direction": "minimize"}},
        "not an object"]}
    assert pareto_specs(document) == [ParetoSpec("pareto_macs", "Pareto (MACs)", "acc", "macs"),
                                      ParetoSpec("pareto_time", "pareto_time", "mae", "time_ratio", "minimize")]
    labelled = pareto_specs({"efficiency": [{"key": "p", "formula": "pareto_rank", "score": "acc",
                                             "cost": "time.time.ratio"}],
                             "complexity": [{"use": "aibench.time", "key": "time", "columns": [
                                 {"summary": "time.ratio", "key": "time_ratio", "label": "Time (x reference)"}]}]})
    assert labelled[0].cost_label == "Time (x reference)"
    assert pareto_specs({}) == [] and pareto_specs({"efficiency": "odd"}) == []
    assert pareto_specs({"efficiency": {"entries": document["efficiency"][1:2]}})[0].key == "pareto_macs"
    with pytest.raises(LeaderboardError, match=r'efficiency/0 \(p\): a pareto_rank entry needs "cost"'):
        pareto_specs({"efficiency": [{"key": "p", "formula": "pareto_rank", "score": "acc"}]})
    with pytest.raises(LeaderboardError, match="score_direction must be maximize or minimize"):
        pareto_specs({"efficiency": [{"key": "p", "formula": "pareto_rank", "score": "a", "cost": "c",
                                      "score_direction": "up"}]})


def test_values_are_found_in_columns_then_complexity_then_measurements() -> None:
    report = {"columns": [{"key": "accuracy", "value": 0.9, "sorting": "desc", "title": "Accuracy"}],
              "plugin_columns": [{"key": "mae", "value": 0.2, "sorting": "asc", "title": "MAE"}],
              "complexity": {"hardware": {"cpu_count": 2},
                             "entries": [{"key": "macs", "use": "aibench.macs",
                                          "columns": [{"key": "macs", "value": 4736, "label": "MACs"}],
                                          "measurements": [{"name": "macs", "value": 4736, "unit": "MAC"},
                                                           {"name": "flops", "value": 9472, "unit": "FLOP"}]}]},
              "measurements": [{"name": "prediction wall time", "value": 3.5, "unit": "s", "measured_by": "executor"}]}
    accuracy = report_value(report, "accuracy")
    assert accuracy is not None and (accuracy.value, accuracy.direction, accuracy.label) == (0.9, "maximize", "Accuracy")
    mae = report_value(report, "mae")
    assert mae is not None and mae.direction == "minimize"
    macs = report_value(report, "macs")
    assert macs is not None and (macs.value, macs.label) == (4736.0, "MACs")
    flops = report_value(report, "flops")
    assert flops is not None and (flops.value, flops.unit) == (9472.0, "FLOP")
    wall = report_value(report, "prediction wall time")
    assert wall is not None and wall.value == 3.5
    entry = report_value(report, "macs.flops")  # <complexity entry key>.<measurement name>
    assert entry is not None and (entry.value, entry.unit) == (9472.0, "FLOP")
    assert report_value(report, "time.time.ratio") is None
    assert report_value(report, "energy") is None and report_value(None, "macs") is None


def test_a_submission_without_the_cost_has_no_rank_and_says_why(tmp_path: Path) -> None:
    def entry(name: str, report: dict[str, Any] | None) -> Entry:
        return Entry(name, tmp_path, tmp_path, report=report)

    entries = [entry("a", {"columns": [{"key": "accuracy", "value": 0.9, "sorting": "desc"}],
                           "plugin_columns": [{"key": "macs", "value": 10}]}),
               entry("b", {"columns": [{"key": "accuracy", "value": 0.8, "sorting": "desc"}],
                           "plugin_columns": [{"key": "macs", "value": 5}]}),
               entry("c", {"columns": [{"key": "accuracy", "value": 0.95, "sorting": "desc"}]}),
               entry("d", None)]
    [item] = analyse_pareto([ParetoSpec("p", "Pareto", "accuracy", "macs")], entries)
    ranks = {p["submission"]: p["rank"] for p in item["points"]}
    assert ranks == {"a": 1, "b": 1, "c": None, "d": None} and item["front"] == ["a", "b"]
    missing = {p["submission"]: p["missing"] for p in item["points"]}
    assert "no cost 'macs'" in missing["c"] and "aibench_plugins.complexity.measure" in missing["c"]
    assert missing["d"] == "its run has no report.json" and missing["a"] is None
    assert item["score"]["direction"] == "maximize"


def _submission(folder: Path, name: str, error: float) -> Path:
    rows = (IRIS / "reference_data" / "labels.csv").read_text().splitlines()[1:]
    rng = random.Random(name)
    target = folder / name
    target.mkdir(parents=True)
    lines = ["id,label"]
    for row in rows:
        identifier, label = row.split(",")
        if rng.random() < error:
            label = rng.choice([x for x in LABELS if x != label])
        lines.append(f"{identifier},{label}")
    (target / "predictions.csv").write_text("\n".join(lines) + "\n")
    return target


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Four iris-v2 submissions run by ``aibench run`` into a fresh ledger; each run's report.json
    then gets a cost in a complexity section (what the complexity stage writes there)."""
    root = tmp_path_factory.mktemp("pareto")
    bundle = root / "iris-v2"
    shutil.copytree(IRIS, bundle)
    env = os.environ | {"AIBENCH_HOME": str(root / "home")}
    for name, (error, cost) in SUBMISSIONS.items():
        done = subprocess.run([sys.executable, "-m", "aibench_plugins", "run", str(bundle),
                               str(_submission(root / "subs", name, error)), "--json"],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        path = Path(json.loads(done.stdout)["work_dir"]) / "report.json"
        report = json.loads(path.read_text())
        report["complexity"] = {"hardware": None, "efficiency": [], "entries": [
            {"key": "macs", "use": "aibench.macs", "label": "MACs per case",
             "measurements": [{"name": "macs", "value": cost, "unit": "MAC", "measured_by": "ingestion"}]}]}
        path.write_text(json.dumps(report))
    return {"bundle": bundle, "ledger": root / "home" / "ledger.sqlite3", "root": root}


def _document(ledger: dict[str, Any]) -> dict[str, Any]:
    source = from_ledger(ledger["bundle"], None, ledger["ledger"])
    columns = read_columns(source)
    specs = pareto_specs({**source.manifest.document, "efficiency": [
        {"key": "pareto_macs", "label": "Pareto rank (F1 vs MACs)", "formula": "pareto_rank", "score": "macro_f1",
         "cost": "macs.macs"}], "complexity": [{"use": "aibench.macs", "key": "macs", "columns": [
             {"summary": "macs", "key": "macs", "label": "MACs"}]}]})
    return analyse(columns, parse_rankings(None, [c.key for c in columns]), source.entries,
                   Settings(replicates=200), context={"bundle": str(ledger["bundle"]), "split": "all",
                                                      "phase": {"number": 0, "name": "Development"},
                                                      "source": {"kind": "ledger", "location": "ledger"},
                                                      "skipped": [], "notes": []}, pareto=specs)


def test_ledger_runs_get_their_pareto_ranks(ledger: dict[str, Any]) -> None:
    document = _document(ledger)
    errors = [str(e) for e in jsonschema_rs.validator_for(SCHEMA).iter_errors(document)]
    assert not errors, errors[:5]
    [item] = document["pareto"]
    by_name = {p["submission"]: p for p in item["points"]}
    f1 = next(c for c in document["columns"] if c["key"] == "macro_f1")
    names = [s["name"] for s in document["submissions"]]
    for name, point in by_name.items():  # the score is the analysed column's full-data value
        assert point["score"] == pytest.approx(f1["values"][names.index(name)])
        assert point["cost"] == SUBMISSIONS[name][1]
    scores = {n: p["score"] for n, p in by_name.items()}
    assert scores["alpha"] > scores["beta"] > scores["gamma"] > scores["delta"]
    # alpha: best; beta: cheaper than alpha; delta: cheapest; gamma: worse and dearer than beta
    assert {n: p["rank"] for n, p in by_name.items()} == {"alpha": 1, "beta": 1, "gamma": 2, "delta": 1}
    assert item["front"] == ["alpha", "beta", "delta"]
    assert item["cost"] == {"key": "macs.macs", "label": "MACs", "unit": "MAC", "direction": "minimize"}


def test_the_page_shows_the_pareto_column_and_chart_in_headless_chromium(ledger: dict[str, Any],
                                                                         tmp_path: Path) -> None:
    document = _document(ledger)
    page = tmp_path / "leaderboard.html"
    page.write_text(render_page(document))
    html = page.read_text()
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    dom = subprocess.run([*chromium_args(tmp_path), "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    assert 'class="pareto-chart"' in rendered and 'class="front-line"' in rendered
    assert rendered.count('class="front"') == 3 and rendered.count('class="dominated"') == 1
    assert "Score versus cost: Pareto rank (F1 vs MACs)" in rendered and "<th>Pareto rank (F1 vs MACs)</th>" in rendered
    assert "(log scale)" not in rendered  # 100 to 900: a factor of 9
    shot = tmp_path / "shot.png"
    done = subprocess.run([*chromium_args(tmp_path), f"--screenshot={shot}", page.as_uri()], capture_output=True,
                          timeout=120)
    assert done.returncode == 0 and shot.stat().st_size > 10_000


def test_the_chart_uses_a_log_scale_for_costs_spanning_decades_and_escapes_names() -> None:
    points = [{"submission": "<b>tiny</b>", "score": 0.94, "cost": 650.0, "rank": 1, "missing": None},
              {"submission": "good", "score": 0.95, "cost": 4736.0, "rank": 1, "missing": None},
              {"submission": "wide", "score": 0.94, "cost": 85000.0, "rank": 2, "missing": None},
              {"submission": "crash", "score": None, "cost": None, "rank": None, "missing": "no score"}]
    item: dict[str, Any] = {"key": "p", "label": "P", "front": [], "points": points,
                            "score": {"key": "acc", "label": "Accuracy", "direction": "maximize"},
                            "cost": {"key": "macs", "label": "MACs", "unit": "MAC", "direction": "minimize"}}
    svg = pareto_chart(item)
    assert "(log scale)" in svg and "<b>tiny" not in svg and "&lt;b&gt;tiny" in svg
    assert svg.count('class="front"') == 2 and svg.count('class="dominated"') == 1 and "crash" not in svg
    assert ">1000<" in svg and ">1e+04<" in svg  # decade ticks
    empty = pareto_chart({**item, "points": [points[-1]]})
    assert "No submission has both a score and a cost" in empty and "<svg" not in empty
