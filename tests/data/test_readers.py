"""Reading predictions and references (CSV, TSV, JSON, JSONL, NumPy) and joining them on ids."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aibench_plugins.data import readers as _readers
from aibench_plugins.data import tables as _tables
from aibench_plugins.data.readers import ReadError, TableSpec, align, read_table


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(params=["pyarrow", "c"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every CSV and align test runs with pyarrow and with the fallbacks (C engine, pandas factorize)."""
    if request.param == "pyarrow":
        assert _tables.has_pyarrow(), "pyarrow is a dependency of aibench-plugins: reinstall the package"
    else:
        monkeypatch.setattr(_tables, "has_pyarrow", lambda: False)
    return str(request.param)


# -- TableSpec ---------------------------------------------------------------------------------


def test_spec_needs_an_explicit_id() -> None:
    with pytest.raises(TypeError, match="id"):
        TableSpec("predictions.csv", columns=["label"])  # type: ignore[call-arg]
    assert TableSpec("predictions.csv", id=None, columns="label").columns == ("label",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"format": "xlsx"}, "format must be one of csv, tsv, json, jsonl, npy, npz"),
     ({"columns": ["a", "a"]}, "distinct"),
     ({"columns": ["id"]}, "cannot also be a value column"),
     ({"dtypes": {"b": "int"}}, "not a declared column"),
     ({"dtypes": {"a": "integer"}}, "must be one of int, float, str, bool")],
)
def test_spec_is_validated(kwargs: dict, message: str) -> None:
    arguments = {"id": "id", "columns": ["a"], **kwargs}
    with pytest.raises(ValueError, match=message):
        TableSpec("p.csv", **arguments)


# -- CSV, TSV ----------------------------------------------------------------------------------


def test_csv_reads_only_the_needed_columns(tmp_path: Path, engine: str) -> None:
    write(tmp_path, "predictions.csv", "id,extra,label\n007,x,cat\n8,y,dog\n")
    table = read_table(tmp_path, TableSpec("predictions.csv", id="id", columns=["label"], dtypes={"id": "str"}))
    assert list(table.frame.columns) == ["id", "label"]
    assert table.ids.tolist() == ["007", "8"]  # kept as text: the leading zeros survive
    assert table.values.tolist() == ["cat", "dog"]
    assert table.columns == ("label",) and table.header == ("id", "extra", "label")
    assert table.lines([0, 1]) == [2, 3] and table.format == "csv"


def test_csv_several_columns_make_a_matrix(tmp_path: Path, engine: str) -> None:
    write(tmp_path, "p.csv", "\ufeffid,p_a,p_b\n1,0.25,0.75\n2,1,0\n")  # with a byte-order mark
    table = read_table(tmp_path, TableSpec("p.csv", id="id", columns=["p_a", "p_b"]))
    assert table.values.shape == (2, 2) and table.values.dtype == np.float64
    assert table.values.tolist() == [[0.25, 0.75], [1.0, 0.0]] and table.ids.tolist() == [1, 2]


def test_tsv_and_format_from_extension(tmp_path: Path, engine: str) -> None:
    write(tmp_path, "predictions.tsv", "id\tlabel\na\t1\nb\t2\n")
    table = read_table(tmp_path, TableSpec("predictions.tsv", id="id", columns=["label"]))
    assert table.format == "tsv" and table.values.tolist() == [1, 2]
    write(tmp_path, "sub/predictions.txt", "id\tlabel\nc\t3\n")
    table = read_table(tmp_path, TableSpec("sub/*.txt", id="id", columns=["label"], format="tsv"))
    assert table.file == "sub/predictions.txt" and table.ids.tolist() == ["c"]


def test_row_order_when_declared(tmp_path: Path, engine: str) -> None:
    write(tmp_path, "p.csv", "label\n3\n4\n")
    table = read_table(tmp_path, TableSpec("p.csv", id=None, columns=["label"]))
    assert table.ids.tolist() == [0, 1] and table.values.tolist() == [3, 4] and table.item(0) is None


