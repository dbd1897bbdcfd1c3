"""Reading bundles: spec file, version, phases and columns (codalab-contract.md §2, §3)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from codalab_worker_compat import BundleError, load_bundle

REPO = Path(__file__).resolve().parents[2]
IRIS = REPO / "bundles" / "iris-v2"

V1_SPEC = """\
title: Tiny v1
html: {overview: overview.html, evaluation: evaluation.html, terms: terms.html, data: data.html}
phases:
  2:
    phasenumber: 2
    label: Final
    start_date: 2026-02-01
    scoring_program: scoring_program.zip
    reference_data: reference_data.zip
  1:
    phasenumber: 1
    label: Development
    start_date: 2026-01-01
    execution_time_limit: 120
    scoring_program: scoring_program.zip
    reference_data: 0123456789abcdef0123456789abcdef
leaderboard:
  leaderboards:
    Results: &RESULTS {label: Results, rank: 1}
  columns:
    DER: {leaderboard: *RESULTS, label: Diarisation error, rank: 1, sort: asc, numeric_format: 3}
    F1: {leaderboard: *RESULTS, label: F1, rank: 2}
"""


def zip_folder(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            archive.write(path, path.relative_to(folder).as_posix())
    return target


def test_v2_folder_bundle() -> None:
    bundle = load_bundle(IRIS)
    assert (bundle.platform, bundle.version) == ("v2", "2")
    [phase] = bundle.phases
    assert (phase.number, phase.name, phase.execution_time_limit) == (0, "Development", 60)
    assert phase.programs == {"scoring_program": "scoring_program", "reference_data": "reference_data"}
    assert [(c.key, c.sorting, c.precision) for c in bundle.columns] == [("accuracy", "desc", 4)]
    assert bundle.problems() == []


def test_v2_zip_bundle_reads_the_same(tmp_path: Path) -> None:
    bundle = load_bundle(zip_folder(IRIS, tmp_path / "iris.zip"))
    assert bundle.platform == "v2" and bundle.exists("scoring_program") and bundle.exists("aibench.json")
    assert bundle.read_bytes("aibench.json") == (IRIS / "aibench.json").read_bytes()


def test_v1_phases_sorted_by_phasenumber_and_columns_from_leaderboard(tmp_path: Path) -> None:
    """§2.4 phases mapping sorted by phasenumber, default time limit 300; §2.5 columns keyed by score key."""
    (tmp_path / "competition.yaml").write_text(V1_SPEC)
    (tmp_path / "scoring_program.zip").write_bytes(b"")
    bundle = load_bundle(tmp_path)
    assert bundle.platform == "v1"
    assert [(p.number, p.name, p.execution_time_limit) for p in bundle.phases] == [
        (1, "Development", 120), (2, "Final", 300)]
    assert [(c.key, c.title, c.sorting, c.precision) for c in bundle.columns] == [
        ("DER", "Diarisation error", "asc", 3), ("F1", "F1", "desc", 2)]
    dataset_key, missing = bundle.problems()
    assert dataset_key.severity == "warning" and "looks it up as an existing dataset key" in dataset_key.message
    assert missing.severity == "error"
    assert "phase 2 (Final) reference_data 'reference_data.zip' is not in the bundle" in missing.message


def test_v1_zip_takes_first_member_containing_yaml(tmp_path: Path) -> None:
    """§2.1: the v1 site takes the first zip member whose name contains '.yaml'."""
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as archive:
        archive.writestr("bundle/comp.yaml", V1_SPEC)
    bundle = load_bundle(tmp_path / "b.zip")
    assert bundle.spec_name == "bundle/comp.yaml" and bundle.platform == "v1"


def test_v1_python_tags_are_read_as_the_v1_site_does(tmp_path: Path) -> None:
    """§3.1: old CodaLab dumps carry !!python/unicode tags that full_load accepts."""
    (tmp_path / "competition.yaml").write_text("title: !!python/unicode 'Old'\nphases: {}\n")
    assert load_bundle(tmp_path).spec["title"] == "Old"


def test_v2_python_tags_are_refused_as_codabench_refuses_them(tmp_path: Path) -> None:
    """§3.1: the v2 site is Codabench, whose safe_load refuses the tag: the upload would fail."""
    (tmp_path / "competition.yaml").write_text("version: 2\ntitle: !!python/unicode 'New'\nphases: []\n")
    with pytest.raises(BundleError) as refused:
        load_bundle(tmp_path)
    assert (refused.value.file, refused.value.line) == ("competition.yaml", 2)
    assert "safe_load refuses" in refused.value.message and "Organiser" in (refused.value.fix or "")


@pytest.mark.parametrize(
    ("content", "message"),
    [("version: 3\n", "unknown bundle version '3'"), ("title: [unclosed\n", "not valid YAML"),
     ("- a list\n", "must hold a mapping")],
    ids=["unknown-version", "bad-yaml", "not-a-mapping"],
)
def test_unreadable_specs_raise_with_location(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "competition.yaml").write_text(content)
    with pytest.raises(BundleError, match=message) as info:
        load_bundle(tmp_path)
    assert info.value.file == "competition.yaml"


def test_yaml_error_has_a_line(tmp_path: Path) -> None:
    (tmp_path / "competition.yaml").write_text("title: ok\nphases:\n  - name: [x\n")
    with pytest.raises(BundleError) as info:
        load_bundle(tmp_path)
    assert info.value.line is not None and info.value.line >= 3


def test_not_a_zip(tmp_path: Path) -> None:
    (tmp_path / "b.zip").write_text("not a zip")
    with pytest.raises(BundleError, match="not a valid zip file"):
        load_bundle(tmp_path / "b.zip")


def test_v2_missing_scoring_program_is_a_problem(tmp_path: Path) -> None:
    shutil.copytree(IRIS, tmp_path / "b")
    shutil.rmtree(tmp_path / "b" / "scoring_program")
    [problem] = load_bundle(tmp_path / "b").problems()
    assert "scoring_program 'scoring_program' is not in the bundle" in problem.message


def test_v2_computed_columns_and_tasks_are_read(tmp_path: Path) -> None:
    """§3.6 computation columns; §5.2 each task of a phase is its own child submission."""
    shutil.copytree(IRIS, tmp_path / "b")
    spec = tmp_path / "b" / "competition.yaml"
    text = spec.read_text().replace("tasks: [0]", "tasks: [0, 1]")
    text = text.replace("solutions: []", "  - index: 1\n    name: second\n    scoring_program: scoring_program\n"
                                         "    reference_data: other_ref\nsolutions: []")
    text += ("      - title: Mean\n        key: mean\n        index: 1\n        computation: avg\n"
             "        computation_indexes: [0]\n")
    spec.write_text(text)
    (tmp_path / "b" / "other_ref").mkdir()
    bundle = load_bundle(tmp_path / "b")
    assert bundle.columns[1].computation == "avg" and bundle.columns[1].computation_indexes == (0,)
    [phase] = bundle.phases
    assert [t["reference_data"] for t in phase.tasks] == ["reference_data", "other_ref"]
    assert bundle.exists("other_ref")  # an empty folder is part of the bundle


# --- fields of the wrong type, tags, digits (issue 9 item 13: each raised something else) -------

@pytest.mark.parametrize(("text", "message"), [
    ("phases: {1: {execution_time_limit: A}}", "phase 1 execution_time_limit is 'A', not an integer"),
    ("phases: {1: {execution_time_limit: .inf}}", "phase 1 execution_time_limit is 'inf', not an integer"),
    ("version: 2\nphases: [{tasks: true}]", "phases[0] tasks is a boolean, not a list"),
    ("version: 2\nleaderboards: {'': null}", "leaderboards is a mapping, not a list"),
    ("version: 2\nleaderboards: 3", "leaderboards is an integer, not a list"),
    ("version: 2\ntasks: [{index: [0]}]", "tasks[0] index is '[0]', not an integer"),
    ("version: 2\nleaderboards: [{columns: [{precision: T}]}]", "leaderboards[0].columns[0] precision is 'T'"),
    ("? [a]\n: 1", "is not valid YAML: found unhashable key"),
    ("a: !custom 1", "is not valid YAML: could not determine a constructor for the tag '!custom'"),
    ("a: !!python/object/apply:os.system ['true']", "!!python/object/apply:os.system would build a Python object"),
    ("a: " + "1" * 4400, "is not valid YAML: a value cannot be built: ValueError: Exceeds the limit (4300 digits)"),
    ("leaderboard: {columns: [1]}", "leaderboard.columns is a list, not a mapping"),
], ids=["time-limit-text", "time-limit-inf", "tasks-bool", "leaderboards-mapping", "leaderboards-int",
        "task-index-list", "precision-text", "unhashable-key", "custom-tag", "python-apply", "4400-digits",
        "v1-columns-list"])
def test_malformed_spec_is_a_bundle_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "competition.yaml").write_text(text)
    with pytest.raises(BundleError) as caught:
        load_bundle(tmp_path)
    assert message in str(caught.value)
    assert caught.value.file == "competition.yaml"


def test_python_plain_data_tags_of_old_dumps_still_load(tmp_path: Path) -> None:
    """§3.1: the v1 site's full_load accepts !!python/unicode; the value is the string."""
    (tmp_path / "competition.yaml").write_text("title: !!python/unicode 'x'\nphases: {1: {phasenumber: 1}}\n")
    assert load_bundle(tmp_path).spec["title"] == "x"
