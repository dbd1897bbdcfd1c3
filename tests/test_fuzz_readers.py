"""Property tests (issue 9 item 13): the table readers raise only :class:`ReadError`, and joining
what they read on ids (:func:`align`) raises nothing else, for any JSON, JSON-lines, CSV or TSV
text. The issue's reproducer (a JSON-lines id too large for the integer type) is a fixed example.

``AIBENCH_FUZZ_EXAMPLES=N`` runs N examples per target instead of 200 (a longer local fuzz run).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aibench_plugins.data.readers import ReadError, Table, TableSpec, align, read_table

FUZZ = settings(max_examples=int(os.environ.get("AIBENCH_FUZZ_EXAMPLES", "200")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

IDS = st.one_of(st.integers(), st.integers(-(2**70), 2**70), st.text(max_size=4), st.none(), st.booleans(),
                st.floats(allow_nan=False), st.sampled_from(["1", "01", "a", ""]))
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                   st.text(max_size=4), st.lists(st.integers(0, 3), max_size=3))
RECORDS = st.lists(st.fixed_dictionaries({"id": IDS}, optional={"label": VALUES, "x": VALUES}), max_size=6)
JSONL = st.one_of(RECORDS.map(lambda rs: "".join(json.dumps(r) + "\n" for r in rs)),
                  st.lists(st.sampled_from(['{"id": 1, "label": "a"}', '{"id": "1", "label": 2}', "[1]", "{",
                                            '{"id": ' + "9" * 30 + ', "label": "b"}', '{"id": ' + "1" * 5000 + "}",
                                            "[" * 5000 + "]" * 5000, "", "\ufeff{}", '{"id": NaN}']),
                           max_size=5).map("\n".join))
JSON = st.one_of(RECORDS.map(json.dumps), st.dictionaries(st.text(max_size=3), VALUES, max_size=5).map(json.dumps),
                 st.sampled_from(["[]", "{}", "3", '"a"', "[1]", '{"a": [1], "b": 2}', '{"a": ' + "1" * 30 + "}"]))
CELLS = st.sampled_from(["id", "label", "1", "2", "a", "", '"', '""', "9" * 30, "1e999", "nan", "\t", ",", " ", "x"])
CSV = st.lists(st.lists(CELLS, min_size=1, max_size=4), max_size=6).map(
    lambda rows: "".join(",".join(row) + "\n" for row in rows))
REFERENCE = '{"id": 1, "label": "a"}\n{"id": "2", "label": "b"}\n'


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fuzz_readers_") as scratch:
        path = Path(scratch)
        (path / "ref").mkdir()
        (path / "ref" / "labels.jsonl").write_text(REFERENCE)
        yield path


def _read_and_align(folder: Path, name: str, text: str) -> None:
    (folder / "pred").mkdir(exist_ok=True)
    for old in (folder / "pred").iterdir():
        old.unlink()
    (folder / "pred" / name).write_bytes(text.encode("utf-8", errors="surrogatepass"))
    reference = read_table(folder / "ref", TableSpec("labels.jsonl", id="id", columns=["label"]))
    for spec in (TableSpec(name, id="id", columns=["label"]), TableSpec(name, id=None, columns=["label"]),
                 TableSpec(name, id="id", columns=["label"], dtypes={"label": "str"})):
        try:
            table = read_table(folder / "pred", spec)
        except ReadError as error:
            assert error.message and error.file == name
            continue
        assert isinstance(table, Table)
        try:
            align(table, table)
            align(table, reference)
        except ReadError as error:
            assert error.message


@FUZZ
@given(text=JSONL)
@example('{"id": 1, "label": "a"}\n{"id": 123456789012345678901234567890, "label": "b"}\n')
@example('{"id": ' + "1" * 5000 + ', "label": "a"}\n')
@example("[" * 100_000 + "]" * 100_000 + "\n")
def test_jsonl_reader_raises_only_read_error(folder: Path, text: str) -> None:
    _read_and_align(folder, "predictions.jsonl", text)


@FUZZ
@given(text=JSON)
@example('[{"id": 123456789012345678901234567890, "label": "b"}]')
@example('{"a": ' + "1" * 5000 + "}")
@example("[" * 100_000 + "]" * 100_000)
def test_json_reader_raises_only_read_error(folder: Path, text: str) -> None:
    _read_and_align(folder, "predictions.json", text)


@FUZZ
@given(text=CSV, tsv=st.booleans())
@example("id,label\n" + "9" * 30 + ",a\n1,b\n", False)
def test_csv_reader_raises_only_read_error(folder: Path, text: str, tsv: bool) -> None:
    _read_and_align(folder, "predictions.tsv" if tsv else "predictions.csv", text.replace(",", "\t") if tsv else text)


SHAPED = [  # issue 11 item 12: the shapes of files without a header, whitespace matrices, one-hot rows
    {"names": ["label"], "id": None, "columns": ["label"], "missing": "error"},
    {"names": ["id", "label"], "id": "id", "columns": ["label"], "missing": "skip"},
    {"header": False, "delimiter": "whitespace", "id": None, "columns": "*"},
    {"header": False, "delimiter": "whitespace", "id": None, "columns": "*", "read_as": "onehot",
     "missing": "skip"},
    {"header": False, "delimiter": " ", "id": None, "columns": "*", "read_as": "argmax"},
    {"delimiter": ";", "id": "id", "columns": ["label", "x"], "read_as": "onehot"},
]
SHAPED_CELLS = st.sampled_from(["0", "1", "0.5", "nan", "", "NA", "a", "id", "label", "x", '"', "1e999", "-1"])
SHAPED_TEXT = st.tuples(st.lists(st.lists(SHAPED_CELLS, min_size=1, max_size=4), max_size=6),
                        st.sampled_from([" ", "\t", "  ", ",", ";", " \t"])).map(
    lambda args: "".join(args[1].join(row) + "\n" for row in args[0]))


@FUZZ
@given(text=SHAPED_TEXT, shape=st.sampled_from(range(len(SHAPED))))
@example("0 1 0\n1 0\n", 3)
@example("a\n\n\nb c\n", 0)
@example("0\n", 3)  # "*" resolves to one column: a one-hot row needs two
@example('"\n" 0\n', 2)  # a quote in a whitespace file is a character, not quoting
def test_shaped_text_readers_raise_only_read_error(folder: Path, text: str, shape: int) -> None:
    (folder / "pred").mkdir(exist_ok=True)
    for old in (folder / "pred").iterdir():
        old.unlink()
    (folder / "pred" / "table.txt").write_text(text)
    try:
        table = read_table(folder / "pred", TableSpec("table.txt", format="csv", **SHAPED[shape]))
    except ReadError as error:
        assert error.message and error.file == "table.txt"
        return
    assert len(table.values) == len(table)
    try:
        align(table, table)
    except ReadError as error:
        assert error.message