def test_lines_count_blank_and_multiline_rows(tmp_path: Path, engine: str) -> None:
    write(tmp_path, "p.csv", 'id,label\na,x\n\nb,"two\nlines"\nc,z\n\n\n')
    table = read_table(tmp_path, TableSpec("p.csv", id="id", columns=["label"]))
    assert table.ids.tolist() == ["a", "b", "c"]
    assert table.lines([0, 1, 2]) == [2, 4, 6]


def test_dtypes_convert_and_name_the_bad_line(tmp_path: Path, engine: str) -> None:
    write(tmp_path, "p.csv", "id,label,score,flag\na,1,0.5,true\nb,2,1,false\n")
    spec = TableSpec("p.csv", id="id", columns=["label", "score", "flag"],
                     dtypes={"label": "str", "score": "float", "flag": "bool"})
    table = read_table(tmp_path, spec)
    assert table.column("label").tolist() == ["1", "2"]
    assert table.column("score").dtype == np.float64 and table.column("flag").tolist() == [True, False]
    write(tmp_path, "p.csv", "id,label\na,1\nb,x\n")
    with pytest.raises(ReadError) as caught:
        read_table(tmp_path, TableSpec("p.csv", id="id", columns=["label"], dtypes={"label": "int"}))
    assert str(caught.value) == ("p.csv:3: column 'label' holds 'x', not an int (id 'b') "
                                 "Fix: write a whole number such as 3 in column 'label'")


# -- errors ------------------------------------------------------------------------------------


def test_missing_file_lists_what_is_there(tmp_path: Path) -> None:
    write(tmp_path, "prediction.csv", "id,label\n")
    write(tmp_path, "notes.txt", "")
    with pytest.raises(ReadError) as caught:
        read_table(tmp_path, TableSpec("predictions.csv", id="id", columns=["label"]))
    assert caught.value.kind == "missing_file"
    assert str(caught.value) == (
        "predictions.csv: no file matches 'predictions.csv' (found: notes.txt, prediction.csv) Fix: file "
        "'prediction.csv' looks misnamed: did you mean 'predictions.csv'? Rename it")
    with pytest.raises(ReadError, match=r"no file matches 'scores\.csv' \(found: notes\.txt, prediction\.csv\) "
                                        r"Fix: add a file named 'scores\.csv'$"):
        read_table(tmp_path, TableSpec("scores.csv", id="id"))


def test_several_files_match(tmp_path: Path) -> None:
    write(tmp_path, "a.csv", "id\n")
    write(tmp_path, "b.csv", "id\n")
    with pytest.raises(ReadError, match=r"2 files match '\*\.csv': a\.csv, b\.csv Fix: keep only one of them"):
        read_table(tmp_path, TableSpec("*.csv", id="id"))


def test_missing_column_did_you_mean(tmp_path: Path, engine: str) -> None:
    write(tmp_path, "p.csv", "id,lable,score\na,cat,1\n")
    with pytest.raises(ReadError) as caught:
        read_table(tmp_path, TableSpec("p.csv", id="id", columns=["label", "p_cat"]))
    error = caught.value
    assert str(error) == ("p.csv:1: no columns 'label', 'p_cat' (found columns: 'id', 'lable', 'score') "
                          "Fix: column 'lable' looks misspelt: did you mean 'label'? Rename it; add a column 'p_cat'")
    assert error.missing_columns == ("label", "p_cat") and error.found_columns == ("id", "lable", "score")
    assert error.column_fixes == ("column 'lable' looks misspelt: did you mean 'label'? Rename it",
                                  "add a column 'p_cat'")


