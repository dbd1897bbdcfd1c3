"""The table declaration of ``aibench.json`` (issue 11 item 12) and the columns of a metric without
``splits`` (item 14), at the manifest level: every example of docs/manifest.md's Tables section is a
valid declaration, the plan carries each key to the reader, and the default splits are documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aibench_plugins.manifest.loading import parse_manifest
from aibench_plugins.manifest.plan import TableDecl, default_splits

DOCS = Path(__file__).resolve().parents[2] / "docs" / "manifest.md"


def _tables_examples() -> list[str]:
    text = DOCS.read_text()
    start = text.index("## Tables")
    section = text[start:text.find("\n## ", start)]  # the Tables section only
    return re.findall(r"```json\n(.*?)```", section, re.DOTALL)


@pytest.mark.parametrize("example", _tables_examples(), ids=lambda e: e.split('"')[1])
def test_every_table_example_of_the_docs_is_valid(example: str) -> None:
    document = {"schema_version": 1, "data": json.loads("{" + example + "}")}
    manifest, problems = parse_manifest(json.dumps(document).encode())
    assert manifest is not None and problems == []


def test_the_docs_have_an_example_of_each_shape() -> None:
    joined = "".join(_tables_examples())
    for needle in ('"names"', '"delimiter": "whitespace"', '"read_as": "onehot"', '"read_as": "argmax"',
                   '"missing": "skip"', '"columns": "*"', '"header": false'):
        assert needle in joined, needle


def test_the_plan_carries_layout_and_meaning_to_the_reader() -> None:
    decl = TableDecl.of("references", {"file": "t.txt", "format": "csv", "id": None, "columns": "*",
                                       "header": False, "delimiter": "whitespace", "read_as": "onehot",
                                       "missing": "skip"})
    assert decl.columns == ("*",) and decl.source == "reference"
    assert decl.layout == {"format": "csv", "names": None, "header": False, "delimiter": "whitespace"}
    assert decl.meaning == {"read_as": "onehot", "missing": "skip"}
    named = TableDecl.of("guess", {"from": "submission", "file": "g.txt", "id": None, "names": ["label"],
                                   "columns": ["label"]})
    assert named.names == ("label",) and named.header is False and named.source == "submission"


@pytest.mark.parametrize(("splits", "entry_splits", "keys"), [
    ({}, None, ("f1",)),
    ({"public": {"ids": ["1"]}, "private": {"ids": ["2"]}}, None, ("f1", "f1_public", "f1_private")),
    ({"public": {"ids": ["1"]}, "private": {"ids": ["2"]}}, ["public"], ("f1_public",)),
    ({"public": {"ids": ["1"]}}, ["all", "public"], ("f1", "f1_public")),
], ids=["no-splits", "declared-splits", "listed-without-all", "listed-with-all"])
def test_a_metric_without_splits_gives_its_overall_column(splits: dict[str, object], entry_splits: list[str] | None,
                                                           keys: tuple[str, ...]) -> None:
    entry: dict[str, object] = {"use": "aibench.macro_f1", "key": "f1"}
    if entry_splits is not None:
        entry["splits"] = entry_splits
    document = {"schema_version": 1, "metrics": [entry], **({"splits": splits} if splits else {})}
    manifest, problems = parse_manifest(json.dumps(document).encode())
    assert manifest is not None and problems == []
    assert manifest.plan(None).column_keys == keys
    assert default_splits(document)[0] == "all"
