"""The built-in submission checks on file contents: each fires on a planted mistake with a
message naming the file, the line or id, and the fix; a good submission passes them all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import numpy as np
import pytest

from aibench_plugins import Kind, PluginHost
from aibench_plugins.default_plugins import submission_checks

CHECKS = ["aibench.table_schema", "aibench.ids", "aibench.finite", "aibench.value_range", "aibench.label_set",
          "aibench.probabilities"]
PROBABILITIES = ["p_cat", "p_dog", "p_bird"]

GOOD = """id,label,p_cat,p_dog,p_bird,score
a,cat,0.8,0.1,0.1,3
b,dog,0.2,0.7,0.1,-2
c,bird,0.0,0.0,1.0,0
d,cat,0.5,0.25,0.25,10
"""
TRUTH = "id,label\na,cat\nb,dog\nc,bird\nd,cat\n"

# every check with params that fit GOOD
PARAMS: dict[str, dict[str, Any]] = {
    "aibench.table_schema": {"columns": {"label": "str", "p_cat": "float", "p_dog": "float", "p_bird": "float",
                                         "score": "int"}, "allow_extra_columns": False},
    "aibench.ids": {"reference_file": "truth.csv"},
    "aibench.finite": {"columns": PROBABILITIES + ["score"]},
    "aibench.value_range": {"columns": {"score": {"min": -10, "max": 10}, "p_cat": {"min": 0}}},
    "aibench.label_set": {"column": "label", "labels": ["cat", "dog", "bird"]},
    "aibench.probabilities": {"columns": PROBABILITIES},
}


@pytest.fixture(scope="module")
def host() -> PluginHost:
    h = PluginHost(strict=True)
    h.register_plugin(submission_checks, "aibench.submission_checks")
    return h


def run(host: PluginHost, id: str, submission: Path, *, file: str = "predictions.csv", row_id: str | None = "id",
        reference: Path | None = None, **params: Any) -> list[str]:
    component = host.registry(Kind.CHECK).get(id).component
    merged = {"file": file, "id": row_id, **PARAMS[id], **params}
    jsonschema_rs.validator_for(dict(component.info.params_schema)).validate(merged)
    extra = {"reference": reference} if id == "aibench.ids" else {}
    return [str(p) for p in component.run(submission, **merged, **extra)]


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    submission, reference = tmp_path / "res", tmp_path / "ref"
    submission.mkdir()
    reference.mkdir()
    (reference / "truth.csv").write_text(TRUTH)
    return submission, reference


def test_formats_match_the_readers() -> None:
    from aibench_plugins.data.readers import FORMATS

    assert submission_checks._FORMATS == FORMATS


def test_registered_with_valid_schemas(host: PluginHost) -> None:
    registry = host.registry(Kind.CHECK)
    assert sorted(registry.ids()) == sorted(CHECKS)
    assert host.records["aibench.submission_checks"].provides == {"check": sorted(CHECKS)}
    for id in CHECKS:
        info = registry.get(id).component.info
        assert info.description and info.params_schema["additionalProperties"] is False
        validator = jsonschema_rs.validator_for(dict(info.params_schema))
        assert validator.is_valid({"file": "p.csv", "id": "id", **PARAMS[id]})
        assert not validator.is_valid({"file": "p.csv", "id": "id", **PARAMS[id], "colums": []})  # a typo
        assert not validator.is_valid({"file": "p.csv", **PARAMS[id]})  # id must be explicit, null included


@pytest.mark.parametrize("id", CHECKS)
def test_good_submission_passes(host: PluginHost, folders: tuple[Path, Path], id: str) -> None:
    submission, reference = folders
    (submission / "predictions.csv").write_text(GOOD)
    assert run(host, id, submission, reference=reference) == []


@pytest.mark.parametrize("id", CHECKS)
def test_good_json_submission_passes(host: PluginHost, folders: tuple[Path, Path], id: str) -> None:
    submission, reference = folders
    rows = [dict(zip(GOOD.splitlines()[0].split(","), line.split(","))) for line in GOOD.splitlines()[1:]]
    records = [{k: (v if k in ("id", "label") else json.loads(v)) for k, v in row.items()} for row in rows]
    (submission / "predictions.json").write_text(json.dumps(records))
    assert run(host, id, submission, file="predictions.json", reference=reference) == []


def test_table_schema(host: PluginHost, folders: tuple[Path, Path]) -> None:
    submission, _ = folders
    (submission / "predictions.csv").write_text(
        "id,lable,p_cat,p_dog,p_bird,score,notes\n"
        "a,cat,0.8,0.1,0.1,3,x\n"
        "b,dog,high,0.7,0.1,2.5,x\n"
        "c,bird,,0.2,,,x\n")
    assert run(host, "aibench.table_schema", submission) == [
        "predictions.csv:1: no column 'label' (found columns: 'id', 'lable', 'p_cat', 'p_dog', 'p_bird', 'score', "
        "'notes') Fix: column 'lable' looks misspelt: did you mean 'label'? Rename it [aibench.table_schema]",
        "predictions.csv:1: unexpected column 'lable' Fix: remove it; the file may only hold the columns id, label, "
        "p_cat, p_dog, p_bird, score [aibench.table_schema]",
        "predictions.csv:1: unexpected column 'notes' Fix: remove it; the file may only hold the columns id, label, "
        "p_cat, p_dog, p_bird, score [aibench.table_schema]",
        "predictions.csv:3: column 'p_cat' holds 'high', not a float (id 'b') Fix: write a number such as 0.25 in "
        "column 'p_cat' [aibench.table_schema]",
        "predictions.csv:3: column 'score' holds 2.5, not an int (id 'b') Fix: write a whole number such as 3 in "
        "column 'score' [aibench.table_schema]",
        "predictions.csv:4: column 'score' is empty (id 'c') Fix: write a whole number such as 3 in column 'score' "
        "[aibench.table_schema]",
    ]


def test_table_schema_types_in_json(host: PluginHost, folders: tuple[Path, Path]) -> None:
    submission, _ = folders
    (submission / "p.json").write_text(json.dumps([
        {"id": "a", "label": 3, "p_cat": "0.5", "p_dog": 0.5, "p_bird": 0, "score": True},
    ]))
    assert run(host, "aibench.table_schema", submission, file="p.json") == [
        "p.json: column 'label' holds 3, not a str (id 'a') Fix: write a non-empty value in column 'label' "
        "[aibench.table_schema]",
        "p.json: column 'p_cat' holds '0.5', not a float (id 'a') Fix: write a number such as 0.25 in column 'p_cat' "
        "[aibench.table_schema]",
        "p.json: column 'score' holds True, not an int (id 'a') Fix: write a whole number such as 3 in column 'score' "
        "[aibench.table_schema]",
    ]


def test_table_schema_bool_and_missing_file(host: PluginHost, folders: tuple[Path, Path]) -> None:
    submission, _ = folders
    (submission / "flags.csv").write_text("id,flag\na,true\nb,0\nc,maybe\n")
    assert run(host, "aibench.table_schema", submission, file="flags.csv", columns={"flag": "bool"}) == [
        "flags.csv:4: column 'flag' holds 'maybe', not a bool (id 'c') Fix: write true or false in column 'flag' "
        "[aibench.table_schema]",
    ]
    assert run(host, "aibench.table_schema", submission, file="predictions.csv", columns={"flag": "bool"}) == [
        "predictions.csv: no file matches 'predictions.csv'; the submission's only CSV file is 'flags.csv' Fix: if "
        "the competition asks for 'predictions.csv', rename 'flags.csv' to 'predictions.csv'; if the scoring program "
        "reads 'flags.csv', the bundle's aibench.json names the wrong file (the organiser's to fix) "
        "[aibench.table_schema]",
    ]


def test_ids(host: PluginHost, folders: tuple[Path, Path]) -> None:
    submission, reference = folders
    (submission / "predictions.csv").write_text("id,label\na,cat\nb,dog\nzz,cat\nb,cat\n,dog\n")
    assert run(host, "aibench.ids", submission, reference=reference) == [
        "predictions.csv: 2 of the 4 ids of the reference data have no prediction: 'c', 'd' Fix: add one row for "
        "each of them: every id of the reference data needs a prediction [aibench.ids]",
        "predictions.csv:4: id not in the reference data (id 'zz') Fix: remove this row: predict only the ids of the "
        "reference data [aibench.ids]",
        "predictions.csv:5: repeats an id first seen on line 3 (id 'b') Fix: keep one row per id: delete this row or "
        "the earlier one [aibench.ids]",
        "predictions.csv:6: the id is empty (column 'id') Fix: write the id of the example this row predicts "
        "[aibench.ids]",
    ]


def test_ids_that_match_nothing_say_so(host: PluginHost, folders: tuple[Path, Path]) -> None:
    submission, reference = folders
    (submission / "predictions.csv").write_text("id,label\nA.png,cat\nB.png,dog\nC.png,bird\nD.png,cat\n")
    [missing, *unknown, more] = run(host, "aibench.ids", submission, reference=reference, max_problems=3)
    assert missing == (
        "predictions.csv: 4 of the 4 ids of the reference data have no prediction: 'a', 'b', 'c', 'd' Fix: add one "
        "row for each of them: every id of the reference data needs a prediction; no id matches at all: the "
        "reference ids look like 'a', 'b', 'c', 'd', the ids of column 'id' like 'A.png', 'B.png', 'C.png' "
        "[aibench.ids]")
    assert len(unknown) == 2 and more == (
        "predictions.csv: ... and 2 more Fix: only the first 3 problems are listed (max_problems); fix them and "
        "submit again [aibench.ids]")


def test_ids_in_row_order_compare_counts(host: PluginHost, folders: tuple[Path, Path]) -> None:
    submission, reference = folders
    np.save(submission / "predictions.npy", np.array([1, 2, 3]))
    assert run(host, "aibench.ids", submission, file="predictions.npy", row_id=None, reference_id=None,
               reference=reference) == [
        "predictions.npy: has 3 rows, the reference data has 4 Fix: write one row per example of the reference data "
        "(4 rows), in its order [aibench.ids]",
    ]


def test_ids_need_the_reference_folder(host: PluginHost, folders: tuple[Path, Path]) -> None:
    submission, _ = folders
    (submission / "predictions.csv").write_text(GOOD)
    component = host.registry(Kind.CHECK).get("aibench.ids").component
    with pytest.raises(ValueError, match="the runner must pass the reference data folder as reference="):
        component.run(submission, file="predictions.csv", id="id", reference_file="truth.csv")


def test_finite(host: PluginHost, folders: tuple[Path, Path]) -> None:
    submission, _ = folders
    (submission / "predictions.csv").write_text(
        "id,label,p_cat,p_dog,p_bird,score\na,cat,nan,0.1,0.1,inf\nb,dog,0.2,,0.1,-inf\nc,bird,0.1,0.1,oops,1\n")
    fix = "(replace NaN and infinity, e.g. by a clipped value) [aibench.finite]"
    assert run(host, "aibench.finite", submission) == [
        f"predictions.csv:2: column 'p_cat' is empty or NaN (id 'a') Fix: write a finite number in column 'p_cat' "
        f"{fix}",
        f"predictions.csv:2: column 'score' is inf (id 'a') Fix: write a finite number in column 'score' {fix}",
        f"predictions.csv:3: column 'p_dog' is empty or NaN (id 'b') Fix: write a finite number in column 'p_dog' "
        f"{fix}",
        f"predictions.csv:3: column 'score' is -inf (id 'b') Fix: write a finite number in column 'score' {fix}",
        f"predictions.csv:4: column 'p_bird' holds 'oops', not a number (id 'c') Fix: write a finite number in column "
        f"'p_bird' {fix}",
    ]


def test_value_range(host: PluginHost, folders: tuple[Path, Path]) -> None:
    submission, _ = folders
    (submission / "predictions.csv").write_text(
        "id,label,p_cat,p_dog,p_bird,score\na,cat,-0.5,0.1,0.1,11\nb,dog,0.2,0.7,0.1,-12\nc,bird,0,0,1,10\n")
    assert run(host, "aibench.value_range", submission) == [
        "predictions.csv:2: column 'score' is 11, above the maximum 10 (id 'a') Fix: keep column 'score' between -10 "
        "and 10 [aibench.value_range]",
        "predictions.csv:2: column 'p_cat' is -0.5, below the minimum 0 (id 'a') Fix: keep column 'p_cat' at or above "
        "0 [aibench.value_range]",
        "predictions.csv:3: column 'score' is -12, below the minimum -10 (id 'b') Fix: keep column 'score' between -10 "
        "and 10 [aibench.value_range]",
    ]


def test_label_set(host: PluginHost, folders: tuple[Path, Path]) -> None:
    submission, _ = folders
    (submission / "predictions.csv").write_text("id,label\na,cat\nb,dgo\nc,\nd,Bird\ne,fish\n")
    allowed = "use one of the allowed labels: 'cat', 'dog', 'bird' [aibench.label_set]"
    assert run(host, "aibench.label_set", submission) == [
        f"predictions.csv:3: label 'dgo' is not an allowed label (id 'b') Fix: did you mean 'dog'? Otherwise {allowed}",
        f"predictions.csv:4: column 'label' is empty (id 'c') Fix: {allowed}",
        f"predictions.csv:5: label 'Bird' is not an allowed label (id 'd') Fix: did you mean 'bird'? Otherwise "
        f"{allowed}",
        f"predictions.csv:6: label 'fish' is not an allowed label (id 'e') Fix: {allowed}",
    ]


def test_label_set_integer_labels(host: PluginHost, folders: tuple[Path, Path]) -> None:
    submission, _ = folders
    (submission / "p.csv").write_text("id,label\na,1\nb,01\nc,2\n")
    np.savez(submission / "p.npz", ids=np.array(["a", "b"]), values=np.array([1.0, 3.0]))
    assert run(host, "aibench.label_set", submission, file="p.csv", labels=[0, 1, 2]) == [  # compared as written
        "p.csv:3: label '01' is not an allowed label (id 'b') Fix: did you mean '1'? Otherwise use one of the allowed "
        "labels: '0', '1', '2' [aibench.label_set]",
    ]
    assert run(host, "aibench.label_set", submission, file="p.csv", labels=[0, 1, 2, "01"]) == []
    assert run(host, "aibench.label_set", submission, file="p.npz", labels=[0, 1]) == [
        "p.npz: label '3' is not an allowed label (id 'b') Fix: use one of the allowed labels: '0', '1' "
        "[aibench.label_set]",
    ]


def test_label_set_needs_labels(host: PluginHost, folders: tuple[Path, Path]) -> None:
    submission, _ = folders
    (submission / "predictions.csv").write_text(GOOD)
    component = host.registry(Kind.CHECK).get("aibench.label_set").component
    with pytest.raises(ValueError, match="give params.labels, or concepts in the manifest"):
        component.run(submission, file="predictions.csv", id="id", column="label")


def test_probabilities(host: PluginHost, folders: tuple[Path, Path]) -> None:
    submission, _ = folders
    (submission / "predictions.csv").write_text(
        "id,label,p_cat,p_dog,p_bird,score\n"
        "a,cat,0.5,0.3,0.1,0\n"       # sums to 0.9
        "b,dog,1.2,-0.1,-0.1,0\n"     # outside [0, 1]
        "c,bird,0.3333,0.3333,0.3334,0\n"  # fine
        "d,cat,0.5,,0.5,0\n")         # empty
    softmax = "write probabilities between 0 and 1 (apply a softmax to scores) [aibench.probabilities]"
    assert run(host, "aibench.probabilities", submission) == [
        "predictions.csv:2: the probabilities sum to 0.9, not 1 (tolerance 0.001) (id 'a') Fix: divide p_cat, p_dog, "
        "p_bird by their sum on each row [aibench.probabilities]",
        f"predictions.csv:3: column 'p_cat' is 1.2, outside [0, 1] (id 'b') Fix: {softmax}",
        f"predictions.csv:5: column 'p_dog' is empty or NaN (id 'd') Fix: {softmax}",
    ]
    assert len(run(host, "aibench.probabilities", submission, tolerance=0.2)) == 2


def test_probabilities_numpy_rows(host: PluginHost, folders: tuple[Path, Path]) -> None:
    submission, _ = folders
    np.save(submission / "p.npy", np.array([[0.2, 0.8, 0.0], [0.2, 0.2, 0.2]]))
    assert run(host, "aibench.probabilities", submission, file="p.npy", row_id=None) == [
        "p.npy: the probabilities sum to 0.6, not 1 (tolerance 0.001) (row 2) Fix: divide p_cat, p_dog, p_bird by "
        "their sum on each row [aibench.probabilities]",
    ]


def test_problems_are_capped(host: PluginHost, folders: tuple[Path, Path]) -> None:
    submission, _ = folders
    rows = "".join(f"r{i},cat,0.5,0.5,0.5,0\n" for i in range(1000))
    (submission / "predictions.csv").write_text("id,label,p_cat,p_dog,p_bird,score\n" + rows)
    problems = run(host, "aibench.probabilities", submission)
    assert len(problems) == 21 and problems[0].startswith("predictions.csv:2: the probabilities sum to 1.5")
    assert problems[19].startswith("predictions.csv:21:")
    assert problems[20] == ("predictions.csv: ... and 980 more Fix: only the first 20 problems are listed "
                            "(max_problems); fix them and submit again [aibench.probabilities]")
    capped = run(host, "aibench.probabilities", submission, file="*.csv", max_problems=5)
    assert len(capped) == 6 and capped[5].startswith("predictions.csv: ... and 995 more")


def test_missing_columns_each_with_did_you_mean(host: PluginHost, folders: tuple[Path, Path]) -> None:
    submission, _ = folders
    (submission / "predictions.csv").write_text("id,P_cat,pdog,p_bird\na,0.5,0.5,0\n")
    assert run(host, "aibench.probabilities", submission) == [
        "predictions.csv:1: no column 'p_cat' (found columns: 'id', 'P_cat', 'pdog', 'p_bird') Fix: column 'P_cat' "
        "looks misspelt: did you mean 'p_cat'? Rename it [aibench.probabilities]",
        "predictions.csv:1: no column 'p_dog' (found columns: 'id', 'P_cat', 'pdog', 'p_bird') Fix: column 'pdog' "
        "looks misspelt: did you mean 'p_dog'? Rename it [aibench.probabilities]",
    ]


def test_unreadable_line(host: PluginHost, folders: tuple[Path, Path]) -> None:
    submission, _ = folders
    (submission / "predictions.csv").write_text("id,label\na,cat\nb,dog,cat\n")
    assert run(host, "aibench.label_set", submission) == [
        "predictions.csv:3: line 3 has 3 fields, the header has 2 Fix: give every line the 2 fields of the header "
        "(id,label); quote values that contain a comma [aibench.label_set]",
    ]


def test_large_files_are_not_read(host: PluginHost, folders: tuple[Path, Path]) -> None:
    """A 1 GiB submission: aibench.size_limit refuses it from metadata; the content checks do
    not read it (a sparse file: reading it would take seconds and 1 GiB of memory)."""
    submission, reference = folders
    with (submission / "predictions.csv").open("wb") as handle:
        handle.truncate(1024**3)
    host_with_files = PluginHost(strict=True)
    host_with_files.load_builtins()
    size_limit = host_with_files.registry(Kind.CHECK).get("aibench.size_limit").component
    [refused] = size_limit.run(submission, max_file_mb=100)
    assert str(refused) == ("predictions.csv: file is 1024.0 MiB, over the 100 MiB limit Fix: reduce it (fewer "
                            "digits, compression the scoring program accepts) [aibench.size_limit]")
    for id in CHECKS:
        [problem] = run(host, id, submission, reference=reference)
        assert problem == (f"predictions.csv: file is 1024.0 MiB, over the 500 MiB this check reads (max_read_mb), "
                           f"so it was not checked Fix: make it smaller than 500 MiB (fewer decimal digits, only the "
                           f"needed columns); organisers can raise max_read_mb [{id}]")
    [problem] = run(host, "aibench.finite", submission, max_read_mb=2000.5)  # under the limit: read its first line
    assert problem == ("predictions.csv:1: line 1 is longer than 1 MiB; it must be a header line naming the columns "
                       "Fix: write the column names on line 1, separated by commas [aibench.finite]")