def test_wrong_separator_is_named(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", "id;label\na;cat\n")
    with pytest.raises(ReadError, match=r"p\.csv:1: no columns 'id', 'label' \(found columns: 'id;label'\) Fix: "
                                        r"the header has one column 'id;label': separate the columns by commas, "
                                        r"not ';'"):
        read_table(tmp_path, TableSpec("p.csv", id="id", columns=["label"]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("id,label\na,1\nb,2,3\nc,4\n", "p.csv:3: line 3 has 3 fields, the header has 2 Fix: give every line the 2 "
                                     "fields of the header (id,label); quote values that contain a comma"),
     ("", "p.csv: file is empty; it must start with a header line naming the columns Fix: write the column names "
          "on line 1, separated by commas")],
    ids=["extra-field", "empty"],
)
def test_unreadable_csv_names_the_line(tmp_path: Path, engine: str, text: str, expected: str) -> None:
    write(tmp_path, "p.csv", text)
    with pytest.raises(ReadError) as caught:
        read_table(tmp_path, TableSpec("p.csv", id="id", columns=["label"]))
    assert str(caught.value) == expected and caught.value.kind == "unreadable"


def test_invalid_utf8_names_the_line(tmp_path: Path, engine: str) -> None:
    (tmp_path / "p.csv").write_bytes(b"id,label\na,cat\nb,\xff\xfe\n")
    with pytest.raises(ReadError, match=r"^p\.csv:3: line 3 is not valid UTF-8 \(byte 3\)"):
        read_table(tmp_path, TableSpec("p.csv", id="id", columns=["label"]))


def test_unknown_extension_and_size_limit(tmp_path: Path) -> None:
    write(tmp_path, "p.xlsx", "")
    with pytest.raises(ReadError, match=r"cannot tell the format from the extension '\.xlsx'"):
        read_table(tmp_path, TableSpec("p.xlsx", id="id"))
    with (tmp_path / "big.csv").open("wb") as handle:
        handle.truncate(3 * 1024 * 1024)
    with pytest.raises(ReadError) as caught:
        read_table(tmp_path, TableSpec("big.csv", id="id"), max_bytes=1024 * 1024)
    assert caught.value.kind == "too_large" and caught.value.size == 3 * 1024 * 1024
    assert "file is 3.0 MiB, over the 1 MiB read limit; it was not read" in str(caught.value)


def test_link_outside_the_folder_is_not_read(tmp_path: Path) -> None:
    outside = write(tmp_path, "secret.csv", "id,label\na,1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "p.csv").symlink_to(outside)
    with pytest.raises(ReadError, match="is a link to a file outside the folder"):
        read_table(tmp_path / "sub", TableSpec("p.csv", id="id", columns=["label"]))


# -- JSON, JSONL -------------------------------------------------------------------------------


def test_json_records(tmp_path: Path) -> None:
    write(tmp_path, "p.json", json.dumps([{"id": "a", "label": "cat", "x": 1}, {"id": "b", "label": "dog", "x": 2}]))
    table = read_table(tmp_path, TableSpec("p.json", id="id", columns=["label"]))
    assert table.ids.tolist() == ["a", "b"] and table.values.tolist() == ["cat", "dog"]
    assert table.header == ("id", "label", "x") and table.line(0) is None and table.item(1) == "b"


@pytest.mark.parametrize(
    ("document", "columns", "values"),
    [({"a": "cat", "b": "dog"}, ["label"], ["cat", "dog"]),
     ({"a": [0.2, 0.8], "b": [1, 0]}, ["p_cat", "p_dog"], [[0.2, 0.8], [1.0, 0.0]]),
     ({"a": {"p_cat": 0.2, "p_dog": 0.8}, "b": {"p_cat": 1, "p_dog": 0}}, ["p_cat", "p_dog"],
      [[0.2, 0.8], [1.0, 0.0]])],
    ids=["scalars", "lists", "objects"],
)
def test_json_mapping_id_to_value(tmp_path: Path, document: dict, columns: list[str], values: list) -> None:
    write(tmp_path, "p.json", json.dumps(document))
    table = read_table(tmp_path, TableSpec("p.json", id="id", columns=columns))
    assert table.ids.tolist() == ["a", "b"] and table.values.tolist() == values


@pytest.mark.parametrize(
    ("text", "expected"),
    [('[{"id": "a"}, 3]', "p.json: record 1 is a number, not an object"),
     ('{"a": [1, 2], "b": [1]}', "p.json: the list of id 'b' has 1 values, 2 are declared (p_a, p_b) (id 'b')"),
     ('[{"id": "a",}]', "p.json:1: is not valid JSON: Expecting property name enclosed in double quotes "
                        "(line 1, column 13)"),
     ('"cat"', "p.json: holds a string; expected a list of records or an object mapping ids to values")],
    ids=["record", "list-length", "syntax", "top-level"],
)
def test_json_errors(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, "p.json", text)
    with pytest.raises(ReadError) as caught:
        read_table(tmp_path, TableSpec("p.json", id="id", columns=["p_a", "p_b"]))
    assert str(caught.value).startswith(expected)


def test_json_missing_column_did_you_mean(tmp_path: Path) -> None:
    write(tmp_path, "p.json", '[{"ID": "a", "label": "cat"}]')
    with pytest.raises(ReadError, match=r"p\.json: no column 'id' \(found columns: 'ID', 'label'\) Fix: column 'ID' "
                                        r"looks misspelt: did you mean 'id'\? Rename it"):
        read_table(tmp_path, TableSpec("p.json", id="id", columns=["label"]))


def test_jsonl_lines(tmp_path: Path) -> None:
    write(tmp_path, "p.jsonl", '{"id": 1, "label": "cat"}\n\n{"id": 2, "label": "dog"}\n')
    table = read_table(tmp_path, TableSpec("p.jsonl", id="id", columns=["label"]))
    assert table.ids.tolist() == [1, 2] and table.lines([0, 1]) == [1, 3]
    write(tmp_path, "p.jsonl", '{"id": 1, "label": "cat"}\n{"id": 2, "label": dog}\n')
    with pytest.raises(ReadError) as caught:
        read_table(tmp_path, TableSpec("p.jsonl", id="id", columns=["label"]))
    assert str(caught.value) == ('p.jsonl:2: line 2 is not valid JSON: Expecting value (column 20) Fix: write one '
                                 'JSON object per line, such as {"id": "a", "label": "cat"}')


# -- NumPy -------------------------------------------------------------------------------------


def test_npy_row_order(tmp_path: Path) -> None:
    np.save(tmp_path / "p.npy", np.array([[0.2, 0.8], [0.6, 0.4]]))
    table = read_table(tmp_path, TableSpec("p.npy", id=None, columns=["p_a", "p_b"]))
    assert table.values.tolist() == [[0.2, 0.8], [0.6, 0.4]] and table.ids.tolist() == [0, 1]
    with pytest.raises(ReadError, match=r"p\.npy: an \.npy file holds no ids, but the id column 'id' is declared "
                                        r"Fix: save ids and values together with np\.savez\(path, ids=ids, "
                                        r"values=values\)"):
        read_table(tmp_path, TableSpec("p.npy", id="id", columns=["p_a", "p_b"]))
    with pytest.raises(ReadError, match=r"values have shape \(2, 2\), expected \(n, 3\)"):
        read_table(tmp_path, TableSpec("p.npy", id=None, columns=["p_a", "p_b", "p_c"]))


def test_npz_ids_and_values(tmp_path: Path) -> None:
    np.savez(tmp_path / "p.npz", ids=np.array(["b", "a"]), values=np.array([1, 0]))
    table = read_table(tmp_path, TableSpec("p.npz", id="id", columns=["label"]))
    assert table.ids.tolist() == ["b", "a"] and table.values.tolist() == [1, 0] and table.header == ("ids", "values")
    np.savez(tmp_path / "p.npz", idz=np.array(["b", "a"]), values=np.array([1, 0]))
    with pytest.raises(ReadError, match=r"p\.npz: has no array 'ids' \(found arrays: idz, values\) Fix: array 'idz' "
                                        r"looks misnamed: did you mean 'ids'\?"):
        read_table(tmp_path, TableSpec("p.npz", id="id", columns=["label"]))


def test_numpy_object_arrays_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "p.npy", np.array(["a", None], dtype=object), allow_pickle=True)
    with pytest.raises(ReadError, match=r"holds Python objects \(dtype object\), which are not read"):
        read_table(tmp_path, TableSpec("p.npy", id=None, columns=["label"]))


# -- align -------------------------------------------------------------------------------------


def table(folder: Path, name: str, ids: list, labels: list) -> _readers.Table:
    rows = "".join(f"{i},{v}\n" for i, v in zip(ids, labels))
    write(folder, name, "id,label\n" + rows)
    return read_table(folder, TableSpec(name, id="id", columns=["label"]))


def test_align_joins_on_ids_in_reference_order(tmp_path: Path, engine: str) -> None:
    references = table(tmp_path, "truth.csv", ["a", "b", "c"], [1, 2, 3])
    predictions = table(tmp_path, "p.csv", ["c", "a", "b"], [30, 10, 20])
    predicted, expected, report = align(predictions, references)
    assert predicted.tolist() == [10, 20, 30] and expected.tolist() == [1, 2, 3]
    assert report.ok and report.n_matched == 3 and report.prediction_rows.tolist() == [1, 2, 0]
    assert str(report) == "all 3 ids of truth.csv matched once in p.csv"


def test_align_same_order_is_not_copied(tmp_path: Path, engine: str) -> None:
    references = table(tmp_path, "truth.csv", [1, 2, 3], [1, 2, 3])
    predictions = table(tmp_path, "p.csv", [1, 2, 3], [4, 5, 6])
    predicted, expected, report = align(predictions, references)
    assert predicted is predictions.values and expected is references.values and report.ok


def test_align_reports_duplicated_missing_and_unknown_ids(tmp_path: Path, engine: str) -> None:
    references = table(tmp_path, "truth.csv", ["a", "b", "c", "d", "e", "f", "g", "h"], range(8))
    predictions = table(tmp_path, "p.csv", ["h", "b", "x", "b", "a", "y", "a", "b"], range(10, 18))
    predicted, expected, report = align(predictions, references)
    assert expected.tolist() == [0, 1, 7] and predicted.tolist() == [14, 11, 10]  # first row of each id
    assert report.reference_rows.tolist() == [0, 1, 7] and report.prediction_rows.tolist() == [4, 1, 0]
    assert report.duplicated.count == 3 and report.duplicated.first() == ["b", "a", "b"]
    assert report.duplicated.rows.tolist() == [3, 6, 7] and report.duplicated.first_rows.tolist() == [1, 4, 1]
    assert report.missing.count == 5 and report.missing.first() == ["c", "d", "e", "f", "g"]
    assert report.unknown.rows.tolist() == [2, 5] and report.unknown.first() == ["x", "y"]
    assert not report.ok and not report.duplicated_references
    assert report.messages() == [
        "p.csv: 3 rows repeat an earlier id ('b', 'a', 'b'); the first row of each id is used",
        "p.csv: 5 of the 8 ids of truth.csv have no prediction ('c', 'd', 'e', 'f', 'g')",
        "p.csv: 2 rows have an id that is not in truth.csv ('x', 'y')",
    ]


def test_align_many_missing_ids_are_cut(tmp_path: Path, engine: str) -> None:
    references = table(tmp_path, "truth.csv", list(range(100)), [0] * 100)
    predictions = table(tmp_path, "p.csv", [5], [0])
    _, _, report = align(predictions, references)
    assert report.messages() == ["p.csv: 99 of the 100 ids of truth.csv have no prediction ('0', '1', '2', '3', '4', "
                                 "...)"]


def test_align_duplicated_references(tmp_path: Path, engine: str) -> None:
    references = table(tmp_path, "truth.csv", [1, 2, 2], [0, 1, 1])
    predictions = table(tmp_path, "p.csv", [2, 1], [5, 6])
    predicted, expected, report = align(predictions, references)
    assert predicted.tolist() == [6, 5, 5] and report.duplicated_references.first() == ["2"]
    assert report.messages() == ["truth.csv: 1 rows repeat an earlier id ('2')"]


def test_align_numbers_and_text_ids(tmp_path: Path, engine: str) -> None:
    write(tmp_path, "truth.csv", "id,label\n007,a\n8,b\n")
    references = read_table(tmp_path, TableSpec("truth.csv", id="id", columns=["label"], dtypes={"id": "str"}))
    predictions = table(tmp_path, "p.csv", [8, 7], ["B", "A"])  # read as integers
    predicted, _, report = align(predictions, references)
    assert predicted.tolist() == ["B"] and report.missing.first() == ["007"] and report.unknown.first() == ["7"]


def test_align_sparse_integer_ids(tmp_path: Path, engine: str) -> None:
    big = [10**15, 3, -(10**12)]
    references = table(tmp_path, "truth.csv", big, [1, 2, 3])
    predictions = table(tmp_path, "p.csv", big[::-1], [30, 20, 10])
    predicted, _, report = align(predictions, references)
    assert predicted.tolist() == [10, 20, 30] and report.ok


def test_align_json_ids_and_empty_ids(tmp_path: Path) -> None:
    write(tmp_path, "p.json", json.dumps([{"id": "a", "label": 1}, {"id": None, "label": 2}, {"id": "b", "label": 3}]))
    predictions = read_table(tmp_path, TableSpec("p.json", id="id", columns=["label"]))
    references = table(tmp_path, "truth.csv", ["b", "a"], [0, 0])
    predicted, _, report = align(predictions, references)
    assert predicted.tolist() == [3, 1] and report.unknown.rows.tolist() == [1] and report.unknown.first() == [""]


def test_align_row_order(tmp_path: Path) -> None:
    np.save(tmp_path / "p.npy", np.array([5, 6, 7]))
    write(tmp_path, "truth.csv", "label\n1\n2\n")
    predictions = read_table(tmp_path, TableSpec("p.npy", id=None, columns=["label"]))
    references = read_table(tmp_path, TableSpec("truth.csv", id=None, columns=["label"]))
    predicted, expected, report = align(predictions, references)
    assert predicted.tolist() == [5, 6] and expected.tolist() == [1, 2] and report.unknown.rows.tolist() == [2]


def test_align_is_vectorised(tmp_path: Path) -> None:
    """200 000 shuffled string ids join in well under a second (a Python loop would not)."""
    import time

    n = 200_000
    ids = np.char.add("img_", np.arange(n).astype(str))
    order = np.random.default_rng(0).permutation(n)
    write(tmp_path, "truth.csv", "id,label\n" + "".join(f"{i},{k % 7}\n" for k, i in enumerate(ids)))
    write(tmp_path, "p.csv", "id,label\n" + "".join(f"{ids[k]},{k % 7}\n" for k in order))
    references = read_table(tmp_path, TableSpec("truth.csv", id="id", columns=["label"]))
    predictions = read_table(tmp_path, TableSpec("p.csv", id="id", columns=["label"]))
    start = time.perf_counter()
    predicted, expected, report = align(predictions, references)
    assert time.perf_counter() - start < 5
    assert report.ok and (predicted == expected).all()


# -- label maps (NumPy arrays of 3 or more dimensions) ------------------------------------------


def masks(seed: int, n: int = 6) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 3, size=(n, 4, 5))


