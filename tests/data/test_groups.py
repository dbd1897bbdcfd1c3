"""data/groups.py: groups of the aligned rows by sensitive attributes, joined on ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aibench_plugins import ReadError
from aibench_plugins.data.formats import read_table
from aibench_plugins.data.groups import group_rows
from aibench_plugins.data.tables import TableSpec


def _table(tmp_path: Path, text: str, columns: list[str]):  # type: ignore[no-untyped-def]
    (tmp_path / "groups.csv").write_text(text)
    return read_table(tmp_path, TableSpec("groups.csv", id="id", columns=columns))


def test_groups_are_joined_on_ids_not_rows(tmp_path: Path) -> None:
    table = _table(tmp_path, "id,sex,band\nc,F,1\na,M,2\nb,F,2\nd,M,1\n", ["sex", "band"])
    sex, band, both = group_rows(table, np.array(["a", "b", "c", "d"]), ["sex", "band"], intersections=True,
                                 table_name="groups")
    assert sex.values == (("F",), ("M",)) and sex.codes.tolist() == [1, 0, 0, 1] and sex.sizes.tolist() == [2, 2]
    assert band.values == (("1",), ("2",))  # values as strings, sorted
    assert both.attributes == ("sex", "band") and both.name == "sex x band"
    assert both.values == (("F", "1"), ("F", "2"), ("M", "1"), ("M", "2"))  # only the combinations present
    assert [both.group(c) for c in both.codes.tolist()] == [{"sex": "M", "band": "2"}, {"sex": "F", "band": "2"},
                                                          {"sex": "F", "band": "1"}, {"sex": "M", "band": "1"}]
    assert both.rows(1).tolist() == [1]


def test_integer_ids_meet_text_ids(tmp_path: Path) -> None:
    table = _table(tmp_path, "id,sex\n2,F\n1,M\n", ["sex"])
    (sex,) = group_rows(table, np.array(["1", "2"], dtype=object), ["sex"])
    assert sex.codes.tolist() == [1, 0]


def test_an_absent_combination_is_no_group(tmp_path: Path) -> None:
    table = _table(tmp_path, "id,sex,band\na,F,1\nb,M,2\n", ["sex", "band"])
    *_, both = group_rows(table, np.array(["a", "b"]), ["sex", "band"], intersections=True)
    assert len(both) == 2 and both.sizes.tolist() == [1, 1]


def test_organiser_errors_say_what_and_never_a_value(tmp_path: Path) -> None:
    table = _table(tmp_path, "id,sex\na,F\nb,\nc,SECRET\n", ["sex"])
    with pytest.raises(ReadError, match=r"'sex' is empty for 1 scored row") as caught:
        group_rows(table, np.array(["a", "b", "c"]), ["sex"], table_name="groups")
    assert "SECRET" not in str(caught.value) and "organiser" in str(caught.value)
    table = _table(tmp_path, "id,sex\na,F\na,SECRET\n", ["sex"])
    with pytest.raises(ReadError, match=r"repeats 1 id\(s\)") as caught:
        group_rows(table, np.array(["a", "b"]), ["sex"], table_name="groups")
    assert "SECRET" not in str(caught.value)
    table = _table(tmp_path, "id,sex\na,SECRET\n", ["sex"])
    with pytest.raises(ReadError, match=r"1 of the 2 scored ids have no row in the groups table \(first: 'z'\)") \
            as caught:
        group_rows(table, np.array(["a", "z"]), ["sex"], table_name="groups")
    assert "SECRET" not in str(caught.value) and caught.value.file == "groups.csv"


def test_a_column_of_the_file_the_table_does_not_declare(tmp_path: Path) -> None:
    (tmp_path / "groups.csv").write_text("id,sex,band\na,F,1\n")
    table = read_table(tmp_path, TableSpec("groups.csv", id="id", columns=["sex"]))
    with pytest.raises(ReadError, match=r"'band' is a column of groups.csv but not one the groups table declares") \
            as caught:
        group_rows(table, np.array(["a"]), ["band"], table_name="groups")
    assert "add 'band' to the columns of the groups table in aibench.json" in str(caught.value)
    with pytest.raises(ReadError, match=r"'id' is not a column of the groups table"):
        group_rows(table, np.array(["a"]), ["id"], table_name="groups")


def test_a_dictionary_encoded_attribute_is_coded_without_hashing_strings(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    table = _table(tmp_path, "id,region\na,south\nb,north\nc,east\nd,north\ne,west\n", ["region"])
    assert isinstance(table.frame["region"].dtype, pd.CategoricalDtype)  # read by pyarrow, dictionary-encoded
    plain = _table(tmp_path, "id,region\na,south\nb,north\nc,east\nd,north\ne,west\n", ["region"])
    plain.frame = plain.frame.assign(region=plain.frame["region"].astype(object))
    ids = np.array(["d", "a", "b", "c"])  # e (west) is not scored: west is no group
    (expected,) = group_rows(plain, ids, ["region"])

    def no_hashing(*args: object, **kwargs: object) -> None:
        raise AssertionError("the attribute's strings were hashed again")

    monkeypatch.setattr(pd, "factorize", no_hashing)
    (region,) = group_rows(table, ids, ["region"])
    assert region.values == expected.values == (("east",), ("north",), ("south",))
    assert region.codes.tolist() == expected.codes.tolist() == [1, 2, 1, 0]
    assert region.sizes.tolist() == expected.sizes.tolist() == [1, 2, 1]
    assert region.codes.dtype == np.intp


def test_an_empty_dictionary_encoded_attribute_is_refused(tmp_path: Path) -> None:
    table = _table(tmp_path, "id,sex\na,F\nb,\nc,SECRET\n", ["sex"])
    with pytest.raises(ReadError, match=r"'sex' is empty for 1 scored row") as caught:
        group_rows(table, np.array(["a", "b", "c"]), ["sex"], table_name="groups")
    assert "SECRET" not in str(caught.value)
    (sex,) = group_rows(table, np.array(["c", "a"]), ["sex"])  # the empty row is not scored
    assert sex.values == (("F",), ("SECRET",)) and sex.codes.tolist() == [1, 0]
