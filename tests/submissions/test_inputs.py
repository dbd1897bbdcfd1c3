"""The gateway's tables: the hidden inputs read (numbers as numbers, text as text, the organiser's
errors with file and line) and the predictions written for the scoring program."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from aibench_plugins.core.errors import DataError, InvalidValueError, ReadError
from aibench_plugins.submissions.inputs import prediction_columns, read_inputs, write_predictions
from aibench_plugins.submissions.types import TableColumns


def inputs(folder: Path, text: str, name: str = "test.csv") -> Path:
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_numbers_and_text(tmp_path: Path) -> None:
    table = read_inputs(inputs(tmp_path, "id,x,note,y\na,1,hello,2.5\nb,-3e2,\"a, b\",0\n"), TableColumns("test.csv"))
    assert table.ids == ("a", "b")
    assert table.columns == ("x", "note", "y")
    assert table.rows == [[1.0, "hello", 2.5], [-300.0, "a, b", 0.0]]
    assert all(type(v) is float for v in (table.rows[0][0], table.rows[1][2]))


def test_the_declared_columns_in_their_order(tmp_path: Path) -> None:
    table = read_inputs(inputs(tmp_path, "\ufeffx,key,y,label\n1,k1,2,cat\n"), TableColumns("test.csv", id="key",
                                                                                         columns=("y", "x")))
    assert (table.ids, table.columns, table.rows) == (("k1",), ("y", "x"), [[2.0, 1.0]])


def test_no_rows_and_no_columns(tmp_path: Path) -> None:
    assert read_inputs(inputs(tmp_path, "id,x\n"), TableColumns("test.csv")).rows == []
    only_ids = read_inputs(inputs(tmp_path, "id\na\nb\n"), TableColumns("test.csv"))
    assert (only_ids.columns, only_ids.rows) == ((), [[], []])


@pytest.mark.parametrize(("text", "kind", "line", "message"), [
    ("", "unreadable", 1, "empty"),
    ("id,x\na,1\n", "missing_column", 1, "missing column 'z'"),
    ("id,x,z,x\na,1,2,3\n", "invalid", 1, "repeats 'x'"),
    ("id,x,z\na,1,2\nb,1\n", "unreadable", 3, "2 fields"),
    ("id,x,z\na,1,2\na,3,4\n", "invalid", 3, "'a' appears twice"),
    ("id,x,z\n,1,2\n", "invalid", 2, "is empty"),
    ("id,x,z\na,1,2\nb,,4\n", "invalid", 3, "empty cell"),
    ("id,x,z\na,1,nan\n", "invalid", 2, "'nan', which JSON cannot carry"),
    ("id,x,z\na,1,\"2\n", "unreadable", None, "not CSV"),
], ids=["empty", "missing-column", "repeated-header", "ragged", "repeated-id", "empty-id", "empty-number", "nan",
        "open-quote"])
def test_refused_with_file_and_line(tmp_path: Path, text: str, kind: str, line: int | None, message: str) -> None:
    with pytest.raises(ReadError) as error:
        read_inputs(inputs(tmp_path, text), TableColumns("test.csv", columns=("x", "z")))
    assert (error.value.file, error.value.kind, error.value.line) == ("test.csv", kind, line)
    assert message in error.value.message and "Organiser" in str(error.value)


def test_a_missing_file_or_no_input_data(tmp_path: Path) -> None:
    inputs(tmp_path, "id\n", "other.csv")
    with pytest.raises(ReadError) as error:
        read_inputs(tmp_path, TableColumns("test.csv"))
    assert error.value.kind == "missing_file" and "other.csv" in str(error.value)
    with pytest.raises(DataError, match="no input data"):
        read_inputs(None, TableColumns("test.csv"))


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "test.csv").write_bytes(b"id,x\n\xff,1\n")
    with pytest.raises(ReadError, match="not UTF-8"):
        read_inputs(tmp_path, TableColumns("test.csv"))


def test_predictions_written_for_the_scoring_program(tmp_path: Path) -> None:
    spec = TableColumns("res/predictions.csv", id="key", columns=("label", "score"))
    path = write_predictions(tmp_path, spec, ["a", "b,c"], [("cat", 0.25), (1, True)])
    assert path == tmp_path / "res" / "predictions.csv"
    with path.open(newline="") as handle:
        assert list(csv.reader(handle)) == [["key", "label", "score"], ["a", "cat", "0.25"], ["b,c", "1", "true"]]


def test_one_prediction_column_by_default(tmp_path: Path) -> None:
    spec = TableColumns("p.csv")
    assert prediction_columns(spec) == ("prediction",)
    assert write_predictions(tmp_path, spec, ["x"], [(2.0,)]).read_text() == "id,prediction\nx,2.0\n"


def test_a_callers_mismatch_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match="2 rows for 1 ids"):
        write_predictions(tmp_path, TableColumns("p.csv"), ["a"], [(1,), (2,)])
    with pytest.raises(InvalidValueError, match="2 values for id 'a'"):
        write_predictions(tmp_path, TableColumns("p.csv"), ["a"], [(1, 2)])