def test_npz_label_maps(tmp_path: Path) -> None:
    values = masks(0)
    np.savez(tmp_path / "p.npz", ids=np.array([f"img{k}" for k in range(6)]), values=values)
    table = read_table(tmp_path, TableSpec("p.npz", id="id", columns=["mask"], dtypes={"mask": "int"}))
    assert table.values.shape == (6, 4, 5) and (table.values == values).all()
    assert table.ids.tolist() == [f"img{k}" for k in range(6)] and len(table) == 6
    assert list(table.frame.columns) == ["id"] and (table.column("mask") == values).all()
    with pytest.raises(ReadError, match=r"p\.npz: values have shape \(6, 4, 5\): an array of 3 dimensions .* but 2 "
                                        r"columns are declared .* Fix: declare exactly one column"):
        read_table(tmp_path, TableSpec("p.npz", id="id", columns=["a", "b"]))
    np.savez(tmp_path / "p.npz", ids=np.arange(6), values=values + 0.5)
    with pytest.raises(ReadError, match=r"array 'values' \(column 'mask'\) holds \d\.5 in row 0, not an int "
                                        r"\(id '0'\)"):
        read_table(tmp_path, TableSpec("p.npz", id="id", columns=["mask"], dtypes={"mask": "int"}))


def test_npy_label_maps_in_row_order(tmp_path: Path) -> None:
    np.save(tmp_path / "p.npy", masks(1, n=3))
    table = read_table(tmp_path, TableSpec("p.npy", id=None, columns=["mask"]))
    assert table.values.shape == (3, 4, 5) and table.ids.tolist() == [0, 1, 2] and len(table) == 3


