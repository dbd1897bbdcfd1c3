"""YAML alias expansion is bounded (issue 9 item 8): a "billion laughs" scores.txt, metadata or
competition.yaml returns its parser's documented error within seconds; the few aliases real
bundles use still read as the workers read them. Each hostile parse runs in a child process with a
timeout, so a regression fails the test instead of hanging it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from codalab_worker_compat import BundleError, compare_lines, load_bundle, read_scores
from codalab_worker_compat._yaml import MAX_ALIAS_EXPANSION, YAMLBoundError, load

TIMEOUT_S = 20


def laughs(levels: int, width: int = 9, indent: str = "") -> str:
    """Nested aliases: level k is a list of ``width`` aliases of level k-1 (width**levels leaves)."""
    lines = [f"{indent}l0: &l0 [" + ", ".join(["1"] * width) + "]"]
    lines += [f"{indent}l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * width) + "]" for k in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def in_child(code: str, *args: str) -> dict[str, object]:
    """Run ``code`` (which prints one JSON line) in a fresh interpreter; fail if it takes too long."""
    start = time.perf_counter()
    child = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert child.returncode == 0, child.stderr[-2000:]
    outcome: dict[str, object] = json.loads(child.stdout)
    outcome["seconds"] = time.perf_counter() - start
    return outcome


SCORES = """
import json, sys
from codalab_worker_compat import read_scores
result = read_scores(sys.argv[1], sys.argv[2], strict=True)
print(json.dumps({"outcome": result.outcome, "error": result.error}))
"""


@pytest.mark.parametrize("platform", ["codabench", "ai4mediabench", "v1"])
def test_billion_laughs_scores_txt_is_refused_quickly(tmp_path: Path, platform: str) -> None:
    (tmp_path / "scores.txt").write_text("accuracy: 0.9\n" + laughs(9))
    outcome = in_child(SCORES, str(tmp_path), platform)
    assert float(outcome["seconds"]) < TIMEOUT_S  # type: ignore[arg-type]
    if platform == "v1":  # v1 splits lines on ':' and never reads YAML (§4.9): each line is a text value
        assert outcome["outcome"] == "ok"
    else:
        assert outcome["outcome"] == "no_scores"
        assert "scores.txt is not YAML (its aliases expand to more than 100,000 extra values (a 'billion laughs' " \
               "document)" in str(outcome["error"])


def test_compare_lines_of_billion_laughs_is_quick() -> None:
    start = time.perf_counter()
    differences = compare_lines("accuracy: 0.9\n" + laughs(9))
    assert time.perf_counter() - start < 5
    assert "billion laughs" in differences[0].v2


BUNDLE = """
import json, sys
from codalab_worker_compat import BundleError, load_bundle
try:
    load_bundle(sys.argv[1])
    print(json.dumps({"error": None}))
except BundleError as error:
    print(json.dumps({"error": str(error)}))
"""


def test_ten_level_aliases_in_competition_yaml_refused_quickly(tmp_path: Path) -> None:
    (tmp_path / "competition.yaml").write_text("title: x\nversion: 2\n" + laughs(10, width=10))
    outcome = in_child(BUNDLE, str(tmp_path))
    assert str(outcome["error"]).startswith("competition.yaml: competition.yaml is not valid YAML: its aliases expand "
                                            "to more than 100,000 extra values")


METADATA = """
import json, sys
from pathlib import Path
from codalab_worker_compat import MetadataError, read_metadata
try:
    read_metadata(Path(sys.argv[1]), sys.argv[2])
    print(json.dumps({"error": None}))
except MetadataError as error:
    print(json.dumps({"error": str(error)}))
"""


@pytest.mark.parametrize("worker", ["v1", "codabench"])
def test_billion_laughs_metadata_refused_quickly(tmp_path: Path, worker: str) -> None:
    (tmp_path / "metadata").write_text("command: python score.py\n" + laughs(9))
    outcome = in_child(METADATA, str(tmp_path), worker)
    assert "metadata is not valid YAML (its aliases expand to more than 100,000 extra values" in str(outcome["error"])


def test_recursive_alias_refused() -> None:
    with pytest.raises(YAMLBoundError, match="refers to a collection that contains it"):
        load("a: &a [1, *a]\n", yaml.SafeLoader)


def test_leaderboard_anchors_still_read_as_the_site_reads_them(tmp_path: Path) -> None:
    """§2.5: columns share their result group through an anchor; a few aliases are well inside the bound."""
    columns = "\n".join(f"    c{i}: {{leaderboard: *RESULTS, label: C{i}, rank: {i}}}" for i in range(200))
    (tmp_path / "competition.yaml").write_text(
        "title: x\nphases: {1: {phasenumber: 1, scoring_program: s.zip}}\nleaderboard:\n  leaderboards:\n"
        "    Results: &RESULTS {label: Results, rank: 1}\n  columns:\n" + columns + "\n")
    bundle = load_bundle(tmp_path)
    assert len(bundle.columns) == 200
    assert bundle.spec["leaderboard"]["columns"]["c7"]["leaderboard"] == {"label": "Results", "rank": 1}


def test_aliases_up_to_the_bound_are_read() -> None:
    """Expansion just under the bound is built (the data is what yaml.safe_load gives)."""
    text = laughs(3, width=10)  # 10**4 leaves, about 12,000 nodes once expanded
    assert load(text, yaml.SafeLoader) == yaml.safe_load(text)
    assert MAX_ALIAS_EXPANSION > 11_111


def test_scores_with_an_alias_keep_the_worker_reading(tmp_path: Path) -> None:
    (tmp_path / "scores.txt").write_text("accuracy: &a 0.9\nalso: *a\n")
    result = read_scores(tmp_path, "codabench")
    assert (result.outcome, result.scores) == ("ok", {"accuracy": 0.9, "also": 0.9})


def test_bundle_error_for_an_alias_bomb_is_the_documented_error(tmp_path: Path) -> None:
    (tmp_path / "competition.yaml").write_text(laughs(10, width=10))
    with pytest.raises(BundleError, match="billion laughs"):
        load_bundle(tmp_path)
