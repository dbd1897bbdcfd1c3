"""Property tests (issue 9 item 13): each parser of compat raises only its documented error, on any
text. ``load_bundle`` raises only :class:`BundleError`; ``read_scores`` and ``map_to_columns`` never
raise for a file's content (the outcome says what the platform does); ``compare_lines`` never
raises; ``read_metadata`` raises only :class:`MetadataError`. The fuzzing reproducers of the issue
are fixed examples.

``AIBENCH_FUZZ_EXAMPLES=N`` runs N examples per target instead of 200 (a longer local fuzz run).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from codalab_worker_compat import (
    Bundle,
    BundleError,
    Column,
    LeaderboardRow,
    MetadataError,
    ScoresResult,
    compare_lines,
    load_bundle,
    map_to_columns,
    read_metadata,
    read_scores,
)

FUZZ = settings(max_examples=int(os.environ.get("AIBENCH_FUZZ_EXAMPLES", "200")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

KEYS = ["version", "title", "phases", "tasks", "leaderboards", "leaderboard", "columns", "leaderboards", "index",
        "precision", "execution_time_limit", "phasenumber", "label", "name", "scoring_program", "ingestion_program",
        "reference_data", "input_data", "is_scoring_only", "numeric_format", "computed", "operation", "computation",
        "computation_indexes", "key", "title", "sorting", "sort", "hidden", "ingestion_only_during_scoring", "rank",
        "command", "description", "accuracy", "score", "1", "2", "", "0"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(), st.text(max_size=12), st.sampled_from(["2", "1.5", "1", "asc", "desc", "avg", "s.zip", "A", "T"]))
DATA = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(KEYS), st.integers(-3, 3), st.booleans()), inner, max_size=5)),
    max_leaves=25)
TOKENS = st.sampled_from([
    "a", "b", ":", ": ", " ", "  ", "\n", "\r\n", "- ", "-", "[", "]", "{", "}", ",", "&x ", "*x", "&y ", "*y",
    "!!python/tuple ", "!!python/object/apply:os.getcwd ", "!custom ", "!!binary ", "!!int ", "!!float ", "!!str ",
    "!!timestamp ", "? ", "'", '"', "\\", "\u2028", "\u2029", "\x85", "\ufeff", "\t", "1e400", "1" * 4400, ".inf",
    ".nan", "-.inf", "#", "|", ">", "---", "...", "%YAML 1.1\n", "version: 2\n", "phases:", "tasks:", "index:",
    "leaderboards:", "columns:", "precision:", "execution_time_limit:", "0", "1", "-1", "2020-13-45", "null", "~",
    "true", "<<: ", "=", "\x00", "\x07", "\udcff",
])
SOUP = st.lists(TOKENS, max_size=30).map("".join)


def _dump(data: Any) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True, default_flow_style=None)
    except yaml.YAMLError:
        return ""


YAML_TEXTS = st.one_of(DATA.map(_dump), SOUP, st.builds(lambda a, b: a + b, DATA.map(_dump), SOUP),
                       st.text(max_size=60))


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fuzz_") as folder:
        yield Path(folder)


def _write(folder: Path, name: str, text: str) -> None:
    for old in folder.iterdir():
        old.unlink()
    (folder / name).write_bytes(text.encode("utf-8", errors="surrogatepass"))


@FUZZ
@given(text=YAML_TEXTS)
@example("phases: {1: {execution_time_limit: A}}")
@example("phases: {1: {execution_time_limit: .inf}}")
@example("version: 2\nphases: [{tasks: true}]")
@example("version: 2\nleaderboards: {'': null}")
@example("version: 2\nleaderboards: 3")
@example("version: 2\ntasks: [{index: [0]}]\nphases: [{tasks: [0]}]")
@example("version: 2\nleaderboards: [{columns: [{precision: T}]}]")
@example("? [a]\n: 1")
@example("a: !custom 1")
@example("a: !!python/object/apply:os.system ['true']")
@example("a: " + "1" * 4400)
@example("version: 2\nphases: [{index: a}, {index: 1}]")
@example("leaderboard: 3")
@example("leaderboard: {columns: [1]}")
@example("phases: {1: {phasenumber: [1]}}")
@example("a: &a [*a]")
@example("[" * 5000 + "]" * 5000)
def test_load_bundle_raises_only_bundle_error(scratch: Path, text: str) -> None:
    _write(scratch, "competition.yaml", text)
    try:
        bundle = load_bundle(scratch)
    except BundleError as error:
        assert error.message
        return
    assert isinstance(bundle, Bundle)
    assert isinstance(bundle.problems(), list)


SCORE_KEYS = st.sampled_from(["accuracy", "score", "f1", "Accuracy", "a" * 40, "1", ""])
SCORE_TEXTS = st.one_of(
    st.dictionaries(SCORE_KEYS, SCALARS, max_size=4).map(lambda d: "".join(f"{k}: {v}\n" for k, v in d.items())),
    DATA.map(_dump), SOUP, st.text(max_size=60))
JSON_TEXTS = st.one_of(
    DATA.map(lambda d: json.dumps(d, default=str)), SOUP, st.text(max_size=60),
    st.dictionaries(SCORE_KEYS, SCALARS, max_size=4).map(lambda d: json.dumps(d, default=str)))
COLUMNS = [Column("accuracy", "Accuracy"), Column("score", "Score", index=1, computation="avg",
                                                  computation_indexes=(0,))]


def _check_scores(folder: Path) -> None:
    for platform in ("v1", "codabench", "ai4mediabench"):
        for exit_code in (0, 3):
            result = read_scores(folder, platform, scorer_exit_code=exit_code, strict=True)
            assert isinstance(result, ScoresResult) and result.outcome in ("ok", "failed", "no_scores")
            row = map_to_columns(result, COLUMNS, platform)
            assert isinstance(row, LeaderboardRow)


@FUZZ
@given(text=SCORE_TEXTS)
@example("a: " + "1" * 4400)
@example("[" * 100_000 + "]" * 100_000)
@example("\u2028a: \u2028")
@example("accuracy: .nan\n")
@example("accuracy: 1e400\n")
@example("accuracy: &a [*a]\n")
@example("? [a]\n: 1")
@example("accuracy: !!python/object/apply:os.getcwd []")
@example("accuracy: [9223372036854775808,0,0]")
def test_read_scores_txt_never_raises(scratch: Path, text: str) -> None:
    _write(scratch, "scores.txt", text)
    _check_scores(scratch)


@FUZZ
@given(text=JSON_TEXTS)
@example('{"a": ' + "1" * 4400 + "}")
@example("[" * 100_000 + "]" * 100_000)
@example('{"accuracy": NaN}')
@example('{"accuracy": "\\ud800"}')
@example('{"accuracy": ' + "[" * 990 + "]" * 990 + "}")
def test_read_scores_json_never_raises(scratch: Path, text: str) -> None:
    _write(scratch, "scores.json", text)
    _check_scores(scratch)


@FUZZ
@given(text=st.one_of(SCORE_TEXTS, st.text()))
@example("\u2028a: \u2028")
@example("a: 1\u2028b: 2\n\u2029c: 3\x85d: 4\n")
@example("a: " + "1" * 4400)
@example("a: &a [*a]")
def test_compare_lines_never_raises(text: str) -> None:
    differences = compare_lines(text)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    assert all(1 <= d.line <= len(lines) for d in differences)


@FUZZ
@given(text=YAML_TEXTS, worker=st.sampled_from(["v1", "codabench", "ai4mediabench"]))
@example("command: !!python/object/apply:os.getcwd []", "codabench")
@example("command: " + "1" * 4400, "v1")
@example("a: &a [*a]", "v1")
def test_read_metadata_raises_only_metadata_error(scratch: Path, text: str, worker: str) -> None:
    _write(scratch, "metadata", text)
    try:
        read_metadata(scratch, worker)  # type: ignore[arg-type]
    except MetadataError as error:
        assert error.message
