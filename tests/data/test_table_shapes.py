"""Issue 11 item 12: the table shapes of real bundles that no metric could read before. Files
without a header line (one label per line), whitespace-separated matrices, one-hot rows and
references with missing values are read as declared; a malformed file of each shape is refused
with its line, its column and what was expected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aibench_plugins.core.errors import TableSpecError
from aibench_plugins.data.readers import ReadError, TableSpec, align, read_table


def _read(tmp_path: Path, text: str, name: str = "table.txt", **spec: Any) -> Any:
    (tmp_path / name).write_text(text)
    spec.setdefault("format", "csv")
    spec.setdefault("id", None)
    return read_table(tmp_path, TableSpec(name, **spec))


def _refused(tmp_path: Path, text: str, **spec: Any) -> ReadError:
    with pytest.raises(ReadError) as caught:
        _read(tmp_path, text, **spec)
    return caught.value


# -- files without a header line ---------------------------------------------------------------


def test_one_label_per_line_is_read_with_declared_names(tmp_path: Path) -> None:
    table = _read(tmp_path, "cat\ndog\n\nbird\n", names=["label"], columns=["label"])
    assert table.values.tolist() == ["cat", "dog", "bird"]
    assert table.lines(range(3)) == [1, 2, 4]  # no header: the first row is on line 1, blank lines counted


def test_id_and_label_without_a_header_are_joined_on_ids(tmp_path: Path) -> None:
    predictions = _read(tmp_path, "b,dog\na,cat\n", "p.csv", names=["id", "label"], id="id", columns=["label"])
    references = _read(tmp_path, "a,cat\nb,cat\n", "r.csv", names=["id", "label"], id="id", columns=["label"])
    predicted, expected, report = align(predictions, references)
    assert report.ok and predicted.tolist() == ["cat", "dog"] and expected.tolist() == ["cat", "cat"]


def test_fields_are_named_by_position_when_header_is_false(tmp_path: Path) -> None:
    table = _read(tmp_path, "x1,0.5\nx2,0.25\n", header=False, id="1", columns=["2"])
    assert table.ids.tolist() == ["x1", "x2"] and table.values.tolist() == [0.5, 0.25]


def test_a_line_with_another_number_of_fields_is_named(tmp_path: Path) -> None:
    error = _refused(tmp_path, "a,cat\nb,dog\nc,dog,extra\n", names=["id", "label"], id="id", columns=["label"])
    assert error.line == 3 and "line 3 has 3 fields, line 1 has 2" in str(error)
    short = _refused(tmp_path, "a,cat\nb\nc,dog\n", names=["id", "label"], id="id", columns=["label"])
    assert short.line == 2 and "line 2 has 1 fields, line 1 has 2" in str(short)


def test_names_that_do_not_fit_the_first_line_say_both_counts(tmp_path: Path) -> None:
    error = _refused(tmp_path, "a;cat\n", names=["id", "label"], id="id", columns=["label"])
    assert error.line == 1 and "line 1 has 1 field separated by commas, but 2 are declared (id, label)" in str(error)
    assert "not semicolons" in (error.fix or "")


def test_names_and_header_true_contradict(tmp_path: Path) -> None:
    table = TableSpec("t.csv", id=None, columns=["label"], names=["label"])
    assert table.header is False
    with pytest.raises(TableSpecError, match="distinct non-empty"):
        TableSpec("t.csv", id=None, columns=["a"], names=["a", "a"])


# -- delimiters and whitespace-separated matrices ---------------------------------------------


def test_a_whitespace_matrix_is_read_whatever_the_runs_of_spaces_and_tabs(tmp_path: Path) -> None:
    table = _read(tmp_path, "  0.1 0.9   0.0\n0.7\t0.2 0.1 \n\t0 0 1\n", header=False, delimiter="whitespace",
                  columns="*")
    assert table.columns == ("1", "2", "3")
    np.testing.assert_allclose(table.values, [[0.1, 0.9, 0.0], [0.7, 0.2, 0.1], [0, 0, 1]])


def test_a_ragged_whitespace_matrix_names_the_line_and_both_counts(tmp_path: Path) -> None:
    error = _refused(tmp_path, "0.1 0.9 0.0\n0.7 0.3\n0 0 1\n", header=False, delimiter="whitespace", columns="*")
    assert (error.line, error.kind) == (2, "unreadable")
    assert "line 2 has 2 fields, line 1 has 3" in str(error) and "spaces or tabs" in (error.fix or "")


@pytest.mark.parametrize("delimiter", [";", "|", " ", "\t"], ids=["semicolon", "bar", "space", "tab"])
def test_a_header_file_with_another_delimiter(tmp_path: Path, delimiter: str) -> None:
    text = delimiter.join(["id", "y"]) + "\n" + delimiter.join(["a", "1.5"]) + "\n"
    table = _read(tmp_path, text, id="id", columns=["y"], delimiter=delimiter)
    assert table.ids.tolist() == ["a"] and table.values.tolist() == [1.5]


def test_text_options_on_a_numpy_file_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.zeros(3))
    with pytest.raises(ReadError, match="options of CSV and TSV files \\(delimiter\\)"):
        read_table(tmp_path, TableSpec("v.npy", id=None, columns=["v"], delimiter="whitespace"))


# -- one-hot and argmax rows ------------------------------------------------------------------


def test_one_hot_rows_are_read_as_the_position_of_their_one(tmp_path: Path) -> None:
    table = _read(tmp_path, "0 1 0\n1 0 0\n0 0 1\n0 1 0\n", header=False, delimiter="whitespace", columns="*",
                  read_as="onehot")
    assert table.values.tolist() == [1, 0, 2, 1]
    assert table.frame.shape == (4, 3)  # the columns as read are kept


def test_a_header_one_hot_row_uses_the_order_of_the_declared_columns(tmp_path: Path) -> None:
    table = _read(tmp_path, "id,cat,dog,bird\na,0,0,1\nb,1.0,0.0,0.0\n", id="id", columns=["bird", "cat", "dog"],
                  read_as="onehot")
    assert table.values.tolist() == [0, 1]


@pytest.mark.parametrize(("row", "what"), [
    ("1 0 1", "line 2 has 2 ones (columns '1', '3')"),
    ("0 0 0", "line 2 has no 1"),
    ("0 0.5 0", "line 2, column '2' (field 2) holds 0.5"),
    ("0 x 1", "line 2, column '2' (field 2) holds 'x'"),
], ids=["two-ones", "no-one", "a-fraction", "text"])
def test_a_row_that_is_not_one_hot_is_named(tmp_path: Path, row: str, what: str) -> None:
    error = _refused(tmp_path, f"1 0 0\n{row}\n", header=False, delimiter="whitespace", columns="*", read_as="onehot")
    assert error.line == 2 and what in str(error), str(error)


def test_argmax_rows_give_the_column_of_the_largest_value(tmp_path: Path) -> None:
    table = _read(tmp_path, "0.2 0.7 0.1\n0.5 0.5 0.0\n0.1 0.1 0.8\n", header=False, delimiter="whitespace",
                  columns="*", read_as="argmax")
    assert table.values.tolist() == [1, 0, 2]  # ties: the first


def test_read_as_needs_two_columns() -> None:
    with pytest.raises(TableSpecError, match="two or more columns"):
        TableSpec("t.csv", id=None, columns=["label"], read_as="onehot")


# -- missing values ---------------------------------------------------------------------------


def test_missing_error_names_the_line_and_the_column(tmp_path: Path) -> None:
    error = _refused(tmp_path, "id,y\na,1.5\nb,\nc,2\n", id="id", columns=["y"], missing="error")
    assert error.line == 3 and "line 3, column 'y' (field 2) has no value" in str(error) and error.item == "b"
    assert '"missing": "skip"' in (error.fix or "")


def test_missing_skip_leaves_reference_rows_out_of_the_join_and_counts_them(tmp_path: Path) -> None:
    references = _read(tmp_path, "id,y\na,1.0\nb,NA\nc,3.0\nd,\ne,5.0\n", "r.csv", id="id", columns=["y"],
                       missing="skip")
    assert references.missing_rows.tolist() == [False, True, False, True, False]
    # a prediction for a skipped id is neither required nor unknown
    predictions = _read(tmp_path, "id,y\ne,4.0\nc,3.5\na,2.0\nb,9.0\n", "p.csv", id="id", columns=["y"])
    predicted, expected, report = align(predictions, references)
    assert report.ok and report.n_skipped == 2 and report.skipped.first() == ["b", "d"]
    assert expected.tolist() == [1.0, 3.0, 5.0] and predicted.tolist() == [2.0, 3.5, 4.0]
    reference = np.array([1.0, np.nan, 3.0, np.nan, 5.0])
    guess = np.array([2.0, 9.0, 3.5, np.nan, 4.0])
    assert np.mean(np.abs(predicted - expected)) == pytest.approx(np.nanmean(np.abs(guess - reference)))


def test_missing_skip_with_one_hot_rows_skips_rows_with_an_empty_cell(tmp_path: Path) -> None:
    table = _read(tmp_path, "0 1 0\nNaN NaN NaN\n1 0 0\n", header=False, delimiter="whitespace", columns="*",
                  read_as="onehot", missing="skip")
    assert table.missing_rows.tolist() == [False, True, False] and table.values[[0, 2]].tolist() == [1, 0]


def test_without_missing_values_are_passed_on(tmp_path: Path) -> None:
    table = _read(tmp_path, "id,y\na,\nb,2\n", id="id", columns=["y"])
    assert table.missing_rows is None and np.isnan(table.values[0])
