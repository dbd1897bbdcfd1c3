"""data/arrow_csv.py: CSV text columns of few distinct values arrive dictionary-encoded (pyarrow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aibench_plugins.data import arrow_csv as _arrow_csv
from aibench_plugins.data import tables as _tables
from aibench_plugins.data.formats import read_table
from aibench_plugins.data.tables import TableSpec

_TEXT = "id,region,code,score\nr1,south,007,0.5\nr2,north,010,1.5\nr3,,007,2.5\nr4,east,011,3.5\nr5,north,007,4.5\n"
_SPEC = TableSpec("t.csv", id="id", columns=["region", "code", "score"], dtypes={"code": "str"})


def _read(folder: Path, text: str = _TEXT, spec: TableSpec = _SPEC):  # type: ignore[no-untyped-def]
    (folder / "t.csv").write_text(text, encoding="utf-8")
    return read_table(folder, spec)


def test_a_text_column_of_few_values_is_a_sorted_categorical(tmp_path: Path) -> None:
    assert _tables.has_pyarrow()
    table = _read(tmp_path)
    region = table.frame["region"]
    assert isinstance(region.dtype, pd.CategoricalDtype)
    assert region.cat.categories.tolist() == ["east", "north", "south"]  # sorted, not in order of appearance
    assert region.cat.codes.tolist() == [2, 1, -1, 0, 1]  # the empty cell is missing
    # the id column and a column declared str stay text (as written: 007 is not 7)
    assert not isinstance(table.frame["id"].dtype, pd.CategoricalDtype)
    assert not isinstance(table.frame["code"].dtype, pd.CategoricalDtype)
    assert table.column("code").tolist() == ["007", "010", "007", "011", "007"]
    assert table.frame["score"].dtype == np.float64


def test_the_values_are_those_the_c_engine_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arrow = _read(tmp_path)
    monkeypatch.setattr(_tables, "has_pyarrow", lambda: False)
    plain = _read(tmp_path)
    assert not isinstance(plain.frame["region"].dtype, pd.CategoricalDtype)
    for column in ("id", "region", "code", "score"):
        got, expected = arrow.column(column), plain.column(column)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert pd.isna(got).tolist() == pd.isna(expected).tolist()
        assert got[~pd.isna(got)].tolist() == expected[~pd.isna(expected)].tolist()
    assert arrow.ids.tolist() == plain.ids.tolist() == ["r1", "r2", "r3", "r4", "r5"]


def test_a_column_of_many_values_stays_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_arrow_csv, "DICTIONARY_LIMIT", 3)
    table = _read(tmp_path)  # region has 3 distinct values: still dictionary-encoded
    assert isinstance(table.frame["region"].dtype, pd.CategoricalDtype)
    many = "id,region\n" + "".join(f"r{i},v{i}\n" for i in range(10))
    table = _read(tmp_path, many, TableSpec("t.csv", id="id", columns=["region"]))
    assert not isinstance(table.frame["region"].dtype, pd.CategoricalDtype)
    assert table.values.tolist() == [f"v{i}" for i in range(10)]


def test_a_categorical_column_still_converts_and_counts_missing(tmp_path: Path) -> None:
    text = "id,flag,n\na,true,1\nb,false,x\nc,true,2\n"
    table = _read(tmp_path, text, TableSpec("t.csv", id="id", columns=["flag", "n"]))
    assert isinstance(table.frame["n"].dtype, pd.CategoricalDtype)  # "x" makes it text
    with pytest.raises(_tables.ReadError, match=r"column 'n' holds 'x', not an int") as caught:
        _read(tmp_path, text, TableSpec("t.csv", id="id", columns=["flag", "n"], dtypes={"n": "int"}))
    assert caught.value.line == 3
    text = "id,label\na,cat\nb,\nc,dog\n"
    with pytest.raises(_tables.ReadError, match=r"'label'.*line 3|line 3.*'label'"):
        _read(tmp_path, text, TableSpec("t.csv", id="id", columns=["label"], missing="error"))