def test_align_label_maps_in_reference_order(tmp_path: Path, engine: str) -> None:
    import warnings

    from sklearn.metrics import jaccard_score

    from aibench_plugins.default_plugins.segmentation import iou

    ids = np.array([f"img{k}" for k in range(6)])
    truth, guess = masks(2), masks(3)
    order = np.random.default_rng(4).permutation(6)
    np.savez(tmp_path / "truth.npz", ids=ids, values=truth)
    np.savez(tmp_path / "p.npz", ids=ids[order], values=guess[order])
    references = read_table(tmp_path, TableSpec("truth.npz", id="id", columns=["mask"]))
    predictions = read_table(tmp_path, TableSpec("p.npz", id="id", columns=["mask"]))
    p, r, report = align(predictions, references)
    assert report.ok and p.shape == r.shape == (6, 4, 5)
    assert (p == guess).all() and (r == truth).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = jaccard_score(r.ravel(), p.ravel(), average="macro")
    assert iou.compute(predictions=p, references=r, num_classes=3) == pytest.approx(expected)


def test_align_label_maps_of_another_size(tmp_path: Path) -> None:
    np.savez(tmp_path / "truth.npz", ids=np.arange(2), values=np.zeros((2, 4, 5), dtype=int))
    np.savez(tmp_path / "p.npz", ids=np.arange(2), values=np.zeros((2, 4, 6), dtype=int))
    references = read_table(tmp_path, TableSpec("truth.npz", id="id", columns=["mask"]))
    predictions = read_table(tmp_path, TableSpec("p.npz", id="id", columns=["mask"]))
    with pytest.raises(ReadError, match=r"p\.npz: values have shape \(2, 4, 6\) \(each row 4x6\) but the values of "
                                        r"truth\.npz have shape \(2, 4, 5\) \(each row 4x5\) Fix: save values of "
                                        r"shape \(n, 4, 5\)"):
        align(predictions, references)


def test_jsonl_id_too_large_for_64_bits_is_a_read_error(tmp_path: Path) -> None:
    """Issue 9 item 13: this id raised OverflowError when joined on ids."""
    write(tmp_path, "p.jsonl", '{"id": 1, "label": "a"}\n{"id": 123456789012345678901234567890, "label": "b"}\n')
    with pytest.raises(ReadError, match=r"p.jsonl:2: line 2: the integer 123456789012345678901234567890 \(30 digits\) "
                                        r"does not fit a 64-bit integer Fix: write such an id as a string") as caught:
        read_table(tmp_path, TableSpec("p.jsonl", id="id", columns=["label"]))
    assert caught.value.kind == "unreadable" and caught.value.line == 2
